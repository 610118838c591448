#include "core/net/client_ip.h"

#include <gtest/gtest.h>

#include <vector>

namespace gh::net {
namespace {

std::vector<Cidr> cidrs(std::string_view text) {
  auto l = parse_cidr_list(text);
  EXPECT_TRUE(l) << text;
  return l ? *l : std::vector<Cidr>{};
}

std::string xff(std::string_view peer, std::vector<std::string_view> fields, std::string_view trusted) {
  const auto t = cidrs(trusted);
  return client_address(peer, ForwardedHeader::XForwardedFor, fields, t);
}

std::string fwd(std::string_view peer, std::vector<std::string_view> fields, std::string_view trusted) {
  const auto t = cidrs(trusted);
  return client_address(peer, ForwardedHeader::Forwarded, fields, t);
}

TEST(ParseAddress, Accepts) {
  EXPECT_EQ(to_string(*parse_address("192.0.2.1")), "192.0.2.1");
  EXPECT_EQ(to_string(*parse_address("2001:DB8:0:0::1")), "2001:db8::1");
  EXPECT_EQ(to_string(*parse_address("::1")), "::1");
  // A dual-stack socket's spelling of an IPv4 peer is the IPv4 address.
  auto mapped = parse_address("::ffff:198.51.100.7");
  ASSERT_TRUE(mapped);
  EXPECT_TRUE(mapped->v4);
  EXPECT_EQ(*mapped, *parse_address("198.51.100.7"));
}

TEST(ParseAddress, BadAddress) {
  for (std::string_view bad : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "::1%eth0",
                               "[::1]", "1.2.3.4:80", "gggg::1", "localhost", "1.2.3.4/32", "::1::2"}) {
    auto a = parse_address(bad);
    ASSERT_FALSE(a) << "'" << bad << "'";
    EXPECT_EQ(a.error().code, make_error_code(NetError::BadAddress));
  }
}

TEST(Cidr, Contains) {
  const Cidr loop = *parse_cidr("127.0.0.0/8");
  EXPECT_TRUE(loop.contains(*parse_address("127.255.0.1")));
  EXPECT_FALSE(loop.contains(*parse_address("128.0.0.1")));
  EXPECT_FALSE(loop.contains(*parse_address("::1")));  // families never mix
  const Cidr odd = *parse_cidr("10.1.2.3/23");  // host bits are cleared
  EXPECT_EQ(to_string(odd), "10.1.2.0/23");
  EXPECT_TRUE(odd.contains(*parse_address("10.1.3.255")));
  EXPECT_FALSE(odd.contains(*parse_address("10.1.4.0")));
  const Cidr v6 = *parse_cidr("2001:db8::/32");
  EXPECT_TRUE(v6.contains(*parse_address("2001:db8:ffff::1")));
  EXPECT_FALSE(v6.contains(*parse_address("2001:db9::1")));
  EXPECT_TRUE(parse_cidr("0.0.0.0/0")->contains(*parse_address("203.0.113.9")));
  EXPECT_EQ(to_string(*parse_cidr("192.0.2.9")), "192.0.2.9/32");
  EXPECT_EQ(to_string(*parse_cidr("::1")), "::1/128");
  // An IPv4-mapped range is the IPv4 range.
  EXPECT_EQ(to_string(*parse_cidr("::ffff:10.0.0.0/104")), "10.0.0.0/8");
}

TEST(Cidr, BadCidr) {
  for (std::string_view bad : {"", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/", "10.0.0.0/8/8", "::/129", "10.0.0.0/a",
                               "example.com/8", "::ffff:10.0.0.0/95", "10.0.0.0/0008"}) {
    auto c = parse_cidr(bad);
    ASSERT_FALSE(c) << "'" << bad << "'";
    EXPECT_EQ(c.error().code, make_error_code(NetError::BadCidr));
  }
}

TEST(CidrList, CommasAndSpaces) {
  const auto l = cidrs(" 127.0.0.1/32, ::1 ,,10.0.0.0/8");
  ASSERT_EQ(l.size(), 3U);
  EXPECT_EQ(to_string(l[1]), "::1/128");
  EXPECT_TRUE(cidrs("").empty());
  auto bad = parse_cidr_list("127.0.0.1/32, nonsense");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().detail.find("nonsense"), std::string::npos);
}

// ---- X-Forwarded-For ------------------------------------------------------------

TEST(ClientAddress, UntrustedPeerHeaderIgnored) {
  // No proxies configured, or a peer outside them: a spoofed header changes nothing.
  EXPECT_EQ(xff("203.0.113.5", {"1.2.3.4"}, ""), "203.0.113.5");
  EXPECT_EQ(xff("203.0.113.5", {"1.2.3.4"}, "127.0.0.1/32"), "203.0.113.5");
  EXPECT_EQ(xff("::ffff:203.0.113.5", {}, ""), "203.0.113.5");
}

TEST(ClientAddress, TrustedPeerRightMostUntrusted) {
  EXPECT_EQ(xff("127.0.0.1", {"198.51.100.7"}, "127.0.0.1/32"), "198.51.100.7");
  // A client-supplied entry on the left cannot win over what our proxy appended.
  EXPECT_EQ(xff("127.0.0.1", {"6.6.6.6, 198.51.100.7"}, "127.0.0.1/32"), "198.51.100.7");
  // Trusted hops are skipped from the right.
  EXPECT_EQ(xff("10.0.0.2", {"6.6.6.6, 198.51.100.7, 10.0.0.1"}, "10.0.0.0/8"), "198.51.100.7");
  // Several fields are one list, in order.
  EXPECT_EQ(xff("10.0.0.2", {"6.6.6.6", "198.51.100.7, 10.0.0.1"}, "10.0.0.0/8"), "198.51.100.7");
  // Every hop trusted: the left-most.
  EXPECT_EQ(xff("10.0.0.2", {"10.9.9.9, 10.0.0.1"}, "10.0.0.0/8"), "10.9.9.9");
  // Ports and brackets, IPv6.
  EXPECT_EQ(xff("127.0.0.1", {"198.51.100.7:5555"}, "127.0.0.1/32"), "198.51.100.7");
  EXPECT_EQ(xff("127.0.0.1", {"[2001:db8::7]:443"}, "127.0.0.1/32"), "2001:db8::7");
  EXPECT_EQ(xff("::1", {"2001:db8::7"}, "::1/128"), "2001:db8::7");
  EXPECT_EQ(xff("127.0.0.1", {" 198.51.100.7 ,\t127.0.0.1"}, "127.0.0.1/32"), "198.51.100.7");
}

TEST(ClientAddress, MalformedHeaderMeansPeer) {
  // The right-most entry (what the trusted proxy saw) does not parse: the proxy itself is the client.
  for (std::string_view bad : {"unknown", "198.51.100.7, junk", "198.51.100.7,", "1.2.3.4:99999",
                               "[1.2.3.4]", "[2001:db8::1", "2001:db8::1]:80", "198.51.100.7;for=1.1.1.1",
                               "for=198.51.100.7"}) {
    EXPECT_EQ(xff("127.0.0.1", {bad}, "127.0.0.1/32"), "127.0.0.1") << bad;
  }
}

TEST(ClientAddress, JunkAClientPutsOnTheLeftCannotHideTheAppendedAddress) {
  // Proxies append: the client controls everything left of the proxy's entry.
  EXPECT_EQ(xff("127.0.0.1", {"x, 203.0.113.9"}, "127.0.0.1/32"), "203.0.113.9");
  EXPECT_EQ(xff("127.0.0.1", {",198.51.100.7"}, "127.0.0.1/32"), "198.51.100.7");
  EXPECT_EQ(xff("127.0.0.1", {"unknown", "203.0.113.9"}, "127.0.0.1/32"), "203.0.113.9");
  // Junk behind a chain of trusted proxies stops at the last trusted hop, never at the edge peer.
  EXPECT_EQ(xff("127.0.0.1", {"junk, 10.0.0.2"}, "127.0.0.1/32, 10.0.0.0/8"), "10.0.0.2");
  // An empty field (or none) leaves the peer.
  EXPECT_EQ(xff("127.0.0.1", {""}, "127.0.0.1/32"), "127.0.0.1");
  EXPECT_EQ(xff("127.0.0.1", {}, "127.0.0.1/32"), "127.0.0.1");
}

// ---- Forwarded (RFC 7239) ---------------------------------------------------------

TEST(ClientAddress, ForwardedHeader) {
  EXPECT_EQ(fwd("127.0.0.1", {"for=198.51.100.7"}, "127.0.0.1/32"), "198.51.100.7");
  EXPECT_EQ(fwd("127.0.0.1", {"For=\"198.51.100.7:4711\";proto=https;by=10.0.0.1"}, "127.0.0.1/32"), "198.51.100.7");
  EXPECT_EQ(fwd("127.0.0.1", {"for=\"[2001:db8:cafe::17]:4711\""}, "127.0.0.1/32"), "2001:db8:cafe::17");
  EXPECT_EQ(fwd("127.0.0.1", {"for=6.6.6.6, for=198.51.100.7;proto=http"}, "127.0.0.1/32"), "198.51.100.7");
  EXPECT_EQ(fwd("127.0.0.1", {"for=6.6.6.6", "for=198.51.100.7"}, "127.0.0.1/32"), "198.51.100.7");
  EXPECT_EQ(fwd("127.0.0.1", {"for=\"198.51.100.7:_hidden\""}, "127.0.0.1/32"), "198.51.100.7");
  // A comma inside a quoted string does not split elements (and is not an address).
  EXPECT_EQ(fwd("127.0.0.1", {"for=\"6.6.6.6, 198.51.100.7\""}, "127.0.0.1/32"), "127.0.0.1");
  // Not from a trusted peer: ignored.
  EXPECT_EQ(fwd("203.0.113.5", {"for=198.51.100.7"}, "127.0.0.1/32"), "203.0.113.5");
}

TEST(ClientAddress, MalformedForwardedMeansPeer) {
  for (std::string_view bad : {"for=unknown", "for=_hidden", "for=2001:db8::1", "for=\"[2001:db8::1]", "proto=https",
                               "for=198.51.100.7;for=1.1.1.1", "for=", "for=\"198.51.100.7", "=198.51.100.7",
                               "for=198.51.100.7,", "for=198.51.100.7 junk", "198.51.100.7", "for=[1.2.3.4]"}) {
    EXPECT_EQ(fwd("127.0.0.1", {bad}, "127.0.0.1/32"), "127.0.0.1") << bad;
  }
}

TEST(LimitKey, IPv6ByPrefix) {
  EXPECT_EQ(limit_key("198.51.100.7"), "198.51.100.7");
  EXPECT_EQ(limit_key("::ffff:198.51.100.7"), "198.51.100.7");
  EXPECT_EQ(limit_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::/64");
  EXPECT_EQ(limit_key("2001:db8:1:2::1"), limit_key("2001:db8:1:2:ffff::9"));
  EXPECT_EQ(limit_key("not an address"), "not an address");
}

}  // namespace
}  // namespace gh::net
