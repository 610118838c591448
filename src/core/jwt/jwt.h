// Signing and verifying JWT access tokens (RFC 7519) in JWS compact form
// (RFC 7515), under the RFC 8725 best practices and the RFC 9068 profile.
//
// Pure functions: no I/O, no clock (the caller passes `now`), no globals.
// What verify_jwt refuses, beyond a bad signature or claims: any algorithm
// other than the one pinned on the key named by kid (so no "none" and no
// HS/RS confusion), tokens without kid, jku/x5u/jwk/x5c/x5t/cty headers (we
// never fetch or trust keys or nested content named by a token), crit,
// non-canonical base64url, duplicate JSON members, and JWE or JSON
// serialization. The payload is parsed only after the signature verified.
//
// Thread-safety: both functions are reentrant; a KeySet may be shared.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/base/clock.h"
#include "core/base/result.h"
#include "core/jwt/alg.h"
#include "core/jwt/error.h"
#include "core/jwt/key_set.h"
#include "core/jwt/signing_key.h"
#include "core/jwt/verify_key.h"

namespace gh::jwt {

struct VerifyOptions {
  // Required exact value of "iss". Empty fails every token (WrongIssuer): a
  // verifier that forgot to configure it must not accept any issuer.
  std::string issuer;
  // Required member of "aud" (a string or an array of strings). Empty fails
  // every token (WrongAudience).
  std::string audience;
  // Expected "typ", compared case-insensitively, with or without the
  // "application/" prefix (RFC 9068 §4). Empty skips the typ check (for JWT
  // kinds that predate explicit typing, e.g. upstream ID tokens).
  std::string typ = "at+jwt";
  // Clock skew tolerated for exp, nbf and iat, in seconds (default 30; negative counts as 0).
  std::chrono::seconds leeway{30};
  // Tokens longer than this (bytes) are refused before any parsing (default 8 KiB).
  std::size_t max_token_bytes = 8192;
  // Require a non-empty string "sub" (RFC 9068 §2.2). Default true.
  bool require_sub = true;
};

struct VerifiedJwt {
  nlohmann::json header;  // the protected header as parsed
  nlohmann::json claims;  // the payload, a JSON object
  std::string kid;        // the kid of the key that verified it
};

// "base64url(header).base64url(claims).base64url(signature)" with header
// {"alg":<key alg>,"typ":<typ>,"kid":<key kid>} in that order ("typ" left out
// if `typ` is empty). `claims` is serialised as given; the caller sets iss,
// sub, aud, exp, iat, jti, client_id (RFC 9068 §2.2).
// Errors: BadPayload (claims not an object or holding invalid UTF-8), KeyError.
[[nodiscard]] Result<std::string> sign_jwt(const SigningKey& key, const nlohmann::json& claims,
                                           std::string_view typ = "at+jwt");

// Verifies `token` against `keys` and `options` at time `now`. Checks, in
// order, returning the first failure: TooLarge; Malformed (not 3 non-empty
// segments; an empty signature, as in alg "none" tokens, is Malformed);
// BadEncoding (header); BadHeader (not a strict JSON object, alg missing or
// not a string, kid/typ not strings); ForbiddenHeader; UnsupportedCrit;
// WrongType; MissingKid; UnknownKid; AlgMismatch; BadEncoding (signature);
// BadSignature; BadEncoding (payload); BadPayload; then the claims: exp
// (MissingClaim, BadClaimType, Expired iff now > exp + leeway), nbf if present
// (BadClaimType, NotYetValid iff now + leeway < nbf), iat (MissingClaim,
// BadClaimType, IssuedInFuture iff iat > now + leeway), iss (MissingClaim,
// BadClaimType, WrongIssuer), aud (MissingClaim, BadClaimType, WrongAudience),
// sub (BadClaimType if present and not a string; MissingClaim if required and
// absent or empty). exp/nbf/iat must be JSON integers that fit in int64.
[[nodiscard]] Result<VerifiedJwt> verify_jwt(std::string_view token, const KeySet& keys,
                                             const VerifyOptions& options, Seconds now);

// Test hook for published JWS vectors that carry no kid, typ or claims
// (RFC 7515 Appendix A): checks only framing, the header's alg against `key`
// and the signature. Production code must use verify_jwt.
// Errors: as verify_jwt up to BadSignature, minus the typ and kid checks.
[[nodiscard]] Status verify_signature_for_test(std::string_view token, const VerifyKey& key);

}  // namespace gh::jwt
