// Byte encodings: hex and base64url (RFC 4648 §5, no padding, canonical only).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gh {

[[nodiscard]] std::string hex_encode(std::string_view bytes);
[[nodiscard]] std::optional<std::string> hex_decode(std::string_view hex);

[[nodiscard]] std::string base64url_encode(std::string_view bytes);
// Rejects padding, characters outside the URL-safe alphabet, a length of 1 mod 4
// and non-canonical trailing bits (so each byte string has exactly one encoding).
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

// SHA-256 of `data`, raw 32 bytes.
[[nodiscard]] std::string sha256(std::string_view data);

// True if `s` is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
[[nodiscard]] bool is_valid_utf8(std::string_view s);

}  // namespace gh
