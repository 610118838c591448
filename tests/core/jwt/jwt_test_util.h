// Shared fixtures for the JWT tests: a fixed `now`, one cached key per
// algorithm (kids "ed", "es", "rs", "hs"), default claims/options, and
// forge() to sign hand-written header and payload text with a real key.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "core/base/encoding.h"
#include "core/jwt/jwt.h"

namespace gh::jwt::testing {

using Json = nlohmann::json;

inline constexpr std::int64_t kNowSeconds = 1'900'000'000;
inline constexpr Seconds kNow{std::chrono::seconds{kNowSeconds}};
inline constexpr std::string_view kIssuer = "https://auth.example.test";
inline constexpr std::string_view kAudience = "https://api.example.test";
inline constexpr std::array<Alg, 4> kAllAlgs = {Alg::EdDSA, Alg::ES256, Alg::RS256, Alg::HS256};

inline std::string kid_for(Alg alg) {
  switch (alg) {
    case Alg::EdDSA:
      return "ed";
    case Alg::ES256:
      return "es";
    case Alg::RS256:
      return "rs";
    case Alg::HS256:
      return "hs";
  }
  return "";
}

// One key per algorithm per test process, generated on first use. RSA is
// 2048 bits here to keep the suite fast; the 3072 default has its own test.
inline const SigningKey& signing_key(Alg alg) {
  static std::array<std::optional<SigningKey>, 4> keys;
  auto& slot = keys[static_cast<std::size_t>(alg)];
  if (!slot) {
    auto k = SigningKey::generate(alg, kid_for(alg), 2048);
    if (!k) throw std::runtime_error("key generation failed: " + k.error().message());
    slot.emplace(std::move(*k));
  }
  return *slot;
}

// A KeySet with the verifying half of every key in `algs`.
inline KeySet key_set(std::initializer_list<Alg> algs = {Alg::EdDSA, Alg::ES256, Alg::RS256,
                                                         Alg::HS256}) {
  KeySet set;
  for (Alg a : algs) {
    if (!set.add(VerifyKey::from_signing_key(signing_key(a))))
      throw std::runtime_error("duplicate kid");
  }
  return set;
}

inline VerifyOptions options() {
  VerifyOptions o;
  o.issuer = kIssuer;
  o.audience = kAudience;
  return o;
}

// The RFC 9068 §2.2 claims of a token issued at kNow that lives 5 minutes.
inline Json claims() {
  return {{"iss", kIssuer},           {"sub", "user-42"},
          {"aud", kAudience},         {"iat", kNowSeconds},
          {"exp", kNowSeconds + 300}, {"jti", "0f1e2d3c4b5a69788796a5b4c3d2e1f0"},
          {"client_id", "web"}};
}

inline std::string b64(std::string_view s) { return base64url_encode(s); }

// {"alg":<alg>,"typ":"at+jwt","kid":<kid>} as sign_jwt writes it.
inline std::string header_for(Alg alg) {
  return R"({"alg":")" + std::string(alg_name(alg)) + R"(","typ":"at+jwt","kid":")" + kid_for(alg) +
         R"("})";
}

// b64(header).b64(payload).b64(signature by `key`): validly signed, whatever the text says.
inline std::string forge(const SigningKey& key, std::string_view header, std::string_view payload) {
  const std::string input = b64(header) + "." + b64(payload);
  auto sig = key.sign(input);
  if (!sig) throw std::runtime_error("sign failed");
  return input + "." + b64(*sig);
}

inline std::string forge(Alg alg, std::string_view payload) {
  return forge(signing_key(alg), header_for(alg), payload);
}

inline std::string token_for(Alg alg, const Json& c = claims()) {
  auto t = sign_jwt(signing_key(alg), c);
  if (!t) throw std::runtime_error("sign_jwt failed");
  return *t;
}

// Verifies with the full test key set and default options at kNow.
inline Result<VerifiedJwt> check(std::string_view token, const VerifyOptions& o = options(),
                                 Seconds now = kNow) {
  static const KeySet keys = key_set();
  return verify_jwt(token, keys, o, now);
}

template <class T>
::testing::AssertionResult fails_with(const Result<T>& r, JwtError expected) {
  if (r) return ::testing::AssertionFailure() << "succeeded; expected " << describe(expected);
  if (r.error().code == expected) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "failed with '" << r.error().code.message() << "' (" << r.error().message()
         << "); expected '" << describe(expected) << "'";
}

template <class T>
::testing::AssertionResult succeeds(const Result<T>& r) {
  if (r) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "failed with '" << r.error().code.message() << "' (" << r.error().message() << ")";
}

// `token` with its signature replaced by base64url(`sig`).
inline std::string with_signature(std::string_view token, std::string_view sig) {
  return std::string(token.substr(0, token.rfind('.') + 1)) + b64(sig);
}

inline std::string signature_of(std::string_view token) {
  return base64url_decode(token.substr(token.rfind('.') + 1)).value();
}

// Flips each bit of the token's signature in turn; every variant must fail with BadSignature.
inline void expect_every_bit_flip_fails(Alg alg) {
  const std::string token = token_for(alg);
  ASSERT_TRUE(succeeds(check(token)));
  const std::string sig = signature_of(token);
  for (std::size_t i = 0; i < sig.size() * 8; ++i) {
    std::string bad = sig;
    bad[i / 8] = static_cast<char>(bad[i / 8] ^ (1 << (i % 8)));
    ASSERT_TRUE(fails_with(check(with_signature(token, bad)), JwtError::BadSignature))
        << "bit " << i;
  }
}

}  // namespace gh::jwt::testing
