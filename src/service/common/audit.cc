#include "service/common/audit.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace gh::service {

void LogAuditSink::record(const AuditEvent& e) {
  nlohmann::json j = {{"time", to_rfc3339(e.time)}, {"action", e.action}, {"result", e.result},
                      {"actor", e.actor},           {"subject", e.subject}, {"ip", e.meta.ip},
                      {"user_agent", e.meta.user_agent}, {"request_id", e.meta.request_id}};
  auto logger = spdlog::get("audit");
  // dump() with replace: never throws on odd bytes, and escapes control characters.
  const std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (logger) {
    logger->info(line);
  } else {
    spdlog::info("audit {}", line);
  }
}

}  // namespace gh::service
