// Known JOSE attacks (RFC 8725 §2, rfc8725bis §2.10-2.13), each expected to
// fail with a specific JwtError. Algorithm-specific ones (CVE-2022-21449,
// RS256 -> HS256) live in es256_test.cc and rs256_test.cc.
#include "core/jwt/jwt.h"

#include <gtest/gtest.h>

#include "jwt_test_util.h"

namespace gh::jwt::testing {
namespace {

// Payload {"iss":"https://auth.example.test","sub":"admin","aud":"https://api.example.test",
//          "iat":1900000000,"exp":1900000300}
constexpr std::string_view kAdminPayload =
    "eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS50ZXN0Iiwic3ViIjoiYWRtaW4iLCJhdWQiOiJodHRwczovL2FwaS5leG"
    "FtcGxl"
    "LnRlc3QiLCJpYXQiOjE5MDAwMDAwMDAsImV4cCI6MTkwMDAwMDMwMH0";

TEST(JwtAttacks, AlgNoneWithEmptySignatureIsMalformed) {
  // Header {"alg":"none","typ":"at+jwt","kid":"ed"}, payload kAdminPayload, no signature.
  const std::string token =
      "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0Iiwia2lkIjoiZWQifQ." + std::string(kAdminPayload) + ".";
  EXPECT_TRUE(fails_with(check(token), JwtError::Malformed));
  // Header {"alg":"none"}: the bare RFC 7519 §6.1 unsecured form.
  EXPECT_TRUE(fails_with(check("eyJhbGciOiJub25lIn0." + std::string(kAdminPayload) + "."),
                         JwtError::Malformed));
}

TEST(JwtAttacks, AlgNoneWithSomeSignatureIsAlgMismatch) {
  // Header {"alg":"none","typ":"at+jwt","kid":"ed"}, payload kAdminPayload, signature bytes 00 00
  // 00.
  const std::string token = "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0Iiwia2lkIjoiZWQifQ." +
                            std::string(kAdminPayload) + ".AAAA";
  EXPECT_TRUE(fails_with(check(token), JwtError::AlgMismatch));
}

TEST(JwtAttacks, AlgNoneWithoutKidIsMissingKid) {
  // Header {"alg":"none"}, payload kAdminPayload, signature 00 00 00: no kid, so no key, so no
  // check at all.
  VerifyOptions o = options();
  o.typ.clear();
  EXPECT_TRUE(fails_with(check("eyJhbGciOiJub25lIn0." + std::string(kAdminPayload) + ".AAAA", o),
                         JwtError::MissingKid));
}

TEST(JwtAttacks, KeyOfOneAlgorithmCannotVerifyAnother) {
  // A valid EdDSA token re-labelled with each other key's kid and alg.
  const std::string payload = claims().dump();
  for (Alg target : {Alg::ES256, Alg::RS256, Alg::HS256}) {
    const std::string header = R"({"alg":")" + std::string(alg_name(target)) +
                               R"(","typ":"at+jwt","kid":")" + kid_for(target) + R"("})";
    EXPECT_TRUE(
        fails_with(check(forge(signing_key(Alg::EdDSA), header, payload)), JwtError::BadSignature))
        << alg_name(target);
    // Same, keeping alg EdDSA but pointing at the other key.
    const std::string mixed =
        R"({"alg":"EdDSA","typ":"at+jwt","kid":")" + kid_for(target) + R"("})";
    EXPECT_TRUE(
        fails_with(check(forge(signing_key(Alg::EdDSA), mixed, payload)), JwtError::AlgMismatch))
        << alg_name(target);
  }
}

TEST(JwtAttacks, EmbeddedJwkIsNotTrusted) {
  // The attacker signs with their own key and ships its public half in "jwk" (CVE-2018-0114 style).
  auto attacker = SigningKey::generate(Alg::EdDSA, "ed");
  ASSERT_TRUE(succeeds(attacker));
  const std::string header =
      R"({"alg":"EdDSA","typ":"at+jwt","kid":"ed","jwk":)" + attacker->public_jwk().dump() + "}";
  EXPECT_TRUE(
      fails_with(check(forge(*attacker, header, claims().dump())), JwtError::ForbiddenHeader));
  // Without the jwk header, the attacker's key is simply the wrong key for kid "ed".
  EXPECT_TRUE(fails_with(check(forge(*attacker, header_for(Alg::EdDSA), claims().dump())),
                         JwtError::BadSignature));
}

TEST(JwtAttacks, JsonSerializationIsRefused) {
  // rfc8725bis §2.13: a JWS JSON object where a compact token is expected.
  const std::string token = token_for(Alg::EdDSA);
  const Json general = {
      {"payload", token.substr(token.find('.') + 1, token.rfind('.') - token.find('.') - 1)},
      {"protected", token.substr(0, token.find('.'))},
      {"signature", token.substr(token.rfind('.') + 1)}};
  EXPECT_TRUE(fails_with(check(general.dump()), JwtError::Malformed));
}

TEST(JwtAttacks, WhitespaceAndControlCharactersAreRefused) {
  const std::string token = token_for(Alg::EdDSA);
  for (const char* junk : {" ", "\n", "\t", "\r\n"}) {
    EXPECT_FALSE(check(token + junk).has_value()) << static_cast<int>(junk[0]);
    EXPECT_FALSE(check(junk + token).has_value());
  }
  EXPECT_TRUE(fails_with(check(token + " "), JwtError::BadEncoding));
  EXPECT_TRUE(fails_with(check(token + std::string("\0", 1)), JwtError::BadEncoding));
}

TEST(JwtAttacks, Utf16HeaderIsBadHeader) {
  // Header {"alg":"EdDSA","typ":"at+jwt","kid":"ed"} encoded as UTF-16LE (RFC 8725 §3.7).
  const std::string header =
      "ewAiAGEAbABnACIAOgAiAEUAZABEAFMAQQAiACwAIgB0AHkAcAAiADoAIgBhAHQAKwBqAHcAdAAiACwAIgBr"
      "AGkAZAAiADoAIgBlAGQAIgB9AA";
  const std::string token = token_for(Alg::EdDSA);
  EXPECT_TRUE(fails_with(check(header + token.substr(token.find('.'))), JwtError::BadHeader));
}

TEST(JwtAttacks, DeeplyNestedHeaderIsBadHeader) {
  const std::string deep = R"({"alg":"EdDSA","typ":"at+jwt","kid":"ed","x":)" +
                           std::string(200, '[') + std::string(200, ']') + "}";
  EXPECT_TRUE(fails_with(check(forge(signing_key(Alg::EdDSA), deep, claims().dump())),
                         JwtError::BadHeader));
}

TEST(JwtAttacks, CritWithB64FalseIsRefused) {
  // RFC 7797 unencoded payload: would change what the signature covers.
  const std::string header =
      R"({"alg":"EdDSA","typ":"at+jwt","kid":"ed","b64":false,"crit":["b64"]})";
  EXPECT_TRUE(fails_with(check(forge(signing_key(Alg::EdDSA), header, claims().dump())),
                         JwtError::UnsupportedCrit));
}

TEST(JwtAttacks, SignatureIsCheckedBeforeThePayloadIsParsed) {
  // A payload that is not JSON, under a wrong signature: the answer is about
  // the signature, proving the payload was never parsed.
  const std::string token = forge(Alg::EdDSA, "{{{{ not json");
  const std::string bad = with_signature(token, std::string(64, '\x01'));
  EXPECT_TRUE(fails_with(check(bad), JwtError::BadSignature));
  EXPECT_TRUE(fails_with(check(token), JwtError::BadPayload));
}

TEST(JwtAttacks, HugeTokenIsRefusedBeforeParsing) {
  // Not even split: a 1 MB token of dots is TooLarge, not Malformed.
  EXPECT_TRUE(fails_with(check(std::string(1 << 20, '.')), JwtError::TooLarge));
}

}  // namespace
}  // namespace gh::jwt::testing
