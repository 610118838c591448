// ID tokens: the provider JWK set, the signature (through gh_jwt's strict
// verifier, with the attacks of SECURITY-CHECKLIST.md C10), and every claims
// rule of validate_id_token_claims (C4, C8, C9, C11; OIDC Core §3.1.3.7).
#include "core/oauth/id_token.h"

#include <optional>
#include <stdexcept>

#include <gtest/gtest.h>

#include "core/base/encoding.h"
#include "core/jwt/jwt.h"
#include "core/jwt/signing_key.h"
#include "oauth_test_util.h"

namespace gh::oauth {
namespace {

using jwt::Alg;
using jwt::JwtError;
using jwt::SigningKey;
using nlohmann::json;
using testing::fails_with;
using testing::succeeds;

constexpr std::int64_t kNowSeconds = 1'900'000'000;
constexpr Seconds kNow{std::chrono::seconds{kNowSeconds}};
constexpr std::string_view kIssuer = "https://idp.example.test";
constexpr std::string_view kClient = "gatehouse-client";
constexpr std::string_view kNonce = "n-0S6_WzA2Mj";

// The provider's keys (kids rs1, es1, ed1) and an attacker's RSA key that
// reuses the kid "rs1". Generated once per process; RSA 2048 keeps it fast.
const SigningKey& key(std::string_view which) {
  static std::optional<SigningKey> rs, es, ed, evil;
  auto make = [](std::optional<SigningKey>& slot, Alg alg, const char* kid) -> const SigningKey& {
    if (!slot) {
      auto k = SigningKey::generate(alg, kid, 2048);
      if (!k) throw std::runtime_error("keygen: " + k.error().message());
      slot.emplace(std::move(*k));
    }
    return *slot;
  };
  if (which == "rs1") return make(rs, Alg::RS256, "rs1");
  if (which == "es1") return make(es, Alg::ES256, "es1");
  if (which == "ed1") return make(ed, Alg::EdDSA, "ed1");
  return make(evil, Alg::RS256, "rs1");
}

json provider_jwks() {
  return {{"keys", {key("rs1").public_jwk(), key("es1").public_jwk(), key("ed1").public_jwk()}}};
}

const jwt::KeySet& provider_keys() {
  static const ProviderKeys keys = [] {
    auto k = parse_provider_jwks(provider_jwks().dump());
    if (!k) throw std::runtime_error("jwks: " + k.error().message());
    return std::move(*k);
  }();
  return keys.keys;
}

// The payload of a fresh ID token as Google or oidc-provider would send it.
json claims() {
  return {{"iss", kIssuer},
          {"sub", "248289761001"},
          {"aud", kClient},
          {"iat", kNowSeconds},
          {"exp", kNowSeconds + 3600},
          {"nonce", kNonce},
          {"email", "jane@example.test"},
          {"email_verified", true},
          {"name", "Jane"}};
}

IdTokenExpectations expect() {
  IdTokenExpectations e;
  e.issuer = kIssuer;
  e.client_id = kClient;
  e.nonce = kNonce;
  return e;
}

std::string sign(const SigningKey& k, const json& c = claims(), std::string_view typ = "JWT") {
  auto t = jwt::sign_jwt(k, c, typ);
  if (!t) throw std::runtime_error("sign: " + t.error().message());
  return *t;
}

// b64(header).b64(payload).b64(signature by `k`), whatever the header says.
std::string forge(const SigningKey& k, std::string_view header, const json& c = claims()) {
  const std::string input = base64url_encode(header) + "." + base64url_encode(c.dump());
  auto sig = k.sign(input);
  if (!sig) throw std::runtime_error("sign failed");
  return input + "." + base64url_encode(*sig);
}

Result<IdTokenIdentity> verify(std::string_view token, const IdTokenExpectations& e = expect()) {
  return verify_id_token(token, provider_keys(), e, kNow);
}

Result<IdTokenIdentity> validate(const json& c, const IdTokenExpectations& e = expect(),
                                 Seconds now = kNow) {
  return validate_id_token_claims(c, e, now);
}

// --- the provider's JWK set --------------------------------------------------

TEST(ProviderJwks, ImportsEverySupportedAlgorithm) {
  const auto k = parse_provider_jwks(provider_jwks().dump());
  ASSERT_TRUE(succeeds(k));
  EXPECT_EQ(k->keys.size(), 3U);
  EXPECT_EQ(k->skipped, 0U);
  EXPECT_EQ(k->keys.find("rs1")->alg(), Alg::RS256);
  EXPECT_EQ(k->keys.find("es1")->alg(), Alg::ES256);
  EXPECT_EQ(k->keys.find("ed1")->alg(), Alg::EdDSA);
}

TEST(ProviderJwks, SkipsKeysWeMustNotUse) {
  json jwks = provider_jwks();
  json enc = key("es1").public_jwk();
  enc["kid"] = "enc";
  enc["use"] = "enc";
  json rs384 = key("rs1").public_jwk();
  rs384["kid"] = "rs384";
  rs384["alg"] = "RS384";
  json hs = {{"kty", "oct"}, {"kid", "hs"}, {"k", "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI"}};
  json p384 = {{"kty", "EC"}, {"crv", "P-384"}, {"kid", "p384"}, {"x", "AA"}, {"y", "AA"}};
  json nokid = key("ed1").public_jwk();
  nokid.erase("kid");
  json none = key("rs1").public_jwk();
  none["kid"] = "none";
  none["alg"] = "none";
  json hs_alg = key("rs1").public_jwk();
  hs_alg["kid"] = "hsalg";
  hs_alg["alg"] = "HS256";
  for (json* k : {&enc, &rs384, &hs, &p384, &nokid, &none, &hs_alg}) jwks["keys"].push_back(*k);
  const auto r = parse_provider_jwks(jwks.dump());
  ASSERT_TRUE(succeeds(r));
  EXPECT_EQ(r->keys.size(), 3U);
  EXPECT_EQ(r->skipped, 7U);
}

TEST(ProviderJwks, NoUsableKeys) {
  EXPECT_TRUE(fails_with(parse_provider_jwks(R"({"keys":[]})"), OAuthError::NoUsableKeys));
  EXPECT_TRUE(fails_with(parse_provider_jwks(R"({"keys":[{"kty":"oct","kid":"a","k":"AAAA"}]})"),
                         OAuthError::NoUsableKeys));
}

TEST(ProviderJwks, BadJwks) {
  for (const char* body :
       {"", "[]", "{}", R"({"keys":{}})", R"({"keys":[1]})", R"({"keys":[],"keys":[]})"}) {
    EXPECT_TRUE(fails_with(parse_provider_jwks(body), OAuthError::BadJwks)) << body;
  }
  json dup = provider_jwks();
  json again = key("evil").public_jwk();  // kid "rs1" a second time
  dup["keys"].push_back(again);
  EXPECT_TRUE(fails_with(parse_provider_jwks(dup.dump()), OAuthError::BadJwks));
}

// --- signature -------------------------------------------------------------

TEST(IdTokenSignature, EachAlgorithmVerifies) {
  for (const char* kid : {"rs1", "es1", "ed1"}) {
    const auto id = verify(sign(key(kid)));
    ASSERT_TRUE(succeeds(id)) << kid;
    EXPECT_EQ(id->subject, "248289761001");
    EXPECT_EQ(id->issuer, kIssuer);
    EXPECT_TRUE(succeeds(verify(sign(key(kid), claims(), "")))) << kid << " without typ";
  }
}

TEST(IdTokenSignature, AnotherKeyIsBadSignature) {
  // {"alg":"RS256","typ":"JWT","kid":"rs1"} signed by a key the provider never published.
  EXPECT_TRUE(fails_with(verify(sign(key("evil"))), JwtError::BadSignature));
}

TEST(IdTokenSignature, EveryFlippedBitFails) {
  const std::string token = sign(key("es1"));
  const auto dot = token.rfind('.');
  std::string sig = base64url_decode(token.substr(dot + 1)).value();
  for (std::size_t i = 0; i < sig.size() * 8; i += 7) {
    std::string bad = sig;
    bad[i / 8] = static_cast<char>(bad[i / 8] ^ (1 << (i % 8)));
    ASSERT_TRUE(fails_with(verify(token.substr(0, dot + 1) + base64url_encode(bad)),
                           JwtError::BadSignature))
        << i;
  }
}

TEST(IdTokenSignature, UnknownKid) {
  auto other = SigningKey::generate(Alg::ES256, "es2");
  ASSERT_TRUE(other);
  EXPECT_TRUE(fails_with(verify(sign(*other)), JwtError::UnknownKid));
}

TEST(IdTokenSignature, MissingKid) {
  EXPECT_TRUE(fails_with(verify(forge(key("rs1"), R"({"alg":"RS256"})")), JwtError::MissingKid));
}

TEST(IdTokenSignature, AlgNone) {
  // {"alg":"none","kid":"rs1"} with an empty signature, then with some bytes as one.
  const std::string unsigned_token = base64url_encode(R"({"alg":"none","kid":"rs1"})") + "." +
                                     base64url_encode(claims().dump()) + ".";
  EXPECT_TRUE(fails_with(verify(unsigned_token), JwtError::Malformed));
  EXPECT_TRUE(fails_with(verify(unsigned_token + "c2ln"), JwtError::AlgMismatch));
  for (const char* alg : {"None", "NONE", "nOnE"}) {
    const std::string t = base64url_encode(std::string(R"({"alg":")") + alg + R"(","kid":"rs1"})") +
                          "." + base64url_encode(claims().dump()) + ".c2ln";
    EXPECT_TRUE(fails_with(verify(t), JwtError::AlgMismatch)) << alg;
  }
}

TEST(IdTokenSignature, Hs256WithThePublicKeyIsAlgMismatch) {
  // {"alg":"HS256","kid":"rs1"} MACed with the provider's public JWK as the secret:
  // a verifier that let the token pick the algorithm would accept it.
  auto hmac = SigningKey::from_secret("rs1", SecretString(key("rs1").public_jwk().dump()));
  ASSERT_TRUE(hmac);
  EXPECT_TRUE(fails_with(verify(forge(*hmac, R"({"alg":"HS256","typ":"JWT","kid":"rs1"})")),
                         JwtError::AlgMismatch));
}

TEST(IdTokenSignature, AlgOfAnotherKeyTypeIsAlgMismatch) {
  // {"alg":"ES256","kid":"rs1"}: the EC signature of the ES key under the RSA key's kid.
  EXPECT_TRUE(fails_with(verify(forge(key("es1"), R"({"alg":"ES256","kid":"rs1"})")),
                         JwtError::AlgMismatch));
}

TEST(IdTokenSignature, EmbeddedKeysAreRefused) {
  const std::string header =
      R"({"alg":"RS256","kid":"rs1","jwk":)" + key("evil").public_jwk().dump() + "}";
  EXPECT_TRUE(fails_with(verify(forge(key("evil"), header)), JwtError::ForbiddenHeader));
  EXPECT_TRUE(fails_with(
      verify(forge(key("rs1"), R"({"alg":"RS256","kid":"rs1","jku":"https://evil.test/k"})")),
      JwtError::ForbiddenHeader));
}

TEST(IdTokenSignature, WrongJwtType) {
  for (const char* typ : {"at+jwt", "logout+jwt", "application/at+jwt", "JOSE"}) {
    EXPECT_TRUE(fails_with(verify(sign(key("ed1"), claims(), typ)), OAuthError::WrongJwtType))
        << typ;
  }
  EXPECT_TRUE(succeeds(verify(sign(key("ed1"), claims(), "jwt"))));
  EXPECT_TRUE(succeeds(verify(sign(key("ed1"), claims(), "application/JWT"))));
}

TEST(IdTokenSignature, ClaimsAreCheckedAfterTheSignature) {
  auto c = claims();
  c["exp"] = kNowSeconds - 3600;
  EXPECT_TRUE(fails_with(verify(sign(key("rs1"), c)), JwtError::Expired));
  c = claims();
  c["aud"] = "someone-else";
  EXPECT_TRUE(fails_with(verify(sign(key("rs1"), c)), JwtError::WrongAudience));
  c = claims();
  c["iss"] = "https://evil.example.test";
  EXPECT_TRUE(fails_with(verify(sign(key("rs1"), c)), JwtError::WrongIssuer));
  c = claims();
  c["nonce"] = "another";
  EXPECT_TRUE(fails_with(verify(sign(key("rs1"), c)), OAuthError::NonceMismatch));
  c = claims();
  c["aud"] = {kClient, "other"};
  c["azp"] = kClient;
  EXPECT_TRUE(fails_with(verify(sign(key("rs1"), c)), OAuthError::UntrustedAudience));
}

TEST(IdTokenSignature, TooLarge) {
  auto c = claims();
  c["pad"] = std::string(20000, 'a');
  EXPECT_TRUE(fails_with(verify(sign(key("ed1"), c)), JwtError::TooLarge));
}

// --- claims ----------------------------------------------------------------

TEST(IdTokenClaims, GoodClaims) {
  const auto id = validate(claims());
  ASSERT_TRUE(succeeds(id));
  EXPECT_EQ(id->subject, "248289761001");
  EXPECT_EQ(id->email, "jane@example.test");
  EXPECT_TRUE(id->email_verified);
  EXPECT_EQ(id->name, "Jane");
  EXPECT_EQ(id->issued_at, kNow);
  EXPECT_EQ(id->expires_at, kNow + std::chrono::seconds{3600});
  EXPECT_FALSE(id->auth_time.has_value());
}

TEST(IdTokenClaims, AuthTimeIsReadWhenPresent) {
  auto c = claims();
  c["auth_time"] = kNowSeconds - 5;
  const auto id = validate(c);
  ASSERT_TRUE(succeeds(id));
  ASSERT_TRUE(id->auth_time.has_value());
  EXPECT_EQ(*id->auth_time, kNow - std::chrono::seconds{5});
}

TEST(IdTokenClaims, NotAnObject) {
  EXPECT_TRUE(fails_with(validate(json::array()), OAuthError::BadClaimType));
}

TEST(IdTokenClaims, MissingClaim) {
  for (const char* name : {"iss", "aud", "exp", "iat", "nonce", "sub"}) {
    auto c = claims();
    c.erase(name);
    EXPECT_TRUE(fails_with(validate(c), OAuthError::MissingClaim)) << name;
  }
}

TEST(IdTokenClaims, BadClaimType) {
  const std::pair<const char*, json> cases[] = {{"iss", 1},
                                                {"aud", 1},
                                                {"aud", {kClient, 2}},
                                                {"azp", 1},
                                                {"exp", "1"},
                                                {"exp", 1.5},
                                                {"iat", nullptr},
                                                {"iat", true},
                                                {"nonce", 1},
                                                {"sub", 248289761},
                                                {"email", true},
                                                {"name", json::object()},
                                                {"auth_time", "1700000000"},
                                                {"auth_time", 1.5},
                                                {"auth_time", nullptr},
                                                {"exp", 18446744073709551615ULL}};
  for (const auto& [name, value] : cases) {
    auto c = claims();
    c[name] = value;
    EXPECT_TRUE(fails_with(validate(c), OAuthError::BadClaimType)) << name << "=" << value.dump();
  }
  auto c = claims();
  c["name"] = std::string(2000, 'x');
  EXPECT_TRUE(fails_with(validate(c), OAuthError::BadClaimType));
}

TEST(IdTokenClaims, WrongIssuer) {
  for (const char* iss : {"https://idp.example.test/", "http://idp.example.test",
                          "https://IDP.example.test", "", "https://idp.example.test.evil.test"}) {
    auto c = claims();
    c["iss"] = iss;
    EXPECT_TRUE(fails_with(validate(c), OAuthError::WrongIssuer)) << iss;
  }
  auto e = expect();
  e.issuer.clear();
  EXPECT_TRUE(fails_with(validate(claims(), e), OAuthError::WrongIssuer));
}

TEST(IdTokenClaims, WrongAudience) {
  for (const json& aud : {json("other"), json({"other"}), json::array(), json("")}) {
    auto c = claims();
    c["aud"] = aud;
    EXPECT_TRUE(fails_with(validate(c), OAuthError::WrongAudience)) << aud.dump();
  }
  auto e = expect();
  e.client_id.clear();
  EXPECT_TRUE(fails_with(validate(claims(), e), OAuthError::WrongAudience));
}

TEST(IdTokenClaims, AudienceArrayWithOnlyUs) {
  auto c = claims();
  c["aud"] = {kClient};
  EXPECT_TRUE(succeeds(validate(c)));
}

TEST(IdTokenClaims, UntrustedAudience) {
  auto c = claims();
  c["aud"] = {kClient, "untrusted"};
  c["azp"] = kClient;
  EXPECT_TRUE(fails_with(validate(c), OAuthError::UntrustedAudience));
  auto e = expect();
  e.trusted_audiences = {"untrusted"};
  EXPECT_TRUE(succeeds(validate(c, e)));
}

TEST(IdTokenClaims, MissingAzp) {
  auto c = claims();
  c["aud"] = {kClient, "trusted"};
  auto e = expect();
  e.trusted_audiences = {"trusted"};
  EXPECT_TRUE(fails_with(validate(c, e), OAuthError::MissingAzp));
}

TEST(IdTokenClaims, WrongAzp) {
  auto c = claims();
  c["azp"] = "other";
  EXPECT_TRUE(fails_with(validate(c), OAuthError::WrongAzp));
  c["azp"] = kClient;  // Google sends azp = client_id with a single aud
  EXPECT_TRUE(succeeds(validate(c)));
}

TEST(IdTokenClaims, Expired) {
  auto c = claims();
  c["exp"] = kNowSeconds - 61;  // leeway 60
  EXPECT_TRUE(fails_with(validate(c), OAuthError::Expired));
  c["exp"] = kNowSeconds - 60;
  EXPECT_TRUE(succeeds(validate(c)));
  c["exp"] = std::numeric_limits<std::int64_t>::min();
  EXPECT_TRUE(fails_with(validate(c), OAuthError::Expired));
}

TEST(IdTokenClaims, IssuedInFuture) {
  auto c = claims();
  c["iat"] = kNowSeconds + 61;
  EXPECT_TRUE(fails_with(validate(c), OAuthError::IssuedInFuture));
  c["iat"] = kNowSeconds + 60;
  EXPECT_TRUE(succeeds(validate(c)));
  c["iat"] = std::numeric_limits<std::int64_t>::max();
  EXPECT_TRUE(fails_with(validate(c), OAuthError::IssuedInFuture));
}

TEST(IdTokenClaims, TooOld) {
  auto c = claims();
  c["iat"] = kNowSeconds - 661;  // max_age 600 + leeway 60
  c["exp"] = kNowSeconds + 3600;
  EXPECT_TRUE(fails_with(validate(c), OAuthError::TooOld));
  c["iat"] = kNowSeconds - 660;
  EXPECT_TRUE(succeeds(validate(c)));
  c["iat"] = kNowSeconds - 3600;
  auto e = expect();
  e.max_age = std::chrono::seconds{0};  // disabled
  EXPECT_TRUE(succeeds(validate(c, e)));
}

TEST(IdTokenClaims, NegativeLeewayCountsAsZero) {
  auto e = expect();
  e.leeway = std::chrono::seconds{-100};
  auto c = claims();
  c["exp"] = kNowSeconds - 1;
  EXPECT_TRUE(fails_with(validate(c, e), OAuthError::Expired));
}

TEST(IdTokenClaims, NonceMismatch) {
  for (const char* nonce : {"n-0S6_WzA2Mk", "", "n-0S6_WzA2Mj ", "N-0S6_WZA2MJ"}) {
    auto c = claims();
    c["nonce"] = nonce;
    EXPECT_TRUE(fails_with(validate(c), OAuthError::NonceMismatch)) << nonce;
  }
  auto e = expect();
  e.nonce.clear();  // a flow that lost its nonce accepts nothing, not everything
  EXPECT_TRUE(fails_with(validate(claims(), e), OAuthError::NonceMismatch));
}

TEST(IdTokenClaims, BadSubject) {
  for (const std::string& sub : {std::string(), std::string(256, 'a'), std::string("a b"),
                                 std::string("a\x01"), std::string("\xc3\xa9")}) {
    auto c = claims();
    c["sub"] = sub;
    EXPECT_TRUE(fails_with(validate(c), OAuthError::BadSubject)) << sub;
  }
  auto c = claims();
  c["sub"] = std::string(255, 'a');
  EXPECT_TRUE(succeeds(validate(c)));
}

TEST(IdTokenClaims, EmailVerifiedOnlyWhenJsonTrue) {
  // Google once sent "true" as a string: we read it as not verified (no auto-link).
  for (const json& v : {json("true"), json(1), json(false), json(nullptr), json("TRUE")}) {
    auto c = claims();
    c["email_verified"] = v;
    const auto id = validate(c);
    ASSERT_TRUE(succeeds(id)) << v.dump();
    EXPECT_FALSE(id->email_verified) << v.dump();
  }
  auto c = claims();
  c.erase("email_verified");
  EXPECT_FALSE(validate(c)->email_verified);
  c.erase("email");
  EXPECT_FALSE(validate(c)->email);
}

}  // namespace
}  // namespace gh::oauth
