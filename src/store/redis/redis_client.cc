#include "store/redis/redis_client.h"

#include <sys/socket.h>

#include <cerrno>
#include <charconv>

#include <spdlog/spdlog.h>

namespace gh::store::redis {
namespace {

// Both bound how long a call can hang on a dead or stalled server; a command
// that times out breaks its connection (hiredis cannot resync after it).
constexpr std::chrono::seconds kConnectTimeout{2};
constexpr std::chrono::seconds kCommandTimeout{2};

timeval to_timeval(std::chrono::seconds s) { return timeval{.tv_sec = s.count(), .tv_usec = 0}; }

// Parses all of `s` as a decimal number in [lo, hi].
bool parse_int(std::string_view s, int lo, int hi, int& out) {
  if (s.empty() || s.size() > 9) return false;
  int v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 §2.1 percent-decoding; false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

bool valid_host(std::string_view host, bool bracketed) {
  if (host.empty()) return false;
  for (const char c : host) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool ok = alnum || c == '-' || c == '.' || c == '_' || (bracketed && c == ':');
    if (!ok) return false;
  }
  return true;
}

// True if the server closed the socket (a restart, an idle timeout) or sent
// bytes nobody asked for; either way the connection cannot be used. One
// non-blocking peek, so a write is never sent down a dead connection.
bool peer_closed(int fd) {
  char byte = 0;
  const ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n >= 0) return true;
  return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

}  // namespace

Result<Target> parse_url(std::string_view url) {
  constexpr std::string_view kPrefix = "redis://";
  if (!url.starts_with(kPrefix)) return fail(StoreError::BadUrl);
  std::string_view rest = url.substr(kPrefix.size());
  Target t;
  // The password may hold '/' or '@' only percent-encoded, but the last '@'
  // ends it either way.
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    // Only ":password": ACL user names are not supported.
    if (userinfo.size() < 2 || userinfo[0] != ':') return fail(StoreError::BadUrl);
    if (!percent_decode(userinfo.substr(1), t.password) || t.password.empty()) {
      return fail(StoreError::BadUrl);
    }
  }
  std::string_view hostport = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    const std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !parse_int(db, 0, 1'000'000, t.db)) return fail(StoreError::BadUrl);
  }
  std::string_view host;
  std::string_view port;
  bool bracketed = false;
  if (hostport.starts_with('[')) {
    const auto close = hostport.find(']');
    if (close == std::string_view::npos || hostport.substr(close + 1).size() < 2 ||
        hostport[close + 1] != ':') {
      return fail(StoreError::BadUrl);
    }
    host = hostport.substr(1, close - 1);
    port = hostport.substr(close + 2);
    bracketed = true;
  } else {
    const auto colon = hostport.rfind(':');
    if (colon == std::string_view::npos) return fail(StoreError::BadUrl);
    host = hostport.substr(0, colon);
    port = hostport.substr(colon + 1);
  }
  if (!valid_host(host, bracketed) || !parse_int(port, 1, 65535, t.port)) {
    return fail(StoreError::BadUrl);
  }
  t.host = std::string(host);
  return t;
}

Error redis_error(std::string_view message, std::string_view what) {
  const std::string_view word = message.substr(0, message.find(' '));
  StoreError code = StoreError::Internal;
  if (word == "BUSY") {
    code = StoreError::Busy;  // a script ran past lua-time-limit
  } else if (word == "LOADING" || word == "MASTERDOWN" || word == "READONLY" || word == "NOAUTH" ||
             word == "WRONGPASS" || word == "TRYAGAIN" || word == "CLUSTERDOWN") {
    code = StoreError::Unavailable;
  }
  // An unknown-command error quotes the arguments, which may be session hashes.
  message = message.substr(0, message.find(", with args beginning with"));
  spdlog::warn("redis: {}: {}", what, message.substr(0, 200));
  return Error{make_error_code(code), {}};
}

// --- SigpipeGuard ---

SigpipeGuard::SigpipeGuard() {
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old_);
  sigset_t pending;
  sigpending(&pending);
  was_pending_ = sigismember(&pending, SIGPIPE) == 1;
}

SigpipeGuard::~SigpipeGuard() {
  if (!was_pending_) {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      // Ours: consume it before unblocking, or it would be delivered then.
      sigset_t pipe;
      sigemptyset(&pipe);
      sigaddset(&pipe, SIGPIPE);
      const timespec zero{};
      sigtimedwait(&pipe, nullptr, &zero);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

// --- Connection ---

Connection::~Connection() { close(); }

void Connection::close() {
  if (ctx_ != nullptr) redisFree(ctx_);
  ctx_ = nullptr;
}

void Connection::abandon() { close(); }

Status Connection::ensure_connected() {
  if (ctx_ != nullptr && ctx_->err == 0 && !peer_closed(ctx_->fd)) return {};
  close();
  ctx_ = redisConnectWithTimeout(target_.host.c_str(), target_.port, to_timeval(kConnectTimeout));
  if (ctx_ == nullptr || ctx_->err != 0) {
    spdlog::warn("redis: cannot connect to {}:{}: {}", target_.host, target_.port,
                 ctx_ != nullptr ? ctx_->errstr : "out of memory");
    close();
    return fail(StoreError::Unavailable);
  }
  if (redisSetTimeout(ctx_, to_timeval(kCommandTimeout)) != REDIS_OK) {
    spdlog::warn("redis: cannot set the command timeout: {}", ctx_->errstr);
    close();
    return fail(StoreError::Unavailable);
  }
  if (!target_.password.empty()) {
    if (auto ok = command({"AUTH", target_.password}, "AUTH"); !ok) {
      close();
      return fail(StoreError::Unavailable);
    }
  }
  if (target_.db != 0) {
    if (auto ok = command({"SELECT", std::to_string(target_.db)}, "SELECT"); !ok) {
      const bool refused = !broken();  // an error reply, not a lost connection
      close();
      return fail(refused ? StoreError::BadUrl : StoreError::Unavailable);
    }
  }
  if (connected_before_) spdlog::info("redis: reconnected to {}:{}", target_.host, target_.port);
  connected_before_ = true;
  return {};
}

namespace {

// argv/argvlen arrays pointing into `args`, which must outlive them.
struct Argv {
  explicit Argv(const Args& args) {
    for (const auto& a : args.items()) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  [[nodiscard]] int argc() const { return static_cast<int>(argv.size()); }
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
};

}  // namespace

Result<Reply> Connection::check(redisReply* reply, std::string_view what) {
  if (reply == nullptr) {
    // hiredis's error text names the failure (EOF, timeout), never the data.
    spdlog::warn("redis: {}: {}", what, ctx_ != nullptr ? ctx_->errstr : "not connected");
    return fail(StoreError::Unavailable);
  }
  Reply r(reply);
  if (r->type == REDIS_REPLY_ERROR) return fail(redis_error({r->str, r->len}, what));
  return r;
}

Result<Reply> Connection::command(const Args& args, std::string_view what) {
  if (broken()) return check(nullptr, what);
  Argv a(args);
  return check(
      static_cast<redisReply*>(redisCommandArgv(ctx_, a.argc(), a.argv.data(), a.lens.data())),
      what);
}

Status Connection::append(const Args& args, std::string_view what) {
  if (broken()) return fail(check(nullptr, what).error());
  Argv a(args);
  if (redisAppendCommandArgv(ctx_, a.argc(), a.argv.data(), a.lens.data()) != REDIS_OK) {
    return fail(check(nullptr, what).error());
  }
  return {};
}

Result<Reply> Connection::get_reply(std::string_view what) {
  if (broken()) return check(nullptr, what);
  void* reply = nullptr;
  if (redisGetReply(ctx_, &reply) != REDIS_OK) return check(nullptr, what);
  return check(static_cast<redisReply*>(reply), what);
}

// --- Pool ---

Result<std::unique_ptr<Pool>> Pool::open(Target target, std::size_t size) {
  auto pool = std::make_unique<Pool>(std::move(target));
  SigpipeGuard guard;
  for (std::size_t i = 0; i < std::max<std::size_t>(size, 1); ++i) {
    auto conn = std::make_unique<Connection>(pool->target_);
    if (auto up = conn->ensure_connected(); !up) return fail(up.error());
    pool->idle_.push_back(conn.get());
    pool->all_.push_back(std::move(conn));
  }
  return pool;
}

Pool::Lease::Lease(Pool& p) : pool(p) {
  std::unique_lock lock(pool.mu_);
  pool.free_.wait(lock, [&] { return !pool.idle_.empty(); });
  conn = pool.idle_.back();
  pool.idle_.pop_back();
}

Pool::Lease::~Lease() {
  {
    std::lock_guard lock(pool.mu_);
    pool.idle_.push_back(conn);
  }
  pool.free_.notify_one();
}

}  // namespace gh::store::redis
