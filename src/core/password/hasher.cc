#include "core/password/hasher.h"

#include <crypt.h>
#include <sodium.h>

#include <array>
#include <cstring>
#include <optional>
#include <string>

#include "core/base/random.h"

namespace gh::password {

const char* describe(HashError e) {
  switch (e) {
    case HashError::TooLongForBcrypt:
      return "the password is longer than the 72 bytes bcrypt can hash";
    case HashError::HashFailed:
      return "the password could not be hashed";
    case HashError::BadParameters:
      return "the password hashing parameters are out of range";
  }
  return "unknown password hashing error";
}
GH_DEFINE_ERROR_CATEGORY(HashError, "password.hash")

namespace {

constexpr std::uint64_t kMinArgon2MemoryKib = 8 * 1024ULL;
constexpr std::uint64_t kMaxArgon2MemoryKib = 4ULL * 1024 * 1024;
constexpr int kMinBcryptCost = 10;
constexpr int kMaxBcryptCost = 31;
// bcrypt keys Blowfish with at most 72 bytes and ignores the rest.
constexpr std::size_t kBcryptMaxPassword = 72;
constexpr std::size_t kBcryptHashLength = 60;  // "$2b$" + "12" + "$" + 22 salt + 31 hash
// Longer than any PHC string we would accept; bounds the copy made for the C API.
constexpr std::size_t kMaxStoredLength = 256;

constexpr std::string_view kArgon2idPrefix = "$argon2id$";
constexpr std::string_view kArgon2iPrefix = "$argon2i$";

bool is_bcrypt_base64(char c) {
  return c == '.' || c == '/' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9');
}

struct BcryptParts {
  std::string_view variant;  // "2a", "2b" or "2y"
  int cost = 0;
};

// Accepts exactly "$2{a,b,y}$NN$" + 53 bcrypt-base64 characters. "$2x$" (the
// pre-2011 sign-extension bug) is refused: such a hash must be reset, not trusted.
std::optional<BcryptParts> parse_bcrypt(std::string_view s) {
  if (s.size() != kBcryptHashLength || s[0] != '$' || s[1] != '2' || s[3] != '$' || s[6] != '$') {
    return std::nullopt;
  }
  if (s[2] != 'a' && s[2] != 'b' && s[2] != 'y') return std::nullopt;
  if (s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9') return std::nullopt;
  const int cost = (s[4] - '0') * 10 + (s[5] - '0');
  if (cost < 4 || cost > kMaxBcryptCost) return std::nullopt;
  for (char c : s.substr(7)) {
    if (!is_bcrypt_base64(c)) return std::nullopt;
  }
  return BcryptParts{s.substr(1, 2), cost};
}

bool is_argon2(std::string_view s) {
  return s.starts_with(kArgon2idPrefix) || s.starts_with(kArgon2iPrefix);
}

// The stored string, NUL-terminated for the C APIs. An embedded NUL would make
// them see only a prefix of what we compared, so it is refused.
std::optional<std::string> c_string(std::string_view s) {
  if (s.size() > kMaxStoredLength || s.find('\0') != std::string_view::npos) return std::nullopt;
  return std::string(s);
}

// libxcrypt's crypt_rn with a per-thread work area (plain crypt() shares one
// static buffer across threads). The area also holds key-schedule state
// derived from the password, so it is wiped after every use.
// REQUIRES: password.size() <= 72 and contains no NUL.
std::optional<std::string> bcrypt_rn(std::string_view password, const char* setting) {
  thread_local crypt_data data;
  std::array<char, kBcryptMaxPassword + 1> phrase{};
  std::memcpy(phrase.data(), password.data(), password.size());
  sodium_memzero(&data, sizeof data);
  const char* out = crypt_rn(phrase.data(), setting, &data, sizeof data);
  std::optional<std::string> result;
  // libxcrypt may signal failure with NULL or with a string starting '*'.
  if (out != nullptr && out[0] == '$') result.emplace(out);
  sodium_memzero(phrase.data(), phrase.size());
  sodium_memzero(&data, sizeof data);
  return result;
}

bool bcrypt_can_take(std::string_view password) {
  return password.size() <= kBcryptMaxPassword && password.find('\0') == std::string_view::npos;
}

bool verify_argon2(const std::string& stored, std::string_view password) {
  // crypto_pwhash_str_verify dispatches on the prefix, so $argon2i$ works too.
  return crypto_pwhash_str_verify(stored.c_str(), password.data(), password.size()) == 0;
}

bool verify_bcrypt(const std::string& stored, std::string_view password) {
  // Never truncate: a longer password would otherwise match on its first 72 bytes.
  if (!bcrypt_can_take(password)) return false;
  const auto computed = bcrypt_rn(password, stored.c_str());
  return computed && constant_time_equal(*computed, stored);
}

}  // namespace

Result<PasswordHasher> PasswordHasher::create(const HashParams& params) {
  if (sodium_init() < 0) return fail(HashError::HashFailed, "libsodium failed to initialise");
  if (params.argon2_memory_kib < kMinArgon2MemoryKib ||
      params.argon2_memory_kib > kMaxArgon2MemoryKib) {
    return fail(HashError::BadParameters, "argon2 memory must be between 8 MiB and 4 GiB");
  }
  if (params.argon2_iterations < 1) {
    return fail(HashError::BadParameters, "argon2 iterations must be at least 1");
  }
  if (params.bcrypt_cost < kMinBcryptCost || params.bcrypt_cost > kMaxBcryptCost) {
    return fail(HashError::BadParameters, "bcrypt cost must be between 10 and 31");
  }
  PasswordHasher hasher(params);
  SystemRandom rng;
  // 24 random bytes -> 32 characters: under bcrypt's 72-byte limit.
  const SecretString random_password(random_token(rng, 24));
  auto dummy = hasher.hash(random_password);
  if (!dummy) return fail(std::move(dummy.error()));
  hasher.dummy_ = std::move(*dummy);
  return hasher;
}

Result<std::string> PasswordHasher::hash(const SecretString& password) const {
  const std::string_view pw = password.expose();
  if (params_.algorithm == Algorithm::Argon2id) {
    std::array<char, crypto_pwhash_STRBYTES> out{};
    if (crypto_pwhash_str_alg(out.data(), pw.data(), pw.size(), params_.argon2_iterations,
                              static_cast<std::size_t>(params_.argon2_memory_kib * 1024),
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
      return fail(HashError::HashFailed, "argon2id hashing failed (out of memory?)");
    }
    return std::string(out.data());
  }

  if (pw.size() > kBcryptMaxPassword) return fail(HashError::TooLongForBcrypt);
  if (pw.find('\0') != std::string_view::npos) {
    // bcrypt takes a C string; hashing up to the NUL would silently drop the rest.
    return fail(HashError::HashFailed, "bcrypt cannot hash a password containing a NUL byte");
  }
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
  // NULL random bytes: libxcrypt draws the salt from the OS itself.
  if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(params_.bcrypt_cost), nullptr, 0,
                       setting.data(), static_cast<int>(setting.size())) == nullptr) {
    return fail(HashError::HashFailed, "bcrypt salt generation failed");
  }
  auto out = bcrypt_rn(pw, setting.data());
  if (!out || !parse_bcrypt(*out)) return fail(HashError::HashFailed, "bcrypt hashing failed");
  return std::move(*out);
}

bool PasswordHasher::verify(std::string_view stored, const SecretString& password) const {
  try {
    const auto str = c_string(stored);
    if (!str) return false;
    if (is_argon2(*str)) return verify_argon2(*str, password.expose());
    if (parse_bcrypt(*str)) return verify_bcrypt(*str, password.expose());
    return false;
  } catch (...) {
    // Only allocation can throw here; a failed login is the safe answer.
    return false;
  }
}

bool PasswordHasher::needs_rehash(std::string_view stored) const {
  const auto str = c_string(stored);
  if (!str) return true;
  if (params_.algorithm == Algorithm::Argon2id) {
    if (!str->starts_with(kArgon2idPrefix)) return true;
    // libsodium compares m and t only; we also want the single lane it produces.
    if (str->find(",p=1$") == std::string::npos) return true;
    return crypto_pwhash_argon2id_str_needs_rehash(
               str->c_str(), params_.argon2_iterations,
               static_cast<std::size_t>(params_.argon2_memory_kib * 1024)) != 0;
  }
  const auto parts = parse_bcrypt(*str);
  // $2a$ and $2y$ verify fine but are rewritten as the unambiguous $2b$.
  return !parts || parts->variant != "2b" || parts->cost < params_.bcrypt_cost;
}

Result<std::string> argon2id_raw(std::string_view secret, std::string_view salt16, std::uint32_t iterations,
                                 std::uint64_t memory_kib) {
  static_assert(crypto_pwhash_SALTBYTES == 16);
  if (salt16.size() != crypto_pwhash_SALTBYTES) return fail(HashError::HashFailed, "argon2id salt must be 16 bytes");
  std::string out(32, '\0');
  if (crypto_pwhash(reinterpret_cast<unsigned char*>(out.data()), out.size(), secret.data(), secret.size(),
                    reinterpret_cast<const unsigned char*>(salt16.data()), iterations,
                    static_cast<std::size_t>(memory_kib * 1024), crypto_pwhash_ALG_ARGON2ID13) != 0)
    return fail(HashError::HashFailed, "argon2id hashing failed (out of memory?)");
  return out;
}

}  // namespace gh::password
