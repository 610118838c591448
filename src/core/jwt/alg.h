// Alg: the JWS algorithms Gatehouse signs and verifies (RFC 7518 §3, RFC 8037 §3.1).
//
// Every key is pinned to exactly one Alg when it is created or imported, and a
// token's header alg must name that Alg exactly (RFC 8725 §3.1). There is no
// "none" and no way to pick an algorithm from a token.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace gh::jwt {

enum class Alg : std::uint8_t {
  EdDSA,  // Ed25519 (RFC 8037); preferred: small, fast, deterministic
  ES256,  // ECDSA P-256 + SHA-256, signature r||s (RFC 7518 §3.4)
  RS256,  // RSASSA-PKCS1-v1_5 + SHA-256, the RFC 9068 §2.1 mandatory algorithm
  HS256,  // HMAC-SHA-256 with a shared secret of >= 32 bytes; never published in a JWKS
};

// The JOSE name: "EdDSA", "ES256", "RS256", "HS256".
[[nodiscard]] std::string_view alg_name(Alg alg);

// The Alg whose JOSE name is exactly `name` (case-sensitive, RFC 7515 §4.1.1),
// else nullopt ("none", "hs256", "HS256 " and every other value).
[[nodiscard]] std::optional<Alg> parse_alg(std::string_view name);

}  // namespace gh::jwt
