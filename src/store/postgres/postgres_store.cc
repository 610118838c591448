#include "store/postgres/postgres_store.h"

#include <algorithm>
#include <iterator>

#include <spdlog/spdlog.h>

#include "store/postgres/pg_db.h"
#include "store/postgres/postgres_audit_store.h"
#include "store/postgres/postgres_identity_store.h"
#include "store/postgres/postgres_mfa_store.h"
#include "store/postgres/postgres_onetime_store.h"
#include "store/postgres/postgres_session_store.h"
#include "store/postgres/postgres_tenant_store.h"
#include "store/postgres/postgres_token_store.h"
#include "store/schema.h"

namespace gh::store::postgres {
namespace {

// ---- All SQL of this backend ----------------------------------------------

// Schema migrations in order: entry i brings the schema to version i + 1.
// Append; never edit an entry that has shipped. Tables that belong to a user
// reference users(id) ON DELETE CASCADE so that delete_user removes them.
constexpr const char* kMigrations[] = {
    // 1: users. Times are unix seconds. COLLATE "C" orders ids bytewise, as
    // the other backends do, whatever the database's locale.
    R"sql(
CREATE TABLE users (
  id               TEXT COLLATE "C" PRIMARY KEY,
  email            TEXT NOT NULL,
  email_normalized TEXT COLLATE "C" NOT NULL UNIQUE,
  name             TEXT NOT NULL DEFAULT '',
  password_hash    TEXT NOT NULL DEFAULT '',
  email_verified   BOOLEAN NOT NULL DEFAULT false,
  disabled         BOOLEAN NOT NULL DEFAULT false,
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL
);
)sql",
    // 2: refresh-token families and tokens, the access-token denylist, signing
    // keys. Statuses are the enum values of token_store.h. Every foreign key
    // is indexed: ON DELETE CASCADE and revoke_user_families look rows up by it.
    R"sql(
CREATE TABLE refresh_families (
  id             TEXT COLLATE "C" PRIMARY KEY,
  user_id        TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at     BIGINT NOT NULL,
  revoked_at     BIGINT,
  revoked_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX refresh_families_user_id ON refresh_families(user_id);
CREATE TABLE refresh_tokens (
  hash        TEXT COLLATE "C" PRIMARY KEY,
  family_id   TEXT COLLATE "C" NOT NULL REFERENCES refresh_families(id) ON DELETE CASCADE,
  user_id     TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  parent_hash TEXT NOT NULL DEFAULT '',
  child_hash  TEXT NOT NULL DEFAULT '',
  status      SMALLINT NOT NULL CHECK (status IN (1, 2, 3)),
  created_at  BIGINT NOT NULL,
  expires_at  BIGINT NOT NULL,
  rotated_at  BIGINT,
  auth_time   BIGINT NOT NULL,
  client_id   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX refresh_tokens_family_id ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens(user_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens(expires_at);
CREATE TABLE denied_jtis (
  jti        TEXT COLLATE "C" PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE INDEX denied_jtis_expires_at ON denied_jtis(expires_at);
CREATE TABLE denied_subjects (
  user_id    TEXT COLLATE "C" PRIMARY KEY,
  not_before BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX denied_subjects_expires_at ON denied_subjects(expires_at);
CREATE TABLE signing_keys (
  kid            TEXT COLLATE "C" PRIMARY KEY,
  alg            TEXT NOT NULL,
  private_sealed TEXT NOT NULL,
  public_jwk     TEXT NOT NULL DEFAULT '',
  status         SMALLINT NOT NULL CHECK (status IN (1, 2, 3)),
  created_at     BIGINT NOT NULL,
  not_after      BIGINT
);
-- At most one Active key, whatever the callers do.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys(status) WHERE status = 1;
)sql",
    // 3: browser sessions (store/session_store.h). id_hash is the hex SHA-256
    // of the cookie's id, never the id. One index per deadline: purge's
    // `expires_at <= $1 OR idle_expires_at <= $1` becomes a BitmapOr of both.
    R"sql(
CREATE TABLE sessions (
  id_hash         TEXT COLLATE "C" PRIMARY KEY,
  user_id         TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at      BIGINT NOT NULL,
  last_seen       BIGINT NOT NULL,
  idle_expires_at BIGINT NOT NULL,
  expires_at      BIGINT NOT NULL,
  auth_time       BIGINT NOT NULL,
  amr             TEXT NOT NULL DEFAULT '',
  ip              TEXT NOT NULL DEFAULT '',
  user_agent      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_id ON sessions(user_id);
CREATE INDEX sessions_expires_at ON sessions(expires_at);
CREATE INDEX sessions_idle_expires_at ON sessions(idle_expires_at);
)sql",
    // 4: the audit log (append-only: UPDATE is refused by a trigger; rows leave
    // only by retention) and the lockout counters, per (account, scope) where
    // scope is a client IP or '*' for the account-wide counter.
    R"sql(
CREATE TABLE audit_events (
  id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  time       BIGINT NOT NULL,
  action     TEXT COLLATE "C" NOT NULL,
  result     TEXT COLLATE "C" NOT NULL,
  actor      TEXT COLLATE "C" NOT NULL,
  subject    TEXT COLLATE "C" NOT NULL,
  ip         TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  request_id TEXT NOT NULL,
  tenant     TEXT COLLATE "C" NOT NULL
);
CREATE INDEX audit_events_time ON audit_events(time);
CREATE INDEX audit_events_actor ON audit_events(actor, id);
CREATE INDEX audit_events_subject ON audit_events(subject, id);
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TABLE login_attempts (
  account      TEXT COLLATE "C" NOT NULL,
  scope        TEXT COLLATE "C" NOT NULL,
  failures     BIGINT NOT NULL,
  window_start BIGINT NOT NULL,
  locked_until BIGINT NOT NULL,
  PRIMARY KEY (account, scope)
);
CREATE INDEX login_attempts_window_start ON login_attempts(window_start);
)sql",
    // 5: tenants, their members (roles are policy names, kept as text), the
    // platform admins and the service clients (store/tenant_store.h).
    // secret_hash is the hex SHA-256 of the client's secret, never the secret.
    // A membership's primary key starts with tenant_id, which serves
    // list_members and the cascade from tenants; user_id has its own index for
    // memberships_of and the cascade from users.
    R"sql(
CREATE TABLE tenants (
  id         TEXT COLLATE "C" PRIMARY KEY,
  name       TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE memberships (
  tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role       TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_user_id ON memberships(user_id);
CREATE TABLE platform_admins (
  user_id    TEXT COLLATE "C" PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  granted_at BIGINT NOT NULL
);
CREATE TABLE service_clients (
  id          TEXT COLLATE "C" PRIMARY KEY,
  tenant_id   TEXT COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL
);
CREATE INDEX service_clients_tenant_id ON service_clients(tenant_id);
)sql",
    // 6: one-time tokens (store/onetime_store.h): password reset, email
    // verification and change, MFA challenges. hash is the hex SHA-256 of the
    // token, never the token; purpose is the TokenPurpose value. The
    // (user_id, purpose) index serves revoke, count and the cascade from
    // users; the expires_at one serves purge.
    R"sql(
CREATE TABLE one_time_tokens (
  hash       TEXT COLLATE "C" PRIMARY KEY,
  purpose    SMALLINT NOT NULL CHECK (purpose IN (1, 2, 3, 4)),
  user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  data       TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX one_time_tokens_user_id_purpose ON one_time_tokens(user_id, purpose);
CREATE INDEX one_time_tokens_expires_at ON one_time_tokens(expires_at);
)sql",
    // 7: second factors (store/mfa_store.h): one TOTP row per user, pending
    // (confirmed = false) until a first code is proven; secret_sealed is the
    // service's AES-GCM box, never the secret; last_step is the time step of
    // the last accepted code (0 = none yet), confirmed_at 0 while pending.
    // Recovery codes are keyed hashes, never the codes; their primary key
    // starts with user_id, which serves count, replace and the cascade from
    // users. Refresh tokens carry how the user authenticated (RFC 8176 amr).
    R"sql(
CREATE TABLE mfa_totp (
  user_id       TEXT COLLATE "C" PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  secret_sealed TEXT NOT NULL,
  confirmed     BOOLEAN NOT NULL DEFAULT false,
  last_step     BIGINT NOT NULL DEFAULT 0,
  created_at    BIGINT NOT NULL,
  confirmed_at  BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE recovery_codes (
  user_id    TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash  TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (user_id, code_hash)
);
ALTER TABLE refresh_tokens ADD COLUMN amr TEXT NOT NULL DEFAULT '';
)sql",
    // 8: identities at external providers (store/identity_store.h), unique on
    // (issuer, subject); email '' when the provider gave none. oauth_states
    // holds started sign-ins and native one-time codes under the hex SHA-256
    // of their handle (kind is the OAuthStateKind value); no user foreign key:
    // a flow starts before anyone is known.
    R"sql(
CREATE TABLE identities (
  id             TEXT COLLATE "C" PRIMARY KEY,
  user_id        TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider       TEXT NOT NULL,
  issuer         TEXT COLLATE "C" NOT NULL,
  subject        TEXT COLLATE "C" NOT NULL,
  email          TEXT NOT NULL DEFAULT '',
  email_verified BOOLEAN NOT NULL DEFAULT false,
  name           TEXT NOT NULL DEFAULT '',
  created_at     BIGINT NOT NULL,
  last_login_at  BIGINT NOT NULL,
  UNIQUE (issuer, subject)
);
CREATE INDEX identities_user_id ON identities(user_id);
CREATE TABLE oauth_states (
  hash       TEXT COLLATE "C" PRIMARY KEY,
  kind       SMALLINT NOT NULL CHECK (kind IN (1, 2)),
  data       TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX oauth_states_expires_at ON oauth_states(expires_at);
)sql",
};
static_assert(std::size(kMigrations) == static_cast<std::size_t>(kSchemaVersion),
              "add the migration to every backend");

// Serialises migrators across processes and hosts; the lock is released
// with the transaction. The value is arbitrary but fixed: "ghmigr" as a big-endian integer.
constexpr const char* kLockMigrations = "SELECT pg_advisory_xact_lock(113698209884018)";
// A migration waits as long as it takes for the lock and for its DDL's table
// locks, instead of failing after busy_timeout_ms: a second server starting
// meanwhile must not give up while the first one migrates.
constexpr const char* kNoLockTimeout = "SET LOCAL lock_timeout = 0";
constexpr const char* kCreateSchemaVersion =
    "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)";
constexpr const char* kHasSchemaVersion = "SELECT to_regclass('schema_version') IS NOT NULL";
constexpr const char* kReadVersion = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
constexpr const char* kRecordVersion = "INSERT INTO schema_version(version) VALUES ($1)";

// The column order read_user() expects.
#define GH_SELECT_USER                                                                  \
  "SELECT id, email, email_normalized, name, password_hash, email_verified, disabled, " \
  "created_at, updated_at FROM users "

constexpr const char* kInsertUser =
    "INSERT INTO users (id, email, email_normalized, name, password_hash, email_verified, "
    "disabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
constexpr const char* kUserById = GH_SELECT_USER "WHERE id = $1";
constexpr const char* kUserByEmail = GH_SELECT_USER "WHERE email_normalized = $1";
// `id > ''` when there is no cursor keeps one statement that still seeks the
// primary key. $2 is a LIKE pattern escaped by like_contains() with '!'
// (not backslash, whose meaning depends on standard_conforming_strings).
constexpr const char* kListUsers =
    GH_SELECT_USER "WHERE id > $1 AND email_normalized LIKE $2 ESCAPE '!' ORDER BY id LIMIT $3";
constexpr const char* kUpdatePasswordHash =
    "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND password_hash = $4";
constexpr const char* kSetDisabled =
    "UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3";
constexpr const char* kSetEmailVerified =
    "UPDATE users SET email_verified = $1, updated_at = $2 WHERE id = $3";
constexpr const char* kUpdateEmail =
    "UPDATE users SET email = $1, email_normalized = $2, email_verified = true, updated_at = $3 "
    "WHERE id = $4 AND email_normalized = $5";
constexpr const char* kDeleteUser = "DELETE FROM users WHERE id = $1";
constexpr const char* kCountUsers = "SELECT count(*) FROM users";
constexpr const char* kPing = "SELECT 1";

#undef GH_SELECT_USER

// ---- Helpers ----------------------------------------------------------------

// A LIKE pattern matching values that contain `needle` literally.
std::string like_contains(std::string_view needle) {
  std::string pattern = "%";
  for (const char ch : needle) {
    if (ch == '%' || ch == '_' || ch == '!') pattern += '!';
    pattern += ch;
  }
  pattern += '%';
  return pattern;
}

User read_user(const Rows& rows, int row) {
  User u;
  u.id = rows.text(row, 0);
  u.email = rows.text(row, 1);
  u.email_normalized = rows.text(row, 2);
  u.name = rows.text(row, 3);
  u.password_hash = rows.text(row, 4);
  u.email_verified = rows.boolean(row, 5);
  u.disabled = rows.boolean(row, 6);
  u.created_at = to_seconds(rows.int64(row, 7));
  u.updated_at = to_seconds(rows.int64(row, 8));
  return u;
}

Result<User> find_one(PGconn* conn, const char* sql, std::string_view key) {
  auto rows = exec(conn, sql, key);
  if (!rows) return fail(rows.error());
  if (rows->size() == 0) return fail(StoreError::NotFound);
  return read_user(*rows, 0);
}

// Applies migration `target` unless the schema is already there. REQUIRES:
// inside a transaction on `conn`.
Result<int> apply_migration(PGconn* conn, int target) {
  if (auto unbounded = exec_script(conn, kNoLockTimeout); !unbounded)
    return fail(unbounded.error());
  if (auto locked = exec(conn, kLockMigrations); !locked) return fail(locked.error());
  // Under the lock: concurrent CREATE TABLE IF NOT EXISTS can otherwise fail
  // with a unique violation in the catalog.
  if (auto created = exec_script(conn, kCreateSchemaVersion); !created)
    return fail(created.error());
  auto current = exec(conn, kReadVersion);
  if (!current) return fail(current.error());
  const auto version = static_cast<int>(current->int64(0, 0));
  if (version >= target) return version;
  if (auto applied = exec_script(conn, kMigrations[target - 1]); !applied)
    return fail(applied.error());
  if (auto recorded = exec(conn, kRecordVersion, std::int64_t{target}); !recorded) {
    return fail(recorded.error());
  }
  spdlog::info("postgres: applied schema migration {}", target);
  return target;
}

// ---- The stores -------------------------------------------------------------

class PostgresUserStore final : public UserStore {
 public:
  explicit PostgresUserStore(Pool& pool) : pool_(pool) {}

  Status create_user(const User& u) override {
    return pool_.run(kWrite, [&](PGconn* conn) -> Status {
      auto inserted =
          exec(conn, kInsertUser, u.id, u.email, u.email_normalized, u.name, u.password_hash,
               u.email_verified, u.disabled, u.created_at, u.updated_at);
      if (!inserted) return fail(inserted.error());
      return {};
    });
  }

  Result<User> find_user_by_email(std::string_view email_normalized) override {
    return pool_.run(kIdempotent,
                     [&](PGconn* conn) { return find_one(conn, kUserByEmail, email_normalized); });
  }

  Result<User> find_user_by_id(std::string_view id) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) { return find_one(conn, kUserById, id); });
  }

  Result<UserPage> list_users(std::optional<std::string_view> after, std::size_t limit,
                              std::optional<std::string_view> email_contains) override {
    limit = std::clamp<std::size_t>(limit, 1, 1000);
    const std::string pattern = like_contains(email_contains.value_or(""));
    return pool_.run(kIdempotent, [&](PGconn* conn) -> Result<UserPage> {
      // One row past the page tells whether a next page exists.
      auto rows =
          exec(conn, kListUsers, after.value_or(""), pattern, static_cast<std::int64_t>(limit + 1));
      if (!rows) return fail(rows.error());
      UserPage page;
      const int n = std::min(rows->size(), static_cast<int>(limit));
      for (int i = 0; i < n; ++i) page.users.push_back(read_user(*rows, i));
      if (static_cast<std::size_t>(rows->size()) > limit) page.next_cursor = page.users.back().id;
      return page;
    });
  }

  Status update_password_hash(std::string_view id, std::string_view expected_old,
                              std::string_view new_hash, Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return expect_one_row(exec(conn, kUpdatePasswordHash, new_hash, now, id, expected_old));
    });
  }

  Status set_disabled(std::string_view id, bool disabled, Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return expect_one_row(exec(conn, kSetDisabled, disabled, now, id));
    });
  }

  Status set_email_verified(std::string_view id, bool verified, Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return expect_one_row(exec(conn, kSetEmailVerified, verified, now, id));
    });
  }

  Status update_email(std::string_view id, std::string_view expected_old, std::string_view email,
                      std::string_view email_normalized, Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return expect_one_row(exec(conn, kUpdateEmail, email, email_normalized, now, id, expected_old));
    });
  }

  Status delete_user(std::string_view id) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&] { return expect_one_row(exec(conn, kDeleteUser, id)); });
    });
  }

  Result<std::int64_t> count_users() override {
    return pool_.run(kIdempotent, [&](PGconn* conn) -> Result<std::int64_t> {
      auto rows = exec(conn, kCountUsers);
      if (!rows) return fail(rows.error());
      return rows->int64(0, 0);
    });
  }

 private:
  Pool& pool_;
};

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(std::unique_ptr<Pool> pool)
      : pool_(std::move(pool)),
        users_(*pool_),
        tokens_(make_token_store(*pool_)),
        keys_(make_key_store(*pool_)),
        sessions_(make_session_store(*pool_)),
        audit_(make_audit_store(*pool_)),
        lockout_(make_lockout_store(*pool_)),
        tenants_(make_tenant_store(*pool_)),
        one_time_tokens_(make_onetime_store(*pool_)),
        mfa_(make_mfa_store(*pool_)),
        identities_(make_identity_store(*pool_)) {}

  // Each migration runs in its own transaction holding the advisory lock and
  // re-reads the version under it, so concurrent migrators apply each step
  // exactly once. Safe to retry: a rolled-back step is simply redone.
  Result<int> migrate() override {
    return pool_->run(kIdempotent, [&](PGconn* conn) -> Result<int> {
      int version = 0;
      for (int target = 1; target <= kSchemaVersion; ++target) {
        auto reached = transaction(conn, [&] { return apply_migration(conn, target); });
        if (!reached) return reached;
        version = *reached;
      }
      if (version > kSchemaVersion) {
        spdlog::warn("postgres: schema version {} is newer than this build's {}", version,
                     kSchemaVersion);
      }
      return version;
    });
  }

  Result<int> schema_version() override {
    return pool_->run(kIdempotent, [&](PGconn* conn) -> Result<int> {
      auto exists = exec(conn, kHasSchemaVersion);
      if (!exists) return fail(exists.error());
      if (!exists->boolean(0, 0)) return 0;
      auto version = exec(conn, kReadVersion);
      if (!version) return fail(version.error());
      return static_cast<int>(version->int64(0, 0));
    });
  }

  Status ping() override {
    return pool_->run(kIdempotent, [&](PGconn* conn) -> Status {
      if (auto one = exec(conn, kPing); !one) return fail(one.error());
      return {};
    });
  }

  std::string_view backend() const override { return "postgres"; }
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
  std::unique_ptr<Pool> pool_;
  PostgresUserStore users_;
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

Result<std::unique_ptr<Store>> open_postgres_store(std::string_view url,
                                                   const StoreOptions& options) {
  auto pool = Pool::open(url, options.pool_size, options.busy_timeout_ms);
  if (!pool) return fail(pool.error());
  return std::make_unique<PostgresStore>(std::move(*pool));
}

}  // namespace gh::store::postgres
