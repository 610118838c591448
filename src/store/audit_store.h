// AuditStore: the persistent, append-only log of security events. The API
// can only append and query; rows leave only through retention (purge), and
// the SQL backends refuse UPDATE on the table outright (a trigger), so a bug
// elsewhere cannot rewrite history. Rows never hold passwords, tokens,
// session ids or key material — only ids, outcome codes and request metadata.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/base/result.h"

namespace gh::store {

struct AuditRecord {
  std::int64_t id = 0;  // assigned by the store, increasing in insertion order
  Seconds time{};
  std::string action;   // "user.login", "session.revoke", …
  std::string result;   // "success" or a reason code
  std::string actor;    // user id, "anonymous", "admin", "system"
  std::string subject;  // what was acted on
  std::string ip;
  std::string user_agent;
  std::string request_id;
  std::string tenant;   // "" when not known
};

// Every field is a filter when set; rows come in id order after `after_id`.
struct AuditQuery {
  std::string user;  // matches actor or subject
  std::string action;
  std::string result;
  std::string tenant;
  Seconds since{};                                       // time >= since
  Seconds until{std::chrono::seconds{INT64_C(1) << 62}};  // time < until
  std::int64_t after_id = 0;
  std::size_t limit = 100;
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;
  // Appends the records in one transaction; ids are assigned by the store.
  [[nodiscard]] virtual Status append_audit(std::span<const AuditRecord> records) = 0;
  [[nodiscard]] virtual Result<std::vector<AuditRecord>> query_audit(const AuditQuery& q) = 0;
  // Retention: deletes rows with time < before; the number deleted.
  [[nodiscard]] virtual Result<std::int64_t> purge_audit(Seconds before) = 0;
};

}  // namespace gh::store
