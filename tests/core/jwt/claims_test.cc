// Time and identity claims: exact boundaries with a fixed `now` (never the
// wall clock), leeway, audience arrays, and integer edge cases.
#include "core/jwt/jwt.h"

#include <limits>

#include <gtest/gtest.h>

#include "jwt_test_util.h"

namespace gh::jwt::testing {
namespace {

constexpr std::int64_t kLeeway = 30;
constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
constexpr auto kMin = std::numeric_limits<std::int64_t>::min();

Result<VerifiedJwt> with_claim(const char* name, Json value, const VerifyOptions& o = options()) {
  Json c = claims();
  c[name] = std::move(value);
  return check(token_for(Alg::EdDSA, c), o);
}

// Expired iff now > exp + leeway.
TEST(JwtClaims, ExpBoundary) {
  EXPECT_TRUE(succeeds(with_claim("exp", kNowSeconds - kLeeway + 1)));
  EXPECT_TRUE(succeeds(with_claim("exp", kNowSeconds - kLeeway)));
  EXPECT_TRUE(fails_with(with_claim("exp", kNowSeconds - kLeeway - 1), JwtError::Expired));
  VerifyOptions strict = options();
  strict.leeway = std::chrono::seconds{0};
  EXPECT_TRUE(succeeds(with_claim("exp", kNowSeconds, strict)));
  EXPECT_TRUE(fails_with(with_claim("exp", kNowSeconds - 1, strict), JwtError::Expired));
}

// NotYetValid iff now + leeway < nbf.
TEST(JwtClaims, NbfBoundary) {
  EXPECT_TRUE(succeeds(with_claim("nbf", kNowSeconds + kLeeway - 1)));
  EXPECT_TRUE(succeeds(with_claim("nbf", kNowSeconds + kLeeway)));
  EXPECT_TRUE(fails_with(with_claim("nbf", kNowSeconds + kLeeway + 1), JwtError::NotYetValid));
  EXPECT_TRUE(succeeds(with_claim("nbf", 0)));
}

// IssuedInFuture iff iat > now + leeway.
TEST(JwtClaims, IatBoundary) {
  EXPECT_TRUE(succeeds(with_claim("iat", kNowSeconds + kLeeway - 1)));
  EXPECT_TRUE(succeeds(with_claim("iat", kNowSeconds + kLeeway)));
  EXPECT_TRUE(fails_with(with_claim("iat", kNowSeconds + kLeeway + 1), JwtError::IssuedInFuture));
}

TEST(JwtClaims, NegativeLeewayCountsAsZero) {
  VerifyOptions o = options();
  o.leeway = std::chrono::seconds{-100};
  EXPECT_TRUE(succeeds(with_claim("exp", kNowSeconds, o)));
  EXPECT_TRUE(fails_with(with_claim("exp", kNowSeconds - 1, o), JwtError::Expired));
}

TEST(JwtClaims, ExtremeIntegersDoNotOverflow) {
  EXPECT_TRUE(succeeds(with_claim("exp", kMax)));  // exp + leeway saturates: not expired
  EXPECT_TRUE(fails_with(with_claim("exp", kMin), JwtError::Expired));
  EXPECT_TRUE(fails_with(with_claim("nbf", kMax), JwtError::NotYetValid));
  EXPECT_TRUE(fails_with(with_claim("iat", kMax), JwtError::IssuedInFuture));
  EXPECT_TRUE(succeeds(with_claim("iat", kMin)));
  EXPECT_TRUE(
      fails_with(with_claim("exp", static_cast<std::uint64_t>(kMax) + 1), JwtError::BadClaimType));
  // now itself at the extremes.
  EXPECT_TRUE(succeeds(check(token_for(Alg::EdDSA,
                                       [] {
                                         Json c = claims();
                                         c["exp"] = kMax;
                                         c["iat"] = 0;
                                         return c;
                                       }()),
                             options(), Seconds{std::chrono::seconds{kMax}})));
  EXPECT_TRUE(
      fails_with(check(token_for(Alg::EdDSA), options(), Seconds{std::chrono::seconds{kMin}}),
                 JwtError::IssuedInFuture));
}

TEST(JwtClaims, FractionalNumericDateIsRefused) {
  // RFC 7519 permits fractions; RFC 9068 issuers send integers and so do we.
  EXPECT_TRUE(fails_with(with_claim("exp", static_cast<double>(kNowSeconds + 300)),
                         JwtError::BadClaimType));
  EXPECT_TRUE(fails_with(with_claim("iat", 1.9e9), JwtError::BadClaimType));
}

TEST(JwtClaims, AudienceArray) {
  EXPECT_TRUE(succeeds(with_claim("aud", Json::array({"https://other.test", kAudience}))));
  EXPECT_TRUE(succeeds(with_claim("aud", Json::array({kAudience}))));
  // No prefix, suffix or case games.
  EXPECT_TRUE(fails_with(with_claim("aud", std::string(kAudience) + "/"), JwtError::WrongAudience));
  EXPECT_TRUE(fails_with(with_claim("aud", "HTTPS://api.example.test"), JwtError::WrongAudience));
  EXPECT_TRUE(fails_with(with_claim("aud", Json::array({Json::array({kAudience})})),
                         JwtError::BadClaimType));
}

TEST(JwtClaims, VerifiedJwtCarriesEverything) {
  Json c = claims();
  c["scope"] = "openid profile";
  c["roles"] = Json::array({"admin"});
  const auto v = check(token_for(Alg::ES256, c));
  ASSERT_TRUE(succeeds(v));
  EXPECT_EQ(v->claims, c);
  EXPECT_EQ(v->header["typ"], "at+jwt");
  EXPECT_EQ(v->kid, "es");
}

TEST(JwtClaims, CustomTypIsWrittenAndChecked) {
  const auto token = sign_jwt(signing_key(Alg::EdDSA), claims(), "logout+jwt");
  ASSERT_TRUE(succeeds(token));
  // An access-token verifier refuses another JWT kind (RFC 8725 §3.12).
  EXPECT_TRUE(fails_with(check(*token), JwtError::WrongType));
  VerifyOptions o = options();
  o.typ = "logout+jwt";
  EXPECT_TRUE(succeeds(check(*token, o)));
  // typ "" leaves the member out.
  const auto untyped = sign_jwt(signing_key(Alg::EdDSA), claims(), "");
  ASSERT_TRUE(succeeds(untyped));
  EXPECT_EQ(base64url_decode(untyped->substr(0, untyped->find('.'))).value(),
            R"({"alg":"EdDSA","kid":"ed"})");
}

}  // namespace
}  // namespace gh::jwt::testing
