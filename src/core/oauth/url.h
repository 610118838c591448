// Checks on the URLs a provider gives us (issuer, endpoints) and the URL of
// its discovery document. Strict on purpose: these URLs come from config or
// from a document fetched over the network, and the back-channel calls to
// them carry our client secret and the authorization code.
#pragma once

#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/oauth/error.h"

namespace gh::oauth {

// URLs longer than this (bytes) are refused.
inline constexpr std::size_t kMaxUrlBytes = 2048;

// True for the hosts on which plain http is allowed (tests, a provider on the
// same machine): "127.0.0.1", "[::1]" and "localhost" (ASCII case-insensitive).
[[nodiscard]] bool is_loopback_host(std::string_view host);

// OK if `url` is "https://host[:port][/path][?query]", or the same with http
// on a loopback host. Errors: BadUrl (not absolute http(s), empty host,
// userinfo "user@", a fragment, a bad port, whitespace, control or non-ASCII
// characters, backslashes, over kMaxUrlBytes); InsecureUrl (http elsewhere).
[[nodiscard]] Status check_endpoint_url(std::string_view url);

// As check_endpoint_url, and without a query either: an issuer identifier is
// "https://host[:port][/path]" (OpenID Connect Discovery §2, RFC 8414 §2).
[[nodiscard]] Status check_issuer_url(std::string_view issuer);

// Where the issuer's metadata lives: the issuer with any trailing '/' removed,
// then "/.well-known/openid-configuration" (OpenID Connect Discovery §4.1).
[[nodiscard]] std::string discovery_url(std::string_view issuer);

}  // namespace gh::oauth
