// Fuzzes the client-address parsers (core/net): X-Forwarded-For and RFC 7239
// Forwarded fields, addresses and CIDRs. No crash, and the invariants the
// rate limiter relies on: the client is always the peer or an address that
// the header listed, and an untrusted peer's header is never read.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/net/client_ip.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gh::net;  // NOLINT(google-build-using-namespace): a fuzz target
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  static const std::vector<Cidr> trusted = *parse_cidr_list("127.0.0.1/32, 10.0.0.0/8, ::1/128");
  // Split the input into up to three header fields on '\n'.
  std::vector<std::string_view> fields;
  std::size_t start = 0;
  while (start <= input.size() && fields.size() < 3) {
    auto end = input.find('\n', start);
    if (end == std::string_view::npos) end = input.size();
    fields.push_back(input.substr(start, end - start));
    start = end + 1;
  }
  for (const auto header : {ForwardedHeader::XForwardedFor, ForwardedHeader::Forwarded}) {
    const auto hops = header == ForwardedHeader::Forwarded ? parse_forwarded(fields) : parse_x_forwarded_for(fields);
    const std::string client = client_address("127.0.0.1", header, fields, trusted);
    if (client != "127.0.0.1") {
      // The client is an address the header listed (X-Forwarded-For: entry by
      // entry, since junk left of the proxy's entry is skipped; Forwarded: whole).
      bool listed = false;
      if (header == ForwardedHeader::Forwarded) {
        if (!hops) __builtin_trap();  // a malformed Forwarded header must leave the peer
        for (const auto& a : *hops) listed = listed || to_string(a) == client;
      } else {
        for (const auto field : fields) {
          std::size_t from = 0;
          while (from <= field.size()) {
            auto to = field.find(',', from);
            if (to == std::string_view::npos) to = field.size();
            const std::string_view entry = field.substr(from, to - from);
            if (auto one = parse_x_forwarded_for(std::span<const std::string_view>(&entry, 1)); one)
              for (const auto& a : *one) listed = listed || to_string(a) == client;
            from = to + 1;
          }
        }
      }
      if (!listed) __builtin_trap();
    }
    if (client_address("192.0.2.1", header, fields, trusted) != "192.0.2.1") __builtin_trap();  // untrusted peer
  }
  if (auto a = parse_address(input); a) {
    if (*parse_address(to_string(*a)) != *a) __builtin_trap();
  }
  if (auto c = parse_cidr(input); c) {
    if (!c->contains(c->base)) __builtin_trap();
  }
  (void)limit_key(input);
  return 0;
}
