// The UserStore/Store contract (store/store.h), run against every backend in
// store_harness.h. Each test starts on its own fresh, empty database.
#include "store/store.h"

#include <algorithm>
#include <atomic>
#include <latch>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "conformance/store_harness.h"
#include "store/schema.h"

namespace gh::store::testing {
namespace {

using std::chrono::seconds;

const Seconds kT0{seconds{1'900'000'000}};

User make_user(std::string id, std::string email) {
  User u;
  u.id = std::move(id);
  u.email = email;
  std::transform(email.begin(), email.end(), email.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  u.email_normalized = std::move(email);
  u.name = "Ada Lovelace";
  u.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaGhhc2hoYXNo";
  u.created_at = kT0;
  u.updated_at = kT0;
  return u;
}

std::vector<std::string> ids_of(const UserPage& page) {
  std::vector<std::string> ids;
  for (const auto& u : page.users) ids.push_back(u.id);
  return ids;
}

void expect_same_user(const User& a, const User& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.email, b.email);
  EXPECT_EQ(a.email_normalized, b.email_normalized);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.password_hash, b.password_hash);
  EXPECT_EQ(a.email_verified, b.email_verified);
  EXPECT_EQ(a.disabled, b.disabled);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
}

#define EXPECT_ERROR(expr, err)                                                         \
  do {                                                                                  \
    const auto& result_ = (expr);                                                       \
    ASSERT_FALSE(result_.has_value()) << #expr " succeeded";                            \
    EXPECT_EQ(result_.error().code, make_error_code(err)) << result_.error().message(); \
  } while (0)

// A fresh database with the schema migrated; store_ is a Store on it.
class UserStoreConformance : public ::testing::TestWithParam<Backend> {
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
  UserStore& users() { return store_->users(); }

  void create_all(const std::vector<User>& all) {
    for (const auto& u : all) ASSERT_TRUE(users().create_user(u)) << u.id;
  }

  std::unique_ptr<Harness> harness_;
  std::unique_ptr<Store> store_;
};

TEST_P(UserStoreConformance, CreateThenFindByIdAndEmail) {
  User u = make_user("3f0c1b9e-1d2a-4c5b-8e7f-0a1b2c3d4e5f", "Ada@Example.com");
  u.name = "Ada Łovelace ✓";  // UTF-8 survives the round trip
  u.email_verified = true;
  u.updated_at = kT0 + seconds{5};
  ASSERT_TRUE(users().create_user(u));

  auto by_id = users().find_user_by_id(u.id);
  ASSERT_TRUE(by_id) << by_id.error().message();
  expect_same_user(*by_id, u);
  auto by_email = users().find_user_by_email("ada@example.com");
  ASSERT_TRUE(by_email) << by_email.error().message();
  expect_same_user(*by_email, u);
}

TEST_P(UserStoreConformance, EmptyNameAndPasswordRoundTrip) {
  User u = make_user("u1", "b@example.com");
  u.name.clear();
  u.password_hash.clear();  // an account without a password (e.g. social login)
  u.disabled = true;
  ASSERT_TRUE(users().create_user(u));
  auto found = users().find_user_by_id("u1");
  ASSERT_TRUE(found);
  expect_same_user(*found, u);
}

TEST_P(UserStoreConformance, FindUnknownIdIsNotFound) {
  EXPECT_ERROR(users().find_user_by_id("nope"), StoreError::NotFound);
}

TEST_P(UserStoreConformance, FindUnknownEmailIsNotFound) {
  ASSERT_TRUE(users().create_user(make_user("u1", "a@example.com")));
  EXPECT_ERROR(users().find_user_by_email("b@example.com"), StoreError::NotFound);
  // The lookup is by the normalized key only, exactly.
  EXPECT_ERROR(users().find_user_by_email("A@example.com"), StoreError::NotFound);
}

TEST_P(UserStoreConformance, DuplicateNormalizedEmailIsConflict) {
  ASSERT_TRUE(users().create_user(make_user("u1", "a@example.com")));
  User twin = make_user("u2", "A@EXAMPLE.COM");  // same normalized email
  twin.name = "Someone else";
  EXPECT_ERROR(users().create_user(twin), StoreError::Conflict);
  EXPECT_ERROR(users().find_user_by_id("u2"), StoreError::NotFound);
  auto first = users().find_user_by_email("a@example.com");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->id, "u1");
  EXPECT_EQ(users().count_users().value_or(-1), 1);
}

TEST_P(UserStoreConformance, DuplicateIdIsConflict) {
  ASSERT_TRUE(users().create_user(make_user("u1", "a@example.com")));
  EXPECT_ERROR(users().create_user(make_user("u1", "other@example.com")), StoreError::Conflict);
  EXPECT_ERROR(users().find_user_by_email("other@example.com"), StoreError::NotFound);
}

TEST_P(UserStoreConformance, ListPagesWithCursor) {
  // Inserted out of order: pages follow id order, not insertion order.
  for (const char* id : {"u5", "u1", "u7", "u3", "u2", "u6", "u4"}) {
    ASSERT_TRUE(users().create_user(make_user(id, fmt::format("{}@example.com", id))));
  }
  auto p1 = users().list_users(std::nullopt, 3, std::nullopt);
  ASSERT_TRUE(p1);
  EXPECT_EQ(ids_of(*p1), (std::vector<std::string>{"u1", "u2", "u3"}));
  ASSERT_EQ(p1->next_cursor, "u3");

  auto p2 = users().list_users(*p1->next_cursor, 3, std::nullopt);
  ASSERT_TRUE(p2);
  EXPECT_EQ(ids_of(*p2), (std::vector<std::string>{"u4", "u5", "u6"}));
  ASSERT_EQ(p2->next_cursor, "u6");

  auto p3 = users().list_users(*p2->next_cursor, 3, std::nullopt);
  ASSERT_TRUE(p3);
  EXPECT_EQ(ids_of(*p3), (std::vector<std::string>{"u7"}));
  EXPECT_FALSE(p3->next_cursor.has_value());
  expect_same_user(p3->users[0], *users().find_user_by_id("u7"));
}

TEST_P(UserStoreConformance, ListFullLastPageHasNoCursor) {
  create_all({make_user("a", "a@x.com"), make_user("b", "b@x.com"), make_user("c", "c@x.com"),
              make_user("d", "d@x.com")});
  auto p1 = users().list_users(std::nullopt, 2, std::nullopt);
  ASSERT_TRUE(p1);
  ASSERT_EQ(p1->next_cursor, "b");
  auto p2 = users().list_users(*p1->next_cursor, 2, std::nullopt);
  ASSERT_TRUE(p2);
  EXPECT_EQ(ids_of(*p2), (std::vector<std::string>{"c", "d"}));
  EXPECT_FALSE(p2->next_cursor.has_value()) << "exactly `limit` rows left: no next page";
}

TEST_P(UserStoreConformance, ListEmptyAndPastTheEnd) {
  auto empty = users().list_users(std::nullopt, 10, std::nullopt);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->users.empty());
  EXPECT_FALSE(empty->next_cursor.has_value());
  create_all({make_user("a", "a@x.com")});
  auto past = users().list_users("zzz", 10, std::nullopt);
  ASSERT_TRUE(past);
  EXPECT_TRUE(past->users.empty());
  EXPECT_FALSE(past->next_cursor.has_value());
}

TEST_P(UserStoreConformance, ListLimitIsClampedTo1Through1000) {
  std::vector<User> all;
  all.reserve(1001);
  for (int i = 0; i < 1001; ++i)
    all.push_back(make_user(fmt::format("u{:04}", i), fmt::format("{}@x.com", i)));
  create_all(all);
  auto zero = users().list_users(std::nullopt, 0, std::nullopt);
  ASSERT_TRUE(zero);
  EXPECT_EQ(ids_of(*zero), (std::vector<std::string>{"u0000"}));
  EXPECT_EQ(zero->next_cursor, "u0000");
  auto huge = users().list_users(std::nullopt, 1'000'000, std::nullopt);
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->users.size(), 1000u);
  EXPECT_EQ(huge->next_cursor, "u0999");
}

TEST_P(UserStoreConformance, ListFiltersByEmailSubstringAcrossPages) {
  create_all({make_user("u1", "ann@example.com"), make_user("u2", "bob@test.org"),
              make_user("u3", "cat@example.com"), make_user("u4", "dan@example.net"),
              make_user("u5", "eve@example.com")});
  auto p1 = users().list_users(std::nullopt, 2, "example.com");
  ASSERT_TRUE(p1);
  EXPECT_EQ(ids_of(*p1), (std::vector<std::string>{"u1", "u3"}));
  ASSERT_EQ(p1->next_cursor, "u3");
  auto p2 = users().list_users(*p1->next_cursor, 2, "example.com");
  ASSERT_TRUE(p2);
  EXPECT_EQ(ids_of(*p2), (std::vector<std::string>{"u5"}));
  EXPECT_FALSE(p2->next_cursor.has_value());

  auto none = users().list_users(std::nullopt, 10, "nobody");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->users.empty());
  auto all = users().list_users(std::nullopt, 10, "");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->users.size(), 5u);
}

TEST_P(UserStoreConformance, ListFilterMatchesWildcardsLiterally) {
  create_all({make_user("u1", "100%_off@x.com"), make_user("u2", "100ab_off@x.com"),
              make_user("u3", "100%xoff@x.com"), make_user("u4", "a!b@x.com"),
              make_user("u5", "a\\b@x.com"), make_user("u6", "plain@x.com")});
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"%_", {"u1"}}, {"%", {"u1", "u3"}}, {"_off", {"u1", "u2"}}, {"_", {"u1", "u2"}},
      {"!", {"u4"}},  {"\\", {"u5"}},      {"\\b", {"u5"}},        {"a%b", {}},
      {"[a]", {}},    {"*", {}},
  };
  for (const auto& [filter, want] : cases) {
    auto page = users().list_users(std::nullopt, 100, filter);
    ASSERT_TRUE(page) << filter;
    EXPECT_EQ(ids_of(*page), want) << "filter " << filter;
  }
}

TEST_P(UserStoreConformance, ListFilterIsCaseSensitiveOnNormalizedEmail) {
  create_all({make_user("u1", "Ann@Example.com")});
  auto lower = users().list_users(std::nullopt, 10, "example");
  ASSERT_TRUE(lower);
  EXPECT_EQ(lower->users.size(), 1u);
  auto upper = users().list_users(std::nullopt, 10, "EXAMPLE");
  ASSERT_TRUE(upper);
  EXPECT_TRUE(upper->users.empty()) << "the filter applies to email_normalized, unfolded";
}

TEST_P(UserStoreConformance, UpdatePasswordHashCompareAndSwap) {
  const User u = make_user("u1", "a@x.com");
  ASSERT_TRUE(users().create_user(u));
  ASSERT_TRUE(
      users().update_password_hash("u1", u.password_hash, "$argon2id$new", kT0 + seconds{60}));
  auto after = users().find_user_by_id("u1");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->password_hash, "$argon2id$new");
  EXPECT_EQ(after->updated_at, kT0 + seconds{60});
  EXPECT_EQ(after->created_at, kT0);

  // A rehash that read the old hash before the change must not overwrite it.
  EXPECT_ERROR(
      users().update_password_hash("u1", u.password_hash, "$argon2id$stale", kT0 + seconds{90}),
      StoreError::NotFound);
  auto still = users().find_user_by_id("u1");
  ASSERT_TRUE(still);
  EXPECT_EQ(still->password_hash, "$argon2id$new");
  EXPECT_EQ(still->updated_at, kT0 + seconds{60});
}

TEST_P(UserStoreConformance, UpdatePasswordHashUnknownUserIsNotFound) {
  EXPECT_ERROR(users().update_password_hash("ghost", "", "$argon2id$x", kT0), StoreError::NotFound);
}

TEST_P(UserStoreConformance, UpdatePasswordHashFromEmpty) {
  User u = make_user("u1", "a@x.com");
  u.password_hash.clear();
  ASSERT_TRUE(users().create_user(u));
  ASSERT_TRUE(users().update_password_hash("u1", "", "$argon2id$first", kT0 + seconds{1}));
  EXPECT_EQ(users().find_user_by_id("u1")->password_hash, "$argon2id$first");
}

TEST_P(UserStoreConformance, SetDisabled) {
  ASSERT_TRUE(users().create_user(make_user("u1", "a@x.com")));
  ASSERT_TRUE(users().set_disabled("u1", true, kT0 + seconds{10}));
  auto off = users().find_user_by_id("u1");
  ASSERT_TRUE(off);
  EXPECT_TRUE(off->disabled);
  EXPECT_EQ(off->updated_at, kT0 + seconds{10});
  ASSERT_TRUE(users().set_disabled("u1", false, kT0 + seconds{20}));
  auto on = users().find_user_by_id("u1");
  ASSERT_TRUE(on);
  EXPECT_FALSE(on->disabled);
  EXPECT_EQ(on->updated_at, kT0 + seconds{20});
}

TEST_P(UserStoreConformance, SetEmailVerified) {
  ASSERT_TRUE(users().create_user(make_user("u1", "a@x.com")));
  ASSERT_TRUE(users().create_user(make_user("u2", "b@x.com")));
  ASSERT_TRUE(users().set_email_verified("u1", true, kT0 + seconds{10}));
  auto yes = users().find_user_by_id("u1");
  ASSERT_TRUE(yes);
  EXPECT_TRUE(yes->email_verified);
  EXPECT_EQ(yes->updated_at, kT0 + seconds{10});
  EXPECT_FALSE(users().find_user_by_id("u2")->email_verified);  // only that user
  ASSERT_TRUE(users().set_email_verified("u1", false, kT0 + seconds{20}));
  EXPECT_FALSE(users().find_user_by_id("u1")->email_verified);
  EXPECT_ERROR(users().set_email_verified("ghost", true, kT0), StoreError::NotFound);
}

TEST_P(UserStoreConformance, UpdateEmailCompareAndSwapAndUniqueness) {
  ASSERT_TRUE(users().create_user(make_user("u1", "a@x.com")));
  ASSERT_TRUE(users().create_user(make_user("u2", "b@x.com")));
  // Another user's address: Conflict, and nothing changes.
  EXPECT_ERROR(users().update_email("u1", "a@x.com", "B@x.com", "b@x.com", kT0 + seconds{5}), StoreError::Conflict);
  EXPECT_EQ(users().find_user_by_id("u1")->email_normalized, "a@x.com");
  // A stale expected address: NotFound.
  EXPECT_ERROR(users().update_email("u1", "old@x.com", "C@x.com", "c@x.com", kT0), StoreError::NotFound);
  EXPECT_ERROR(users().update_email("ghost", "a@x.com", "C@x.com", "c@x.com", kT0), StoreError::NotFound);
  ASSERT_TRUE(users().update_email("u1", "a@x.com", "C@X.com", "c@x.com", kT0 + seconds{10}));
  auto u = users().find_user_by_email("c@x.com");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->id, "u1");
  EXPECT_EQ(u->email, "C@X.com");
  EXPECT_TRUE(u->email_verified);
  EXPECT_EQ(u->updated_at, kT0 + seconds{10});
  // The old address is free for someone else.
  EXPECT_ERROR(users().find_user_by_email("a@x.com"), StoreError::NotFound);
  EXPECT_TRUE(users().create_user(make_user("u3", "a@x.com")));
}

TEST_P(UserStoreConformance, SetDisabledUnknownUserIsNotFound) {
  EXPECT_ERROR(users().set_disabled("ghost", true, kT0), StoreError::NotFound);
}

TEST_P(UserStoreConformance, DeleteUser) {
  create_all({make_user("u1", "a@x.com"), make_user("u2", "b@x.com")});
  ASSERT_TRUE(users().delete_user("u1"));
  EXPECT_ERROR(users().find_user_by_id("u1"), StoreError::NotFound);
  EXPECT_ERROR(users().find_user_by_email("a@x.com"), StoreError::NotFound);
  EXPECT_TRUE(users().find_user_by_id("u2"));
  EXPECT_EQ(users().count_users().value_or(-1), 1);
  EXPECT_ERROR(users().delete_user("u1"), StoreError::NotFound);
  // The email and the id are free again.
  EXPECT_TRUE(users().create_user(make_user("u1", "a@x.com")));
}

TEST_P(UserStoreConformance, DeleteUserRemovesTheirFamiliesAndTokens) {
  create_all({make_user("u1", "a@x.com"), make_user("u2", "b@x.com")});
  TokenStore& tokens = store_->tokens();
  const auto token = [](std::string hash, std::string family, std::string user) {
    RefreshToken t;
    t.hash = std::move(hash);
    t.family_id = std::move(family);
    t.user_id = std::move(user);
    t.created_at = kT0;
    t.expires_at = kT0 + seconds{3600};
    t.auth_time = kT0;
    return t;
  };
  ASSERT_TRUE(tokens.create_family({"f1", "u1", kT0}, token("a1", "f1", "u1")));
  RefreshToken a2 = token("a2", "f1", "u1");
  a2.parent_hash = "a1";
  ASSERT_EQ(tokens.rotate("a1", a2, kT0 + seconds{1})->outcome, RotateOutcome::Rotated);
  ASSERT_TRUE(tokens.create_family({"f2", "u1", kT0}, token("b1", "f2", "u1")));
  ASSERT_TRUE(tokens.revoke_family("f2", "logout", kT0 + seconds{2}));
  ASSERT_TRUE(tokens.create_family({"f3", "u2", kT0}, token("c1", "f3", "u2")));

  ASSERT_TRUE(users().delete_user("u1"));
  for (const char* f : {"f1", "f2"}) EXPECT_ERROR(tokens.find_family(f), StoreError::NotFound);
  for (const char* t : {"a1", "a2", "b1"}) {
    EXPECT_ERROR(tokens.find_refresh(t), StoreError::NotFound);
  }
  EXPECT_TRUE(tokens.find_family("f3"));
  EXPECT_TRUE(tokens.find_refresh("c1"));
  // Nothing is left to collide with when the id is used again.
  ASSERT_TRUE(users().create_user(make_user("u1", "a@x.com")));
  ASSERT_TRUE(tokens.create_family({"f1", "u1", kT0}, token("a1", "f1", "u1")));
}

TEST_P(UserStoreConformance, DeleteUnknownUserIsNotFound) {
  EXPECT_ERROR(users().delete_user("ghost"), StoreError::NotFound);
}

TEST_P(UserStoreConformance, CountUsers) {
  EXPECT_EQ(users().count_users().value_or(-1), 0);
  create_all({make_user("u1", "a@x.com"), make_user("u2", "b@x.com"), make_user("u3", "c@x.com")});
  EXPECT_EQ(users().count_users().value_or(-1), 3);
}

TEST_P(UserStoreConformance, MigrateAgainIsANoOp) {
  ASSERT_TRUE(users().create_user(make_user("u1", "a@x.com")));
  auto again = store_->migrate();
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, kSchemaVersion);
  EXPECT_EQ(store_->schema_version().value_or(-1), kSchemaVersion);
  EXPECT_TRUE(users().find_user_by_id("u1"));
}

TEST_P(UserStoreConformance, PingAndBackendName) {
  EXPECT_TRUE(store_->ping());
  EXPECT_EQ(store_->backend(), GetParam().name);
}

TEST_P(UserStoreConformance, ConcurrentCreatesOfOneEmailYieldOneWinner) {
  constexpr int kThreads = 16;
  std::latch start(kThreads);
  std::atomic<int> ok{0}, conflict{0}, other{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const User u = make_user(fmt::format("racer-{:02}", i), "same@example.com");
      start.arrive_and_wait();
      auto r = users().create_user(u);
      if (r) {
        ++ok;
      } else if (r.error().code == make_error_code(StoreError::Conflict)) {
        ++conflict;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflict.load(), kThreads - 1);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(users().count_users().value_or(-1), 1);
}

TEST_P(UserStoreConformance, ConcurrentDistinctCreatesAllSucceed) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50;
  std::latch start(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < kPerThread; ++i) {
        const auto id = fmt::format("t{}-{:03}", t, i);
        if (!users().create_user(make_user(id, id + "@example.com"))) ++failures;
        // Reads interleave with the writes on the reader pool.
        if (!users().find_user_by_id(id)) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(users().count_users().value_or(-1), kThreads * kPerThread);
  std::set<std::string> seen;
  std::optional<std::string> cursor;
  do {
    auto page = users().list_users(cursor, 128, std::nullopt);
    ASSERT_TRUE(page);
    for (const auto& u : page->users) EXPECT_TRUE(seen.insert(u.id).second) << u.id;
    cursor = page->next_cursor;
  } while (cursor);
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kPerThread));
}

INSTANTIATE_TEST_SUITE_P(Backends, UserStoreConformance, ::testing::ValuesIn(all_backends()));

// ---- Store lifecycle: a fresh database that has not been migrated ----------

class StoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    harness_->set_up();
  }
  std::unique_ptr<Harness> harness_;
};

TEST_P(StoreConformance, FreshDatabaseIsVersionZeroAndMigrateIsIdempotent) {
  auto store = harness_->open();
  ASSERT_TRUE(store) << store.error().message();
  EXPECT_EQ((*store)->schema_version().value_or(-1), 0);
  EXPECT_TRUE((*store)->ping());
  auto first = (*store)->migrate();
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(*first, kSchemaVersion);
  auto second = (*store)->migrate();
  ASSERT_TRUE(second) << second.error().message();
  EXPECT_EQ(*second, *first);
  EXPECT_EQ((*store)->schema_version().value_or(-1), kSchemaVersion);
}

TEST_P(StoreConformance, ConcurrentMigrateFromManyThreads) {
  auto store = harness_->open();
  ASSERT_TRUE(store) << store.error().message();
  constexpr int kThreads = 4;
  std::latch start(kThreads);
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      auto v = (*store)->migrate();
      if (v && *v == kSchemaVersion) ++good;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), kThreads);
  EXPECT_EQ((*store)->schema_version().value_or(-1), kSchemaVersion);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::ValuesIn(all_backends()));

}  // namespace
}  // namespace gh::store::testing
