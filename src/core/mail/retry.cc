#include "core/mail/retry.h"

#include <algorithm>

namespace gh::mail {

std::chrono::seconds retry_delay(const RetryPolicy& p, int failed_attempts) {
  auto d = std::max(p.first_delay, std::chrono::seconds{1});
  for (int i = 1; i < failed_attempts && d < p.max_delay; ++i) d *= 2;
  return std::min(d, p.max_delay);
}

RetryStep after_failure(const RetryPolicy& p, int attempts, Seconds queued_at, Seconds now,
                        bool permanent) {
  const Seconds deadline = queued_at + p.give_up_after;
  if (permanent || attempts >= p.max_attempts || now >= deadline) return {true, {}};
  return {false, std::min(now + retry_delay(p, attempts), deadline)};
}

}  // namespace gh::mail
