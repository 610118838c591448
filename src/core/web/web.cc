#include "core/web/web.h"

#include <algorithm>
#include <array>

#include "core/base/secret.h"

namespace gh::web {

const char* describe(WebError e) {
  switch (e) {
    case WebError::BadForm: return "the form data is malformed";
    case WebError::BadTarget: return "not a valid redirect target";
  }
  return "web input error";
}
GH_DEFINE_ERROR_CATEGORY(WebError, "web")

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> form_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>((hi << 4) | lo));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

// Where the authority of an absolute URL ends (its path, query or fragment begins).
std::size_t authority_end(std::string_view url, std::size_t from) {
  const auto e = url.find_first_of("/?#", from);
  return e == std::string_view::npos ? url.size() : e;
}

// No dot segments and no encoded '/', '\' or '.': what is checked is what the browser will fetch.
bool safe_path(std::string_view path) {
  for (std::size_t i = 0; i + 2 < path.size(); ++i) {
    if (path[i] != '%') continue;
    const char a = path[i + 1];
    const char b = lower(path[i + 2]);
    if ((a == '2' && (b == 'e' || b == 'f')) || (a == '5' && b == 'c')) return false;
  }
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const auto seg = path.substr(start, end - start);
    if (seg == "." || seg == "..") return false;
    start = end + 1;
  }
  return true;
}

struct Split {
  std::string origin;
  std::string_view path;  // "" when the URL has none
  std::string_view rest;  // query and fragment, from '?' or '#'
};

std::optional<Split> split_absolute(std::string_view url) {
  auto origin = origin_of(url);
  if (!origin) return std::nullopt;
  const auto scheme_end = url.find("://") + 3;
  const auto auth_end = authority_end(url, scheme_end);
  const auto tail = url.substr(auth_end);
  const auto q = tail.find_first_of("?#");
  return Split{std::move(*origin), tail.substr(0, q), q == std::string_view::npos ? std::string_view{} : tail.substr(q)};
}

}  // namespace

std::optional<std::string_view> Form::get(std::string_view name) const {
  for (const auto& [k, v] : fields_)
    if (k == name) return std::string_view(v);
  return std::nullopt;
}

void Form::wipe() {
  for (auto& [k, v] : fields_) gh::wipe(v);
  fields_.clear();
}

Result<Form> parse_form(std::string_view body, std::size_t max_fields) {
  Form form;
  std::size_t start = 0;
  while (start < body.size()) {
    auto end = body.find('&', start);
    if (end == std::string_view::npos) end = body.size();
    const auto pair = body.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    if (form.fields_.size() == max_fields) {
      form.wipe();
      return fail(WebError::BadForm, "too many fields");
    }
    const auto eq = pair.find('=');
    auto name = form_decode(pair.substr(0, eq));
    auto value = form_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
    if (!name || !value || name->empty() || name->find('\0') != std::string::npos || form.get(*name)) {
      if (value) gh::wipe(*value);
      form.wipe();
      return fail(WebError::BadForm, "malformed, empty or repeated field");
    }
    form.fields_.emplace_back(std::move(*name), std::move(*value));
  }
  return form;
}

std::string url_encode(std::string_view s) {
  static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                               '8', '9', 'A', 'B', 'C', 'D', 'E', 'F'};
  std::string out;
  out.reserve(s.size() * 3);
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
        c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

std::optional<std::string> origin_of(std::string_view url) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  const auto scheme = url.substr(0, sep);
  const bool https = iequal(scheme, "https");
  if (!https && !iequal(scheme, "http")) return std::nullopt;
  const auto auth = url.substr(sep + 3, authority_end(url, sep + 3) - (sep + 3));
  if (auth.empty() || auth.find('@') != std::string_view::npos) return std::nullopt;
  std::string_view host;
  std::string_view port;
  if (auth.front() == '[') {
    const auto close = auth.find(']');
    if (close == std::string_view::npos || close == 1) return std::nullopt;
    host = auth.substr(0, close + 1);
    if (!std::all_of(host.begin() + 1, host.end() - 1, [](char c) { return hex_value(c) >= 0 || c == ':' || c == '.'; }))
      return std::nullopt;
    const auto after = auth.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else {
    const auto colon = auth.find(':');
    host = auth.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = auth.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
    if (host.empty() || host.front() == '.' || host.front() == '-' ||
        !std::all_of(host.begin(), host.end(), [](char c) {
          return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
        }))
      return std::nullopt;
  }
  unsigned long port_number = 0;
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return std::nullopt;
    port_number = std::stoul(std::string(port));
    if (port_number == 0 || port_number > 65535) return std::nullopt;
  }
  std::string out = https ? "https://" : "http://";
  for (const char c : host) out.push_back(lower(c));
  if (!port.empty() && port_number != (https ? 443U : 80U)) out += ":" + std::to_string(port_number);
  return out;
}

Result<RedirectTarget> parse_redirect_target(std::string_view entry) {
  auto s = split_absolute(entry);
  if (!s || !s->rest.empty() || !safe_path(s->path) || entry.find('\\') != std::string_view::npos)
    return fail(WebError::BadTarget, "expected scheme://host[:port][/path/]");
  std::string prefix(s->path.empty() ? "/" : s->path);
  if (prefix.back() != '/') prefix.push_back('/');
  return RedirectTarget{std::move(s->origin), std::move(prefix)};
}

std::optional<std::string> safe_return_to(std::string_view candidate, std::string_view own_origin,
                                          std::span<const RedirectTarget> allowed) {
  if (candidate.empty() || candidate.size() > 2048) return std::nullopt;
  if (!std::all_of(candidate.begin(), candidate.end(), [](char c) { return c > 0x20 && c < 0x7F && c != '\\'; }))
    return std::nullopt;
  if (candidate.front() == '/') {
    if (candidate.size() > 1 && candidate[1] == '/') return std::nullopt;  // "//evil.example": another host
    if (!safe_path(candidate.substr(0, candidate.find_first_of("?#")))) return std::nullopt;
    return std::string(candidate);
  }
  auto s = split_absolute(candidate);
  if (!s || !safe_path(s->path)) return std::nullopt;
  if (s->origin == own_origin) return std::string(candidate);
  const std::string_view path = s->path.empty() ? std::string_view("/") : s->path;
  for (const auto& t : allowed) {
    if (t.origin != s->origin) continue;
    const std::string_view dir = std::string_view(t.path_prefix).substr(0, t.path_prefix.size() - 1);
    if (path.starts_with(t.path_prefix) || path == dir) return std::string(candidate);
  }
  return std::nullopt;
}

}  // namespace gh::web
