#include "store/postgres/postgres_onetime_store.h"

namespace gh::store::postgres {
namespace {

// ---- All SQL of the one-time token store -----------------------------------

// A missing user makes the INSERT fail on its foreign key (23503), which
// pg_error() maps to NotFound; a duplicate hash (23505) maps to Conflict.
constexpr const char* kInsertToken =
    "INSERT INTO one_time_tokens (hash, purpose, user_id, data, created_at, expires_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)";
#define GH_TOKEN_COLUMNS "hash, purpose, user_id, data, created_at, expires_at"
// Consuming is this one statement. Under READ COMMITTED a second concurrent
// DELETE of the row waits for the first one's transaction, then finds the row
// gone and deletes (and returns) nothing: exactly one caller gets the token.
// A token that is expired or of another purpose is left alone (purge_tokens
// removes the expired ones).
constexpr const char* kConsumeToken =
    "DELETE FROM one_time_tokens WHERE hash = $1 AND purpose = $2 AND expires_at > $3 "
    "RETURNING " GH_TOKEN_COLUMNS;
constexpr const char* kFindToken = "SELECT " GH_TOKEN_COLUMNS
                                   " FROM one_time_tokens "
                                   "WHERE hash = $1 AND purpose = $2 AND expires_at > $3";
#undef GH_TOKEN_COLUMNS
// The (user_id, purpose) index serves these two.
constexpr const char* kRevokeTokens =
    "DELETE FROM one_time_tokens WHERE user_id = $1 AND purpose = $2";
constexpr const char* kCountTokens =
    "SELECT count(*) FROM one_time_tokens WHERE user_id = $1 AND purpose = $2 AND created_at >= $3";
constexpr const char* kPurgeTokens = "DELETE FROM one_time_tokens WHERE expires_at <= $1";

// ---- Helpers ----------------------------------------------------------------

OneTimeToken read_token(const Rows& rows, int i) {
  return OneTimeToken{rows.text(i, 0),
                      static_cast<TokenPurpose>(rows.int64(i, 1)),
                      rows.text(i, 2),
                      rows.text(i, 3),
                      to_seconds(rows.int64(i, 4)),
                      to_seconds(rows.int64(i, 5))};
}

std::int64_t to_int(TokenPurpose p) { return static_cast<std::int64_t>(p); }

// The first row as a token; NotFound if there is none.
Result<OneTimeToken> first_token(Result<Rows> rows) {
  if (!rows) return fail(rows.error());
  if (rows->size() == 0) return fail(StoreError::NotFound);
  return read_token(*rows, 0);
}

Result<std::int64_t> affected(Result<Rows> rows) {
  if (!rows) return fail(rows.error());
  return rows->affected();
}

// ---- The store --------------------------------------------------------------

class PostgresOneTimeStore final : public OneTimeTokenStore {
 public:
  explicit PostgresOneTimeStore(Pool& pool) : pool_(pool) {}

  Status put_token(const OneTimeToken& t) override {
    return pool_.run(kWrite, [&](PGconn* conn) -> Status {
      auto inserted = exec(conn, kInsertToken, t.hash, to_int(t.purpose), t.user_id, t.data,
                           t.created_at, t.expires_at);
      if (!inserted) return fail(inserted.error());
      return {};
    });
  }

  Result<OneTimeToken> consume_token(std::string_view hash, TokenPurpose purpose,
                                     Seconds now) override {
    // kWrite: never retried, since a lost reply may hide a committed DELETE
    // (the token is then gone and the caller sees Unavailable, never a second use).
    return pool_.run(kWrite, [&](PGconn* conn) {
      return first_token(exec(conn, kConsumeToken, hash, to_int(purpose), now));
    });
  }

  Result<OneTimeToken> find_token(std::string_view hash, TokenPurpose purpose,
                                  Seconds now) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) {
      return first_token(exec(conn, kFindToken, hash, to_int(purpose), now));
    });
  }

  Result<std::int64_t> revoke_tokens(std::string_view user_id, TokenPurpose purpose) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return affected(exec(conn, kRevokeTokens, user_id, to_int(purpose)));
    });
  }

  Result<std::int64_t> count_tokens(std::string_view user_id, TokenPurpose purpose,
                                    Seconds since) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) -> Result<std::int64_t> {
      auto rows = exec(conn, kCountTokens, user_id, to_int(purpose), since);
      if (!rows) return fail(rows.error());
      return rows->int64(0, 0);
    });
  }

  Result<std::int64_t> purge_tokens(Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) { return affected(exec(conn, kPurgeTokens, now)); });
  }

 private:
  Pool& pool_;
};

}  // namespace

std::unique_ptr<OneTimeTokenStore> make_onetime_store(Pool& pool) {
  return std::make_unique<PostgresOneTimeStore>(pool);
}

}  // namespace gh::store::postgres
