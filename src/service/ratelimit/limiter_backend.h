// LimiterBackend: where the GCRA state of each rate-limit key lives, and the
// one place that applies core/ratelimit's steps to it atomically.
//
//   local  an in-process, sharded hash map (the single-instance default):
//          non-blocking, thread-safe, bounded (see LocalOptions).
//   redis  one Redis string per key, updated by a Lua script (EVALSHA, EVAL
//          when the server lost its script cache): atomic and one round trip,
//          so every instance sharing the Redis shares the limits. Blocking
//          (hiredis): call it from a worker pool, never an I/O thread.
//
// Both return exactly what core/ratelimit computes (the conformance suite in
// tests/conformance/limiter_backend_conformance_test.cc runs against both).
// Keys are opaque text chosen by the caller; backends never log them.
// Thread-safety: every method may be called from any thread.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

#include "core/base/result.h"
#include "core/ratelimit/gcra.h"

namespace gh::service {

class LimiterBackend {
 public:
  virtual ~LimiterBackend() = default;

  // Counts one request for `key` at `now` (ratelimit::acquire on the stored
  // state) and returns the step. Errors (redis only): store::StoreError
  // Unavailable (unreachable, timed out), Busy, Internal.
  [[nodiscard]] virtual Result<ratelimit::Step> acquire(std::string_view key, const ratelimit::Policy& p,
                                                        ratelimit::Time now) = 0;
  // Gives one request back (ratelimit::refund). Errors as acquire.
  [[nodiscard]] virtual Status refund(std::string_view key, const ratelimit::Policy& p, ratelimit::Time now) = 0;

  // True if calls do network I/O (call them off the I/O threads).
  [[nodiscard]] virtual bool blocking() const = 0;
  // "local" or "redis".
  [[nodiscard]] virtual std::string_view name() const = 0;
  // Whether the backend can serve requests now (redis: PING). Errors as acquire.
  [[nodiscard]] virtual Status ping() = 0;
  // Drops keys back at rest at `now` (local; redis keys expire by themselves).
  virtual void prune(ratelimit::Time now) = 0;
  // Keys held in process memory (local; 0 for redis).
  [[nodiscard]] virtual std::size_t size() const = 0;
};

struct LocalOptions {
  std::size_t shards = 16;         // independent locks; keys spread by hash
  std::size_t max_keys = 100'000;  // across all shards. A full shard first drops the keys
                                   // back at rest; if that frees too little it evicts the
                                   // keys nearest to rest (the least restrictive state).
};

[[nodiscard]] std::unique_ptr<LimiterBackend> make_local_backend(LocalOptions options = {});

// Opens `pool_size` connections to redis://[:password@]host:port[/db]; keys
// are prefixed "gh:rl:" and expire when back at rest. Errors:
// store::StoreError::BadUrl, Unavailable.
[[nodiscard]] Result<std::unique_ptr<LimiterBackend>> open_redis_backend(std::string_view url, std::size_t pool_size);

}  // namespace gh::service
