#include "core/totp/totp.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>

namespace gh::totp {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

std::string pct(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace

std::string hotp(std::span<const std::byte> secret, std::uint64_t counter, int digits) {
  std::array<unsigned char, 8> msg{};
  for (int i = 7; i >= 0; --i) {
    msg[static_cast<std::size_t>(i)] = static_cast<unsigned char>(counter & 0xff);
    counter >>= 8;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int len = 0;
  // HMAC-SHA1 is what RFC 6238 authenticator apps implement by default.
  if (HMAC(EVP_sha1(), secret.data(), static_cast<int>(secret.size()), msg.data(), msg.size(),
           mac.data(), &len) == nullptr ||
      len < 20)
    return {};
  const unsigned offset = mac[len - 1] & 0x0f;
  const std::uint32_t bin = (static_cast<std::uint32_t>(mac[offset] & 0x7f) << 24) |
                            (static_cast<std::uint32_t>(mac[offset + 1]) << 16) |
                            (static_cast<std::uint32_t>(mac[offset + 2]) << 8) | mac[offset + 3];
  std::uint32_t mod = 1;
  for (int i = 0; i < digits; ++i) mod *= 10;
  std::string out = std::to_string(bin % mod);
  if (out.size() < static_cast<std::size_t>(digits))
    out.insert(0, static_cast<std::size_t>(digits) - out.size(), '0');
  return out;
}

std::string code_at(std::span<const std::byte> secret, std::int64_t t, const Params& p) {
  if (t < 0 || p.period <= 0) return {};
  return hotp(secret, static_cast<std::uint64_t>(t / p.period), p.digits);
}

std::optional<std::int64_t> verify(std::span<const std::byte> secret, std::string_view code,
                                   std::int64_t now, std::int64_t last_used, int window,
                                   const Params& p) {
  if (code.size() != static_cast<std::size_t>(p.digits) || p.period <= 0 || now < 0)
    return std::nullopt;
  for (const char c : code)
    if (c < '0' || c > '9') return std::nullopt;
  const std::int64_t step = now / p.period;
  std::optional<std::int64_t> matched;
  // Every candidate is computed and compared, so timing says nothing about which one matched.
  for (std::int64_t s = step - window; s <= step + window; ++s) {
    if (s < 0) continue;
    const std::string expected = hotp(secret, static_cast<std::uint64_t>(s), p.digits);
    const bool equal = expected.size() == code.size() &&
                       CRYPTO_memcmp(expected.data(), code.data(), code.size()) == 0;
    if (equal && s > last_used && !matched) matched = s;
  }
  return matched;
}

std::string base32_encode(std::span<const std::byte> bytes) {
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (const std::byte b : bytes) {
    buffer = (buffer << 8) | static_cast<std::uint32_t>(b);
    bits += 8;
    while (bits >= 5) {
      out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
  return out;
}

std::optional<std::string> base32_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    const auto v = kAlphabet.find(c);
    if (v == std::string_view::npos) return std::nullopt;
    buffer = (buffer << 5) | static_cast<std::uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  return out;
}

std::string otpauth_uri(std::string_view issuer, std::string_view account,
                        std::span<const std::byte> secret, const Params& p) {
  return "otpauth://totp/" + pct(issuer) + ":" + pct(account) + "?secret=" + base32_encode(secret) +
         "&issuer=" + pct(issuer) + "&algorithm=SHA1&digits=" + std::to_string(p.digits) +
         "&period=" + std::to_string(p.period);
}

}  // namespace gh::totp
