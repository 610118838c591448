// AuditSink: where security events go. Services emit an AuditEvent for every
// authentication-relevant action; the sink decides where it is stored. The
// event never carries a password, token, session id or key — only ids,
// outcome codes and request metadata. AuditLog (the server's sink) writes
// each event as a JSON line to the "audit" log stream (for a SIEM) and
// appends it to the store's audit log; LogAuditSink only writes the line.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

#include "core/base/clock.h"
#include "store/audit_store.h"

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
  std::string tenant;   // when known
};

// The JSON line of an event (values escaped, so no log injection).
[[nodiscard]] std::string audit_json_line(const AuditEvent& e);

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

// The server's sink. record() writes the JSON line at once and queues the
// event; a writer thread appends queued events to the store in batches (one
// transaction each), so a request never waits on the audit write. If the
// queue is full (the store is down or slow), record() waits for room rather
// than drop an event. A failed write is logged and retried.
class AuditLog final : public AuditSink {
 public:
  explicit AuditLog(std::size_t max_queue = 10000) : max_queue_(max_queue) {}
  ~AuditLog() override { stop(); }
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  // Starts persisting to `store` (which must outlive stop()). Until then
  // events are only written as lines (admin commands that run without a store).
  void attach(store::AuditStore& store);
  void record(const AuditEvent& event) override;
  // Blocks until every event recorded before the call is in the store (or the
  // store failed it). For tests and shutdown.
  void flush();
  // Flushes and stops the writer.
  void stop();
  [[nodiscard]] std::uint64_t write_failures() const;

 private:
  void run();

  const std::size_t max_queue_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<store::AuditRecord> queue_;  // GUARDED_BY(mu_)
  std::uint64_t enqueued_ = 0;            // GUARDED_BY(mu_)
  std::uint64_t written_ = 0;             // GUARDED_BY(mu_): events the writer is done with
  std::uint64_t failures_ = 0;            // GUARDED_BY(mu_)
  bool stopping_ = false;                 // GUARDED_BY(mu_)
  store::AuditStore* store_ = nullptr;
  std::thread writer_;
};

}  // namespace gh::service
