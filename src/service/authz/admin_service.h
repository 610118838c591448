// AdminService: the admin API's operations (docs/authz.md). Each one first
// asks AuthzService whether the caller may (platform admin, or the tenant
// role the policy requires), then whether a sensitive one was authenticated
// recently enough (step-up), then validates and acts. Every change — and
// every refused attempt at one — is an audit event with the caller as actor.
//
// Blocking (store access): run on a worker pool. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/base/random.h"
#include "service/accounts/accounts.h"
#include "service/authz/authz_service.h"
#include "store/store.h"

namespace gh::service {

class MfaService;

// Who calls: the verified access token's user and auth_time, and the request.
struct Caller {
  std::string user_id;
  Seconds auth_time{};
  RequestMeta meta;
};

struct UserDetail {
  store::User user;
  bool platform_admin = false;
  std::vector<store::Membership> memberships;
};

struct TenantView {
  store::Tenant tenant;
  std::string role;  // the caller's role ("admin" for a platform admin who is not a member)
};

struct MemberView {
  store::Membership membership;
  std::string email;
};

struct MemberList {
  std::vector<MemberView> members;
  std::optional<std::string> next_cursor;
};

struct AuditPage {
  std::vector<store::AuditRecord> events;
  std::optional<std::int64_t> next_cursor;
};

class AdminService {
 public:
  AdminService(store::Store& store, AccountService& accounts, AuthzService& authz, Clock& clock,
               Random& rng, AuditSink& audit, MfaService* mfa = nullptr)
      : store_(store),
        accounts_(accounts),
        authz_(authz),
        clock_(clock),
        rng_(rng),
        audit_(audit),
        mfa_(mfa) {}

  // ---- Platform admins only ----
  [[nodiscard]] Result<store::UserPage> list_users(const Caller& c,
                                                   std::optional<std::string> after,
                                                   std::size_t limit,
                                                   std::optional<std::string> email_contains);
  [[nodiscard]] Result<UserDetail> get_user(const Caller& c, std::string_view id);
  [[nodiscard]] Status set_disabled(const Caller& c, std::string_view id, bool disabled);
  [[nodiscard]] Status logout_user(const Caller& c, std::string_view id);
  [[nodiscard]] Status unlock_user(const Caller& c, std::string_view id);
  [[nodiscard]] Status delete_user(const Caller& c, std::string_view id);  // step-up
  // Removes the user's authenticator and recovery codes (a lost phone). Step-up.
  // NotFound for an unknown user; MfaError::NotEnrolled if there was nothing to remove.
  [[nodiscard]] Status reset_mfa(const Caller& c, std::string_view id);
  [[nodiscard]] Result<store::Tenant> create_tenant(const Caller& c, std::string_view name);
  // `q.tenant` may be set; every other filter too.
  [[nodiscard]] Result<AuditPage> query_audit(const Caller& c, store::AuditQuery q);

  // ---- Tenant-scoped ----
  [[nodiscard]] Result<std::vector<TenantView>> tenants_of(const Caller& c);
  [[nodiscard]] Result<TenantView> get_tenant(const Caller& c, std::string_view tenant);
  [[nodiscard]] Result<store::Tenant> rename_tenant(const Caller& c, std::string_view tenant,
                                                    std::string_view name);
  [[nodiscard]] Status delete_tenant(const Caller& c, std::string_view tenant);  // step-up
  [[nodiscard]] Result<MemberList> list_members(const Caller& c, std::string_view tenant,
                                                std::optional<std::string> after,
                                                std::size_t limit);
  // `user` is a user id or an email. Step-up.
  [[nodiscard]] Result<MemberView> add_member(const Caller& c, std::string_view tenant,
                                              std::string_view user, std::string_view role);
  [[nodiscard]] Result<MemberView> set_member_role(const Caller& c, std::string_view tenant,
                                                   std::string_view user_id,
                                                   std::string_view role);  // step-up
  [[nodiscard]] Status remove_member(const Caller& c, std::string_view tenant,
                                     std::string_view user_id);
  [[nodiscard]] Result<std::vector<store::ServiceClient>> list_clients(const Caller& c,
                                                                       std::string_view tenant);
  [[nodiscard]] Result<ClientSecret> create_client(const Caller& c, std::string_view tenant,
                                                   std::string_view name);  // step-up
  [[nodiscard]] Result<ClientSecret> rotate_client(const Caller& c, std::string_view tenant,
                                                   std::string_view id);  // step-up
  [[nodiscard]] Status delete_client(const Caller& c, std::string_view tenant, std::string_view id);
  // Only rows with this tenant; `q.tenant` is overwritten.
  [[nodiscard]] Result<AuditPage> tenant_audit(const Caller& c, std::string_view tenant,
                                               store::AuditQuery q);

 private:
  // Forbidden (audited as `action` when it would change something) unless allowed.
  [[nodiscard]] Status allow(const Caller& c, std::string_view tenant, std::string_view resource,
                             std::string_view permission, std::string_view action,
                             std::string_view subject);
  [[nodiscard]] Status allow_platform(const Caller& c, std::string_view action,
                                      std::string_view subject);
  // ReauthRequired (audited) unless the caller authenticated recently.
  [[nodiscard]] Status recent(const Caller& c, std::string_view tenant, std::string_view action,
                              std::string_view subject);
  // UnknownRole unless the policy has it.
  [[nodiscard]] Status known_role(std::string_view role) const;
  // Forbidden (audited) unless the caller's own role in `tenant` covers every grant of `role`.
  [[nodiscard]] Status may_grant(const Caller& c, std::string_view tenant, std::string_view role,
                                 std::string_view action, std::string_view subject);
  // The policy's roles that administer a tenant's users (what the store keeps held by someone).
  [[nodiscard]] std::vector<std::string> admin_roles() const;
  // After a grant to `user_id`: ends their sessions and refresh families if the MFA policy
  // now requires a factor they lack (MfaService::end_sessions_if_enrolment_needed).
  [[nodiscard]] Status enforce_mfa_policy(const Caller& c, std::string_view user_id,
                                          std::string_view cause);
  void audit(const Caller& c, std::string action, std::string result, std::string subject,
             std::string tenant = {});
  [[nodiscard]] Result<store::ServiceClient> client_in(std::string_view tenant,
                                                       std::string_view id);

  store::Store& store_;
  AccountService& accounts_;
  AuthzService& authz_;
  Clock& clock_;
  Random& rng_;
  AuditSink& audit_;
  MfaService* mfa_;  // reset_mfa and the policy after grants (null: not available)
};

}  // namespace gh::service
