#include "store/postgres/pg_db.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <spdlog/spdlog.h>

namespace gh::store::postgres {

// --- Rows ---

std::int64_t Rows::affected() const {
  const char* n = PQcmdTuples(r_.get());
  std::int64_t v = 0;
  std::from_chars(n, n + std::strlen(n), v);
  return v;
}

std::string Rows::text(int row, int col) const {
  return {PQgetvalue(r_.get(), row, col),
          static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
}

std::int64_t Rows::int64(int row, int col) const {
  const char* s = PQgetvalue(r_.get(), row, col);
  std::int64_t v = 0;
  std::from_chars(s, s + PQgetlength(r_.get(), row, col), v);
  return v;
}

bool Rows::boolean(int row, int col) const { return PQgetvalue(r_.get(), row, col)[0] == 't'; }

// --- Errors and execution ---

Error pg_error(PGconn* conn, const PGresult* result, std::string_view what) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  const std::string_view sqlstate = state != nullptr ? state : "";
  StoreError code = StoreError::Internal;
  if (sqlstate == "23505") {
    code = StoreError::Conflict;
  } else if (sqlstate == "23503") {
    code = StoreError::NotFound;  // the row refers to one that does not exist (any more)
  } else if (PQstatus(conn) != CONNECTION_OK || sqlstate.starts_with("08") ||
             sqlstate.starts_with("57P")) {
    code = StoreError::Unavailable;  // connection lost, or the server is shutting down
  } else if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") {
    code = StoreError::Busy;
  }
  // Only the primary message is logged: the DETAIL field quotes key values
  // ("Key (email_normalized)=(...) already exists"), and class 22 (data
  // exception) messages quote the offending input, which may be a secret.
  const char* primary =
      result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string_view message = primary != nullptr ? primary : PQerrorMessage(conn);
  if (sqlstate.starts_with("22")) message = "(data exception, message withheld)";
  while (message.ends_with('\n')) message.remove_suffix(1);
  if (code == StoreError::Conflict || code == StoreError::NotFound) {
    spdlog::debug("postgres: {}: SQLSTATE {}: {}", what, sqlstate, message);
  } else {
    spdlog::warn("postgres: {}: SQLSTATE {}: {}", what, sqlstate.empty() ? "-" : sqlstate, message);
  }
  return Error{make_error_code(code), {}};
}

namespace {

Result<Rows> check(PGconn* conn, PGresult* r, const char* sql) {
  const auto status = PQresultStatus(r);
  if (r != nullptr && (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK)) return Rows(r);
  Error e = pg_error(conn, r, sql);
  PQclear(r);
  return fail(std::move(e));
}

}  // namespace

Result<Rows> exec_params(PGconn* conn, const char* sql, const std::vector<Param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  PGresult* r = PQexecParams(conn, sql, static_cast<int>(params.size()), nullptr, values.data(),
                             nullptr, nullptr, /*resultFormat=text*/ 0);
  return check(conn, r, sql);
}

Status exec_script(PGconn* conn, const char* sql) {
  auto r = check(conn, PQexec(conn, sql), sql);
  if (!r) return fail(r.error());
  return {};
}

// --- Pool ---

namespace {

// Defaults the URL may override (with expand_dbname, values from the URL
// replace earlier keywords): a dead host fails in seconds, not minutes, and a
// statement waiting longer than busy_timeout_ms for a lock fails with 55P03
// (-> Busy), as StoreOptions documents.
PGconn* connect(const std::string& url, int busy_timeout_ms) {
  // lock_timeout=0 would mean "wait forever"; busy_timeout_ms=0 means "don't wait".
  const std::string options = "-c lock_timeout=" + std::to_string(std::max(busy_timeout_ms, 1));
  const char* keys[] = {"connect_timeout", "application_name", "options", "dbname", nullptr};
  const char* values[] = {"10", "gatehouse", options.c_str(), url.c_str(), nullptr};
  return PQconnectdbParams(keys, values, /*expand_dbname=*/1);
}

}  // namespace

Result<std::unique_ptr<Pool>> Pool::open(std::string_view url_view, std::size_t size,
                                         int busy_timeout_ms) {
  const std::string url(url_view);
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &parse_error);
  if (parsed == nullptr) {
    // libpq's parse message does not echo the URL (which may hold a password).
    spdlog::warn("postgres: bad URL: {}", parse_error != nullptr ? parse_error : "out of memory");
    PQfreemem(parse_error);
    return fail(StoreError::BadUrl);
  }
  PQconninfoFree(parsed);

  auto pool = std::make_unique<Pool>();
  for (std::size_t i = 0; i < std::max<std::size_t>(size, 1); ++i) {
    PGconn* conn = connect(url, busy_timeout_ms);
    if (conn == nullptr) return fail(StoreError::Unavailable);
    pool->all_.push_back(conn);  // ~Pool closes it, even if it failed
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string_view message = PQerrorMessage(conn);
      while (message.ends_with('\n')) message.remove_suffix(1);
      spdlog::warn("postgres: cannot connect: {}", message);
      return fail(StoreError::Unavailable);
    }
    pool->idle_.push_back(conn);
  }
  return pool;
}

Pool::~Pool() {
  for (PGconn* conn : all_) PQfinish(conn);
}

bool Pool::ensure_connected(PGconn* conn) {
  if (PQstatus(conn) == CONNECTION_OK) return true;
  PQreset(conn);
  if (PQstatus(conn) == CONNECTION_OK) {
    spdlog::info("postgres: reconnected");
    return true;
  }
  std::string_view message = PQerrorMessage(conn);
  while (message.ends_with('\n')) message.remove_suffix(1);
  spdlog::warn("postgres: reconnect failed: {}", message);
  return false;
}

Pool::Lease::Lease(Pool& p) : pool(p) {
  std::unique_lock lock(pool.mu_);
  pool.free_.wait(lock, [&] { return !pool.idle_.empty(); });
  conn = pool.idle_.back();
  pool.idle_.pop_back();
}

Pool::Lease::~Lease() {
  // Never hand the next caller a connection stuck in a transaction.
  const auto tx = PQtransactionStatus(conn);
  if (tx == PQTRANS_INTRANS || tx == PQTRANS_INERROR) PQclear(PQexec(conn, "ROLLBACK"));
  {
    std::lock_guard lock(pool.mu_);
    pool.idle_.push_back(conn);
  }
  pool.free_.notify_one();
}

}  // namespace gh::store::postgres
