// EdDSA (Ed25519, RFC 8037): round trip, RFC known-answer vector, JWK shape
// and signature malleability.
#include "core/jwt/signing_key.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <gtest/gtest.h>

#include "jwt_test_util.h"

namespace gh::jwt::testing {
namespace {

// RFC 8037 Appendix A.1 private key "d" and public key "x".
constexpr std::string_view kRfc8037D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
constexpr std::string_view kRfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

// The RFC's raw private key as the PKCS#8 PEM that from_private_pem takes.
SecretString rfc8037_pem() {
  const std::string d = base64url_decode(kRfc8037D).value();
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(d.data()), d.size());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, pkey, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  SecretString pem(std::string_view(data, static_cast<std::size_t>(len)));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  return pem;
}

TEST(JwtEdDsa, RoundTrip) {
  const std::string token = token_for(Alg::EdDSA);
  const auto v = check(token);
  ASSERT_TRUE(succeeds(v));
  EXPECT_EQ(v->kid, "ed");
  EXPECT_EQ(v->claims, claims());
  EXPECT_EQ(v->header, (Json{{"alg", "EdDSA"}, {"typ", "at+jwt"}, {"kid", "ed"}}));
  // sign_jwt writes the header members in the order alg, typ, kid.
  EXPECT_EQ(base64url_decode(token.substr(0, token.find('.'))).value(),
            R"({"alg":"EdDSA","typ":"at+jwt","kid":"ed"})");
  EXPECT_EQ(signature_of(token).size(), 64U);
}

TEST(JwtEdDsa, EveryBitFlipIsBadSignature) { expect_every_bit_flip_fails(Alg::EdDSA); }

// RFC 8037 Appendix A.4: Ed25519 is deterministic, so signing the RFC's input
// with the RFC's key must reproduce the RFC's signature exactly.
TEST(JwtEdDsa, Rfc8037A4KnownAnswer) {
  auto key = SigningKey::from_private_pem(Alg::EdDSA, "rfc8037", rfc8037_pem());
  ASSERT_TRUE(succeeds(key));
  EXPECT_EQ(key->public_jwk()["x"], kRfc8037X);  // RFC 8037 A.2
  // Header {"alg":"EdDSA"}, payload the text "Example of Ed25519 signing".
  constexpr std::string_view kInput = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
  constexpr std::string_view kSignature =
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
  EXPECT_EQ(base64url_decode(kInput.substr(0, kInput.find('.'))).value(), R"({"alg":"EdDSA"})");
  const auto sig = key->sign(kInput);
  ASSERT_TRUE(succeeds(sig));
  EXPECT_EQ(b64(*sig), kSignature);

  // And the public JWK from RFC 8037 A.2 verifies it.
  const auto vk = VerifyKey::from_jwk(
      {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", kRfc8037X}, {"kid", "rfc8037"}});
  ASSERT_TRUE(succeeds(vk));
  EXPECT_EQ(vk->alg(), Alg::EdDSA);  // inferred: OKP/Ed25519 has one algorithm
  EXPECT_TRUE(vk->verify(kInput, base64url_decode(kSignature).value()));
  EXPECT_TRUE(succeeds(
      verify_signature_for_test(std::string(kInput) + "." + std::string(kSignature), *vk)));
}

TEST(JwtEdDsa, PublicJwkShape) {
  const Json jwk = signing_key(Alg::EdDSA).public_jwk();
  EXPECT_EQ(jwk["kty"], "OKP");
  EXPECT_EQ(jwk["crv"], "Ed25519");
  EXPECT_EQ(jwk["x"].get<std::string>().size(), 43U);
  EXPECT_EQ(jwk["kid"], "ed");
  EXPECT_EQ(jwk["alg"], "EdDSA");
  EXPECT_EQ(jwk["use"], "sig");
  EXPECT_FALSE(jwk.contains("d"));
  EXPECT_EQ(jwk.size(), 6U);
  const auto vk = VerifyKey::from_jwk(jwk);
  ASSERT_TRUE(succeeds(vk));
  EXPECT_EQ(vk->public_jwk(), jwk);
}

TEST(JwtEdDsa, SignatureLengthMustBe64) {
  const std::string token = token_for(Alg::EdDSA);
  const std::string sig = signature_of(token);
  EXPECT_TRUE(fails_with(check(with_signature(token, sig.substr(0, 63))), JwtError::BadSignature));
  EXPECT_TRUE(fails_with(check(with_signature(token, sig + '\0')), JwtError::BadSignature));
  EXPECT_TRUE(
      fails_with(check(with_signature(token, std::string(64, '\0'))), JwtError::BadSignature));
}

// S + L (the group order) is the same scalar mod L; RFC 8032 §5.1.7 requires
// S < L, so the malleated signature must not verify.
TEST(JwtEdDsa, NonCanonicalSIsBadSignature) {
  // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
  constexpr unsigned char kL[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                    0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                    0,    0,    0,    0,    0,    0,    0,    0,
                                    0,    0,    0,    0,    0,    0,    0,    0x10};
  const std::string token = token_for(Alg::EdDSA);
  std::string sig = signature_of(token);
  unsigned carry = 0;
  for (int i = 0; i < 32; ++i) {
    const unsigned v = static_cast<unsigned char>(sig[32 + i]) + kL[i] + carry;
    sig[32 + i] = static_cast<char>(v & 0xFF);
    carry = v >> 8;
  }
  ASSERT_EQ(carry, 0U);  // S < L < 2^253, so S + L fits in 32 bytes
  EXPECT_TRUE(fails_with(check(with_signature(token, sig)), JwtError::BadSignature));
}

TEST(JwtEdDsa, JwkImportRefusals) {
  const Json good = signing_key(Alg::EdDSA).public_jwk();
  auto with = [&](const char* k, Json v) {
    Json j = good;
    j[k] = std::move(v);
    return VerifyKey::from_jwk(j);
  };
  EXPECT_TRUE(fails_with(with("crv", "Ed448"), JwtError::KeyError));
  EXPECT_TRUE(fails_with(with("crv", "X25519"), JwtError::KeyError));
  EXPECT_TRUE(
      fails_with(with("x", good["x"].get<std::string>().substr(0, 42)), JwtError::KeyError));
  EXPECT_TRUE(fails_with(with("x", good["x"].get<std::string>() + "="), JwtError::KeyError));
  EXPECT_TRUE(fails_with(with("alg", "ES256"), JwtError::KeyError));
  EXPECT_TRUE(fails_with(with("alg", "Ed25519"),
                         JwtError::KeyError));  // RFC 9864 name: not (yet) supported
  EXPECT_TRUE(fails_with(with("d", kRfc8037D), JwtError::KeyError));
  EXPECT_TRUE(fails_with(with("use", "enc"), JwtError::KeyError));
  EXPECT_TRUE(fails_with(with("key_ops", Json::array({"sign"})), JwtError::KeyError));
  EXPECT_TRUE(succeeds(with("key_ops", Json::array({"verify"}))));
}

}  // namespace
}  // namespace gh::jwt::testing
