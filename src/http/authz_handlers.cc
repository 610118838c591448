// Authorization endpoints (docs/authz.md): tenant tokens, step-up, the
// authorization check for other services, and the admin API. Thin: parse,
// call one AuthzService/AdminService function, map the result. Who may do
// what is decided in the services, never here.
#include <charconv>

#include <fmt/format.h>
#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

#include "core/base/encoding.h"
#include "http/app.h"
#include "http/cookies.h"
#include "http/handler_util.h"
#include "http/offload.h"
#include "http/problem.h"

namespace gh::http {
namespace {

constexpr std::size_t kMaxIdBytes = 64;
constexpr std::size_t kMaxRoleBytes = 64;
constexpr std::size_t kMaxChecks = 100;
constexpr Problem kInvalidQuery{400, "invalid_query", "Invalid query parameter"};
constexpr Problem kTooManyChecks{400, "too_many_checks", "Too many checks"};

nlohmann::json tenant_json(const store::Tenant& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"created_at", to_rfc3339(t.created_at)},
          {"updated_at", to_rfc3339(t.updated_at)}};
}

nlohmann::json member_json(const service::MemberView& m) {
  return {{"tenant", m.membership.tenant_id},
          {"user_id", m.membership.user_id},
          {"email", m.email},
          {"role", m.membership.role},
          {"created_at", to_rfc3339(m.membership.created_at)},
          {"updated_at", to_rfc3339(m.membership.updated_at)}};
}

nlohmann::json client_json(const store::ServiceClient& c) {
  return {{"client_id", c.id},
          {"tenant", c.tenant_id},
          {"name", c.name},
          {"created_at", to_rfc3339(c.created_at)},
          {"updated_at", to_rfc3339(c.updated_at)}};
}

nlohmann::json audit_json(const store::AuditRecord& r) {
  return {{"id", r.id},
          {"time", to_rfc3339(r.time)},
          {"action", r.action},
          {"result", r.result},
          {"actor", r.actor},
          {"subject", r.subject},
          {"tenant", r.tenant},
          {"ip", r.ip},
          {"user_agent", r.user_agent},
          {"request_id", r.request_id}};
}

nlohmann::json decision_json(const authz::Decision& d) {
  return {{"allowed", d.allow}, {"reason", authz::reason_code(d.reason)}};
}

// A non-negative integer query value within [lo, hi], or nullopt.
std::optional<std::int64_t> int_param(std::string_view v, std::int64_t lo, std::int64_t hi) {
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || end != v.data() + v.size() || n < lo || n > hi) return std::nullopt;
  return n;
}

// "Basic base64(id:secret)" (RFC 7617) -> (id, secret), or nullopt.
std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view header) {
  if (header.size() < 7 || !beast::iequals(header.substr(0, 6), "Basic ")) return std::nullopt;
  std::string b64(header.substr(6));
  if (b64.empty() || b64.size() > 512 || b64.size() % 4 != 0) return std::nullopt;
  // Standard base64 -> the base64url our decoder takes (it refuses non-canonical input).
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  for (char& ch : b64) ch = ch == '+' ? '-' : ch == '/' ? '_' : ch;
  auto raw = base64url_decode(b64);
  if (!raw) return std::nullopt;
  const auto colon = raw->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::pair{raw->substr(0, colon), raw->substr(colon + 1)};
}

// A check from a JSON object: tenant, resource, action required; subject optional.
Result<service::CheckRequest> check_of(const json::Json& j) {
  if (!j.is_object()) return fail(json::JsonError::WrongType, "each check must be an object");
  if (auto ok = json::only_fields(j, {"subject", "tenant", "resource", "action"}); !ok)
    return fail(ok.error());
  service::CheckRequest c;
  auto subject = json::optional_string(j, "subject", kMaxIdBytes);
  if (!subject) return fail(subject.error());
  c.subject = subject->value_or("");
  for (auto [key, out] :
       {std::pair{"tenant", &c.tenant}, {"resource", &c.resource}, {"action", &c.action}}) {
    auto v = json::required_string(j, key, kMaxIdBytes);
    if (!v) return fail(v.error());
    *out = std::move(*v);
  }
  return c;
}

}  // namespace

std::optional<Response> App::caller_of(const Request& req, const RequestContext& ctx,
                                       service::Caller& out) {
  auto claims = bearer(req);
  if (!claims) return bearer_problem(req, ctx, claims.error());
  out = service::Caller{claims->sub, claims->auth_time, meta_of(req, ctx)};
  return std::nullopt;
}

Response App::authz_problem(const Request& req, const RequestContext& ctx, const Error& e) {
  Response res = error_response(req, ctx, e);
  if (e.code == make_error_code(service::AuthzFailure::ReauthRequired)) {
    // RFC 9470: the client should re-authenticate and come back with a fresh auth_time.
    res.set(
        bhttp::field::www_authenticate,
        fmt::format(R"(Bearer realm="gatehouse", error="insufficient_user_authentication", )"
                    R"(error_description="a more recent authentication is required", max_age={})",
                    d_.authz->config().reauth_window.count()));
  } else if (e.code == make_error_code(service::AuthzFailure::InvalidClient)) {
    res.set(bhttp::field::www_authenticate, R"(Basic realm="gatehouse")");
  }
  return res;
}

// ---- Tenant tokens and step-up ----------------------------------------------

Awaitable App::tenant_token(Request& req, RequestContext& ctx) {
  auto claims = bearer(req);
  if (!claims) co_return bearer_problem(req, ctx, claims.error());
  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  if (auto ok = json::only_fields(*body, {"tenant"}); !ok)
    co_return error_response(req, ctx, ok.error());
  auto tenant = json::required_string(*body, "tenant", kMaxIdBytes);
  if (!tenant) co_return error_response(req, ctx, tenant.error());
  const auto meta = meta_of(req, ctx);
  auto t =
      co_await offload(d_.db_pool, [&] { return d_.authz->tenant_token(*claims, *tenant, meta); });
  if (!t) co_return overloaded(req, ctx);
  if (!*t) co_return authz_problem(req, ctx, t->error());
  co_return json_response(req, ctx, 200,
                          nlohmann::json{{"access_token", (*t)->access_token},
                                         {"token_type", "Bearer"},
                                         {"expires_in", (*t)->expires_in.count()},
                                         {"tenant", (*t)->tenant},
                                         {"role", (*t)->role}}
                              .dump());
}

Awaitable App::reauthenticate(Request& req, RequestContext& ctx) {
  auto claims = bearer(req);
  if (!claims) co_return bearer_problem(req, ctx, claims.error());
  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  if (auto ok = json::only_fields(*body, {"password", "code", "recovery_code"}); !ok)
    co_return error_response(req, ctx, ok.error());
  auto password = json::required_string(*body, "password", kMaxPasswordBytes);
  if (!password) co_return error_response(req, ctx, password.error());
  auto code = json::optional_string(*body, "code", kMaxCodeBytes);
  if (!code) co_return error_response(req, ctx, code.error());
  auto recovery = json::optional_string(*body, "recovery_code", kMaxCodeBytes);
  if (!recovery) co_return error_response(req, ctx, recovery.error());
  SecretString pw(std::move(*password));
  const service::SecondFactor factor{code->value_or(""), recovery->value_or(""), device_token_of(req)};
  wipe_secret_field(*body, "password");
  wipe(req.body());
  const auto meta = meta_of(req, ctx);
  auto token = co_await offload(d_.hash_pool, [&]() -> Result<service::TenantToken> {
    auto user = d_.accounts.reauthenticate(claims->sub, std::move(pw), factor.device_token, meta);
    if (!user) return fail(user.error());
    auto amr = d_.mfa->step_up(*user, factor, meta);  // the second factor too, when the user has one
    if (!amr) return fail(amr.error());
    return d_.authz->reauthenticated_token(*claims, *user, *amr);
  });
  if (!token) co_return overloaded(req, ctx);
  if (!*token) co_return error_response(req, ctx, token->error());
  nlohmann::json j = {{"access_token", (*token)->access_token},
                      {"token_type", "Bearer"},
                      {"expires_in", (*token)->expires_in.count()}};
  if (!(*token)->tenant.empty()) {
    j["tenant"] = (*token)->tenant;
    j["role"] = (*token)->role;
  }
  co_return json_response(req, ctx, 200, j.dump());
}

// ---- POST /v1/authz/check ---------------------------------------------------

Awaitable App::authz_check(Request& req, RequestContext& ctx) {
  // Who asks: a service client (Basic) or a signed-in user (Bearer).
  service::Asker who;
  const std::string_view authorization = req[bhttp::field::authorization];
  if (authorization.size() >= 6 && beast::iequals(authorization.substr(0, 6), "Basic ")) {
    auto creds = basic_credentials(authorization);
    if (!creds)
      co_return authz_problem(req, ctx,
                              Error{make_error_code(service::AuthzFailure::InvalidClient), ""});
    auto known = d_.authz->client_cached(creds->first, creds->second);
    if (!known) {
      auto loaded = co_await offload(
          d_.db_pool, [&] { return d_.authz->authenticate_client(creds->first, creds->second); });
      if (!loaded) co_return overloaded(req, ctx);
      known = std::move(*loaded);
    }
    if (!*known) co_return authz_problem(req, ctx, known->error());
    who.client = std::move(**known);
  } else {
    auto claims = bearer(req);
    if (!claims) co_return bearer_problem(req, ctx, claims.error());
    who.user_id = std::move(claims->sub);
  }

  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  const bool batch = body->contains("checks");
  std::vector<service::CheckRequest> checks;
  if (batch) {
    if (auto ok = json::only_fields(*body, {"checks"}); !ok)
      co_return error_response(req, ctx, ok.error());
    const auto& list = (*body)["checks"];
    if (!list.is_array() || list.empty())
      co_return error_response(
          req, ctx,
          Error{make_error_code(json::JsonError::WrongType), "checks must be a non-empty array"});
    if (list.size() > kMaxChecks)
      co_return problem_response(req, ctx, kTooManyChecks,
                                 fmt::format("At most {} checks per call.", kMaxChecks));
    for (const auto& item : list) {
      auto c = check_of(item);
      if (!c) co_return error_response(req, ctx, c.error());
      checks.push_back(std::move(*c));
    }
  } else {
    auto c = check_of(*body);
    if (!c) co_return error_response(req, ctx, c.error());
    checks.push_back(std::move(*c));
  }
  if (auto scoped = d_.authz->scope_checks(checks, who); !scoped)
    co_return authz_problem(req, ctx, scoped.error());
  // Hot path: every answer from the cache, without leaving the I/O thread.
  auto decisions = d_.authz->answer_cached(checks, who);
  if (!decisions) {
    auto loaded = co_await offload(d_.db_pool, [&] { return d_.authz->answer(checks, who); });
    if (!loaded) co_return overloaded(req, ctx);
    if (!*loaded) co_return error_response(req, ctx, loaded->error());
    decisions = std::move(**loaded);
  }
  if (!batch) co_return json_response(req, ctx, 200, decision_json(decisions->front()).dump());
  nlohmann::json results = nlohmann::json::array();
  for (const auto& d : *decisions) results.push_back(decision_json(d));
  co_return json_response(req, ctx, 200, nlohmann::json{{"results", std::move(results)}}.dump());
}

// ---- Admin API --------------------------------------------------------------
// Each handler: the caller from the bearer token, one AdminService call on the
// store pool, the result as JSON (or a problem).

template <class Op, class Render>
Awaitable App::admin_call(Request& req, RequestContext& ctx, Op op, Render render) {
  service::Caller caller;
  if (auto denied = caller_of(req, ctx, caller)) co_return std::move(*denied);
  auto r = co_await offload(d_.db_pool, [&] { return op(caller); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return authz_problem(req, ctx, r->error());
  if constexpr (std::is_void_v<typename std::decay_t<decltype(*r)>::value_type>) {
    co_return no_content(req, ctx);
  } else {
    co_return render(**r);
  }
}

namespace {
// The JSON body's string field `key` (required), for the admin endpoints.
Result<std::string> body_string(const Request& req, std::string_view key, std::size_t max,
                                std::initializer_list<std::string_view> allowed) {
  auto body = json_body(req);
  if (!body) return fail(body.error());
  if (auto ok = json::only_fields(*body, allowed); !ok) return fail(ok.error());
  return json::required_string(*body, key, max);
}

auto ignore = [](auto&&) { return Response{}; };
}  // namespace

Awaitable App::admin_list_users(Request& req, RequestContext& ctx) {
  const auto q = query_of(req);
  std::optional<std::string> after, search;
  if (auto v = q.get("after")) after = std::string(*v);
  if (auto v = q.get("q")) search = std::string(*v);
  std::int64_t limit = 50;
  if (auto v = q.get("limit")) {
    auto n = int_param(*v, 1, 200);
    if (!n) co_return problem_response(req, ctx, kInvalidQuery, "limit must be 1 to 200.");
    limit = *n;
  }
  co_return co_await admin_call(
      req, ctx,
      [&](const service::Caller& c) {
        return d_.admin->list_users(c, after, static_cast<std::size_t>(limit), search);
      },
      [&](const store::UserPage& page) {
        nlohmann::json users = nlohmann::json::array();
        for (const auto& u : page.users) {
          auto j = user_json(u);
          j["disabled"] = u.disabled;
          users.push_back(std::move(j));
        }
        return json_response(
            req, ctx, 200,
            nlohmann::json{
                {"users", std::move(users)},
                {"next_cursor", page.next_cursor ? nlohmann::json(*page.next_cursor) : nullptr}}
                .dump());
      });
}

Awaitable App::admin_get_user(Request& req, RequestContext& ctx) {
  const std::string id(ctx.param("id"));
  co_return co_await admin_call(
      req, ctx, [&](const service::Caller& c) { return d_.admin->get_user(c, id); },
      [&](const service::UserDetail& d) {
        auto user = user_json(d.user);
        user["disabled"] = d.user.disabled;
        nlohmann::json memberships = nlohmann::json::array();
        for (const auto& m : d.memberships)
          memberships.push_back({{"tenant", m.tenant_id}, {"role", m.role}});
        return json_response(req, ctx, 200,
                             nlohmann::json{{"user", std::move(user)},
                                            {"platform_admin", d.platform_admin},
                                            {"memberships", std::move(memberships)}}
                                 .dump());
      });
}

Awaitable App::admin_user_action(Request& req, RequestContext& ctx) {
  const std::string id(ctx.param("id"));
  const std::string_view route = ctx.route;
  co_return co_await admin_call(
      req, ctx,
      [&](const service::Caller& c) -> Status {
        if (route.ends_with("/mfa")) return d_.admin->reset_mfa(c, id);
        if (req.method() == bhttp::verb::delete_) return d_.admin->delete_user(c, id);
        if (route.ends_with("/disable")) return d_.admin->set_disabled(c, id, true);
        if (route.ends_with("/enable")) return d_.admin->set_disabled(c, id, false);
        if (route.ends_with("/logout")) return d_.admin->logout_user(c, id);
        return d_.admin->unlock_user(c, id);
      },
      ignore);
}

Awaitable App::admin_audit(Request& req, RequestContext& ctx) {
  const auto q = query_of(req);
  store::AuditQuery aq;
  for (auto [key, out] : {std::pair{"user", &aq.user},
                          {"action", &aq.action},
                          {"result", &aq.result},
                          {"tenant", &aq.tenant}})
    if (auto v = q.get(key)) *out = std::string(*v);
  const std::int64_t kMaxTime = std::int64_t{1} << 40;
  if (auto v = q.get("since")) {
    auto n = int_param(*v, 0, kMaxTime);
    if (!n) co_return problem_response(req, ctx, kInvalidQuery, "since must be unix seconds.");
    aq.since = Seconds{std::chrono::seconds{*n}};
  }
  if (auto v = q.get("until")) {
    auto n = int_param(*v, 0, kMaxTime);
    if (!n) co_return problem_response(req, ctx, kInvalidQuery, "until must be unix seconds.");
    aq.until = Seconds{std::chrono::seconds{*n}};
  }
  if (auto v = q.get("after")) {
    auto n = int_param(*v, 0, std::numeric_limits<std::int64_t>::max());
    if (!n) co_return problem_response(req, ctx, kInvalidQuery, "after must be an event id.");
    aq.after_id = *n;
  }
  aq.limit = 100;
  if (auto v = q.get("limit")) {
    auto n = int_param(*v, 1, 1000);
    if (!n) co_return problem_response(req, ctx, kInvalidQuery, "limit must be 1 to 1000.");
    aq.limit = static_cast<std::size_t>(*n);
  }
  const std::string tenant(ctx.param("t"));
  co_return co_await admin_call(
      req, ctx,
      [&](const service::Caller& c) {
        return tenant.empty() ? d_.admin->query_audit(c, aq)
                              : d_.admin->tenant_audit(c, tenant, aq);
      },
      [&](const service::AuditPage& page) {
        nlohmann::json events = nlohmann::json::array();
        for (const auto& r : page.events) events.push_back(audit_json(r));
        return json_response(
            req, ctx, 200,
            nlohmann::json{
                {"events", std::move(events)},
                {"next_cursor", page.next_cursor ? nlohmann::json(*page.next_cursor) : nullptr}}
                .dump());
      });
}

// Handlers with a body read it inside the operation, after the caller is
// authenticated: without a valid token the answer is 401, whatever the body.

Awaitable App::create_tenant(Request& req, RequestContext& ctx) {
  co_return co_await admin_call(
      req, ctx,
      [&](const service::Caller& c) -> Result<store::Tenant> {
        auto name = body_string(req, "name", 400, {"name"});
        if (!name) return fail(name.error());
        return d_.admin->create_tenant(c, *name);
      },
      [&](const store::Tenant& t) {
        return json_response(req, ctx, 201, nlohmann::json{{"tenant", tenant_json(t)}}.dump());
      });
}

Awaitable App::list_tenants(Request& req, RequestContext& ctx) {
  co_return co_await admin_call(
      req, ctx, [&](const service::Caller& c) { return d_.admin->tenants_of(c); },
      [&](const std::vector<service::TenantView>& list) {
        nlohmann::json tenants = nlohmann::json::array();
        for (const auto& v : list) {
          auto j = tenant_json(v.tenant);
          j["role"] = v.role;
          tenants.push_back(std::move(j));
        }
        return json_response(req, ctx, 200, nlohmann::json{{"tenants", std::move(tenants)}}.dump());
      });
}

Awaitable App::get_tenant(Request& req, RequestContext& ctx) {
  const std::string t(ctx.param("t"));
  co_return co_await admin_call(
      req, ctx, [&](const service::Caller& c) { return d_.admin->get_tenant(c, t); },
      [&](const service::TenantView& v) {
        return json_response(
            req, ctx, 200,
            nlohmann::json{{"tenant", tenant_json(v.tenant)}, {"role", v.role}}.dump());
      });
}

Awaitable App::rename_tenant(Request& req, RequestContext& ctx) {
  const std::string t(ctx.param("t"));
  co_return co_await admin_call(
      req, ctx,
      [&](const service::Caller& c) -> Result<store::Tenant> {
        auto name = body_string(req, "name", 400, {"name"});
        if (!name) return fail(name.error());
        return d_.admin->rename_tenant(c, t, *name);
      },
      [&](const store::Tenant& tenant) {
        return json_response(req, ctx, 200, nlohmann::json{{"tenant", tenant_json(tenant)}}.dump());
      });
}

Awaitable App::delete_tenant(Request& req, RequestContext& ctx) {
  const std::string t(ctx.param("t"));
  co_return co_await admin_call(
      req, ctx, [&](const service::Caller& c) { return d_.admin->delete_tenant(c, t); }, ignore);
}

Awaitable App::list_members(Request& req, RequestContext& ctx) {
  const auto q = query_of(req);
  std::optional<std::string> after;
  if (auto v = q.get("after")) after = std::string(*v);
  std::int64_t limit = 50;
  if (auto v = q.get("limit")) {
    auto n = int_param(*v, 1, 200);
    if (!n) co_return problem_response(req, ctx, kInvalidQuery, "limit must be 1 to 200.");
    limit = *n;
  }
  const std::string t(ctx.param("t"));
  co_return co_await admin_call(
      req, ctx,
      [&](const service::Caller& c) {
        return d_.admin->list_members(c, t, after, static_cast<std::size_t>(limit));
      },
      [&](const service::MemberList& list) {
        nlohmann::json members = nlohmann::json::array();
        for (const auto& m : list.members) members.push_back(member_json(m));
        return json_response(
            req, ctx, 200,
            nlohmann::json{
                {"members", std::move(members)},
                {"next_cursor", list.next_cursor ? nlohmann::json(*list.next_cursor) : nullptr}}
                .dump());
      });
}

Awaitable App::add_member(Request& req, RequestContext& ctx) {
  const std::string t(ctx.param("t"));
  co_return co_await admin_call(
      req, ctx,
      [&](const service::Caller& c) -> Result<service::MemberView> {
        auto body = json_body(req);
        if (!body) return fail(body.error());
        if (auto ok = json::only_fields(*body, {"user_id", "email", "role"}); !ok)
          return fail(ok.error());
        auto user_id = json::optional_string(*body, "user_id", kMaxIdBytes);
        if (!user_id) return fail(user_id.error());
        auto email = json::optional_string(*body, "email", kMaxEmailBytes);
        if (!email) return fail(email.error());
        if (user_id->has_value() == email->has_value())
          return fail(json::JsonError::MissingField, "give exactly one of user_id and email");
        auto role = json::required_string(*body, "role", kMaxRoleBytes);
        if (!role) return fail(role.error());
        // AccountService::find_user reads an '@' as an email: a user id never has one.
        if (user_id->has_value() && (*user_id)->find('@') != std::string::npos)
          return fail(service::AuthzFailure::NotFound);
        return d_.admin->add_member(c, t, user_id->has_value() ? **user_id : **email, *role);
      },
      [&](const service::MemberView& m) {
        return json_response(req, ctx, 201, nlohmann::json{{"member", member_json(m)}}.dump());
      });
}

Awaitable App::change_member(Request& req, RequestContext& ctx) {
  const std::string t(ctx.param("t"));
  const std::string user(ctx.param("user"));
  co_return co_await admin_call(
      req, ctx,
      [&](const service::Caller& c) -> Result<service::MemberView> {
        auto role = body_string(req, "role", kMaxRoleBytes, {"role"});
        if (!role) return fail(role.error());
        return d_.admin->set_member_role(c, t, user, *role);
      },
      [&](const service::MemberView& m) {
        return json_response(req, ctx, 200, nlohmann::json{{"member", member_json(m)}}.dump());
      });
}

Awaitable App::remove_member(Request& req, RequestContext& ctx) {
  const std::string t(ctx.param("t"));
  const std::string user(ctx.param("user"));
  co_return co_await admin_call(
      req, ctx, [&](const service::Caller& c) { return d_.admin->remove_member(c, t, user); },
      ignore);
}

Awaitable App::list_clients(Request& req, RequestContext& ctx) {
  const std::string t(ctx.param("t"));
  co_return co_await admin_call(
      req, ctx, [&](const service::Caller& c) { return d_.admin->list_clients(c, t); },
      [&](const std::vector<store::ServiceClient>& list) {
        nlohmann::json clients = nlohmann::json::array();
        for (const auto& c : list) clients.push_back(client_json(c));
        return json_response(req, ctx, 200, nlohmann::json{{"clients", std::move(clients)}}.dump());
      });
}

Awaitable App::create_client(Request& req, RequestContext& ctx) {
  const std::string t(ctx.param("t"));
  co_return co_await admin_call(
      req, ctx,
      [&](const service::Caller& c) -> Result<service::ClientSecret> {
        auto name = body_string(req, "name", 400, {"name"});
        if (!name) return fail(name.error());
        return d_.admin->create_client(c, t, *name);
      },
      [&](const service::ClientSecret& s) {
        auto j = client_json(s.client);
        j["client_secret"] = s.secret.expose();  // the only time it is ever shown
        return json_response(req, ctx, 201, j.dump());
      });
}

Awaitable App::rotate_client(Request& req, RequestContext& ctx) {
  const std::string t(ctx.param("t"));
  const std::string id(ctx.param("id"));
  co_return co_await admin_call(
      req, ctx, [&](const service::Caller& c) { return d_.admin->rotate_client(c, t, id); },
      [&](const service::ClientSecret& s) {
        auto j = client_json(s.client);
        j["client_secret"] = s.secret.expose();
        return json_response(req, ctx, 200, j.dump());
      });
}

Awaitable App::delete_client(Request& req, RequestContext& ctx) {
  const std::string t(ctx.param("t"));
  const std::string id(ctx.param("id"));
  co_return co_await admin_call(
      req, ctx, [&](const service::Caller& c) { return d_.admin->delete_client(c, t, id); },
      ignore);
}

}  // namespace gh::http
