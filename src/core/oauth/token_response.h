// The token endpoint's answer to an authorization code grant (RFC 6749 §5.1,
// §5.2; OpenID Connect Core §3.1.3.3), parsed strictly. The HTTP exchange
// itself (libcurl, TLS verification, timeouts) lives in the service layer.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/base/secret.h"
#include "core/oauth/error.h"

namespace gh::oauth {

struct TokenResponse {
  SecretString access_token;  // for the provider's APIs (GitHub /user); never logged or stored
  std::optional<std::string> id_token;             // compact JWS, for verify_id_token
  std::optional<std::chrono::seconds> expires_in;  // absent when the provider does not say
  std::optional<std::string> scope;                // the granted scope, when it differs
};

// Parses the endpoint's `http_status` and JSON `body`, returning the first
// failure: TokenEndpointError if the body is a JSON object with an "error"
// member, whatever the status (GitHub answers 200 {"error":...}); detail: the
// error code, e.g. "invalid_grant"; BadTokenResponse for a status other than
// 200, a body that is not a strict JSON object, access_token missing/empty or
// not a string, token_type missing or not a string, id_token/scope not
// strings, expires_in not a non-negative integer; WrongTokenType unless
// token_type is "Bearer" in any ASCII case (RFC 6749 §5.1, §7.1); and
// MissingIdToken if `require_id_token` (an OpenID Connect flow) and there is
// no id_token.
[[nodiscard]] Result<TokenResponse> parse_token_response(int http_status, std::string_view body,
                                                         bool require_id_token);

}  // namespace gh::oauth
