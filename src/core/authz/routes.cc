#include "core/authz/routes.h"

#include <fmt/format.h>

namespace gh::authz {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (lower(s[i]) != lower(prefix[i])) return false;
  return true;
}

}  // namespace

Result<std::vector<RouteRule>> parse_route_rules(std::string_view text, const Policy& policy) {
  std::vector<RouteRule> rules;
  std::size_t n = 0;
  while (!trim(text).empty()) {
    ++n;
    const auto comma = text.find(',');
    const std::string_view entry = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    auto bad = [&](std::string_view why) {
      return fail(AuthzError::BadPolicy, fmt::format("forward-auth rule {}: {}", n, why));
    };
    const auto eq = entry.rfind('=');
    if (eq == std::string_view::npos) return bad("expected path-prefix=resource:action");
    const std::string_view prefix = trim(entry.substr(0, eq));
    const std::string_view perm = trim(entry.substr(eq + 1));
    const auto colon = perm.find(':');
    if (colon == std::string_view::npos) return bad("expected resource:action after '='");
    RouteRule r{std::string(prefix), std::string(trim(perm.substr(0, colon))),
                std::string(trim(perm.substr(colon + 1)))};
    // The prefix is matched against normalised paths, so it must be one itself.
    const auto normalized = normalize_route_path(r.prefix);
    if (!normalized || (*normalized != r.prefix && *normalized + "/" != r.prefix))
      return bad(
          "the path prefix must start with '/' and be normalised (no dot segments, escapes or "
          "'//')");
    if (!policy.resources.contains(r.resource)) return bad("unknown resource '" + r.resource + "'");
    if (!policy.actions.contains(r.action)) return bad("unknown action '" + r.action + "'");
    rules.push_back(std::move(r));
  }
  return rules;
}

std::optional<std::string> normalize_route_path(std::string_view raw) {
  raw = raw.substr(0, raw.find_first_of("?#"));
  // ';' path parameters (Tomcat, Jetty: "/admin;x", "..;") have no safe reading.
  if (!raw.starts_with('/') || raw.find(';') != std::string_view::npos) return std::nullopt;
  // Decode unreserved escapes ("%61" is an "a" to every server) and read a
  // backslash as a slash; an escape that decodes to a separator, a dot, '%' or
  // ';' is read differently by different servers: refused.
  std::string decoded;
  decoded.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '%') {
      if (i + 2 >= raw.size()) return std::nullopt;
      const int hi = hex(raw[i + 1]);
      const int lo = hex(raw[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      if (c == '/' || c == '\\' || c == '.' || c == '%' || c == ';') return std::nullopt;
      i += 2;
    }
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
    decoded.push_back(c == '\\' ? '/' : c);
  }
  // Segments: empty ones merged ("//admin" is "/admin" to most servers). Dot
  // segments are refused, not resolved: resolving can only take a path out of
  // a rule's prefix, and the application behind the proxy may not resolve them
  // the same way. So is a segment ending in '.' or ' ' (Windows trims them).
  std::string path;
  std::string_view rest = decoded;
  const bool trailing_slash = decoded.size() > 1 && decoded.back() == '/';
  while (!rest.empty()) {
    const auto slash = rest.find('/');
    const std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (seg.empty()) continue;
    if (seg.ends_with('.') || seg.ends_with(' ')) return std::nullopt;
    path.append("/").append(seg);
  }
  if (path.empty()) return std::string("/");
  if (trailing_slash) path.push_back('/');
  return path;
}

const RouteRule* match_route(const std::vector<RouteRule>& rules,
                             std::string_view normalized_path) {
  const RouteRule* best = nullptr;
  for (const auto& r : rules) {
    // "/admin/" also covers "/admin" itself: the directory without its slash.
    std::string_view p = r.prefix;
    const bool dir = p.size() > 1 && p.ends_with('/');
    const bool hit =
        starts_with_nocase(normalized_path, p) ||
        (dir && normalized_path.size() == p.size() - 1 && starts_with_nocase(p, normalized_path));
    if (hit && (!best || r.prefix.size() > best->prefix.size())) best = &r;
  }
  return best;
}

}  // namespace gh::authz
