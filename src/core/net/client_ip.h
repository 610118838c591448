// Client addresses: IPv4/IPv6 parsing, CIDR ranges, and which address a
// request really came from when it passed through reverse proxies. Pure logic
// (inet_pton/inet_ntop only); the forwarding-header parsers are fuzzed
// (fuzz/client_ip_fuzz.cc).
//
// The rule (one place, used for audit rows, session rows and rate-limit keys):
// the client is the socket peer, unless the peer is a configured trusted
// proxy. Then the proxy's forwarding header is read from the right (the
// entries nearest to us were added by proxies we trust): trusted entries are
// skipped, and the first untrusted one is the client. If every entry is
// trusted, the left-most one is. A header that does not parse completely is
// ignored (the peer stays the client): a proxy we trust writes well-formed
// headers, so a malformed one means someone else wrote it. A header sent by an
// untrusted peer is never read at all, so it cannot change anything.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace gh::net {

enum class NetError : std::uint8_t {
  BadAddress = 1,  // not an IPv4 dotted quad or an IPv6 address
  BadCidr,         // not ADDRESS/PREFIX with a prefix in range (0..32 or 0..128)
};
GH_DECLARE_ERROR_CATEGORY(NetError)

// An IPv4 or IPv6 address. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what a
// dual-stack socket reports for an IPv4 peer) are stored as IPv4, so both
// spellings of one client are the same address.
struct Address {
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4
  bool v4 = true;
  friend bool operator==(const Address&, const Address&) = default;
};

// Parses "192.0.2.1" or "2001:db8::1" (no brackets, port or zone). Errors: BadAddress.
[[nodiscard]] Result<Address> parse_address(std::string_view text);
// The canonical text: dotted quad, or RFC 5952 IPv6 ("2001:db8::1").
[[nodiscard]] std::string to_string(const Address& a);

// A range of addresses: "10.0.0.0/8", "2001:db8::/32"; a bare address is /32 or /128.
struct Cidr {
  Address base;  // host bits cleared
  int prefix = 0;
  [[nodiscard]] bool contains(const Address& a) const;
  friend bool operator==(const Cidr&, const Cidr&) = default;
};

// Errors: BadCidr.
[[nodiscard]] Result<Cidr> parse_cidr(std::string_view text);
// "10.0.0.0/8, ::1" (commas, optional spaces; empty items ignored). Errors: BadCidr
// (the detail names the item).
[[nodiscard]] Result<std::vector<Cidr>> parse_cidr_list(std::string_view text);
[[nodiscard]] std::string to_string(const Cidr& c);

// The header a trusted proxy writes the client address into.
enum class ForwardedHeader : std::uint8_t {
  XForwardedFor,  // X-Forwarded-For: client, proxy1, proxy2
  Forwarded,      // RFC 7239: Forwarded: for=client;proto=https, for="[2001:db8::1]:443"
};

// The addresses a forwarding header lists, left to right, or nullopt if any
// entry is not an address (X-Forwarded-For entries: an address, "[v6]", or
// either with a ":port"; Forwarded: every element's for= node, quoted or not,
// "unknown"/obfuscated nodes and elements without for= count as malformed).
// Several header fields are one list, in order (RFC 9110 §5.3).
[[nodiscard]] std::optional<std::vector<Address>> parse_x_forwarded_for(std::span<const std::string_view> fields);
[[nodiscard]] std::optional<std::vector<Address>> parse_forwarded(std::span<const std::string_view> fields);

// The client address of a request from `peer` carrying `fields` of `header`
// (see the rule at the top). `peer` is the socket's address; an unparsable
// peer is returned as is.
[[nodiscard]] std::string client_address(std::string_view peer, ForwardedHeader header,
                                         std::span<const std::string_view> fields, std::span<const Cidr> trusted);

// The rate-limit key of an address: IPv4 as is; IPv6 by its /64 prefix
// ("2001:db8:1:2::/64"), since one host usually owns a whole /64. Text that is
// not an address is returned unchanged.
[[nodiscard]] std::string limit_key(std::string_view address);

}  // namespace gh::net

template <>
struct std::is_error_code_enum<gh::net::NetError> : std::true_type {};
