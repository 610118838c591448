// The IdentityStore of the memory backend (unit tests only). Each method holds
// the one mutex of MemoryState for its whole run, which makes the unique
// (issuer, subject) check, the last-sign-in-method check and taking flow state
// atomic.
#include <algorithm>
#include <tuple>

#include "store/memory/memory_state.h"

namespace gh::store::memory {
namespace {

class MemoryIdentityStore final : public IdentityStore {
 public:
  explicit MemoryIdentityStore(MemoryState& s) : s_(s) {}

  Status create_identity(const Identity& identity) override {
    std::lock_guard lock(s_.mu);
    if (taken(identity)) return fail(StoreError::Conflict);
    if (!s_.users.contains(identity.user_id)) return fail(StoreError::NotFound);
    s_.identities.emplace(identity.id, identity);
    return {};
  }

  Status create_user_with_identity(const User& user, const Identity& identity) override {
    std::lock_guard lock(s_.mu);
    if (s_.users.contains(user.id) || s_.user_id_by_email.contains(user.email_normalized) ||
        taken(identity)) {
      return fail(StoreError::Conflict);
    }
    if (identity.user_id != user.id) return fail(StoreError::NotFound);
    s_.users.emplace(user.id, user);
    s_.user_id_by_email.emplace(user.email_normalized, user.id);
    s_.identities.emplace(identity.id, identity);
    return {};
  }

  Result<Identity> find_identity(std::string_view issuer, std::string_view subject) override {
    std::lock_guard lock(s_.mu);
    for (const auto& [id, identity] : s_.identities) {
      if (identity.issuer == issuer && identity.subject == subject) return identity;
    }
    return fail(StoreError::NotFound);
  }

  Result<std::vector<Identity>> list_identities(std::string_view user_id) override {
    std::lock_guard lock(s_.mu);
    std::vector<Identity> out;
    for (const auto& [id, identity] : s_.identities) {
      if (identity.user_id == user_id) out.push_back(identity);
    }
    std::ranges::sort(out, [](const Identity& a, const Identity& b) {
      return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
    });
    return out;
  }

  Status update_identity_login(const Identity& identity) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.identities.find(identity.id);
    if (it == s_.identities.end()) return fail(StoreError::NotFound);
    it->second.email = identity.email;
    it->second.email_verified = identity.email_verified;
    it->second.name = identity.name;
    it->second.last_login_at = identity.last_login_at;
    return {};
  }

  Status delete_identity(std::string_view user_id, std::string_view id) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.identities.find(id);
    if (it == s_.identities.end() || it->second.user_id != user_id) {
      return fail(StoreError::NotFound);
    }
    const auto user = s_.users.find(user_id);
    const bool has_password = user != s_.users.end() && !user->second.password_hash.empty();
    const auto others = std::ranges::count_if(s_.identities, [&](const auto& entry) {
      return entry.second.user_id == user_id && entry.first != id;
    });
    if (!has_password && others == 0) return fail(StoreError::Conflict);
    s_.identities.erase(it);
    return {};
  }

  Status put_state(const OAuthState& state) override {
    std::lock_guard lock(s_.mu);
    if (state.kind != OAuthStateKind::Flow && state.kind != OAuthStateKind::Code) {
      return fail(StoreError::Internal, "invalid state kind");
    }
    if (s_.oauth_states.contains(state.hash)) return fail(StoreError::Conflict);
    s_.oauth_states.emplace(state.hash, state);
    return {};
  }

  Result<OAuthState> take_state(std::string_view hash, OAuthStateKind kind, Seconds now) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.oauth_states.find(hash);
    if (it == s_.oauth_states.end() || it->second.kind != kind || it->second.expires_at <= now) {
      return fail(StoreError::NotFound);
    }
    OAuthState out = std::move(it->second);
    s_.oauth_states.erase(it);
    return out;
  }

  Result<std::int64_t> purge_states(Seconds now) override {
    std::lock_guard lock(s_.mu);
    return static_cast<std::int64_t>(std::erase_if(
        s_.oauth_states, [&](const auto& entry) { return entry.second.expires_at <= now; }));
  }

 private:
  // The unique constraints of the SQL table. REQUIRES: s_.mu held.
  bool taken(const Identity& identity) const {
    if (s_.identities.contains(identity.id)) return true;
    return std::ranges::any_of(s_.identities, [&](const auto& entry) {
      return entry.second.issuer == identity.issuer && entry.second.subject == identity.subject;
    });
  }

  MemoryState& s_;
};

}  // namespace

std::unique_ptr<IdentityStore> make_identity_store(MemoryState& state) {
  return std::make_unique<MemoryIdentityStore>(state);
}

}  // namespace gh::store::memory
