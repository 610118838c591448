// Internal to gh_password (not installed, not for other components): reading
// the common-password list and the breached-password blocklist for
// PasswordPolicy::load, and the lower-casing both the lists and check() use.
#pragma once

#include <openssl/types.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gh::password::detail {

// Simple (one-to-one) Unicode lower-casing of UTF-8; invalid bytes are kept
// as code points U+0080..U+00FF so nothing is dropped.
[[nodiscard]] std::string lower_case(std::string_view s);

// The first 8 bytes of SHA-1, big-endian: the key the blocklist is sorted by.
// Reuses one digest context, so one object per thread.
class Sha1Prefix {
 public:
  Sha1Prefix();
  Sha1Prefix(const Sha1Prefix&) = delete;
  Sha1Prefix& operator=(const Sha1Prefix&) = delete;
  ~Sha1Prefix();

  // nullopt only if OpenSSL fails (out of memory, SHA-1 unavailable).
  [[nodiscard]] std::optional<std::uint64_t> of(std::string_view data);

 private:
  EVP_MD_CTX* ctx_;
};

// Adds the key of one blocklist line: 40 hex digits, optionally ":count" (the
// HIBP format), either case; any other line is a plain password, normalised
// like a checked one (a line that cannot be is skipped: it could never match).
void add_blocklist_entry(std::string_view line, Sha1Prefix& sha1, std::vector<std::uint64_t>& out);

// Each returns false if the file cannot be opened or read.
// The common list skips "#!comment" lines and lower-cases every entry.
[[nodiscard]] bool read_common_list(const std::string& path, std::vector<std::string>& out);
// Blank lines and trailing blanks are ignored; CRLF is accepted.
[[nodiscard]] bool read_blocklist(const std::string& path, std::vector<std::uint64_t>& out);

template <class T>
void sort_unique(std::vector<T>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  // Shrinking copies the whole vector: worth it only when much was left unused.
  if (v.capacity() > v.size() + v.size() / 4) v.shrink_to_fit();
}

}  // namespace gh::password::detail
