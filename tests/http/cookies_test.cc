#include "http/cookies.h"

#include <gtest/gtest.h>

namespace gh::http {
namespace {

TEST(FindCookie, FindsTrimmedValues) {
  EXPECT_EQ(find_cookie("a=1; b=2;c=3", "b"), std::optional<std::string_view>("2"));
  EXPECT_EQ(find_cookie(" a = 1 ", "a"), std::optional<std::string_view>("1"));
  EXPECT_EQ(find_cookie("a=\"quoted\"", "a"), std::optional<std::string_view>("quoted"));
  EXPECT_EQ(find_cookie("a=1", "b"), std::nullopt);
  EXPECT_EQ(find_cookie("", "a"), std::nullopt);
  EXPECT_EQ(find_cookie("novalue; a=x", "a"), std::optional<std::string_view>("x"));
}

TEST(FindCookie, DuplicateNamesAreRefused) {
  // A planted second cookie (cookie tossing) must not win silently.
  EXPECT_EQ(find_cookie("s=good; s=evil", "s"), std::nullopt);
}

TEST(FindCookie, PrefixOfAnotherNameDoesNotMatch) {
  EXPECT_EQ(find_cookie("session_x=1", "session"), std::nullopt);
  EXPECT_EQ(find_cookie("xsession=1", "session"), std::nullopt);
}

TEST(SetCookie, Attributes) {
  EXPECT_EQ(set_cookie({"n", "v", "/p", std::chrono::seconds{60}, true, true, "Strict"}),
            "n=v; Path=/p; Max-Age=60; Secure; HttpOnly; SameSite=Strict");
  EXPECT_EQ(set_cookie({"n", "", "/", std::chrono::seconds{0}, false, true, "Lax"}),
            "n=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
}

}  // namespace
}  // namespace gh::http
