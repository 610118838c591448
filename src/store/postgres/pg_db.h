// libpq plumbing for the PostgreSQL backend: query results, parameterised
// execution, the mapping of SQLSTATEs to StoreError, and a blocking pool of
// connections.
//
// Thread-safety: a PGconn is used by one thread at a time; Pool::run lends
// each connection out exclusively. Pool itself is thread-safe.
#pragma once

#include <libpq-fe.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace gh::store::postgres {

// A finished query's rows (text format). Owns the PGresult.
class Rows {
 public:
  explicit Rows(PGresult* r) : r_(r) {}
  [[nodiscard]] int size() const { return PQntuples(r_.get()); }
  // Rows changed by INSERT/UPDATE/DELETE.
  [[nodiscard]] std::int64_t affected() const;
  [[nodiscard]] std::string text(int row, int col) const;
  [[nodiscard]] std::int64_t int64(int row, int col) const;
  [[nodiscard]] bool boolean(int row, int col) const;
  [[nodiscard]] bool is_null(int row, int col) const {
    return PQgetisnull(r_.get(), row, col) != 0;
  }

 private:
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> r_;
};

// Parameters travel separately from the SQL text (PQexecParams), in text
// form; nullopt is SQL NULL.
using Param = std::optional<std::string>;
inline std::string to_param(std::string_view v) { return std::string(v); }
inline std::string to_param(const char* v) { return std::string(v); }  // not bool
inline std::string to_param(std::int64_t v) { return std::to_string(v); }
inline std::string to_param(bool v) { return v ? "true" : "false"; }
inline std::string to_param(Seconds v) { return std::to_string(v.time_since_epoch().count()); }
inline Param to_param(const std::optional<Seconds>& v) {
  return v ? Param(to_param(*v)) : std::nullopt;
}

[[nodiscard]] inline Seconds to_seconds(std::int64_t v) { return Seconds{std::chrono::seconds{v}}; }

// Runs one statement with $1..$N bound to `params`. Logs the failure and maps
// it: see pg_error().
[[nodiscard]] Result<Rows> exec_params(PGconn* conn, const char* sql,
                                       const std::vector<Param>& params);

template <class... Args>
[[nodiscard]] Result<Rows> exec(PGconn* conn, const char* sql, const Args&... args) {
  return exec_params(conn, sql, std::vector<Param>{to_param(args)...});
}

// NotFound if the statement `changed` no row.
[[nodiscard]] inline Status expect_one_row(Result<Rows> changed) {
  if (!changed) return fail(changed.error());
  if (changed->affected() == 0) return fail(StoreError::NotFound);
  return {};
}

// Runs SQL text without parameters (may hold several statements: migrations,
// BEGIN/COMMIT). Never put values into `sql`.
[[nodiscard]] Status exec_script(PGconn* conn, const char* sql);

// SQLSTATE 23505 (unique_violation) -> Conflict; 23503 (foreign_key_violation)
// -> NotFound; a lost connection or class 08
// -> Unavailable; 40001/40P01/55P03 (serialization, deadlock, lock timeout) ->
// Busy; anything else -> Internal. `result` may be null.
[[nodiscard]] Error pg_error(PGconn* conn, const PGresult* result, std::string_view what);

// Runs f() inside BEGIN ... COMMIT on `conn`, rolling back if f or the commit fails.
template <class F>
auto transaction(PGconn* conn, F&& f) -> decltype(f()) {
  if (auto begun = exec_script(conn, "BEGIN"); !begun) return fail(begun.error());
  auto result = f();
  if (!result) {
    (void)exec_script(conn, "ROLLBACK");
    return result;
  }
  if (auto committed = exec_script(conn, "COMMIT"); !committed) return fail(committed.error());
  return result;
}

// Pool::run's `idempotent` argument: a read may be retried once on a dropped
// connection; a write may not (the server may have committed it).
inline constexpr bool kIdempotent = true;
inline constexpr bool kWrite = false;

// `size` connections opened up front; run() blocks until one is free.
class Pool {
 public:
  // Each connection's lock_timeout is busy_timeout_ms unless the URL sets
  // `options`. BadUrl if libpq cannot parse `url`; Unavailable if a
  // connection fails.
  [[nodiscard]] static Result<std::unique_ptr<Pool>> open(std::string_view url, std::size_t size,
                                                          int busy_timeout_ms);
  Pool() = default;
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;
  ~Pool();

  // Calls f(PGconn*) on a free connection. A connection found broken is
  // reset (PQreset) once; Unavailable if that fails. If `idempotent`, a call
  // that fails because the connection dropped (e.g. the server restarted
  // while it sat idle) is retried once on the reset connection. Writes pass
  // false: the server may have committed before the connection died.
  template <class F>
  auto run(bool idempotent, F&& f) -> decltype(f(static_cast<PGconn*>(nullptr))) {
    Lease lease(*this);
    if (!ensure_connected(lease.conn)) return fail(StoreError::Unavailable);
    auto result = f(lease.conn);
    if (!result && idempotent && PQstatus(lease.conn) != CONNECTION_OK &&
        ensure_connected(lease.conn)) {
      result = f(lease.conn);
    }
    return result;
  }

 private:
  struct Lease {
    explicit Lease(Pool& p);
    ~Lease();
    Pool& pool;
    PGconn* conn;
  };
  static bool ensure_connected(PGconn* conn);

  std::mutex mu_;
  std::condition_variable free_;
  std::vector<PGconn*> idle_;  // GUARDED_BY(mu_)
  std::vector<PGconn*> all_;   // every connection, closed by ~Pool
};

}  // namespace gh::store::postgres
