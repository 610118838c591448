#include "core/base/random.h"

#include <array>

#include <fmt/format.h>
#include <sodium.h>

#include "core/base/encoding.h"

namespace gh {

void SystemRandom::fill(std::span<std::byte> out) { randombytes_buf(out.data(), out.size()); }

std::string random_token(Random& rng, std::size_t n) {
  std::string buf(n, '\0');
  rng.fill(std::as_writable_bytes(std::span<char>(buf)));
  std::string out = base64url_encode(buf);
  sodium_memzero(buf.data(), buf.size());
  return out;
}

std::string uuid_v4(Random& rng) {
  std::array<unsigned char, 16> b{};
  rng.fill(std::as_writable_bytes(std::span(b)));
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  const std::string h = hex_encode(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()));
  return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                     h.substr(16, 4), h.substr(20, 12));
}

}  // namespace gh
