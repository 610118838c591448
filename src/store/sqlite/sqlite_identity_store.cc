#include "store/sqlite/sqlite_identity_store.h"

namespace gh::store::sqlite {
namespace {

// ---- All SQL of the identity store ------------------------------------------

// A duplicate id or (issuer, subject) maps to Conflict; a missing user fails
// the foreign key, which sqlite_error() maps to NotFound.
constexpr std::string_view kInsertIdentity =
    "INSERT INTO identities (id, user_id, provider, issuer, subject, email, email_verified, "
    "name, created_at, last_login_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
constexpr std::string_view kInsertUser =
    "INSERT INTO users (id, email, email_normalized, name, password_hash, email_verified, "
    "disabled, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
#define GH_IDENTITY_COLUMNS                                                                  \
  "SELECT id, user_id, provider, issuer, subject, email, email_verified, name, created_at, " \
  "last_login_at FROM identities "
constexpr std::string_view kFindIdentity = GH_IDENTITY_COLUMNS "WHERE issuer = ?1 AND subject = ?2";
constexpr std::string_view kListIdentities =
    GH_IDENTITY_COLUMNS "WHERE user_id = ?1 ORDER BY created_at, id";
#undef GH_IDENTITY_COLUMNS
constexpr std::string_view kUpdateLogin =
    "UPDATE identities SET email = ?2, email_verified = ?3, name = ?4, last_login_at = ?5 "
    "WHERE id = ?1";
// delete_identity: one statement under the writer lock, so the count it reads
// is the one its DELETE acts on (two unlinks run one after the other).
constexpr std::string_view kIdentityOfUser =
    "SELECT count(*) FROM identities WHERE id = ?2 AND user_id = ?1";
constexpr std::string_view kDeleteIfNotLast =
    "DELETE FROM identities WHERE id = ?2 AND user_id = ?1 AND ("
    "(SELECT password_hash FROM users WHERE id = ?1) <> '' OR "
    "(SELECT count(*) FROM identities WHERE user_id = ?1) > 1)";

constexpr std::string_view kInsertState =
    "INSERT INTO oauth_states (hash, kind, data, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, "
    "?5)";
// Whichever caller's DELETE runs first gets the row; an expired row is left
// for purge_states.
constexpr std::string_view kTakeState =
    "DELETE FROM oauth_states WHERE hash = ?1 AND kind = ?2 AND expires_at > ?3 "
    "RETURNING hash, kind, data, created_at, expires_at";
constexpr std::string_view kPurgeStates = "DELETE FROM oauth_states WHERE expires_at <= ?1";

// ---- Helpers ----------------------------------------------------------------

Identity read_identity(const Statement& st) {
  Identity i;
  i.id = st.column_text(0);
  i.user_id = st.column_text(1);
  i.provider = st.column_text(2);
  i.issuer = st.column_text(3);
  i.subject = st.column_text(4);
  i.email = st.column_text(5);
  i.email_verified = st.column_int(6) != 0;
  i.name = st.column_text(7);
  i.created_at = to_seconds(st.column_int(8));
  i.last_login_at = to_seconds(st.column_int(9));
  return i;
}

OAuthState read_state(const Statement& st) {
  return OAuthState{st.column_text(0), static_cast<OAuthStateKind>(st.column_int(1)),
                    st.column_text(2), to_seconds(st.column_int(3)), to_seconds(st.column_int(4))};
}

std::int64_t to_int(OAuthStateKind k) { return static_cast<std::int64_t>(k); }

Status insert_identity(Connection& c, const Identity& i) {
  auto inserted = run(c, kInsertIdentity, i.id, i.user_id, i.provider, i.issuer, i.subject, i.email,
                      i.email_verified, i.name, i.created_at, i.last_login_at);
  if (!inserted) return fail(inserted.error());
  return {};
}

// ---- The store --------------------------------------------------------------

class SqliteIdentityStore final : public IdentityStore {
 public:
  explicit SqliteIdentityStore(Database& db) : db_(db) {}

  Status create_identity(const Identity& identity) override {
    return db_.write([&](Connection& c) { return insert_identity(c, identity); });
  }

  Status create_user_with_identity(const User& u, const Identity& identity) override {
    return db_.write([&](Connection& c) {
      return transaction(c, [&]() -> Status {
        auto inserted =
            run(c, kInsertUser, u.id, u.email, u.email_normalized, u.name, u.password_hash,
                u.email_verified, u.disabled, u.created_at, u.updated_at);
        if (!inserted) return fail(inserted.error());
        return insert_identity(c, identity);
      });
    });
  }

  Result<Identity> find_identity(std::string_view issuer, std::string_view subject) override {
    return db_.read(
        [&](Connection& c) { return query_one(c, kFindIdentity, read_identity, issuer, subject); });
  }

  Result<std::vector<Identity>> list_identities(std::string_view user_id) override {
    return db_.read(
        [&](Connection& c) { return query_all(c, kListIdentities, read_identity, user_id); });
  }

  Status update_identity_login(const Identity& i) override {
    return db_.write([&](Connection& c) {
      return expect_one_row(
          run(c, kUpdateLogin, i.id, i.email, i.email_verified, i.name, i.last_login_at));
    });
  }

  Status delete_identity(std::string_view user_id, std::string_view id) override {
    return db_.write([&](Connection& c) {
      return transaction(c, [&]() -> Status {
        auto exists = query_int(c, kIdentityOfUser, user_id, id);
        if (!exists) return fail(exists.error());
        if (*exists == 0) return fail(StoreError::NotFound);
        auto deleted = run(c, kDeleteIfNotLast, user_id, id);
        if (!deleted) return fail(deleted.error());
        if (*deleted == 0) return fail(StoreError::Conflict);
        return {};
      });
    });
  }

  Status put_state(const OAuthState& s) override {
    return db_.write([&](Connection& c) -> Status {
      auto inserted =
          run(c, kInsertState, s.hash, to_int(s.kind), s.data, s.created_at, s.expires_at);
      if (!inserted) return fail(inserted.error());
      return {};
    });
  }

  Result<OAuthState> take_state(std::string_view hash, OAuthStateKind kind, Seconds now) override {
    // query_all steps the DELETE to its end, so it commits before the writer is released.
    return db_.write([&](Connection& c) -> Result<OAuthState> {
      auto rows = query_all(c, kTakeState, read_state, hash, to_int(kind), now);
      if (!rows) return fail(rows.error());
      if (rows->empty()) return fail(StoreError::NotFound);
      return std::move(rows->front());
    });
  }

  Result<std::int64_t> purge_states(Seconds now) override {
    return db_.write([&](Connection& c) { return run(c, kPurgeStates, now); });
  }

 private:
  Database& db_;
};

}  // namespace

std::unique_ptr<IdentityStore> make_identity_store(Database& db) {
  return std::make_unique<SqliteIdentityStore>(db);
}

}  // namespace gh::store::sqlite
