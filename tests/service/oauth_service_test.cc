// OAuthService (service/oauth/oauth_service.h) with a fake back channel, the
// memory store and a fake clock: the GitHub path (no ID-token signing needed
// here; the OIDC checks run against real providers in tests/integration), the
// single use of flow state, the linking policy, native codes and unlinking.
#include "service/oauth/oauth_service.h"

#include <map>
#include <mutex>

#include <gtest/gtest.h>

#include "core/base/encoding.h"
#include "core/oauth/pkce.h"
#include "service/oauth/http_client.h"
#include "store/memory/memory_store.h"

namespace gh::service {
namespace {

using std::chrono::seconds;

class RecordingAudit final : public AuditSink {
 public:
  void record(const AuditEvent& e) override {
    std::lock_guard lock(mu);
    events.push_back(e);
  }
  bool has(std::string_view action, std::string_view result_part = {}) {
    std::lock_guard lock(mu);
    for (const auto& e : events)
      if (e.action == action && e.result.find(result_part) != std::string::npos) return true;
    return false;
  }
  std::mutex mu;
  std::vector<AuditEvent> events;
};

// GitHub's endpoints, answered from memory.
class FakeGithub final : public HttpClient {
 public:
  std::string emails = R"([{"email":"octo@example.test","primary":true,"verified":true}])";
  std::string user = R"({"id":42,"login":"octocat","name":"Octo Cat"})";
  int token_calls = 0;

  Result<HttpReply> get(const std::string& url, const std::vector<std::string>&) override {
    if (url.ends_with("/user")) return HttpReply{200, user, ""};
    if (url.ends_with("/user/emails")) return HttpReply{200, emails, ""};
    return HttpReply{404, "{}", ""};
  }
  Result<HttpReply> post_form(const std::string&, const std::string& body,
                              const std::vector<std::string>&, const BasicAuth* auth) override {
    ++token_calls;
    if (auth == nullptr || auth->user != "client" || auth->password->expose() != "secret")
      return HttpReply{401, R"({"error":"invalid_client"})", ""};
    if (body.find("code_verifier=") == std::string::npos)
      return HttpReply{200, R"({"error":"bad_verification_code"})", ""};
    return HttpReply{200, R"({"access_token":"gho_x","token_type":"bearer","scope":"read:user"})",
                     ""};
  }
};

class OAuthServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_->migrate());
    config_.public_url = "https://id.example";
    config_.oauth_native_redirect_list = {"com.example.app:/cb"};
    config_.oauth_providers["github"] = {"",
                                         "client",
                                         "secret",
                                         "read:user user:email",
                                         "GitHub",
                                         "https://github.com/login/oauth/authorize",
                                         "https://github.com/login/oauth/access_token",
                                         "https://api.github.com"};
  }
  OAuthService make() { return OAuthService(config_, *store_, http_, clock_, rng_, audit_); }

  // A started flow's cookie value and its state parameter.
  std::pair<std::string, std::string> begin(OAuthService& s, StartRequest r = {}) {
    auto started = s.start("github", r, {});
    EXPECT_TRUE(started) << started.error().message();
    const std::string& url = started->authorization_url;
    const auto at = url.find("state=") + 6;
    return {std::string(started->flow_id.expose()), url.substr(at, url.find('&', at) - at)};
  }
  Result<CallbackOutcome> finish(OAuthService& s, const std::pair<std::string, std::string>& flow) {
    const std::string query = "code=abc&state=" + flow.second;
    return s.callback("github", {flow.first, query, std::nullopt}, {});
  }

  Config config_;
  std::unique_ptr<store::Store> store_ = store::memory::open_memory_store();
  FakeGithub http_;
  FakeClock clock_;
  SystemRandom rng_;
  RecordingAudit audit_;
};

TEST_F(OAuthServiceTest, FirstSignInCreatesAVerifiedPasswordlessUserAndTheFlowIsSingleUse) {
  auto s = make();
  const auto flow = begin(s);
  auto out = finish(s, flow);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_TRUE(out->created);
  EXPECT_EQ(out->user.email, "octo@example.test");
  EXPECT_TRUE(out->user.email_verified);
  EXPECT_TRUE(out->user.password_hash.empty());
  EXPECT_EQ(out->identity.issuer, "https://github.com");
  EXPECT_EQ(out->identity.subject, "42");
  EXPECT_TRUE(audit_.has("oauth.user_created"));
  // Replay of the same callback: the record is gone.
  auto again = finish(s, flow);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, make_error_code(FederationError::StateInvalid));
  EXPECT_TRUE(audit_.has("oauth.login_failed", "federation"));
  EXPECT_EQ(http_.token_calls, 1) << "a replayed callback never reaches the token endpoint";
}

TEST_F(OAuthServiceTest, ExpiredFlowAndForgedStateAreRefused) {
  auto s = make();
  const auto flow = begin(s);
  clock_.advance(seconds{601});
  EXPECT_EQ(finish(s, flow).error().code, make_error_code(FederationError::StateInvalid));
  const auto flow2 = begin(s);
  EXPECT_EQ(finish(s, {flow2.first, "forged"}).error().code,
            make_error_code(oauth::OAuthError::StateMismatch));
  EXPECT_EQ(store_->users().count_users().value_or(-1), 0);
}

TEST_F(OAuthServiceTest, ExistingEmailNeedsALinkUnlessAutoLinkIsOn) {
  store::User u;
  u.id = "u1";
  u.email = u.email_normalized = "octo@example.test";
  u.password_hash = "$argon2id$x";
  ASSERT_TRUE(store_->users().create_user(u));
  {
    auto s = make();
    EXPECT_EQ(finish(s, begin(s)).error().code, make_error_code(FederationError::LinkRequired));
    EXPECT_TRUE(audit_.has("oauth.link_refused", "auto_link_disabled"));
  }
  // GitHub never hands over an unverified primary address: no email at all,
  // so no link and no new account either.
  http_.emails = R"([{"email":"octo@example.test","primary":true,"verified":false}])";
  config_.oauth_auto_link_verified_email = true;
  {
    auto s = make();
    EXPECT_EQ(finish(s, begin(s)).error().code, make_error_code(FederationError::EmailUnverified));
    EXPECT_TRUE(store_->identities().list_identities("u1")->empty());
  }
  http_.emails = R"([{"email":"octo@example.test","primary":true,"verified":true}])";
  {
    // The local account never proved the address: whoever registered it first (and holds its
    // password) must not receive the owner's provider sign-in.
    auto s = make();
    EXPECT_EQ(finish(s, begin(s)).error().code, make_error_code(FederationError::LinkRequired));
    EXPECT_TRUE(audit_.has("oauth.link_refused", "local_email_unverified"));
    EXPECT_TRUE(store_->identities().list_identities("u1")->empty());
  }
  ASSERT_TRUE(store_->users().set_email_verified("u1", true, clock_.now()));
  auto s = make();
  auto out = finish(s, begin(s));
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->user.id, "u1");
  EXPECT_TRUE(out->linked);
  EXPECT_TRUE(audit_.has("oauth.identity_linked"));
}

TEST_F(OAuthServiceTest, UnverifiedEmailCreatesNoUser) {
  http_.emails = R"([{"email":"new@example.test","primary":true,"verified":false}])";
  auto s = make();
  EXPECT_EQ(finish(s, begin(s)).error().code, make_error_code(FederationError::EmailUnverified));
  EXPECT_EQ(store_->users().count_users().value_or(-1), 0);
}

TEST_F(OAuthServiceTest, NativeCodeIsBoundToRedirectAndVerifierAndSingleUse) {
  auto s = make();
  const std::string verifier(43, 'v');
  StartRequest r;
  r.mode = FlowMode::Native;
  r.app_redirect = "com.example.app:/cb";
  r.app_challenge = *oauth::code_challenge_s256(verifier);
  StartRequest bad = r;
  bad.app_redirect = "https://evil.example/cb";
  EXPECT_EQ(s.start("github", bad, {}).error().code, make_error_code(FederationError::BadRedirect));
  auto out = finish(s, begin(s, r));
  ASSERT_TRUE(out) << out.error().message();
  ASSERT_TRUE(out->native_code);
  const std::string code(out->native_code->expose());
  EXPECT_EQ(s.redeem_code(code, "com.example.app:/cb", std::string(43, 'w'), {}).error().code,
            make_error_code(FederationError::CodeInvalid));
  // The failed attempt consumed it.
  EXPECT_EQ(s.redeem_code(code, "com.example.app:/cb", verifier, {}).error().code,
            make_error_code(FederationError::CodeInvalid));
  auto out2 = finish(s, begin(s, r));
  ASSERT_TRUE(out2);
  const std::string code2(out2->native_code->expose());
  auto user = s.redeem_code(code2, "com.example.app:/cb", verifier, {});
  ASSERT_TRUE(user) << user.error().message();
  EXPECT_EQ(user->user.id, out2->user.id);
  EXPECT_EQ(user->login_subject, "oauth:github identity=" + out2->identity.id);
  clock_.advance(seconds{61});
  auto out3 = finish(s, begin(s, r));
  ASSERT_TRUE(out3);
  clock_.advance(seconds{61});
  EXPECT_EQ(
      s.redeem_code(out3->native_code->expose(), "com.example.app:/cb", verifier, {}).error().code,
      make_error_code(FederationError::CodeInvalid))
      << "expired";
}

TEST(FederatedAuthTime, OnlyWhatTheProviderVouchesForCountsAsRecent) {
  const Seconds now{seconds{1'900'000'000}};
  const seconds window{600};
  struct Case {
    const char* what;
    std::optional<Seconds> reported;
    Seconds want;
  };
  const Case cases[] = {
      {"not reported (GitHub, no auth_time)", std::nullopt, now - seconds{601}},
      {"reported fresh", now - seconds{5}, now - seconds{5}},
      {"reported 5 minutes ago", now - seconds{300}, now - seconds{300}},
      {"reported an hour ago: just outside the window", now - seconds{3600}, now - seconds{601}},
      {"reported 40 days ago (a long provider session): the same", now - seconds{40 * 86400},
       now - seconds{601}},
      {"reported in the future: clamped to now", now + seconds{90}, now},
      {"reported zero (would read as now at token issue)", Seconds{}, now - seconds{601}},
      {"reported negative", Seconds{seconds{-5}}, now - seconds{601}},
  };
  for (const auto& c : cases)
    EXPECT_EQ(federated_auth_time(c.reported, now, window), c.want) << c.what;
  EXPECT_EQ(federated_auth_time(std::nullopt, now, seconds{60}), now - seconds{61});
}

TEST_F(OAuthServiceTest, AProviderSignInWithoutAuthTimeIsNotRecent) {
  // GitHub never says when the person last authenticated: the sign-in lies just outside the
  // step-up window (authz.reauth_window_s), in the browser and, through the code, native flow.
  config_.authz_reauth_window_s = 120;
  auto s = make();
  auto out = finish(s, begin(s));
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(out->auth_time, clock_.now() - seconds{121});

  const std::string verifier(43, 'v');
  StartRequest r;
  r.mode = FlowMode::Native;
  r.app_redirect = "com.example.app:/cb";
  r.app_challenge = *oauth::code_challenge_s256(verifier);
  auto native = finish(s, begin(s, r));
  ASSERT_TRUE(native) << native.error().message();
  const Seconds signed_in_at = native->auth_time;
  EXPECT_EQ(signed_in_at, clock_.now() - seconds{121});
  clock_.advance(seconds{30});  // redeemed later: the sign-in does not get younger
  auto redeemed = s.redeem_code(native->native_code->expose(), "com.example.app:/cb", verifier, {});
  ASSERT_TRUE(redeemed) << redeemed.error().message();
  EXPECT_EQ(redeemed->auth_time, signed_in_at);
}

TEST_F(OAuthServiceTest, UnlinkNeverRemovesTheLastWayIn) {
  auto s = make();
  auto out = finish(s, begin(s));
  ASSERT_TRUE(out);
  EXPECT_EQ(s.unlink(out->user.id, out->identity.id, {}).error().code,
            make_error_code(FederationError::LastSignInMethod));
  EXPECT_EQ(s.unlink(out->user.id, "nope", {}).error().code,
            make_error_code(FederationError::NotLinked));
  EXPECT_TRUE(audit_.has("oauth.identity_unlinked", "last_sign_in_method"));
  EXPECT_EQ(s.identities(out->user.id)->size(), 1U);
}

TEST_F(OAuthServiceTest, UnknownProvider) {
  auto s = make();
  EXPECT_EQ(s.start("nope", {}, {}).error().code,
            make_error_code(FederationError::UnknownProvider));
  EXPECT_EQ(s.callback("nope", {"x", "code=a&state=b", std::nullopt}, {}).error().code,
            make_error_code(FederationError::UnknownProvider));
  EXPECT_TRUE(audit_.has("oauth.login_failed"));
}

TEST_F(OAuthServiceTest, GithubCannotConfirmARecentSignIn) {
  // GitHub has no ID token and no auth_time: it may answer from its own session without asking
  // anyone, so it is never a step-up (docs/oauth.md §4).
  auto s = make();
  auto first = finish(s, begin(s));
  ASSERT_TRUE(first) << first.error().message();
  StartRequest r;
  r.mode = FlowMode::Reauth;
  r.link_user_id = first->user.id;
  auto started = s.start("github", r, {});
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, make_error_code(FederationError::ReauthUnsupported));
  // Without a user it is a malformed request.
  r.link_user_id.clear();
  EXPECT_EQ(s.start("github", r, {}).error().code, make_error_code(FederationError::BadRequest));
}

// A discovery document with the given endpoint base (the rest of the OIDC flow is not reached).
class FakeDiscovery final : public HttpClient {
 public:
  std::string issuer;
  std::string endpoints;
  int gets = 0;
  Result<HttpReply> get(const std::string& url, const std::vector<std::string>&) override {
    ++gets;
    if (!url.ends_with("/.well-known/openid-configuration")) return HttpReply{404, "{}", ""};
    const std::string doc = R"({"issuer":")" + issuer + R"(","authorization_endpoint":")" +
                            endpoints + R"(/auth","token_endpoint":")" + endpoints +
                            R"(/token","jwks_uri":")" + endpoints + R"(/jwks"})";
    return HttpReply{200, doc, ""};
  }
  Result<HttpReply> post_form(const std::string&, const std::string&,
                              const std::vector<std::string>&, const BasicAuth*) override {
    return HttpReply{500, "{}", ""};
  }
};

TEST_F(OAuthServiceTest, ProductionRefusesAProviderWithHttpEndpoints) {
  FakeDiscovery http;
  http.issuer = "https://idp.example";
  http.endpoints = "http://127.0.0.1:4000";  // allowed by check_endpoint_url, not in production
  config_.oauth_providers.clear();
  config_.oauth_providers["corp"] = {
      "https://idp.example", "client", "secret", "openid", "Corp", "", "", ""};
  {
    config_.mode = "dev";
    OAuthService dev(config_, *store_, http, clock_, rng_, audit_);
    auto started = dev.start("corp", {}, {});
    EXPECT_TRUE(started) << started.error().message();
  }
  config_.mode = "production";
  OAuthService prod(config_, *store_, http, clock_, rng_, audit_);
  auto started = prod.start("corp", {}, {});
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, make_error_code(oauth::OAuthError::InsecureUrl));
  EXPECT_NE(started.error().detail.find("authorization_endpoint"), std::string::npos);
  EXPECT_TRUE(audit_.has("oauth.provider_error", "oauth"));
}

}  // namespace
}  // namespace gh::service
