// Hosted pages: sign in, register, sign out and the account page. They work
// without JavaScript. Every form post must come from one of our own pages
// (Origin / Sec-Fetch-Site) and carry a CSRF token: the session's own token
// once signed in, a signed double-submit token (FormGuard) before that, so a
// cross-site page can neither sign a person in to an attacker's account
// (login CSRF) nor act in their session. Messages are fixed, friendly texts:
// nothing from the request is echoed except into escaped form fields, and no
// message says whether an email has an account.
#include <set>

#include <boost/beast/http/field.hpp>
#include <fmt/format.h>

#include "core/web/web.h"
#include "http/app.h"
#include "http/cookies.h"
#include "http/handler_util.h"
#include "http/offload.h"
#include "http/problem.h"
#include "service/accounts/accounts.h"

namespace gh::http {

namespace {

constexpr std::string_view kDefaultLanding = "/account";
constexpr std::chrono::seconds kFormCookieLifetime{3600};

// The same text whether the password was wrong or sign-in from here is paused (lockout): no oracle.
constexpr std::string_view kMsgBadCredentials =
    "The email or password is not right. After several failed attempts, sign-in is paused for a while.";
constexpr std::string_view kMsgMissing = "Enter your email and password.";
constexpr std::string_view kMsgExpiredForm = "This form has expired or was not sent from this site. Please try again.";
constexpr std::string_view kMsgBusy = "The service is busy right now. Please try again in a moment.";
constexpr std::string_view kMsgBroken = "Something went wrong on our side. Please try again.";
constexpr std::string_view kMsgDisabled = "This account cannot sign in. Please contact your administrator.";
constexpr std::string_view kMsgCannotRegister =
    "We could not create an account with these details. If you already have an account, sign in instead.";
constexpr std::string_view kMsgWrongCurrent = "Your current password is not right.";
// The same text for a wrong, reused or expired code and for attempts paused by lockout.
constexpr std::string_view kMsgWrongCode =
    "That code is not right. After several failed attempts, verification is paused for a while.";

// Status lines chosen by a fixed code in the query (?notice=…), never by free text.
std::string_view notice_text(std::string_view code) {
  if (code == "signed_out") return "You have signed out.";
  if (code == "password_changed") return "Your password was changed. Every other device has been signed out.";
  if (code == "session_revoked") return "That device has been signed out.";
  if (code == "others_signed_out") return "Every other device has been signed out.";
  if (code == "reauthenticated") return "Thank you. You can go on.";
  if (code == "mfa_removed") return "Two-step verification is off. Your recovery codes no longer work.";
  if (code == "identity_linked") return "The sign-in provider is linked to your account.";
  if (code == "identity_unlinked") return "The sign-in provider was removed from your account.";
  if (code == "password_reset") return "Your password was changed and every device was signed out. Sign in with the new one.";
  return {};
}


std::string with_return_to(std::string_view path, std::string_view return_to) {
  if (return_to.empty()) return std::string(path);
  return fmt::format("{}?return_to={}", path, web::url_encode(return_to));
}

bool is(const Error& e, service::AccountError code) { return e.code == make_error_code(code); }

std::string date_of(Seconds t) { return to_rfc3339(t).substr(0, 10); }

std::string when_of(Seconds t) {
  std::string s = to_rfc3339(t);  // 2026-11-24T15:20:00Z -> 2026-11-24 15:20 UTC
  if (s.size() >= 16) s = s.substr(0, 10) + " " + s.substr(11, 5) + " UTC";
  return s;
}

// The person-facing text for a registration or password-policy error: the
// policy and email checks write details meant to be shown; anything else is generic.
// (A string, not a view: Error::message() builds a temporary.)
std::string input_error_text(const Error& e) {
  const Problem p = problem_for(e);
  if (p.status != 400 && p.status != 422) return std::string(kMsgBroken);
  std::string text = e.message();  // e.g. "the password is too short: …" -> "The password …"
  if (!text.empty() && text[0] >= 'a' && text[0] <= 'z') text[0] = static_cast<char>(text[0] - 'a' + 'A');
  return text;
}

// "Sign in with …" links for the configured providers, returning to `back`.
PageData provider_links(const service::OAuthService* oauth, std::string_view back) {
  PageData list{PageData::type::list};
  if (oauth == nullptr) return list;
  for (const auto& p : oauth->providers()) {
    PageData item;
    item.set("name", p.name);
    item.set("display_name", p.display_name);
    std::string href = fmt::format("/v1/oauth/{}/start", p.name);
    if (!back.empty()) href += "?return_to=" + web::url_encode(back);
    item.set("href", href);
    list.push_back(item);
  }
  return list;
}

}  // namespace

std::string App::form_cookie_name() const {
  return d_.config.session_cookie_secure ? "__Host-gh_form" : "gh_form";
}

bool App::same_origin_form(const Request& req) const {
  // Fetch metadata when the browser sends it; Origin otherwise (both when both are sent).
  const std::string_view site = req["Sec-Fetch-Site"];
  if (!site.empty() && site != "same-origin") return false;
  const std::string_view origin = req[bhttp::field::origin];
  return origin.empty() || origin == public_origin_;
}

std::string App::return_to(std::string_view candidate) const {
  return web::safe_return_to(candidate, public_origin_, d_.config.return_to_targets).value_or("");
}

Response App::message_page(const Request& req, const RequestContext& ctx, unsigned status, std::string_view title,
                           std::string_view message) {
  PageData data;
  data.set("message", std::string(message));
  data.set("link_href", "/login");
  data.set("link_text", "Go to sign in");
  Response res = pages_.html(req, ctx, status, pages_.render("message.mustache", data, {title, {}, {}}));
  if (status == 503) res.set(bhttp::field::retry_after, "1");
  return res;
}

Response App::anonymous_form(const Request& req, const RequestContext& ctx, unsigned status, std::string_view page,
                             PageData data, const PageFrame& frame) {
  // Keep the browser's nonce when it has a well-formed one, so two open tabs both work.
  const auto existing = find_cookie(req[bhttp::field::cookie], form_cookie_name());
  std::string nonce;
  std::string token;
  if (existing && existing->size() == 43) {
    nonce = std::string(*existing);
    token = d_.forms.token_for(nonce);
  } else {
    auto issued = d_.forms.issue();
    nonce = std::move(issued.nonce);
    token = std::move(issued.token);
  }
  data.set("csrf", token);
  data.set("min_length", std::to_string(d_.config.password_min_length));
  Response res = pages_.html(req, ctx, status, pages_.render(page, data, frame));
  // Strict: only our own pages' posts carry it.
  res.insert(bhttp::field::set_cookie,
             set_cookie({form_cookie_name(), nonce, "/", kFormCookieLifetime, d_.config.session_cookie_secure, true, "Strict"}));
  if (status == 503) res.set(bhttp::field::retry_after, "1");
  return res;
}

Response App::signed_in_redirect(const Request& req, const RequestContext& ctx, const service::NewSession& s,
                                 std::string_view back) {
  Response res = pages_.redirect(req, ctx, back.empty() ? kDefaultLanding : back);
  res.insert(bhttp::field::set_cookie, session_set_cookie(s.id.expose(), d_.sessions.config().absolute_timeout));
  // The login-CSRF nonce has done its job.
  res.insert(bhttp::field::set_cookie, set_cookie({form_cookie_name(), "", "/", std::chrono::seconds{0},
                                                   d_.config.session_cookie_secure, true, "Strict"}));
  return res;
}

// --- Sign in ---------------------------------------------------------------

Awaitable App::page_login(Request& req, RequestContext& ctx) {
  const auto query = query_of(req);
  const std::string back = return_to(query.value("return_to"));
  if (auto s = co_await current_session(req); s)
    co_return pages_.redirect(req, ctx, back.empty() ? kDefaultLanding : back);
  PageData data;
  data.set("return_to", back);
  data.set("register_href", with_return_to("/register", back));
  data.set("providers", provider_links(d_.oauth, back));
  co_return anonymous_form(req, ctx, 200, "login.mustache", data, {"Sign in", notice_text(query.value("notice")), {}});
}

Awaitable App::page_login_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req)) co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  if (!is_form_post(req)) co_return message_page(req, ctx, 415, "Request refused", "Send this form from the sign-in page.");
  auto form = web::parse_form(req.body());
  wipe(req.body());
  if (!form) co_return message_page(req, ctx, 400, "Request refused", "The form data was not readable.");
  const std::string back = return_to(form->value("return_to"));
  const std::string email(form->value("email").substr(0, kMaxEmailBytes));
  PageData data;
  data.set("return_to", back);
  data.set("register_href", with_return_to("/register", back));
  data.set("providers", provider_links(d_.oauth, back));
  data.set("email", email);
  const auto nonce = find_cookie(req[bhttp::field::cookie], form_cookie_name());
  if (!nonce || !d_.forms.check(*nonce, form->value("csrf"))) {
    form->wipe();
    co_return anonymous_form(req, ctx, 403, "login.mustache", data, {"Sign in", {}, kMsgExpiredForm});
  }
  const auto password = form->value("password");
  if (email.empty() || password.empty() || password.size() > kMaxPasswordBytes ||
      form->value("email").size() > kMaxEmailBytes) {
    form->wipe();
    co_return anonymous_form(req, ctx, 400, "login.mustache", data, {"Sign in", {}, kMsgMissing});
  }
  service::LoginInput in{email, SecretString(std::string(password)), device_token_of(req)};
  form->wipe();
  if (auto refused = co_await rate_limited(req, ctx, service::LimitId::LoginPerAccount, email)) co_return std::move(*refused);
  const auto meta = meta_of(req, ctx);
  auto user = co_await offload(d_.hash_pool, [&] { return d_.accounts.login(std::move(in), meta); });
  if (!user) co_return anonymous_form(req, ctx, 503, "login.mustache", data, {"Sign in", {}, kMsgBusy});
  if (*user) co_await rate_limit_refund(ctx, service::LimitId::LoginPerAccount, email);  // only failures count
  if (!*user) {
    const auto& e = user->error();
    if (is(e, service::AccountError::InvalidCredentials))
      co_return anonymous_form(req, ctx, 401, "login.mustache", data, {"Sign in", {}, kMsgBadCredentials});
    if (is(e, service::AccountError::Disabled))
      co_return anonymous_form(req, ctx, 403, "login.mustache", data, {"Sign in", {}, kMsgDisabled});
    if (is(e, service::AccountError::EmailNotVerified))
      co_return anonymous_form(req, ctx, 403, "login.mustache", data,
                               {"Sign in", {}, "Confirm your email address first: follow the link we sent you."});
    co_return anonymous_form(req, ctx, 500, "login.mustache", data, {"Sign in", {}, kMsgBroken});
  }
  if (auto gate =
          co_await mfa_page_gate(req, ctx, **user, back, service::kAmrPassword, (*user)->id))
    co_return std::move(*gate);
  // A fresh session id at every sign-in: a planted (fixated) cookie is replaced
  // and a session this browser already had is ended.
  auto previous = co_await current_session(req);
  auto s = co_await offload(d_.db_pool, [&] {
    return d_.sessions.replace(previous ? &*previous : nullptr, (*user)->id, "pwd", meta,
                               (*user)->id);
  });
  if (!s || !*s) co_return anonymous_form(req, ctx, s ? 500 : 503, "login.mustache", data, {"Sign in", {}, s ? kMsgBroken : kMsgBusy});
  Response res = signed_in_redirect(req, ctx, **s, back);
  add_device_cookie(res, **user);
  co_return res;
}

// --- Register --------------------------------------------------------------

Awaitable App::page_register(Request& req, RequestContext& ctx) {
  const auto query = query_of(req);
  const std::string back = return_to(query.value("return_to"));
  if (auto s = co_await current_session(req); s)
    co_return pages_.redirect(req, ctx, back.empty() ? kDefaultLanding : back);
  PageData data;
  data.set("return_to", back);
  data.set("login_href", with_return_to("/login", back));
  co_return anonymous_form(req, ctx, 200, "register.mustache", data, {"Create your account", {}, {}});
}

Awaitable App::page_register_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req)) co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  if (!is_form_post(req)) co_return message_page(req, ctx, 415, "Request refused", "Send this form from the registration page.");
  auto form = web::parse_form(req.body());
  wipe(req.body());
  if (!form) co_return message_page(req, ctx, 400, "Request refused", "The form data was not readable.");
  const std::string back = return_to(form->value("return_to"));
  const std::string email(form->value("email").substr(0, kMaxEmailBytes));
  const std::string name(form->value("name").substr(0, kMaxNameBytes));
  PageData data;
  data.set("return_to", back);
  data.set("login_href", with_return_to("/login", back));
  data.set("email", email);
  data.set("name", name);
  const PageFrame frame{"Create your account", {}, {}};
  const auto nonce = find_cookie(req[bhttp::field::cookie], form_cookie_name());
  if (!nonce || !d_.forms.check(*nonce, form->value("csrf"))) {
    form->wipe();
    co_return anonymous_form(req, ctx, 403, "register.mustache", data, {frame.title, {}, kMsgExpiredForm});
  }
  const auto password = form->value("password");
  if (email.empty() || password.empty() || password.size() > kMaxPasswordBytes ||
      form->value("email").size() > kMaxEmailBytes || form->value("name").size() > kMaxNameBytes) {
    form->wipe();
    co_return anonymous_form(req, ctx, 400, "register.mustache", data, {frame.title, {}, kMsgMissing});
  }
  service::RegisterInput in{email, SecretString(std::string(password)), name};
  form->wipe();
  const auto meta = meta_of(req, ctx);
  auto user = co_await offload(d_.hash_pool, [&] { return d_.accounts.register_user(std::move(in), meta); });
  if (!user) co_return anonymous_form(req, ctx, 503, "register.mustache", data, {frame.title, {}, kMsgBusy});
  if (d_.config.require_verified_email &&
      (*user || is(user->error(), service::AccountError::EmailTaken))) {
    // Sign-in waits for the confirmed address: the same page whether or not the address was taken.
    if (*user) queue_verification((*user)->id, meta);
    else queue_registration_notice(email, meta);
    PageData msg;
    msg.set("message", "Check your inbox: we sent a link to confirm your address. Then sign in.");
    msg.set("link_href", "/login");
    msg.set("link_text", "Go to sign in");
    co_return pages_.html(req, ctx, 200, pages_.render("message.mustache", msg, {"Confirm your email", {}, {}}));
  }
  if (!*user) {
    const auto& e = user->error();
    // Never "this email is taken": the same answer as any other refusal of these details.
    if (is(e, service::AccountError::EmailTaken))
      co_return anonymous_form(req, ctx, 400, "register.mustache", data, {frame.title, {}, kMsgCannotRegister});
    const std::string text = input_error_text(e);
    co_return anonymous_form(req, ctx, text == kMsgBroken ? 500 : 400, "register.mustache", data,
                             {frame.title, {}, text});
  }
  queue_verification((*user)->id, meta);
  if (auto gate = co_await mfa_page_gate(req, ctx, **user, back)) co_return std::move(*gate);
  auto previous = co_await current_session(req);
  auto s = co_await offload(d_.db_pool, [&] { return d_.sessions.replace(previous ? &*previous : nullptr, (*user)->id, "pwd", meta); });
  if (!s || !*s) co_return message_page(req, ctx, s ? 500 : 503, "Account created", "Your account was created. Please sign in.");
  co_return signed_in_redirect(req, ctx, **s, back);
}

// --- Sign out --------------------------------------------------------------

Awaitable App::page_logout(Request& req, RequestContext& ctx) {
  PageData data;
  auto s = co_await current_session(req);
  if (s) {
    auto user = d_.accounts.cached_user(s->row.user_id);
    if (!user) {
      auto loaded = co_await offload(d_.db_pool, [&] { return d_.accounts.load_user(s->row.user_id); });
      if (loaded && *loaded) user = std::move(**loaded);
    }
    data.set("signed_in", PageData::type::bool_true);
    data.set("email", user ? user->email : std::string());
    data.set("csrf", s->csrf_token);
  } else {
    data.set("signed_in", PageData::type::bool_false);
  }
  co_return pages_.html(req, ctx, 200, pages_.render("logout.mustache", data, {"Sign out", {}, {}}));
}

Awaitable App::page_logout_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req)) co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, "/login?notice=signed_out");
  auto form = web::parse_form(req.body());
  if (!is_form_post(req) || !form || !d_.sessions.csrf_ok(*s, form->value("csrf")))
    co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] { return d_.sessions.end(*s, meta); });
  if (!r) co_return message_page(req, ctx, 503, "Sign out", kMsgBusy);
  if (!*r) co_return message_page(req, ctx, 500, "Sign out", kMsgBroken);
  Response res = pages_.redirect(req, ctx, "/login?notice=signed_out");
  res.insert(bhttp::field::set_cookie, session_set_cookie("", std::chrono::seconds{0}));
  co_return res;
}

// --- Account ---------------------------------------------------------------

Awaitable App::account_view(Request& req, RequestContext& ctx, const service::CurrentSession& s, unsigned status,
                            std::string_view notice, std::string_view error) {
  auto user = co_await offload(d_.db_pool, [&] { return d_.accounts.load_user(s.row.user_id); });
  auto list = co_await offload(d_.db_pool, [&] { return d_.sessions.list(s.row.user_id); });
  if (!user || !list) co_return message_page(req, ctx, 503, "Your account", kMsgBusy);
  if (!*user || !*list) co_return message_page(req, ctx, 500, "Your account", kMsgBroken);
  const store::User& u = **user;
  auto mfa = co_await offload(d_.db_pool, [&] { return d_.mfa->status(u); });
  if (!mfa) co_return message_page(req, ctx, 503, "Your account", kMsgBusy);
  if (!*mfa) co_return message_page(req, ctx, 500, "Your account", kMsgBroken);
  PageData data;
  data.set("email", u.email);
  if (!u.name.empty()) data.set("name", u.name);
  data.set("created_at", date_of(u.created_at));
  data.set("csrf", s.csrf_token);
  data.set("min_length", std::to_string(d_.config.password_min_length));
  PageData rows{PageData::type::list};
  bool others = false;
  for (const auto& row : **list) {
    const bool current = row.id_hash == s.row.id_hash;
    others = others || !current;
    PageData item;
    item.set("id", row.id_hash);
    item.set("user_agent", row.user_agent.empty() ? std::string("Unknown device") : row.user_agent);
    item.set("ip", row.ip);
    item.set("created_at", when_of(row.created_at));
    item.set("last_seen", when_of(row.last_seen));
    item.set("current", current ? PageData::type::bool_true : PageData::type::bool_false);
    item.set("csrf", s.csrf_token);
    rows.push_back(item);
  }
  data.set("sessions", rows);
  data.set("mfa_on", (*mfa)->totp ? PageData::type::bool_true : PageData::type::bool_false);
  data.set("mfa_required", (*mfa)->required ? PageData::type::bool_true : PageData::type::bool_false);
  data.set("recovery_left", std::to_string((*mfa)->recovery_codes_left));
  data.set("others", others ? PageData::type::bool_true : PageData::type::bool_false);
  data.set("has_password", u.password_hash.empty() ? PageData::type::bool_false : PageData::type::bool_true);
  if (d_.oauth != nullptr) {
    auto linked = co_await offload(d_.db_pool, [&] { return d_.oauth->identities(u.id); });
    if (!linked) co_return message_page(req, ctx, 503, "Your account", kMsgBusy);
    if (!*linked) co_return message_page(req, ctx, 500, "Your account", kMsgBroken);
    PageData ids{PageData::type::list};
    std::set<std::string> linked_providers;
    for (const auto& i : **linked) {
      linked_providers.insert(i.provider);
      PageData item;
      item.set("id", i.id);
      item.set("provider", i.provider);
      item.set("email", i.email);
      item.set("since", date_of(i.created_at));
      item.set("csrf", s.csrf_token);
      ids.push_back(item);
    }
    PageData available{PageData::type::list};
    for (const auto& p : d_.oauth->providers()) {
      if (linked_providers.contains(p.name)) continue;
      PageData item;
      item.set("name", p.name);
      item.set("display_name", p.display_name);
      item.set("csrf", s.csrf_token);
      available.push_back(item);
    }
    data.set("identities", ids);
    data.set("link_providers", available);
    data.set("oauth", PageData::type::bool_true);
  }
  co_return pages_.html(req, ctx, status, pages_.render("account.mustache", data, {"Your account", notice, error, true}));
}

Awaitable App::page_account(Request& req, RequestContext& ctx) {
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, "/login?return_to=%2Faccount");
  co_return co_await account_view(req, ctx, *s, 200, notice_text(query_of(req).value("notice")), {});
}

Awaitable App::page_password_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req)) co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, "/login?return_to=%2Faccount");
  auto form = web::parse_form(req.body());
  wipe(req.body());
  if (!is_form_post(req) || !form || !d_.sessions.csrf_ok(*s, form->value("csrf"))) {
    if (form) form->wipe();
    co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  }
  const auto current = form->value("current_password");
  const auto next = form->value("new_password");
  if (current.empty() || next.empty() || current.size() > kMaxPasswordBytes || next.size() > kMaxPasswordBytes) {
    form->wipe();
    co_return co_await account_view(req, ctx, *s, 400, {}, "Enter your current and your new password.");
  }
  service::PasswordChangeInput in{s->row.user_id, SecretString(std::string(current)), SecretString(std::string(next)),
                                  "", "", Seconds{}, s->row.auth_time, "", s->row.amr, s->row.id_hash};
  form->wipe();
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.hash_pool, [&] { return d_.accounts.change_password(std::move(in), meta); });
  if (!r) co_return co_await account_view(req, ctx, *s, 503, {}, kMsgBusy);
  if (!*r) {
    const auto& e = r->error();
    if (is(e, service::AccountError::InvalidCredentials))
      co_return co_await account_view(req, ctx, *s, 400, {}, kMsgWrongCurrent);
    const std::string text = input_error_text(e);
    co_return co_await account_view(req, ctx, *s, text == kMsgBroken ? 500 : 400, {}, text);
  }
  // Every other session ended in change_password; this one gets a new id too, so
  // a stolen copy of this browser's cookie dies with the old password.
  auto fresh = co_await offload(d_.db_pool, [&] { return d_.sessions.replace(&*s, s->row.user_id, s->row.amr, meta); });
  if (!fresh || !*fresh) co_return pages_.redirect(req, ctx, "/login?notice=password_changed");
  Response res = pages_.redirect(req, ctx, "/account?notice=password_changed");
  res.insert(bhttp::field::set_cookie, session_set_cookie((*fresh)->id.expose(), d_.sessions.config().absolute_timeout));
  co_return res;
}

Awaitable App::page_revoke_session_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req)) co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, "/login?return_to=%2Faccount");
  auto form = web::parse_form(req.body());
  if (!is_form_post(req) || !form || !d_.sessions.csrf_ok(*s, form->value("csrf")))
    co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  if (!d_.authz->require_recent(s->row.auth_time))  // step-up: signing devices out needs a recent authentication
    co_return co_await reauth_view(req, ctx, *s, 200, "/account", {});
  const std::string handle(form->value("id"));
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] { return d_.sessions.revoke(s->row.user_id, handle, meta); });
  if (!r) co_return co_await account_view(req, ctx, *s, 503, {}, kMsgBusy);
  if (!*r) co_return co_await account_view(req, ctx, *s, 404, {}, "That session had already ended.");
  co_return pages_.redirect(req, ctx, "/account?notice=session_revoked");
}

Awaitable App::page_revoke_others_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req)) co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, "/login?return_to=%2Faccount");
  auto form = web::parse_form(req.body());
  if (!is_form_post(req) || !form || !d_.sessions.csrf_ok(*s, form->value("csrf")))
    co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  if (!d_.authz->require_recent(s->row.auth_time))  // step-up: signing devices out needs a recent authentication
    co_return co_await reauth_view(req, ctx, *s, 200, "/account", {});
  const auto meta = meta_of(req, ctx);
  auto r = co_await offload(d_.db_pool, [&] { return d_.sessions.revoke_all(s->row.user_id, s->row.id_hash, meta); });
  if (!r) co_return co_await account_view(req, ctx, *s, 503, {}, kMsgBusy);
  if (!*r) co_return co_await account_view(req, ctx, *s, 500, {}, kMsgBroken);
  co_return pages_.redirect(req, ctx, "/account?notice=others_signed_out");
}

// --- Step-up re-authentication (docs/authz.md) -------------------------------

Awaitable App::reauth_view(Request& req, RequestContext& ctx, const service::CurrentSession& s, unsigned status,
                           std::string_view back, std::string_view error) {
  auto user = co_await offload(d_.db_pool, [&]() -> Result<std::pair<store::User, service::MfaStatus>> {
    auto u = d_.accounts.load_user(s.row.user_id);
    if (!u) return fail(u.error());
    auto m = d_.mfa->status(*u);
    if (!m) return fail(m.error());
    return std::pair{std::move(*u), *m};
  });
  if (!user) co_return message_page(req, ctx, 503, "Confirm it's you", kMsgBusy);
  if (!*user) co_return message_page(req, ctx, 500, "Confirm it's you", kMsgBroken);
  PageData data;
  data.set("email", (*user)->first.email);
  data.set("mfa", (*user)->second.totp ? PageData::type::bool_true : PageData::type::bool_false);
  data.set("csrf", s.csrf_token);
  data.set("return_to", std::string(back));
  data.set("has_password", (*user)->first.password_hash.empty() ? PageData::type::bool_false : PageData::type::bool_true);
  if (d_.oauth != nullptr && (*user)->first.password_hash.empty()) {
    // For accounts without a password only: a fresh sign-in at a linked OpenID provider, which
    // must ask the person again (prompt=login, max_age=0) and say when (auth_time). GitHub
    // cannot, so it is not offered (docs/oauth.md §4).
    auto linked = co_await offload(d_.db_pool, [&] { return d_.oauth->identities(s.row.user_id); });
    PageData list{PageData::type::list};
    if (linked && *linked) {
      std::set<std::string> seen;
      for (const auto& i : **linked) {
        if (!seen.insert(i.provider).second) continue;
        for (const auto& p : d_.oauth->providers()) {
          if (p.name != i.provider || !p.reauth) continue;
          PageData item;
          item.set("name", p.name);
          item.set("display_name", p.display_name);
          list.push_back(item);
        }
      }
    }
    data.set("providers", list);
  }
  co_return pages_.html(req, ctx, status, pages_.render("reauth.mustache", data, {"Confirm it's you", {}, error, true}));
}

Awaitable App::page_reauth(Request& req, RequestContext& ctx) {
  const std::string back = return_to(query_of(req).value("return_to"));
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, with_return_to("/login", back.empty() ? "/account" : back));
  co_return co_await reauth_view(req, ctx, *s, 200, back, {});
}

Awaitable App::page_reauth_post(Request& req, RequestContext& ctx) {
  if (!same_origin_form(req)) co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  auto s = co_await current_session(req);
  if (!s) co_return pages_.redirect(req, ctx, "/login?return_to=%2Faccount");
  auto form = web::parse_form(req.body());
  wipe(req.body());
  if (!is_form_post(req) || !form || !d_.sessions.csrf_ok(*s, form->value("csrf"))) {
    if (form) form->wipe();
    co_return message_page(req, ctx, 403, "Request refused", kMsgExpiredForm);
  }
  const std::string back = return_to(form->value("return_to"));
  const auto password = form->value("password");
  if (password.empty() || password.size() > kMaxPasswordBytes) {
    form->wipe();
    co_return co_await reauth_view(req, ctx, *s, 400, back, "Enter your password.");
  }
  SecretString pw{std::string(password)};
  service::SecondFactor factor{std::string(form->value("code").substr(0, 16)),
                               std::string(form->value("recovery_code").substr(0, 64)), device_token_of(req)};
  form->wipe();
  const auto meta = meta_of(req, ctx);
  auto user = co_await offload(d_.hash_pool, [&]() -> Result<std::pair<store::User, std::string>> {
    auto u = d_.accounts.reauthenticate(s->row.user_id, std::move(pw), factor.device_token, meta);
    if (!u) return fail(u.error());
    auto amr = d_.mfa->step_up(*u, factor, meta);  // the second factor too, when the user has one
    if (!amr) return fail(amr.error());
    return std::pair{std::move(*u), std::move(*amr)};
  });
  if (!user) co_return co_await reauth_view(req, ctx, *s, 503, back, kMsgBusy);
  if (!*user) {
    const auto& e = user->error();
    if (is(e, service::AccountError::InvalidCredentials))
      co_return co_await reauth_view(req, ctx, *s, 401, back, kMsgWrongCurrent);
    if (e.code == make_error_code(service::MfaError::SecondFactorRequired))
      co_return co_await reauth_view(req, ctx, *s, 401, back, "Enter the code from your authenticator app as well.");
    if (e.code == make_error_code(service::MfaError::InvalidCode))
      co_return co_await reauth_view(req, ctx, *s, 401, back, kMsgWrongCode);
    if (e.code == make_error_code(service::MfaError::EnrollmentRequired))
      co_return co_await reauth_view(
          req, ctx, *s, 403, back,
          "This account must set up two-step verification first: sign out, "
          "then sign in again to set it up.");
    co_return co_await reauth_view(req, ctx, *s, 403, back, kMsgDisabled);
  }
  // A fresh session (new id, auth_time now) in place of this one: the
  // privilege of a recent authentication goes with a new cookie (ASVS 7.2.4).
  auto fresh = co_await offload(d_.db_pool, [&] { return d_.sessions.replace(&*s, (*user)->first.id, (*user)->second, meta); });
  if (!fresh || !*fresh) co_return co_await reauth_view(req, ctx, *s, fresh ? 500 : 503, back, fresh ? kMsgBroken : kMsgBusy);
  co_return signed_in_redirect(req, ctx, **fresh, back.empty() ? "/account?notice=reauthenticated" : back);
}

Awaitable App::stylesheet(Request& req, RequestContext& ctx) { co_return pages_.stylesheet(req, ctx); }

}  // namespace gh::http
