// The Redis session store (store/session_store.h, open_redis_session_store),
// for deployments with many server instances that share sessions without
// loading the main database with a write per request.
//
// Data model (Redis >= 7.0; one node or a primary, not Redis Cluster: the
// scripts derive keys from stored values):
//   gh:s:<id_hash>  a hash with the Session fields (times as unix seconds),
//                   EXPIREAT min(idle_expires_at, expires_at), so Redis deletes
//                   a session by itself once either deadline passes; touch
//                   moves it with the idle deadline.
//   gh:u:<user_id>  a set of the user's id_hashes, EXPIREAT the latest
//                   expires_at of its sessions; ids whose hash is gone are
//                   dropped when the set is next listed.
// Writes that touch both keys, or check before they write, are Lua scripts
// (EVAL): atomic, one round trip each.
//
// Times: the deadlines decide twice. find/touch/list compare them with the
// caller's `now` (a fake clock in tests works), and Redis compares them with
// its own clock when it expires keys; in production both are real time.
//
// Users: Redis knows no users table. create_session accepts any user_id, and
// deleting a user does not reach these keys: the service deletes the user's
// sessions (delete_user_sessions), and whatever it misses expires by itself.
//
// Failures: a connection the server closed (restart, idle timeout) or that
// failed is replaced by a new one before the call; a read or an idempotent
// write that fails on a dropped connection is retried once on a new one.
// Connect and command timeouts are 2 s each. Unavailable if Redis cannot be
// reached; Busy if a script is running too long on the server.
//
// Thread-safety: every method may be called from many threads; each borrows
// one of `pool_size` connections, waiting while all are busy.
#pragma once

#include <string_view>

#include "store/session_store.h"

namespace gh::store::redis {

// Key prefixes, for tests and operators (redis-cli --scan --pattern 'gh:s:*').
inline constexpr std::string_view kSessionKeyPrefix = "gh:s:";
inline constexpr std::string_view kUserKeyPrefix = "gh:u:";

}  // namespace gh::store::redis
