#include "core/account/email.h"

#include <gtest/gtest.h>

namespace gh::account {
namespace {

TEST(Email, TrimsAndFoldsCase) {
  auto e = parse_email("  Ada.Lovelace@Example.COM \t");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->display, "Ada.Lovelace@Example.COM");
  EXPECT_EQ(e->normalized, "ada.lovelace@example.com");
}

TEST(Email, UnicodeFormsCollapseToOneKey) {
  // NFC vs NFD and case: one account key.
  auto a = parse_email("J\xC3\xA9r\xC3\xB4me@b\xC3\xBC" "cher.example");
  auto b = parse_email("je\xCC\x81ro\xCC\x82me@BU\xCC\x88" "CHER.example");
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_EQ(a->normalized, b->normalized);
}

TEST(Email, Rejections) {
  const std::pair<const char*, EmailError> cases[] = {
      {"", EmailError::Empty},
      {"   ", EmailError::Empty},
      {"plain", EmailError::BadSyntax},
      {"a@@b.test", EmailError::BadSyntax},
      {"a@b@c.test", EmailError::BadSyntax},
      {".a@b.test", EmailError::BadSyntax},
      {"a.@b.test", EmailError::BadSyntax},
      {"a..b@c.test", EmailError::BadSyntax},
      {"a b@c.test", EmailError::BadSyntax},
      {"a\n@c.test", EmailError::BadSyntax},
      {"a@b", EmailError::BadDomain},
      {"a@-b.test", EmailError::BadDomain},
      {"a@b..test", EmailError::BadDomain},
      {"a@b.test.", EmailError::BadDomain},
      {"a@1.2.3.4", EmailError::BadDomain},
      {"a@b_c.test", EmailError::BadDomain},
      {"\xff@b.test", EmailError::InvalidEncoding},
  };
  for (const auto& [in, want] : cases) {
    auto r = parse_email(in);
    ASSERT_FALSE(r) << in;
    EXPECT_EQ(r.error().code, make_error_code(want)) << in;
  }
  EXPECT_EQ(parse_email(std::string(65, 'a') + "@b.test").error().code, make_error_code(EmailError::TooLong));
  EXPECT_EQ(parse_email("a@" + std::string(250, 'b') + ".test").error().code, make_error_code(EmailError::TooLong));
}

TEST(Email, AcceptsRfcLocalParts) {
  for (const char* ok : {"a+tag@b.test", "o'brien@b.test", "x_y-z@sub.b.test", "\xE7\x94\xA8\xE6\x88\xB7@b.test"})
    EXPECT_TRUE(parse_email(ok)) << ok;
}

TEST(DisplayName, TrimsAndBounds) {
  EXPECT_EQ(*parse_display_name("  Ada  "), "Ada");
  EXPECT_FALSE(parse_display_name("a\x01" "b"));
  EXPECT_FALSE(parse_display_name(std::string(101, 'x')));
  EXPECT_TRUE(parse_display_name(std::string(100, 'x')));
}

}  // namespace
}  // namespace gh::account
