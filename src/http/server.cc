#include "http/server.h"

#include <array>
#include <charconv>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <nlohmann/json.hpp>
#include <sodium.h>
#include <spdlog/spdlog.h>

#include "core/base/encoding.h"
#include "http/problem.h"

namespace gh::http {

const char* describe(ServerError e) {
  switch (e) {
    case ServerError::BadListenAddress: return "listen address must be HOST:PORT";
    case ServerError::BindFailed: return "cannot listen on the address";
  }
  return "server error";
}
GH_DEFINE_ERROR_CATEGORY(ServerError, "server")

using tcp = asio::ip::tcp;
using asio::use_awaitable;

struct Server::Conn {
  explicit Conn(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  bool idle = true;  // touched only on the connection's strand
};

namespace {

// Request ids only correlate log lines, so they need uniqueness, not secrecy:
// 96 random bits each, drawn from a per-thread pool refilled 64 ids at a time
// rather than one getrandom(2) per request.
std::string new_request_id() {
  constexpr std::size_t kIdBytes = 12;
  constexpr std::size_t kPoolIds = 64;
  thread_local std::array<unsigned char, kIdBytes * kPoolIds> pool;
  thread_local std::size_t next = kPoolIds;
  if (next == kPoolIds) {
    randombytes_buf(pool.data(), pool.size());
    next = 0;
  }
  const auto* id = reinterpret_cast<const char*>(pool.data() + kIdBytes * next++);
  return base64url_encode(std::string_view(id, kIdBytes));
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

}  // namespace

// RFC 9112 §6.1/§6.3: a request with Transfer-Encoding must end its codings
// with exactly "chunked", must not also carry Content-Length, and must be
// HTTP/1.1. Anything else is refused, whatever order the fields come in, so
// no proxy in front can frame the message differently from us.
bool framing_ok(const Request& req) {
  const auto te = req.base().equal_range(bhttp::field::transfer_encoding);
  const auto n_te = std::distance(te.first, te.second);
  if (n_te == 0) return req.base().count(bhttp::field::content_length) <= 1;
  if (n_te > 1 || req.version() < 11 || req.base().count(bhttp::field::content_length) > 0) return false;
  std::string_view v = te.first->value();
  const auto comma = v.rfind(',');
  std::string_view last = comma == std::string_view::npos ? v : v.substr(comma + 1);
  while (!last.empty() && (last.front() == ' ' || last.front() == '\t')) last.remove_prefix(1);
  while (!last.empty() && (last.back() == ' ' || last.back() == '\t')) last.remove_suffix(1);
  if (!beast::iequals(last, "chunked")) return false;
  // "chunked" applied twice is also invalid (RFC 9112 §7).
  return comma == std::string_view::npos || v.substr(0, comma).find("chunked") == std::string_view::npos;
}

namespace {

void log_access(const Request& req, const Response& res, const RequestContext& ctx, double seconds) {
  static const auto logger = spdlog::get("access");
  if (!logger) return;
  // Only the path: query strings may carry codes or state that must not be logged.
  const nlohmann::json line = {{"msg", "request"},
                               {"request_id", ctx.request_id},
                               {"method", std::string(req.method_string())},
                               {"path", std::string(path_of(req.target()))},
                               {"route", ctx.route},
                               {"status", res.result_int()},
                               {"bytes", res.body().size()},
                               {"duration_ms", seconds * 1000.0},
                               {"peer", ctx.peer_ip},
                               {"client_ip", ctx.client_ip}};
  logger->info(line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

Result<tcp::endpoint> parse_endpoint(std::string_view hp) {
  std::string_view host;
  std::string_view port;
  if (hp.starts_with('[')) {
    const auto close = hp.find("]:");
    if (close == std::string_view::npos) return fail(ServerError::BadListenAddress);
    host = hp.substr(1, close - 1);
    port = hp.substr(close + 2);
  } else {
    const auto colon = hp.rfind(':');
    if (colon == std::string_view::npos) return fail(ServerError::BadListenAddress);
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
  }
  if (host == "localhost") host = "127.0.0.1";
  unsigned short p = 0;
  const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec != std::errc{} || ptr != port.data() + port.size())
    return fail(ServerError::BadListenAddress, "listen port must be 0..65535");
  boost::system::error_code aec;
  const auto addr = asio::ip::make_address(std::string(host), aec);
  if (aec) return fail(ServerError::BadListenAddress, "listen host must be an IP address or localhost");
  return tcp::endpoint(addr, p);
}

Server::Server(asio::io_context& ioc, ServerOptions options, Dispatch dispatch, Metrics& metrics)
    : ioc_(ioc),
      options_(options),
      dispatch_(std::move(dispatch)),
      metrics_(metrics),
      acceptor_(asio::make_strand(ioc)) {}

Server::~Server() = default;

Result<tcp::endpoint> Server::listen(std::string_view host_port) {
  auto ep = parse_endpoint(host_port);
  if (!ep) return ep;
  boost::system::error_code ec;
  acceptor_.open(ep->protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(*ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(ServerError::BindFailed, ec.message());
  return acceptor_.local_endpoint();
}

void Server::start() { asio::co_spawn(acceptor_.get_executor(), accept_loop(), asio::detached); }

std::size_t Server::connections() const {
  std::lock_guard lock(mu_);
  return conns_.size();
}

void Server::shutdown() {
  if (stopping_.exchange(true)) return;
  asio::post(acceptor_.get_executor(), [this] {
    boost::system::error_code ec;
    acceptor_.close(ec);
  });
  std::lock_guard lock(mu_);
  for (auto& entry : conns_) {
    std::shared_ptr<Conn> conn = entry.second;
    asio::post(conn->stream.get_executor(), [conn] {
      // A connection waiting for its next request is closed now; one in the
      // middle of a request finishes it and then closes (see session()).
      if (conn->idle) conn->stream.cancel();
    });
  }
}

void Server::close_all() {
  std::lock_guard lock(mu_);
  for (auto& entry : conns_) {
    std::shared_ptr<Conn> conn = entry.second;
    asio::post(conn->stream.get_executor(), [conn] {
      boost::system::error_code ec;
      conn->stream.socket().close(ec);
    });
  }
}

asio::awaitable<void> Server::accept_loop() {
  while (!stopping_) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor_.async_accept(asio::make_strand(ioc_), asio::redirect_error(use_awaitable, ec));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) break;
      spdlog::warn("accept failed: {}", ec.message());
      continue;
    }
    auto conn = std::make_shared<Conn>(std::move(socket));
    {
      std::lock_guard lock(mu_);
      if (conns_.size() >= options_.max_connections) {
        conn->stream.socket().close(ec);
        continue;
      }
      const std::uint64_t id = next_id_++;
      conns_.emplace(id, conn);
      asio::co_spawn(
          conn->stream.get_executor(),
          [this, conn, id]() -> asio::awaitable<void> {
            try {
              co_await session(conn);
            } catch (const std::exception& e) {
              spdlog::error("connection ended by exception: {}", e.what());
            }
            std::lock_guard lock(mu_);
            conns_.erase(id);
          },
          asio::detached);
    }
  }
}

asio::awaitable<void> Server::session(std::shared_ptr<Conn> conn) {
  beast::tcp_stream& stream = conn->stream;
  // Bounded: a header block (or a pipelined batch) larger than this cannot be buffered.
  beast::flat_buffer buffer(options_.max_header_bytes + options_.max_body_bytes + 64 * 1024);
  boost::system::error_code ec;
  std::string peer;
  if (auto ep = stream.socket().remote_endpoint(ec); !ec) peer = ep.address().to_string();

  while (!stopping_) {
    // Wait for the first byte of the next request under the idle timeout...
    conn->idle = true;
    if (buffer.size() == 0) {
      stream.expires_after(options_.idle_timeout);
      const std::size_t n = co_await stream.async_read_some(buffer.prepare(4096), asio::redirect_error(use_awaitable, ec));
      if (ec) break;  // closed, idle timeout, or shutdown
      buffer.commit(n);
    }
    conn->idle = false;
    ++in_flight_;
    struct Done {
      std::atomic<std::size_t>& n;
      ~Done() { --n; }
    } done{in_flight_};

    // ...then the whole request must arrive within the read timeout.
    RequestContext ctx;
    ctx.request_id = new_request_id();
    ctx.peer_ip = peer;
    ctx.start = std::chrono::steady_clock::now();
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
    parser.body_limit(options_.max_body_bytes);
    stream.expires_after(options_.read_timeout);
    // The header block first, to refuse obsolete line folding outright (RFC 9112
    // §5.2 lets a server reject it; Beast would silently unfold it, and a proxy
    // in front might not): one message, one interpretation.
    // (Not asio::async_read_until: it would copy the flat_buffer, an owning container.)
    std::size_t header_end = 0;
    std::size_t searched = 0;
    while (!ec) {
      const std::string_view have(static_cast<const char*>(buffer.data().data()), buffer.size());
      if (const auto p = have.find("\r\n\r\n", searched); p != std::string_view::npos) {
        header_end = p + 4;
        break;
      }
      if (buffer.size() >= options_.max_header_bytes) {
        ec = bhttp::error::header_limit;
        break;
      }
      searched = buffer.size() < 3 ? 0 : buffer.size() - 3;
      const std::size_t want = std::min<std::size_t>(8192, options_.max_header_bytes - buffer.size() + 4);
      const std::size_t n = co_await stream.async_read_some(buffer.prepare(want), asio::redirect_error(use_awaitable, ec));
      buffer.commit(n);
    }
    bool folded = false;
    if (!ec) {
      const std::string_view head(static_cast<const char*>(buffer.data().data()), header_end);
      folded = head.find("\r\n ") != std::string_view::npos || head.find("\r\n\t") != std::string_view::npos;
    }
    if (!ec && folded) ec = bhttp::error::bad_field;
    // The header is in the buffer: parse it, check the framing, then read the body.
    if (!ec) co_await bhttp::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (!ec && !framing_ok(parser.get())) ec = bhttp::error::bad_transfer_encoding;
    if (!ec && !parser.is_done()) co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));

    Response res;
    bool close_after = false;
    if (ec) spdlog::debug("request read ended: {}", ec.message());
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted || ec == beast::error::timeout ||
        ec == asio::error::eof || ec == asio::error::connection_reset) {
      break;
    } else if (ec) {
      // The message is malformed or too big: answer once, then close, since
      // the stream position is no longer trustworthy (no request smuggling).
      Request bare;
      bare.version(11);
      ctx.route = "(invalid)";
      if (ec == bhttp::error::body_limit) {
        res = problem_response(bare, ctx, kPayloadTooLarge, "The request body is too large.");
      } else if (ec == bhttp::error::header_limit) {
        res = problem_response(bare, ctx, kHeadersTooLarge, "The request headers are too large.");
      } else {
        res = problem_response(bare, ctx, kBadRequest, "The request is not valid HTTP/1.1.");
      }
      close_after = true;
    } else {
      Request& req = parser.get();
      try {
        res = co_await dispatch_(req, ctx);
      } catch (const std::exception& e) {
        spdlog::error("request {} failed: {}", ctx.request_id, e.what());
        res = problem_response(req, ctx, kInternal, {});
      }
      close_after = !req.keep_alive();
      if (options_.access_log) {
        log_access(req, res, ctx, std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.start).count());
      }
    }
    if (stopping_) close_after = true;
    res.keep_alive(!close_after);
    res.set("X-Request-Id", ctx.request_id);
    metrics_.observe_request(ctx.route.empty() ? "(unmatched)" : ctx.route, res.result_int(),
                             std::chrono::duration<double>(std::chrono::steady_clock::now() - ctx.start).count());
    stream.expires_after(options_.read_timeout);
    co_await bhttp::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
    if (ec || close_after) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.socket().close(ec);
}

}  // namespace gh::http
