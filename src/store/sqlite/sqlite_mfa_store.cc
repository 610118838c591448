#include "store/sqlite/sqlite_mfa_store.h"

namespace gh::store::sqlite {
namespace {

// ---- All SQL of the MFA store -----------------------------------------------

// One statement: a new row, or a pending one replaced. A confirmed row makes
// the DO UPDATE's WHERE false, so nothing changes (0 rows: Conflict); a
// missing user fails the foreign key, which sqlite_error() maps to NotFound.
constexpr std::string_view kPutPendingTotp =
    "INSERT INTO mfa_totp (user_id, secret_sealed, confirmed, last_step, created_at, "
    "confirmed_at) VALUES (?1, ?2, 0, ?3, ?4, 0) "
    "ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, "
    "last_step = excluded.last_step, created_at = excluded.created_at, confirmed_at = 0 "
    "WHERE mfa_totp.confirmed = 0";
constexpr std::string_view kFindTotp =
    "SELECT user_id, secret_sealed, confirmed, last_step, created_at, confirmed_at "
    "FROM mfa_totp WHERE user_id = ?1";
// The compare-and-swaps: each UPDATE's WHERE is the whole condition, and the
// writer mutex (BEGIN IMMEDIATE's lock for other processes) makes it see the
// latest committed row, so of two callers with the same step one changes a row.
constexpr std::string_view kConfirmTotp =
    "UPDATE mfa_totp SET confirmed = 1, last_step = ?3, confirmed_at = ?4 "
    "WHERE user_id = ?1 AND confirmed = 0 AND secret_sealed = ?2";
constexpr std::string_view kAdvanceTotpStep =
    "UPDATE mfa_totp SET last_step = ?2 WHERE user_id = ?1 AND confirmed = 1 AND last_step < ?2";
constexpr std::string_view kDeleteTotp = "DELETE FROM mfa_totp WHERE user_id = ?1";

constexpr std::string_view kUserExists = "SELECT count(*) FROM users WHERE id = ?1";
constexpr std::string_view kDeleteRecoveryCodes = "DELETE FROM recovery_codes WHERE user_id = ?1";
// A hash listed twice fails the primary key: Conflict, and nothing changes.
constexpr std::string_view kInsertRecoveryCode =
    "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?1, ?2, ?3)";
constexpr std::string_view kConsumeRecoveryCode =
    "DELETE FROM recovery_codes WHERE user_id = ?1 AND code_hash = ?2";
constexpr std::string_view kCountRecoveryCodes =
    "SELECT count(*) FROM recovery_codes WHERE user_id = ?1";

// ---- Helpers ----------------------------------------------------------------

TotpFactor read_totp(const Statement& st) {
  TotpFactor f;
  f.user_id = st.column_text(0);
  f.secret_sealed = st.column_text(1);
  f.confirmed = st.column_int(2) != 0;
  f.last_step = st.column_int(3);
  f.created_at = to_seconds(st.column_int(4));
  f.confirmed_at = to_seconds(st.column_int(5));
  return f;
}

// ---- The store --------------------------------------------------------------

class SqliteMfaStore final : public MfaStore {
 public:
  explicit SqliteMfaStore(Database& db) : db_(db) {}

  Status put_pending_totp(const TotpFactor& f) override {
    return db_.write([&](Connection& c) -> Status {
      auto changed = run(c, kPutPendingTotp, f.user_id, f.secret_sealed, f.last_step, f.created_at);
      if (!changed) return fail(changed.error());
      if (*changed == 0) return fail(StoreError::Conflict);
      return {};
    });
  }

  Result<TotpFactor> find_totp(std::string_view user_id) override {
    return db_.read([&](Connection& c) { return query_one(c, kFindTotp, read_totp, user_id); });
  }

  Status confirm_totp(std::string_view user_id, std::string_view secret_sealed, std::int64_t step,
                      Seconds now) override {
    return db_.write([&](Connection& c) {
      return expect_one_row(run(c, kConfirmTotp, user_id, secret_sealed, step, now));
    });
  }

  Status advance_totp_step(std::string_view user_id, std::int64_t step) override {
    return db_.write(
        [&](Connection& c) { return expect_one_row(run(c, kAdvanceTotpStep, user_id, step)); });
  }

  Result<bool> delete_totp(std::string_view user_id) override {
    return db_.write([&](Connection& c) -> Result<bool> {
      auto deleted = run(c, kDeleteTotp, user_id);
      if (!deleted) return fail(deleted.error());
      return *deleted > 0;
    });
  }

  Status replace_recovery_codes(std::string_view user_id,
                                const std::vector<std::string>& code_hashes, Seconds now) override {
    return db_.write([&](Connection& c) {
      return transaction(c, [&]() -> Status {
        // An empty list inserts nothing, so the foreign key alone would not
        // report a missing user.
        auto exists = query_int(c, kUserExists, user_id);
        if (!exists) return fail(exists.error());
        if (*exists == 0) return fail(StoreError::NotFound);
        if (auto deleted = run(c, kDeleteRecoveryCodes, user_id); !deleted) {
          return fail(deleted.error());
        }
        for (const std::string& hash : code_hashes) {
          auto inserted = run(c, kInsertRecoveryCode, user_id, hash, now);
          if (!inserted) return fail(inserted.error());
        }
        return {};
      });
    });
  }

  Result<std::int64_t> consume_recovery_code(std::string_view user_id,
                                             std::string_view code_hash) override {
    // Under the writer mutex and BEGIN IMMEDIATE: of two concurrent callers
    // (threads or processes) the second's DELETE finds the row gone.
    return db_.write([&](Connection& c) {
      return transaction(c, [&]() -> Result<std::int64_t> {
        if (auto deleted = expect_one_row(run(c, kConsumeRecoveryCode, user_id, code_hash));
            !deleted) {
          return fail(deleted.error());
        }
        return query_int(c, kCountRecoveryCodes, user_id);
      });
    });
  }

  Result<std::int64_t> count_recovery_codes(std::string_view user_id) override {
    return db_.read([&](Connection& c) { return query_int(c, kCountRecoveryCodes, user_id); });
  }

 private:
  Database& db_;
};

}  // namespace

std::unique_ptr<MfaStore> make_mfa_store(Database& db) {
  return std::make_unique<SqliteMfaStore>(db);
}

}  // namespace gh::store::sqlite
