// Backends whose data outlives a Store and can be opened by several Stores at
// once (as several server processes would): persistence, concurrent writers
// on separate connections, concurrent migrators.
#include "store/store.h"

#include <atomic>
#include <latch>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "conformance/store_harness.h"
#include "store/schema.h"

namespace gh::store::testing {
namespace {

const Seconds kT0{std::chrono::seconds{1'900'000'000}};

User make_user(const std::string& id) {
  User u;
  u.id = id;
  u.email = id + "@example.com";
  u.email_normalized = u.email;
  u.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA";
  u.created_at = kT0;
  u.updated_at = kT0;
  return u;
}

class SharedStoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    harness_->set_up();
  }
  std::unique_ptr<Harness> harness_;
};

TEST_P(SharedStoreConformance, DataSurvivesClosingAndReopening) {
  {
    auto store = open_migrated(*harness_);
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->users().create_user(make_user("u1")));
    ASSERT_TRUE(store->users().create_user(make_user("u2")));
    ASSERT_TRUE(store->users().set_disabled("u1", true, kT0 + std::chrono::seconds{7}));
    ASSERT_TRUE(store->users().delete_user("u2"));
  }
  auto reopened = harness_->open();
  ASSERT_TRUE(reopened) << reopened.error().message();
  Store& store = **reopened;
  EXPECT_EQ(store.schema_version().value_or(-1), kSchemaVersion) << "no migrate() after reopening";
  auto u1 = store.users().find_user_by_id("u1");
  ASSERT_TRUE(u1) << u1.error().message();
  EXPECT_TRUE(u1->disabled);
  EXPECT_EQ(u1->updated_at, kT0 + std::chrono::seconds{7});
  EXPECT_FALSE(store.users().find_user_by_id("u2"));
  EXPECT_EQ(store.users().count_users().value_or(-1), 1);
}

TEST_P(SharedStoreConformance, TwoStoresWriteConcurrently) {
  // Two Stores are two sets of connections, like two server processes: for
  // SQLite the writers contend for the file lock and wait on busy_timeout.
  auto a = open_migrated(*harness_);
  auto b = open_migrated(*harness_);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::latch start(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& mine = t % 2 == 0 ? *a : *b;
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        auto r = mine.users().create_user(make_user(fmt::format("t{}-{:03}", t, i)));
        if (!r) {
          ++failures;
          ADD_FAILURE() << r.error().message();
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(a->users().count_users().value_or(-1), kThreads * kPerThread);
  EXPECT_EQ(b->users().count_users().value_or(-1), kThreads * kPerThread);
  // Each Store sees the other's writes, including a conflict on them.
  EXPECT_TRUE(a->users().find_user_by_id("t1-049"));
  auto dup = a->users().create_user(make_user("t1-049"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, make_error_code(StoreError::Conflict));
}

TEST_P(SharedStoreConformance, TwoStoresMigrateAtOnce) {
  auto a = harness_->open();
  auto b = harness_->open();
  ASSERT_TRUE(a) << a.error().message();
  ASSERT_TRUE(b) << b.error().message();
  std::latch start(2);
  Result<int> ra = 0, rb = 0;
  std::thread ta([&] {
    start.arrive_and_wait();
    ra = (*a)->migrate();
  });
  std::thread tb([&] {
    start.arrive_and_wait();
    rb = (*b)->migrate();
  });
  ta.join();
  tb.join();
  ASSERT_TRUE(ra) << ra.error().message();
  ASSERT_TRUE(rb) << rb.error().message();
  EXPECT_EQ(*ra, kSchemaVersion);
  EXPECT_EQ(*rb, kSchemaVersion);
  EXPECT_TRUE((*a)->users().create_user(make_user("u1")));
  EXPECT_TRUE((*b)->users().find_user_by_id("u1"));
}

INSTANTIATE_TEST_SUITE_P(Backends, SharedStoreConformance, ::testing::ValuesIn(shared_backends()));

}  // namespace
}  // namespace gh::store::testing
