// The cryptographic primitives under SigningKey and VerifyKey: OpenSSL RAII,
// raw JWS signing/verification per algorithm, the ECDSA DER <-> r||s
// conversion and a pre-keyed HMAC-SHA-256. Internal to gh_jwt.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <openssl/bn.h>
#include <openssl/evp.h>

#include "core/jwt/alg.h"
#include "core/jwt/handles.h"

namespace gh::jwt::detail {

struct BnFree {
  void operator()(BIGNUM* p) const noexcept { BN_free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
};
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

// Empties OpenSSL's per-thread error queue, so a failure we already turned
// into a Result does not surface in an unrelated later ERR_get_error().
void clear_openssl_errors();

// Size of an ES256 signature (RFC 7518 §3.4: 32-byte r then 32-byte s).
inline constexpr std::size_t kEs256SignatureBytes = 64;
inline constexpr std::size_t kEd25519SignatureBytes = 64;
inline constexpr std::size_t kHs256Bytes = 32;

// DER ECDSA-Sig-Value (as OpenSSL produces) -> JWS r||s, each left-padded to 32 bytes.
// nullopt unless `der` is a strict DER SEQUENCE of two positive INTEGERs of <= 32 bytes.
[[nodiscard]] std::optional<std::string> ecdsa_der_to_raw(std::string_view der);

// JWS r||s -> DER for OpenSSL. nullopt unless `raw` is exactly 64 bytes and both
// r and s lie in [1, n-1] for the P-256 order n: r = s = 0 is the CVE-2022-21449
// "psychic signature", and values >= n are never produced by a signer.
[[nodiscard]] std::optional<std::string> ecdsa_raw_to_der(std::string_view raw);

// True if `pkey` is the key type `alg` needs: Ed25519 for EdDSA, a named P-256
// key for ES256, plain RSA (not RSA-PSS) of 2048..8192 bits for RS256.
[[nodiscard]] bool pkey_fits(const EVP_PKEY* pkey, Alg alg);

// The JWS signature of `input` under private key `pkey` (REQUIRES: pkey_fits(pkey, alg),
// alg asymmetric). nullopt only if OpenSSL fails.
[[nodiscard]] std::optional<std::string> pkey_sign(EVP_PKEY* pkey, Alg alg, std::string_view input);

// Verification under one public key with the OpenSSL state prepared once:
// create() runs EVP_DigestVerifyInit_ex (algorithm fetch, key export to the
// provider); each verify() copies that prepared context into a per-thread one,
// which costs about 2 µs less than initialising afresh. Immutable after
// create(): verify() may run on many threads (as HmacSha256::mac does).
class PkeyVerifier {
 public:
  // REQUIRES: pkey_fits(pkey, alg), alg asymmetric. A null pointer if OpenSSL fails.
  [[nodiscard]] static VerifierPtr create(EVP_PKEY* pkey, Alg alg);
  ~PkeyVerifier();
  PkeyVerifier(const PkeyVerifier&) = delete;
  PkeyVerifier& operator=(const PkeyVerifier&) = delete;

  // True iff `sig` is a valid JWS signature of `input` for this key and alg.
  // Length and range checks come first, so OpenSSL never sees a malformed value.
  [[nodiscard]] bool verify(std::string_view input, std::string_view sig) const;

 private:
  PkeyVerifier(EVP_MD_CTX* prepared, Alg alg, std::size_t rsa_bytes)
      : prepared_(prepared), alg_(alg), rsa_bytes_(rsa_bytes) {}
  EVP_MD_CTX* prepared_;
  Alg alg_;
  std::size_t rsa_bytes_;  // RS256: the modulus length, which a signature must have
};

// HMAC-SHA-256 with the key schedule (inner and outer pads) computed once;
// each mac() copies the keyed state, so it costs two SHA-256 compressions
// plus the message. Immutable after create(): mac() may run on many threads.
class HmacSha256 {
 public:
  // A null pointer if OpenSSL fails.
  [[nodiscard]] static HmacPtr create(std::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;

  // False only if OpenSSL fails.
  [[nodiscard]] bool mac(std::string_view data, std::array<unsigned char, kHs256Bytes>& out) const;

 private:
  explicit HmacSha256(EVP_MAC_CTX* keyed) : keyed_(keyed) {}
  EVP_MAC_CTX* keyed_;
};

}  // namespace gh::jwt::detail
