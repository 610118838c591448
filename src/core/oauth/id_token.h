// ID tokens from an upstream OpenID provider (OpenID Connect Core §2,
// §3.1.3.7): the provider's keys, the signature check and the claims rules.
//
// Signature: verify_id_token goes through gh::jwt::verify_jwt, the strict JWS
// verifier our own access tokens use. The provider's JWK set becomes a KeySet
// in which every key is pinned to one asymmetric algorithm (RS256, ES256 or
// EdDSA; a kty "oct" key is never imported), so the token's alg cannot choose
// the check: "none", HS256 signed with the provider's public key, and an alg
// that differs from the key's all fail with a JwtError. A token without kid
// is refused (MissingKid) rather than tried against every key.
//
// Thread-safety: pure functions; a KeySet may be shared read-only.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/clock.h"
#include "core/base/result.h"
#include "core/jwt/key_set.h"
#include "core/oauth/error.h"

namespace gh::oauth {

struct ProviderKeys {
  jwt::KeySet keys;
  std::size_t skipped = 0;  // keys left out: use "enc", unsupported kty/crv/alg, unusable
};

// The signing keys of a provider's JWK set (RFC 7517 §5), e.g. Google's
// https://www.googleapis.com/oauth2/v3/certs. Keys we cannot or must not use
// are skipped and counted (a provider may publish P-384 or encryption keys
// next to the ones it signs ID tokens with): "use" other than "sig", "alg"
// other than RS256/ES256/EdDSA, kty "oct", no kid, a key VerifyKey::from_jwk
// refuses (e.g. RSA under 2048 bits). Errors: BadJwks (not a strict JSON
// object with a "keys" array, a key that is not an object, two keys with one
// kid); NoUsableKeys if nothing is left.
[[nodiscard]] Result<ProviderKeys> parse_provider_jwks(std::string_view body);

struct IdTokenExpectations {
  std::string issuer;     // the provider's issuer, compared exactly
  std::string client_id;  // our client_id at the provider
  std::string nonce;      // the nonce this flow sent; empty fails every token
  // Audiences besides client_id that may appear in "aud" (default none: an
  // ID token naming anyone else is refused, UntrustedAudience).
  std::vector<std::string> trusted_audiences;
  // Clock skew tolerated for exp and iat (default 60 s).
  std::chrono::seconds leeway{60};
  // An ID token issued more than this before `now` (plus leeway) is TooOld: it
  // is fetched from the token endpoint seconds after issue, so an old one is a
  // replay. Default 10 minutes; zero disables the check.
  std::chrono::seconds max_age{600};
};

// What the rest of Gatehouse may use from an ID token. The identity is
// (issuer, subject), never the email (OIDC Core §5.7).
struct IdTokenIdentity {
  std::string issuer;
  std::string subject;
  std::optional<std::string> email;
  // True only if "email_verified" is the JSON literal true. Google once sent
  // the string "true"; a string (or anything else) counts as not verified, so
  // the worst a provider's sloppy typing costs is an automatic account link
  // that does not happen (the person signs in, then links from /account).
  bool email_verified = false;
  std::optional<std::string> name;
  Seconds issued_at;
  Seconds expires_at;
  // When the person last authenticated at the provider (OIDC Core §2
  // "auth_time"), if the token says. Required by a re-authentication flow.
  std::optional<Seconds> auth_time;
};

// Checks the claims of an ID token whose signature was already verified,
// returning the first failure: BadClaimType if `claims` is not an object;
// iss (MissingClaim, BadClaimType, WrongIssuer); aud, a string or array of
// strings (MissingClaim, BadClaimType, WrongAudience without client_id,
// UntrustedAudience for another value not in trusted_audiences); azp
// (BadClaimType; MissingAzp if aud has several values; WrongAzp if present
// and not client_id); exp (MissingClaim, BadClaimType, Expired iff
// now > exp + leeway); iat (MissingClaim, BadClaimType, IssuedInFuture iff
// iat > now + leeway, TooOld); nonce (MissingClaim, BadClaimType,
// NonceMismatch, compared in constant time); sub (MissingClaim,
// BadClaimType, BadSubject unless 1-255 printable ASCII characters, §2);
// email/name (BadClaimType if present and not strings); auth_time
// (BadClaimType if present and not an integer).
// On aud with several values: OIDC Core errata set 2 no longer requires azp
// then, but we still do, and we refuse audiences we were not told to trust
// (SECURITY-CHECKLIST.md C9 and decision 7).
[[nodiscard]] Result<IdTokenIdentity> validate_id_token_claims(const nlohmann::json& claims,
                                                               const IdTokenExpectations& expect,
                                                               Seconds now);

// Verifies the compact JWS `token` against the provider's `keys`, then
// validate_id_token_claims. Errors: first a gh::jwt::JwtError from
// jwt::verify_jwt (TooLarge over 16 KiB, Malformed, BadHeader, AlgMismatch,
// MissingKid, UnknownKid — on which the caller refreshes the JWKS once and
// retries —, BadSignature, then its own exp/iat/iss/aud checks: Expired,
// IssuedInFuture, WrongIssuer, WrongAudience, MissingClaim, BadClaimType);
// then WrongJwtType if the header typ is present and not "JWT" (e.g. an
// at+jwt access token or logout+jwt); then every OAuthError above.
[[nodiscard]] Result<IdTokenIdentity> verify_id_token(std::string_view token,
                                                      const jwt::KeySet& keys,
                                                      const IdTokenExpectations& expect,
                                                      Seconds now);

}  // namespace gh::oauth
