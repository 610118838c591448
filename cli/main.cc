// gatehouse: the server and its admin commands. Thin: parse flags, load the
// config, call into the library.
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <cstdio>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "cli/logging.h"
#include "core/base/clock.h"
#include "core/base/random.h"
#include "http/app.h"
#include "http/server.h"
#include "service/accounts/accounts.h"
#include "core/authz/policy.h"
#include "service/authz/admin_service.h"
#include "service/authz/authz_service.h"
#include "service/common/audit.h"
#include "service/config.h"
#include "service/mail/mailer.h"
#include "service/mfa/mfa_service.h"
#include "service/oauth/http_client.h"
#include "service/oauth/oauth_service.h"
#include "service/recovery/recovery_service.h"
#include "service/ratelimit/rate_limits.h"
#include "service/common/background.h"
#include "service/sessions/form_guard.h"
#include "service/sessions/session_service.h"
#include "service/tokens/key_manager.h"
#include "service/tokens/token_service.h"
#include "core/crypto/seal.h"
#include "store/schema.h"
#include "store/store.h"

extern char** environ;

namespace {

using namespace gh;  // NOLINT(google-build-using-namespace): a main() file

struct Common {
  std::string config_path;
  std::map<std::string, std::string> flags;
};

// Everything a command needs: config, store, hasher, policy, accounts.
struct Runtime {
  service::Config config;
  std::unique_ptr<store::Store> store;
  std::optional<password::PasswordHasher> hasher;
  std::shared_ptr<const password::PasswordPolicy> policy;
  SystemClock clock;
  SystemRandom rng;
  service::AuditLog audit;  // after `store`: destroyed (flushed) before the store closes
  std::unique_ptr<service::AccountService> accounts;
  std::optional<crypto::Kek> kek;
  std::unique_ptr<service::KeyManager> keys;
  std::unique_ptr<service::TokenService> tokens;
  std::unique_ptr<store::SessionStore> session_store;  // Redis, when sessions.store_url is set
  std::unique_ptr<service::SessionService> sessions;
  std::unique_ptr<service::FormGuard> forms;
  std::unique_ptr<service::KnownDevices> devices;
  account::LockoutPolicy lockout;
};

// "2026-11-24T15:20:00Z" (UTC, seconds) -> time; nullopt for anything else.
std::optional<Seconds> parse_rfc3339(const std::string& text) {
  std::tm tm{};
  char z = 0;
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &z, &consumed) != 7 ||
      z != 'Z' || static_cast<std::size_t>(consumed) != text.size())
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  const std::time_t t = timegm(&tm);
  if (t == -1) return std::nullopt;
  return Seconds{std::chrono::seconds{t}};
}

// The account service with everything wired in (tokens, sessions, lockout).
std::unique_ptr<service::AccountService> make_accounts(Runtime& rt) {
  rt.lockout = rt.config.lockout_policy();
  return std::make_unique<service::AccountService>(service::AccountDeps{
      *rt.store, *rt.hasher, *rt.policy, rt.clock, rt.rng, rt.audit, rt.tokens.get(), rt.sessions.get(),
      rt.config.lockout_enabled ? &rt.lockout : nullptr, rt.devices.get(), rt.config.require_verified_email});
}

int die(const std::string& what, const Error& e) {
  spdlog::error("{}: {}", what, e.message());
  std::cerr << "gatehouse: " << what << ": " << e.message() << "\n";
  return 2;
}

service::TokenConfig token_config(const service::Config& c) {
  service::TokenConfig t;
  t.issuer = c.token_issuer;
  t.audience = c.token_audience;
  t.access_ttl = std::chrono::seconds(c.access_ttl_s);
  t.refresh_ttl = std::chrono::seconds(c.refresh_ttl_s);
  t.refresh_grace = std::chrono::seconds(c.refresh_grace_s);
  t.refresh_absolute_ttl = std::chrono::seconds(c.refresh_absolute_ttl_s);
  t.leeway = std::chrono::seconds(c.token_leeway_s);
  t.cache_entries = c.token_cache_entries;
  return t;
}

// Key material and token services; after the listen address is known (issuer).
std::optional<int> make_token_runtime(Runtime& rt) {
  auto kek = crypto::Kek::from_base64url(rt.config.kek);
  if (!kek) return die("secrets.kek", kek.error());
  rt.kek.emplace(std::move(*kek));
  // Old keys stay published for a token lifetime plus leeway after rotation.
  const auto overlap = std::chrono::seconds(rt.config.access_ttl_s + rt.config.token_leeway_s);
  rt.keys = std::make_unique<service::KeyManager>(rt.store->keys(), *rt.kek, rt.clock, rt.rng, overlap);
  rt.tokens = std::make_unique<service::TokenService>(*rt.store, *rt.keys, *rt.kek, rt.clock, rt.rng, rt.audit,
                                                      token_config(rt.config));
  // Sessions live in the main store, or in Redis when sessions.store_url is set (many instances).
  store::SessionStore* sessions = &rt.store->sessions();
  if (!rt.config.session_store_url.empty()) {
    auto redis = store::open_redis_session_store(rt.config.session_store_url, rt.config.store_pool_size);
    if (!redis) return die("sessions.store_url", redis.error());
    rt.session_store = std::move(*redis);
    sessions = rt.session_store.get();
  }
  service::SessionConfig sc;
  sc.idle_timeout = std::chrono::seconds(rt.config.session_idle_timeout_s);
  sc.absolute_timeout = std::chrono::seconds(rt.config.session_absolute_timeout_s);
  rt.sessions = std::make_unique<service::SessionService>(*sessions, *rt.kek, rt.clock, rt.rng, rt.audit, sc);
  rt.forms = std::make_unique<service::FormGuard>(*rt.kek, rt.rng);
  rt.devices = std::make_unique<service::KnownDevices>(*rt.kek, rt.rng, rt.clock);
  return std::nullopt;
}


enum class Migrate : std::uint8_t { Always, DevOnly };

// Loads config, opens the store, applies migrations (always for `migrate`, in dev
// mode otherwise; production requires an explicit `gatehouse migrate`).
std::optional<int> make_runtime(const Common& c, Runtime& rt, Migrate when, bool need_accounts) {
  auto cfg = service::load_config(c.config_path, c.flags, environ);
  if (!cfg) return die("config", cfg.error());
  rt.config = std::move(*cfg);
  if (auto ok = service::finalize_config(rt.config); !ok) return die("config", ok.error());
  cli::set_log_level(rt.config.log_level);

  store::StoreOptions so;
  so.pool_size = rt.config.store_pool_size;
  so.busy_timeout_ms = rt.config.store_busy_timeout_ms;
  auto st = store::open_store(rt.config.store_url, so);
  if (!st) return die("store", st.error());
  rt.store = std::move(*st);
  if (when == Migrate::Always || !rt.config.production()) {
    auto v = rt.store->migrate();
    if (!v) return die("migrate", v.error());
    spdlog::info("schema at version {}", *v);
  } else {
    auto v = rt.store->schema_version();
    if (!v) return die("store", v.error());
    if (*v != store::kSchemaVersion) {
      std::cerr << "gatehouse: the database schema is at version " << *v << ", this build needs "
                << store::kSchemaVersion << ": run `gatehouse migrate` first\n";
      return 2;
    }
  }
  rt.audit.attach(rt.store->audit());  // every command's audit events land in the store's log
  if (need_accounts) {
    auto h = password::PasswordHasher::create(rt.config.hash_params());
    if (!h) return die("password hashing", h.error());
    rt.hasher.emplace(std::move(*h));
    auto p = password::PasswordPolicy::load(rt.config.policy_config());
    if (!p) return die("password policy", p.error());
    rt.policy = std::move(*p);
    rt.accounts = std::make_unique<service::AccountService>(
        service::AccountDeps{*rt.store, *rt.hasher, *rt.policy, rt.clock, rt.rng, rt.audit});
  }
  return std::nullopt;
}

int serve(const Common& c, bool print_config) {
  Runtime rt;
  {
    auto cfg = service::load_config(c.config_path, c.flags, environ);
    if (!cfg) return die("config", cfg.error());
    if (print_config) {
      auto copy = *cfg;
      if (auto ok = service::finalize_config(copy); !ok) return die("config", ok.error());
      std::cout << service::describe_config(copy);
      return 0;
    }
  }
  if (auto rc = make_runtime(c, rt, Migrate::DevOnly, true); rc) return *rc;
  auto& cfg = rt.config;
  const unsigned cores = std::max(1U, std::thread::hardware_concurrency());
  service::WorkerPool hash_pool("gh-hash", cfg.hash_threads > 0 ? static_cast<std::size_t>(cfg.hash_threads) : cores,
                                cfg.hash_queue_limit);
  service::WorkerPool db_pool("gh-db", std::max<std::size_t>(2, cfg.store_pool_size), 1024);
  http::Metrics metrics;

  boost::asio::io_context ioc;
  // Installed before the address is announced: a SIGTERM right after start is a graceful stop.
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  http::ServerOptions so;
  so.max_body_bytes = cfg.max_body_bytes;
  so.max_header_bytes = cfg.max_header_bytes;
  so.read_timeout = std::chrono::seconds(cfg.read_timeout_s);
  so.idle_timeout = std::chrono::seconds(cfg.idle_timeout_s);
  so.max_connections = cfg.max_connections;
  so.access_log = cfg.access_log;
  std::unique_ptr<http::App> app;
  http::Server server(ioc, so, [&app](http::Request& r, http::RequestContext& x) { return app->dispatch(r, x); },
                      metrics);
  auto ep = server.listen(cfg.listen);
  if (!ep) return die("listen " + cfg.listen, ep.error());
  const std::string addr = (ep->address().is_v6() ? "[" + ep->address().to_string() + "]" : ep->address().to_string()) +
                           ":" + std::to_string(ep->port());
  if (cfg.public_url_defaulted) {
    // Port 0 picked a port: the issuer and discovery URLs follow the real address.
    const bool issuer_followed = cfg.token_issuer == cfg.public_url;
    cfg.public_url = "http://" + addr;
    if (issuer_followed) cfg.token_issuer = cfg.public_url;
  }
  if (auto rc = make_token_runtime(rt); rc) return *rc;
  if (cfg.production()) {
    if (auto ok = rt.keys->reload(); !ok) return die("signing keys", ok.error());
    if (!rt.keys->snapshot()->active) return die("signing keys", Error{make_error_code(service::KeyError::NoActiveKey), ""});
  } else if (auto ok = rt.keys->ensure_active(*jwt::parse_alg(cfg.token_signing_alg)); !ok) {
    return die("signing keys", ok.error());
  }
  if (auto ok = rt.tokens->sync_revocations(); !ok) return die("revocations", ok.error());
  // The authorization policy: a server refuses to start on an invalid one (the error names the line).
  authz::Policy policy = authz::default_policy();
  if (!cfg.authz_policy_file.empty()) {
    std::ifstream in(cfg.authz_policy_file, std::ios::binary);
    if (!in) return die("authz.policy_file", Error{make_error_code(authz::AuthzError::BadPolicy), "cannot read " + cfg.authz_policy_file});
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto parsed = authz::parse_policy(text, cfg.authz_policy_file);
    if (!parsed) return die("authz.policy_file", parsed.error());
    policy = std::move(*parsed);
  }
  spdlog::info("authorization policy: {} roles, {} resources, {} actions", policy.roles.size(), policy.resources.size(),
               policy.actions.size());
  rt.accounts = make_accounts(rt);
  service::AuthzConfig ac;
  ac.cache_ttl = std::chrono::seconds(cfg.authz_cache_ttl_s);
  ac.cache_entries = cfg.authz_cache_ttl_s > 0 ? ac.cache_entries : 0;
  ac.reauth_window = std::chrono::seconds(cfg.authz_reauth_window_s);
  auto route_rules = authz::parse_route_rules(cfg.authz_forward_auth_rules, policy);
  if (!route_rules) return die("authz.forward_auth_rules", route_rules.error());
  ac.forward_auth_rules = std::move(*route_rules);
  service::AuthzService authz(*rt.store, *rt.accounts, *rt.tokens, std::move(policy), rt.clock, rt.audit, ac);
  // Mail (outbox directory, or SMTP through a durable spool) and the links it carries.
  auto mailer = service::make_mailer(cfg);
  if (!mailer) return die("mail", mailer.error());
  service::MfaService mfa(*rt.store, *rt.kek, rt.clock, rt.rng, rt.audit, service::mfa_config(cfg), mailer->get());
  service::AdminService admin(*rt.store, *rt.accounts, authz, rt.clock, rt.rng, rt.audit, &mfa);
  service::RecoveryConfig recovery_cfg;
  recovery_cfg.public_url = cfg.public_url;
  service::RecoveryService recovery(*rt.store, *rt.accounts, **mailer, rt.clock, rt.rng, rt.audit, recovery_cfg);
  service::WorkerPool mail_pool("gh-mail", 2, 1024);
  // Rate limits: in-process, or in Redis (rate_limit.store_url) shared by every instance.
  std::unique_ptr<service::RateLimits> limits;
  if (cfg.rate_limit_enabled) {
    auto l = service::RateLimits::create(cfg, rt.audit);
    if (!l) return die("rate_limit.store_url", l.error());
    limits = std::move(*l);
  }
  service::WorkerPool limit_pool("gh-ratelimit", std::max<std::size_t>(2, cfg.store_pool_size), 1024);
  // Federated sign-in: back-channel calls (up to oauth.http_timeout_s each) run
  // on their own pool, so a slow provider cannot starve the store pool.
  auto oauth_http = service::make_curl_http_client(std::chrono::seconds(cfg.oauth_http_timeout_s));
  service::OAuthService oauth(cfg, *rt.store, *oauth_http, rt.clock, rt.rng, rt.audit);
  service::WorkerPool oauth_pool("gh-oauth", 4, 256);
  for (const auto& p : oauth.providers())
    spdlog::info("sign-in provider {}: redirect URI {}", p.name, oauth.redirect_uri(p.name));
  app = std::make_unique<http::App>(http::AppDeps{cfg, *rt.store, *rt.accounts, *rt.tokens, *rt.keys, *rt.sessions, *rt.forms,
                                                  hash_pool, db_pool, metrics, limits.get(), &limit_pool,
                                                  rt.devices.get(), &authz, &admin, &recovery, &mail_pool, &mfa,
                                                  oauth.providers().empty() ? nullptr : &oauth, &oauth_pool});

  service::Background background;
  background.every("revocation-sync", std::chrono::milliseconds(cfg.revocation_poll_ms), [&] {
    if (auto ok = rt.tokens->sync_revocations(); !ok) spdlog::warn("revocation sync failed: {}", ok.error().message());
  });
  background.every("key-reload", std::chrono::seconds(cfg.key_reload_s), [&] {
    if (auto ok = rt.keys->reload(); !ok) spdlog::warn("key reload failed: {}", ok.error().message());
  });
  background.every("purge", std::chrono::minutes(10), [&] {
    if (auto n = rt.tokens->purge(); n && *n > 0) spdlog::info("purged {} expired token rows", *n);
    store::SessionStore& st = rt.session_store ? *rt.session_store : rt.store->sessions();
    if (auto n = st.purge_sessions(rt.clock.now()); n && *n > 0)
      spdlog::info("purged {} expired sessions", *n);
    const Seconds now = rt.clock.now();
    if (auto n = rt.store->lockout().purge_login_attempts(now - rt.lockout.window, now); n && *n > 0)
      spdlog::info("purged {} stale lockout counters", *n);
    if (auto n = rt.store->audit().purge_audit(now - std::chrono::days(cfg.audit_retention_days)); n && *n > 0)
      spdlog::info("purged {} audit events past retention", *n);
    if (auto n = rt.store->one_time_tokens().purge_tokens(now); n && *n > 0)
      spdlog::info("purged {} expired one-time tokens", *n);
    if (auto n = oauth.purge(now); n && *n > 0) spdlog::info("purged {} expired sign-in flows", *n);
  });
  if (limits) background.every("rate-limit-prune", std::chrono::minutes(1), [&] { limits->prune(); });
  background.start();

  for (const auto& w : service::production_warnings(cfg)) spdlog::warn("production: {}", w);
  spdlog::info("listening on {} (mode {}, store {}, rate limits {})", addr, cfg.mode, rt.store->backend(),
               limits ? limits->backend_name() : "off");
  std::cout << nlohmann::json{{"msg", "listening"}, {"address", addr}}.dump() << std::endl;
  server.start();

  // SIGTERM/SIGINT: stop accepting, drain in-flight requests (bounded by the
  // grace period), then stop the loop; pools and store close on the way out.
  boost::asio::steady_timer drain(ioc);
  const auto deadline = std::chrono::steady_clock::now();
  std::function<void()> poll;
  std::chrono::steady_clock::time_point give_up;
  poll = [&] {
    if ((server.in_flight() == 0 && server.connections() == 0) || std::chrono::steady_clock::now() >= give_up) {
      ioc.stop();
      return;
    }
    drain.expires_after(std::chrono::milliseconds(10));
    drain.async_wait([&](boost::system::error_code) { poll(); });
  };
  signals.async_wait([&](boost::system::error_code ec, int sig) {
    if (ec) return;
    spdlog::info("signal {}: draining ({} in flight)", sig, server.in_flight());
    give_up = std::chrono::steady_clock::now() + std::chrono::seconds(cfg.shutdown_grace_s);
    server.shutdown();
    poll();
  });
  (void)deadline;

  const std::size_t n = cfg.io_threads > 0 ? static_cast<std::size_t>(cfg.io_threads) : cores;
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < n; ++i) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& t : threads) t.join();
  if (server.connections() > 0) {
    // The grace period ran out with requests in flight: close their sockets and
    // let their coroutines unwind now, while the Server and App still exist.
    spdlog::warn("shutdown grace period over: closing {} connections", server.connections());
    server.close_all();
    ioc.restart();
    ioc.run_for(std::chrono::seconds(2));
  }
  background.stop();
  hash_pool.stop();
  db_pool.stop();
  mail_pool.stop();  // queued reset/verification jobs finish first: their mail is spooled before the mailer stops
  (*mailer)->stop(std::chrono::seconds(5));
  limit_pool.stop();
  spdlog::info("stopped");
  return 0;
}

std::string read_password_stdin() {
  std::string pw;
  std::getline(std::cin, pw);
  return pw;
}

// `gatehouse mail test --to ADDR`: one message through the configured mailer,
// then wait (at most `wait_s`) until it and the rest of the spool are handed
// over. Prints one JSON line; exit 0 only if the test message was delivered.
int mail_test(const Common& c, const std::string& to, int wait_s) {
  auto cfg = service::load_config(c.config_path, c.flags, environ);
  if (!cfg) return die("config", cfg.error());
  if (auto ok = service::finalize_config(*cfg); !ok) return die("config", ok.error());
  cli::set_log_level(cfg->log_level);
  auto mailer = service::make_mailer(*cfg);
  if (!mailer) return die("mail", mailer.error());
  service::MailMessage m;
  m.to = to;
  m.subject = "Gatehouse test message \xE2\x9C\x93";  // U+2713: exercises the UTF-8 path end to end
  m.text = "This is a test message from Gatehouse at " + cfg->public_url +
           ".\nMail delivery works (\xC3\xA0 bient\xC3\xB4t).\n";
  m.html = "<p>This is a test message from Gatehouse.</p>"
           "<p>Mail delivery works (\xC3\xA0 bient\xC3\xB4t).</p>";
  auto id = (*mailer)->send_tracked(m);
  if (!id) return die("mail test", id.error());
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(std::max(wait_s, 0));
  service::DeliveryStatus st = (*mailer)->status(*id);
  while (std::chrono::steady_clock::now() < deadline &&
         !(st.state == service::DeliveryState::Failed ||
           (st.state == service::DeliveryState::Delivered && (*mailer)->pending() == 0))) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    st = (*mailer)->status(*id);
  }
  (*mailer)->stop(std::chrono::seconds(2));
  st = (*mailer)->status(*id);
  static constexpr const char* kStates[] = {"unknown", "queued", "delivered", "failed"};
  nlohmann::json j = {{"id", *id},
                      {"backend", cfg->mail_smtp_url.empty() ? "outbox" : "smtp"},
                      {"state", kStates[static_cast<int>(st.state)]},
                      {"pending", (*mailer)->pending()}};
  if (st.attempts > 0) j["attempts"] = st.attempts;  // known while the spool holds the message
  if (!st.last_error.empty()) j["last_error"] = st.last_error;
  if (!st.file.empty()) j["file"] = st.file;
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  if (st.state == service::DeliveryState::Queued)
    std::cerr << "gatehouse: mail test: not delivered yet; it stays in the spool, and the next\n"
                 "sender (the server, or another `gatehouse mail test`) retries it\n";
  return st.state == service::DeliveryState::Delivered ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Gatehouse: authentication server"};
  app.require_subcommand(1);
  Common common;
  std::string listen, data_dir, store_url, mode;
  app.add_option("--config", common.config_path, "TOML config file")->envname("GATEHOUSE_CONFIG");
  auto add_overrides = [&](CLI::App* cmd) {
    cmd->add_option("--store", store_url, "store URL (sqlite://..., postgres://...)");
    cmd->add_option("--data-dir", data_dir, "data directory");
    cmd->add_option("--mode", mode, "dev or production");
  };

  auto* serve_cmd = app.add_subcommand("serve", "run the HTTP server");
  bool print_config = false;
  bool dev = false;
  serve_cmd->add_option("--listen", listen, "HOST:PORT (port 0 picks a free port)");
  serve_cmd->add_flag("--print-config", print_config, "print the effective config (secrets redacted) and exit");
  serve_cmd->add_flag("--dev", dev, "dev mode (same as --mode dev)");
  add_overrides(serve_cmd);

  auto* migrate_cmd = app.add_subcommand("migrate", "apply database migrations");
  add_overrides(migrate_cmd);

  auto* user_cmd = app.add_subcommand("user", "manage users");
  user_cmd->require_subcommand(1);
  add_overrides(user_cmd);
  auto* user_create = user_cmd->add_subcommand("create", "create a user (password read from stdin)");
  std::string u_email, u_name;
  user_create->add_option("--email", u_email, "email")->required();
  user_create->add_option("--name", u_name, "display name");
  auto* user_list = user_cmd->add_subcommand("list", "list users as JSON lines");
  std::string u_filter;
  std::size_t u_limit = 100;
  user_list->add_option("--email-contains", u_filter, "filter by email substring");
  user_list->add_option("--limit", u_limit, "page size");
  std::string u_id;
  auto* user_disable = user_cmd->add_subcommand("disable", "disable a user");
  user_disable->add_option("user", u_id, "user id or email")->required();
  auto* user_enable = user_cmd->add_subcommand("enable", "enable a user");
  user_enable->add_option("user", u_id, "user id or email")->required();
  auto* user_delete = user_cmd->add_subcommand("delete", "delete a user and everything they own");
  user_delete->add_option("user", u_id, "user id or email")->required();
  auto* user_unlock = user_cmd->add_subcommand("unlock", "clear the lockout counters of an account");
  user_unlock->add_option("user", u_id, "user id or email")->required();
  auto* user_grant_admin = user_cmd->add_subcommand("grant-admin", "make a user a platform (global) admin");
  user_grant_admin->add_option("user", u_id, "user id or email")->required();
  auto* user_revoke_admin = user_cmd->add_subcommand("revoke-admin", "withdraw a user's platform admin grant");
  user_revoke_admin->add_option("user", u_id, "user id or email")->required();

  auto* audit_cmd = app.add_subcommand("audit", "list audit events as JSON lines (oldest first)");
  add_overrides(audit_cmd);
  store::AuditQuery aq;
  std::string a_since;
  std::string a_until;
  std::size_t a_limit = 1000;
  audit_cmd->add_option("--user", aq.user, "events by or about this user id");
  audit_cmd->add_option("--action", aq.action, "e.g. user.login");
  audit_cmd->add_option("--result", aq.result, "e.g. success, wrong_password");
  audit_cmd->add_option("--tenant", aq.tenant, "tenant id");
  audit_cmd->add_option("--since", a_since, "RFC 3339 time, e.g. 2026-11-24T00:00:00Z (inclusive)");
  audit_cmd->add_option("--until", a_until, "RFC 3339 time (exclusive)");
  audit_cmd->add_option("--limit", a_limit, "at most this many events (default 1000; 0 = all)");

  auto* keys_cmd = app.add_subcommand("keys", "manage token signing keys");
  keys_cmd->require_subcommand(1);
  add_overrides(keys_cmd);
  auto* keys_list = keys_cmd->add_subcommand("list", "list keys as JSON lines");
  auto* keys_rotate = keys_cmd->add_subcommand("rotate", "make a new key active (the old one stays published)");
  std::string k_alg;
  keys_rotate->add_option("--alg", k_alg, "EdDSA, ES256, RS256 or HS256 (default: tokens.signing_alg)");
  auto* keys_import = keys_cmd->add_subcommand("import", "activate an existing private key (PKCS#8 PEM file)");
  std::string k_pem_file;
  keys_import->add_option("--alg", k_alg, "EdDSA, ES256, RS256 or HS256")->required();
  keys_import->add_option("--pem-file", k_pem_file, "the private key (HS256: a file holding the secret)")->required();
  auto* keys_retire = keys_cmd->add_subcommand("retire", "stop publishing a key now");
  std::string k_kid;
  keys_retire->add_option("kid", k_kid, "key id")->required();
  for (auto* sub : keys_cmd->get_subcommands({})) sub->fallthrough();

  // `gatehouse user create --data-dir D ...`: let leaf commands pass the user-level flags up.
  for (auto* sub : user_cmd->get_subcommands({})) sub->fallthrough();

  auto* mail_cmd = app.add_subcommand("mail", "email delivery");
  mail_cmd->require_subcommand(1);
  add_overrides(mail_cmd);
  auto* mail_test_cmd =
      mail_cmd->add_subcommand("test", "send a test message through the configured mailer");
  std::string m_to;
  int m_wait_s = 30;
  mail_test_cmd->add_option("--to", m_to, "recipient address")->required();
  mail_test_cmd->add_option("--wait", m_wait_s, "seconds to wait for delivery (default 30)");
  mail_test_cmd->fallthrough();

  auto* hash_cmd = app.add_subcommand("hash-password", "hash a password read from stdin with the configured algorithm");
  auto* version_cmd = app.add_subcommand("version", "print the version");

  CLI11_PARSE(app, argc, argv);
  // The server writes access/audit lines to stdout; admin commands keep stdout for their output.
  cli::init_logging(/*event_streams_on_stdout=*/serve_cmd->parsed());

  if (!listen.empty()) common.flags["server.listen"] = listen;
  if (!data_dir.empty()) common.flags["server.data_dir"] = data_dir;
  if (!store_url.empty()) common.flags["store.url"] = store_url;
  if (!mode.empty()) common.flags["server.mode"] = mode;
  if (dev) common.flags["server.mode"] = "dev";

  if (version_cmd->parsed()) {
    std::cout << "gatehouse " << GATEHOUSE_VERSION << "\n";
    return 0;
  }
  if (serve_cmd->parsed()) return serve(common, print_config);
  if (mail_test_cmd->parsed()) return mail_test(common, m_to, m_wait_s);
  if (hash_cmd->parsed()) {
    auto cfg = service::load_config(common.config_path, common.flags, environ);
    if (!cfg) return die("config", cfg.error());
    auto h = password::PasswordHasher::create(cfg->hash_params());
    if (!h) return die("password hashing", h.error());
    auto pw = password::normalize_password(read_password_stdin());
    if (!pw) return die("password", pw.error());
    auto hash = h->hash(*pw);
    if (!hash) return die("hash", hash.error());
    std::cout << *hash << "\n";
    return 0;
  }
  Runtime rt;
  const bool is_migrate = migrate_cmd->parsed();
  if (auto rc = make_runtime(common, rt, is_migrate ? Migrate::Always : Migrate::DevOnly, !is_migrate); rc) return *rc;
  if (is_migrate) {
    std::cout << "schema version " << *rt.store->schema_version() << "\n";
    return 0;
  }
  if (keys_cmd->parsed()) {
    if (auto rc = make_token_runtime(rt); rc) return *rc;
    if (keys_rotate->parsed()) {
      const auto alg = jwt::parse_alg(k_alg.empty() ? rt.config.token_signing_alg : k_alg);
      if (!alg) {
        std::cerr << "gatehouse: --alg must be EdDSA, ES256, RS256 or HS256\n";
        return 2;
      }
      auto kid = rt.keys->rotate(*alg);
      if (!kid) return die("keys rotate", kid.error());
      rt.audit.record({"key.rotate", "success", "admin", *kid, rt.clock.now(), {"cli", "local", "gatehouse-cli"}, ""});
      std::cout << nlohmann::json{{"kid", *kid}, {"alg", jwt::alg_name(*alg)}, {"status", "active"}}.dump() << "\n";
      return 0;
    }
    if (keys_import->parsed()) {
      const auto alg = jwt::parse_alg(k_alg);
      std::ifstream in(k_pem_file, std::ios::binary);
      std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!alg || !in) {
        std::cerr << "gatehouse: keys import needs --alg EdDSA|ES256|RS256|HS256 and a readable --pem-file\n";
        return 2;
      }
      auto kid = rt.keys->import(*alg, SecretString(std::move(pem)));
      if (!kid) return die("keys import", kid.error());
      rt.audit.record({"key.import", "success", "admin", *kid, rt.clock.now(), {"cli", "local", "gatehouse-cli"}, ""});
      std::cout << nlohmann::json{{"kid", *kid}, {"alg", jwt::alg_name(*alg)}, {"status", "active"}}.dump() << "\n";
      return 0;
    }
    if (keys_retire->parsed()) {
      if (auto ok = rt.keys->retire(k_kid); !ok) return die("keys retire", ok.error());
      rt.audit.record({"key.retire", "success", "admin", k_kid, rt.clock.now(), {"cli", "local", "gatehouse-cli"}, ""});
      std::cout << "ok\n";
      return 0;
    }
    auto list = rt.keys->list();
    if (!list) return die("keys list", list.error());
    for (const auto& k : *list) {
      nlohmann::json j = {{"kid", k.kid}, {"alg", k.alg}, {"status", k.status}, {"created_at", to_rfc3339(k.created_at)}};
      if (k.not_after) j["not_after"] = to_rfc3339(*k.not_after);
      std::cout << j.dump() << "\n";
    }
    (void)keys_list;
    return 0;
  }
  const service::RequestMeta meta{"cli", "local", "gatehouse-cli"};
  if (audit_cmd->parsed()) {
    for (const auto& [text, field] : {std::pair{&a_since, &aq.since}, std::pair{&a_until, &aq.until}}) {
      if (text->empty()) continue;
      auto t = parse_rfc3339(*text);
      if (!t) {
        std::cerr << "gatehouse: --since/--until take an RFC 3339 UTC time, e.g. 2026-11-24T00:00:00Z\n";
        return 2;
      }
      *field = *t;
    }
    std::size_t printed = 0;
    while (a_limit == 0 || printed < a_limit) {
      aq.limit = a_limit == 0 ? 1000 : std::min<std::size_t>(1000, a_limit - printed);
      auto rows = rt.store->audit().query_audit(aq);
      if (!rows) return die("audit", rows.error());
      for (const auto& r : *rows) {
        nlohmann::json j = {{"id", r.id},         {"time", to_rfc3339(r.time)}, {"action", r.action},
                            {"result", r.result}, {"actor", r.actor},           {"subject", r.subject},
                            {"ip", r.ip},         {"user_agent", r.user_agent}, {"request_id", r.request_id}};
        if (!r.tenant.empty()) j["tenant"] = r.tenant;
        std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
      }
      printed += rows->size();
      if (rows->size() < aq.limit) break;
      aq.after_id = rows->back().id;
    }
    return 0;
  }
  // Admin changes end what the user holds (tokens, sessions): wire those services in.
  if (auto rc = make_token_runtime(rt); rc) return *rc;
  rt.accounts = make_accounts(rt);
  if (user_unlock->parsed()) {
    if (auto ok = rt.accounts->unlock(u_id, meta); !ok) return die("user unlock", ok.error());
    std::cout << "ok\n";
    return 0;
  }
  auto resolve = [&]() -> Result<store::User> { return rt.accounts->find_user(u_id); };
  if (user_create->parsed()) {
    auto u = rt.accounts->register_user({u_email, SecretString(read_password_stdin()), u_name}, meta);
    if (!u) return die("user create", u.error());
    std::cout << nlohmann::json{{"id", u->id}, {"email", u->email}}.dump() << "\n";
    return 0;
  }
  if (user_list->parsed()) {
    std::optional<std::string> after;
    do {
      auto page = rt.accounts->list_users(after, u_limit,
                                          u_filter.empty() ? std::nullopt : std::optional<std::string>(u_filter));
      if (!page) return die("user list", page.error());
      for (const auto& u : page->users)
        std::cout << nlohmann::json{{"id", u.id},
                                    {"email", u.email},
                                    {"name", u.name},
                                    {"disabled", u.disabled},
                                    {"created_at", to_rfc3339(u.created_at)}}
                         .dump()
                  << "\n";
      after = page->next_cursor;
    } while (after);
    return 0;
  }
  auto u = resolve();
  if (!u) return die("user", u.error());
  Status st;
  if (user_disable->parsed()) st = rt.accounts->set_disabled(u->id, true, meta);
  if (user_enable->parsed()) st = rt.accounts->set_disabled(u->id, false, meta);
  if (user_delete->parsed()) st = rt.accounts->delete_user(u->id, meta);
  if (user_grant_admin->parsed() || user_revoke_admin->parsed()) {
    const bool grant = user_grant_admin->parsed();
    st = rt.store->tenants().set_platform_admin(u->id, grant, rt.clock.now());
    rt.audit.record({grant ? "admin.platform.grant" : "admin.platform.revoke", st ? "success" : "error", "admin", u->id,
                     rt.clock.now(), meta, ""});
    if (st && grant) {
      // Platform admins must have a second factor (unless configured otherwise): one who has none
      // loses the password-only sessions they hold and enrols at the next sign-in.
      service::MfaService mfa(*rt.store, *rt.kek, rt.clock, rt.rng, rt.audit, service::mfa_config(rt.config));
      auto ended = mfa.end_sessions_if_enrolment_needed(u->id, *rt.accounts, "admin", "platform_admin_grant", meta);
      if (!ended) st = fail(ended.error());
    }
  }
  if (!st) return die("user", st.error());
  std::cout << "ok\n";
  return 0;
}
