// Logging setup for the gatehouse binary: JSON lines on stderr for the
// server log, and the "access" and "audit" streams as JSON lines on stdout.
#pragma once

#include <string>

namespace gh::cli {

// `event_streams_on_stdout`: access and audit lines on stdout (server) or stderr (admin commands).
void init_logging(bool event_streams_on_stdout);
void set_log_level(const std::string& level);

}  // namespace gh::cli
