// Limiter backends (service/ratelimit/limiter_backend.h): one suite, run
// against the in-process backend and against Redis (the redis_start CTest
// fixture; a database of the test's own). Every backend must give exactly the
// answers of core/ratelimit, count atomically under concurrency, keep keys
// apart, and give attempts back. Time is passed in (no sleeps); the Redis
// keys' own TTLs are relative, so a fake "now" is fine.
// Then what only Redis does: key TTLs, the NOSCRIPT fallback, and a server
// that goes away and comes back (a private redis-server).
#include "service/ratelimit/limiter_backend.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "conformance/store_harness.h"
#include "core/ratelimit/gcra.h"
#include "store/redis/redis_client.h"
#include "store/store.h"

namespace gh::service {
namespace {

using ratelimit::Micros;
using ratelimit::Policy;
using ratelimit::Time;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const Time kT0{seconds{1'900'000'000}};

Policy policy(std::string_view text) { return **ratelimit::parse_policy(text); }

// A raw hiredis connection for setup and inspection.
class Raw {
 public:
  explicit Raw(const std::string& url) {
    auto t = store::redis::parse_url(url);
    if (!t) return;
    ctx_ = redisConnectWithTimeout(t->host.c_str(), t->port, timeval{5, 0});
    if (ok() && t->db != 0) (void)command({"SELECT", std::to_string(t->db)});
  }
  Raw(const Raw&) = delete;
  Raw& operator=(const Raw&) = delete;
  ~Raw() {
    if (ctx_ != nullptr) redisFree(ctx_);
  }
  [[nodiscard]] bool ok() const { return ctx_ != nullptr && ctx_->err == 0; }
  store::redis::Reply command(std::initializer_list<std::string> args) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    return store::redis::Reply(static_cast<redisReply*>(
        redisCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(), lens.data())));
  }

 private:
  redisContext* ctx_ = nullptr;
};

class Harness {
 public:
  virtual ~Harness() = default;
  virtual void set_up() = 0;
  virtual LimiterBackend& backend() = 0;
};

class LocalHarness final : public Harness {
 public:
  void set_up() override { backend_ = make_local_backend(); }
  LimiterBackend& backend() override { return *backend_; }

 private:
  std::unique_ptr<LimiterBackend> backend_;
};

// A Redis database of the test's own, claimed like the session store suite's
// (the key gh-test:db:N in db 0, SET NX), flushed before and after.
class RedisHarness final : public Harness {
 public:
  void set_up() override {
    const auto server = store::testing::redis_server_url();
    ASSERT_TRUE(server.has_value()) << "no Redis server: set GH_TEST_REDIS_URL or run the redis_start CTest fixture";
    admin_ = std::make_unique<Raw>(*server);
    ASSERT_TRUE(admin_->ok()) << "cannot connect to " << *server;
    std::random_device rd;
    const int start = static_cast<int>(rd() % kDatabases);
    for (int i = 0; i < kDatabases - 1 && db_ == 0; ++i) {
      const int n = 1 + (start + i) % (kDatabases - 1);
      auto r = admin_->command({"SET", lock_key(n), std::to_string(getpid()), "NX", "EX", "900"});
      ASSERT_TRUE(r);
      if (r->type == REDIS_REPLY_STATUS) db_ = n;
    }
    ASSERT_NE(db_, 0) << "no free Redis test database";
    url_ = fmt::format("{}/{}", *server, db_);
    data_ = std::make_unique<Raw>(url_);
    ASSERT_TRUE(data_->command({"FLUSHDB"}));
    auto opened = open_redis_backend(url_, 4);
    ASSERT_TRUE(opened) << opened.error().message();
    backend_ = std::move(*opened);
  }
  ~RedisHarness() override {
    backend_.reset();
    if (data_ && data_->ok()) (void)data_->command({"FLUSHDB"});
    if (admin_ && admin_->ok() && db_ != 0) (void)admin_->command({"DEL", lock_key(db_)});
  }
  LimiterBackend& backend() override { return *backend_; }
  Raw& raw() { return *data_; }
  const std::string& url() const { return url_; }

 private:
  static constexpr int kDatabases = 256;  // redis-test-server.sh --databases
  static std::string lock_key(int db) { return fmt::format("gh-test:db:{}", db); }
  std::unique_ptr<Raw> admin_;
  std::unique_ptr<Raw> data_;
  int db_ = 0;
  std::string url_;
  std::unique_ptr<LimiterBackend> backend_;
};

struct Backend {
  std::string name;
  std::function<std::unique_ptr<Harness>()> make;
};
void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

class LimiterConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    harness_->set_up();
  }
  LimiterBackend& b() { return harness_->backend(); }
  ratelimit::Step hit(std::string_view key, const Policy& p, Time now) {
    auto s = b().acquire(key, p, now);
    EXPECT_TRUE(s) << s.error().message();
    return s ? *s : ratelimit::Step{};
  }
  std::unique_ptr<Harness> harness_;
};

TEST_P(LimiterConformance, BurstThenRefusedWithHeaders) {
  const Policy p = policy("10/15m");
  for (std::uint32_t i = 0; i < 10; ++i) {
    const auto s = hit("k", p, kT0);
    ASSERT_TRUE(s.decision.allowed) << i;
    EXPECT_EQ(s.decision.remaining, 9 - i);
    EXPECT_EQ(s.decision.reset_after, seconds{90} * (i + 1));
  }
  const auto refused = hit("k", p, kT0);
  EXPECT_FALSE(refused.decision.allowed);
  EXPECT_EQ(refused.decision.retry_after, seconds{90});
  EXPECT_EQ(refused.decision.reset_after, minutes{15});
}

TEST_P(LimiterConformance, ExactBoundaryToTheMicrosecond) {
  const Policy p = policy("3/1s");  // T = 333,334 µs (rounded up)
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(hit("k", p, kT0).decision.allowed);
  const auto early = hit("k", p, kT0 + Micros{333'333});
  EXPECT_FALSE(early.decision.allowed);
  EXPECT_EQ(early.decision.retry_after, Micros{1});
  EXPECT_TRUE(hit("k", p, kT0 + Micros{333'334}).decision.allowed);
  EXPECT_FALSE(hit("k", p, kT0 + Micros{333'334}).decision.allowed);
}

TEST_P(LimiterConformance, KeysAreIndependent) {
  const Policy p = policy("1/1h");
  EXPECT_TRUE(hit("login_per_ip:192.0.2.1", p, kT0).decision.allowed);
  EXPECT_FALSE(hit("login_per_ip:192.0.2.1", p, kT0).decision.allowed);
  EXPECT_TRUE(hit("login_per_ip:192.0.2.2", p, kT0).decision.allowed);
  EXPECT_TRUE(hit("register_per_ip:192.0.2.1", p, kT0).decision.allowed);
  // Binary-safe keys.
  EXPECT_TRUE(hit(std::string_view("a\0b", 3), p, kT0).decision.allowed);
  EXPECT_TRUE(hit(std::string_view("a\0c", 3), p, kT0).decision.allowed);
}

TEST_P(LimiterConformance, RefusalsDoNotMoveTheSlot) {
  const Policy p = policy("2/1m");
  ASSERT_TRUE(hit("k", p, kT0).decision.allowed);
  ASSERT_TRUE(hit("k", p, kT0).decision.allowed);
  for (int i = 0; i < 20; ++i) ASSERT_FALSE(hit("k", p, kT0 + seconds{i}).decision.allowed);
  EXPECT_TRUE(hit("k", p, kT0 + seconds{30}).decision.allowed);
}

TEST_P(LimiterConformance, RefundGivesOneBack) {
  const Policy p = policy("3/1h");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(hit("k", p, kT0).decision.allowed);
  ASSERT_TRUE(b().refund("k", p, kT0));
  EXPECT_TRUE(hit("k", p, kT0).decision.allowed);
  EXPECT_FALSE(hit("k", p, kT0).decision.allowed);
  // Refunds never go below rest: many refunds, then still only the burst.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(b().refund("k", p, kT0));
  ASSERT_TRUE(b().refund("never-seen", p, kT0));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(hit("k", p, kT0).decision.allowed);
  EXPECT_FALSE(hit("k", p, kT0).decision.allowed);
}

TEST_P(LimiterConformance, BackAtRestAfterResetAfter) {
  const Policy p = policy("5/10s");
  ratelimit::Step last;
  for (int i = 0; i < 5; ++i) last = hit("k", p, kT0);
  const auto s = hit("k", p, kT0 + last.decision.reset_after);
  EXPECT_TRUE(s.decision.allowed);
  EXPECT_EQ(s.decision.remaining, 4U);
}

// Random operations at random times on a few keys and policies, compared step
// by step with core/ratelimit applied to a model of the state.
TEST_P(LimiterConformance, MatchesCoreOnRandomSequences) {
  const std::vector<Policy> policies = {policy("10/15m"), policy("3/1s"), policy("7/90s,burst=2"),
                                        policy("1/1s,burst=5"), policy("1000/1m")};
  std::mt19937_64 rng(20260521);
  std::unordered_map<std::string, ratelimit::State> model;
  Time now = kT0;
  for (int i = 0; i < 2000; ++i) {
    now += Micros{static_cast<Micros::rep>(rng() % 400'000)};
    const std::size_t pi = rng() % policies.size();
    const Policy& p = policies[pi];
    const std::string key = fmt::format("p{}:k{}", pi, rng() % 3);
    if (rng() % 5 == 0) {
      ASSERT_TRUE(b().refund(key, p, now));
      model[key] = ratelimit::refund(now, model[key], p);
      continue;
    }
    const auto want = ratelimit::acquire(now, model[key], p);
    model[key] = want.state;
    const auto got = hit(key, p, now);
    ASSERT_EQ(got.decision.allowed, want.decision.allowed) << "step " << i;
    ASSERT_EQ(got.decision.remaining, want.decision.remaining) << "step " << i;
    ASSERT_EQ(got.decision.reset_after, want.decision.reset_after) << "step " << i;
    ASSERT_EQ(got.decision.retry_after, want.decision.retry_after) << "step " << i;
  }
}

// Atomic: 8 threads racing on one key at one instant get exactly the burst.
TEST_P(LimiterConformance, ConcurrentAttemptsNeverExceedTheBurst) {
  const Policy p = policy("25/1h");
  std::atomic<int> allowed{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto s = b().acquire("race", p, kT0);
        if (!s) {
          ++errors;
        } else if (s->decision.allowed) {
          ++allowed;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(allowed.load(), 25);
}

TEST_P(LimiterConformance, PingSucceeds) { EXPECT_TRUE(b().ping()); }

INSTANTIATE_TEST_SUITE_P(Backends, LimiterConformance,
                         ::testing::Values(Backend{"local", [] { return std::make_unique<LocalHarness>(); }},
                                           Backend{"redis", [] { return std::make_unique<RedisHarness>(); }}));

// ---- Local only -------------------------------------------------------------------

TEST(LocalBackend, MemoryIsBoundedAndPruned) {
  auto b = make_local_backend({.shards = 4, .max_keys = 1000});
  const Policy p = policy("1/1m");
  for (int i = 0; i < 50'000; ++i) ASSERT_TRUE(b->acquire(fmt::format("k{}", i), p, kT0 + milliseconds{i}));
  EXPECT_LE(b->size(), 1000U);
  // Keys back at rest are dropped by prune.
  b->prune(kT0 + minutes{10});
  EXPECT_EQ(b->size(), 0U);
}

TEST(LocalBackend, EvictsTheKeysNearestToRestFirst) {
  auto b = make_local_backend({.shards = 1, .max_keys = 100});
  const Policy lax = policy("1/1s");
  const Policy strict = policy("1/1d");
  ASSERT_FALSE(!b->acquire("victim", strict, kT0));  // a long-lived refusal state
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(b->acquire(fmt::format("spray{}", i), lax, kT0));
  // The spray did not evict the key with the most state left.
  auto s = b->acquire("victim", strict, kT0);
  ASSERT_TRUE(s);
  EXPECT_FALSE(s->decision.allowed);
}

TEST(LocalBackend, NeverBlocks) {
  auto b = make_local_backend();
  EXPECT_FALSE(b->blocking());
  EXPECT_EQ(b->name(), "local");
}

// ---- Redis only -------------------------------------------------------------------

TEST(RedisBackend, KeysCarryTheirTimeToRest) {
  RedisHarness h;
  h.set_up();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const Policy p = policy("10/15m");
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(h.backend().acquire("login_per_ip:192.0.2.1", p, kT0));
  auto ttl = h.raw().command({"PTTL", "gh:rl:login_per_ip:192.0.2.1"});
  ASSERT_TRUE(ttl);
  ASSERT_EQ(ttl->type, REDIS_REPLY_INTEGER);
  EXPECT_GT(ttl->integer, 350'000);  // 4 x 90 s, less the test's own time
  EXPECT_LE(ttl->integer, 360'000);
  auto value = h.raw().command({"GET", "gh:rl:login_per_ip:192.0.2.1"});
  ASSERT_TRUE(value);
  ASSERT_EQ(value->type, REDIS_REPLY_STRING);
  // The TAT in microseconds, as an integer (never a %.14g float).
  EXPECT_EQ(std::string(value->str, value->len), std::to_string((kT0 + seconds{360}).time_since_epoch().count()));
  // A refund back to rest deletes the key.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(h.backend().refund("login_per_ip:192.0.2.1", p, kT0));
  auto exists = h.raw().command({"EXISTS", "gh:rl:login_per_ip:192.0.2.1"});
  ASSERT_TRUE(exists);
  EXPECT_EQ(exists->integer, 0);
}

TEST(RedisBackend, ReloadsTheScriptAfterScriptFlush) {
  RedisHarness h;
  h.set_up();
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  const Policy p = policy("2/1h");
  ASSERT_TRUE(h.backend().acquire("k", p, kT0));
  ASSERT_TRUE(h.raw().command({"SCRIPT", "FLUSH"}));  // what a Redis restart does to the cache
  for (int i = 0; i < 4; ++i) {
    auto s = h.backend().acquire("k", p, kT0);
    ASSERT_TRUE(s) << s.error().message();
    EXPECT_EQ(s->decision.allowed, i == 0);
  }
}

TEST(RedisBackend, BadUrl) {
  auto r = open_redis_backend("redis://nohostport", 1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(store::StoreError::BadUrl));
}

// A private server (scripts/redis-test-server.sh), since this one is stopped.
class PrivateRedis {
 public:
  PrivateRedis() {
    std::string templ = (std::filesystem::temp_directory_path() / "gh-rl-redis-XXXXXX").string();
    if (mkdtemp(templ.data()) != nullptr) dir_ = templ;
  }
  PrivateRedis(const PrivateRedis&) = delete;
  PrivateRedis& operator=(const PrivateRedis&) = delete;
  ~PrivateRedis() {
    (void)stop();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  [[nodiscard]] bool start(int port = 0) {
    const std::string cmd = fmt::format("{} start {} {} > {}/script.log 2>&1", GH_REDIS_SCRIPT, dir_.string(),
                                        port == 0 ? "" : std::to_string(port), dir_.string());
    if (dir_.empty() || std::system(cmd.c_str()) != 0) return false;
    std::ifstream in(dir_ / "url");
    return static_cast<bool>(std::getline(in, url_));
  }
  [[nodiscard]] bool stop() {
    if (dir_.empty()) return true;
    return std::system(fmt::format("{} stop {} >> {}/script.log 2>&1", GH_REDIS_SCRIPT, dir_.string(), dir_.string())
                           .c_str()) == 0;
  }
  [[nodiscard]] const std::string& url() const { return url_; }
  [[nodiscard]] int port() const { return std::stoi(url_.substr(url_.rfind(':') + 1)); }

 private:
  std::filesystem::path dir_;
  std::string url_;
};

TEST(RedisBackend, UnavailableWhileDownThenBack) {
  PrivateRedis server;
  ASSERT_TRUE(server.start());
  auto opened = open_redis_backend(server.url(), 2);
  ASSERT_TRUE(opened) << opened.error().message();
  LimiterBackend& b = **opened;
  const Policy p = policy("1/1h");
  ASSERT_TRUE(b.acquire("k", p, kT0));
  const int port = server.port();
  ASSERT_TRUE(server.stop());
  for (int i = 0; i < 3; ++i) {
    auto s = b.acquire("k", p, kT0);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().code, make_error_code(store::StoreError::Unavailable));
    auto pinged = b.ping();
    ASSERT_FALSE(pinged);
    EXPECT_EQ(pinged.error().code, make_error_code(store::StoreError::Unavailable));
  }
  // Back (empty: no persistence), the script is loaded again on first use.
  ASSERT_TRUE(server.start(port));
  EXPECT_TRUE(b.ping());
  auto s = b.acquire("k", p, kT0);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_TRUE(s->decision.allowed);
}

}  // namespace
}  // namespace gh::service
