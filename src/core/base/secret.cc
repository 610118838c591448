#include "core/base/secret.h"

#include <sodium.h>

namespace gh {

SecretString::SecretString(std::string_view s) : buf_(s) {}

SecretString::SecretString(std::string&& s) : buf_(s) { gh::wipe(s); }

SecretString::SecretString(SecretString&& o) noexcept : buf_(std::move(o.buf_)) { o.wipe(); }

SecretString& SecretString::operator=(SecretString&& o) noexcept {
  if (this != &o) {
    wipe();
    buf_ = std::move(o.buf_);
    o.wipe();
  }
  return *this;
}

SecretString::~SecretString() { wipe(); }

void SecretString::wipe() { gh::wipe(buf_); }

void wipe(std::string& s) {
  // Wipe the whole capacity: a short string lives in the SSO buffer, a long one
  // may have held a longer value before.
  s.resize(s.capacity());
  if (!s.empty()) sodium_memzero(s.data(), s.size());
  s.clear();
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace gh
