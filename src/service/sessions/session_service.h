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
// Thread-safe; every method that takes a session id blocks on the store.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/base/clock.h"
#include "core/base/random.h"
#include "core/base/secret.h"
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

  // A fresh session for a user who just authenticated with `amr` (e.g. "pwd").
  [[nodiscard]] Result<NewSession> create(std::string_view user_id, std::string_view amr, const RequestMeta& meta);
  // The live session for a cookie value, slid forward if due. Errors: NoSession, StoreError.
  [[nodiscard]] Result<CurrentSession> authenticate(std::string_view cookie_value);
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

 private:
  [[nodiscard]] std::string csrf_for(std::string_view id_hash) const;
  void audit(std::string action, std::string result, std::string actor, std::string subject, const RequestMeta& meta);

  store::SessionStore& sessions_;
  Clock& clock_;
  Random& rng_;
  AuditSink& audit_;
  SessionConfig cfg_;
  SecretString csrf_key_;
};

}  // namespace gh::service

template <>
struct std::is_error_code_enum<gh::service::SessionError> : std::true_type {};
