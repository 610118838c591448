#include "core/oauth/authorize.h"

#include <array>
#include <set>

#include "core/base/encoding.h"
#include "core/base/secret.h"
#include "core/oauth/url.h"
#include "core/web/web.h"

namespace gh::oauth {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding (WHATWG URL §5.1): '+' is a
// space; unlike the WHATWG parser, a '%' not followed by two hex digits is an
// error rather than a literal, so no two spellings decode alike by accident.
std::optional<std::string> form_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

bool has_control(std::string_view s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

constexpr std::array<std::string_view, 10> kOurParams = {
    "response_type",         "client_id", "redirect_uri", "scope",  "state", "code_challenge",
    "code_challenge_method", "nonce",     "prompt",       "max_age"};

}  // namespace

Result<std::string> authorization_url(const AuthorizationRequest& r) {
  if (auto ok = check_endpoint_url(r.authorization_endpoint); !ok) return fail(ok.error());
  const std::pair<std::string_view, std::string_view> required[] = {
      {"client_id", r.client_id},
      {"redirect_uri", r.redirect_uri},
      {"scope", r.scope},
      {"state", r.state},
      {"code_challenge", r.code_challenge}};
  for (const auto& [name, value] : required) {
    if (value.empty()) return fail(OAuthError::MissingParameter, std::string(name) + " is empty");
  }
  if (r.force_login && r.nonce.empty())
    return fail(OAuthError::MissingParameter, "a forced login needs a nonce (OpenID Connect)");
  std::string url = r.authorization_endpoint;
  if (const auto q = url.find('?'); q != std::string::npos) {
    // Keep the endpoint's own query, but never let it carry one of ours.
    std::string_view query = std::string_view(url).substr(q + 1);
    while (!query.empty()) {
      const auto amp = query.find('&');
      const auto pair = query.substr(0, amp);
      const auto name = form_decode(pair.substr(0, pair.find('=')));
      if (!name) return fail(OAuthError::BadUrl, "the endpoint's query is malformed");
      for (const auto ours : kOurParams) {
        if (*name == ours) {
          return fail(OAuthError::BadUrl, "the endpoint's query already sets " + std::string(ours));
        }
      }
      if (amp == std::string_view::npos) break;
      query.remove_prefix(amp + 1);
    }
    if (url.back() != '?' && url.back() != '&') url += '&';
  } else {
    url += '?';
  }
  auto add = [&url](std::string_view name, std::string_view value, bool first = false) {
    if (!first) url += '&';
    url += name;
    url += '=';
    url += web::url_encode(value);
  };
  add("response_type", "code", true);
  add("client_id", r.client_id);
  add("redirect_uri", r.redirect_uri);
  add("scope", r.scope);
  add("state", r.state);
  if (!r.nonce.empty()) add("nonce", r.nonce);
  add("code_challenge", r.code_challenge);
  add("code_challenge_method", "S256");
  if (r.force_login) {
    // OpenID Connect Core §3.1.2.1: ask the person again, whatever session the
    // provider has; max_age=0 also makes auth_time a required claim.
    add("prompt", "login");
    add("max_age", "0");
  }
  return url;
}

Result<CallbackParams> parse_callback(std::string_view query) {
  if (query.size() > kMaxCallbackBytes)
    return fail(OAuthError::BadCallback, "the query is too long");
  CallbackParams out;
  std::set<std::string, std::less<>> seen;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;  // "a=1&&b=2" and a trailing '&' carry nothing
    const auto eq = pair.find('=');
    auto name = form_decode(pair.substr(0, eq));
    auto value =
        form_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!name || !value) return fail(OAuthError::BadCallback, "malformed percent-encoding");
    if (name->empty()) return fail(OAuthError::BadCallback, "a parameter has no name");
    if (has_control(*name) || has_control(*value) || !is_valid_utf8(*name) ||
        !is_valid_utf8(*value)) {
      return fail(OAuthError::BadCallback, "a parameter has a control character or bad UTF-8");
    }
    if (!seen.insert(*name).second) {
      return fail(OAuthError::DuplicateParameter, "duplicate parameter");
    }
    if (seen.size() > kMaxCallbackParams)
      return fail(OAuthError::BadCallback, "too many parameters");
    std::optional<std::string>* slot = nullptr;
    if (*name == "code")
      slot = &out.code;
    else if (*name == "state")
      slot = &out.state;
    else if (*name == "iss")
      slot = &out.iss;
    else if (*name == "error")
      slot = &out.error;
    else if (*name == "error_description")
      slot = &out.error_description;
    if (slot != nullptr) *slot = std::move(*value);
  }
  return out;
}

Result<std::string> check_callback(const CallbackParams& cb, const ExpectedCallback& expected) {
  if (!cb.state || cb.state->empty()) return fail(OAuthError::MissingState);
  // The flow's state is a secret the browser proves it holds: compare in constant time.
  if (expected.state.empty() || !constant_time_equal(*cb.state, expected.state)) {
    return fail(OAuthError::StateMismatch);
  }
  if (cb.iss) {
    if (expected.issuer.empty() || *cb.iss != expected.issuer)
      return fail(OAuthError::IssuerMismatch);
  } else if (expected.iss_required) {
    return fail(OAuthError::MissingIssuer);
  }
  if (cb.error) {
    // The provider's code is an RFC 6749 §4.1.2.1 token; keep the detail short and printable.
    std::string code = cb.error->substr(0, 64);
    return fail(OAuthError::ProviderError, code);
  }
  if (!cb.code || cb.code->empty()) return fail(OAuthError::MissingCode);
  return *cb.code;
}

}  // namespace gh::oauth
