// OpenID Connect Discovery 1.0: the provider metadata we rely on, parsed and
// validated from the document at discovery_url(issuer) (url.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "core/oauth/error.h"

namespace gh::oauth {

struct ProviderMetadata {
  std::string issuer;  // exactly the configured issuer
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  std::optional<std::string> userinfo_endpoint;
  // RFC 9207 §3: when true, a callback without iss is refused (check_callback).
  bool iss_parameter_supported = false;
  // id_token_signing_alg_values_supported, if published (informational: the
  // keys, not this list, pin the algorithms; see id_token.h).
  std::vector<std::string> id_token_signing_algs;
};

// Parses `body` and checks it against `configured_issuer`, returning the first
// failure: BadDiscovery (not a strict JSON object: duplicate members, bad
// UTF-8; a member we read has the wrong type); DiscoveryIssuerMismatch unless
// "issuer" is exactly `configured_issuer` (byte comparison: no trailing-slash
// or case folding, §4.3, ASVS 10.5.3); BadUrl/InsecureUrl for the issuer
// (check_issuer_url); MissingEndpoint if authorization_endpoint,
// token_endpoint or jwks_uri is absent or empty; BadUrl/InsecureUrl for any
// endpoint (check_endpoint_url; http only on loopback hosts);
// CodeFlowNotSupported if response_types_supported is present without
// "code"; PkceNotSupported if code_challenge_methods_supported is present
// without "S256" (absent is accepted: many providers support PKCE without
// advertising it, and state+nonce are always sent too, RFC 9700 §4.7.1).
[[nodiscard]] Result<ProviderMetadata> parse_discovery(std::string_view body,
                                                       std::string_view configured_issuer);

// Production (server.mode = "production"): the issuer and every endpoint we
// would call or send the browser to — authorization, token, jwks_uri and
// userinfo if present — must be https; the loopback http that
// check_endpoint_url allows is for tests only. Error: InsecureUrl, the detail
// naming the first offending member.
[[nodiscard]] Status require_https(const ProviderMetadata& metadata);

}  // namespace gh::oauth
