// The HTTP vocabulary shared by the server, router and handlers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace gh::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace asio = boost::asio;

using Request = bhttp::request<bhttp::string_body>;
using Response = bhttp::response<bhttp::string_body>;

// Per-request facts the transport knows and handlers may need.
struct RequestContext {
  std::string request_id;
  std::string peer_ip;    // the socket peer
  std::string client_ip;  // the client: the peer, or what a trusted proxy forwarded (App::dispatch, the one place)
  std::string route;     // the matched route template, e.g. "/v1/login" (for metrics/logs)
  std::vector<std::pair<std::string, std::string>> params;  // path parameters
  std::chrono::steady_clock::time_point start;
  // The tightest rate limit checked for this request, for the RateLimit-* headers.
  struct RateLimitInfo {
    bool set = false;
    std::uint32_t limit = 0;      // RateLimit-Limit
    std::uint32_t remaining = 0;  // RateLimit-Remaining
    std::int64_t reset_s = 0;     // RateLimit-Reset
    bool account_charged = false; // a per-account attempt was counted (and may be given back)
  } rate_limit;

  [[nodiscard]] std::string_view param(std::string_view name) const {
    for (const auto& [k, v] : params)
      if (k == name) return v;
    return {};
  }
};

using Awaitable = asio::awaitable<Response>;

}  // namespace gh::http
