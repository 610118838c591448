// The AuditStore and LockoutStore contracts (store/audit_store.h,
// store/lockout_store.h), run against every backend in store_harness.h. Each
// test starts on its own empty, migrated database. Time is what each call is
// given: tests move it, never sleep.
#include "store/audit_store.h"

#include <latch>
#include <thread>

#include <gtest/gtest.h>

#include "conformance/store_harness.h"
#include "store/lockout_store.h"
#include "store/store.h"

namespace gh::store::testing {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const Seconds kT0{seconds{1'900'000'000}};

AuditRecord event(std::string action, std::string actor, Seconds time, std::string result = "success") {
  AuditRecord r;
  r.time = time;
  r.action = std::move(action);
  r.result = std::move(result);
  r.actor = actor;
  r.subject = std::move(actor);
  r.ip = "2001:db8::7";
  r.user_agent = "Mozilla/5.0 (%s %n) \"q\" 'x' \\ \xe2\x98\x83\r\n$1 ?1";  // breaks naive quoting or formatting
  r.request_id = "req-1";
  return r;
}

class AuditStoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    harness_->set_up();
    if (HasFatalFailure()) return;
    store_ = open_migrated(*harness_);
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    harness_.reset();
  }
  AuditStore& audit() { return store_->audit(); }
  LockoutStore& lockout() { return store_->lockout(); }
  std::vector<AuditRecord> query(AuditQuery q = {}) {
    auto r = audit().query_audit(q);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : std::vector<AuditRecord>{};
  }

  std::unique_ptr<Harness> harness_;
  std::unique_ptr<Store> store_;
};

TEST_P(AuditStoreConformance, AppendAssignsIncreasingIdsAndKeepsEveryFieldExactly) {
  auto a = event("user.login", "u1", kT0, "wrong_password");
  a.tenant = "t1";
  const std::vector<AuditRecord> batch = {a, event("session.create", "u2", kT0 + seconds{1})};
  ASSERT_TRUE(audit().append_audit(batch));
  ASSERT_TRUE(audit().append_audit(std::vector<AuditRecord>{event("user.logout", "u1", kT0 + seconds{2})}));
  const auto rows = query();
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_LT(rows[0].id, rows[1].id);
  EXPECT_LT(rows[1].id, rows[2].id);
  EXPECT_EQ(rows[0].time, a.time);
  EXPECT_EQ(rows[0].action, "user.login");
  EXPECT_EQ(rows[0].result, "wrong_password");
  EXPECT_EQ(rows[0].actor, "u1");
  EXPECT_EQ(rows[0].subject, "u1");
  EXPECT_EQ(rows[0].ip, a.ip);
  EXPECT_EQ(rows[0].user_agent, a.user_agent);
  EXPECT_EQ(rows[0].request_id, "req-1");
  EXPECT_EQ(rows[0].tenant, "t1");
  EXPECT_EQ(rows[2].action, "user.logout");
}

TEST_P(AuditStoreConformance, QueryFiltersAndPagesByCursor) {
  std::vector<AuditRecord> batch;
  for (int i = 0; i < 10; ++i)
    batch.push_back(event(i % 2 ? "user.login" : "session.create", i < 5 ? "u1" : "u2", kT0 + seconds{i},
                          i == 3 ? "wrong_password" : "success"));
  batch[7].subject = "u1";  // u2 acting on u1
  batch[8].tenant = "acme";
  ASSERT_TRUE(audit().append_audit(batch));

  AuditQuery by_user;
  by_user.user = "u1";
  EXPECT_EQ(query(by_user).size(), 6U);  // 5 as actor + 1 as subject
  AuditQuery by_action;
  by_action.action = "user.login";
  EXPECT_EQ(query(by_action).size(), 5U);
  AuditQuery by_result;
  by_result.result = "wrong_password";
  ASSERT_EQ(query(by_result).size(), 1U);
  EXPECT_EQ(query(by_result)[0].time, kT0 + seconds{3});
  AuditQuery by_tenant;
  by_tenant.tenant = "acme";
  EXPECT_EQ(query(by_tenant).size(), 1U);
  AuditQuery window;
  window.since = kT0 + seconds{2};
  window.until = kT0 + seconds{5};
  EXPECT_EQ(query(window).size(), 3U);

  AuditQuery page;
  page.limit = 4;
  std::vector<std::int64_t> seen;
  for (int guard = 0; guard < 10; ++guard) {
    auto rows = query(page);
    if (rows.empty()) break;
    for (const auto& r : rows) seen.push_back(r.id);
    page.after_id = rows.back().id;
  }
  ASSERT_EQ(seen.size(), 10U);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST_P(AuditStoreConformance, PurgeRemovesOnlyOlderRows) {
  ASSERT_TRUE(audit().append_audit(std::vector<AuditRecord>{event("a", "u1", kT0), event("b", "u1", kT0 + minutes{1}),
                                                            event("c", "u1", kT0 + minutes{2})}));
  auto purged = audit().purge_audit(kT0 + minutes{1});
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1);
  const auto rows = query();
  ASSERT_EQ(rows.size(), 2U);
  EXPECT_EQ(rows[0].action, "b");
}

// ---- lockout --------------------------------------------------------------------

account::LockoutPolicy policy() {
  account::LockoutPolicy p;
  p.per_source = 5;
  p.per_account = 8;
  p.window = minutes{15};
  p.lock = minutes{15};
  return p;
}

account::AttemptVerdict attempt(LockoutStore& s, const char* ip, Seconds now, bool known = false) {
  auto r = s.begin_login_attempt("a@example.com", ip, now, policy(), known);
  EXPECT_TRUE(r) << r.error().message();
  return r ? r->verdict : account::AttemptVerdict::SourceLocked;
}

TEST_P(AuditStoreConformance, ASourceIsLockedAfterItsBoundUntilTheLockEnds) {
  for (int i = 0; i < 5; ++i) ASSERT_EQ(attempt(lockout(), "10.0.0.1", kT0), account::AttemptVerdict::Proceed) << i;
  EXPECT_EQ(attempt(lockout(), "10.0.0.1", kT0 + seconds{1}), account::AttemptVerdict::SourceLocked);
  EXPECT_EQ(attempt(lockout(), "10.0.0.2", kT0 + seconds{1}), account::AttemptVerdict::Proceed) << "another source";
  EXPECT_EQ(attempt(lockout(), "10.0.0.1", kT0 + minutes{15}), account::AttemptVerdict::Proceed) << "the lock ended";
}

TEST_P(AuditStoreConformance, TheAccountIsLockedForUnknownDevicesAfterTheHigherBound) {
  const char* ips[] = {"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6", "10.0.0.7", "10.0.0.8"};
  for (const char* ip : ips) ASSERT_EQ(attempt(lockout(), ip, kT0), account::AttemptVerdict::Proceed);
  EXPECT_EQ(attempt(lockout(), "10.0.0.9", kT0), account::AttemptVerdict::AccountLocked);
  EXPECT_EQ(attempt(lockout(), "10.0.0.9", kT0, /*known=*/true), account::AttemptVerdict::Proceed)
      << "the owner's known device still gets in";
}

TEST_P(AuditStoreConformance, SuccessClearsItsSourceAndTheAccountButNotOtherSources) {
  for (int i = 0; i < 4; ++i) ASSERT_EQ(attempt(lockout(), "10.0.0.1", kT0), account::AttemptVerdict::Proceed);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(attempt(lockout(), "10.0.0.2", kT0), account::AttemptVerdict::Proceed);
  ASSERT_TRUE(lockout().clear_login_attempts("a@example.com", "10.0.0.1"));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(attempt(lockout(), "10.0.0.1", kT0), account::AttemptVerdict::Proceed) << i;
  EXPECT_EQ(attempt(lockout(), "10.0.0.2", kT0), account::AttemptVerdict::Proceed);  // its 5th
  EXPECT_EQ(attempt(lockout(), "10.0.0.2", kT0), account::AttemptVerdict::SourceLocked);
}

TEST_P(AuditStoreConformance, UnlockClearsEverySourceAndPurgeKeepsLocks) {
  for (int i = 0; i < 5; ++i) ASSERT_EQ(attempt(lockout(), "10.0.0.1", kT0), account::AttemptVerdict::Proceed);
  ASSERT_EQ(attempt(lockout(), "10.0.0.1", kT0), account::AttemptVerdict::SourceLocked);
  // Purge (stale = window started over 15 minutes ago) while the lock holds removes nothing.
  auto none = lockout().purge_login_attempts(kT0 + minutes{1} - minutes{15}, kT0 + minutes{1});
  ASSERT_TRUE(none);
  EXPECT_EQ(*none, 0);
  EXPECT_EQ(attempt(lockout(), "10.0.0.1", kT0 + minutes{1}), account::AttemptVerdict::SourceLocked);
  auto n = lockout().unlock_account("a@example.com");
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 2);  // the source row and the account row
  EXPECT_EQ(attempt(lockout(), "10.0.0.1", kT0 + minutes{1}), account::AttemptVerdict::Proceed);
  // After the lock and the window, purge drops the rows.
  auto purged = lockout().purge_login_attempts(kT0 + minutes{40} - minutes{15}, kT0 + minutes{40});
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 2);
}

TEST_P(AuditStoreConformance, ParallelAttemptsNeverGetMoreThanTheBound) {
  // 20 attempts at once for one account from one source: exactly 5 may verify a password.
  constexpr int kThreads = 20;
  std::vector<std::unique_ptr<Store>> stores;
  if (GetParam().shared) {
    for (int i = 0; i < 4; ++i) {  // several connections/instances on one database
      stores.push_back(open_migrated(*harness_));
      ASSERT_NE(stores.back(), nullptr);
    }
  }
  std::atomic<int> proceeded{0};
  std::atomic<int> errors{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      LockoutStore& s = stores.empty() ? lockout() : stores[static_cast<std::size_t>(i) % stores.size()]->lockout();
      start.arrive_and_wait();
      for (int retry = 0; retry < 50; ++retry) {
        auto r = s.begin_login_attempt("a@example.com", "10.0.0.1", kT0, policy(), false);
        if (!r && r.error().code == make_error_code(StoreError::Busy)) continue;  // a lock wait timed out: try again
        if (!r) {
          ++errors;
        } else if (r->verdict == account::AttemptVerdict::Proceed) {
          ++proceeded;
        }
        return;
      }
      ++errors;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(proceeded.load(), 5);
}

INSTANTIATE_TEST_SUITE_P(Backends, AuditStoreConformance, ::testing::ValuesIn(all_backends()));

}  // namespace
}  // namespace gh::store::testing
