// Token endpoint responses (RFC 6749 §5.1/§5.2), including GitHub's habit of
// answering errors with 200.
#include "core/oauth/token_response.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "oauth_test_util.h"

namespace gh::oauth {
namespace {

using nlohmann::json;
using testing::fails_with;
using testing::succeeds;

json good() {
  return {{"access_token", "ya29.a0AfB_secret"},
          {"token_type", "Bearer"},
          {"expires_in", 3599},
          {"scope", "openid email"},
          {"id_token", "eyJ.eyJ.sig"}};
}

TEST(TokenResponse, ParsesAGoodResponse) {
  const auto r = parse_token_response(200, good().dump(), true);
  ASSERT_TRUE(succeeds(r));
  EXPECT_EQ(r->access_token.expose(), "ya29.a0AfB_secret");
  EXPECT_EQ(r->id_token, "eyJ.eyJ.sig");
  EXPECT_EQ(r->expires_in, std::chrono::seconds{3599});
  EXPECT_EQ(r->scope, "openid email");
}

TEST(TokenResponse, TokenTypeIsCaseInsensitive) {
  for (const char* tt : {"bearer", "BEARER", "BeArEr"}) {
    auto body = good();
    body["token_type"] = tt;
    EXPECT_TRUE(succeeds(parse_token_response(200, body.dump(), true))) << tt;
  }
}

TEST(TokenResponse, OptionalMembers) {
  // GitHub: {"access_token":"gho_...","token_type":"bearer","scope":"read:user,user:email"}
  const json body = {{"access_token", "gho_x"}, {"token_type", "bearer"}, {"scope", "user:email"}};
  const auto r = parse_token_response(200, body.dump(), false);
  ASSERT_TRUE(succeeds(r));
  EXPECT_FALSE(r->id_token);
  EXPECT_FALSE(r->expires_in);
  auto nulls = good();
  nulls["expires_in"] = nullptr;
  nulls["scope"] = nullptr;
  EXPECT_TRUE(succeeds(parse_token_response(200, nulls.dump(), true)));
}

TEST(TokenResponse, WrongTokenType) {
  for (const char* tt : {"DPoP", "mac", "Bearer ", "", "bearerx"}) {
    auto body = good();
    body["token_type"] = tt;
    EXPECT_TRUE(
        fails_with(parse_token_response(200, body.dump(), true), OAuthError::WrongTokenType))
        << tt;
  }
}

TEST(TokenResponse, MissingIdToken) {
  auto body = good();
  body.erase("id_token");
  EXPECT_TRUE(fails_with(parse_token_response(200, body.dump(), true), OAuthError::MissingIdToken));
  EXPECT_TRUE(succeeds(parse_token_response(200, body.dump(), false)));
  body["id_token"] = "";
  EXPECT_TRUE(fails_with(parse_token_response(200, body.dump(), true), OAuthError::MissingIdToken));
}

TEST(TokenResponse, TokenEndpointError) {
  const auto r = parse_token_response(
      400, R"({"error":"invalid_grant","error_description":"grant request is invalid"})", true);
  EXPECT_TRUE(fails_with(r, OAuthError::TokenEndpointError));
  EXPECT_EQ(r.error().detail, "invalid_grant");
  // GitHub answers 200 with an error object.
  const auto gh = parse_token_response(200, R"({"error":"bad_verification_code"})", false);
  EXPECT_TRUE(fails_with(gh, OAuthError::TokenEndpointError));
  EXPECT_EQ(gh.error().detail, "bad_verification_code");
  // An error code that is not a clean token does not reach the logs as sent.
  const auto odd = parse_token_response(400, R"({"error":"bad\nline"})", true);
  EXPECT_EQ(odd.error().detail, "invalid_response");
  EXPECT_EQ(parse_token_response(400, R"({"error":7})", true).error().detail, "invalid_response");
}

TEST(TokenResponse, BadTokenResponse) {
  EXPECT_TRUE(fails_with(parse_token_response(500, "Internal Server Error", true),
                         OAuthError::BadTokenResponse));
  EXPECT_TRUE(
      fails_with(parse_token_response(502, good().dump(), true), OAuthError::BadTokenResponse));
  for (const char* body :
       {"", "access_token=x&token_type=bearer", "[]", "null",
        R"({"access_token":"a","access_token":"b","token_type":"Bearer","id_token":"x"})"}) {
    EXPECT_TRUE(fails_with(parse_token_response(200, body, true), OAuthError::BadTokenResponse))
        << body;
  }
  const std::pair<const char*, json> cases[] = {
      {"access_token", nullptr}, {"access_token", ""}, {"access_token", 1},
      {"token_type", nullptr},   {"token_type", 1},    {"id_token", 1},
      {"scope", json::array()},  {"expires_in", -1},   {"expires_in", "3600"},
      {"expires_in", 1.5},       {"expires_in", 1e12}};
  for (const auto& [name, value] : cases) {
    auto body = good();
    body[name] = value;
    EXPECT_TRUE(
        fails_with(parse_token_response(200, body.dump(), true), OAuthError::BadTokenResponse))
        << name << "=" << value.dump();
  }
  for (const char* name : {"access_token", "token_type"}) {
    auto body = good();
    body.erase(name);
    EXPECT_TRUE(
        fails_with(parse_token_response(200, body.dump(), true), OAuthError::BadTokenResponse))
        << name;
  }
}

}  // namespace
}  // namespace gh::oauth
