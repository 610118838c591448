// PKCE against RFC 7636 Appendix B, plus the verifier limits of §4.1.
#include "core/oauth/pkce.h"

#include <array>
#include <vector>

#include <gtest/gtest.h>

#include "oauth_test_util.h"

namespace gh::oauth {
namespace {

using testing::fails_with;

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (const int b : v) out.push_back(static_cast<std::byte>(b));
  return out;
}

TEST(Pkce, Rfc7636AppendixB) {
  const auto random =
      bytes({116, 24,  223, 180, 151, 153, 224, 37,  79, 250, 96, 125, 216, 173, 187, 186,
             22,  212, 37,  77,  105, 214, 191, 240, 91, 88,  5,  88,  83,  132, 141, 121});
  const auto verifier = make_code_verifier(random);
  ASSERT_TRUE(verifier);
  EXPECT_EQ(*verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  const auto challenge = code_challenge_s256(*verifier);
  ASSERT_TRUE(challenge);
  EXPECT_EQ(*challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(Pkce, VerifierLengthFollowsTheEntropy) {
  const std::vector<std::byte> min(kMinVerifierBytes, std::byte{0xff});
  const std::vector<std::byte> max(kMaxVerifierBytes, std::byte{0xfe});
  EXPECT_EQ(make_code_verifier(min)->size(), 43U);
  EXPECT_EQ(make_code_verifier(max)->size(), 128U);
  EXPECT_TRUE(code_challenge_s256(*make_code_verifier(max)));
}

TEST(Pkce, WeakEntropy) {
  const std::vector<std::byte> short_(kMinVerifierBytes - 1, std::byte{1});
  const std::vector<std::byte> long_(kMaxVerifierBytes + 1, std::byte{1});
  EXPECT_TRUE(fails_with(make_code_verifier(short_), OAuthError::WeakEntropy));
  EXPECT_TRUE(fails_with(make_code_verifier(long_), OAuthError::WeakEntropy));
  EXPECT_TRUE(fails_with(make_code_verifier({}), OAuthError::WeakEntropy));
}

TEST(Pkce, BadVerifier) {
  const std::string ok(43, 'a');
  EXPECT_TRUE(code_challenge_s256(ok));
  EXPECT_TRUE(code_challenge_s256(std::string(128, '~')));
  EXPECT_TRUE(code_challenge_s256("-._~" + std::string(39, 'Z')));
  for (const std::string& bad :
       {std::string(42, 'a'), std::string(129, 'a'), std::string(), std::string(42, 'a') + "+",
        std::string(42, 'a') + "/", std::string(42, 'a') + "=", std::string(42, 'a') + " ",
        std::string(42, 'a') + "%", std::string(42, 'a') + "\xc3"}) {
    EXPECT_TRUE(fails_with(code_challenge_s256(bad), OAuthError::BadVerifier)) << bad;
  }
}

}  // namespace
}  // namespace gh::oauth
