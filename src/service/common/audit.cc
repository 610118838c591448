#include "service/common/audit.h"

#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace gh::service {

std::string audit_json_line(const AuditEvent& e) {
  nlohmann::json j = {{"time", to_rfc3339(e.time)}, {"action", e.action}, {"result", e.result},
                      {"actor", e.actor},           {"subject", e.subject}, {"ip", e.meta.ip},
                      {"user_agent", e.meta.user_agent}, {"request_id", e.meta.request_id}};
  if (!e.tenant.empty()) j["tenant"] = e.tenant;
  // dump() with replace: never throws on odd bytes, and escapes control characters.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {
void write_line(const AuditEvent& e) {
  const std::string line = audit_json_line(e);
  if (auto logger = spdlog::get("audit")) {
    logger->info(line);
  } else {
    spdlog::info("audit {}", line);
  }
}
}  // namespace

void LogAuditSink::record(const AuditEvent& e) { write_line(e); }

void AuditLog::attach(store::AuditStore& store) {
  std::lock_guard lock(mu_);
  if (store_ != nullptr) return;
  store_ = &store;
  writer_ = std::thread([this] { run(); });
}

void AuditLog::record(const AuditEvent& e) {
  write_line(e);
  store::AuditRecord r;
  r.time = e.time;
  r.action = e.action;
  r.result = e.result;
  r.actor = e.actor;
  r.subject = e.subject;
  r.ip = e.meta.ip;
  r.user_agent = e.meta.user_agent.substr(0, 512);
  r.request_id = e.meta.request_id;
  r.tenant = e.tenant;
  std::unique_lock lock(mu_);
  if (store_ == nullptr || stopping_) return;
  cv_.wait(lock, [&] { return queue_.size() < max_queue_ || stopping_; });
  queue_.push_back(std::move(r));
  ++enqueued_;
  cv_.notify_all();
}

void AuditLog::flush() {
  std::unique_lock lock(mu_);
  const std::uint64_t target = enqueued_;
  cv_.wait(lock, [&] { return written_ >= target || store_ == nullptr; });
}

void AuditLog::stop() {
  {
    std::unique_lock lock(mu_);
    if (store_ == nullptr || stopping_) return;
    const std::uint64_t target = enqueued_;
    // Drain what is queued (bounded: a store that stays down gives up after a few tries).
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return written_ >= target; });
    stopping_ = true;
  }
  cv_.notify_all();
  if (writer_.joinable()) writer_.join();
}

std::uint64_t AuditLog::write_failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

void AuditLog::run() {
  constexpr std::size_t kBatch = 256;
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty() && stopping_) return;
    std::vector<store::AuditRecord> batch;
    while (!queue_.empty() && batch.size() < kBatch) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    cv_.notify_all();  // room in the queue
    lock.unlock();
    const auto ok = store_->append_audit(batch);
    lock.lock();
    if (ok) {
      written_ += batch.size();
      cv_.notify_all();
      continue;
    }
    ++failures_;
    spdlog::error("audit: writing {} events to the store failed ({}); retrying", batch.size(), ok.error().message());
    if (stopping_) {  // shutting down with the store failing: the JSON lines were written; give up
      written_ += batch.size();
      cv_.notify_all();
      continue;
    }
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(std::move(*it));
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
  }
}

}  // namespace gh::service
