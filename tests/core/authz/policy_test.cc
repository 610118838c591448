#include "core/authz/policy.h"

#include <gtest/gtest.h>

namespace gh::authz {
namespace {

Decision as(std::string_view role, std::string_view resource, std::string_view action, bool admin = false) {
  return decide(default_policy(), Subject{true, admin, std::string(role)}, resource, action);
}

TEST(DefaultPolicy, MatchesTheReference) {
  for (const char* r : {"projects", "users", "billing", "reports"})
    for (const char* a : {"read", "write", "delete", "admin"}) EXPECT_TRUE(as("admin", r, a).allow) << r << ":" << a;
  EXPECT_TRUE(as("manager", "projects", "write").allow);
  EXPECT_TRUE(as("manager", "reports", "write").allow);
  EXPECT_TRUE(as("manager", "users", "read").allow);
  EXPECT_TRUE(as("manager", "billing", "read").allow);
  EXPECT_FALSE(as("manager", "users", "write").allow);
  EXPECT_FALSE(as("manager", "billing", "write").allow);
  EXPECT_FALSE(as("manager", "projects", "delete").allow);
  EXPECT_TRUE(as("member", "projects", "read").allow);
  EXPECT_TRUE(as("member", "reports", "read").allow);
  EXPECT_FALSE(as("member", "projects", "write").allow);
  EXPECT_FALSE(as("member", "users", "read").allow);
  EXPECT_EQ(as("member", "users", "read").reason, Reason::NotGranted);
}

TEST(Decide, OrderAndDenyByDefault) {
  const auto& p = default_policy();
  EXPECT_EQ(decide(p, Subject{false, false, "admin"}, "projects", "read").reason, Reason::NotAuthenticated);
  // A non-member learns nothing about the resource: not_member even for one that does not exist.
  EXPECT_EQ(as("", "projects", "read").reason, Reason::NotMember);
  EXPECT_EQ(as("", "no-such-thing", "read").reason, Reason::NotMember);
  EXPECT_EQ(as("member", "no-such-thing", "read").reason, Reason::UnknownResource);
  EXPECT_EQ(as("member", "projects", "fly").reason, Reason::UnknownAction);
  EXPECT_EQ(as("owner", "projects", "read").reason, Reason::UnknownRole);
  EXPECT_FALSE(as("owner", "projects", "read").allow);
  EXPECT_TRUE(as("", "billing", "delete", /*admin=*/true).allow);
  EXPECT_EQ(as("", "billing", "delete", true).reason, Reason::PlatformAdmin);
  EXPECT_FALSE(as("", "nothing", "read", true).allow) << "even a platform admin only gets what the policy knows";
  // Case and look-alikes never match.
  EXPECT_FALSE(as("Admin", "projects", "read").allow);
  EXPECT_FALSE(as("admin", "Projects", "read").allow);
}

TEST(ParsePolicy, ErrorsNameTheLineAndReason) {
  const struct {
    const char* text;
    const char* want;
  } cases[] = {
      {"resources = [\"a\"]\nactions = [\"r\"]\n[roles.x]\ngrants = [\"a:w\"]\n", "line 4: unknown action 'w'"},
      {"resources = [\"a\"]\nactions = [\"r\"]\n[roles.x]\ngrants = [\"b:r\"]\n", "line 4: unknown resource 'b'"},
      {"resources = [\"a\"]\nactions = [\"r\"]\n[roles.x]\ngrants = [\"ar\"]\n", "line 4: a grant is"},
      {"resources = [\"a\", \"a\"]\nactions = [\"r\"]\n[roles.x]\ngrants = []\n", "line 1: `resources` lists 'a' twice"},
      {"resources = [\"a\"]\nactions = [\"r\"]\nextra = 1\n[roles.x]\ngrants = []\n", "line 3: unknown key `extra`"},
      {"resources = [\"a\"]\nactions = [\"r\"]\n[roles.x]\ngrant = []\n", "line 4: unknown key `grant`"},
      {"resources = [\"a\"\nactions = [\"r\"]\n", "line "},
      {"actions = [\"r\"]\n[roles.x]\ngrants = []\n", "`resources` is missing"},
      {"resources = [\"a\"]\nactions = [\"r\"]\n", "`[roles.NAME]` tables are missing"},
  };
  for (const auto& c : cases) {
    auto p = parse_policy(c.text, "p.toml");
    ASSERT_FALSE(p) << c.text;
    EXPECT_EQ(p.error().code, make_error_code(AuthzError::BadPolicy));
    EXPECT_NE(p.error().detail.find(c.want), std::string::npos) << p.error().detail << " / want: " << c.want;
    EXPECT_EQ(p.error().detail.rfind("p.toml: ", 0), 0U) << p.error().detail;
  }
}

TEST(ParsePolicy, WildcardsExpandToTheDeclaredNamesOnly) {
  auto p = parse_policy("resources = [\"docs\", \"bills\"]\nactions = [\"read\", \"pay\"]\n"
                        "[roles.reader]\ngrants = [\"*:read\"]\n[roles.payer]\ngrants = [\"bills:*\"]\n");
  ASSERT_TRUE(p) << p.error().detail;
  const auto reader = Subject{true, false, "reader"};
  const auto payer = Subject{true, false, "payer"};
  EXPECT_TRUE(decide(*p, reader, "docs", "read").allow);
  EXPECT_TRUE(decide(*p, reader, "bills", "read").allow);
  EXPECT_FALSE(decide(*p, reader, "bills", "pay").allow);
  EXPECT_TRUE(decide(*p, payer, "bills", "pay").allow);
  EXPECT_FALSE(decide(*p, payer, "docs", "read").allow);
}

}  // namespace
}  // namespace gh::authz
