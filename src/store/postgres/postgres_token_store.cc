#include "store/postgres/postgres_token_store.h"

#include <algorithm>

namespace gh::store::postgres {
namespace {

// ---- All SQL of the token and key stores --------------------------------------

// The column order read_token() expects, and insert_token() binds.
#define GH_TOKEN_COLUMNS                                                                \
  "hash, family_id, user_id, parent_hash, child_hash, status, created_at, expires_at, " \
  "rotated_at, auth_time, client_id, amr"
#define GH_FAMILY_COLUMNS "id, user_id, created_at, revoked_at, revoked_reason"
#define GH_KEY_COLUMNS "kid, alg, private_sealed, public_jwk, status, created_at, not_after"

constexpr const char* kInsertFamily =
    "INSERT INTO refresh_families (" GH_FAMILY_COLUMNS ") VALUES ($1, $2, $3, $4, $5)";
constexpr const char* kInsertToken = "INSERT INTO refresh_tokens (" GH_TOKEN_COLUMNS
                                     ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
constexpr const char* kTokenByHash =
    "SELECT " GH_TOKEN_COLUMNS " FROM refresh_tokens WHERE hash = $1";
constexpr const char* kFamilyById =
    "SELECT " GH_FAMILY_COLUMNS " FROM refresh_families WHERE id = $1";
constexpr const char* kFamilyExists = "SELECT 1 FROM refresh_families WHERE id = $1";
// rotate() step 1: a share lock on the token's family. A revocation's UPDATE
// of the family waits until this rotation commits, so the revocation's next
// statement sees (and revokes) the child inserted here; and a rotation that
// comes after a revocation sees the family revoked.
constexpr const char* kLockFamilyOfToken =
    "SELECT f.id FROM refresh_families f JOIN refresh_tokens t ON t.family_id = f.id "
    "WHERE t.hash = $1 FOR SHARE OF f";
// rotate() step 2, the compare-and-swap. A concurrent rotation of the same
// token blocks on the row lock; once the winner commits, READ COMMITTED
// re-evaluates this WHERE on the new row version (status = 2): no match.
constexpr const char* kRotate =
    "UPDATE refresh_tokens SET status = 2, rotated_at = $1, child_hash = $2 "
    "WHERE hash = $3 AND status = 1 AND expires_at > $1 "
    "AND family_id IN (SELECT id FROM refresh_families WHERE revoked_at IS NULL) "
    "RETURNING " GH_TOKEN_COLUMNS;
// `revoked_at IS NULL`: revoking again keeps the first time and reason.
constexpr const char* kRevokeFamily =
    "UPDATE refresh_families SET revoked_at = $2, revoked_reason = $3 "
    "WHERE id = $1 AND revoked_at IS NULL";
constexpr const char* kRevokeFamilyTokens =
    "UPDATE refresh_tokens SET status = 3 WHERE family_id = $1 AND status <> 3";
constexpr const char* kRevokeUserFamilies =
    "UPDATE refresh_families SET revoked_at = $3, revoked_reason = $4 "
    "WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL RETURNING id";
constexpr const char* kRevokeUserTokens =
    "UPDATE refresh_tokens SET status = 3 WHERE user_id = $1 AND status <> 3 AND family_id IN "
    "(SELECT id FROM refresh_families WHERE user_id = $1 AND revoked_at IS NOT NULL)";
constexpr const char* kDenyJti =
    "INSERT INTO denied_jtis (jti, expires_at) VALUES ($1, $2) ON CONFLICT (jti) "
    "DO UPDATE SET expires_at = GREATEST(denied_jtis.expires_at, excluded.expires_at)";
constexpr const char* kDenySubject =
    "INSERT INTO denied_subjects (user_id, not_before, expires_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (user_id) DO UPDATE SET "
    "not_before = GREATEST(denied_subjects.not_before, excluded.not_before), "
    "expires_at = GREATEST(denied_subjects.expires_at, excluded.expires_at)";
constexpr const char* kDeniedJtis =
    "SELECT jti, expires_at FROM denied_jtis WHERE expires_at > $1 ORDER BY jti";
constexpr const char* kDeniedSubjects =
    "SELECT user_id, not_before, expires_at FROM denied_subjects WHERE expires_at > $1 "
    "ORDER BY user_id";
constexpr const char* kPurgeTokens = "DELETE FROM refresh_tokens WHERE expires_at <= $1";
constexpr const char* kPurgeFamilies =
    "DELETE FROM refresh_families f WHERE f.created_at < $1 AND NOT EXISTS "
    "(SELECT 1 FROM refresh_tokens t WHERE t.family_id = f.id)";
constexpr const char* kPurgeJtis = "DELETE FROM denied_jtis WHERE expires_at <= $1";
constexpr const char* kPurgeSubjects = "DELETE FROM denied_subjects WHERE expires_at <= $1";

// Serialises activations across servers (readers are not blocked): without
// it, two concurrent ones would both find the old key to demote and the
// second INSERT would hit the one-Active index.
constexpr const char* kLockKeys = "LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE";
constexpr const char* kDemoteActiveKey =
    "UPDATE signing_keys SET status = 2, not_after = $1 WHERE status = 1";
constexpr const char* kInsertActiveKey =
    "INSERT INTO signing_keys (" GH_KEY_COLUMNS ") VALUES ($1, $2, $3, $4, 1, $5, $6)";
constexpr const char* kListKeys =
    "SELECT " GH_KEY_COLUMNS " FROM signing_keys ORDER BY created_at DESC, kid";
constexpr const char* kSetKeyStatus = "UPDATE signing_keys SET status = $2 WHERE kid = $1";

#undef GH_TOKEN_COLUMNS
#undef GH_FAMILY_COLUMNS
#undef GH_KEY_COLUMNS

// ---- Helpers ----------------------------------------------------------------

std::optional<Seconds> optional_seconds(const Rows& rows, int row, int col) {
  if (rows.is_null(row, col)) return std::nullopt;
  return to_seconds(rows.int64(row, col));
}

RefreshToken read_token(const Rows& rows, int row) {
  RefreshToken t;
  t.hash = rows.text(row, 0);
  t.family_id = rows.text(row, 1);
  t.user_id = rows.text(row, 2);
  t.parent_hash = rows.text(row, 3);
  t.child_hash = rows.text(row, 4);
  t.status = static_cast<RefreshStatus>(rows.int64(row, 5));
  t.created_at = to_seconds(rows.int64(row, 6));
  t.expires_at = to_seconds(rows.int64(row, 7));
  t.rotated_at = optional_seconds(rows, row, 8);
  t.auth_time = to_seconds(rows.int64(row, 9));
  t.client_id = rows.text(row, 10);
  t.amr = rows.text(row, 11);
  return t;
}

RefreshFamily read_family(const Rows& rows, int row) {
  RefreshFamily f;
  f.id = rows.text(row, 0);
  f.user_id = rows.text(row, 1);
  f.created_at = to_seconds(rows.int64(row, 2));
  f.revoked_at = optional_seconds(rows, row, 3);
  f.revoked_reason = rows.text(row, 4);
  return f;
}

StoredKey read_key(const Rows& rows, int row) {
  StoredKey k;
  k.kid = rows.text(row, 0);
  k.alg = rows.text(row, 1);
  k.private_sealed = rows.text(row, 2);
  k.public_jwk = rows.text(row, 3);
  k.status = static_cast<KeyStatus>(rows.int64(row, 4));
  k.created_at = to_seconds(rows.int64(row, 5));
  k.not_after = optional_seconds(rows, row, 6);
  return k;
}

std::int64_t status_value(RefreshStatus s) { return static_cast<std::int64_t>(s); }
std::int64_t status_value(KeyStatus s) { return static_cast<std::int64_t>(s); }

Status insert_token(PGconn* conn, const RefreshToken& t) {
  auto inserted = exec(conn, kInsertToken, t.hash, t.family_id, t.user_id, t.parent_hash,
                       t.child_hash, status_value(t.status), t.created_at, t.expires_at,
                       t.rotated_at, t.auth_time, t.client_id, t.amr);
  if (!inserted) return fail(inserted.error());
  return {};
}

// Runs a query and converts its first row with read(rows, 0), or nullopt.
template <class Read, class... Args>
auto query_optional(PGconn* conn, const char* sql, Read read, const Args&... args)
    -> Result<std::optional<decltype(read(std::declval<const Rows&>(), 0))>> {
  auto rows = exec(conn, sql, args...);
  if (!rows) return fail(rows.error());
  if (rows->size() == 0) return std::nullopt;
  return read(*rows, 0);
}

// The same, NotFound if there is no row.
template <class Read, class... Args>
auto query_one(PGconn* conn, const char* sql, Read read, const Args&... args)
    -> Result<decltype(read(std::declval<const Rows&>(), 0))> {
  auto row = query_optional(conn, sql, read, args...);
  if (!row) return fail(row.error());
  if (!*row) return fail(StoreError::NotFound);
  return std::move(**row);
}

// Runs a query and converts every row with read(rows, i).
template <class Read, class... Args>
auto query_all(PGconn* conn, const char* sql, Read read, const Args&... args)
    -> Result<std::vector<decltype(read(std::declval<const Rows&>(), 0))>> {
  auto rows = exec(conn, sql, args...);
  if (!rows) return fail(rows.error());
  std::vector<decltype(read(std::declval<const Rows&>(), 0))> out;
  out.reserve(static_cast<std::size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) out.push_back(read(*rows, i));
  return out;
}

DeniedJti read_denied_jti(const Rows& rows, int row) {
  return {.jti = rows.text(row, 0), .expires_at = to_seconds(rows.int64(row, 1))};
}

DeniedSubject read_denied_subject(const Rows& rows, int row) {
  return {.user_id = rows.text(row, 0),
          .not_before = to_seconds(rows.int64(row, 1)),
          .expires_at = to_seconds(rows.int64(row, 2))};
}

Status done(Result<Rows> r) {
  if (!r) return fail(r.error());
  return {};
}

// ---- The stores -------------------------------------------------------------

class PostgresTokenStore final : public TokenStore {
 public:
  explicit PostgresTokenStore(Pool& pool) : pool_(pool) {}

  Status create_family(const RefreshFamily& f, const RefreshToken& first) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Status {
        auto family = exec(conn, kInsertFamily, f.id, f.user_id, f.created_at, f.revoked_at,
                           f.revoked_reason);
        if (!family) return fail(family.error());
        return insert_token(conn, first);
      });
    });
  }

  Result<RotateResult> rotate(std::string_view hash, const RefreshToken& child,
                              Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Result<RotateResult> {
        auto locked = exec(conn, kLockFamilyOfToken, hash);
        if (!locked) return fail(locked.error());
        if (locked->size() == 0) return RotateResult{};  // NotFound
        auto swapped = exec(conn, kRotate, now, child.hash, hash);
        if (!swapped) return fail(swapped.error());
        RotateResult result;
        if (swapped->size() == 1) {
          // A failure here (child hash taken) rolls the swap back too.
          if (auto inserted = insert_token(conn, child); !inserted) return fail(inserted.error());
          result.outcome = RotateOutcome::Rotated;
          result.current = read_token(*swapped, 0);
          result.child = child;
        } else {
          auto current = query_optional(conn, kTokenByHash, read_token, hash);
          if (!current) return fail(current.error());
          if (!*current) return RotateResult{};  // purged meanwhile
          result.outcome = RotateOutcome::NotActive;
          result.current = std::move(**current);
          if (!result.current.child_hash.empty()) {
            auto found = query_optional(conn, kTokenByHash, read_token, result.current.child_hash);
            if (!found) return fail(found.error());
            result.child = std::move(*found);  // nullopt once purged
          }
        }
        auto family = query_one(conn, kFamilyById, read_family, result.current.family_id);
        if (!family) return fail(family.error());
        result.family = std::move(*family);
        return result;
      });
    });
  }

  Result<RefreshToken> find_refresh(std::string_view hash) override {
    return pool_.run(kIdempotent,
                     [&](PGconn* conn) { return query_one(conn, kTokenByHash, read_token, hash); });
  }

  Result<RefreshFamily> find_family(std::string_view family_id) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) {
      return query_one(conn, kFamilyById, read_family, family_id);
    });
  }

  // The family row is updated (locked) before its tokens, the order rotate()
  // locks them in; the tokens' UPDATE, a new statement, sees every child
  // committed by a rotation that held the family lock first.
  Status revoke_family(std::string_view family_id, std::string_view reason, Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Status {
        auto revoked = exec(conn, kRevokeFamily, family_id, now, reason);
        if (!revoked) return fail(revoked.error());
        if (revoked->affected() == 0) {
          auto exists = exec(conn, kFamilyExists, family_id);
          if (!exists) return fail(exists.error());
          if (exists->size() == 0) return fail(StoreError::NotFound);
        }
        return done(exec(conn, kRevokeFamilyTokens, family_id));
      });
    });
  }

  Result<std::vector<std::string>> revoke_user_families(std::string_view user_id,
                                                        std::string_view keep_family_id,
                                                        std::string_view reason,
                                                        Seconds now) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Result<std::vector<std::string>> {
        auto revoked = query_all(
            conn, kRevokeUserFamilies, [](const Rows& rows, int i) { return rows.text(i, 0); },
            user_id, keep_family_id, now, reason);
        if (!revoked) return revoked;
        if (auto tokens = exec(conn, kRevokeUserTokens, user_id); !tokens) {
          return fail(tokens.error());
        }
        // RETURNING yields rows in no defined order.
        std::sort(revoked->begin(), revoked->end());
        return revoked;
      });
    });
  }

  Status deny_jti(const DeniedJti& d) override {
    return pool_.run(kWrite,
                     [&](PGconn* conn) { return done(exec(conn, kDenyJti, d.jti, d.expires_at)); });
  }

  Status deny_subject(const DeniedSubject& d) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return done(exec(conn, kDenySubject, d.user_id, d.not_before, d.expires_at));
    });
  }

  Result<std::vector<DeniedJti>> denied_jtis(Seconds now) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) {
      return query_all(conn, kDeniedJtis, read_denied_jti, now);
    });
  }

  Result<std::vector<DeniedSubject>> denied_subjects(Seconds now) override {
    return pool_.run(kIdempotent, [&](PGconn* conn) {
      return query_all(conn, kDeniedSubjects, read_denied_subject, now);
    });
  }

  // Each DELETE commits on its own: nothing needs them together (a partial
  // purge is redone by the next), and holding the deleted tokens' row locks
  // while deleting families could deadlock with a rotation, which locks a
  // family before its token.
  Result<std::int64_t> purge(Seconds now, std::chrono::seconds keep) override {
    const Seconds cutoff = now - keep;
    return pool_.run(kWrite, [&](PGconn* conn) -> Result<std::int64_t> {
      std::int64_t deleted = 0;
      // Tokens first: a family is purged only once it has none left.
      for (const auto& [sql, before] :
           {std::pair{kPurgeTokens, cutoff}, std::pair{kPurgeFamilies, cutoff},
            std::pair{kPurgeJtis, now}, std::pair{kPurgeSubjects, now}}) {
        auto rows = exec(conn, sql, before);
        if (!rows) return fail(rows.error());
        deleted += rows->affected();
      }
      return deleted;
    });
  }

 private:
  Pool& pool_;
};

class PostgresKeyStore final : public KeyStore {
 public:
  explicit PostgresKeyStore(Pool& pool) : pool_(pool) {}

  Status activate_key(const StoredKey& k, Seconds previous_not_after) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return transaction(conn, [&]() -> Status {
        if (auto locked = exec_script(conn, kLockKeys); !locked) return locked;
        // Demote first: the unique index allows one Active row at a time.
        if (auto demoted = exec(conn, kDemoteActiveKey, previous_not_after); !demoted) {
          return fail(demoted.error());
        }
        return done(exec(conn, kInsertActiveKey, k.kid, k.alg, k.private_sealed, k.public_jwk,
                         k.created_at, k.not_after));
      });
    });
  }

  Result<std::vector<StoredKey>> list_keys() override {
    return pool_.run(kIdempotent,
                     [&](PGconn* conn) { return query_all(conn, kListKeys, read_key); });
  }

  Status set_key_status(std::string_view kid, KeyStatus status) override {
    return pool_.run(kWrite, [&](PGconn* conn) {
      return expect_one_row(exec(conn, kSetKeyStatus, kid, status_value(status)));
    });
  }

 private:
  Pool& pool_;
};

}  // namespace

std::unique_ptr<TokenStore> make_token_store(Pool& pool) {
  return std::make_unique<PostgresTokenStore>(pool);
}

std::unique_ptr<KeyStore> make_key_store(Pool& pool) {
  return std::make_unique<PostgresKeyStore>(pool);
}

}  // namespace gh::store::postgres
