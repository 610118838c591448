#include "core/jwt/ossl.h"

#include <openssl/core_names.h>
#include <openssl/err.h>

#include <algorithm>
#include <cstring>

namespace gh::jwt::detail {

void PkeyFree::operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
void HmacFree::operator()(HmacSha256* p) const noexcept { delete p; }

void clear_openssl_errors() { ERR_clear_error(); }

namespace {

struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* p) const noexcept { EVP_MAC_CTX_free(p); }
};
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

constexpr std::size_t kP256ScalarBytes = 32;

// The order n of the P-256 base point (SEC 2 v2 §2.4.2), big-endian.
constexpr std::array<unsigned char, kP256ScalarBytes> kP256Order = {
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// 1 <= v <= n-1 for a 32-byte big-endian v. Public values: no constant time needed.
bool in_scalar_range(std::string_view v) {
  const bool zero = std::all_of(v.begin(), v.end(), [](char c) { return c == 0; });
  return !zero && std::memcmp(v.data(), kP256Order.data(), kP256ScalarBytes) < 0;
}

// Appends a DER INTEGER holding the positive 32-byte big-endian value `v`.
void put_der_integer(std::string& out, std::string_view v) {
  std::size_t skip = 0;
  while (skip + 1 < v.size() && v[skip] == 0) ++skip;
  v.remove_prefix(skip);
  const bool pad = (static_cast<unsigned char>(v[0]) & 0x80) != 0;  // keep it positive (X.690 §8.3)
  out.push_back(0x02);
  out.push_back(static_cast<char>(v.size() + (pad ? 1 : 0)));
  if (pad) out.push_back(0);
  out.append(v);
}

// Reads one minimal, positive DER INTEGER of at most 32 value bytes from `in`
// into `out` (left-padded to 32 bytes) and advances `in` past it.
bool get_der_integer(std::string_view& in, char* out) {
  if (in.size() < 2 || in[0] != 0x02) return false;
  const auto len = static_cast<unsigned char>(in[1]);
  if (len == 0 || len > kP256ScalarBytes + 1 || in.size() < 2U + len) return false;
  std::string_view v = in.substr(2, len);
  const auto first = static_cast<unsigned char>(v[0]);
  if (first & 0x80) return false;  // negative
  if (first == 0) {
    if (v.size() == 1 || (static_cast<unsigned char>(v[1]) & 0x80) == 0)
      return false;  // not minimal
    v.remove_prefix(1);
  }
  if (v.size() > kP256ScalarBytes) return false;
  std::memset(out, 0, kP256ScalarBytes - v.size());
  std::memcpy(out + (kP256ScalarBytes - v.size()), v.data(), v.size());
  in.remove_prefix(2U + len);
  return true;
}

bool is_p256(const EVP_PKEY* pkey) {
  char name[64] = {};
  std::size_t len = 0;
  const char* param = OSSL_PKEY_PARAM_GROUP_NAME;
  if (EVP_PKEY_get_utf8_string_param(pkey, param, name, sizeof name, &len) != 1) {
    return false;  // explicit curve parameters have no name: refused
  }
  const std::string_view n(name, len);
  return n == "prime256v1" || n == "P-256";
}

// Digest name for EVP_DigestSign/VerifyInit_ex: Ed25519 hashes internally (nullptr).
const char* digest_for(Alg alg) { return alg == Alg::EdDSA ? nullptr : "SHA256"; }

}  // namespace

// Hand-written: OpenSSL has no raw r||s output, and going through ECDSA_SIG
// costs two BIGNUM allocations and a DER round trip per token.
std::optional<std::string> ecdsa_der_to_raw(std::string_view der) {
  // SEQUENCE, short-form length (two <= 33-byte INTEGERs never need long form).
  if (der.size() < 2 || der[0] != 0x30 || static_cast<unsigned char>(der[1]) != der.size() - 2) {
    return std::nullopt;
  }
  std::string_view body = der.substr(2);
  std::string raw(kEs256SignatureBytes, '\0');
  if (!get_der_integer(body, raw.data()) || !get_der_integer(body, raw.data() + kP256ScalarBytes) ||
      !body.empty()) {
    return std::nullopt;
  }
  return raw;
}

// Hand-written for the same reason as ecdsa_der_to_raw; the range check is
// ours on purpose rather than trusting each OpenSSL release to keep it.
std::optional<std::string> ecdsa_raw_to_der(std::string_view raw) {
  if (raw.size() != kEs256SignatureBytes) return std::nullopt;
  const std::string_view r = raw.substr(0, kP256ScalarBytes);
  const std::string_view s = raw.substr(kP256ScalarBytes);
  if (!in_scalar_range(r) || !in_scalar_range(s)) return std::nullopt;
  std::string der;
  der.reserve(2 + 2 * (2 + kP256ScalarBytes + 1));
  der.push_back(0x30);
  der.push_back(0);  // length, patched below
  put_der_integer(der, r);
  put_der_integer(der, s);
  der[1] = static_cast<char>(der.size() - 2);
  return der;
}

bool pkey_fits(const EVP_PKEY* pkey, Alg alg) {
  if (pkey == nullptr) return false;
  switch (alg) {
    case Alg::EdDSA:
      return EVP_PKEY_is_a(pkey, "ED25519") == 1;
    case Alg::ES256:
      return EVP_PKEY_is_a(pkey, "EC") == 1 && is_p256(pkey);
    case Alg::RS256: {
      // 2048 is the NIST SP 800-131A floor; above 8192 a public key becomes a
      // verification-cost DoS rather than more security.
      const int bits = EVP_PKEY_get_bits(pkey);
      return EVP_PKEY_is_a(pkey, "RSA") == 1 && bits >= 2048 && bits <= 8192;
    }
    case Alg::HS256:
      return false;
  }
  return false;
}

std::optional<std::string> pkey_sign(EVP_PKEY* pkey, Alg alg, std::string_view input) {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  const char* md = digest_for(alg);
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, md, nullptr, nullptr, pkey, nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, bytes(input), input.size()) != 1) {
    clear_openssl_errors();
    return std::nullopt;
  }
  std::string sig(len, '\0');
  auto* out = reinterpret_cast<unsigned char*>(sig.data());
  if (EVP_DigestSign(ctx.get(), out, &len, bytes(input), input.size()) != 1) {
    clear_openssl_errors();
    return std::nullopt;
  }
  sig.resize(len);
  if (alg == Alg::ES256) return ecdsa_der_to_raw(sig);
  return sig;
}

VerifierPtr PkeyVerifier::create(EVP_PKEY* pkey, Alg alg) {
  MdCtxPtr prepared(EVP_MD_CTX_new());
  if (!prepared || alg == Alg::HS256 ||
      EVP_DigestVerifyInit_ex(prepared.get(), nullptr, digest_for(alg), nullptr, nullptr, pkey,
                              nullptr) != 1) {
    clear_openssl_errors();
    return nullptr;
  }
  const auto rsa_bytes = alg == Alg::RS256 ? static_cast<std::size_t>(EVP_PKEY_get_size(pkey)) : 0;
  return VerifierPtr(new PkeyVerifier(prepared.release(), alg, rsa_bytes));
}

PkeyVerifier::~PkeyVerifier() { EVP_MD_CTX_free(prepared_); }

bool PkeyVerifier::verify(std::string_view input, std::string_view sig) const {
  std::string der;
  switch (alg_) {
    case Alg::EdDSA:
      if (sig.size() != kEd25519SignatureBytes) return false;
      break;
    case Alg::ES256: {
      auto d = ecdsa_raw_to_der(sig);
      if (!d) return false;
      der = std::move(*d);
      sig = der;
      break;
    }
    case Alg::RS256:
      // RFC 8017 §8.2.2 step 1: the signature is exactly k = |n| octets.
      if (sig.size() != rsa_bytes_) return false;
      break;
    case Alg::HS256:
      return false;
  }
  thread_local const MdCtxPtr work(EVP_MD_CTX_new());
  const bool ok = work && EVP_MD_CTX_copy_ex(work.get(), prepared_) == 1 &&
                  EVP_DigestVerify(work.get(), bytes(sig), sig.size(), bytes(input), input.size()) == 1;
  EVP_MD_CTX_reset(work.get());  // holds no key reference between calls
  if (!ok) clear_openssl_errors();
  return ok;
}

void VerifierFree::operator()(PkeyVerifier* p) const noexcept { delete p; }

HmacPtr HmacSha256::create(std::string_view key) {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  MacCtxPtr ctx(mac ? EVP_MAC_CTX_new(mac) : nullptr);
  EVP_MAC_free(mac);  // the context holds its own reference
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  if (!ctx || EVP_MAC_init(ctx.get(), bytes(key), key.size(), params) != 1) {
    clear_openssl_errors();
    return nullptr;
  }
  return HmacPtr(new HmacSha256(ctx.release()));
}

HmacSha256::~HmacSha256() { EVP_MAC_CTX_free(keyed_); }

bool HmacSha256::mac(std::string_view data, std::array<unsigned char, kHs256Bytes>& out) const {
  MacCtxPtr ctx(EVP_MAC_CTX_dup(keyed_));
  std::size_t len = 0;
  const bool ok = ctx && EVP_MAC_update(ctx.get(), bytes(data), data.size()) == 1 &&
                  EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) == 1 && len == out.size();
  if (!ok) clear_openssl_errors();
  return ok;
}

}  // namespace gh::jwt::detail
