// ES256 (ECDSA P-256, RFC 7518 §3.4): round trip, r||s handling, the
// CVE-2022-21449 "psychic signature" family, DER conversion and JWK shape.
#include "core/jwt/ossl.h"

#include <set>

#include <gtest/gtest.h>

#include "core/base/encoding.h"
#include "jwt_test_util.h"

namespace gh::jwt::testing {
namespace {

using detail::ecdsa_der_to_raw;
using detail::ecdsa_raw_to_der;

// The P-256 group order n, big-endian.
const std::string kOrder =
    hex_decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551").value();
const std::string kZero(32, '\0');
const std::string kOne = std::string(31, '\0') + '\x01';

std::string order_minus_one() {
  std::string v = kOrder;
  v.back() = static_cast<char>(v.back() - 1);  // n ends in 0x51: no borrow
  return v;
}

TEST(JwtEs256, RoundTrip) {
  const std::string token = token_for(Alg::ES256);
  const auto v = check(token);
  ASSERT_TRUE(succeeds(v));
  EXPECT_EQ(v->kid, "es");
  EXPECT_EQ(v->claims["sub"], "user-42");
  EXPECT_EQ(signature_of(token).size(), 64U);
}

TEST(JwtEs256, EveryBitFlipIsBadSignature) { expect_every_bit_flip_fails(Alg::ES256); }

// r = 0, s = 0, r = n, s = n and the all-zero signature must never reach the
// curve arithmetic (Java's CVE-2022-21449 accepted r = s = 0 for any message).
TEST(JwtEs256, OutOfRangeScalarsAreBadSignature) {
  const std::string token = token_for(Alg::ES256);
  const std::string sig = signature_of(token);
  const std::string r = sig.substr(0, 32);
  const std::string s = sig.substr(32);
  const std::vector<std::pair<const char*, std::string>> cases = {
      {"r=0,s=0", kZero + kZero},
      {"r=0", kZero + s},
      {"s=0", r + kZero},
      {"r=n", kOrder + s},
      {"s=n", r + kOrder},
      {"r=n,s=n", kOrder + kOrder},
      {"r=s=ff..ff", std::string(64, '\xFF')},
  };
  for (const auto& [name, bad] : cases) {
    EXPECT_TRUE(fails_with(check(with_signature(token, bad)), JwtError::BadSignature)) << name;
    EXPECT_FALSE(ecdsa_raw_to_der(bad).has_value()) << name;
  }
}

TEST(JwtEs256, DerSignatureIsBadSignature) {
  // A DER-encoded signature (what OpenSSL and some libraries emit) is not a JWS ES256 signature.
  const std::string token = token_for(Alg::ES256);
  const std::string der = ecdsa_raw_to_der(signature_of(token)).value();
  EXPECT_TRUE(fails_with(check(with_signature(token, der)), JwtError::BadSignature));
}

TEST(JwtEs256, RawToDerEncodesMinimalPositiveIntegers) {
  // r = 1, s = n - 1: a one-byte INTEGER and a 33-byte one with a 0x00 sign pad.
  const std::string der = ecdsa_raw_to_der(kOne + order_minus_one()).value();
  EXPECT_EQ(hex_encode(der),
            "3026020101022100ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632550");
  EXPECT_EQ(ecdsa_der_to_raw(der).value(), kOne + order_minus_one());
  EXPECT_FALSE(ecdsa_raw_to_der(kOne + kOne + "x").has_value());  // 65 bytes
  EXPECT_FALSE(ecdsa_raw_to_der(kOne).has_value());               // 32 bytes
}

TEST(JwtEs256, DerToRawIsStrict) {
  const auto bad = [](const char* hex) {
    return !ecdsa_der_to_raw(hex_decode(hex).value()).has_value();
  };
  EXPECT_TRUE(bad(""));
  EXPECT_TRUE(bad("3007020101020101ff"));  // a byte after the second INTEGER
  EXPECT_TRUE(bad("3007020101020101"));    // sequence length says 7, 6 follow
  EXPECT_TRUE(bad("300702010102020001"));  // non-minimal: 0x00 before a small value
  EXPECT_TRUE(bad("3006020101020201"));    // INTEGER length runs past the end
  EXPECT_TRUE(bad("30060201010201ff"));    // negative s
  EXPECT_TRUE(bad("3003020101"));          // one INTEGER
  EXPECT_TRUE(bad("3106020101020101"));    // SET, not SEQUENCE
  EXPECT_TRUE(bad("3006020101040101"));    // OCTET STRING, not INTEGER
  EXPECT_FALSE(bad("3006020101020101"));   // r = s = 1 is well-formed DER
}

TEST(JwtEs256, PublicJwkShape) {
  const Json jwk = signing_key(Alg::ES256).public_jwk();
  EXPECT_EQ(jwk["kty"], "EC");
  EXPECT_EQ(jwk["crv"], "P-256");
  EXPECT_EQ(jwk["x"].get<std::string>().size(),
            43U);  // 32 bytes, never trimmed (RFC 7518 §6.2.1.2)
  EXPECT_EQ(jwk["y"].get<std::string>().size(), 43U);
  EXPECT_EQ(jwk["alg"], "ES256");
  EXPECT_EQ(jwk["use"], "sig");
  EXPECT_EQ(jwk["kid"], "es");
  EXPECT_EQ(jwk.size(), 7U);
  const auto vk = VerifyKey::from_jwk(jwk);
  ASSERT_TRUE(succeeds(vk));
  EXPECT_EQ(vk->alg(), Alg::ES256);
  EXPECT_EQ(vk->public_jwk(), jwk);
}

TEST(JwtEs256, JwkImportRefusals) {
  const Json good = signing_key(Alg::ES256).public_jwk();
  auto with = [&](const char* k, Json v) {
    Json j = good;
    j[k] = std::move(v);
    return VerifyKey::from_jwk(j);
  };
  EXPECT_TRUE(fails_with(with("crv", "P-384"), JwtError::KeyError));
  EXPECT_TRUE(fails_with(with("crv", "secp256k1"), JwtError::KeyError));
  EXPECT_TRUE(fails_with(with("alg", "ES384"), JwtError::KeyError));
  EXPECT_TRUE(fails_with(with("alg", "RS256"), JwtError::KeyError));
  EXPECT_TRUE(fails_with(with("d", b64(kOne)), JwtError::KeyError));
  // A trimmed coordinate (31 bytes) is refused rather than zero-padded.
  EXPECT_TRUE(fails_with(with("x", b64(std::string(31, '\x01'))), JwtError::KeyError));
  // Off-curve point: y replaced by y + 1 (invalid-curve attacks start here).
  std::string y = base64url_decode(good["y"].get<std::string>()).value();
  y.back() = static_cast<char>(y.back() ^ 1);
  EXPECT_TRUE(fails_with(with("y", b64(y)), JwtError::KeyError));
  // The point at infinity has no uncompressed encoding; all-zero is off the curve.
  Json zero = good;
  zero["x"] = b64(kZero);
  zero["y"] = b64(kZero);
  EXPECT_TRUE(fails_with(VerifyKey::from_jwk(zero), JwtError::KeyError));
  Json no_alg = good;
  no_alg.erase("alg");
  const auto inferred = VerifyKey::from_jwk(no_alg);
  ASSERT_TRUE(succeeds(inferred));
  EXPECT_EQ(inferred->alg(), Alg::ES256);
}

TEST(JwtEs256, SignaturesUseFreshNonces) {
  // RFC 8725 §3.2: a repeated r means a repeated nonce and a recoverable key.
  std::set<std::string> rs;
  for (int i = 0; i < 200; ++i) {
    const auto sig = signing_key(Alg::ES256).sign("same input");
    ASSERT_TRUE(succeeds(sig));
    EXPECT_TRUE(rs.insert(sig->substr(0, 32)).second);
  }
}

}  // namespace
}  // namespace gh::jwt::testing
