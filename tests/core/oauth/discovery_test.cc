// Discovery documents: the issuer rule, required endpoints, https, PKCE and
// RFC 9207 support. The base document is a trimmed copy of what
// oidc-provider 9 serves on loopback (the shape the integration tests meet).
#include "core/oauth/discovery.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "oauth_test_util.h"

namespace gh::oauth {
namespace {

using nlohmann::json;
using testing::fails_with;
using testing::succeeds;

constexpr std::string_view kIssuer = "https://idp.example.test";

json document() {
  return {{"issuer", kIssuer},
          {"authorization_endpoint", "https://idp.example.test/auth"},
          {"token_endpoint", "https://idp.example.test/token"},
          {"jwks_uri", "https://idp.example.test/jwks"},
          {"userinfo_endpoint", "https://idp.example.test/me"},
          {"response_types_supported", {"code"}},
          {"code_challenge_methods_supported", {"S256"}},
          {"id_token_signing_alg_values_supported", {"RS256", "ES256"}},
          {"authorization_response_iss_parameter_supported", true}};
}

Result<ProviderMetadata> parse(const json& doc, std::string_view issuer = kIssuer) {
  return parse_discovery(doc.dump(), issuer);
}

TEST(Discovery, ParsesAGoodDocument) {
  const auto m = parse(document());
  ASSERT_TRUE(succeeds(m));
  EXPECT_EQ(m->issuer, kIssuer);
  EXPECT_EQ(m->authorization_endpoint, "https://idp.example.test/auth");
  EXPECT_EQ(m->token_endpoint, "https://idp.example.test/token");
  EXPECT_EQ(m->jwks_uri, "https://idp.example.test/jwks");
  EXPECT_EQ(m->userinfo_endpoint, "https://idp.example.test/me");
  EXPECT_TRUE(m->iss_parameter_supported);
  EXPECT_EQ(m->id_token_signing_algs, (std::vector<std::string>{"RS256", "ES256"}));
}

TEST(Discovery, OptionalMembersMayBeAbsent) {
  auto doc = document();
  for (const char* k : {"userinfo_endpoint", "response_types_supported",
                        "code_challenge_methods_supported", "id_token_signing_alg_values_supported",
                        "authorization_response_iss_parameter_supported"}) {
    doc.erase(k);
  }
  const auto m = parse(doc);
  ASSERT_TRUE(succeeds(m));
  EXPECT_FALSE(m->iss_parameter_supported);
  EXPECT_FALSE(m->userinfo_endpoint);
}

TEST(Discovery, IssuerMustMatchExactly) {
  for (const char* configured :
       {"https://idp.example.test/", "https://IDP.example.test", "http://idp.example.test",
        "https://idp.example.test:443", "https://idp.example.tes", ""}) {
    EXPECT_TRUE(fails_with(parse(document(), configured), OAuthError::DiscoveryIssuerMismatch))
        << configured;
  }
  auto doc = document();
  doc.erase("issuer");
  EXPECT_TRUE(fails_with(parse(doc), OAuthError::DiscoveryIssuerMismatch));
  doc["issuer"] = 42;
  EXPECT_TRUE(fails_with(parse(doc), OAuthError::BadDiscovery));
}

TEST(Discovery, IssuerMustBeHttpsWithoutQuery) {
  auto doc = document();
  doc["issuer"] = "http://idp.example.test";
  EXPECT_TRUE(fails_with(parse(doc, "http://idp.example.test"), OAuthError::InsecureUrl));
  doc["issuer"] = "https://idp.example.test?x=1";
  EXPECT_TRUE(fails_with(parse(doc, "https://idp.example.test?x=1"), OAuthError::BadUrl));
}

TEST(Discovery, LoopbackMayUseHttp) {
  for (const char* base : {"http://127.0.0.1:4000", "http://[::1]:4000", "http://localhost:4000"}) {
    json doc = document();
    const std::string b = base;
    doc["issuer"] = b;
    doc["authorization_endpoint"] = b + "/auth";
    doc["token_endpoint"] = b + "/token";
    doc["jwks_uri"] = b + "/jwks";
    doc["userinfo_endpoint"] = b + "/me";
    EXPECT_TRUE(succeeds(parse(doc, b))) << base;
  }
}

TEST(Discovery, RequireHttpsRefusesEveryLoopbackHttpUrl) {
  // What dev mode allows (the test peers on 127.0.0.1) production refuses, naming the member.
  const auto good = parse(document());
  ASSERT_TRUE(succeeds(good));
  EXPECT_TRUE(require_https(*good));
  const std::string b = "http://127.0.0.1:4000";
  json all = document();
  all["issuer"] = b;
  for (const char* m :
       {"authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"})
    all[m] = b + "/x";
  const auto loop = parse(all, b);
  ASSERT_TRUE(succeeds(loop));
  EXPECT_TRUE(fails_with(require_https(*loop), OAuthError::InsecureUrl));
  EXPECT_NE(require_https(*loop).error().detail.find("issuer"), std::string::npos);
  for (const char* m :
       {"authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"}) {
    json doc = document();
    doc[m] = "http://localhost:4000/x";
    const auto parsed = parse(doc);
    ASSERT_TRUE(succeeds(parsed)) << m;
    const auto st = require_https(*parsed);
    EXPECT_TRUE(fails_with(st, OAuthError::InsecureUrl)) << m;
    EXPECT_NE(st.error().detail.find(m), std::string::npos) << st.error().detail;
  }
  json no_userinfo = document();
  no_userinfo.erase("userinfo_endpoint");
  EXPECT_TRUE(require_https(*parse(no_userinfo)));
}

TEST(Discovery, MissingEndpoint) {
  for (const char* k : {"authorization_endpoint", "token_endpoint", "jwks_uri"}) {
    auto doc = document();
    doc.erase(k);
    EXPECT_TRUE(fails_with(parse(doc), OAuthError::MissingEndpoint)) << k;
    doc[k] = "";
    EXPECT_TRUE(fails_with(parse(doc), OAuthError::MissingEndpoint)) << k;
    doc[k] = nullptr;
    EXPECT_TRUE(fails_with(parse(doc), OAuthError::MissingEndpoint)) << k;
    doc[k] = {"https://idp.example.test/x"};
    EXPECT_TRUE(fails_with(parse(doc), OAuthError::BadDiscovery)) << k;
  }
}

TEST(Discovery, EndpointsMustBeHttps) {
  for (const char* k :
       {"authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"}) {
    auto doc = document();
    doc[k] = "http://idp.example.test/x";
    EXPECT_TRUE(fails_with(parse(doc), OAuthError::InsecureUrl)) << k;
    doc[k] = "https://idp.example.test/x#f";
    EXPECT_TRUE(fails_with(parse(doc), OAuthError::BadUrl)) << k;
    doc[k] = "https://user@idp.example.test/x";
    EXPECT_TRUE(fails_with(parse(doc), OAuthError::BadUrl)) << k;
  }
}

TEST(Discovery, PkceNotSupported) {
  auto doc = document();
  doc["code_challenge_methods_supported"] = {"plain"};
  EXPECT_TRUE(fails_with(parse(doc), OAuthError::PkceNotSupported));
  doc["code_challenge_methods_supported"] = json::array();
  EXPECT_TRUE(fails_with(parse(doc), OAuthError::PkceNotSupported));
  doc["code_challenge_methods_supported"] = {"s256"};
  EXPECT_TRUE(fails_with(parse(doc), OAuthError::PkceNotSupported));
  doc["code_challenge_methods_supported"] = "S256";
  EXPECT_TRUE(fails_with(parse(doc), OAuthError::BadDiscovery));
  doc["code_challenge_methods_supported"] = {"plain", "S256"};
  EXPECT_TRUE(succeeds(parse(doc)));
}

TEST(Discovery, CodeFlowNotSupported) {
  auto doc = document();
  doc["response_types_supported"] = {"id_token", "token id_token"};
  EXPECT_TRUE(fails_with(parse(doc), OAuthError::CodeFlowNotSupported));
  doc["response_types_supported"] = {"code id_token", "code"};
  EXPECT_TRUE(succeeds(parse(doc)));
}

TEST(Discovery, IssParameterSupportedMustBeBoolean) {
  auto doc = document();
  doc["authorization_response_iss_parameter_supported"] = "true";
  EXPECT_TRUE(fails_with(parse(doc), OAuthError::BadDiscovery));
  doc["authorization_response_iss_parameter_supported"] = false;
  EXPECT_FALSE(parse(doc)->iss_parameter_supported);
}

TEST(Discovery, BadDiscovery) {
  for (const char* body :
       {"", "[]", "null", "{", R"({"issuer":"https://idp.example.test","issuer":"https://evil"})",
        "{\"issuer\":\"\xff\"}"}) {
    EXPECT_TRUE(fails_with(parse_discovery(body, kIssuer), OAuthError::BadDiscovery)) << body;
  }
  auto doc = document();
  doc["id_token_signing_alg_values_supported"] = {"RS256", 1};
  EXPECT_TRUE(fails_with(parse(doc), OAuthError::BadDiscovery));
}

}  // namespace
}  // namespace gh::oauth
