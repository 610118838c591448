// Logging setup for the gatehouse binary: JSON lines on stderr for the
// server log, and the "access" and "audit" streams as JSON lines on stdout.
#pragma once

#include <string>

namespace gh::cli {

void init_logging();
void set_log_level(const std::string& level);

}  // namespace gh::cli
