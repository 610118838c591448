#include "core/password/policy.h"

#include <string>

#include <gtest/gtest.h>

namespace gh::password {
namespace {

std::string normalized(std::string_view raw) {
  auto r = normalize_password(raw);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message());
  return r ? std::string(r->expose()) : std::string();
}

TEST(NormalizePassword, NfkcFoldsCompatibilityLigature) {
  EXPECT_EQ(normalized("\xEF\xAC\x81"), "fi");              // U+FB01 LATIN SMALL LIGATURE FI
  EXPECT_EQ(normalized("\xEF\xBC\xA1\xEF\xBC\xA2"), "AB");  // fullwidth A, B
  EXPECT_EQ(normalized("x\xC2\xB2"), "x2");                 // superscript two
}

TEST(NormalizePassword, ComposedAndDecomposedAreEqual) {
  const std::string precomposed = "caf\xC3\xA9 au lait";  // U+00E9
  const std::string decomposed = "cafe\xCC\x81 au lait";  // e + U+0301 COMBINING ACUTE ACCENT
  EXPECT_EQ(normalized(precomposed), normalized(decomposed));
  EXPECT_EQ(normalized(decomposed), precomposed);
}

TEST(NormalizePassword, AsciiUnchanged) {
  EXPECT_EQ(normalized("correct horse battery staple"), "correct horse battery staple");
  EXPECT_EQ(normalized(""), "");
}

TEST(NormalizePassword, InvalidEncoding) {
  const std::string cases[] = {
      std::string("abc\xFF"
                  "def"),               // 0xFF never appears in UTF-8
      std::string("\xC3"),              // truncated sequence
      std::string("\xC0\xAF"),          // overlong "/"
      std::string("\xED\xA0\x80"),      // UTF-16 surrogate U+D800
      std::string("pass\0word", 9),     // NUL
      std::string("pass\nword"),        // C0 control
      std::string("pass\tword"),        // tab is a C0 control too
      std::string("pass\x7Fword"),      // DEL
      std::string("pass\xC2\x85word"),  // U+0085 NEXT LINE (C1)
  };
  for (const std::string& raw : cases) {
    const auto r = normalize_password(raw);
    ASSERT_FALSE(r.has_value()) << testing::PrintToString(raw);
    EXPECT_EQ(r.error().code, PolicyError::InvalidEncoding);
  }
}

TEST(NormalizePassword, NonControlNonAsciiAccepted) {
  EXPECT_EQ(normalized("\xC2\xA0x").size(), 2u);                  // NBSP is NFKC-folded to a space
  EXPECT_EQ(normalized("\xF0\x9F\x90\xB1"), "\xF0\x9F\x90\xB1");  // emoji stays
}

}  // namespace
}  // namespace gh::password
