// Retry schedule of the mail spool: exponential backoff with a cap, and when
// to give up. Pure logic; the spool (service/mail) supplies times and counts.
//
// With the defaults a message is tried at once, then after 5 s, 10 s, 20 s, ...
// doubling up to one attempt an hour, and a last time 24 h after it was queued;
// then it is moved aside as failed. A permanent refusal (e.g. "550 no such
// mailbox") gives up at once.
#pragma once

#include <chrono>

#include "core/base/clock.h"

namespace gh::mail {

struct RetryPolicy {
  std::chrono::seconds first_delay{5};            // wait after the first failed attempt
  std::chrono::seconds max_delay{3600};           // the doubling stops here
  int max_attempts = 100;                         // give up after this many attempts
  std::chrono::seconds give_up_after{24 * 3600};  // ... or this long after queueing
};

// The wait after `failed_attempts` (>= 1) failures: first_delay * 2^(n-1), at most max_delay.
[[nodiscard]] std::chrono::seconds retry_delay(const RetryPolicy& p, int failed_attempts);

struct RetryStep {
  bool give_up = false;
  Seconds next_attempt_at{};  // meaningful when !give_up
};

// After an attempt failed: `attempts` counts every attempt so far (this one
// included). Gives up when `permanent`, at max_attempts, or once `now` is past
// queued_at + give_up_after; otherwise schedules the next attempt, never later
// than that deadline (so the last try happens right at it).
[[nodiscard]] RetryStep after_failure(const RetryPolicy& p, int attempts, Seconds queued_at,
                                      Seconds now, bool permanent);

}  // namespace gh::mail
