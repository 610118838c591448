// A tiny service that protects one route with libgatehouse's Verifier.
//
//   protected_service --issuer http://127.0.0.1:8080 [--listen 127.0.0.1:9000] [--audience gatehouse]
//   curl -H "Authorization: Bearer $ACCESS_TOKEN" http://127.0.0.1:9000/hello
//
// Deliberately small: one thread, one request per connection (Beast, sync).
#include <iostream>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "gatehouse/verifier.h"

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:0";
  gatehouse::VerifierOptions opts;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--issuer") opts.issuer = argv[i + 1];
    else if (k == "--audience") opts.audience = argv[i + 1];
    else if (k == "--listen") listen = argv[i + 1];
    else if (k == "--min-refetch-s") opts.min_refetch_interval = std::chrono::seconds(std::stoi(argv[i + 1]));
  }
  opts.allow_http = true;  // the example talks to a local dev issuer; production issuers are https
  auto created = gatehouse::Verifier::create(opts);
  if (!created.verifier) {
    std::cerr << "cannot create the verifier: " << created.error << "\n";
    return 1;
  }
  auto& verifier = *created.verifier;

  asio::io_context ioc;
  const auto colon = listen.rfind(':');
  tcp::acceptor acceptor(ioc, {asio::ip::make_address(listen.substr(0, colon)),
                               static_cast<unsigned short>(std::stoi(listen.substr(colon + 1)))});
  const auto ep = acceptor.local_endpoint();
  std::cout << nlohmann::json{{"msg", "listening"}, {"address", ep.address().to_string() + ":" + std::to_string(ep.port())}}.dump()
            << std::endl;
  for (;;) {
    tcp::socket socket(ioc);
    acceptor.accept(socket);
    boost::beast::flat_buffer buffer;
    boost::beast::error_code ec;
    for (;;) {
      bhttp::request<bhttp::string_body> req;
      bhttp::read(socket, buffer, req, ec);
      if (ec) break;
      bhttp::response<bhttp::string_body> res{bhttp::status::ok, req.version()};
      res.set(bhttp::field::content_type, "application/json");
      const std::string_view auth = req[bhttp::field::authorization];
      if (req.target() != "/hello") {
        res.result(bhttp::status::not_found);
        res.body() = R"({"error":"not_found"})";
      } else if (!auth.starts_with("Bearer ")) {
        res.result(bhttp::status::unauthorized);
        res.set(bhttp::field::www_authenticate, R"(Bearer realm="example")");
        res.body() = R"({"error":"invalid_token"})";
      } else if (auto r = verifier.verify(auth.substr(7)); !r.ok) {
        res.result(bhttp::status::unauthorized);
        res.set(bhttp::field::www_authenticate, "Bearer realm=\"example\", error=\"invalid_token\"");
        res.body() = nlohmann::json{{"error", r.error}}.dump();
      } else {
        res.body() = nlohmann::json{{"hello", r.identity.subject}, {"jwks_fetches", verifier.fetch_count()}}.dump();
      }
      // One connection at a time: close after each response so no client can hold the loop.
      res.keep_alive(false);
      res.prepare_payload();
      bhttp::write(socket, res, ec);
      break;
    }
  }
}
