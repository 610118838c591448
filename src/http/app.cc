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
  // The link form on /account redirects to a provider: form-action must allow it.
  for (const auto& [name, p] : c.oauth_providers) {
    const std::string& where = p.authorize_url.empty() ? p.issuer : p.authorize_url;
    if (auto o = web::origin_of(where); o) out.push_back(*o);
  }
  return out;
}
}  // namespace

std::span<const App::RouteDef> App::route_table() {
  using bhttp::verb;
  // Every route, in match order (the first match wins). src/http/openapi.json
  // documents each one; tests/http/openapi_test.cc keeps the two in step.
  static const RouteDef kRoutes[] = {
      {verb::get, "/healthz", &App::healthz},
      {verb::get, "/readyz", &App::readyz},
      {verb::get, "/metrics", &App::metrics},
      {verb::post, "/v1/register", &App::register_user},
      {verb::post, "/v1/login", &App::login},
      {verb::post, "/v1/login/mfa", &App::login_mfa},
      {verb::post, "/v1/login/mfa/enroll", &App::login_mfa_enroll},
      {verb::get, "/v1/mfa", &App::mfa_status},
      {verb::post, "/v1/mfa/totp", &App::mfa_totp_begin},
      {verb::post, "/v1/mfa/totp/confirm", &App::mfa_totp_confirm},
      {verb::delete_, "/v1/mfa/totp", &App::mfa_totp_remove},
      {verb::post, "/v1/mfa/recovery-codes", &App::mfa_recovery_codes},
      {verb::post, "/v1/token/refresh", &App::refresh},
      {verb::get, "/v1/me", &App::me},
      {verb::post, "/v1/logout", &App::logout},
      {verb::post, "/v1/logout/all", &App::logout_all},
      {verb::post, "/v1/password/change", &App::change_password},
      {verb::post, "/v1/session/login", &App::session_login},
      {verb::post, "/v1/session/login/mfa", &App::session_login_mfa},
      {verb::get, "/v1/session", &App::session_info},
      {verb::post, "/v1/session/logout", &App::session_logout},
      {verb::post, "/v1/session/token", &App::session_token},
      {verb::get, "/v1/sessions", &App::list_sessions},
      {verb::delete_, "/v1/sessions/{id}", &App::revoke_session},
      {verb::get, "/v1/forward-auth", &App::forward_auth},
      {verb::get, "/login", &App::page_login},
      {verb::post, "/login", &App::page_login_post},
      {verb::get, "/register", &App::page_register},
      {verb::post, "/register", &App::page_register_post},
      {verb::get, "/logout", &App::page_logout},
      {verb::post, "/logout", &App::page_logout_post},
      {verb::get, "/account", &App::page_account},
      {verb::post, "/account/password", &App::page_password_post},
      {verb::post, "/account/sessions/revoke", &App::page_revoke_session_post},
      {verb::post, "/account/sessions/revoke-others", &App::page_revoke_others_post},
      {verb::get, "/mfa/challenge", &App::page_mfa_challenge},
      {verb::post, "/mfa/challenge", &App::page_mfa_challenge_post},
      {verb::get, "/account/mfa/setup", &App::page_mfa_setup},
      {verb::post, "/account/mfa/setup", &App::page_mfa_setup_post},
      {verb::post, "/account/mfa/remove", &App::page_mfa_remove_post},
      {verb::post, "/account/mfa/recovery-codes", &App::page_mfa_codes_post},
      {verb::get, "/reauth", &App::page_reauth},
      {verb::post, "/reauth", &App::page_reauth_post},
      {verb::get, "/assets/gatehouse.css", &App::stylesheet},
      {verb::post, "/v1/token/tenant", &App::tenant_token},
      {verb::post, "/v1/reauthenticate", &App::reauthenticate},
      {verb::post, "/v1/authz/check", &App::authz_check},
      {verb::get, "/v1/admin/users", &App::admin_list_users},
      {verb::get, "/v1/admin/users/{id}", &App::admin_get_user},
      {verb::delete_, "/v1/admin/users/{id}", &App::admin_user_action},
      {verb::post, "/v1/admin/users/{id}/disable", &App::admin_user_action},
      {verb::post, "/v1/admin/users/{id}/enable", &App::admin_user_action},
      {verb::post, "/v1/admin/users/{id}/logout", &App::admin_user_action},
      {verb::post, "/v1/admin/users/{id}/unlock", &App::admin_user_action},
      {verb::delete_, "/v1/admin/users/{id}/mfa", &App::admin_user_action},
      {verb::get, "/v1/admin/audit", &App::admin_audit},
      {verb::post, "/v1/tenants", &App::create_tenant},
      {verb::get, "/v1/tenants", &App::list_tenants},
      {verb::get, "/v1/tenants/{t}", &App::get_tenant},
      {verb::patch, "/v1/tenants/{t}", &App::rename_tenant},
      {verb::delete_, "/v1/tenants/{t}", &App::delete_tenant},
      {verb::get, "/v1/tenants/{t}/members", &App::list_members},
      {verb::post, "/v1/tenants/{t}/members", &App::add_member},
      {verb::patch, "/v1/tenants/{t}/members/{user}", &App::change_member},
      {verb::delete_, "/v1/tenants/{t}/members/{user}", &App::remove_member},
      {verb::get, "/v1/tenants/{t}/service-clients", &App::list_clients},
      {verb::post, "/v1/tenants/{t}/service-clients", &App::create_client},
      {verb::post, "/v1/tenants/{t}/service-clients/{id}/rotate", &App::rotate_client},
      {verb::delete_, "/v1/tenants/{t}/service-clients/{id}", &App::delete_client},
      {verb::get, "/v1/tenants/{t}/audit", &App::admin_audit},
      {verb::get, "/v1/openapi.json", &App::openapi},
      {verb::post, "/v1/password/forgot", &App::forgot_password},
      {verb::post, "/v1/password/reset", &App::reset_password},
      {verb::post, "/v1/email/verify", &App::verify_email},
      {verb::post, "/v1/email/verification", &App::resend_verification},
      {verb::get, "/forgot-password", &App::page_forgot},
      {verb::post, "/forgot-password", &App::page_forgot_post},
      {verb::get, "/reset-password", &App::page_reset},
      {verb::post, "/reset-password", &App::page_reset_post},
      {verb::get, "/verify-email", &App::page_verify},
      {verb::post, "/verify-email", &App::page_verify_post},
      {verb::post, "/v1/email/change", &App::change_email},
      {verb::post, "/v1/email/change/confirm", &App::confirm_email_change},
      {verb::post, "/account/email", &App::page_email_post},
      {verb::get, "/confirm-email", &App::page_confirm_email},
      {verb::post, "/confirm-email", &App::page_confirm_email_post},
      {verb::get, "/v1/oauth/{provider}/start", &App::oauth_start},
      {verb::get, "/v1/oauth/{provider}/callback", &App::oauth_callback},
      {verb::post, "/v1/oauth/token", &App::oauth_token},
      {verb::get, "/v1/account/identities", &App::list_identities},
      {verb::delete_, "/v1/account/identities/{id}", &App::unlink_identity},
      {verb::post, "/account/identities/link", &App::page_link_identity_post},
      {verb::post, "/reauth/provider", &App::page_reauth_provider_post},
      {verb::post, "/account/identities/unlink", &App::page_unlink_identity_post},
      {verb::get, "/.well-known/jwks.json", &App::jwks},
      {verb::get, "/.well-known/openid-configuration", &App::openid_configuration},
  };
  return kRoutes;
}

App::App(AppDeps deps)
    : d_(deps),
      // scheme://host[:port] of the public URL: where our pages live and cookie-authenticated calls come from.
      public_origin_(web::origin_of(d_.config.public_url).value_or(d_.config.public_url)),
      pages_(redirect_origins(d_.config), public_origin_.starts_with("https://")) {
  for (const auto& r : route_table())
    router_.add(r.method, std::string(r.pattern), [this, fn = r.handler](Request& req, RequestContext& c) { return (this->*fn)(req, c); });

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

  const std::string address = *email;
  service::RegisterInput in{std::move(*email), SecretString(std::move(*password)), name->value_or("")};
  wipe_secret_field(*body, "password");
  wipe(req.body());
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.hash_pool, [&] { return d_.accounts.register_user(std::move(in), meta); });
  if (!r) co_return overloaded(req, ctx);
  if (d_.config.require_verified_email) {
    // Sign-in waits for the confirmed address, so registration signs no one in
    // and answers alike whether or not the address was taken (its owner is told).
    if (*r) {
      queue_verification((*r)->id, meta);
    } else if (r->error().code == make_error_code(service::AccountError::EmailTaken)) {
      queue_registration_notice(address, meta);
    } else {
      co_return error_response(req, ctx, r->error());
    }
    co_return json_response(req, ctx, 202, R"({"status":"verification_sent"})");
  }
  if (!*r) co_return error_response(req, ctx, r->error());
  queue_verification((*r)->id, meta);
  if (auto gate = co_await mfa_gate(req, ctx, **r)) co_return std::move(*gate);
  co_return co_await signed_in(req, ctx, **r, 201, service::kAmrPassword);
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
  if (auto gate = co_await mfa_gate(req, ctx, **r, service::kAmrPassword, (*r)->id))
    co_return std::move(*gate);
  Response res = co_await signed_in(req, ctx, **r, 200, service::kAmrPassword, nullptr, (*r)->id);
  if (res.result() == bhttp::status::ok) add_device_cookie(res, **r);
  co_return res;
}

}  // namespace gh::http
