#include "http/app.h"

#include <boost/beast/http/field.hpp>
#include <spdlog/spdlog.h>

#include "core/json/json.h"
#include "http/offload.h"
#include "http/handler_util.h"
#include "http/problem.h"

namespace gh::http {

namespace {
std::vector<std::string> redirect_origins(const service::Config& c) {
  std::vector<std::string> out;
  for (const auto& t : c.return_to_targets) out.push_back(t.origin);
  return out;
}
}  // namespace

App::App(AppDeps deps)
    : d_(deps),
      // scheme://host[:port] of the public URL: where our pages live and cookie-authenticated calls come from.
      public_origin_(web::origin_of(d_.config.public_url).value_or(d_.config.public_url)),
      pages_(redirect_origins(d_.config), public_origin_.starts_with("https://")) {
  using bhttp::verb;
  auto bind = [this](Awaitable (App::*fn)(Request&, RequestContext&)) {
    return [this, fn](Request& r, RequestContext& c) { return (this->*fn)(r, c); };
  };
  router_.add(verb::get, "/healthz", bind(&App::healthz));
  router_.add(verb::get, "/readyz", bind(&App::readyz));
  router_.add(verb::get, "/metrics", bind(&App::metrics));
  router_.add(verb::post, "/v1/register", bind(&App::register_user));
  router_.add(verb::post, "/v1/login", bind(&App::login));
  router_.add(verb::post, "/v1/token/refresh", bind(&App::refresh));
  router_.add(verb::get, "/v1/me", bind(&App::me));
  router_.add(verb::post, "/v1/logout", bind(&App::logout));
  router_.add(verb::post, "/v1/logout/all", bind(&App::logout_all));
  router_.add(verb::post, "/v1/password/change", bind(&App::change_password));
  router_.add(verb::post, "/v1/session/login", bind(&App::session_login));
  router_.add(verb::get, "/v1/session", bind(&App::session_info));
  router_.add(verb::post, "/v1/session/logout", bind(&App::session_logout));
  router_.add(verb::post, "/v1/session/token", bind(&App::session_token));
  router_.add(verb::get, "/v1/sessions", bind(&App::list_sessions));
  router_.add(verb::delete_, "/v1/sessions/{id}", bind(&App::revoke_session));
  router_.add(verb::get, "/v1/forward-auth", bind(&App::forward_auth));
  router_.add(verb::get, "/login", bind(&App::page_login));
  router_.add(verb::post, "/login", bind(&App::page_login_post));
  router_.add(verb::get, "/register", bind(&App::page_register));
  router_.add(verb::post, "/register", bind(&App::page_register_post));
  router_.add(verb::get, "/logout", bind(&App::page_logout));
  router_.add(verb::post, "/logout", bind(&App::page_logout_post));
  router_.add(verb::get, "/account", bind(&App::page_account));
  router_.add(verb::post, "/account/password", bind(&App::page_password_post));
  router_.add(verb::post, "/account/sessions/revoke", bind(&App::page_revoke_session_post));
  router_.add(verb::post, "/account/sessions/revoke-others", bind(&App::page_revoke_others_post));
  router_.add(verb::get, "/reauth", bind(&App::page_reauth));
  router_.add(verb::post, "/reauth", bind(&App::page_reauth_post));
  router_.add(verb::get, "/assets/gatehouse.css", bind(&App::stylesheet));
  router_.add(verb::post, "/v1/token/tenant", bind(&App::tenant_token));
  router_.add(verb::post, "/v1/reauthenticate", bind(&App::reauthenticate));
  router_.add(verb::post, "/v1/authz/check", bind(&App::authz_check));
  router_.add(verb::get, "/v1/admin/users", bind(&App::admin_list_users));
  router_.add(verb::get, "/v1/admin/users/{id}", bind(&App::admin_get_user));
  router_.add(verb::delete_, "/v1/admin/users/{id}", bind(&App::admin_user_action));
  for (const char* action : {"disable", "enable", "logout", "unlock"})
    router_.add(verb::post, fmt::format("/v1/admin/users/{{id}}/{}", action), bind(&App::admin_user_action));
  router_.add(verb::get, "/v1/admin/audit", bind(&App::admin_audit));
  router_.add(verb::post, "/v1/tenants", bind(&App::create_tenant));
  router_.add(verb::get, "/v1/tenants", bind(&App::list_tenants));
  router_.add(verb::get, "/v1/tenants/{t}", bind(&App::get_tenant));
  router_.add(verb::patch, "/v1/tenants/{t}", bind(&App::rename_tenant));
  router_.add(verb::delete_, "/v1/tenants/{t}", bind(&App::delete_tenant));
  router_.add(verb::get, "/v1/tenants/{t}/members", bind(&App::list_members));
  router_.add(verb::post, "/v1/tenants/{t}/members", bind(&App::add_member));
  router_.add(verb::patch, "/v1/tenants/{t}/members/{user}", bind(&App::change_member));
  router_.add(verb::delete_, "/v1/tenants/{t}/members/{user}", bind(&App::remove_member));
  router_.add(verb::get, "/v1/tenants/{t}/service-clients", bind(&App::list_clients));
  router_.add(verb::post, "/v1/tenants/{t}/service-clients", bind(&App::create_client));
  router_.add(verb::post, "/v1/tenants/{t}/service-clients/{id}/rotate", bind(&App::rotate_client));
  router_.add(verb::delete_, "/v1/tenants/{t}/service-clients/{id}", bind(&App::delete_client));
  router_.add(verb::get, "/v1/tenants/{t}/audit", bind(&App::admin_audit));
  router_.add(verb::get, "/v1/openapi.json", bind(&App::openapi));
  router_.add(verb::get, "/.well-known/jwks.json", bind(&App::jwks));
  router_.add(verb::get, "/.well-known/openid-configuration", bind(&App::openid_configuration));

  d_.metrics.add_gauge("gatehouse_hash_pool_queue_depth", "Password-hash jobs waiting for a worker.",
                       [p = &d_.hash_pool] { return static_cast<double>(p->queue_depth()); });
  d_.metrics.add_gauge("gatehouse_hash_pool_busy", "Password-hash workers busy.",
                       [p = &d_.hash_pool] { return static_cast<double>(p->busy()); });
  d_.metrics.add_gauge("gatehouse_hash_pool_threads", "Password-hash workers.",
                       [p = &d_.hash_pool] { return static_cast<double>(p->threads()); });
  if (d_.limits != nullptr)
    d_.metrics.add_gauge("gatehouse_rate_limit_local_keys", "Rate-limit keys held in this process.",
                         [l = d_.limits] { return static_cast<double>(l->local_keys()); });
}

Awaitable App::dispatch(Request& req, RequestContext& ctx) {
  const std::string_view target = req.target();
  const std::string_view path = target.substr(0, target.find('?'));
  // The one place the client address is decided (audit rows, sessions, rate-limit keys).
  if (d_.config.trusted_proxy_list.empty()) {
    ctx.client_ip = ctx.peer_ip;
  } else {
    const bool rfc7239 = d_.config.client_ip_header == "forwarded";
    std::vector<std::string_view> fields;
    for (auto [it, end] = req.base().equal_range(rfc7239 ? "Forwarded" : "X-Forwarded-For"); it != end; ++it)
      fields.push_back(it->value());
    ctx.client_ip = net::client_address(ctx.peer_ip,
                                        rfc7239 ? net::ForwardedHeader::Forwarded : net::ForwardedHeader::XForwardedFor,
                                        fields, d_.config.trusted_proxy_list);
  }
  if (req.method() == bhttp::verb::options && !req[bhttp::field::access_control_request_method].empty()) {
    ctx.route = "(preflight)";
    co_return preflight(req, ctx);
  }
  const auto r = router_.route(req.method(), path, ctx);
  switch (r.match) {
    case Router::Match::Found: {
      if (const auto limit = ip_limit_of(req.method(), ctx.route)) {
        if (auto refused = co_await rate_limited(req, ctx, *limit, ctx.client_ip)) {
          add_cors_headers(req, path, *refused);
          co_return std::move(*refused);
        }
      }
      Response res = co_await (*r.handler)(req, ctx);
      add_rate_limit_headers(res, ctx);
      add_cors_headers(req, path, res);
      co_return res;
    }
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
  if (d_.limits != nullptr) {
    // A shared (Redis) limiter is pinged; in-process limits are always ready.
    std::optional<service::LimiterHealth> h;
    if (d_.limits->blocking()) {
      h = co_await offload(*d_.limit_pool, [this] { return d_.limits->health(); });
      if (!h) co_return overloaded(req, ctx);
    } else {
      h = d_.limits->health();
    }
    j["rate_limit"] = {{"backend", h->backend}, {"state", h->state}};
    if (!h->ready) {
      spdlog::warn("readiness: the rate-limit store is not reachable (redis_failure = closed)");
      Response res = problem_response(req, ctx, kUnavailable, "The rate-limit store is not reachable.");
      auto body = nlohmann::json::parse(res.body());
      body["rate_limit"] = j["rate_limit"];
      res.body() = body.dump();
      res.prepare_payload();
      co_return res;
    }
  } else {
    j["rate_limit"] = {{"backend", "off"}, {"state", "disabled"}};
  }
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
  wipe_secret_field(*body, "password");
  wipe(req.body());
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.hash_pool, [&] { return d_.accounts.register_user(std::move(in), meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return error_response(req, ctx, r->error());
  co_return co_await signed_in(req, ctx, **r, 201);
}

Awaitable App::login(Request& req, RequestContext& ctx) {
  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  if (auto ok = json::only_fields(*body, {"email", "password"}); !ok) co_return error_response(req, ctx, ok.error());
  auto email = json::required_string(*body, "email", kMaxEmailBytes);
  if (!email) co_return error_response(req, ctx, email.error());
  auto password = json::required_string(*body, "password", kMaxPasswordBytes);
  if (!password) co_return error_response(req, ctx, password.error());

  service::LoginInput in{*email, SecretString(std::move(*password)), device_token_of(req)};
  wipe_secret_field(*body, "password");
  wipe(req.body());
  if (auto refused = co_await rate_limited(req, ctx, service::LimitId::LoginPerAccount, *email)) co_return std::move(*refused);
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.hash_pool, [&] { return d_.accounts.login(std::move(in), meta); });
  // The per-account limit counts failures: a sign-in that worked is given back.
  if (r && *r) co_await rate_limit_refund(ctx, service::LimitId::LoginPerAccount, std::move(*email));
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
  Response res = co_await signed_in(req, ctx, **r, 200);
  if (res.result() == bhttp::status::ok) add_device_cookie(res, **r);
  co_return res;
}

}  // namespace gh::http
