// The MfaStore contract (store/mfa_store.h), run against every backend in
// store_harness.h. Each test starts on its own empty, migrated database with
// users u1, u2 and u3. Sealed secrets and code hashes are readable names here:
// the store treats them as opaque strings.
#include "store/mfa_store.h"

#include <latch>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "conformance/store_harness.h"
#include "store/store.h"

namespace gh::store::testing {
namespace {

using std::chrono::seconds;

const Seconds kT0{seconds{1'900'000'000}};
// An RFC 6238 time step near kT0 (30-second steps).
constexpr std::int64_t kStep = 1'900'000'000 / 30;

User make_user(const std::string& id) {
  User u;
  u.id = id;
  u.email = id + "@example.com";
  u.email_normalized = u.email;
  u.created_at = kT0;
  u.updated_at = kT0;
  return u;
}

TotpFactor make_pending(std::string user_id, std::string sealed, Seconds created = kT0) {
  TotpFactor f;
  f.user_id = std::move(user_id);
  f.secret_sealed = std::move(sealed);
  f.created_at = created;
  return f;
}

std::vector<std::string> make_codes(const std::string& prefix, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(fmt::format("{}-{:02}", prefix, i));
  return out;
}

#define EXPECT_ERROR(expr, err)                                                         \
  do {                                                                                  \
    const auto& result_ = (expr);                                                       \
    ASSERT_FALSE(result_.has_value()) << #expr " succeeded";                            \
    EXPECT_EQ(result_.error().code, make_error_code(err)) << result_.error().message(); \
  } while (0)

class MfaStoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    harness_->set_up();
    if (HasFatalFailure()) return;
    store_ = open_migrated(*harness_);
    ASSERT_NE(store_, nullptr);
    for (const char* id : {"u1", "u2", "u3"}) {
      ASSERT_TRUE(store_->users().create_user(make_user(id)));
    }
  }
  void TearDown() override {
    store_.reset();
    harness_.reset();
  }
  MfaStore& mfa() { return store_->mfa(); }

  // u1's factor, enrolled with `sealed` and confirmed at step kStep.
  void enrol_confirmed(const std::string& user_id, const std::string& sealed) {
    ASSERT_TRUE(mfa().put_pending_totp(make_pending(user_id, sealed)));
    auto confirmed = mfa().confirm_totp(user_id, sealed, kStep, kT0 + seconds{30});
    ASSERT_TRUE(confirmed) << confirmed.error().message();
  }

  // The callers of a race: on a shared backend they are spread over several
  // Stores, as over several server processes (SQLite writers then race for the
  // file's write lock, PostgreSQL sessions for the row lock); otherwise all
  // use store_.
  std::vector<Store*> racing_stores(int threads) {
    std::vector<Store*> stores{store_.get()};
    if (!GetParam().shared) return stores;
    // Four Stores share the callers, so each needs a connection per quarter of
    // them (no more: two suites at once must stay under max_connections).
    constexpr int kMore = 3;
    StoreOptions options;
    options.pool_size = static_cast<std::size_t>((threads + kMore) / (kMore + 1));
    for (int i = 0; i < kMore; ++i) {
      more_.push_back(open_migrated(*harness_, options));
      EXPECT_NE(more_.back(), nullptr);
      if (more_.back() == nullptr) return {};
      stores.push_back(more_.back().get());
    }
    return stores;
  }

  std::unique_ptr<Harness> harness_;
  std::unique_ptr<Store> store_;
  std::vector<std::unique_ptr<Store>> more_;
};

// ---- pending enrolment -------------------------------------------------------------

TEST_P(MfaStoreConformance, PendingRoundTripsAndIgnoresConfirmed) {
  const std::string sealed =
      "v1.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8-_'\"; DROP TABLE mfa_totp; --";
  TotpFactor f = make_pending("u1", sealed, kT0 + seconds{7});
  f.confirmed = true;  // ignored: a put is always pending
  ASSERT_TRUE(mfa().put_pending_totp(f));

  auto found = mfa().find_totp("u1");
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->user_id, "u1");
  EXPECT_EQ(found->secret_sealed, sealed);
  EXPECT_FALSE(found->confirmed);
  EXPECT_EQ(found->last_step, 0);
  EXPECT_EQ(found->created_at, kT0 + seconds{7});
  EXPECT_EQ(found->confirmed_at, Seconds{});
  // Nobody else has one.
  EXPECT_ERROR(mfa().find_totp("u2"), StoreError::NotFound);
  EXPECT_ERROR(mfa().find_totp("ghost"), StoreError::NotFound);
}

TEST_P(MfaStoreConformance, PutPendingReplacesAPendingOne) {
  ASSERT_TRUE(mfa().put_pending_totp(make_pending("u1", "first")));
  ASSERT_TRUE(mfa().put_pending_totp(make_pending("u1", "second", kT0 + seconds{60})));
  auto found = mfa().find_totp("u1");
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->secret_sealed, "second");
  EXPECT_EQ(found->created_at, kT0 + seconds{60});
  EXPECT_FALSE(found->confirmed);
  // The replaced enrolment can no longer be confirmed.
  EXPECT_ERROR(mfa().confirm_totp("u1", "first", kStep, kT0 + seconds{61}), StoreError::NotFound);
  EXPECT_TRUE(mfa().confirm_totp("u1", "second", kStep, kT0 + seconds{61}));
}

TEST_P(MfaStoreConformance, PutPendingAfterConfirmIsConflictAndChangesNothing) {
  enrol_confirmed("u1", "s1");
  if (HasFatalFailure()) return;
  EXPECT_ERROR(mfa().put_pending_totp(make_pending("u1", "s2", kT0 + seconds{90})),
               StoreError::Conflict);
  auto found = mfa().find_totp("u1");
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->secret_sealed, "s1");
  EXPECT_TRUE(found->confirmed);
  EXPECT_EQ(found->last_step, kStep);
  EXPECT_EQ(found->created_at, kT0);
  EXPECT_EQ(found->confirmed_at, kT0 + seconds{30});
  // Deleting the factor allows a new enrolment.
  EXPECT_EQ(mfa().delete_totp("u1").value_or(false), true);
  EXPECT_TRUE(mfa().put_pending_totp(make_pending("u1", "s2")));
}

TEST_P(MfaStoreConformance, PutPendingForAMissingUserIsNotFound) {
  EXPECT_ERROR(mfa().put_pending_totp(make_pending("ghost", "s")), StoreError::NotFound);
  EXPECT_ERROR(mfa().find_totp("ghost"), StoreError::NotFound);
}

// ---- confirm: a compare-and-swap ---------------------------------------------------

TEST_P(MfaStoreConformance, ConfirmNeedsThePendingRowWithTheSameSealedSecret) {
  EXPECT_ERROR(mfa().confirm_totp("u1", "s1", kStep, kT0), StoreError::NotFound);  // no row
  ASSERT_TRUE(mfa().put_pending_totp(make_pending("u1", "s1")));
  // The sealed text is compared exactly.
  for (const char* wrong : {"s2", "S1", "s", "s1 ", ""}) {
    SCOPED_TRACE(wrong);
    EXPECT_ERROR(mfa().confirm_totp("u1", wrong, kStep, kT0), StoreError::NotFound);
  }
  EXPECT_ERROR(mfa().confirm_totp("u2", "s1", kStep, kT0), StoreError::NotFound);
  auto found = mfa().find_totp("u1");
  ASSERT_TRUE(found);
  EXPECT_FALSE(found->confirmed) << "a refused confirmation changes nothing";

  ASSERT_TRUE(mfa().confirm_totp("u1", "s1", kStep, kT0 + seconds{45}));
  found = mfa().find_totp("u1");
  ASSERT_TRUE(found);
  EXPECT_TRUE(found->confirmed);
  EXPECT_EQ(found->last_step, kStep);
  EXPECT_EQ(found->confirmed_at, kT0 + seconds{45});
  EXPECT_EQ(found->created_at, kT0);
  EXPECT_EQ(found->secret_sealed, "s1");

  // Confirming twice is refused, even with a later step, and changes nothing.
  EXPECT_ERROR(mfa().confirm_totp("u1", "s1", kStep + 5, kT0 + seconds{200}), StoreError::NotFound);
  found = mfa().find_totp("u1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->last_step, kStep);
  EXPECT_EQ(found->confirmed_at, kT0 + seconds{45});
}

// ---- advance_totp_step: replay refusal ----------------------------------------------

TEST_P(MfaStoreConformance, AdvanceStepOnlyMovesForward) {
  EXPECT_ERROR(mfa().advance_totp_step("u1", kStep), StoreError::NotFound);  // no row
  ASSERT_TRUE(mfa().put_pending_totp(make_pending("u1", "s1")));
  // A pending row is not a factor yet.
  EXPECT_ERROR(mfa().advance_totp_step("u1", kStep + 1), StoreError::NotFound);
  EXPECT_EQ(mfa().find_totp("u1")->last_step, 0);

  ASSERT_TRUE(mfa().confirm_totp("u1", "s1", kStep, kT0));
  EXPECT_ERROR(mfa().advance_totp_step("u1", kStep), StoreError::NotFound);  // the same step
  EXPECT_ERROR(mfa().advance_totp_step("u1", kStep - 1), StoreError::NotFound);
  EXPECT_ERROR(mfa().advance_totp_step("u1", 0), StoreError::NotFound);
  EXPECT_EQ(mfa().find_totp("u1")->last_step, kStep);

  EXPECT_TRUE(mfa().advance_totp_step("u1", kStep + 1));
  EXPECT_EQ(mfa().find_totp("u1")->last_step, kStep + 1);
  EXPECT_ERROR(mfa().advance_totp_step("u1", kStep + 1), StoreError::NotFound);
  EXPECT_TRUE(mfa().advance_totp_step("u1", kStep + 5));  // steps may be skipped
  EXPECT_ERROR(mfa().advance_totp_step("u1", kStep + 3), StoreError::NotFound);
  auto found = mfa().find_totp("u1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->last_step, kStep + 5);
  EXPECT_TRUE(found->confirmed);
  EXPECT_EQ(found->confirmed_at, kT0);

  // Another user's factor is its own.
  EXPECT_ERROR(mfa().advance_totp_step("u2", kStep + 10), StoreError::NotFound);
  enrol_confirmed("u2", "s2");
  EXPECT_TRUE(mfa().advance_totp_step("u2", kStep + 1));
  EXPECT_EQ(mfa().find_totp("u1")->last_step, kStep + 5);
}

// Two requests with the same valid code at once (a double submit, or an
// attacker replaying a code seen over the shoulder): exactly one may pass.
TEST_P(MfaStoreConformance, ConcurrentAdvancesToOneStepHaveOneWinner) {
  constexpr int kThreads = 12;
  constexpr int kRounds = 15;
  enrol_confirmed("u1", "s1");
  if (HasFatalFailure()) return;
  const std::vector<Store*> stores = racing_stores(kThreads);
  ASSERT_FALSE(stores.empty());

  for (int round = 1; round <= kRounds; ++round) {
    const std::int64_t step = kStep + round;
    std::latch go(kThreads);
    std::vector<Status> results(kThreads, fail(StoreError::Internal));
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        Store& store = *stores[static_cast<std::size_t>(i) % stores.size()];
        go.arrive_and_wait();
        results[static_cast<std::size_t>(i)] = store.mfa().advance_totp_step("u1", step);
      });
    }
    for (auto& th : threads) th.join();

    int winners = 0;
    for (int i = 0; i < kThreads; ++i) {
      const auto& r = results[static_cast<std::size_t>(i)];
      if (r) {
        ++winners;
      } else {
        EXPECT_EQ(r.error().code, make_error_code(StoreError::NotFound))
            << "round " << round << ", caller " << i << ": " << r.error().message();
      }
    }
    ASSERT_EQ(winners, 1) << "round " << round;
    EXPECT_EQ(mfa().find_totp("u1")->last_step, step);
  }
}

// ---- delete_totp ----------------------------------------------------------------------

TEST_P(MfaStoreConformance, DeleteTotpSaysWhetherOneExisted) {
  EXPECT_EQ(mfa().delete_totp("u1").value_or(true), false);
  EXPECT_EQ(mfa().delete_totp("ghost").value_or(true), false);
  ASSERT_TRUE(mfa().put_pending_totp(make_pending("u1", "s1")));
  enrol_confirmed("u2", "s2");
  if (HasFatalFailure()) return;

  EXPECT_EQ(mfa().delete_totp("u1").value_or(false), true);  // pending
  EXPECT_ERROR(mfa().find_totp("u1"), StoreError::NotFound);
  EXPECT_EQ(mfa().delete_totp("u1").value_or(true), false);
  EXPECT_EQ(mfa().delete_totp("u2").value_or(false), true);  // confirmed
  EXPECT_ERROR(mfa().find_totp("u2"), StoreError::NotFound);
  EXPECT_ERROR(mfa().advance_totp_step("u2", kStep + 1), StoreError::NotFound);
  EXPECT_ERROR(mfa().confirm_totp("u1", "s1", kStep, kT0), StoreError::NotFound);
}

// ---- recovery codes ---------------------------------------------------------------------

TEST_P(MfaStoreConformance, ReplaceConsumeAndCountRecoveryCodes) {
  EXPECT_EQ(mfa().count_recovery_codes("u1").value_or(-1), 0);
  EXPECT_EQ(mfa().count_recovery_codes("ghost").value_or(-1), 0);
  const auto codes = make_codes("a", 10);
  ASSERT_TRUE(mfa().replace_recovery_codes("u1", codes, kT0));
  ASSERT_TRUE(mfa().replace_recovery_codes("u2", make_codes("b", 3), kT0));
  EXPECT_EQ(mfa().count_recovery_codes("u1").value_or(-1), 10);
  EXPECT_EQ(mfa().count_recovery_codes("u2").value_or(-1), 3);

  auto left = mfa().consume_recovery_code("u1", "a-04");
  ASSERT_TRUE(left) << left.error().message();
  EXPECT_EQ(*left, 9);
  // Single use.
  EXPECT_ERROR(mfa().consume_recovery_code("u1", "a-04"), StoreError::NotFound);
  // Exact keys, and only the owner's.
  EXPECT_ERROR(mfa().consume_recovery_code("u1", "A-05"), StoreError::NotFound);
  EXPECT_ERROR(mfa().consume_recovery_code("u1", "a-0"), StoreError::NotFound);
  EXPECT_ERROR(mfa().consume_recovery_code("u1", ""), StoreError::NotFound);
  EXPECT_ERROR(mfa().consume_recovery_code("u2", "a-05"), StoreError::NotFound);
  EXPECT_ERROR(mfa().consume_recovery_code("ghost", "a-05"), StoreError::NotFound);
  EXPECT_EQ(mfa().count_recovery_codes("u1").value_or(-1), 9);
  EXPECT_EQ(mfa().count_recovery_codes("u2").value_or(-1), 3);

  // The remaining count goes down to zero.
  std::int64_t expected = 9;
  for (const auto& code : codes) {
    if (code == "a-04") continue;
    left = mfa().consume_recovery_code("u1", code);
    ASSERT_TRUE(left) << code << ": " << left.error().message();
    EXPECT_EQ(*left, --expected);
  }
  EXPECT_EQ(mfa().count_recovery_codes("u1").value_or(-1), 0);
  EXPECT_EQ(mfa().count_recovery_codes("u2").value_or(-1), 3);
}

TEST_P(MfaStoreConformance, ReplaceDropsTheOldCodes) {
  ASSERT_TRUE(mfa().replace_recovery_codes("u1", make_codes("old", 5), kT0));
  ASSERT_TRUE(mfa().replace_recovery_codes("u2", make_codes("old", 2), kT0));
  ASSERT_TRUE(mfa().replace_recovery_codes("u1", make_codes("new", 4), kT0 + seconds{60}));
  EXPECT_EQ(mfa().count_recovery_codes("u1").value_or(-1), 4);
  EXPECT_ERROR(mfa().consume_recovery_code("u1", "old-00"), StoreError::NotFound);
  EXPECT_EQ(mfa().consume_recovery_code("u1", "new-00").value_or(-1), 3);
  // The same hashes under another user are another user's codes.
  EXPECT_EQ(mfa().count_recovery_codes("u2").value_or(-1), 2);
  EXPECT_EQ(mfa().consume_recovery_code("u2", "old-00").value_or(-1), 1);

  // An overlapping set: the kept hash is usable again.
  ASSERT_TRUE(mfa().replace_recovery_codes("u1", {"new-00", "new-01"}, kT0));
  EXPECT_EQ(mfa().count_recovery_codes("u1").value_or(-1), 2);
  EXPECT_EQ(mfa().consume_recovery_code("u1", "new-00").value_or(-1), 1);

  // An empty list just deletes them.
  ASSERT_TRUE(mfa().replace_recovery_codes("u1", {}, kT0));
  EXPECT_EQ(mfa().count_recovery_codes("u1").value_or(-1), 0);
  EXPECT_ERROR(mfa().consume_recovery_code("u1", "new-01"), StoreError::NotFound);
  ASSERT_TRUE(mfa().replace_recovery_codes("u1", {}, kT0));
  EXPECT_EQ(mfa().count_recovery_codes("u2").value_or(-1), 1);
}

TEST_P(MfaStoreConformance, ReplaceForAMissingUserIsNotFound) {
  EXPECT_ERROR(mfa().replace_recovery_codes("ghost", make_codes("a", 3), kT0),
               StoreError::NotFound);
  EXPECT_ERROR(mfa().replace_recovery_codes("ghost", {}, kT0), StoreError::NotFound);
  EXPECT_EQ(mfa().count_recovery_codes("ghost").value_or(-1), 0);
}

// One transaction: a list that cannot be stored (a hash twice) leaves the old codes.
TEST_P(MfaStoreConformance, AFailedReplaceKeepsTheOldCodes) {
  ASSERT_TRUE(mfa().replace_recovery_codes("u1", make_codes("old", 3), kT0));
  EXPECT_ERROR(mfa().replace_recovery_codes("u1", {"new-00", "new-01", "new-00"}, kT0),
               StoreError::Conflict);
  EXPECT_EQ(mfa().count_recovery_codes("u1").value_or(-1), 3);
  EXPECT_ERROR(mfa().consume_recovery_code("u1", "new-01"), StoreError::NotFound);
  EXPECT_EQ(mfa().consume_recovery_code("u1", "old-01").value_or(-1), 2);
}

// The same recovery code submitted at once from several places: exactly one
// use succeeds, and the winner learns how many codes are left.
TEST_P(MfaStoreConformance, ConcurrentConsumersOfOneCodeHaveOneWinner) {
  constexpr int kThreads = 12;
  constexpr int kRounds = 15;
  const std::vector<Store*> stores = racing_stores(kThreads);
  ASSERT_FALSE(stores.empty());

  for (int round = 0; round < kRounds; ++round) {
    const auto codes = make_codes(fmt::format("r{:02}", round), 4);
    ASSERT_TRUE(mfa().replace_recovery_codes("u1", codes, kT0));
    const std::string& code = codes[static_cast<std::size_t>(round) % codes.size()];

    std::latch go(kThreads);
    std::vector<Result<std::int64_t>> results(kThreads, fail(StoreError::Internal));
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        Store& store = *stores[static_cast<std::size_t>(i) % stores.size()];
        go.arrive_and_wait();
        results[static_cast<std::size_t>(i)] = store.mfa().consume_recovery_code("u1", code);
      });
    }
    for (auto& th : threads) th.join();

    int winners = 0;
    for (int i = 0; i < kThreads; ++i) {
      const auto& r = results[static_cast<std::size_t>(i)];
      if (r) {
        ++winners;
        EXPECT_EQ(*r, 3) << "round " << round;
      } else {
        EXPECT_EQ(r.error().code, make_error_code(StoreError::NotFound))
            << "round " << round << ", caller " << i << ": " << r.error().message();
      }
    }
    ASSERT_EQ(winners, 1) << "round " << round;
    EXPECT_EQ(mfa().count_recovery_codes("u1").value_or(-1), 3);
  }
}

// ---- users ------------------------------------------------------------------------------

TEST_P(MfaStoreConformance, DeletingAUserDeletesTheirFactorsOnly) {
  enrol_confirmed("u1", "s1");
  enrol_confirmed("u2", "s2");
  if (HasFatalFailure()) return;
  ASSERT_TRUE(mfa().put_pending_totp(make_pending("u3", "s3")));
  ASSERT_TRUE(mfa().replace_recovery_codes("u1", make_codes("c", 5), kT0));
  ASSERT_TRUE(mfa().replace_recovery_codes("u2", make_codes("c", 2), kT0));

  ASSERT_TRUE(store_->users().delete_user("u1"));
  EXPECT_ERROR(mfa().find_totp("u1"), StoreError::NotFound);
  EXPECT_EQ(mfa().count_recovery_codes("u1").value_or(-1), 0);
  EXPECT_ERROR(mfa().consume_recovery_code("u1", "c-00"), StoreError::NotFound);
  EXPECT_ERROR(mfa().advance_totp_step("u1", kStep + 1), StoreError::NotFound);
  EXPECT_EQ(mfa().delete_totp("u1").value_or(true), false);
  // Others keep theirs.
  EXPECT_TRUE(mfa().find_totp("u2").has_value());
  EXPECT_TRUE(mfa().find_totp("u3").has_value());
  EXPECT_EQ(mfa().count_recovery_codes("u2").value_or(-1), 2);

  // A deleted user gets no new factors, and a new user with the same id does
  // not inherit the old ones.
  EXPECT_ERROR(mfa().put_pending_totp(make_pending("u1", "s9")), StoreError::NotFound);
  EXPECT_ERROR(mfa().replace_recovery_codes("u1", make_codes("d", 2), kT0), StoreError::NotFound);
  ASSERT_TRUE(store_->users().create_user(make_user("u1")));
  EXPECT_ERROR(mfa().find_totp("u1"), StoreError::NotFound);
  EXPECT_EQ(mfa().count_recovery_codes("u1").value_or(-1), 0);
  EXPECT_TRUE(mfa().put_pending_totp(make_pending("u1", "s1")));
}

INSTANTIATE_TEST_SUITE_P(Backends, MfaStoreConformance, ::testing::ValuesIn(all_backends()));

}  // namespace
}  // namespace gh::store::testing
