// JWT cost per algorithm: SigningKey::sign / VerifyKey::verify next to the raw
// OpenSSL primitive on a prepared key (EVP_DigestSign/Verify; HMAC() one-shot
// for HS256), so the framing overhead (DER <-> r||s, length and range checks,
// HMAC context copy) shows as the difference. Then sign_jwt and verify_jwt
// end to end (base64url, strict JSON, header rules, signature, claims).
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <array>
#include <cstdlib>
#include <string>

#include <benchmark/benchmark.h>

#include "core/jwt/jwt.h"
#include "core/jwt/ossl.h"

namespace {

using gh::jwt::Alg;
using Json = nlohmann::json;

constexpr std::int64_t kNow = 1'900'000'000;
constexpr std::string_view kIssuer = "https://auth.example.test";
constexpr std::string_view kAudience = "https://api.example.test";

// A typical RFC 9068 access token's signing input (~300 bytes).
const Json& claims() {
  static const Json c = {{"iss", kIssuer},     {"sub", "7c9e6679-7425-40de-944b-e07fc1f90ae7"},
                         {"aud", kAudience},   {"iat", kNow},
                         {"exp", kNow + 300},  {"jti", "k3v9pQ2xL8mN4rT7wY1zB6cF0hJ5sD"},
                         {"client_id", "web"}, {"scope", "openid profile api:read"}};
  return c;
}

const gh::jwt::SigningKey& key(Alg alg) {
  static std::array<std::optional<gh::jwt::SigningKey>, 4> keys;
  auto& slot = keys[static_cast<std::size_t>(alg)];
  if (!slot) {
    auto k = gh::jwt::SigningKey::generate(
        alg, std::string(gh::jwt::alg_name(alg)));  // RSA 3072, the default
    if (!k) std::abort();
    slot.emplace(std::move(*k));
  }
  return *slot;
}

std::string signing_input(Alg alg) {
  const std::string t = *gh::jwt::sign_jwt(key(alg), claims());
  return t.substr(0, t.rfind('.'));
}

const unsigned char* u8(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// An EVP_PKEY holding the same key pair, for the raw baseline.
EVP_PKEY* raw_pkey(Alg alg) {
  const auto pem = key(alg).private_pem();
  BIO* bio = BIO_new_mem_buf(pem->expose().data(), static_cast<int>(pem->size()));
  EVP_PKEY* p = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (p == nullptr) std::abort();
  return p;
}

const char* md_for(Alg alg) { return alg == Alg::EdDSA ? nullptr : "SHA256"; }

void ours_sign(benchmark::State& state, Alg alg) {
  const auto& k = key(alg);
  const std::string input = signing_input(alg);
  for ([[maybe_unused]] auto _ : state) {
    auto sig = k.sign(input);
    benchmark::DoNotOptimize(sig);
  }
}

void ours_verify(benchmark::State& state, Alg alg) {
  const auto vk = gh::jwt::VerifyKey::from_signing_key(key(alg));
  const std::string input = signing_input(alg);
  const std::string sig = *key(alg).sign(input);
  for ([[maybe_unused]] auto _ : state) {
    if (!vk.verify(input, sig)) state.SkipWithError("verify failed");
  }
}

// EVP_DigestSign with a fresh EVP_MD_CTX per operation on a prepared EVP_PKEY.
void raw_sign(benchmark::State& state, Alg alg) {
  EVP_PKEY* pkey = raw_pkey(alg);
  const std::string input = signing_input(alg);
  std::array<unsigned char, 1024> sig{};
  for ([[maybe_unused]] auto _ : state) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    std::size_t len = sig.size();
    if (EVP_DigestSignInit_ex(ctx, nullptr, md_for(alg), nullptr, nullptr, pkey, nullptr) != 1 ||
        EVP_DigestSign(ctx, sig.data(), &len, u8(input), input.size()) != 1) {
      state.SkipWithError("EVP_DigestSign failed");
    }
    EVP_MD_CTX_free(ctx);
    benchmark::DoNotOptimize(sig);
  }
  EVP_PKEY_free(pkey);
}

void raw_verify(benchmark::State& state, Alg alg) {
  EVP_PKEY* pkey = raw_pkey(alg);
  const std::string input = signing_input(alg);
  std::string sig = *key(alg).sign(input);
  if (alg == Alg::ES256) sig = *gh::jwt::detail::ecdsa_raw_to_der(sig);  // OpenSSL wants DER
  for ([[maybe_unused]] auto _ : state) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    if (EVP_DigestVerifyInit_ex(ctx, nullptr, md_for(alg), nullptr, nullptr, pkey, nullptr) != 1 ||
        EVP_DigestVerify(ctx, u8(sig), sig.size(), u8(input), input.size()) != 1) {
      state.SkipWithError("EVP_DigestVerify failed");
    }
    EVP_MD_CTX_free(ctx);
  }
  EVP_PKEY_free(pkey);
}

// HMAC() one-shot: re-keys every call (what a naive implementation does).
void raw_hmac(benchmark::State& state) {
  const auto secret = key(Alg::HS256).private_pem();
  const std::string input = signing_input(Alg::HS256);
  std::array<unsigned char, 32> mac{};
  unsigned int len = 0;
  for ([[maybe_unused]] auto _ : state) {
    HMAC(EVP_sha256(), secret->expose().data(), static_cast<int>(secret->size()), u8(input),
         input.size(), mac.data(), &len);
    benchmark::DoNotOptimize(mac);
  }
}

void sign_jwt_e2e(benchmark::State& state, Alg alg) {
  const auto& k = key(alg);
  for ([[maybe_unused]] auto _ : state) {
    auto t = gh::jwt::sign_jwt(k, claims());
    benchmark::DoNotOptimize(t);
  }
}

void verify_jwt_e2e(benchmark::State& state, Alg alg) {
  gh::jwt::KeySet keys;
  for (Alg a : {Alg::EdDSA, Alg::ES256, Alg::RS256, Alg::HS256}) {
    if (!keys.add(gh::jwt::VerifyKey::from_signing_key(key(a)))) std::abort();
  }
  gh::jwt::VerifyOptions o;
  o.issuer = kIssuer;
  o.audience = kAudience;
  const std::string token = *gh::jwt::sign_jwt(key(alg), claims());
  const gh::Seconds now{std::chrono::seconds{kNow}};
  for ([[maybe_unused]] auto _ : state) {
    auto r = gh::jwt::verify_jwt(token, keys, o, now);
    if (!r) state.SkipWithError("verify_jwt failed");
    benchmark::DoNotOptimize(r);
  }
}

}  // namespace

#define GH_JWT_BENCH(ALG)                                                        \
  BENCHMARK_CAPTURE(ours_sign, ALG, Alg::ALG)->Unit(benchmark::kMicrosecond);    \
  BENCHMARK_CAPTURE(ours_verify, ALG, Alg::ALG)->Unit(benchmark::kMicrosecond);  \
  BENCHMARK_CAPTURE(sign_jwt_e2e, ALG, Alg::ALG)->Unit(benchmark::kMicrosecond); \
  BENCHMARK_CAPTURE(verify_jwt_e2e, ALG, Alg::ALG)->Unit(benchmark::kMicrosecond)

GH_JWT_BENCH(EdDSA);
GH_JWT_BENCH(ES256);
GH_JWT_BENCH(RS256);
GH_JWT_BENCH(HS256);
BENCHMARK_CAPTURE(raw_sign, EdDSA, Alg::EdDSA)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(raw_verify, EdDSA, Alg::EdDSA)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(raw_sign, ES256, Alg::ES256)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(raw_verify, ES256, Alg::ES256)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(raw_sign, RS256, Alg::RS256)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(raw_verify, RS256, Alg::RS256)->Unit(benchmark::kMicrosecond);
BENCHMARK(raw_hmac)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
