#include "store/postgres/postgres_audit_store.h"

namespace gh::store::postgres {
namespace {

// ---- All SQL of the audit and lockout stores -----------------------------------

#define GH_AUDIT_COLUMNS "time, action, result, actor, subject, ip, user_agent, request_id, tenant"
constexpr const char* kInsertAudit =
    "INSERT INTO audit_events (" GH_AUDIT_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
// Every filter is a parameter ('' = any).
constexpr const char* kQueryAudit =
    "SELECT id, " GH_AUDIT_COLUMNS
    " FROM audit_events WHERE id > $1 AND time >= $2 AND time < $3"
    " AND ($4 = '' OR actor = $4 OR subject = $4) AND ($5 = '' OR action = $5)"
    " AND ($6 = '' OR result = $6) AND ($7 = '' OR tenant = $7) ORDER BY id LIMIT $8";
constexpr const char* kPurgeAudit = "DELETE FROM audit_events WHERE time < $1";
#undef GH_AUDIT_COLUMNS

// One account's attempts are serialised by a transaction-scoped advisory lock
// on the account: read, decide and write are one step across every instance.
constexpr const char* kLockAccount = "SELECT pg_advisory_xact_lock(hashtextextended($1, 7))";
constexpr const char* kReadAttempts =
    "SELECT scope, failures, window_start, locked_until FROM login_attempts WHERE account = $1 AND scope IN ($2, '*')";
constexpr const char* kWriteAttempt =
    "INSERT INTO login_attempts (account, scope, failures, window_start, locked_until) VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (account, scope) DO UPDATE SET failures = excluded.failures, "
    "window_start = excluded.window_start, locked_until = excluded.locked_until";
constexpr const char* kClearAttempts = "DELETE FROM login_attempts WHERE account = $1 AND scope IN ($2, '*')";
constexpr const char* kUnlock = "DELETE FROM login_attempts WHERE account = $1";
constexpr const char* kPurgeAttempts = "DELETE FROM login_attempts WHERE window_start < $1 AND locked_until <= $2";

Status done(Result<Rows> r) {
  if (!r) return fail(r.error());
  return {};
}

Result<std::int64_t> affected(Result<Rows> r) {
  if (!r) return fail(r.error());
  return r->affected();
}

class PostgresAuditStore final : public AuditStore {
 public:
  explicit PostgresAuditStore(Pool& pool) : pool_(pool) {}

  Status append_audit(std::span<const AuditRecord> records) override {
    if (records.empty()) return {};
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Status {
        for (const auto& r : records) {
          if (auto ok = done(exec(conn, kInsertAudit, r.time, r.action, r.result, r.actor, r.subject, r.ip,
                                  r.user_agent, r.request_id, r.tenant));
              !ok)
            return ok;
        }
        return {};
      });
    });
  }

  Result<std::vector<AuditRecord>> query_audit(const AuditQuery& q) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) -> Result<std::vector<AuditRecord>> {
      auto rows = exec(conn, kQueryAudit, q.after_id, q.since, q.until, q.user, q.action, q.result, q.tenant,
                       static_cast<std::int64_t>(q.limit));
      if (!rows) return fail(rows.error());
      std::vector<AuditRecord> out;
      out.reserve(static_cast<std::size_t>(rows->size()));
      for (int i = 0; i < rows->size(); ++i) {
        AuditRecord r;
        r.id = rows->int64(i, 0);
        r.time = to_seconds(rows->int64(i, 1));
        r.action = rows->text(i, 2);
        r.result = rows->text(i, 3);
        r.actor = rows->text(i, 4);
        r.subject = rows->text(i, 5);
        r.ip = rows->text(i, 6);
        r.user_agent = rows->text(i, 7);
        r.request_id = rows->text(i, 8);
        r.tenant = rows->text(i, 9);
        out.push_back(std::move(r));
      }
      return out;
    });
  }

  Result<std::int64_t> purge_audit(Seconds before) override {
    return pool_.run(kWrite, [&](PGconn* conn) { return affected(exec(conn, kPurgeAudit, before)); });
  }

 private:
  Pool& pool_;
};

class PostgresLockoutStore final : public LockoutStore {
 public:
  explicit PostgresLockoutStore(Pool& pool) : pool_(pool) {}

  Result<account::AttemptStep> begin_login_attempt(std::string_view account, std::string_view scope, Seconds now,
                                                   const account::LockoutPolicy& policy, bool known_device) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Result<account::AttemptStep> {
        if (auto locked = done(exec(conn, kLockAccount, account)); !locked) return fail(locked.error());
        auto rows = exec(conn, kReadAttempts, account, scope);
        if (!rows) return fail(rows.error());
        account::AttemptCounter source;
        account::AttemptCounter whole;
        for (int i = 0; i < rows->size(); ++i) {
          const account::AttemptCounter c{rows->int64(i, 1), to_seconds(rows->int64(i, 2)),
                                          to_seconds(rows->int64(i, 3))};
          (rows->text(i, 0) == kAccountScope ? whole : source) = c;
        }
        auto step = account::begin_attempt(source, whole, now, policy, known_device);
        if (step.verdict != account::AttemptVerdict::Proceed) return step;
        for (const auto& [s, c] : {std::pair{scope, step.source}, std::pair{kAccountScope, step.account}}) {
          if (auto ok = done(exec(conn, kWriteAttempt, account, s, c.attempts, c.window_start, c.locked_until)); !ok)
            return fail(ok.error());
        }
        return step;
      });
    });
  }

  // Under the account's advisory lock too, so an attempt in flight cannot write
  // back counters that were just cleared.
  Status clear_login_attempts(std::string_view account, std::string_view scope) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Status {
        if (auto locked = done(exec(conn, kLockAccount, account)); !locked) return locked;
        return done(exec(conn, kClearAttempts, account, scope));
      });
    });
  }

  Result<std::int64_t> unlock_account(std::string_view account) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Result<std::int64_t> {
        if (auto locked = done(exec(conn, kLockAccount, account)); !locked) return fail(locked.error());
        return affected(exec(conn, kUnlock, account));
      });
    });
  }

  Result<std::int64_t> purge_login_attempts(Seconds stale_before, Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) { return affected(exec(conn, kPurgeAttempts, stale_before, now)); });
  }

 private:
  Pool& pool_;
};

}  // namespace

std::unique_ptr<AuditStore> make_audit_store(Pool& pool) { return std::make_unique<PostgresAuditStore>(pool); }
std::unique_ptr<LockoutStore> make_lockout_store(Pool& pool) { return std::make_unique<PostgresLockoutStore>(pool); }

}  // namespace gh::store::postgres
