// Second-factor endpoints and pages (service/mfa/mfa_service.h): the sign-in
// challenge after the password, enrolment of an authenticator app, recovery
// codes, and removing the factor (step-up). Thin: parse, call MfaService, map.
//
// The challenge is a one-time token: the JSON API hands it to the client in
// the 403 mfa_required problem (`mfa_token`); the hosted pages keep it in a
// short-lived HttpOnly, SameSite=Strict cookie. It is not a session: nothing
// but completing the challenge accepts it.
#include <fmt/format.h>
#include <boost/beast/http/field.hpp>
#include <nlohmann/json.hpp>

#include "core/web/web.h"
#include "http/app.h"
#include "http/cookies.h"
#include "http/handler_util.h"
#include "http/offload.h"
#include "http/problem.h"

namespace gh::http {

namespace {

constexpr std::string_view kMsgBusy =
    "The service is busy right now. Please try again in a moment.";
constexpr std::string_view kMsgBroken = "Something went wrong on our side. Please try again.";
constexpr std::string_view kMsgExpiredForm =
    "This form has expired or was not sent from this site. Please try again.";
// One text for a wrong, reused or malformed code and for attempts paused by lockout.
constexpr std::string_view kMsgWrongCode =
    "That code is not right. After several failed attempts, verification is paused for a while.";
constexpr std::string_view kMsgWrongMailCode =
    "Enter the confirmation code from the mail we sent to your address (it works for a limited "
    "time; sign in again for a new one). After several failed attempts, verification is paused "
    "for a while.";

bool is_error(const Error& e, auto code) { return e.code == make_error_code(code); }

std::string with_return_to(std::string_view path, std::string_view back) {
  if (back.empty()) return std::string(path);
  return fmt::format("{}?return_to={}", path, web::url_encode(back));
}

// The second factor fields of a JSON body. Errors: JsonError.
Result<service::SecondFactor> factor_of(const json::Json& body) {
  auto code = json::optional_string(body, "code", kMaxCodeBytes);
  if (!code) return fail(code.error());
  auto recovery = json::optional_string(body, "recovery_code", kMaxCodeBytes);
  if (!recovery) return fail(recovery.error());
  auto email_code = json::optional_string(body, "email_code", kMaxCodeBytes);
  if (!email_code) return fail(email_code.error());
  return service::SecondFactor{
      code->value_or(""), recovery->value_or(""), {}, email_code->value_or("")};
}

// The enrolment flow of a bearer caller: its refresh family (the same across refreshes), or
// the token itself when it has none.
std::string token_flow(const service::AccessClaims& c) {
  return c.sid.empty() ? "token:" + c.jti : "family:" + c.sid;
}

// The QR code, the key and the form target of an enrolment page.
void set_enrolment(PageData& data, const service::Enrolment& e, std::string_view action) {
  data.set("qr_svg", e.qr_svg);
  data.set("secret", std::string(e.secret_base32.expose()));
  data.set("action", std::string(action));
}

nlohmann::json enrolment_json(const service::Enrolment& e) {
  return {{"secret", e.secret_base32.expose()}, {"otpauth_uri", e.otpauth_uri}};
}

}  // namespace

std::string App::mfa_cookie_name() const {
  return d_.config.session_cookie_secure ? "__Host-gh_mfa" : "gh_mfa";
}

// ---- After the password -------------------------------------------------------

asio::awaitable<std::optional<Response>> App::mfa_gate(Request& req, RequestContext& ctx,
                                                       const store::User& user,
                                                       std::string_view first_amr,
                                                       std::string_view login) {
  const auto meta = meta_of(req, ctx);
  auto ch = co_await offload(
      d_.db_pool, [&] { return d_.mfa->challenge_after_password(user, meta, first_amr, login); });
  if (!ch) co_return overloaded(req, ctx);
  if (!*ch) co_return error_response(req, ctx, ch->error());
  if (!**ch) co_return std::nullopt;
  const service::Challenge& c = ***ch;
  const bool enroll = c.kind == service::ChallengeKind::Enroll;
  Response res = problem_response(
      req, ctx,
      Problem{403, enroll ? "mfa_enrollment_required" : "mfa_required", "Second factor required"},
      enroll ? (c.email_code ? "This account must set up an authenticator app: POST "
                               "/v1/login/mfa/enroll, then /v1/login/mfa with its first code and "
                               "the confirmation code mailed to the account's address."
                             : "This account must set up an authenticator app: POST "
                               "/v1/login/mfa/enroll, then /v1/login/mfa.")
             : "Complete sign-in with a code: POST /v1/login/mfa.");
  auto body = nlohmann::json::parse(res.body());
  body["mfa_token"] = c.token.expose();
  body["expires_in"] = c.expires_in.count();
  body["methods"] =
      enroll ? nlohmann::json::array({"totp"}) : nlohmann::json::array({"totp", "recovery_code"});
  if (enroll) body["email_code_required"] = c.email_code;
  res.body() = body.dump();
  res.prepare_payload();
  co_return res;
}

asio::awaitable<std::optional<Response>> App::mfa_page_gate(Request& req, RequestContext& ctx,
                                                            const store::User& user,
                                                            std::string_view back,
                                                            std::string_view first_amr,
                                                            std::string_view login) {
  const auto meta = meta_of(req, ctx);
  auto ch = co_await offload(
      d_.db_pool, [&] { return d_.mfa->challenge_after_password(user, meta, first_amr, login); });
  if (!ch) co_return message_page(req, ctx, 503, "Sign in", kMsgBusy);
  if (!*ch) co_return message_page(req, ctx, 500, "Sign in", kMsgBroken);
  if (!**ch) co_return std::nullopt;
  const service::Challenge& c = ***ch;
  Response res = pages_.redirect(req, ctx, with_return_to("/mfa/challenge", back));
  // Lax, not Strict: after a provider sign-in the redirect chain began on another site, and a
  // Strict cookie would not come back on the way to /mfa/challenge. It only names a challenge;
  // the challenge form carries its own CSRF token.
  res.insert(bhttp::field::set_cookie,
             set_cookie({mfa_cookie_name(), c.token.expose(), "/", c.expires_in,
                         d_.config.session_cookie_secure, true, "Lax"}));
  co_return res;
}

// ---- JSON API: completing sign-in --------------------------------------------

Awaitable App::login_mfa_enroll(Request& req, RequestContext& ctx) {
  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  if (auto ok = json::only_fields(*body, {"mfa_token"}); !ok)
    co_return error_response(req, ctx, ok.error());
  auto token = json::required_string(*body, "mfa_token", kMaxTokenBytes);
  if (!token) co_return error_response(req, ctx, token.error());
  const SecretString t(std::move(*token));
  const auto meta = meta_of(req, ctx);
  auto e = co_await offload(d_.db_pool, [&] { return d_.mfa->enrol_for_challenge(t, meta); });
  if (!e) co_return overloaded(req, ctx);
  if (!*e) co_return error_response(req, ctx, e->error());
  co_return json_response(req, ctx, 200, enrolment_json(**e).dump());
}

asio::awaitable<tl::expected<service::Completed, Response>> App::complete_challenge(
    Request& req, RequestContext& ctx, const service::RequestMeta& meta) {
  using Out = tl::expected<service::Completed, Response>;
  auto body = json_body(req);
  if (!body) co_return Out(tl::unexpect, error_response(req, ctx, body.error()));
  if (auto ok = json::only_fields(*body, {"mfa_token", "code", "recovery_code", "email_code"}); !ok)
    co_return Out(tl::unexpect, error_response(req, ctx, ok.error()));
  auto token = json::required_string(*body, "mfa_token", kMaxTokenBytes);
  if (!token) co_return Out(tl::unexpect, error_response(req, ctx, token.error()));
  auto factor = factor_of(*body);
  if (!factor) co_return Out(tl::unexpect, error_response(req, ctx, factor.error()));
  wipe(req.body());
  const SecretString t(std::move(*token));
  auto done =
      co_await offload(d_.hash_pool, [&] { return d_.mfa->complete_challenge(t, *factor, meta); });
  if (!done) co_return Out(tl::unexpect, overloaded(req, ctx));
  if (!*done) co_return Out(tl::unexpect, error_response(req, ctx, done->error()));
  co_return std::move(**done);
}

Awaitable App::login_mfa(Request& req, RequestContext& ctx) {
  const auto meta = meta_of(req, ctx);
  auto done = co_await complete_challenge(req, ctx, meta);
  if (!done) co_return std::move(done.error());
  nlohmann::json extra = nlohmann::json::object();
  if (!done->recovery_codes.empty()) extra["recovery_codes"] = done->recovery_codes;
  if (done->recovery_codes_left) extra["recovery_codes_left"] = *done->recovery_codes_left;
  Response res = co_await signed_in(req, ctx, done->user, 200, done->amr, &extra, done->user.id);
  if (res.result() == bhttp::status::ok) add_device_cookie(res, done->user);
  co_return res;
}

Awaitable App::session_login_mfa(Request& req, RequestContext& ctx) {
  if (!origin_ok(req))
    co_return problem_response(req, ctx, {403, "origin_mismatch", "Forbidden"},
                               "Cross-origin request refused.");
  const auto meta = meta_of(req, ctx);
  auto done = co_await complete_challenge(req, ctx, meta);
  if (!done) co_return std::move(done.error());
  auto previous = co_await current_session(req);
  auto s = co_await offload(d_.db_pool, [&] {
    return d_.sessions.replace(previous ? &*previous : nullptr, done->user.id, done->amr, meta,
                               done->user.id);
  });
  if (!s) co_return overloaded(req, ctx);
  if (!*s) co_return error_response(req, ctx, s->error());
  nlohmann::json j = {{"user", user_json(done->user)}, {"csrf_token", (*s)->csrf_token}};
  if (!done->recovery_codes.empty()) j["recovery_codes"] = done->recovery_codes;
  if (done->recovery_codes_left) j["recovery_codes_left"] = *done->recovery_codes_left;
  Response res = json_response(req, ctx, 200, j.dump());
  res.insert(bhttp::field::set_cookie,
             session_set_cookie((*s)->id.expose(), d_.sessions.config().absolute_timeout));
  add_device_cookie(res, done->user);
  co_return res;
}

// ---- JSON API: the signed-in user's factors ---------------------------------

Awaitable App::mfa_status(Request& req, RequestContext& ctx) {
  auto claims = bearer(req);
  if (!claims) co_return bearer_problem(req, ctx, claims.error());
  auto st = co_await offload(d_.db_pool, [&]() -> Result<service::MfaStatus> {
    auto user = d_.accounts.load_user(claims->sub);
    if (!user) return fail(user.error());
    return d_.mfa->status(*user);
  });
  if (!st) co_return overloaded(req, ctx);
  if (!*st) co_return error_response(req, ctx, st->error());
  co_return json_response(req, ctx, 200,
                          nlohmann::json{{"totp", (*st)->totp},
                                         {"recovery_codes_left", (*st)->recovery_codes_left},
                                         {"required", (*st)->required}}
                              .dump());
}

Awaitable App::mfa_totp_begin(Request& req, RequestContext& ctx) {
  auto claims = bearer(req);
  if (!claims) co_return bearer_problem(req, ctx, claims.error());
  // Step-up: whoever adds a factor decides who can sign in from now on.
  if (auto ok = d_.authz->require_recent(claims->auth_time); !ok)
    co_return authz_problem(req, ctx, ok.error());
  const auto meta = meta_of(req, ctx);
  auto e = co_await offload(d_.db_pool, [&]() -> Result<service::Enrolment> {
    auto user = d_.accounts.load_user(claims->sub);
    if (!user) return fail(user.error());
    return d_.mfa->begin_enrolment(*user, token_flow(*claims), meta);
  });
  if (!e) co_return overloaded(req, ctx);
  if (!*e) co_return error_response(req, ctx, e->error());
  co_return json_response(req, ctx, 200, enrolment_json(**e).dump());
}

Awaitable App::mfa_totp_confirm(Request& req, RequestContext& ctx) {
  auto claims = bearer(req);
  if (!claims) co_return bearer_problem(req, ctx, claims.error());
  auto body = json_body(req);
  if (!body) co_return error_response(req, ctx, body.error());
  if (auto ok = json::only_fields(*body, {"code"}); !ok)
    co_return error_response(req, ctx, ok.error());
  auto code = json::required_string(*body, "code", kMaxCodeBytes);
  if (!code) co_return error_response(req, ctx, code.error());
  const auto meta = meta_of(req, ctx);
  auto codes = co_await offload(d_.hash_pool, [&]() -> Result<std::vector<std::string>> {
    auto user = d_.accounts.load_user(claims->sub);
    if (!user) return fail(user.error());
    return d_.mfa->confirm_enrolment(*user, token_flow(*claims), *code, meta);
  });
  if (!codes) co_return overloaded(req, ctx);
  if (!*codes) co_return error_response(req, ctx, codes->error());
  co_return json_response(req, ctx, 200, nlohmann::json{{"recovery_codes", **codes}}.dump());
}

Awaitable App::mfa_totp_remove(Request& req, RequestContext& ctx) {
  auto claims = bearer(req);
  if (!claims) co_return bearer_problem(req, ctx, claims.error());
  if (auto ok = d_.authz->require_recent(claims->auth_time); !ok)
    co_return authz_problem(req, ctx, ok.error());
  const auto meta = meta_of(req, ctx);
  auto r =
      co_await offload(d_.db_pool, [&] { return d_.mfa->remove(claims->sub, claims->sub, meta); });
  if (!r) co_return overloaded(req, ctx);
  if (!*r) co_return error_response(req, ctx, r->error());
  co_return no_content(req, ctx);
}

Awaitable App::mfa_recovery_codes(Request& req, RequestContext& ctx) {
  auto claims = bearer(req);
  if (!claims) co_return bearer_problem(req, ctx, claims.error());
  if (auto ok = d_.authz->require_recent(claims->auth_time); !ok)
    co_return authz_problem(req, ctx, ok.error());
  const auto meta = meta_of(req, ctx);
  auto codes = co_await offload(d_.hash_pool, [&]() -> Result<std::vector<std::string>> {
    auto user = d_.accounts.load_user(claims->sub);
    if (!user) return fail(user.error());
    return d_.mfa->regenerate_recovery_codes(*user, meta);
  });
  if (!codes) co_return overloaded(req, ctx);
  if (!*codes) co_return error_response(req, ctx, codes->error());
  co_return json_response(req, ctx, 200, nlohmann::json{{"recovery_codes", **codes}}.dump());
}

// ---- Hosted pages ---------------------------------------------------------------

Response App::recovery_codes_page(const Request& req, const RequestContext& ctx,
                                  const std::vector<std::string>& codes, std::string_view intro,
                                  std::string_view back) {
  PageData data;
  data.set("intro", std::string(intro));
  PageData list{PageData::type::list};
  for (const auto& c : codes) list.push_back(PageData(c));
  data.set("codes", list);
  data.set("continue_href", back.empty() ? std::string("/account") : std::string(back));
  return pages_.html(
      req, ctx, 200,
      pages_.render("recovery_codes.mustache", data, {"Your recovery codes", {}, {}}));
}

Awaitable App::page_mfa_challenge(Request& req, RequestContext& ctx) {
  const std::string back = return_to(query_of(req).value("return_to"));
  const auto cookie = find_cookie(req[bhttp::field::cookie], mfa_cookie_name());
  if (!cookie) co_return pages_.redirect(req, ctx, with_return_to("/login", back));
  const SecretString token{std::string(*cookie)};
  auto info = co_await offload(d_.db_pool, [&] { return d_.mfa->challenge_info(token); });
  if (!info) co_return message_page(req, ctx, 503, "Verify it's you", kMsgBusy);
  if (!*info) {
    if (is_error(info->error(), service::MfaError::InvalidChallenge))
      co_return pages_.redirect(req, ctx, with_return_to("/login", back));
    co_return message_page(req, ctx, 500, "Verify it's you", kMsgBroken);
  }
  co_return co_await mfa_challenge_view(req, ctx, token, (*info)->second, back, 200, {});
}

Awaitable App::mfa_challenge_view(Request& req, RequestContext& ctx, const SecretString& token,
                                  service::ChallengeKind kind, std::string_view back,
                                  unsigned status, std::string_view error) {
  PageData data;
  data.set("return_to", std::string(back));
  if (kind == service::ChallengeKind::Verify)
    co_return anonymous_form(req, ctx, status, "mfa_challenge.mustache", data,
                             {"Verify it's you", {}, error});
  const auto meta = meta_of(req, ctx);
  auto e = co_await offload(d_.db_pool, [&] { return d_.mfa->enrol_for_challenge(token, meta); });
  if (!e || !*e)
    co_return message_page(req, ctx, e ? 500 : 503, "Set up two-step verification",
                           e ? kMsgBroken : kMsgBusy);
  set_enrolment(data, **e, "/mfa/challenge");
  data.set("required", PageData::type::bool_true);
  if (d_.mfa->config().enrollment_requires_email_code)
    data.set("email_code", PageData::type::bool_true);
  co_return anonymous_form(req, ctx, status, "mfa_setup.mustache", data,
                           {"Set up two-step verification", {}, error});
}

Awaitable App::page_mfa_challenge_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req))
    co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  if (!is_form_post(req))
    co_return message_page(req, ctx, 415, "Request refused",
                           "Send this form from the sign-in page.");
  auto form = web::parse_form(req.body());
  wipe(req.body());
  if (!form)
    co_return message_page(req, ctx, 400, "Request refused", "The form data was not readable.");
  const std::string back = return_to(form->value("return_to"));
  const auto nonce = find_cookie(req[bhttp::field::cookie], form_cookie_name());
  const auto cookie = find_cookie(req[bhttp::field::cookie], mfa_cookie_name());
  if (!nonce || !d_.forms.check(*nonce, form->value("csrf"))) {
    form->wipe();
    co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  }
  if (!cookie) {
    form->wipe();
    co_return pages_.redirect(req, ctx, with_return_to("/login", back));
  }
  const SecretString token{std::string(*cookie)};
  service::SecondFactor factor{std::string(form->value("code").substr(0, kMaxCodeBytes)),
                               std::string(form->value("recovery_code").substr(0, kMaxCodeBytes)),
                               device_token_of(req),
                               std::string(form->value("email_code").substr(0, kMaxCodeBytes))};
  form->wipe();
  const auto meta = meta_of(req, ctx);
  auto done = co_await offload(d_.hash_pool,
                               [&] { return d_.mfa->complete_challenge(token, factor, meta); });
  if (!done) co_return message_page(req, ctx, 503, "Verify it's you", kMsgBusy);
  if (!*done) {
    const auto& e = done->error();
    const bool wrong_mail_code = is_error(e, service::MfaError::InvalidEmailCode) ||
                                 is_error(e, service::MfaError::EmailCodeRequired);
    if (is_error(e, service::MfaError::InvalidCode) || wrong_mail_code) {
      // Show the same step again (the challenge stays usable; the lockout counts).
      auto info = co_await offload(d_.db_pool, [&] { return d_.mfa->challenge_info(token); });
      const auto kind = info && *info ? (*info)->second : service::ChallengeKind::Verify;
      co_return co_await mfa_challenge_view(req, ctx, token, kind, back, 401,
                                            wrong_mail_code ? kMsgWrongMailCode : kMsgWrongCode);
    }
    if (is_error(e, service::MfaError::InvalidChallenge) ||
        is_error(e, service::MfaError::NotEnrolled))
      co_return pages_.redirect(req, ctx, with_return_to("/login", back));
    if (is_error(e, service::AccountError::Disabled))
      co_return message_page(req, ctx, 403, "Sign in",
                             "This account cannot sign in. Please contact your administrator.");
    co_return message_page(req, ctx, 500, "Verify it's you", kMsgBroken);
  }
  auto previous = co_await current_session(req);
  auto s = co_await offload(d_.db_pool, [&] {
    return d_.sessions.replace(previous ? &*previous : nullptr, (*done)->user.id, (*done)->amr,
                               meta, (*done)->user.id);
  });
  if (!s || !*s)
    co_return message_page(req, ctx, s ? 500 : 503, "Sign in", s ? kMsgBroken : kMsgBusy);
  Response res = signed_in_redirect(req, ctx, **s, back);
  if (!(*done)->recovery_codes.empty()) {
    // Enrolment just finished: the codes are shown once, then the person goes on.
    Response page =
        recovery_codes_page(req, ctx, (*done)->recovery_codes,
                            "Two-step verification is on, and you are signed in.", back);
    for (const auto& h : res) {
      if (h.name() == bhttp::field::set_cookie) page.insert(bhttp::field::set_cookie, h.value());
    }
    res = std::move(page);
  } else if ((*done)->recovery_codes_left) {
    PageData data;
    const auto left = *(*done)->recovery_codes_left;
    data.set("message",
             fmt::format("You signed in with a recovery code. You have {} left.{}", left,
                         left <= 3 ? " Make new ones from your account page soon." : ""));
    data.set("link_href", back.empty() ? std::string("/account") : back);
    data.set("link_text", "Continue");
    Response page =
        pages_.html(req, ctx, 200, pages_.render("message.mustache", data, {"Signed in", {}, {}}));
    for (const auto& h : res) {
      if (h.name() == bhttp::field::set_cookie) page.insert(bhttp::field::set_cookie, h.value());
    }
    res = std::move(page);
  }
  res.insert(bhttp::field::set_cookie,
             set_cookie({mfa_cookie_name(), "", "/", std::chrono::seconds{0},
                         d_.config.session_cookie_secure, true, "Lax"}));
  add_device_cookie(res, (*done)->user);
  co_return res;
}

Awaitable App::page_mfa_setup(Request& req, RequestContext& ctx) {
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, "/login?return_to=%2Faccount%2Fmfa%2Fsetup");
  // Step-up: adding a factor decides who can sign in from now on.
  if (!d_.authz->require_recent(s->row.auth_time))
    co_return co_await reauth_view(req, ctx, *s, 200, "/account/mfa/setup", {});
  co_return co_await mfa_setup_view(req, ctx, *s, 200, {});
}

Awaitable App::mfa_setup_view(Request& req, RequestContext& ctx, const service::CurrentSession& s,
                              unsigned status, std::string_view error) {
  const auto meta = meta_of(req, ctx);
  auto e = co_await offload(d_.db_pool, [&]() -> Result<service::Enrolment> {
    auto user = d_.accounts.load_user(s.row.user_id);
    if (!user) return fail(user.error());
    return d_.mfa->begin_enrolment(*user, "session:" + s.row.id_hash, meta);
  });
  if (!e) co_return message_page(req, ctx, 503, "Two-step verification", kMsgBusy);
  if (!*e) {
    if (is_error(e->error(), service::MfaError::AlreadyEnrolled))
      co_return pages_.redirect(req, ctx, "/account");
    co_return message_page(req, ctx, 500, "Two-step verification", kMsgBroken);
  }
  PageData data;
  set_enrolment(data, **e, "/account/mfa/setup");
  data.set("csrf", s.csrf_token);
  co_return pages_.html(
      req, ctx, status,
      pages_.render("mfa_setup.mustache", data, {"Set up two-step verification", {}, error}));
}

Awaitable App::page_mfa_setup_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req))
    co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, "/login?return_to=%2Faccount");
  auto form = web::parse_form(req.body());
  if (!is_form_post(req) || !form || !d_.sessions.csrf_ok(*s, form->value("csrf")))
    co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  const std::string code(form->value("code").substr(0, kMaxCodeBytes));
  const auto meta = meta_of(req, ctx);
  auto codes = co_await offload(d_.hash_pool, [&]() -> Result<std::vector<std::string>> {
    auto user = d_.accounts.load_user(s->row.user_id);
    if (!user) return fail(user.error());
    return d_.mfa->confirm_enrolment(*user, "session:" + s->row.id_hash, code, meta);
  });
  if (!codes) co_return message_page(req, ctx, 503, "Two-step verification", kMsgBusy);
  if (!*codes) {
    const auto& e = codes->error();
    if (is_error(e, service::MfaError::InvalidCode))  // the same authenticator again
      co_return co_await mfa_setup_view(req, ctx, *s, 400, kMsgWrongCode);
    if (is_error(e, service::MfaError::AlreadyEnrolled) ||
        is_error(e, service::MfaError::NotEnrolled))
      co_return pages_.redirect(req, ctx, "/account");
    co_return message_page(req, ctx, 500, "Two-step verification", kMsgBroken);
  }
  co_return recovery_codes_page(req, ctx, **codes, "Two-step verification is on.", "/account");
}

Awaitable App::page_mfa_remove_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req))
    co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, "/login?return_to=%2Faccount");
  auto form = web::parse_form(req.body());
  if (!is_form_post(req) || !form || !d_.sessions.csrf_ok(*s, form->value("csrf")))
    co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  if (!d_.authz->require_recent(s->row.auth_time))  // step-up: removing a factor
    co_return co_await reauth_view(req, ctx, *s, 200, "/account", {});
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool,
                            [&] { return d_.mfa->remove(s->row.user_id, s->row.user_id, meta); });
  if (!r) co_return co_await account_view(req, ctx, *s, 503, {}, kMsgBusy);
  if (!*r && !is_error(r->error(), service::MfaError::NotEnrolled))
    co_return co_await account_view(req, ctx, *s, 500, {}, kMsgBroken);
  co_return pages_.redirect(req, ctx, "/account?notice=mfa_removed");
}

Awaitable App::page_mfa_codes_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req))
    co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, "/login?return_to=%2Faccount");
  auto form = web::parse_form(req.body());
  if (!is_form_post(req) || !form || !d_.sessions.csrf_ok(*s, form->value("csrf")))
    co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  if (!d_.authz->require_recent(s->row.auth_time))  // step-up: new codes are a way in
    co_return co_await reauth_view(req, ctx, *s, 200, "/account", {});
  const auto meta = meta_of(req, ctx);
  auto codes = co_await offload(d_.hash_pool, [&]() -> Result<std::vector<std::string>> {
    auto user = d_.accounts.load_user(s->row.user_id);
    if (!user) return fail(user.error());
    return d_.mfa->regenerate_recovery_codes(*user, meta);
  });
  if (!codes) co_return co_await account_view(req, ctx, *s, 503, {}, kMsgBusy);
  if (!*codes) {
    if (is_error(codes->error(), service::MfaError::NotEnrolled))
      co_return pages_.redirect(req, ctx, "/account");
    co_return co_await account_view(req, ctx, *s, 500, {}, kMsgBroken);
  }
  co_return recovery_codes_page(req, ctx, **codes, "Your old recovery codes no longer work.",
                                "/account");
}

}  // namespace gh::http
