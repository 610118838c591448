// Fuzzes what a second-factor request hands the TOTP core: base32 secrets and
// codes. No crash; base32 decoding round-trips; verify() never accepts a code
// that is not exactly `digits` ASCII digits, nor one for a step <= last_used.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/totp/totp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto raw = gh::totp::base32_decode(input); raw) {
    const std::string enc = gh::totp::base32_encode(std::as_bytes(std::span(*raw)));
    auto back = gh::totp::base32_decode(enc);
    if (!back || *back != *raw) __builtin_trap();
  }
  static const std::string secret = "12345678901234567890";
  const auto key = std::as_bytes(std::span(secret));
  const std::int64_t now = 1'767'225'610;
  if (auto step = gh::totp::verify(key, input, now, now / 30 - 1); step) {
    if (input.size() != 6) __builtin_trap();
    for (char c : input)
      if (c < '0' || c > '9') __builtin_trap();
    if (*step <= now / 30 - 1) __builtin_trap();
  }
  return 0;
}
