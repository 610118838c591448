// AccountService: registration, password login and the administrative user
// operations, over the UserStore, the password hasher and the policy.
//
// Every method blocks (it hashes or touches the store): call it from a worker
// pool, never from an I/O thread. Thread-safe; holds only references.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "core/account/lockout.h"
#include "core/base/clock.h"
#include "core/base/random.h"
#include "core/base/result.h"
#include "core/base/secret.h"
#include "core/base/string_hash.h"
#include "core/password/hasher.h"
#include "core/password/policy.h"
#include "service/common/audit.h"
#include "store/store.h"

namespace gh::service {

enum class AccountError : std::uint8_t {
  EmailTaken = 1,      // registration with an email that already has an account
  InvalidCredentials,  // unknown email or wrong password (one value leaves the API)
  UnknownUser,         // (audit only) login for an email with no account
  WrongPassword,       // (audit only) login with a wrong password
  NoPassword,          // (audit only) the account has no password (federated only)
  Disabled,            // the password was right but the account is disabled
  EmailNotVerified,    // the password was right but the address is not confirmed yet (accounts.require_verified_email)
};
GH_DECLARE_ERROR_CATEGORY(AccountError)

class TokenService;
class SessionService;
class KnownDevices;

struct AccountDeps {
  store::Store& store;
  const password::PasswordHasher& hasher;
  const password::PasswordPolicy& policy;
  Clock& clock;
  Random& rng;
  AuditSink& audit;
  TokenService* tokens = nullptr;      // when set: password change, disable and delete revoke tokens
  SessionService* sessions = nullptr;  // when set: password change, logout-all, disable and delete end sessions
  const account::LockoutPolicy* lockout = nullptr;  // when set: password attempts are counted and locked out
  KnownDevices* devices = nullptr;                  // when set: a known device gets past an account-wide lock
  bool require_verified_email = false;  // sign-in refused (after the password verified) until the address is confirmed
};

struct PasswordChangeInput {
  std::string user_id;
  SecretString current_password;  // raw, as sent
  SecretString new_password;       // raw, as sent
  std::string keep_family;         // the caller's own refresh family: it stays signed in
  std::string caller_jti;          // the access token used for the change: revoked (it may be what leaked)
  Seconds caller_exp{};
  Seconds auth_time{};
  std::string client_id;
  std::string amr;                 // the caller's authentication methods, kept on its fresh token
  std::string keep_session;        // the caller's browser session handle (id hash): it stays signed in
};

struct PasswordChanged {
  store::User user;
  std::string access_token;  // a fresh one for the caller (older access tokens are revoked); empty without tokens
};

struct RegisterInput {
  std::string email;
  SecretString password;  // raw, as sent
  std::string name;
};

struct LoginInput {
  std::string email;
  SecretString password;     // raw, as sent
  std::string device_token;  // the browser's known-device cookie, if any
};

// How a login ended, for metrics.
enum class LoginOutcome : std::uint8_t { Success, InvalidCredentials, Disabled, Error };

class AccountService {
 public:
  explicit AccountService(AccountDeps deps) : d_(deps) {}

  // Validates email, name and password (policy), hashes, stores.
  // Errors: EmailError, PolicyError, HashError, AccountError::EmailTaken, StoreError.
  [[nodiscard]] Result<store::User> register_user(RegisterInput in, const RequestMeta& meta);

  // Verifies the password in (as near as possible) the same time whether or
  // not the account exists; rehashes an outdated hash after success.
  // Errors: AccountError::InvalidCredentials, AccountError::Disabled (only after
  // the password verified), StoreError. Failures are audited as user.login; a
  // success is not yet a sign-in (an MFA step may follow): the caller audits it
  // through SessionService::replace / TokenService::issue (`login`) or
  // MfaService::challenge_after_password (user.login.mfa_pending).
  [[nodiscard]] Result<store::User> login(LoginInput in, const RequestMeta& meta);

  // Step-up: the signed-in user `user_id` proves it again with their password.
  // Same checks, lockout counting and timing as login(); audited as
  // "user.reauthenticate". Errors: as login().
  [[nodiscard]] Result<store::User> reauthenticate(std::string_view user_id, SecretString password,
                                                   std::string device_token, const RequestMeta& meta);

  // Requires the current password (a wrong one is InvalidCredentials and audited
  // as a failed authentication), applies the policy to the new one, stores it
  // (compare-and-swap on the old hash), and revokes every other session.
  // Errors: InvalidCredentials, PolicyError, HashError, StoreError.
  [[nodiscard]] Result<PasswordChanged> change_password(PasswordChangeInput in, const RequestMeta& meta);

  // Sets a new password without the old one — the caller has proven control
  // some other way (a password-reset link). Applies the policy, stores it,
  // ends every session, refresh family and access token, and clears the
  // lockout counters. Errors: PolicyError, HashError, StoreError (NotFound if the user is gone).
  [[nodiscard]] Result<store::User> reset_password(std::string_view user_id, SecretString new_password,
                                                   const RequestMeta& meta);

  // The password policy for `user` on an already normalised password (no hashing, no store). Errors: PolicyError.
  [[nodiscard]] Status check_password_policy(const SecretString& normalized, const store::User& user) const;

  // Signs the user out everywhere: every refresh family and browser session.
  // Errors: StoreError.
  [[nodiscard]] Status logout_all(std::string_view user_id, const RequestMeta& meta);
  // The user by id for read-mostly paths (GET /v1/me): from a small in-process
  // cache when fresh (non-blocking, safe on an I/O thread), else nullopt.
  [[nodiscard]] std::optional<store::User> cached_user(std::string_view id) const;
  // One cached version of a user, shared by readers. Never modified once
  // published: a reload or a change replaces the whole entry, so whatever a
  // read path derives from `user` may be kept in `rendered` for as long as the
  // entry lives (GET /v1/me keeps its response body there).
  struct SharedUser {
    store::User user;
    mutable std::atomic<std::shared_ptr<const std::string>> rendered;
  };
  // Like cached_user(), without copying the user: nullptr unless fresh.
  [[nodiscard]] std::shared_ptr<const SharedUser> cached_user_shared(std::string_view id) const;
  // The user by id from the store (blocking); refreshes the cache.
  [[nodiscard]] Result<store::User> load_user(std::string_view id);

  // A known-device token for the browser that just signed in as `user` ("" without KnownDevices).
  [[nodiscard]] std::string device_token_for(const store::User& user);
  // Admin: clears every lockout counter of the account (by id or email). Errors: StoreError.
  [[nodiscard]] Status unlock(std::string_view id_or_email, const RequestMeta& meta, std::string_view actor = "admin");
  // Admin operations (CLI, later the admin API). Errors: StoreError::NotFound, StoreError.
  [[nodiscard]] Result<store::UserPage> list_users(std::optional<std::string> after, std::size_t limit,
                                                   std::optional<std::string> email_contains);
  [[nodiscard]] Result<store::User> find_user(std::string_view id_or_email);
  // `actor` names who did it in the audit log (the CLI: "admin"; the admin API: the caller's id).
  [[nodiscard]] Status set_disabled(std::string_view id, bool disabled, const RequestMeta& meta,
                                    std::string_view actor = "admin");
  [[nodiscard]] Status delete_user(std::string_view id, const RequestMeta& meta, std::string_view actor = "admin");

 private:
  void audit(std::string action, std::string result, std::string actor, std::string subject,
             const RequestMeta& meta);
  // Policy, hash and compare-and-swap store of a new password (raw, as sent) for `user`, updated in place.
  [[nodiscard]] Status store_new_password(store::User& user, const SecretString& raw, std::string_view action,
                                          const RequestMeta& meta);
  // login() and reauthenticate(): `action` names the audit events.
  [[nodiscard]] Result<store::User> authenticate(LoginInput in, const RequestMeta& meta, std::string_view action);
  void forget(std::string_view id);
  // Deletes the user's email-change links and MFA sign-in challenges (best effort, logged).
  void revoke_pending_links(std::string_view user_id);
  [[nodiscard]] Status end_everything(std::string_view id, std::string_view reason, const RequestMeta& meta);

  AccountDeps d_;
  // Users read recently, for at most kCacheTtl; local changes evict at once.
  static constexpr std::chrono::seconds kCacheTtl{2};
  static constexpr std::size_t kCacheMax = 10000;
  struct Cached {
    std::shared_ptr<const SharedUser> entry;
    Seconds loaded;
  };
  mutable std::shared_mutex cache_mu_;
  std::unordered_map<std::string, Cached, StringHash, std::equal_to<>> cache_;  // GUARDED_BY(cache_mu_)
};

// The login outcome for metrics, from a login() result.
[[nodiscard]] LoginOutcome outcome_of(const Result<store::User>& r);

}  // namespace gh::service

template <>
struct std::is_error_code_enum<gh::service::AccountError> : std::true_type {};
