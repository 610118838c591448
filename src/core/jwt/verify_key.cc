#include "core/jwt/verify_key.h"

#include <openssl/x509.h>

#include <array>
#include <new>

#include "core/base/encoding.h"
#include "core/base/secret.h"
#include "core/jwt/jwk.h"
#include "core/jwt/ossl.h"

namespace gh::jwt {
namespace {

constexpr std::size_t kMaxJwkKidBytes = 256;

}  // namespace

VerifyKey::VerifyKey(VerifyKey&&) noexcept = default;
VerifyKey& VerifyKey::operator=(VerifyKey&&) noexcept = default;
VerifyKey::~VerifyKey() = default;

Result<VerifyKey> VerifyKey::from_jwk(const nlohmann::json& jwk) {
  if (!jwk.is_object()) return fail(JwtError::KeyError, "a JWK must be a JSON object");
  const auto kid = jwk.find("kid");
  if (kid == jwk.end() || !kid->is_string() || kid->get_ref<const std::string&>().empty() ||
      kid->get_ref<const std::string&>().size() > kMaxJwkKidBytes ||
      !is_valid_utf8(kid->get_ref<const std::string&>())) {
    return fail(JwtError::KeyError,
                "JWK kid must be a non-empty UTF-8 string of at most 256 bytes");
  }
  auto imported = detail::import_public_jwk(jwk);
  if (!imported) return fail(imported.error());
  VerifyKey key(imported->alg, kid->get<std::string>());
  key.pkey_ = std::move(imported->pkey);
  key.verifier_ = detail::PkeyVerifier::create(key.pkey_.get(), key.alg_);
  if (!key.verifier_) return fail(JwtError::KeyError, "OpenSSL cannot verify with this JWK");
  return key;
}

VerifyKey VerifyKey::from_signing_key(const SigningKey& sk) {
  VerifyKey key(sk.alg_, sk.kid_);
  if (sk.alg_ == Alg::HS256) {
    key.hmac_ = detail::HmacSha256::create(sk.secret_.expose());
    if (!key.hmac_) throw std::bad_alloc();
    return key;
  }
  // A SubjectPublicKeyInfo round trip copies the public half only, so a
  // VerifyKey never holds private material, whatever it is later used for.
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(sk.pkey_.get(), &der);
  if (len <= 0) throw std::bad_alloc();
  const unsigned char* p = der;
  key.pkey_.reset(d2i_PUBKEY(nullptr, &p, len));
  OPENSSL_free(der);
  if (!key.pkey_) throw std::bad_alloc();
  key.verifier_ = detail::PkeyVerifier::create(key.pkey_.get(), key.alg_);
  if (!key.verifier_) throw std::bad_alloc();
  return key;
}

bool VerifyKey::verify(std::string_view signing_input, std::string_view signature) const {
  if (alg_ == Alg::HS256) {
    std::array<unsigned char, detail::kHs256Bytes> mac{};
    if (signature.size() != mac.size() || !hmac_->mac(signing_input, mac)) return false;
    return constant_time_equal(
        std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()), signature);
  }
  return verifier_->verify(signing_input, signature);
}

nlohmann::json VerifyKey::public_jwk() const {
  if (alg_ == Alg::HS256) return nullptr;
  return detail::public_jwk_of(pkey_.get(), alg_, kid_);
}

}  // namespace gh::jwt
