// TenantStore: tenants (organisations), who belongs to them with which role,
// the platform (global) admins, and the service clients other services use
// to call POST /v1/authz/check. Roles are policy names (core/authz); the
// store keeps them as text and never interprets them (which roles administer
// a tenant is the caller's to say, as `admin_roles`).
//
// Deleting a tenant deletes its memberships and service clients; deleting a
// user (UserStore::delete_user) deletes their memberships and platform-admin
// grant (ON DELETE CASCADE in SQL). Schema version >= 5.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/result.h"

namespace gh::store {

struct Tenant {
  std::string id;  // UUIDv4
  std::string name;
  Seconds created_at{};
  Seconds updated_at{};
};

struct Membership {
  std::string tenant_id;
  std::string user_id;
  std::string role;
  Seconds created_at{};
  Seconds updated_at{};
};

// A caller of the authorization API. The secret is 256 random bits shown
// once; only its SHA-256 (hex) is stored — a fast hash is right for a
// high-entropy secret, and keeps the check off the password-hashing pool.
struct ServiceClient {
  std::string id;         // "svc_" + random, also the Basic-auth user name
  std::string tenant_id;  // the one tenant it may ask about
  std::string name;
  std::string secret_hash;
  Seconds created_at{};
  Seconds updated_at{};
};

struct TenantPage {
  std::vector<Tenant> tenants;
  std::optional<std::string> next_cursor;  // pass back as `after`
};

struct MemberPage {
  std::vector<Membership> members;
  std::optional<std::string> next_cursor;  // a user id: pass back as `after`
};

// True if a member going from role `from` to `to` (nullopt: leaving) gives up
// one of `admin_roles`, so the tenant needs another member holding one.
[[nodiscard]] inline bool drops_admin(std::span<const std::string> admin_roles, std::string_view from,
                                      std::optional<std::string_view> to) {
  const auto holds = [&](std::string_view r) { return std::ranges::find(admin_roles, r) != admin_roles.end(); };
  return holds(from) && (!to || !holds(*to));
}

class TenantStore {
 public:
  virtual ~TenantStore() = default;

  // Conflict if the id exists.
  [[nodiscard]] virtual Status create_tenant(const Tenant& t) = 0;
  // NotFound if absent.
  [[nodiscard]] virtual Result<Tenant> find_tenant(std::string_view id) = 0;
  // Tenants by id after `after`, at most `limit` (1..1000).
  [[nodiscard]] virtual Result<TenantPage> list_tenants(std::optional<std::string_view> after, std::size_t limit) = 0;
  // NotFound if absent.
  [[nodiscard]] virtual Status rename_tenant(std::string_view id, std::string_view name, Seconds now) = 0;
  // Deletes the tenant, its memberships and its service clients (one transaction). NotFound if absent.
  [[nodiscard]] virtual Status delete_tenant(std::string_view id) = 0;

  // Adds a member. Conflict if already a member; NotFound if the tenant or the user is missing.
  [[nodiscard]] virtual Status add_member(const Membership& m) = 0;
  // NotFound if not a member. `admin_roles` (may be empty) keeps the tenant
  // administered: if the member holds one of those roles and the new role is
  // not one, the change is refused (Conflict) unless another member holds one.
  // The check and the write are one transaction, so two admins demoting each
  // other at once cannot both succeed.
  [[nodiscard]] virtual Status set_member_role(std::string_view tenant_id, std::string_view user_id,
                                               std::string_view role, Seconds now,
                                               std::span<const std::string> admin_roles) = 0;
  // NotFound if not a member. `admin_roles` as for set_member_role: removing the
  // last member holding one of them is Conflict.
  [[nodiscard]] virtual Status remove_member(std::string_view tenant_id, std::string_view user_id,
                                             std::span<const std::string> admin_roles) = 0;
  // NotFound if not a member.
  [[nodiscard]] virtual Result<Membership> find_membership(std::string_view tenant_id, std::string_view user_id) = 0;
  // Members by user id after `after`, at most `limit` (1..1000). An unknown tenant has none.
  [[nodiscard]] virtual Result<MemberPage> list_members(std::string_view tenant_id,
                                                        std::optional<std::string_view> after, std::size_t limit) = 0;
  // Every membership of the user, by tenant id.
  [[nodiscard]] virtual Result<std::vector<Membership>> memberships_of(std::string_view user_id) = 0;

  // Grants or withdraws platform admin. NotFound if the user is missing (granting).
  [[nodiscard]] virtual Status set_platform_admin(std::string_view user_id, bool admin, Seconds now) = 0;
  [[nodiscard]] virtual Result<bool> is_platform_admin(std::string_view user_id) = 0;

  // Conflict if the id exists; NotFound if the tenant is missing.
  [[nodiscard]] virtual Status create_service_client(const ServiceClient& c) = 0;
  // NotFound if absent.
  [[nodiscard]] virtual Result<ServiceClient> find_service_client(std::string_view id) = 0;
  // The tenant's clients by id.
  [[nodiscard]] virtual Result<std::vector<ServiceClient>> list_service_clients(std::string_view tenant_id) = 0;
  // Replaces the secret hash. NotFound if absent.
  [[nodiscard]] virtual Status set_service_client_secret(std::string_view id, std::string_view secret_hash,
                                                         Seconds now) = 0;
  // NotFound if absent.
  [[nodiscard]] virtual Status delete_service_client(std::string_view id) = 0;
};

}  // namespace gh::store
