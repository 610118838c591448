// Token state: refresh-token families and their tokens, the access-token
// denylist, and signing keys. Part of the Store (see store.h); every backend
// implements these, and tests/conformance runs one suite per interface.
//
// Tokens are never stored in plaintext: `hash` is the hex SHA-256 of the
// opaque token (>= 256 bits of entropy, so a fast hash is right), and every
// lookup is an indexed equality on it. Thread-safe; methods block.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/result.h"

namespace gh::store {

enum class RefreshStatus : std::uint8_t { Active = 1, Rotated = 2, Revoked = 3 };

struct RefreshToken {
  std::string hash;       // hex SHA-256 of the token; primary key
  std::string family_id;  // UUID; all tokens descended from one login
  std::string user_id;
  std::string parent_hash;  // empty for the first token of a family
  std::string child_hash;   // set when rotated: the token that replaced this one
  RefreshStatus status = RefreshStatus::Active;
  Seconds created_at{};
  Seconds expires_at{};
  std::optional<Seconds> rotated_at;  // set when status became Rotated
  Seconds auth_time{};                // when the user last authenticated (carried through rotations)
  std::string client_id;              // may be empty
  std::string amr;                    // how the user authenticated (RFC 8176, space-separated; carried through rotations)
};

struct RefreshFamily {
  std::string id;
  std::string user_id;
  Seconds created_at{};
  std::optional<Seconds> revoked_at;
  std::string revoked_reason;  // "logout", "reuse", "logout_all", "password_change", ...
};

enum class RotateOutcome : std::uint8_t {
  Rotated = 1,  // the presented token was active: it is now Rotated and `child` is stored
  NotActive,    // the presented token exists but is not active (or expired, or its family is revoked); see `current`
  NotFound,     // no token has this hash
};

struct RotateResult {
  RotateOutcome outcome = RotateOutcome::NotFound;
  RefreshToken current;                  // the presented token's row as it is after the call (if found)
  std::optional<RefreshToken> child;     // for NotActive with a child: the child's row as it is now
  std::optional<RefreshFamily> family;   // the presented token's family (if found)
};

// An access token (by jti) or a whole subject whose tokens are revoked until `expires_at`.
struct DeniedJti {
  std::string jti;
  Seconds expires_at{};
};
struct DeniedSubject {
  std::string user_id;
  Seconds not_before{};  // tokens with iat < not_before are revoked
  Seconds expires_at{};  // after this, no token issued before not_before is still alive
};

class TokenStore {
 public:
  virtual ~TokenStore() = default;

  // Creates a family and its first token in one transaction. Conflict if either exists.
  [[nodiscard]] virtual Status create_family(const RefreshFamily& family, const RefreshToken& first) = 0;

  // The atomic compare-and-swap at the heart of rotation. In one transaction:
  // if the token `hash` is Active, `now < expires_at`, and its family is not
  // revoked, mark it Rotated (rotated_at = now, child_hash = child.hash) and
  // insert `child`, returning Rotated. Otherwise change nothing and return
  // NotActive (with the current rows) or NotFound. Exactly one of any number
  // of concurrent calls for one token returns Rotated.
  [[nodiscard]] virtual Result<RotateResult> rotate(std::string_view hash, const RefreshToken& child, Seconds now) = 0;

  // NotFound if absent.
  [[nodiscard]] virtual Result<RefreshToken> find_refresh(std::string_view hash) = 0;
  [[nodiscard]] virtual Result<RefreshFamily> find_family(std::string_view family_id) = 0;

  // Revokes the family and all its tokens (status Revoked). Idempotent; NotFound if no such family.
  [[nodiscard]] virtual Status revoke_family(std::string_view family_id, std::string_view reason, Seconds now) = 0;
  // Revokes every non-revoked family of the user except `keep_family_id` (if not empty).
  // Returns the ids of the families it revoked.
  [[nodiscard]] virtual Result<std::vector<std::string>> revoke_user_families(std::string_view user_id,
                                                                  std::string_view keep_family_id,
                                                                  std::string_view reason, Seconds now) = 0;

  // Access-token denylist. Idempotent inserts.
  [[nodiscard]] virtual Status deny_jti(const DeniedJti& d) = 0;
  [[nodiscard]] virtual Status deny_subject(const DeniedSubject& d) = 0;  // keeps the latest not_before per user
  // Every entry with expires_at > now (small: only revocations younger than an access-token lifetime).
  [[nodiscard]] virtual Result<std::vector<DeniedJti>> denied_jtis(Seconds now) = 0;
  [[nodiscard]] virtual Result<std::vector<DeniedSubject>> denied_subjects(Seconds now) = 0;

  // Deletes refresh tokens expired before `now - keep` (and families left
  // without tokens), and denylist rows with expires_at <= now. Returns rows deleted.
  [[nodiscard]] virtual Result<std::int64_t> purge(Seconds now, std::chrono::seconds keep) = 0;
};

enum class KeyStatus : std::uint8_t {
  Active = 1,  // signs new tokens; exactly one at a time
  Published,   // no longer signs; still in the JWKS until `not_after`
  Retired,     // neither signs nor is published
};

struct StoredKey {
  std::string kid;
  std::string alg;             // "EdDSA", "ES256", "RS256", "HS256"
  std::string private_sealed;  // private key sealed under the KEK (base64url), never plaintext
  std::string public_jwk;      // JSON text; empty for HS256
  KeyStatus status = KeyStatus::Active;
  Seconds created_at{};
  std::optional<Seconds> not_after;  // for Published: when it may be retired
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;
  // Inserts `key` as Active and demotes the previous Active key (if any) to
  // Published with not_after = `previous_not_after`, in one transaction.
  // Conflict if the kid exists.
  [[nodiscard]] virtual Status activate_key(const StoredKey& key, Seconds previous_not_after) = 0;
  // All keys, newest first.
  [[nodiscard]] virtual Result<std::vector<StoredKey>> list_keys() = 0;
  // Sets a key's status (e.g. Retired). NotFound if absent.
  [[nodiscard]] virtual Status set_key_status(std::string_view kid, KeyStatus status) = 0;
};

}  // namespace gh::store
