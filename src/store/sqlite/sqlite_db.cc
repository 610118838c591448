#include "store/sqlite/sqlite_db.h"

#include <spdlog/spdlog.h>

namespace gh::store::sqlite {

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  StoreError code = StoreError::Internal;
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    code = StoreError::Conflict;
  } else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
    code = StoreError::NotFound;  // the row refers to one that does not exist (any more)
  } else {
    switch (rc & 0xff) {
      case SQLITE_BUSY:
      case SQLITE_LOCKED:
        code = StoreError::Busy;
        break;
      case SQLITE_CANTOPEN:
      case SQLITE_IOERR:
        code = StoreError::Unavailable;
        break;
      default:
        break;
    }
  }
  // SQLite's messages name tables and columns, never bound values, so they are
  // safe to log; a duplicate is routine (an email already taken), and so is a
  // missing parent (a user deleted during a login), hence debug.
  const char* msg = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  if (code == StoreError::Conflict || code == StoreError::NotFound) {
    spdlog::debug("sqlite: {}: {} (code {})", what, msg, rc);
  } else {
    spdlog::warn("sqlite: {}: {} (code {})", what, msg, rc);
  }
  return Error{make_error_code(code), {}};
}

// --- Statement ---

Statement::~Statement() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

int Statement::bind_one(int index, std::string_view v) {
  // SQLITE_TRANSIENT copies: the caller's string need not outlive the bind.
  return sqlite3_bind_text64(stmt_, index, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

int Statement::bind_one(int index, std::int64_t v) { return sqlite3_bind_int64(stmt_, index, v); }

Result<bool> Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return fail(error(rc));
}

std::string Statement::column_text(int col) const {
  const auto* text = sqlite3_column_text(stmt_, col);
  const int size = sqlite3_column_bytes(stmt_, col);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)};
}

Error Statement::error(int rc) const {
  return sqlite_error(conn_->handle(), rc, sqlite3_sql(stmt_));
}

// --- Connection ---

Result<std::unique_ptr<Connection>> Connection::open(const std::string& path, int flags,
                                                     int busy_timeout_ms) {
  sqlite3* db = nullptr;
  // NOMUTEX: Database hands a connection to one thread at a time, so SQLite's
  // own per-connection mutex would only add cost.
  const int rc = sqlite3_open_v2(path.c_str(), &db,
                                 flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE, nullptr);
  if (rc != SQLITE_OK) {
    // The path may name a user's file layout but no secret.
    spdlog::warn("sqlite: cannot open {}: {}", path,
                 db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close_v2(db);
    return fail(StoreError::Unavailable);
  }
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return std::unique_ptr<Connection>(new Connection(db));
}

Connection::~Connection() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close_v2(db_);
}

Status Connection::exec(const char* sql) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail(sqlite_error(db_, rc, sql));
  return {};
}

Result<Statement> Connection::prepare(std::string_view sql) {
  if (const auto it = cache_.find(sql); it != cache_.end()) return Statement(*this, it->second);
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return fail(sqlite_error(db_, rc, sql));
  cache_.emplace(std::string(sql), stmt);
  return Statement(*this, stmt);
}

// --- Database ---

namespace {

// Every connection enforces foreign keys (they are per-connection in SQLite
// and off by default), which the ON DELETE CASCADE of dependent tables needs.
Result<std::unique_ptr<Connection>> open_writer(const Target& target, const StoreOptions& options) {
  auto conn = Connection::open(target.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                               options.busy_timeout_ms);
  if (!conn) return conn;
  // WAL: readers never block the writer nor the writer them. NORMAL is
  // durable across application crashes in WAL mode; only an OS crash or power
  // loss can lose the last commits (https://sqlite.org/pragma.html#pragma_synchronous).
  const char* setup = target.in_memory ? "PRAGMA foreign_keys=ON"
                                       : "PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; "
                                         "PRAGMA synchronous=NORMAL";
  if (auto s = (*conn)->exec(setup); !s) return fail(StoreError::Unavailable);
  return conn;
}

Result<std::unique_ptr<Connection>> open_reader(const Target& target, const StoreOptions& options) {
  auto conn = Connection::open(target.path, SQLITE_OPEN_READWRITE, options.busy_timeout_ms);
  if (!conn) return conn;
  // query_only turns an accidental write through a reader into an error.
  if (auto s = (*conn)->exec("PRAGMA foreign_keys=ON; PRAGMA query_only=ON"); !s) {
    return fail(StoreError::Unavailable);
  }
  return conn;
}

}  // namespace

Result<std::unique_ptr<Database>> Database::open(const Target& target,
                                                 const StoreOptions& options) {
  auto db = std::make_unique<Database>();
  auto writer = open_writer(target, options);
  if (!writer) return fail(writer.error());
  db->writer_ = std::move(*writer);
  if (target.in_memory) return db;
  const std::size_t readers = std::max<std::size_t>(options.pool_size, 1);
  for (std::size_t i = 0; i < readers; ++i) {
    auto reader = open_reader(target, options);
    if (!reader) return fail(reader.error());
    db->idle_readers_.push_back(std::move(*reader));
  }
  db->readers_total_ = readers;
  return db;
}

Database::Lease::Lease(Database& d) : db(d) {
  std::unique_lock lock(db.readers_mu_);
  db.reader_free_.wait(lock, [&] { return !db.idle_readers_.empty(); });
  conn = std::move(db.idle_readers_.back());
  db.idle_readers_.pop_back();
}

Database::Lease::~Lease() {
  {
    std::lock_guard lock(db.readers_mu_);
    db.idle_readers_.push_back(std::move(conn));
  }
  db.reader_free_.notify_one();
}

}  // namespace gh::store::sqlite
