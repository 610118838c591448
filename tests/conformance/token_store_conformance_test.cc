// The TokenStore contract (store/token_store.h), run against every backend in
// store_harness.h. Each test starts on its own fresh, migrated database with
// two users, u1 and u2. Token hashes are readable names here: the store
// treats them as opaque keys.
#include "store/token_store.h"

#include <algorithm>
#include <atomic>
#include <latch>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "conformance/store_harness.h"
#include "store/store.h"

namespace gh::store::testing {
namespace {

using std::chrono::days;
using std::chrono::seconds;

const Seconds kT0{seconds{1'900'000'000}};
constexpr seconds kTtl = days{30};

User make_user(const std::string& id) {
  User u;
  u.id = id;
  u.email = id + "@example.com";
  u.email_normalized = u.email;
  u.created_at = kT0;
  u.updated_at = kT0;
  return u;
}

RefreshFamily make_family(std::string id, std::string user_id, Seconds created = kT0) {
  RefreshFamily f;
  f.id = std::move(id);
  f.user_id = std::move(user_id);
  f.created_at = created;
  return f;
}

// The first token of `family`, issued at `created`, valid for kTtl.
RefreshToken make_token(std::string hash, const RefreshFamily& family, Seconds created = kT0) {
  RefreshToken t;
  t.hash = std::move(hash);
  t.family_id = family.id;
  t.user_id = family.user_id;
  t.created_at = created;
  t.expires_at = created + kTtl;
  t.auth_time = kT0 - seconds{10};
  t.client_id = "web";
  t.amr = "pwd";
  return t;
}

// The token that replaces `parent` at `now`, as the token service builds it.
RefreshToken child_of(const RefreshToken& parent, std::string hash, Seconds now) {
  RefreshToken t;
  t.hash = std::move(hash);
  t.family_id = parent.family_id;
  t.user_id = parent.user_id;
  t.parent_hash = parent.hash;
  t.created_at = now;
  t.expires_at = now + kTtl;
  t.auth_time = parent.auth_time;
  t.client_id = parent.client_id;
  t.amr = parent.amr;
  return t;
}

void expect_same_token(const RefreshToken& a, const RefreshToken& b) {
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.family_id, b.family_id);
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.parent_hash, b.parent_hash);
  EXPECT_EQ(a.child_hash, b.child_hash);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.rotated_at, b.rotated_at);
  EXPECT_EQ(a.auth_time, b.auth_time);
  EXPECT_EQ(a.client_id, b.client_id);
  EXPECT_EQ(a.amr, b.amr);
}

void expect_same_family(const RefreshFamily& a, const RefreshFamily& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.revoked_at, b.revoked_at);
  EXPECT_EQ(a.revoked_reason, b.revoked_reason);
}

#define EXPECT_ERROR(expr, err)                                                         \
  do {                                                                                  \
    const auto& result_ = (expr);                                                       \
    ASSERT_FALSE(result_.has_value()) << #expr " succeeded";                            \
    EXPECT_EQ(result_.error().code, make_error_code(err)) << result_.error().message(); \
  } while (0)

class TokenStoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    harness_->set_up();
    if (HasFatalFailure()) return;
    store_ = open_migrated(*harness_);
    ASSERT_NE(store_, nullptr);
    for (const char* id : {"u1", "u2"}) ASSERT_TRUE(store_->users().create_user(make_user(id)));
  }
  void TearDown() override {
    store_.reset();
    harness_.reset();
  }
  TokenStore& tokens() { return store_->tokens(); }

  // Creates `family` with a first token `hash`; returns that token.
  RefreshToken start(const RefreshFamily& family, const std::string& hash) {
    RefreshToken first = make_token(hash, family, family.created_at);
    auto created = tokens().create_family(family, first);
    EXPECT_TRUE(created) << created.error().message();
    return first;
  }

  RefreshStatus status_of(const std::string& hash) {
    auto t = tokens().find_refresh(hash);
    EXPECT_TRUE(t) << hash << ": " << t.error().message();
    return t ? t->status : RefreshStatus{};
  }

  std::unique_ptr<Harness> harness_;
  std::unique_ptr<Store> store_;
};

// ---- create_family, find ------------------------------------------------------

TEST_P(TokenStoreConformance, CreateFamilyThenFind) {
  const RefreshFamily family = make_family("f1", "u1");
  RefreshToken first = make_token("a1", family);
  first.client_id.clear();  // an empty client id round-trips
  ASSERT_TRUE(tokens().create_family(family, first));

  auto found = tokens().find_refresh("a1");
  ASSERT_TRUE(found) << found.error().message();
  expect_same_token(*found, first);
  EXPECT_EQ(found->status, RefreshStatus::Active);
  EXPECT_FALSE(found->rotated_at.has_value());
  auto f = tokens().find_family("f1");
  ASSERT_TRUE(f) << f.error().message();
  expect_same_family(*f, family);
  EXPECT_FALSE(f->revoked_at.has_value());
}

TEST_P(TokenStoreConformance, FindUnknownIsNotFound) {
  EXPECT_ERROR(tokens().find_refresh("nope"), StoreError::NotFound);
  EXPECT_ERROR(tokens().find_family("nope"), StoreError::NotFound);
}

TEST_P(TokenStoreConformance, DuplicateFamilyIdIsConflict) {
  const RefreshFamily family = make_family("f1", "u1");
  start(family, "a1");
  EXPECT_ERROR(tokens().create_family(make_family("f1", "u2"), make_token("b1", family)),
               StoreError::Conflict);
  EXPECT_ERROR(tokens().find_refresh("b1"), StoreError::NotFound);
  EXPECT_EQ(tokens().find_family("f1")->user_id, "u1");
}

TEST_P(TokenStoreConformance, DuplicateTokenHashIsConflictAndCreatesNoFamily) {
  start(make_family("f1", "u1"), "a1");
  const RefreshFamily second = make_family("f2", "u2");
  EXPECT_ERROR(tokens().create_family(second, make_token("a1", second)), StoreError::Conflict);
  // One transaction: the family inserted before the token failed is gone too.
  EXPECT_ERROR(tokens().find_family("f2"), StoreError::NotFound);
  EXPECT_EQ(tokens().find_refresh("a1")->family_id, "f1");
}

TEST_P(TokenStoreConformance, CreateFamilyForUnknownUserIsNotFound) {
  const RefreshFamily family = make_family("f1", "ghost");
  EXPECT_ERROR(tokens().create_family(family, make_token("a1", family)), StoreError::NotFound);
  EXPECT_ERROR(tokens().find_family("f1"), StoreError::NotFound);
  EXPECT_ERROR(tokens().find_refresh("a1"), StoreError::NotFound);
}

// amr (how the user authenticated) is stored as given on the first token and
// on each child, and read back by find_refresh and by both rotate outcomes.
TEST_P(TokenStoreConformance, AmrRoundTripsThroughCreateRotateAndFind) {
  const RefreshFamily family = make_family("f1", "u1");
  RefreshToken first = make_token("a1", family);
  first.amr = "pwd otp";
  ASSERT_TRUE(tokens().create_family(family, first));
  auto found = tokens().find_refresh("a1");
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->amr, "pwd otp");

  // The child carries what the caller put on it (the service copies the parent's).
  const Seconds t1 = kT0 + seconds{60};
  const RefreshToken child = child_of(first, "a2", t1);
  auto r = tokens().rotate("a1", child, t1);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->outcome, RotateOutcome::Rotated);
  EXPECT_EQ(r->current.amr, "pwd otp");
  ASSERT_TRUE(r->child.has_value());
  EXPECT_EQ(r->child->amr, "pwd otp");
  EXPECT_EQ(tokens().find_refresh("a2")->amr, "pwd otp");
  EXPECT_EQ(tokens().find_refresh("a1")->amr, "pwd otp");

  // A replay reads the child's row back from the store, amr included.
  const Seconds t2 = kT0 + seconds{90};
  r = tokens().rotate("a1", child_of(first, "a2-other", t2), t2);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->outcome, RotateOutcome::NotActive);
  EXPECT_EQ(r->current.amr, "pwd otp");
  ASSERT_TRUE(r->child.has_value());
  EXPECT_EQ(r->child->amr, "pwd otp");

  // A child may carry a different value (stored as given), and an empty amr
  // round-trips as empty.
  RefreshToken grandchild = child_of(child, "a3", t2);
  grandchild.amr = "pwd otp mfa";
  r = tokens().rotate("a2", grandchild, t2);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->outcome, RotateOutcome::Rotated);
  EXPECT_EQ(r->current.amr, "pwd otp");
  EXPECT_EQ(tokens().find_refresh("a3")->amr, "pwd otp mfa");
  const RefreshFamily other = make_family("f2", "u2");
  RefreshToken bare = make_token("b1", other);
  bare.amr.clear();
  ASSERT_TRUE(tokens().create_family(other, bare));
  EXPECT_EQ(tokens().find_refresh("b1")->amr, "");
}

// ---- rotate ---------------------------------------------------------------------

TEST_P(TokenStoreConformance, RotateActiveTokenStoresTheChild) {
  const RefreshFamily family = make_family("f1", "u1");
  const RefreshToken parent = start(family, "a1");
  const Seconds now = kT0 + seconds{60};
  const RefreshToken child = child_of(parent, "a2", now);

  auto r = tokens().rotate("a1", child, now);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->outcome, RotateOutcome::Rotated);
  EXPECT_EQ(r->current.hash, "a1");
  EXPECT_EQ(r->current.status, RefreshStatus::Rotated);
  EXPECT_EQ(r->current.rotated_at, now);
  EXPECT_EQ(r->current.child_hash, "a2");
  ASSERT_TRUE(r->child.has_value());
  expect_same_token(*r->child, child);
  ASSERT_TRUE(r->family.has_value());
  expect_same_family(*r->family, family);

  auto stored_child = tokens().find_refresh("a2");
  ASSERT_TRUE(stored_child) << stored_child.error().message();
  expect_same_token(*stored_child, child);
  EXPECT_EQ(stored_child->status, RefreshStatus::Active);
  RefreshToken rotated = parent;
  rotated.status = RefreshStatus::Rotated;
  rotated.rotated_at = now;
  rotated.child_hash = "a2";
  expect_same_token(*tokens().find_refresh("a1"), rotated);
}

TEST_P(TokenStoreConformance, RotateAgainIsNotActiveAndShowsTheChild) {
  const RefreshToken parent = start(make_family("f1", "u1"), "a1");
  const Seconds t1 = kT0 + seconds{60};
  ASSERT_EQ(tokens().rotate("a1", child_of(parent, "a2", t1), t1)->outcome, RotateOutcome::Rotated);

  // The same token presented again: a replay, or a client that lost the reply.
  const Seconds t2 = kT0 + seconds{90};
  auto r = tokens().rotate("a1", child_of(parent, "a2-other", t2), t2);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->outcome, RotateOutcome::NotActive);
  EXPECT_EQ(r->current.status, RefreshStatus::Rotated);
  EXPECT_EQ(r->current.rotated_at, t1) << "the first rotation's time is kept";
  EXPECT_EQ(r->current.child_hash, "a2");
  ASSERT_TRUE(r->child.has_value());
  EXPECT_EQ(r->child->hash, "a2");
  EXPECT_EQ(r->child->status, RefreshStatus::Active);
  EXPECT_EQ(r->child->created_at, t1);
  ASSERT_TRUE(r->family.has_value());
  EXPECT_EQ(r->family->id, "f1");
  EXPECT_ERROR(tokens().find_refresh("a2-other"), StoreError::NotFound);
}

TEST_P(TokenStoreConformance, RotateTheChildContinuesTheChain) {
  const RefreshToken a1 = start(make_family("f1", "u1"), "a1");
  const RefreshToken a2 = child_of(a1, "a2", kT0 + seconds{10});
  ASSERT_EQ(tokens().rotate("a1", a2, kT0 + seconds{10})->outcome, RotateOutcome::Rotated);
  auto r = tokens().rotate("a2", child_of(a2, "a3", kT0 + seconds{20}), kT0 + seconds{20});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->outcome, RotateOutcome::Rotated);
  EXPECT_EQ(status_of("a1"), RefreshStatus::Rotated);
  EXPECT_EQ(status_of("a2"), RefreshStatus::Rotated);
  EXPECT_EQ(status_of("a3"), RefreshStatus::Active);
  EXPECT_EQ(tokens().find_refresh("a3")->parent_hash, "a2");
  EXPECT_EQ(tokens().find_refresh("a3")->auth_time, a1.auth_time);
}

TEST_P(TokenStoreConformance, RotateExpiredTokenIsNotActiveAndChangesNothing) {
  const RefreshToken a1 = start(make_family("f1", "u1"), "a1");
  // Valid while now < expires_at: at expires_at exactly it is expired.
  for (const Seconds now : {a1.expires_at, a1.expires_at + seconds{1}, a1.expires_at + days{400}}) {
    auto r = tokens().rotate("a1", child_of(a1, "a2", now), now);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->outcome, RotateOutcome::NotActive);
    expect_same_token(r->current, a1);
    EXPECT_FALSE(r->child.has_value());
    ASSERT_TRUE(r->family.has_value());
    EXPECT_EQ(r->family->id, "f1");
  }
  expect_same_token(*tokens().find_refresh("a1"), a1);
  EXPECT_ERROR(tokens().find_refresh("a2"), StoreError::NotFound);

  const Seconds last_second = a1.expires_at - seconds{1};
  auto r = tokens().rotate("a1", child_of(a1, "a2", last_second), last_second);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->outcome, RotateOutcome::Rotated);
}

TEST_P(TokenStoreConformance, RotateInRevokedFamilyIsNotActive) {
  const RefreshToken a1 = start(make_family("f1", "u1"), "a1");
  ASSERT_TRUE(tokens().revoke_family("f1", "logout", kT0 + seconds{5}));
  auto r = tokens().rotate("a1", child_of(a1, "a2", kT0 + seconds{6}), kT0 + seconds{6});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->outcome, RotateOutcome::NotActive);
  EXPECT_EQ(r->current.status, RefreshStatus::Revoked);
  EXPECT_FALSE(r->current.rotated_at.has_value());
  EXPECT_FALSE(r->child.has_value());
  ASSERT_TRUE(r->family.has_value());
  EXPECT_EQ(r->family->revoked_at, kT0 + seconds{5});
  EXPECT_EQ(r->family->revoked_reason, "logout");
  EXPECT_ERROR(tokens().find_refresh("a2"), StoreError::NotFound);
}

TEST_P(TokenStoreConformance, RotateUnknownTokenIsNotFound) {
  const RefreshToken a1 = start(make_family("f1", "u1"), "a1");
  auto r = tokens().rotate("nope", child_of(a1, "a2", kT0), kT0);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->outcome, RotateOutcome::NotFound);
  EXPECT_FALSE(r->child.has_value());
  EXPECT_FALSE(r->family.has_value());
  EXPECT_ERROR(tokens().find_refresh("a2"), StoreError::NotFound);
  EXPECT_EQ(status_of("a1"), RefreshStatus::Active);
}

TEST_P(TokenStoreConformance, RotateOntoAnExistingHashIsConflictAndChangesNothing) {
  const RefreshToken a1 = start(make_family("f1", "u1"), "a1");
  const RefreshToken b1 = start(make_family("f2", "u1"), "b1");
  EXPECT_ERROR(tokens().rotate("a1", child_of(a1, "b1", kT0 + seconds{1}), kT0 + seconds{1}),
               StoreError::Conflict);
  // The swap was rolled back with the failed insert.
  expect_same_token(*tokens().find_refresh("a1"), a1);
  expect_same_token(*tokens().find_refresh("b1"), b1);
  EXPECT_EQ(tokens().rotate("a1", child_of(a1, "a2", kT0 + seconds{2}), kT0 + seconds{2})->outcome,
            RotateOutcome::Rotated);
}

// Many servers receive the same refresh token at once (a client retrying, or
// an attacker racing the client): exactly one may get a new token.
TEST_P(TokenStoreConformance, ConcurrentRotationsOfOneTokenHaveOneWinner) {
  constexpr int kThreads = 50;
  // On a shared backend the callers are spread over several Stores, as over
  // several server processes: SQLite writers then wait on each other's file
  // lock (busy timeout), PostgreSQL sessions on the token's row lock.
  std::vector<std::unique_ptr<Store>> more;
  std::vector<Store*> stores{store_.get()};
  if (GetParam().shared) {
    StoreOptions options;
    options.pool_size = 12;
    for (int i = 0; i < 4; ++i) {
      more.push_back(open_migrated(*harness_, options));
      ASSERT_NE(more.back(), nullptr);
      stores.push_back(more.back().get());
    }
  }
  const RefreshToken parent = start(make_family("f1", "u1"), "a1");
  const Seconds now = kT0 + seconds{30};

  std::latch go(kThreads);
  std::vector<Result<RotateResult>> results(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const RefreshToken child = child_of(parent, fmt::format("a2-{:02}", i), now);
      Store& store = *stores[static_cast<std::size_t>(i) % stores.size()];
      go.arrive_and_wait();
      results[static_cast<std::size_t>(i)] = store.tokens().rotate("a1", child, now);
    });
  }
  for (auto& t : threads) t.join();

  std::vector<std::string> winners;
  int not_active = 0;
  for (int i = 0; i < kThreads; ++i) {
    const auto& r = results[static_cast<std::size_t>(i)];
    ASSERT_TRUE(r) << "caller " << i << ": " << r.error().message();
    if (r->outcome == RotateOutcome::Rotated) {
      winners.push_back(fmt::format("a2-{:02}", i));
      EXPECT_EQ(r->current.child_hash, winners.back());
    } else {
      EXPECT_EQ(r->outcome, RotateOutcome::NotActive) << "caller " << i;
      ++not_active;
    }
  }
  ASSERT_EQ(winners.size(), 1u);
  EXPECT_EQ(not_active, kThreads - 1);
  // Every loser saw the winner's committed swap and child.
  for (const auto& r : results) {
    if (r->outcome != RotateOutcome::NotActive) continue;
    EXPECT_EQ(r->current.status, RefreshStatus::Rotated);
    EXPECT_EQ(r->current.child_hash, winners[0]);
    ASSERT_TRUE(r->child.has_value());
    EXPECT_EQ(r->child->hash, winners[0]);
  }
  auto stored = tokens().find_refresh("a1");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->status, RefreshStatus::Rotated);
  EXPECT_EQ(stored->child_hash, winners[0]);
  int children = 0;
  for (int i = 0; i < kThreads; ++i) {
    if (tokens().find_refresh(fmt::format("a2-{:02}", i))) ++children;
  }
  EXPECT_EQ(children, 1) << "exactly one child row";
  EXPECT_EQ(status_of(winners[0]), RefreshStatus::Active);
}

// A revocation racing a chain of rotations must not leave an Active token
// behind in the revoked family (e.g. a child inserted while it ran).
TEST_P(TokenStoreConformance, RevokeRacingRotationsLeavesNoActiveToken) {
  constexpr int kRounds = 10;
  constexpr int kChain = 30;
  for (int round = 0; round < kRounds; ++round) {
    const RefreshFamily family = make_family(fmt::format("f{}", round), "u1");
    RefreshToken head = start(family, fmt::format("r{}-0", round));
    std::vector<std::string> issued{head.hash};
    std::latch go(2);
    std::thread rotator([&] {
      go.arrive_and_wait();
      for (int i = 1; i <= kChain; ++i) {
        const Seconds now = kT0 + seconds{i};
        RefreshToken next = child_of(head, fmt::format("r{}-{}", round, i), now);
        auto r = tokens().rotate(head.hash, next, now);
        if (!r || r->outcome != RotateOutcome::Rotated) break;
        issued.push_back(next.hash);
        head = std::move(next);
      }
    });
    go.arrive_and_wait();
    ASSERT_TRUE(tokens().revoke_family(family.id, "reuse", kT0 + seconds{5}));
    rotator.join();
    for (const auto& hash : issued) {
      EXPECT_EQ(status_of(hash), RefreshStatus::Revoked) << hash << " of " << issued.size();
    }
  }
}

// ---- revoke ---------------------------------------------------------------------

TEST_P(TokenStoreConformance, RevokeFamilyRevokesEveryTokenAndIsIdempotent) {
  const RefreshToken a1 = start(make_family("f1", "u1"), "a1");
  const RefreshToken a2 = child_of(a1, "a2", kT0 + seconds{10});
  ASSERT_EQ(tokens().rotate("a1", a2, kT0 + seconds{10})->outcome, RotateOutcome::Rotated);
  start(make_family("f2", "u1"), "b1");

  ASSERT_TRUE(tokens().revoke_family("f1", "logout", kT0 + seconds{20}));
  auto f1 = tokens().find_family("f1");
  ASSERT_TRUE(f1);
  EXPECT_EQ(f1->revoked_at, kT0 + seconds{20});
  EXPECT_EQ(f1->revoked_reason, "logout");
  EXPECT_EQ(status_of("a1"), RefreshStatus::Revoked);
  EXPECT_EQ(status_of("a2"), RefreshStatus::Revoked);
  // Revoking keeps the history: which token replaced which, and when.
  EXPECT_EQ(tokens().find_refresh("a1")->child_hash, "a2");
  EXPECT_EQ(tokens().find_refresh("a1")->rotated_at, kT0 + seconds{10});
  EXPECT_EQ(status_of("b1"), RefreshStatus::Active);
  EXPECT_FALSE(tokens().find_family("f2")->revoked_at.has_value());

  // Again, later, for another reason: the first revocation stands.
  ASSERT_TRUE(tokens().revoke_family("f1", "reuse", kT0 + seconds{99}));
  f1 = tokens().find_family("f1");
  ASSERT_TRUE(f1);
  EXPECT_EQ(f1->revoked_at, kT0 + seconds{20});
  EXPECT_EQ(f1->revoked_reason, "logout");
  EXPECT_EQ(status_of("a2"), RefreshStatus::Revoked);
}

TEST_P(TokenStoreConformance, RevokeUnknownFamilyIsNotFound) {
  EXPECT_ERROR(tokens().revoke_family("nope", "logout", kT0), StoreError::NotFound);
}

TEST_P(TokenStoreConformance, RevokeUserFamiliesKeepsOneAndReturnsTheRevokedIds) {
  start(make_family("f1", "u1"), "a1");
  const RefreshToken b1 = start(make_family("f2", "u1"), "b1");
  ASSERT_EQ(tokens().rotate("b1", child_of(b1, "b2", kT0 + seconds{1}), kT0 + seconds{1})->outcome,
            RotateOutcome::Rotated);
  start(make_family("f3", "u1"), "c1");
  start(make_family("f4", "u1"), "d1");
  ASSERT_TRUE(tokens().revoke_family("f4", "logout", kT0 + seconds{2}));
  start(make_family("f5", "u2"), "e1");

  // Log out everywhere else: f1 is the session asking.
  auto revoked = tokens().revoke_user_families("u1", "f1", "logout_all", kT0 + seconds{3});
  ASSERT_TRUE(revoked) << revoked.error().message();
  EXPECT_EQ(*revoked, (std::vector<std::string>{"f2", "f3"}));
  EXPECT_FALSE(tokens().find_family("f1")->revoked_at.has_value());
  EXPECT_EQ(status_of("a1"), RefreshStatus::Active);
  for (const char* f : {"f2", "f3"}) {
    auto family = tokens().find_family(f);
    ASSERT_TRUE(family);
    EXPECT_EQ(family->revoked_at, kT0 + seconds{3}) << f;
    EXPECT_EQ(family->revoked_reason, "logout_all") << f;
  }
  for (const char* t : {"b1", "b2", "c1", "d1"})
    EXPECT_EQ(status_of(t), RefreshStatus::Revoked) << t;
  EXPECT_EQ(tokens().find_family("f4")->revoked_reason, "logout") << "already revoked: untouched";
  EXPECT_EQ(tokens().find_family("f4")->revoked_at, kT0 + seconds{2});
  EXPECT_EQ(status_of("e1"), RefreshStatus::Active) << "another user's family";

  // A password change: every family, none kept.
  revoked = tokens().revoke_user_families("u1", "", "password_change", kT0 + seconds{4});
  ASSERT_TRUE(revoked);
  EXPECT_EQ(*revoked, (std::vector<std::string>{"f1"}));
  EXPECT_EQ(status_of("a1"), RefreshStatus::Revoked);
  revoked = tokens().revoke_user_families("u1", "", "password_change", kT0 + seconds{5});
  ASSERT_TRUE(revoked);
  EXPECT_TRUE(revoked->empty());
  revoked = tokens().revoke_user_families("ghost", "", "password_change", kT0);
  ASSERT_TRUE(revoked);
  EXPECT_TRUE(revoked->empty());
}

// ---- denylist ---------------------------------------------------------------------

TEST_P(TokenStoreConformance, DenyJtiFiltersByExpiryAndKeepsTheLatest) {
  ASSERT_TRUE(tokens().deny_jti({"j1", kT0 + seconds{10}}));
  ASSERT_TRUE(tokens().deny_jti({"j2", kT0 + seconds{20}}));
  ASSERT_TRUE(tokens().deny_jti({"j2", kT0 + seconds{20}}));  // idempotent

  auto all = tokens().denied_jtis(kT0);
  ASSERT_TRUE(all) << all.error().message();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].jti, "j1");
  EXPECT_EQ((*all)[0].expires_at, kT0 + seconds{10});
  EXPECT_EQ((*all)[1].jti, "j2");
  // Live while expires_at > now.
  auto later = tokens().denied_jtis(kT0 + seconds{10});
  ASSERT_TRUE(later);
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ((*later)[0].jti, "j2");
  EXPECT_TRUE(tokens().denied_jtis(kT0 + seconds{20})->empty());

  ASSERT_TRUE(tokens().deny_jti({"j1", kT0 + seconds{30}}));
  ASSERT_TRUE(tokens().deny_jti({"j1", kT0 + seconds{5}}));  // an earlier expiry never shortens it
  auto j1 = tokens().denied_jtis(kT0 + seconds{25});
  ASSERT_TRUE(j1);
  ASSERT_EQ(j1->size(), 1u);
  EXPECT_EQ((*j1)[0].jti, "j1");
  EXPECT_EQ((*j1)[0].expires_at, kT0 + seconds{30});
}

TEST_P(TokenStoreConformance, DenySubjectUpsertKeepsTheMaximum) {
  ASSERT_TRUE(tokens().deny_subject({"u1", kT0 + seconds{10}, kT0 + seconds{100}}));
  ASSERT_TRUE(tokens().deny_subject({"u1", kT0 + seconds{5}, kT0 + seconds{200}}));
  auto s = tokens().denied_subjects(kT0);
  ASSERT_TRUE(s) << s.error().message();
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].user_id, "u1");
  EXPECT_EQ((*s)[0].not_before, kT0 + seconds{10});
  EXPECT_EQ((*s)[0].expires_at, kT0 + seconds{200});

  ASSERT_TRUE(tokens().deny_subject({"u1", kT0 + seconds{20}, kT0 + seconds{50}}));
  ASSERT_TRUE(tokens().deny_subject({"u2", kT0 + seconds{1}, kT0 + seconds{60}}));
  s = tokens().denied_subjects(kT0);
  ASSERT_TRUE(s);
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].user_id, "u1");
  EXPECT_EQ((*s)[0].not_before, kT0 + seconds{20});
  EXPECT_EQ((*s)[0].expires_at, kT0 + seconds{200});
  EXPECT_EQ((*s)[1].user_id, "u2");

  s = tokens().denied_subjects(kT0 + seconds{60});
  ASSERT_TRUE(s);
  ASSERT_EQ(s->size(), 1u);
  EXPECT_EQ((*s)[0].user_id, "u1");
  EXPECT_TRUE(tokens().denied_subjects(kT0 + seconds{200})->empty());
}

// ---- purge ------------------------------------------------------------------------

TEST_P(TokenStoreConformance, PurgeDeletesExpiredRowsAndCountsThem) {
  const Seconds now = kT0 + days{100};
  constexpr seconds kKeep = days{7};
  const Seconds cutoff = now - kKeep;

  // f1: both tokens expired at or before the cutoff, so the family goes too.
  const RefreshFamily f1 = make_family("f1", "u1");
  RefreshToken a1 = make_token("a1", f1);
  a1.expires_at = cutoff - seconds{1};
  ASSERT_TRUE(tokens().create_family(f1, a1));
  RefreshToken a2 = child_of(a1, "a2", kT0 + seconds{1});
  a2.expires_at = cutoff;
  ASSERT_EQ(tokens().rotate("a1", a2, kT0 + seconds{1})->outcome, RotateOutcome::Rotated);
  // f2: its token expired after the cutoff (within `keep`): all stays.
  const RefreshFamily f2 = make_family("f2", "u1");
  RefreshToken b1 = make_token("b1", f2);
  b1.expires_at = cutoff + seconds{1};
  ASSERT_TRUE(tokens().create_family(f2, b1));
  // f3: its token goes, but the family is not older than the cutoff.
  const RefreshFamily f3 = make_family("f3", "u2", cutoff);
  RefreshToken c1 = make_token("c1", f3, cutoff);
  c1.expires_at = cutoff;
  ASSERT_TRUE(tokens().create_family(f3, c1));
  // Denylist rows: gone once expires_at <= now.
  ASSERT_TRUE(tokens().deny_jti({"j1", now}));
  ASSERT_TRUE(tokens().deny_jti({"j2", now + seconds{1}}));
  ASSERT_TRUE(tokens().deny_subject({"u1", kT0, now - seconds{1}}));
  ASSERT_TRUE(tokens().deny_subject({"u2", kT0, now + seconds{60}}));

  auto purged = tokens().purge(now, kKeep);
  ASSERT_TRUE(purged) << purged.error().message();
  EXPECT_EQ(*purged, 6) << "a1, a2, f1, c1, j1 and u1's denial";

  for (const char* t : {"a1", "a2", "c1"})
    EXPECT_ERROR(tokens().find_refresh(t), StoreError::NotFound);
  EXPECT_ERROR(tokens().find_family("f1"), StoreError::NotFound);
  EXPECT_TRUE(tokens().find_family("f2"));
  EXPECT_TRUE(tokens().find_refresh("b1"));
  EXPECT_TRUE(tokens().find_family("f3"));
  auto jtis = tokens().denied_jtis(kT0);
  ASSERT_TRUE(jtis);
  ASSERT_EQ(jtis->size(), 1u);
  EXPECT_EQ((*jtis)[0].jti, "j2");
  auto subjects = tokens().denied_subjects(kT0);
  ASSERT_TRUE(subjects);
  ASSERT_EQ(subjects->size(), 1u);
  EXPECT_EQ((*subjects)[0].user_id, "u2");

  auto again = tokens().purge(now, kKeep);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, 0);
  // A second later b1 and j2 expire, f2 is left empty, and f3 is old enough.
  auto later = tokens().purge(now + seconds{1}, kKeep);
  ASSERT_TRUE(later);
  EXPECT_EQ(*later, 4) << "b1, f2, f3 and j2";
  EXPECT_ERROR(tokens().find_family("f2"), StoreError::NotFound);
  EXPECT_ERROR(tokens().find_family("f3"), StoreError::NotFound);
  EXPECT_TRUE(tokens().denied_jtis(kT0)->empty());
  EXPECT_EQ(tokens().denied_subjects(kT0)->size(), 1u);
}

TEST_P(TokenStoreConformance, RotateAfterTheChildWasPurgedHasNoChild) {
  const RefreshToken a1 = start(make_family("f1", "u1"), "a1");
  RefreshToken a2 = child_of(a1, "a2", kT0 + seconds{1});
  a2.expires_at = kT0 + seconds{2};  // shorter-lived than its parent
  ASSERT_EQ(tokens().rotate("a1", a2, kT0 + seconds{1})->outcome, RotateOutcome::Rotated);
  ASSERT_EQ(tokens().purge(kT0 + seconds{2}, seconds{0}).value_or(-1), 1);

  auto r = tokens().rotate("a1", child_of(a1, "a3", kT0 + seconds{3}), kT0 + seconds{3});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->outcome, RotateOutcome::NotActive);
  EXPECT_EQ(r->current.child_hash, "a2");
  EXPECT_FALSE(r->child.has_value());
}

INSTANTIATE_TEST_SUITE_P(Backends, TokenStoreConformance, ::testing::ValuesIn(all_backends()));

}  // namespace
}  // namespace gh::store::testing
