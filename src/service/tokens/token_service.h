// TokenService: access tokens (RFC 9068 JWTs) and rotating refresh tokens.
//
// Refresh tokens are opaque, 256-bit, stored only as SHA-256, grouped in a
// family per sign-in. Rotation is the store's atomic compare-and-swap. The
// child of a token is derived, not random: child = HMAC(k_refresh, parent),
// with k_refresh a KEK subkey. So when a client replays the *immediate
// parent* within the grace window (two tabs, a retried request), we can hand
// back the very same child without storing any plaintext — there are never
// two live branches. Any older token, or the parent after the window, is
// reuse: the whole family is revoked and an audit event emitted.
//
// Access-token checks never touch the store on the hot path: a bounded cache
// of verified tokens (keyed by the whole token, never outliving exp) plus an
// in-process revocation set (denied jti and per-user "not before") that
// sync_revocations() refreshes from the store; a revocation therefore reaches
// every instance within tokens.revocation_poll_ms (and at once locally).
//
// Thread-safe. Blocking methods (anything touching the store) run on a
// worker pool; verify_access() only does CPU work and cache lookups.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/base/clock.h"
#include "core/base/random.h"
#include "core/base/secret.h"
#include "core/base/string_hash.h"
#include "core/crypto/seal.h"
#include "service/common/audit.h"
#include "service/tokens/key_manager.h"
#include "store/store.h"

namespace gh::service {

enum class TokenError : std::uint8_t {
  InvalidToken = 1,     // the access token is malformed, badly signed, or not for us
  TokenExpired,         // the access token's exp has passed
  TokenRevoked,         // the access token was revoked (logout, logout-all, password change)
  InvalidRefresh,       // the refresh token is unknown, revoked, or its user is gone/disabled
  RefreshExpired,       // the refresh token's lifetime has passed
  RefreshReused,        // a rotated refresh token was replayed: the family is now revoked
};
GH_DECLARE_ERROR_CATEGORY(TokenError)

struct TokenConfig {
  std::string issuer;
  std::string audience;
  std::chrono::seconds access_ttl{900};
  std::chrono::seconds refresh_ttl{7 * 24 * 3600};        // idle: renewed on every rotation
  std::chrono::seconds refresh_absolute_ttl{30 * 24 * 3600};  // a family never outlives auth_time + this
  std::chrono::seconds refresh_grace{10};
  std::chrono::seconds leeway{30};
  std::size_t cache_entries = 10000;
};

struct IssuedTokens {
  std::string access_token;
  std::chrono::seconds expires_in{};
  SecretString refresh_token;
  Seconds refresh_expires_at{};
  std::string family_id;
};

// What a verified access token says.
struct AccessClaims {
  std::string sub;        // user id
  std::string jti;
  std::string sid;        // refresh family id ("session" in the OIDC sense)
  std::string client_id;
  std::string tenant;     // set on a tenant-scoped token (POST /v1/token/tenant)
  std::string role;       // the caller's role in `tenant` when the token was issued
  std::string amr;        // how the user authenticated (RFC 8176), space-separated, e.g. "pwd otp mfa"
  Seconds iat{}, exp{}, auth_time{};
};

// The tenant a token is issued for, and the holder's role there (docs/authz.md).
struct TenantClaims {
  std::string tenant;
  std::string role;
};

class TokenService {
 public:
  TokenService(store::Store& store, KeyManager& keys, const crypto::Kek& kek, Clock& clock, Random& rng,
               AuditSink& audit, TokenConfig config);

  // A new family for a fresh sign-in (auth_time zero = now). Errors: KeyError::NoActiveKey,
  // StoreError. `amr`: how the user authenticated (RFC 8176, space-separated), carried by every
  // token of the family. `login`: when these tokens complete a sign-in, the subject of the
  // `user.login` success event, audited only once they are issued.
  [[nodiscard]] Result<IssuedTokens> issue(const store::User& user, Seconds auth_time,
                                           std::string_view client_id, std::string_view amr,
                                           const RequestMeta& meta, std::string_view login = {});
  // Rotates `refresh_token` (see the header comment). Errors: InvalidRefresh,
  // RefreshExpired, RefreshReused, AccountError::Disabled, StoreError.
  [[nodiscard]] Result<IssuedTokens> refresh(const SecretString& refresh_token, const RequestMeta& meta);
  // Verifies a bearer token: signature, claims, revocation. No store access.
  // Errors: InvalidToken, TokenExpired, TokenRevoked.
  [[nodiscard]] Result<AccessClaims> verify_access(std::string_view token);

  // Revokes the family (from the refresh token if given, else the access token's sid)
  // and denylists the access token's jti until its exp.
  [[nodiscard]] Status logout(const SecretString* refresh_token, const AccessClaims* access, const RequestMeta& meta);
  // Revokes every family of the user and the access tokens of those families.
  [[nodiscard]] Status logout_all(std::string_view user_id, const RequestMeta& meta);
  // Revokes every family of the user except `keep_family`, with their access
  // tokens (by sid). For password changes.
  [[nodiscard]] Status revoke_others(std::string_view user_id, std::string_view keep_family, std::string_view reason,
                                     const RequestMeta& meta);
  // Denylists one access token (by jti) until its exp.
  [[nodiscard]] Status deny_access(std::string_view jti, Seconds exp);
  // Revokes everything the user holds: every family, and every access token
  // issued before now (by subject). For disable and delete.
  [[nodiscard]] Status revoke_user(std::string_view user_id, std::string_view reason, const RequestMeta& meta);
  // Mints a new access token in an existing family (after a password change).
  // With `tenant` set, the token carries the `tenant` and `role` claims. auth_time zero = now.
  // `not_after` (when set) caps exp: a token minted from another token never outlives it.
  [[nodiscard]] Result<std::string> mint_access(const store::User& user, std::string_view family_id, Seconds auth_time,
                                                std::string_view client_id, std::string_view amr,
                                                const TenantClaims& tenant = {},
                                                Seconds not_after = {});

  // Reloads the revocation set from the store (background, every poll interval).
  [[nodiscard]] Status sync_revocations();
  // Deletes expired refresh tokens and denylist rows. Returns rows deleted.
  [[nodiscard]] Result<std::int64_t> purge();

  [[nodiscard]] const TokenConfig& config() const { return cfg_; }
  [[nodiscard]] std::size_t cache_size_for_test() const;

 private:
  struct Revocations {
    std::unordered_set<std::string> jtis;
    std::unordered_map<std::string, Seconds> not_before;  // user id -> tokens with iat < this are revoked
  };
  struct LocalDenial {
    std::string jti, user;
    Seconds not_before{}, at{};
  };
  struct CachedClaims {
    AccessClaims claims;
    std::uint64_t generation;  // KeySnapshot generation it was verified under
  };
  struct CacheShard {
    std::mutex mu;
    std::unordered_map<std::string, CachedClaims, StringHash, std::equal_to<>> map;  // GUARDED_BY(mu)
  };
  static constexpr std::size_t kShards = 16;

  [[nodiscard]] bool revoked(const AccessClaims& c) const;
  [[nodiscard]] Status deny_families(const std::vector<std::string>& families);
  void deny_locally(const std::string* jti, const std::string* user, Seconds not_before);
  [[nodiscard]] std::string child_of(std::string_view parent) const;
  [[nodiscard]] Result<IssuedTokens> pair_for(const store::User& user, const store::RefreshToken& row,
                                              std::string refresh_plain);
  void audit(std::string action, std::string result, std::string actor, std::string subject, const RequestMeta& meta);

  store::Store& store_;
  KeyManager& keys_;
  Clock& clock_;
  Random& rng_;
  AuditSink& audit_;
  TokenConfig cfg_;
  SecretString refresh_key_;  // KEK subkey for deriving child refresh tokens

  mutable std::shared_mutex rev_mu_;
  Revocations rev_;                  // GUARDED_BY(rev_mu_)
  std::vector<LocalDenial> recent_;  // GUARDED_BY(rev_mu_)
  mutable std::array<CacheShard, kShards> cache_;
};

// Lowercase hex SHA-256 of a token: how tokens are stored and looked up.
[[nodiscard]] std::string token_hash(std::string_view token);

}  // namespace gh::service

template <>
struct std::is_error_code_enum<gh::service::TokenError> : std::true_type {};
