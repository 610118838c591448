// Server: the HTTP/1.1 listener and connection loop (Boost.Beast, C++20
// coroutines), after Beast's advanced server and http_server_awaitable
// examples: a strand per connection, a fresh parser with header and body
// limits per request, an idle timeout between requests and a whole-request
// read timeout (slowloris), keep-alive, a request id on every response, one
// JSON access-log line per request, and graceful shutdown: stop accepting,
// close idle connections, let in-flight requests finish (answering with
// Connection: close). Requests are handled one at a time per connection, so
// pipelined requests queue in the socket buffer, bounded by the kernel.
//
// The server knows nothing about routes: every parsed request goes to the
// Dispatch function. It is thread-safe to run its io_context on many threads.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "core/base/result.h"
#include "http/metrics.h"
#include "http/types.h"

namespace gh::http {

struct ServerOptions {
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::seconds read_timeout{10};
  std::chrono::seconds idle_timeout{60};
  std::size_t max_connections = 10000;
  bool access_log = true;
};

enum class ServerError : std::uint8_t {
  BadListenAddress = 1,  // not HOST:PORT
  BindFailed,            // the address is in use or not ours
};
GH_DECLARE_ERROR_CATEGORY(ServerError)

class Server {
 public:
  using Dispatch = std::function<Awaitable(Request&, RequestContext&)>;

  Server(asio::io_context& ioc, ServerOptions options, Dispatch dispatch, Metrics& metrics);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens on "HOST:PORT" ("[::1]:0" works; port 0 picks a free port).
  // Returns the bound endpoint. Errors: BadListenAddress, BindFailed.
  [[nodiscard]] Result<asio::ip::tcp::endpoint> listen(std::string_view host_port);
  // Starts accepting (the io_context must be run by the caller).
  void start();
  // Stops accepting, closes idle connections; in-flight requests complete.
  // Safe to call from any thread, more than once.
  void shutdown();
  // After the grace period: closes every connection, busy or not, so each
  // connection's coroutine unwinds while the Server still exists.
  void close_all();

  [[nodiscard]] std::size_t in_flight() const { return in_flight_.load(); }
  [[nodiscard]] std::size_t connections() const;

 private:
  struct Conn;
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> session(std::shared_ptr<Conn> conn);

  asio::io_context& ioc_;
  ServerOptions options_;
  Dispatch dispatch_;
  Metrics& metrics_;
  asio::ip::tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::size_t> in_flight_{0};
  mutable std::mutex mu_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Conn>> conns_;  // GUARDED_BY(mu_)
  std::uint64_t next_id_ = 0;                                       // GUARDED_BY(mu_)
};

// True if the request's message framing is unambiguous (see server.cc).
[[nodiscard]] bool framing_ok(const Request& req);

// Parses "HOST:PORT" / "[v6]:PORT". Errors: BadListenAddress.
[[nodiscard]] Result<asio::ip::tcp::endpoint> parse_endpoint(std::string_view host_port);

}  // namespace gh::http

template <>
struct std::is_error_code_enum<gh::http::ServerError> : std::true_type {};
