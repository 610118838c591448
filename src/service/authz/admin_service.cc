#include "service/authz/admin_service.h"

#include <algorithm>

#include "core/base/secret.h"
#include "service/mfa/mfa_service.h"

namespace gh::service {
namespace {

// What the tenant-scoped admin operations need (docs/authz.md).
constexpr std::string_view kUsers = "users";
constexpr std::string_view kRead = "read";
constexpr std::string_view kAdmin = "admin";

bool is(const Error& e, store::StoreError s) { return e.code == make_error_code(s); }
bool is(const Error& e, AuthzFailure f) { return e.code == make_error_code(f); }

// Store NotFound becomes the API's NotFound; anything else passes through.
Error not_found_or(const Error& e) {
  return is(e, store::StoreError::NotFound) ? Error{make_error_code(AuthzFailure::NotFound), ""}
                                            : e;
}

// The store's Conflict from a guarded role change or removal is the last admin.
Error last_admin_or(const Error& e) {
  return is(e, store::StoreError::Conflict) ? Error{make_error_code(AuthzFailure::LastAdmin), ""}
                                            : not_found_or(e);
}

}  // namespace

void AdminService::audit(const Caller& c, std::string action, std::string result,
                         std::string subject, std::string tenant) {
  audit_.record(AuditEvent{std::move(action), std::move(result), c.user_id, std::move(subject),
                           clock_.now(), c.meta, std::move(tenant)});
}

Status AdminService::allow(const Caller& c, std::string_view tenant, std::string_view resource,
                           std::string_view permission, std::string_view action,
                           std::string_view subject) {
  auto ok = authz_.require(c.user_id, tenant, resource, permission);
  if (!ok && !action.empty() && is(ok.error(), AuthzFailure::Forbidden))
    audit(c, std::string(action), "forbidden", std::string(subject), std::string(tenant));
  return ok;
}

Status AdminService::allow_platform(const Caller& c, std::string_view action,
                                    std::string_view subject) {
  auto ok = authz_.require_platform_admin(c.user_id);
  if (!ok && !action.empty() && is(ok.error(), AuthzFailure::Forbidden))
    audit(c, std::string(action), "forbidden", std::string(subject));
  return ok;
}

Status AdminService::recent(const Caller& c, std::string_view tenant, std::string_view action,
                            std::string_view subject) {
  auto ok = authz_.require_recent(c.auth_time);
  if (!ok)
    audit(c, std::string(action), "reauthentication_required", std::string(subject),
          std::string(tenant));
  return ok;
}

Status AdminService::known_role(std::string_view role) const {
  if (!authz_.policy().roles.contains(role)) return fail(AuthzFailure::UnknownRole);
  return {};
}

Status AdminService::may_grant(const Caller& c, std::string_view tenant, std::string_view role,
                               std::string_view action, std::string_view subject) {
  // No one hands out more than they hold: a role's grants must be a subset of
  // the caller's own role's in this tenant (platform admins hold everything).
  auto self = authz_.subject(c.user_id, tenant);
  if (!self) return fail(self.error());
  if (self->platform_admin) return {};
  const auto& roles = authz_.policy().roles;
  const auto mine = roles.find(self->role_in_tenant);
  const auto theirs = roles.find(role);
  if (mine != roles.end() && theirs != roles.end() &&
      std::ranges::includes(mine->second, theirs->second))
    return {};
  audit(c, std::string(action), "forbidden", std::string(subject), std::string(tenant));
  return fail(AuthzFailure::Forbidden);
}

std::vector<std::string> AdminService::admin_roles() const {
  // An "admin" is any role the policy lets administer the tenant's users.
  std::vector<std::string> out;
  for (const auto& [role, grants] : authz_.policy().roles) {
    if (authz::decide(authz_.policy(), authz::Subject{true, false, role}, kUsers, kAdmin).allow)
      out.push_back(role);
  }
  return out;
}

// ---- Platform admins --------------------------------------------------------

Result<store::UserPage> AdminService::list_users(const Caller& c, std::optional<std::string> after,
                                                 std::size_t limit,
                                                 std::optional<std::string> email_contains) {
  if (auto ok = allow_platform(c, "", ""); !ok) return fail(ok.error());
  return accounts_.list_users(std::move(after), limit, std::move(email_contains));
}

Result<UserDetail> AdminService::get_user(const Caller& c, std::string_view id) {
  if (auto ok = allow_platform(c, "", ""); !ok) return fail(ok.error());
  auto user = store_.users().find_user_by_id(id);
  if (!user) return fail(not_found_or(user.error()));
  auto admin = store_.tenants().is_platform_admin(id);
  if (!admin) return fail(admin.error());
  auto memberships = store_.tenants().memberships_of(id);
  if (!memberships) return fail(memberships.error());
  return UserDetail{std::move(*user), *admin, std::move(*memberships)};
}

Status AdminService::set_disabled(const Caller& c, std::string_view id, bool disabled) {
  const char* action = disabled ? "admin.user.disable" : "admin.user.enable";
  if (auto ok = allow_platform(c, action, id); !ok) return ok;
  auto r = accounts_.set_disabled(id, disabled, c.meta, c.user_id);
  authz_.forget_user(id);
  if (!r) return fail(not_found_or(r.error()));
  return {};
}

Status AdminService::logout_user(const Caller& c, std::string_view id) {
  if (auto ok = allow_platform(c, "admin.user.logout", id); !ok) return ok;
  if (auto user = store_.users().find_user_by_id(id); !user)
    return fail(not_found_or(user.error()));
  if (auto ok = accounts_.logout_all(id, c.meta); !ok) return ok;
  audit(c, "admin.user.logout", "success", std::string(id));
  return {};
}

Status AdminService::unlock_user(const Caller& c, std::string_view id) {
  if (auto ok = allow_platform(c, "admin.user.unlock", id); !ok) return ok;
  if (auto user = store_.users().find_user_by_id(id); !user)
    return fail(not_found_or(user.error()));
  if (auto ok = accounts_.unlock(id, c.meta, c.user_id); !ok) return fail(not_found_or(ok.error()));
  return {};
}

Status AdminService::delete_user(const Caller& c, std::string_view id) {
  if (auto ok = allow_platform(c, "admin.user.delete", id); !ok) return ok;
  if (auto ok = recent(c, "", "admin.user.delete", id); !ok) return ok;
  auto r = accounts_.delete_user(id, c.meta, c.user_id);
  authz_.forget_user(id);
  if (!r) return fail(not_found_or(r.error()));
  return {};
}

Status AdminService::reset_mfa(const Caller& c, std::string_view id) {
  if (auto ok = allow_platform(c, "admin.user.mfa_reset", id); !ok) return ok;
  if (auto ok = recent(c, "", "admin.user.mfa_reset", id); !ok) return ok;
  if (mfa_ == nullptr) return fail(store::StoreError::Internal);
  if (auto user = store_.users().find_user_by_id(id); !user)
    return fail(not_found_or(user.error()));
  return mfa_->remove(id, c.user_id, c.meta);
}

Status AdminService::enforce_mfa_policy(const Caller& c, std::string_view user_id,
                                        std::string_view cause) {
  if (mfa_ == nullptr) return {};
  // The grant is made; if it makes a second factor required that the user lacks, the
  // password-only sessions they hold end now rather than at their next sign-in.
  auto ended = mfa_->end_sessions_if_enrolment_needed(user_id, accounts_, c.user_id, cause, c.meta);
  if (!ended) return fail(ended.error());
  if (*ended) authz_.forget_user(user_id);
  return {};
}

Result<store::Tenant> AdminService::create_tenant(const Caller& c, std::string_view name) {
  if (auto ok = allow_platform(c, "admin.tenant.create", ""); !ok) return fail(ok.error());
  auto clean = clean_name(name);
  if (!clean) return fail(clean.error());
  const Seconds now = clock_.now();
  store::Tenant t{uuid_v4(rng_), std::move(*clean), now, now};
  if (auto ok = store_.tenants().create_tenant(t); !ok) return fail(ok.error());
  audit(c, "admin.tenant.create", "success", t.id, t.id);
  return t;
}

Result<AuditPage> AdminService::query_audit(const Caller& c, store::AuditQuery q) {
  if (auto ok = allow_platform(c, "", ""); !ok) return fail(ok.error());
  q.limit = std::clamp<std::size_t>(q.limit, 1, 1000);
  auto rows = store_.audit().query_audit(q);
  if (!rows) return fail(rows.error());
  AuditPage page{std::move(*rows), std::nullopt};
  if (page.events.size() == q.limit) page.next_cursor = page.events.back().id;
  return page;
}

// ---- Tenant-scoped ----------------------------------------------------------

Result<std::vector<TenantView>> AdminService::tenants_of(const Caller& c) {
  std::vector<TenantView> out;
  auto self = authz_.subject(c.user_id, "");
  if (!self) return fail(self.error());
  if (!self->authenticated) return fail(AuthzFailure::Forbidden);  // disabled or gone
  auto admin = authz_.require_platform_admin(c.user_id);
  if (!admin && !is(admin.error(), AuthzFailure::Forbidden)) return fail(admin.error());
  auto memberships = store_.tenants().memberships_of(c.user_id);
  if (!memberships) return fail(memberships.error());
  if (admin) {
    // Every tenant (at most 1000 here; the CLI lists more).
    auto page = store_.tenants().list_tenants(std::nullopt, 1000);
    if (!page) return fail(page.error());
    for (auto& t : page->tenants) {
      const auto m = std::ranges::find(*memberships, t.id, &store::Membership::tenant_id);
      out.push_back(
          TenantView{std::move(t), m == memberships->end() ? std::string(kAdmin) : m->role});
    }
    return out;
  }
  for (auto& m : *memberships) {
    auto t = store_.tenants().find_tenant(m.tenant_id);
    if (!t) {
      if (is(t.error(), store::StoreError::NotFound)) continue;  // deleted meanwhile
      return fail(t.error());
    }
    out.push_back(TenantView{std::move(*t), std::move(m.role)});
  }
  return out;
}

Result<TenantView> AdminService::get_tenant(const Caller& c, std::string_view tenant) {
  auto s = authz_.subject(c.user_id, tenant);
  if (!s) return fail(s.error());
  if (!s->authenticated || (s->role_in_tenant.empty() && !s->platform_admin))
    return fail(AuthzFailure::Forbidden);
  auto t = store_.tenants().find_tenant(tenant);
  if (!t) return fail(not_found_or(t.error()));
  return TenantView{std::move(*t),
                    s->role_in_tenant.empty() ? std::string(kAdmin) : s->role_in_tenant};
}

Result<store::Tenant> AdminService::rename_tenant(const Caller& c, std::string_view tenant,
                                                  std::string_view name) {
  if (auto ok = allow(c, tenant, kUsers, kAdmin, "admin.tenant.rename", tenant); !ok)
    return fail(ok.error());
  auto clean = clean_name(name);
  if (!clean) return fail(clean.error());
  if (auto ok = store_.tenants().rename_tenant(tenant, *clean, clock_.now()); !ok)
    return fail(not_found_or(ok.error()));
  audit(c, "admin.tenant.rename", "success", std::string(tenant), std::string(tenant));
  auto t = store_.tenants().find_tenant(tenant);
  if (!t) return fail(not_found_or(t.error()));
  return t;
}

Status AdminService::delete_tenant(const Caller& c, std::string_view tenant) {
  if (auto ok = allow(c, tenant, kUsers, kAdmin, "admin.tenant.delete", tenant); !ok) return ok;
  if (auto ok = recent(c, tenant, "admin.tenant.delete", tenant); !ok) return ok;
  if (auto ok = store_.tenants().delete_tenant(tenant); !ok) return fail(not_found_or(ok.error()));
  authz_.forget_tenant(tenant);
  audit(c, "admin.tenant.delete", "success", std::string(tenant), std::string(tenant));
  return {};
}

Result<MemberList> AdminService::list_members(const Caller& c, std::string_view tenant,
                                              std::optional<std::string> after, std::size_t limit) {
  if (auto ok = allow(c, tenant, kUsers, kRead, "", ""); !ok) return fail(ok.error());
  auto page = store_.tenants().list_members(
      tenant, after ? std::optional<std::string_view>(*after) : std::nullopt,
      std::clamp<std::size_t>(limit, 1, 200));
  if (!page) return fail(page.error());
  MemberList out;
  out.next_cursor = std::move(page->next_cursor);
  for (auto& m : page->members) {
    auto user = store_.users().find_user_by_id(m.user_id);
    if (!user) {
      if (is(user.error(), store::StoreError::NotFound)) continue;  // deleted meanwhile
      return fail(user.error());
    }
    out.members.push_back(MemberView{std::move(m), std::move(user->email)});
  }
  return out;
}

Result<MemberView> AdminService::add_member(const Caller& c, std::string_view tenant,
                                            std::string_view user, std::string_view role) {
  constexpr std::string_view kAction = "admin.member.add";
  if (auto ok = allow(c, tenant, kUsers, kAdmin, kAction, user); !ok) return fail(ok.error());
  if (auto ok = recent(c, tenant, kAction, user); !ok) return fail(ok.error());
  if (auto ok = known_role(role); !ok) return fail(ok.error());
  if (auto ok = may_grant(c, tenant, role, kAction, user); !ok) return fail(ok.error());
  auto found = accounts_.find_user(user);
  if (!found) return fail(not_found_or(found.error()));
  const Seconds now = clock_.now();
  store::Membership m{std::string(tenant), found->id, std::string(role), now, now};
  if (auto ok = store_.tenants().add_member(m); !ok) {
    if (is(ok.error(), store::StoreError::Conflict)) {
      // A retry after a grant whose session ending failed: end them now (idempotent).
      if (auto ended = enforce_mfa_policy(c, found->id, "role_grant"); !ended) return fail(ended.error());
      return fail(AuthzFailure::AlreadyMember);
    }
    return fail(not_found_or(ok.error()));
  }
  authz_.forget_membership(tenant, found->id);
  audit(c, std::string(kAction), "success", found->id, std::string(tenant));
  if (auto ok = enforce_mfa_policy(c, found->id, "role_grant"); !ok) return fail(ok.error());
  return MemberView{std::move(m), std::move(found->email)};
}

Result<MemberView> AdminService::set_member_role(const Caller& c, std::string_view tenant,
                                                 std::string_view user_id, std::string_view role) {
  constexpr std::string_view kAction = "admin.member.role";
  if (auto ok = allow(c, tenant, kUsers, kAdmin, kAction, user_id); !ok) return fail(ok.error());
  if (auto ok = recent(c, tenant, kAction, user_id); !ok) return fail(ok.error());
  if (auto ok = known_role(role); !ok) return fail(ok.error());
  if (auto ok = may_grant(c, tenant, role, kAction, user_id); !ok) return fail(ok.error());
  // The store refuses (Conflict) to demote the tenant's last admin, atomically.
  if (auto ok =
          store_.tenants().set_member_role(tenant, user_id, role, clock_.now(), admin_roles());
      !ok)
    return fail(last_admin_or(ok.error()));
  authz_.forget_membership(tenant, user_id);
  audit(c, std::string(kAction), "success", std::string(user_id), std::string(tenant));
  if (auto ok = enforce_mfa_policy(c, user_id, "role_grant"); !ok) return fail(ok.error());
  auto m = store_.tenants().find_membership(tenant, user_id);
  if (!m) return fail(not_found_or(m.error()));
  auto user = store_.users().find_user_by_id(user_id);
  return MemberView{std::move(*m), user ? user->email : std::string()};
}

Status AdminService::remove_member(const Caller& c, std::string_view tenant,
                                   std::string_view user_id) {
  constexpr std::string_view kAction = "admin.member.remove";
  if (auto ok = allow(c, tenant, kUsers, kAdmin, kAction, user_id); !ok) return ok;
  if (auto ok = store_.tenants().remove_member(tenant, user_id, admin_roles()); !ok)
    return fail(last_admin_or(ok.error()));
  authz_.forget_membership(tenant, user_id);
  audit(c, std::string(kAction), "success", std::string(user_id), std::string(tenant));
  return {};
}

Result<store::ServiceClient> AdminService::client_in(std::string_view tenant, std::string_view id) {
  auto client = store_.tenants().find_service_client(id);
  if (!client) return fail(not_found_or(client.error()));
  // Another tenant's client is "not found" here, exactly like a missing one.
  if (client->tenant_id != tenant) return fail(AuthzFailure::NotFound);
  return client;
}

Result<std::vector<store::ServiceClient>> AdminService::list_clients(const Caller& c,
                                                                     std::string_view tenant) {
  if (auto ok = allow(c, tenant, kUsers, kAdmin, "", ""); !ok) return fail(ok.error());
  return store_.tenants().list_service_clients(tenant);
}

Result<ClientSecret> AdminService::create_client(const Caller& c, std::string_view tenant,
                                                 std::string_view name) {
  constexpr std::string_view kAction = "admin.client.create";
  if (auto ok = allow(c, tenant, kUsers, kAdmin, kAction, ""); !ok) return fail(ok.error());
  if (auto ok = recent(c, tenant, kAction, ""); !ok) return fail(ok.error());
  auto clean = clean_name(name);
  if (!clean) return fail(clean.error());
  SecretString secret(random_token(rng_, 32));
  const Seconds now = clock_.now();
  store::ServiceClient client{"svc_" + random_token(rng_, 16),
                              std::string(tenant),
                              std::move(*clean),
                              token_hash(secret.expose()),
                              now,
                              now};
  if (auto ok = store_.tenants().create_service_client(client); !ok)
    return fail(not_found_or(ok.error()));
  audit(c, std::string(kAction), "success", client.id, std::string(tenant));
  return ClientSecret{std::move(client), std::move(secret)};
}

Result<ClientSecret> AdminService::rotate_client(const Caller& c, std::string_view tenant,
                                                 std::string_view id) {
  constexpr std::string_view kAction = "admin.client.rotate";
  if (auto ok = allow(c, tenant, kUsers, kAdmin, kAction, id); !ok) return fail(ok.error());
  if (auto ok = recent(c, tenant, kAction, id); !ok) return fail(ok.error());
  auto client = client_in(tenant, id);
  if (!client) return fail(client.error());
  SecretString secret(random_token(rng_, 32));
  client->secret_hash = token_hash(secret.expose());
  client->updated_at = clock_.now();
  if (auto ok =
          store_.tenants().set_service_client_secret(id, client->secret_hash, client->updated_at);
      !ok)
    return fail(not_found_or(ok.error()));
  authz_.forget_client(id);
  audit(c, std::string(kAction), "success", std::string(id), std::string(tenant));
  return ClientSecret{std::move(*client), std::move(secret)};
}

Status AdminService::delete_client(const Caller& c, std::string_view tenant, std::string_view id) {
  constexpr std::string_view kAction = "admin.client.delete";
  if (auto ok = allow(c, tenant, kUsers, kAdmin, kAction, id); !ok) return ok;
  if (auto client = client_in(tenant, id); !client) return fail(client.error());
  if (auto ok = store_.tenants().delete_service_client(id); !ok)
    return fail(not_found_or(ok.error()));
  authz_.forget_client(id);
  audit(c, std::string(kAction), "success", std::string(id), std::string(tenant));
  return {};
}

Result<AuditPage> AdminService::tenant_audit(const Caller& c, std::string_view tenant,
                                             store::AuditQuery q) {
  if (tenant.empty())
    return fail(AuthzFailure::Forbidden);  // "" would mean "every tenant" to the store
  if (auto ok = allow(c, tenant, kUsers, kAdmin, "", ""); !ok) return fail(ok.error());
  q.tenant = std::string(tenant);  // never another tenant's rows, whatever was asked
  q.limit = std::clamp<std::size_t>(q.limit, 1, 1000);
  auto rows = store_.audit().query_audit(q);
  if (!rows) return fail(rows.error());
  AuditPage page{std::move(*rows), std::nullopt};
  if (page.events.size() == q.limit) page.next_cursor = page.events.back().id;
  return page;
}

}  // namespace gh::service
