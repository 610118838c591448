// RateLimits: which attempts are limited, by what key, with which policy, in
// which backend — and what happens when the shared backend fails.
//
// Each limit counts attempts of one kind by one key: the client IP (IPv6 by
// its /64) or the account (the normalised email, stored only as a hash). A
// refusal records the audit event "rate_limit.tripped" once per run of
// refusals of a key (not once per refused request, so a flood cannot flood
// the audit log). With a shared (Redis) backend, a failure of Redis either
// refuses the attempt (FailureMode::Closed: RateLimitError::Unavailable, the
// default) or falls back to this instance's own in-process limits
// (FailureMode::Local).
//
// Thread-safe. acquire()/refund()/health() block when blocking() is true
// (Redis): call them from a worker pool then; the local backend never blocks.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/base/result.h"
#include "core/base/string_hash.h"
#include "core/ratelimit/gcra.h"
#include "service/common/audit.h"
#include "service/config.h"
#include "service/ratelimit/limiter_backend.h"

namespace gh::service {

enum class LimitId : std::uint8_t {
  LoginPerIp,           // POST /v1/login, /v1/session/login, /login: every attempt, by client IP
  LoginPerAccount,      // the same endpoints, by email: failed attempts only (a success is given back)
  RegisterPerIp,        // POST /v1/register, /register
  PasswordChangePerIp,  // POST /v1/password/change, /account/password
  RefreshPerIp,         // POST /v1/token/refresh
  MfaPerIp,             // second-factor attempts: sign-in challenge, enrolment confirmation, step-up codes
  OAuthPerIp,           // federated sign-in: GET /v1/oauth/{provider}/start and /callback, POST /v1/oauth/token
};
inline constexpr std::size_t kLimitCount = 7;

// "login_per_ip", ...: the config key under [rate_limit], the audit result and the metric label.
[[nodiscard]] std::string_view limit_name(LimitId id);
// True for limits keyed by account (email) rather than client IP.
[[nodiscard]] bool per_account(LimitId id);

enum class RateLimitError : std::uint8_t {
  Unavailable = 1,  // the shared store failed and redis_failure = "closed": refuse (503)
};
GH_DECLARE_ERROR_CATEGORY(RateLimitError)

enum class FailureMode : std::uint8_t {
  Closed,  // refuse limited requests while the shared store is down (safe default)
  Local,   // fall back to per-instance limits (N instances allow up to N x the limit)
};

struct RateLimitConfig {
  std::array<std::optional<ratelimit::Policy>, kLimitCount> policies;  // nullopt: the limit is off
  FailureMode on_failure = FailureMode::Closed;
  LocalOptions local;
};

// The [rate_limit] settings as a RateLimitConfig. Errors: ConfigError::BadValue
// (finalize_config has already refused these, so only for hand-made Configs).
[[nodiscard]] Result<RateLimitConfig> rate_limit_config(const Config& c);

// The outcome of one counted attempt.
struct Verdict {
  LimitId limit{};
  ratelimit::Policy policy;
  ratelimit::Decision decision;
  bool local_fallback = false;  // the shared store failed; this instance's limits decided
};

// For /readyz.
struct LimiterHealth {
  std::string_view backend;  // "local" or "redis"
  std::string_view state;    // "ok", "unreachable" (closed: limited endpoints answer 503), "local_fallback"
  bool ready = true;         // false only for "unreachable"
};

class RateLimits {
 public:
  using Now = std::function<ratelimit::Time()>;
  // The system clock in microseconds.
  static ratelimit::Time system_now();

  // `backend` holds the counters; with a blocking (shared) backend and
  // FailureMode::Local an in-process fallback is kept too.
  RateLimits(RateLimitConfig config, std::unique_ptr<LimiterBackend> backend, AuditSink& audit, Now now = system_now);
  // From the config: Redis when rate_limit.store_url is set, else in-process.
  // Errors: ConfigError::BadValue, store::StoreError::BadUrl / Unavailable (Redis).
  [[nodiscard]] static Result<std::unique_ptr<RateLimits>> create(const Config& c, AuditSink& audit);

  // True if `id` has a policy (is not "off").
  [[nodiscard]] bool active(LimitId id) const { return config_.policies[static_cast<std::size_t>(id)].has_value(); }
  [[nodiscard]] bool blocking() const { return backend_->blocking(); }
  [[nodiscard]] std::string_view backend_name() const { return backend_->name(); }

  // Counts one attempt against `id` by `subject` (the client IP, or the email
  // as typed for per-account limits). nullopt if the limit is off. On a
  // refusal (decision.allowed false) the trip is audited, with the metadata
  // `meta` returns (called only then: the allowed path builds nothing). Errors:
  // RateLimitError::Unavailable (shared store down, FailureMode::Closed).
  using MetaFn = std::function<RequestMeta()>;
  [[nodiscard]] Result<std::optional<Verdict>> acquire(LimitId id, std::string_view subject, const MetaFn& meta);
  [[nodiscard]] Result<std::optional<Verdict>> acquire(LimitId id, std::string_view subject, const RequestMeta& meta) {
    return acquire(id, subject, MetaFn([&meta] { return meta; }));
  }
  // Gives back one attempt counted by acquire() (e.g. the login succeeded).
  // Best effort: errors are returned for logging only.
  Status refund(LimitId id, std::string_view subject);

  // Pings a shared backend (blocking).
  [[nodiscard]] LimiterHealth health();
  // Drops in-process keys back at rest (call every minute or so).
  void prune();
  // Keys held in process memory (backend plus fallback).
  [[nodiscard]] std::size_t local_keys() const;

 private:
  [[nodiscard]] std::string key_of(LimitId id, std::string_view subject) const;
  void audit_trip(LimitId id, std::string_view subject, const std::string& key, const ratelimit::Step& step,
                  const MetaFn& meta);
  void warn_failure(const Error& e);

  RateLimitConfig config_;
  std::unique_ptr<LimiterBackend> backend_;
  std::unique_ptr<LimiterBackend> fallback_;  // FailureMode::Local with a shared backend
  AuditSink& audit_;
  Now now_;
  std::atomic<std::int64_t> last_warning_us_{0};  // failures are logged at most every 10 s
  std::mutex audit_mu_;
  // Per key, the TAT at the last audited trip: refusals at the same TAT are one trip.
  std::unordered_map<std::string, ratelimit::Time, StringHash, std::equal_to<>> tripped_;  // GUARDED_BY(audit_mu_)
};

}  // namespace gh::service

template <>
struct std::is_error_code_enum<gh::service::RateLimitError> : std::true_type {};
