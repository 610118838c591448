// Config: every setting of a Gatehouse server, with its default and unit.
//
// Sources, later ones winning: built-in defaults < TOML file (--config) <
// environment (GATEHOUSE_<SECTION>_<KEY>, e.g. GATEHOUSE_SERVER_LISTEN, plus the
// short forms GATEHOUSE_LISTEN, GATEHOUSE_DATA_DIR, GATEHOUSE_STORE,
// GATEHOUSE_MODE, GATEHOUSE_KEK) < command-line flags. Loading is done once at
// startup; the struct is then read-only and shared.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/account/lockout.h"
#include "core/base/result.h"
#include "core/net/client_ip.h"
#include "core/web/web.h"
#include "core/password/hasher.h"
#include "core/password/policy.h"

namespace gh::service {

enum class ConfigError : std::uint8_t {
  FileUnreadable = 1,  // --config names a file that cannot be read or parsed as TOML
  UnknownKey,          // a key in the file or environment that Gatehouse does not know
  BadValue,            // a value of the wrong type or out of range
  Insecure,            // production mode with an unsafe setting (detail says what to fix)
};
GH_DECLARE_ERROR_CATEGORY(ConfigError)

// One [oauth.providers.<name>] section (docs/oauth.md §1). Built in: "google"
// (OIDC, issuer https://accounts.google.com) and "github" (OAuth 2.0 + REST
// API); any other name is an OpenID Connect provider found by `issuer`.
struct OAuthProviderSettings {
  std::string issuer;         // OIDC: exact issuer URL (https; http only on loopback)
  std::string client_id;      // required
  std::string client_secret;  // required (secret); prefer GATEHOUSE_OAUTH_<NAME>_CLIENT_SECRET
  std::string scopes;         // default "openid email profile" (OIDC), "read:user user:email" (GitHub)
  std::string display_name;   // on the login page; default Google / GitHub / the name
  // Test-only overrides for github (refused in production): the fake's endpoints.
  std::string authorize_url;  // default https://github.com/login/oauth/authorize
  std::string token_url;      // default https://github.com/login/oauth/access_token
  std::string api_base;       // default https://api.github.com
};

struct Config {
  // [server]
  std::string mode = "dev";                 // "dev" or "production"
  std::string listen = "127.0.0.1:8080";    // HOST:PORT; port 0 picks a free port
  std::string data_dir = "./data";          // dev keys, SQLite file, outbox
  std::string public_url;                   // external base URL; default http://<listen>
  int io_threads = 0;                       // 0 = number of cores
  std::size_t max_body_bytes = 64 * 1024;   // request body limit (413 above)
  std::size_t max_header_bytes = 16 * 1024;  // request header block limit (431 above)
  int read_timeout_s = 10;                  // whole request must arrive within this (slowloris)
  int idle_timeout_s = 60;                  // keep-alive connection idle limit
  int shutdown_grace_s = 15;                // how long SIGTERM waits for in-flight requests
  std::size_t max_connections = 10000;      // accepted connections beyond this are closed
  bool access_log = true;                   // one JSON line per request on stdout
  std::string log_level = "info";           // trace, debug, info, warn, error
  std::string trusted_proxies;              // comma-separated CIDRs whose forwarding header is believed; none by default
  std::string client_ip_header = "x-forwarded-for";  // the header trusted proxies set: "x-forwarded-for" or "forwarded"
  std::vector<net::Cidr> trusted_proxy_list;         // parsed by finalize_config

  // [store]
  std::string store_url;            // default sqlite://<data_dir>/gatehouse.db
  std::size_t store_pool_size = 4;  // connections / reader handles
  int store_busy_timeout_ms = 5000;

  // [password]
  std::string password_algorithm = "argon2id";  // "argon2id" or "bcrypt"
  std::uint64_t argon2_memory_kib = 19 * 1024;  // OWASP: 19 MiB
  std::uint32_t argon2_iterations = 2;          // OWASP: t=2
  int bcrypt_cost = 12;
  std::size_t password_min_length = 15;  // code points; >= 8
  std::size_t password_max_length = 128;
  bool password_cracklib = true;
  std::string password_common_list = "/usr/share/john/password.lst";
  std::string password_blocklist_file;  // optional breached-password corpus

  // [hash_pool]
  int hash_threads = 0;               // 0 = number of cores
  std::size_t hash_queue_limit = 64;  // waiting hash jobs beyond the running ones; then 503

  // [tokens]
  std::string token_issuer;                       // iss; default: public_url
  std::string token_audience = "gatehouse";       // aud of access tokens (RFC 9068)
  std::string token_signing_alg = "EdDSA";        // EdDSA, ES256, RS256 or HS256 for new keys
  int access_ttl_s = 900;                         // access-token lifetime (15 min)
  int refresh_ttl_s = 7 * 24 * 3600;              // refresh-token lifetime (7 days), renewed on rotation
  int refresh_absolute_ttl_s = 30 * 24 * 3600;  // a sign-in's refresh tokens never outlive this
  int refresh_grace_s = 10;                       // replay of the immediate parent within this returns the same child
  int token_leeway_s = 30;                        // accepted clock skew for exp/nbf/iat
  std::size_t token_cache_entries = 10000;        // verified access tokens kept in memory
  int revocation_poll_ms = 1000;                  // how often revocations are read from the store
  int key_reload_s = 5;                           // how often signing keys are re-read (rotation on another instance)
  bool refresh_cookie_secure = true;              // Secure attribute on the refresh cookie

  // [sessions]
  std::string session_store_url;          // redis://host:port/db for many instances; default: the main store
  int session_idle_timeout_s = 30 * 60;   // sliding inactivity limit (NIST AAL2: <= 1 h)
  int session_absolute_timeout_s = 12 * 3600;  // overall limit (NIST AAL2: <= 24 h)
  bool session_cookie_secure = true;      // __Host-gh_session (Secure); false only for plain-http dev hosts

  // [web]
  std::string return_to_origins;  // comma-separated scheme://host[:port][/path/] a return_to may point to (besides ours)
  std::string cors_origins;       // comma-separated origins allowed to call the API with credentials (CORS)
  std::vector<web::RedirectTarget> return_to_targets;  // parsed by finalize_config
  std::vector<std::string> cors_origin_list;           // canonical origins, parsed by finalize_config

  // [rate_limit] (see service/ratelimit/rate_limits.h; policies "LIMIT/PERIOD[,burst=B]" or "off")
  bool rate_limit_enabled = true;
  std::string rate_limit_store_url;               // "" = in-process; redis://host:port/db shared by many instances
  std::string rate_limit_redis_failure = "closed";  // Redis down: "closed" (503) or "local" (per-instance limits)
  std::size_t rate_limit_local_max_keys = 100000;   // in-process keys kept at most (memory bound)
  std::string rate_limit_login_per_ip = "10/15m";         // every login attempt, by client IP
  std::string rate_limit_login_per_account = "20/1h";     // failed logins, by account (email)
  std::string rate_limit_register_per_ip = "10/1h";
  std::string rate_limit_password_change_per_ip = "10/15m";
  std::string rate_limit_refresh_per_ip = "120/1m";

  // [lockout] (core/account/lockout.h)
  bool lockout_enabled = true;
  bool require_verified_email = false;  // [accounts] sign-in needs a confirmed email address
  std::int64_t lockout_per_source = 5;    // failed attempts per (account, client IP) within the window
  std::int64_t lockout_per_account = 20;  // from all sources together; a known device is not held by this one
  int lockout_window_s = 15 * 60;
  int lockout_duration_s = 15 * 60;

  // [audit]
  int audit_retention_days = 365;  // rows older than this are purged

  // [authz]
  std::string authz_policy_file;  // TOML roles × resources × actions (core/authz/policy.h); "" = the built-in default
  // forward-auth per route: "path-prefix=resource:action" entries; longest prefix wins (docs/authz.md).
  std::string authz_forward_auth_rules;
  int authz_cache_ttl_s = 1;        // memberships/admin grants/service clients reused this long (other instances' changes)
  int authz_reauth_window_s = 600;  // step-up: sensitive operations need auth_time within this

  // [mail] (service/mail/mailer.h)
  std::string mail_from = "Gatehouse <no-reply@localhost>";  // From of every mail: "Name <addr>" or "addr"
  std::string mail_smtp_url;       // "" = write .eml files to mail.outbox_dir; smtp://host:587 (STARTTLS) or smtps://host:465
  std::string mail_smtp_user;      // SMTP AUTH user; "" = no authentication
  std::string mail_smtp_password;  // SMTP AUTH password (secret)
  std::string mail_smtp_tls = "required";  // smtp://: "required" (STARTTLS or fail) or "none" (loopback servers only)
  std::string mail_outbox_dir;     // default <data_dir>/outbox
  std::string mail_spool_dir;      // default <data_dir>/mail-spool (queued SMTP mail; failed/ holds given-up mail)
  int mail_timeout_s = 30;         // one SMTP delivery attempt, connect included (connect alone: at most 10 s)

  // [mfa] (service/mfa/mfa_service.h)
  std::string mfa_issuer = "Gatehouse";     // the name authenticator apps show next to the account
  std::string mfa_required_roles = "admin";  // comma-separated "role" (in any tenant) or "tenant-id/role"; "" = none
  bool mfa_required_for_platform_admins = true;
  bool mfa_required_for_all = false;        // every account must enrol a second factor (ASVS L2)
  int mfa_challenge_ttl_s = 300;            // the sign-in step between password and code
  bool mfa_enrollment_requires_email_code = true;  // forced enrolment at sign-in needs a mailed code
  int mfa_enrollment_code_ttl_s = 900;      // that mailed code (and its enrolment challenge) lives this long
  std::string rate_limit_mfa_per_ip = "30/15m";  // [rate_limit] second-factor attempts, by client IP
  std::string rate_limit_oauth_per_ip = "60/15m";  // [rate_limit] federated sign-in steps (start, callback, token), by client IP

  // [oauth] (service/oauth/oauth_service.h, docs/oauth.md)
  bool oauth_auto_link_verified_email = false;  // link a new identity to the account with its (verified) email
  int oauth_flow_ttl_s = 600;                   // a started sign-in (cookie + stored state) lives this long
  int oauth_http_timeout_s = 10;                // each back-channel call (discovery, JWKS, token, user API)
  int oauth_leeway_s = 60;                      // clock skew accepted on ID-token exp/iat
  int oauth_code_ttl_s = 60;                    // the native flow's one-time code
  std::string oauth_native_redirect_uris;       // comma-separated exact URIs native/SPA apps may get a code at
  std::vector<std::string> oauth_native_redirect_list;          // parsed by finalize_config
  std::map<std::string, OAuthProviderSettings> oauth_providers;  // [oauth.providers.<name>] by name

  // [secrets]
  std::string kek;  // key-encryption key, base64url/hex of 32 bytes; dev mode generates one

  bool public_url_defaulted = false;  // set by finalize_config: public_url follows the bound address

  [[nodiscard]] bool production() const { return mode == "production"; }
  [[nodiscard]] password::HashParams hash_params() const;
  [[nodiscard]] password::PolicyConfig policy_config() const;
  [[nodiscard]] account::LockoutPolicy lockout_policy() const;
};

// Loads defaults, then `toml_path` (if not empty), then the environment, then
// `flags` (key -> value, keys as in the TOML file, e.g. "server.listen").
// Errors: FileUnreadable, UnknownKey, BadValue.
[[nodiscard]] Result<Config> load_config(const std::string& toml_path, const std::map<std::string, std::string>& flags,
                                         char** environ_ptr);

// Completes derived defaults (store URL, public URL) and checks safety.
// In production: refuses a missing/short KEK, a memory store, a non-https
// public URL, etc. (ConfigError::Insecure, detail says what to fix).
// In dev mode: fills `kek` from <data_dir>/kek (creating it, mode 0600).
[[nodiscard]] Status finalize_config(Config& c);

// Settings that are allowed in production but probably a mistake there (logged at startup).
[[nodiscard]] std::vector<std::string> production_warnings(const Config& c);

// "key = value" lines of the effective config, secrets shown as "<redacted>".
[[nodiscard]] std::string describe_config(const Config& c);

}  // namespace gh::service

template <>
struct std::is_error_code_enum<gh::service::ConfigError> : std::true_type {};
