#include "service/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/base/encoding.h"
#include "core/base/random.h"
#include "core/base/secret.h"
#include "core/oauth/url.h"
#include "core/ratelimit/gcra.h"

namespace gh::service {

const char* describe(ConfigError e) {
  switch (e) {
    case ConfigError::FileUnreadable: return "the config file cannot be read";
    case ConfigError::UnknownKey: return "unknown config key";
    case ConfigError::BadValue: return "bad config value";
    case ConfigError::Insecure: return "insecure configuration";
  }
  return "config error";
}
GH_DEFINE_ERROR_CATEGORY(ConfigError, "config")

namespace {

struct Entry {
  const char* key;  // "section.name"
  bool secret;
  std::function<Status(Config&, const std::string&)> set;
  std::function<std::string(const Config&)> get;
};

template <class T>
Status parse_number(const std::string& key, const std::string& v, T& out, T lo, T hi) {
  T x{};
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (ec != std::errc{} || p != v.data() + v.size() || x < lo || x > hi)
    return fail(ConfigError::BadValue, fmt::format("{} must be a number in {}..{}, got '{}'", key, lo, hi, v));
  out = x;
  return {};
}

#define GH_STR(K, F, SECRET)                                                             \
  Entry {                                                                                \
    K, SECRET, [](Config& c, const std::string& v) -> Status { c.F = v; return {}; }, \
        [](const Config& c) { return c.F; }                                              \
  }
#define GH_NUM(K, F, LO, HI)                                                                          \
  Entry {                                                                                             \
    K, false,                                                                                         \
        [](Config& c, const std::string& v) -> Status {                                              \
          return parse_number<decltype(c.F)>(K, v, c.F, static_cast<decltype(c.F)>(LO),               \
                                             static_cast<decltype(c.F)>(HI));                          \
        },                                                                                            \
        [](const Config& c) { return std::to_string(c.F); }                                          \
  }
#define GH_BOOL(K, F)                                                                          \
  Entry {                                                                                      \
    K, false,                                                                                  \
        [](Config& c, const std::string& v) -> Status {                                       \
          if (v == "true" || v == "1") c.F = true;                                             \
          else if (v == "false" || v == "0") c.F = false;                                      \
          else return fail(ConfigError::BadValue, fmt::format("{} must be true or false", K)); \
          return {};                                                                           \
        },                                                                                     \
        [](const Config& c) { return std::string(c.F ? "true" : "false"); }                   \
  }

const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = {
      GH_STR("server.mode", mode, false),
      GH_STR("server.listen", listen, false),
      GH_STR("server.data_dir", data_dir, false),
      GH_STR("server.public_url", public_url, false),
      GH_NUM("server.io_threads", io_threads, 0, 64),
      GH_NUM("server.max_body_bytes", max_body_bytes, 1024, 16 * 1024 * 1024),
      GH_NUM("server.max_header_bytes", max_header_bytes, 1024, 1024 * 1024),
      GH_NUM("server.read_timeout_s", read_timeout_s, 1, 3600),
      GH_NUM("server.idle_timeout_s", idle_timeout_s, 1, 3600),
      GH_NUM("server.shutdown_grace_s", shutdown_grace_s, 0, 3600),
      GH_NUM("server.max_connections", max_connections, 1, 1000000),
      GH_BOOL("server.access_log", access_log),
      GH_STR("server.log_level", log_level, false),
      GH_STR("server.trusted_proxies", trusted_proxies, false),
      GH_STR("server.client_ip_header", client_ip_header, false),
      GH_STR("store.url", store_url, true),  // may embed a database password
      GH_NUM("store.pool_size", store_pool_size, 1, 256),
      GH_NUM("store.busy_timeout_ms", store_busy_timeout_ms, 0, 600000),
      GH_STR("password.algorithm", password_algorithm, false),
      GH_NUM("password.argon2_memory_kib", argon2_memory_kib, 8 * 1024, 4 * 1024 * 1024),
      GH_NUM("password.argon2_iterations", argon2_iterations, 1, 100),
      GH_NUM("password.bcrypt_cost", bcrypt_cost, 10, 31),
      GH_NUM("password.min_length", password_min_length, 8, 1024),
      GH_NUM("password.max_length", password_max_length, 8, 4096),
      GH_BOOL("password.cracklib", password_cracklib),
      GH_STR("password.common_list", password_common_list, false),
      GH_STR("password.blocklist_file", password_blocklist_file, false),
      GH_NUM("hash_pool.threads", hash_threads, 0, 256),
      GH_NUM("hash_pool.queue_limit", hash_queue_limit, 0, 100000),
      GH_STR("tokens.issuer", token_issuer, false),
      GH_STR("tokens.audience", token_audience, false),
      GH_STR("tokens.signing_alg", token_signing_alg, false),
      GH_NUM("tokens.access_ttl_s", access_ttl_s, 60, 24 * 3600),
      GH_NUM("tokens.refresh_ttl_s", refresh_ttl_s, 300, 365 * 24 * 3600),
      GH_NUM("tokens.refresh_absolute_ttl_s", refresh_absolute_ttl_s, 300, 365 * 24 * 3600),
      GH_NUM("tokens.refresh_grace_s", refresh_grace_s, 0, 300),
      GH_NUM("tokens.leeway_s", token_leeway_s, 0, 300),
      GH_NUM("tokens.cache_entries", token_cache_entries, 0, 10000000),
      GH_NUM("tokens.revocation_poll_ms", revocation_poll_ms, 50, 60000),
      GH_NUM("tokens.key_reload_s", key_reload_s, 1, 3600),
      GH_BOOL("tokens.refresh_cookie_secure", refresh_cookie_secure),
      GH_STR("sessions.store_url", session_store_url, true),
      GH_NUM("sessions.idle_timeout_s", session_idle_timeout_s, 60, 7 * 24 * 3600),
      GH_NUM("sessions.absolute_timeout_s", session_absolute_timeout_s, 300, 30 * 24 * 3600),
      GH_BOOL("sessions.cookie_secure", session_cookie_secure),
      GH_STR("web.return_to_origins", return_to_origins, false),
      GH_STR("web.cors_origins", cors_origins, false),
      GH_BOOL("rate_limit.enabled", rate_limit_enabled),
      GH_STR("rate_limit.store_url", rate_limit_store_url, true),  // may embed a password
      GH_STR("rate_limit.redis_failure", rate_limit_redis_failure, false),
      GH_NUM("rate_limit.local_max_keys", rate_limit_local_max_keys, 1000, 100000000),
      GH_STR("rate_limit.login_per_ip", rate_limit_login_per_ip, false),
      GH_STR("rate_limit.login_per_account", rate_limit_login_per_account, false),
      GH_STR("rate_limit.register_per_ip", rate_limit_register_per_ip, false),
      GH_STR("rate_limit.password_change_per_ip", rate_limit_password_change_per_ip, false),
      GH_STR("rate_limit.refresh_per_ip", rate_limit_refresh_per_ip, false),
      GH_BOOL("lockout.enabled", lockout_enabled),
      GH_BOOL("accounts.require_verified_email", require_verified_email),
      GH_NUM("lockout.per_source", lockout_per_source, 1, 1000),
      GH_NUM("lockout.per_account", lockout_per_account, 1, 100000),
      GH_NUM("lockout.window_s", lockout_window_s, 60, 7 * 24 * 3600),
      GH_NUM("lockout.duration_s", lockout_duration_s, 1, 7 * 24 * 3600),
      GH_NUM("audit.retention_days", audit_retention_days, 1, 36500),
      GH_STR("authz.policy_file", authz_policy_file, false),
      GH_NUM("authz.cache_ttl_s", authz_cache_ttl_s, 0, 60),
      GH_NUM("authz.reauth_window_s", authz_reauth_window_s, 30, 7 * 24 * 3600),
      GH_STR("authz.forward_auth_rules", authz_forward_auth_rules, false),
      GH_STR("mail.from", mail_from, false),
      GH_STR("mail.smtp_url", mail_smtp_url, false),  // credentials are refused in it (mail.smtp_password)
      GH_STR("mail.smtp_user", mail_smtp_user, false),
      GH_STR("mail.smtp_password", mail_smtp_password, true),
      GH_STR("mail.smtp_tls", mail_smtp_tls, false),
      GH_STR("mail.outbox_dir", mail_outbox_dir, false),
      GH_STR("mail.spool_dir", mail_spool_dir, false),
      GH_NUM("mail.timeout_s", mail_timeout_s, 1, 600),
      GH_STR("mfa.issuer", mfa_issuer, false),
      GH_STR("mfa.required_roles", mfa_required_roles, false),
      GH_BOOL("mfa.required_for_platform_admins", mfa_required_for_platform_admins),
      GH_BOOL("mfa.required_for_all", mfa_required_for_all),
      GH_NUM("mfa.challenge_ttl_s", mfa_challenge_ttl_s, 60, 3600),
      GH_BOOL("mfa.enrollment_requires_email_code", mfa_enrollment_requires_email_code),
      GH_NUM("mfa.enrollment_code_ttl_s", mfa_enrollment_code_ttl_s, 60, 3600),
      GH_STR("rate_limit.mfa_per_ip", rate_limit_mfa_per_ip, false),
      GH_STR("rate_limit.oauth_per_ip", rate_limit_oauth_per_ip, false),
      GH_BOOL("oauth.auto_link_verified_email", oauth_auto_link_verified_email),
      GH_NUM("oauth.flow_ttl_s", oauth_flow_ttl_s, 60, 3600),
      GH_NUM("oauth.http_timeout_s", oauth_http_timeout_s, 1, 120),
      GH_NUM("oauth.leeway_s", oauth_leeway_s, 0, 600),
      GH_NUM("oauth.code_ttl_s", oauth_code_ttl_s, 10, 600),
      GH_STR("oauth.native_redirect_uris", oauth_native_redirect_uris, false),
      GH_STR("secrets.kek", kek, true),
  };
  return table;
}

const Entry* find_entry(std::string_view key) {
  for (const auto& e : entries())
    if (key == e.key) return &e;
  return nullptr;
}

// The fields of an [oauth.providers.<name>] section; `secret` ones are redacted.
struct ProviderField {
  const char* name;
  bool secret;
  std::string OAuthProviderSettings::*field;
};
constexpr ProviderField kProviderFields[] = {
    {"issuer", false, &OAuthProviderSettings::issuer},
    {"client_id", false, &OAuthProviderSettings::client_id},
    {"client_secret", true, &OAuthProviderSettings::client_secret},
    {"scopes", false, &OAuthProviderSettings::scopes},
    {"display_name", false, &OAuthProviderSettings::display_name},
    {"authorize_url", false, &OAuthProviderSettings::authorize_url},
    {"token_url", false, &OAuthProviderSettings::token_url},
    {"api_base", false, &OAuthProviderSettings::api_base},
};
constexpr std::string_view kProvidersPrefix = "oauth.providers.";

// "oauth.providers.<name>.<field>": the provider sections are not in the
// static table, since their names are the operator's.
Status set_provider_key(Config& c, std::string_view key, const std::string& value, std::string_view source) {
  const std::string_view rest = key.substr(kProvidersPrefix.size());
  const auto dot = rest.rfind('.');
  if (dot == std::string_view::npos || dot == 0)
    return fail(ConfigError::UnknownKey, fmt::format("unknown setting '{}' in {}", key, source));
  const std::string_view field = rest.substr(dot + 1);
  for (const auto& f : kProviderFields) {
    if (field == f.name) {
      c.oauth_providers[std::string(rest.substr(0, dot))].*f.field = value;
      return {};
    }
  }
  return fail(ConfigError::UnknownKey, fmt::format("unknown setting '{}' in {}", key, source));
}

// The provider part of an environment name: "corp-sso" -> "CORP_SSO".
std::string provider_env_name(std::string_view name) {
  std::string out;
  for (char ch : name)
    out.push_back(ch == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  return out;
}

Status set_key(Config& c, std::string_view key, const std::string& value, std::string_view source) {
  if (key.starts_with(kProvidersPrefix)) return set_provider_key(c, key, value, source);
  const Entry* e = find_entry(key);
  if (e == nullptr) return fail(ConfigError::UnknownKey, fmt::format("unknown setting '{}' in {}", key, source));
  return e->set(c, value);
}

std::string env_name(std::string_view key) {
  std::string n = "GATEHOUSE_";
  for (char ch : key) n.push_back(ch == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(ch))));
  return n;
}

std::optional<std::string> toml_scalar(const toml::node& n) {
  if (auto s = n.value<std::string>()) return *s;
  if (n.is_boolean()) return std::string(*n.value<bool>() ? "true" : "false");
  if (auto i = n.value<std::int64_t>()) return std::to_string(*i);
  if (const auto* arr = n.as_array()) {  // a list of strings, e.g. web.cors_origins = ["https://a", "https://b"]
    std::string joined;
    for (const auto& item : *arr) {
      auto s = item.value<std::string>();
      if (!s || s->find(',') != std::string::npos) return std::nullopt;
      joined += (joined.empty() ? "" : ",") + *s;
    }
    return joined;
  }
  return std::nullopt;
}

// "a, b,,c" -> {"a", "b", "c"}
std::vector<std::string> split_list(std::string_view s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto end = s.find(',', start);
    if (end == std::string_view::npos) end = s.size();
    auto item = s.substr(start, end - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    start = end + 1;
  }
  return out;
}

constexpr std::string_view kGoogleIssuer = "https://accounts.google.com";
constexpr std::string_view kGithubAuthorize = "https://github.com/login/oauth/authorize";
constexpr std::string_view kGithubToken = "https://github.com/login/oauth/access_token";
constexpr std::string_view kGithubApi = "https://api.github.com";

bool valid_provider_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  return std::all_of(name.begin(), name.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
  });
}

bool has_scope(std::string_view scopes, std::string_view wanted) {
  std::size_t start = 0;
  while (start < scopes.size()) {
    auto end = scopes.find(' ', start);
    if (end == std::string_view::npos) end = scopes.size();
    if (scopes.substr(start, end - start) == wanted) return true;
    start = end + 1;
  }
  return false;
}

// RFC 8252 (OAuth 2.0 for native apps): in production a native redirect URI is
// https (§7.2, claimed https URIs), http on a loopback IP literal (§7.3; not
// "localhost", §8.3), or a private-use scheme in reverse-domain form, which has
// a dot (§7.1), e.g. com.example.app:/oauth. Anything else (a bare "myapp:" any
// other app may register, http to a real host) could hand the code to someone else.
bool native_redirect_ok_in_production(std::string_view uri) {
  const auto colon = uri.find(':');
  const std::string_view scheme = uri.substr(0, colon);
  if (scheme == "https") return uri.starts_with("https://") && uri.size() > 8 && uri[8] != '/';
  if (scheme == "http") {
    for (const std::string_view host : {"http://127.0.0.1", "http://[::1]"}) {
      if (!uri.starts_with(host)) continue;
      auto rest = uri.substr(host.size());
      // An optional port of digits, then the path, query or the end: "http://127.0.0.1:1@evil/"
      // names the host evil, with 127.0.0.1:1 as userinfo.
      if (!rest.empty() && rest.front() == ':') {
        rest.remove_prefix(1);
        const auto digits = rest.find_first_not_of("0123456789");
        if (digits == 0) return false;
        rest.remove_prefix(digits == std::string_view::npos ? rest.size() : digits);
      }
      if (rest.empty() || rest.front() == '/' || rest.front() == '?') return true;
    }
    return false;
  }
  // RFC 3986 §3.1 scheme characters, first a letter; case-insensitive, so "HTTPS" is not private.
  if (scheme.empty() || !std::isalpha(static_cast<unsigned char>(scheme.front()))) return false;
  for (const char ch : scheme) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '+' && ch != '-' && ch != '.')
      return false;
  }
  std::string lower(scheme);
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (lower == "http" || lower == "https") return false;
  return scheme.find('.') != std::string_view::npos;
}

// Defaults and checks of [oauth] and every [oauth.providers.<name>] (docs/oauth.md §1).
Status finalize_oauth(Config& c) {
  c.oauth_native_redirect_list.clear();
  for (const auto& item : split_list(c.oauth_native_redirect_uris)) {
    // Exact URIs an app registered: absolute, no fragment, no whitespace (custom schemes allowed).
    const auto colon = item.find(':');
    if (colon == std::string::npos || colon == 0 || item.find('#') != std::string::npos ||
        item.find_first_of(" \t\r\n\"<>\\") != std::string::npos)
      return fail(ConfigError::BadValue, fmt::format("oauth.native_redirect_uris: '{}' is not an absolute URI", item));
    c.oauth_native_redirect_list.push_back(item);
  }
  for (auto& [name, p] : c.oauth_providers) {
    const std::string where = "oauth.providers." + name;
    if (!valid_provider_name(name))
      return fail(ConfigError::BadValue, fmt::format("{}: a provider name is 1-32 of a-z 0-9 _ -", where));
    if (p.client_id.empty() || p.client_secret.empty())
      return fail(ConfigError::BadValue,
                  fmt::format("{}: client_id and client_secret are required (or GATEHOUSE_OAUTH_{}_CLIENT_ID/_CLIENT_SECRET)",
                              where, provider_env_name(name)));
    if (name == "github") {
      if (!p.issuer.empty()) return fail(ConfigError::BadValue, where + ".issuer: GitHub is not an OpenID provider");
      if (p.authorize_url.empty()) p.authorize_url = kGithubAuthorize;
      if (p.token_url.empty()) p.token_url = kGithubToken;
      if (p.api_base.empty()) p.api_base = kGithubApi;
      while (p.api_base.size() > 1 && p.api_base.back() == '/') p.api_base.pop_back();
      for (const auto* url : {&p.authorize_url, &p.token_url, &p.api_base})
        if (auto ok = oauth::check_endpoint_url(*url); !ok)
          return fail(ConfigError::BadValue, fmt::format("{}: '{}': {}", where, *url, ok.error().message()));
      if (p.scopes.empty()) p.scopes = "read:user user:email";
      if (p.display_name.empty()) p.display_name = "GitHub";
      continue;
    }
    if (!p.authorize_url.empty() || !p.token_url.empty() || !p.api_base.empty())
      return fail(ConfigError::UnknownKey, where + ": authorize_url/token_url/api_base are for github only (OIDC uses discovery)");
    if (name == "google" && p.issuer.empty()) p.issuer = kGoogleIssuer;
    if (p.issuer.empty()) return fail(ConfigError::BadValue, where + ".issuer is required for an OpenID Connect provider");
    if (auto ok = oauth::check_issuer_url(p.issuer); !ok)
      return fail(ConfigError::BadValue, fmt::format("{}.issuer '{}': {}", where, p.issuer, ok.error().message()));
    if (p.scopes.empty()) p.scopes = "openid email profile";
    if (!has_scope(p.scopes, "openid")) return fail(ConfigError::BadValue, where + ".scopes must contain \"openid\"");
    if (p.display_name.empty()) p.display_name = name == "google" ? "Google" : name;
  }
  return {};
}

}  // namespace

password::HashParams Config::hash_params() const {
  password::HashParams p;
  p.algorithm = password_algorithm == "bcrypt" ? password::Algorithm::Bcrypt : password::Algorithm::Argon2id;
  p.argon2_memory_kib = argon2_memory_kib;
  p.argon2_iterations = argon2_iterations;
  p.bcrypt_cost = bcrypt_cost;
  return p;
}

account::LockoutPolicy Config::lockout_policy() const {
  account::LockoutPolicy p;
  p.per_source = lockout_per_source;
  p.per_account = std::max(lockout_per_account, lockout_per_source);
  p.window = std::chrono::seconds(lockout_window_s);
  p.lock = std::chrono::seconds(lockout_duration_s);
  return p;
}

password::PolicyConfig Config::policy_config() const {
  password::PolicyConfig p;
  p.min_length = password_min_length;
  p.max_length = password_max_length;
  p.use_cracklib = password_cracklib;
  p.common_list = password_common_list;
  p.blocklist_file = password_blocklist_file;
  return p;
}

Result<Config> load_config(const std::string& toml_path, const std::map<std::string, std::string>& flags,
                           char** environ_ptr) {
  Config c;
  if (!toml_path.empty()) {
    toml::table tbl;
    try {
      tbl = toml::parse_file(toml_path);
    } catch (const toml::parse_error& err) {
      return fail(ConfigError::FileUnreadable,
                  fmt::format("{}: line {}: {}", toml_path, err.source().begin.line, err.description()));
    }
    for (const auto& [section, node] : tbl) {
      const auto* sub = node.as_table();
      if (sub == nullptr) return fail(ConfigError::UnknownKey, fmt::format("'{}' must be a [section]", section.str()));
      for (const auto& [name, value] : *sub) {
        const std::string key = fmt::format("{}.{}", section.str(), name.str());
        if (key == "oauth.providers") {  // [oauth.providers.<name>] tables
          const auto* providers = value.as_table();
          if (providers == nullptr) return fail(ConfigError::BadValue, "oauth.providers must be tables [oauth.providers.<name>]");
          for (const auto& [pname, pnode] : *providers) {
            const auto* fields = pnode.as_table();
            if (fields == nullptr)
              return fail(ConfigError::BadValue, fmt::format("oauth.providers.{} must be a table", pname.str()));
            c.oauth_providers[std::string(pname.str())];  // a section without keys still names a provider
            for (const auto& [fname, fvalue] : *fields) {
              const std::string pkey = fmt::format("oauth.providers.{}.{}", pname.str(), fname.str());
              auto v = fvalue.value<std::string>();
              if (!v) return fail(ConfigError::BadValue, fmt::format("{} must be a string", pkey));
              if (auto ok = set_key(c, pkey, *v, toml_path); !ok) return fail(ok.error());
            }
          }
          continue;
        }
        auto scalar = toml_scalar(value);
        if (!scalar) return fail(ConfigError::BadValue, fmt::format("{} has an unsupported type", key));
        if (auto ok = set_key(c, key, *scalar, toml_path); !ok) return fail(ok.error());
      }
    }
  }
  // Environment: the long form for every key, and a few short aliases.
  std::map<std::string, std::string> env;
  for (char** e = environ_ptr; e != nullptr && *e != nullptr; ++e) {
    const std::string_view kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string_view::npos && kv.starts_with("GATEHOUSE_"))
      env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  const std::map<std::string, std::string> aliases = {{"GATEHOUSE_LISTEN", "server.listen"},
                                                      {"GATEHOUSE_DATA_DIR", "server.data_dir"},
                                                      {"GATEHOUSE_STORE", "store.url"},
                                                      {"GATEHOUSE_MODE", "server.mode"},
                                                      {"GATEHOUSE_KEK", "secrets.kek"},
                                                      {"GATEHOUSE_PUBLIC_URL", "server.public_url"}};
  for (const auto& [name, value] : env) {
    std::string key;
    if (auto a = aliases.find(name); a != aliases.end()) {
      key = a->second;
    } else {
      for (const auto& e : entries())
        if (env_name(e.key) == name) key = e.key;
    }
    if (key.empty() && name.starts_with("GATEHOUSE_OAUTH_")) {
      // GATEHOUSE_OAUTH_<PROVIDER>_CLIENT_ID / _CLIENT_SECRET: a configured
      // provider whose name maps to <PROVIDER>, else a new one (google, github).
      for (const std::string_view field : {"_CLIENT_ID", "_CLIENT_SECRET"}) {
        const std::string_view n(name);
        if (!n.ends_with(field) || n.size() <= field.size() + 16) continue;
        const std::string_view upper = n.substr(16, n.size() - 16 - field.size());
        std::string provider;
        for (const auto& [pname, settings] : c.oauth_providers)
          if (provider_env_name(pname) == upper) provider = pname;
        if (provider.empty())
          for (char ch : upper) provider.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
        key = fmt::format("oauth.providers.{}.{}", provider, field == "_CLIENT_ID" ? "client_id" : "client_secret");
      }
    }
    if (key.empty()) continue;  // other GATEHOUSE_* variables belong to tools and tests
    if (auto ok = set_key(c, key, value, name); !ok) return fail(ok.error());
  }
  for (const auto& [key, value] : flags)
    if (auto ok = set_key(c, key, value, "command line"); !ok) return fail(ok.error());
  return c;
}

Status finalize_config(Config& c) {
  if (c.mode != "dev" && c.mode != "production")
    return fail(ConfigError::BadValue, "server.mode must be \"dev\" or \"production\"");
  if (c.password_algorithm != "argon2id" && c.password_algorithm != "bcrypt")
    return fail(ConfigError::BadValue, "password.algorithm must be \"argon2id\" or \"bcrypt\"");
  if (c.password_max_length < c.password_min_length)
    return fail(ConfigError::BadValue, "password.max_length must be >= password.min_length");
  if (c.store_url.empty()) c.store_url = "sqlite://" + c.data_dir + "/gatehouse.db";
  if (c.public_url.empty()) {
    c.public_url = "http://" + c.listen;
    c.public_url_defaulted = true;
  }
  while (c.public_url.size() > 1 && c.public_url.back() == '/') c.public_url.pop_back();
  if (c.token_issuer.empty()) c.token_issuer = c.public_url;
  if (c.token_signing_alg != "EdDSA" && c.token_signing_alg != "ES256" && c.token_signing_alg != "RS256" &&
      c.token_signing_alg != "HS256")
    return fail(ConfigError::BadValue, "tokens.signing_alg must be EdDSA, ES256, RS256 or HS256");

  c.return_to_targets.clear();
  c.cors_origin_list.clear();
  for (const auto& item : split_list(c.return_to_origins)) {
    auto t = web::parse_redirect_target(item);
    if (!t) return fail(ConfigError::BadValue, fmt::format("web.return_to_origins: '{}' is not scheme://host[:port][/path/]", item));
    c.return_to_targets.push_back(std::move(*t));
  }
  for (const auto& item : split_list(c.cors_origins)) {
    auto o = web::origin_of(item);
    if (!o || *o != item) return fail(ConfigError::BadValue, fmt::format("web.cors_origins: '{}' is not an origin (scheme://host[:port], lower case, no path)", item));
    c.cors_origin_list.push_back(std::move(*o));
  }

  auto proxies = net::parse_cidr_list(c.trusted_proxies);
  if (!proxies) return fail(ConfigError::BadValue, "server.trusted_proxies: " + proxies.error().message());
  c.trusted_proxy_list = std::move(*proxies);
  if (c.client_ip_header != "x-forwarded-for" && c.client_ip_header != "forwarded")
    return fail(ConfigError::BadValue, "server.client_ip_header must be \"x-forwarded-for\" or \"forwarded\"");
  for (const auto& [key, text] : {std::pair{"login_per_ip", &c.rate_limit_login_per_ip},
                                  std::pair{"login_per_account", &c.rate_limit_login_per_account},
                                  std::pair{"register_per_ip", &c.rate_limit_register_per_ip},
                                  std::pair{"password_change_per_ip", &c.rate_limit_password_change_per_ip},
                                  std::pair{"refresh_per_ip", &c.rate_limit_refresh_per_ip},
                                  std::pair{"mfa_per_ip", &c.rate_limit_mfa_per_ip},
                                  std::pair{"oauth_per_ip", &c.rate_limit_oauth_per_ip}}) {
    if (auto p = ratelimit::parse_policy(*text); !p)
      return fail(ConfigError::BadValue, fmt::format("rate_limit.{}: '{}': {}", key, *text, p.error().message()));
  }
  if (c.rate_limit_redis_failure != "closed" && c.rate_limit_redis_failure != "local")
    return fail(ConfigError::BadValue, "rate_limit.redis_failure must be \"closed\" or \"local\"");
  if (!c.rate_limit_store_url.empty() && !c.rate_limit_store_url.starts_with("redis://"))
    return fail(ConfigError::BadValue, "rate_limit.store_url must be empty (in-process) or redis://host:port[/db]");

  if (auto ok = finalize_oauth(c); !ok) return ok;

  if (c.production()) {
    std::vector<std::string> problems;
    auto kek = base64url_decode(c.kek);
    if (c.kek.empty()) {
      problems.emplace_back("secrets.kek is missing: set GATEHOUSE_KEK to 32 random bytes, base64url "
                            "(e.g. `openssl rand 32 | basenc --base64url | tr -d =`)");
    } else if (!kek || kek->size() < 32) {
      problems.emplace_back("secrets.kek must be at least 32 bytes, base64url-encoded");
    }
    if (kek) wipe(*kek);
    if (c.store_url.starts_with("memory:")) problems.emplace_back("store.url must not be memory:// in production");
    if (!c.refresh_cookie_secure || !c.session_cookie_secure)
      problems.emplace_back("tokens.refresh_cookie_secure and sessions.cookie_secure must stay true in production");
    for (const auto& o : c.cors_origin_list)
      if (!o.starts_with("https://")) problems.emplace_back(fmt::format("web.cors_origins: '{}' must be https in production", o));
    for (const auto& t : c.return_to_targets)
      if (!t.origin.starts_with("https://"))
        problems.emplace_back(fmt::format("web.return_to_origins: '{}' must be https in production", t.origin));
    if (!c.public_url.starts_with("https://"))
      problems.emplace_back("server.public_url must be an https:// URL in production (cookies are Secure)");
    for (const auto& uri : c.oauth_native_redirect_list)
      if (!native_redirect_ok_in_production(uri))
        problems.emplace_back(fmt::format(
            "oauth.native_redirect_uris: '{}' must be https://, http:// on a loopback IP literal "
            "(127.0.0.1 or [::1], RFC 8252 §7.3) or a private-use scheme with a dot such as "
            "com.example.app:/oauth (RFC 8252 §7.1) in production",
            uri));
    for (const auto& [name, p] : c.oauth_providers) {
      if (name != "github" && !p.issuer.starts_with("https://"))
        problems.emplace_back(
            fmt::format("oauth.providers.{}.issuer: '{}' must be https in production "
                        "(its discovered endpoints must be too)",
                        name, p.issuer));
      if (name == "google" && p.issuer != kGoogleIssuer)
        problems.emplace_back("oauth.providers.google.issuer is a test-only override");
      if (name == "github" && (p.authorize_url != kGithubAuthorize || p.token_url != kGithubToken || p.api_base != kGithubApi))
        problems.emplace_back("oauth.providers.github.authorize_url/token_url/api_base are test-only overrides");
    }
    if (!problems.empty()) {
      std::string msg = "refusing to start in production mode:";
      for (const auto& p : problems) msg += "\n  - " + p;
      return fail(ConfigError::Insecure, msg);
    }
    return {};
  }

  // Dev mode: generate what is missing into the data dir, owner-only.
  if (c.kek.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(c.data_dir, ec);
    const std::string path = c.data_dir + "/kek";
    std::ifstream in(path);
    std::string existing;
    if (in && std::getline(in, existing) && !existing.empty()) {
      c.kek = existing;
    } else {
      SystemRandom rng;
      c.kek = random_token(rng, 32);
      const mode_t old = umask(077);
      std::ofstream out(path, std::ios::trunc);
      out << c.kek << "\n";
      umask(old);
      if (!out) return fail(ConfigError::FileUnreadable, fmt::format("cannot write {}", path));
    }
  }
  return {};
}

std::vector<std::string> production_warnings(const Config& c) {
  std::vector<std::string> w;
  if (!c.production()) return w;
  if (c.mail_smtp_url.empty())
    w.emplace_back("mail.smtp_url is empty: reset and verification mail is only written to " + c.mail_outbox_dir +
                   " and never leaves this machine");
  if (c.mail_from.find("@localhost") != std::string::npos)
    w.emplace_back("mail.from is '" + c.mail_from + "': receiving servers will reject or junk it; use your domain");
  if (!c.mfa_required_for_all)
    w.emplace_back("mfa.required_for_all is off: accounts without a role in mfa.required_roles may sign in with a "
                   "password alone (OWASP ASVS 5.0 L2 6.3.3 expects MFA for everyone)");
  if (!c.mfa_enrollment_requires_email_code)
    w.emplace_back("mfa.enrollment_requires_email_code is off: whoever holds only the password of an account that "
                   "must enrol (a new admin, or after an MFA reset) can register their own authenticator for it");
  return w;
}

std::string describe_config(const Config& c) {
  std::string out;
  for (const auto& e : entries()) {
    const std::string v = e.get(c);
    out += fmt::format("{} = {}\n", e.key, e.secret && !v.empty() ? "\"<redacted>\"" : "\"" + v + "\"");
  }
  for (const auto& [name, p] : c.oauth_providers) {
    for (const auto& f : kProviderFields) {
      const std::string& v = p.*f.field;
      if (v.empty()) continue;
      out += fmt::format("oauth.providers.{}.{} = {}\n", name, f.name, f.secret ? "\"<redacted>\"" : "\"" + v + "\"");
    }
  }
  return out;
}

}  // namespace gh::service
