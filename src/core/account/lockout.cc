#include "core/account/lockout.h"

namespace gh::account {

namespace {
AttemptCounter current(AttemptCounter c, Seconds now, const LockoutPolicy& p) {
  if (c.locked_until <= now && now >= c.window_start + p.window) return AttemptCounter{0, now, Seconds{}};
  return c;
}
}  // namespace

AttemptStep begin_attempt(AttemptCounter source, AttemptCounter account, Seconds now, const LockoutPolicy& policy,
                          bool known_device) {
  AttemptStep step;
  step.source = current(source, now, policy);
  step.account = current(account, now, policy);
  if (step.source.locked_until > now) {
    step.verdict = AttemptVerdict::SourceLocked;
    step.locked_until = step.source.locked_until;
    return step;
  }
  if (step.account.locked_until > now && !known_device) {
    step.verdict = AttemptVerdict::AccountLocked;
    step.locked_until = step.account.locked_until;
    return step;
  }
  ++step.source.attempts;
  ++step.account.attempts;
  // The attempt that reaches the bound is still checked; the next one is refused.
  if (step.source.attempts >= policy.per_source && step.source.locked_until <= now) {
    step.source.locked_until = now + policy.lock;
    step.source_locked_now = true;
  }
  if (step.account.attempts >= policy.per_account && step.account.locked_until <= now) {
    step.account.locked_until = now + policy.lock;
    step.account_locked_now = true;
  }
  return step;
}

}  // namespace gh::account
