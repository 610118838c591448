// Federated sign-in (issue #7, docs/oauth.md): start and callback of the
// authorization code flow, the native one-time-code exchange, and linking and
// unlinking identities from /account. Thin: each handler parses, calls
// OAuthService on the oauth worker pool (back-channel calls block for up to
// oauth.http_timeout_s), and maps the result. Failures of the browser
// endpoints are friendly pages for a browser (Accept: text/html) and
// problem+json otherwise; no token ever travels in a URL.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

#include "core/jwt/error.h"
#include "core/oauth/error.h"
#include "core/web/web.h"
#include "http/app.h"
#include "http/cookies.h"
#include "http/handler_util.h"
#include "http/offload.h"
#include "http/problem.h"
#include "service/oauth/oauth_service.h"

namespace gh::http {

namespace {

using oauth::OAuthError;
using service::FederationError;

constexpr Problem kCsrfProblem{403, "csrf_failed", "Forbidden"};
constexpr Problem kNoSessionProblem{401, "no_session", "Unauthorized"};

// docs/oauth.md §6: the merged client-facing codes; the audit log has the precise one.
Problem oauth_problem(const Error& e) {
  const auto& cat = e.code.category();
  if (cat == service::FederationError_category()) {
    switch (static_cast<FederationError>(e.code.value())) {
      case FederationError::UnknownProvider:
        return {404, "oauth_unknown_provider", "Unknown Provider"};
      case FederationError::StateInvalid:
        return {400, "oauth_state_invalid", "Sign-in Expired"};
      case FederationError::ProviderUnavailable:
        return {504, "oauth_provider_unavailable", "Provider Unavailable"};
      case FederationError::ProviderHttpError:
        return {502, "oauth_provider_error", "Provider Error"};
      case FederationError::AccountDisabled:
        return {403, "account_disabled", "Account disabled"};
      case FederationError::EmailUnverified:
        return {403, "oauth_email_unverified", "Email Not Verified"};
      case FederationError::LinkRequired:
        return {409, "oauth_link_required", "Link Required"};
      case FederationError::IdentityInUse:
        return {409, "oauth_identity_in_use", "Identity In Use"};
      case FederationError::LastSignInMethod:
        return {409, "last_sign_in_method", "Last Sign-in Method"};
      case FederationError::CodeInvalid:
        return {400, "invalid_grant", "Invalid Grant"};
      case FederationError::BadRedirect:
        return {400, "invalid_return_to", "Bad Request"};
      case FederationError::BadRequest:
        return {400, "bad_request", "Bad Request"};
      case FederationError::NotLinked:
        return {404, "not_found", "Not Found"};
      case FederationError::ReauthUnsupported:
        return {400, "oauth_reauth_unsupported", "Re-authentication Not Supported"};
      case FederationError::ReauthNotFresh:
        return {401, "oauth_reauth_not_fresh", "Re-authentication Not Fresh"};
      case FederationError::ReauthWrongIdentity:
        return {403, "oauth_reauth_wrong_identity", "Wrong Identity"};
    }
  }
  if (cat == oauth::OAuthError_category()) {
    switch (static_cast<OAuthError>(e.code.value())) {
      case OAuthError::MissingState:
      case OAuthError::StateMismatch:
      case OAuthError::BadCallback:
      case OAuthError::DuplicateParameter:
        return {400, "oauth_state_invalid", "Sign-in Expired"};
      case OAuthError::IssuerMismatch:
      case OAuthError::MissingIssuer:
        return {400, "oauth_issuer_mismatch", "Issuer Mismatch"};
      case OAuthError::ProviderError:
        if (e.detail == "access_denied") return {400, "oauth_denied", "Sign-in Denied"};
        return {502, "oauth_provider_error", "Provider Error"};
      case OAuthError::MissingClaim:
      case OAuthError::BadClaimType:
      case OAuthError::WrongJwtType:
      case OAuthError::WrongIssuer:
      case OAuthError::WrongAudience:
      case OAuthError::UntrustedAudience:
      case OAuthError::MissingAzp:
      case OAuthError::WrongAzp:
      case OAuthError::Expired:
      case OAuthError::IssuedInFuture:
      case OAuthError::TooOld:
      case OAuthError::NonceMismatch:
      case OAuthError::BadSubject:
        return {401, "oauth_invalid_id_token", "Invalid ID Token"};
      default:
        return {502, "oauth_provider_error", "Provider Error"};
    }
  }
  if (cat == jwt::JwtError_category()) return {401, "oauth_invalid_id_token", "Invalid ID Token"};
  return problem_for(e);
}

// What a person is told (fixed texts; nothing from the provider is echoed).
std::string_view text_for(const Problem& p) {
  const std::string_view c = p.code;
  if (c == "oauth_unknown_provider") return "There is no such sign-in option.";
  if (c == "oauth_state_invalid")
    return "This sign-in has expired or was already used. Please start again.";
  if (c == "oauth_denied") return "Sign-in was cancelled at the provider.";
  if (c == "oauth_provider_unavailable")
    return "The sign-in provider did not answer in time. Please try again later.";
  if (c == "oauth_email_unverified")
    return "The provider did not confirm your email address, so we cannot create an account with "
           "it.";
  if (c == "oauth_link_required")
    return "An account with this email address already exists. Sign in to it with your password, "
           "then link this "
           "provider from your account page.";
  if (c == "oauth_identity_in_use") return "This identity is already linked to another account.";
  if (c == "last_sign_in_method")
    return "This is your only way to sign in, so it cannot be removed.";
  if (c == "oauth_reauth_unsupported")
    return "This sign-in provider cannot confirm it's you. Use your password instead.";
  if (c == "oauth_reauth_not_fresh")
    return "The provider did not ask you to sign in again, so it could not confirm it's you. "
           "Please try again.";
  if (c == "oauth_reauth_wrong_identity")
    return "You signed in at the provider as someone not linked to this account.";
  if (c == "account_disabled")
    return "This account cannot sign in. Please contact your administrator.";
  if (c == "oauth_invalid_id_token" || c == "oauth_issuer_mismatch" || c == "oauth_provider_error")
    return "The sign-in provider's answer could not be accepted. Please try again.";
  return "Something went wrong. Please try again.";
}

bool wants_html(const Request& req) {
  return req[bhttp::field::accept].find("text/html") != std::string_view::npos;
}

void no_store(Response& res) {
  res.set(bhttp::field::cache_control, "no-store");
  res.set("Referrer-Policy", "no-referrer");
}

nlohmann::json identity_json(const store::Identity& i) {
  return {{"id", i.id},
          {"provider", i.provider},
          {"email", i.email},
          {"email_verified", i.email_verified},
          {"name", i.name},
          {"created_at", to_rfc3339(i.created_at)},
          {"last_login_at", to_rfc3339(i.last_login_at)}};
}

}  // namespace

std::string App::oauth_cookie_name() const {
  return d_.config.session_cookie_secure ? "__Host-gh_oauth" : "gh_oauth";
}

Response App::oauth_failure(const Request& req, const RequestContext& ctx, const Error& e) {
  const Problem p = oauth_problem(e);
  if (p.status >= 500 && p.code != "oauth_provider_unavailable" && p.code != "oauth_provider_error")
    spdlog::error("oauth: {}", e.message());
  Response res = wants_html(req) ? message_page(req, ctx, p.status, "Sign-in failed", text_for(p))
                                 : problem_response(req, ctx, p, text_for(p));
  no_store(res);
  return res;
}

Response App::oauth_redirect(const Request& req, const RequestContext& ctx,
                             const service::Started& s) {
  Response res = pages_.redirect(req, ctx, s.authorization_url);
  no_store(res);
  // Lax, not Strict: the callback is a cross-site top-level GET from the provider.
  res.insert(bhttp::field::set_cookie,
             set_cookie({oauth_cookie_name(), s.flow_id.expose(), "/", d_.oauth->config().flow_ttl,
                         d_.config.session_cookie_secure, true, "Lax"}));
  return res;
}

// GET /v1/oauth/{provider}/start?return_to=…  (mode=native: return_to, code_challenge, state)
Awaitable App::oauth_start(Request& req, RequestContext& ctx) {
  const std::string provider(ctx.param("provider"));
  if (d_.oauth == nullptr || !d_.oauth->has_provider(provider))
    co_return oauth_failure(req, ctx, {make_error_code(FederationError::UnknownProvider), {}});
  const auto q = query_of(req);
  service::StartRequest sr;
  const std::string_view mode = q.value("mode");
  if (mode == "native") {
    sr.mode = service::FlowMode::Native;
    sr.app_redirect = std::string(q.value("return_to"));
    sr.app_challenge = std::string(q.value("code_challenge"));
    sr.app_state = std::string(q.value("state"));
    if (q.value("code_challenge_method") != "S256")
      co_return oauth_failure(req, ctx, {make_error_code(FederationError::BadRequest), {}});
  } else if (mode.empty() || mode == "browser") {
    sr.return_to = return_to(q.value("return_to"));
  } else {
    co_return oauth_failure(req, ctx, {make_error_code(FederationError::BadRequest), {}});
  }
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(*d_.oauth_pool, [&] { return d_.oauth->start(provider, sr, meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return oauth_failure(req, ctx, r->error());
  co_return oauth_redirect(req, ctx, **r);
}

// GET /v1/oauth/{provider}/callback?code&state&iss (or error)
Awaitable App::oauth_callback(Request& req, RequestContext& ctx) {
  const std::string provider(ctx.param("provider"));
  const std::string_view target = req.target();
  const auto qpos = target.find('?');
  const std::string query(qpos == std::string_view::npos ? std::string_view{}
                                                         : target.substr(qpos + 1));
  const std::string flow_id(
      find_cookie(req[bhttp::field::cookie], oauth_cookie_name()).value_or(""));
  auto current = co_await current_session(req);
  Response res;
  if (d_.oauth == nullptr || !d_.oauth->has_provider(provider)) {
    res = oauth_failure(req, ctx, {make_error_code(FederationError::UnknownProvider), {}});
  } else {
    const service::CallbackRequest cr{
        flow_id, query, current ? std::optional<std::string>(current->row.user_id) : std::nullopt};
    const auto meta = meta_of(req, ctx);
    auto r =
        co_await offload(*d_.oauth_pool, [&] { return d_.oauth->callback(provider, cr, meta); });
    if (!r) {
      res = overloaded(req, ctx);
    } else if (!*r) {
      res = oauth_failure(req, ctx, r->error());
    } else {
      service::CallbackOutcome& out = **r;
      if (out.mode == service::FlowMode::Native) {
        // The app's one-time code (never a token) at its registered URI.
        std::string location = out.app_redirect;
        location += location.find('?') == std::string::npos ? '?' : '&';
        location += "code=" + web::url_encode(out.native_code->expose());
        if (!out.app_state.empty()) location += "&state=" + web::url_encode(out.app_state);
        res = pages_.redirect(req, ctx, location);
      } else if (out.mode == service::FlowMode::Link) {
        res = pages_.redirect(req, ctx, "/account?notice=identity_linked");
      } else if (out.mode == service::FlowMode::Reauth &&
                 !(current && current->row.user_id == out.user.id)) {
        // The service bound the flow to this session's user; a session that changed meanwhile
        // gets nothing.
        res = oauth_failure(req, ctx, {make_error_code(FederationError::StateInvalid), {}});
      } else if (auto gate = co_await mfa_page_gate(req, ctx, out.user, out.return_to,
                                                    service::kAmrFederated, out.login_subject)) {
        res = std::move(*gate);
      } else {
        // A fresh session id at every sign-in (fixation), as after a password; auth_time is what
        // the provider vouched for (OAuthService), so a silent provider sign-in is no step-up.
        auto s = co_await offload(d_.db_pool, [&] {
          return d_.sessions.replace(current ? &*current : nullptr, out.user.id,
                                     service::kAmrFederated, meta, out.login_subject,
                                     out.auth_time);
        });
        if (!s || !*s) {
          res = message_page(req, ctx, s ? 500 : 503, "Sign in",
                             "Something went wrong on our side. Please try again.");
        } else {
          res = signed_in_redirect(req, ctx, **s, out.return_to);
        }
      }
    }
  }
  no_store(res);
  res.insert(bhttp::field::set_cookie,
             set_cookie({oauth_cookie_name(), "", "/", std::chrono::seconds{0},
                         d_.config.session_cookie_secure, true, "Lax"}));
  co_return res;
}

// POST /v1/oauth/token {code, redirect_uri, code_verifier}: the native flow's exchange.
Awaitable App::oauth_token(Request& req, RequestContext& ctx) {
  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  if (auto ok = json::only_fields(*body, {"code", "redirect_uri", "code_verifier"}); !ok)
    co_return error_response(req, ctx, ok.error());
  auto code = json::required_string(*body, "code", 256);
  if (!code) co_return error_response(req, ctx, code.error());
  auto redirect = json::required_string(*body, "redirect_uri", 2048);
  if (!redirect) co_return error_response(req, ctx, redirect.error());
  auto verifier = json::required_string(*body, "code_verifier", 128);
  if (!verifier) co_return error_response(req, ctx, verifier.error());
  if (d_.oauth == nullptr)
    co_return oauth_failure(req, ctx, {make_error_code(FederationError::CodeInvalid), {}});
  const SecretString c(std::move(*code));
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(
      d_.db_pool, [&] { return d_.oauth->redeem_code(c.expose(), *redirect, *verifier, meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return oauth_failure(req, ctx, r->error());
  const store::User& user = (*r)->user;
  const std::string& login = (*r)->login_subject;
  if (auto gate = co_await mfa_gate(req, ctx, user, service::kAmrFederated, login))
    co_return std::move(*gate);
  co_return co_await signed_in(req, ctx, user, 200, service::kAmrFederated, nullptr, login,
                               (*r)->auth_time);
}

// GET /v1/account/identities (browser session)
Awaitable App::list_identities(Request& req, RequestContext& ctx) {
  auto s = co_await current_session(req);
  if (!s) co_return problem_response(req, ctx, kNoSessionProblem, "Sign in first.");
  if (d_.oauth == nullptr) co_return json_response(req, ctx, 200, R"({"identities":[]})");
  auto list = co_await offload(d_.db_pool, [&] { return d_.oauth->identities(s->row.user_id); });
  if (!list) co_return overloaded(req, ctx);
  if (!*list) co_return error_response(req, ctx, list->error());
  nlohmann::json out = nlohmann::json::array();
  for (const auto& i : **list) out.push_back(identity_json(i));
  co_return json_response(req, ctx, 200, nlohmann::json{{"identities", out}}.dump());
}

// DELETE /v1/account/identities/{id} (browser session, CSRF, step-up)
Awaitable App::unlink_identity(Request& req, RequestContext& ctx) {
  auto s = co_await current_session(req);
  if (!s) co_return problem_response(req, ctx, kNoSessionProblem, "Sign in first.");
  if (!csrf_checked(req, *s))
    co_return problem_response(req, ctx, kCsrfProblem, "Missing or wrong CSRF token.");
  if (auto recent = d_.authz->require_recent(s->row.auth_time); !recent)
    co_return authz_problem(req, ctx, recent.error());
  if (d_.oauth == nullptr) co_return problem_response(req, ctx, kNotFound, "No such identity.");
  const std::string id(ctx.param("id"));
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] { return d_.oauth->unlink(s->row.user_id, id, meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return oauth_failure(req, ctx, r->error());
  co_return no_content(req, ctx);
}

// POST /account/identities/link (form: provider, csrf): step-up, then off to the provider.
Awaitable App::page_link_identity_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req))
    co_return message_page(req, ctx, 403, "Request refused",
                           "This form was not sent from this site.");
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, "/login?return_to=%2Faccount");
  auto form = web::parse_form(req.body());
  if (!is_form_post(req) || !form || !d_.sessions.csrf_ok(*s, form->value("csrf")))
    co_return message_page(req, ctx, 403, "Request refused",
                           "This form has expired. Please try again.");
  if (!d_.authz->require_recent(s->row.auth_time))
    co_return co_await reauth_view(req, ctx, *s, 200, "/account", {});
  const std::string provider(form->value("provider"));
  if (d_.oauth == nullptr || !d_.oauth->has_provider(provider))
    co_return oauth_failure(req, ctx, {make_error_code(FederationError::UnknownProvider), {}});
  service::StartRequest sr;
  sr.mode = service::FlowMode::Link;
  sr.return_to = "/account";
  sr.link_user_id = s->row.user_id;
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(*d_.oauth_pool, [&] { return d_.oauth->start(provider, sr, meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return oauth_failure(req, ctx, r->error());
  co_return oauth_redirect(req, ctx, **r);
}

// POST /reauth/provider (form: provider, csrf, return_to): step-up for an account without a
// password through a linked OpenID provider that must ask the person again (FlowMode::Reauth).
Awaitable App::page_reauth_provider_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req))
    co_return message_page(req, ctx, 403, "Request refused",
                           "This form was not sent from this site.");
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, "/login?return_to=%2Faccount");
  auto form = web::parse_form(req.body());
  if (!is_form_post(req) || !form || !d_.sessions.csrf_ok(*s, form->value("csrf")))
    co_return message_page(req, ctx, 403, "Request refused",
                           "This form has expired. Please try again.");
  const std::string provider(form->value("provider"));
  if (d_.oauth == nullptr || !d_.oauth->has_provider(provider))
    co_return oauth_failure(req, ctx, {make_error_code(FederationError::UnknownProvider), {}});
  const std::string back = return_to(form->value("return_to"));
  service::StartRequest sr;
  sr.mode = service::FlowMode::Reauth;
  sr.return_to = back.empty() ? "/account?notice=reauthenticated" : back;
  sr.link_user_id = s->row.user_id;
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(*d_.oauth_pool, [&] { return d_.oauth->start(provider, sr, meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return oauth_failure(req, ctx, r->error());
  co_return oauth_redirect(req, ctx, **r);
}

// POST /account/identities/unlink (form: id, csrf): step-up, then unlink.
Awaitable App::page_unlink_identity_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req))
    co_return message_page(req, ctx, 403, "Request refused",
                           "This form was not sent from this site.");
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, "/login?return_to=%2Faccount");
  auto form = web::parse_form(req.body());
  if (!is_form_post(req) || !form || !d_.sessions.csrf_ok(*s, form->value("csrf")))
    co_return message_page(req, ctx, 403, "Request refused",
                           "This form has expired. Please try again.");
  if (!d_.authz->require_recent(s->row.auth_time))
    co_return co_await reauth_view(req, ctx, *s, 200, "/account", {});
  if (d_.oauth == nullptr) co_return pages_.redirect(req, ctx, "/account");
  const std::string id(form->value("id"));
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] { return d_.oauth->unlink(s->row.user_id, id, meta); });
  if (!r)
    co_return co_await account_view(req, ctx, *s, 503, {},
                                    "The service is busy right now. Please try again in a moment.");
  if (!*r) {
    const Problem p = oauth_problem(r->error());
    co_return co_await account_view(req, ctx, *s, p.status, {}, text_for(p));
  }
  co_return pages_.redirect(req, ctx, "/account?notice=identity_unlinked");
}

}  // namespace gh::http
