// LockoutStore: the counters behind account lockout (core/account/lockout.h),
// one row per (account, scope): scope is the client IP, or "*" for the
// account as a whole. `account` is the normalised email, so attempts against
// addresses without an account are counted the same way.
#pragma once

#include <string_view>

#include "core/account/lockout.h"
#include "core/base/result.h"

namespace gh::store {

inline constexpr std::string_view kAccountScope = "*";

class LockoutStore {
 public:
  virtual ~LockoutStore() = default;
  // Atomically: reads the (account, scope) and (account, "*") counters, applies
  // account::begin_attempt, and stores the counters it returns — one attempt,
  // counted once, however many run in parallel. `scope` is never "*".
  [[nodiscard]] virtual Result<account::AttemptStep> begin_login_attempt(std::string_view account,
                                                                          std::string_view scope, Seconds now,
                                                                          const account::LockoutPolicy& policy,
                                                                          bool known_device) = 0;
  // A success from `scope`: clears that source's counter and the account-wide one.
  [[nodiscard]] virtual Status clear_login_attempts(std::string_view account, std::string_view scope) = 0;
  // Admin unlock: clears every counter of the account; the number of rows removed.
  [[nodiscard]] virtual Result<std::int64_t> unlock_account(std::string_view account) = 0;
  // Removes counters that started before `stale_before` and are not locked at `now`.
  [[nodiscard]] virtual Result<std::int64_t> purge_login_attempts(Seconds stale_before, Seconds now) = 0;
};

}  // namespace gh::store
