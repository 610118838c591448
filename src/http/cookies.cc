#include "http/cookies.h"

#include <fmt/format.h>

namespace gh::http {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<std::string_view> find_cookie(std::string_view header, std::string_view name) {
  std::optional<std::string_view> found;
  while (!header.empty()) {
    const auto semi = header.find(';');
    const std::string_view pair = trim(header.substr(0, semi));
    header = semi == std::string_view::npos ? std::string_view{} : header.substr(semi + 1);
    const auto eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (trim(pair.substr(0, eq)) != name) continue;
    std::string_view value = trim(pair.substr(eq + 1));
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    if (found) return std::nullopt;  // duplicate: refuse to guess which one is real
    found = value;
  }
  return found;
}

std::string set_cookie(const CookieSpec& c) {
  std::string out = fmt::format("{}={}; Path={}", c.name, c.value, c.path);
  if (c.max_age) out += fmt::format("; Max-Age={}", c.max_age->count());
  if (c.secure) out += "; Secure";
  if (c.http_only) out += "; HttpOnly";
  out += fmt::format("; SameSite={}", c.same_site);
  return out;
}

}  // namespace gh::http
