// Browser-facing input that needs exact, strict parsing: HTML form bodies
// (application/x-www-form-urlencoded) and redirect targets (`return_to`).
// Pure logic; both parsers are fuzzed (fuzz/form_fuzz.cc).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/base/result.h"

namespace gh::web {

enum class WebError : std::uint8_t {
  BadForm = 1,     // malformed percent-encoding, an empty or duplicated field name, too many fields
  BadTarget,       // an allow-list entry that is not scheme://host[:port][/path/]
};
GH_DECLARE_ERROR_CATEGORY(WebError)

// A parsed form. Field names are unique (a duplicate is refused at parse time,
// so a smuggled second "return_to" or "csrf" can never shadow the first).
class Form {
 public:
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const;
  // The value, or "" when absent.
  [[nodiscard]] std::string_view value(std::string_view name) const { return get(name).value_or(""); }
  // Overwrites every value in place (forms carry passwords), then drops them.
  void wipe();
  [[nodiscard]] std::size_t size() const { return fields_.size(); }

 private:
  friend Result<Form> parse_form(std::string_view body, std::size_t max_fields);
  std::vector<std::pair<std::string, std::string>> fields_;
};

// Parses an application/x-www-form-urlencoded body (WHATWG URL §5.1, strict:
// '+' is a space, %XX must be two hex digits, names are non-empty and unique).
// Errors: WebError::BadForm.
[[nodiscard]] Result<Form> parse_form(std::string_view body, std::size_t max_fields = 32);

// Percent-encodes for a query component (everything but unreserved characters).
[[nodiscard]] std::string url_encode(std::string_view s);

// Where a `return_to` may point: an origin, optionally narrowed to a path prefix.
struct RedirectTarget {
  std::string origin;       // "https://app.example.com" (lower case, no default port)
  std::string path_prefix;  // "/" or e.g. "/console/" (always ends with '/')
};

// Parses an allow-list entry "scheme://host[:port][/path/]". Errors: BadTarget.
[[nodiscard]] Result<RedirectTarget> parse_redirect_target(std::string_view entry);

// The canonical origin ("scheme://host[:port]", lower case, default port
// dropped) of an absolute http(s) URL, or nullopt if it is not one.
[[nodiscard]] std::optional<std::string> origin_of(std::string_view url);

// `candidate` if it is a safe place to send the browser after sign-in, else
// nullopt. Safe: a path on our own origin ("/account", never "//host" or
// "/\host"), or an absolute http(s) URL whose origin is `own_origin` or an
// allowed target's and whose path lies under that target's prefix. Refused
// outright: userinfo ("https://ours@evil"), backslashes, control characters
// and spaces, dot segments and encoded slashes or dots in the path (no
// normalisation games), and anything over 2048 bytes.
[[nodiscard]] std::optional<std::string> safe_return_to(std::string_view candidate, std::string_view own_origin,
                                                        std::span<const RedirectTarget> allowed);

}  // namespace gh::web

template <>
struct std::is_error_code_enum<gh::web::WebError> : std::true_type {};
