// Fuzzes the JWT verifier and the parsers under it, against a fixed KeySet
// holding one key of each algorithm (generated once). The first byte picks:
//   0: the input is a compact token for verify_jwt (framing, base64url, header);
//   1: the input is "header\0payload" text, validly signed by the key picked by
//      the second byte, so the claim checks behind the signature get fuzzed too;
//   2: the input is a JWK for VerifyKey::from_jwk;
//   3: the input is an ECDSA signature for the DER <-> r||s converters, which
//      must round-trip exactly.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/base/encoding.h"
#include "core/jwt/jwt.h"
#include "core/jwt/ossl.h"

namespace {

using gh::jwt::Alg;

constexpr std::array<Alg, 4> kAlgs = {Alg::EdDSA, Alg::ES256, Alg::RS256, Alg::HS256};

struct Fixture {
  std::array<std::optional<gh::jwt::SigningKey>, 4> signers;
  gh::jwt::KeySet keys;
  gh::jwt::VerifyOptions options;

  Fixture() {
    for (std::size_t i = 0; i < kAlgs.size(); ++i) {
      auto k =
          gh::jwt::SigningKey::generate(kAlgs[i], std::string(gh::jwt::alg_name(kAlgs[i])), 2048);
      if (!k) __builtin_trap();
      if (!keys.add(gh::jwt::VerifyKey::from_signing_key(*k))) __builtin_trap();
      signers[i].emplace(std::move(*k));
    }
    options.issuer = "https://auth.example.test";
    options.audience = "https://api.example.test";
  }
};

const Fixture& fixture() {
  static const Fixture f;
  return f;
}

constexpr gh::Seconds kNow{std::chrono::seconds{1'900'000'000}};

void fuzz_signed(const Fixture& f, std::string_view in) {
  if (in.empty()) return;
  const auto& signer = *f.signers[static_cast<unsigned char>(in[0]) % kAlgs.size()];
  in.remove_prefix(1);
  const auto nul = in.find('\0');
  const std::string_view header = in.substr(0, nul);
  const std::string_view payload =
      nul == std::string_view::npos ? std::string_view{} : in.substr(nul + 1);
  std::string token = gh::base64url_encode(header) + "." + gh::base64url_encode(payload);
  auto sig = signer.sign(token);
  if (!sig) __builtin_trap();
  token += "." + gh::base64url_encode(*sig);
  auto r = gh::jwt::verify_jwt(token, f.keys, f.options, kNow);
  if (r) (void)r->claims.dump();
}

void fuzz_jwk(std::string_view in) {
  const auto jwk = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (jwk.is_discarded()) return;
  auto key = gh::jwt::VerifyKey::from_jwk(jwk);
  if (!key) return;
  (void)key->verify("a.b", std::string(64, '\x01'));
  // Whatever was accepted must export and re-import to the same key.
  const auto again = gh::jwt::VerifyKey::from_jwk(key->public_jwk());
  if (!again || again->public_jwk() != key->public_jwk()) __builtin_trap();
}

void fuzz_ecdsa(std::string_view in) {
  if (auto der = gh::jwt::detail::ecdsa_raw_to_der(in)) {
    const auto raw = gh::jwt::detail::ecdsa_der_to_raw(*der);
    if (!raw || *raw != in) __builtin_trap();
  }
  if (auto raw = gh::jwt::detail::ecdsa_der_to_raw(in)) {
    // Strict DER has one encoding per value: back to the same bytes when in range.
    if (auto der = gh::jwt::detail::ecdsa_raw_to_der(*raw); der && *der != in) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const Fixture& f = fixture();
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto r = gh::jwt::verify_jwt(in, f.keys, f.options, kNow);
      if (r) __builtin_trap();  // nobody can forge a signature by chance
      break;
    }
    case 1:
      fuzz_signed(f, in);
      break;
    case 2:
      fuzz_jwk(in);
      break;
    default:
      fuzz_ecdsa(in);
      break;
  }
  return 0;
}
