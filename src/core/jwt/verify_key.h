// VerifyKey: a public key (or HMAC secret) pinned to one Alg, with its kid.
//
// Imported from a JWK (RFC 7517) or derived from our own SigningKey. The Alg
// is fixed at creation; verify() never looks at a token's header, so a token
// cannot choose how it is checked (RFC 8725 §3.1). Each key keeps its
// prepared OpenSSL state, so verify() costs about one raw OpenSSL operation.
//
// Thread-safety: immutable after creation; verify() may run on many threads.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/base/result.h"
#include "core/jwt/alg.h"
#include "core/jwt/error.h"
#include "core/jwt/handles.h"
#include "core/jwt/signing_key.h"

namespace gh::jwt {

class VerifyKey {
 public:
  // A public key from a JWK of kty OKP (crv Ed25519), EC (crv P-256) or RSA
  // (2048-8192 bits, odd e with 65537 <= e < 2^256). "kid" is required (1-256 bytes of UTF-8);
  // "alg", if present, must match the key type, and is inferred from it if
  // absent (each supported type has exactly one algorithm); "use" must be "sig"
  // if present. Errors: KeyError, with a detail naming the problem, also for
  // any private member (d, p, q, dp, dq, qi, oth) and for kty "oct": a
  // secret that came in a JWK set is not a secret.
  [[nodiscard]] static Result<VerifyKey> from_jwk(const nlohmann::json& jwk);

  // The verifying half of `key`: its public key only (no private material is
  // copied), or for HS256 the same secret. Same kid and alg.
  // Throws std::bad_alloc if OpenSSL cannot allocate.
  [[nodiscard]] static VerifyKey from_signing_key(const SigningKey& key);

  VerifyKey(VerifyKey&&) noexcept;
  VerifyKey& operator=(VerifyKey&&) noexcept;
  VerifyKey(const VerifyKey&) = delete;
  VerifyKey& operator=(const VerifyKey&) = delete;
  ~VerifyKey();

  // True iff `signature` (raw bytes, already base64url-decoded) is a valid
  // signature of `signing_input` for this key's alg. Rejected before any
  // cryptography: EdDSA/ES256 signatures that are not exactly 64 bytes, ES256
  // r or s outside [1, n-1] (CVE-2022-21449), RS256 signatures whose length
  // is not the modulus length. HS256 compares in constant time.
  [[nodiscard]] bool verify(std::string_view signing_input, std::string_view signature) const;

  // The public JWK (same shape as SigningKey::public_jwk); JSON null for HS256.
  [[nodiscard]] nlohmann::json public_jwk() const;

  [[nodiscard]] Alg alg() const { return alg_; }
  [[nodiscard]] const std::string& kid() const { return kid_; }

 private:
  VerifyKey(Alg alg, std::string kid) : alg_(alg), kid_(std::move(kid)) {}

  Alg alg_;
  std::string kid_;
  detail::PkeyPtr pkey_;  // asymmetric algorithms: the public key only
  detail::VerifierPtr verifier_;  // asymmetric algorithms: prepared for pkey_
  detail::HmacPtr hmac_;  // HS256 only
};

}  // namespace gh::jwt
