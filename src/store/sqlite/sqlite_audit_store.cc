#include "store/sqlite/sqlite_audit_store.h"

namespace gh::store::sqlite {
namespace {

// ---- All SQL of the audit and lockout stores -----------------------------------

#define GH_AUDIT_COLUMNS "time, action, result, actor, subject, ip, user_agent, request_id, tenant"
constexpr std::string_view kInsertAudit =
    "INSERT INTO audit_events (" GH_AUDIT_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
// Every filter is a parameter ('' = any): one cached statement for all queries.
constexpr std::string_view kQueryAudit =
    "SELECT id, " GH_AUDIT_COLUMNS
    " FROM audit_events WHERE id > ?1 AND time >= ?2 AND time < ?3"
    " AND (?4 = '' OR actor = ?4 OR subject = ?4) AND (?5 = '' OR action = ?5)"
    " AND (?6 = '' OR result = ?6) AND (?7 = '' OR tenant = ?7) ORDER BY id LIMIT ?8";
constexpr std::string_view kPurgeAudit = "DELETE FROM audit_events WHERE time < ?1";
#undef GH_AUDIT_COLUMNS

constexpr std::string_view kReadAttempts =
    "SELECT scope, failures, window_start, locked_until FROM login_attempts WHERE account = ?1 AND scope IN (?2, '*')";
constexpr std::string_view kWriteAttempt =
    "INSERT INTO login_attempts (account, scope, failures, window_start, locked_until) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (account, scope) DO UPDATE SET failures = excluded.failures, "
    "window_start = excluded.window_start, locked_until = excluded.locked_until";
constexpr std::string_view kClearAttempts = "DELETE FROM login_attempts WHERE account = ?1 AND scope IN (?2, '*')";
constexpr std::string_view kUnlock = "DELETE FROM login_attempts WHERE account = ?1";
constexpr std::string_view kPurgeAttempts =
    "DELETE FROM login_attempts WHERE window_start < ?1 AND locked_until <= ?2";

AuditRecord read_audit(const Statement& st) {
  AuditRecord r;
  r.id = st.column_int(0);
  r.time = to_seconds(st.column_int(1));
  r.action = st.column_text(2);
  r.result = st.column_text(3);
  r.actor = st.column_text(4);
  r.subject = st.column_text(5);
  r.ip = st.column_text(6);
  r.user_agent = st.column_text(7);
  r.request_id = st.column_text(8);
  r.tenant = st.column_text(9);
  return r;
}

class SqliteAuditStore final : public AuditStore {
 public:
  explicit SqliteAuditStore(Database& db) : db_(db) {}

  Status append_audit(std::span<const AuditRecord> records) override {
    if (records.empty()) return {};
    return db_.write([&](Connection& c) {
      return transaction(c, [&]() -> Status {
        for (const auto& r : records) {
          auto ok = run(c, kInsertAudit, r.time, r.action, r.result, r.actor, r.subject, r.ip, r.user_agent,
                        r.request_id, r.tenant);
          if (!ok) return fail(ok.error());
        }
        return {};
      });
    });
  }

  Result<std::vector<AuditRecord>> query_audit(const AuditQuery& q) override {
    return db_.read([&](Connection& c) {
      return query_all(c, kQueryAudit, read_audit, q.after_id, q.since, q.until, q.user, q.action, q.result,
                       q.tenant, static_cast<std::int64_t>(q.limit));
    });
  }

  Result<std::int64_t> purge_audit(Seconds before) override {
    return db_.write([&](Connection& c) { return run(c, kPurgeAudit, before); });
  }

 private:
  Database& db_;
};

class SqliteLockoutStore final : public LockoutStore {
 public:
  explicit SqliteLockoutStore(Database& db) : db_(db) {}

  Result<account::AttemptStep> begin_login_attempt(std::string_view account, std::string_view scope, Seconds now,
                                                   const account::LockoutPolicy& policy, bool known_device) override {
    return db_.write([&](Connection& c) {
      // BEGIN IMMEDIATE: the read and the write are one step even across processes.
      return transaction(c, [&]() -> Result<account::AttemptStep> {
        account::AttemptCounter source;
        account::AttemptCounter whole;
        auto rows = query_all(
            c, kReadAttempts,
            [](const Statement& st) {
              return std::pair{st.column_text(0),
                               account::AttemptCounter{st.column_int(1), to_seconds(st.column_int(2)),
                                                       to_seconds(st.column_int(3))}};
            },
            account, scope);
        if (!rows) return fail(rows.error());
        for (auto& [s, counter] : *rows) (s == kAccountScope ? whole : source) = counter;
        auto step = account::begin_attempt(source, whole, now, policy, known_device);
        if (step.verdict != account::AttemptVerdict::Proceed) return step;
        for (const auto& [s, counter] : {std::pair{scope, step.source}, std::pair{kAccountScope, step.account}}) {
          auto ok = run(c, kWriteAttempt, account, s, counter.attempts, counter.window_start, counter.locked_until);
          if (!ok) return fail(ok.error());
        }
        return step;
      });
    });
  }

  Status clear_login_attempts(std::string_view account, std::string_view scope) override {
    return db_.write([&](Connection& c) -> Status {
      if (auto ok = run(c, kClearAttempts, account, scope); !ok) return fail(ok.error());
      return {};
    });
  }

  Result<std::int64_t> unlock_account(std::string_view account) override {
    return db_.write([&](Connection& c) { return run(c, kUnlock, account); });
  }

  Result<std::int64_t> purge_login_attempts(Seconds stale_before, Seconds now) override {
    return db_.write([&](Connection& c) { return run(c, kPurgeAttempts, stale_before, now); });
  }

 private:
  Database& db_;
};

}  // namespace

std::unique_ptr<AuditStore> make_audit_store(Database& db) { return std::make_unique<SqliteAuditStore>(db); }
std::unique_ptr<LockoutStore> make_lockout_store(Database& db) { return std::make_unique<SqliteLockoutStore>(db); }

}  // namespace gh::store::sqlite
