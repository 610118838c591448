// The HTTP vocabulary shared by the server, router and handlers.
#pragma once

#include <chrono>
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
  std::string peer_ip;   // the socket peer (trusted-proxy handling comes with rate limiting)
  std::string route;     // the matched route template, e.g. "/v1/login" (for metrics/logs)
  std::vector<std::pair<std::string, std::string>> params;  // path parameters
  std::chrono::steady_clock::time_point start;

  [[nodiscard]] std::string_view param(std::string_view name) const {
    for (const auto& [k, v] : params)
      if (k == name) return v;
    return {};
  }
};

using Awaitable = asio::awaitable<Response>;

}  // namespace gh::http
