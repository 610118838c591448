#include "core/jwt/jwk.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <array>
#include <optional>
#include <string>

#include "core/base/encoding.h"
#include "core/jwt/error.h"
#include "core/jwt/ossl.h"

namespace gh::jwt::detail {
namespace {

using Json = nlohmann::json;

struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const noexcept { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};

constexpr std::size_t kCoordinateBytes = 32;  // Ed25519 x, P-256 x and y (RFC 7518 §6.2.1.2)

// Members that make a JWK a private or symmetric key (RFC 7518 §6.2.2, §6.3.2,
// §6.4.1; RFC 8037 §2). A verifier that silently ignored them would invite
// publishing a private key by mistake, so their presence is an error.
constexpr std::array<std::string_view, 8> kPrivateMembers = {"d",  "p",  "q",   "dp",
                                                             "dq", "qi", "oth", "k"};

tl::unexpected<Error> key_error(std::string detail) {
  return fail(JwtError::KeyError, std::move(detail));
}

std::string bn_bytes(const EVP_PKEY* pkey, const char* name, int pad_to) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) return {};
  const BnPtr bn(raw);
  const int n = pad_to > 0 ? pad_to : BN_num_bytes(bn.get());
  std::string out(static_cast<std::size_t>(n), '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), n) != n) return {};
  return out;
}

// A string member decoded from canonical base64url; nullopt if absent, not a
// string or not canonical.
std::optional<std::string> b64_member(const Json& jwk, const char* name) {
  const auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return std::nullopt;
  return base64url_decode(it->get_ref<const std::string&>());
}

std::optional<std::string> string_member(const Json& jwk, const char* name) {
  const auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

Result<PkeyPtr> import_okp(const Json& jwk) {
  if (string_member(jwk, "crv") != "Ed25519") return key_error("OKP keys must have crv Ed25519");
  const auto x = b64_member(jwk, "x");
  if (!x || x->size() != kCoordinateBytes)
    return key_error("Ed25519 x must be 32 bytes of base64url");
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(x->data()), x->size()));
  if (!pkey) return key_error("Ed25519 public key rejected");
  return pkey;
}

Result<PkeyPtr> from_params(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return key_error(std::string(type) + " public key rejected");
  }
  PkeyPtr pkey(raw);
  // Full public-key validation (on the curve, right order; RSA sanity), the
  // NIST SP 800-56A partial validation RFC 8725 §3.4 asks for.
  PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return key_error(std::string(type) + " public key failed validation");
  }
  return pkey;
}

Result<PkeyPtr> import_ec(const Json& jwk) {
  if (string_member(jwk, "crv") != "P-256") return key_error("EC keys must have crv P-256");
  const auto x = b64_member(jwk, "x");
  const auto y = b64_member(jwk, "y");
  if (!x || !y || x->size() != kCoordinateBytes || y->size() != kCoordinateBytes) {
    return key_error("P-256 x and y must each be 32 bytes of base64url");
  }
  std::string point = "\x04" + *x + *y;  // SEC 1 §2.3.3 uncompressed point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  const char* group = OSSL_PKEY_PARAM_GROUP_NAME;
  const char* pub = OSSL_PKEY_PARAM_PUB_KEY;
  if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), group, "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), pub, point.data(), point.size()) != 1) {
    return key_error("out of memory");
  }
  return from_params("EC", bld.get());
}

// RFC 7518 §2 Base64urlUInt: minimal big-endian octets (no leading zero octet).
std::optional<std::string> uint_member(const Json& jwk, const char* name) {
  auto v = b64_member(jwk, name);
  if (!v || v->empty() || (*v)[0] == 0) return std::nullopt;
  return v;
}

Result<PkeyPtr> import_rsa(const Json& jwk) {
  const auto n = uint_member(jwk, "n");
  const auto e = uint_member(jwk, "e");
  if (!n || !e) return key_error("RSA n and e must be minimal base64url unsigned integers");
  if (n->size() < 256 || n->size() > 1024)
    return key_error("RSA modulus must be 2048 to 8192 bits");
  // FIPS 186-5 §5.4 / SP 800-56B: e odd and 65537 <= e < 2^256 (OpenSSL's
  // default provider does not check the floor). As e is minimal big-endian,
  // comparing length, then bytes, compares values.
  const bool small = e->size() < 3 || (e->size() == 3 && *e < std::string("\x01\x00\x01", 3));
  if (small || e->size() > 32 || (static_cast<unsigned char>(e->back()) & 1) == 0) {
    return key_error("RSA public exponent must be odd, 65537 <= e < 2^256");
  }
  const auto* nb = reinterpret_cast<const unsigned char*>(n->data());
  const auto* eb = reinterpret_cast<const unsigned char*>(e->data());
  BnPtr bn_n(BN_bin2bn(nb, static_cast<int>(n->size()), nullptr));
  BnPtr bn_e(BN_bin2bn(eb, static_cast<int>(e->size()), nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return key_error("out of memory");
  }
  auto pkey = from_params("RSA", bld.get());
  if (pkey && !pkey_fits(pkey->get(), Alg::RS256))
    return key_error("RSA modulus must be 2048 to 8192 bits");
  return pkey;
}

}  // namespace

Json public_jwk_of(const EVP_PKEY* pkey, Alg alg, std::string_view kid) {
  Json jwk = Json::object();
  switch (alg) {
    case Alg::EdDSA: {
      std::string x(kCoordinateBytes, '\0');
      std::size_t len = x.size();
      auto* out = reinterpret_cast<unsigned char*>(x.data());
      if (EVP_PKEY_get_raw_public_key(pkey, out, &len) != 1 || len != x.size()) {
        clear_openssl_errors();
        return nullptr;
      }
      jwk = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", base64url_encode(x)}};
      break;
    }
    case Alg::ES256: {
      // Fixed-length coordinates: RFC 7518 §6.2.1.2 forbids trimming leading zeros.
      const std::string x = bn_bytes(pkey, OSSL_PKEY_PARAM_EC_PUB_X, kCoordinateBytes);
      const std::string y = bn_bytes(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, kCoordinateBytes);
      if (x.empty() || y.empty()) {
        clear_openssl_errors();
        return nullptr;
      }
      jwk = {
          {"kty", "EC"}, {"crv", "P-256"}, {"x", base64url_encode(x)}, {"y", base64url_encode(y)}};
      break;
    }
    case Alg::RS256: {
      const std::string n = bn_bytes(pkey, OSSL_PKEY_PARAM_RSA_N, 0);
      const std::string e = bn_bytes(pkey, OSSL_PKEY_PARAM_RSA_E, 0);
      if (n.empty() || e.empty()) {
        clear_openssl_errors();
        return nullptr;
      }
      jwk = {{"kty", "RSA"}, {"n", base64url_encode(n)}, {"e", base64url_encode(e)}};
      break;
    }
    case Alg::HS256:
      return nullptr;
  }
  jwk["kid"] = std::string(kid);
  jwk["alg"] = std::string(alg_name(alg));
  jwk["use"] = "sig";
  return jwk;
}

Result<ImportedKey> import_public_jwk(const Json& jwk) {
  if (!jwk.is_object()) return key_error("a JWK must be a JSON object");
  for (std::string_view m : kPrivateMembers) {
    if (jwk.contains(m)) {
      return key_error("the JWK holds private or symmetric key material: " + std::string(m));
    }
  }
  if (const auto it = jwk.find("use");
      it != jwk.end() && !(it->is_string() && it->get_ref<const std::string&>() == "sig")) {
    return key_error("JWK use must be \"sig\"");
  }
  if (const auto it = jwk.find("key_ops"); it != jwk.end()) {
    if (!it->is_array() || std::find(it->begin(), it->end(), Json("verify")) == it->end()) {
      return key_error("JWK key_ops must include \"verify\"");
    }
  }
  const auto kty = string_member(jwk, "kty");
  if (!kty) return key_error("JWK kty must be a string");
  // Each supported kty/crv has exactly one algorithm, so a missing alg is
  // inferred without ambiguity; a present one must agree (RFC 8725 §3.1).
  Alg alg{};
  if (*kty == "OKP") {
    alg = Alg::EdDSA;
  } else if (*kty == "EC") {
    alg = Alg::ES256;
  } else if (*kty == "RSA") {
    alg = Alg::RS256;
  } else {
    // "oct" included: a secret that arrives in a key set is no secret.
    return key_error("JWK kty must be OKP, EC or RSA");
  }
  if (const auto it = jwk.find("alg"); it != jwk.end()) {
    if (!it->is_string() || parse_alg(it->get_ref<const std::string&>()) != alg) {
      return key_error("JWK alg is unsupported or does not match its kty/crv");
    }
  }
  Result<PkeyPtr> pkey = alg == Alg::EdDSA   ? import_okp(jwk)
                         : alg == Alg::ES256 ? import_ec(jwk)
                                             : import_rsa(jwk);
  if (!pkey) {
    clear_openssl_errors();
    return fail(pkey.error());
  }
  return ImportedKey{alg, std::move(*pkey)};
}

}  // namespace gh::jwt::detail
