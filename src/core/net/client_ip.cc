#include "core/net/client_ip.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace gh::net {

const char* describe(NetError e) {
  switch (e) {
    case NetError::BadAddress: return "not an IPv4 or IPv6 address";
    case NetError::BadCidr: return "not an address range (ADDRESS/PREFIX, e.g. 10.0.0.0/8 or 2001:db8::/32)";
  }
  return "address error";
}
GH_DEFINE_ERROR_CATEGORY(NetError, "net")

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_port(std::string_view s) {
  unsigned v = 0;
  if (s.empty() || s.size() > 5) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  return ec == std::errc{} && p == s.data() + s.size() && v <= 65535;
}

bool contains_in(std::span<const Cidr> set, const Address& a) {
  return std::any_of(set.begin(), set.end(), [&](const Cidr& c) { return c.contains(a); });
}

// One X-Forwarded-For entry: "192.0.2.1", "192.0.2.1:8080", "2001:db8::1", "[2001:db8::1]", "[2001:db8::1]:443".
std::optional<Address> xff_entry(std::string_view e) {
  e = trim(e);
  if (e.starts_with('[')) {
    const auto close = e.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view rest = e.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && is_port(rest.substr(1)))) return std::nullopt;
    auto a = parse_address(e.substr(1, close - 1));
    if (!a || a->v4) return std::nullopt;
    return *a;
  }
  if (std::count(e.begin(), e.end(), ':') == 1) {  // IPv4 with a port
    const auto colon = e.find(':');
    if (!is_port(e.substr(colon + 1))) return std::nullopt;
    auto a = parse_address(e.substr(0, colon));
    if (!a || !a->v4) return std::nullopt;
    return *a;
  }
  auto a = parse_address(e);
  return a ? std::optional<Address>(*a) : std::nullopt;
}

// RFC 7239 §6 node: IPv4 [":" port] / "[" IPv6 "]" [":" port]; ports may be obfuscated ("_abc").
std::optional<Address> forwarded_node(std::string_view n) {
  auto port_ok = [](std::string_view p) {
    if (is_port(p)) return true;
    return p.size() > 1 && p.front() == '_' &&
           std::all_of(p.begin() + 1, p.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-'; });
  };
  if (n.starts_with('[')) {
    const auto close = n.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    const std::string_view rest = n.substr(close + 1);
    if (!rest.empty() && !(rest.front() == ':' && port_ok(rest.substr(1)))) return std::nullopt;
    auto a = parse_address(n.substr(1, close - 1));
    if (!a || a->v4) return std::nullopt;
    return *a;
  }
  const auto colon = n.find(':');
  if (colon != std::string_view::npos && !port_ok(n.substr(colon + 1))) return std::nullopt;
  auto a = parse_address(n.substr(0, colon));
  if (!a || !a->v4) return std::nullopt;  // a bare IPv6 must be bracketed (and quoted)
  return *a;
}

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// A small RFC 7230 tokenizer for one Forwarded field: elements split by ',' and
// pairs by ';' outside quoted strings. Appends each element's for= address.
bool parse_forwarded_field(std::string_view f, std::vector<Address>& out) {
  std::size_t i = 0;
  auto skip_ows = [&] {
    while (i < f.size() && (f[i] == ' ' || f[i] == '\t')) ++i;
  };
  while (true) {
    std::optional<Address> element_for;
    // One element: pair *( ";" pair ).
    while (true) {
      skip_ows();
      const std::size_t name_start = i;
      while (i < f.size() && is_tchar(f[i])) ++i;
      const std::string_view name = f.substr(name_start, i - name_start);
      if (name.empty() || i >= f.size() || f[i] != '=') return false;
      ++i;
      std::string value;
      if (i < f.size() && f[i] == '"') {
        ++i;
        bool closed = false;
        while (i < f.size()) {
          const char c = f[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (i >= f.size()) return false;
            value += f[i++];
          } else {
            value += c;
          }
        }
        if (!closed) return false;
      } else {
        const std::size_t v_start = i;
        while (i < f.size() && is_tchar(f[i])) ++i;
        value.assign(f.substr(v_start, i - v_start));
        if (value.empty()) return false;
      }
      if (name.size() == 3 && (name[0] | 0x20) == 'f' && (name[1] | 0x20) == 'o' && (name[2] | 0x20) == 'r') {
        if (element_for) return false;  // for= twice in one element
        element_for = forwarded_node(value);
        if (!element_for) return false;
      }
      skip_ows();
      if (i < f.size() && f[i] == ';') {
        ++i;
        continue;
      }
      break;
    }
    if (!element_for) return false;
    out.push_back(*element_for);
    skip_ows();
    if (i >= f.size()) return true;
    if (f[i] != ',') return false;
    ++i;
  }
}

}  // namespace

Result<Address> parse_address(std::string_view text) {
  if (text.empty() || text.size() > 45 || text.find('%') != std::string_view::npos) return fail(NetError::BadAddress);
  const std::string s(text);  // inet_pton needs a terminator
  Address a;
  if (text.find(':') == std::string_view::npos) {
    if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return fail(NetError::BadAddress);
    a.v4 = true;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return fail(NetError::BadAddress);
  a.v4 = false;
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a.bytes.data(), kMapped, sizeof kMapped) == 0) {
    std::memmove(a.bytes.data(), a.bytes.data() + 12, 4);
    std::fill(a.bytes.begin() + 4, a.bytes.end(), 0);
    a.v4 = true;
  }
  return a;
}

std::string to_string(const Address& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.v4 ? AF_INET : AF_INET6, a.bytes.data(), buf, sizeof buf);
  return buf;
}

bool Cidr::contains(const Address& a) const {
  if (a.v4 != base.v4) return false;
  int bits = prefix;
  for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
    const std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((a.bytes[i] & mask) != base.bytes[i]) return false;
  }
  return true;
}

Result<Cidr> parse_cidr(std::string_view text) {
  text = trim(text);
  const auto slash = text.find('/');
  const std::string_view addr_text = text.substr(0, slash);
  auto a = parse_address(addr_text);
  if (!a) return fail(NetError::BadCidr);
  // An IPv4-mapped range ("::ffff:10.0.0.0/104") is the IPv4 range it maps.
  const bool mapped = a->v4 && addr_text.find(':') != std::string_view::npos;
  int prefix = a->v4 ? 32 : 128;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    const int max = a->v4 && !mapped ? 32 : 128;
    const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (p.empty() || p.size() > 3 || ec != std::errc{} || end != p.data() + p.size() || prefix < 0 || prefix > max)
      return fail(NetError::BadCidr);
    if (mapped) {
      if (prefix < 96) return fail(NetError::BadCidr);
      prefix -= 96;
    }
  }
  Cidr c;
  c.prefix = prefix;
  c.base = *a;
  int bits = prefix;
  for (auto& byte : c.base.bytes) {
    if (bits >= 8) {
      bits -= 8;
      continue;
    }
    byte = bits > 0 ? static_cast<std::uint8_t>(byte & (0xff << (8 - bits))) : 0;
    bits = 0;
  }
  return c;
}

Result<std::vector<Cidr>> parse_cidr_list(std::string_view text) {
  std::vector<Cidr> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    auto end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view item = trim(text.substr(start, end - start));
    if (!item.empty()) {
      auto c = parse_cidr(item);
      if (!c) return fail(NetError::BadCidr, fmt::format("'{}' is not an address range (ADDRESS/PREFIX)", item));
      out.push_back(*c);
    }
    start = end + 1;
  }
  return out;
}

std::string to_string(const Cidr& c) { return fmt::format("{}/{}", to_string(c.base), c.prefix); }

std::optional<std::vector<Address>> parse_x_forwarded_for(std::span<const std::string_view> fields) {
  std::vector<Address> out;
  for (const std::string_view field : fields) {
    if (trim(field).empty()) continue;
    std::size_t start = 0;
    while (start <= field.size()) {
      auto end = field.find(',', start);
      if (end == std::string_view::npos) end = field.size();
      auto a = xff_entry(field.substr(start, end - start));
      if (!a) return std::nullopt;
      out.push_back(*a);
      start = end + 1;
    }
  }
  return out;
}

std::optional<std::vector<Address>> parse_forwarded(std::span<const std::string_view> fields) {
  std::vector<Address> out;
  for (const std::string_view field : fields) {
    if (trim(field).empty()) continue;
    if (!parse_forwarded_field(field, out)) return std::nullopt;
  }
  return out;
}

namespace {
// Every X-Forwarded-For entry in order; nullopt for one that does not parse.
std::vector<std::optional<Address>> xff_hops(std::span<const std::string_view> fields) {
  std::vector<std::optional<Address>> out;
  for (const std::string_view field : fields) {
    if (trim(field).empty()) continue;
    std::size_t start = 0;
    while (start <= field.size()) {
      auto end = field.find(',', start);
      if (end == std::string_view::npos) end = field.size();
      out.push_back(xff_entry(field.substr(start, end - start)));
      start = end + 1;
    }
  }
  return out;
}
}  // namespace

std::string client_address(std::string_view peer, ForwardedHeader header, std::span<const std::string_view> fields,
                           std::span<const Cidr> trusted) {
  const auto peer_addr = parse_address(peer);
  if (!peer_addr) return std::string(peer);
  if (fields.empty() || !contains_in(trusted, *peer_addr)) return to_string(*peer_addr);
  std::vector<std::optional<Address>> hops;
  if (header == ForwardedHeader::Forwarded) {
    const auto parsed = parse_forwarded(fields);
    if (!parsed) return to_string(*peer_addr);
    hops.assign(parsed->begin(), parsed->end());
  } else {
    hops = xff_hops(fields);
  }
  // From the right (what our proxies appended) to the first address that is not
  // a trusted proxy. An entry that does not parse ends the walk at the last
  // trusted hop to its right: junk a client put on the left can neither hide
  // the address our proxy appended nor make us fall back to the proxy itself.
  Address last = *peer_addr;
  for (auto it = hops.rbegin(); it != hops.rend(); ++it) {
    if (!*it) return to_string(last);
    if (!contains_in(trusted, **it)) return to_string(**it);
    last = **it;
  }
  return to_string(last);
}

std::string limit_key(std::string_view address) {
  auto a = parse_address(address);
  if (!a) return std::string(address);
  if (a->v4) return to_string(*a);
  std::fill(a->bytes.begin() + 8, a->bytes.end(), 0);
  return to_string(*a) + "/64";
}

}  // namespace gh::net
