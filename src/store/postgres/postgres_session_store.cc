#include "store/postgres/postgres_session_store.h"

namespace gh::store::postgres {
namespace {

// ---- All SQL of the session store ---------------------------------------------

// The column order read_session() expects, and kInsertSession binds.
#define GH_SESSION_COLUMNS                                                                 \
  "id_hash, user_id, created_at, last_seen, idle_expires_at, expires_at, auth_time, amr, " \
  "ip, user_agent"

constexpr const char* kInsertSession = "INSERT INTO sessions (" GH_SESSION_COLUMNS
                                       ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
// Both deadlines are tested in the query, so a session past either is gone
// before purge deletes its row; the lookup itself is a primary-key probe.
constexpr const char* kFindSession =
    "SELECT " GH_SESSION_COLUMNS
    " FROM sessions WHERE id_hash = $1 AND idle_expires_at > $2 AND expires_at > $2";
// One statement: READ COMMITTED re-checks the WHERE on the latest row version
// if a concurrent touch or delete got there first, and the idle deadline never
// passes the absolute one.
constexpr const char* kTouchSession =
    "UPDATE sessions SET last_seen = $1, idle_expires_at = LEAST($2, expires_at) "
    "WHERE id_hash = $3 AND idle_expires_at > $1 AND expires_at > $1";
constexpr const char* kDeleteSession = "DELETE FROM sessions WHERE id_hash = $1";
constexpr const char* kListUserSessions =
    "SELECT " GH_SESSION_COLUMNS
    " FROM sessions WHERE user_id = $1 AND idle_expires_at > $2 AND expires_at > $2 "
    "ORDER BY created_at DESC, id_hash";
// An empty keep matches no row (id_hash is never empty), so nothing is kept.
constexpr const char* kDeleteUserSessions =
    "DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2";
constexpr const char* kPurgeSessions =
    "DELETE FROM sessions WHERE expires_at <= $1 OR idle_expires_at <= $1";
constexpr const char* kPing = "SELECT 1";

#undef GH_SESSION_COLUMNS

Session read_session(const Rows& rows, int row) {
  Session s;
  s.id_hash = rows.text(row, 0);
  s.user_id = rows.text(row, 1);
  s.created_at = to_seconds(rows.int64(row, 2));
  s.last_seen = to_seconds(rows.int64(row, 3));
  s.idle_expires_at = to_seconds(rows.int64(row, 4));
  s.expires_at = to_seconds(rows.int64(row, 5));
  s.auth_time = to_seconds(rows.int64(row, 6));
  s.amr = rows.text(row, 7);
  s.ip = rows.text(row, 8);
  s.user_agent = rows.text(row, 9);
  return s;
}

Status done(Result<Rows> r) {
  if (!r) return fail(r.error());
  return {};
}

// ---- The store ----------------------------------------------------------------

class PostgresSessionStore final : public SessionStore {
 public:
  explicit PostgresSessionStore(Pool& pool) : pool_(pool) {}

  // A duplicate id_hash is Conflict (primary key); an unknown user_id is
  // NotFound (foreign key). Not retried: a retry after a commit would report Conflict.
  Status create_session(const Session& s) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return done(exec(conn, kInsertSession, s.id_hash, s.user_id, s.created_at, s.last_seen,
                       s.idle_expires_at, s.expires_at, s.auth_time, s.amr, s.ip, s.user_agent));
    });
  }

  Result<Session> find_session(std::string_view id_hash, Seconds now) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) -> Result<Session> {
      auto rows = exec(conn, kFindSession, id_hash, now);
      if (!rows) return fail(rows.error());
      if (rows->size() == 0) return fail(StoreError::NotFound);
      return read_session(*rows, 0);
    });
  }

  // Retrying is safe: the same values again, and a session the first attempt
  // kept alive is still alive at the same `now`.
  Status touch_session(std::string_view id_hash, Seconds now, Seconds idle_expires_at) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) {
      return expect_one_row(exec(conn, kTouchSession, now, idle_expires_at, id_hash));
    });
  }

  Status delete_session(std::string_view id_hash) override {
    return pool_.run(kIdempotent,
                     [&](PGconn* conn) { return done(exec(conn, kDeleteSession, id_hash)); });
  }

  Result<std::vector<Session>> list_user_sessions(std::string_view user_id, Seconds now) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) -> Result<std::vector<Session>> {
      auto rows = exec(conn, kListUserSessions, user_id, now);
      if (!rows) return fail(rows.error());
      std::vector<Session> out;
      out.reserve(static_cast<std::size_t>(rows->size()));
      for (int i = 0; i < rows->size(); ++i) out.push_back(read_session(*rows, i));
      return out;
    });
  }

  // Not retried (kWrite) here and in purge: a retry after a commit would count 0.
  Result<std::int64_t> delete_user_sessions(std::string_view user_id,
                                            std::string_view keep_id_hash) override {
    return pool_.run(kWrite, [&](PGconn* conn) -> Result<std::int64_t> {
      auto rows = exec(conn, kDeleteUserSessions, user_id, keep_id_hash);
      if (!rows) return fail(rows.error());
      return rows->affected();
    });
  }

  Result<std::int64_t> purge_sessions(Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) -> Result<std::int64_t> {
      auto rows = exec(conn, kPurgeSessions, now);
      if (!rows) return fail(rows.error());
      return rows->affected();
    });
  }

  Status ping_sessions() override {
    return pool_.run(kIdempotent, [&](PGconn* conn) { return done(exec(conn, kPing)); });
  }

 private:
  Pool& pool_;
};

}  // namespace

std::unique_ptr<SessionStore> make_session_store(Pool& pool) {
  return std::make_unique<PostgresSessionStore>(pool);
}

}  // namespace gh::store::postgres
