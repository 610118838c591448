// The OneTimeTokenStore contract (store/onetime_store.h), run against every
// backend in store_harness.h. Each test starts on its own empty, migrated
// database with users u1, u2 and u3. Hashes are readable names here except
// where a real one is the point: the store treats them as opaque keys.
#include "store/onetime_store.h"

#include <latch>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "conformance/store_harness.h"
#include "store/store.h"

namespace gh::store::testing {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

const Seconds kT0{seconds{1'900'000'000}};
constexpr seconds kTtl = minutes{30};

constexpr TokenPurpose kAllPurposes[] = {TokenPurpose::PasswordReset, TokenPurpose::EmailVerify,
                                         TokenPurpose::EmailChange, TokenPurpose::MfaChallenge};

User make_user(const std::string& id) {
  User u;
  u.id = id;
  u.email = id + "@example.com";
  u.email_normalized = u.email;
  u.created_at = kT0;
  u.updated_at = kT0;
  return u;
}

OneTimeToken make_token(std::string hash, std::string user_id,
                        TokenPurpose purpose = TokenPurpose::PasswordReset, Seconds created = kT0,
                        std::string data = "") {
  return OneTimeToken{std::move(hash), purpose, std::move(user_id),
                      std::move(data), created, created + kTtl};
}

void expect_same(const OneTimeToken& a, const OneTimeToken& b) {
  EXPECT_EQ(a.hash, b.hash);
  EXPECT_EQ(a.purpose, b.purpose);
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.data, b.data);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.expires_at, b.expires_at);
}

#define EXPECT_ERROR(expr, err)                                                         \
  do {                                                                                  \
    const auto& result_ = (expr);                                                       \
    ASSERT_FALSE(result_.has_value()) << #expr " succeeded";                            \
    EXPECT_EQ(result_.error().code, make_error_code(err)) << result_.error().message(); \
  } while (0)

class OneTimeStoreConformance : public ::testing::TestWithParam<Backend> {
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
  OneTimeTokenStore& ott() { return store_->one_time_tokens(); }

  // Whether `hash` is still there for `purpose` at kT0 (neither consumed nor deleted).
  bool present(std::string_view hash, TokenPurpose purpose = TokenPurpose::PasswordReset) {
    return ott().find_token(hash, purpose, kT0).has_value();
  }

  std::unique_ptr<Harness> harness_;
  std::unique_ptr<Store> store_;
};

// ---- put / find / consume ---------------------------------------------------

TEST_P(OneTimeStoreConformance, EveryFieldRoundTripsExactly) {
  const std::string payload =
      "new-\xc3\xa9mail+\"quoted\"@exa'mple.com \xe2\x98\x83 \xf0\x9f\x94\x91 \\ % _ "
      "'; DROP TABLE one_time_tokens; --\n\ttab";
  OneTimeToken t{"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                 TokenPurpose::EmailChange,
                 "u1",
                 payload,
                 kT0 + seconds{7},
                 kT0 + seconds{7} + kTtl};
  ASSERT_TRUE(ott().put_token(t));
  auto found = ott().find_token(t.hash, t.purpose, kT0 + seconds{8});
  ASSERT_TRUE(found) << found.error().message();
  expect_same(*found, t);
  // find does not consume: twice is the same answer.
  found = ott().find_token(t.hash, t.purpose, kT0 + seconds{8});
  ASSERT_TRUE(found);
  expect_same(*found, t);
  auto consumed = ott().consume_token(t.hash, t.purpose, kT0 + seconds{9});
  ASSERT_TRUE(consumed) << consumed.error().message();
  expect_same(*consumed, t);

  // Every purpose, and an empty payload, round-trip too.
  for (const TokenPurpose p : kAllPurposes) {
    const OneTimeToken each = make_token(fmt::format("p{}", static_cast<int>(p)), "u2", p, kT0, "");
    ASSERT_TRUE(ott().put_token(each));
    auto back = ott().consume_token(each.hash, p, kT0);
    ASSERT_TRUE(back) << "purpose " << static_cast<int>(p);
    expect_same(*back, each);
  }
}

TEST_P(OneTimeStoreConformance, HashesAreExactKeys) {
  ASSERT_TRUE(ott().put_token(make_token("abcdef", "u1")));
  EXPECT_ERROR(ott().find_token("ABCDEF", TokenPurpose::PasswordReset, kT0), StoreError::NotFound);
  EXPECT_ERROR(ott().find_token("abcde", TokenPurpose::PasswordReset, kT0), StoreError::NotFound);
  EXPECT_ERROR(ott().find_token("abcdef ", TokenPurpose::PasswordReset, kT0), StoreError::NotFound);
  EXPECT_ERROR(ott().consume_token("ABCDEF", TokenPurpose::PasswordReset, kT0),
               StoreError::NotFound);
  EXPECT_TRUE(present("abcdef"));
}

TEST_P(OneTimeStoreConformance, PutRefusesADuplicateHashAndAMissingUser) {
  const OneTimeToken t = make_token("h1", "u1", TokenPurpose::PasswordReset, kT0, "first");
  ASSERT_TRUE(ott().put_token(t));
  // The hash is the key, whatever the other fields.
  EXPECT_ERROR(ott().put_token(t), StoreError::Conflict);
  EXPECT_ERROR(ott().put_token(make_token("h1", "u2", TokenPurpose::EmailVerify)),
               StoreError::Conflict);
  // Conflict before NotFound, as SQL checks the key before the foreign key.
  EXPECT_ERROR(ott().put_token(make_token("h1", "ghost")), StoreError::Conflict);
  EXPECT_ERROR(ott().put_token(make_token("h2", "ghost")), StoreError::NotFound);
  EXPECT_ERROR(ott().find_token("h2", TokenPurpose::PasswordReset, kT0), StoreError::NotFound);
  // The first token is untouched.
  auto found = ott().find_token("h1", TokenPurpose::PasswordReset, kT0);
  ASSERT_TRUE(found);
  expect_same(*found, t);
}

TEST_P(OneTimeStoreConformance, PutRefusesAPurposeOutsideTheEnum) {
  for (const int bad : {0, 5, 255}) {
    OneTimeToken t = make_token(fmt::format("bad{}", bad), "u1");
    t.purpose = static_cast<TokenPurpose>(bad);
    EXPECT_ERROR(ott().put_token(t), StoreError::Internal);
    EXPECT_EQ(ott().count_tokens("u1", t.purpose, kT0 - kTtl).value_or(-1), 0);
  }
}

// ---- NotFound: one answer for every reason ------------------------------------

TEST_P(OneTimeStoreConformance, UnknownHashIsNotFound) {
  EXPECT_ERROR(ott().find_token("nope", TokenPurpose::PasswordReset, kT0), StoreError::NotFound);
  EXPECT_ERROR(ott().consume_token("nope", TokenPurpose::PasswordReset, kT0), StoreError::NotFound);
  EXPECT_ERROR(ott().consume_token("", TokenPurpose::PasswordReset, kT0), StoreError::NotFound);
}

TEST_P(OneTimeStoreConformance, OtherPurposeIsNotFoundAndLeavesTheToken) {
  ASSERT_TRUE(ott().put_token(make_token("h1", "u1", TokenPurpose::EmailVerify)));
  for (const TokenPurpose p : kAllPurposes) {
    if (p == TokenPurpose::EmailVerify) continue;
    EXPECT_ERROR(ott().find_token("h1", p, kT0), StoreError::NotFound);
    EXPECT_ERROR(ott().consume_token("h1", p, kT0), StoreError::NotFound);
  }
  // A link of one kind cannot be spent as another, nor does trying spend it.
  auto consumed = ott().consume_token("h1", TokenPurpose::EmailVerify, kT0);
  ASSERT_TRUE(consumed);
  EXPECT_EQ(consumed->purpose, TokenPurpose::EmailVerify);
}

TEST_P(OneTimeStoreConformance, ExpiredIsNotFoundAndLeftForPurge) {
  ASSERT_TRUE(ott().put_token(make_token("h1", "u1")));
  const Seconds later = kT0 + kTtl + seconds{3600};
  EXPECT_ERROR(ott().find_token("h1", TokenPurpose::PasswordReset, later), StoreError::NotFound);
  EXPECT_ERROR(ott().consume_token("h1", TokenPurpose::PasswordReset, later), StoreError::NotFound);
  // The failed consume did not delete it: still there at an earlier time.
  EXPECT_TRUE(present("h1"));
  EXPECT_EQ(ott().purge_tokens(later).value_or(-1), 1);
  EXPECT_FALSE(present("h1"));
}

TEST_P(OneTimeStoreConformance, ConsumedIsNotFound) {
  ASSERT_TRUE(ott().put_token(make_token("h1", "u1")));
  ASSERT_TRUE(ott().consume_token("h1", TokenPurpose::PasswordReset, kT0 + seconds{1}));
  EXPECT_ERROR(ott().consume_token("h1", TokenPurpose::PasswordReset, kT0 + seconds{1}),
               StoreError::NotFound);
  EXPECT_ERROR(ott().find_token("h1", TokenPurpose::PasswordReset, kT0 + seconds{1}),
               StoreError::NotFound);
  // Gone for good: nothing left to revoke, count or purge.
  EXPECT_EQ(ott().count_tokens("u1", TokenPurpose::PasswordReset, kT0 - kTtl).value_or(-1), 0);
  EXPECT_EQ(ott().revoke_tokens("u1", TokenPurpose::PasswordReset).value_or(-1), 0);
  EXPECT_EQ(ott().purge_tokens(kT0 + kTtl * 10).value_or(-1), 0);
  // And the hash may be issued again (it is 256 random bits, so this is only
  // about the store not keeping a tombstone).
  EXPECT_TRUE(ott().put_token(make_token("h1", "u1")));
}

TEST_P(OneTimeStoreConformance, ExpiryBoundary) {
  const OneTimeToken t = make_token("h1", "u1");
  ASSERT_TRUE(ott().put_token(t));
  const Seconds last_valid = t.expires_at - seconds{1};
  // now < expires_at: valid; now == expires_at: expired.
  EXPECT_TRUE(ott().find_token("h1", TokenPurpose::PasswordReset, last_valid));
  EXPECT_ERROR(ott().find_token("h1", TokenPurpose::PasswordReset, t.expires_at),
               StoreError::NotFound);
  EXPECT_ERROR(ott().consume_token("h1", TokenPurpose::PasswordReset, t.expires_at),
               StoreError::NotFound);
  // Valid from its creation (and before: the store does not check created_at).
  EXPECT_TRUE(ott().find_token("h1", TokenPurpose::PasswordReset, t.created_at));
  // purge agrees: expires_at <= now.
  EXPECT_EQ(ott().purge_tokens(last_valid).value_or(-1), 0);
  auto consumed = ott().consume_token("h1", TokenPurpose::PasswordReset, last_valid);
  ASSERT_TRUE(consumed);
  expect_same(*consumed, t);

  ASSERT_TRUE(ott().put_token(make_token("h2", "u1")));
  EXPECT_EQ(ott().purge_tokens(t.expires_at).value_or(-1), 1);
  EXPECT_FALSE(present("h2"));
}

// ---- single use under concurrency ---------------------------------------------

// Two tabs (or a mail scanner and the person) open the same link at once:
// exactly one may get the token, every other caller NotFound.
TEST_P(OneTimeStoreConformance, ConcurrentConsumersOfOneTokenHaveOneWinner) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  StoreOptions options;
  options.pool_size = kThreads;
  // On a shared backend the callers are spread over several Stores, as over
  // several server processes: SQLite writers then race for the file's write
  // lock (busy timeout), PostgreSQL sessions for the row lock. One more Store
  // with a pool of kThreads connections takes half the callers.
  std::vector<std::unique_ptr<Store>> more;
  std::vector<Store*> stores{store_.get()};
  if (GetParam().shared) {
    for (int i = 0; i < 3; ++i) {
      more.push_back(open_migrated(*harness_, options));
      ASSERT_NE(more.back(), nullptr);
      stores.push_back(more.back().get());
    }
  }
  const Seconds now = kT0 + seconds{60};

  for (int round = 0; round < kRounds; ++round) {
    const OneTimeToken t =
        make_token(fmt::format("race-{:02}", round), "u1", TokenPurpose::MfaChallenge, kT0, "x");
    ASSERT_TRUE(ott().put_token(t));

    std::latch go(kThreads);
    std::vector<Result<OneTimeToken>> results(kThreads, fail(StoreError::Internal));
    std::vector<std::thread> threads;
    threads.reserve(kThreads);
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        Store& store = *stores[static_cast<std::size_t>(i) % stores.size()];
        go.arrive_and_wait();
        results[static_cast<std::size_t>(i)] =
            store.one_time_tokens().consume_token(t.hash, TokenPurpose::MfaChallenge, now);
      });
    }
    for (auto& th : threads) th.join();

    int winners = 0;
    for (int i = 0; i < kThreads; ++i) {
      const auto& r = results[static_cast<std::size_t>(i)];
      if (r) {
        ++winners;
        expect_same(*r, t);
      } else {
        EXPECT_EQ(r.error().code, make_error_code(StoreError::NotFound))
            << "round " << round << ", caller " << i << ": " << r.error().message();
      }
    }
    ASSERT_EQ(winners, 1) << "round " << round;
    EXPECT_FALSE(present(t.hash, TokenPurpose::MfaChallenge));
  }
}

// ---- revoke, count, purge -------------------------------------------------------

TEST_P(OneTimeStoreConformance, RevokeTouchesOnlyThatUserAndPurpose) {
  ASSERT_TRUE(ott().put_token(make_token("a1", "u1", TokenPurpose::PasswordReset)));
  ASSERT_TRUE(ott().put_token(make_token("a2", "u1", TokenPurpose::PasswordReset, kT0 - kTtl)));
  ASSERT_TRUE(ott().put_token(make_token("b1", "u1", TokenPurpose::EmailVerify)));
  ASSERT_TRUE(ott().put_token(make_token("c1", "u2", TokenPurpose::PasswordReset)));

  // Expired ones go too (a2 expired at kT0).
  EXPECT_EQ(ott().revoke_tokens("u1", TokenPurpose::PasswordReset).value_or(-1), 2);
  EXPECT_FALSE(present("a1"));
  EXPECT_FALSE(ott().find_token("a2", TokenPurpose::PasswordReset, kT0 - kTtl));
  EXPECT_TRUE(present("b1", TokenPurpose::EmailVerify));
  EXPECT_TRUE(present("c1"));

  EXPECT_EQ(ott().revoke_tokens("u1", TokenPurpose::PasswordReset).value_or(-1), 0);
  EXPECT_EQ(ott().revoke_tokens("u3", TokenPurpose::PasswordReset).value_or(-1), 0);
  EXPECT_EQ(ott().revoke_tokens("ghost", TokenPurpose::PasswordReset).value_or(-1), 0);
  EXPECT_EQ(ott().revoke_tokens("u1", TokenPurpose::EmailVerify).value_or(-1), 1);
  EXPECT_TRUE(present("c1"));
}

TEST_P(OneTimeStoreConformance, CountTokensSinceForOneUserAndPurpose) {
  const auto pr = TokenPurpose::PasswordReset;
  ASSERT_TRUE(ott().put_token(make_token("a0", "u1", pr, kT0)));
  ASSERT_TRUE(ott().put_token(make_token("a1", "u1", pr, kT0 + seconds{10})));
  ASSERT_TRUE(ott().put_token(make_token("a2", "u1", pr, kT0 + seconds{20})));
  ASSERT_TRUE(
      ott().put_token(make_token("b2", "u1", TokenPurpose::EmailVerify, kT0 + seconds{20})));
  ASSERT_TRUE(ott().put_token(make_token("c2", "u2", pr, kT0 + seconds{20})));

  EXPECT_EQ(ott().count_tokens("u1", pr, kT0 - seconds{1}).value_or(-1), 3);
  EXPECT_EQ(ott().count_tokens("u1", pr, kT0).value_or(-1), 3);
  // created_at >= since: the boundary counts.
  EXPECT_EQ(ott().count_tokens("u1", pr, kT0 + seconds{10}).value_or(-1), 2);
  EXPECT_EQ(ott().count_tokens("u1", pr, kT0 + seconds{11}).value_or(-1), 1);
  EXPECT_EQ(ott().count_tokens("u1", pr, kT0 + seconds{21}).value_or(-1), 0);
  EXPECT_EQ(ott().count_tokens("u1", TokenPurpose::EmailVerify, kT0).value_or(-1), 1);
  EXPECT_EQ(ott().count_tokens("u1", TokenPurpose::MfaChallenge, kT0).value_or(-1), 0);
  EXPECT_EQ(ott().count_tokens("u2", pr, kT0).value_or(-1), 1);
  EXPECT_EQ(ott().count_tokens("u3", pr, kT0).value_or(-1), 0);
  EXPECT_EQ(ott().count_tokens("ghost", pr, kT0).value_or(-1), 0);

  // Counted while stored: a consumed token no longer counts; an expired one
  // does until it is purged.
  ASSERT_TRUE(ott().consume_token("a2", pr, kT0 + seconds{21}));
  EXPECT_EQ(ott().count_tokens("u1", pr, kT0).value_or(-1), 2);
  const Seconds a0_expired = kT0 + kTtl;
  EXPECT_ERROR(ott().find_token("a0", pr, a0_expired), StoreError::NotFound);
  EXPECT_EQ(ott().count_tokens("u1", pr, kT0).value_or(-1), 2);
  EXPECT_EQ(ott().purge_tokens(a0_expired).value_or(-1), 1);
  EXPECT_EQ(ott().count_tokens("u1", pr, kT0).value_or(-1), 1);
}

TEST_P(OneTimeStoreConformance, PurgeDeletesExactlyTheExpired) {
  // Expiries kT0 + kTtl + {0, 10, 20, 30}, across users and purposes.
  int i = 0;
  for (const TokenPurpose p : kAllPurposes) {
    ASSERT_TRUE(ott().put_token(
        make_token(fmt::format("t{}", i), i % 2 == 0 ? "u1" : "u2", p, kT0 + seconds{10 * i})));
    ++i;
  }
  EXPECT_EQ(ott().purge_tokens(kT0).value_or(-1), 0);
  EXPECT_EQ(ott().purge_tokens(kT0 + kTtl - seconds{1}).value_or(-1), 0);
  EXPECT_EQ(ott().purge_tokens(kT0 + kTtl + seconds{10}).value_or(-1), 2);  // t0, t1
  EXPECT_EQ(ott().purge_tokens(kT0 + kTtl + seconds{10}).value_or(-1), 0);
  EXPECT_FALSE(ott().find_token("t0", TokenPurpose::PasswordReset, kT0));
  EXPECT_FALSE(ott().find_token("t1", TokenPurpose::EmailVerify, kT0));
  EXPECT_TRUE(ott().find_token("t2", TokenPurpose::EmailChange, kT0));
  EXPECT_TRUE(ott().find_token("t3", TokenPurpose::MfaChallenge, kT0));
  EXPECT_EQ(ott().purge_tokens(kT0 + kTtl * 2).value_or(-1), 2);
  EXPECT_FALSE(ott().find_token("t2", TokenPurpose::EmailChange, kT0));
  EXPECT_FALSE(ott().find_token("t3", TokenPurpose::MfaChallenge, kT0));
  EXPECT_EQ(ott().purge_tokens(kT0 + kTtl * 2).value_or(-1), 0);
}

// ---- users ----------------------------------------------------------------------

TEST_P(OneTimeStoreConformance, DeletingAUserDeletesTheirTokensOnly) {
  ASSERT_TRUE(ott().put_token(make_token("a1", "u1", TokenPurpose::PasswordReset)));
  ASSERT_TRUE(ott().put_token(make_token("a2", "u1", TokenPurpose::EmailChange, kT0, "x@y.z")));
  ASSERT_TRUE(ott().put_token(make_token("a3", "u1", TokenPurpose::MfaChallenge, kT0 - kTtl)));
  ASSERT_TRUE(ott().put_token(make_token("c1", "u2", TokenPurpose::PasswordReset)));

  ASSERT_TRUE(store_->users().delete_user("u1"));
  EXPECT_ERROR(ott().consume_token("a1", TokenPurpose::PasswordReset, kT0), StoreError::NotFound);
  EXPECT_ERROR(ott().find_token("a2", TokenPurpose::EmailChange, kT0), StoreError::NotFound);
  EXPECT_ERROR(ott().find_token("a3", TokenPurpose::MfaChallenge, kT0 - kTtl),
               StoreError::NotFound);
  EXPECT_EQ(ott().count_tokens("u1", TokenPurpose::PasswordReset, kT0 - kTtl).value_or(-1), 0);
  EXPECT_TRUE(present("c1"));
  // Nothing of u1 is left for purge to find: only c1 goes.
  EXPECT_EQ(ott().purge_tokens(kT0 + kTtl * 10).value_or(-1), 1);

  // A deleted user gets no new tokens, and a new user with the same id does
  // not inherit the old ones.
  EXPECT_ERROR(ott().put_token(make_token("a4", "u1")), StoreError::NotFound);
  ASSERT_TRUE(store_->users().create_user(make_user("u1")));
  EXPECT_FALSE(present("a1"));
  EXPECT_TRUE(ott().put_token(make_token("a1", "u1")));
}

INSTANTIATE_TEST_SUITE_P(Backends, OneTimeStoreConformance, ::testing::ValuesIn(all_backends()));

}  // namespace
}  // namespace gh::store::testing
