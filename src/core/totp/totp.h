// TOTP (RFC 6238 over HOTP, RFC 4226) for the second factor (issue #8), and
// the base32 / otpauth:// encodings authenticator apps read. Pure functions;
// HMAC through OpenSSL.
//
// Replay: verify() returns the time step a code matched; the caller stores
// the last step it accepted per user and passes it back, so a code (or an
// older one) is never accepted twice.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace gh::totp {

struct Params {
  int digits = 6;            // 6..8
  std::int64_t period = 30;  // seconds per step
};

// The HOTP value for `counter` (RFC 4226 §5.3), zero-padded to `digits`.
[[nodiscard]] std::string hotp(std::span<const std::byte> secret, std::uint64_t counter,
                               int digits = 6);

// The TOTP code at unix time `t`.
[[nodiscard]] std::string code_at(std::span<const std::byte> secret, std::int64_t t,
                                  const Params& p = {});

// The step `code` matches at unix time `now`, trying now's step and `window`
// steps either side (±1 by default: clock skew), never a step <= `last_used`
// (replay). Constant-time comparison per candidate. nullopt if none matches
// or `code` is not exactly `digits` ASCII digits.
[[nodiscard]] std::optional<std::int64_t> verify(std::span<const std::byte> secret,
                                                 std::string_view code, std::int64_t now,
                                                 std::int64_t last_used = -1, int window = 1,
                                                 const Params& p = {});

// RFC 4648 base32 (A-Z2-7), no padding: how secrets travel in otpauth URIs.
[[nodiscard]] std::string base32_encode(std::span<const std::byte> bytes);
// Accepts upper/lower case and optional '=' padding; nullopt for anything else.
[[nodiscard]] std::optional<std::string> base32_decode(std::string_view text);

// otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…&algorithm=SHA1&digits=…&period=…
// (Google Authenticator key URI format), label and issuer percent-encoded.
[[nodiscard]] std::string otpauth_uri(std::string_view issuer, std::string_view account,
                                      std::span<const std::byte> secret, const Params& p = {});

}  // namespace gh::totp
