// Password hashing: Argon2id (libsodium, PHC string) by default, bcrypt
// (libxcrypt, "$2b$") selectable; both verify imported hashes of either kind
// ($argon2id$, $argon2i$ and $2a$/$2b$/$2y$). Pure CPU work, no I/O;
// deliberately slow, so callers run it on the bounded hash pool.
//
// Thread-safety: a PasswordHasher is immutable after construction and may be
// used from many threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/base/secret.h"

namespace gh::password {

enum class HashError : std::uint8_t {
  TooLongForBcrypt = 1,  // bcrypt reads only 72 bytes: longer passwords are refused, never truncated
  HashFailed,            // the library failed (out of memory)
  BadParameters,         // configured cost/memory outside the accepted range
};
GH_DECLARE_ERROR_CATEGORY(HashError)

enum class Algorithm : std::uint8_t { Argon2id, Bcrypt };

struct HashParams {
  Algorithm algorithm = Algorithm::Argon2id;
  // Argon2id: OWASP Password Storage Cheat Sheet, m=19 MiB, t=2, p=1.
  std::uint64_t argon2_memory_kib = 19 * 1024ULL;
  std::uint32_t argon2_iterations = 2;
  // bcrypt: 2^cost rounds; 12 is the floor we accept for new hashes (OWASP: >= 10).
  int bcrypt_cost = 12;
};

class PasswordHasher {
 public:
  // BadParameters if argon2 memory < 8 MiB or > 4 GiB, iterations < 1, or bcrypt cost outside 10..31.
  [[nodiscard]] static Result<PasswordHasher> create(const HashParams& params);

  // A new self-describing hash of `password` (already normalised) with a fresh salt.
  // Errors: TooLongForBcrypt (bcrypt and > 72 bytes), HashFailed.
  [[nodiscard]] Result<std::string> hash(const SecretString& password) const;

  // True only if `stored` is a well-formed hash of a supported kind and
  // `password` matches it. Never throws; malformed input is false.
  [[nodiscard]] bool verify(std::string_view stored, const SecretString& password) const;

  // True if `stored` uses another algorithm or weaker/different parameters than
  // this hasher would produce now (transparent rehash on the next good login).
  [[nodiscard]] bool needs_rehash(std::string_view stored) const;

  // A valid hash of a random password with the current parameters, verified
  // against when the account does not exist so both paths cost the same.
  [[nodiscard]] const std::string& dummy_hash() const { return dummy_; }

  [[nodiscard]] const HashParams& params() const { return params_; }

 private:
  explicit PasswordHasher(const HashParams& p) : params_(p) {}
  HashParams params_;
  std::string dummy_;
};

// Raw Argon2id (32 bytes) of `secret` with a caller-chosen 16-byte salt: for
// low-entropy lookup secrets (recovery codes) that must be found by hash, so
// one computation per attempt checks every stored code of one salt.
// Errors: HashError::HashFailed (out of memory).
[[nodiscard]] Result<std::string> argon2id_raw(std::string_view secret, std::string_view salt16,
                                               std::uint32_t iterations, std::uint64_t memory_kib);

}  // namespace gh::password

template <>
struct std::is_error_code_enum<gh::password::HashError> : std::true_type {};
