// The data of one memory backend, shared by its UserStore, TokenStore,
// KeyStore and SessionStore. One mutex guards all of it, so an operation that spans tables
// (delete_user removing a user's tokens, rotate) is as atomic as a SQL
// transaction, and the foreign keys of the SQL schema can be checked without
// a lock order to get wrong. Internal to memory/.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/store.h"

namespace gh::store::memory {

struct MemoryState {
  std::mutex mu;
  int version = 0;  // GUARDED_BY(mu)
  // Ordered maps with std::less<> so listings page like `ORDER BY` in SQL
  // (byte order) and lookups take a string_view. All GUARDED_BY(mu).
  std::map<std::string, User, std::less<>> users;
  std::unordered_map<std::string, std::string> user_id_by_email;
  std::map<std::string, RefreshFamily, std::less<>> families;
  std::map<std::string, RefreshToken, std::less<>> tokens;  // by hash
  std::map<std::string, DeniedJti, std::less<>> denied_jtis;
  std::map<std::string, DeniedSubject, std::less<>> denied_subjects;
  std::map<std::string, StoredKey, std::less<>> keys;  // by kid
  std::map<std::string, Session, std::less<>> sessions;  // by id_hash
  std::vector<AuditRecord> audit;                        // in id order
  std::int64_t audit_last_id = 0;
  std::map<std::pair<std::string, std::string>, account::AttemptCounter> attempts;  // by (account, scope)
  std::map<std::string, Tenant, std::less<>> tenants;
  std::map<std::pair<std::string, std::string>, Membership, std::less<>> members;  // by (tenant, user)
  std::set<std::string, std::less<>> platform_admins;
  std::map<std::string, ServiceClient, std::less<>> service_clients;
  std::map<std::string, OneTimeToken, std::less<>> one_time_tokens;  // by hash
  std::map<std::string, TotpFactor, std::less<>> totp;               // by user_id
  // (user_id, code_hash) -> created_at: a user's codes are one contiguous range.
  std::map<std::pair<std::string, std::string>, Seconds> recovery_codes;
  std::map<std::string, Identity, std::less<>> identities;       // by id
  std::map<std::string, OAuthState, std::less<>> oauth_states;  // by hash

  // What ON DELETE CASCADE does in SQL. REQUIRES: mu held.
  void erase_user_rows(std::string_view user_id);
};

// Views of `state`, which must outlive them.
[[nodiscard]] std::unique_ptr<TokenStore> make_token_store(MemoryState& state);
[[nodiscard]] std::unique_ptr<KeyStore> make_key_store(MemoryState& state);
[[nodiscard]] std::unique_ptr<SessionStore> make_session_store(MemoryState& state);
[[nodiscard]] std::unique_ptr<AuditStore> make_audit_store(MemoryState& state);
[[nodiscard]] std::unique_ptr<LockoutStore> make_lockout_store(MemoryState& state);
[[nodiscard]] std::unique_ptr<TenantStore> make_tenant_store(MemoryState& state);
[[nodiscard]] std::unique_ptr<OneTimeTokenStore> make_onetime_store(MemoryState& state);
[[nodiscard]] std::unique_ptr<MfaStore> make_mfa_store(MemoryState& state);
[[nodiscard]] std::unique_ptr<IdentityStore> make_identity_store(MemoryState& state);

}  // namespace gh::store::memory
