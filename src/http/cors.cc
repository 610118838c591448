// CORS: only for the origins in web.cors_origins, always with credentials
// (never "*" with credentials), only on the JSON API (/v1/...), and with
// `Vary: Origin` so shared caches never mix answers. The public discovery
// documents (JWKS, openid-configuration) are readable from anywhere without
// credentials. CORS decides what a page on another origin may *read*; the
// CSRF token and the Origin check still decide what it may *change*.
#include <algorithm>

#include <boost/beast/http/field.hpp>

#include "http/app.h"
#include "http/problem.h"

namespace gh::http {

namespace {
constexpr std::string_view kAllowMethods = "GET, POST, PATCH, DELETE";
constexpr std::string_view kAllowHeaders = "Content-Type, Authorization, X-CSRF-Token, Token-Transport";
constexpr std::string_view kExposeHeaders =
    "WWW-Authenticate, Retry-After, X-Request-Id, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset";
constexpr Problem kCorsRefused{403, "cors_refused", "Forbidden"};

bool is_api(std::string_view path) { return path.starts_with("/v1/"); }
bool is_public_document(std::string_view path) { return path.starts_with("/.well-known/"); }
}  // namespace

bool App::cors_origin_allowed(std::string_view origin) const {
  const auto& list = d_.config.cors_origin_list;
  return !origin.empty() && std::find(list.begin(), list.end(), origin) != list.end();
}

Response App::preflight(const Request& req, const RequestContext& ctx) const {
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const std::string_view origin = req[bhttp::field::origin];
  const std::string_view method = req[bhttp::field::access_control_request_method];
  const bool method_ok = method == "GET" || method == "POST" || method == "PATCH" || method == "DELETE";
  Response res{bhttp::status::no_content, req.version()};
  if (is_public_document(path) && method == "GET") {
    res.set(bhttp::field::access_control_allow_origin, "*");
    res.set(bhttp::field::access_control_allow_methods, "GET");
  } else if (is_api(path) && method_ok && cors_origin_allowed(origin)) {
    res.set(bhttp::field::access_control_allow_origin, origin);
    res.set(bhttp::field::access_control_allow_credentials, "true");
    res.set(bhttp::field::access_control_allow_methods, kAllowMethods);
    res.set(bhttp::field::access_control_allow_headers, kAllowHeaders);
    res.set(bhttp::field::access_control_max_age, "600");
    res.set(bhttp::field::vary, "Origin");
  } else {
    res = problem_response(req, ctx, kCorsRefused, "This origin may not call this endpoint from a browser.");
    res.set(bhttp::field::vary, "Origin");
    return res;
  }
  res.set("X-Request-Id", ctx.request_id);
  res.set(bhttp::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

void App::add_cors_headers(const Request& req, std::string_view path, Response& res) const {
  if (is_public_document(path)) {
    res.set(bhttp::field::access_control_allow_origin, "*");
    return;
  }
  if (!is_api(path) || d_.config.cors_origin_list.empty()) return;
  res.set(bhttp::field::vary, "Origin");
  const std::string_view origin = req[bhttp::field::origin];
  if (!cors_origin_allowed(origin)) return;
  res.set(bhttp::field::access_control_allow_origin, origin);
  res.set(bhttp::field::access_control_allow_credentials, "true");
  res.set(bhttp::field::access_control_expose_headers, kExposeHeaders);
}

}  // namespace gh::http
