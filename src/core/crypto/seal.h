// Sealing secrets at rest under the key-encryption key (KEK): private signing
// keys today, TOTP seeds later. XChaCha20-Poly1305 (libsodium) with a random
// 192-bit nonce, so random nonces never collide in practice; the associated
// data binds a sealed value to its row (e.g. the key id), so a sealed blob
// copied into another row does not open. Pure: the nonce comes from Random.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/random.h"
#include "core/base/result.h"
#include "core/base/secret.h"

namespace gh::crypto {

enum class SealError : std::uint8_t {
  BadKek = 1,     // the KEK is not 32 bytes of base64url
  Malformed,      // the sealed text is not base64url or is too short
  OpenFailed,     // wrong KEK, wrong associated data, or tampered ciphertext
};
GH_DECLARE_ERROR_CATEGORY(SealError)

class Kek {
 public:
  // From the configured base64url text (32 bytes, more are ignored). Errors: BadKek.
  [[nodiscard]] static Result<Kek> from_base64url(std::string_view text);

  // base64url(version byte || nonce || ciphertext+tag).
  [[nodiscard]] std::string seal(std::string_view plaintext, std::string_view aad, Random& rng) const;
  // Errors: Malformed, OpenFailed.
  [[nodiscard]] Result<SecretString> open(std::string_view sealed, std::string_view aad) const;
  // A 32-byte subkey for one purpose: HMAC-SHA256(KEK, label). Different labels give independent keys.
  [[nodiscard]] SecretString derive(std::string_view label) const;

 private:
  explicit Kek(SecretString key) : key_(std::move(key)) {}
  SecretString key_;
};

// HMAC-SHA256(key, data), raw 32 bytes.
[[nodiscard]] std::string hmac_sha256(std::string_view key, std::string_view data);

}  // namespace gh::crypto

template <>
struct std::is_error_code_enum<gh::crypto::SealError> : std::true_type {};
