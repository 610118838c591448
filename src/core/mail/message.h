// Internet message rendering (RFC 5322 + MIME, RFC 2045-2047): turns a
// transactional mail (From, To, Subject, a plain-text body and an optional
// HTML body) into the exact bytes an SMTP server or an .eml reader expects.
//
// Pure logic: the caller supplies the date, the Message-ID and the MIME
// boundary (service/mail draws them from its Clock and Random). Output uses
// CRLF line endings only, headers are US-ASCII (non-ASCII text travels as
// RFC 2047 encoded-words, UTF-8 addresses as RFC 6532 UTF-8), bodies are
// UTF-8 in quoted-printable, so no line exceeds 78 characters and the message
// survives 7-bit transports. A header value holding CR or LF is refused
// (HeaderInjection): no input can add a header or a recipient.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/clock.h"
#include "core/base/result.h"

namespace gh::mail {

enum class MailError : std::uint8_t {
  HeaderInjection = 1,  // CR or LF in a header value (From, To, Subject, Message-ID)
  ControlCharacter,     // another control character (NUL, ESC, DEL, ...) in a header value
  BadAddress,           // not "local@domain" or "Name <local@domain>" (one mailbox, no list)
  InvalidEncoding,      // a header value or a body is not valid UTF-8
  MissingText,          // the plain-text body is empty (every mail has one; HTML is optional)
  TooLarge,             // a body over kMaxBodyBytes
  BadMessageId,  // the Message-ID token or domain holds characters RFC 5322 does not allow there
  BadBoundary,   // the MIME boundary token is empty, too long or not [A-Za-z0-9_-]
};
GH_DECLARE_ERROR_CATEGORY(MailError)

inline constexpr std::size_t kMaxBodyBytes = 1024 * 1024;  // per part; keeps spool files small

// One mailbox: `address` is the addr-spec ("local@domain", what SMTP's RCPT TO
// takes), `name` the optional display name (UTF-8, unquoted).
struct Mailbox {
  std::string name;
  std::string address;
};

// Parses "local@domain", "<local@domain>" or "Display Name <local@domain>"
// (the name may be a quoted-string). UTF-8 is allowed in both parts (RFC 6531);
// quoted local parts, comments, groups and lists are not.
// Errors: HeaderInjection, ControlCharacter, InvalidEncoding, BadAddress.
[[nodiscard]] Result<Mailbox> parse_mailbox(std::string_view text);

// The header form of a mailbox: the bare address, or `Name <address>` with the
// name as an atom run, a quoted-string, or RFC 2047 encoded-words (non-ASCII).
[[nodiscard]] std::string format_mailbox(const Mailbox& m);

struct Message {
  std::string from;              // "Gatehouse <no-reply@example.com>" (parse_mailbox syntax)
  std::string to;                // one recipient, same syntax
  std::string subject;           // UTF-8, may be empty
  std::string text;              // plain-text body, UTF-8, required; LF or CRLF line ends
  std::string html;              // HTML body, UTF-8; empty = a single text/plain part
  Seconds date;                  // the Date header
  std::string message_id_token;  // left of '@' in Message-ID (dot-atom-text, e.g. base64url random)
  std::string message_id_domain;  // right of '@': the public host name (or an IP literal in [])
  std::string
      boundary_token;  // random [A-Za-z0-9_-]+; the boundary is "=_gh_" + this (never in QP output)
};

// The complete message: headers, blank line, body, every line ending in CRLF.
// Errors: every MailError (header checks first, in the order From, To, Subject, Message-ID).
[[nodiscard]] Result<std::string> render(const Message& m);

// --- Building blocks, exposed for tests ---------------------------------

// RFC 5322 §3.3 date-time in UTC: "Tue, 24 Nov 2026 12:00:00 +0000".
[[nodiscard]] std::string rfc5322_date(Seconds t);

// The value of an unstructured header (Subject) after "Name: ": printable
// ASCII is kept and folded at spaces to 78 columns; anything else (non-ASCII,
// "=?" or a word too long to fold) becomes RFC 2047 "B" encoded-words of at
// most 75 characters, split between UTF-8 characters. `name_len` is the
// length of "Subject: ". REQUIRES: valid UTF-8 without CR or LF.
[[nodiscard]] std::string encode_unstructured(std::string_view utf8, std::size_t name_len);

// RFC 2047 encoded-words for `utf8`, separated by CRLF SP, each at most 75
// characters and holding whole UTF-8 characters. REQUIRES: valid UTF-8.
[[nodiscard]] std::string encoded_words(std::string_view utf8);

// RFC 2045 §6.7 quoted-printable of a UTF-8 text: line ends (LF, CR or CRLF)
// become CRLF, lines are soft-broken at 76 characters, trailing white space,
// '=' and bytes outside printable ASCII are escaped, and a line-leading '.' or
// "From " is escaped too (safe through SMTP and mbox). Output ends with CRLF.
[[nodiscard]] std::string quoted_printable(std::string_view text);

}  // namespace gh::mail

template <>
struct std::is_error_code_enum<gh::mail::MailError> : std::true_type {};
