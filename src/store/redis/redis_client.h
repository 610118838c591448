// hiredis plumbing for the Redis session store: the URL, replies, the
// mapping of failures to StoreError, and a blocking pool of connections.
//
// Every command goes through redisCommandArgv / redisAppendCommandArgv
// (binary-safe argv), never a format string with values in it.
//
// Thread-safety: a Connection is used by one thread at a time; Pool::run
// lends each one out exclusively. Pool itself is thread-safe.
#pragma once

#include <hiredis/hiredis.h>
#include <signal.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.h"

namespace gh::store::redis {

// Where to connect, from redis://[:password@]host:port[/db].
struct Target {
  std::string host;      // a name, an IPv4 address, or an IPv6 address (given in [brackets])
  int port = 0;          // 1..65535, required
  std::string password;  // percent-decoded; empty: no AUTH
  int db = 0;            // SELECTed when not 0
};

// BadUrl unless `url` is exactly redis://[:password@]host:port[/db] (no user
// name, query or fragment; db a decimal number). Never logs the URL.
[[nodiscard]] Result<Target> parse_url(std::string_view url);

struct FreeReply {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, FreeReply>;

// A command's arguments. Strings are copied in, so they may be temporaries.
class Args {
 public:
  Args(std::initializer_list<std::string_view> args) {
    for (auto a : args) add(a);
  }
  Args& add(std::string_view arg) {
    args_.emplace_back(arg);
    return *this;
  }
  Args& add(Seconds t) { return add(std::to_string(t.time_since_epoch().count())); }
  [[nodiscard]] const std::vector<std::string>& items() const { return args_; }

 private:
  std::vector<std::string> args_;
};

// Blocks SIGPIPE on this thread for its lifetime and discards one raised
// meanwhile: hiredis write()s to the socket, and a write to a connection the
// server closed would otherwise kill the process (libpq does the same).
class SigpipeGuard {
 public:
  SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;
  ~SigpipeGuard();

 private:
  sigset_t old_{};
  bool was_pending_ = false;
};

// One redisContext, (re)connected on demand with AUTH and SELECT.
class Connection {
 public:
  explicit Connection(const Target& target) : target_(target) {}
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  // Connects (again) unless the current connection is healthy: no hiredis
  // error recorded and the server has not closed the socket. BadUrl if the
  // server refuses the SELECT; Unavailable otherwise.
  [[nodiscard]] Status ensure_connected();
  // True after an I/O or protocol failure: the next use reconnects.
  [[nodiscard]] bool broken() const { return ctx_ == nullptr || ctx_->err != 0; }

  // Sends one command and waits for its reply. An error reply is mapped
  // (redis_error); an I/O failure or timeout is Unavailable. `what` names the
  // operation in the log: never a value.
  [[nodiscard]] Result<Reply> command(const Args& args, std::string_view what);
  // Pipelining: queue commands, then read their replies in order. Reading
  // fewer replies than queued leaves the connection out of step, so a caller
  // that gives up early must call abandon().
  [[nodiscard]] Status append(const Args& args, std::string_view what);
  [[nodiscard]] Result<Reply> get_reply(std::string_view what);
  void abandon();

 private:
  [[nodiscard]] Result<Reply> check(redisReply* reply, std::string_view what);
  void close();

  const Target& target_;
  redisContext* ctx_ = nullptr;
  bool connected_before_ = false;  // for the log
};

// Maps an error reply's code (its first word) to a StoreError: BUSY -> Busy;
// LOADING, MASTERDOWN, READONLY, NOAUTH, WRONGPASS, ... -> Unavailable;
// anything else -> Internal. Logs the message (cut before any echo of arguments).
[[nodiscard]] Error redis_error(std::string_view message, std::string_view what);

// run()'s `idempotent` argument: a call that failed on a dropped connection
// may be retried once on a new one, unless it is a write that the server may
// have applied before the connection died.
inline constexpr bool kIdempotent = true;
inline constexpr bool kWrite = false;

// `size` connections, opened up front; run() blocks until one is free.
class Pool {
 public:
  // Unavailable if a connection fails (or AUTH is refused); BadUrl if the
  // SELECT of `target.db` is refused.
  [[nodiscard]] static Result<std::unique_ptr<Pool>> open(Target target, std::size_t size);
  explicit Pool(Target target) : target_(std::move(target)) {}
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Calls f(Connection&) on a free, connected connection. A broken connection
  // is replaced by a new one once; Unavailable if that fails. If `idempotent`
  // and f failed because the connection broke, f is retried once on a new one.
  template <class F>
  auto run(bool idempotent, F&& f) -> decltype(f(std::declval<Connection&>())) {
    SigpipeGuard guard;
    Lease lease(*this);
    if (!lease.conn->ensure_connected()) return fail(StoreError::Unavailable);
    auto result = f(*lease.conn);
    if (!result && idempotent && lease.conn->broken() && lease.conn->ensure_connected()) {
      result = f(*lease.conn);
    }
    return result;
  }

 private:
  struct Lease {
    explicit Lease(Pool& p);
    ~Lease();
    Pool& pool;
    Connection* conn;
  };

  const Target target_;  // read by every Connection
  std::mutex mu_;
  std::condition_variable free_;
  std::vector<Connection*> idle_;                 // GUARDED_BY(mu_)
  std::vector<std::unique_ptr<Connection>> all_;  // owns them
};

}  // namespace gh::store::redis
