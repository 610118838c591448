// The OneTimeTokenStore of the memory backend (unit tests only).
#include <algorithm>

#include "store/memory/memory_state.h"

namespace gh::store::memory {
namespace {

// The CHECK constraint of the SQL schema: purpose IN (1, 2, 3, 4). The SQL
// backends report its violation as Internal, and so does this one.
bool valid_purpose(TokenPurpose p) {
  return p >= TokenPurpose::PasswordReset && p <= TokenPurpose::MfaChallenge;
}

class MemoryOneTimeStore final : public OneTimeTokenStore {
 public:
  explicit MemoryOneTimeStore(MemoryState& s) : s_(s) {}

  Status put_token(const OneTimeToken& t) override {
    std::lock_guard lock(s_.mu);
    if (!valid_purpose(t.purpose)) return fail(StoreError::Internal, "invalid token purpose");
    // Conflict before NotFound, as in SQL (the unique check fires before the foreign key's).
    if (s_.one_time_tokens.contains(t.hash)) return fail(StoreError::Conflict);
    if (!s_.users.contains(t.user_id)) return fail(StoreError::NotFound);
    s_.one_time_tokens.emplace(t.hash, t);
    return {};
  }

  Result<OneTimeToken> consume_token(std::string_view hash, TokenPurpose purpose,
                                     Seconds now) override {
    std::lock_guard lock(s_.mu);
    const auto it = live(hash, purpose, now);
    if (it == s_.one_time_tokens.end()) return fail(StoreError::NotFound);
    OneTimeToken t = std::move(it->second);
    s_.one_time_tokens.erase(it);
    return t;
  }

  Result<OneTimeToken> find_token(std::string_view hash, TokenPurpose purpose,
                                  Seconds now) override {
    std::lock_guard lock(s_.mu);
    const auto it = live(hash, purpose, now);
    if (it == s_.one_time_tokens.end()) return fail(StoreError::NotFound);
    return it->second;
  }

  Result<std::int64_t> revoke_tokens(std::string_view user_id, TokenPurpose purpose) override {
    std::lock_guard lock(s_.mu);
    return static_cast<std::int64_t>(std::erase_if(s_.one_time_tokens, [&](const auto& entry) {
      return entry.second.user_id == user_id && entry.second.purpose == purpose;
    }));
  }

  Result<std::int64_t> count_tokens(std::string_view user_id, TokenPurpose purpose,
                                    Seconds since) override {
    std::lock_guard lock(s_.mu);
    return static_cast<std::int64_t>(
        std::ranges::count_if(s_.one_time_tokens, [&](const auto& entry) {
          const OneTimeToken& t = entry.second;
          return t.user_id == user_id && t.purpose == purpose && t.created_at >= since;
        }));
  }

  Result<std::int64_t> purge_tokens(Seconds now) override {
    std::lock_guard lock(s_.mu);
    return static_cast<std::int64_t>(std::erase_if(
        s_.one_time_tokens, [&](const auto& entry) { return entry.second.expires_at <= now; }));
  }

 private:
  // The token if it exists with this purpose and has not expired. REQUIRES: s_.mu held.
  std::map<std::string, OneTimeToken, std::less<>>::iterator live(std::string_view hash,
                                                                  TokenPurpose purpose,
                                                                  Seconds now) {
    const auto it = s_.one_time_tokens.find(hash);
    if (it == s_.one_time_tokens.end() || it->second.purpose != purpose ||
        now >= it->second.expires_at) {
      return s_.one_time_tokens.end();
    }
    return it;
  }

  MemoryState& s_;
};

}  // namespace

std::unique_ptr<OneTimeTokenStore> make_onetime_store(MemoryState& state) {
  return std::make_unique<MemoryOneTimeStore>(state);
}

}  // namespace gh::store::memory
