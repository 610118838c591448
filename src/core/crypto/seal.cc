#include "core/crypto/seal.h"

#include <sodium.h>

#include "core/base/encoding.h"

namespace gh::crypto {

const char* describe(SealError e) {
  switch (e) {
    case SealError::BadKek: return "the key-encryption key must be 32 bytes, base64url-encoded";
    case SealError::Malformed: return "sealed value is malformed";
    case SealError::OpenFailed: return "sealed value does not open with this key";
  }
  return "seal error";
}
GH_DEFINE_ERROR_CATEGORY(SealError, "seal")

namespace {
constexpr unsigned char kVersion = 1;
constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
const unsigned char* u8(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
}  // namespace

Result<Kek> Kek::from_base64url(std::string_view text) {
  auto raw = base64url_decode(text);
  if (!raw || raw->size() < crypto_aead_xchacha20poly1305_ietf_KEYBYTES) {
    if (raw) wipe(*raw);
    return fail(SealError::BadKek);
  }
  raw->resize(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
  return Kek(SecretString(std::move(*raw)));
}

std::string Kek::seal(std::string_view plaintext, std::string_view aad, Random& rng) const {
  std::string out(1 + kNonce + plaintext.size() + kTag, '\0');
  out[0] = static_cast<char>(kVersion);
  rng.fill(std::as_writable_bytes(std::span<char>(out.data() + 1, kNonce)));
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(reinterpret_cast<unsigned char*>(out.data() + 1 + kNonce), &clen,
                                             u8(plaintext), plaintext.size(), u8(aad), aad.size(), nullptr,
                                             u8(out.substr(1, kNonce)), u8(key_.expose()));
  return base64url_encode(out);
}

Result<SecretString> Kek::open(std::string_view sealed, std::string_view aad) const {
  const auto raw = base64url_decode(sealed);
  if (!raw || raw->size() < 1 + kNonce + kTag || static_cast<unsigned char>((*raw)[0]) != kVersion)
    return fail(SealError::Malformed);
  const std::string_view nonce = std::string_view(*raw).substr(1, kNonce);
  const std::string_view ct = std::string_view(*raw).substr(1 + kNonce);
  std::string plain(ct.size() - kTag, '\0');
  unsigned long long plen = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<unsigned char*>(plain.data()), &plen, nullptr,
                                                 u8(ct), ct.size(), u8(aad), aad.size(), u8(nonce),
                                                 u8(key_.expose())) != 0) {
    return fail(SealError::OpenFailed);
  }
  plain.resize(plen);
  return SecretString(std::move(plain));
}

SecretString Kek::derive(std::string_view label) const {
  return SecretString(hmac_sha256(key_.expose(), label));
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::string out(crypto_auth_hmacsha256_BYTES, '\0');
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, u8(key), key.size());
  crypto_auth_hmacsha256_update(&st, u8(data), data.size());
  crypto_auth_hmacsha256_final(&st, reinterpret_cast<unsigned char*>(out.data()));
  sodium_memzero(&st, sizeof st);
  return out;
}

}  // namespace gh::crypto
