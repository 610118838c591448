// Strict JSON for request bodies: nlohmann::json underneath, but duplicate
// member names are rejected (no first-wins/last-wins ambiguity, RFC 8259 §4 /
// ASVS 15.3.7), nesting depth is bounded, and strings must be valid UTF-8.
// Field helpers validate type, length and content and name the field in the
// error, so a handler can turn any failure into a precise 400.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/base/result.h"

namespace gh::json {

using Json = nlohmann::json;

enum class JsonError : std::uint8_t {
  Malformed = 1,  // not JSON at all, or trailing bytes
  NotObject,      // the top level is not an object
  DuplicateKey,   // the same member name appears twice in one object
  TooDeep,        // nesting beyond the depth limit
  InvalidUtf8,    // a string is not well-formed UTF-8
  MissingField,   // a required member is absent
  WrongType,      // a member has the wrong JSON type
  TooLong,        // a string member exceeds its length limit
  ControlChar,    // a string member contains NUL or another C0 control character
  UnknownField,   // a member that this endpoint does not accept
};
GH_DECLARE_ERROR_CATEGORY(JsonError)

struct ParseLimits {
  std::size_t max_depth = 32;
};

// Parses `text` as a JSON object. Errors: Malformed, NotObject, DuplicateKey, TooDeep, InvalidUtf8.
[[nodiscard]] Result<Json> parse_object(std::string_view text, const ParseLimits& limits = {});

// Parses any JSON value with the same strictness (used by parse_object and the JWT parser).
[[nodiscard]] Result<Json> parse_value(std::string_view text, const ParseLimits& limits = {});

// A required string member of at most `max_len` bytes with no control characters.
// Errors: MissingField, WrongType, TooLong, ControlChar (detail names the field).
[[nodiscard]] Result<std::string> required_string(const Json& obj, std::string_view key, std::size_t max_len);
// As required_string, but an absent member (or null) is std::nullopt.
[[nodiscard]] Result<std::optional<std::string>> optional_string(const Json& obj, std::string_view key,
                                                                 std::size_t max_len);
// UnknownField if `obj` has a member not in `allowed` (mass-assignment guard).
[[nodiscard]] Status only_fields(const Json& obj, std::initializer_list<std::string_view> allowed);

}  // namespace gh::json

template <>
struct std::is_error_code_enum<gh::json::JsonError> : std::true_type {};
