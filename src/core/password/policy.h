// Password policy (NIST SP 800-63B rev 4, OWASP ASVS 5 §6.2):
//  - normalise: valid UTF-8 required, then Unicode NFKC (utf8proc) — applied
//    identically when a password is set and when it is checked;
//  - length counted in code points after normalisation: 15..128 by default
//    (minimum configurable down to 8);
//  - no composition rules;
//  - refuse common, systematic, context-specific and breached passwords:
//    a common-password list from a Debian package (john-data's password.lst by
//    default), cracklib's FascistCheck (dictionary words, sequences),
//    simple systematic patterns (one repeated character, ascending runs, a
//    listed word padded with digits/symbols), context words (product name,
//    the user's email local part and name), and an optional operator blocklist
//    file of plain passwords or SHA-1 hex hashes (HIBP "HASH:count" lines too)
//    looked up by binary search over 8-byte SHA-1 prefixes.
// Loading reads files (construction happens at startup in the caller); check()
// is pure and thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "core/base/secret.h"

namespace gh::password {

enum class PolicyError : std::uint8_t {
  InvalidEncoding = 1,  // not valid UTF-8, or contains NUL/control characters
  TooShort,             // fewer code points than the minimum
  TooLong,              // more code points than the maximum
  Common,               // on the common-password list or a systematic variant of one
  Breached,             // on the operator's breached-password blocklist
  Guessable,            // rejected by cracklib or as a repeated/sequential pattern
  ContextSpecific,      // built from the product name or the user's own identifiers
  ListUnreadable,       // (load only) a configured list file cannot be read
};
GH_DECLARE_ERROR_CATEGORY(PolicyError)

struct PolicyConfig {
  std::size_t min_length = 15;   // code points; may be lowered to 8, never below
  std::size_t max_length = 128;  // code points
  bool use_cracklib = true;
  std::string cracklib_dict = "/var/cache/cracklib/cracklib_dict";  // path prefix for FascistCheck
  std::string common_list = "/usr/share/john/password.lst";       // one per line, '#!comment' lines skipped
  std::string blocklist_file;    // optional: plain passwords or SHA-1 hex (optionally ":count"), one per line
  std::vector<std::string> context_words = {"gatehouse"};  // product/organisation words
};

// What the policy knows about the account, to reject passwords built from it.
struct PolicyContext {
  std::string_view email;
  std::string_view name;
};

// Validates UTF-8 (no NUL/C0 controls) and returns the NFKC form.
// Errors: InvalidEncoding.
[[nodiscard]] Result<SecretString> normalize_password(std::string_view raw);

class PasswordPolicy {
 public:
  // Reads the lists. Errors: ListUnreadable (detail names the file).
  // A min_length below 8 or max_length below min_length is clamped to 8 / min_length.
  [[nodiscard]] static Result<std::shared_ptr<const PasswordPolicy>> load(const PolicyConfig& config);

  // Checks an already normalised password. Errors: TooShort, TooLong, Common,
  // Breached, Guessable, ContextSpecific — the detail tells the person why,
  // without echoing the password.
  [[nodiscard]] Status check(const SecretString& normalized, const PolicyContext& ctx) const;

  [[nodiscard]] const PolicyConfig& config() const { return config_; }
  [[nodiscard]] std::size_t common_count() const;
  [[nodiscard]] std::size_t blocklist_count() const { return blocked_sha1_prefixes_.size(); }

  // For tests that must not depend on files: build from in-memory lists.
  [[nodiscard]] static std::shared_ptr<const PasswordPolicy> from_lists_for_test(
      const PolicyConfig& config, std::vector<std::string> common, std::vector<std::string> blocked);

 private:
  explicit PasswordPolicy(PolicyConfig c) : config_(std::move(c)) {}
  PolicyConfig config_;
  std::vector<std::string> common_;                 // sorted, lower-cased
  std::vector<std::uint64_t> blocked_sha1_prefixes_;  // sorted first 8 bytes of SHA-1
  bool cracklib_ready_ = false;                     // use_cracklib and the dictionary exists
};

}  // namespace gh::password

template <>
struct std::is_error_code_enum<gh::password::PolicyError> : std::true_type {};
