// SQLite plumbing for the SQLite backend: a connection with its cache of
// prepared statements, a statement cursor that binds parameters, the mapping
// of SQLite result codes to StoreError, and Database, which owns one writer
// connection and a pool of reader connections.
//
// Thread-safety: Connection and Statement are not thread-safe; Database lends
// each connection to one thread at a time (read() and write() below).
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/store.h"

namespace gh::store::sqlite {

// Maps a failed call's result code (extended codes are enabled) to a
// StoreError, logging SQLite's message. The returned detail is generic.
[[nodiscard]] Error sqlite_error(sqlite3* db, int rc, std::string_view what);

class Connection;

// A cached prepared statement checked out of a Connection. Destroying it
// resets the statement and clears its bindings, ready for the next use.
class Statement {
 public:
  Statement(Connection& conn, sqlite3_stmt* stmt) : conn_(&conn), stmt_(stmt) {}
  Statement(Statement&& other) noexcept
      : conn_(other.conn_), stmt_(std::exchange(other.stmt_, nullptr)) {}
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement& operator=(Statement&&) = delete;
  ~Statement();

  // Binds args to ?1..?N. Accepts string_view, std::int64_t, bool, Seconds and
  // std::optional<Seconds> (nullopt binds NULL).
  template <class... Args>
  [[nodiscard]] Status bind(const Args&... args) {
    int index = 0;
    int rc = SQLITE_OK;
    ((rc = rc == SQLITE_OK ? bind_one(++index, args) : rc), ...);
    if (rc != SQLITE_OK) return fail(error(rc));
    return {};
  }
  // true: a row is available; false: the statement has finished.
  [[nodiscard]] Result<bool> step();

  [[nodiscard]] std::int64_t column_int(int col) const { return sqlite3_column_int64(stmt_, col); }
  [[nodiscard]] std::string column_text(int col) const;
  [[nodiscard]] bool column_is_null(int col) const {
    return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
  }

 private:
  int bind_one(int index, std::string_view v);
  // Without this, a string literal would convert to bool, not string_view.
  int bind_one(int index, const char* v) { return bind_one(index, std::string_view(v)); }
  int bind_one(int index, std::int64_t v);
  int bind_one(int index, bool v) { return bind_one(index, std::int64_t{v ? 1 : 0}); }
  int bind_one(int index, Seconds v) {
    return bind_one(index, std::int64_t{v.time_since_epoch().count()});
  }
  int bind_one(int index, const std::optional<Seconds>& v) {
    return v ? bind_one(index, *v) : sqlite3_bind_null(stmt_, index);
  }
  [[nodiscard]] Error error(int rc) const;

  Connection* conn_;
  sqlite3_stmt* stmt_;
};

// One sqlite3 handle and its prepared statements (SQLITE_PREPARE_PERSISTENT,
// kept until the connection closes).
class Connection {
 public:
  // Opens `path` (a file name or ":memory:") with sqlite3_open_v2 `flags`
  // and sets the busy timeout. Unavailable if it cannot be opened.
  [[nodiscard]] static Result<std::unique_ptr<Connection>> open(const std::string& path, int flags,
                                                                int busy_timeout_ms);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Runs SQL text without parameters (PRAGMAs, DDL, BEGIN/COMMIT); may hold
  // several statements. Never pass values in `sql`: use prepare() + bind().
  [[nodiscard]] Status exec(const char* sql);
  // The cached statement for `sql`, preparing it on first use.
  [[nodiscard]] Result<Statement> prepare(std::string_view sql);
  // Rows changed by the last INSERT/UPDATE/DELETE on this connection.
  [[nodiscard]] std::int64_t changes() const { return sqlite3_changes64(db_); }
  [[nodiscard]] sqlite3* handle() const { return db_; }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*, Hash, std::equal_to<>> cache_;
};

// ---- Statement helpers shared by the stores of this backend ----

[[nodiscard]] inline Seconds to_seconds(std::int64_t v) { return Seconds{std::chrono::seconds{v}}; }

// Runs a statement that returns no rows; the number of rows it changed.
template <class... Args>
[[nodiscard]] Result<std::int64_t> run(Connection& c, std::string_view sql, const Args&... args) {
  auto st = c.prepare(sql);
  if (!st) return fail(st.error());
  if (auto bound = st->bind(args...); !bound) return fail(bound.error());
  if (auto done = st->step(); !done) return fail(done.error());
  return c.changes();
}

// Runs a query whose first row holds one integer.
template <class... Args>
[[nodiscard]] Result<std::int64_t> query_int(Connection& c, std::string_view sql,
                                             const Args&... args) {
  auto st = c.prepare(sql);
  if (!st) return fail(st.error());
  if (auto bound = st->bind(args...); !bound) return fail(bound.error());
  auto row = st->step();
  if (!row) return fail(row.error());
  if (!*row) return fail(StoreError::Internal, "query returned no row");
  return st->column_int(0);
}

// Runs a query and converts its first row with read(const Statement&).
// NotFound if there is no row.
template <class Read, class... Args>
[[nodiscard]] auto query_one(Connection& c, std::string_view sql, Read read, const Args&... args)
    -> Result<decltype(read(std::declval<const Statement&>()))> {
  auto st = c.prepare(sql);
  if (!st) return fail(st.error());
  if (auto bound = st->bind(args...); !bound) return fail(bound.error());
  auto row = st->step();
  if (!row) return fail(row.error());
  if (!*row) return fail(StoreError::NotFound);
  return read(*st);
}

// Runs a query and converts every row with read(const Statement&).
template <class Read, class... Args>
[[nodiscard]] auto query_all(Connection& c, std::string_view sql, Read read, const Args&... args)
    -> Result<std::vector<decltype(read(std::declval<const Statement&>()))>> {
  auto st = c.prepare(sql);
  if (!st) return fail(st.error());
  if (auto bound = st->bind(args...); !bound) return fail(bound.error());
  std::vector<decltype(read(std::declval<const Statement&>()))> out;
  while (true) {
    auto row = st->step();
    if (!row) return fail(row.error());
    if (!*row) return out;
    out.push_back(read(*st));
  }
}

// NotFound if the statement `changed` no row.
[[nodiscard]] inline Status expect_one_row(Result<std::int64_t> changed) {
  if (!changed) return fail(changed.error());
  if (*changed == 0) return fail(StoreError::NotFound);
  return {};
}

// Runs f() inside BEGIN IMMEDIATE ... COMMIT on `conn`; rolls back if f or the
// commit fails. IMMEDIATE takes the write lock up front, so a second process
// waits on busy_timeout instead of failing on a read-to-write upgrade.
template <class F>
auto transaction(Connection& conn, F&& f) -> decltype(f()) {
  if (auto begun = conn.exec("BEGIN IMMEDIATE"); !begun) return fail(begun.error());
  auto result = f();
  if (!result) {
    (void)conn.exec("ROLLBACK");
    return result;
  }
  if (auto committed = conn.exec("COMMIT"); !committed) {
    (void)conn.exec("ROLLBACK");
    return fail(committed.error());
  }
  return result;
}

// Where the data lives: a file, or one private in-memory database.
struct Target {
  std::string path;  // file name, or ":memory:"
  bool in_memory = false;
};

// The connections of one SQLite database. Writes are serialised on a single
// writer connection (SQLite allows one writer at a time anyway, and queueing
// on a mutex is fairer and cheaper than retrying on SQLITE_BUSY); reads go to
// a pool of `pool_size` read-only connections, which WAL lets run alongside the
// writer. An in-memory database is private to its connection, so then every
// call uses the writer.
class Database {
 public:
  // Unavailable if the file or its directory cannot be opened or created.
  [[nodiscard]] static Result<std::unique_ptr<Database>> open(const Target& target,
                                                              const StoreOptions& options);

  // Calls f(Connection&) on a reader, waiting for one to be free.
  template <class F>
  auto read(F&& f) -> decltype(f(std::declval<Connection&>())) {
    if (readers_total_ == 0) return write(std::forward<F>(f));
    Lease lease(*this);
    return f(*lease.conn);
  }
  // Calls f(Connection&) on the writer, waiting for it to be free.
  template <class F>
  auto write(F&& f) -> decltype(f(std::declval<Connection&>())) {
    std::lock_guard lock(writer_mu_);
    return f(*writer_);
  }

 private:
  struct Lease {
    explicit Lease(Database& db);
    ~Lease();
    Database& db;
    std::unique_ptr<Connection> conn;
  };

  std::mutex writer_mu_;
  std::unique_ptr<Connection> writer_;  // GUARDED_BY(writer_mu_)
  std::mutex readers_mu_;
  std::condition_variable reader_free_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;  // GUARDED_BY(readers_mu_)
  std::size_t readers_total_ = 0;
};

}  // namespace gh::store::sqlite
