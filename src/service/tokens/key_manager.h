// KeyManager: the signing keys of this deployment. Keys live in the store with
// their private part sealed under the KEK; the manager keeps an immutable
// snapshot (active signing key, verification key set, JWKS document) and
// swaps it atomically on reload, so readers never lock.
//
// Rotation makes a new key active; the previous one stays published (in the
// JWKS and accepted for verification) until every token it signed has expired
// (`publish_overlap`), after which reload() drops it. Instances pick up a
// rotation made elsewhere on their next reload (config tokens.key_reload_s).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "core/base/clock.h"
#include "core/base/random.h"
#include "core/crypto/seal.h"
#include "core/jwt/jwt.h"
#include "store/store.h"

namespace gh::service {

enum class KeyError : std::uint8_t {
  NoActiveKey = 1,  // no key signs tokens yet (run `gatehouse keys rotate`)
  RetireActive,     // the active key cannot be retired; rotate first
  Unsealable,       // a stored key does not open with this KEK (wrong KEK?)
};
GH_DECLARE_ERROR_CATEGORY(KeyError)

struct KeySnapshot {
  std::shared_ptr<const jwt::SigningKey> active;  // null if no key yet
  jwt::KeySet verify;                             // active + published keys
  std::string jwks_json;                          // {"keys":[...]} of the public keys
  std::uint64_t generation = 0;                   // changes whenever the key set changes
  std::string fingerprint;                        // kid:status list the snapshot was built from
};

struct KeyInfo {
  std::string kid, alg, status;
  Seconds created_at{};
  std::optional<Seconds> not_after;
};

class KeyManager {
 public:
  KeyManager(store::KeyStore& keys, const crypto::Kek& kek, Clock& clock, Random& rng,
             std::chrono::seconds publish_overlap);

  // Re-reads the keys and swaps the snapshot. Errors: Unsealable, StoreError.
  [[nodiscard]] Status reload();
  // If no active key exists, generates one with `alg` (dev mode, first start).
  [[nodiscard]] Status ensure_active(jwt::Alg alg);
  // Generates and activates a new key; the old one stays published. Returns the new kid.
  [[nodiscard]] Result<std::string> rotate(jwt::Alg alg);
  // Activates an existing private key (PKCS#8 PEM; for HS256 the raw secret),
  // e.g. one migrated from another system. Returns the new kid.
  [[nodiscard]] Result<std::string> import(jwt::Alg alg, const SecretString& pem);
  // Stops publishing a key now. Errors: RetireActive, StoreError::NotFound.
  [[nodiscard]] Status retire(std::string_view kid);
  [[nodiscard]] Result<std::vector<KeyInfo>> list();

  [[nodiscard]] std::shared_ptr<const KeySnapshot> snapshot() const { return snapshot_.load(); }

 private:
  [[nodiscard]] Result<std::string> activate(jwt::SigningKey key, jwt::Alg alg, const std::string& kid);
  [[nodiscard]] std::string new_kid();

  store::KeyStore& keys_;
  const crypto::Kek& kek_;
  Clock& clock_;
  Random& rng_;
  std::chrono::seconds overlap_;
  std::mutex write_mu_;  // serialises rotate/retire/ensure within this process
  std::atomic<std::shared_ptr<const KeySnapshot>> snapshot_;
};

}  // namespace gh::service

template <>
struct std::is_error_code_enum<gh::service::KeyError> : std::true_type {};
