#include "core/jwt/signing_key.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>

#include "core/jwt/jwk.h"
#include "core/jwt/ossl.h"

namespace gh::jwt {
namespace {

constexpr std::size_t kMaxKidBytes = 128;
constexpr std::size_t kMinHmacSecretBytes = 32;  // RFC 7518 §3.2: at least the hash size
constexpr std::size_t kGeneratedHmacBytes = 32;
constexpr std::size_t kMaxPemBytes = 16 * 1024;  // an 8192-bit RSA PKCS#8 PEM is ~6.3 KB

struct BioFree {
  void operator()(BIO* p) const noexcept { BIO_free(p); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

tl::unexpected<Error> key_error(std::string detail) {
  detail::clear_openssl_errors();
  return fail(JwtError::KeyError, std::move(detail));
}

bool valid_kid(std::string_view kid) {
  return !kid.empty() && kid.size() <= kMaxKidBytes &&
         std::all_of(kid.begin(), kid.end(), [](char c) {
           return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.' || c == '~';
         });
}

// Refuses every passphrase prompt: the default callback would read the terminal.
int no_passphrase(char*, int, int, void*) { return -1; }

}  // namespace

SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;
SigningKey::~SigningKey() = default;

Result<SigningKey> SigningKey::generate(Alg alg, std::string kid, int rsa_bits) {
  if (!valid_kid(kid)) return key_error("kid must be 1-128 characters of A-Z a-z 0-9 - _ . ~");
  if (alg == Alg::HS256) {
    std::string secret(kGeneratedHmacBytes, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()),
                   static_cast<int>(secret.size())) != 1) {
      return key_error("the random generator failed");
    }
    return from_secret(std::move(kid), SecretString(std::move(secret)));
  }
  EVP_PKEY* raw = nullptr;
  switch (alg) {
    case Alg::EdDSA:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    case Alg::ES256:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case Alg::RS256:
      if (rsa_bits < 2048 || rsa_bits > 8192)
        return key_error("RSA keys must have 2048 to 8192 bits");
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(rsa_bits));
      break;
    case Alg::HS256:
      break;
  }
  SigningKey key(alg, std::move(kid));
  key.pkey_.reset(raw);
  if (!detail::pkey_fits(key.pkey_.get(), alg)) return key_error("key generation failed");
  return key;
}

Result<SigningKey> SigningKey::from_private_pem(Alg alg, std::string kid, const SecretString& pem) {
  if (alg == Alg::HS256) return from_secret(std::move(kid), SecretString(pem.expose()));
  if (!valid_kid(kid)) return key_error("kid must be 1-128 characters of A-Z a-z 0-9 - _ . ~");
  if (pem.size() > kMaxPemBytes) return key_error("the PEM document is too large");
  BioPtr bio(BIO_new_mem_buf(pem.expose().data(), static_cast<int>(pem.size())));
  if (!bio) return key_error("out of memory");
  SigningKey key(alg, std::move(kid));
  key.pkey_.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key.pkey_) return key_error("not an unencrypted PEM private key");
  if (!detail::pkey_fits(key.pkey_.get(), alg)) {
    return key_error("the private key does not fit " + std::string(alg_name(alg)));
  }
  detail::clear_openssl_errors();  // PEM parsing may queue benign errors while probing formats
  return key;
}

Result<SigningKey> SigningKey::from_secret(std::string kid, SecretString secret) {
  if (!valid_kid(kid)) return key_error("kid must be 1-128 characters of A-Z a-z 0-9 - _ . ~");
  if (secret.size() < kMinHmacSecretBytes)
    return key_error("HS256 secrets must be at least 32 bytes");
  if (secret.expose().find("-----BEGIN") != std::string_view::npos) {
    return key_error("a PEM document is not an HMAC secret");
  }
  SigningKey key(Alg::HS256, std::move(kid));
  key.hmac_ = detail::HmacSha256::create(secret.expose());
  if (!key.hmac_) return key_error("HMAC initialisation failed");
  key.secret_ = std::move(secret);
  return key;
}

Result<SecretString> SigningKey::private_pem() const {
  if (alg_ == Alg::HS256) return SecretString(secret_.expose());
  // BIO_s_secmem uses OpenSSL's secure heap when one is configured; its buffer
  // is cleansed when freed either way (BUF_MEM_free).
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    return key_error("could not encode the private key");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) return key_error("could not encode the private key");
  return SecretString(std::string_view(data, static_cast<std::size_t>(len)));
}

nlohmann::json SigningKey::public_jwk() const {
  if (alg_ == Alg::HS256) return nullptr;
  return detail::public_jwk_of(pkey_.get(), alg_, kid_);
}

Result<std::string> SigningKey::sign(std::string_view signing_input) const {
  if (alg_ == Alg::HS256) {
    std::array<unsigned char, detail::kHs256Bytes> mac{};
    if (!hmac_->mac(signing_input, mac)) return key_error("HMAC failed");
    return std::string(reinterpret_cast<const char*>(mac.data()), mac.size());
  }
  auto sig = detail::pkey_sign(pkey_.get(), alg_, signing_input);
  if (!sig) return key_error("signing failed");
  return std::move(*sig);
}

}  // namespace gh::jwt
