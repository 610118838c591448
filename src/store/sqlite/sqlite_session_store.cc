#include "store/sqlite/sqlite_session_store.h"

namespace gh::store::sqlite {
namespace {

// ---- All SQL of the session store ---------------------------------------------

// The column order read_session() expects, and kInsertSession binds.
#define GH_SESSION_COLUMNS                                                                 \
  "id_hash, user_id, created_at, last_seen, idle_expires_at, expires_at, auth_time, amr, " \
  "ip, user_agent"

constexpr std::string_view kInsertSession = "INSERT INTO sessions (" GH_SESSION_COLUMNS
                                            ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
// Both deadlines are tested in the query, so a session past either is gone
// before purge deletes its row; the lookup itself is a primary-key probe.
constexpr std::string_view kFindSession =
    "SELECT " GH_SESSION_COLUMNS
    " FROM sessions WHERE id_hash = ?1 AND idle_expires_at > ?2 AND expires_at > ?2";
// One statement: the liveness test and the update cannot interleave with a
// delete, and the idle deadline never passes the absolute one.
constexpr std::string_view kTouchSession =
    "UPDATE sessions SET last_seen = ?1, idle_expires_at = min(?2, expires_at) "
    "WHERE id_hash = ?3 AND idle_expires_at > ?1 AND expires_at > ?1";
constexpr std::string_view kDeleteSession = "DELETE FROM sessions WHERE id_hash = ?1";
constexpr std::string_view kListUserSessions =
    "SELECT " GH_SESSION_COLUMNS
    " FROM sessions WHERE user_id = ?1 AND idle_expires_at > ?2 AND expires_at > ?2 "
    "ORDER BY created_at DESC, id_hash";
// An empty keep matches no row (id_hash is never empty), so nothing is kept.
constexpr std::string_view kDeleteUserSessions =
    "DELETE FROM sessions WHERE user_id = ?1 AND id_hash <> ?2";
constexpr std::string_view kPurgeSessions =
    "DELETE FROM sessions WHERE expires_at <= ?1 OR idle_expires_at <= ?1";
constexpr std::string_view kPing = "SELECT 1";

#undef GH_SESSION_COLUMNS

Session read_session(const Statement& st) {
  Session s;
  s.id_hash = st.column_text(0);
  s.user_id = st.column_text(1);
  s.created_at = to_seconds(st.column_int(2));
  s.last_seen = to_seconds(st.column_int(3));
  s.idle_expires_at = to_seconds(st.column_int(4));
  s.expires_at = to_seconds(st.column_int(5));
  s.auth_time = to_seconds(st.column_int(6));
  s.amr = st.column_text(7);
  s.ip = st.column_text(8);
  s.user_agent = st.column_text(9);
  return s;
}

// ---- The store ----------------------------------------------------------------

class SqliteSessionStore final : public SessionStore {
 public:
  explicit SqliteSessionStore(Database& db) : db_(db) {}

  // A duplicate id_hash is Conflict (primary key); an unknown user_id is
  // NotFound (foreign key).
  Status create_session(const Session& s) override {
    return db_.write([&](Connection& c) -> Status {
      auto inserted = run(c, kInsertSession, s.id_hash, s.user_id, s.created_at, s.last_seen,
                          s.idle_expires_at, s.expires_at, s.auth_time, s.amr, s.ip, s.user_agent);
      if (!inserted) return fail(inserted.error());
      return {};
    });
  }

  Result<Session> find_session(std::string_view id_hash, Seconds now) override {
    return db_.read(
        [&](Connection& c) { return query_one(c, kFindSession, read_session, id_hash, now); });
  }

  Status touch_session(std::string_view id_hash, Seconds now, Seconds idle_expires_at) override {
    return db_.write([&](Connection& c) {
      return expect_one_row(run(c, kTouchSession, now, idle_expires_at, id_hash));
    });
  }

  Status delete_session(std::string_view id_hash) override {
    return db_.write([&](Connection& c) -> Status {
      if (auto deleted = run(c, kDeleteSession, id_hash); !deleted) return fail(deleted.error());
      return {};
    });
  }

  Result<std::vector<Session>> list_user_sessions(std::string_view user_id, Seconds now) override {
    return db_.read(
        [&](Connection& c) { return query_all(c, kListUserSessions, read_session, user_id, now); });
  }

  Result<std::int64_t> delete_user_sessions(std::string_view user_id,
                                            std::string_view keep_id_hash) override {
    return db_.write(
        [&](Connection& c) { return run(c, kDeleteUserSessions, user_id, keep_id_hash); });
  }

  Result<std::int64_t> purge_sessions(Seconds now) override {
    return db_.write([&](Connection& c) { return run(c, kPurgeSessions, now); });
  }

  Status ping_sessions() override {
    return db_.read([&](Connection& c) -> Status {
      if (auto one = query_int(c, kPing); !one) return fail(one.error());
      return {};
    });
  }

 private:
  Database& db_;
};

}  // namespace

std::unique_ptr<SessionStore> make_session_store(Database& db) {
  return std::make_unique<SqliteSessionStore>(db);
}

}  // namespace gh::store::sqlite
