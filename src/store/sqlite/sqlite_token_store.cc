#include "store/sqlite/sqlite_token_store.h"

#include <algorithm>

namespace gh::store::sqlite {
namespace {

// ---- All SQL of the token and key stores --------------------------------------

// The column order read_token() expects, and insert_token() binds.
#define GH_TOKEN_COLUMNS                                                                \
  "hash, family_id, user_id, parent_hash, child_hash, status, created_at, expires_at, " \
  "rotated_at, auth_time, client_id, amr"
#define GH_FAMILY_COLUMNS "id, user_id, created_at, revoked_at, revoked_reason"
#define GH_KEY_COLUMNS "kid, alg, private_sealed, public_jwk, status, created_at, not_after"

constexpr std::string_view kInsertFamily =
    "INSERT INTO refresh_families (" GH_FAMILY_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr std::string_view kInsertToken =
    "INSERT INTO refresh_tokens (" GH_TOKEN_COLUMNS
    ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
constexpr std::string_view kTokenByHash =
    "SELECT " GH_TOKEN_COLUMNS " FROM refresh_tokens WHERE hash = ?1";
constexpr std::string_view kFamilyById =
    "SELECT " GH_FAMILY_COLUMNS " FROM refresh_families WHERE id = ?1";
constexpr std::string_view kCountFamily = "SELECT count(*) FROM refresh_families WHERE id = ?1";
// The compare-and-swap of rotate(). The family test is a correlated EXISTS,
// a primary-key probe, where `family_id IN (SELECT ...)` would make SQLite
// build a temporary index of every unrevoked family on each call.
constexpr std::string_view kRotate =
    "UPDATE refresh_tokens SET status = 2, rotated_at = ?1, child_hash = ?2 "
    "WHERE hash = ?3 AND status = 1 AND expires_at > ?1 AND EXISTS (SELECT 1 FROM "
    "refresh_families f WHERE f.id = refresh_tokens.family_id AND f.revoked_at IS NULL)";
// `revoked_at IS NULL`: revoking again keeps the first time and reason.
constexpr std::string_view kRevokeFamily =
    "UPDATE refresh_families SET revoked_at = ?2, revoked_reason = ?3 "
    "WHERE id = ?1 AND revoked_at IS NULL";
constexpr std::string_view kRevokeFamilyTokens =
    "UPDATE refresh_tokens SET status = 3 WHERE family_id = ?1 AND status <> 3";
constexpr std::string_view kRevokeUserFamilies =
    "UPDATE refresh_families SET revoked_at = ?3, revoked_reason = ?4 "
    "WHERE user_id = ?1 AND id <> ?2 AND revoked_at IS NULL RETURNING id";
constexpr std::string_view kRevokeUserTokens =
    "UPDATE refresh_tokens SET status = 3 WHERE user_id = ?1 AND status <> 3 AND family_id IN "
    "(SELECT id FROM refresh_families WHERE user_id = ?1 AND revoked_at IS NOT NULL)";
constexpr std::string_view kDenyJti =
    "INSERT INTO denied_jtis (jti, expires_at) VALUES (?1, ?2) "
    "ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)";
constexpr std::string_view kDenySubject =
    "INSERT INTO denied_subjects (user_id, not_before, expires_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (user_id) DO UPDATE SET not_before = max(not_before, excluded.not_before), "
    "expires_at = max(expires_at, excluded.expires_at)";
constexpr std::string_view kDeniedJtis =
    "SELECT jti, expires_at FROM denied_jtis WHERE expires_at > ?1 ORDER BY jti";
constexpr std::string_view kDeniedSubjects =
    "SELECT user_id, not_before, expires_at FROM denied_subjects WHERE expires_at > ?1 "
    "ORDER BY user_id";
constexpr std::string_view kPurgeTokens = "DELETE FROM refresh_tokens WHERE expires_at <= ?1";
constexpr std::string_view kPurgeFamilies =
    "DELETE FROM refresh_families WHERE created_at < ?1 AND NOT EXISTS "
    "(SELECT 1 FROM refresh_tokens t WHERE t.family_id = refresh_families.id)";
constexpr std::string_view kPurgeJtis = "DELETE FROM denied_jtis WHERE expires_at <= ?1";
constexpr std::string_view kPurgeSubjects = "DELETE FROM denied_subjects WHERE expires_at <= ?1";

constexpr std::string_view kDemoteActiveKey =
    "UPDATE signing_keys SET status = 2, not_after = ?1 WHERE status = 1";
constexpr std::string_view kInsertActiveKey =
    "INSERT INTO signing_keys (" GH_KEY_COLUMNS ") VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)";
constexpr std::string_view kListKeys =
    "SELECT " GH_KEY_COLUMNS " FROM signing_keys ORDER BY created_at DESC, kid";
constexpr std::string_view kSetKeyStatus = "UPDATE signing_keys SET status = ?2 WHERE kid = ?1";

#undef GH_TOKEN_COLUMNS
#undef GH_FAMILY_COLUMNS
#undef GH_KEY_COLUMNS

// ---- Helpers ----------------------------------------------------------------

std::optional<Seconds> optional_seconds(const Statement& st, int col) {
  if (st.column_is_null(col)) return std::nullopt;
  return to_seconds(st.column_int(col));
}

RefreshToken read_token(const Statement& st) {
  RefreshToken t;
  t.hash = st.column_text(0);
  t.family_id = st.column_text(1);
  t.user_id = st.column_text(2);
  t.parent_hash = st.column_text(3);
  t.child_hash = st.column_text(4);
  t.status = static_cast<RefreshStatus>(st.column_int(5));
  t.created_at = to_seconds(st.column_int(6));
  t.expires_at = to_seconds(st.column_int(7));
  t.rotated_at = optional_seconds(st, 8);
  t.auth_time = to_seconds(st.column_int(9));
  t.client_id = st.column_text(10);
  t.amr = st.column_text(11);
  return t;
}

RefreshFamily read_family(const Statement& st) {
  RefreshFamily f;
  f.id = st.column_text(0);
  f.user_id = st.column_text(1);
  f.created_at = to_seconds(st.column_int(2));
  f.revoked_at = optional_seconds(st, 3);
  f.revoked_reason = st.column_text(4);
  return f;
}

StoredKey read_key(const Statement& st) {
  StoredKey k;
  k.kid = st.column_text(0);
  k.alg = st.column_text(1);
  k.private_sealed = st.column_text(2);
  k.public_jwk = st.column_text(3);
  k.status = static_cast<KeyStatus>(st.column_int(4));
  k.created_at = to_seconds(st.column_int(5));
  k.not_after = optional_seconds(st, 6);
  return k;
}

DeniedJti read_denied_jti(const Statement& st) {
  return {.jti = st.column_text(0), .expires_at = to_seconds(st.column_int(1))};
}

DeniedSubject read_denied_subject(const Statement& st) {
  return {.user_id = st.column_text(0),
          .not_before = to_seconds(st.column_int(1)),
          .expires_at = to_seconds(st.column_int(2))};
}

std::int64_t status_value(RefreshStatus s) { return static_cast<std::int64_t>(s); }
std::int64_t status_value(KeyStatus s) { return static_cast<std::int64_t>(s); }

Status insert_token(Connection& c, const RefreshToken& t) {
  auto inserted = run(c, kInsertToken, t.hash, t.family_id, t.user_id, t.parent_hash, t.child_hash,
                      status_value(t.status), t.created_at, t.expires_at, t.rotated_at, t.auth_time,
                      t.client_id, t.amr);
  if (!inserted) return fail(inserted.error());
  return {};
}

// NotFound becomes nullopt; other errors stay errors.
template <class T>
Result<std::optional<T>> maybe(Result<T> r) {
  if (r) return std::optional<T>(std::move(*r));
  if (r.error().code == make_error_code(StoreError::NotFound)) return std::optional<T>();
  return fail(r.error());
}

// ---- The stores -------------------------------------------------------------

class SqliteTokenStore final : public TokenStore {
 public:
  explicit SqliteTokenStore(Database& db) : db_(db) {}

  Status create_family(const RefreshFamily& f, const RefreshToken& first) override {
    return db_.write([&](Connection& c) {
      return transaction(c, [&]() -> Status {
        auto family =
            run(c, kInsertFamily, f.id, f.user_id, f.created_at, f.revoked_at, f.revoked_reason);
        if (!family) return fail(family.error());
        return insert_token(c, first);
      });
    });
  }

  // The writer mutex serialises this process's writers and BEGIN IMMEDIATE
  // other processes', so the UPDATE's WHERE sees the latest committed row and
  // at most one caller can turn an Active token into Rotated.
  Result<RotateResult> rotate(std::string_view hash, const RefreshToken& child,
                              Seconds now) override {
    return db_.write([&](Connection& c) {
      return transaction(c, [&]() -> Result<RotateResult> {
        auto swapped = run(c, kRotate, now, child.hash, hash);
        if (!swapped) return fail(swapped.error());
        RotateResult result;
        if (*swapped == 1) {
          // A failure here (child hash taken) rolls the swap back too.
          if (auto inserted = insert_token(c, child); !inserted) return fail(inserted.error());
          result.outcome = RotateOutcome::Rotated;
          result.child = child;
        } else {
          result.outcome = RotateOutcome::NotActive;
        }
        auto current = maybe(query_one(c, kTokenByHash, read_token, hash));
        if (!current) return fail(current.error());
        if (!*current) return RotateResult{};  // NotFound
        result.current = std::move(**current);
        if (result.outcome == RotateOutcome::NotActive && !result.current.child_hash.empty()) {
          auto found = maybe(query_one(c, kTokenByHash, read_token, result.current.child_hash));
          if (!found) return fail(found.error());
          result.child = std::move(*found);  // nullopt once purged
        }
        auto family = query_one(c, kFamilyById, read_family, result.current.family_id);
        if (!family) return fail(family.error());
        result.family = std::move(*family);
        return result;
      });
    });
  }

  Result<RefreshToken> find_refresh(std::string_view hash) override {
    return db_.read([&](Connection& c) { return query_one(c, kTokenByHash, read_token, hash); });
  }

  Result<RefreshFamily> find_family(std::string_view family_id) override {
    return db_.read(
        [&](Connection& c) { return query_one(c, kFamilyById, read_family, family_id); });
  }

  Status revoke_family(std::string_view family_id, std::string_view reason, Seconds now) override {
    return db_.write([&](Connection& c) {
      return transaction(c, [&]() -> Status {
        auto revoked = run(c, kRevokeFamily, family_id, now, reason);
        if (!revoked) return fail(revoked.error());
        if (*revoked == 0) {
          auto exists = query_int(c, kCountFamily, family_id);
          if (!exists) return fail(exists.error());
          if (*exists == 0) return fail(StoreError::NotFound);
        }
        if (auto tokens = run(c, kRevokeFamilyTokens, family_id); !tokens) {
          return fail(tokens.error());
        }
        return {};
      });
    });
  }

  Result<std::vector<std::string>> revoke_user_families(std::string_view user_id,
                                                        std::string_view keep_family_id,
                                                        std::string_view reason,
                                                        Seconds now) override {
    return db_.write([&](Connection& c) {
      return transaction(c, [&]() -> Result<std::vector<std::string>> {
        auto revoked = query_all(
            c, kRevokeUserFamilies, [](const Statement& st) { return st.column_text(0); }, user_id,
            keep_family_id, now, reason);
        if (!revoked) return revoked;
        if (auto tokens = run(c, kRevokeUserTokens, user_id); !tokens) return fail(tokens.error());
        // RETURNING yields rows in no defined order.
        std::sort(revoked->begin(), revoked->end());
        return revoked;
      });
    });
  }

  Status deny_jti(const DeniedJti& d) override {
    return db_.write([&](Connection& c) -> Status {
      if (auto done = run(c, kDenyJti, d.jti, d.expires_at); !done) return fail(done.error());
      return {};
    });
  }

  Status deny_subject(const DeniedSubject& d) override {
    return db_.write([&](Connection& c) -> Status {
      auto done = run(c, kDenySubject, d.user_id, d.not_before, d.expires_at);
      if (!done) return fail(done.error());
      return {};
    });
  }

  Result<std::vector<DeniedJti>> denied_jtis(Seconds now) override {
    return db_.read([&](Connection& c) { return query_all(c, kDeniedJtis, read_denied_jti, now); });
  }

  Result<std::vector<DeniedSubject>> denied_subjects(Seconds now) override {
    return db_.read(
        [&](Connection& c) { return query_all(c, kDeniedSubjects, read_denied_subject, now); });
  }

  Result<std::int64_t> purge(Seconds now, std::chrono::seconds keep) override {
    const Seconds cutoff = now - keep;
    return db_.write([&](Connection& c) {
      return transaction(c, [&]() -> Result<std::int64_t> {
        std::int64_t deleted = 0;
        // Tokens first: a family is purged only once it has none left.
        for (const auto& [sql, before] :
             {std::pair{kPurgeTokens, cutoff}, std::pair{kPurgeFamilies, cutoff},
              std::pair{kPurgeJtis, now}, std::pair{kPurgeSubjects, now}}) {
          auto n = run(c, sql, before);
          if (!n) return n;
          deleted += *n;
        }
        return deleted;
      });
    });
  }

 private:
  Database& db_;
};

class SqliteKeyStore final : public KeyStore {
 public:
  explicit SqliteKeyStore(Database& db) : db_(db) {}

  Status activate_key(const StoredKey& k, Seconds previous_not_after) override {
    return db_.write([&](Connection& c) {
      return transaction(c, [&]() -> Status {
        // Demote first: the unique index allows one Active row at a time.
        if (auto demoted = run(c, kDemoteActiveKey, previous_not_after); !demoted) {
          return fail(demoted.error());
        }
        auto inserted = run(c, kInsertActiveKey, k.kid, k.alg, k.private_sealed, k.public_jwk,
                            k.created_at, k.not_after);
        if (!inserted) return fail(inserted.error());
        return {};
      });
    });
  }

  Result<std::vector<StoredKey>> list_keys() override {
    return db_.read([&](Connection& c) { return query_all(c, kListKeys, read_key); });
  }

  Status set_key_status(std::string_view kid, KeyStatus status) override {
    return db_.write([&](Connection& c) {
      return expect_one_row(run(c, kSetKeyStatus, kid, status_value(status)));
    });
  }

 private:
  Database& db_;
};

}  // namespace

std::unique_ptr<TokenStore> make_token_store(Database& db) {
  return std::make_unique<SqliteTokenStore>(db);
}

std::unique_ptr<KeyStore> make_key_store(Database& db) {
  return std::make_unique<SqliteKeyStore>(db);
}

}  // namespace gh::store::sqlite
