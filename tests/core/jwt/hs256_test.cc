// HS256 (HMAC-SHA-256): round trip, RFC 7515 A.1 vector, secret rules and
// the guarantee that symmetric keys never reach a JWKS.
#include "core/jwt/signing_key.h"

#include <gtest/gtest.h>

#include "jwt_test_util.h"

namespace gh::jwt::testing {
namespace {

// RFC 7515 Appendix A.1 HMAC key ("k" of the oct JWK), 64 bytes.
constexpr std::string_view kRfc7515Key =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

// Header  {"typ":"JWT",\r\n "alg":"HS256"}
// Payload {"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}
constexpr std::string_view kRfc7515Token =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlf"
    "Q"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

VerifyKey rfc7515_key() {
  auto sk = SigningKey::from_secret("rfc7515", SecretString(base64url_decode(kRfc7515Key).value()));
  if (!sk) throw std::runtime_error("bad RFC key");
  return VerifyKey::from_signing_key(*sk);
}

TEST(JwtHs256, RoundTrip) {
  const std::string token = token_for(Alg::HS256);
  const auto v = check(token);
  ASSERT_TRUE(succeeds(v));
  EXPECT_EQ(v->kid, "hs");
  EXPECT_EQ(signature_of(token).size(), 32U);
}

TEST(JwtHs256, EveryBitFlipIsBadSignature) { expect_every_bit_flip_fails(Alg::HS256); }

TEST(JwtHs256, Rfc7515A1Verifies) {
  const VerifyKey key = rfc7515_key();
  EXPECT_TRUE(succeeds(verify_signature_for_test(kRfc7515Token, key)));
  // Its signature is exactly what our key computes for the same input.
  auto sk = SigningKey::from_secret("rfc7515", SecretString(base64url_decode(kRfc7515Key).value()));
  const std::string_view input = kRfc7515Token.substr(0, kRfc7515Token.rfind('.'));
  EXPECT_EQ(b64(*sk->sign(input)), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
  // One changed payload character breaks it.
  std::string bad(kRfc7515Token);
  const auto p = bad.find("eyJpc3MiOiJqb2");
  bad[p + 13] = 'Q';
  EXPECT_TRUE(fails_with(verify_signature_for_test(bad, key), JwtError::BadSignature));
  // verify_jwt itself refuses it: no kid, typ "JWT", expired in 2011.
  KeySet set;
  ASSERT_TRUE(succeeds(set.add(rfc7515_key())));
  VerifyOptions o = options();
  o.typ.clear();
  EXPECT_TRUE(fails_with(verify_jwt(kRfc7515Token, set, o, kNow), JwtError::MissingKid));
}

TEST(JwtHs256, SecretRules) {
  EXPECT_TRUE(succeeds(SigningKey::from_secret("hs", SecretString(std::string(32, 'k')))));
  EXPECT_TRUE(fails_with(SigningKey::from_secret("hs", SecretString(std::string(31, 'k'))),
                         JwtError::KeyError));
  EXPECT_TRUE(fails_with(SigningKey::from_secret("hs", SecretString()), JwtError::KeyError));
  const std::string pem =
      "-----BEGIN PUBLIC KEY-----\n" + std::string(64, 'A') + "\n-----END PUBLIC KEY-----\n";
  EXPECT_TRUE(fails_with(SigningKey::from_secret("hs", SecretString(pem)), JwtError::KeyError));
}

TEST(JwtHs256, GeneratedSecretIs32RandomBytes) {
  auto a = SigningKey::generate(Alg::HS256, "a");
  auto b = SigningKey::generate(Alg::HS256, "b");
  ASSERT_TRUE(succeeds(a));
  ASSERT_TRUE(succeeds(b));
  const auto sa = a->private_pem();
  const auto sb = b->private_pem();
  EXPECT_EQ(sa->size(), 32U);
  EXPECT_NE(sa->expose(), sb->expose());
  // private_pem() round-trips through from_private_pem for HS256 too.
  auto again = SigningKey::from_private_pem(Alg::HS256, "a", *sa);
  ASSERT_TRUE(succeeds(again));
  EXPECT_EQ(*again->sign("x"), *a->sign("x"));
}

TEST(JwtHs256, NeverPublished) {
  EXPECT_TRUE(signing_key(Alg::HS256).public_jwk().is_null());
  EXPECT_TRUE(VerifyKey::from_signing_key(signing_key(Alg::HS256)).public_jwk().is_null());
  const Json jwks = key_set().jwks();
  ASSERT_EQ(jwks["keys"].size(), 3U);
  for (const Json& k : jwks["keys"]) EXPECT_NE(k["kid"], "hs");
  // And an oct JWK is never imported, with or without its secret.
  EXPECT_TRUE(fails_with(VerifyKey::from_jwk({{"kty", "oct"}, {"kid", "o"}, {"alg", "HS256"}}),
                         JwtError::KeyError));
  EXPECT_TRUE(fails_with(VerifyKey::from_jwk({{"kty", "oct"}, {"kid", "o"}, {"k", kRfc7515Key}}),
                         JwtError::KeyError));
}

TEST(JwtHs256, SignatureLengthMustBe32) {
  const std::string token = token_for(Alg::HS256);
  const std::string sig = signature_of(token);
  EXPECT_TRUE(fails_with(check(with_signature(token, sig.substr(0, 16))),
                         JwtError::BadSignature));  // truncated MAC
  EXPECT_TRUE(fails_with(check(with_signature(token, sig + sig)), JwtError::BadSignature));
}

}  // namespace
}  // namespace gh::jwt::testing
