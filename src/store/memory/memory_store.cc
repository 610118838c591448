#include "store/memory/memory_store.h"

#include <algorithm>
#include <string>

#include "store/memory/memory_state.h"
#include "store/schema.h"

namespace gh::store::memory {

void MemoryState::erase_user_rows(std::string_view user_id) {
  std::erase_if(tokens, [&](const auto& entry) { return entry.second.user_id == user_id; });
  std::erase_if(families, [&](const auto& entry) { return entry.second.user_id == user_id; });
  std::erase_if(sessions, [&](const auto& entry) { return entry.second.user_id == user_id; });
  std::erase_if(members, [&](const auto& entry) { return entry.first.second == user_id; });
  platform_admins.erase(std::string(user_id));
  std::erase_if(one_time_tokens,
                [&](const auto& entry) { return entry.second.user_id == user_id; });
  if (const auto it = totp.find(user_id); it != totp.end()) totp.erase(it);
  std::erase_if(recovery_codes, [&](const auto& entry) { return entry.first.first == user_id; });
  std::erase_if(identities, [&](const auto& entry) { return entry.second.user_id == user_id; });
}

namespace {

class MemoryUserStore final : public UserStore {
 public:
  explicit MemoryUserStore(MemoryState& state) : s_(state) {}

  Status create_user(const User& user) override {
    std::lock_guard lock(s_.mu);
    if (s_.users.contains(user.id) || s_.user_id_by_email.contains(user.email_normalized)) {
      return fail(StoreError::Conflict);
    }
    s_.users.emplace(user.id, user);
    s_.user_id_by_email.emplace(user.email_normalized, user.id);
    return {};
  }

  Result<User> find_user_by_email(std::string_view email_normalized) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.user_id_by_email.find(std::string(email_normalized));
    if (it == s_.user_id_by_email.end()) return fail(StoreError::NotFound);
    return s_.users.at(it->second);
  }

  Result<User> find_user_by_id(std::string_view id) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.users.find(id);
    if (it == s_.users.end()) return fail(StoreError::NotFound);
    return it->second;
  }

  Result<UserPage> list_users(std::optional<std::string_view> after, std::size_t limit,
                              std::optional<std::string_view> email_contains) override {
    limit = std::clamp<std::size_t>(limit, 1, 1000);
    std::lock_guard lock(s_.mu);
    UserPage page;
    auto it = after ? s_.users.upper_bound(*after) : s_.users.begin();
    for (; it != s_.users.end(); ++it) {
      const User& u = it->second;
      if (email_contains && u.email_normalized.find(*email_contains) == std::string::npos) continue;
      if (page.users.size() == limit) {
        // One more match exists past the page, so there is a next page.
        page.next_cursor = page.users.back().id;
        break;
      }
      page.users.push_back(u);
    }
    return page;
  }

  Status update_password_hash(std::string_view id, std::string_view expected_old,
                              std::string_view new_hash, Seconds now) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.users.find(id);
    if (it == s_.users.end() || it->second.password_hash != expected_old) {
      return fail(StoreError::NotFound);
    }
    it->second.password_hash = new_hash;
    it->second.updated_at = now;
    return {};
  }

  Status set_disabled(std::string_view id, bool disabled, Seconds now) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.users.find(id);
    if (it == s_.users.end()) return fail(StoreError::NotFound);
    it->second.disabled = disabled;
    it->second.updated_at = now;
    return {};
  }

  Status update_email(std::string_view id, std::string_view expected_old, std::string_view email,
                      std::string_view email_normalized, Seconds now) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.users.find(id);
    if (it == s_.users.end() || it->second.email_normalized != expected_old) return fail(StoreError::NotFound);
    const std::string key(email_normalized);
    if (const auto other = s_.user_id_by_email.find(key); other != s_.user_id_by_email.end() && other->second != it->first)
      return fail(StoreError::Conflict);
    s_.user_id_by_email.erase(it->second.email_normalized);
    s_.user_id_by_email.insert_or_assign(key, it->first);
    it->second.email = std::string(email);
    it->second.email_normalized = key;
    it->second.email_verified = true;
    it->second.updated_at = now;
    return {};
  }

  Status set_email_verified(std::string_view id, bool verified, Seconds now) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.users.find(id);
    if (it == s_.users.end()) return fail(StoreError::NotFound);
    it->second.email_verified = verified;
    it->second.updated_at = now;
    return {};
  }

  Status delete_user(std::string_view id) override {
    std::lock_guard lock(s_.mu);
    const auto it = s_.users.find(id);
    if (it == s_.users.end()) return fail(StoreError::NotFound);
    s_.user_id_by_email.erase(it->second.email_normalized);
    s_.users.erase(it);
    s_.erase_user_rows(id);
    return {};
  }

  Result<std::int64_t> count_users() override {
    std::lock_guard lock(s_.mu);
    return static_cast<std::int64_t>(s_.users.size());
  }

 private:
  MemoryState& s_;
};

class MemoryStore final : public Store {
 public:
  MemoryStore()
      : users_(state_),
        tokens_(make_token_store(state_)),
        keys_(make_key_store(state_)),
        sessions_(make_session_store(state_)),
        audit_(make_audit_store(state_)),
        lockout_(make_lockout_store(state_)),
        tenants_(make_tenant_store(state_)),
        one_time_tokens_(make_onetime_store(state_)),
        mfa_(make_mfa_store(state_)),
        identities_(make_identity_store(state_)) {}

  Result<int> migrate() override {
    std::lock_guard lock(state_.mu);
    state_.version = kSchemaVersion;
    return state_.version;
  }
  Result<int> schema_version() override {
    std::lock_guard lock(state_.mu);
    return state_.version;
  }
  Status ping() override { return {}; }
  std::string_view backend() const override { return "memory"; }
  UserStore& users() override { return users_; }
  TokenStore& tokens() override { return *tokens_; }
  KeyStore& keys() override { return *keys_; }
  SessionStore& sessions() override { return *sessions_; }
  AuditStore& audit() override { return *audit_; }
  LockoutStore& lockout() override { return *lockout_; }
  TenantStore& tenants() override { return *tenants_; }
  OneTimeTokenStore& one_time_tokens() override { return *one_time_tokens_; }
  MfaStore& mfa() override { return *mfa_; }
  IdentityStore& identities() override { return *identities_; }

 private:
  MemoryState state_;
  MemoryUserStore users_;
  std::unique_ptr<TokenStore> tokens_;
  std::unique_ptr<KeyStore> keys_;
  std::unique_ptr<SessionStore> sessions_;
  std::unique_ptr<AuditStore> audit_;
  std::unique_ptr<LockoutStore> lockout_;
  std::unique_ptr<TenantStore> tenants_;
  std::unique_ptr<OneTimeTokenStore> one_time_tokens_;
  std::unique_ptr<MfaStore> mfa_;
  std::unique_ptr<IdentityStore> identities_;
};

}  // namespace

std::unique_ptr<Store> open_memory_store() { return std::make_unique<MemoryStore>(); }

}  // namespace gh::store::memory
