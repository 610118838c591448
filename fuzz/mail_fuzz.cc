// Fuzzes the mail building blocks every outgoing message goes through: the
// mailbox parser (addresses come from users and config) and the renderer. No
// crash; a parsed mailbox formats to one header line that parses back to the
// same address (an unfolded one parses back to the same address); a rendered message has only CRLF
// line ends, no line over 998 octets, and its headers end at the first empty line.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/mail/message.h"

namespace {

void check_lines(const std::string& out) {
  std::size_t start = 0;
  while (start < out.size()) {
    const auto lf = out.find('\n', start);
    if (lf == std::string::npos) __builtin_trap();  // every line ends in CRLF
    if (lf == 0 || out[lf - 1] != '\r') __builtin_trap();
    if (lf - start - 1 > 998) __builtin_trap();  // RFC 5322 §2.1.1
    for (std::size_t i = start; i + 1 < lf; ++i)
      if (out[i] == '\r') __builtin_trap();  // no bare CR inside a line
    start = lf + 1;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto m = gh::mail::parse_mailbox(input); m) {
    const std::string header = gh::mail::format_mailbox(*m);
    // Long encoded names are folded (CRLF + space); any other line break would be injection.
    for (std::size_t i = 0; i < header.size(); ++i) {
      if (header[i] == '\n' &&
          (i == 0 || header[i - 1] != '\r' || i + 1 >= header.size() || header[i + 1] != ' '))
        __builtin_trap();
      if (header[i] == '\r' && (i + 1 >= header.size() || header[i + 1] != '\n')) __builtin_trap();
    }
    if (header.find('\n') == std::string::npos) {
      auto again = gh::mail::parse_mailbox(header);
      if (!again || again->address != m->address) __builtin_trap();
    }
  }
  gh::mail::Message msg;
  msg.from = "Gatehouse <no-reply@example.com>";
  msg.to = "ada@example.com";
  msg.subject = std::string(input.substr(0, 200));
  msg.text = std::string(input);
  msg.html = size % 2 == 0 ? std::string(input) : std::string();
  msg.message_id_token = "abc";
  msg.message_id_domain = "example.com";
  msg.boundary_token = "b0undary";
  if (auto out = gh::mail::render(msg); out) {
    check_lines(*out);
    if (out->find("\r\n\r\n") == std::string::npos) __builtin_trap();
  }
  return 0;
}
