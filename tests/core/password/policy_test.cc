#include "core/password/policy.h"

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace gh::password {
namespace {

// The real Debian lists (john-data's password.lst, cracklib-runtime's dictionary).
std::shared_ptr<const PasswordPolicy> debian_policy(std::size_t min_length = 15) {
  PolicyConfig c;
  c.min_length = min_length;
  auto p = PasswordPolicy::load(c);
  EXPECT_TRUE(p.has_value()) << (p ? "" : p.error().message());
  return p ? *p : nullptr;
}

// Only the hand-written rules: no lists, no cracklib.
std::shared_ptr<const PasswordPolicy> bare_policy(std::size_t min_length = 8,
                                                  std::vector<std::string> blocked = {}) {
  PolicyConfig c;
  c.min_length = min_length;
  c.use_cracklib = false;
  return PasswordPolicy::from_lists_for_test(c, {}, std::move(blocked));
}

Status check(const PasswordPolicy& p, std::string_view raw, PolicyContext ctx = {}) {
  auto n = normalize_password(raw);
  EXPECT_TRUE(n.has_value());
  return p.check(*n, ctx);
}

// The error code of check(), or {} when accepted; the detail must never echo the password.
std::error_code code_of(const PasswordPolicy& p, std::string_view raw, PolicyContext ctx = {}) {
  const Status s = check(p, raw, ctx);
  if (s) return {};
  EXPECT_EQ(s.error().detail.find(raw), std::string::npos) << s.error().detail;
  EXPECT_FALSE(s.error().detail.empty());
  return s.error().code;
}

std::string temp_file(const std::string& name, const std::string& contents) {
  std::string path = testing::TempDir() + "gh_password_" + name;
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

TEST(PasswordPolicy, ListUnreadable) {
  PolicyConfig c;
  c.common_list = "/nonexistent/john/password.lst";
  auto p = PasswordPolicy::load(c);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code, PolicyError::ListUnreadable);
  EXPECT_NE(p.error().detail.find("/nonexistent/john/password.lst"), std::string::npos);

  c = PolicyConfig{};
  c.blocklist_file = "/nonexistent/blocklist.txt";
  p = PasswordPolicy::load(c);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code, PolicyError::ListUnreadable);

  c.blocklist_file = testing::TempDir();  // a directory opens but cannot be read
  p = PasswordPolicy::load(c);
  ASSERT_FALSE(p.has_value());
  EXPECT_EQ(p.error().code, PolicyError::ListUnreadable);
}

TEST(PasswordPolicy, LoadsDebianCommonList) {
  const auto p = debian_policy();
  ASSERT_TRUE(p);
  EXPECT_GT(p->common_count(), 3000u);  // 3546 entries, minus duplicates after lower-casing
  EXPECT_EQ(p->blocklist_count(), 0u);
}

TEST(PasswordPolicy, Common) {
  const auto p = debian_policy(8);
  EXPECT_EQ(code_of(*p, "password1234"), PolicyError::Common);
  EXPECT_EQ(code_of(*p, "PASSWORD"), PolicyError::Common);
  EXPECT_EQ(code_of(*p, "!!!password2025!!!"), PolicyError::Common);
}

TEST(PasswordPolicy, CommonRepeated) {
  EXPECT_EQ(code_of(*debian_policy(), "passwordpassword"), PolicyError::Common);
  EXPECT_EQ(code_of(*debian_policy(), "Password1Password1"), PolicyError::Common);
}

TEST(PasswordPolicy, CommonWithLookAlikes) {
  EXPECT_EQ(code_of(*debian_policy(), "P@ssw0rd12345678"), PolicyError::Common);
}

TEST(PasswordPolicy, CommonInMemoryList) {
  PolicyConfig c;
  c.use_cracklib = false;
  const auto p = PasswordPolicy::from_lists_for_test(c, {"Zebracrossing"}, {});
  EXPECT_EQ(p->common_count(), 1u);
  EXPECT_EQ(code_of(*p, "zebracrossing2025"), PolicyError::Common);
  EXPECT_EQ(code_of(*p, "ZEBRACROSSINGZEBRACROSSING"), PolicyError::Common);
}

TEST(PasswordPolicy, CommonOrGuessableKeyboardRow) {
  const auto code = code_of(*debian_policy(8), "qwertyuiop123");
  EXPECT_TRUE(code == PolicyError::Common || code == PolicyError::Guessable) << code.message();
}

TEST(PasswordPolicy, Guessable) {
  EXPECT_EQ(code_of(*debian_policy(), "aaaaaaaaaaaaaaaa"), PolicyError::Guessable);
}

TEST(PasswordPolicy, GuessableOrCommonDigitRun) {
  const auto code = code_of(*debian_policy(), "123456789012345");
  EXPECT_TRUE(code == PolicyError::Common || code == PolicyError::Guessable) << code.message();
}

TEST(PasswordPolicy, GuessablePatterns) {
  const auto p = bare_policy();
  for (const char* pw :
       {"aaaaaaaaaaaaaaaa", "abcabcabcabcabcabc", "dogdogdogdogdog", "123456789012345",
        "abcdefghijklmnop", "zyxwvutsrqponmlk", "qwertyuiop123", "asdfghjkl", "qwertyasdfgzxcvb",
        "1qaz1qaz1qaz1qaz",
        "\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600\U0001F600"}) {
    EXPECT_EQ(code_of(*p, pw), PolicyError::Guessable) << pw;
  }
}

TEST(PasswordPolicy, GuessableByCracklib) {
  // Short enough (< 20 code points) for cracklib, which finds "maintenance".
  const Status s = check(*debian_policy(8), "Maintenance#1");
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, PolicyError::Guessable);
  EXPECT_NE(s.error().detail.find("dictionary"), std::string::npos) << s.error().detail;
  EXPECT_EQ(code_of(*debian_policy(), "elephantine!!!!"), PolicyError::Guessable);
}

TEST(PasswordPolicy, ContextSpecific) {
  const auto p = debian_policy();
  EXPECT_EQ(code_of(*p, "gatehousegatehouse"), PolicyError::ContextSpecific);
  EXPECT_EQ(code_of(*p, "Gatehouse2025!!!"), PolicyError::ContextSpecific);
  EXPECT_EQ(code_of(*p, "gatehouse2025!!"), PolicyError::ContextSpecific);
}

TEST(PasswordPolicy, ContextSpecificEmailLocalPart) {
  const auto p = debian_policy();
  const PolicyContext ctx{.email = "alice.smith@example.com", .name = "Alice Smith"};
  EXPECT_EQ(code_of(*p, "alice.smith2025!!", ctx), PolicyError::ContextSpecific);
  EXPECT_EQ(code_of(*p, "i-am-ALICE.SMITH-ok", ctx), PolicyError::ContextSpecific);  // contains it
  EXPECT_EQ(code_of(*p, "smith!!2025!!2025", ctx),
            PolicyError::ContextSpecific);  // a piece + padding
  // Another user may pick the same password.
  EXPECT_EQ(code_of(*p, "alice.smith2025!!", {.email = "bob@example.com"}), std::error_code{});
}

TEST(PasswordPolicy, ContextSpecificName) {
  const auto p = debian_policy();
  const PolicyContext ctx{.email = "u1@example.com", .name = "Zbigniew Brzeczyszczykiewicz"};
  EXPECT_EQ(code_of(*p, "zbigniew brzeczyszczykiewicz!", ctx), PolicyError::ContextSpecific);
  EXPECT_EQ(code_of(*p, "Brzeczyszczykiewicz1990", ctx), PolicyError::ContextSpecific);
  // Under 4 characters the local part is ignored.
  EXPECT_EQ(code_of(*p, "u1u1-glacier-lantern-maple", ctx), std::error_code{});
}

TEST(PasswordPolicy, ProductWordInsideLongPassphraseAccepted) {
  EXPECT_TRUE(check(*debian_policy(), "my gatehouse account has a long passphrase"));
}

TEST(PasswordPolicy, TooShort) {
  const Status s = check(*debian_policy(), "vivid-otter-ma");  // 14
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, PolicyError::TooShort);
  EXPECT_EQ(s.error().detail, "must be at least 15 characters");
  EXPECT_TRUE(check(*debian_policy(), "vivid-otter-mar"));  // 15
}

TEST(PasswordPolicy, TooLong) {
  std::string long_pw;
  for (int i = 0; long_pw.size() < 128; ++i)
    long_pw += "w" + std::to_string(i * 7919 % 1000) + "q-";
  long_pw.resize(128);
  EXPECT_TRUE(check(*debian_policy(), long_pw))
      << check(*debian_policy(), long_pw).error().message();
  const Status s = check(*debian_policy(), long_pw + "z");  // 129
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code, PolicyError::TooLong);
  EXPECT_EQ(s.error().detail, "must be at most 128 characters");
}

TEST(PasswordPolicy, LengthCountsCodePointsNotBytes) {
  // 15 different emoji: 60 bytes, 15 code points.
  const std::string emoji15 =
      "\xF0\x9F\x90\xB1\xF0\x9F\x8C\xB5\xF0\x9F\x9A\x80\xF0\x9F\x8E\xB8\xF0\x9F\x8D\x95"
      "\xF0\x9F\xA6\x8A\xF0\x9F\x8C\x88\xF0\x9F\x94\x91\xF0\x9F\x90\xA2\xF0\x9F\x8E\xB2"
      "\xF0\x9F\x8D\x8B\xF0\x9F\xA7\xA9\xF0\x9F\x9B\xB6\xF0\x9F\x8C\x8B\xF0\x9F\x90\x99";
  ASSERT_EQ(emoji15.size(), 60u);
  EXPECT_TRUE(check(*debian_policy(), emoji15));
  EXPECT_EQ(code_of(*debian_policy(), emoji15.substr(0, 56)), PolicyError::TooShort);
}

TEST(PasswordPolicy, LengthLimitsAreClamped) {
  PolicyConfig c;
  c.min_length = 4;
  c.max_length = 2;
  c.use_cracklib = false;
  const auto p = PasswordPolicy::from_lists_for_test(c, {}, {});
  EXPECT_EQ(p->config().min_length, 8u);
  EXPECT_EQ(p->config().max_length, 8u);
}

TEST(PasswordPolicy, Breached) {
  const auto p =
      bare_policy(15, {
                          "leaked staple horse battery",                     // plain
                          "31992298EBB35E0A327C79F394ACFF66D1F8D5B2",        // SHA-1, upper case
                          "f46284d66bdc3112cbcf3d2ed87e9600431c8a12:12345",  // HIBP, lower case
                      });
  EXPECT_EQ(p->blocklist_count(), 3u);
  EXPECT_EQ(code_of(*p, "leaked staple horse battery"), PolicyError::Breached);
  EXPECT_EQ(code_of(*p, "leaked-otter-marches-south"), PolicyError::Breached);
  EXPECT_EQ(code_of(*p, "leaked phrase number three"), PolicyError::Breached);
  // Breach lists are case-sensitive: a different case is a different password.
  EXPECT_EQ(code_of(*p, "Leaked staple horse battery"), std::error_code{});
}

TEST(PasswordPolicy, BreachedFromFile) {
  // CRLF, a count, blank lines, and a plain entry that NFKC folds ("ﬁ" -> "fi").
  const std::string path = temp_file("blocklist.txt",
                                     "7384138A83C72EDB057383CEEF0BEBABA0F52056:3\r\n"
                                     "\r\n"
                                     "\xEF\xAC\x81nancial-\xEF\xAC\x81reworks-2024\n"
                                     "F46284D66BDC3112CBCF3D2ED87E9600431C8A12");
  PolicyConfig c;
  c.blocklist_file = path;
  const auto p = PasswordPolicy::load(c);
  ASSERT_TRUE(p.has_value()) << p.error().message();
  EXPECT_EQ((*p)->blocklist_count(), 3u);
  EXPECT_EQ(code_of(**p, "leaked staple horse battery"), PolicyError::Breached);
  EXPECT_EQ(code_of(**p, "financial-fireworks-2024"), PolicyError::Breached);
  EXPECT_EQ(code_of(**p, "leaked phrase number three"), PolicyError::Breached);
  EXPECT_EQ(code_of(**p, "unleaked phrase number three"), std::error_code{});
}

TEST(PasswordPolicy, LargeBlocklistLoads) {
  // 200k HIBP-style lines (the 10M-line case is in bench/); hashes are arbitrary hex.
  std::string contents;
  contents.reserve(std::size_t{200'000} * 48);
  char line[64];
  for (unsigned i = 0; i < 200'000; ++i) {
    std::snprintf(line, sizeof line, "%08X%032X:%u\r\n", i * 2654435761u, i, i % 97 + 1);
    contents += line;
  }
  contents += "F46284D66BDC3112CBCF3D2ED87E9600431C8A12:1\r\n";
  PolicyConfig c;
  c.blocklist_file = temp_file("large_blocklist.txt", contents);
  const auto p = PasswordPolicy::load(c);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ((*p)->blocklist_count(), 200'001u);
  EXPECT_EQ(code_of(**p, "leaked phrase number three"), PolicyError::Breached);
}

TEST(PasswordPolicy, GoodPassphrasesAccepted) {
  const auto p = debian_policy();
  const PolicyContext ctx{.email = "alice.smith@example.com", .name = "Alice Smith"};
  for (const char* pw : {"correct horse battery staple", "vivid-otter-marches-north",
                         "my password is a long sentence here", "Tr0ub4dor&3-lantern-fjord",
                         "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e at noon"}) {
    const Status s = check(*p, pw, ctx);
    EXPECT_TRUE(s) << pw << ": " << (s ? "" : s.error().message());
  }
}

TEST(PasswordPolicy, CheckIsThreadSafe) {
  const auto p = debian_policy(8);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        const auto a = normalize_password("Maintenance#1");
        const auto b = normalize_password("vivid-otter-marches");  // 19: goes to cracklib too
        if (p->check(*a, {}).has_value() || !p->check(*b, {}).has_value()) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(PasswordPolicy, ErrorCategory) {
  const std::error_code ec = PolicyError::Breached;
  EXPECT_STREQ(ec.category().name(), "password.policy");
  EXPECT_EQ(ec.message(), "the password appears in a data breach");
}

}  // namespace
}  // namespace gh::password
