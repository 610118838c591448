#include "core/password/hasher.h"

#include <sodium.h>

#include <array>
#include <string>

#include <gtest/gtest.h>

namespace gh::password {
namespace {

// Cheap parameters keep the suite fast; the defaults are measured in bench/.
HashParams fast_argon2() {
  HashParams p;
  p.argon2_memory_kib = 8 * 1024ULL;
  p.argon2_iterations = 1;
  return p;
}

HashParams fast_bcrypt() {
  HashParams p = fast_argon2();
  p.algorithm = Algorithm::Bcrypt;
  p.bcrypt_cost = 10;
  return p;
}

PasswordHasher make(const HashParams& p) {
  auto h = PasswordHasher::create(p);
  EXPECT_TRUE(h.has_value()) << (h ? "" : h.error().message());
  return std::move(*h);
}

SecretString secret(std::string_view s) { return SecretString(s); }

// An argon2id string made by libsodium itself with the given cost.
std::string sodium_argon2id(std::string_view password, unsigned long long ops,
                            std::size_t mem_bytes) {
  std::array<char, crypto_pwhash_STRBYTES> out{};
  EXPECT_EQ(crypto_pwhash_str_alg(out.data(), password.data(), password.size(), ops, mem_bytes,
                                  crypto_pwhash_ALG_ARGON2ID13),
            0);
  return out.data();
}

// Known-answer vectors from Solar Designer's crypt_blowfish test suite
// (also in OpenBSD's regress tests), checked against Debian's libxcrypt.
constexpr std::string_view kUU =
    "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW";  // "U*U"
constexpr std::string_view kUUStar =
    "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK";  // "U*U*"
// Hash of the first 72 bytes below; crypt_blowfish's vector for "chars after 72 are ignored".
constexpr std::string_view kLong72 = "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui";
constexpr std::string_view kFirst72 =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

TEST(PasswordHasher, Argon2idRoundTrip) {
  const auto h = make(fast_argon2());
  const auto stored = h.hash(secret("correct horse battery staple"));
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->starts_with("$argon2id$v=19$m=8192,t=1,p=1$"));
  EXPECT_TRUE(h.verify(*stored, secret("correct horse battery staple")));
  EXPECT_FALSE(h.verify(*stored, secret("correct horse battery stapler")));
  EXPECT_FALSE(h.needs_rehash(*stored));
}

TEST(PasswordHasher, SaltIsFresh) {
  const auto h = make(fast_argon2());
  EXPECT_NE(*h.hash(secret("same password")), *h.hash(secret("same password")));
}

TEST(PasswordHasher, BcryptRoundTrip) {
  const auto h = make(fast_bcrypt());
  const auto stored = h.hash(secret("correct horse battery staple"));
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->starts_with("$2b$10$"));
  EXPECT_EQ(stored->size(), 60u);
  EXPECT_TRUE(h.verify(*stored, secret("correct horse battery staple")));
  EXPECT_FALSE(h.verify(*stored, secret("Correct horse battery staple")));
  EXPECT_FALSE(h.needs_rehash(*stored));
}

TEST(PasswordHasher, WrongPasswordIsFalse) {
  const auto argon = make(fast_argon2());
  const auto bcrypt = make(fast_bcrypt());
  EXPECT_FALSE(argon.verify(*argon.hash(secret("right")), secret("wrong")));
  EXPECT_FALSE(bcrypt.verify(*bcrypt.hash(secret("right")), secret("wrong")));
  EXPECT_FALSE(argon.verify(*argon.hash(secret("right")), secret("")));
}

TEST(PasswordHasher, TooLongForBcrypt) {
  const auto h = make(fast_bcrypt());
  EXPECT_TRUE(h.hash(secret(std::string(72, 'x'))).has_value());
  const auto r = h.hash(secret(std::string(73, 'x')));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, HashError::TooLongForBcrypt);
}

TEST(PasswordHasher, BcryptNeverTruncates) {
  const auto h = make(fast_bcrypt());
  const std::string first72(72, 'k');
  const auto stored = h.hash(secret(first72));
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(h.verify(*stored, secret(first72)));
  EXPECT_FALSE(h.verify(*stored, secret(first72 + "extra")));
  // The published vector: libxcrypt alone would accept the long form.
  EXPECT_TRUE(h.verify(kLong72, secret(kFirst72)));
  EXPECT_FALSE(h.verify(kLong72, secret(std::string(kFirst72) + "chars after 72 are ignored")));
}

TEST(PasswordHasher, BcryptRefusesNul) {
  const auto h = make(fast_bcrypt());
  const std::string with_nul("abc\0def", 7);
  const auto r = h.hash(secret(with_nul));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, HashError::HashFailed);
  const auto stored = h.hash(secret("abc"));
  ASSERT_TRUE(stored.has_value());
  EXPECT_FALSE(h.verify(*stored, secret(with_nul)));  // would match "abc" if passed as a C string
}

TEST(PasswordHasher, BcryptKnownAnswer) {
  const auto h = make(fast_argon2());
  EXPECT_TRUE(h.verify(kUU, secret("U*U")));
  EXPECT_TRUE(h.verify(kUUStar, secret("U*U*")));
  EXPECT_FALSE(h.verify(kUU, secret("U*U*")));
  // Made with Debian's libxcrypt: crypt("correct horse battery staple",
  // "$2b$10$abcdefghijklmnopqrstuu").
  EXPECT_TRUE(h.verify("$2b$10$abcdefghijklmnopqrstuuGGgFFcYeueaAql8Z7U7CnCTRw4DR77W",
                       secret("correct horse battery staple")));
}

TEST(PasswordHasher, Bcrypt2yAnd2bVariantsVerify) {
  const auto h = make(fast_bcrypt());
  // For ASCII passwords $2a$, $2b$ and $2y$ compute the same hash.
  EXPECT_TRUE(
      h.verify("$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", secret("U*U")));
  EXPECT_TRUE(
      h.verify("$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", secret("U*U")));
  // $2x$ marks hashes from the pre-2011 sign-extension bug: refused.
  EXPECT_FALSE(
      h.verify("$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", secret("U*U")));
}

TEST(PasswordHasher, ImportedArgon2idVerifiesAndNeedsRehash) {
  const auto h = make(fast_argon2());
  // libsodium's "interactive" limits: t=2, m=64 MiB.
  const std::string stored = sodium_argon2id("imported pw", crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
  EXPECT_TRUE(stored.starts_with("$argon2id$v=19$m=65536,t=2,p=1$"));
  EXPECT_TRUE(h.verify(stored, secret("imported pw")));
  EXPECT_FALSE(h.verify(stored, secret("imported pX")));
  EXPECT_TRUE(h.needs_rehash(stored));
  EXPECT_FALSE(h.needs_rehash(sodium_argon2id("imported pw", 1, std::size_t{8} << 20)));
}

TEST(PasswordHasher, Argon2iVerifiesAndNeedsRehash) {
  const auto h = make(fast_argon2());
  std::array<char, crypto_pwhash_STRBYTES> out{};
  ASSERT_EQ(crypto_pwhash_str_alg(out.data(), "legacy", 6, 3, std::size_t{8} << 20,
                                  crypto_pwhash_ALG_ARGON2I13),
            0);
  const std::string stored = out.data();
  ASSERT_TRUE(stored.starts_with("$argon2i$"));
  EXPECT_TRUE(h.verify(stored, secret("legacy")));
  EXPECT_FALSE(h.verify(stored, secret("legacY")));
  EXPECT_TRUE(h.needs_rehash(stored));
}

TEST(PasswordHasher, MalformedIsFalse) {
  const auto h = make(fast_argon2());
  const std::string good = *h.hash(secret("pw"));
  const std::string good_bcrypt(kUU);
  const std::string cases[] = {
      "",
      "plaintext",
      "$argon2id$",
      "$argon2id$v=19$m=8192,t=1,p=1$",
      good.substr(0, good.size() - 1),
      good + "A",
      good + std::string("\0", 1),
      "$argon2d$" + good.substr(10),
      "$2b$05$short",
      good_bcrypt.substr(0, 59),
      good_bcrypt + "x",
      "$2a$5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
      "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe!",
      "$2a$99$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
      "$1$saltsalt$abcdefghijklmnopqrstuv",
      "$6$salt$" + std::string(86, 'a'),
      std::string(10000, '$'),
  };
  for (const std::string& stored : cases) {
    EXPECT_FALSE(h.verify(stored, secret("pw"))) << stored;
    EXPECT_FALSE(h.verify(stored, secret("U*U"))) << stored;
  }
  for (const std::string& stored :
       {std::string(""), std::string("plaintext"), std::string("$argon2id$"),
        "$argon2d$" + good.substr(10), std::string(10000, '$')}) {
    EXPECT_TRUE(h.needs_rehash(stored)) << stored;
  }
}

TEST(PasswordHasher, FlippedHashCharacterIsFalse) {
  const auto h = make(fast_bcrypt());
  const std::string stored = *h.hash(secret("pw"));
  for (std::size_t i = 29; i < stored.size(); ++i) {  // the 31-character hash part
    std::string bad = stored;
    bad[i] = bad[i] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(h.verify(bad, secret("pw"))) << i;
  }
}

TEST(PasswordHasher, NeedsRehashLowerBcryptCost) {
  HashParams p = fast_bcrypt();
  p.bcrypt_cost = 11;
  const auto h11 = make(p);
  const auto h10 = make(fast_bcrypt());
  const std::string at10 = *h10.hash(secret("pw"));
  EXPECT_TRUE(h11.needs_rehash(at10));
  EXPECT_FALSE(h10.needs_rehash(at10));
  EXPECT_FALSE(h10.needs_rehash(*h11.hash(secret("pw"))));  // stronger than configured is fine
  EXPECT_TRUE(h10.needs_rehash(
      "$2y$10$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"));  // rewritten as $2b$
}

TEST(PasswordHasher, NeedsRehashArgon2ParamsChange) {
  const auto h = make(fast_argon2());
  HashParams more_memory = fast_argon2();
  more_memory.argon2_memory_kib = 9 * 1024ULL;
  HashParams more_time = fast_argon2();
  more_time.argon2_iterations = 2;
  const std::string stored = *h.hash(secret("pw"));
  EXPECT_FALSE(h.needs_rehash(stored));
  EXPECT_TRUE(make(more_memory).needs_rehash(stored));
  EXPECT_TRUE(make(more_time).needs_rehash(stored));
}

TEST(PasswordHasher, NeedsRehashAlgorithmSwitch) {
  const auto argon = make(fast_argon2());
  const auto bcrypt = make(fast_bcrypt());
  const std::string a = *argon.hash(secret("pw"));
  const std::string b = *bcrypt.hash(secret("pw"));
  EXPECT_TRUE(argon.needs_rehash(b));
  EXPECT_TRUE(bcrypt.needs_rehash(a));
  // Either hasher still verifies the other's hashes.
  EXPECT_TRUE(argon.verify(b, secret("pw")));
  EXPECT_TRUE(bcrypt.verify(a, secret("pw")));
}

TEST(PasswordHasher, BadParameters) {
  const auto expect_bad = [](const HashParams& p) {
    const auto r = PasswordHasher::create(p);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, HashError::BadParameters);
  };
  HashParams p = fast_bcrypt();
  p.bcrypt_cost = 9;
  expect_bad(p);
  p.bcrypt_cost = 32;
  expect_bad(p);
  p = fast_argon2();
  p.argon2_memory_kib = 8 * 1024ULL - 1;
  expect_bad(p);
  p.argon2_memory_kib = 4ULL * 1024 * 1024 + 1;
  expect_bad(p);
  p = fast_argon2();
  p.argon2_iterations = 0;
  expect_bad(p);
  EXPECT_EQ(std::error_code(HashError::BadParameters).category().name(),
            std::string("password.hash"));
}

TEST(PasswordHasher, DummyHashMatchesCurrentParams) {
  const auto argon = make(fast_argon2());
  EXPECT_TRUE(argon.dummy_hash().starts_with("$argon2id$v=19$m=8192,t=1,p=1$"));
  EXPECT_FALSE(argon.needs_rehash(argon.dummy_hash()));
  EXPECT_FALSE(argon.verify(argon.dummy_hash(), secret("")));
  const auto bcrypt = make(fast_bcrypt());
  EXPECT_TRUE(bcrypt.dummy_hash().starts_with("$2b$10$"));
  EXPECT_FALSE(bcrypt.needs_rehash(bcrypt.dummy_hash()));
  EXPECT_NE(make(fast_argon2()).dummy_hash(), argon.dummy_hash());
}

}  // namespace
}  // namespace gh::password
