#include "store/sqlite/sqlite_tenant_store.h"

#include <algorithm>

namespace gh::store::sqlite {
namespace {

// ---- All SQL of the tenant store ---------------------------------------------

// A missing tenant or user makes an INSERT fail on its foreign key, which
// sqlite_error() maps to NotFound; a duplicate key maps to Conflict. So no
// statement here checks for a parent first (that would be a second statement
// and a race).
constexpr std::string_view kInsertTenant =
    "INSERT INTO tenants (id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?4)";
constexpr std::string_view kTenantById =
    "SELECT id, name, created_at, updated_at FROM tenants WHERE id = ?1";
// `id > ''` when there is no cursor keeps one statement that still seeks the
// primary key.
constexpr std::string_view kListTenants =
    "SELECT id, name, created_at, updated_at FROM tenants WHERE id > ?1 ORDER BY id LIMIT ?2";
constexpr std::string_view kRenameTenant =
    "UPDATE tenants SET name = ?1, updated_at = ?2 WHERE id = ?3";
// Memberships and service clients go with it by ON DELETE CASCADE, in this
// one statement.
constexpr std::string_view kDeleteTenant = "DELETE FROM tenants WHERE id = ?1";

#define GH_SELECT_MEMBERSHIP \
  "SELECT tenant_id, user_id, role, created_at, updated_at FROM memberships "
constexpr std::string_view kInsertMembership =
    "INSERT INTO memberships (tenant_id, user_id, role, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr std::string_view kSetMemberRole =
    "UPDATE memberships SET role = ?1, updated_at = ?2 WHERE tenant_id = ?3 AND user_id = ?4";
constexpr std::string_view kDeleteMembership =
    "DELETE FROM memberships WHERE tenant_id = ?1 AND user_id = ?2";
constexpr std::string_view kMembership =
    GH_SELECT_MEMBERSHIP "WHERE tenant_id = ?1 AND user_id = ?2";
// set_member_role / remove_member with admin_roles: inside one BEGIN IMMEDIATE
// transaction (the writer lock), so what these read is what the write acts on.
constexpr std::string_view kMemberRole =
    "SELECT role FROM memberships WHERE tenant_id = ?1 AND user_id = ?2";
constexpr std::string_view kOtherHolder =
    "SELECT EXISTS (SELECT 1 FROM memberships WHERE tenant_id = ?1 AND user_id <> ?2 AND role = "
    "?3)";
constexpr std::string_view kListMembers =
    GH_SELECT_MEMBERSHIP "WHERE tenant_id = ?1 AND user_id > ?2 ORDER BY user_id LIMIT ?3";
constexpr std::string_view kMembershipsOf =
    GH_SELECT_MEMBERSHIP "WHERE user_id = ?1 ORDER BY tenant_id";
#undef GH_SELECT_MEMBERSHIP

// DO NOTHING covers only the primary key: a missing user still fails on the
// foreign key (NotFound), while a second grant is a no-op.
constexpr std::string_view kGrantPlatformAdmin =
    "INSERT INTO platform_admins (user_id, granted_at) VALUES (?1, ?2) "
    "ON CONFLICT (user_id) DO NOTHING";
constexpr std::string_view kRevokePlatformAdmin = "DELETE FROM platform_admins WHERE user_id = ?1";
constexpr std::string_view kIsPlatformAdmin =
    "SELECT EXISTS (SELECT 1 FROM platform_admins WHERE user_id = ?1)";

#define GH_SELECT_CLIENT \
  "SELECT id, tenant_id, name, secret_hash, created_at, updated_at FROM service_clients "
constexpr std::string_view kInsertClient =
    "INSERT INTO service_clients (id, tenant_id, name, secret_hash, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr std::string_view kClientById = GH_SELECT_CLIENT "WHERE id = ?1";
constexpr std::string_view kClientsOf = GH_SELECT_CLIENT "WHERE tenant_id = ?1 ORDER BY id";
constexpr std::string_view kSetClientSecret =
    "UPDATE service_clients SET secret_hash = ?1, updated_at = ?2 WHERE id = ?3";
constexpr std::string_view kDeleteClient = "DELETE FROM service_clients WHERE id = ?1";
#undef GH_SELECT_CLIENT

// ---- Helpers ----------------------------------------------------------------

Tenant read_tenant(const Statement& st) {
  return Tenant{st.column_text(0), st.column_text(1), to_seconds(st.column_int(2)),
                to_seconds(st.column_int(3))};
}

Membership read_membership(const Statement& st) {
  return Membership{st.column_text(0), st.column_text(1), st.column_text(2),
                    to_seconds(st.column_int(3)), to_seconds(st.column_int(4))};
}

ServiceClient read_client(const Statement& st) {
  return ServiceClient{st.column_text(0),
                       st.column_text(1),
                       st.column_text(2),
                       st.column_text(3),
                       to_seconds(st.column_int(4)),
                       to_seconds(st.column_int(5))};
}

Status done(Result<std::int64_t> changed) {
  if (!changed) return fail(changed.error());
  return {};
}

// ---- The store --------------------------------------------------------------

class SqliteTenantStore final : public TenantStore {
 public:
  explicit SqliteTenantStore(Database& db) : db_(db) {}

  Status create_tenant(const Tenant& t) override {
    return db_.write([&](Connection& c) {
      return done(run(c, kInsertTenant, t.id, t.name, t.created_at, t.updated_at));
    });
  }

  Result<Tenant> find_tenant(std::string_view id) override {
    return db_.read([&](Connection& c) { return query_one(c, kTenantById, read_tenant, id); });
  }

  Result<TenantPage> list_tenants(std::optional<std::string_view> after,
                                  std::size_t limit) override {
    limit = std::clamp<std::size_t>(limit, 1, 1000);
    return db_.read([&](Connection& c) -> Result<TenantPage> {
      // One row past the page tells whether a next page exists.
      auto rows = query_all(c, kListTenants, read_tenant, after.value_or(""),
                            static_cast<std::int64_t>(limit + 1));
      if (!rows) return fail(rows.error());
      TenantPage page;
      page.tenants = std::move(*rows);
      if (page.tenants.size() > limit) {
        page.tenants.resize(limit);
        page.next_cursor = page.tenants.back().id;
      }
      return page;
    });
  }

  Status rename_tenant(std::string_view id, std::string_view name, Seconds now) override {
    return db_.write(
        [&](Connection& c) { return expect_one_row(run(c, kRenameTenant, name, now, id)); });
  }

  Status delete_tenant(std::string_view id) override {
    return db_.write([&](Connection& c) { return expect_one_row(run(c, kDeleteTenant, id)); });
  }

  Status add_member(const Membership& m) override {
    return db_.write([&](Connection& c) {
      return done(
          run(c, kInsertMembership, m.tenant_id, m.user_id, m.role, m.created_at, m.updated_at));
    });
  }

  Status set_member_role(std::string_view tenant_id, std::string_view user_id,
                         std::string_view role, Seconds now,
                         std::span<const std::string> admin_roles) override {
    return db_.write([&](Connection& c) {
      return transaction(c, [&]() -> Status {
        if (auto ok = keeps_admin(c, tenant_id, user_id, role, admin_roles); !ok) return ok;
        return expect_one_row(run(c, kSetMemberRole, role, now, tenant_id, user_id));
      });
    });
  }

  Status remove_member(std::string_view tenant_id, std::string_view user_id,
                       std::span<const std::string> admin_roles) override {
    return db_.write([&](Connection& c) {
      return transaction(c, [&]() -> Status {
        if (auto ok = keeps_admin(c, tenant_id, user_id, std::nullopt, admin_roles); !ok) return ok;
        return expect_one_row(run(c, kDeleteMembership, tenant_id, user_id));
      });
    });
  }

  Result<Membership> find_membership(std::string_view tenant_id,
                                     std::string_view user_id) override {
    return db_.read([&](Connection& c) {
      return query_one(c, kMembership, read_membership, tenant_id, user_id);
    });
  }

  Result<MemberPage> list_members(std::string_view tenant_id, std::optional<std::string_view> after,
                                  std::size_t limit) override {
    limit = std::clamp<std::size_t>(limit, 1, 1000);
    return db_.read([&](Connection& c) -> Result<MemberPage> {
      // One row past the page tells whether a next page exists.
      auto rows = query_all(c, kListMembers, read_membership, tenant_id, after.value_or(""),
                            static_cast<std::int64_t>(limit + 1));
      if (!rows) return fail(rows.error());
      MemberPage page;
      page.members = std::move(*rows);
      if (page.members.size() > limit) {
        page.members.resize(limit);
        page.next_cursor = page.members.back().user_id;
      }
      return page;
    });
  }

  Result<std::vector<Membership>> memberships_of(std::string_view user_id) override {
    return db_.read(
        [&](Connection& c) { return query_all(c, kMembershipsOf, read_membership, user_id); });
  }

  Status set_platform_admin(std::string_view user_id, bool admin, Seconds now) override {
    return db_.write([&](Connection& c) {
      return admin ? done(run(c, kGrantPlatformAdmin, user_id, now))
                   : done(run(c, kRevokePlatformAdmin, user_id));
    });
  }

  Result<bool> is_platform_admin(std::string_view user_id) override {
    return db_.read([&](Connection& c) -> Result<bool> {
      auto exists = query_int(c, kIsPlatformAdmin, user_id);
      if (!exists) return fail(exists.error());
      return *exists != 0;
    });
  }

  Status create_service_client(const ServiceClient& sc) override {
    return db_.write([&](Connection& c) {
      return done(run(c, kInsertClient, sc.id, sc.tenant_id, sc.name, sc.secret_hash, sc.created_at,
                      sc.updated_at));
    });
  }

  Result<ServiceClient> find_service_client(std::string_view id) override {
    return db_.read([&](Connection& c) { return query_one(c, kClientById, read_client, id); });
  }

  Result<std::vector<ServiceClient>> list_service_clients(std::string_view tenant_id) override {
    return db_.read(
        [&](Connection& c) { return query_all(c, kClientsOf, read_client, tenant_id); });
  }

  Status set_service_client_secret(std::string_view id, std::string_view secret_hash,
                                   Seconds now) override {
    return db_.write([&](Connection& c) {
      return expect_one_row(run(c, kSetClientSecret, secret_hash, now, id));
    });
  }

  Status delete_service_client(std::string_view id) override {
    return db_.write([&](Connection& c) { return expect_one_row(run(c, kDeleteClient, id)); });
  }

 private:
  // Inside the caller's transaction: NotFound if not a member; Conflict if the
  // change (to role `to`, or leaving) would take the tenant's last admin role.
  static Status keeps_admin(Connection& c, std::string_view tenant_id, std::string_view user_id,
                            std::optional<std::string_view> to,
                            std::span<const std::string> admin_roles) {
    auto from = query_one(
        c, kMemberRole, [](const Statement& st) { return st.column_text(0); }, tenant_id, user_id);
    if (!from) return fail(from.error());
    if (!drops_admin(admin_roles, *from, to)) return {};
    for (const std::string& role : admin_roles) {
      auto held = query_int(c, kOtherHolder, tenant_id, user_id, role);
      if (!held) return fail(held.error());
      if (*held != 0) return {};
    }
    return fail(StoreError::Conflict);
  }

  Database& db_;
};

}  // namespace

std::unique_ptr<TenantStore> make_tenant_store(Database& db) {
  return std::make_unique<SqliteTenantStore>(db);
}

}  // namespace gh::store::sqlite
