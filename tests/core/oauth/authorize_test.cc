// The authorization request URL and the callback: encoding, existing
// queries, duplicates, and each refusal of check_callback.
#include "core/oauth/authorize.h"

#include <gtest/gtest.h>

#include "core/oauth/url.h"
#include "oauth_test_util.h"

namespace gh::oauth {
namespace {

using testing::fails_with;
using testing::succeeds;

AuthorizationRequest request() {
  AuthorizationRequest r;
  r.authorization_endpoint = "https://idp.example.test/authorize";
  r.client_id = "gatehouse";
  r.redirect_uri = "https://auth.example.test/v1/oauth/idp/callback";
  r.scope = "openid email profile";
  r.state = "st-abc_123";
  r.nonce = "n0nce";
  r.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  return r;
}

TEST(AuthorizationUrl, AllParametersInOrderAndEncoded) {
  const auto url = authorization_url(request());
  ASSERT_TRUE(succeeds(url));
  EXPECT_EQ(*url,
            "https://idp.example.test/authorize?response_type=code&client_id=gatehouse"
            "&redirect_uri=https%3A%2F%2Fauth.example.test%2Fv1%2Foauth%2Fidp%2Fcallback"
            "&scope=openid%20email%20profile&state=st-abc_123&nonce=n0nce"
            "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
            "&code_challenge_method=S256");
}

TEST(AuthorizationUrl, ReservedCharactersAreEncoded) {
  auto r = request();
  r.client_id = "a b&c=d+e#f?g/h%i";
  r.state = "\xc3\xa9";
  const auto url = authorization_url(r);
  ASSERT_TRUE(succeeds(url));
  EXPECT_NE(url->find("client_id=a%20b%26c%3Dd%2Be%23f%3Fg%2Fh%25i&"), std::string::npos);
  EXPECT_NE(url->find("state=%C3%A9&"), std::string::npos);
}

TEST(AuthorizationUrl, NonceIsLeftOutForPlainOAuth) {
  auto r = request();
  r.nonce.clear();
  const auto url = authorization_url(r);
  ASSERT_TRUE(succeeds(url));
  EXPECT_EQ(url->find("nonce"), std::string::npos);
}

TEST(AuthorizationUrl, ForceLoginAddsPromptLoginAndMaxAgeZero) {
  auto r = request();
  EXPECT_EQ(authorization_url(r)->find("prompt"), std::string::npos);
  EXPECT_EQ(authorization_url(r)->find("max_age"), std::string::npos);
  r.force_login = true;
  const auto url = authorization_url(r);
  ASSERT_TRUE(succeeds(url));
  EXPECT_TRUE(url->ends_with("&code_challenge_method=S256&prompt=login&max_age=0")) << *url;
}

TEST(AuthorizationUrl, ForceLoginNeedsANonce) {
  auto r = request();
  r.force_login = true;
  r.nonce.clear();
  EXPECT_TRUE(fails_with(authorization_url(r), OAuthError::MissingParameter));
}

TEST(AuthorizationUrl, ExistingQueryIsKept) {
  auto r = request();
  r.authorization_endpoint = "https://idp.example.test/authorize?tenant=42";
  EXPECT_EQ(authorization_url(r)->rfind(
                "https://idp.example.test/authorize?tenant=42&response_type=code&", 0),
            0U);
  r.authorization_endpoint = "https://idp.example.test/authorize?";
  EXPECT_EQ(
      authorization_url(r)->rfind("https://idp.example.test/authorize?response_type=code&", 0), 0U);
  r.authorization_endpoint = "https://idp.example.test/authorize?a=1&";
  EXPECT_EQ(
      authorization_url(r)->rfind("https://idp.example.test/authorize?a=1&response_type=code&", 0),
      0U);
}

TEST(AuthorizationUrl, ExistingQueryMustNotSetOurParameters) {
  auto r = request();
  for (const char* q : {"?state=x", "?a=1&client_id=evil", "?redirect%5Furi=x", "?nonce", "?%zz=1",
                        "?prompt=none", "?max_age=86400"}) {
    r.authorization_endpoint = std::string("https://idp.example.test/authorize") + q;
    EXPECT_TRUE(fails_with(authorization_url(r), OAuthError::BadUrl)) << q;
  }
}

TEST(AuthorizationUrl, MissingParameter) {
  for (auto field : {&AuthorizationRequest::client_id, &AuthorizationRequest::redirect_uri,
                     &AuthorizationRequest::scope, &AuthorizationRequest::state,
                     &AuthorizationRequest::code_challenge}) {
    auto r = request();
    (r.*field).clear();
    EXPECT_TRUE(fails_with(authorization_url(r), OAuthError::MissingParameter));
  }
}

TEST(AuthorizationUrl, EndpointMustBeSafe) {
  auto r = request();
  r.authorization_endpoint = "http://idp.example.test/authorize";
  EXPECT_TRUE(fails_with(authorization_url(r), OAuthError::InsecureUrl));
  r.authorization_endpoint = "https://idp.example.test/authorize#frag";
  EXPECT_TRUE(fails_with(authorization_url(r), OAuthError::BadUrl));
  r.authorization_endpoint = "http://127.0.0.1:9000/auth";
  EXPECT_TRUE(succeeds(authorization_url(r)));
}

TEST(Url, EndpointChecks) {
  for (const char* good : {"https://idp.example.test", "https://idp.example.test/a/b?x=1",
                           "https://idp:8443/", "http://127.0.0.1:8080/x", "http://[::1]:1/x",
                           "http://localhost/", "http://LOCALHOST:1", "https://[2001:db8::1]/x"}) {
    EXPECT_TRUE(succeeds(check_endpoint_url(good))) << good;
  }
  for (const char* bad :
       {"", "idp.example.test/x", "ftp://idp.example.test/", "javascript:alert(1)",
        "https://user@idp.example.test/", "https://idp.example.test@evil.test/",
        "https://idp.example.test/#x", "https:///x", "https://:443/x", "https://idp:/x",
        "https://idp:44a/x", "https://idp:123456/x", "https://idp.example.test/a b",
        "https://idp.example.test/\\evil", "https://idp.example.test/\x01",
        "https://b\xc3\xbc"
        "cher.test/",
        "HTTPS://idp.example.test/", "https://[::1/x", "https://[::1]x/"}) {
    EXPECT_TRUE(fails_with(check_endpoint_url(bad), OAuthError::BadUrl)) << bad;
  }
  for (const char* insecure : {"http://idp.example.test/", "http://127.0.0.2/", "http://[::2]/",
                               "http://localhost.evil.test/", "http://127.0.0.1.nip.io/"}) {
    EXPECT_TRUE(fails_with(check_endpoint_url(insecure), OAuthError::InsecureUrl)) << insecure;
  }
  EXPECT_TRUE(fails_with(check_endpoint_url("https://x.test/" + std::string(kMaxUrlBytes, 'a')),
                         OAuthError::BadUrl));
}

TEST(Url, IssuerHasNoQuery) {
  EXPECT_TRUE(succeeds(check_issuer_url("https://accounts.google.com")));
  EXPECT_TRUE(fails_with(check_issuer_url("https://idp.example.test/?x=1"), OAuthError::BadUrl));
}

TEST(Url, DiscoveryUrl) {
  EXPECT_EQ(discovery_url("https://accounts.google.com"),
            "https://accounts.google.com/.well-known/openid-configuration");
  EXPECT_EQ(discovery_url("https://idp.example.test/realms/x/"),
            "https://idp.example.test/realms/x/.well-known/openid-configuration");
}

TEST(Callback, ParsesTheParametersWeUse) {
  const auto cb = parse_callback(
      "code=4%2F0Ab-c&state=s%20t+u&iss=https%3A%2F%2Fidp.example.test&authuser=0&prompt=consent");
  ASSERT_TRUE(succeeds(cb));
  EXPECT_EQ(cb->code, "4/0Ab-c");
  EXPECT_EQ(cb->state, "s t u");
  EXPECT_EQ(cb->iss, "https://idp.example.test");
  EXPECT_FALSE(cb->error);
}

TEST(Callback, ParsesAnError) {
  const auto cb = parse_callback("error=access_denied&error_description=The+user+said+no&state=s");
  ASSERT_TRUE(succeeds(cb));
  EXPECT_EQ(cb->error, "access_denied");
  EXPECT_EQ(cb->error_description, "The user said no");
  EXPECT_FALSE(cb->code);
}

TEST(Callback, EmptyPiecesAreIgnored) {
  const auto cb = parse_callback("&code=c&&state=s&");
  ASSERT_TRUE(succeeds(cb));
  EXPECT_EQ(cb->code, "c");
  EXPECT_TRUE(succeeds(parse_callback("")));
}

TEST(Callback, DuplicateParameter) {
  for (const char* q :
       {"code=a&code=b", "state=a&code=c&state=a", "iss=x&iss=x", "error=a&error=b",
        "code=a&c%6Fde=b", "authuser=0&authuser=1", "error_description=a&error_description=b"}) {
    EXPECT_TRUE(fails_with(parse_callback(q), OAuthError::DuplicateParameter)) << q;
  }
}

TEST(Callback, BadCallback) {
  for (const char* q : {"code=%", "code=%4", "code=%zz", "=x", "code=a%00b", "code=a%0Ab",
                        "state=%7F", "code=%C3", "code=%ED%A0%80", "%FF=1"}) {
    EXPECT_TRUE(fails_with(parse_callback(q), OAuthError::BadCallback)) << q;
  }
  EXPECT_TRUE(fails_with(parse_callback("code=" + std::string(kMaxCallbackBytes, 'a')),
                         OAuthError::BadCallback));
  std::string many;
  for (std::size_t i = 0; i <= kMaxCallbackParams; ++i) {
    many += 'p';
    many += std::to_string(i);
    many += "=1&";
  }
  EXPECT_TRUE(fails_with(parse_callback(many), OAuthError::BadCallback));
}

constexpr std::string_view kIssuer = "https://idp.example.test";

CallbackParams callback() {
  CallbackParams cb;
  cb.code = "the-code";
  cb.state = "the-state";
  cb.iss = std::string(kIssuer);
  return cb;
}

ExpectedCallback expected(bool iss_required = true) {
  return ExpectedCallback{"the-state", kIssuer, iss_required};
}

TEST(CheckCallback, ReturnsTheCode) {
  EXPECT_EQ(check_callback(callback(), expected()).value(), "the-code");
  auto cb = callback();
  cb.iss.reset();
  EXPECT_EQ(check_callback(cb, expected(false)).value(), "the-code");
}

TEST(CheckCallback, MissingState) {
  auto cb = callback();
  cb.state.reset();
  EXPECT_TRUE(fails_with(check_callback(cb, expected()), OAuthError::MissingState));
  cb.state = "";
  EXPECT_TRUE(fails_with(check_callback(cb, expected()), OAuthError::MissingState));
}

TEST(CheckCallback, StateMismatch) {
  for (const char* s : {"the-statf", "the-state ", "THE-STATE", "the-stat", "x"}) {
    auto cb = callback();
    cb.state = s;
    EXPECT_TRUE(fails_with(check_callback(cb, expected()), OAuthError::StateMismatch)) << s;
  }
  // A flow with no state stored (expired cookie) matches nothing.
  EXPECT_TRUE(fails_with(check_callback(callback(), ExpectedCallback{"", kIssuer, true}),
                         OAuthError::StateMismatch));
}

TEST(CheckCallback, IssuerMismatchIsMixUp) {
  for (const char* iss : {"https://idp.example.test/", "https://evil.example.test",
                          "http://idp.example.test", "https://IDP.example.test", ""}) {
    auto cb = callback();
    cb.iss = iss;
    EXPECT_TRUE(fails_with(check_callback(cb, expected(false)), OAuthError::IssuerMismatch)) << iss;
  }
  // Also on error responses (RFC 9207 §2.4), before the error is believed.
  auto cb = callback();
  cb.iss = "https://evil.example.test";
  cb.error = "access_denied";
  EXPECT_TRUE(fails_with(check_callback(cb, expected()), OAuthError::IssuerMismatch));
}

TEST(CheckCallback, MissingIssuer) {
  auto cb = callback();
  cb.iss.reset();
  EXPECT_TRUE(fails_with(check_callback(cb, expected(true)), OAuthError::MissingIssuer));
}

TEST(CheckCallback, ProviderError) {
  auto cb = callback();
  cb.code.reset();
  cb.error = "access_denied";
  const auto r = check_callback(cb, expected());
  EXPECT_TRUE(fails_with(r, OAuthError::ProviderError));
  EXPECT_EQ(r.error().detail, "access_denied");
  cb.code = "c";  // an error wins over a code that came with it
  EXPECT_TRUE(fails_with(check_callback(cb, expected()), OAuthError::ProviderError));
}

TEST(CheckCallback, MissingCode) {
  auto cb = callback();
  cb.code.reset();
  EXPECT_TRUE(fails_with(check_callback(cb, expected()), OAuthError::MissingCode));
  cb.code = "";
  EXPECT_TRUE(fails_with(check_callback(cb, expected()), OAuthError::MissingCode));
}

TEST(CheckCallback, StateIsCheckedFirst) {
  CallbackParams cb;  // nothing at all
  cb.error = "server_error";
  EXPECT_TRUE(fails_with(check_callback(cb, expected()), OAuthError::MissingState));
}

}  // namespace
}  // namespace gh::oauth
