#include "core/mail/retry.h"

#include <gtest/gtest.h>

namespace gh::mail {
namespace {

using std::chrono::seconds;

const Seconds kQueued{seconds{1'900'000'000}};

TEST(RetryDelay, DoublesFromFiveSecondsUpToAnHour) {
  const RetryPolicy p;
  const std::pair<int, int> cases[] = {{1, 5},     {2, 10},        {3, 20},    {4, 40},
                                       {8, 640},   {10, 2560},     {11, 3600}, {12, 3600},
                                       {99, 3600}, {1000000, 3600}};
  for (auto [failures, delay] : cases)
    EXPECT_EQ(retry_delay(p, failures), seconds{delay}) << failures;
}

TEST(AfterFailure, SchedulesTheNextAttempt) {
  const RetryPolicy p;
  auto s = after_failure(p, 1, kQueued, kQueued, false);
  EXPECT_FALSE(s.give_up);
  EXPECT_EQ(s.next_attempt_at, kQueued + seconds{5});
  s = after_failure(p, 3, kQueued, kQueued + seconds{100}, false);
  EXPECT_EQ(s.next_attempt_at, kQueued + seconds{120});
}

TEST(AfterFailure, PermanentGivesUpAtOnce) {
  EXPECT_TRUE(after_failure(RetryPolicy{}, 1, kQueued, kQueued, true).give_up);
}

TEST(AfterFailure, GivesUpAfterMaxAttempts) {
  RetryPolicy p;
  p.max_attempts = 3;
  EXPECT_FALSE(after_failure(p, 2, kQueued, kQueued + seconds{15}, false).give_up);
  EXPECT_TRUE(after_failure(p, 3, kQueued, kQueued + seconds{35}, false).give_up);
}

TEST(AfterFailure, LastAttemptExactlyAtTheDeadlineThenGivesUp) {
  const RetryPolicy p;
  const Seconds deadline = kQueued + seconds{24 * 3600};
  auto s = after_failure(p, 30, kQueued, deadline - seconds{600}, false);
  EXPECT_FALSE(s.give_up);
  EXPECT_EQ(s.next_attempt_at, deadline);  // not deadline + 10 min
  EXPECT_TRUE(after_failure(p, 31, kQueued, deadline, false).give_up);
}

TEST(AfterFailure, WholeScheduleWithinADay) {
  const RetryPolicy p;
  Seconds now = kQueued;
  int attempts = 0;
  RetryStep s;
  do {
    ++attempts;
    s = after_failure(p, attempts, kQueued, now, false);
    if (!s.give_up) {
      ASSERT_GT(s.next_attempt_at, now);
      now = s.next_attempt_at;
    }
  } while (!s.give_up);
  EXPECT_EQ(now, kQueued + seconds{24 * 3600});
  EXPECT_GT(attempts, 30);
  EXPECT_LT(attempts, p.max_attempts);
}

}  // namespace
}  // namespace gh::mail
