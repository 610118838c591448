// AuditSink: where security events go. Services emit an AuditEvent for every
// authentication-relevant action; the sink decides where it is stored. The
// event never carries a password, token, session id or key — only ids,
// outcome codes and request metadata. (The persistent, queryable audit log is
// a later component; LogAuditSink writes JSON lines to the "audit" logger.)
#pragma once

#include <string>

#include "core/base/clock.h"

namespace gh::service {

// Who did it and from where, passed from the transport layer into services.
struct RequestMeta {
  std::string request_id;
  std::string ip;
  std::string user_agent;
};

struct AuditEvent {
  std::string action;   // e.g. "user.register", "user.login"
  std::string result;   // "success" or a failure reason code, e.g. "invalid_credentials"
  std::string actor;    // user id, or "anonymous"
  std::string subject;  // the user/object acted on (an id, never an email+password pair)
  Seconds time{};
  RequestMeta meta;
};

class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual void record(const AuditEvent& event) = 0;  // must not throw or block for long
};

// Writes each event as one JSON line (values escaped, so no log injection).
class LogAuditSink final : public AuditSink {
 public:
  void record(const AuditEvent& event) override;
};

}  // namespace gh::service
