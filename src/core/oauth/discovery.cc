#include "core/oauth/discovery.h"

#include <algorithm>

#include "core/json/json.h"
#include "core/oauth/url.h"

namespace gh::oauth {
namespace {

using Json = nlohmann::json;

// An optional string member; BadDiscovery if present and not a string.
Result<std::optional<std::string>> string_member(const Json& doc, const char* name) {
  const auto it = doc.find(name);
  if (it == doc.end() || it->is_null()) return std::optional<std::string>{};
  if (!it->is_string())
    return fail(OAuthError::BadDiscovery, std::string(name) + " must be a string");
  return std::optional<std::string>{it->get<std::string>()};
}

// An optional array-of-strings member; BadDiscovery if present with another shape.
Result<std::optional<std::vector<std::string>>> strings_member(const Json& doc, const char* name) {
  const auto it = doc.find(name);
  if (it == doc.end() || it->is_null()) return std::optional<std::vector<std::string>>{};
  const auto bad = [&] {
    return fail(OAuthError::BadDiscovery, std::string(name) + " must be an array of strings");
  };
  if (!it->is_array()) return bad();
  std::vector<std::string> out;
  for (const Json& v : *it) {
    if (!v.is_string()) return bad();
    out.push_back(v.get<std::string>());
  }
  return std::optional<std::vector<std::string>>{std::move(out)};
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

Result<ProviderMetadata> parse_discovery(std::string_view body,
                                         std::string_view configured_issuer) {
  auto doc = json::parse_object(body);
  if (!doc) return fail(OAuthError::BadDiscovery, doc.error().message());

  auto issuer = string_member(*doc, "issuer");
  if (!issuer) return fail(issuer.error());
  if (!*issuer || configured_issuer.empty() || **issuer != configured_issuer) {
    return fail(OAuthError::DiscoveryIssuerMismatch);
  }
  if (auto ok = check_issuer_url(**issuer); !ok) return fail(ok.error());

  ProviderMetadata m;
  m.issuer = std::move(**issuer);
  const std::pair<const char*, std::string*> endpoints[] = {
      {"authorization_endpoint", &m.authorization_endpoint},
      {"token_endpoint", &m.token_endpoint},
      {"jwks_uri", &m.jwks_uri}};
  for (const auto& [name, out] : endpoints) {
    auto v = string_member(*doc, name);
    if (!v) return fail(v.error());
    if (!*v || (*v)->empty())
      return fail(OAuthError::MissingEndpoint, std::string(name) + " is missing");
    if (auto ok = check_endpoint_url(**v); !ok) {
      return fail(Error{ok.error().code, std::string(name) + ": " + ok.error().message()});
    }
    *out = std::move(**v);
  }
  auto userinfo = string_member(*doc, "userinfo_endpoint");
  if (!userinfo) return fail(userinfo.error());
  if (*userinfo) {
    if (auto ok = check_endpoint_url(**userinfo); !ok) {
      return fail(Error{ok.error().code, "userinfo_endpoint: " + ok.error().message()});
    }
    m.userinfo_endpoint = std::move(*userinfo);
  }

  auto response_types = strings_member(*doc, "response_types_supported");
  if (!response_types) return fail(response_types.error());
  if (*response_types && !contains(**response_types, "code")) {
    return fail(OAuthError::CodeFlowNotSupported);
  }
  auto methods = strings_member(*doc, "code_challenge_methods_supported");
  if (!methods) return fail(methods.error());
  if (*methods && !contains(**methods, "S256")) return fail(OAuthError::PkceNotSupported);
  auto algs = strings_member(*doc, "id_token_signing_alg_values_supported");
  if (!algs) return fail(algs.error());
  if (*algs) m.id_token_signing_algs = std::move(**algs);

  const auto iss_param = doc->find("authorization_response_iss_parameter_supported");
  if (iss_param != doc->end() && !iss_param->is_null()) {
    if (!iss_param->is_boolean()) {
      return fail(OAuthError::BadDiscovery,
                  "authorization_response_iss_parameter_supported must be a boolean");
    }
    m.iss_parameter_supported = iss_param->get<bool>();
  }
  return m;
}

Status require_https(const ProviderMetadata& m) {
  const std::pair<const char*, const std::string*> urls[] = {
      {"issuer", &m.issuer},
      {"authorization_endpoint", &m.authorization_endpoint},
      {"token_endpoint", &m.token_endpoint},
      {"jwks_uri", &m.jwks_uri},
      {"userinfo_endpoint", m.userinfo_endpoint ? &*m.userinfo_endpoint : nullptr}};
  for (const auto& [name, url] : urls) {
    if (url != nullptr && !url->starts_with("https://"))
      return fail(OAuthError::InsecureUrl, std::string(name) + " must be https in production");
  }
  return {};
}

}  // namespace gh::oauth
