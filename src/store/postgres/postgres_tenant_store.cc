#include "store/postgres/postgres_tenant_store.h"

#include <algorithm>

namespace gh::store::postgres {
namespace {

// ---- All SQL of the tenant store ---------------------------------------------

// A missing tenant or user makes an INSERT fail on its foreign key (23503),
// which pg_error() maps to NotFound; a duplicate key (23505) maps to Conflict.
// So no statement here checks for a parent first (that would be a second
// statement and a race).
constexpr const char* kInsertTenant =
    "INSERT INTO tenants (id, name, created_at, updated_at) VALUES ($1, $2, $3, $4)";
constexpr const char* kTenantById =
    "SELECT id, name, created_at, updated_at FROM tenants WHERE id = $1";
// `id > ''` when there is no cursor keeps one statement that still seeks the
// primary key.
constexpr const char* kListTenants =
    "SELECT id, name, created_at, updated_at FROM tenants WHERE id > $1 ORDER BY id LIMIT $2";
constexpr const char* kRenameTenant = "UPDATE tenants SET name = $1, updated_at = $2 WHERE id = $3";
// Memberships and service clients go with it by ON DELETE CASCADE, in this
// one statement.
constexpr const char* kDeleteTenant = "DELETE FROM tenants WHERE id = $1";

#define GH_SELECT_MEMBERSHIP \
  "SELECT tenant_id, user_id, role, created_at, updated_at FROM memberships "
constexpr const char* kInsertMembership =
    "INSERT INTO memberships (tenant_id, user_id, role, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5)";
constexpr const char* kSetMemberRole =
    "UPDATE memberships SET role = $1, updated_at = $2 WHERE tenant_id = $3 AND user_id = $4";
constexpr const char* kDeleteMembership =
    "DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2";
constexpr const char* kMembership = GH_SELECT_MEMBERSHIP "WHERE tenant_id = $1 AND user_id = $2";
// set_member_role / remove_member with admin_roles, step 1: lock the tenant's
// row (FOR NO KEY UPDATE does not block the FOR KEY SHARE locks that inserting
// memberships takes), so guarded changes of one tenant run one after the
// other. The later statements are new snapshots under READ COMMITTED, so they
// see what the previous change committed (no write skew between two admins
// demoting each other).
constexpr const char* kLockTenant = "SELECT 1 FROM tenants WHERE id = $1 FOR NO KEY UPDATE";
constexpr const char* kMemberRole =
    "SELECT role FROM memberships WHERE tenant_id = $1 AND user_id = $2";
constexpr const char* kOtherHolder =
    "SELECT EXISTS (SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id <> $2 AND role = "
    "$3)";
constexpr const char* kListMembers =
    GH_SELECT_MEMBERSHIP "WHERE tenant_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3";
constexpr const char* kMembershipsOf = GH_SELECT_MEMBERSHIP "WHERE user_id = $1 ORDER BY tenant_id";
#undef GH_SELECT_MEMBERSHIP

// DO NOTHING covers only the primary key: a missing user still fails on the
// foreign key (NotFound), while a second grant is a no-op.
constexpr const char* kGrantPlatformAdmin =
    "INSERT INTO platform_admins (user_id, granted_at) VALUES ($1, $2) "
    "ON CONFLICT (user_id) DO NOTHING";
constexpr const char* kRevokePlatformAdmin = "DELETE FROM platform_admins WHERE user_id = $1";
constexpr const char* kIsPlatformAdmin =
    "SELECT EXISTS (SELECT 1 FROM platform_admins WHERE user_id = $1)";

#define GH_SELECT_CLIENT \
  "SELECT id, tenant_id, name, secret_hash, created_at, updated_at FROM service_clients "
constexpr const char* kInsertClient =
    "INSERT INTO service_clients (id, tenant_id, name, secret_hash, created_at, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)";
constexpr const char* kClientById = GH_SELECT_CLIENT "WHERE id = $1";
constexpr const char* kClientsOf = GH_SELECT_CLIENT "WHERE tenant_id = $1 ORDER BY id";
constexpr const char* kSetClientSecret =
    "UPDATE service_clients SET secret_hash = $1, updated_at = $2 WHERE id = $3";
constexpr const char* kDeleteClient = "DELETE FROM service_clients WHERE id = $1";
#undef GH_SELECT_CLIENT

// ---- Helpers ----------------------------------------------------------------

Tenant read_tenant(const Rows& rows, int i) {
  return Tenant{rows.text(i, 0), rows.text(i, 1), to_seconds(rows.int64(i, 2)),
                to_seconds(rows.int64(i, 3))};
}

Membership read_membership(const Rows& rows, int i) {
  return Membership{rows.text(i, 0), rows.text(i, 1), rows.text(i, 2), to_seconds(rows.int64(i, 3)),
                    to_seconds(rows.int64(i, 4))};
}

ServiceClient read_client(const Rows& rows, int i) {
  return ServiceClient{rows.text(i, 0),
                       rows.text(i, 1),
                       rows.text(i, 2),
                       rows.text(i, 3),
                       to_seconds(rows.int64(i, 4)),
                       to_seconds(rows.int64(i, 5))};
}

Status done(Result<Rows> r) {
  if (!r) return fail(r.error());
  return {};
}

// The first row converted with read(rows, 0); NotFound if there is none.
template <class Read>
auto first_row(Result<Rows> rows, Read read) -> Result<decltype(read(*rows, 0))> {
  if (!rows) return fail(rows.error());
  if (rows->size() == 0) return fail(StoreError::NotFound);
  return read(*rows, 0);
}

// Every row converted with read(rows, i).
template <class Read>
auto all_rows(Result<Rows> rows, Read read) -> Result<std::vector<decltype(read(*rows, 0))>> {
  if (!rows) return fail(rows.error());
  std::vector<decltype(read(*rows, 0))> out;
  out.reserve(static_cast<std::size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) out.push_back(read(*rows, i));
  return out;
}

// ---- The store --------------------------------------------------------------

class PostgresTenantStore final : public TenantStore {
 public:
  explicit PostgresTenantStore(Pool& pool) : pool_(pool) {}

  Status create_tenant(const Tenant& t) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return done(exec(conn, kInsertTenant, t.id, t.name, t.created_at, t.updated_at));
    });
  }

  Result<Tenant> find_tenant(std::string_view id) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) {
      return first_row(exec(conn, kTenantById, id), read_tenant);
    });
  }

  Result<TenantPage> list_tenants(std::optional<std::string_view> after,
                                  std::size_t limit) override {
    limit = std::clamp<std::size_t>(limit, 1, 1000);
    return pool_.run(kIdempotent, [&](PGconn* conn) -> Result<TenantPage> {
      // One row past the page tells whether a next page exists.
      auto rows = all_rows(
          exec(conn, kListTenants, after.value_or(""), static_cast<std::int64_t>(limit + 1)),
          read_tenant);
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
    return pool_.run(kWrite, [&](PGconn* conn) {
      return expect_one_row(exec(conn, kRenameTenant, name, now, id));
    });
  }

  Status delete_tenant(std::string_view id) override {
    return pool_.run(kWrite,
                     [&](PGconn* conn) { return expect_one_row(exec(conn, kDeleteTenant, id)); });
  }

  Status add_member(const Membership& m) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return done(exec(conn, kInsertMembership, m.tenant_id, m.user_id, m.role, m.created_at,
                       m.updated_at));
    });
  }

  Status set_member_role(std::string_view tenant_id, std::string_view user_id,
                         std::string_view role, Seconds now,
                         std::span<const std::string> admin_roles) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Status {
        if (auto ok = keeps_admin(conn, tenant_id, user_id, role, admin_roles); !ok) return ok;
        return expect_one_row(exec(conn, kSetMemberRole, role, now, tenant_id, user_id));
      });
    });
  }

  Status remove_member(std::string_view tenant_id, std::string_view user_id,
                       std::span<const std::string> admin_roles) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Status {
        if (auto ok = keeps_admin(conn, tenant_id, user_id, std::nullopt, admin_roles); !ok)
          return ok;
        return expect_one_row(exec(conn, kDeleteMembership, tenant_id, user_id));
      });
    });
  }

  Result<Membership> find_membership(std::string_view tenant_id,
                                     std::string_view user_id) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) {
      return first_row(exec(conn, kMembership, tenant_id, user_id), read_membership);
    });
  }

  Result<MemberPage> list_members(std::string_view tenant_id, std::optional<std::string_view> after,
                                  std::size_t limit) override {
    limit = std::clamp<std::size_t>(limit, 1, 1000);
    return pool_.run(kIdempotent, [&](PGconn* conn) -> Result<MemberPage> {
      // One row past the page tells whether a next page exists.
      auto rows = all_rows(exec(conn, kListMembers, tenant_id, after.value_or(""),
                                static_cast<std::int64_t>(limit + 1)),
                           read_membership);
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
    return pool_.run(kIdempotent, [&](PGconn* conn) {
      return all_rows(exec(conn, kMembershipsOf, user_id), read_membership);
    });
  }

  Status set_platform_admin(std::string_view user_id, bool admin, Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return admin ? done(exec(conn, kGrantPlatformAdmin, user_id, now))
                   : done(exec(conn, kRevokePlatformAdmin, user_id));
    });
  }

  Result<bool> is_platform_admin(std::string_view user_id) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) -> Result<bool> {
      auto rows = exec(conn, kIsPlatformAdmin, user_id);
      if (!rows) return fail(rows.error());
      return rows->boolean(0, 0);
    });
  }

  Status create_service_client(const ServiceClient& c) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return done(exec(conn, kInsertClient, c.id, c.tenant_id, c.name, c.secret_hash, c.created_at,
                       c.updated_at));
    });
  }

  Result<ServiceClient> find_service_client(std::string_view id) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) {
      return first_row(exec(conn, kClientById, id), read_client);
    });
  }

  Result<std::vector<ServiceClient>> list_service_clients(std::string_view tenant_id) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) {
      return all_rows(exec(conn, kClientsOf, tenant_id), read_client);
    });
  }

  Status set_service_client_secret(std::string_view id, std::string_view secret_hash,
                                   Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return expect_one_row(exec(conn, kSetClientSecret, secret_hash, now, id));
    });
  }

  Status delete_service_client(std::string_view id) override {
    return pool_.run(kWrite,
                     [&](PGconn* conn) { return expect_one_row(exec(conn, kDeleteClient, id)); });
  }

 private:
  // Inside the caller's transaction: NotFound if not a member; Conflict if the
  // change (to role `to`, or leaving) would take the tenant's last admin role.
  static Status keeps_admin(PGconn* conn, std::string_view tenant_id, std::string_view user_id,
                            std::optional<std::string_view> to,
                            std::span<const std::string> admin_roles) {
    if (!admin_roles.empty()) {
      auto locked = exec(conn, kLockTenant, tenant_id);
      if (!locked) return fail(locked.error());
      if (locked->size() == 0) return fail(StoreError::NotFound);
    }
    auto from = first_row(exec(conn, kMemberRole, tenant_id, user_id),
                          [](const Rows& rows, int i) { return rows.text(i, 0); });
    if (!from) return fail(from.error());
    if (!drops_admin(admin_roles, *from, to)) return {};
    for (const std::string& role : admin_roles) {
      auto held = exec(conn, kOtherHolder, tenant_id, user_id, role);
      if (!held) return fail(held.error());
      if (held->boolean(0, 0)) return {};
    }
    return fail(StoreError::Conflict);
  }

  Pool& pool_;
};

}  // namespace

std::unique_ptr<TenantStore> make_tenant_store(Pool& pool) {
  return std::make_unique<PostgresTenantStore>(pool);
}

}  // namespace gh::store::postgres
