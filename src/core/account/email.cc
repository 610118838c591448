#include "core/account/email.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

#include <utf8proc.h>

#include "core/base/encoding.h"

namespace gh::account {

const char* describe(EmailError e) {
  switch (e) {
    case EmailError::Empty: return "email is required";
    case EmailError::TooLong: return "email is too long";
    case EmailError::BadSyntax: return "email is not a valid address";
    case EmailError::BadDomain: return "email domain is not valid";
    case EmailError::InvalidEncoding: return "text is not valid UTF-8";
  }
  return "invalid email";
}
GH_DEFINE_ERROR_CATEGORY(EmailError, "email")

namespace {

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

std::string utf8proc_map_str(std::string_view s, int options) {
  utf8proc_uint8_t* out = nullptr;
  const auto n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
                              static_cast<utf8proc_ssize_t>(s.size()), &out,
                              static_cast<utf8proc_option_t>(options));
  std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> guard(out, &std::free);
  if (n < 0) return {};
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

// RFC 5322 atext for the local part, plus any non-ASCII (RFC 6531).
bool is_atext(unsigned char c) {
  if (c >= 0x80) return true;
  if (std::isalnum(c) != 0) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool valid_local(std::string_view local) {
  if (local.empty() || local.front() == '.' || local.back() == '.') return false;
  if (local.find("..") != std::string_view::npos) return false;
  return std::all_of(local.begin(), local.end(),
                     [](char c) { return c == '.' || is_atext(static_cast<unsigned char>(c)); });
}

// A host name: labels of letters, digits, hyphens or non-ASCII (IDN U-labels),
// 1..63 bytes, no leading/trailing hyphen, at least two labels, TLD not all digits.
bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  std::size_t labels = 0;
  std::string_view last;
  while (!d.empty()) {
    const auto dot = d.find('.');
    const std::string_view label = d.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char ch : label) {
      const auto c = static_cast<unsigned char>(ch);
      if (!(c >= 0x80 || std::isalnum(c) != 0 || c == '-')) return false;
    }
    ++labels;
    last = label;
    if (dot == std::string_view::npos) break;
    d.remove_prefix(dot + 1);
    if (d.empty()) return false;  // trailing dot
  }
  if (labels < 2) return false;
  return !std::all_of(last.begin(), last.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

std::string fold_case(std::string_view utf8) {
  return utf8proc_map_str(utf8, UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD);
}

Result<Email> parse_email(std::string_view raw) {
  if (!is_valid_utf8(raw)) return fail(EmailError::InvalidEncoding);
  const std::string_view t = trim(raw);
  if (t.empty()) return fail(EmailError::Empty);
  if (t.size() > 254) return fail(EmailError::TooLong);
  if (std::any_of(t.begin(), t.end(), [](char c) { return static_cast<unsigned char>(c) < 0x21 || c == 0x7F; }))
    return fail(EmailError::BadSyntax);
  std::string display = utf8proc_map_str(t, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  const auto at = display.rfind('@');
  if (at == std::string::npos || display.find('@') != at) return fail(EmailError::BadSyntax);
  const std::string_view local = std::string_view(display).substr(0, at);
  const std::string_view domain = std::string_view(display).substr(at + 1);
  if (local.size() > 64) return fail(EmailError::TooLong);
  if (!valid_local(local)) return fail(EmailError::BadSyntax);
  if (!valid_domain(domain)) return fail(EmailError::BadDomain);
  std::string normalized = fold_case(display);
  if (normalized.empty()) return fail(EmailError::InvalidEncoding);
  return Email{std::move(display), std::move(normalized)};
}

Result<std::string> parse_display_name(std::string_view raw, std::size_t max_code_points) {
  if (!is_valid_utf8(raw)) return fail(EmailError::InvalidEncoding, "name is not valid UTF-8");
  const std::string_view t = trim(raw);
  if (std::any_of(t.begin(), t.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }))
    return fail(EmailError::InvalidEncoding, "name must not contain control characters");
  std::string nfc = utf8proc_map_str(t, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
  const auto cps = static_cast<std::size_t>(
      std::count_if(nfc.begin(), nfc.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
  if (cps > max_code_points) return fail(EmailError::TooLong, "name is too long");
  return nfc;
}

}  // namespace gh::account
