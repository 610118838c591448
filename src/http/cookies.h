// Cookie header parsing (RFC 6265 §5.4 / §4.2.1) and Set-Cookie building.
// Pure functions; the parser is fuzzed (fuzz/cookie_fuzz.cc).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace gh::http {

// The value of cookie `name` in a Cookie request header, or nullopt. When the
// name appears more than once (a planted duplicate), nullopt: ambiguous input
// is refused rather than first- or last-wins.
[[nodiscard]] std::optional<std::string_view> find_cookie(std::string_view header, std::string_view name);

struct CookieSpec {
  std::string_view name;
  std::string_view value;
  std::string_view path = "/";
  std::optional<std::chrono::seconds> max_age;  // nullopt: session cookie; 0: delete
  bool secure = true;
  bool http_only = true;
  std::string_view same_site = "Strict";  // Strict, Lax or None
};

[[nodiscard]] std::string set_cookie(const CookieSpec& c);

}  // namespace gh::http
