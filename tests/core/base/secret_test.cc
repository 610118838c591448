#include "core/base/secret.h"

#include <type_traits>

#include <gtest/gtest.h>

#include <fmt/format.h>
#include <ostream>

#include "core/base/clock.h"

namespace gh {

// A secret cannot be printed or formatted by accident: neither compiles.
template <class T>
concept Streamable = requires(std::ostream& o, const T& v) { o << v; };
static_assert(!Streamable<SecretString>, "SecretString must not be streamable");
static_assert(!fmt::is_formattable<SecretString>::value, "SecretString must not be formattable");
static_assert(!std::is_copy_constructible_v<SecretString>, "secrets are moved, never copied");

namespace {

static_assert(!std::is_copy_constructible_v<SecretString>);
static_assert(!std::is_copy_assignable_v<SecretString>);
static_assert(std::is_nothrow_move_constructible_v<SecretString>);

TEST(SecretString, MoveLeavesSourceEmpty) {
  SecretString a(std::string_view("hunter2-but-longer-than-sso-buffer"));
  SecretString b(std::move(a));
  EXPECT_EQ(b.expose(), "hunter2-but-longer-than-sso-buffer");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): the point of the test
}

TEST(SecretString, TakingAStringWipesIt) {
  std::string raw = "a-secret-value-that-is-long-enough";
  SecretString s(std::move(raw));
  EXPECT_EQ(s.expose(), "a-secret-value-that-is-long-enough");
  EXPECT_TRUE(raw.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(ConstantTimeEqual, Basics) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
  EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(Clock, Rfc3339AndFakeClock) {
  FakeClock c(Seconds{std::chrono::seconds{0}});
  EXPECT_EQ(to_rfc3339(c.now()), "1970-01-01T00:00:00Z");
  c.advance(std::chrono::seconds{86400 + 3661});
  EXPECT_EQ(to_rfc3339(c.now()), "1970-01-02T01:01:01Z");
}

}  // namespace
}  // namespace gh
