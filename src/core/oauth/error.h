// OAuthError: every way a step of a federated sign-in (Gatehouse as OAuth 2.0
// client / OpenID Connect relying party, issue #7) can fail in the pure core.
//
// One value per failure a caller, the audit log or a test can tell apart. The
// HTTP layer merges them on the way out (see docs/oauth.md "Error codes"); the
// audit log keeps the precise value. ID-token signature and framing failures
// keep their gh::jwt::JwtError value (see id_token.h).
#pragma once

#include <cstdint>
#include <system_error>

#include "core/base/result.h"

namespace gh::oauth {

enum class OAuthError : std::uint8_t {
  // PKCE (RFC 7636)
  WeakEntropy = 1,  // fewer than 32 or more than 96 random bytes offered for a code_verifier
  BadVerifier,      // a code_verifier that is not 43-128 unreserved characters (§4.1)
  // URLs and the authorization request
  BadUrl,            // not an absolute http(s) URL, or userinfo, fragment, space/control chars
  InsecureUrl,       // http:// to a host other than 127.0.0.1, [::1] or localhost
  MissingParameter,  // a required authorization request parameter is empty
  // The callback (redirect back from the provider)
  BadCallback,         // malformed query: percent-encoding, control chars, bad UTF-8, too long
  DuplicateParameter,  // a callback parameter appears more than once
  MissingState,        // no state parameter
  StateMismatch,       // state differs from the flow's (CSRF, replay, other browser)
  MissingIssuer,       // no iss parameter, but the provider advertises RFC 9207 support
  IssuerMismatch,      // iss parameter is not this provider's issuer (mix-up, RFC 9207 §2.4)
  ProviderError,       // the provider answered error=... (detail: the error code)
  MissingCode,         // neither code nor error
  // Discovery (OpenID Connect Discovery 1.0 §3, §4.3)
  BadDiscovery,             // not a strict JSON object, or a member of the wrong type
  DiscoveryIssuerMismatch,  // "issuer" is not exactly the configured issuer
  MissingEndpoint,          // authorization_endpoint, token_endpoint or jwks_uri absent
  PkceNotSupported,         // code_challenge_methods_supported present without "S256"
  CodeFlowNotSupported,     // response_types_supported present without "code"
  // Provider keys (JWKS)
  BadJwks,       // not a JSON object with a "keys" array, or two keys share a kid
  NoUsableKeys,  // no key in the set is a signing key we support
  // ID token claims (OpenID Connect Core §3.1.3.7)
  MissingClaim,       // iss, sub, aud, exp, iat or nonce absent
  BadClaimType,       // a claim of the wrong JSON type (e.g. exp not an integer)
  WrongJwtType,       // header typ present and not "JWT" (an access or logout token)
  WrongIssuer,        // iss is not exactly the provider's issuer
  WrongAudience,      // aud does not contain our client_id
  UntrustedAudience,  // aud lists an audience beside ours that we were not told to trust
  MissingAzp,         // several audiences and no azp
  WrongAzp,           // azp present and not our client_id
  Expired,            // now > exp + leeway
  IssuedInFuture,     // iat > now + leeway
  TooOld,             // iat < now - max_age - leeway (a replayed, old ID token)
  NonceMismatch,      // nonce differs from the flow's (replay, code injection)
  BadSubject,         // sub empty, over 255 characters or not printable ASCII
  // Token endpoint (RFC 6749 §5)
  BadTokenResponse,    // not a strict JSON object, wrong member types, non-2xx without error
  TokenEndpointError,  // the endpoint answered {"error":...} (detail: the error code)
  WrongTokenType,      // token_type is not "Bearer" (compared case-insensitively)
  MissingIdToken,      // an OpenID Connect flow got no id_token
  // Provider user APIs (GitHub /user, /user/emails)
  BadUserInfo,  // not the expected JSON shape (id not a positive integer, ...)
};
GH_DECLARE_ERROR_CATEGORY(OAuthError)

}  // namespace gh::oauth

template <>
struct std::is_error_code_enum<gh::oauth::OAuthError> : std::true_type {};
