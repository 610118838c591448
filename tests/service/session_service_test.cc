// SessionService, in particular its in-process cache of validated sessions:
// bounded, never past a deadline, evicted at once by local revocations, and
// stale by at most cache_ttl for revocations made elsewhere. A FakeClock
// drives time; nothing sleeps.
#include "service/sessions/session_service.h"

#include <functional>

#include <gtest/gtest.h>

#include "store/memory/memory_session_store.h"

namespace gh::service {
namespace {

using std::chrono::seconds;

class NullAudit final : public AuditSink {
 public:
  void record(const AuditEvent&) override {}
};

// Counts the store calls the service makes; can run a hook right after a
// find_session read (to play a revocation that races with it).
class CountingStore final : public store::SessionStore {
 public:
  explicit CountingStore(store::SessionStore& inner) : inner_(inner) {}
  Status create_session(const store::Session& s) override { return inner_.create_session(s); }
  Result<store::Session> find_session(std::string_view id_hash, Seconds now) override {
    ++finds;
    auto r = inner_.find_session(id_hash, now);
    if (after_find) std::exchange(after_find, nullptr)();
    return r;
  }
  Status touch_session(std::string_view id_hash, Seconds now, Seconds idle) override {
    ++touches;
    return inner_.touch_session(id_hash, now, idle);
  }
  Status delete_session(std::string_view id_hash) override { return inner_.delete_session(id_hash); }
  Result<std::vector<store::Session>> list_user_sessions(std::string_view user_id, Seconds now) override {
    return inner_.list_user_sessions(user_id, now);
  }
  Result<std::int64_t> delete_user_sessions(std::string_view user_id, std::string_view keep) override {
    return inner_.delete_user_sessions(user_id, keep);
  }
  Result<std::int64_t> purge_sessions(Seconds now) override { return inner_.purge_sessions(now); }
  Status ping_sessions() override { return inner_.ping_sessions(); }

  int finds = 0;
  int touches = 0;
  std::function<void()> after_find;

 private:
  store::SessionStore& inner_;
};

constexpr const char* kKek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
constexpr const char* kAlice = "00000000-0000-4000-8000-00000000000a";
constexpr const char* kBob = "00000000-0000-4000-8000-00000000000b";

class SessionServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    kek_.emplace(std::move(*crypto::Kek::from_base64url(kKek)));
    make(cfg_);
  }
  // (Re)creates this instance's service with `cfg`, and a second instance ("other",
  // same store, own cache) as another server would have.
  void make(SessionConfig cfg) {
    cfg_ = cfg;
    svc_ = std::make_unique<SessionService>(counting_, *kek_, clock_, rng_, audit_, cfg);
    other_ = std::make_unique<SessionService>(*store_, *kek_, clock_, rng_, audit_, cfg);
    (void)svc_->authenticate_cached("");  // a reader of the cache exists (as forward-auth would be)
  }
  NewSession create(const char* user = kAlice) { return std::move(*svc_->create(user, "pwd", meta_)); }
  static std::string cookie(const NewSession& s) { return std::string(s.id.expose()); }
  bool live(const NewSession& s) { return svc_->authenticate(cookie(s)).has_value(); }
  bool cached(const NewSession& s) { return svc_->authenticate_cached(cookie(s)).has_value(); }

  std::unique_ptr<store::SessionStore> store_ = store::make_memory_session_store();
  CountingStore counting_{*store_};
  std::optional<crypto::Kek> kek_;
  FakeClock clock_;
  SystemRandom rng_;
  NullAudit audit_;
  SessionConfig cfg_;
  std::unique_ptr<SessionService> svc_;
  std::unique_ptr<SessionService> other_;
  RequestMeta meta_{"r", "127.0.0.1", "test"};
};

TEST_F(SessionServiceTest, NothingIsCachedUntilTheCacheIsRead) {
  svc_ = std::make_unique<SessionService>(counting_, *kek_, clock_, rng_, audit_, cfg_);  // not read yet
  auto s = create();
  ASSERT_TRUE(live(s));
  EXPECT_EQ(svc_->cache_size_for_test(), 0U);
  EXPECT_FALSE(cached(s)) << "first read: a miss";
  ASSERT_TRUE(live(s));
  EXPECT_TRUE(cached(s));
}

TEST_F(SessionServiceTest, NothingIsCachedBeforeTheStoreVouchedForIt) {
  auto s = create();
  EXPECT_FALSE(cached(s)) << "create() does not fill the cache";
  EXPECT_FALSE(svc_->authenticate_cached("no-such-session"));
  EXPECT_FALSE(svc_->authenticate_cached(""));
}

TEST_F(SessionServiceTest, AuthenticateAlwaysAsksTheStoreAndFillsTheCache) {
  auto s = create();
  ASSERT_TRUE(live(s));
  ASSERT_TRUE(live(s));
  EXPECT_EQ(counting_.finds, 2);
  auto hit = svc_->authenticate_cached(cookie(s));
  ASSERT_TRUE(hit);
  EXPECT_EQ(counting_.finds, 2) << "a hit does not touch the store";
  EXPECT_EQ(hit->row.id_hash, s.row.id_hash);
  EXPECT_EQ(hit->row.user_id, kAlice);
  EXPECT_EQ(hit->csrf_token, s.csrf_token);
  EXPECT_TRUE(svc_->csrf_ok(*hit, s.csrf_token));
  EXPECT_EQ(svc_->cache_size_for_test(), 1U);
}

TEST_F(SessionServiceTest, AnEntryIsServedForAtMostCacheTtl) {
  auto s = create();
  ASSERT_TRUE(live(s));
  EXPECT_TRUE(cached(s));
  clock_.advance(seconds{1});  // cache_ttl (1 s) after the store read
  EXPECT_FALSE(cached(s));
  EXPECT_EQ(svc_->cache_size_for_test(), 0U) << "the expired entry is dropped";
}

TEST_F(SessionServiceTest, ARevocationOnAnotherInstanceIsSeenWithinCacheTtl) {
  auto s = create();
  ASSERT_TRUE(live(s));
  ASSERT_TRUE(other_->revoke(kAlice, s.row.id_hash, meta_));
  // The bound: this instance may still answer from its cache, but only until
  // cache_ttl after its last store read ...
  clock_.advance(seconds{1});
  EXPECT_FALSE(cached(s));
  // ... and authenticate() itself never uses the cache.
  auto r = svc_->authenticate(cookie(s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(SessionError::NoSession));
}

TEST_F(SessionServiceTest, AuthenticateIsNotFooledByAStaleCacheEntry) {
  auto s = create();
  ASSERT_TRUE(live(s));
  ASSERT_TRUE(other_->revoke(kAlice, s.row.id_hash, meta_));
  EXPECT_FALSE(live(s)) << "same second, but authenticate() asks the store";
}

TEST_F(SessionServiceTest, LocalEndRevokeAndRevokeAllEvictAtOnce) {
  auto a1 = create(kAlice);
  auto a2 = create(kAlice);
  auto a3 = create(kAlice);
  auto b = create(kBob);
  for (const auto* s : {&a1, &a2, &a3, &b}) ASSERT_TRUE(live(*s));
  for (const auto* s : {&a1, &a2, &a3, &b}) ASSERT_TRUE(cached(*s));

  auto cur = svc_->authenticate_cached(cookie(a1));
  ASSERT_TRUE(cur);
  ASSERT_TRUE(svc_->end(*cur, meta_));  // logout
  EXPECT_FALSE(cached(a1));
  EXPECT_FALSE(live(a1));

  ASSERT_TRUE(svc_->revoke(kAlice, a2.row.id_hash, meta_));  // "sign out that device"
  EXPECT_FALSE(cached(a2));
  EXPECT_TRUE(cached(a3));

  auto a4 = create(kAlice);
  ASSERT_TRUE(live(a4));
  ASSERT_TRUE(svc_->revoke_all(kAlice, a4.row.id_hash, meta_));  // "sign out other devices"
  EXPECT_FALSE(cached(a3));
  EXPECT_FALSE(live(a3));
  EXPECT_TRUE(cached(a4)) << "the kept session stays";
  EXPECT_TRUE(cached(b)) << "other users are untouched";

  ASSERT_TRUE(svc_->revoke_all(kAlice, "", meta_));  // logout-all, password change, disable
  EXPECT_FALSE(cached(a4));
  EXPECT_TRUE(cached(b));
}

TEST_F(SessionServiceTest, RevokingSomeoneElsesSessionEvictsNothing) {
  auto a = create(kAlice);
  ASSERT_TRUE(live(a));
  EXPECT_FALSE(svc_->revoke(kBob, a.row.id_hash, meta_));
  EXPECT_TRUE(cached(a));
}

TEST_F(SessionServiceTest, AReadThatRacedWithALocalRevocationIsNotCached) {
  auto s = create();
  // The store says "live", then the session is revoked on this instance
  // before authenticate() gets to cache that answer.
  counting_.after_find = [&] { ASSERT_TRUE(svc_->revoke(kAlice, s.row.id_hash, meta_)); };
  ASSERT_TRUE(live(s));  // the read itself predates the revocation
  EXPECT_FALSE(cached(s));
  EXPECT_EQ(svc_->cache_size_for_test(), 0U);
}

TEST_F(SessionServiceTest, AnEntryNeverOutlivesTheIdleDeadline) {
  SessionConfig cfg;
  cfg.idle_timeout = seconds{5};
  cfg.touch_interval = seconds{60};
  cfg.cache_ttl = seconds{100};  // longer than the idle timeout on purpose
  make(cfg);
  auto s = create();
  ASSERT_TRUE(live(s));
  clock_.advance(seconds{4});
  EXPECT_TRUE(cached(s));
  clock_.advance(seconds{1});  // the idle deadline
  EXPECT_FALSE(cached(s));
  EXPECT_FALSE(live(s));
}

TEST_F(SessionServiceTest, AnEntryNeverOutlivesTheAbsoluteDeadline) {
  SessionConfig cfg;
  cfg.idle_timeout = seconds{60};
  cfg.absolute_timeout = seconds{30};
  cfg.touch_interval = seconds{60};
  cfg.cache_ttl = seconds{100};
  make(cfg);
  auto s = create();
  clock_.advance(seconds{29});
  ASSERT_TRUE(live(s));
  EXPECT_TRUE(cached(s));
  clock_.advance(seconds{1});  // the absolute deadline
  EXPECT_FALSE(cached(s));
  EXPECT_FALSE(live(s));
}

TEST_F(SessionServiceTest, ADueTouchIsNotSkippedByTheCache) {
  SessionConfig cfg;
  cfg.touch_interval = seconds{10};
  cfg.cache_ttl = seconds{100};
  make(cfg);
  auto s = create();
  ASSERT_TRUE(live(s));
  EXPECT_EQ(counting_.touches, 0);
  clock_.advance(seconds{10});
  EXPECT_FALSE(cached(s)) << "sliding the idle deadline is a store write";
  ASSERT_TRUE(live(s));
  EXPECT_EQ(counting_.touches, 1);
  auto hit = svc_->authenticate_cached(cookie(s));
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->row.last_seen, clock_.now());
  EXPECT_EQ(hit->row.idle_expires_at, clock_.now() + cfg.idle_timeout);
}

TEST_F(SessionServiceTest, TheCacheIsBounded) {
  SessionConfig cfg;
  cfg.cache_entries = 32;
  cfg.cache_ttl = seconds{100};
  make(cfg);
  std::vector<NewSession> all;
  for (int i = 0; i < 200; ++i) {
    all.push_back(create());
    ASSERT_TRUE(live(all.back()));
  }
  EXPECT_LE(svc_->cache_size_for_test(), 32U);
  EXPECT_GT(svc_->cache_size_for_test(), 0U);
  for (const auto& s : all) EXPECT_TRUE(live(s)) << "evicted entries are still valid sessions";
}

TEST_F(SessionServiceTest, AFullCacheStillTakesNewEntries) {
  SessionConfig cfg;
  cfg.cache_entries = 16;  // one per shard
  make(cfg);
  std::vector<NewSession> old;
  for (int i = 0; i < 64; ++i) {
    old.push_back(create());
    ASSERT_TRUE(live(old.back()));
  }
  clock_.advance(seconds{1});  // all of them stale now
  auto fresh = create();
  ASSERT_TRUE(live(fresh));
  EXPECT_TRUE(cached(fresh));
  EXPECT_LE(svc_->cache_size_for_test(), 16U);
}

TEST_F(SessionServiceTest, CacheOffMeansEveryCheckGoesToTheStore) {
  SessionConfig cfg;
  cfg.cache_entries = 0;
  make(cfg);
  auto s = create();
  ASSERT_TRUE(live(s));
  EXPECT_FALSE(cached(s));
  EXPECT_EQ(svc_->cache_size_for_test(), 0U);
}

}  // namespace
}  // namespace gh::service
