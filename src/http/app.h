// App: the Gatehouse HTTP API — routes, their thin handlers, and the wiring
// between the transport and the services. A handler parses the request,
// calls one service function (on a worker pool when it blocks), and maps the
// result to a response; no business logic lives here.
#pragma once

#include <memory>
#include <optional>
#include <span>

#include <nlohmann/json_fwd.hpp>

#include "core/web/web.h"
#include "http/metrics.h"
#include "http/pages.h"
#include "http/router.h"
#include "http/types.h"
#include "service/accounts/accounts.h"
#include "service/authz/admin_service.h"
#include "service/authz/authz_service.h"
#include "service/mfa/mfa_service.h"
#include "service/oauth/oauth_service.h"
#include "service/recovery/recovery_service.h"
#include "service/common/worker_pool.h"
#include "service/config.h"
#include "service/ratelimit/rate_limits.h"
#include "service/tokens/key_manager.h"
#include "service/sessions/form_guard.h"
#include "service/sessions/session_service.h"
#include "service/tokens/token_service.h"
#include "store/store.h"

namespace gh::http {

struct AppDeps {
  const service::Config& config;
  store::Store& store;
  service::AccountService& accounts;
  service::TokenService& tokens;
  service::KeyManager& keys;
  service::SessionService& sessions;
  service::FormGuard& forms;  // login CSRF for the anonymous forms
  service::WorkerPool& hash_pool;  // password hashing (bounded; full -> 503)
  service::WorkerPool& db_pool;    // other blocking store calls
  Metrics& metrics;
  service::RateLimits* limits = nullptr;      // null: rate limiting off (rate_limit.enabled = false)
  service::WorkerPool* limit_pool = nullptr;  // for a blocking (Redis) limiter backend
  const service::KnownDevices* devices = nullptr;  // known-device cookies: not held by the per-account login limit
  service::AuthzService* authz = nullptr;  // required: authorization decisions, tenant tokens
  service::AdminService* admin = nullptr;  // required: the admin API
  service::RecoveryService* recovery = nullptr;  // required: password reset, email verification
  service::WorkerPool* mail_pool = nullptr;      // required: reset/verification jobs run here, off the store pool
  service::MfaService* mfa = nullptr;            // required: second factors
  service::OAuthService* oauth = nullptr;        // federated sign-in; null: no providers (every provider is unknown)
  service::WorkerPool* oauth_pool = nullptr;     // required with oauth: back-channel calls block up to http_timeout
};

class App {
 public:
  explicit App(AppDeps deps);
  struct RouteDef {
    bhttp::verb method;
    std::string_view pattern;
    Awaitable (App::*handler)(Request&, RequestContext&);
  };
  // The route table (method, path pattern, handler), e.g. for checking the OpenAPI document against it.
  static std::span<const RouteDef> route_table();
  // Routes and runs one request; never throws for a client's fault.
  Awaitable dispatch(Request& req, RequestContext& ctx);

 private:
  // Ops (app.cc).
  Awaitable healthz(Request& req, RequestContext& ctx);
  Awaitable readyz(Request& req, RequestContext& ctx);
  Awaitable metrics(Request& req, RequestContext& ctx);
  // Accounts (app.cc).
  Awaitable register_user(Request& req, RequestContext& ctx);
  Awaitable login(Request& req, RequestContext& ctx);
  // Tokens (token_handlers.cc).
  Awaitable refresh(Request& req, RequestContext& ctx);
  Awaitable me(Request& req, RequestContext& ctx);
  Awaitable logout(Request& req, RequestContext& ctx);
  Awaitable logout_all(Request& req, RequestContext& ctx);
  Awaitable change_password(Request& req, RequestContext& ctx);
  Awaitable jwks(Request& req, RequestContext& ctx);
  Awaitable openid_configuration(Request& req, RequestContext& ctx);

  // Password reset and email verification (recovery_handlers.cc).
  Awaitable forgot_password(Request& req, RequestContext& ctx);
  Awaitable reset_password(Request& req, RequestContext& ctx);
  Awaitable verify_email(Request& req, RequestContext& ctx);
  Awaitable resend_verification(Request& req, RequestContext& ctx);
  Awaitable page_forgot(Request& req, RequestContext& ctx);
  Awaitable page_forgot_post(Request& req, RequestContext& ctx);
  Awaitable page_reset(Request& req, RequestContext& ctx);
  Awaitable page_reset_post(Request& req, RequestContext& ctx);
  Awaitable page_verify(Request& req, RequestContext& ctx);
  Awaitable page_verify_post(Request& req, RequestContext& ctx);
  Awaitable change_email(Request& req, RequestContext& ctx);          // POST /v1/email/change (step-up)
  Awaitable confirm_email_change(Request& req, RequestContext& ctx);  // POST /v1/email/change/confirm
  Awaitable page_email_post(Request& req, RequestContext& ctx);
  Awaitable page_confirm_email(Request& req, RequestContext& ctx);
  Awaitable page_confirm_email_post(Request& req, RequestContext& ctx);
  // Queues a reset request (RecoveryService::request_reset) on the store pool; false if it is full.
  bool queue_reset(std::string email, const service::RequestMeta& meta);
  // Queues a verification mail for a new account (best effort: logged if it cannot be queued).
  void queue_verification(std::string user_id, const service::RequestMeta& meta);
  // Queues the "you already have an account" mail (registration with a taken address, accounts.require_verified_email).
  void queue_registration_notice(std::string email, const service::RequestMeta& meta);

  // Second factors (mfa_handlers.cc).
  Awaitable login_mfa(Request& req, RequestContext& ctx);          // POST /v1/login/mfa: tokens
  Awaitable session_login_mfa(Request& req, RequestContext& ctx);  // POST /v1/session/login/mfa: a session
  Awaitable login_mfa_enroll(Request& req, RequestContext& ctx);   // POST /v1/login/mfa/enroll
  Awaitable mfa_status(Request& req, RequestContext& ctx);
  Awaitable mfa_totp_begin(Request& req, RequestContext& ctx);
  Awaitable mfa_totp_confirm(Request& req, RequestContext& ctx);
  Awaitable mfa_totp_remove(Request& req, RequestContext& ctx);
  Awaitable mfa_recovery_codes(Request& req, RequestContext& ctx);
  Awaitable page_mfa_challenge(Request& req, RequestContext& ctx);
  Awaitable page_mfa_challenge_post(Request& req, RequestContext& ctx);
  Awaitable page_mfa_setup(Request& req, RequestContext& ctx);
  Awaitable page_mfa_setup_post(Request& req, RequestContext& ctx);
  Awaitable page_mfa_remove_post(Request& req, RequestContext& ctx);
  Awaitable page_mfa_codes_post(Request& req, RequestContext& ctx);
  // After a verified password (JSON API): the 403 mfa_required / mfa_enrollment_required
  // problem carrying a challenge, an error, or nullopt when no second factor is needed.
  // `login`: for a sign-in, the subject of user.login.mfa_pending (audited when a challenge is
  // issued).
  asio::awaitable<std::optional<Response>> mfa_gate(
      Request& req, RequestContext& ctx, const store::User& user,
      std::string_view first_amr = service::kAmrPassword, std::string_view login = {});
  // The same for the hosted pages: a redirect to /mfa/challenge with the challenge cookie.
  asio::awaitable<std::optional<Response>> mfa_page_gate(
      Request& req, RequestContext& ctx, const store::User& user, std::string_view back,
      std::string_view first_amr = service::kAmrPassword, std::string_view login = {});
  std::string mfa_cookie_name() const;
  // The sign-in challenge page: the code form (Verify) or the QR code of the enrolment it requires.
  Awaitable mfa_challenge_view(Request& req, RequestContext& ctx, const SecretString& token,
                               service::ChallengeKind kind, std::string_view back, unsigned status,
                               std::string_view error);
  // The signed-in enrolment page (QR code, key, code form) for this session's pending authenticator.
  Awaitable mfa_setup_view(Request& req, RequestContext& ctx, const service::CurrentSession& s, unsigned status,
                           std::string_view error);
  // Parses {mfa_token, code | recovery_code} and completes the challenge (JSON API), or the response to send.
  asio::awaitable<tl::expected<service::Completed, Response>> complete_challenge(Request& req, RequestContext& ctx,
                                                                                 const service::RequestMeta& meta);
  // The second factor fields of a JSON body or a form ("code", "recovery_code").
  Response recovery_codes_page(const Request& req, const RequestContext& ctx, const std::vector<std::string>& codes,
                               std::string_view intro, std::string_view back);
  // Authorization and the admin API (authz_handlers.cc, docs/authz.md).
  Awaitable tenant_token(Request& req, RequestContext& ctx);
  Awaitable reauthenticate(Request& req, RequestContext& ctx);
  Awaitable authz_check(Request& req, RequestContext& ctx);
  Awaitable admin_list_users(Request& req, RequestContext& ctx);
  Awaitable admin_get_user(Request& req, RequestContext& ctx);
  Awaitable admin_user_action(Request& req, RequestContext& ctx);  // disable, enable, logout, unlock, DELETE
  Awaitable admin_audit(Request& req, RequestContext& ctx);        // platform-wide, or one tenant's
  Awaitable create_tenant(Request& req, RequestContext& ctx);
  Awaitable list_tenants(Request& req, RequestContext& ctx);
  Awaitable get_tenant(Request& req, RequestContext& ctx);
  Awaitable rename_tenant(Request& req, RequestContext& ctx);
  Awaitable delete_tenant(Request& req, RequestContext& ctx);
  Awaitable list_members(Request& req, RequestContext& ctx);
  Awaitable add_member(Request& req, RequestContext& ctx);
  Awaitable change_member(Request& req, RequestContext& ctx);
  Awaitable remove_member(Request& req, RequestContext& ctx);
  Awaitable list_clients(Request& req, RequestContext& ctx);
  Awaitable create_client(Request& req, RequestContext& ctx);
  Awaitable rotate_client(Request& req, RequestContext& ctx);
  Awaitable delete_client(Request& req, RequestContext& ctx);
  Awaitable openapi(Request& req, RequestContext& ctx);
  // The admin API's caller from the bearer token, or the 401 to send.
  std::optional<Response> caller_of(const Request& req, const RequestContext& ctx, service::Caller& out);
  // A problem for an AuthzFailure (with WWW-Authenticate for step-up and service clients) or any other error.
  Response authz_problem(const Request& req, const RequestContext& ctx, const Error& e);
  // Runs op(caller) on the store pool; renders its value, or 204 for a Status, or the problem.
  template <class Op, class Render>
  Awaitable admin_call(Request& req, RequestContext& ctx, Op op, Render render);

  // Federated sign-in (oauth_handlers.cc, docs/oauth.md).
  Awaitable oauth_start(Request& req, RequestContext& ctx);
  Awaitable oauth_callback(Request& req, RequestContext& ctx);
  Awaitable oauth_token(Request& req, RequestContext& ctx);
  Awaitable list_identities(Request& req, RequestContext& ctx);
  Awaitable unlink_identity(Request& req, RequestContext& ctx);
  Awaitable page_link_identity_post(Request& req, RequestContext& ctx);
  Awaitable page_reauth_provider_post(Request& req, RequestContext& ctx);
  Awaitable page_unlink_identity_post(Request& req, RequestContext& ctx);
  // A friendly page (Accept: text/html) or problem+json for a federated sign-in failure.
  Response oauth_failure(const Request& req, const RequestContext& ctx, const Error& e);
  // 303 to the provider with the flow cookie.
  Response oauth_redirect(const Request& req, const RequestContext& ctx, const service::Started& s);
  std::string oauth_cookie_name() const;

  // Browser sessions and forward-auth (session_handlers.cc).
  Awaitable session_login(Request& req, RequestContext& ctx);
  Awaitable session_info(Request& req, RequestContext& ctx);
  Awaitable session_logout(Request& req, RequestContext& ctx);
  Awaitable list_sessions(Request& req, RequestContext& ctx);
  Awaitable revoke_session(Request& req, RequestContext& ctx);
  Awaitable session_token(Request& req, RequestContext& ctx);
  Awaitable forward_auth(Request& req, RequestContext& ctx);
  asio::awaitable<Result<service::CurrentSession>> current_session(const Request& req);
  bool csrf_checked(const Request& req, const service::CurrentSession& s) const;
  std::string session_cookie_name() const;
  // The known-device cookie (lockout): the value the browser sent, and the Set-Cookie for a fresh one.
  std::string device_token_of(const Request& req) const;
  void add_device_cookie(Response& res, const store::User& user);
  std::string session_set_cookie(std::string_view value, std::chrono::seconds max_age) const;

  // Hosted pages (page_handlers.cc).
  Awaitable page_login(Request& req, RequestContext& ctx);
  Awaitable page_login_post(Request& req, RequestContext& ctx);
  Awaitable page_register(Request& req, RequestContext& ctx);
  Awaitable page_register_post(Request& req, RequestContext& ctx);
  Awaitable page_logout(Request& req, RequestContext& ctx);
  Awaitable page_logout_post(Request& req, RequestContext& ctx);
  Awaitable page_account(Request& req, RequestContext& ctx);
  Awaitable page_password_post(Request& req, RequestContext& ctx);
  Awaitable page_revoke_session_post(Request& req, RequestContext& ctx);
  Awaitable page_revoke_others_post(Request& req, RequestContext& ctx);
  Awaitable page_reauth(Request& req, RequestContext& ctx);
  Awaitable page_reauth_post(Request& req, RequestContext& ctx);
  Awaitable stylesheet(Request& req, RequestContext& ctx);
  // The "enter your password again" form for a signed-in browser, returning to `back`.
  Awaitable reauth_view(Request& req, RequestContext& ctx, const service::CurrentSession& s, unsigned status,
                        std::string_view back, std::string_view error);
  // The account page for a signed-in person, with an optional status line.
  Awaitable account_view(Request& req, RequestContext& ctx, const service::CurrentSession& s, unsigned status,
                         std::string_view notice, std::string_view error);
  // A sign-in or registration form with a login-CSRF token (reusing the browser's nonce cookie when valid).
  Response anonymous_form(const Request& req, const RequestContext& ctx, unsigned status, std::string_view page,
                          PageData data, const PageFrame& frame);
  // 303 to `back` (or /account) with the new session's cookie; clears the form cookie.
  Response signed_in_redirect(const Request& req, const RequestContext& ctx, const service::NewSession& s,
                              std::string_view back);
  Response message_page(const Request& req, const RequestContext& ctx, unsigned status, std::string_view title,
                        std::string_view message);
  // False for a form post that is not from one of our own pages (Origin / Sec-Fetch-Site).
  bool same_origin_form(const Request& req) const;
  // `candidate` if it is an allowed place to return to after sign-in, else "".
  std::string return_to(std::string_view candidate) const;
  std::string form_cookie_name() const;

  // Rate limiting (rate_limit_guard.cc). The per-IP limit guarding a route, if any.
  [[nodiscard]] std::optional<service::LimitId> ip_limit_of(bhttp::verb method, std::string_view route) const;
  // Counts one attempt against `id` by `subject` (client IP or email); the 429
  // (HTML for the hosted pages) or 503 to send instead, or nullopt to go on.
  asio::awaitable<std::optional<Response>> rate_limited(const Request& req, RequestContext& ctx, service::LimitId id,
                                                        std::string_view subject);
  // Gives back the per-account attempt rate_limited() counted for this request, if it did (a login that succeeded).
  asio::awaitable<void> rate_limit_refund(const RequestContext& ctx, service::LimitId id, std::string subject);
  // True if the request carries this account's known-device cookie (exempt from the per-account login limit).
  [[nodiscard]] bool known_device(const Request& req, std::string_view email) const;
  // RateLimit-* headers from ctx.rate_limit (the tightest limit checked).
  static void add_rate_limit_headers(Response& res, const RequestContext& ctx);

  // CORS (cors.cc): preflight answers, and the headers added to API responses.
  Response preflight(const Request& req, const RequestContext& ctx) const;
  void add_cors_headers(const Request& req, std::string_view path, Response& res) const;
  [[nodiscard]] bool cors_origin_allowed(std::string_view origin) const;

  // Issues a fresh token family for `user` and answers `status` with tokens + user.
  // `amr`: how the user authenticated; `extra` members are added to the body.
  // `login`: for a sign-in, the subject of the user.login success audited once the tokens exist.
  // `auth_time`: when the user authenticated, if not now (zero = now, as in TokenService::issue).
  Awaitable signed_in(Request& req, RequestContext& ctx, const store::User& user, unsigned status,
                      std::string_view amr, const nlohmann::json* extra = nullptr,
                      std::string_view login = {}, Seconds auth_time = {});
  // The response for issued tokens: access token in the body; the refresh token
  // in the body (Token-Transport: body) or in HttpOnly cookies.
  Response token_response(const Request& req, const RequestContext& ctx, unsigned status,
                          const service::IssuedTokens& t, const store::User* user,
                          const nlohmann::json* extra = nullptr);
  // The verified bearer token, or the 401 to send.
  Result<service::AccessClaims> bearer(const Request& req);
  Response bearer_problem(const Request& req, const RequestContext& ctx, const Error& e);
  // False if the request carries an Origin that is not ours (cookie-authenticated calls).
  bool origin_ok(const Request& req) const;
  std::string refresh_cookie_name() const;

  AppDeps d_;
  Router router_;
  std::string public_origin_;  // canonical scheme://host[:port] of the public URL
  Pages pages_;
};

// True if the client asked for tokens in the body (native/API clients).
[[nodiscard]] bool wants_body_transport(const Request& req);

}  // namespace gh::http
