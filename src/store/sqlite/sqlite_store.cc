#include "store/sqlite/sqlite_store.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <system_error>

#include <spdlog/spdlog.h>

#include "store/schema.h"
#include "store/sqlite/sqlite_audit_store.h"
#include "store/sqlite/sqlite_db.h"
#include "store/sqlite/sqlite_identity_store.h"
#include "store/sqlite/sqlite_mfa_store.h"
#include "store/sqlite/sqlite_onetime_store.h"
#include "store/sqlite/sqlite_session_store.h"
#include "store/sqlite/sqlite_tenant_store.h"
#include "store/sqlite/sqlite_token_store.h"

namespace gh::store::sqlite {
namespace {

// ---- All SQL of this backend ----------------------------------------------

// Schema migrations in order: entry i brings the schema to version i + 1.
// Append; never edit an entry that has shipped. Tables that belong to a user
// reference users(id) ON DELETE CASCADE so that delete_user removes them.
// STRICT makes SQLite reject a value of the wrong type instead of storing it.
constexpr const char* kMigrations[] = {
    // 1: users. Times are unix seconds; booleans are 0/1.
    R"sql(
CREATE TABLE users (
  id               TEXT NOT NULL PRIMARY KEY,
  email            TEXT NOT NULL,
  email_normalized TEXT NOT NULL UNIQUE,
  name             TEXT NOT NULL DEFAULT '',
  password_hash    TEXT NOT NULL DEFAULT '',
  email_verified   INTEGER NOT NULL DEFAULT 0,
  disabled         INTEGER NOT NULL DEFAULT 0,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
) STRICT;
)sql",
    // 2: refresh-token families and tokens, the access-token denylist, signing
    // keys. Statuses are the enum values of token_store.h. Every foreign key
    // is indexed: ON DELETE CASCADE looks the children up by it.
    R"sql(
CREATE TABLE refresh_families (
  id             TEXT NOT NULL PRIMARY KEY,
  user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at     INTEGER NOT NULL,
  revoked_at     INTEGER,
  revoked_reason TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX refresh_families_user_id ON refresh_families(user_id);
CREATE TABLE refresh_tokens (
  hash        TEXT NOT NULL PRIMARY KEY,
  family_id   TEXT NOT NULL REFERENCES refresh_families(id) ON DELETE CASCADE,
  user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  parent_hash TEXT NOT NULL DEFAULT '',
  child_hash  TEXT NOT NULL DEFAULT '',
  status      INTEGER NOT NULL CHECK (status IN (1, 2, 3)),
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  rotated_at  INTEGER,
  auth_time   INTEGER NOT NULL,
  client_id   TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX refresh_tokens_family_id ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user_id ON refresh_tokens(user_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens(expires_at);
CREATE TABLE denied_jtis (
  jti        TEXT NOT NULL PRIMARY KEY,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX denied_jtis_expires_at ON denied_jtis(expires_at);
CREATE TABLE denied_subjects (
  user_id    TEXT NOT NULL PRIMARY KEY,
  not_before INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX denied_subjects_expires_at ON denied_subjects(expires_at);
CREATE TABLE signing_keys (
  kid            TEXT NOT NULL PRIMARY KEY,
  alg            TEXT NOT NULL,
  private_sealed TEXT NOT NULL,
  public_jwk     TEXT NOT NULL DEFAULT '',
  status         INTEGER NOT NULL CHECK (status IN (1, 2, 3)),
  created_at     INTEGER NOT NULL,
  not_after      INTEGER
) STRICT;
-- At most one Active key, whatever the callers do.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys(status) WHERE status = 1;
)sql",
    // 3: browser sessions (store/session_store.h). id_hash is the hex SHA-256
    // of the cookie's id, never the id. One index per deadline: purge's
    // `expires_at <= ?1 OR idle_expires_at <= ?1` becomes two index range scans.
    R"sql(
CREATE TABLE sessions (
  id_hash         TEXT NOT NULL PRIMARY KEY,
  user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at      INTEGER NOT NULL,
  last_seen       INTEGER NOT NULL,
  idle_expires_at INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL,
  auth_time       INTEGER NOT NULL,
  amr             TEXT NOT NULL DEFAULT '',
  ip              TEXT NOT NULL DEFAULT '',
  user_agent      TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sessions_user_id ON sessions(user_id);
CREATE INDEX sessions_expires_at ON sessions(expires_at);
CREATE INDEX sessions_idle_expires_at ON sessions(idle_expires_at);
)sql",
    // 4: the audit log (append-only: UPDATE is refused by a trigger; rows leave
    // only by retention) and the lockout counters, per (account, scope) where
    // scope is a client IP or '*' for the account-wide counter.
    R"sql(
CREATE TABLE audit_events (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  time       INTEGER NOT NULL,
  action     TEXT NOT NULL,
  result     TEXT NOT NULL,
  actor      TEXT NOT NULL,
  subject    TEXT NOT NULL,
  ip         TEXT NOT NULL,
  user_agent TEXT NOT NULL,
  request_id TEXT NOT NULL,
  tenant     TEXT NOT NULL
) STRICT;
CREATE INDEX audit_events_time ON audit_events(time);
CREATE INDEX audit_events_actor ON audit_events(actor, id);
CREATE INDEX audit_events_subject ON audit_events(subject, id);
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TABLE login_attempts (
  account      TEXT NOT NULL,
  scope        TEXT NOT NULL,
  failures     INTEGER NOT NULL,
  window_start INTEGER NOT NULL,
  locked_until INTEGER NOT NULL,
  PRIMARY KEY (account, scope)
) STRICT, WITHOUT ROWID;
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
  id         TEXT NOT NULL PRIMARY KEY,
  name       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE memberships (
  tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX memberships_user_id ON memberships(user_id);
CREATE TABLE platform_admins (
  user_id    TEXT NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  granted_at INTEGER NOT NULL
) STRICT;
CREATE TABLE service_clients (
  id          TEXT NOT NULL PRIMARY KEY,
  tenant_id   TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
  name        TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX service_clients_tenant_id ON service_clients(tenant_id);
)sql",
    // 6: one-time tokens (store/onetime_store.h): password reset, email
    // verification and change, MFA challenges. hash is the hex SHA-256 of the
    // token, never the token; purpose is the TokenPurpose value. The
    // (user_id, purpose) index serves revoke, count and the cascade from
    // users; the expires_at one serves purge.
    R"sql(
CREATE TABLE one_time_tokens (
  hash       TEXT NOT NULL PRIMARY KEY,
  purpose    INTEGER NOT NULL CHECK (purpose IN (1, 2, 3, 4)),
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  data       TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX one_time_tokens_user_id_purpose ON one_time_tokens(user_id, purpose);
CREATE INDEX one_time_tokens_expires_at ON one_time_tokens(expires_at);
)sql",
    // 7: second factors (store/mfa_store.h): one TOTP row per user, pending
    // (confirmed = 0) until a first code is proven; secret_sealed is the
    // service's AES-GCM box, never the secret; last_step is the time step of
    // the last accepted code (0 = none yet), confirmed_at 0 while pending.
    // Recovery codes are keyed hashes, never the codes; their primary key
    // starts with user_id, which serves count, replace and the cascade from
    // users. Refresh tokens carry how the user authenticated (RFC 8176 amr).
    R"sql(
CREATE TABLE mfa_totp (
  user_id       TEXT NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  secret_sealed TEXT NOT NULL,
  confirmed     INTEGER NOT NULL DEFAULT 0 CHECK (confirmed IN (0, 1)),
  last_step     INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  confirmed_at  INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE recovery_codes (
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash  TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, code_hash)
) STRICT, WITHOUT ROWID;
ALTER TABLE refresh_tokens ADD COLUMN amr TEXT NOT NULL DEFAULT '';
)sql",
    // 8: identities at external providers (store/identity_store.h), unique on
    // (issuer, subject); email '' when the provider gave none. oauth_states
    // holds started sign-ins and native one-time codes under the hex SHA-256
    // of their handle (kind is the OAuthStateKind value); no user foreign key:
    // a flow starts before anyone is known.
    R"sql(
CREATE TABLE identities (
  id             TEXT NOT NULL PRIMARY KEY,
  user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  provider       TEXT NOT NULL,
  issuer         TEXT NOT NULL,
  subject        TEXT NOT NULL,
  email          TEXT NOT NULL DEFAULT '',
  email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
  name           TEXT NOT NULL DEFAULT '',
  created_at     INTEGER NOT NULL,
  last_login_at  INTEGER NOT NULL,
  UNIQUE (issuer, subject)
) STRICT;
CREATE INDEX identities_user_id ON identities(user_id);
CREATE TABLE oauth_states (
  hash       TEXT NOT NULL PRIMARY KEY,
  kind       INTEGER NOT NULL CHECK (kind IN (1, 2)),
  data       TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX oauth_states_expires_at ON oauth_states(expires_at);
)sql",
};
static_assert(std::size(kMigrations) == static_cast<std::size_t>(kSchemaVersion),
              "add the migration to every backend");

constexpr const char* kCreateSchemaVersion =
    "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)";
constexpr std::string_view kHasSchemaVersion =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'";
constexpr std::string_view kReadVersion = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
constexpr std::string_view kRecordVersion = "INSERT INTO schema_version(version) VALUES (?1)";

// The column order read_user() expects.
#define GH_SELECT_USER                                                                  \
  "SELECT id, email, email_normalized, name, password_hash, email_verified, disabled, " \
  "created_at, updated_at FROM users "

constexpr std::string_view kInsertUser =
    "INSERT INTO users (id, email, email_normalized, name, password_hash, email_verified, "
    "disabled, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
constexpr std::string_view kUserById = GH_SELECT_USER "WHERE id = ?1";
constexpr std::string_view kUserByEmail = GH_SELECT_USER "WHERE email_normalized = ?1";
// `id > ''` when there is no cursor keeps one statement that still seeks the
// primary key index. instr() is a literal, case-sensitive substring test, like
// the other backends; LIKE would treat % and _ as wildcards and fold ASCII case.
constexpr std::string_view kListUsers =
    GH_SELECT_USER "WHERE id > ?1 AND instr(email_normalized, ?2) > 0 ORDER BY id LIMIT ?3";
constexpr std::string_view kUpdatePasswordHash =
    "UPDATE users SET password_hash = ?1, updated_at = ?2 WHERE id = ?3 AND password_hash = ?4";
constexpr std::string_view kSetDisabled =
    "UPDATE users SET disabled = ?1, updated_at = ?2 WHERE id = ?3";
constexpr std::string_view kSetEmailVerified =
    "UPDATE users SET email_verified = ?1, updated_at = ?2 WHERE id = ?3";
constexpr std::string_view kUpdateEmail =
    "UPDATE users SET email = ?1, email_normalized = ?2, email_verified = 1, updated_at = ?3 "
    "WHERE id = ?4 AND email_normalized = ?5";
constexpr std::string_view kDeleteUser = "DELETE FROM users WHERE id = ?1";
constexpr std::string_view kCountUsers = "SELECT count(*) FROM users";
constexpr std::string_view kPing = "SELECT 1";

#undef GH_SELECT_USER

// ---- Helpers ----------------------------------------------------------------

User read_user(const Statement& st) {
  User u;
  u.id = st.column_text(0);
  u.email = st.column_text(1);
  u.email_normalized = st.column_text(2);
  u.name = st.column_text(3);
  u.password_hash = st.column_text(4);
  u.email_verified = st.column_int(5) != 0;
  u.disabled = st.column_int(6) != 0;
  u.created_at = to_seconds(st.column_int(7));
  u.updated_at = to_seconds(st.column_int(8));
  return u;
}

Result<User> find_one(Connection& c, std::string_view sql, std::string_view key) {
  return query_one(c, sql, read_user, key);
}

// Applies migration `target` unless the schema is already there. REQUIRES:
// inside a write transaction on `c`.
Result<int> apply_migration(Connection& c, int target) {
  if (auto created = c.exec(kCreateSchemaVersion); !created) return fail(created.error());
  auto current = query_int(c, kReadVersion);
  if (!current) return fail(current.error());
  if (*current >= target) return static_cast<int>(*current);
  if (auto applied = c.exec(kMigrations[target - 1]); !applied) return fail(applied.error());
  if (auto recorded = run(c, kRecordVersion, std::int64_t{target}); !recorded) {
    return fail(recorded.error());
  }
  spdlog::info("sqlite: applied schema migration {}", target);
  return target;
}

Result<Target> parse_url(std::string_view url) {
  if (url == "sqlite::memory:") return Target{":memory:", true};
  constexpr std::string_view kPrefix = "sqlite://";
  if (!url.starts_with(kPrefix)) return fail(StoreError::BadUrl);
  const std::string_view path = url.substr(kPrefix.size());
  // A bare "sqlite://name.db" is refused: it reads like a host name.
  const bool rooted = path.starts_with('/') || path.starts_with("./") || path.starts_with("../");
  if (!rooted || path.ends_with('/') || path.find('\0') != std::string_view::npos) {
    return fail(StoreError::BadUrl);
  }
  return Target{std::string(path), false};
}

// ---- The stores -------------------------------------------------------------

class SqliteUserStore final : public UserStore {
 public:
  explicit SqliteUserStore(Database& db) : db_(db) {}

  Status create_user(const User& u) override {
    return db_.write([&](Connection& c) -> Status {
      auto inserted =
          run(c, kInsertUser, u.id, u.email, u.email_normalized, u.name, u.password_hash,
              u.email_verified, u.disabled, u.created_at, u.updated_at);
      if (!inserted) return fail(inserted.error());
      return {};
    });
  }

  Result<User> find_user_by_email(std::string_view email_normalized) override {
    return db_.read([&](Connection& c) { return find_one(c, kUserByEmail, email_normalized); });
  }

  Result<User> find_user_by_id(std::string_view id) override {
    return db_.read([&](Connection& c) { return find_one(c, kUserById, id); });
  }

  Result<UserPage> list_users(std::optional<std::string_view> after, std::size_t limit,
                              std::optional<std::string_view> email_contains) override {
    limit = std::clamp<std::size_t>(limit, 1, 1000);
    return db_.read([&](Connection& c) -> Result<UserPage> {
      auto st = c.prepare(kListUsers);
      if (!st) return fail(st.error());
      // One row past the page tells whether a next page exists.
      auto bound = st->bind(after.value_or(""), email_contains.value_or(""),
                            static_cast<std::int64_t>(limit + 1));
      if (!bound) return fail(bound.error());
      UserPage page;
      while (true) {
        auto row = st->step();
        if (!row) return fail(row.error());
        if (!*row) break;
        if (page.users.size() == limit) {
          page.next_cursor = page.users.back().id;
          break;
        }
        page.users.push_back(read_user(*st));
      }
      return page;
    });
  }

  Status update_password_hash(std::string_view id, std::string_view expected_old,
                              std::string_view new_hash, Seconds now) override {
    return db_.write([&](Connection& c) {
      return expect_one_row(run(c, kUpdatePasswordHash, new_hash, now, id, expected_old));
    });
  }

  Status set_disabled(std::string_view id, bool disabled, Seconds now) override {
    return db_.write(
        [&](Connection& c) { return expect_one_row(run(c, kSetDisabled, disabled, now, id)); });
  }

  Status set_email_verified(std::string_view id, bool verified, Seconds now) override {
    return db_.write(
        [&](Connection& c) { return expect_one_row(run(c, kSetEmailVerified, verified, now, id)); });
  }

  Status update_email(std::string_view id, std::string_view expected_old, std::string_view email,
                      std::string_view email_normalized, Seconds now) override {
    return db_.write([&](Connection& c) {
      return expect_one_row(run(c, kUpdateEmail, email, email_normalized, now, id, expected_old));
    });
  }

  Status delete_user(std::string_view id) override {
    return db_.write([&](Connection& c) {
      return transaction(c, [&] { return expect_one_row(run(c, kDeleteUser, id)); });
    });
  }

  Result<std::int64_t> count_users() override {
    return db_.read([&](Connection& c) { return query_int(c, kCountUsers); });
  }

 private:
  Database& db_;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::unique_ptr<Database> db)
      : db_(std::move(db)),
        users_(*db_),
        tokens_(make_token_store(*db_)),
        keys_(make_key_store(*db_)),
        sessions_(make_session_store(*db_)),
        audit_(make_audit_store(*db_)),
        lockout_(make_lockout_store(*db_)),
        tenants_(make_tenant_store(*db_)),
        one_time_tokens_(make_onetime_store(*db_)),
        mfa_(make_mfa_store(*db_)),
        identities_(make_identity_store(*db_)) {}

  Result<int> migrate() override {
    return db_->write([&](Connection& c) -> Result<int> {
      int version = 0;
      // One transaction per migration, each re-reading the version under the
      // write lock, so two processes migrating at once apply each step once.
      for (int target = 1; target <= kSchemaVersion; ++target) {
        auto reached = transaction(c, [&] { return apply_migration(c, target); });
        if (!reached) return reached;
        version = *reached;
      }
      if (version > kSchemaVersion) {
        spdlog::warn("sqlite: schema version {} is newer than this build's {}", version,
                     kSchemaVersion);
      }
      return version;
    });
  }

  Result<int> schema_version() override {
    return db_->read([&](Connection& c) -> Result<int> {
      auto exists = query_int(c, kHasSchemaVersion);
      if (!exists) return fail(exists.error());
      if (*exists == 0) return 0;
      auto version = query_int(c, kReadVersion);
      if (!version) return fail(version.error());
      return static_cast<int>(*version);
    });
  }

  Status ping() override {
    return db_->read([&](Connection& c) -> Status {
      if (auto one = query_int(c, kPing); !one) return fail(one.error());
      return {};
    });
  }

  std::string_view backend() const override { return "sqlite"; }
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
  std::unique_ptr<Database> db_;
  SqliteUserStore users_;
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

Result<std::unique_ptr<Store>> open_sqlite_store(std::string_view url,
                                                 const StoreOptions& options) {
  auto target = parse_url(url);
  if (!target) return fail(target.error());
  if (!target->in_memory) {
    const auto parent = std::filesystem::path(target->path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
      spdlog::warn("sqlite: cannot create directory {}: {}", parent.string(), ec.message());
      return fail(StoreError::Unavailable);
    }
  }
  auto db = Database::open(*target, options);
  if (!db) return fail(db.error());
  return std::make_unique<SqliteStore>(std::move(*db));
}

}  // namespace gh::store::sqlite
