// The front-channel half of the authorization code flow: the URL we send the
// browser to (RFC 6749 §4.1.1, OpenID Connect Core §3.1.2.1, RFC 7636 §4.3)
// and the callback it comes back with (RFC 6749 §4.1.2, RFC 9207).
//
// Pure functions. state, nonce and the PKCE verifier are made and kept by the
// caller (bound to the browser by a short-lived cookie, docs/oauth.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/oauth/error.h"

namespace gh::oauth {

struct AuthorizationRequest {
  std::string authorization_endpoint;  // from discovery or config; may already have a query
  std::string client_id;
  std::string redirect_uri;    // exactly as registered at the provider
  std::string scope;           // space-separated, e.g. "openid email profile"
  std::string state;           // per flow, >= 128 bits, single use
  std::string nonce;           // per flow; empty only for plain OAuth 2.0 (GitHub)
  std::string code_challenge;  // code_challenge_s256(verifier)
  // Re-authentication (OpenID Connect Core §3.1.2.1): when set, the request
  // also carries prompt=login and max_age=0, so the provider must ask the
  // person again instead of answering from its own session, and must put
  // auth_time in the ID token (§2, max_age). OIDC only (needs a nonce).
  bool force_login = false;
};

// authorization_endpoint + ('?' or '&') + response_type=code, client_id,
// redirect_uri, scope, state, [nonce,] code_challenge, code_challenge_method=S256,
// [prompt=login, max_age=0 when force_login,] in that order, each value percent-encoded (everything
// but the unreserved characters, so a space is %20, never '+'). An existing query is kept (RFC 6749
// §3.1). Errors: BadUrl/InsecureUrl (check_endpoint_url), BadUrl if the existing query already
// names one of our parameters (the provider would see it twice), MissingParameter if client_id,
// redirect_uri, scope, state or code_challenge is empty, or if force_login is set without a nonce.
[[nodiscard]] Result<std::string> authorization_url(const AuthorizationRequest& request);

// The parameters of a callback we look at; the others (Google's authuser,
// prompt, scope, ...) are ignored but still checked for form and duplicates.
struct CallbackParams {
  std::optional<std::string> code;
  std::optional<std::string> state;
  std::optional<std::string> iss;  // RFC 9207
  std::optional<std::string> error;
  std::optional<std::string> error_description;
};

// Limits on a callback query.
inline constexpr std::size_t kMaxCallbackBytes = 8192;
inline constexpr std::size_t kMaxCallbackParams = 32;

// Parses the query string of a callback (the part after '?', without it) as
// application/x-www-form-urlencoded. Errors: BadCallback (over the limits,
// malformed %XX, an empty name, a value with a control character or invalid
// UTF-8); DuplicateParameter if any name appears twice: a second "state" or
// "code" must never be able to shadow the first.
[[nodiscard]] Result<CallbackParams> parse_callback(std::string_view query);

struct ExpectedCallback {
  std::string_view state;   // the state this browser's flow started with
  std::string_view issuer;  // the issuer of the provider this flow went to
  // True when the provider's metadata says authorization_response_iss_parameter_supported.
  bool iss_required = false;
};

// The authorization code, if the callback belongs to this flow. Checks in
// order: MissingState; StateMismatch (constant-time compare); IssuerMismatch if
// iss is present and not exactly `issuer` (also on error responses: RFC 9207
// §2.4); MissingIssuer if absent and required; ProviderError if error is
// present (detail: the error code, e.g. "access_denied"); MissingCode.
[[nodiscard]] Result<std::string> check_callback(const CallbackParams& callback,
                                                 const ExpectedCallback& expected);

}  // namespace gh::oauth
