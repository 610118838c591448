// The SessionStore contract (store/session_store.h), run against every
// session backend in store_harness.h: Store::sessions() of memory, SQLite and
// PostgreSQL, and the Redis store. Each test starts on its own empty database;
// where sessions live in a Store, with two users, u1 and u2. Time is the `now`
// each call is given: tests move it, never sleep. Session hashes are readable
// names here: the store treats them as opaque keys.
#include "store/session_store.h"

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

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// Far ahead (2096): Redis expires keys by its own clock, so every deadline
// here must still be in the real future.
const Seconds kT0{seconds{4'000'000'000}};
constexpr minutes kIdle{30};
constexpr hours kAbsolute{12};

User make_user(const std::string& id) {
  User u;
  u.id = id;
  u.email = id + "@example.com";
  u.email_normalized = u.email;
  u.created_at = kT0;
  u.updated_at = kT0;
  return u;
}

// A session created at `created` as the session service makes one. The user
// agent holds what would break a format string or a quoting bug.
Session make_session(std::string id_hash, std::string user_id, Seconds created = kT0) {
  Session s;
  s.id_hash = std::move(id_hash);
  s.user_id = std::move(user_id);
  s.created_at = created;
  s.last_seen = created;
  s.idle_expires_at = created + kIdle;
  s.expires_at = created + kAbsolute;
  s.auth_time = created - seconds{5};
  s.amr = "pwd otp";
  s.ip = "2001:db8::7";
  s.user_agent = "Mozilla/5.0 (X11; %s %n) \"quoted\" 'single' \\ \xe2\x98\x83\r\n$1 ?1";
  return s;
}

void expect_same_session(const Session& a, const Session& b) {
  EXPECT_EQ(a.id_hash, b.id_hash);
  EXPECT_EQ(a.user_id, b.user_id);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.last_seen, b.last_seen);
  EXPECT_EQ(a.idle_expires_at, b.idle_expires_at);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.auth_time, b.auth_time);
  EXPECT_EQ(a.amr, b.amr);
  EXPECT_EQ(a.ip, b.ip);
  EXPECT_EQ(a.user_agent, b.user_agent);
}

std::vector<std::string> ids_of(const std::vector<Session>& sessions) {
  std::vector<std::string> ids;
  for (const auto& s : sessions) ids.push_back(s.id_hash);
  return ids;
}

#define EXPECT_ERROR(expr, err)                                                         \
  do {                                                                                  \
    const auto& result_ = (expr);                                                       \
    ASSERT_FALSE(result_.has_value()) << #expr " succeeded";                            \
    EXPECT_EQ(result_.error().code, make_error_code(err)) << result_.error().message(); \
  } while (0)

class SessionStoreConformance : public ::testing::TestWithParam<SessionBackend> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    harness_->set_up();
    if (HasFatalFailure()) return;
    if (Store* store = harness_->store()) {
      for (const char* id : {"u1", "u2"}) ASSERT_TRUE(store->users().create_user(make_user(id)));
    }
  }
  void TearDown() override { harness_.reset(); }
  SessionStore& sessions() { return harness_->sessions(); }

  void create(const Session& s) {
    auto created = sessions().create_session(s);
    ASSERT_TRUE(created) << s.id_hash << ": " << created.error().message();
  }
  std::vector<std::string> listed(const std::string& user_id, Seconds now) {
    auto list = sessions().list_user_sessions(user_id, now);
    EXPECT_TRUE(list) << list.error().message();
    return list ? ids_of(*list) : std::vector<std::string>{};
  }

  std::unique_ptr<SessionHarness> harness_;
};

using Ids = std::vector<std::string>;

// ---- create, find ---------------------------------------------------------------

TEST_P(SessionStoreConformance, CreateThenFind) {
  const Session s = make_session("s1", "u1");
  create(s);
  auto found = sessions().find_session("s1", kT0);
  ASSERT_TRUE(found) << found.error().message();
  expect_same_session(*found, s);
}

TEST_P(SessionStoreConformance, EmptyTextFieldsRoundTrip) {
  Session s = make_session("s1", "u1");
  s.amr.clear();
  s.ip.clear();
  s.user_agent.clear();
  create(s);
  auto found = sessions().find_session("s1", kT0);
  ASSERT_TRUE(found) << found.error().message();
  expect_same_session(*found, s);
}

TEST_P(SessionStoreConformance, DuplicateIdIsConflictAndChangesNothing) {
  const Session first = make_session("s1", "u1");
  create(first);
  Session again = make_session("s1", "u2", kT0 + minutes{1});
  again.amr = "hwk";
  EXPECT_ERROR(sessions().create_session(again), StoreError::Conflict);
  auto found = sessions().find_session("s1", kT0 + minutes{1});
  ASSERT_TRUE(found) << found.error().message();
  expect_same_session(*found, first);
  EXPECT_EQ(listed("u2", kT0 + minutes{1}), Ids{});
}

TEST_P(SessionStoreConformance, FindUnknownIsNotFound) {
  EXPECT_ERROR(sessions().find_session("nope", kT0), StoreError::NotFound);
}

TEST_P(SessionStoreConformance, FindAtOrPastTheIdleDeadlineIsNotFound) {
  create(make_session("s1", "u1"));
  EXPECT_TRUE(sessions().find_session("s1", kT0 + kIdle - seconds{1}));
  EXPECT_ERROR(sessions().find_session("s1", kT0 + kIdle), StoreError::NotFound);
  EXPECT_ERROR(sessions().find_session("s1", kT0 + kIdle + seconds{1}), StoreError::NotFound);
}

TEST_P(SessionStoreConformance, FindAtOrPastTheAbsoluteDeadlineIsNotFound) {
  // The idle deadline is kept alive by touches until the absolute one ends it.
  Session s = make_session("s1", "u1");
  s.expires_at = kT0 + hours{1};
  create(s);
  for (Seconds now = kT0 + minutes{20}; now < kT0 + hours{1}; now += minutes{20}) {
    ASSERT_TRUE(sessions().touch_session("s1", now, now + kIdle));
  }
  EXPECT_TRUE(sessions().find_session("s1", kT0 + hours{1} - seconds{1}));
  EXPECT_ERROR(sessions().find_session("s1", kT0 + hours{1}), StoreError::NotFound);
}

TEST_P(SessionStoreConformance, FindChecksTheAbsoluteDeadlineEvenIfTheIdleOneIsLater) {
  Session s = make_session("s1", "u1");
  s.expires_at = kT0 + minutes{10};  // a caller that forgot to cap idle_expires_at
  create(s);
  EXPECT_TRUE(sessions().find_session("s1", kT0 + minutes{10} - seconds{1}));
  EXPECT_ERROR(sessions().find_session("s1", kT0 + minutes{10}), StoreError::NotFound);
}

// ---- touch ------------------------------------------------------------------------

TEST_P(SessionStoreConformance, TouchSlidesTheIdleDeadlineAndRecordsLastSeen) {
  create(make_session("s1", "u1"));
  const Seconds now = kT0 + minutes{20};
  ASSERT_TRUE(sessions().touch_session("s1", now, now + kIdle));
  // Alive past the first idle deadline, until the new one.
  auto found = sessions().find_session("s1", kT0 + kIdle + minutes{1});
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->last_seen, now);
  EXPECT_EQ(found->idle_expires_at, now + kIdle);
  EXPECT_EQ(found->created_at, kT0);
  EXPECT_EQ(found->expires_at, kT0 + kAbsolute);
  EXPECT_ERROR(sessions().find_session("s1", now + kIdle), StoreError::NotFound);
}

TEST_P(SessionStoreConformance, TouchNeverMovesTheIdleDeadlinePastTheAbsoluteOne) {
  create(make_session("s1", "u1"));
  const Seconds now = kT0 + kAbsolute - minutes{10};
  ASSERT_TRUE(sessions().touch_session("s1", kT0 + minutes{20}, kT0 + minutes{50}));
  for (Seconds t = kT0 + minutes{40}; t <= now; t += minutes{20}) {
    ASSERT_TRUE(sessions().touch_session("s1", t, t + kIdle));
  }
  ASSERT_TRUE(sessions().touch_session("s1", now, now + kIdle));
  auto found = sessions().find_session("s1", now);
  ASSERT_TRUE(found) << found.error().message();
  EXPECT_EQ(found->idle_expires_at, kT0 + kAbsolute);
  EXPECT_ERROR(sessions().find_session("s1", kT0 + kAbsolute), StoreError::NotFound);
}

TEST_P(SessionStoreConformance, TouchOfAnExpiredSessionIsNotFoundAndDoesNotReviveIt) {
  create(make_session("s1", "u1"));
  const Seconds late = kT0 + kIdle;
  EXPECT_ERROR(sessions().touch_session("s1", late, late + kIdle), StoreError::NotFound);
  EXPECT_ERROR(sessions().find_session("s1", late), StoreError::NotFound);
  // Past the absolute deadline, even while the idle one is ahead.
  Session s = make_session("s2", "u1");
  s.expires_at = kT0 + minutes{10};
  create(s);
  const Seconds after = kT0 + minutes{10};
  EXPECT_ERROR(sessions().touch_session("s2", after, after + kIdle), StoreError::NotFound);
}

TEST_P(SessionStoreConformance, TouchOfAnUnknownSessionIsNotFound) {
  EXPECT_ERROR(sessions().touch_session("nope", kT0, kT0 + kIdle), StoreError::NotFound);
  EXPECT_ERROR(sessions().find_session("nope", kT0),
               StoreError::NotFound);  // touch created nothing
}

// ---- delete -----------------------------------------------------------------------

TEST_P(SessionStoreConformance, DeleteIsIdempotentAndLeavesOthers) {
  create(make_session("s1", "u1"));
  create(make_session("s2", "u1"));
  ASSERT_TRUE(sessions().delete_session("s1"));
  EXPECT_ERROR(sessions().find_session("s1", kT0), StoreError::NotFound);
  EXPECT_TRUE(sessions().delete_session("s1"));
  EXPECT_TRUE(sessions().delete_session("never-existed"));
  EXPECT_TRUE(sessions().find_session("s2", kT0));
  EXPECT_EQ(listed("u1", kT0), Ids{"s2"});
  // The id may be used again once deleted.
  create(make_session("s1", "u1"));
}

// ---- list -------------------------------------------------------------------------

TEST_P(SessionStoreConformance, ListIsNewestFirstAndOnlyTheUsersLiveSessions) {
  const Seconds now = kT0 + hours{2};
  create(make_session("old", "u1", kT0));  // idle past at kT0 + 30 min
  create(make_session("a", "u1", now - minutes{3}));
  create(make_session("c", "u1", now - minutes{1}));
  create(make_session("b", "u1", now - minutes{2}));
  create(make_session("b2", "u1", now - minutes{2}));  // same time: id order
  create(make_session("other", "u2", now - minutes{1}));
  EXPECT_EQ(listed("u1", now), (Ids{"c", "b", "b2", "a"}));
  EXPECT_EQ(listed("u2", now), Ids{"other"});
  EXPECT_EQ(listed("nobody", now), Ids{});
  // Rows come back whole.
  auto list = sessions().list_user_sessions("u2", now);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1U);
  expect_same_session(list->front(), make_session("other", "u2", now - minutes{1}));
  // Later, as each idle deadline passes.
  EXPECT_EQ(listed("u1", now - minutes{3} + kIdle), (Ids{"c", "b", "b2"}));
  EXPECT_EQ(listed("u1", now - minutes{1} + kIdle), Ids{});
}

// ---- delete_user_sessions ---------------------------------------------------------

TEST_P(SessionStoreConformance, DeleteUserSessionsKeepsTheOneAskedFor) {
  for (const char* id : {"s1", "s2", "s3"}) create(make_session(id, "u1"));
  create(make_session("t1", "u2"));
  auto n = sessions().delete_user_sessions("u1", "s2");
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 2);
  EXPECT_EQ(listed("u1", kT0), Ids{"s2"});
  EXPECT_ERROR(sessions().find_session("s1", kT0), StoreError::NotFound);
  EXPECT_EQ(listed("u2", kT0), Ids{"t1"});

  n = sessions().delete_user_sessions("u1", "");
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(listed("u1", kT0), Ids{});
  n = sessions().delete_user_sessions("u1", "");
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 0);
  EXPECT_TRUE(sessions().find_session("t1", kT0));
}

TEST_P(SessionStoreConformance, DeleteUserSessionsIgnoresAKeepOfAnotherUser) {
  create(make_session("s1", "u1"));
  create(make_session("t1", "u2"));
  auto n = sessions().delete_user_sessions("u1", "t1");
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 1);
  EXPECT_TRUE(sessions().find_session("t1", kT0));
}

// ---- concurrency, ping ------------------------------------------------------------

TEST_P(SessionStoreConformance, SixteenThreadsCreateFindAndTouchConcurrently) {
  constexpr int kThreads = 16;
  constexpr int kEach = 12;
  create(make_session("shared", "u1"));
  std::atomic<int> failures{0};
  std::atomic<int> won{0};
  std::latch go(kThreads);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      go.arrive_and_wait();
      const std::string user = t % 2 == 0 ? "u1" : "u2";
      // Exactly one create of the same id wins.
      if (sessions().create_session(make_session("contested", "u2"))) ++won;
      for (int i = 0; i < kEach; ++i) {
        const std::string id = fmt::format("t{}-{}", t, i);
        const Seconds now = kT0 + seconds{i};
        if (!sessions().create_session(make_session(id, user, now))) ++failures;
        if (!sessions().find_session(id, now)) ++failures;
        if (!sessions().touch_session(id, now + seconds{1}, now + kIdle)) ++failures;
        if (!sessions().touch_session("shared", now + seconds{1}, now + kIdle)) ++failures;
        if (!sessions().find_session("shared", now + seconds{1})) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(won.load(), 1);
  const Seconds now = kT0 + minutes{1};
  auto u1 = sessions().list_user_sessions("u1", now);
  auto u2 = sessions().list_user_sessions("u2", now);
  ASSERT_TRUE(u1 && u2);
  EXPECT_EQ(u1->size(), std::size_t{kThreads / 2 * kEach + 1});  // + "shared"
  EXPECT_EQ(u2->size(), std::size_t{kThreads / 2 * kEach + 1});  // + "contested"
  auto shared = sessions().find_session("shared", now);
  ASSERT_TRUE(shared);
  EXPECT_EQ(shared->idle_expires_at, kT0 + seconds{kEach - 1} + kIdle) << "the latest touch wins";
}

TEST_P(SessionStoreConformance, Ping) { EXPECT_TRUE(sessions().ping_sessions()); }

INSTANTIATE_TEST_SUITE_P(Backends, SessionStoreConformance,
                         ::testing::ValuesIn(all_session_backends()));

// ---- Sessions inside a Store: users, cascade, purge --------------------------------
// Redis has no users table, and expires keys itself (purge_sessions returns 0:
// see redis_session_store_test.cc). There the service deletes a deleted
// user's sessions with delete_user_sessions, and any it misses expire.

class InStoreSessionConformance : public SessionStoreConformance {
 protected:
  Store& store() { return *harness_->store(); }
};

TEST_P(InStoreSessionConformance, CreateForAnUnknownUserIsNotFound) {
  EXPECT_ERROR(sessions().create_session(make_session("s1", "nobody")), StoreError::NotFound);
  EXPECT_ERROR(sessions().find_session("s1", kT0), StoreError::NotFound);
}

TEST_P(InStoreSessionConformance, DeletingTheUserDeletesItsSessions) {
  create(make_session("s1", "u1"));
  create(make_session("s2", "u1"));
  create(make_session("t1", "u2"));
  ASSERT_TRUE(store().users().delete_user("u1"));
  EXPECT_ERROR(sessions().find_session("s1", kT0), StoreError::NotFound);
  EXPECT_EQ(listed("u1", kT0), Ids{});
  EXPECT_EQ(listed("u2", kT0), Ids{"t1"});
  auto n = sessions().purge_sessions(kT0 + kAbsolute);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1) << "only t1 was left";
}

TEST_P(InStoreSessionConformance, PurgeDeletesSessionsPastEitherDeadline) {
  const Seconds now = kT0 + hours{1};
  create(make_session("live", "u1", now - minutes{1}));
  create(make_session("idle-past", "u1", kT0));         // idle ended at kT0 + 30 min
  create(make_session("idle-now", "u1", now - kIdle));  // idle ends exactly at now
  Session absolute = make_session("absolute-past", "u2", kT0);
  absolute.idle_expires_at = now + hours{1};
  absolute.expires_at = now - seconds{1};
  create(absolute);
  auto n = sessions().purge_sessions(now);
  ASSERT_TRUE(n) << n.error().message();
  EXPECT_EQ(*n, 3);
  EXPECT_TRUE(sessions().find_session("live", now));
  n = sessions().purge_sessions(now);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0);
  // What purge left alone is still whole.
  auto found = sessions().find_session("live", now);
  ASSERT_TRUE(found);
  expect_same_session(*found, make_session("live", "u1", now - minutes{1}));
}

TEST_P(InStoreSessionConformance, StorePingAndSessionPingAgree) {
  EXPECT_TRUE(store().ping());
  EXPECT_TRUE(sessions().ping_sessions());
}

INSTANTIATE_TEST_SUITE_P(Backends, InStoreSessionConformance,
                         ::testing::ValuesIn(in_store_session_backends()));

}  // namespace
}  // namespace gh::store::testing
