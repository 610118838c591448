#include <algorithm>
#include "service/config.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace gh::service {
namespace {

std::vector<char*> env_of(std::vector<std::string>& storage) {
  std::vector<char*> v;
  for (auto& s : storage) v.push_back(s.data());
  v.push_back(nullptr);
  return v;
}

TEST(Config, DefaultsFileEnvFlagsInOrder) {
  const auto dir = std::filesystem::temp_directory_path() / ("ghcfg-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "c.toml";
  std::ofstream(file) << "[server]\nlisten = \"127.0.0.1:9000\"\nio_threads = 3\n[password]\nmin_length = 12\n";
  std::vector<std::string> env = {"GATEHOUSE_PASSWORD_MIN_LENGTH=10", "GATEHOUSE_LISTEN=127.0.0.1:9100",
                                  "GATEHOUSE_UNRELATED_TOOL=x"};
  auto e = env_of(env);
  auto c = load_config(file.string(), {{"server.listen", "127.0.0.1:9200"}}, e.data());
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->listen, "127.0.0.1:9200");  // flag beats env beats file
  EXPECT_EQ(c->io_threads, 3);              // file beats default
  EXPECT_EQ(c->password_min_length, 10U);   // env beats file
  EXPECT_EQ(c->argon2_iterations, 2U);      // default
  std::filesystem::remove_all(dir);
}

TEST(Config, RejectsUnknownKeysAndBadValues) {
  auto unknown = load_config("", {{"server.nope", "1"}}, nullptr);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, make_error_code(ConfigError::UnknownKey));
  auto bad = load_config("", {{"password.min_length", "7"}}, nullptr);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, make_error_code(ConfigError::BadValue));
  auto notnum = load_config("", {{"server.io_threads", "two"}}, nullptr);
  EXPECT_EQ(notnum.error().code, make_error_code(ConfigError::BadValue));
  auto file = load_config("/nonexistent/gatehouse.toml", {}, nullptr);
  EXPECT_EQ(file.error().code, make_error_code(ConfigError::FileUnreadable));
}

TEST(Config, ProductionRefusesInsecureSettingsAndSaysWhy) {
  auto c = load_config("", {{"server.mode", "production"}}, nullptr);
  ASSERT_TRUE(c);
  auto st = finalize_config(*c);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, make_error_code(ConfigError::Insecure));
  EXPECT_NE(st.error().detail.find("secrets.kek"), std::string::npos);
  EXPECT_NE(st.error().detail.find("public_url"), std::string::npos);

  auto ok = load_config("", {{"server.mode", "production"},
                             {"secrets.kek", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"},
                             {"server.public_url", "https://auth.example.com"}},
                        nullptr);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(finalize_config(*ok));
}

TEST(Config, ProductionWarningsNameLocalMailAndOptionalMfa) {
  auto dev = load_config("", {}, nullptr);
  ASSERT_TRUE(dev);
  EXPECT_TRUE(production_warnings(*dev).empty()) << "dev mode warns about nothing";
  auto prod = load_config("", {{"server.mode", "production"}}, nullptr);
  ASSERT_TRUE(prod);
  const auto w = production_warnings(*prod);
  const auto mentions = [&](std::string_view key) {
    return std::ranges::any_of(w, [&](const std::string& s) { return s.find(key) != std::string::npos; });
  };
  EXPECT_TRUE(mentions("mail.smtp_url"));
  EXPECT_TRUE(mentions("mail.from"));
  EXPECT_TRUE(mentions("mfa.required_for_all"));
  auto good = load_config("", {{"server.mode", "production"},
                               {"mail.smtp_url", "smtps://mail.example.com:465"},
                               {"mail.from", "Example <id@example.com>"},
                               {"mfa.required_for_all", "true"}},
                          nullptr);
  ASSERT_TRUE(good);
  EXPECT_TRUE(production_warnings(*good).empty());
  EXPECT_TRUE(good->mfa_enrollment_requires_email_code) << "on by default";
  auto no_code = load_config("", {{"server.mode", "production"},
                                  {"mail.smtp_url", "smtps://mail.example.com:465"},
                                  {"mail.from", "Example <id@example.com>"},
                                  {"mfa.required_for_all", "true"},
                                  {"mfa.enrollment_requires_email_code", "false"}},
                             nullptr);
  ASSERT_TRUE(no_code);
  const auto w2 = production_warnings(*no_code);
  ASSERT_EQ(w2.size(), 1U);
  EXPECT_NE(w2[0].find("mfa.enrollment_requires_email_code"), std::string::npos);
}

TEST(Config, MfaSettingsAndTheirRateLimitAreValidated) {
  auto bad = load_config("", {{"rate_limit.mfa_per_ip", "lots"}}, nullptr);
  ASSERT_TRUE(bad);
  bad->kek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
  auto st = finalize_config(*bad);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().detail.find("mfa_per_ip"), std::string::npos);
  EXPECT_FALSE(load_config("", {{"mfa.challenge_ttl_s", "5"}}, nullptr)) << "below the minimum";
  EXPECT_FALSE(load_config("", {{"mfa.required_for_all", "maybe"}}, nullptr));
}

TEST(Config, WebOriginListsFromTomlArraysOrCommaSeparatedText) {
  const auto dir = std::filesystem::temp_directory_path() / ("ghcfg-web-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "c.toml";
  std::ofstream(file) << "[web]\nreturn_to_origins = [\"https://App.example.com/console\", \"http://127.0.0.1:9000\"]\n";
  auto c = load_config(file.string(), {{"web.cors_origins", "https://a.example, https://b.example:8443"}}, nullptr);
  ASSERT_TRUE(c) << c.error().message();
  c->kek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
  ASSERT_TRUE(finalize_config(*c));
  ASSERT_EQ(c->return_to_targets.size(), 2U);
  EXPECT_EQ(c->return_to_targets[0].origin, "https://app.example.com");
  EXPECT_EQ(c->return_to_targets[0].path_prefix, "/console/");
  EXPECT_EQ(c->return_to_targets[1].origin, "http://127.0.0.1:9000");
  EXPECT_EQ(c->cors_origin_list, (std::vector<std::string>{"https://a.example", "https://b.example:8443"}));
  std::filesystem::remove_all(dir);

  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"web.return_to_origins", "app.example.com"},
           {"web.return_to_origins", "https://a.example/x?y"},
           {"web.cors_origins", "https://a.example/"},
           {"web.cors_origins", "https://A.example"},
           {"web.cors_origins", "*"}}) {
    auto bad = load_config("", {{key, value}, {"secrets.kek", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}}, nullptr);
    ASSERT_TRUE(bad);
    auto st = finalize_config(*bad);
    ASSERT_FALSE(st) << key << " = " << value;
    EXPECT_NE(st.error().detail.find(key), std::string::npos);
  }
  // Production: plain-http origins are refused.
  auto prod = load_config("", {{"server.mode", "production"},
                               {"secrets.kek", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"},
                               {"server.public_url", "https://auth.example.com"},
                               {"web.cors_origins", "http://app.example.com"}},
                          nullptr);
  ASSERT_TRUE(prod);
  auto st = finalize_config(*prod);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().detail.find("web.cors_origins"), std::string::npos);
}

TEST(Config, DevModeGeneratesAKekOnceAndRedactsIt) {
  const auto dir = std::filesystem::temp_directory_path() / ("ghdev-" + std::to_string(::getpid()));
  auto c = load_config("", {{"server.data_dir", dir.string()}}, nullptr);
  ASSERT_TRUE(c);
  ASSERT_TRUE(finalize_config(*c));
  EXPECT_EQ(c->kek.size(), 43U);
  EXPECT_EQ(std::filesystem::status(dir / "kek").permissions() & std::filesystem::perms::group_read,
            std::filesystem::perms::none);
  auto again = load_config("", {{"server.data_dir", dir.string()}}, nullptr);
  ASSERT_TRUE(finalize_config(*again));
  EXPECT_EQ(again->kek, c->kek);
  const std::string text = describe_config(*again);
  EXPECT_EQ(text.find(c->kek), std::string::npos);
  EXPECT_NE(text.find("secrets.kek = \"<redacted>\""), std::string::npos);
  EXPECT_EQ(again->store_url, "sqlite://" + dir.string() + "/gatehouse.db");
  std::filesystem::remove_all(dir);
}

// ---- [oauth.providers.<name>] (docs/oauth.md §1) ----

TEST(Config, OAuthProvidersFromTomlAndEnvironment) {
  const auto dir = std::filesystem::temp_directory_path() / ("ghcfg-oauth-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "c.toml";
  std::ofstream(file) << "[oauth]\nhttp_timeout_s = 3\n[oauth.providers.corp-sso]\nissuer = \"https://login.corp.example\"\n"
                         "client_id = \"gatehouse\"\ndisplay_name = \"Corp SSO\"\n";
  std::vector<std::string> env = {"GATEHOUSE_OAUTH_CORP_SSO_CLIENT_SECRET=corp-secret-value",
                                  "GATEHOUSE_OAUTH_GOOGLE_CLIENT_ID=g-id", "GATEHOUSE_OAUTH_GOOGLE_CLIENT_SECRET=g-secret"};
  auto e = env_of(env);
  auto c = load_config(file.string(), {}, e.data());
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE(finalize_config(*c)) << "finalize";
  EXPECT_EQ(c->oauth_http_timeout_s, 3);
  ASSERT_EQ(c->oauth_providers.size(), 2U);
  const auto& corp = c->oauth_providers.at("corp-sso");
  EXPECT_EQ(corp.client_secret, "corp-secret-value");  // env matched the existing section
  EXPECT_EQ(corp.scopes, "openid email profile");       // default
  const auto& google = c->oauth_providers.at("google");  // enabled by the environment alone
  EXPECT_EQ(google.issuer, "https://accounts.google.com");
  EXPECT_EQ(google.display_name, "Google");
  // Secrets never in describe_config.
  const std::string described = describe_config(*c);
  EXPECT_EQ(described.find("corp-secret-value"), std::string::npos);
  EXPECT_EQ(described.find("g-secret"), std::string::npos);
  EXPECT_NE(described.find("oauth.providers.corp-sso.client_secret = \"<redacted>\""), std::string::npos);
  std::filesystem::remove_all(dir);
}

// Production: the flags that make everything else acceptable, plus `extra`.
Status finalize_production(std::map<std::string, std::string> extra) {
  extra.emplace("server.mode", "production");
  extra.emplace("secrets.kek", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8");
  extra.emplace("server.public_url", "https://auth.example.com");
  auto c = load_config("", extra, nullptr);
  if (!c) return fail(c.error());
  return finalize_config(*c);
}

TEST(Config, ProductionNativeRedirectUrisFollowRfc8252) {
  const std::string key = "oauth.native_redirect_uris";
  for (const char* ok :
       {"https://app.example.com/cb", "http://127.0.0.1/cb", "http://127.0.0.1:8765/cb",
        "http://[::1]:8765/cb", "http://127.0.0.1", "com.example.app:/oauth",
        "com.example.app:/oauth2redirect?x=1", "org.example.my-app+x:cb"}) {
    auto st = finalize_production({{key, ok}});
    EXPECT_TRUE(st) << ok << ": " << (st ? "" : st.error().detail);
  }
  for (const char* bad :
       {"http://app.example.com/cb", "http://localhost:8765/cb", "http://127.0.0.1.evil.example/cb",
        "http://127.0.0.1@evil.example/cb", "http://127.0.0.1:1@evil.example/cb",
        "http://[::1]:80@evil.example/cb", "http://127.0.0.1:/cb", "http://[::1].evil/cb", "myapp:/oauth", "myapp://cb",
        "https:///cb", "HTTP://app.example.com/cb", "1com.example:/cb", "com_example.app:/cb"}) {
    auto st = finalize_production({{key, bad}});
    ASSERT_FALSE(st) << bad;
    EXPECT_EQ(st.error().code, make_error_code(ConfigError::Insecure)) << bad;
    EXPECT_NE(st.error().detail.find(std::string("oauth.native_redirect_uris: '") + bad + "'"),
              std::string::npos)
        << st.error().detail;
    EXPECT_NE(st.error().detail.find("RFC 8252"), std::string::npos);
  }
  // One bad entry among good ones is enough to refuse.
  EXPECT_FALSE(finalize_production({{key, "com.example.app:/oauth, myapp:/oauth"}}));
  // Dev mode keeps accepting them (tests, local apps).
  auto dev = load_config("", {{key, "myapp:/oauth, http://localhost:9/cb"}}, nullptr);
  ASSERT_TRUE(dev);
  dev->kek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
  EXPECT_TRUE(finalize_config(*dev));
}

TEST(Config, ProductionProviderIssuerMustBeHttps) {
  const std::string p = "oauth.providers.corp.";
  auto secure = finalize_production({{p + "issuer", "https://login.corp.example"},
                                     {p + "client_id", "a"},
                                     {p + "client_secret", "b"}});
  EXPECT_TRUE(secure) << (secure ? "" : secure.error().detail);
  auto loopback = finalize_production({{p + "issuer", "http://127.0.0.1:4000"},
                                       {p + "client_id", "a"},
                                       {p + "client_secret", "b"}});
  ASSERT_FALSE(loopback);
  EXPECT_EQ(loopback.error().code, make_error_code(ConfigError::Insecure));
  EXPECT_NE(loopback.error().detail.find(
                "oauth.providers.corp.issuer: 'http://127.0.0.1:4000' must be https"),
            std::string::npos)
      << loopback.error().detail;
  // Dev mode: loopback http stays allowed (the test peers).
  auto dev = load_config(
      "",
      {{p + "issuer", "http://127.0.0.1:4000"}, {p + "client_id", "a"}, {p + "client_secret", "b"}},
      nullptr);
  ASSERT_TRUE(dev);
  dev->kek = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
  EXPECT_TRUE(finalize_config(*dev));
}

TEST(Config, OAuthProviderMistakesAreRefusedAtStartup) {
  auto check = [](std::map<std::string, std::string> flags) {
    flags.emplace("server.data_dir", std::filesystem::temp_directory_path().string());
    auto c = load_config("", flags, nullptr);
    if (!c) return c.error().code;
    auto ok = finalize_config(*c);
    return ok ? std::error_code{} : ok.error().code;
  };
  const std::string p = "oauth.providers.";
  EXPECT_EQ(check({{p + "corp.nope", "x"}}), make_error_code(ConfigError::UnknownKey));
  EXPECT_EQ(check({{p + "corp.client_id", "a"}, {p + "corp.client_secret", "b"}}),
            make_error_code(ConfigError::BadValue));  // no issuer
  EXPECT_EQ(check({{p + "corp.issuer", "http://login.corp.example"}, {p + "corp.client_id", "a"},
                   {p + "corp.client_secret", "b"}}),
            make_error_code(ConfigError::BadValue));  // http off loopback
  EXPECT_EQ(check({{p + "corp.issuer", "https://login.corp.example"}, {p + "corp.client_id", "a"}}),
            make_error_code(ConfigError::BadValue));  // no secret
  EXPECT_EQ(check({{p + "corp.issuer", "https://login.corp.example"}, {p + "corp.client_id", "a"},
                   {p + "corp.client_secret", "b"}, {p + "corp.scopes", "email"}}),
            make_error_code(ConfigError::BadValue));  // no openid scope
  EXPECT_EQ(check({{p + "Corp.issuer", "https://login.corp.example"}, {p + "Corp.client_id", "a"},
                   {p + "Corp.client_secret", "b"}}),
            make_error_code(ConfigError::BadValue));  // name
  EXPECT_EQ(check({{p + "corp.issuer", "https://login.corp.example"}, {p + "corp.client_id", "a"},
                   {p + "corp.client_secret", "b"}}),
            std::error_code{});
  // Test-only overrides are refused in production.
  auto c = load_config("", {{"server.mode", "production"}, {"secrets.kek", "0123456789abcdef0123456789abcdef0123456789a"},
                            {"server.public_url", "https://id.example"}, {p + "google.issuer", "http://127.0.0.1:9"},
                            {p + "google.client_id", "a"}, {p + "google.client_secret", "b"}}, nullptr);
  ASSERT_TRUE(c);
  auto fin = finalize_config(*c);
  ASSERT_FALSE(fin);
  EXPECT_NE(fin.error().message().find("test-only"), std::string::npos) << fin.error().message();
}

}  // namespace
}  // namespace gh::service
