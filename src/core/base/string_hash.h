// Transparent hashing for unordered containers keyed by std::string, so a
// lookup by std::string_view does not allocate a temporary string.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace gh {

struct StringHash {
  using is_transparent = void;
  [[nodiscard]] std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

}  // namespace gh
