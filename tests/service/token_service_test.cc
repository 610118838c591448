#include "service/tokens/token_service.h"

#include <gtest/gtest.h>

namespace gh::service {
namespace {

class NullAudit final : public AuditSink {
 public:
  void record(const AuditEvent& e) override { actions.push_back(e.action + ":" + e.result); }
  std::vector<std::string> actions;
};

constexpr const char* kKek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

class TokenServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*store::open_store("memory://"));
    ASSERT_TRUE(store_->migrate());
    kek_.emplace(std::move(*crypto::Kek::from_base64url(kek_text_)));
    keys_ = std::make_unique<KeyManager>(store_->keys(), *kek_, clock_, rng_, std::chrono::seconds{930});
    ASSERT_TRUE(keys_->ensure_active(jwt::Alg::EdDSA));
    TokenConfig cfg;
    cfg.issuer = "https://auth.test";
    cfg.audience = "gatehouse";
    tokens_ = std::make_unique<TokenService>(*store_, *keys_, *kek_, clock_, rng_, audit_, cfg);
    user_.id = "00000000-0000-4000-8000-000000000001";
    user_.email = user_.email_normalized = "a@b.test";
    user_.created_at = user_.updated_at = clock_.now();
    ASSERT_TRUE(store_->users().create_user(user_));
  }

  IssuedTokens issue() { return std::move(*tokens_->issue(user_, Seconds{}, "", "pwd", meta_)); }
  Result<IssuedTokens> refresh(const SecretString& t) { return tokens_->refresh(t, meta_); }
  static SecretString copy(const SecretString& s) { return SecretString(s.expose()); }

  std::string kek_text_ = kKek;
  std::unique_ptr<store::Store> store_;
  std::optional<crypto::Kek> kek_;
  FakeClock clock_;
  SystemRandom rng_;
  NullAudit audit_;
  std::unique_ptr<KeyManager> keys_;
  std::unique_ptr<TokenService> tokens_;
  store::User user_;
  RequestMeta meta_{"r", "127.0.0.1", "test"};
};

TEST_F(TokenServiceTest, IssuedAccessTokenVerifies) {
  auto t = issue();
  auto c = tokens_->verify_access(t.access_token);
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->sub, user_.id);
  EXPECT_EQ(c->sid, t.family_id);
  EXPECT_EQ(c->exp - c->iat, std::chrono::seconds{900});
}

TEST_F(TokenServiceTest, AccessTokenExpiresEvenWhenCached) {
  auto t = issue();
  ASSERT_TRUE(tokens_->verify_access(t.access_token));  // now cached
  EXPECT_GE(tokens_->cache_size_for_test(), 1U);
  clock_.advance(std::chrono::seconds{900 + 30});
  EXPECT_TRUE(tokens_->verify_access(t.access_token)) << "inside the leeway";
  clock_.advance(std::chrono::seconds{1});
  auto late = tokens_->verify_access(t.access_token);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, make_error_code(TokenError::TokenExpired));
}

TEST_F(TokenServiceTest, GraceWindowReturnsTheSameChildThenCountsAsReuse) {
  auto t = issue();
  auto a = refresh(t.refresh_token);
  ASSERT_TRUE(a);
  clock_.advance(std::chrono::seconds{9});
  auto b = refresh(t.refresh_token);  // replay of the immediate parent inside 10 s
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_EQ(a->refresh_token.expose(), b->refresh_token.expose());
  clock_.advance(std::chrono::seconds{1});  // 10 s after rotation: outside the window
  auto c = refresh(t.refresh_token);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, make_error_code(TokenError::RefreshReused));
  auto d = refresh(a->refresh_token);
  ASSERT_FALSE(d) << "the whole family is revoked";
  EXPECT_EQ(d.error().code, make_error_code(TokenError::InvalidRefresh));
  EXPECT_FALSE(tokens_->verify_access(a->access_token)) << "and its access tokens";
}

TEST_F(TokenServiceTest, OlderAncestorIsReuseEvenInsideTheWindow) {
  auto t = issue();
  auto a = refresh(t.refresh_token);
  ASSERT_TRUE(a);
  auto b = refresh(a->refresh_token);
  ASSERT_TRUE(b);
  auto replay = refresh(t.refresh_token);  // grandparent: its child is no longer active
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().code, make_error_code(TokenError::RefreshReused));
  EXPECT_NE(std::find(audit_.actions.begin(), audit_.actions.end(), "token.refresh_reuse:family_revoked"),
            audit_.actions.end());
}

TEST_F(TokenServiceTest, RefreshTokenExpires) {
  auto t = issue();
  clock_.advance(std::chrono::seconds{7 * 24 * 3600});
  auto r = refresh(t.refresh_token);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(TokenError::RefreshExpired));
}

TEST_F(TokenServiceTest, RefreshingForeverStillEndsAtTheAbsoluteLifetime) {
  auto t = issue();
  SecretString current = copy(t.refresh_token);
  // Refresh every 6 days: each rotation renews the 7-day idle lifetime...
  for (int i = 0; i < 4; ++i) {
    clock_.advance(std::chrono::seconds{6 * 24 * 3600});
    auto r = refresh(current);
    ASSERT_TRUE(r) << "day " << (i + 1) * 6 << ": " << r.error().message();
    current = copy(r->refresh_token);
  }
  // ...but 30 days after sign-in the family is over, however active.
  clock_.advance(std::chrono::seconds{6 * 24 * 3600});
  auto late = refresh(current);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, make_error_code(TokenError::RefreshExpired));
}

TEST_F(TokenServiceTest, RevokeUserEndsEverythingIssuedBefore) {
  auto a = issue();
  ASSERT_TRUE(tokens_->revoke_user(user_.id, "disabled", meta_));
  EXPECT_EQ(tokens_->verify_access(a.access_token).error().code, make_error_code(TokenError::TokenRevoked));
  EXPECT_FALSE(refresh(a.refresh_token));
  // A session-minted token without a family is covered by the subject cut-off too.
  auto lone = tokens_->mint_access(user_, "", clock_.now(), "session", "pwd");
  ASSERT_TRUE(lone);
  EXPECT_FALSE(tokens_->verify_access(*lone));
  clock_.advance(std::chrono::seconds{2});
  EXPECT_TRUE(tokens_->verify_access(issue().access_token)) << "a later sign-in works";
}

TEST_F(TokenServiceTest, PasswordChangeRevokesTheCallersOlderAccessTokensButNotTheFreshOne) {
  auto a = issue();
  clock_.advance(std::chrono::seconds{5});
  ASSERT_TRUE(tokens_->revoke_others(user_.id, a.family_id, "password_change", meta_));
  EXPECT_FALSE(tokens_->verify_access(a.access_token)) << "the old access token may be what leaked";
  auto fresh = tokens_->mint_access(user_, a.family_id, clock_.now(), "", "pwd");
  ASSERT_TRUE(fresh);
  EXPECT_TRUE(tokens_->verify_access(*fresh));
  EXPECT_TRUE(refresh(a.refresh_token)) << "the caller's family stays";
}

TEST_F(TokenServiceTest, UnknownRefreshToken) {
  auto r = refresh(SecretString(std::string_view("not-a-token")));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(TokenError::InvalidRefresh));
}

TEST_F(TokenServiceTest, DisabledUserCannotRefresh) {
  auto t = issue();
  ASSERT_TRUE(store_->users().set_disabled(user_.id, true, clock_.now()));
  auto r = refresh(t.refresh_token);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(TokenError::InvalidRefresh));
}

TEST_F(TokenServiceTest, LogoutRevokesFamilyAndJtiAndOtherInstancesSeeIt) {
  auto t = issue();
  auto other_session = issue();
  auto claims = tokens_->verify_access(t.access_token);
  ASSERT_TRUE(claims);
  ASSERT_TRUE(tokens_->logout(&t.refresh_token, &*claims, meta_));
  EXPECT_EQ(tokens_->verify_access(t.access_token).error().code, make_error_code(TokenError::TokenRevoked));
  EXPECT_FALSE(refresh(t.refresh_token));
  EXPECT_TRUE(tokens_->verify_access(other_session.access_token));

  // A second instance on the same store sees the revocation after its next sync.
  TokenConfig cfg = tokens_->config();
  TokenService peer(*store_, *keys_, *kek_, clock_, rng_, audit_, cfg);
  EXPECT_TRUE(peer.verify_access(t.access_token)) << "not synced yet";
  ASSERT_TRUE(peer.sync_revocations());
  EXPECT_FALSE(peer.verify_access(t.access_token));
  EXPECT_TRUE(peer.verify_access(other_session.access_token));
}

TEST_F(TokenServiceTest, LogoutAllAndRevokeOthers) {
  auto a = issue();
  auto b = issue();
  auto c = issue();
  ASSERT_TRUE(tokens_->revoke_others(user_.id, a.family_id, "password_change", meta_));
  EXPECT_FALSE(tokens_->verify_access(b.access_token));
  EXPECT_FALSE(refresh(c.refresh_token));
  EXPECT_TRUE(refresh(a.refresh_token));
  ASSERT_TRUE(tokens_->logout_all(user_.id, meta_));
  EXPECT_FALSE(tokens_->verify_access(a.access_token));
}

TEST_F(TokenServiceTest, TokensFromARetiredKeyStopVerifyingDespiteTheCache) {
  auto t = issue();
  ASSERT_TRUE(tokens_->verify_access(t.access_token));
  const std::string old_kid = keys_->snapshot()->active->kid();
  ASSERT_TRUE(keys_->rotate(jwt::Alg::ES256));
  EXPECT_TRUE(tokens_->verify_access(t.access_token)) << "old key still published";
  ASSERT_TRUE(keys_->retire(old_kid));
  EXPECT_FALSE(tokens_->verify_access(t.access_token));
  EXPECT_TRUE(tokens_->verify_access(issue().access_token));
}

TEST_F(TokenServiceTest, PublishedKeyDropsOutAfterTheOverlap) {
  auto t = issue();
  ASSERT_TRUE(keys_->rotate(jwt::Alg::EdDSA));
  clock_.advance(std::chrono::seconds{931});
  ASSERT_TRUE(keys_->reload());
  EXPECT_EQ(keys_->snapshot()->verify.size(), 1U);
}

TEST_F(TokenServiceTest, WrongKekCannotOpenKeys) {
  crypto::Kek other = std::move(*crypto::Kek::from_base64url("HwAeAB0AHAAbABoAGQAYABcAFgAVABQAEwASABEAEAA"));
  KeyManager km(store_->keys(), other, clock_, rng_, std::chrono::seconds{930});
  auto r = km.reload();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, make_error_code(KeyError::Unsealable));
}

}  // namespace
}  // namespace gh::service
