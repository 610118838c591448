#include "core/web/web.h"

#include <gtest/gtest.h>

#include <vector>

namespace gh::web {
namespace {

TEST(ParseForm, DecodesPlusAndPercent) {
  auto f = parse_form("email=a%40b.example&password=two+words%21&empty=&flag");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->value("email"), "a@b.example");
  EXPECT_EQ(f->value("password"), "two words!");
  EXPECT_EQ(f->get("empty"), std::optional<std::string_view>(""));
  EXPECT_EQ(f->get("flag"), std::optional<std::string_view>(""));
  EXPECT_FALSE(f->get("missing"));
  EXPECT_EQ(f->size(), 4U);
}

TEST(ParseForm, EmptyBodyAndEmptyPairs) {
  auto f = parse_form("");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->size(), 0U);
  auto g = parse_form("&&a=1&&");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->value("a"), "1");
}

TEST(ParseForm, RefusesMalformedPercentEncoding) {
  for (const char* bad : {"a=%", "a=%4", "a=%zz", "a=%4g", "%=1", "a%2=1"}) EXPECT_FALSE(parse_form(bad)) << bad;
}

TEST(ParseForm, RefusesDuplicateAndEmptyNames) {
  // A second return_to or csrf field must never shadow the first.
  EXPECT_FALSE(parse_form("return_to=%2F&return_to=https%3A%2F%2Fevil.example"));
  EXPECT_FALSE(parse_form("a=1&%61=2"));  // the same name once decoded
  EXPECT_FALSE(parse_form("=1"));
  EXPECT_FALSE(parse_form("%00=1"));
}

TEST(ParseForm, BoundsTheNumberOfFields) {
  std::string body;
  for (int i = 0; i < 33; ++i) body += "f" + std::to_string(i) + "=x&";
  EXPECT_FALSE(parse_form(body, 32));
  EXPECT_TRUE(parse_form(body, 33));
}

TEST(UrlEncode, EncodesEverythingButUnreserved) {
  EXPECT_EQ(url_encode("https://a.example/p?q=1&r=2#f"), "https%3A%2F%2Fa.example%2Fp%3Fq%3D1%26r%3D2%23f");
  EXPECT_EQ(url_encode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(url_encode("\xC3\xA9 "), "%C3%A9%20");
}

TEST(OriginOf, CanonicalisesSchemeHostAndDefaultPort) {
  EXPECT_EQ(origin_of("HTTPS://App.Example.COM:443/x"), "https://app.example.com");
  EXPECT_EQ(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
  EXPECT_EQ(origin_of("http://h:80?x"), "http://h");
  EXPECT_EQ(origin_of("http://[::1]:9000/"), "http://[::1]:9000");
  for (const char* bad : {"ftp://h/", "javascript:alert(1)", "https://", "https://u@h/", "https://h:/", "https://h:0/",
                          "https://h:65536/", "https://h:8a/", "https://-h/", "https://h_x/", "//h/", "https://[zz]/"})
    EXPECT_FALSE(origin_of(bad)) << bad;
}

TEST(RedirectTargetParse, NormalisesThePrefix) {
  auto t = parse_redirect_target("https://App.example.com/console");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->origin, "https://app.example.com");
  EXPECT_EQ(t->path_prefix, "/console/");
  auto root = parse_redirect_target("http://127.0.0.1:9000");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->path_prefix, "/");
  for (const char* bad : {"app.example.com", "https://h/x?y", "https://h/#f", "https://h/../x", "https://u@h/", "mailto:x"})
    EXPECT_FALSE(parse_redirect_target(bad)) << bad;
}

class ReturnTo : public ::testing::Test {
 protected:
  std::optional<std::string> check(std::string_view c) { return safe_return_to(c, own_, allowed_); }
  std::string own_ = "https://auth.example.com";
  std::vector<RedirectTarget> allowed_ = {*parse_redirect_target("https://app.example.com/"),
                                          *parse_redirect_target("https://admin.example.com/console/")};
};

TEST_F(ReturnTo, AllowsOwnPathsAndConfiguredTargets) {
  EXPECT_EQ(check("/account"), "/account");
  EXPECT_EQ(check("/account?tab=sessions#x"), "/account?tab=sessions#x");
  EXPECT_EQ(check("https://auth.example.com/account"), "https://auth.example.com/account");
  EXPECT_EQ(check("https://app.example.com"), "https://app.example.com");
  EXPECT_EQ(check("https://app.example.com/a/b?c=%2F"), "https://app.example.com/a/b?c=%2F");
  EXPECT_EQ(check("https://APP.example.com:443/x"), "https://APP.example.com:443/x");
  EXPECT_EQ(check("https://admin.example.com/console"), "https://admin.example.com/console");
  EXPECT_EQ(check("https://admin.example.com/console/users"), "https://admin.example.com/console/users");
}

TEST_F(ReturnTo, RefusesOpenRedirects) {
  for (const char* bad : {
           "https://evil.example/",                      // not allowed
           "//evil.example/",                            // protocol-relative: another host
           "/\\evil.example/",                           // browsers read '\' as '/'
           "https:evil.example",                         // no authority
           "https://app.example.com@evil.example/",      // userinfo: the host is evil.example
           "https://evil.example\\@app.example.com/",    // parser confusion
           "https://app.example.com.evil.example/",      // suffix match
           "https://evilapp.example.com/",               // not a subdomain match either
           "http://app.example.com/",                    // scheme downgrade
           "https://app.example.com:8443/",              // another port
           "https://admin.example.com/consoleX",         // outside the prefix (segment boundary)
           "https://admin.example.com/console/../admin", // dot segments
           "https://admin.example.com/console/%2e%2e/admin",
           "https://admin.example.com/console%2F..%2Fadmin",
           "/a/../../evil",
           "javascript:alert(1)",
           "data:text/html,x",
           "/account\r\nSet-Cookie:x=y",  // header injection
           "/ a",
           "",
       })
    EXPECT_FALSE(check(bad)) << bad;
  EXPECT_FALSE(check(std::string(2049, 'a').insert(0, "/")));
}

}  // namespace
}  // namespace gh::web
