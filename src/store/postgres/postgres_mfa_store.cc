#include "store/postgres/postgres_mfa_store.h"

namespace gh::store::postgres {
namespace {

// ---- All SQL of the MFA store -----------------------------------------------

// One statement: a new row, or a pending one replaced. A confirmed row makes
// the DO UPDATE's WHERE false, so nothing changes (0 rows: Conflict); a
// missing user fails the foreign key (23503), which pg_error() maps to NotFound.
constexpr const char* kPutPendingTotp =
    "INSERT INTO mfa_totp (user_id, secret_sealed, confirmed, last_step, created_at, "
    "confirmed_at) VALUES ($1, $2, false, $3, $4, 0) "
    "ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, "
    "last_step = excluded.last_step, created_at = excluded.created_at, confirmed_at = 0 "
    "WHERE NOT mfa_totp.confirmed";
constexpr const char* kFindTotp =
    "SELECT user_id, secret_sealed, confirmed, last_step, created_at, confirmed_at "
    "FROM mfa_totp WHERE user_id = $1";
// The compare-and-swaps. A concurrent UPDATE of the same row blocks on its row
// lock; once the winner commits, READ COMMITTED re-evaluates this WHERE on the
// new row version (confirmed, or last_step = $2): no match, 0 rows.
constexpr const char* kConfirmTotp =
    "UPDATE mfa_totp SET confirmed = true, last_step = $3, confirmed_at = $4 "
    "WHERE user_id = $1 AND NOT confirmed AND secret_sealed = $2";
constexpr const char* kAdvanceTotpStep =
    "UPDATE mfa_totp SET last_step = $2 WHERE user_id = $1 AND confirmed AND last_step < $2";
constexpr const char* kDeleteTotp = "DELETE FROM mfa_totp WHERE user_id = $1";

// replace_recovery_codes() step 1: locks the user's row (NotFound if none).
// Two replacements for one user then run one after the other (otherwise each
// could delete the old codes and both sets be inserted); FOR NO KEY UPDATE
// does not block the FOR KEY SHARE locks that other tables' foreign keys take.
constexpr const char* kLockUser = "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE";
constexpr const char* kDeleteRecoveryCodes = "DELETE FROM recovery_codes WHERE user_id = $1";
// A hash listed twice fails the primary key (23505): Conflict, rolled back.
constexpr const char* kInsertRecoveryCode =
    "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)";
// Of two concurrent DELETEs of one code the second waits for the first's
// transaction, then finds the row gone and returns nothing: one caller wins.
constexpr const char* kConsumeRecoveryCode =
    "DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2 RETURNING code_hash";
constexpr const char* kCountRecoveryCodes =
    "SELECT count(*) FROM recovery_codes WHERE user_id = $1";

// ---- Helpers ----------------------------------------------------------------

TotpFactor read_totp(const Rows& rows, int i) {
  TotpFactor f;
  f.user_id = rows.text(i, 0);
  f.secret_sealed = rows.text(i, 1);
  f.confirmed = rows.boolean(i, 2);
  f.last_step = rows.int64(i, 3);
  f.created_at = to_seconds(rows.int64(i, 4));
  f.confirmed_at = to_seconds(rows.int64(i, 5));
  return f;
}

Result<std::int64_t> first_int(Result<Rows> rows) {
  if (!rows) return fail(rows.error());
  return rows->int64(0, 0);
}

// ---- The store --------------------------------------------------------------

class PostgresMfaStore final : public MfaStore {
 public:
  explicit PostgresMfaStore(Pool& pool) : pool_(pool) {}

  Status put_pending_totp(const TotpFactor& f) override {
    return pool_.run(kWrite, [&](PGconn* conn) -> Status {
      auto changed =
          exec(conn, kPutPendingTotp, f.user_id, f.secret_sealed, f.last_step, f.created_at);
      if (!changed) return fail(changed.error());
      if (changed->affected() == 0) return fail(StoreError::Conflict);
      return {};
    });
  }

  Result<TotpFactor> find_totp(std::string_view user_id) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) -> Result<TotpFactor> {
      auto rows = exec(conn, kFindTotp, user_id);
      if (!rows) return fail(rows.error());
      if (rows->size() == 0) return fail(StoreError::NotFound);
      return read_totp(*rows, 0);
    });
  }

  Status confirm_totp(std::string_view user_id, std::string_view secret_sealed, std::int64_t step,
                      Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return expect_one_row(exec(conn, kConfirmTotp, user_id, secret_sealed, step, now));
    });
  }

  // kWrite: never retried, since a lost reply may hide a committed UPDATE (a
  // retry would then be refused and the caller see NotFound for its own code).
  Status advance_totp_step(std::string_view user_id, std::int64_t step) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return expect_one_row(exec(conn, kAdvanceTotpStep, user_id, step));
    });
  }

  Result<bool> delete_totp(std::string_view user_id) override {
    return pool_.run(kWrite, [&](PGconn* conn) -> Result<bool> {
      auto deleted = exec(conn, kDeleteTotp, user_id);
      if (!deleted) return fail(deleted.error());
      return deleted->affected() > 0;
    });
  }

  Status replace_recovery_codes(std::string_view user_id,
                                const std::vector<std::string>& code_hashes, Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Status {
        auto locked = exec(conn, kLockUser, user_id);
        if (!locked) return fail(locked.error());
        if (locked->size() == 0) return fail(StoreError::NotFound);
        if (auto deleted = exec(conn, kDeleteRecoveryCodes, user_id); !deleted) {
          return fail(deleted.error());
        }
        for (const std::string& hash : code_hashes) {
          auto inserted = exec(conn, kInsertRecoveryCode, user_id, hash, now);
          if (!inserted) return fail(inserted.error());
        }
        return {};
      });
    });
  }

  // kWrite: a lost reply may hide a committed DELETE (the code is then gone
  // and the caller sees Unavailable, never a second use).
  Result<std::int64_t> consume_recovery_code(std::string_view user_id,
                                             std::string_view code_hash) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Result<std::int64_t> {
        auto deleted = exec(conn, kConsumeRecoveryCode, user_id, code_hash);
        if (!deleted) return fail(deleted.error());
        if (deleted->size() == 0) return fail(StoreError::NotFound);
        return first_int(exec(conn, kCountRecoveryCodes, user_id));
      });
    });
  }

  Result<std::int64_t> count_recovery_codes(std::string_view user_id) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) {
      return first_int(exec(conn, kCountRecoveryCodes, user_id));
    });
  }

 private:
  Pool& pool_;
};

}  // namespace

std::unique_ptr<MfaStore> make_mfa_store(Pool& pool) {
  return std::make_unique<PostgresMfaStore>(pool);
}

}  // namespace gh::store::postgres
