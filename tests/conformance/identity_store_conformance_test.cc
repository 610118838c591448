// The IdentityStore contract (store/identity_store.h), run against every
// backend in store_harness.h. Each test starts on its own empty, migrated
// database with users u1 (password), u2 and u3 (no password).
#include "store/identity_store.h"

#include <algorithm>
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
constexpr std::string_view kIss = "https://op.example";

User make_user(const std::string& id, std::string password_hash = "") {
  User u;
  u.id = id;
  u.email = id + "@example.com";
  u.email_normalized = u.email;
  u.password_hash = std::move(password_hash);
  u.created_at = kT0;
  u.updated_at = kT0;
  return u;
}

Identity make_identity(const std::string& id, const std::string& user_id,
                       const std::string& subject, Seconds created = kT0) {
  Identity i;
  i.id = id;
  i.user_id = user_id;
  i.provider = "corp";
  i.issuer = std::string(kIss);
  i.subject = subject;
  i.email = user_id + "@corp.example";
  i.email_verified = true;
  i.name = "Name " + user_id;
  i.created_at = created;
  i.last_login_at = created;
  return i;
}

OAuthState make_state(const std::string& hash, OAuthStateKind kind, Seconds expires) {
  return OAuthState{hash, kind, R"({"k":"v"})", kT0, expires};
}

#define EXPECT_ERROR(expr, err)                                                         \
  do {                                                                                  \
    const auto& result_ = (expr);                                                       \
    ASSERT_FALSE(result_.has_value()) << #expr " succeeded";                            \
    EXPECT_EQ(result_.error().code, make_error_code(err)) << result_.error().message(); \
  } while (0)

class IdentityStoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    harness_->set_up();
    if (HasFatalFailure()) return;
    store_ = open_migrated(*harness_);
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(store_->users().create_user(make_user("u1", "$argon2id$fake")));
    ASSERT_TRUE(store_->users().create_user(make_user("u2")));
    ASSERT_TRUE(store_->users().create_user(make_user("u3")));
  }
  void TearDown() override {
    more_.clear();
    store_.reset();
    harness_.reset();
  }
  IdentityStore& ids() { return store_->identities(); }

  // As in the MFA suite: on a shared backend the callers of a race are spread
  // over several Stores, as over several server processes.
  std::vector<Store*> racing_stores(int threads) {
    std::vector<Store*> stores{store_.get()};
    if (!GetParam().shared) return stores;
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

// ---- identities -------------------------------------------------------------------

TEST_P(IdentityStoreConformance, CreateThenFindRoundTrips) {
  const Identity in = make_identity("i1", "u2", "sub-1");
  ASSERT_TRUE(ids().create_identity(in));
  auto found = ids().find_identity(kIss, "sub-1");
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->id, "i1");
  EXPECT_EQ(found->user_id, "u2");
  EXPECT_EQ(found->provider, "corp");
  EXPECT_EQ(found->issuer, kIss);
  EXPECT_EQ(found->subject, "sub-1");
  EXPECT_EQ(found->email, "u2@corp.example");
  EXPECT_TRUE(found->email_verified);
  EXPECT_EQ(found->name, "Name u2");
  EXPECT_EQ(found->created_at, kT0);
  EXPECT_EQ(found->last_login_at, kT0);
}

TEST_P(IdentityStoreConformance, FindIsExactOnIssuerAndSubject) {
  ASSERT_TRUE(ids().create_identity(make_identity("i1", "u2", "sub-1")));
  EXPECT_ERROR(ids().find_identity("https://op.example/", "sub-1"), StoreError::NotFound);
  EXPECT_ERROR(ids().find_identity("https://OP.example", "sub-1"), StoreError::NotFound);
  EXPECT_ERROR(ids().find_identity(kIss, "SUB-1"), StoreError::NotFound);
  EXPECT_ERROR(ids().find_identity("https://other.example", "sub-1"), StoreError::NotFound);
}

TEST_P(IdentityStoreConformance, SameSubjectAtAnotherIssuerIsAnotherIdentity) {
  ASSERT_TRUE(ids().create_identity(make_identity("i1", "u2", "42")));
  Identity other = make_identity("i2", "u3", "42");
  other.issuer = "https://github.com";
  ASSERT_TRUE(ids().create_identity(other));
  EXPECT_EQ(ids().find_identity("https://github.com", "42")->user_id, "u3");
  EXPECT_EQ(ids().find_identity(kIss, "42")->user_id, "u2");
}

TEST_P(IdentityStoreConformance, DuplicateIssuerSubjectOrIdIsConflict) {
  ASSERT_TRUE(ids().create_identity(make_identity("i1", "u2", "sub-1")));
  EXPECT_ERROR(ids().create_identity(make_identity("i2", "u3", "sub-1")), StoreError::Conflict);
  EXPECT_ERROR(ids().create_identity(make_identity("i1", "u3", "sub-2")), StoreError::Conflict);
  EXPECT_EQ(ids().list_identities("u3")->size(), 0U);
}

TEST_P(IdentityStoreConformance, CreateForAMissingUserIsNotFound) {
  EXPECT_ERROR(ids().create_identity(make_identity("i1", "nobody", "sub-1")), StoreError::NotFound);
  EXPECT_ERROR(ids().find_identity(kIss, "sub-1"), StoreError::NotFound);
}

TEST_P(IdentityStoreConformance, ListIsByCreationTimeThenId) {
  ASSERT_TRUE(ids().create_identity(make_identity("i-b", "u2", "s1", kT0 + seconds{5})));
  ASSERT_TRUE(ids().create_identity(make_identity("i-c", "u2", "s2", kT0)));
  ASSERT_TRUE(ids().create_identity(make_identity("i-a", "u2", "s3", kT0 + seconds{5})));
  ASSERT_TRUE(ids().create_identity(make_identity("i-z", "u3", "s4", kT0)));
  auto list = ids().list_identities("u2");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 3U);
  EXPECT_EQ((*list)[0].id, "i-c");
  EXPECT_EQ((*list)[1].id, "i-a");
  EXPECT_EQ((*list)[2].id, "i-b");
  EXPECT_TRUE(ids().list_identities("u1")->empty());
}

TEST_P(IdentityStoreConformance, UpdateLoginReplacesProfileFieldsOnly) {
  ASSERT_TRUE(ids().create_identity(make_identity("i1", "u2", "sub-1")));
  Identity changed = make_identity("i1", "u3", "other-sub");
  changed.email = "";
  changed.email_verified = false;
  changed.name = "Renamed";
  changed.last_login_at = kT0 + seconds{100};
  changed.created_at = kT0 + seconds{100};
  ASSERT_TRUE(ids().update_identity_login(changed));
  auto found = ids().find_identity(kIss, "sub-1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->user_id, "u2");
  EXPECT_EQ(found->email, "");
  EXPECT_FALSE(found->email_verified);
  EXPECT_EQ(found->name, "Renamed");
  EXPECT_EQ(found->created_at, kT0);
  EXPECT_EQ(found->last_login_at, kT0 + seconds{100});
  EXPECT_ERROR(ids().update_identity_login(make_identity("nope", "u2", "x")), StoreError::NotFound);
}

TEST_P(IdentityStoreConformance, CreateUserWithIdentityWritesBoth) {
  User u = make_user("u9");
  ASSERT_TRUE(ids().create_user_with_identity(u, make_identity("i9", "u9", "sub-9")));
  EXPECT_TRUE(store_->users().find_user_by_id("u9"));
  EXPECT_EQ(ids().find_identity(kIss, "sub-9")->user_id, "u9");
}

TEST_P(IdentityStoreConformance, CreateUserWithIdentityIsAllOrNothing) {
  ASSERT_TRUE(ids().create_identity(make_identity("i1", "u2", "sub-1")));
  // The identity is taken: the user must not be created either.
  EXPECT_ERROR(ids().create_user_with_identity(make_user("u9"), make_identity("i9", "u9", "sub-1")),
               StoreError::Conflict);
  EXPECT_ERROR(store_->users().find_user_by_id("u9"), StoreError::NotFound);
  // The email is taken: the identity must not be created either.
  User dup = make_user("u8");
  dup.email_normalized = "u2@example.com";
  EXPECT_ERROR(ids().create_user_with_identity(dup, make_identity("i8", "u8", "sub-8")),
               StoreError::Conflict);
  EXPECT_ERROR(ids().find_identity(kIss, "sub-8"), StoreError::NotFound);
  EXPECT_EQ(store_->users().count_users().value_or(-1), 3);
}

TEST_P(IdentityStoreConformance, ConcurrentFirstSignInsLeaveOneUserAndOneIdentity) {
  constexpr int kThreads = 8;
  const std::vector<Store*> stores = racing_stores(kThreads);
  ASSERT_FALSE(stores.empty());
  for (int round = 0; round < 5; ++round) {
    const std::string subject = fmt::format("race-{}", round);
    std::latch go(kThreads);
    std::vector<Status> results(kThreads, fail(StoreError::Internal));
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        Store& store = *stores[static_cast<std::size_t>(i) % stores.size()];
        const std::string uid = fmt::format("r{}-{}", round, i);
        User u = make_user(uid);
        u.email = u.email_normalized = subject + "@example.com";  // one person: one email
        go.arrive_and_wait();
        results[static_cast<std::size_t>(i)] = store.identities().create_user_with_identity(
            u, make_identity("id-" + uid, uid, subject));
      });
    }
    for (auto& th : threads) th.join();
    int winners = 0;
    for (const Status& r : results) {
      if (r) {
        ++winners;
      } else {
        EXPECT_EQ(r.error().code, make_error_code(StoreError::Conflict)) << r.error().message();
      }
    }
    ASSERT_EQ(winners, 1) << "round " << round;
    auto found = ids().find_identity(kIss, subject);
    ASSERT_TRUE(found);
    EXPECT_TRUE(store_->users().find_user_by_id(found->user_id));
    EXPECT_EQ(store_->users().count_users().value_or(-1), 3 + round + 1);
  }
}

TEST_P(IdentityStoreConformance, ConcurrentLinksOfOneIdentityLeaveOneRow) {
  constexpr int kThreads = 8;
  const std::vector<Store*> stores = racing_stores(kThreads);
  ASSERT_FALSE(stores.empty());
  std::latch go(kThreads);
  std::vector<Status> results(kThreads, fail(StoreError::Internal));
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      Store& store = *stores[static_cast<std::size_t>(i) % stores.size()];
      go.arrive_and_wait();
      results[static_cast<std::size_t>(i)] = store.identities().create_identity(
          make_identity(fmt::format("link-{}", i), i % 2 == 0 ? "u2" : "u3", "same-sub"));
    });
  }
  for (auto& th : threads) th.join();
  int winners = 0;
  for (const Status& r : results) {
    if (r) {
      ++winners;
    } else {
      EXPECT_EQ(r.error().code, make_error_code(StoreError::Conflict)) << r.error().message();
    }
  }
  EXPECT_EQ(winners, 1);
  EXPECT_EQ(ids().list_identities("u2")->size() + ids().list_identities("u3")->size(), 1U);
}

// ---- delete_identity (unlink) -----------------------------------------------------

TEST_P(IdentityStoreConformance, DeleteKeepsAUserWithAPassword) {
  ASSERT_TRUE(ids().create_identity(make_identity("i1", "u1", "sub-1")));
  ASSERT_TRUE(ids().delete_identity("u1", "i1"));
  EXPECT_ERROR(ids().find_identity(kIss, "sub-1"), StoreError::NotFound);
  EXPECT_ERROR(ids().delete_identity("u1", "i1"), StoreError::NotFound);
}

TEST_P(IdentityStoreConformance, DeletingTheLastWayInIsConflict) {
  ASSERT_TRUE(ids().create_identity(make_identity("i1", "u2", "sub-1")));
  ASSERT_TRUE(ids().create_identity(make_identity("i2", "u2", "sub-2")));
  ASSERT_TRUE(ids().delete_identity("u2", "i1"));
  EXPECT_ERROR(ids().delete_identity("u2", "i2"), StoreError::Conflict);
  EXPECT_EQ(ids().list_identities("u2")->size(), 1U);
}

TEST_P(IdentityStoreConformance, DeleteOfAnotherUsersIdentityIsNotFound) {
  ASSERT_TRUE(ids().create_identity(make_identity("i1", "u2", "sub-1")));
  ASSERT_TRUE(ids().create_identity(make_identity("i2", "u2", "sub-2")));
  EXPECT_ERROR(ids().delete_identity("u3", "i1"), StoreError::NotFound);
  EXPECT_ERROR(ids().delete_identity("u1", "i1"), StoreError::NotFound);
  EXPECT_EQ(ids().list_identities("u2")->size(), 2U);
}

TEST_P(IdentityStoreConformance, ConcurrentUnlinksOfTheLastTwoLeaveOne) {
  constexpr int kRounds = 10;
  const std::vector<Store*> stores = racing_stores(2);
  ASSERT_FALSE(stores.empty());
  for (int round = 0; round < kRounds; ++round) {
    // A password-less user with exactly two identities: one unlink may win.
    const std::string uid = fmt::format("v{}", round);
    ASSERT_TRUE(store_->users().create_user(make_user(uid)));
    const std::string a = uid + "-a", b = uid + "-b";
    ASSERT_TRUE(ids().create_identity(make_identity(a, uid, a)));
    ASSERT_TRUE(ids().create_identity(make_identity(b, uid, b)));
    std::latch go(2);
    Status ra = fail(StoreError::Internal), rb = fail(StoreError::Internal);
    std::thread ta([&] {
      go.arrive_and_wait();
      ra = stores[0]->identities().delete_identity(uid, a);
    });
    std::thread tb([&] {
      go.arrive_and_wait();
      rb = stores[1 % stores.size()]->identities().delete_identity(uid, b);
    });
    ta.join();
    tb.join();
    EXPECT_NE(ra.has_value(), rb.has_value()) << "round " << round;
    const Status& loser = ra ? rb : ra;
    if (!loser) {
      EXPECT_EQ(loser.error().code, make_error_code(StoreError::Conflict))
          << loser.error().message();
    }
    EXPECT_EQ(ids().list_identities(uid).value_or(std::vector<Identity>{}).size(), 1U)
        << "round " << round;
  }
}

TEST_P(IdentityStoreConformance, DeletingAUserDeletesTheirIdentitiesOnly) {
  ASSERT_TRUE(ids().create_identity(make_identity("i1", "u2", "sub-1")));
  ASSERT_TRUE(ids().create_identity(make_identity("i2", "u3", "sub-2")));
  ASSERT_TRUE(store_->users().delete_user("u2"));
  EXPECT_ERROR(ids().find_identity(kIss, "sub-1"), StoreError::NotFound);
  EXPECT_TRUE(ids().find_identity(kIss, "sub-2"));
  // The identity can be linked again to someone else.
  EXPECT_TRUE(ids().create_identity(make_identity("i3", "u3", "sub-1")));
}

// ---- flow state -------------------------------------------------------------------

TEST_P(IdentityStoreConformance, TakeStateIsSingleUse) {
  ASSERT_TRUE(ids().put_state(make_state("h1", OAuthStateKind::Flow, kT0 + seconds{600})));
  auto taken = ids().take_state("h1", OAuthStateKind::Flow, kT0 + seconds{1});
  ASSERT_TRUE(taken) << taken.error().message();
  EXPECT_EQ(taken->hash, "h1");
  EXPECT_EQ(taken->kind, OAuthStateKind::Flow);
  EXPECT_EQ(taken->data, R"({"k":"v"})");
  EXPECT_EQ(taken->created_at, kT0);
  EXPECT_EQ(taken->expires_at, kT0 + seconds{600});
  EXPECT_ERROR(ids().take_state("h1", OAuthStateKind::Flow, kT0 + seconds{1}),
               StoreError::NotFound);
}

TEST_P(IdentityStoreConformance, TakeStateChecksKindAndExpiry) {
  ASSERT_TRUE(ids().put_state(make_state("h1", OAuthStateKind::Code, kT0 + seconds{60})));
  EXPECT_ERROR(ids().take_state("h1", OAuthStateKind::Flow, kT0), StoreError::NotFound);
  EXPECT_ERROR(ids().take_state("h1", OAuthStateKind::Code, kT0 + seconds{60}),
               StoreError::NotFound);
  EXPECT_ERROR(ids().take_state("nope", OAuthStateKind::Code, kT0), StoreError::NotFound);
  EXPECT_ERROR(ids().put_state(make_state("h1", OAuthStateKind::Flow, kT0 + seconds{60})),
               StoreError::Conflict);
}

TEST_P(IdentityStoreConformance, PurgeStatesDeletesTheExpired) {
  ASSERT_TRUE(ids().put_state(make_state("old", OAuthStateKind::Flow, kT0 + seconds{10})));
  ASSERT_TRUE(ids().put_state(make_state("new", OAuthStateKind::Flow, kT0 + seconds{100})));
  EXPECT_EQ(ids().purge_states(kT0 + seconds{10}).value_or(-1), 1);
  EXPECT_ERROR(ids().take_state("old", OAuthStateKind::Flow, kT0), StoreError::NotFound);
  EXPECT_TRUE(ids().take_state("new", OAuthStateKind::Flow, kT0));
}

TEST_P(IdentityStoreConformance, ConcurrentTakersOfOneStateHaveOneWinner) {
  constexpr int kThreads = 8;
  const std::vector<Store*> stores = racing_stores(kThreads);
  ASSERT_FALSE(stores.empty());
  for (int round = 0; round < 5; ++round) {
    const std::string hash = fmt::format("h{}", round);
    ASSERT_TRUE(ids().put_state(make_state(hash, OAuthStateKind::Flow, kT0 + seconds{600})));
    std::latch go(kThreads);
    std::vector<bool> got(kThreads, false);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        Store& store = *stores[static_cast<std::size_t>(i) % stores.size()];
        go.arrive_and_wait();
        got[static_cast<std::size_t>(i)] =
            store.identities().take_state(hash, OAuthStateKind::Flow, kT0).has_value();
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(std::count(got.begin(), got.end(), true), 1) << "round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, IdentityStoreConformance, ::testing::ValuesIn(all_backends()));

}  // namespace
}  // namespace gh::store::testing
