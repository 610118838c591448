// gatehouse/verifier.h — verify Gatehouse access tokens inside your own C++ service.
//
// A Verifier checks bearer tokens offline, with the same strict rules as the
// Gatehouse server: the algorithm is pinned by the key (never taken from the
// token), kid must name a published key, typ must be at+jwt (RFC 9068), and
// iss, aud, exp, nbf and iat are checked. Keys come from the issuer's JWKS:
// discovered from <issuer>/.well-known/openid-configuration (or given as
// jwks_uri, or as a JWKS document for fully offline use), cached, refreshed
// every `refresh_interval`, and refetched when a token names an unknown kid —
// at most once per `min_refetch_interval`, so garbage tokens cannot make the
// verifier hammer the issuer.
//
// What it cannot know offline: a token revoked at Gatehouse (logout) stays
// valid here until its exp (15 minutes by default). Ask Gatehouse
// (GET /v1/me) when a decision must see revocations at once.
//
// Thread-safety: verify() may be called from many threads at once. A verify
// that triggers a JWKS fetch blocks its calling thread for up to `http_timeout`.
//
//   auto v = gatehouse::Verifier::create({.issuer = "https://auth.example.com", .audience = "gatehouse"});
//   if (!v.verifier) die(v.error);
//   auto r = v.verifier->verify(token);
//   if (r.ok) use(r.identity.subject); else reply_401(r.error);
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace gatehouse {

struct VerifierOptions {
  std::string issuer;                                // required: the exact `iss` (Gatehouse's public URL)
  std::string audience = "gatehouse";                // required `aud` value
  std::string jwks_uri;                              // default: discovered from the issuer
  std::string jwks_json;                             // if set: use this JWKS, never fetch (offline)
  std::chrono::seconds refresh_interval{300};        // proactive JWKS refresh
  std::chrono::seconds min_refetch_interval{30};     // unknown-kid refetch rate limit
  std::chrono::seconds leeway{30};                   // clock skew allowed on exp/nbf/iat
  std::chrono::seconds http_timeout{5};              // per JWKS/discovery request
  bool allow_http = false;                           // plain http only for loopback/dev issuers
};

struct Identity {
  std::string subject;    // `sub`: the Gatehouse user id
  std::string token_id;   // `jti`
  std::string client_id;  // `client_id`
  std::string session_id; // `sid`
  std::int64_t expires_at = 0;
  std::int64_t auth_time = 0;
  std::string claims_json;  // every claim, as JSON text
};

struct VerifyResult {
  bool ok = false;
  std::string error;  // "token_expired", "invalid_token" or "jwks_unavailable"; empty when ok
  std::string detail; // why, for logs (never contains the token)
  Identity identity;
};

class Verifier {
 public:
  struct Created {
    std::unique_ptr<Verifier> verifier;  // null on failure
    std::string error;                   // why creation failed
  };
  // Fetches discovery and the JWKS once (unless jwks_json is given).
  static Created create(VerifierOptions options);

  ~Verifier();
  Verifier(const Verifier&) = delete;
  Verifier& operator=(const Verifier&) = delete;

  // `token` is the value after "Bearer " (no scheme).
  VerifyResult verify(std::string_view token);

  // How many JWKS fetches happened (for tests and metrics).
  [[nodiscard]] std::uint64_t fetch_count() const;

 private:
  struct Impl;
  explicit Verifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace gatehouse
