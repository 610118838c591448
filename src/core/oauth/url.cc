#include "core/oauth/url.h"

namespace gh::oauth {
namespace {

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Parses and checks `url`; `allow_query` false also refuses a '?'.
Status check_url(std::string_view url, bool allow_query) {
  if (url.size() > kMaxUrlBytes) return fail(OAuthError::BadUrl, "the URL is too long");
  for (const char c : url) {
    const auto u = static_cast<unsigned char>(c);
    // No whitespace, control or non-ASCII bytes (no IDN or encoding games),
    // no '\' (browsers read it as '/'), no fragment (RFC 6749 §3.1, §3.1.2).
    if (u <= 0x20 || u >= 0x7f || c == '\\') {
      return fail(OAuthError::BadUrl, "the URL has a space, control or non-ASCII character");
    }
    if (c == '#') return fail(OAuthError::BadUrl, "the URL must not have a fragment");
  }
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return fail(OAuthError::BadUrl, "the URL is not absolute");
  const auto scheme = url.substr(0, sep);
  if (scheme != "https" && scheme != "http") {
    return fail(OAuthError::BadUrl, "the URL scheme must be https");
  }
  const auto rest = url.substr(sep + 3);
  const auto auth_end = rest.find_first_of("/?");
  const auto authority = rest.substr(0, auth_end);
  if (authority.find('@') != std::string_view::npos) {
    return fail(OAuthError::BadUrl, "the URL must not carry userinfo");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(OAuthError::BadUrl, "unterminated IPv6 host");
    host = authority.substr(0, close + 1);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(OAuthError::BadUrl, "junk after the IPv6 host");
      port = after.substr(1);
      if (port.empty()) return fail(OAuthError::BadUrl, "empty port");
    }
  } else if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return fail(OAuthError::BadUrl, "empty port");
  }
  if (host.empty() || host == "[]") return fail(OAuthError::BadUrl, "the URL has no host");
  if (port.size() > 5) return fail(OAuthError::BadUrl, "bad port");
  for (const char c : port) {
    if (!is_digit(c)) return fail(OAuthError::BadUrl, "bad port");
  }
  if (!allow_query && url.find('?') != std::string_view::npos) {
    return fail(OAuthError::BadUrl, "an issuer has no query");
  }
  if (scheme == "http" && !is_loopback_host(host)) return fail(OAuthError::InsecureUrl);
  return {};
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  return host == "127.0.0.1" || host == "[::1]" || iequals(host, "localhost");
}

Status check_endpoint_url(std::string_view url) { return check_url(url, true); }

Status check_issuer_url(std::string_view issuer) { return check_url(issuer, false); }

std::string discovery_url(std::string_view issuer) {
  while (!issuer.empty() && issuer.back() == '/') issuer.remove_suffix(1);
  return std::string(issuer) + "/.well-known/openid-configuration";
}

}  // namespace gh::oauth
