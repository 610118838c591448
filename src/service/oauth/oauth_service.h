// OAuthService: federated sign-in (issue #7, docs/oauth.md). Gatehouse is the
// relying party: it sends the browser to a configured provider (Google, GitHub,
// any OpenID Connect issuer), takes the callback, exchanges the code on the
// back channel, validates who signed in (ID token, or GitHub's user API), and
// maps that identity to a local user by the linking policy. Sessions and tokens
// are issued by the HTTP layer through SessionService / TokenService, exactly as
// after a password sign-in.
//
// Flow state (state, nonce, PKCE verifier, return_to) is kept server side in
// IdentityStore under the hash of a random flow id the browser holds in a
// cookie; it is taken out (single use) by the first callback that names it.
// Provider metadata and keys are fetched with an HttpClient and cached per
// provider (max-age clamped to 5 min..24 h); an ID token with an unknown kid
// triggers one JWKS refetch, at most once a minute per provider.
//
// Every outcome is audited: oauth.start, oauth.user_created,
// oauth.identity_linked / _unlinked, oauth.link_refused, oauth.login_failed,
// oauth.jwks_refresh, oauth.provider_error; user.reauthenticate for a step-up.
// user.login is left to whoever issues the session or tokens (login_subject).
// Never a code, state, token or secret.
//
// Thread-safety: all methods may be called concurrently; they block (store and
// network), so run them on a worker pool.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/random.h"
#include "core/base/result.h"
#include "core/base/secret.h"
#include "service/common/audit.h"
#include "service/config.h"
#include "store/store.h"

namespace gh::service {

class HttpClient;

// The amr (RFC 8176 has no registered value for a federated sign-in) of a
// session or token from a provider sign-in.
inline constexpr std::string_view kAmrFederated = "fed";

enum class FederationError : std::uint8_t {
  UnknownProvider = 1,  // no provider of that name is configured
  StateInvalid,  // no flow record for the cookie: missing, used, expired, other provider, other
                 // user
  ProviderUnavailable,  // a back-channel call timed out or could not connect
  ProviderHttpError,    // discovery, JWKS or a user API answered with an HTTP error status
  AccountDisabled,      // the identity's user is disabled
  EmailUnverified,  // a new user would need a verified email, and the provider did not assert one
  LinkRequired,   // a local account has this email; the person must sign in and link from /account
  IdentityInUse,  // linking an identity that belongs to another user
  LastSignInMethod,     // unlinking would leave the user no way to sign in
  CodeInvalid,          // native one-time code unknown, used, expired, or bound to another
                        // redirect/verifier
  BadRedirect,          // native return_to is not one of oauth.native_redirect_uris
  BadRequest,           // a malformed start request (native code_challenge, app state)
  NotLinked,            // unlink of an identity the user does not have
  ReauthUnsupported,    // re-authentication through a provider without ID tokens (GitHub), or
                        // for an account that has a password (it re-authenticates with that)
  ReauthNotFresh,       // a re-authentication whose ID token has no auth_time, or one from before
                        // the flow started (the provider answered from its own session)
  ReauthWrongIdentity,  // a re-authentication by an identity not linked to the signed-in user
};
GH_DECLARE_ERROR_CATEGORY(FederationError)

// What a flow was started for.
enum class FlowMode : std::uint8_t {
  Browser = 1,  // sign in (or create an account) and get a browser session
  Native = 2,   // sign in; the app gets a one-time code at its registered redirect URI
  Link = 3,     // a signed-in person links this identity to their account (/account)
  Reauth = 4,   // a signed-in person without a password confirms it is them (step-up): the
                // provider must ask again (prompt=login, max_age=0) and say when (auth_time)
};

// A provider as shown on the login and account pages.
struct ProviderInfo {
  std::string name;
  std::string display_name;
  bool reauth = false;  // can confirm a recent sign-in (FlowMode::Reauth): OpenID providers only
};

struct OAuthConfig {
  std::string public_url;                 // our callback is public_url + /v1/oauth/<name>/callback
  bool auto_link_verified_email = false;  // docs/oauth.md §4 rule 3
  std::chrono::seconds flow_ttl{600};
  std::chrono::seconds leeway{60};
  std::chrono::seconds code_ttl{60};
  std::vector<std::string> native_redirects;  // exact URIs a native code may be sent to
  // Production: a provider's issuer and discovered endpoints must be https (oauth::require_https);
  // dev mode also allows http on loopback hosts (the test peers).
  bool require_https = false;
  // authz.reauth_window_s: a sign-in the provider does not date (no auth_time) is placed just
  // outside this step-up window, so it never counts as a recent authentication.
  std::chrono::seconds reauth_window{600};
};

// The service's view of config: OAuthConfig from `c`.
[[nodiscard]] OAuthConfig oauth_config(const Config& c);

// The auth_time of a federated sign-in (a first step; an MFA step after it is fresh by itself).
// A provider may answer from its own long-lived session without asking anyone, so the sign-in
// is only as recent as the provider says: an ID token's auth_time, at most now; and never earlier
// than now - reauth_window - 1 s, which is also the answer when the provider does not say (GitHub,
// an ID token without auth_time) or says nonsense (<= 0). So the value tells whether the sign-in
// is recent enough for step-up, not how old the provider's own session is: a refresh family's
// absolute lifetime counts from auth_time, and a provider session older than that lifetime must
// not make every refresh fail (and token issue() reads zero as "now").
[[nodiscard]] Seconds federated_auth_time(std::optional<Seconds> reported, Seconds now,
                                          std::chrono::seconds reauth_window);

struct StartRequest {
  FlowMode mode = FlowMode::Browser;
  std::string return_to;      // Browser/Link: a checked local return_to ("" = /account)
  std::string link_user_id;   // Link: the signed-in user (step-up already checked by the caller);
                              // Reauth: the signed-in user who re-authenticates
  std::string app_redirect;   // Native: where the code goes (must be registered)
  std::string app_challenge;  // Native: the app's PKCE S256 challenge (43 chars)
  std::string app_state;      // Native: echoed back to the app with the code (opaque, <= 512 chars)
};

struct Started {
  SecretString flow_id;           // the cookie value; only its hash is stored
  std::string authorization_url;  // where to send the browser (303)
};

struct CallbackRequest {
  std::string_view flow_id;                   // from the cookie ("" if none)
  std::string_view query;                     // the callback's query string, without '?'
  std::optional<std::string> signed_in_user;  // the browser's current session user, if any
};

struct CallbackOutcome {
  FlowMode mode = FlowMode::Browser;
  store::User user;
  store::Identity identity;
  bool created = false;   // a new user was created for this identity
  bool linked = false;    // the identity was linked (automatically or from /account) just now
  std::string return_to;  // Browser/Link: where to land
  // Browser: the subject of the user.login event ("oauth:<provider> identity=<id>"), audited by
  // whoever issues the session (or user.login.mfa_pending if a second factor comes first).
  std::string login_subject;
  // Browser/Native: when the person last authenticated, as far as the provider vouches for it
  // (federated_auth_time); the session or tokens of this sign-in carry it unless an MFA step
  // follows. Reauth: now (the provider confirmed a login after the flow started).
  Seconds auth_time{};
  // Native: the one-time code and where to send it.
  std::optional<SecretString> native_code;
  std::string app_redirect;
  std::string app_state;
};

class OAuthService {
 public:
  OAuthService(const Config& config, store::Store& store, HttpClient& http, Clock& clock,
               Random& rng, AuditSink& audit);
  ~OAuthService();

  // Configured providers, in name order.
  [[nodiscard]] std::vector<ProviderInfo> providers() const;
  [[nodiscard]] bool has_provider(std::string_view name) const;
  // public_url + /v1/oauth/<name>/callback: the redirect URI registered at the provider.
  [[nodiscard]] std::string redirect_uri(std::string_view name) const;
  [[nodiscard]] const OAuthConfig& config() const { return config_; }

  // Starts a flow: stores its state and returns the flow id and the provider URL.
  // Reauth flows record their start time and ask the provider for a fresh login.
  // Errors: UnknownProvider; BadRedirect, BadRequest (native); ReauthUnsupported
  // (GitHub, or the user has a password); ProviderUnavailable,
  // ProviderHttpError and OAuthError (discovery of an OIDC provider); StoreError.
  [[nodiscard]] Result<Started> start(std::string_view provider, const StartRequest& request,
                                      const RequestMeta& meta);

  // Completes a flow. Errors: UnknownProvider; StateInvalid; OAuthError (callback,
  // token response, ID-token claims, GitHub bodies, discovery); JwtError (ID-token
  // signature); ProviderUnavailable, ProviderHttpError; AccountDisabled,
  // EmailUnverified, LinkRequired, IdentityInUse; ReauthNotFresh (Reauth: no
  // auth_time, or auth_time + leeway before the flow started), ReauthWrongIdentity;
  // StoreError. Every failure is audited as oauth.login_failed (a refused
  // re-authentication also as user.reauthenticate) and changes no account.
  // A successful Reauth is audited as user.reauthenticate; the caller then
  // grants the step-up (a fresh session).
  [[nodiscard]] Result<CallbackOutcome> callback(std::string_view provider,
                                                 const CallbackRequest& request,
                                                 const RequestMeta& meta);

  // Native flow: exchanges a one-time code (single use) for its user and the
  // sign-in's auth_time. The redirect URI and the PKCE verifier must match the
  // ones given at start.
  // Errors: CodeInvalid, AccountDisabled, StoreError.
  struct Redeemed {
    store::User user;
    std::string login_subject;  // as CallbackOutcome::login_subject, for the tokens' user.login
    Seconds auth_time{};        // CallbackOutcome::auth_time of the sign-in that made the code
  };
  [[nodiscard]] Result<Redeemed> redeem_code(std::string_view code, std::string_view redirect_uri,
                                             std::string_view code_verifier,
                                             const RequestMeta& meta);

  // The user's linked identities. Errors: StoreError.
  [[nodiscard]] Result<std::vector<store::Identity>> identities(std::string_view user_id);
  // Unlinks one. The caller checked step-up. Errors: NotLinked, LastSignInMethod, StoreError.
  [[nodiscard]] Status unlink(std::string_view user_id, std::string_view identity_id,
                              const RequestMeta& meta);

  // Deletes expired flow state and codes. The number deleted.
  [[nodiscard]] Result<std::int64_t> purge(Seconds now);

  // Test hook: forget cached metadata and keys.
  void forget_cache_for_test();

  struct Provider;  // a configured provider and its cache (oauth_service.cc)

 private:
  struct Flow;
  Provider* find(std::string_view name) const;
  Result<CallbackOutcome> complete(Provider& p, const CallbackRequest& request, const Flow& flow,
                                   const RequestMeta& meta);
  Result<CallbackOutcome> decide(Provider& p, const Flow& flow, store::Identity seen,
                                 std::optional<Seconds> auth_time, const RequestMeta& meta);
  Result<CallbackOutcome> reauthenticated(Provider& p, const Flow& flow,
                                          const store::Identity& seen,
                                          std::optional<Seconds> auth_time,
                                          const RequestMeta& meta);
  void audit(std::string action, std::string result, std::string actor, std::string subject,
             const RequestMeta& meta);

  OAuthConfig config_;
  store::Store& store_;
  HttpClient& http_;
  Clock& clock_;
  Random& rng_;
  AuditSink& audit_;
  std::map<std::string, std::unique_ptr<Provider>, std::less<>> providers_;
};

}  // namespace gh::service

template <>
struct std::is_error_code_enum<gh::service::FederationError> : std::true_type {};
