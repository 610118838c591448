// The AuditStore and LockoutStore of the memory backend (unit tests only).
#include <algorithm>

#include "store/memory/memory_state.h"

namespace gh::store::memory {
namespace {

class MemoryAuditStore final : public AuditStore {
 public:
  explicit MemoryAuditStore(MemoryState& s) : s_(s) {}

  Status append_audit(std::span<const AuditRecord> records) override {
    std::lock_guard lock(s_.mu);
    for (const auto& r : records) {
      AuditRecord row = r;
      row.id = ++s_.audit_last_id;
      s_.audit.push_back(std::move(row));
    }
    return {};
  }

  Result<std::vector<AuditRecord>> query_audit(const AuditQuery& q) override {
    std::lock_guard lock(s_.mu);
    std::vector<AuditRecord> out;
    for (const auto& r : s_.audit) {
      if (out.size() == q.limit) break;
      if (r.id <= q.after_id || r.time < q.since || r.time >= q.until) continue;
      if (!q.user.empty() && r.actor != q.user && r.subject != q.user) continue;
      if ((!q.action.empty() && r.action != q.action) || (!q.result.empty() && r.result != q.result) ||
          (!q.tenant.empty() && r.tenant != q.tenant))
        continue;
      out.push_back(r);
    }
    return out;
  }

  Result<std::int64_t> purge_audit(Seconds before) override {
    std::lock_guard lock(s_.mu);
    return static_cast<std::int64_t>(std::erase_if(s_.audit, [&](const AuditRecord& r) { return r.time < before; }));
  }

 private:
  MemoryState& s_;
};

class MemoryLockoutStore final : public LockoutStore {
 public:
  explicit MemoryLockoutStore(MemoryState& s) : s_(s) {}

  Result<account::AttemptStep> begin_login_attempt(std::string_view account, std::string_view scope, Seconds now,
                                                   const account::LockoutPolicy& policy, bool known_device) override {
    std::lock_guard lock(s_.mu);
    const auto source_key = std::pair{std::string(account), std::string(scope)};
    const auto account_key = std::pair{std::string(account), std::string(kAccountScope)};
    auto get = [&](const auto& key) {
      auto it = s_.attempts.find(key);
      return it == s_.attempts.end() ? account::AttemptCounter{} : it->second;
    };
    auto step = account::begin_attempt(get(source_key), get(account_key), now, policy, known_device);
    if (step.verdict == account::AttemptVerdict::Proceed) {
      s_.attempts[source_key] = step.source;
      s_.attempts[account_key] = step.account;
    }
    return step;
  }

  Status clear_login_attempts(std::string_view account, std::string_view scope) override {
    std::lock_guard lock(s_.mu);
    s_.attempts.erase({std::string(account), std::string(scope)});
    s_.attempts.erase({std::string(account), std::string(kAccountScope)});
    return {};
  }

  Result<std::int64_t> unlock_account(std::string_view account) override {
    std::lock_guard lock(s_.mu);
    return static_cast<std::int64_t>(
        std::erase_if(s_.attempts, [&](const auto& entry) { return entry.first.first == account; }));
  }

  Result<std::int64_t> purge_login_attempts(Seconds stale_before, Seconds now) override {
    std::lock_guard lock(s_.mu);
    return static_cast<std::int64_t>(std::erase_if(s_.attempts, [&](const auto& entry) {
      return entry.second.window_start < stale_before && entry.second.locked_until <= now;
    }));
  }

 private:
  MemoryState& s_;
};

}  // namespace

std::unique_ptr<AuditStore> make_audit_store(MemoryState& state) { return std::make_unique<MemoryAuditStore>(state); }
std::unique_ptr<LockoutStore> make_lockout_store(MemoryState& state) {
  return std::make_unique<MemoryLockoutStore>(state);
}

}  // namespace gh::store::memory
