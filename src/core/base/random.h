// Random: where entropy comes from. Only SystemRandom (libsodium's CSPRNG,
// getrandom(2) underneath) touches the OS; tests may inject a deterministic one.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace gh {

struct Random {
  virtual ~Random() = default;
  virtual void fill(std::span<std::byte> out) = 0;
};

struct SystemRandom final : Random {
  void fill(std::span<std::byte> out) override;
};

// `n` random bytes, base64url without padding (n = 32 gives 256 bits).
[[nodiscard]] std::string random_token(Random& rng, std::size_t n = 32);

// A random (version 4) UUID in canonical lower-case form.
[[nodiscard]] std::string uuid_v4(Random& rng);

}  // namespace gh
