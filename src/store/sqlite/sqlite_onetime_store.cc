#include "store/sqlite/sqlite_onetime_store.h"

namespace gh::store::sqlite {
namespace {

// ---- All SQL of the one-time token store -----------------------------------

// A missing user makes the INSERT fail on its foreign key, which
// sqlite_error() maps to NotFound; a duplicate hash maps to Conflict.
constexpr std::string_view kInsertToken =
    "INSERT INTO one_time_tokens (hash, purpose, user_id, data, created_at, expires_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
#define GH_TOKEN_COLUMNS "hash, purpose, user_id, data, created_at, expires_at"
// Consuming is this one statement: whichever caller's DELETE runs first gets
// the row, every later one finds nothing. A token that is expired or of another
// purpose is left alone (purge_tokens removes the expired ones).
constexpr std::string_view kConsumeToken =
    "DELETE FROM one_time_tokens WHERE hash = ?1 AND purpose = ?2 AND expires_at > ?3 "
    "RETURNING " GH_TOKEN_COLUMNS;
constexpr std::string_view kFindToken = "SELECT " GH_TOKEN_COLUMNS
                                        " FROM one_time_tokens "
                                        "WHERE hash = ?1 AND purpose = ?2 AND expires_at > ?3";
#undef GH_TOKEN_COLUMNS
// The (user_id, purpose) index serves these two.
constexpr std::string_view kRevokeTokens =
    "DELETE FROM one_time_tokens WHERE user_id = ?1 AND purpose = ?2";
constexpr std::string_view kCountTokens =
    "SELECT count(*) FROM one_time_tokens WHERE user_id = ?1 AND purpose = ?2 AND created_at >= ?3";
constexpr std::string_view kPurgeTokens = "DELETE FROM one_time_tokens WHERE expires_at <= ?1";

// ---- Helpers ----------------------------------------------------------------

OneTimeToken read_token(const Statement& st) {
  return OneTimeToken{st.column_text(0),
                      static_cast<TokenPurpose>(st.column_int(1)),
                      st.column_text(2),
                      st.column_text(3),
                      to_seconds(st.column_int(4)),
                      to_seconds(st.column_int(5))};
}

std::int64_t to_int(TokenPurpose p) { return static_cast<std::int64_t>(p); }

// The one row `rows` holds; NotFound if none.
Result<OneTimeToken> the_row(Result<std::vector<OneTimeToken>> rows) {
  if (!rows) return fail(rows.error());
  if (rows->empty()) return fail(StoreError::NotFound);
  return std::move(rows->front());
}

// ---- The store --------------------------------------------------------------

class SqliteOneTimeStore final : public OneTimeTokenStore {
 public:
  explicit SqliteOneTimeStore(Database& db) : db_(db) {}

  Status put_token(const OneTimeToken& t) override {
    return db_.write([&](Connection& c) -> Status {
      auto inserted = run(c, kInsertToken, t.hash, to_int(t.purpose), t.user_id, t.data,
                          t.created_at, t.expires_at);
      if (!inserted) return fail(inserted.error());
      return {};
    });
  }

  Result<OneTimeToken> consume_token(std::string_view hash, TokenPurpose purpose,
                                     Seconds now) override {
    // query_all steps the statement to its end, so the DELETE's implicit
    // transaction commits (or reports its error) before the writer is released.
    return db_.write([&](Connection& c) {
      return the_row(query_all(c, kConsumeToken, read_token, hash, to_int(purpose), now));
    });
  }

  Result<OneTimeToken> find_token(std::string_view hash, TokenPurpose purpose,
                                  Seconds now) override {
    return db_.read([&](Connection& c) {
      return query_one(c, kFindToken, read_token, hash, to_int(purpose), now);
    });
  }

  Result<std::int64_t> revoke_tokens(std::string_view user_id, TokenPurpose purpose) override {
    return db_.write(
        [&](Connection& c) { return run(c, kRevokeTokens, user_id, to_int(purpose)); });
  }

  Result<std::int64_t> count_tokens(std::string_view user_id, TokenPurpose purpose,
                                    Seconds since) override {
    return db_.read(
        [&](Connection& c) { return query_int(c, kCountTokens, user_id, to_int(purpose), since); });
  }

  Result<std::int64_t> purge_tokens(Seconds now) override {
    return db_.write([&](Connection& c) { return run(c, kPurgeTokens, now); });
  }

 private:
  Database& db_;
};

}  // namespace

std::unique_ptr<OneTimeTokenStore> make_onetime_store(Database& db) {
  return std::make_unique<SqliteOneTimeStore>(db);
}

}  // namespace gh::store::sqlite
