// Backends for the store conformance suites. Each test gets a Harness that
// owns a fresh, empty database for that test alone and removes it afterwards:
//   memory    a new in-memory store per open() (data is not shared)
//   sqlite    a file in a new temporary directory
//   postgres  CREATE DATABASE gh_test_<random> on the server whose URL is in
//             $GH_TEST_POSTGRES_URL or else the file GH_PG_URL_FILE (written by
//             the postgres_start CTest fixture); DROP DATABASE afterwards.
// A missing PostgreSQL server is a test failure, never a skip.
//
// Adding a backend: write its Harness and add one line to all_backends().
//
// Session stores (store/session_store.h) have their own list, since the Redis
// one is not a Store: memory, sqlite and postgres are Store::sessions() of a
// migrated Store as above; memory_alone is make_memory_session_store(); redis
// is open_redis_session_store on a database of its own on the server whose URL
// is in $GH_TEST_REDIS_URL or else the file GH_REDIS_URL_FILE (the redis_start
// CTest fixture). A missing Redis server is a test failure too.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/store.h"

namespace gh::store::testing {

class Harness {
 public:
  virtual ~Harness() = default;
  // Creates the test's database. Reports failures with gtest ASSERTs: the
  // caller checks ::testing::Test::HasFatalFailure() afterwards.
  virtual void set_up() {}
  // A new Store on the test's database, not migrated.
  [[nodiscard]] virtual Result<std::unique_ptr<Store>> open(const StoreOptions& options = {}) = 0;
  // The URL open() uses.
  [[nodiscard]] virtual std::string url() const = 0;
};

struct Backend {
  std::string name;
  std::function<std::unique_ptr<Harness>()> make;
  // Two open() calls reach the same data, which outlives each Store.
  bool shared = false;
};

// Every backend; the conformance suites are instantiated over these.
[[nodiscard]] const std::vector<Backend>& all_backends();
// Those with Backend::shared set (persistence, several Stores on one database).
[[nodiscard]] std::vector<Backend> shared_backends();
// The backend called `name`; aborts the test run if there is none.
[[nodiscard]] const Backend& backend_named(const std::string& name);

// Prints the backend's name: gtest shows it as the parameter and CMake's
// gtest_discover_tests turns ".../<index>  # GetParam() = sqlite" into the CTest
// name ".../sqlite". (A gtest name generator would leave that comment in
// the CTest name, so instances keep gtest's numeric suffix.)
inline void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

// The URL of the PostgreSQL server tests create their databases on, or
// nullopt if none was configured.
[[nodiscard]] std::optional<std::string> postgres_server_url();

// `url` (a postgres:// URI) with its database replaced by `database`.
[[nodiscard]] std::string with_database(const std::string& url, const std::string& database);

// A new Store on `harness`'s database, migrated. ADD_FAILURE and null if not.
[[nodiscard]] std::unique_ptr<Store> open_migrated(Harness& harness,
                                                   const StoreOptions& options = {});

// ---- Session stores ----

class SessionHarness {
 public:
  virtual ~SessionHarness() = default;
  // Creates the test's empty database and opens the session store on it.
  // Reports failures with gtest ASSERTs: the caller checks HasFatalFailure().
  virtual void set_up() = 0;
  [[nodiscard]] virtual SessionStore& sessions() = 0;
  // The Store that holds the sessions (and the users they reference), or
  // null if the session store stands alone (Redis: no users, no cascade).
  [[nodiscard]] virtual Store* store() = 0;
  // The URL the session store was opened with.
  [[nodiscard]] virtual std::string url() const = 0;
};

struct SessionBackend {
  std::string name;
  std::function<std::unique_ptr<SessionHarness>()> make;
  // Part of a Store: sessions reference users (foreign key, cascade) and purge deletes.
  bool in_store = true;
};
inline void PrintTo(const SessionBackend& backend, std::ostream* os) { *os << backend.name; }

// Every session store backend: memory, sqlite, postgres, memory_alone, redis.
[[nodiscard]] const std::vector<SessionBackend>& all_session_backends();
// Those with SessionBackend::in_store set.
[[nodiscard]] std::vector<SessionBackend> in_store_session_backends();
// The session backend called `name`; aborts the test run if there is none.
[[nodiscard]] const SessionBackend& session_backend_named(const std::string& name);

// The URL (redis://127.0.0.1:PORT) of the Redis server tests use, or nullopt.
[[nodiscard]] std::optional<std::string> redis_server_url();

}  // namespace gh::store::testing
