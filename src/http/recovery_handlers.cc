// Password reset and email verification (issue #8): the JSON API and the
// hosted pages. Thin: parse, call RecoveryService, map the result.
//
// Asking for a reset answers 202 before any work happens — the lookup, the
// token and the mail run as a queued job — so the answer (content and
// timing) is the same whether or not the address has an account.
// Links are consumed by a POST (a form button), never by the GET that shows
// them: mail scanners that prefetch links cannot burn or use them.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

#include "http/app.h"
#include "http/cookies.h"
#include "http/handler_util.h"
#include "http/offload.h"
#include "http/problem.h"

namespace gh::http {
namespace {

constexpr std::size_t kMaxLinkTokenBytes = 128;
constexpr std::string_view kSecretUrlReferrer = "strict-origin";
constexpr std::string_view kMsgLinkSent =
    "If an account uses this address, we have sent it a link to choose a new password. The link "
    "works once, "
    "for a limited time.";
constexpr std::string_view kMsgBadLink =
    "This link is invalid or has expired. You can ask for a new one.";
constexpr std::string_view kMsgBusy =
    "The service is busy right now. Please try again in a moment.";

}  // namespace

// Queues the reset request (lookup, token, mail) and returns at once: false if the pool is full.
// On a pool of its own (not the store pool that serves requests), after a
// random delay: how long the work takes for a real account cannot be read off
// the timing of the caller's (or anyone's) next requests.
bool App::queue_reset(std::string email, const service::RequestMeta& meta) {
  service::WorkerPool::Job job = [recovery = d_.recovery, email = std::move(email), meta]() {
    recovery->jitter();
    if (auto ok = recovery->request_reset(email, meta); !ok)
      spdlog::warn("password reset request failed: {}", ok.error().message());
  };
  return d_.mail_pool->try_submit(job);
}

void App::queue_verification(std::string user_id, const service::RequestMeta& meta) {
  service::WorkerPool::Job job = [recovery = d_.recovery, id = std::move(user_id), meta]() {
    if (auto ok = recovery->send_verification(id, meta); !ok)
      spdlog::warn("email verification mail failed: {}", ok.error().message());
  };
  if (!d_.db_pool.try_submit(job))
    spdlog::warn("email verification mail not queued: the store pool is full");
}

void App::queue_registration_notice(std::string email, const service::RequestMeta& meta) {
  service::WorkerPool::Job job = [recovery = d_.recovery, e = std::move(email), meta]() {
    if (auto ok = recovery->notify_registration_attempt(e, meta); !ok)
      spdlog::warn("registration notice failed: {}", ok.error().message());
  };
  if (!d_.db_pool.try_submit(job)) spdlog::warn("registration notice not queued: the store pool is full");
}

// ---- JSON API ---------------------------------------------------------------

Awaitable App::forgot_password(Request& req, RequestContext& ctx) {
  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  if (auto ok = json::only_fields(*body, {"email"}); !ok)
    co_return error_response(req, ctx, ok.error());
  auto email = json::required_string(*body, "email", kMaxEmailBytes);
  if (!email) co_return error_response(req, ctx, email.error());
  if (!queue_reset(std::move(*email), meta_of(req, ctx))) co_return overloaded(req, ctx);
  co_return json_response(req, ctx, 202, R"({"status":"accepted"})");
}

Awaitable App::reset_password(Request& req, RequestContext& ctx) {
  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  if (auto ok = json::only_fields(*body, {"token", "new_password"}); !ok)
    co_return error_response(req, ctx, ok.error());
  auto token = json::required_string(*body, "token", kMaxLinkTokenBytes);
  if (!token) co_return error_response(req, ctx, token.error());
  auto password = json::required_string(*body, "new_password", kMaxPasswordBytes);
  if (!password) co_return error_response(req, ctx, password.error());
  SecretString t(std::move(*token));
  SecretString pw(std::move(*password));
  wipe_secret_field(*body, "token");
  wipe_secret_field(*body, "new_password");
  wipe(req.body());
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.hash_pool,
                            [&] { return d_.recovery->reset_password(t, std::move(pw), meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return error_response(req, ctx, r->error());
  co_return json_response(req, ctx, 200, nlohmann::json{{"user", user_json(**r)}}.dump());
}

Awaitable App::verify_email(Request& req, RequestContext& ctx) {
  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  if (auto ok = json::only_fields(*body, {"token"}); !ok)
    co_return error_response(req, ctx, ok.error());
  auto token = json::required_string(*body, "token", kMaxLinkTokenBytes);
  if (!token) co_return error_response(req, ctx, token.error());
  SecretString t(std::move(*token));
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] { return d_.recovery->verify_email(t, meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return error_response(req, ctx, r->error());
  co_return json_response(req, ctx, 200, nlohmann::json{{"user", user_json(**r)}}.dump());
}

Awaitable App::resend_verification(Request& req, RequestContext& ctx) {
  auto claims = bearer(req);
  if (!claims) co_return bearer_problem(req, ctx, claims.error());
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool,
                            [&] { return d_.recovery->send_verification(claims->sub, meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return error_response(req, ctx, r->error());
  co_return json_response(req, ctx, 202, R"({"status":"accepted"})");
}

Awaitable App::change_email(Request& req, RequestContext& ctx) {
  auto claims = bearer(req);
  if (!claims) co_return bearer_problem(req, ctx, claims.error());
  // Step-up: whoever controls the address controls password resets.
  if (auto ok = d_.authz->require_recent(claims->auth_time); !ok) co_return authz_problem(req, ctx, ok.error());
  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  if (auto ok = json::only_fields(*body, {"new_email"}); !ok) co_return error_response(req, ctx, ok.error());
  auto email = json::required_string(*body, "new_email", kMaxEmailBytes);
  if (!email) co_return error_response(req, ctx, email.error());
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] { return d_.recovery->request_email_change(claims->sub, *email, meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return error_response(req, ctx, r->error());
  co_return json_response(req, ctx, 202, R"({"status":"accepted"})");
}

Awaitable App::confirm_email_change(Request& req, RequestContext& ctx) {
  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  if (auto ok = json::only_fields(*body, {"token"}); !ok) co_return error_response(req, ctx, ok.error());
  auto token = json::required_string(*body, "token", kMaxLinkTokenBytes);
  if (!token) co_return error_response(req, ctx, token.error());
  SecretString t(std::move(*token));
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] { return d_.recovery->confirm_email_change(t, meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return error_response(req, ctx, r->error());
  co_return json_response(req, ctx, 200, nlohmann::json{{"user", user_json(**r)}}.dump());
}

// ---- Hosted pages -----------------------------------------------------------

Awaitable App::page_forgot(Request& req, RequestContext& ctx) {
  co_return anonymous_form(req, ctx, 200, "forgot.mustache", PageData{},
                           {"Forgot your password?", {}, {}});
}

Awaitable App::page_forgot_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req) || !is_form_post(req))
    co_return message_page(req, ctx, 403, "Request refused", kMsgBadLink);
  auto form = web::parse_form(req.body());
  const auto nonce = find_cookie(req[bhttp::field::cookie], form_cookie_name());
  if (!form || !nonce || !d_.forms.check(*nonce, form->value("csrf")))
    co_return anonymous_form(
        req, ctx, 403, "forgot.mustache", PageData{},
        {"Forgot your password?", {}, "This form has expired. Please try again."});
  const std::string email(form->value("email").substr(0, kMaxEmailBytes));
  if (!queue_reset(email, meta_of(req, ctx)))
    co_return anonymous_form(req, ctx, 503, "forgot.mustache", PageData{},
                             {"Forgot your password?", {}, kMsgBusy});
  PageData data;
  data.set("message", std::string(kMsgLinkSent));
  data.set("link_href", "/login");
  data.set("link_text", "Back to sign in");
  co_return pages_.html(req, ctx, 200,
                        pages_.render("message.mustache", data, {"Check your email", {}, {}}));
}

Awaitable App::page_reset(Request& req, RequestContext& ctx) {
  const std::string token(query_of(req).value("token").substr(0, kMaxLinkTokenBytes));
  SecretString t{std::string(token)};
  auto valid = co_await offload(d_.db_pool, [&] { return d_.recovery->reset_link_valid(t); });
  if (!valid || !*valid) co_return message_page(req, ctx, 503, "Reset your password", kMsgBusy);
  if (!**valid) co_return message_page(req, ctx, 400, "Reset your password", kMsgBadLink);
  PageData data;
  data.set("token", token);
  // The link's token is in this URL: no path or query leaves in a Referer
  // (strict-origin, not no-referrer: that would make our own form post "Origin: null").
  Response res = anonymous_form(req, ctx, 200, "reset.mustache", data,
                                {"Choose a new password", {}, {}, false, kSecretUrlReferrer});
  res.set("Referrer-Policy", std::string(kSecretUrlReferrer));
  co_return res;
}

Awaitable App::page_reset_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req) || !is_form_post(req))
    co_return message_page(req, ctx, 403, "Request refused", kMsgBadLink);
  auto form = web::parse_form(req.body());
  wipe(req.body());
  const auto nonce = find_cookie(req[bhttp::field::cookie], form_cookie_name());
  if (!form || !nonce || !d_.forms.check(*nonce, form->value("csrf"))) {
    if (form) form->wipe();
    co_return message_page(req, ctx, 403, "Request refused",
                           "This form has expired. Open the link again.");
  }
  const std::string token(form->value("token").substr(0, kMaxLinkTokenBytes));
  SecretString t{std::string(token)};
  SecretString pw{std::string(form->value("password").substr(0, kMaxPasswordBytes))};
  form->wipe();
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.hash_pool,
                            [&] { return d_.recovery->reset_password(t, std::move(pw), meta); });
  if (!r) co_return message_page(req, ctx, 503, "Reset your password", kMsgBusy);
  if (!*r) {
    const Problem p = problem_for(r->error());
    if (p.code == "invalid_link")
      co_return message_page(req, ctx, 400, "Reset your password", kMsgBadLink);
    PageData data;
    data.set("token", token);
    const std::string why =
        p.status == 422 ? std::string(r->error().message()) : std::string(kMsgBusy);
    Response res = anonymous_form(req, ctx, p.status == 422 ? 422 : 500, "reset.mustache", data,
                                  {"Choose a new password", {}, why, false, kSecretUrlReferrer});
    res.set("Referrer-Policy", std::string(kSecretUrlReferrer));
    co_return res;
  }
  co_return pages_.redirect(req, ctx, "/login?notice=password_reset");
}

Awaitable App::page_verify(Request& req, RequestContext& ctx) {
  PageData data;
  data.set("token", std::string(query_of(req).value("token").substr(0, kMaxLinkTokenBytes)));
  Response res = anonymous_form(req, ctx, 200, "verify.mustache", data,
                                {"Confirm your email", {}, {}, false, kSecretUrlReferrer});
  res.set("Referrer-Policy", std::string(kSecretUrlReferrer));
  co_return res;
}

Awaitable App::page_verify_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req) || !is_form_post(req))
    co_return message_page(req, ctx, 403, "Request refused", kMsgBadLink);
  auto form = web::parse_form(req.body());
  const auto nonce = find_cookie(req[bhttp::field::cookie], form_cookie_name());
  if (!form || !nonce || !d_.forms.check(*nonce, form->value("csrf")))
    co_return message_page(req, ctx, 403, "Request refused",
                           "This form has expired. Open the link again.");
  SecretString t{std::string(form->value("token").substr(0, kMaxLinkTokenBytes))};
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] { return d_.recovery->verify_email(t, meta); });
  if (!r) co_return message_page(req, ctx, 503, "Confirm your email", kMsgBusy);
  if (!*r) co_return message_page(req, ctx, 400, "Confirm your email", kMsgBadLink);
  PageData data;
  data.set("message", "Thank you: your email address is confirmed.");
  data.set("link_href", "/account");
  data.set("link_text", "Go to your account");
  co_return pages_.html(req, ctx, 200,
                        pages_.render("message.mustache", data, {"Email confirmed", {}, {}}));
}

Awaitable App::page_email_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req)) co_return message_page(req, ctx, 403, "Request refused", kMsgBadLink);
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, "/login?return_to=%2Faccount");
  auto form = web::parse_form(req.body());
  if (!is_form_post(req) || !form || !d_.sessions.csrf_ok(*s, form->value("csrf")))
    co_return message_page(req, ctx, 403, "Request refused", "This form has expired. Please try again.");
  if (!d_.authz->require_recent(s->row.auth_time))  // step-up: the address can reset the password
    co_return co_await reauth_view(req, ctx, *s, 200, "/account", {});
  const std::string email(form->value("new_email").substr(0, kMaxEmailBytes));
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] { return d_.recovery->request_email_change(s->row.user_id, email, meta); });
  if (!r) co_return co_await account_view(req, ctx, *s, 503, {}, kMsgBusy);
  if (!*r) {
    if (problem_for(r->error()).status == 422) co_return co_await account_view(req, ctx, *s, 400, {}, "Enter a valid email address.");
    co_return co_await account_view(req, ctx, *s, 500, {}, "Something went wrong on our side. Please try again.");
  }
  co_return co_await account_view(req, ctx, *s, 200,
                                  "We sent a link to the new address. Your address changes when you open it.", {});
}

Awaitable App::page_confirm_email(Request& req, RequestContext& ctx) {
  PageData data;
  data.set("token", std::string(query_of(req).value("token").substr(0, kMaxLinkTokenBytes)));
  data.set("action", "/confirm-email");
  Response res = anonymous_form(req, ctx, 200, "verify.mustache", data,
                                {"Confirm your new email", {}, {}, false, kSecretUrlReferrer});
  res.set("Referrer-Policy", std::string(kSecretUrlReferrer));
  co_return res;
}

Awaitable App::page_confirm_email_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req) || !is_form_post(req)) co_return message_page(req, ctx, 403, "Request refused", kMsgBadLink);
  auto form = web::parse_form(req.body());
  const auto nonce = find_cookie(req[bhttp::field::cookie], form_cookie_name());
  if (!form || !nonce || !d_.forms.check(*nonce, form->value("csrf")))
    co_return message_page(req, ctx, 403, "Request refused", "This form has expired. Open the link again.");
  SecretString t{std::string(form->value("token").substr(0, kMaxLinkTokenBytes))};
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] { return d_.recovery->confirm_email_change(t, meta); });
  if (!r) co_return message_page(req, ctx, 503, "Confirm your new email", kMsgBusy);
  if (!*r) co_return message_page(req, ctx, 400, "Confirm your new email", kMsgBadLink);
  PageData data;
  data.set("message", "Thank you: your account now uses its new email address.");
  data.set("link_href", "/account");
  data.set("link_text", "Go to your account");
  co_return pages_.html(req, ctx, 200, pages_.render("message.mustache", data, {"Email changed", {}, {}}));
}

}  // namespace gh::http
