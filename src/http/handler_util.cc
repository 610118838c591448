#include "http/handler_util.h"

#include <spdlog/spdlog.h>
#include <boost/beast/http/field.hpp>

#include "core/base/secret.h"
#include "http/problem.h"

namespace gh::http {

nlohmann::json user_json(const store::User& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"name", u.name},
          {"email_verified", u.email_verified},
          {"created_at", to_rfc3339(u.created_at)}};
}

service::RequestMeta meta_of(const Request& req, const RequestContext& ctx) {
  std::string ua(req[bhttp::field::user_agent].substr(0, 256));
  return {ctx.request_id, ctx.client_ip.empty() ? ctx.peer_ip : ctx.client_ip, std::move(ua)};
}

Result<json::Json> json_body(const Request& req) {
  std::string_view ct = req[bhttp::field::content_type];
  ct = ct.substr(0, ct.find(';'));
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  if (!beast::iequals(ct, "application/json")) {
    return tl::unexpected(Error{std::error_code{}, "Content-Type must be application/json"});
  }
  return json::parse_object(req.body());
}

Response error_response(const Request& req, const RequestContext& ctx, const Error& e) {
  if (!e.code) return problem_response(req, ctx, kUnsupportedMediaType, e.detail);
  const Problem p = problem_for(e);
  if (p.status >= 500)
    spdlog::error("request {}: {} ({})", ctx.request_id, e.message(), e.code.category().name());
  return problem_response(req, ctx, e);
}

void wipe_secret_field(json::Json& body, std::string_view key) {
  const auto it = body.find(key);
  if (it == body.end()) return;
  if (it->is_string()) wipe(it->get_ref<std::string&>());
  *it = nullptr;
}

Response overloaded(const Request& req, const RequestContext& ctx) {
  return problem_response(req, ctx, kOverloaded, "The server is busy; retry shortly.");
}

web::Form query_of(const Request& req) {
  const std::string_view target = req.target();
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  auto f = web::parse_form(target.substr(q + 1));
  return f ? std::move(*f) : web::Form{};
}

bool is_form_post(const Request& req) {
  const std::string_view ct = req[bhttp::field::content_type];
  return beast::iequals(ct.substr(0, ct.find(';')), "application/x-www-form-urlencoded");
}

Response no_content(const Request& req, const RequestContext& ctx) {
  Response res{bhttp::status::no_content, req.version()};
  res.set("X-Request-Id", ctx.request_id);
  res.set(bhttp::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  return res;
}

}  // namespace gh::http
