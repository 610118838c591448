#include "store/postgres/postgres_identity_store.h"

namespace gh::store::postgres {
namespace {

// ---- All SQL of the identity store ------------------------------------------

// A duplicate id or (issuer, subject) is 23505 (Conflict); a missing user
// fails the foreign key, 23503 (NotFound). Of two concurrent inserts of one
// identity the second waits on the first's index entry, then fails.
constexpr const char* kInsertIdentity =
    "INSERT INTO identities (id, user_id, provider, issuer, subject, email, email_verified, "
    "name, created_at, last_login_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
constexpr const char* kInsertUser =
    "INSERT INTO users (id, email, email_normalized, name, password_hash, email_verified, "
    "disabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
#define GH_IDENTITY_COLUMNS                                                                  \
  "SELECT id, user_id, provider, issuer, subject, email, email_verified, name, created_at, " \
  "last_login_at FROM identities "
constexpr const char* kFindIdentity = GH_IDENTITY_COLUMNS "WHERE issuer = $1 AND subject = $2";
constexpr const char* kListIdentities =
    GH_IDENTITY_COLUMNS "WHERE user_id = $1 ORDER BY created_at, id";
#undef GH_IDENTITY_COLUMNS
constexpr const char* kUpdateLogin =
    "UPDATE identities SET email = $2, email_verified = $3, name = $4, last_login_at = $5 "
    "WHERE id = $1";
// delete_identity step 1: lock the user's row (FOR NO KEY UPDATE does not
// block the FOR KEY SHARE locks other tables' foreign keys take), so two
// unlinks of one user run one after the other. Step 2 counts in a new
// statement: under READ COMMITTED it sees what the other unlink committed
// (a count in step 1's own target list would use the snapshot taken before
// the lock wait, and both unlinks of the last two would pass).
constexpr const char* kLockUser =
    "SELECT password_hash <> '' FROM users WHERE id = $1 FOR NO KEY UPDATE";
constexpr const char* kCountIdentities =
    "SELECT count(*), count(*) FILTER (WHERE id = $2) FROM identities WHERE user_id = $1";
constexpr const char* kDeleteIdentity = "DELETE FROM identities WHERE id = $2 AND user_id = $1";

constexpr const char* kInsertState =
    "INSERT INTO oauth_states (hash, kind, data, created_at, expires_at) VALUES ($1, $2, $3, $4, "
    "$5)";
// Of two concurrent DELETEs of one row the second waits for the first's
// transaction, then finds the row gone and returns nothing: one taker wins.
constexpr const char* kTakeState =
    "DELETE FROM oauth_states WHERE hash = $1 AND kind = $2 AND expires_at > $3 "
    "RETURNING hash, kind, data, created_at, expires_at";
constexpr const char* kPurgeStates = "DELETE FROM oauth_states WHERE expires_at <= $1";

// ---- Helpers ----------------------------------------------------------------

Identity read_identity(const Rows& rows, int r) {
  Identity i;
  i.id = rows.text(r, 0);
  i.user_id = rows.text(r, 1);
  i.provider = rows.text(r, 2);
  i.issuer = rows.text(r, 3);
  i.subject = rows.text(r, 4);
  i.email = rows.text(r, 5);
  i.email_verified = rows.boolean(r, 6);
  i.name = rows.text(r, 7);
  i.created_at = to_seconds(rows.int64(r, 8));
  i.last_login_at = to_seconds(rows.int64(r, 9));
  return i;
}

std::int64_t to_int(OAuthStateKind k) { return static_cast<std::int64_t>(k); }

Status insert_identity(PGconn* conn, const Identity& i) {
  auto inserted = exec(conn, kInsertIdentity, i.id, i.user_id, i.provider, i.issuer, i.subject,
                       i.email, i.email_verified, i.name, i.created_at, i.last_login_at);
  if (!inserted) return fail(inserted.error());
  return {};
}

// ---- The store --------------------------------------------------------------

class PostgresIdentityStore final : public IdentityStore {
 public:
  explicit PostgresIdentityStore(Pool& pool) : pool_(pool) {}

  Status create_identity(const Identity& identity) override {
    return pool_.run(kWrite, [&](PGconn* conn) { return insert_identity(conn, identity); });
  }

  Status create_user_with_identity(const User& u, const Identity& identity) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Status {
        auto inserted =
            exec(conn, kInsertUser, u.id, u.email, u.email_normalized, u.name, u.password_hash,
                 u.email_verified, u.disabled, u.created_at, u.updated_at);
        if (!inserted) return fail(inserted.error());
        return insert_identity(conn, identity);
      });
    });
  }

  Result<Identity> find_identity(std::string_view issuer, std::string_view subject) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) -> Result<Identity> {
      auto rows = exec(conn, kFindIdentity, issuer, subject);
      if (!rows) return fail(rows.error());
      if (rows->size() == 0) return fail(StoreError::NotFound);
      return read_identity(*rows, 0);
    });
  }

  Result<std::vector<Identity>> list_identities(std::string_view user_id) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) -> Result<std::vector<Identity>> {
      auto rows = exec(conn, kListIdentities, user_id);
      if (!rows) return fail(rows.error());
      std::vector<Identity> out;
      for (int r = 0; r < rows->size(); ++r) out.push_back(read_identity(*rows, r));
      return out;
    });
  }

  Status update_identity_login(const Identity& i) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return expect_one_row(
          exec(conn, kUpdateLogin, i.id, i.email, i.email_verified, i.name, i.last_login_at));
    });
  }

  Status delete_identity(std::string_view user_id, std::string_view id) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Status {
        auto locked = exec(conn, kLockUser, user_id);
        if (!locked) return fail(locked.error());
        if (locked->size() == 0) return fail(StoreError::NotFound);
        auto counts = exec(conn, kCountIdentities, user_id, id);
        if (!counts) return fail(counts.error());
        if (counts->int64(0, 1) == 0) return fail(StoreError::NotFound);
        if (!locked->boolean(0, 0) && counts->int64(0, 0) <= 1) return fail(StoreError::Conflict);
        return expect_one_row(exec(conn, kDeleteIdentity, user_id, id));
      });
    });
  }

  Status put_state(const OAuthState& s) override {
    return pool_.run(kWrite, [&](PGconn* conn) -> Status {
      auto inserted =
          exec(conn, kInsertState, s.hash, to_int(s.kind), s.data, s.created_at, s.expires_at);
      if (!inserted) return fail(inserted.error());
      return {};
    });
  }

  // kWrite: a lost reply may hide a committed DELETE (the state is then gone
  // and the caller sees Unavailable, never a second use).
  Result<OAuthState> take_state(std::string_view hash, OAuthStateKind kind, Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) -> Result<OAuthState> {
      auto rows = exec(conn, kTakeState, hash, to_int(kind), now);
      if (!rows) return fail(rows.error());
      if (rows->size() == 0) return fail(StoreError::NotFound);
      return OAuthState{rows->text(0, 0), static_cast<OAuthStateKind>(rows->int64(0, 1)),
                        rows->text(0, 2), to_seconds(rows->int64(0, 3)),
                        to_seconds(rows->int64(0, 4))};
    });
  }

  Result<std::int64_t> purge_states(Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) -> Result<std::int64_t> {
      auto deleted = exec(conn, kPurgeStates, now);
      if (!deleted) return fail(deleted.error());
      return deleted->affected();
    });
  }

 private:
  Pool& pool_;
};

}  // namespace

std::unique_ptr<IdentityStore> make_identity_store(Pool& pool) {
  return std::make_unique<PostgresIdentityStore>(pool);
}

}  // namespace gh::store::postgres
