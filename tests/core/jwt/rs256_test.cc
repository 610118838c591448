// RS256 (RSASSA-PKCS1-v1_5 SHA-256): round trip, signature length, key size
// limits, JWK shape, and the RS256 -> HS256 key-confusion attack.
#include "core/jwt/verify_key.h"

#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <gtest/gtest.h>

#include "jwt_test_util.h"

namespace gh::jwt::testing {
namespace {

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<char*>(out), len);
}

// The RS256 test key's public half as the SPKI PEM an attacker would download.
std::string rsa_public_pem() {
  auto pem = signing_key(Alg::RS256).private_pem();
  BIO* in = BIO_new_mem_buf(pem->expose().data(), static_cast<int>(pem->size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(in, nullptr, nullptr, nullptr);
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(out, pkey);
  char* data = nullptr;
  const long len = BIO_get_mem_data(out, &data);
  std::string result(data, static_cast<std::size_t>(len));
  BIO_free(out);
  BIO_free(in);
  EVP_PKEY_free(pkey);
  return result;
}

TEST(JwtRs256, RoundTrip) {
  const std::string token = token_for(Alg::RS256);
  const auto v = check(token);
  ASSERT_TRUE(succeeds(v));
  EXPECT_EQ(v->kid, "rs");
  EXPECT_EQ(signature_of(token).size(), 256U);  // |n| for the 2048-bit test key
}

TEST(JwtRs256, EveryBitFlipIsBadSignature) { expect_every_bit_flip_fails(Alg::RS256); }

TEST(JwtRs256, SignatureLengthMustEqualModulusLength) {
  const std::string token = token_for(Alg::RS256);
  const std::string sig = signature_of(token);
  // A leading zero octet keeps the integer value but not the length (RFC 8017 §8.2.2).
  EXPECT_TRUE(fails_with(check(with_signature(token, '\0' + sig)), JwtError::BadSignature));
  EXPECT_TRUE(fails_with(check(with_signature(token, sig.substr(1))), JwtError::BadSignature));
  EXPECT_TRUE(
      fails_with(check(with_signature(token, std::string(256, '\0'))), JwtError::BadSignature));
}

TEST(JwtRs256, DefaultKeyIs3072Bits) {
  const auto key = SigningKey::generate(Alg::RS256, "rs3072");
  ASSERT_TRUE(succeeds(key));
  const auto n = base64url_decode(key->public_jwk()["n"].get<std::string>()).value();
  EXPECT_EQ(n.size(), 384U);
  const auto token = sign_jwt(*key, claims());
  ASSERT_TRUE(succeeds(token));
  KeySet set;
  ASSERT_TRUE(succeeds(set.add(VerifyKey::from_signing_key(*key))));
  EXPECT_TRUE(succeeds(verify_jwt(*token, set, options(), kNow)));
}

TEST(JwtRs256, KeySizeLimits) {
  EXPECT_TRUE(fails_with(SigningKey::generate(Alg::RS256, "rs", 2047), JwtError::KeyError));
  EXPECT_TRUE(fails_with(SigningKey::generate(Alg::RS256, "rs", 8193), JwtError::KeyError));
  // A 1024-bit JWK (any modulus of 128 bytes) is refused at import.
  Json jwk = signing_key(Alg::RS256).public_jwk();
  jwk["n"] = b64(std::string(128, '\xC3'));
  EXPECT_TRUE(fails_with(VerifyKey::from_jwk(jwk), JwtError::KeyError));
}

TEST(JwtRs256, PublicJwkShape) {
  const Json jwk = signing_key(Alg::RS256).public_jwk();
  EXPECT_EQ(jwk["kty"], "RSA");
  EXPECT_EQ(jwk["e"], "AQAB");  // 65537, minimal big-endian
  const std::string n = base64url_decode(jwk["n"].get<std::string>()).value();
  EXPECT_EQ(n.size(), 256U);
  EXPECT_NE(n[0], '\0');  // Base64urlUInt: no leading zero octet (RFC 7518 §2)
  EXPECT_EQ(jwk["alg"], "RS256");
  EXPECT_EQ(jwk["use"], "sig");
  EXPECT_EQ(jwk.size(), 6U);
  const auto vk = VerifyKey::from_jwk(jwk);
  ASSERT_TRUE(succeeds(vk));
  EXPECT_EQ(vk->public_jwk(), jwk);
}

TEST(JwtRs256, JwkImportRefusals) {
  const Json good = signing_key(Alg::RS256).public_jwk();
  auto with = [&](const char* k, Json v) {
    Json j = good;
    j[k] = std::move(v);
    return VerifyKey::from_jwk(j);
  };
  const std::string n = base64url_decode(good["n"].get<std::string>()).value();
  EXPECT_TRUE(fails_with(with("n", b64('\0' + n)), JwtError::KeyError));  // leading zero octet
  EXPECT_TRUE(fails_with(with("e", "AAEAAQ"), JwtError::KeyError));       // 0x00010001, not minimal
  EXPECT_TRUE(fails_with(with("e", "AQ"), JwtError::KeyError));           // e = 1
  EXPECT_TRUE(fails_with(with("e", "Ag"), JwtError::KeyError));           // e = 2
  EXPECT_TRUE(
      fails_with(with("e", "Aw"), JwtError::KeyError));  // e = 3: below the FIPS 186-5 floor
  EXPECT_TRUE(fails_with(with("e", "__8"), JwtError::KeyError));  // e = 65535
  EXPECT_TRUE(succeeds(with("e", "AQAD")));                       // e = 65539 is fine
  EXPECT_TRUE(
      fails_with(with("e", b64(std::string(33, '\x01'))), JwtError::KeyError));  // e >= 2^256
  EXPECT_TRUE(fails_with(with("e", "AQAA"), JwtError::KeyError));                // even
  EXPECT_TRUE(fails_with(with("alg", "PS256"), JwtError::KeyError));
  EXPECT_TRUE(fails_with(with("alg", "HS256"), JwtError::KeyError));
  for (const char* m : {"d", "p", "q", "dp", "dq", "qi", "oth"}) {
    EXPECT_TRUE(fails_with(with(m, "AQAB"), JwtError::KeyError)) << m;
  }
  Json no_alg = good;
  no_alg.erase("alg");
  ASSERT_TRUE(succeeds(VerifyKey::from_jwk(no_alg)));
  EXPECT_EQ(VerifyKey::from_jwk(no_alg)->alg(), Alg::RS256);
}

// The classic confusion (RFC 8725 §2.1): take the server's RSA public key
// (PEM, DER or its JWK text), use it as an HMAC secret, and present the HS256
// token under the RSA key's kid. The key is pinned to RS256, so the header
// alg alone decides nothing: AlgMismatch, before any HMAC is computed.
TEST(JwtRs256, Hs256SignedWithPublicKeyIsAlgMismatch) {
  const std::string header = R"({"alg":"HS256","typ":"at+jwt","kid":"rs"})";
  const std::string input = b64(header) + "." + b64(claims().dump());
  const Json jwk = signing_key(Alg::RS256).public_jwk();
  for (const std::string& secret : {rsa_public_pem(), jwk.dump(), jwk["n"].get<std::string>()}) {
    // {"alg":"HS256","typ":"at+jwt","kid":"rs"}.{claims()}.HMAC(secret)
    const std::string token = input + "." + b64(hmac_sha256(secret, input));
    EXPECT_TRUE(fails_with(check(token), JwtError::AlgMismatch));
  }
  // And such a secret cannot even become an HS256 key here.
  EXPECT_TRUE(fails_with(SigningKey::from_secret("hs2", SecretString(rsa_public_pem())),
                         JwtError::KeyError));
}

}  // namespace
}  // namespace gh::jwt::testing
