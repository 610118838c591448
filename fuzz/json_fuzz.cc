// Fuzzes the strict JSON request parser and the field validators behind it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/account/email.h"
#include "core/json/json.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto obj = gh::json::parse_object(text);
  if (obj) {
    (void)gh::json::only_fields(*obj, {"email", "password", "name"});
    if (auto email = gh::json::required_string(*obj, "email", 320); email) (void)gh::account::parse_email(*email);
    if (auto name = gh::json::optional_string(*obj, "name", 400); name && *name) (void)gh::account::parse_display_name(**name);
    (void)obj->dump();
  }
  (void)gh::account::parse_email(text);
  return 0;
}
