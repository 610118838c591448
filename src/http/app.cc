#include "http/app.h"

#include <boost/beast/http/field.hpp>
#include <spdlog/spdlog.h>

#include "core/json/json.h"
#include "http/offload.h"
#include "http/problem.h"

namespace gh::http {
namespace {

constexpr std::size_t kMaxEmailBytes = 320;
constexpr std::size_t kMaxPasswordBytes = 4096;  // the policy counts code points; this bounds the work
constexpr std::size_t kMaxNameBytes = 400;

nlohmann::json user_json(const store::User& u) {
  return {{"id", u.id},
          {"email", u.email},
          {"name", u.name},
          {"email_verified", u.email_verified},
          {"created_at", to_rfc3339(u.created_at)}};
}

service::RequestMeta meta_of(const Request& req, const RequestContext& ctx) {
  std::string ua(req[bhttp::field::user_agent].substr(0, 256));
  return {ctx.request_id, ctx.peer_ip, std::move(ua)};
}

// The body as a JSON object, or the problem to answer with.
Result<json::Json> json_body(const Request& req) {
  const auto ct = req[bhttp::field::content_type];
  const auto media = ct.substr(0, ct.find(';'));
  if (!(media == "application/json" || media == "application/json ")) {
    return tl::unexpected(Error{std::error_code{}, "Content-Type must be application/json"});
  }
  return json::parse_object(req.body());
}

Response error_response(const Request& req, const RequestContext& ctx, const Error& e) {
  if (!e.code) return problem_response(req, ctx, kUnsupportedMediaType, e.detail);
  const Problem p = problem_for(e);
  if (p.status >= 500) spdlog::error("request {}: {} ({})", ctx.request_id, e.message(), e.code.category().name());
  return problem_response(req, ctx, e);
}

Response overloaded(const Request& req, const RequestContext& ctx) {
  return problem_response(req, ctx, kOverloaded, "The server is busy; retry shortly.");
}

}  // namespace

App::App(AppDeps deps) : d_(deps) {
  using bhttp::verb;
  auto bind = [this](Awaitable (App::*fn)(Request&, RequestContext&)) {
    return [this, fn](Request& r, RequestContext& c) { return (this->*fn)(r, c); };
  };
  router_.add(verb::get, "/healthz", bind(&App::healthz));
  router_.add(verb::get, "/readyz", bind(&App::readyz));
  router_.add(verb::get, "/metrics", bind(&App::metrics));
  router_.add(verb::post, "/v1/register", bind(&App::register_user));
  router_.add(verb::post, "/v1/login", bind(&App::login));

  d_.metrics.add_gauge("gatehouse_hash_pool_queue_depth", "Password-hash jobs waiting for a worker.",
                       [p = &d_.hash_pool] { return static_cast<double>(p->queue_depth()); });
  d_.metrics.add_gauge("gatehouse_hash_pool_busy", "Password-hash workers busy.",
                       [p = &d_.hash_pool] { return static_cast<double>(p->busy()); });
  d_.metrics.add_gauge("gatehouse_hash_pool_threads", "Password-hash workers.",
                       [p = &d_.hash_pool] { return static_cast<double>(p->threads()); });
}

Awaitable App::dispatch(Request& req, RequestContext& ctx) {
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const auto r = router_.route(req.method(), path, ctx);
  switch (r.match) {
    case Router::Match::Found: co_return co_await (*r.handler)(req, ctx);
    case Router::Match::MethodNotAllowed: {
      ctx.route = "(method_not_allowed)";
      Response res = problem_response(req, ctx, kMethodNotAllowed, {});
      res.set(bhttp::field::allow, r.allow);
      co_return res;
    }
    case Router::Match::NotFound: break;
  }
  ctx.route = "(not_found)";
  co_return problem_response(req, ctx, kNotFound, {});
}

Awaitable App::healthz(Request& req, RequestContext& ctx) {
  co_return json_response(req, ctx, 200, R"({"status":"ok"})");
}

Awaitable App::readyz(Request& req, RequestContext& ctx) {
  auto ok = co_await offload(d_.db_pool, [this] { return d_.store.ping(); });
  if (!ok) co_return overloaded(req, ctx);
  if (!*ok) {
    spdlog::warn("readiness: store not reachable: {}", ok->error().message());
    co_return problem_response(req, ctx, kUnavailable, "The store is not reachable.");
  }
  nlohmann::json j = {{"status", "ready"}, {"store", d_.store.backend()}};
  co_return json_response(req, ctx, 200, j.dump());
}

Awaitable App::metrics(Request& req, RequestContext& ctx) {
  Response res = json_response(req, ctx, 200, d_.metrics.render());
  res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
  co_return res;
}

Awaitable App::register_user(Request& req, RequestContext& ctx) {
  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  if (auto ok = json::only_fields(*body, {"email", "password", "name"}); !ok)
    co_return error_response(req, ctx, ok.error());
  auto email = json::required_string(*body, "email", kMaxEmailBytes);
  if (!email) co_return error_response(req, ctx, email.error());
  auto password = json::required_string(*body, "password", kMaxPasswordBytes);
  if (!password) co_return error_response(req, ctx, password.error());
  auto name = json::optional_string(*body, "name", kMaxNameBytes);
  if (!name) co_return error_response(req, ctx, name.error());

  service::RegisterInput in{std::move(*email), SecretString(std::move(*password)), name->value_or("")};
  (*body)["password"] = nullptr;  // drop the parsed copy of the secret early
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.hash_pool, [&] { return d_.accounts.register_user(std::move(in), meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return error_response(req, ctx, r->error());
  co_return json_response(req, ctx, 201, nlohmann::json{{"user", user_json(**r)}}.dump());
}

Awaitable App::login(Request& req, RequestContext& ctx) {
  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  if (auto ok = json::only_fields(*body, {"email", "password"}); !ok) co_return error_response(req, ctx, ok.error());
  auto email = json::required_string(*body, "email", kMaxEmailBytes);
  if (!email) co_return error_response(req, ctx, email.error());
  auto password = json::required_string(*body, "password", kMaxPasswordBytes);
  if (!password) co_return error_response(req, ctx, password.error());

  service::LoginInput in{std::move(*email), SecretString(std::move(*password))};
  (*body)["password"] = nullptr;
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.hash_pool, [&] { return d_.accounts.login(std::move(in), meta); });
  if (!r) {
    d_.metrics.inc("gatehouse_logins_total", "outcome=\"overloaded\"");
    co_return overloaded(req, ctx);
  }
  switch (service::outcome_of(*r)) {
    case service::LoginOutcome::Success: d_.metrics.inc("gatehouse_logins_total", "outcome=\"success\""); break;
    case service::LoginOutcome::InvalidCredentials:
      d_.metrics.inc("gatehouse_logins_total", "outcome=\"invalid_credentials\"");
      break;
    case service::LoginOutcome::Disabled: d_.metrics.inc("gatehouse_logins_total", "outcome=\"disabled\""); break;
    case service::LoginOutcome::Error: d_.metrics.inc("gatehouse_logins_total", "outcome=\"error\""); break;
  }
  if (!*r) co_return error_response(req, ctx, r->error());
  co_return json_response(req, ctx, 200, nlohmann::json{{"user", user_json(**r)}}.dump());
}

}  // namespace gh::http
