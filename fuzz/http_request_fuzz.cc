// Fuzzes the HTTP request path up to the handler: Beast's request parser with
// the server's limits, the router over the server's route table, and body
// decoding for JSON requests.
#include <cstddef>
#include <cstdint>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/json/json.h"
#include "http/router.h"

namespace {

gh::http::Router& router() {
  static gh::http::Router r = [] {
    gh::http::Router x;
    namespace bhttp = boost::beast::http;
    const gh::http::Handler none;
    for (const char* p : {"/healthz", "/readyz", "/metrics"}) x.add(bhttp::verb::get, p, none);
    for (const char* p : {"/v1/register", "/v1/login"}) x.add(bhttp::verb::post, p, none);
    x.add(bhttp::verb::get, "/v1/users/{id}", none);
    return x;
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace bhttp = boost::beast::http;
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;
  auto& req = parser.get();
  const std::string_view target = req.target();
  gh::http::RequestContext ctx;
  (void)router().route(req.method(), target.substr(0, target.find('?')), ctx);
  if (req[bhttp::field::content_type].starts_with("application/json")) (void)gh::json::parse_object(req.body());
  return 0;
}
