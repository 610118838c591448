// JWK <-> EVP_PKEY for the public keys we publish and accept (RFC 7517,
// RFC 7518 §6, RFC 8037 §2). Internal to gh_jwt: VerifyKey::from_jwk and the
// public_jwk() methods are the interface.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "core/base/result.h"
#include "core/jwt/alg.h"
#include "core/jwt/handles.h"

namespace gh::jwt::detail {

// {"kty","crv","x"[,"y"]} or {"kty","n","e"} plus "kid", "alg", "use":"sig".
// REQUIRES: pkey_fits(pkey, alg), alg asymmetric. Null JSON if OpenSSL fails.
[[nodiscard]] nlohmann::json public_jwk_of(const EVP_PKEY* pkey, Alg alg, std::string_view kid);

struct ImportedKey {
  Alg alg;
  PkeyPtr pkey;
};

// The public key and pinned alg described by `jwk` (kid is checked by the caller).
// KeyError (detail says why) for: not an object; private members (d, p, q, dp,
// dq, qi, oth, k); kty "oct" or unknown; crv other than Ed25519/P-256; alg
// absent-and-ambiguous, unsupported or inconsistent with kty/crv; use other than
// "sig"; key_ops without "verify"; coordinates not exactly 32 bytes or not on
// the curve; RSA modulus/exponent not minimal Base64urlUInt; RSA < 2048 or
// > 8192 bits; even or < 3 public exponent.
[[nodiscard]] Result<ImportedKey> import_public_jwk(const nlohmann::json& jwk);

}  // namespace gh::jwt::detail
