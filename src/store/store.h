// Store: the persistence boundary. A backend (SQLite, PostgreSQL, and in tests
// memory) implements every interface below; one conformance suite per interface
// (tests/conformance/) runs against each backend.
//
// Thread-safety: every method may be called concurrently from many threads;
// methods block (they run on worker pools, never on an I/O thread).
// Errors: StoreError values; backends never leak SQL or driver text to the
// client-facing detail (it goes to the server log instead).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/result.h"
#include "store/audit_store.h"
#include "store/identity_store.h"
#include "store/lockout_store.h"
#include "store/mfa_store.h"
#include "store/onetime_store.h"
#include "store/session_store.h"
#include "store/tenant_store.h"
#include "store/token_store.h"

namespace gh::store {

enum class StoreError : std::uint8_t {
  NotFound = 1,   // no row matched, or a row it refers to is missing (e.g. a token's user)
  Conflict,       // a unique constraint was violated (e.g. email taken)
  Unavailable,    // the database cannot be reached or answered with an I/O error
  Busy,           // the database stayed locked past the busy timeout
  BadUrl,         // the store URL is malformed or names an unknown backend
  Internal,       // anything else the driver reported (details logged, not returned)
};
GH_DECLARE_ERROR_CATEGORY(StoreError)

struct User {
  std::string id;                // UUIDv4, never sequential
  std::string email;             // as registered (trimmed, NFC), for display and mail
  std::string email_normalized;  // case-folded key; unique
  std::string name;              // may be empty
  std::string password_hash;     // PHC/modular-crypt string; empty = no password set
  bool email_verified = false;
  bool disabled = false;
  Seconds created_at{};
  Seconds updated_at{};
};

struct UserPage {
  std::vector<User> users;
  std::optional<std::string> next_cursor;  // pass back as `after` for the next page
};

class UserStore {
 public:
  virtual ~UserStore() = default;

  // Inserts a new user. Conflict if id or email_normalized already exists.
  [[nodiscard]] virtual Status create_user(const User& user) = 0;
  // NotFound if no user has this normalized email.
  [[nodiscard]] virtual Result<User> find_user_by_email(std::string_view email_normalized) = 0;
  // NotFound if no user has this id.
  [[nodiscard]] virtual Result<User> find_user_by_id(std::string_view id) = 0;
  // Users ordered by id, `limit` at most (1..1000), starting after cursor `after`;
  // if `email_contains` is set, only users whose normalized email contains it.
  [[nodiscard]] virtual Result<UserPage> list_users(std::optional<std::string_view> after,
                                                    std::size_t limit,
                                                    std::optional<std::string_view> email_contains) = 0;
  // Replaces the password hash only if it still equals `expected_old` (a rehash
  // racing a password change must not overwrite the change). NotFound if the
  // user is gone or the hash changed meanwhile.
  [[nodiscard]] virtual Status update_password_hash(std::string_view id, std::string_view expected_old,
                                                    std::string_view new_hash, Seconds now) = 0;
  // NotFound if no user has this id.
  [[nodiscard]] virtual Status set_disabled(std::string_view id, bool disabled, Seconds now) = 0;
  // NotFound if no user has this id.
  [[nodiscard]] virtual Status set_email_verified(std::string_view id, bool verified, Seconds now) = 0;
  // Replaces the address (marked verified: the new address was just proven)
  // only if the stored normalized email still equals `expected_old`.
  // Conflict if another user has the new address; NotFound if the user is
  // gone or the address changed meanwhile.
  [[nodiscard]] virtual Status update_email(std::string_view id, std::string_view expected_old, std::string_view email,
                                            std::string_view email_normalized, Seconds now) = 0;
  // Deletes the user and every row that belongs to it (one transaction): its
  // refresh-token families and tokens, its sessions in this store, its
  // memberships, platform-admin grant, one-time tokens, second factors and provider identities (a
  // separate Redis session store is not reached: see session_store.h).
  // NotFound if absent.
  [[nodiscard]] virtual Status delete_user(std::string_view id) = 0;
  // Number of users (for metrics and the CLI).
  [[nodiscard]] virtual Result<std::int64_t> count_users() = 0;
};

// A backend: owns its connections and hands out the interfaces.
class Store {
 public:
  virtual ~Store() = default;

  // Applies pending schema migrations (idempotent, each in a transaction,
  // recorded in a schema_version table). Returns the resulting version.
  [[nodiscard]] virtual Result<int> migrate() = 0;
  // Current schema version (0 if never migrated).
  [[nodiscard]] virtual Result<int> schema_version() = 0;
  // Cheap round trip for /readyz.
  [[nodiscard]] virtual Status ping() = 0;
  // "sqlite", "postgres" or "memory".
  [[nodiscard]] virtual std::string_view backend() const = 0;

  virtual UserStore& users() = 0;
  virtual TokenStore& tokens() = 0;
  virtual KeyStore& keys() = 0;
  // Browser sessions kept in this database (schema version >= 3).
  virtual SessionStore& sessions() = 0;
  // The audit log and the lockout counters (schema version >= 4).
  virtual AuditStore& audit() = 0;
  virtual LockoutStore& lockout() = 0;
  // Tenants, memberships, platform admins, service clients (schema version >= 5).
  virtual TenantStore& tenants() = 0;
  // Single-use tokens: password reset, email verification, MFA challenges (schema version >= 6).
  virtual OneTimeTokenStore& one_time_tokens() = 0;
  // Second factors: TOTP and recovery codes; refresh tokens carry `amr` (schema version >= 7).
  virtual MfaStore& mfa() = 0;
  // Identities at external providers and federated sign-in state (schema version >= 8).
  virtual IdentityStore& identities() = 0;
};

struct StoreOptions {
  std::size_t pool_size = 4;   // connections kept open (PostgreSQL) / readers (SQLite)
  int busy_timeout_ms = 5000;  // how long a write waits for a lock before Busy
};

// Opens a backend by URL:
//   sqlite:///abs/path.db, sqlite://./rel/path.db, sqlite::memory:
//   postgres://user@host:port/db?... or postgresql://... (libpq conninfo URI)
//   memory:// (tests only)
// BadUrl for an unknown scheme; Unavailable if the database cannot be opened.
[[nodiscard]] Result<std::unique_ptr<Store>> open_store(std::string_view url, const StoreOptions& options = {});

}  // namespace gh::store

template <>
struct std::is_error_code_enum<gh::store::StoreError> : std::true_type {};
