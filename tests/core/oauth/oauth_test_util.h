// Assertions shared by the OAuth core tests.
#pragma once

#include <string>

#include <gtest/gtest.h>

#include "core/base/result.h"

namespace gh::oauth::testing {

// True iff `r` failed with exactly `expected` (any error enum: OAuthError, JwtError).
template <class T, class E>
::testing::AssertionResult fails_with(const Result<T>& r, E expected) {
  const std::error_code want = make_error_code(expected);
  if (r) return ::testing::AssertionFailure() << "succeeded; expected '" << want.message() << "'";
  if (r.error().code == want) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "failed with '" << r.error().code.message() << "' (" << r.error().message()
         << "); expected '" << want.message() << "'";
}

template <class T>
::testing::AssertionResult succeeds(const Result<T>& r) {
  if (r) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "failed with '" << r.error().code.message() << "' (" << r.error().message() << ")";
}

}  // namespace gh::oauth::testing
