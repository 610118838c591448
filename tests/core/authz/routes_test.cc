#include "core/authz/routes.h"

#include <gtest/gtest.h>

namespace gh::authz {
namespace {

TEST(RouteRules, ParseNamesTheBadRule) {
  const auto& p = default_policy();
  auto ok = parse_route_rules(" /admin/=users:admin , /reports/ = reports:read,", p);
  ASSERT_TRUE(ok) << ok.error().message();
  ASSERT_EQ(ok->size(), 2U);
  EXPECT_EQ((*ok)[0].prefix, "/admin/");
  EXPECT_EQ((*ok)[0].resource, "users");
  EXPECT_EQ((*ok)[1].action, "read");
  EXPECT_TRUE(parse_route_rules("", p)->empty());
  for (const char* bad : {"/admin/", "/admin/=users", "/admin/=nope:read", "/admin/=users:fly",
                          "admin/=users:read", "/a/../admin/=users:read", "/%61dmin/=users:read",
                          "//admin/=users:read", "/a;b/=users:read"}) {
    auto r = parse_route_rules(std::string("/ok/=users:read,") + bad, p);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().detail.find("rule 2"), std::string::npos) << r.error().detail;
  }
}

TEST(RouteRules, NormalizeReadsHarmlessSpellingsAndRefusesAmbiguousOnes) {
  EXPECT_EQ(normalize_route_path("/admin/x?y=1#z"), "/admin/x");
  EXPECT_EQ(normalize_route_path("/%61dmin/x"), "/admin/x");
  EXPECT_EQ(normalize_route_path("//admin//x"), "/admin/x");
  EXPECT_EQ(normalize_route_path("/admin\\x"), "/admin/x");
  EXPECT_EQ(normalize_route_path("/"), "/");
  EXPECT_EQ(normalize_route_path("/a/b/"), "/a/b/");
  EXPECT_EQ(normalize_route_path("/file.txt"), "/file.txt");
  // Everything a server might resolve its own way is refused (the security review's bypasses among
  // them).
  for (const char* bad : {"",
                          "admin",
                          "http://x/admin",
                          "/a%",
                          "/a%2",
                          "/a%zz",
                          "/a%00b",
                          "/a\nb",
                          "/a%0d%0ab",
                          "/public/../admin/x",
                          "/public/%2e%2e/admin",
                          "/public%2F..%2Fadmin/",
                          "/admin/%2e%2e/x",
                          "/admin/..%2fx",
                          "/admin%2f..%2fx",
                          "/admin;x/y",
                          "/public/..;/admin/x",
                          "/admin./x",
                          "/%2561dmin/x",
                          "/a/./b",
                          "/.\\admin",
                          "/admin%5cx",
                          "/admin /x",
                          "/x/.."})
    EXPECT_FALSE(normalize_route_path(bad)) << bad;
}

TEST(RouteRules, LongestPrefixWinsCaseInsensitively) {
  auto rules = parse_route_rules("/admin/=users:admin,/admin/reports/=reports:read,/=projects:read",
                                 default_policy());
  ASSERT_TRUE(rules);
  auto resource_of = [&](std::string_view raw) -> std::string {
    auto path = normalize_route_path(raw);
    if (!path) return "refused";
    const auto* r = match_route(*rules, *path);
    return r ? r->resource : "none";
  };
  EXPECT_EQ(resource_of("/admin/users"), "users");
  EXPECT_EQ(resource_of("/ADMIN/users"), "users");
  EXPECT_EQ(resource_of("/admin"), "users");  // the directory itself
  EXPECT_EQ(resource_of("/Admin/Reports/q3"), "reports");
  EXPECT_EQ(resource_of("/administrator"), "projects");  // "/admin/" is a directory prefix
  EXPECT_EQ(resource_of("/x/%2e%2e/admin/y"), "refused");
  EXPECT_EQ(resource_of("/home"), "projects");
  auto none = parse_route_rules("/admin/=users:admin", default_policy());
  EXPECT_EQ(match_route(*none, "/home"), nullptr);
}

}  // namespace
}  // namespace gh::authz
