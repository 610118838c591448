#include "core/oauth/token_response.h"

#include <cstdint>

#include "core/json/json.h"

namespace gh::oauth {
namespace {

using Json = nlohmann::json;

bool is_bearer(std::string_view s) {
  constexpr std::string_view kBearer = "bearer";
  if (s.size() != kBearer.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = (s[i] >= 'A' && s[i] <= 'Z') ? static_cast<char>(s[i] + 32) : s[i];
    if (c != kBearer[i]) return false;
  }
  return true;
}

// An RFC 6749 §5.2 error code is NQSCHAR: printable ASCII without '"' and '\'.
// Anything else is cut, so the detail (which reaches logs) stays clean.
std::string safe_code(const Json& v) {
  if (!v.is_string()) return "invalid_response";
  std::string out;
  for (const char c : v.get_ref<const std::string&>()) {
    if (out.size() == 64) break;
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return "invalid_response";
    out.push_back(c);
  }
  return out.empty() ? "invalid_response" : out;
}

Result<std::optional<std::string>> optional_string(const Json& doc, const char* name) {
  const auto it = doc.find(name);
  if (it == doc.end() || it->is_null()) return std::optional<std::string>{};
  if (!it->is_string()) {
    return fail(OAuthError::BadTokenResponse, std::string(name) + " must be a string");
  }
  return std::optional<std::string>{it->get<std::string>()};
}

}  // namespace

Result<TokenResponse> parse_token_response(int http_status, std::string_view body,
                                           bool require_id_token) {
  auto doc = json::parse_object(body);
  if (doc) {
    if (const auto err = doc->find("error"); err != doc->end()) {
      return fail(OAuthError::TokenEndpointError, safe_code(*err));
    }
  }
  if (http_status != 200) {
    return fail(OAuthError::BadTokenResponse, "status " + std::to_string(http_status));
  }
  if (!doc) return fail(OAuthError::BadTokenResponse, doc.error().message());

  TokenResponse out;
  const auto at = doc->find("access_token");
  if (at == doc->end() || !at->is_string() || at->get_ref<const std::string&>().empty()) {
    return fail(OAuthError::BadTokenResponse, "access_token must be a non-empty string");
  }
  out.access_token = SecretString(std::move(at->get_ref<std::string&>()));  // wipes the JSON's copy
  const auto tt = doc->find("token_type");
  if (tt == doc->end() || !tt->is_string()) {
    return fail(OAuthError::BadTokenResponse, "token_type must be a string");
  }
  if (!is_bearer(tt->get_ref<const std::string&>())) return fail(OAuthError::WrongTokenType);

  auto id_token = optional_string(*doc, "id_token");
  if (!id_token) return fail(id_token.error());
  out.id_token = std::move(*id_token);
  auto scope = optional_string(*doc, "scope");
  if (!scope) return fail(scope.error());
  out.scope = std::move(*scope);
  if (const auto ei = doc->find("expires_in"); ei != doc->end() && !ei->is_null()) {
    if (ei->is_number_unsigned() && ei->get<std::uint64_t>() <= 100U * 365 * 24 * 3600) {
      out.expires_in = std::chrono::seconds{static_cast<std::int64_t>(ei->get<std::uint64_t>())};
    } else {
      return fail(OAuthError::BadTokenResponse, "expires_in must be a non-negative integer");
    }
  }
  if (require_id_token && (!out.id_token || out.id_token->empty())) {
    return fail(OAuthError::MissingIdToken);
  }
  return out;
}

}  // namespace gh::oauth
