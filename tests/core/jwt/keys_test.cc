// SigningKey / VerifyKey / KeySet: creation rules, PEM round trips, JWK
// import refusals common to all key types, and KeySet lookup and JWKS.
#include "core/jwt/key_set.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <thread>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "jwt_test_util.h"

namespace gh::jwt::testing {
namespace {

static_assert(!std::is_copy_constructible_v<SigningKey>);
static_assert(!std::is_copy_assignable_v<SigningKey>);
static_assert(std::is_nothrow_move_constructible_v<SigningKey>);
static_assert(!std::is_copy_constructible_v<VerifyKey>);
static_assert(std::is_nothrow_move_constructible_v<VerifyKey>);
static_assert(!std::is_copy_constructible_v<KeySet>);

TEST(JwtAlg, NamesRoundTrip) {
  for (Alg a : kAllAlgs) EXPECT_EQ(parse_alg(alg_name(a)), a);
  EXPECT_EQ(alg_name(Alg::EdDSA), "EdDSA");
  EXPECT_EQ(alg_name(Alg::ES256), "ES256");
  EXPECT_EQ(alg_name(Alg::RS256), "RS256");
  EXPECT_EQ(alg_name(Alg::HS256), "HS256");
  for (const char* bad : {"none", "", "eddsa", "hs256", "HS256 ", "ES384", "PS256", "Ed25519"}) {
    EXPECT_FALSE(parse_alg(bad).has_value()) << bad;
  }
}

TEST(JwtSigningKey, PrivatePemRoundTrip) {
  for (Alg alg : {Alg::EdDSA, Alg::ES256, Alg::RS256}) {
    const SigningKey& key = signing_key(alg);
    const auto pem = key.private_pem();
    ASSERT_TRUE(succeeds(pem));
    EXPECT_TRUE(pem->expose().starts_with("-----BEGIN PRIVATE KEY-----\n"))
        << alg_name(alg);  // PKCS#8
    auto again = SigningKey::from_private_pem(alg, "again", *pem);
    ASSERT_TRUE(succeeds(again));
    Json jwk = again->public_jwk();
    jwk["kid"] = key.kid();
    EXPECT_EQ(jwk, key.public_jwk()) << alg_name(alg);
    // The reloaded key signs tokens the original's verifier accepts.
    EXPECT_TRUE(VerifyKey::from_signing_key(key).verify("input", *again->sign("input")));
  }
}

TEST(JwtSigningKey, PemMustFitTheAlgorithm) {
  const auto ed = signing_key(Alg::EdDSA).private_pem();
  const auto es = signing_key(Alg::ES256).private_pem();
  const auto rs = signing_key(Alg::RS256).private_pem();
  EXPECT_TRUE(fails_with(SigningKey::from_private_pem(Alg::ES256, "k", *ed), JwtError::KeyError));
  EXPECT_TRUE(fails_with(SigningKey::from_private_pem(Alg::RS256, "k", *es), JwtError::KeyError));
  EXPECT_TRUE(fails_with(SigningKey::from_private_pem(Alg::EdDSA, "k", *rs), JwtError::KeyError));
  EXPECT_TRUE(fails_with(
      SigningKey::from_private_pem(Alg::ES256, "k", SecretString(std::string_view("not a pem"))),
      JwtError::KeyError));
  // A P-384 key is EC but not ES256.
  EVP_PKEY* p384 = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, p384, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  const SecretString pem(std::string_view(data, static_cast<std::size_t>(len)));
  BIO_free(bio);
  EVP_PKEY_free(p384);
  EXPECT_TRUE(fails_with(SigningKey::from_private_pem(Alg::ES256, "k", pem), JwtError::KeyError));
}

TEST(JwtSigningKey, EncryptedPemIsRefusedWithoutPrompting) {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  BIO* bio = BIO_new(BIO_s_mem());
  char pass[] = "passphrase";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_256_cbc(), pass, sizeof pass - 1,
                                          nullptr, nullptr),
            1);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  const SecretString pem(std::string_view(data, static_cast<std::size_t>(len)));
  BIO_free(bio);
  EVP_PKEY_free(pkey);
  ASSERT_TRUE(pem.expose().starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  EXPECT_TRUE(fails_with(SigningKey::from_private_pem(Alg::EdDSA, "k", pem), JwtError::KeyError));
}

TEST(JwtSigningKey, KidRules) {
  EXPECT_TRUE(succeeds(SigningKey::generate(Alg::EdDSA, "2026-01-01.a_b~C-9")));
  EXPECT_TRUE(succeeds(SigningKey::generate(Alg::EdDSA, std::string(128, 'k'))));
  for (const std::string& kid :
       {std::string(), std::string(129, 'k'), std::string("a b"), std::string("a\"b"),
        std::string("a/b"), std::string("caf\xC3\xA9"), std::string("a\nb")}) {
    EXPECT_TRUE(fails_with(SigningKey::generate(Alg::EdDSA, kid), JwtError::KeyError)) << kid;
  }
}

TEST(JwtSigningKey, SignaturesVerifyOnlyForTheirInput) {
  for (Alg alg : kAllAlgs) {
    const VerifyKey vk = VerifyKey::from_signing_key(signing_key(alg));
    const auto sig = signing_key(alg).sign("a.b");
    ASSERT_TRUE(succeeds(sig));
    EXPECT_TRUE(vk.verify("a.b", *sig)) << alg_name(alg);
    EXPECT_FALSE(vk.verify("a.c", *sig)) << alg_name(alg);
    EXPECT_FALSE(vk.verify("a.b", "")) << alg_name(alg);
    EXPECT_EQ(vk.alg(), alg);
    EXPECT_EQ(vk.kid(), kid_for(alg));
  }
}

TEST(JwtVerifyKey, FromJwkRefusals) {
  const Json good = signing_key(Alg::ES256).public_jwk();
  EXPECT_TRUE(fails_with(VerifyKey::from_jwk(Json::array()), JwtError::KeyError));
  EXPECT_TRUE(fails_with(VerifyKey::from_jwk("jwk"), JwtError::KeyError));
  for (const char* member : {"kid", "kty"}) {
    Json j = good;
    j.erase(member);
    EXPECT_TRUE(fails_with(VerifyKey::from_jwk(j), JwtError::KeyError)) << member;
  }
  for (const Json& kid : {Json(""), Json(7), Json(std::string(257, 'k')), Json("\xFF")}) {
    Json j = good;
    j["kid"] = kid;
    EXPECT_TRUE(fails_with(VerifyKey::from_jwk(j), JwtError::KeyError))
        << kid.dump(-1, ' ', false, Json::error_handler_t::replace);
  }
  Json j = good;
  j["kty"] = "ec";  // case-sensitive (RFC 7517 §4.1)
  EXPECT_TRUE(fails_with(VerifyKey::from_jwk(j), JwtError::KeyError));
  j = good;
  j["use"] = Json::array({"sig"});
  EXPECT_TRUE(fails_with(VerifyKey::from_jwk(j), JwtError::KeyError));
  // Unknown members (x5c included) are ignored; we never read certificates.
  j = good;
  j["x5c"] = Json::array({"MIIB"});
  j["ext"] = true;
  EXPECT_TRUE(succeeds(VerifyKey::from_jwk(j)));
}

TEST(JwtKeySet, FindAndJwks) {
  const KeySet set = key_set();
  EXPECT_EQ(set.size(), 4U);
  for (Alg alg : kAllAlgs) {
    const VerifyKey* k = set.find(kid_for(alg));
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->alg(), alg);
  }
  EXPECT_EQ(set.find("missing"), nullptr);
  EXPECT_EQ(set.find(""), nullptr);
  const Json jwks = set.jwks();
  ASSERT_TRUE(jwks.is_object());
  ASSERT_EQ(jwks.size(), 1U);
  ASSERT_EQ(jwks["keys"].size(), 3U);  // HS256 left out
  for (const Json& jwk : jwks["keys"]) {
    EXPECT_FALSE(jwk.contains("d"));
    const auto vk = VerifyKey::from_jwk(jwk);
    ASSERT_TRUE(succeeds(vk));
    EXPECT_EQ(set.find(vk->kid())->alg(), vk->alg());
  }
  EXPECT_EQ(KeySet().jwks(), (Json{{"keys", Json::array()}}));
}

TEST(JwtKeySet, ImportedJwksVerifiesOurTokens) {
  // What a resource server does with our /.well-known/jwks.json.
  const Json published = key_set().jwks();
  KeySet remote;
  for (const Json& jwk : published["keys"])
    ASSERT_TRUE(succeeds(remote.add(*VerifyKey::from_jwk(jwk))));
  ASSERT_EQ(remote.size(), 3U);
  for (Alg alg : {Alg::EdDSA, Alg::ES256, Alg::RS256}) {
    EXPECT_TRUE(succeeds(verify_jwt(token_for(alg), remote, options(), kNow))) << alg_name(alg);
  }
  EXPECT_TRUE(
      fails_with(verify_jwt(token_for(Alg::HS256), remote, options(), kNow), JwtError::UnknownKid));
}

TEST(JwtKeySet, ConcurrentVerifyOfOneSharedSet) {
  // The documented contract: after construction, one KeySet serves many threads.
  const KeySet shared = key_set();
  std::vector<std::string> tokens;
  std::vector<std::string> tampered;  // well-formed, so OpenSSL runs and refuses
  for (Alg alg : kAllAlgs) {
    tokens.push_back(token_for(alg));
    std::string sig = signature_of(tokens.back());
    sig.back() = static_cast<char>(sig.back() ^ 1);
    tampered.push_back(with_signature(tokens.back(), sig));
  }
  std::vector<int> failures(8, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < failures.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string& token = tokens[(t + static_cast<std::size_t>(i)) % tokens.size()];
        if (!verify_jwt(token, shared, options(), kNow)) ++failures[t];
        if (verify_jwt(with_signature(token, "x"), shared, options(), kNow)) ++failures[t];
        if (verify_jwt(tampered[(t + static_cast<std::size_t>(i)) % tokens.size()], shared, options(), kNow))
          ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace gh::jwt::testing
