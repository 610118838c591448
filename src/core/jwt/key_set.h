// KeySet: the verification keys a verifier trusts, looked up by kid.
//
// Filled with add() at startup or on a JWKS refresh, then shared read-only:
// after the last add(), concurrent find()/jwks() calls are safe (rotation
// builds a new KeySet and swaps a shared_ptr<const KeySet>; this class holds
// no lock). Keys are kept in kid order.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/base/result.h"
#include "core/jwt/verify_key.h"

namespace gh::jwt {

class KeySet {
 public:
  KeySet() = default;
  KeySet(KeySet&&) noexcept = default;
  KeySet& operator=(KeySet&&) noexcept = default;
  KeySet(const KeySet&) = delete;
  KeySet& operator=(const KeySet&) = delete;

  // Adds `key`. Errors: DuplicateKid if a key with the same kid is present
  // (two keys behind one kid would make the lookup ambiguous).
  [[nodiscard]] Status add(VerifyKey key);

  // The key whose kid is exactly `kid` (byte comparison), or nullptr.
  [[nodiscard]] const VerifyKey* find(std::string_view kid) const;

  [[nodiscard]] std::size_t size() const { return keys_.size(); }

  // {"keys":[...]} with the public JWK of every asymmetric key, for
  // /.well-known/jwks.json (RFC 7517 §5). HS256 keys are never included.
  [[nodiscard]] nlohmann::json jwks() const;

 private:
  std::map<std::string, VerifyKey, std::less<>> keys_;
};

}  // namespace gh::jwt
