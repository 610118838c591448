// SessionService lifetimes and bindings, driven by a FakeClock (no sleeps):
// idle timeout, sliding renewal capped by the absolute lifetime, a new id at
// every sign-in, CSRF tokens bound to one session; and FormGuard's login-CSRF
// tokens bound to one nonce.
#include <set>

#include <gtest/gtest.h>

#include "service/sessions/form_guard.h"
#include "service/sessions/session_service.h"
#include "store/memory/memory_session_store.h"

namespace gh::service {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

class NullAudit final : public AuditSink {
 public:
  void record(const AuditEvent&) override {}
};

constexpr const char* kKek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
constexpr const char* kUser = "00000000-0000-4000-8000-0000000000c1";

class SessionLifetime : public ::testing::Test {
 protected:
  SessionLifetime() : kek_(std::move(*crypto::Kek::from_base64url(kKek))) {
    cfg_.idle_timeout = minutes{30};
    cfg_.absolute_timeout = minutes{120};
    cfg_.touch_interval = seconds{60};
    svc_ = std::make_unique<SessionService>(*store_, kek_, clock_, rng_, audit_, cfg_);
  }
  NewSession create() { return std::move(*svc_->create(kUser, "pwd", meta_)); }
  bool live(const NewSession& s) { return svc_->authenticate(s.id.expose()).has_value(); }

  std::unique_ptr<store::SessionStore> store_ = store::make_memory_session_store();
  crypto::Kek kek_;
  FakeClock clock_;
  SystemRandom rng_;
  NullAudit audit_;
  SessionConfig cfg_;
  std::unique_ptr<SessionService> svc_;
  RequestMeta meta_{"r", "127.0.0.1", "test"};
};

TEST_F(SessionLifetime, AnUntouchedSessionEndsAtTheIdleTimeout) {
  auto idle = create();
  auto used = create();
  clock_.advance(minutes{29});
  EXPECT_TRUE(live(used));
  clock_.advance(minutes{2});  // 31 minutes without a request
  EXPECT_FALSE(live(idle));
  EXPECT_TRUE(live(used)) << "2 minutes since its last request";
}

TEST_F(SessionLifetime, ActivitySlidesTheIdleDeadline) {
  auto s = create();
  for (int i = 0; i < 3; ++i) {  // active every 20 minutes for an hour
    clock_.advance(minutes{20});
    ASSERT_TRUE(live(s)) << i;
  }
  clock_.advance(minutes{29});
  EXPECT_TRUE(live(s));
  clock_.advance(minutes{31});
  EXPECT_FALSE(live(s));
}

TEST_F(SessionLifetime, TheAbsoluteLifetimeEndsEvenAnActiveSession) {
  auto s = create();
  for (int i = 0; i < 11; ++i) {  // active every 10 minutes: 110 minutes
    clock_.advance(minutes{10});
    ASSERT_TRUE(live(s)) << i;
  }
  clock_.advance(minutes{10});  // 120 minutes: the absolute deadline
  EXPECT_FALSE(live(s));
  const auto r = svc_->authenticate(s.id.expose());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(SessionError::NoSession));
}

TEST_F(SessionLifetime, EverySignInGetsANewIdAndOnlyItsHashIsStored) {
  auto a = create();
  auto b = create();
  EXPECT_NE(a.id.expose(), b.id.expose());
  EXPECT_GE(a.id.expose().size(), 43U);  // 256 bits, base64url
  EXPECT_NE(a.row.id_hash, a.id.expose());
  EXPECT_FALSE(svc_->authenticate(a.row.id_hash)) << "the stored hash is not a credential";
  EXPECT_FALSE(svc_->authenticate("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
}

TEST_F(SessionLifetime, TenThousandSessionIdsAreDistinctFullLengthAndUnstructured) {
  std::set<std::string> ids;
  std::set<std::string> prefixes;
  for (int i = 0; i < 10000; ++i) {
    auto s = create();
    const std::string id(s.id.expose());
    ASSERT_EQ(id.size(), 43U);  // 32 bytes from the CSPRNG, base64url
    ids.insert(id);
    prefixes.insert(id.substr(0, 4));
  }
  EXPECT_EQ(ids.size(), 10000U);
  EXPECT_GT(prefixes.size(), 9000U) << "no shared prefix or embedded counter/timestamp";
}

TEST_F(SessionLifetime, ACsrfTokenBelongsToOneSession) {
  auto a = create();
  auto b = create();
  auto ca = svc_->authenticate(a.id.expose());
  ASSERT_TRUE(ca);
  EXPECT_TRUE(svc_->csrf_ok(*ca, a.csrf_token));
  EXPECT_FALSE(svc_->csrf_ok(*ca, b.csrf_token));
  EXPECT_FALSE(svc_->csrf_ok(*ca, ""));
  EXPECT_FALSE(svc_->csrf_ok(*ca, a.csrf_token.substr(1)));
}

TEST_F(SessionLifetime, RevokeAllKeepsOnlyTheNamedSession) {
  auto a = create();
  auto b = create();
  auto c = create();
  ASSERT_TRUE(svc_->revoke_all(kUser, a.row.id_hash, meta_));
  EXPECT_TRUE(live(a));
  EXPECT_FALSE(live(b));
  EXPECT_FALSE(live(c));
  ASSERT_TRUE(svc_->revoke_all(kUser, "", meta_));
  EXPECT_FALSE(live(a));
}

TEST_F(SessionLifetime, ReplaceEndsThePreviousSessionAndIssuesANewOne) {
  auto old = create();
  auto current = svc_->authenticate(old.id.expose());
  ASSERT_TRUE(current);
  auto fresh = svc_->replace(&*current, kUser, "pwd", meta_);
  ASSERT_TRUE(fresh);
  EXPECT_NE(fresh->id.expose(), old.id.expose());
  EXPECT_FALSE(live(old)) << "a copy of the old cookie dies";
  EXPECT_TRUE(svc_->authenticate(fresh->id.expose()));
  auto first = svc_->replace(nullptr, kUser, "pwd", meta_);  // no previous session: just a new one
  ASSERT_TRUE(first);
  EXPECT_TRUE(svc_->authenticate(first->id.expose()));
}

TEST_F(SessionLifetime, ReplaceKeepsAGivenEarlierAuthTimeButNeverALaterOne) {
  const Seconds now = clock_.now();
  EXPECT_EQ(create().row.auth_time, now) << "default: authenticated now";
  auto earlier = svc_->replace(nullptr, kUser, "fed", meta_, {}, now - seconds{3600});
  ASSERT_TRUE(earlier);
  EXPECT_EQ(earlier->row.auth_time, now - seconds{3600});
  auto stored = svc_->authenticate(earlier->id.expose());
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->row.auth_time, now - seconds{3600}) << "as stored, not only as returned";
  EXPECT_EQ(stored->row.created_at, now);
  auto later = svc_->replace(nullptr, kUser, "fed", meta_, {}, now + seconds{600});
  ASSERT_TRUE(later);
  EXPECT_EQ(later->row.auth_time, now) << "a claim from the future is clamped to now";
}

TEST(FormGuardTest, ATokenIsBoundToItsNonceAndTheServerKey) {
  SystemRandom rng;
  auto kek = std::move(*crypto::Kek::from_base64url(kKek));
  auto other_kek = std::move(*crypto::Kek::from_base64url("HwAeHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE"));
  FormGuard guard(kek, rng);
  FormGuard other(other_kek, rng);
  const auto a = guard.issue();
  const auto b = guard.issue();
  EXPECT_NE(a.nonce, b.nonce);
  EXPECT_EQ(a.nonce.size(), 43U);
  EXPECT_TRUE(guard.check(a.nonce, a.token));
  EXPECT_EQ(guard.token_for(a.nonce), a.token);
  EXPECT_FALSE(guard.check(a.nonce, b.token));
  EXPECT_FALSE(guard.check(b.nonce, a.token));
  EXPECT_FALSE(guard.check(a.nonce, ""));
  EXPECT_FALSE(guard.check("", a.token));
  EXPECT_FALSE(guard.check(a.nonce + "x", guard.token_for(a.nonce + "x"))) << "only nonces of the issued shape";
  EXPECT_FALSE(other.check(a.nonce, a.token)) << "another server key does not accept it";
}

TEST(KnownDevicesTest, ATokenIsBoundToItsAccountAndTheServerKey) {
  SystemRandom rng;
  auto kek = std::move(*crypto::Kek::from_base64url(kKek));
  auto other_kek = std::move(*crypto::Kek::from_base64url("HwAeHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE"));
  FakeClock clock;
  KnownDevices devices(kek, rng, clock);
  KnownDevices other(other_kek, rng, clock);
  const auto t = devices.issue("ada@example.com");
  EXPECT_TRUE(devices.check("ada@example.com", t));
  EXPECT_FALSE(devices.check("bob@example.com", t)) << "bound to the account";
  EXPECT_FALSE(other.check("ada@example.com", t)) << "bound to the server key";
  EXPECT_FALSE(devices.check("ada@example.com", t.substr(0, t.size() - 1) + (t.back() == 'A' ? "B" : "A")));
  EXPECT_FALSE(devices.check("ada@example.com", ""));
  EXPECT_FALSE(devices.check("", t));
  EXPECT_NE(devices.issue("ada@example.com"), t) << "a fresh nonce each time";
  // It expires on the server's clock, whatever the cookie's Max-Age.
  clock.advance(KnownDevices::kLifetime - std::chrono::seconds{1});
  EXPECT_TRUE(devices.check("ada@example.com", t));
  clock.advance(std::chrono::seconds{1});
  EXPECT_FALSE(devices.check("ada@example.com", t));
  // The issue time is signed: moving it forward breaks the MAC.
  const auto fresh = devices.issue("ada@example.com");
  auto moved = fresh;
  moved[23] = moved[23] == '9' ? '8' : static_cast<char>(moved[23] + 1);
  EXPECT_FALSE(devices.check("ada@example.com", moved));
}

}  // namespace
}  // namespace gh::service
