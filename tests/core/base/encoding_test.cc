#include "core/base/encoding.h"

#include <gtest/gtest.h>

#include "core/base/random.h"

namespace gh {
namespace {

// RFC 4648 §10 vectors, in the URL-safe alphabet without padding.
TEST(Base64Url, Rfc4648Vectors) {
  const std::pair<const char*, const char*> cases[] = {
      {"", ""},         {"f", "Zg"},         {"fo", "Zm8"},        {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, enc] : cases) {
    EXPECT_EQ(base64url_encode(plain), enc);
    EXPECT_EQ(base64url_decode(enc), std::optional<std::string>(plain));
  }
}

TEST(Base64Url, UrlSafeAlphabet) {
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  EXPECT_EQ(base64url_decode("-_8"), std::optional<std::string>("\xfb\xff"));
}

TEST(Base64Url, RejectsPaddingAndStandardAlphabet) {
  EXPECT_FALSE(base64url_decode("Zg=="));
  EXPECT_FALSE(base64url_decode("+/8"));
  EXPECT_FALSE(base64url_decode("Z"));  // length 1 mod 4
  EXPECT_FALSE(base64url_decode("Zm9v YQ"));
}

TEST(Base64Url, RejectsNonCanonicalTrailingBits) {
  // "Zh" decodes to 'f' if the low 4 bits are ignored; only "Zg" is canonical.
  EXPECT_FALSE(base64url_decode("Zh"));
  EXPECT_FALSE(base64url_decode("Zm9"));
}

TEST(Hex, RoundTripAndRejects) {
  EXPECT_EQ(hex_encode(std::string_view("\x00\xab\xff", 3)), "00abff");
  EXPECT_EQ(hex_decode("00ABff"), std::optional<std::string>(std::string("\x00\xab\xff", 3)));
  EXPECT_FALSE(hex_decode("abc"));
  EXPECT_FALSE(hex_decode("zz"));
}

TEST(Sha256, KnownAnswer) {
  EXPECT_EQ(hex_encode(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Utf8, ValidAndInvalid) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));  // é € 😀
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));                             // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));                         // surrogate D800
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));                     // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));                             // truncated
  EXPECT_FALSE(is_valid_utf8("\x80"));                                 // lone continuation
}

TEST(Random, TokensAreLongAndDistinct) {
  SystemRandom rng;
  const std::string a = random_token(rng);
  const std::string b = random_token(rng);
  EXPECT_EQ(a.size(), 43U);  // 32 bytes -> 43 base64url chars
  EXPECT_NE(a, b);
}

TEST(Random, UuidV4Shape) {
  SystemRandom rng;
  const std::string u = uuid_v4(rng);
  ASSERT_EQ(u.size(), 36U);
  EXPECT_EQ(u[14], '4');
  EXPECT_TRUE(u[19] == '8' || u[19] == '9' || u[19] == 'a' || u[19] == 'b');
  EXPECT_NE(u, uuid_v4(rng));
}

}  // namespace
}  // namespace gh
