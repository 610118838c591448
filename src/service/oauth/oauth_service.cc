#include "service/oauth/oauth_service.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstddef>
#include <functional>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/account/email.h"
#include "core/base/encoding.h"
#include "core/jwt/error.h"
#include "core/oauth/authorize.h"
#include "core/oauth/discovery.h"
#include "core/oauth/github.h"
#include "core/oauth/id_token.h"
#include "core/oauth/pkce.h"
#include "core/oauth/token_response.h"
#include "core/oauth/url.h"
#include "core/web/web.h"
#include "service/oauth/http_client.h"

namespace gh::service {

const char* describe(FederationError e) {
  switch (e) {
    case FederationError::UnknownProvider:
      return "no such sign-in provider";
    case FederationError::StateInvalid:
      return "this sign-in has expired or was already used; please start again";
    case FederationError::ProviderUnavailable:
      return "the sign-in provider could not be reached";
    case FederationError::ProviderHttpError:
      return "the sign-in provider answered with an error";
    case FederationError::AccountDisabled:
      return "this account is disabled";
    case FederationError::EmailUnverified:
      return "the provider did not confirm your email address";
    case FederationError::LinkRequired:
      return "an account with this email exists: sign in to it, then link this provider from your "
             "account page";
    case FederationError::IdentityInUse:
      return "this identity is linked to another account";
    case FederationError::LastSignInMethod:
      return "this is your only way to sign in; it cannot be removed";
    case FederationError::CodeInvalid:
      return "the code is invalid, used or expired";
    case FederationError::BadRedirect:
      return "return_to is not a registered application URI";
    case FederationError::BadRequest:
      return "the sign-in request is malformed";
    case FederationError::NotLinked:
      return "no such linked identity";
    case FederationError::ReauthUnsupported:
      return "this sign-in provider cannot confirm a recent sign-in";
    case FederationError::ReauthNotFresh:
      return "the provider did not confirm a fresh sign-in";
    case FederationError::ReauthWrongIdentity:
      return "that identity is not linked to this account";
  }
  return "federated sign-in error";
}
GH_DEFINE_ERROR_CATEGORY(FederationError, "federation")

namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr std::string_view kGithubIssuer = "https://github.com";
// Cached discovery documents and key sets live this long (Cache-Control
// max-age, clamped), and an unknown kid refetches keys at most this often.
constexpr seconds kMinCache{300};
constexpr seconds kMaxCache{24 * 3600};
constexpr seconds kDefaultCache{3600};
constexpr seconds kRefetchInterval{60};
constexpr std::size_t kMaxAppState = 512;

std::string hash_of(std::string_view handle) { return hex_encode(sha256(handle)); }

std::string random_b64(Random& rng, std::size_t n) {
  std::array<std::byte, 64> buf{};
  rng.fill(std::span(buf.data(), n));
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(buf.data()), n));
}

seconds max_age_of(std::string_view cache_control) {
  const auto at = cache_control.find("max-age=");
  if (at == std::string_view::npos) return kDefaultCache;
  std::int64_t v = 0;
  const char* first = cache_control.data() + at + 8;
  const auto [p, ec] = std::from_chars(first, cache_control.data() + cache_control.size(), v);
  if (ec != std::errc{}) return kDefaultCache;
  return std::clamp(seconds{v}, kMinCache, kMaxCache);
}

// The precise reason of a failure for the audit log: "<category>: <message>".
std::string reason_of(const Error& e) {
  return fmt::format("{}: {}", e.code.category().name(), e.code.message());
}

bool is(const Error& e, store::StoreError s) { return e.code == make_error_code(s); }

std::string login_subject(std::string_view provider, std::string_view identity_id) {
  return fmt::format("oauth:{} identity={}", provider, identity_id);
}

const char* mode_name(FlowMode m) {
  switch (m) {
    case FlowMode::Browser:
      return "browser";
    case FlowMode::Native:
      return "native";
    case FlowMode::Link:
      return "link";
    case FlowMode::Reauth:
      return "reauth";
  }
  return "browser";
}

std::optional<FlowMode> mode_from(std::string_view s) {
  if (s == "browser") return FlowMode::Browser;
  if (s == "native") return FlowMode::Native;
  if (s == "link") return FlowMode::Link;
  if (s == "reauth") return FlowMode::Reauth;
  return std::nullopt;
}

bool is_b64url(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

}  // namespace

OAuthConfig oauth_config(const Config& c) {
  OAuthConfig o;
  o.public_url = c.public_url;
  o.auto_link_verified_email = c.oauth_auto_link_verified_email;
  o.flow_ttl = seconds{c.oauth_flow_ttl_s};
  o.leeway = seconds{c.oauth_leeway_s};
  o.code_ttl = seconds{c.oauth_code_ttl_s};
  o.native_redirects = c.oauth_native_redirect_list;
  o.require_https = c.production();
  o.reauth_window = seconds{c.authz_reauth_window_s};
  return o;
}

Seconds federated_auth_time(std::optional<Seconds> reported, Seconds now,
                            std::chrono::seconds reauth_window) {
  const Seconds not_recent = now - reauth_window - seconds{1};
  if (reported && reported->time_since_epoch().count() > 0)
    return std::clamp(*reported, not_recent, now);
  return not_recent;
}

struct OAuthService::Provider {
  std::string name;
  std::string display_name;
  bool oidc = true;
  std::string issuer;  // OIDC: configured; GitHub: https://github.com (the identity namespace)
  std::string client_id;
  SecretString client_secret;
  std::string scopes;
  std::string authorize_url, token_url, api_base;  // GitHub

  // OIDC cache. GUARDED_BY(mu)
  std::mutex mu;
  std::optional<oauth::ProviderMetadata> meta;
  Seconds meta_until{};
  std::shared_ptr<const oauth::ProviderKeys> keys;
  Seconds keys_until{};
  Seconds last_key_fetch{};
};

struct OAuthService::Flow {
  std::string provider;
  std::string state;
  std::string nonce;
  std::string verifier;
  std::string return_to;
  FlowMode mode = FlowMode::Browser;
  std::string link_user;
  std::string app_redirect;
  std::string app_challenge;
  std::string app_state;
  std::int64_t started_at = 0;  // unix seconds; a Reauth needs auth_time from after it

  [[nodiscard]] std::string to_json() const {
    return json{{"provider", provider},
                {"state", state},
                {"nonce", nonce},
                {"verifier", verifier},
                {"return_to", return_to},
                {"mode", mode_name(mode)},
                {"link_user", link_user},
                {"app_redirect", app_redirect},
                {"app_challenge", app_challenge},
                {"app_state", app_state},
                {"started_at", started_at}}
        .dump();
  }
  static std::optional<Flow> from_json(std::string_view text) {
    const json j = json::parse(text, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    Flow f;
    try {
      f.provider = j.at("provider").get<std::string>();
      f.state = j.at("state").get<std::string>();
      f.nonce = j.at("nonce").get<std::string>();
      f.verifier = j.at("verifier").get<std::string>();
      f.return_to = j.at("return_to").get<std::string>();
      const auto m = mode_from(j.at("mode").get<std::string>());
      if (!m) return std::nullopt;
      f.mode = *m;
      f.link_user = j.at("link_user").get<std::string>();
      f.app_redirect = j.at("app_redirect").get<std::string>();
      f.app_challenge = j.at("app_challenge").get<std::string>();
      f.app_state = j.at("app_state").get<std::string>();
      // Absent in flows stored before it existed (browser, native, link: unused there).
      f.started_at = j.value("started_at", std::int64_t{0});
      if (f.mode == FlowMode::Reauth && f.started_at <= 0) return std::nullopt;
    } catch (const json::exception&) {
      return std::nullopt;
    }
    return f;
  }
};

OAuthService::OAuthService(const Config& config, store::Store& store, HttpClient& http,
                           Clock& clock, Random& rng, AuditSink& audit)
    : config_(oauth_config(config)),
      store_(store),
      http_(http),
      clock_(clock),
      rng_(rng),
      audit_(audit) {
  for (const auto& [name, s] : config.oauth_providers) {
    auto p = std::make_unique<Provider>();
    p->name = name;
    p->display_name = s.display_name.empty() ? name : s.display_name;
    p->oidc = name != "github";
    p->issuer = p->oidc ? s.issuer : std::string(kGithubIssuer);
    p->client_id = s.client_id;
    p->client_secret = SecretString(s.client_secret);
    p->scopes = s.scopes;
    p->authorize_url = s.authorize_url;
    p->token_url = s.token_url;
    p->api_base = s.api_base;
    providers_.emplace(name, std::move(p));
  }
}

OAuthService::~OAuthService() = default;

std::vector<ProviderInfo> OAuthService::providers() const {
  std::vector<ProviderInfo> out;
  for (const auto& [name, p] : providers_) out.push_back({name, p->display_name, p->oidc});
  return out;
}

bool OAuthService::has_provider(std::string_view name) const { return find(name) != nullptr; }

OAuthService::Provider* OAuthService::find(std::string_view name) const {
  const auto it = providers_.find(name);
  return it == providers_.end() ? nullptr : it->second.get();
}

std::string OAuthService::redirect_uri(std::string_view name) const {
  return fmt::format("{}/v1/oauth/{}/callback", config_.public_url, name);
}

void OAuthService::audit(std::string action, std::string result, std::string actor,
                         std::string subject, const RequestMeta& meta) {
  AuditEvent e;
  e.action = std::move(action);
  e.result = std::move(result);
  e.actor = actor.empty() ? "anonymous" : std::move(actor);
  e.subject = std::move(subject);
  e.time = clock_.now();
  e.meta = meta;
  audit_.record(e);
}

void OAuthService::forget_cache_for_test() {
  for (auto& [name, p] : providers_) {
    std::lock_guard lock(p->mu);
    p->meta.reset();
    p->keys.reset();
  }
}

// ---- Discovery and keys -------------------------------------------------------

namespace {

// A GET of a provider document: 200 or ProviderHttpError.
Result<HttpReply> fetch(HttpClient& http, const std::string& url) {
  auto r = http.get(url, {"Accept: application/json"});
  if (!r) return fail(r.error());
  if (r->status != 200)
    return fail(FederationError::ProviderHttpError, fmt::format("HTTP {}", r->status));
  return r;
}

// The provider's metadata, fetched when not cached or stale. A failed refetch
// keeps a stale copy in use (docs/oauth.md §1).
Result<oauth::ProviderMetadata> metadata_of(OAuthService::Provider& p, HttpClient& http,
                                            Seconds now, bool require_https,
                                            const std::function<void(const Error&)>& on_error) {
  {
    std::lock_guard lock(p.mu);
    if (p.meta && now < p.meta_until) return *p.meta;
  }
  auto reply = fetch(http, oauth::discovery_url(p.issuer));
  Result<oauth::ProviderMetadata> parsed =
      reply ? oauth::parse_discovery(reply->body, p.issuer)
            : Result<oauth::ProviderMetadata>(fail(reply.error()));
  if (parsed && require_https) {
    if (auto ok = oauth::require_https(*parsed); !ok) parsed = fail(ok.error());
  }
  std::lock_guard lock(p.mu);
  if (!parsed) {
    on_error(parsed.error());
    if (p.meta) return *p.meta;
    return fail(parsed.error());
  }
  p.meta = *parsed;
  p.meta_until = now + max_age_of(reply->cache_control);
  return *parsed;
}

// The provider's keys; `refresh` forces a refetch (rate-limited) after an unknown kid.
Result<std::shared_ptr<const oauth::ProviderKeys>> keys_of(
    OAuthService::Provider& p, HttpClient& http, const std::string& jwks_uri, Seconds now,
    bool refresh, const std::function<void(const Error&)>& on_error) {
  {
    std::lock_guard lock(p.mu);
    const bool fresh = p.keys && now < p.keys_until;
    const bool may_refetch = !p.keys || now >= p.last_key_fetch + kRefetchInterval;
    if (fresh && (!refresh || !may_refetch)) return p.keys;
    if (refresh && !may_refetch) return p.keys;
    p.last_key_fetch = now;
  }
  auto reply = fetch(http, jwks_uri);
  Result<oauth::ProviderKeys> parsed = reply ? oauth::parse_provider_jwks(reply->body)
                                             : Result<oauth::ProviderKeys>(fail(reply.error()));
  std::lock_guard lock(p.mu);
  if (!parsed) {
    on_error(parsed.error());
    if (p.keys) return p.keys;
    return fail(parsed.error());
  }
  p.keys = std::make_shared<const oauth::ProviderKeys>(std::move(*parsed));
  p.keys_until = now + max_age_of(reply->cache_control);
  return p.keys;
}

}  // namespace

// ---- Start --------------------------------------------------------------------

Result<Started> OAuthService::start(std::string_view name, const StartRequest& request,
                                    const RequestMeta& meta) {
  Provider* p = find(name);
  if (p == nullptr) return fail(FederationError::UnknownProvider);
  if (request.mode == FlowMode::Native) {
    if (std::find(config_.native_redirects.begin(), config_.native_redirects.end(),
                  request.app_redirect) == config_.native_redirects.end())
      return fail(FederationError::BadRedirect);
    if (request.app_challenge.size() != 43 || !is_b64url(request.app_challenge))
      return fail(FederationError::BadRequest,
                  "code_challenge must be a PKCE S256 challenge (43 characters)");
    if (request.app_state.size() > kMaxAppState || !printable_ascii(request.app_state))
      return fail(FederationError::BadRequest,
                  "state must be at most 512 printable ASCII characters");
  }
  if ((request.mode == FlowMode::Link || request.mode == FlowMode::Reauth) &&
      request.link_user_id.empty())
    return fail(FederationError::BadRequest);
  if (request.mode == FlowMode::Reauth) {
    // Only an OpenID provider can say when the person last authenticated
    // (auth_time); GitHub's OAuth answers from its own session unasked. An
    // account with a password re-authenticates with it (a provider's session
    // is weaker than the account's own secret).
    if (!p->oidc) return fail(FederationError::ReauthUnsupported, "the provider has no ID token");
    auto user = store_.users().find_user_by_id(request.link_user_id);
    if (!user) return fail(user.error());
    if (!user->password_hash.empty())
      return fail(FederationError::ReauthUnsupported, "the account has a password");
  }

  std::string endpoint = p->authorize_url;
  if (p->oidc) {
    auto m = metadata_of(*p, http_, clock_.now(), config_.require_https, [&](const Error& e) {
      audit("oauth.provider_error", reason_of(e), request.link_user_id, p->name, meta);
    });
    if (!m) return fail(m.error());
    endpoint = m->authorization_endpoint;
  }

  Flow flow;
  flow.provider = p->name;
  flow.state = random_b64(rng_, 32);
  flow.nonce = p->oidc ? random_b64(rng_, 32) : std::string();
  std::array<std::byte, 32> vbytes{};
  rng_.fill(vbytes);
  auto verifier = oauth::make_code_verifier(vbytes);
  if (!verifier) return fail(verifier.error());
  flow.verifier = *verifier;
  auto challenge = oauth::code_challenge_s256(flow.verifier);
  if (!challenge) return fail(challenge.error());
  flow.mode = request.mode;
  flow.return_to = request.return_to;
  flow.link_user = request.link_user_id;
  flow.app_redirect = request.app_redirect;
  flow.app_challenge = request.app_challenge;
  flow.app_state = request.app_state;
  const Seconds now = clock_.now();
  flow.started_at = now.time_since_epoch().count();

  auto url = oauth::authorization_url({endpoint, p->client_id, redirect_uri(p->name), p->scopes,
                                       flow.state, flow.nonce, *challenge,
                                       request.mode == FlowMode::Reauth});
  if (!url) return fail(url.error());

  SecretString flow_id(random_token(rng_, 32));
  store::OAuthState st{hash_of(flow_id.expose()), store::OAuthStateKind::Flow, flow.to_json(), now,
                       now + config_.flow_ttl};
  if (auto ok = store_.identities().put_state(st); !ok) return fail(ok.error());
  audit("oauth.start", "success", request.link_user_id, p->name, meta);
  return Started{std::move(flow_id), std::move(*url)};
}

// ---- Callback -----------------------------------------------------------------

Result<CallbackOutcome> OAuthService::callback(std::string_view name,
                                               const CallbackRequest& request,
                                               const RequestMeta& meta) {
  std::string actor = request.signed_in_user.value_or("");
  auto failed = [&](Error e) {
    audit("oauth.login_failed", reason_of(e), actor, std::string(name), meta);
    return fail(std::move(e));
  };
  Provider* p = find(name);
  if (p == nullptr) return failed({make_error_code(FederationError::UnknownProvider), {}});
  // Single use: the record is gone whatever happens next (a replayed callback,
  // or a second one racing this, finds nothing).
  if (request.flow_id.empty()) return failed({make_error_code(FederationError::StateInvalid), {}});
  auto taken = store_.identities().take_state(hash_of(request.flow_id), store::OAuthStateKind::Flow,
                                              clock_.now());
  if (!taken) {
    if (is(taken.error(), store::StoreError::NotFound))
      return failed({make_error_code(FederationError::StateInvalid), {}});
    return failed(taken.error());
  }
  auto flow = Flow::from_json(taken->data);
  if (!flow || flow->provider != p->name)
    return failed({make_error_code(FederationError::StateInvalid), {}});
  // A link flow belongs to the session that started it (a callback in another
  // browser, or after signing in as someone else, links nothing).
  if ((flow->mode == FlowMode::Link || flow->mode == FlowMode::Reauth) &&
      request.signed_in_user != flow->link_user)
    return failed({make_error_code(FederationError::StateInvalid), {}});
  auto out = complete(*p, request, *flow, meta);
  if (!out) return failed(out.error());
  return out;
}

Result<CallbackOutcome> OAuthService::complete(Provider& p, const CallbackRequest& request,
                                               const Flow& flow, const RequestMeta& meta) {
  auto provider_error = [&](const Error& e) {
    audit("oauth.provider_error", reason_of(e), "", p.name, meta);
  };
  std::optional<oauth::ProviderMetadata> m;
  if (p.oidc) {
    auto got = metadata_of(p, http_, clock_.now(), config_.require_https, provider_error);
    if (!got) return fail(got.error());
    m = std::move(*got);
  }
  auto cb = oauth::parse_callback(request.query);
  if (!cb) return fail(cb.error());
  auto code = oauth::check_callback(*cb, {flow.state, p.issuer, m && m->iss_parameter_supported});
  if (!code) return fail(code.error());

  // RFC 6749 §4.1.3 with PKCE (RFC 7636 §4.5); client_secret_basic.
  const std::string form =
      fmt::format("grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}",
                  web::url_encode(*code), web::url_encode(redirect_uri(p.name)),
                  web::url_encode(flow.verifier));
  const BasicAuth auth{p.client_id, &p.client_secret};
  auto reply = http_.post_form(p.oidc ? m->token_endpoint : p.token_url, form,
                               {"Accept: application/json"}, &auth);
  if (!reply) {
    provider_error(reply.error());
    return fail(reply.error());
  }
  auto tokens = oauth::parse_token_response(static_cast<int>(reply->status), reply->body, p.oidc);
  if (!tokens) return fail(tokens.error());

  store::Identity seen;
  seen.provider = p.name;
  seen.issuer = p.issuer;
  std::optional<Seconds> auth_time;
  if (p.oidc) {
    oauth::IdTokenExpectations expect;
    expect.issuer = p.issuer;
    expect.client_id = p.client_id;
    expect.nonce = flow.nonce;
    expect.leeway = config_.leeway;
    const Seconds now = clock_.now();
    auto keys = keys_of(p, http_, m->jwks_uri, now, false, provider_error);
    if (!keys) return fail(keys.error());
    auto id = oauth::verify_id_token(*tokens->id_token, (*keys)->keys, expect, now);
    if (!id && id.error().code == make_error_code(jwt::JwtError::UnknownKid)) {
      // Key rotation at the provider: refetch once (rate-limited), retry once.
      auto fresh = keys_of(p, http_, m->jwks_uri, now, true, provider_error);
      if (fresh && *fresh != *keys) {
        audit("oauth.jwks_refresh", "success", "", p.name, meta);
        id = oauth::verify_id_token(*tokens->id_token, (*fresh)->keys, expect, now);
      }
    }
    if (!id) return fail(id.error());
    auth_time = id->auth_time;
    seen.subject = id->subject;
    seen.email = id->email.value_or("");
    seen.email_verified = id->email_verified;
    seen.name = id->name.value_or("");
  } else {
    // GitHub: who signed in comes from its API with the access token, which is
    // then dropped (never stored or logged).
    std::string bearer = fmt::format("Authorization: Bearer {}", tokens->access_token.expose());
    const std::vector<std::string> headers{"Accept: application/vnd.github+json", bearer};
    auto user = http_.get(p.api_base + "/user", headers);
    auto emails =
        user && user->status == 200 ? http_.get(p.api_base + "/user/emails", headers) : user;
    wipe(bearer);
    for (const auto* r : {&user, &emails}) {
      if (!*r) {
        provider_error(r->error());
        return fail(r->error());
      }
      if ((*r)->status != 200) {
        Error e{make_error_code(FederationError::ProviderHttpError),
                fmt::format("HTTP {}", (*r)->status)};
        provider_error(e);
        return fail(e);
      }
    }
    auto gu = oauth::parse_github_user(user->body);
    if (!gu) return fail(gu.error());
    auto primary = oauth::github_primary_verified_email(emails->body);
    if (!primary) return fail(primary.error());
    seen.subject = gu->subject;
    seen.email = primary->value_or("");
    seen.email_verified = primary->has_value();
    seen.name = gu->name.value_or(gu->login);
  }
  if (flow.mode == FlowMode::Reauth) return reauthenticated(p, flow, seen, auth_time, meta);
  return decide(p, flow, std::move(seen), auth_time, meta);
}

// A step-up through the provider (FlowMode::Reauth): the provider must have
// authenticated the person after this flow started (OpenID Connect Core
// §3.1.2.1 max_age=0 / prompt=login; auth_time, §2), as this account's own
// identity. Nothing about the account changes here.
Result<CallbackOutcome> OAuthService::reauthenticated(Provider& p, const Flow& flow,
                                                      const store::Identity& seen,
                                                      std::optional<Seconds> auth_time,
                                                      const RequestMeta& meta) {
  auto refused = [&](FederationError e, std::string why) {
    audit("user.reauthenticate", why, flow.link_user, fmt::format("oauth:{}", p.name), meta);
    return fail(e, std::move(why));
  };
  if (!p.oidc) return refused(FederationError::ReauthUnsupported, "provider_without_id_token");
  if (!auth_time) return refused(FederationError::ReauthNotFresh, "auth_time_missing");
  // The provider's clock may run behind ours by up to the leeway.
  const Seconds started{std::chrono::seconds{flow.started_at}};
  if (*auth_time + config_.leeway < started)
    return refused(FederationError::ReauthNotFresh, "auth_time_stale");
  auto known = store_.identities().find_identity(seen.issuer, seen.subject);
  if (!known) {
    if (!is(known.error(), store::StoreError::NotFound)) return fail(known.error());
    return refused(FederationError::ReauthWrongIdentity, "identity_not_linked");
  }
  if (known->user_id != flow.link_user)
    return refused(FederationError::ReauthWrongIdentity, "identity_not_linked");
  auto user = store_.users().find_user_by_id(known->user_id);
  if (!user) return fail(user.error());
  if (user->disabled) return refused(FederationError::AccountDisabled, "disabled");
  audit("user.reauthenticate", "success", user->id,
        fmt::format("oauth:{} identity={}", p.name, known->id), meta);
  CallbackOutcome out;
  out.mode = FlowMode::Reauth;
  out.user = std::move(*user);
  out.identity = std::move(*known);
  out.return_to = flow.return_to;
  out.auth_time = clock_.now();
  return out;
}

// docs/oauth.md §4: known identity; link from /account; same email; new user.
Result<CallbackOutcome> OAuthService::decide(Provider& p, const Flow& flow, store::Identity seen,
                                             std::optional<Seconds> auth_time,
                                             const RequestMeta& meta) {
  auto& ids = store_.identities();
  auto& users = store_.users();
  const Seconds now = clock_.now();
  if (auto name = account::parse_display_name(seen.name); name) {
    seen.name = *name;
  } else {
    seen.name.clear();
  }
  CallbackOutcome out;
  out.mode = flow.mode;
  out.return_to = flow.return_to;
  out.app_redirect = flow.app_redirect;
  out.app_state = flow.app_state;
  // Not "now": the provider may have answered from its own session without asking anyone.
  out.auth_time = federated_auth_time(auth_time, now, config_.reauth_window);

  auto signed_in = [&](store::User user, store::Identity identity) -> Result<CallbackOutcome> {
    if (user.disabled) return fail(FederationError::AccountDisabled);
    out.user = std::move(user);
    out.identity = std::move(identity);
    if (flow.mode == FlowMode::Native) {
      // The app's one-time code: 256 bits, stored hashed, short-lived, bound to
      // the redirect URI and the app's PKCE challenge.
      SecretString code(random_token(rng_, 32));
      const json data{{"user_id", out.user.id},
                      {"identity_id", out.identity.id},
                      {"provider", p.name},
                      {"redirect", flow.app_redirect},
                      {"challenge", flow.app_challenge},
                      {"auth_time", out.auth_time.time_since_epoch().count()}};
      store::OAuthState st{hash_of(code.expose()), store::OAuthStateKind::Code, data.dump(), now,
                           now + config_.code_ttl};
      if (auto ok = ids.put_state(st); !ok) return fail(ok.error());
      out.native_code = std::move(code);
    }
    // Not user.login yet: that is audited with the session or tokens (after MFA if any).
    out.login_subject = login_subject(p.name, out.identity.id);
    return std::move(out);
  };

  auto known = ids.find_identity(seen.issuer, seen.subject);
  if (known) {
    // Rule 1 (and rule 2 for an identity that is already linked).
    if (flow.mode == FlowMode::Link && known->user_id != flow.link_user) {
      audit("oauth.link_refused", "identity_in_use", flow.link_user, p.name, meta);
      return fail(FederationError::IdentityInUse);
    }
    auto user = users.find_user_by_id(known->user_id);
    if (!user) return fail(user.error());
    store::Identity updated = *known;
    updated.email = seen.email;
    updated.email_verified = seen.email_verified;
    updated.name = seen.name;
    updated.last_login_at = now;
    if (auto ok = ids.update_identity_login(updated); !ok) return fail(ok.error());
    return signed_in(std::move(*user), std::move(updated));
  }
  if (!is(known.error(), store::StoreError::NotFound)) return fail(known.error());

  seen.id = uuid_v4(rng_);
  seen.created_at = now;
  seen.last_login_at = now;

  // Rule 2: linking from /account (the caller checked the session and step-up).
  if (flow.mode == FlowMode::Link) {
    auto user = users.find_user_by_id(flow.link_user);
    if (!user)
      return fail(is(user.error(), store::StoreError::NotFound)
                      ? Error{make_error_code(FederationError::StateInvalid), {}}
                      : user.error());
    seen.user_id = user->id;
    if (auto ok = ids.create_identity(seen); !ok) {
      if (is(ok.error(), store::StoreError::Conflict)) return fail(FederationError::IdentityInUse);
      return fail(ok.error());
    }
    audit("oauth.identity_linked", "success", user->id,
          fmt::format("{} identity={} auto=false", p.name, seen.id), meta);
    out.linked = true;
    return signed_in(std::move(*user), std::move(seen));
  }

  // Rule 3: a local user with the same email.
  std::optional<account::Email> email;
  if (!seen.email.empty()) {
    if (auto parsed = account::parse_email(seen.email); parsed) email = std::move(*parsed);
  }
  if (email) {
    auto existing = users.find_user_by_email(email->normalized);
    if (existing) {
      // The local account's own address must be proven too: otherwise whoever registered the
      // address first (and holds its password) would receive the owner's provider sign-in.
      if (!(seen.email_verified && config_.auto_link_verified_email && existing->email_verified)) {
        audit("oauth.link_refused",
              !seen.email_verified ? "email_unverified"
                                   : (config_.auto_link_verified_email ? "local_email_unverified" : "auto_link_disabled"),
              "", p.name, meta);
        return fail(FederationError::LinkRequired);
      }
      seen.user_id = existing->id;
      if (auto ok = ids.create_identity(seen); !ok) {
        if (!is(ok.error(), store::StoreError::Conflict)) return fail(ok.error());
        // A concurrent first sign-in linked it: use that row.
        auto again = ids.find_identity(seen.issuer, seen.subject);
        if (!again) return fail(again.error());
        auto owner = users.find_user_by_id(again->user_id);
        if (!owner) return fail(owner.error());
        return signed_in(std::move(*owner), std::move(*again));
      }
      audit("oauth.identity_linked", "success", existing->id,
            fmt::format("{} identity={} auto=true", p.name, seen.id), meta);
      out.linked = true;
      return signed_in(std::move(*existing), std::move(seen));
    }
    if (!is(existing.error(), store::StoreError::NotFound)) return fail(existing.error());
  }

  // Rule 4: a new user, only with a verified email (no squatting of addresses).
  if (!email || !seen.email_verified) return fail(FederationError::EmailUnverified);
  store::User user;
  user.id = uuid_v4(rng_);
  user.email = email->display;
  user.email_normalized = email->normalized;
  user.name = seen.name;
  user.email_verified = true;
  user.created_at = now;
  user.updated_at = now;
  seen.user_id = user.id;
  if (auto ok = ids.create_user_with_identity(user, seen); !ok) {
    if (!is(ok.error(), store::StoreError::Conflict)) return fail(ok.error());
    // The identity or the email was taken meanwhile (two first sign-ins at
    // once): the identity's row decides; an email taken by someone else is rule 3.
    auto again = ids.find_identity(seen.issuer, seen.subject);
    if (!again) return fail(FederationError::LinkRequired);
    auto owner = users.find_user_by_id(again->user_id);
    if (!owner) return fail(owner.error());
    return signed_in(std::move(*owner), std::move(*again));
  }
  audit("oauth.user_created", "success", user.id, fmt::format("{} identity={}", p.name, seen.id),
        meta);
  out.created = true;
  return signed_in(std::move(user), std::move(seen));
}

// ---- Native codes, identities -------------------------------------------------

Result<OAuthService::Redeemed> OAuthService::redeem_code(std::string_view code,
                                                         std::string_view redirect,
                                                         std::string_view code_verifier,
                                                         const RequestMeta& meta) {
  auto failed = [&](FederationError f, std::string why) {
    audit("oauth.code_redeem", std::move(why), "", "", meta);
    return fail(f);
  };
  if (code.empty() || code.size() > 128) return failed(FederationError::CodeInvalid, "malformed");
  auto taken =
      store_.identities().take_state(hash_of(code), store::OAuthStateKind::Code, clock_.now());
  if (!taken) {
    if (is(taken.error(), store::StoreError::NotFound))
      return failed(FederationError::CodeInvalid, "unknown_code");
    return fail(taken.error());
  }
  const json j = json::parse(taken->data, nullptr, false);
  if (!j.is_object() || !j.contains("user_id") || !j.contains("redirect") ||
      !j.contains("challenge"))
    return failed(FederationError::CodeInvalid, "bad_record");
  // Bound to where it was sent and to the app's PKCE pair (RFC 7636 §4.6).
  if (j["redirect"].get<std::string>() != redirect)
    return failed(FederationError::CodeInvalid, "redirect_mismatch");
  auto challenge = oauth::code_challenge_s256(code_verifier);
  if (!challenge || !constant_time_equal(*challenge, j["challenge"].get<std::string>()))
    return failed(FederationError::CodeInvalid, "pkce_mismatch");
  auto user = store_.users().find_user_by_id(j["user_id"].get<std::string>());
  if (!user) {
    if (is(user.error(), store::StoreError::NotFound))
      return failed(FederationError::CodeInvalid, "user_gone");
    return fail(user.error());
  }
  if (user->disabled) return failed(FederationError::AccountDisabled, "account_disabled");
  // The code carries the sign-in's federated_auth_time, as computed at the callback (the
  // sign-in does not get younger while the app redeems it); a code stored without one (before
  // it was recorded) vouches for no recent sign-in.
  const Seconds now = clock_.now();
  const Seconds auth_time =
      j.contains("auth_time") && j["auth_time"].is_number_integer() &&
              j["auth_time"].get<std::int64_t>() > 0
          ? std::min(now, Seconds{seconds{j["auth_time"].get<std::int64_t>()}})
          : federated_auth_time(std::nullopt, now, config_.reauth_window);
  audit("oauth.code_redeem", "success", user->id, j.value("provider", ""), meta);
  return Redeemed{std::move(*user),
                  login_subject(j.value("provider", ""), j.value("identity_id", "")), auth_time};
}

Result<std::vector<store::Identity>> OAuthService::identities(std::string_view user_id) {
  return store_.identities().list_identities(user_id);
}

Status OAuthService::unlink(std::string_view user_id, std::string_view identity_id,
                            const RequestMeta& meta) {
  auto list = store_.identities().list_identities(user_id);
  if (!list) return fail(list.error());
  const auto it =
      std::find_if(list->begin(), list->end(), [&](const auto& i) { return i.id == identity_id; });
  const std::string provider = it == list->end() ? std::string() : it->provider;
  auto ok = store_.identities().delete_identity(user_id, identity_id);
  if (!ok) {
    if (is(ok.error(), store::StoreError::NotFound)) {
      audit("oauth.identity_unlinked", "not_linked", std::string(user_id), std::string(identity_id),
            meta);
      return fail(FederationError::NotLinked);
    }
    if (is(ok.error(), store::StoreError::Conflict)) {
      audit("oauth.identity_unlinked", "last_sign_in_method", std::string(user_id),
            fmt::format("{} identity={}", provider, identity_id), meta);
      return fail(FederationError::LastSignInMethod);
    }
    return fail(ok.error());
  }
  audit("oauth.identity_unlinked", "success", std::string(user_id),
        fmt::format("{} identity={}", provider, identity_id), meta);
  return {};
}

Result<std::int64_t> OAuthService::purge(Seconds now) {
  return store_.identities().purge_states(now);
}

}  // namespace gh::service
