// An in-process SessionStore that stands alone: no Store, no users table (any
// user_id is accepted, and deleting a user does not reach it). For unit tests
// of the services above the store, and for a single-instance server that
// keeps sessions in memory (they do not survive a restart and are not shared
// between instances). Persistent sessions: Store::sessions() (SQLite,
// PostgreSQL) or open_redis_session_store(). Thread-safe.
#pragma once

#include <memory>

#include "store/session_store.h"

namespace gh::store {

[[nodiscard]] std::unique_ptr<SessionStore> make_memory_session_store();

}  // namespace gh::store
