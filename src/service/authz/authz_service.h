// AuthzService: authorization decisions for services and for our own admin
// API (docs/authz.md). The decision itself is core/authz decide(); this layer
// finds the subject — is the user live, are they a platform admin, what is
// their role in the tenant — through a small in-process cache, authenticates
// service clients, and mints tenant-scoped access tokens.
//
// Cache: answers the store gave within `cache_ttl` (1 s by default) are reused;
// a change made through this instance (AdminService) evicts at once, so a
// membership change applies to this instance's next check immediately and to
// other instances within cache_ttl. An eviction racing a store read wins
// (epoch), so a removed membership is never re-cached from a read in flight.
//
// Thread-safe. Methods named *_cached never block (safe on an I/O thread);
// the others may touch the store (run them on a worker pool).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/authz/policy.h"
#include "core/authz/routes.h"
#include "core/base/clock.h"
#include "core/base/result.h"
#include "core/base/secret.h"
#include "core/base/string_hash.h"
#include "service/accounts/accounts.h"
#include "service/common/audit.h"
#include "service/tokens/token_service.h"
#include "store/store.h"

namespace gh::service {

enum class AuthzFailure : std::uint8_t {
  Forbidden = 1,   // signed in, but not allowed (also: a tenant the caller may not see)
  NotFound,        // the user, member or client is not there (in this tenant)
  UnknownRole,     // the role is not in the policy
  AlreadyMember,   // the user is already a member of the tenant
  LastAdmin,       // the change would leave the tenant without an admin
  ReauthRequired,  // a sensitive operation needs a more recent authentication
  InvalidClient,   // service-client id or secret wrong
  InvalidName,     // a tenant or client name that is empty, too long or has control characters
};
GH_DECLARE_ERROR_CATEGORY(AuthzFailure)

struct AuthzConfig {
  std::chrono::seconds cache_ttl{1};
  std::size_t cache_entries = 100000;
  std::chrono::seconds reauth_window{600};
  std::vector<authz::RouteRule> forward_auth_rules;  // authz.forward_auth_rules, parsed
};

// One question: may `subject` (a user id) do `action` on `resource` in `tenant`?
struct CheckRequest {
  std::string subject;
  std::string tenant;
  std::string resource;
  std::string action;
};

// An authenticated service client: it may ask about its own tenant only.
struct ClientIdentity {
  std::string client_id;
  std::string tenant_id;
};

// Who asks POST /v1/authz/check: a signed-in user (about themselves only) or a
// service client (about anyone, in its own tenant only).
struct Asker {
  std::string user_id;                   // the bearer token's user; "" for a service client
  std::optional<ClientIdentity> client;  // set for a service client
};

struct TenantToken {
  std::string access_token;
  std::chrono::seconds expires_in{};
  std::string tenant;
  std::string role;
};

// A new service-client secret: shown once, never stored.
struct ClientSecret {
  store::ServiceClient client;
  SecretString secret;
};

class AuthzService {
 public:
  AuthzService(store::Store& store, AccountService& accounts, TokenService& tokens,
               authz::Policy policy, Clock& clock, AuditSink& audit, AuthzConfig config);

  [[nodiscard]] const authz::Policy& policy() const { return policy_; }
  [[nodiscard]] const AuthzConfig& config() const { return cfg_; }

  // The decision subject for a user in a tenant, from the cache, or nullopt if
  // any part is not cached. Never blocks.
  [[nodiscard]] std::optional<authz::Subject> subject_cached(std::string_view user_id,
                                                             std::string_view tenant) const;
  // The same, loading what the cache lacks (blocking). An unknown or disabled
  // user is not authenticated. Errors: StoreError.
  [[nodiscard]] Result<authz::Subject> subject(std::string_view user_id, std::string_view tenant);

  // Decisions for each request, in order, from the cache only (nullopt on the first miss).
  [[nodiscard]] std::optional<std::vector<authz::Decision>> check_cached(
      std::span<const CheckRequest> checks) const;
  // The same, loading misses. Errors: StoreError.
  [[nodiscard]] Result<std::vector<authz::Decision>> check(std::span<const CheckRequest> checks);

  // The API's rules on top of check(): scope_checks() fills a user's own id in
  // as the subject (Forbidden if a check names someone else; MissingField if a
  // client's check names no one); answer*() then decide, a client's checks
  // about another tenant read as not_member, and a client learns answers, not
  // account facts (an unknown or disabled user reads as not_member, a
  // platform admin as granted).
  [[nodiscard]] Status scope_checks(std::vector<CheckRequest>& checks, const Asker& who) const;
  [[nodiscard]] std::optional<std::vector<authz::Decision>> answer_cached(
      std::span<const CheckRequest> checks, const Asker& who) const;
  [[nodiscard]] Result<std::vector<authz::Decision>> answer(std::span<const CheckRequest> checks,
                                                            const Asker& who);

  // Service-client credentials: from the cache when fresh, else nullopt (never blocks).
  [[nodiscard]] std::optional<Result<ClientIdentity>> client_cached(std::string_view id,
                                                                    std::string_view secret) const;
  // Errors: InvalidClient (one answer for an unknown id and a wrong secret), StoreError.
  [[nodiscard]] Result<ClientIdentity> authenticate_client(std::string_view id,
                                                           std::string_view secret);

  // An access token for `tenant` (claims `tenant` and `role`) for the holder of
  // `caller`, same family and auth_time. Errors: Forbidden, KeyError, StoreError.
  [[nodiscard]] Result<TenantToken> tenant_token(const AccessClaims& caller,
                                                 std::string_view tenant, const RequestMeta& meta);

  // After a successful re-authentication (AccountService::reauthenticate): a
  // token like `caller` with auth_time now, the tenant role re-derived from the
  // current membership (dropped if gone), exp no later than caller's, and
  // `amr` (what the re-authentication proved). Errors: KeyError, StoreError.
  [[nodiscard]] Result<TenantToken> reauthenticated_token(const AccessClaims& caller,
                                                          const store::User& user, std::string_view amr);

  // Allowed, or Forbidden (the caller is not authenticated as far as the
  // policy knows: the API answers 401 before getting here). For AdminService.
  [[nodiscard]] Status require(std::string_view user_id, std::string_view tenant,
                               std::string_view resource, std::string_view action);
  [[nodiscard]] Status require_platform_admin(std::string_view user_id);
  // ReauthRequired unless auth_time is within the re-authentication window.
  [[nodiscard]] Status require_recent(Seconds auth_time) const;

  // Cache invalidation after a change made through this instance.
  void forget_membership(std::string_view tenant, std::string_view user_id);
  void forget_tenant(std::string_view tenant);
  void forget_user(std::string_view user_id);
  void forget_client(std::string_view id);

 private:
  struct Entry {
    std::string value;  // role ("" = not a member), "1"/"" for admin grants, tenant + '\n' + hash
                        // for clients
    Seconds fresh_until;
  };
  [[nodiscard]] std::optional<std::string> lookup(const std::string& key) const;
  void remember(std::string key, std::string value, std::uint64_t epoch);
  [[nodiscard]] Result<std::string> load(const std::string& key,
                                         const std::function<Result<std::string>()>& read);
  [[nodiscard]] std::chrono::seconds lifetime_left(const AccessClaims& caller) const;
  static void as_seen_by(std::span<const CheckRequest> checks, const Asker& who,
                         std::vector<authz::Decision>& out);
  [[nodiscard]] authz::Decision decide_one(const authz::Subject& s, const CheckRequest& c) const;

  store::Store& store_;
  AccountService& accounts_;
  TokenService& tokens_;
  authz::Policy policy_;
  Clock& clock_;
  AuditSink& audit_;
  AuthzConfig cfg_;

  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry, StringHash, std::equal_to<>> cache_;  // GUARDED_BY(mu_)
  std::atomic<std::uint64_t> epoch_{0};
};

// The name rules for tenants and service clients: 1..100 characters, valid
// UTF-8, no control characters. InvalidName otherwise.
[[nodiscard]] Result<std::string> clean_name(std::string_view name);

}  // namespace gh::service

template <>
struct std::is_error_code_enum<gh::service::AuthzFailure> : std::true_type {};
