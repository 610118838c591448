#include "core/ratelimit/gcra.h"

#include <gtest/gtest.h>

#include <vector>

namespace gh::ratelimit {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

const Time kT0{seconds{1'900'000'000}};

Policy policy(std::string_view text) {
  auto p = parse_policy(text);
  EXPECT_TRUE(p && *p) << text;
  return p && *p ? **p : Policy{};
}

// A key and a controllable clock: time moves only when told to.
struct Key {
  Policy p;
  Time now = kT0;
  State state;
  Step hit() {
    Step s = acquire(now, state, p);
    state = s.state;
    return s;
  }
};

// ---- Policies -------------------------------------------------------------

TEST(ParsePolicy, Forms) {
  struct Row {
    std::string_view text;
    std::uint32_t limit;
    Micros period;
    std::uint32_t burst;
  };
  const std::vector<Row> rows = {
      {"10/15m", 10, minutes{15}, 10},  {"60/1m", 60, minutes{1}, 60},    {"60/m", 60, minutes{1}, 60},
      {"5/1h", 5, hours{1}, 5},         {"1000/1d", 1000, hours{24}, 1000}, {"30/30s", 30, seconds{30}, 30},
      {"10/15m,burst=3", 10, minutes{15}, 3}, {"1/1s,burst=100", 1, seconds{1}, 100}, {"1000000/1s", 1000000, seconds{1}, 1000000},
  };
  for (const auto& r : rows) {
    const Policy p = policy(r.text);
    EXPECT_EQ(p.limit, r.limit) << r.text;
    EXPECT_EQ(p.period, r.period) << r.text;
    EXPECT_EQ(p.burst, r.burst) << r.text;
  }
}

TEST(ParsePolicy, OffDisables) {
  auto p = parse_policy("off");
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->has_value());
}

TEST(ParsePolicy, Malformed) {
  for (std::string_view bad : {"", "10", "10/", "/15m", "10/15", "10/15x", "ten/15m", "10/15m,", "10/15m,burst=",
                               "10/15m,burst=x", "10/15m,b=3", " 10/15m", "10/15m ", "-1/1m", "10/-1m", "10/1.5m",
                               "10/15m,burst=3,burst=4", "10//15m"}) {
    auto p = parse_policy(bad);
    ASSERT_FALSE(p) << "'" << bad << "'";
    EXPECT_EQ(p.error().code, make_error_code(PolicyError::Malformed)) << "'" << bad << "'";
  }
}

TEST(ParsePolicy, OutOfRange) {
  for (std::string_view bad : {"0/1m", "10/0m", "10/31d", "1000000001/1d", "2000000/1s", "10/1m,burst=0",
                               "1/30d,burst=1000"}) {
    auto p = parse_policy(bad);
    ASSERT_FALSE(p) << bad;
    EXPECT_EQ(p.error().code, make_error_code(PolicyError::OutOfRange)) << bad;
  }
}

TEST(ParsePolicy, FormatRoundTrips) {
  for (std::string_view text : {"10/15m", "60/1m", "5/1h", "1000/1d", "30/30s", "10/15m,burst=3", "7/90s"}) {
    EXPECT_EQ(format_policy(policy(text)), text);
  }
  EXPECT_EQ(format_policy(policy("60/m")), "60/1m");
  EXPECT_EQ(format_policy(policy("10/60m")), "10/1h");
}

TEST(Policy, IntervalAndTolerance) {
  const Policy p = policy("10/15m");
  EXPECT_EQ(p.interval(), seconds{90});
  EXPECT_EQ(p.tolerance(), seconds{90 * 9});
  // T is rounded up to a whole microsecond: never more generous than asked.
  const Policy third = policy("3/1s");
  EXPECT_EQ(third.interval(), Micros{333'334});
  EXPECT_EQ(policy("10/15m,burst=1").tolerance(), Micros{0});
}

// ---- Decisions --------------------------------------------------------------

TEST(Acquire, BurstThenRefused) {
  Key k{policy("10/15m")};
  for (std::uint32_t i = 0; i < 10; ++i) {
    const Step s = k.hit();
    EXPECT_TRUE(s.decision.allowed) << i;
    EXPECT_EQ(s.decision.limit, 10U);
    EXPECT_EQ(s.decision.remaining, 9 - i) << i;
    EXPECT_EQ(s.decision.retry_after, Micros{0});
    EXPECT_EQ(s.decision.reset_after, seconds{90} * (i + 1)) << i;
  }
  const Step refused = k.hit();
  EXPECT_FALSE(refused.decision.allowed);
  EXPECT_EQ(refused.decision.remaining, 0U);
  EXPECT_EQ(refused.decision.retry_after, seconds{90});
  EXPECT_EQ(refused.decision.reset_after, minutes{15});
}

TEST(Acquire, ExactBoundary) {
  Key k{policy("10/15m")};
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(k.hit().decision.allowed);
  // One microsecond before the next slot: refused, with exactly that long to wait.
  k.now += seconds{90} - Micros{1};
  Step s = k.hit();
  EXPECT_FALSE(s.decision.allowed);
  EXPECT_EQ(s.decision.retry_after, Micros{1});
  // At the slot: allowed, and it was the last one.
  k.now += Micros{1};
  s = k.hit();
  EXPECT_TRUE(s.decision.allowed);
  EXPECT_EQ(s.decision.remaining, 0U);
  EXPECT_FALSE(k.hit().decision.allowed);
}

TEST(Acquire, SustainedRateIsOnePerInterval) {
  Key k{policy("10/15m")};
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(k.hit().decision.allowed);
  // A client hammering every second gets exactly one request per 90 s, however long it keeps going.
  int allowed = 0;
  for (int s = 1; s <= 900; ++s) {
    k.now += seconds{1};
    allowed += k.hit().decision.allowed ? 1 : 0;
  }
  EXPECT_EQ(allowed, 10);
}

TEST(Acquire, WindowNeverExceedsBurstPlusLimitMinusOne) {
  const Policy p = policy("10/15m");
  Key k{p};
  std::vector<Time> passed;
  for (int s = 0; s < 3600; s += 5) {
    k.now = kT0 + seconds{s};
    if (k.hit().decision.allowed) passed.push_back(k.now);
  }
  for (std::size_t i = 0; i < passed.size(); ++i) {
    std::size_t in_window = 0;
    for (std::size_t j = i; j < passed.size() && passed[j] < passed[i] + p.period; ++j) ++in_window;
    EXPECT_LE(in_window, p.burst + p.limit - 1);
  }
}

TEST(Acquire, BackAtRestAfterReset) {
  Key k{policy("10/15m")};
  Step last;
  for (int i = 0; i < 4; ++i) last = k.hit();
  k.now += last.decision.reset_after;
  const Decision d = peek(k.now, k.state, k.p);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 9U);  // the full burst is back
  // The state a backend may drop: acquire from "no state" is the same.
  EXPECT_EQ(acquire(k.now, k.state, k.p).decision.remaining, acquire(k.now, std::nullopt, k.p).decision.remaining);
}

TEST(Acquire, RefusalDoesNotChangeState) {
  Key k{policy("2/1m")};
  ASSERT_TRUE(k.hit().decision.allowed);
  ASSERT_TRUE(k.hit().decision.allowed);
  const State before = k.state;
  for (int i = 0; i < 100; ++i) {
    const Step s = k.hit();
    EXPECT_FALSE(s.decision.allowed);
    EXPECT_EQ(s.state, before);
  }
  k.now += seconds{30};
  EXPECT_TRUE(k.hit().decision.allowed);  // the retries did not push the slot back
}

TEST(Acquire, SmallerBurst) {
  Key k{policy("10/15m,burst=3")};
  EXPECT_EQ(k.hit().decision.remaining, 2U);
  EXPECT_EQ(k.hit().decision.remaining, 1U);
  EXPECT_EQ(k.hit().decision.remaining, 0U);
  const Step s = k.hit();
  EXPECT_FALSE(s.decision.allowed);
  EXPECT_EQ(s.decision.limit, 3U);
  EXPECT_EQ(s.decision.retry_after, seconds{90});
}

TEST(Acquire, LargerBurstThanRate) {
  Key k{policy("1/1s,burst=5")};
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(k.hit().decision.allowed) << i;
  EXPECT_FALSE(k.hit().decision.allowed);
  k.now += milliseconds{999};
  EXPECT_FALSE(k.hit().decision.allowed);
  k.now += milliseconds{1};
  EXPECT_TRUE(k.hit().decision.allowed);
}

TEST(Acquire, PartialRecoveryCountsRemaining) {
  Key k{policy("10/15m")};
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(k.hit().decision.allowed);
  k.now += seconds{90 * 3 + 45};  // three and a half slots later
  const Decision d = peek(k.now, k.state, k.p);
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.remaining, 2U);  // this one plus two more pass now
  EXPECT_EQ(d.reset_after, minutes{15} - seconds{90 * 3 + 45} + seconds{90});
}

TEST(Peek, CountsNothing) {
  Key k{policy("1/1m")};
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(peek(k.now, k.state, k.p).allowed);
  EXPECT_TRUE(k.hit().decision.allowed);
  const Decision d = peek(k.now, k.state, k.p);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, minutes{1});
}

TEST(Refund, GivesOneBack) {
  Key k{policy("3/1m")};
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(k.hit().decision.allowed);
  ASSERT_FALSE(peek(k.now, k.state, k.p).allowed);
  k.state = refund(k.now, k.state, k.p);
  EXPECT_TRUE(k.hit().decision.allowed);
  EXPECT_FALSE(k.hit().decision.allowed);
}

TEST(Refund, NeverBelowRest) {
  Key k{policy("3/1m")};
  ASSERT_TRUE(k.hit().decision.allowed);
  k.state = refund(k.now, k.state, k.p);
  EXPECT_FALSE(k.state.has_value());  // back at rest: nothing to store
  k.state = refund(k.now, k.state, k.p);
  EXPECT_FALSE(k.state.has_value());
  // A refund never creates credit beyond the burst.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(k.hit().decision.allowed);
  EXPECT_FALSE(k.hit().decision.allowed);
}

TEST(Refund, SuccessesDoNotCount) {
  // The per-account login pattern: count first, give back on success.
  Key k{policy("3/1h")};
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(k.hit().decision.allowed) << i;
    k.state = refund(k.now, k.state, k.p);
    k.now += seconds{1};
  }
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(k.hit().decision.allowed);  // three failures
  EXPECT_FALSE(k.hit().decision.allowed);
}

TEST(CeilSeconds, RoundsUp) {
  EXPECT_EQ(ceil_seconds(Micros{0}), 0);
  EXPECT_EQ(ceil_seconds(Micros{-5}), 0);
  EXPECT_EQ(ceil_seconds(Micros{1}), 1);
  EXPECT_EQ(ceil_seconds(seconds{90}), 90);
  EXPECT_EQ(ceil_seconds(seconds{90} + Micros{1}), 91);
}

TEST(PolicyError, Messages) {
  EXPECT_NE(make_error_code(PolicyError::Malformed).message(), make_error_code(PolicyError::OutOfRange).message());
  EXPECT_STREQ(make_error_code(PolicyError::Malformed).category().name(), "ratelimit");
}

}  // namespace
}  // namespace gh::ratelimit
