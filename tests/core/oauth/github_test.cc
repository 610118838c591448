// GitHub's /user and /user/emails bodies (shapes from docs.github.com/en/rest/users).
#include "core/oauth/github.h"

#include <gtest/gtest.h>

#include "oauth_test_util.h"

namespace gh::oauth {
namespace {

using testing::fails_with;
using testing::succeeds;

TEST(GithubUser, Parses) {
  const auto u = parse_github_user(
      R"({"login":"octocat","id":583231,"node_id":"MDQ6VXNlcjE=","name":"The Octocat","email":null})");
  ASSERT_TRUE(succeeds(u));
  EXPECT_EQ(u->subject, "583231");
  EXPECT_EQ(u->login, "octocat");
  EXPECT_EQ(u->name, "The Octocat");
  const auto no_name = parse_github_user(R"({"login":"a","id":18446744073709551615,"name":null})");
  ASSERT_TRUE(succeeds(no_name));
  EXPECT_EQ(no_name->subject, "18446744073709551615");
  EXPECT_FALSE(no_name->name);
}

TEST(GithubUser, BadUserInfo) {
  for (const char* body :
       {"", "[]", R"({"login":"a"})", R"({"login":"a","id":"583231"})", R"({"login":"a","id":0})",
        R"({"login":"a","id":-5})", R"({"login":"a","id":1.5})", R"({"login":"a","id":null})",
        R"({"id":1})", R"({"login":"","id":1})", R"({"login":7,"id":1})",
        R"({"login":"a","id":1,"name":7})", R"({"login":"a","id":1,"id":2})"}) {
    EXPECT_TRUE(fails_with(parse_github_user(body), OAuthError::BadUserInfo)) << body;
  }
}

TEST(GithubEmails, PrimaryVerified) {
  const auto e = github_primary_verified_email(R"([
    {"email":"old@example.test","primary":false,"verified":true,"visibility":null},
    {"email":"octocat@github.com","primary":true,"verified":true,"visibility":"public"}])");
  ASSERT_TRUE(succeeds(e));
  EXPECT_EQ(*e, "octocat@github.com");
}

TEST(GithubEmails, UnverifiedPrimaryIsNoEmail) {
  // A verified secondary address is not used in place of the chosen primary.
  const auto e = github_primary_verified_email(R"([
    {"email":"other@example.test","primary":false,"verified":true},
    {"email":"octocat@github.com","primary":true,"verified":false}])");
  ASSERT_TRUE(succeeds(e));
  EXPECT_FALSE(*e);
  EXPECT_FALSE(*github_primary_verified_email("[]"));
  EXPECT_FALSE(*github_primary_verified_email(R"([{"email":"a@b.test","verified":true}])"));
}

TEST(GithubEmails, BadUserInfo) {
  for (
      const char* body :
      {"", "{}", "[1]", R"([{"primary":true,"verified":true}])",
       R"([{"email":"","primary":true,"verified":true}])",
       R"([{"email":"a@b.test","primary":"true","verified":true}])",
       R"([{"email":"a@b.test","primary":true,"verified":"true"}])",
       R"([{"email":"a@b.test","primary":true,"verified":true},{"email":"c@d.test","primary":true,"verified":true}])",
       R"([{"email":"a@b.test","email":"c@d.test","primary":true,"verified":true}])"}) {
    EXPECT_TRUE(fails_with(github_primary_verified_email(body), OAuthError::BadUserInfo)) << body;
  }
}

}  // namespace
}  // namespace gh::oauth
