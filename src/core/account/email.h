// Email addresses as account identifiers: syntax check (RFC 5321/5322
// dot-atom, with UTF-8 allowed per RFC 6531 and IDN domains), trimming, and a
// normalised key so that two accounts can never differ only by case or by
// Unicode representation. Pure logic.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace gh::account {

enum class EmailError : std::uint8_t {
  Empty = 1,       // nothing left after trimming
  TooLong,         // over 254 bytes, or a local part over 64 bytes
  BadSyntax,       // no single '@', empty part, bad characters or dots
  BadDomain,       // the domain is not a dotted host name (labels, hyphens, TLD)
  InvalidEncoding  // not valid UTF-8
};
GH_DECLARE_ERROR_CATEGORY(EmailError)

struct Email {
  std::string display;     // trimmed, NFC: what we store and send mail to
  std::string normalized;  // NFKC + Unicode case fold of `display`: the unique key
};

// Errors: every EmailError value; the detail is safe to show the person.
[[nodiscard]] Result<Email> parse_email(std::string_view raw);

// Case-folded NFKC form of valid UTF-8 text (shared by email and name handling).
[[nodiscard]] std::string fold_case(std::string_view utf8);

// Validates a display name: at most `max_code_points`, valid UTF-8, no control
// characters; trims surrounding whitespace. Errors: EmailError::InvalidEncoding or TooLong (reused).
[[nodiscard]] Result<std::string> parse_display_name(std::string_view raw, std::size_t max_code_points = 100);

}  // namespace gh::account

template <>
struct std::is_error_code_enum<gh::account::EmailError> : std::true_type {};
