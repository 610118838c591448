// Fuzzes the form parser and the return_to check: no crash, and whatever
// safe_return_to accepts is either one of our own paths or a URL on an
// allowed origin, with no character that could split a header.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/web/web.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto form = gh::web::parse_form(input); form) {
    (void)form->value("return_to");
    form->wipe();
  }
  static const std::vector<gh::web::RedirectTarget> allowed = {*gh::web::parse_redirect_target("https://app.example.com/a/")};
  if (auto ok = gh::web::safe_return_to(input, "https://auth.example.com", allowed); ok) {
    for (const char c : *ok)
      if (c <= 0x20 || c >= 0x7F || c == '\\') __builtin_trap();
    if (ok->starts_with("//")) __builtin_trap();
    if (!ok->starts_with("/")) {
      const auto origin = gh::web::origin_of(*ok);
      if (!origin || (*origin != "https://auth.example.com" && *origin != "https://app.example.com")) __builtin_trap();
    }
  }
  (void)gh::web::parse_redirect_target(input);
  (void)gh::web::url_encode(input);
  return 0;
}
