// JwtError: every way signing, key handling or verifying a JWT can fail.
//
// One value per failure a caller, the audit log or a test can tell apart
// (jwt_verify_lib status.h style). The HTTP layer may merge them on the way
// out (everything but WrongAudience leaves as 401 invalid_token); the audit
// log keeps the precise value.
#pragma once

#include <cstdint>
#include <system_error>

#include "core/base/result.h"

namespace gh::jwt {

enum class JwtError : std::uint8_t {
  Malformed = 1,    // not exactly three '.'-separated segments, or an empty segment
  TooLarge,         // longer than VerifyOptions::max_token_bytes
  BadEncoding,      // a segment is not canonical unpadded base64url (RFC 7515 §2)
  BadHeader,        // not a strict JSON object; alg missing; alg/kid/typ not strings
  BadPayload,       // not a strict JSON object (duplicate member, bad UTF-8, ...)
  AlgMismatch,      // header alg is not the key's pinned alg ("none", HS/RS confusion)
  UnknownKid,       // no key in the set has the header's kid
  MissingKid,       // the header has no kid (we never guess a key)
  ForbiddenHeader,  // jku, x5u, jwk, x5c, x5t, x5t#S256 or cty (RFC 8725 §3.10, §3.11)
  UnsupportedCrit,  // crit present: we implement no JWS extensions (RFC 7515 §4.1.11)
  WrongType,        // typ absent or not the expected type (RFC 8725 §3.11, RFC 9068 §4)
  BadSignature,     // the key named by kid did not verify the signature
  Expired,          // now > exp + leeway
  NotYetValid,      // now + leeway < nbf
  IssuedInFuture,   // iat > now + leeway
  WrongIssuer,      // iss is not the configured issuer (or none is configured)
  WrongAudience,    // aud lacks the configured audience (or none is configured)
  MissingClaim,     // exp, iat, iss, aud or (if required) sub is absent
  BadClaimType,     // exp/nbf/iat not int64, iss/sub not strings, aud not string(s)
  KeyError,         // unusable key: wrong type/curve/size, private JWK member, OpenSSL failure
  DuplicateKid,     // KeySet::add with a kid already in the set
};
GH_DECLARE_ERROR_CATEGORY(JwtError)

}  // namespace gh::jwt

template <>
struct std::is_error_code_enum<gh::jwt::JwtError> : std::true_type {};
