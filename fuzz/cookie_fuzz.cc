// Fuzzes the Cookie header parser and the Set-Cookie builder.
#include <cstddef>
#include <cstdint>
#include <string>

#include "http/cookies.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view header(reinterpret_cast<const char*>(data), size);
  for (std::string_view name : {"__Secure-gh_refresh", "gh_session", "a", ""}) {
    if (auto v = gh::http::find_cookie(header, name); v) {
      // A found value is a view into the header and never spans a separator.
      if (v->data() < header.data() || v->data() + v->size() > header.data() + header.size()) __builtin_trap();
      if (v->find(';') != std::string_view::npos) __builtin_trap();
      (void)gh::http::set_cookie({name, *v, "/", std::nullopt, true, true, "Strict"});
    }
  }
  return 0;
}
