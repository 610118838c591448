// Token endpoints: refresh, me, logout, logout/all, password change, JWKS and
// discovery. Thin: parse, call one service function, map the result.
#include <boost/beast/http/field.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "http/app.h"
#include "http/cookies.h"
#include "http/handler_util.h"
#include "http/offload.h"
#include "http/problem.h"

namespace gh::http {

namespace {
constexpr std::string_view kRefreshPath = "/v1/token/refresh";
constexpr std::string_view kLogoutPath = "/v1/logout";  // covers /v1/logout/all too
}  // namespace

bool wants_body_transport(const Request& req) {
  return beast::iequals(req["Token-Transport"], "body");
}

std::string App::refresh_cookie_name() const {
  // __Secure- makes browsers refuse the cookie unless it is Secure and set over https (or localhost).
  return d_.config.refresh_cookie_secure ? "__Secure-gh_refresh" : "gh_refresh";
}

bool App::origin_ok(const Request& req) const {
  const auto origin = req[bhttp::field::origin];
  return origin.empty() || origin == public_origin_ || cors_origin_allowed(origin);
}

Response App::token_response(const Request& req, const RequestContext& ctx, unsigned status,
                             const service::IssuedTokens& t, const store::User* user,
                             const nlohmann::json* extra) {
  nlohmann::json j = {{"access_token", t.access_token}, {"token_type", "Bearer"}, {"expires_in", t.expires_in.count()}};
  if (user) j["user"] = user_json(*user);
  if (extra) j.update(*extra);
  const bool body = wants_body_transport(req);
  if (body) j["refresh_token"] = t.refresh_token.expose();
  Response res = json_response(req, ctx, status, j.dump());
  if (!body) {
    const std::string name = refresh_cookie_name();
    const auto max_age = d_.tokens.config().refresh_ttl;
    // One cookie per path that needs it; never sent anywhere else.
    for (std::string_view path : {kRefreshPath, kLogoutPath}) {
      res.insert(bhttp::field::set_cookie,
                 set_cookie({name, t.refresh_token.expose(), path, max_age, d_.config.refresh_cookie_secure, true, "Strict"}));
    }
  }
  return res;
}

Awaitable App::signed_in(Request& req, RequestContext& ctx, const store::User& user,
                         unsigned status, std::string_view amr, const nlohmann::json* extra,
                         std::string_view login, Seconds auth_time) {
  const auto meta = meta_of(req, ctx);
  // auth_time: zero = now (the user just authenticated), else when the provider says they did.
  auto t = co_await offload(d_.db_pool,
                            [&] { return d_.tokens.issue(user, auth_time, "", amr, meta, login); });
  if (!t) co_return overloaded(req, ctx);
  if (!*t) co_return error_response(req, ctx, t->error());
  co_return token_response(req, ctx, status, **t, &user, extra);
}

Result<service::AccessClaims> App::bearer(const Request& req) {
  const std::string_view h = req[bhttp::field::authorization];
  if (h.size() < 8 || !beast::iequals(h.substr(0, 7), "Bearer ")) {
    return tl::unexpected(Error{make_error_code(service::TokenError::InvalidToken), ""});
  }
  std::string_view token = h.substr(7);
  if (token.size() > kMaxTokenBytes) return fail(service::TokenError::InvalidToken, "the token is too large");
  return d_.tokens.verify_access(token);
}

Response App::bearer_problem(const Request& req, const RequestContext& ctx, const Error& e) {
  Response res = problem_response(req, ctx, e);
  // RFC 6750 §3: no credentials -> no error attribute; bad credentials -> invalid_token.
  const bool missing = req[bhttp::field::authorization].empty();
  res.set(bhttp::field::www_authenticate,
          missing ? std::string(R"(Bearer realm="gatehouse")")
                  : fmt::format(R"(Bearer realm="gatehouse", error="invalid_token", error_description="{}")",
                                problem_for(e).code == "token_expired" ? "the token has expired" : "the token is not valid"));
  return res;
}

Awaitable App::refresh(Request& req, RequestContext& ctx) {
  std::optional<SecretString> presented;
  if (wants_body_transport(req)) {
    auto body = json_body(req);
    if (!body) co_return error_response(req, ctx, body.error());
    if (auto ok = json::only_fields(*body, {"refresh_token"}); !ok) co_return error_response(req, ctx, ok.error());
    auto rt = json::required_string(*body, "refresh_token", kMaxTokenBytes);
    if (!rt) co_return error_response(req, ctx, rt.error());
    presented.emplace(std::move(*rt));
  } else {
    if (!origin_ok(req)) co_return problem_response(req, ctx, {403, "origin_mismatch", "Forbidden"}, "Cross-origin request refused.");
    const auto c = find_cookie(req[bhttp::field::cookie], refresh_cookie_name());
    if (!c || c->empty() || c->size() > kMaxTokenBytes)
      co_return error_response(req, ctx, Error{make_error_code(service::TokenError::InvalidRefresh), "no refresh token was presented"});
    presented.emplace(*c);
  }
  const auto meta = meta_of(req, ctx);
  auto t = co_await offload(d_.db_pool, [&] { return d_.tokens.refresh(*presented, meta); });
  if (!t) co_return overloaded(req, ctx);
  if (!*t) {
    d_.metrics.inc("gatehouse_refresh_total", fmt::format("outcome=\"{}\"", problem_for(t->error()).code));
    co_return error_response(req, ctx, t->error());
  }
  d_.metrics.inc("gatehouse_refresh_total", "outcome=\"success\"");
  co_return token_response(req, ctx, 200, **t, nullptr);
}

Awaitable App::me(Request& req, RequestContext& ctx) {
  auto claims = bearer(req);
  if (!claims) co_return bearer_problem(req, ctx, claims.error());
  // Hot path: a recently read user answers without leaving the I/O thread,
  // with the body rendered once per cached version of the user.
  if (auto cached = d_.accounts.cached_user_shared(claims->sub)) {
    if (cached->user.disabled) co_return bearer_problem(req, ctx, Error{make_error_code(service::TokenError::TokenRevoked), ""});
    auto body = cached->rendered.load();
    if (!body) {
      body = std::make_shared<const std::string>(nlohmann::json{{"user", user_json(cached->user)}}.dump());
      cached->rendered.store(body);
    }
    co_return json_response(req, ctx, 200, *body);
  }
  auto user = co_await offload(d_.db_pool, [&] { return d_.accounts.load_user(claims->sub); });
  if (!user) co_return overloaded(req, ctx);
  if (!*user) {
    if ((*user).error().code == make_error_code(store::StoreError::NotFound))
      co_return bearer_problem(req, ctx, Error{make_error_code(service::TokenError::InvalidToken), ""});
    co_return error_response(req, ctx, (*user).error());
  }
  if ((*user)->disabled) co_return bearer_problem(req, ctx, Error{make_error_code(service::TokenError::TokenRevoked), ""});
  co_return json_response(req, ctx, 200, nlohmann::json{{"user", user_json(**user)}}.dump());
}

Awaitable App::logout(Request& req, RequestContext& ctx) {
  std::optional<service::AccessClaims> access;
  std::optional<Error> bearer_error;
  if (!req[bhttp::field::authorization].empty()) {
    auto claims = bearer(req);
    // An expired or revoked access token must not stop a refresh-token logout.
    if (claims) access = std::move(*claims);
    else bearer_error = claims.error();
  }
  std::optional<SecretString> refresh_token;
  if (wants_body_transport(req) && !req.body().empty()) {
    auto body = json_body(req);
    if (!body) co_return error_response(req, ctx, body.error());
    auto rt = json::optional_string(*body, "refresh_token", kMaxTokenBytes);
    if (!rt) co_return error_response(req, ctx, rt.error());
    if (*rt) refresh_token.emplace(std::move(**rt));
  } else if (auto c = find_cookie(req[bhttp::field::cookie], refresh_cookie_name()); c && !c->empty()) {
    if (!origin_ok(req)) co_return problem_response(req, ctx, {403, "origin_mismatch", "Forbidden"}, "Cross-origin request refused.");
    refresh_token.emplace(*c);
  }
  if (!access && !refresh_token)
    co_return bearer_problem(req, ctx, bearer_error.value_or(Error{make_error_code(service::TokenError::InvalidToken), ""}));
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] {
    return d_.tokens.logout(refresh_token ? &*refresh_token : nullptr, access ? &*access : nullptr, meta);
  });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return error_response(req, ctx, r->error());
  Response res{bhttp::status::no_content, req.version()};
  res.set("X-Request-Id", ctx.request_id);
  res.set(bhttp::field::cache_control, "no-store");
  for (std::string_view path : {kRefreshPath, kLogoutPath})
    res.insert(bhttp::field::set_cookie,
               set_cookie({refresh_cookie_name(), "", path, std::chrono::seconds{0}, d_.config.refresh_cookie_secure, true, "Strict"}));
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  co_return res;
}

Awaitable App::logout_all(Request& req, RequestContext& ctx) {
  auto claims = bearer(req);
  if (!claims) co_return bearer_problem(req, ctx, claims.error());
  // Ending every other session needs a recent authentication (ASVS 7.5.2).
  if (auto recent = d_.authz->require_recent(claims->auth_time); !recent) co_return authz_problem(req, ctx, recent.error());
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] { return d_.accounts.logout_all(claims->sub, meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return error_response(req, ctx, r->error());
  Response res{bhttp::status::no_content, req.version()};
  res.set("X-Request-Id", ctx.request_id);
  res.set(bhttp::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  co_return res;
}

Awaitable App::change_password(Request& req, RequestContext& ctx) {
  auto claims = bearer(req);
  if (!claims) co_return bearer_problem(req, ctx, claims.error());
  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  if (auto ok = json::only_fields(*body, {"current_password", "new_password"}); !ok) co_return error_response(req, ctx, ok.error());
  auto current = json::required_string(*body, "current_password", kMaxPasswordBytes);
  if (!current) co_return error_response(req, ctx, current.error());
  auto next = json::required_string(*body, "new_password", kMaxPasswordBytes);
  if (!next) co_return error_response(req, ctx, next.error());
  service::PasswordChangeInput in{claims->sub, SecretString(std::move(*current)), SecretString(std::move(*next)),
                                  claims->sid, claims->jti, claims->exp, claims->auth_time, claims->client_id, claims->amr};
  wipe_secret_field(*body, "current_password");
  wipe_secret_field(*body, "new_password");
  wipe(req.body());
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.hash_pool, [&] { return d_.accounts.change_password(std::move(in), meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return error_response(req, ctx, r->error());
  nlohmann::json j = {{"user", user_json((*r)->user)}};
  if (!(*r)->access_token.empty()) {
    j["access_token"] = (*r)->access_token;
    j["token_type"] = "Bearer";
    j["expires_in"] = d_.tokens.config().access_ttl.count();
  }
  co_return json_response(req, ctx, 200, j.dump());
}

Awaitable App::jwks(Request& req, RequestContext& ctx) {
  Response res = json_response(req, ctx, 200, d_.keys.snapshot()->jwks_json);
  res.set(bhttp::field::content_type, "application/jwk-set+json; charset=utf-8");
  // Short enough that a rotation is seen quickly; verifiers refetch on an unknown kid anyway.
  res.set(bhttp::field::cache_control, "public, max-age=300");
  co_return res;
}

Awaitable App::openapi(Request& req, RequestContext& ctx) {
  Response res = json_response(req, ctx, 200, std::string(embedded_page_file("openapi.json")));
  res.set(bhttp::field::cache_control, "public, max-age=300");
  co_return res;
}

Awaitable App::openid_configuration(Request& req, RequestContext& ctx) {
  const std::string& iss = d_.tokens.config().issuer;
  // Only what exists: the issuer, its keys and the user endpoint. No grant
  // types or ID-token algorithms are advertised until Gatehouse is an OP.
  nlohmann::json j = {{"issuer", iss},
                      {"jwks_uri", d_.config.public_url + "/.well-known/jwks.json"},
                      {"userinfo_endpoint", d_.config.public_url + "/v1/me"},
                      {"claims_supported", {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "sid", "client_id", "tenant", "role"}}};
  Response res = json_response(req, ctx, 200, j.dump());
  res.set(bhttp::field::cache_control, "public, max-age=300");
  co_return res;
}

}  // namespace gh::http
