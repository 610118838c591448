#include "core/crypto/seal.h"

#include <gtest/gtest.h>

#include "core/base/encoding.h"

namespace gh::crypto {
namespace {

const char* kKek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";  // bytes 0..31

TEST(Seal, RoundTrip) {
  SystemRandom rng;
  auto kek = Kek::from_base64url(kKek);
  ASSERT_TRUE(kek);
  const std::string sealed = kek->seal("-----BEGIN PRIVATE KEY-----", "kid-1", rng);
  EXPECT_EQ(sealed.find("PRIVATE"), std::string::npos);
  auto opened = kek->open(sealed, "kid-1");
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->expose(), "-----BEGIN PRIVATE KEY-----");
  EXPECT_NE(kek->seal("x", "a", rng), kek->seal("x", "a", rng)) << "fresh nonce each time";
}

TEST(Seal, OpenFailedForOtherRowOrKeyOrTamper) {
  SystemRandom rng;
  auto kek = Kek::from_base64url(kKek);
  const std::string sealed = kek->seal("secret", "kid-1", rng);
  EXPECT_EQ(kek->open(sealed, "kid-2").error().code, make_error_code(SealError::OpenFailed));
  auto other = Kek::from_base64url("HwAeAB0AHAAbABoAGQAYABcAFgAVABQAEwASABEAEAA");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->open(sealed, "kid-1").error().code, make_error_code(SealError::OpenFailed));
  std::string raw = *base64url_decode(sealed);
  raw.back() = static_cast<char>(raw.back() ^ 1);
  EXPECT_EQ(kek->open(base64url_encode(raw), "kid-1").error().code, make_error_code(SealError::OpenFailed));
}

TEST(Seal, MalformedAndBadKek) {
  auto kek = Kek::from_base64url(kKek);
  EXPECT_EQ(kek->open("!!", "a").error().code, make_error_code(SealError::Malformed));
  EXPECT_EQ(kek->open("AQ", "a").error().code, make_error_code(SealError::Malformed));
  EXPECT_EQ(Kek::from_base64url("c2hvcnQ").error().code, make_error_code(SealError::BadKek));
  EXPECT_EQ(Kek::from_base64url("not base64").error().code, make_error_code(SealError::BadKek));
}

TEST(Hmac, Rfc4231Case2) {
  EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Kek, DeriveIsStableAndLabelSeparated) {
  auto kek = Kek::from_base64url(kKek);
  EXPECT_EQ(kek->derive("a").expose(), kek->derive("a").expose());
  EXPECT_NE(kek->derive("a").expose(), kek->derive("b").expose());
  EXPECT_EQ(kek->derive("a").size(), 32U);
}

}  // namespace
}  // namespace gh::crypto
