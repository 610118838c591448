// Browser-session endpoints (JSON) and nginx forward-auth. Cookie-authenticated
// state changes need the session's CSRF token in X-CSRF-Token and, when the
// browser sends one, an Origin equal to ours.
#include <boost/beast/http/field.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/authz/routes.h"
#include "http/app.h"
#include "http/cookies.h"
#include "http/handler_util.h"
#include "http/offload.h"
#include "http/problem.h"

namespace gh::http {

namespace {
constexpr Problem kCsrf{403, "csrf_failed", "Forbidden"};
constexpr Problem kOrigin{403, "origin_mismatch", "Forbidden"};
constexpr Problem kNoSession{401, "no_session", "Unauthorized"};

nlohmann::json session_json(const store::Session& s, bool current) {
  return {{"id", s.id_hash},
          {"created_at", to_rfc3339(s.created_at)},
          {"last_seen", to_rfc3339(s.last_seen)},
          {"expires_at", to_rfc3339(std::min(s.idle_expires_at, s.expires_at))},
          {"ip", s.ip},
          {"user_agent", s.user_agent},
          {"amr", s.amr},
          {"current", current}};
}

// The path of the request the proxy is asking about, from the headers a proxy
// sets: X-Original-URL (its path; the nginx example), X-Original-URI,
// X-Forwarded-Uri (Traefik). nullopt when none is present, or when two are
// present and disagree (a client-added one next to the proxy's): refused.
std::optional<std::string_view> original_path(const Request& req) {
  std::optional<std::string_view> found;
  auto offer = [&](std::string_view path) {
    if (found && *found != path) return false;
    found = path;
    return true;
  };
  if (const std::string_view url = req["X-Original-URL"]; !url.empty()) {
    const auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return std::nullopt;
    const auto path = url.find('/', scheme + 3);
    if (!offer(path == std::string_view::npos ? std::string_view("/") : url.substr(path))) return std::nullopt;
  }
  for (const char* name : {"X-Original-URI", "X-Forwarded-Uri"}) {
    if (const std::string_view v = req[name]; !v.empty() && !offer(v)) return std::nullopt;
  }
  return found;
}
}  // namespace

std::string App::session_cookie_name() const {
  // __Host-: Secure, Path=/, no Domain — cannot be planted by a sibling subdomain.
  return d_.config.session_cookie_secure ? "__Host-gh_session" : "gh_session";
}

std::string App::session_set_cookie(std::string_view value, std::chrono::seconds max_age) const {
  return set_cookie({session_cookie_name(), value, "/", max_age, d_.config.session_cookie_secure, true, "Lax"});
}

namespace {
std::string_view device_cookie_name(bool secure) { return secure ? "__Host-gh_device" : "gh_device"; }
}  // namespace

std::string App::device_token_of(const Request& req) const {
  const auto c = find_cookie(req[bhttp::field::cookie], device_cookie_name(d_.config.session_cookie_secure));
  return c ? std::string(c->substr(0, 128)) : std::string();
}

void App::add_device_cookie(Response& res, const store::User& user) {
  const std::string token = d_.accounts.device_token_for(user);
  if (token.empty()) return;
  res.insert(bhttp::field::set_cookie,
             set_cookie({device_cookie_name(d_.config.session_cookie_secure), token, "/", service::KnownDevices::kLifetime, d_.config.session_cookie_secure, true, "Lax"}));
}

asio::awaitable<Result<service::CurrentSession>> App::current_session(const Request& req) {
  const auto c = find_cookie(req[bhttp::field::cookie], session_cookie_name());
  if (!c || c->empty()) co_return tl::unexpected(Error{make_error_code(service::SessionError::NoSession), ""});
  const std::string value(*c);
  auto r = co_await offload(d_.db_pool, [&] { return d_.sessions.authenticate(value); });
  if (!r) co_return tl::unexpected(Error{make_error_code(store::StoreError::Busy), "overloaded"});
  co_return std::move(*r);
}

Awaitable App::session_login(Request& req, RequestContext& ctx) {
  if (!origin_ok(req)) co_return problem_response(req, ctx, kOrigin, "Cross-origin request refused.");
  auto body = json_body(req);  // JSON only: a cross-site form cannot send it without a CORS preflight
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
  auto user = co_await offload(d_.hash_pool, [&] { return d_.accounts.login(std::move(in), meta); });
  if (!user) co_return overloaded(req, ctx);
  if (!*user) co_return error_response(req, ctx, user->error());
  co_await rate_limit_refund(ctx, service::LimitId::LoginPerAccount, std::move(*email));  // only failures count
  if (auto gate = co_await mfa_gate(req, ctx, **user, service::kAmrPassword, (*user)->id))
    co_return std::move(*gate);
  // A fresh id at every sign-in: a planted (fixated) cookie is simply replaced,
  // and a session this browser already had is ended.
  auto previous = co_await current_session(req);
  auto s = co_await offload(d_.db_pool, [&] {
    return d_.sessions.replace(previous ? &*previous : nullptr, (*user)->id, "pwd", meta,
                               (*user)->id);
  });
  if (!s) co_return overloaded(req, ctx);
  if (!*s) co_return error_response(req, ctx, s->error());
  nlohmann::json j = {{"user", user_json(**user)}, {"csrf_token", (*s)->csrf_token}};
  Response res = json_response(req, ctx, 200, j.dump());
  res.insert(bhttp::field::set_cookie, session_set_cookie((*s)->id.expose(), d_.sessions.config().absolute_timeout));
  add_device_cookie(res, **user);
  co_return res;
}

Awaitable App::session_info(Request& req, RequestContext& ctx) {
  auto s = co_await current_session(req);
  if (!s) co_return problem_response(req, ctx, kNoSession, "Sign in first.");
  nlohmann::json j = {{"user_id", s->row.user_id}, {"csrf_token", s->csrf_token}, {"session", session_json(s->row, true)}};
  co_return json_response(req, ctx, 200, j.dump());
}

bool App::csrf_checked(const Request& req, const service::CurrentSession& s) const {
  return origin_ok(req) && d_.sessions.csrf_ok(s, req["X-CSRF-Token"]);
}

Awaitable App::session_logout(Request& req, RequestContext& ctx) {
  auto s = co_await current_session(req);
  if (!s) co_return problem_response(req, ctx, kNoSession, "No session.");
  if (!csrf_checked(req, *s)) co_return problem_response(req, ctx, kCsrf, "Missing or wrong CSRF token.");
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] { return d_.sessions.end(*s, meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return error_response(req, ctx, r->error());
  Response res = no_content(req, ctx);
  res.insert(bhttp::field::set_cookie, session_set_cookie("", std::chrono::seconds{0}));
  co_return res;
}

Awaitable App::list_sessions(Request& req, RequestContext& ctx) {
  auto s = co_await current_session(req);
  if (!s) co_return problem_response(req, ctx, kNoSession, "Sign in first.");
  auto list = co_await offload(d_.db_pool, [&] { return d_.sessions.list(s->row.user_id); });
  if (!list) co_return overloaded(req, ctx);
  if (!*list) co_return error_response(req, ctx, list->error());
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& row : **list) arr.push_back(session_json(row, row.id_hash == s->row.id_hash));
  co_return json_response(req, ctx, 200, nlohmann::json{{"sessions", arr}}.dump());
}

Awaitable App::revoke_session(Request& req, RequestContext& ctx) {
  auto s = co_await current_session(req);
  if (!s) co_return problem_response(req, ctx, kNoSession, "Sign in first.");
  if (!csrf_checked(req, *s)) co_return problem_response(req, ctx, kCsrf, "Missing or wrong CSRF token.");
  const std::string handle(ctx.param("id"));
  // Signing another device out needs a recent authentication (ASVS 7.5.2); this device needs none.
  if (handle != s->row.id_hash) {
    if (auto recent = d_.authz->require_recent(s->row.auth_time); !recent)
      co_return authz_problem(req, ctx, recent.error());
  }
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] { return d_.sessions.revoke(s->row.user_id, handle, meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return problem_response(req, ctx, kNotFound, "No such session.");
  co_return no_content(req, ctx);
}

Awaitable App::session_token(Request& req, RequestContext& ctx) {
  auto s = co_await current_session(req);
  if (!s) co_return problem_response(req, ctx, kNoSession, "Sign in first.");
  if (!csrf_checked(req, *s)) co_return problem_response(req, ctx, kCsrf, "Missing or wrong CSRF token.");
  auto user = d_.accounts.cached_user(s->row.user_id);
  if (!user) {
    auto loaded = co_await offload(d_.db_pool, [&] { return d_.accounts.load_user(s->row.user_id); });
    if (!loaded) co_return overloaded(req, ctx);
    if (!*loaded) co_return problem_response(req, ctx, kNoSession, "Sign in first.");
    user = std::move(**loaded);
  }
  // A short-lived access token for the signed-in browser's own front end; no refresh token.
  auto t = d_.tokens.mint_access(*user, "", s->row.auth_time, "session", s->row.amr);
  if (!t) co_return error_response(req, ctx, t.error());
  nlohmann::json j = {{"access_token", *t}, {"token_type", "Bearer"}, {"expires_in", d_.tokens.config().access_ttl.count()}};
  co_return json_response(req, ctx, 200, j.dump());
}

Awaitable App::forward_auth(Request& req, RequestContext& ctx) {
  // nginx auth_request: 200 + identity headers, or 401. The 401 carries a
  // Location to our sign-in page that returns to the original URL (from the
  // proxy's X-Original-URL, checked like any return_to), so the proxy can
  // send the browser there: `auth_request_set $gh_login $upstream_http_location;`.
  auto unauthorized = [&](Response res) {
    const std::string back = return_to(req["X-Original-URL"]);
    res.set(bhttp::field::location,
            back.empty() ? d_.config.public_url + "/login"
                         : fmt::format("{}/login?return_to={}", d_.config.public_url, web::url_encode(back)));
    return res;
  };
  std::string user_id;
  std::string tenant;  // a bearer token's tenant claim, else what the proxy says
  std::optional<service::CurrentSession> cached;
  if (!req[bhttp::field::authorization].empty()) {
    auto claims = bearer(req);
    if (!claims) co_return unauthorized(bearer_problem(req, ctx, claims.error()));
    user_id = claims->sub;
    tenant = claims->tenant;
  } else if (const auto c = find_cookie(req[bhttp::field::cookie], session_cookie_name());
             c && !c->empty() && (cached = d_.sessions.authenticate_cached(*c))) {
    // Hot path (every request to a protected app): a session the store vouched
    // for within the last second, without leaving the I/O thread. Changes made
    // on this instance evict at once; elsewhere, within sessions cache_ttl (1 s).
    user_id = cached->row.user_id;
  } else {
    auto s = co_await current_session(req);
    if (!s) co_return unauthorized(problem_response(req, ctx, kNoSession, "Sign in first."));
    user_id = s->row.user_id;
  }
  auto user = d_.accounts.cached_user(user_id);
  if (!user) {
    auto loaded = co_await offload(d_.db_pool, [&] { return d_.accounts.load_user(user_id); });
    if (!loaded) co_return overloaded(req, ctx);
    if (!*loaded || (*loaded)->disabled) co_return unauthorized(problem_response(req, ctx, kNoSession, "Sign in first."));
    user = std::move(**loaded);
  }
  if (user->disabled) co_return unauthorized(problem_response(req, ctx, kNoSession, "Sign in first."));
  // The tenant: the proxy's X-Gatehouse-Tenant is authoritative (it knows
  // which app the request is for); a bearer token for another tenant is refused,
  // never used to pick the tenant the rules are checked in.
  const auto forbidden = [&](std::string_view why) {
    return problem_response(req, ctx, problem_for(Error{make_error_code(service::AuthzFailure::Forbidden), ""}), why);
  };
  if (const std::string_view named = req["X-Gatehouse-Tenant"]; !named.empty()) {
    if (named.size() > 64) co_return forbidden("The tenant named by the proxy is not valid.");
    if (!tenant.empty() && tenant != named) co_return forbidden("This token is for another tenant.");
    tenant = std::string(named);
  }
  const auto& rules = d_.authz->config().forward_auth_rules;
  const authz::RouteRule* rule = nullptr;
  if (!rules.empty()) {
    const auto raw = original_path(req);
    const auto path = raw ? authz::normalize_route_path(*raw) : std::nullopt;
    // Fail closed: with rules configured, a request whose path cannot be read is refused.
    if (!path) co_return forbidden("The original request path is missing, ambiguous or malformed.");
    rule = authz::match_route(rules, *path);
  }
  std::optional<authz::Subject> subject;
  if (rule || !tenant.empty()) {
    subject = d_.authz->subject_cached(user->id, tenant);
    if (!subject) {
      auto loaded = co_await offload(d_.db_pool, [&] { return d_.authz->subject(user->id, tenant); });
      if (!loaded) co_return overloaded(req, ctx);
      if (!*loaded) co_return error_response(req, ctx, loaded->error());
      subject = std::move(**loaded);
    }
  }
  if (rule && !authz::decide(d_.authz->policy(), *subject, rule->resource, rule->action).allow)
    co_return forbidden("You are not allowed to open this page.");
  Response res = no_content(req, ctx);
  res.result(bhttp::status::ok);
  res.set("X-Auth-User-Id", user->id);
  res.set("X-Auth-Email", user->email);
  if (subject && (!subject->role_in_tenant.empty() || subject->platform_admin)) {
    res.set("X-Auth-Tenant", tenant);
    res.set("X-Auth-Role", subject->role_in_tenant.empty() ? "admin" : subject->role_in_tenant);
  }
  res.prepare_payload();
  co_return res;
}

}  // namespace gh::http
