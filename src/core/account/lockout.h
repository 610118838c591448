// Lockout policy for password attempts: pure logic over two counters, one per
// (account, client IP) — the "source" — and one for the account as a whole.
//
// Design (README "Lockout"):
// - An attempt is counted *before* its password is checked (a reservation),
//   in the same atomic store step that reads the counters, so 20 parallel
//   wrong guesses can never all see "4 failures so far", and one attempt is
//   counted exactly once. A success clears its source's and the account's counters.
// - A source is locked after `per_source` attempts without a success within
//   `window`; the account as a whole after the higher `per_account` from all
//   sources together. Locks expire after `lock`: nobody is locked out for good.
// - The account-wide lock does not apply to a known device (a browser that
//   signed in to this account before and holds its signed device cookie), so
//   an attacker spraying guesses from many addresses cannot keep the owner out.
// - While locked, no password is verified and the answer is the same as for a
//   wrong password, so a lock reveals nothing and gives no guesses.
#pragma once

#include <chrono>
#include <cstdint>

#include "core/base/clock.h"

namespace gh::account {

struct LockoutPolicy {
  std::int64_t per_source = 5;    // attempts per (account, IP) within `window`
  std::int64_t per_account = 20;  // attempts per account from all sources within `window`
  std::chrono::seconds window{15 * 60};
  std::chrono::seconds lock{15 * 60};
};

struct AttemptCounter {
  std::int64_t attempts = 0;  // counted since window_start, reset by a success
  Seconds window_start{};
  Seconds locked_until{};     // epoch: not locked
};

enum class AttemptVerdict : std::uint8_t {
  Proceed,        // verify the password
  SourceLocked,   // this (account, IP) is locked: answer as for a wrong password
  AccountLocked,  // the account is locked for unknown devices: likewise
};

struct AttemptStep {
  AttemptVerdict verdict = AttemptVerdict::Proceed;
  AttemptCounter source;   // the counters to store (unchanged when locked)
  AttemptCounter account;
  bool source_locked_now = false;   // this attempt locked the source (audit "user.lockout")
  bool account_locked_now = false;  // this attempt locked the account
  Seconds locked_until{};           // when refused: when the lock ends
};

// One attempt at `now`. Counters whose window has passed (and that are not
// locked) start over.
[[nodiscard]] AttemptStep begin_attempt(AttemptCounter source, AttemptCounter account, Seconds now,
                                        const LockoutPolicy& policy, bool known_device);

}  // namespace gh::account
