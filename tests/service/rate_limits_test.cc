#include "service/ratelimit/rate_limits.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "service/config.h"
#include "store/store.h"

namespace gh::service {
namespace {

using ratelimit::Micros;
using ratelimit::Time;
using std::chrono::minutes;
using std::chrono::seconds;

const Time kT0{seconds{1'900'000'000}};

struct CapturingAudit final : AuditSink {
  void record(const AuditEvent& e) override {
    std::lock_guard lock(mu);
    events.push_back(e);
  }
  std::vector<AuditEvent> taken() {
    std::lock_guard lock(mu);
    return std::exchange(events, {});
  }
  std::mutex mu;
  std::vector<AuditEvent> events;
};

// A shared-store stand-in: blocking, and down when told to (fault injection at the interface).
class FlakyBackend final : public LimiterBackend {
 public:
  Result<ratelimit::Step> acquire(std::string_view key, const ratelimit::Policy& p, Time now) override {
    if (down) return fail(store::StoreError::Unavailable);
    return inner_->acquire(key, p, now);
  }
  Status refund(std::string_view key, const ratelimit::Policy& p, Time now) override {
    if (down) return fail(store::StoreError::Unavailable);
    return inner_->refund(key, p, now);
  }
  bool blocking() const override { return true; }
  std::string_view name() const override { return "redis"; }
  Status ping() override {
    if (down) return fail(store::StoreError::Unavailable);
    return {};
  }
  void prune(Time) override {}
  std::size_t size() const override { return 0; }
  std::atomic<bool> down{false};

 private:
  std::unique_ptr<LimiterBackend> inner_ = make_local_backend();
};

Config low_limits() {
  Config c;
  c.rate_limit_login_per_ip = "3/1m";
  c.rate_limit_login_per_account = "2/1h";
  c.rate_limit_register_per_ip = "off";
  return c;
}

struct Fixture {
  explicit Fixture(Config c = low_limits(), std::unique_ptr<LimiterBackend> backend = make_local_backend())
      : limits(*rate_limit_config(c), std::move(backend), audit, [this] { return Time{Micros{now.load()}}; }) {}
  std::optional<Verdict> hit(LimitId id, std::string_view subject, std::string_view ip = "192.0.2.1") {
    auto v = limits.acquire(id, subject, RequestMeta{"req-1", std::string(ip), "test-agent"});
    EXPECT_TRUE(v) << v.error().message();
    return v ? *v : std::nullopt;
  }
  void advance(Micros d) { now += d.count(); }
  CapturingAudit audit;
  std::atomic<std::int64_t> now{kT0.time_since_epoch().count()};
  RateLimits limits;
};

TEST(RateLimitConfig, Defaults) {
  const Config c;
  auto rc = rate_limit_config(c);
  ASSERT_TRUE(rc);
  EXPECT_TRUE(c.rate_limit_enabled);
  EXPECT_EQ(rc->on_failure, FailureMode::Closed);
  auto text = [&](LimitId id) { return ratelimit::format_policy(*rc->policies[static_cast<std::size_t>(id)]); };
  EXPECT_EQ(text(LimitId::LoginPerIp), "10/15m");  // the user's reference
  EXPECT_EQ(text(LimitId::LoginPerAccount), "20/1h");
  EXPECT_EQ(text(LimitId::RegisterPerIp), "10/1h");
  EXPECT_EQ(text(LimitId::PasswordChangePerIp), "10/15m");
  EXPECT_EQ(text(LimitId::RefreshPerIp), "120/1m");
  EXPECT_EQ(limit_name(LimitId::PasswordChangePerIp), "password_change_per_ip");
  EXPECT_TRUE(per_account(LimitId::LoginPerAccount));
  EXPECT_FALSE(per_account(LimitId::LoginPerIp));
}

TEST(RateLimitConfig, FinalizeRefusesBadValues) {
  struct Row {
    std::string key;
    std::string value;
  };
  const std::vector<Row> rows = {{"rate_limit.login_per_ip", "10 per 15 minutes"},
                                 {"rate_limit.refresh_per_ip", "0/1m"},
                                 {"rate_limit.redis_failure", "open"},
                                 {"rate_limit.store_url", "memcached://127.0.0.1:11211"},
                                 {"server.trusted_proxies", "127.0.0.1/33"},
                                 {"server.client_ip_header", "x-real-ip"}};
  for (const auto& row : rows) {
    auto c = load_config("", {{row.key, row.value}}, nullptr);
    ASSERT_TRUE(c) << row.key;
    auto ok = finalize_config(*c);
    ASSERT_FALSE(ok) << row.key << " = " << row.value;
    EXPECT_EQ(ok.error().code, make_error_code(ConfigError::BadValue));
    EXPECT_NE(ok.error().message().find(row.key.substr(row.key.find('.') + 1)), std::string::npos)
        << ok.error().message();
  }
}

TEST(RateLimitConfig, EnvironmentAndProxies) {
  std::string e1 = "GATEHOUSE_RATE_LIMIT_ENABLED=false";
  std::string e2 = "GATEHOUSE_SERVER_TRUSTED_PROXIES=127.0.0.1/32, ::1";
  std::string e3 = "GATEHOUSE_RATE_LIMIT_LOGIN_PER_IP=5/1m,burst=2";
  std::string e4 = "GATEHOUSE_KEK=not-written-to-disk";
  char* env[] = {e1.data(), e2.data(), e3.data(), e4.data(), nullptr};
  auto c = load_config("", {}, env);
  ASSERT_TRUE(c);
  ASSERT_TRUE(finalize_config(*c));
  EXPECT_FALSE(c->rate_limit_enabled);
  ASSERT_EQ(c->trusted_proxy_list.size(), 2U);
  EXPECT_EQ(net::to_string(c->trusted_proxy_list[1]), "::1/128");
  EXPECT_EQ(c->rate_limit_login_per_ip, "5/1m,burst=2");
  EXPECT_NE(describe_config(*c).find("rate_limit.login_per_ip = \"5/1m,burst=2\""), std::string::npos);
}

TEST(RateLimits, PerIpLimitAndHeadersData) {
  Fixture f;
  for (std::uint32_t i = 0; i < 3; ++i) {
    auto v = f.hit(LimitId::LoginPerIp, "192.0.2.1");
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->decision.allowed);
    EXPECT_EQ(v->decision.remaining, 2 - i);
    EXPECT_EQ(v->decision.limit, 3U);
    EXPECT_FALSE(v->local_fallback);
  }
  auto refused = f.hit(LimitId::LoginPerIp, "192.0.2.1");
  ASSERT_TRUE(refused);
  EXPECT_FALSE(refused->decision.allowed);
  EXPECT_EQ(refused->decision.retry_after, seconds{20});
  // Another address has its own budget.
  EXPECT_TRUE(f.hit(LimitId::LoginPerIp, "192.0.2.2")->decision.allowed);
  f.advance(seconds{20});
  EXPECT_TRUE(f.hit(LimitId::LoginPerIp, "192.0.2.1")->decision.allowed);
}

TEST(RateLimits, IPv6ClientsShareTheirSlash64) {
  Fixture f;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.hit(LimitId::LoginPerIp, fmt::format("2001:db8:1:2::{}", i + 1))->decision.allowed);
  EXPECT_FALSE(f.hit(LimitId::LoginPerIp, "2001:db8:1:2:ffff::9")->decision.allowed);
  EXPECT_TRUE(f.hit(LimitId::LoginPerIp, "2001:db8:1:3::1")->decision.allowed);
}

TEST(RateLimits, AccountKeyIsTheNormalisedEmail) {
  Fixture f;
  ASSERT_TRUE(f.hit(LimitId::LoginPerAccount, "Ada@Example.TEST")->decision.allowed);
  ASSERT_TRUE(f.hit(LimitId::LoginPerAccount, " ada@example.test ", "198.51.100.1")->decision.allowed);
  // Same account from a third address: the per-account budget is spent.
  EXPECT_FALSE(f.hit(LimitId::LoginPerAccount, "ADA@example.test", "203.0.113.1")->decision.allowed);
  EXPECT_TRUE(f.hit(LimitId::LoginPerAccount, "bob@example.test")->decision.allowed);
}

TEST(RateLimits, RefundMakesOnlyFailuresCount) {
  Fixture f;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(f.hit(LimitId::LoginPerAccount, "ada@example.test")->decision.allowed);
    ASSERT_TRUE(f.limits.refund(LimitId::LoginPerAccount, "Ada@example.test"));  // the login worked
  }
  ASSERT_TRUE(f.hit(LimitId::LoginPerAccount, "ada@example.test")->decision.allowed);  // a failure
  ASSERT_TRUE(f.hit(LimitId::LoginPerAccount, "ada@example.test")->decision.allowed);  // a failure
  EXPECT_FALSE(f.hit(LimitId::LoginPerAccount, "ada@example.test")->decision.allowed);
}

TEST(RateLimits, OffMeansNoVerdict) {
  Fixture f;
  EXPECT_FALSE(f.limits.active(LimitId::RegisterPerIp));
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(f.hit(LimitId::RegisterPerIp, "192.0.2.1").has_value());
  EXPECT_TRUE(f.limits.refund(LimitId::RegisterPerIp, "192.0.2.1"));
}

TEST(RateLimits, EachTripIsAuditedOnce) {
  Fixture f;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.hit(LimitId::LoginPerIp, "192.0.2.1")->decision.allowed);
  EXPECT_TRUE(f.audit.taken().empty());
  for (int i = 0; i < 50; ++i) ASSERT_FALSE(f.hit(LimitId::LoginPerIp, "192.0.2.1")->decision.allowed);
  auto events = f.audit.taken();
  ASSERT_EQ(events.size(), 1U);  // a flood of refusals is one trip
  EXPECT_EQ(events[0].action, "rate_limit.tripped");
  EXPECT_EQ(events[0].result, "login_per_ip");
  EXPECT_EQ(events[0].actor, "anonymous");
  EXPECT_EQ(events[0].subject, "ip:192.0.2.1");
  EXPECT_EQ(events[0].meta.ip, "192.0.2.1");
  EXPECT_EQ(events[0].meta.request_id, "req-1");
  EXPECT_EQ(events[0].time, Seconds{seconds{1'900'000'000}});
  // Let one through, trip again: a new trip, a new event.
  f.advance(seconds{20});
  ASSERT_TRUE(f.hit(LimitId::LoginPerIp, "192.0.2.1")->decision.allowed);
  ASSERT_FALSE(f.hit(LimitId::LoginPerIp, "192.0.2.1")->decision.allowed);
  EXPECT_EQ(f.audit.taken().size(), 1U);
  // Per-account trips name the normalised email, never anything else from the request.
  for (int i = 0; i < 3; ++i) (void)f.hit(LimitId::LoginPerAccount, "Ada@Example.test");
  events = f.audit.taken();
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].result, "login_per_account");
  EXPECT_EQ(events[0].subject, "email:ada@example.test");
}

TEST(RateLimits, SharedStoreDownFailsClosedByDefault) {
  auto backend = std::make_unique<FlakyBackend>();
  FlakyBackend* flaky = backend.get();
  Fixture f(low_limits(), std::move(backend));
  EXPECT_TRUE(f.limits.blocking());
  ASSERT_TRUE(f.hit(LimitId::LoginPerIp, "192.0.2.1")->decision.allowed);
  EXPECT_EQ(f.limits.health().state, "ok");
  flaky->down = true;
  auto r = f.limits.acquire(LimitId::LoginPerIp, "192.0.2.1", RequestMeta{});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(RateLimitError::Unavailable));
  const auto h = f.limits.health();
  EXPECT_EQ(h.backend, "redis");
  EXPECT_EQ(h.state, "unreachable");
  EXPECT_FALSE(h.ready);
  flaky->down = false;
  EXPECT_TRUE(f.limits.health().ready);
  EXPECT_TRUE(f.hit(LimitId::LoginPerIp, "192.0.2.1")->decision.allowed);
}

TEST(RateLimits, SharedStoreDownFallsBackToLocalWhenConfigured) {
  Config c = low_limits();
  c.rate_limit_redis_failure = "local";
  auto backend = std::make_unique<FlakyBackend>();
  FlakyBackend* flaky = backend.get();
  Fixture f(c, std::move(backend));
  flaky->down = true;
  for (int i = 0; i < 3; ++i) {
    auto v = f.hit(LimitId::LoginPerIp, "192.0.2.1");
    ASSERT_TRUE(v);
    EXPECT_TRUE(v->decision.allowed);
    EXPECT_TRUE(v->local_fallback);
  }
  EXPECT_FALSE(f.hit(LimitId::LoginPerIp, "192.0.2.1")->decision.allowed);  // still limited, per instance
  const auto h = f.limits.health();
  EXPECT_EQ(h.state, "local_fallback");
  EXPECT_TRUE(h.ready);
  EXPECT_EQ(f.limits.local_keys(), 1U);
  f.advance(minutes{5});
  f.limits.prune();
  EXPECT_EQ(f.limits.local_keys(), 0U);
}

TEST(RateLimits, CreateFromConfig) {
  Config c;
  CapturingAudit audit;
  auto local = RateLimits::create(c, audit);
  ASSERT_TRUE(local);
  EXPECT_EQ((*local)->backend_name(), "local");
  EXPECT_FALSE((*local)->blocking());
  c.rate_limit_store_url = "redis://127.0.0.1:1";  // nothing listens on port 1
  auto redis = RateLimits::create(c, audit);
  ASSERT_FALSE(redis);
  EXPECT_EQ(redis.error().code, make_error_code(store::StoreError::Unavailable));
}

}  // namespace
}  // namespace gh::service
