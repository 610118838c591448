// Result<T>: the return type of every fallible Gatehouse function.
//
// An Error carries a std::error_code (each component owns an enum class with
// its own std::error_category, so a caller can tell every failure apart) and
// a short detail that is safe to show a client: it never holds a secret.
// tl::expected is used instead of std::expected because g++ 12's lacks the
// monadic operations and clang-tidy 14 cannot parse it; switching is one line.
#pragma once

#include <string>
#include <system_error>
#include <utility>

#include <tl/expected.hpp>

namespace gh {

struct Error {
  std::error_code code;
  std::string detail;  // human-readable, client-safe; empty means "use the code's message"

  [[nodiscard]] std::string message() const { return detail.empty() ? code.message() : detail; }
};

template <class T>
using Result = tl::expected<T, Error>;

using Status = Result<void>;

// fail(SomeError::Value, "detail") builds the unexpected value of a Result.
template <class E>
[[nodiscard]] tl::unexpected<Error> fail(E code, std::string detail = {}) {
  return tl::unexpected<Error>(Error{make_error_code(code), std::move(detail)});
}

[[nodiscard]] inline tl::unexpected<Error> fail(Error e) { return tl::unexpected<Error>(std::move(e)); }

// Defines the boilerplate std::error_category for an enum class E whose
// messages come from `const char* describe(E)`. Use once per enum in a .cc:
//   GH_DEFINE_ERROR_CATEGORY(JwtError, "jwt")
#define GH_DEFINE_ERROR_CATEGORY(E, NAME)                                        \
  namespace {                                                                    \
  class E##Category final : public std::error_category {                        \
   public:                                                                       \
    const char* name() const noexcept override { return NAME; }                 \
    std::string message(int v) const override { return describe(static_cast<E>(v)); } \
  };                                                                             \
  }                                                                              \
  const std::error_category& E##_category() {                                   \
    static const E##Category c;                                                  \
    return c;                                                                    \
  }                                                                              \
  std::error_code make_error_code(E e) { return {static_cast<int>(e), E##_category()}; }

// Declares what GH_DEFINE_ERROR_CATEGORY defines; use in the header next to the enum.
#define GH_DECLARE_ERROR_CATEGORY(E)          \
  const char* describe(E e);                  \
  const std::error_category& E##_category();  \
  std::error_code make_error_code(E e);

}  // namespace gh
