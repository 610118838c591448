#include "core/mail/message.h"

#include <array>
#include <chrono>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <sodium.h>

#include "core/base/encoding.h"

namespace gh::mail {

const char* describe(MailError e) {
  switch (e) {
    case MailError::HeaderInjection:
      return "a mail header value contains a line break";
    case MailError::ControlCharacter:
      return "a mail header value contains a control character";
    case MailError::BadAddress:
      return "not a single valid mail address";
    case MailError::InvalidEncoding:
      return "mail text is not valid UTF-8";
    case MailError::MissingText:
      return "a mail needs a plain-text body";
    case MailError::TooLarge:
      return "mail body too large";
    case MailError::BadMessageId:
      return "invalid Message-ID token or domain";
    case MailError::BadBoundary:
      return "invalid MIME boundary token";
  }
  return "mail error";
}
GH_DEFINE_ERROR_CATEGORY(MailError, "mail")

namespace {

constexpr std::string_view kCrlf = "\r\n";

bool is_ascii_alnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 5322 §3.2.3 atext.
bool is_atext(unsigned char c) {
  return is_ascii_alnum(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
                                  std::string_view::npos;
}

// Checks a header value: line breaks first (the injection case), then other
// controls, then encoding. Tab is allowed (it is white space in headers).
Status check_header_value(std::string_view v) {
  if (v.find_first_of("\r\n") != std::string_view::npos) return fail(MailError::HeaderInjection);
  for (unsigned char c : v)
    if ((c < 0x20 && c != '\t') || c == 0x7F) return fail(MailError::ControlCharacter);
  if (!is_valid_utf8(v)) return fail(MailError::InvalidEncoding);
  return {};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// dot-atom-text (RFC 5322 §3.2.3), with UTF-8 allowed when `utf8` (RFC 6532 §3.2).
bool is_dot_atom_text(std::string_view s, bool utf8) {
  if (s.empty() || s.front() == '.' || s.back() == '.' || s.find("..") != std::string_view::npos)
    return false;
  for (unsigned char c : s)
    if (!(is_atext(c) || c == '.' || (utf8 && c >= 0x80))) return false;
  return true;
}

bool is_domain(std::string_view d) {
  if (d.size() >= 2 && d.front() == '[' &&
      d.back() == ']') {  // address literal, e.g. [127.0.0.1] or [IPv6:::1]
    const auto inner = d.substr(1, d.size() - 2);
    if (inner.empty()) return false;
    for (unsigned char c : inner)
      if (!(is_ascii_alnum(c) || c == '.' || c == ':')) return false;
    return true;
  }
  if (d.empty() || d.size() > 253) return false;
  std::size_t start = 0;
  while (start <= d.size()) {
    auto end = d.find('.', start);
    if (end == std::string_view::npos) end = d.size();
    const auto label = d.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (unsigned char c : label)
      if (!(is_ascii_alnum(c) || c == '-' || c >= 0x80)) return false;
    start = end + 1;
  }
  return true;
}

bool is_addr_spec(std::string_view a) {
  if (a.size() > 254) return false;
  const auto at = a.find('@');
  if (at == std::string_view::npos || at != a.rfind('@')) return false;
  const auto local = a.substr(0, at);
  return local.size() <= 64 && is_dot_atom_text(local, true) && is_domain(a.substr(at + 1));
}

// Unquotes an RFC 5322 quoted-string; nullopt if it is not one.
std::optional<std::string> unquote(std::string_view q) {
  if (q.size() < 2 || q.front() != '"' || q.back() != '"') return std::nullopt;
  std::string out;
  for (std::size_t i = 1; i + 1 < q.size(); ++i) {
    if (q[i] == '\\') {
      if (i + 2 >= q.size()) return std::nullopt;  // the escape would eat the closing quote
      out.push_back(q[++i]);
    } else if (q[i] == '"') {
      return std::nullopt;
    } else {
      out.push_back(q[i]);
    }
  }
  return out;
}

std::string base64(std::string_view bytes) {
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()),
                    bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

bool is_printable_ascii(std::string_view s) {
  for (unsigned char c : s)
    if (!((c >= 0x20 && c <= 0x7E) || c == '\t')) return false;
  return true;
}

Status check_body(std::string_view body) {
  if (body.size() > kMaxBodyBytes) return fail(MailError::TooLarge);
  if (!is_valid_utf8(body)) return fail(MailError::InvalidEncoding);
  return {};
}

}  // namespace

Result<Mailbox> parse_mailbox(std::string_view text) {
  if (auto ok = check_header_value(text); !ok) return fail(ok.error());
  const auto s = trim(text);
  Mailbox m;
  if (!s.empty() && s.back() == '>') {
    const auto lt = s.rfind('<');
    if (lt == std::string_view::npos) return fail(MailError::BadAddress);
    m.address = std::string(s.substr(lt + 1, s.size() - lt - 2));
    const auto name = trim(s.substr(0, lt));
    if (!name.empty() && name.front() == '"') {
      auto unq = unquote(name);
      if (!unq) return fail(MailError::BadAddress);
      m.name = std::move(*unq);
    } else {
      if (name.find_first_of("\"<>") != std::string_view::npos) return fail(MailError::BadAddress);
      m.name = std::string(name);
    }
  } else {
    m.address = std::string(s);
  }
  if (!is_addr_spec(m.address)) return fail(MailError::BadAddress);
  return m;
}

std::string encoded_words(std::string_view utf8) {
  // 36 bytes -> 48 base64 characters -> a 60-character word: "Subject: " plus
  // one word stays within RFC 2047 §2's 76-character line limit.
  constexpr std::size_t kChunk = 36;
  std::string out;
  while (!utf8.empty()) {
    std::size_t n = std::min(kChunk, utf8.size());
    // Never split a UTF-8 sequence (RFC 2047 §5: each word must decode on its own).
    while (n < utf8.size() && n > 0 && (static_cast<unsigned char>(utf8[n]) & 0xC0) == 0x80) --n;
    if (n == 0) n = std::min(kChunk, utf8.size());  // not UTF-8 after all: still terminate
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(utf8.substr(0, n)) + "?=";
    utf8.remove_prefix(n);
  }
  return out;
}

std::string format_mailbox(const Mailbox& m) {
  if (m.name.empty()) return m.address;
  std::string phrase;
  if (!is_printable_ascii(m.name) || m.name.find("=?") != std::string::npos) {
    phrase = encoded_words(m.name);
  } else {
    bool atoms = trim(m.name) == m.name;
    for (unsigned char c : m.name) atoms = atoms && (is_atext(c) || c == ' ');
    if (atoms) {
      phrase = m.name;
    } else {
      phrase = "\"";
      for (char c : m.name) {
        if (c == '"' || c == '\\') phrase.push_back('\\');
        phrase.push_back(c);
      }
      phrase += "\"";
    }
  }
  return phrase + " <" + m.address + ">";
}

std::string encode_unstructured(std::string_view utf8, std::size_t name_len) {
  constexpr std::size_t kFold = 78;
  bool plain = is_printable_ascii(utf8) && utf8.find("=?") == std::string_view::npos;
  std::vector<std::string_view> words;
  std::size_t start = 0;
  while (start <= utf8.size()) {
    auto end = utf8.find(' ', start);
    if (end == std::string_view::npos) end = utf8.size();
    words.push_back(utf8.substr(start, end - start));
    // A word that cannot fit on a folded line would make it exceed the 998 limit's spirit: encode
    // instead.
    if (end - start > kFold - 1) plain = false;
    start = end + 1;
  }
  if (!plain) return encoded_words(utf8);
  std::string out;
  std::size_t col = name_len;
  bool line_has_text = false;  // RFC 5322 §3.2.2: a folded line must not be white space only
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) {
      if (line_has_text && col + 1 + words[i].size() > kFold) {
        out += "\r\n ";
        col = 1;
        line_has_text = false;
      } else {
        out += ' ';
        ++col;
      }
    }
    out += words[i];
    col += words[i].size();
    line_has_text = line_has_text || !words[i].empty();
  }
  return out;
}

std::string quoted_printable(std::string_view text) {
  // RFC 2045 §6.7 rule 5: encoded lines at most 76 characters, the soft break's '=' included.
  constexpr std::size_t kMax = 75;
  std::string out;
  std::size_t col = 0;
  auto put_line = [&](std::string_view line) {
    for (std::size_t j = 0; j < line.size(); ++j) {
      const auto c = static_cast<unsigned char>(line[j]);
      const bool last = j + 1 == line.size();
      bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
      if (col + (literal ? 1 : 3) > kMax) {
        out += "=\r\n";
        col = 0;
      }
      // A physical line starting with "." (SMTP end of data, RFC 5321 §4.5.2) or
      // "From " (mbox) is escaped so no transport has to alter it.
      if (literal && col == 0 && (c == '.' || line.substr(j).starts_with("From "))) literal = false;
      if (literal) {
        out.push_back(static_cast<char>(c));
        ++col;
      } else {
        out += fmt::format("={:02X}", c);
        col += 3;
      }
    }
    out += kCrlf;
    col = 0;
  };
  std::size_t start = 0;
  while (start < text.size()) {
    const auto end = text.find_first_of("\r\n", start);
    if (end == std::string_view::npos) {
      put_line(text.substr(start));
      break;
    }
    put_line(text.substr(start, end - start));
    start = end + (text.substr(end).starts_with(kCrlf) ? 2 : 1);
  }
  if (text.empty()) out += kCrlf;
  return out;
}

std::string rfc5322_date(Seconds t) {
  static constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed",
                                                       "Thu", "Fri", "Sat"};
  static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const std::chrono::year_month_day ymd{day};
  const std::chrono::weekday wd{day};
  const std::chrono::hh_mm_ss hms{t - day};
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000", kDays[wd.c_encoding()],
                     static_cast<unsigned>(ymd.day()),
                     kMonths[static_cast<unsigned>(ymd.month()) - 1], static_cast<int>(ymd.year()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

Result<std::string> render(const Message& m) {
  auto from = parse_mailbox(m.from);
  if (!from) return fail(from.error());
  auto to = parse_mailbox(m.to);
  if (!to) return fail(to.error());
  if (auto ok = check_header_value(m.subject); !ok) return fail(ok.error());
  for (const auto* part : {&m.message_id_token, &m.message_id_domain})
    if (auto ok = check_header_value(*part); !ok) return fail(ok.error());
  if (!is_dot_atom_text(m.message_id_token, false) || !is_domain(m.message_id_domain))
    return fail(MailError::BadMessageId);
  if (m.boundary_token.empty() || m.boundary_token.size() > 60) return fail(MailError::BadBoundary);
  for (unsigned char c : m.boundary_token)
    if (!(is_ascii_alnum(c) || c == '_' || c == '-')) return fail(MailError::BadBoundary);
  if (auto ok = check_body(m.text); !ok) return fail(ok.error());
  if (auto ok = check_body(m.html); !ok) return fail(ok.error());
  if (m.text.empty()) return fail(MailError::MissingText);

  std::string out;
  out.reserve(m.text.size() * 3 / 2 + m.html.size() * 3 / 2 + 1024);
  const auto header = [&](std::string_view name, std::string_view value) {
    out += name;
    out += ": ";
    out += value;
    out += kCrlf;
  };
  header("From", format_mailbox(*from));
  header("To", format_mailbox(*to));
  header("Subject", encode_unstructured(m.subject, 9));
  header("Date", rfc5322_date(m.date));
  header("Message-ID", "<" + m.message_id_token + "@" + m.message_id_domain + ">");
  header("MIME-Version", "1.0");
  header("Auto-Submitted", "auto-generated");  // RFC 3834: no vacation auto-replies to us
  constexpr std::string_view kText = "Content-Type: text/plain; charset=UTF-8\r\n";
  constexpr std::string_view kHtml = "Content-Type: text/html; charset=UTF-8\r\n";
  constexpr std::string_view kQp = "Content-Transfer-Encoding: quoted-printable\r\n";
  if (m.html.empty()) {
    out += kText;
    out += kQp;
    out += kCrlf;
    out += quoted_printable(m.text);
    return out;
  }
  // "=_" never occurs in quoted-printable output ('=' is always followed by hex
  // or a line break), so the boundary cannot collide with the parts (RFC 2045 §6.7, 2046 §5.1.1).
  const std::string boundary = "=_gh_" + m.boundary_token;
  header("Content-Type", "multipart/alternative; boundary=\"" + boundary + "\"");
  out += kCrlf;
  for (const auto& [type, body] : {std::pair{kText, &m.text}, std::pair{kHtml, &m.html}}) {
    out += "--" + boundary + "\r\n";
    out += type;
    out += kQp;
    out += kCrlf;
    out += quoted_printable(*body);
  }
  out += "--" + boundary + "--\r\n";
  return out;
}

}  // namespace gh::mail
