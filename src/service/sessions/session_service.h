// SessionService: revocable server-side browser sessions.
//
// The browser holds an opaque session id (256 bits) in a __Host- cookie; the
// store holds its SHA-256 only. Each session has an idle deadline that slides
// on activity and an absolute deadline that never moves. Sliding is written
// to the store at most once per `touch_interval`, so a busy session does not
// cost a write per request. A new id is issued at every sign-in and privilege
// change (fixation); the CSRF token of a session is derived from its id
// (HMAC under a KEK subkey), so it needs no storage and dies with the session.
//
// Validated sessions are also kept in a small bounded in-process cache (keyed
// by the id hash) for read-only checks that must not leave the I/O thread
// (authenticate_cached(), e.g. forward-auth). An entry is served for at most
// `cache_ttl` after the store said the session was live, never past its idle
// or absolute deadline, and never when a touch is due; end/revoke/revoke_all
// on this instance evict at once (also an entry whose store read raced with
// them). So a revocation made on another instance (or by the CLI) reaches
// cached checks here within cache_ttl (1 s); authenticate() always asks the
// store. The cache is filled only once authenticate_cached() has been called.
//
// Thread-safe; every method that takes a session id blocks on the store,
// except authenticate_cached() and csrf_ok().
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/base/clock.h"
#include "core/base/random.h"
#include "core/base/secret.h"
#include "core/base/string_hash.h"
#include "core/crypto/seal.h"
#include "service/common/audit.h"
#include "store/session_store.h"

namespace gh::service {

enum class SessionError : std::uint8_t {
  NoSession = 1,  // no cookie, unknown id, or past its idle/absolute deadline
  BadCsrf,        // the CSRF token does not belong to this session
  NotYours,       // the session to revoke belongs to another user (reported as not found)
};
GH_DECLARE_ERROR_CATEGORY(SessionError)

struct SessionConfig {
  std::chrono::seconds idle_timeout{30 * 60};         // NIST 800-63B AAL2: inactivity <= 1 h
  std::chrono::seconds absolute_timeout{12 * 3600};   // NIST 800-63B AAL2: overall <= 24 h
  std::chrono::seconds touch_interval{60};            // how stale last_seen may get before a write
  std::size_t cache_entries{10000};                   // validated sessions kept in process (0: no cache)
  std::chrono::seconds cache_ttl{1};                  // how long a store answer may be reused
};

struct NewSession {
  SecretString id;         // goes into the cookie; never stored, never logged
  std::string csrf_token;  // for forms and the X-CSRF-Token header
  store::Session row;
};

struct CurrentSession {
  store::Session row;
  std::string csrf_token;
};

class SessionService {
 public:
  SessionService(store::SessionStore& sessions, const crypto::Kek& kek, Clock& clock, Random& rng, AuditSink& audit,
                 SessionConfig config);

  // A fresh session for a user who just authenticated with `amr` (e.g. "pwd"). `auth_time`:
  // when that authentication happened if not now (a federated sign-in the provider dated
  // earlier, or did not date: OAuthService's CallbackOutcome::auth_time); never later than now.
  [[nodiscard]] Result<NewSession> create(std::string_view user_id, std::string_view amr,
                                          const RequestMeta& meta,
                                          std::optional<Seconds> auth_time = std::nullopt);
  // Sign-in or privilege change in a browser that may already hold a session
  // (`previous`, may be null): `previous` is ended first, then a fresh session
  // is created, so no copy of the old cookie outlives the change (ASVS 7.2.4).
  // `login`: when this session completes a sign-in, the subject of the
  // `user.login` success event, audited only once the session exists. `auth_time`: as in create().
  [[nodiscard]] Result<NewSession> replace(const CurrentSession* previous, std::string_view user_id,
                                           std::string_view amr, const RequestMeta& meta,
                                           std::string_view login = {},
                                           std::optional<Seconds> auth_time = std::nullopt);
  // The live session for a cookie value, slid forward if due. Errors: NoSession, StoreError.
  // Always asks the store; remembers the answer for authenticate_cached().
  [[nodiscard]] Result<CurrentSession> authenticate(std::string_view cookie_value);
  // Non-blocking (safe on an I/O thread): the session from the in-process
  // cache if the store vouched for it within cache_ttl and no touch is due;
  // otherwise nullopt, and the caller uses authenticate() on a worker.
  [[nodiscard]] std::optional<CurrentSession> authenticate_cached(std::string_view cookie_value) const;
  // True if `token` is the CSRF token of the session with this id (constant time).
  [[nodiscard]] bool csrf_ok(const CurrentSession& s, std::string_view token) const;
  // Ends the session (logout). Idempotent.
  [[nodiscard]] Status end(const CurrentSession& s, const RequestMeta& meta);
  // Ends one of the user's sessions by its public handle (the id hash). Errors: NotYours.
  [[nodiscard]] Status revoke(std::string_view user_id, std::string_view handle, const RequestMeta& meta);
  // Ends every session of the user except `keep_handle`.
  [[nodiscard]] Result<std::int64_t> revoke_all(std::string_view user_id, std::string_view keep_handle,
                                                const RequestMeta& meta);
  [[nodiscard]] Result<std::vector<store::Session>> list(std::string_view user_id);

  [[nodiscard]] const SessionConfig& config() const { return cfg_; }
  [[nodiscard]] std::size_t cache_size_for_test() const;

 private:
  struct Cached {
    CurrentSession session;
    Seconds fresh_until;  // min(store read + cache_ttl, idle deadline, absolute deadline)
  };
  struct CacheShard {
    std::mutex mu;
    std::unordered_map<std::string, Cached, StringHash, std::equal_to<>> map;  // GUARDED_BY(mu)
  };
  static constexpr std::size_t kShards = 16;

  [[nodiscard]] std::string csrf_for(std::string_view id_hash) const;
  [[nodiscard]] std::optional<CurrentSession> cached(std::string_view id_hash, Seconds now) const;
  void remember(const CurrentSession& s, Seconds now, std::uint64_t epoch);
  // Drops cached entries of `user_id` (all, or only `id_hash` if given) except `keep`.
  void evict(std::string_view user_id, std::string_view id_hash, std::string_view keep);
  void audit(std::string action, std::string result, std::string actor, std::string subject, const RequestMeta& meta);

  store::SessionStore& sessions_;
  Clock& clock_;
  Random& rng_;
  AuditSink& audit_;
  SessionConfig cfg_;
  SecretString csrf_key_;
  // Bumped by every eviction: an authenticate() whose store read started
  // before it does not cache its (possibly stale) answer.
  std::atomic<std::uint64_t> epoch_{0};
  mutable std::atomic<bool> cache_read_{false};  // authenticate_cached() was called: authenticate() fills the cache
  mutable std::array<CacheShard, kShards> cache_;
};

}  // namespace gh::service

template <>
struct std::is_error_code_enum<gh::service::SessionError> : std::true_type {};
