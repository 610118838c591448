// SecretString: a password, key or token held in memory.
//
// Move-only, wiped with sodium_memzero on destruction, and with no stream or
// fmt formatter, so logging one by accident does not compile. The one way to
// read it is expose(); every call site is reviewed.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

namespace gh {

class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string_view s);
  explicit SecretString(std::string&& s);  // takes the buffer, wipes the source
  SecretString(SecretString&& o) noexcept;
  SecretString& operator=(SecretString&& o) noexcept;
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;
  ~SecretString();

  [[nodiscard]] std::string_view expose() const { return buf_; }
  [[nodiscard]] std::size_t size() const { return buf_.size(); }
  [[nodiscard]] bool empty() const { return buf_.empty(); }

 private:
  void wipe();
  std::string buf_;
};

// Constant-time equality of two byte strings (length may leak, content does not).
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b);

// Overwrites s with zeros in a way the optimiser cannot elide.
void wipe(std::string& s);

}  // namespace gh
