// The MfaStore of the memory backend (unit tests only). Each method holds the
// one mutex of MemoryState for its whole run, which makes every
// compare-and-swap and every consumption atomic.
#include <set>

#include "store/memory/memory_state.h"

namespace gh::store::memory {
namespace {

class MemoryMfaStore final : public MfaStore {
 public:
  explicit MemoryMfaStore(MemoryState& s) : s_(s) {}

  Status put_pending_totp(const TotpFactor& f) override {
    std::lock_guard lock(s_.mu);
    if (!s_.users.contains(f.user_id)) return fail(StoreError::NotFound);
    const auto it = s_.totp.find(f.user_id);
    if (it != s_.totp.end() && it->second.confirmed) return fail(StoreError::Conflict);
    TotpFactor pending = f;
    pending.confirmed = false;
    pending.confirmed_at = Seconds{};
    s_.totp.insert_or_assign(f.user_id, std::move(pending));
    return {};
  }

  Result<TotpFactor> find_totp(std::string_view user_id) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.totp.find(user_id);
    if (it == s_.totp.end()) return fail(StoreError::NotFound);
    return it->second;
  }

  Status confirm_totp(std::string_view user_id, std::string_view secret_sealed, std::int64_t step,
                      Seconds now) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.totp.find(user_id);
    if (it == s_.totp.end() || it->second.confirmed || it->second.secret_sealed != secret_sealed) {
      return fail(StoreError::NotFound);
    }
    it->second.confirmed = true;
    it->second.last_step = step;
    it->second.confirmed_at = now;
    return {};
  }

  Status advance_totp_step(std::string_view user_id, std::int64_t step) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.totp.find(user_id);
    if (it == s_.totp.end() || !it->second.confirmed || it->second.last_step >= step) {
      return fail(StoreError::NotFound);
    }
    it->second.last_step = step;
    return {};
  }

  Result<bool> delete_totp(std::string_view user_id) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.totp.find(user_id);
    if (it == s_.totp.end()) return false;
    s_.totp.erase(it);
    return true;
  }

  Status replace_recovery_codes(std::string_view user_id,
                                const std::vector<std::string>& code_hashes, Seconds now) override {
    std::lock_guard lock(s_.mu);
    if (!s_.users.contains(user_id)) return fail(StoreError::NotFound);
    // A hash listed twice violates the SQL primary key: Conflict, nothing changes.
    const std::set<std::string_view> distinct(code_hashes.begin(), code_hashes.end());
    if (distinct.size() != code_hashes.size()) return fail(StoreError::Conflict);
    erase_codes_of(user_id);
    for (const std::string& hash : code_hashes) {
      s_.recovery_codes.emplace(std::pair{std::string(user_id), hash}, now);
    }
    return {};
  }

  Result<std::int64_t> consume_recovery_code(std::string_view user_id,
                                             std::string_view code_hash) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.recovery_codes.find(std::pair{std::string(user_id), std::string(code_hash)});
    if (it == s_.recovery_codes.end()) return fail(StoreError::NotFound);
    s_.recovery_codes.erase(it);
    return count_of(user_id);
  }

  Result<std::int64_t> count_recovery_codes(std::string_view user_id) override {
    std::lock_guard lock(s_.mu);
    return count_of(user_id);
  }

 private:
  using Codes = decltype(MemoryState::recovery_codes);

  // The user's codes: keys (user_id, *) sort together, starting at (user_id, "").
  // REQUIRES: s_.mu held.
  std::pair<Codes::iterator, Codes::iterator> codes_of(std::string_view user_id) {
    const std::string user(user_id);
    auto first = s_.recovery_codes.lower_bound(std::pair{user, std::string()});
    auto last = first;
    while (last != s_.recovery_codes.end() && last->first.first == user) ++last;
    return {first, last};
  }
  std::int64_t count_of(std::string_view user_id) {
    const auto [first, last] = codes_of(user_id);
    return static_cast<std::int64_t>(std::distance(first, last));
  }
  void erase_codes_of(std::string_view user_id) {
    const auto [first, last] = codes_of(user_id);
    s_.recovery_codes.erase(first, last);
  }

  MemoryState& s_;
};

}  // namespace

std::unique_ptr<MfaStore> make_mfa_store(MemoryState& state) {
  return std::make_unique<MemoryMfaStore>(state);
}

}  // namespace gh::store::memory
