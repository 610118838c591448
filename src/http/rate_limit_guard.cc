// The rate-limit guard: which routes are limited per client IP, the call into
// service::RateLimits (on a worker pool when its backend is Redis), and the
// answers: 429 problem+json `rate_limited` (a friendly HTML page for the
// hosted forms) with Retry-After, or 503 `rate_limit_unavailable` when the
// shared store is down and rate_limit.redis_failure = "closed". Allowed
// responses of limited endpoints carry the IETF RateLimit-* headers too
// (draft-ietf-httpapi-ratelimit-headers: Limit, Remaining, Reset; for the
// tightest of the limits checked).
#include <boost/beast/http/field.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/account/email.h"
#include "http/app.h"
#include "http/handler_util.h"
#include "http/offload.h"
#include "http/problem.h"

namespace gh::http {

namespace {

constexpr Problem kRateLimited{429, "rate_limited", "Too Many Requests"};
constexpr Problem kRateLimitUnavailable{503, "rate_limit_unavailable", "Service Unavailable"};

bool is_page(std::string_view route) { return !route.starts_with("/v1/"); }

// "in 2 minutes", "in 40 seconds": for the HTML page.
std::string wait_text(std::int64_t s) {
  if (s >= 120) return fmt::format("about {} minutes", (s + 59) / 60);
  if (s >= 60) return "about a minute";
  return fmt::format("{} second{}", s, s == 1 ? "" : "s");
}

// Keeps the tightest of the limits checked for one request.
void note(RequestContext& ctx, const service::Verdict& v) {
  const auto& d = v.decision;
  auto& info = ctx.rate_limit;
  const std::int64_t reset = ratelimit::ceil_seconds(d.reset_after);
  if (info.set && (info.remaining < d.remaining || (info.remaining == d.remaining && info.reset_s >= reset))) return;
  info.set = true;
  info.limit = d.limit;
  info.remaining = d.remaining;
  info.reset_s = reset;
}

}  // namespace

std::optional<service::LimitId> App::ip_limit_of(bhttp::verb method, std::string_view route) const {
  using service::LimitId;
  if (d_.limits == nullptr) return std::nullopt;
  // Federated sign-in: each start stores a flow and each callback calls the provider with our
  // client credentials, so both are budgeted per address (GET included).
  if (route == "/v1/oauth/{provider}/start" || route == "/v1/oauth/{provider}/callback" ||
      route == "/v1/oauth/token" ||
      (method == bhttp::verb::post &&
       (route == "/reauth/provider" || route == "/account/identities/link")))
    return LimitId::OAuthPerIp;
  if (method != bhttp::verb::post) return std::nullopt;
  // The JSON API and the hosted form share one budget per kind of attempt.
  // Re-authentication is a password attempt like a sign-in: same budget.
  if (route == "/v1/login" || route == "/v1/session/login" || route == "/login" || route == "/v1/reauthenticate" ||
      route == "/reauth")
    return LimitId::LoginPerIp;
  if (route == "/v1/register" || route == "/register") return LimitId::RegisterPerIp;
  // Password changes, and everything a reset or verification link drives: one budget.
  if (route == "/v1/password/change" || route == "/account/password" || route == "/v1/password/forgot" ||
      route == "/forgot-password" || route == "/v1/password/reset" || route == "/reset-password" ||
      route == "/v1/email/verify" || route == "/verify-email" || route == "/v1/email/verification" ||
      route == "/v1/email/change" || route == "/v1/email/change/confirm" || route == "/account/email" ||
      route == "/confirm-email")
    return LimitId::PasswordChangePerIp;
  if (route == "/v1/token/refresh") return LimitId::RefreshPerIp;
  // Second factors, and what costs Argon2id per call (new recovery codes): one budget.
  if (route == "/v1/login/mfa" || route == "/v1/session/login/mfa" || route == "/v1/login/mfa/enroll" ||
      route == "/v1/mfa/totp/confirm" || route == "/v1/mfa/recovery-codes" || route == "/account/mfa/recovery-codes" ||
      route == "/mfa/challenge" ||
      route == "/account/mfa/setup")
    return LimitId::MfaPerIp;
  return std::nullopt;
}

asio::awaitable<std::optional<Response>> App::rate_limited(const Request& req, RequestContext& ctx,
                                                           service::LimitId id, std::string_view subject) {
  if (d_.limits == nullptr || !d_.limits->active(id)) co_return std::nullopt;
  // The owner's own browser (a known-device cookie for this account, unforgeable)
  // is not held by the per-account limit: guesses sprayed at the account from
  // elsewhere cannot keep its owner out. The per-IP limit and lockout still apply.
  if (service::per_account(id) && known_device(req, subject)) co_return std::nullopt;
  // Request metadata is built only if the attempt is refused (for the audit event).
  const service::RateLimits::MetaFn meta = [&req, &ctx] { return meta_of(req, ctx); };
  Result<std::optional<service::Verdict>> r = std::optional<service::Verdict>{};
  if (d_.limits->blocking()) {
    auto done = co_await offload(*d_.limit_pool, [&] { return d_.limits->acquire(id, subject, meta); });
    if (!done) co_return is_page(ctx.route) ? message_page(req, ctx, 503, "Please try again", "The service is busy right now. Please try again in a moment.")
                                            : overloaded(req, ctx);
    r = std::move(*done);
  } else {
    r = d_.limits->acquire(id, subject, meta);
  }
  if (!r) {
    d_.metrics.inc("gatehouse_rate_limit_store_errors_total", "action=\"refused\"");
    if (is_page(ctx.route))
      co_return message_page(req, ctx, 503, "Please try again", "The service is busy right now. Please try again in a moment.");
    co_return problem_response(req, ctx, kRateLimitUnavailable, "Rate limiting is unavailable; retry shortly.");
  }
  if (!*r) co_return std::nullopt;
  const service::Verdict& v = **r;
  if (v.local_fallback) d_.metrics.inc("gatehouse_rate_limit_store_errors_total", "action=\"local_fallback\"");
  // A per-account budget is shown only on its own 429: on other answers it
  // would tell anyone how many failures an account has had (and when its owner signed in).
  if (!service::per_account(id)) note(ctx, v);
  if (v.decision.allowed) {
    if (service::per_account(id)) ctx.rate_limit.account_charged = true;
    co_return std::nullopt;
  }

  d_.metrics.inc("gatehouse_rate_limited_total", fmt::format("limit=\"{}\"", service::limit_name(id)));
  const std::int64_t retry = std::max<std::int64_t>(1, ratelimit::ceil_seconds(v.decision.retry_after));
  Response res = is_page(ctx.route)
                     ? message_page(req, ctx, 429, "Too many attempts",
                                    fmt::format("There have been too many attempts. Please wait {} and try again.",
                                                wait_text(retry)))
                     : problem_response(req, ctx, kRateLimited,
                                        fmt::format("Too many attempts; retry after {} seconds.", retry));
  res.set(bhttp::field::retry_after, std::to_string(retry));
  if (service::per_account(id)) note(ctx, v);
  add_rate_limit_headers(res, ctx);
  co_return res;
}

asio::awaitable<void> App::rate_limit_refund(const RequestContext& ctx, service::LimitId id, std::string subject) {
  if (d_.limits == nullptr || !ctx.rate_limit.account_charged) co_return;
  Status ok;
  if (d_.limits->blocking()) {
    auto done = co_await offload(*d_.limit_pool, [&] { return d_.limits->refund(id, subject); });
    if (done) ok = *done;
  } else {
    ok = d_.limits->refund(id, subject);
  }
  if (!ok) spdlog::debug("rate limit: refund failed: {}", ok.error().message());
}

bool App::known_device(const Request& req, std::string_view email) const {
  if (d_.devices == nullptr) return false;
  const std::string token = device_token_of(req);
  if (token.empty()) return false;
  auto parsed = account::parse_email(email);
  return parsed && d_.devices->check(parsed->normalized, token);
}

void App::add_rate_limit_headers(Response& res, const RequestContext& ctx) {
  const auto& info = ctx.rate_limit;
  if (!info.set) return;
  res.set("RateLimit-Limit", std::to_string(info.limit));
  res.set("RateLimit-Remaining", std::to_string(info.remaining));
  res.set("RateLimit-Reset", std::to_string(info.reset_s));
}

}  // namespace gh::http
