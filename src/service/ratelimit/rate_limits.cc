#include "service/ratelimit/rate_limits.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/account/email.h"
#include "core/base/encoding.h"
#include "core/net/client_ip.h"

namespace gh::service {

const char* describe(RateLimitError e) {
  switch (e) {
    case RateLimitError::Unavailable: return "the rate-limit store is not reachable";
  }
  return "rate limit error";
}
GH_DEFINE_ERROR_CATEGORY(RateLimitError, "rate_limit")

namespace {

constexpr std::size_t kMaxTrippedKeys = 10'000;
constexpr std::int64_t kWarnEveryUs = 10'000'000;

}  // namespace

std::string_view limit_name(LimitId id) {
  switch (id) {
    case LimitId::LoginPerIp: return "login_per_ip";
    case LimitId::LoginPerAccount: return "login_per_account";
    case LimitId::RegisterPerIp: return "register_per_ip";
    case LimitId::PasswordChangePerIp: return "password_change_per_ip";
    case LimitId::RefreshPerIp: return "refresh_per_ip";
    case LimitId::MfaPerIp: return "mfa_per_ip";
    case LimitId::OAuthPerIp: return "oauth_per_ip";
  }
  return "unknown";
}

bool per_account(LimitId id) { return id == LimitId::LoginPerAccount; }

Result<RateLimitConfig> rate_limit_config(const Config& c) {
  RateLimitConfig r;
  const std::array<const std::string*, kLimitCount> texts = {
      &c.rate_limit_login_per_ip, &c.rate_limit_login_per_account, &c.rate_limit_register_per_ip,
      &c.rate_limit_password_change_per_ip, &c.rate_limit_refresh_per_ip, &c.rate_limit_mfa_per_ip, &c.rate_limit_oauth_per_ip};
  for (std::size_t i = 0; i < kLimitCount; ++i) {
    auto p = ratelimit::parse_policy(*texts[i]);
    if (!p) {
      return fail(ConfigError::BadValue, fmt::format("rate_limit.{}: {}", limit_name(static_cast<LimitId>(i)),
                                                     p.error().message()));
    }
    r.policies[i] = *p;
  }
  if (c.rate_limit_redis_failure == "closed") {
    r.on_failure = FailureMode::Closed;
  } else if (c.rate_limit_redis_failure == "local") {
    r.on_failure = FailureMode::Local;
  } else {
    return fail(ConfigError::BadValue, "rate_limit.redis_failure must be \"closed\" or \"local\"");
  }
  r.local.max_keys = c.rate_limit_local_max_keys;
  return r;
}

ratelimit::Time RateLimits::system_now() {
  return std::chrono::time_point_cast<ratelimit::Micros>(std::chrono::system_clock::now());
}

RateLimits::RateLimits(RateLimitConfig config, std::unique_ptr<LimiterBackend> backend, AuditSink& audit, Now now)
    : config_(config), backend_(std::move(backend)), audit_(audit), now_(std::move(now)) {
  if (backend_->blocking() && config_.on_failure == FailureMode::Local) fallback_ = make_local_backend(config_.local);
}

Result<std::unique_ptr<RateLimits>> RateLimits::create(const Config& c, AuditSink& audit) {
  auto rc = rate_limit_config(c);
  if (!rc) return fail(rc.error());
  std::unique_ptr<LimiterBackend> backend;
  if (c.rate_limit_store_url.empty()) {
    backend = make_local_backend(rc->local);
  } else {
    auto redis = open_redis_backend(c.rate_limit_store_url, std::max<std::size_t>(2, c.store_pool_size));
    if (!redis) return fail(redis.error());
    backend = std::move(*redis);
  }
  return std::make_unique<RateLimits>(*rc, std::move(backend), audit);
}

std::string RateLimits::key_of(LimitId id, std::string_view subject) const {
  std::string key(limit_name(id));
  key += ':';
  if (per_account(id)) {
    // The account's normalised email, hashed: Redis never holds addresses, and
    // every spelling of one account ("Ada@X", " ada@x") is one key.
    auto email = account::parse_email(subject);
    const std::string_view id_text = email ? std::string_view(email->normalized) : subject;
    key += base64url_encode(sha256(id_text).substr(0, 16));
  } else if (subject.find(':') == std::string_view::npos) {
    key += subject;  // IPv4: the transport's canonical text already
  } else {
    key += net::limit_key(subject);  // IPv6 (and IPv4-mapped): by /64
  }
  return key;
}

Result<std::optional<Verdict>> RateLimits::acquire(LimitId id, std::string_view subject, const MetaFn& meta) {
  const auto& policy = config_.policies[static_cast<std::size_t>(id)];
  if (!policy) return std::optional<Verdict>{};
  const std::string key = key_of(id, subject);
  const ratelimit::Time now = now_();
  Verdict v;
  v.limit = id;
  v.policy = *policy;
  auto step = backend_->acquire(key, *policy, now);
  if (!step) {
    warn_failure(step.error());
    if (!fallback_) return fail(RateLimitError::Unavailable);
    step = fallback_->acquire(key, *policy, now);
    if (!step) return fail(RateLimitError::Unavailable);
    v.local_fallback = true;
  }
  v.decision = step->decision;
  if (!v.decision.allowed) audit_trip(id, subject, key, *step, meta);
  return std::optional<Verdict>{v};
}

Status RateLimits::refund(LimitId id, std::string_view subject) {
  const auto& policy = config_.policies[static_cast<std::size_t>(id)];
  if (!policy) return {};
  const std::string key = key_of(id, subject);
  const ratelimit::Time now = now_();
  auto ok = backend_->refund(key, *policy, now);
  if (!ok && fallback_) return fallback_->refund(key, *policy, now);
  return ok;
}

void RateLimits::audit_trip(LimitId id, std::string_view subject, const std::string& key, const ratelimit::Step& step,
                            const MetaFn& meta) {
  // A refusal leaves the TAT as it is, so every refusal until the next
  // allowed attempt sees the same TAT: audit the first of them only.
  const ratelimit::Time tat = step.state.value_or(ratelimit::Time{});
  {
    std::lock_guard lock(audit_mu_);
    if (auto it = tripped_.find(key); it != tripped_.end() && it->second == tat) return;
    if (tripped_.size() >= kMaxTrippedKeys) tripped_.clear();  // at worst, a trip is audited twice
    tripped_.insert_or_assign(key, tat);
  }
  std::string what;
  if (per_account(id)) {
    auto email = account::parse_email(subject);
    what = email ? "email:" + email->normalized : "email:(invalid)";
  } else {
    what = "ip:" + net::limit_key(subject);
  }
  audit_.record(AuditEvent{"rate_limit.tripped", std::string(limit_name(id)), "anonymous", std::move(what),
                           Seconds{std::chrono::duration_cast<std::chrono::seconds>(now_().time_since_epoch())}, meta()});
}

void RateLimits::warn_failure(const Error& e) {
  const std::int64_t now = now_().time_since_epoch().count();
  std::int64_t last = last_warning_us_.load();
  if (now - last < kWarnEveryUs || !last_warning_us_.compare_exchange_strong(last, now)) return;
  spdlog::warn("rate limit: the {} store failed ({}); {}", backend_->name(), e.message(),
               fallback_ ? "using this instance's own limits" : "refusing limited requests (redis_failure = closed)");
}

LimiterHealth RateLimits::health() {
  LimiterHealth h{backend_->name(), "ok", true};
  if (backend_->ping()) return h;
  if (fallback_) {
    h.state = "local_fallback";
  } else {
    h.state = "unreachable";
    h.ready = false;
  }
  return h;
}

void RateLimits::prune() {
  const ratelimit::Time now = now_();
  backend_->prune(now);
  if (fallback_) fallback_->prune(now);
}

std::size_t RateLimits::local_keys() const { return backend_->size() + (fallback_ ? fallback_->size() : 0); }

}  // namespace gh::service
