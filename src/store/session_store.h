// Browser sessions: server-side state behind an opaque cookie.
//
// The cookie holds a random session id (>= 256 bits); the store holds only
// its hex SHA-256 (`id_hash`), so a database leak yields no usable cookie.
// Two deadlines: `idle_expires_at` (slides forward on activity) and
// `expires_at` (absolute, never moves). A session past either is gone:
// find_session reports NotFound for it even before purge deletes the row.
//
// Backends: SQLite and PostgreSQL (part of the main Store, `Store::sessions()`)
// and Redis (`open_redis_session_store`, keys with TTLs, for many instances).
// Thread-safe; methods block.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/clock.h"
#include "core/base/result.h"

namespace gh::store {

struct Session {
  std::string id_hash;  // hex SHA-256 of the session id; primary key
  std::string user_id;
  Seconds created_at{};
  Seconds last_seen{};
  Seconds idle_expires_at{};  // sliding deadline
  Seconds expires_at{};       // absolute deadline
  Seconds auth_time{};        // when the user last proved who they are (step-up checks)
  std::string amr;            // authentication methods, space-separated (RFC 8176), e.g. "pwd"
  std::string ip;             // at creation
  std::string user_agent;     // at creation, truncated to 256 bytes by the caller
};

class SessionStore {
 public:
  virtual ~SessionStore() = default;

  // Conflict if the id_hash exists.
  [[nodiscard]] virtual Status create_session(const Session& s) = 0;
  // NotFound if absent or past either deadline at `now`.
  [[nodiscard]] virtual Result<Session> find_session(std::string_view id_hash, Seconds now) = 0;
  // Slides the idle deadline (never beyond expires_at) and records last_seen.
  // NotFound if absent or already expired at `now`.
  [[nodiscard]] virtual Status touch_session(std::string_view id_hash, Seconds now, Seconds idle_expires_at) = 0;
  // Idempotent: deleting an absent session succeeds.
  [[nodiscard]] virtual Status delete_session(std::string_view id_hash) = 0;
  // The user's live sessions at `now`, newest first.
  [[nodiscard]] virtual Result<std::vector<Session>> list_user_sessions(std::string_view user_id, Seconds now) = 0;
  // Deletes every session of the user except `keep_id_hash` (if not empty). Returns how many.
  [[nodiscard]] virtual Result<std::int64_t> delete_user_sessions(std::string_view user_id,
                                                                  std::string_view keep_id_hash) = 0;
  // Deletes sessions past either deadline (Redis expires them itself: returns 0). Returns rows deleted.
  [[nodiscard]] virtual Result<std::int64_t> purge_sessions(Seconds now) = 0;
  // Cheap round trip for /readyz.
  [[nodiscard]] virtual Status ping_sessions() = 0;
};

// Opens a Redis-backed session store: redis://[:password@]host:port[/db].
// Errors: StoreError::BadUrl, StoreError::Unavailable.
[[nodiscard]] Result<std::unique_ptr<SessionStore>> open_redis_session_store(std::string_view url,
                                                                            std::size_t pool_size = 4);

}  // namespace gh::store
