// The KeyStore contract (store/token_store.h), run against every backend in
// store_harness.h. Each test starts on its own fresh, migrated database.
#include "store/token_store.h"

#include <atomic>
#include <latch>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "conformance/store_harness.h"
#include "store/store.h"

namespace gh::store::testing {
namespace {

using std::chrono::days;
using std::chrono::seconds;

const Seconds kT0{seconds{1'900'000'000}};

StoredKey make_key(std::string kid, Seconds created) {
  StoredKey k;
  k.kid = std::move(kid);
  k.alg = "EdDSA";
  k.private_sealed = "c2VhbGVkLXByaXZhdGUta2V5";  // opaque to the store
  k.public_jwk =
      R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";
  k.created_at = created;
  return k;
}

std::vector<std::string> kids_of(const std::vector<StoredKey>& keys) {
  std::vector<std::string> kids;
  for (const auto& k : keys) kids.push_back(k.kid);
  return kids;
}

#define EXPECT_ERROR(expr, err)                                                         \
  do {                                                                                  \
    const auto& result_ = (expr);                                                       \
    ASSERT_FALSE(result_.has_value()) << #expr " succeeded";                            \
    EXPECT_EQ(result_.error().code, make_error_code(err)) << result_.error().message(); \
  } while (0)

class KeyStoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    harness_ = GetParam().make();
    harness_->set_up();
    if (HasFatalFailure()) return;
    store_ = open_migrated(*harness_);
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    harness_.reset();
  }
  KeyStore& keys() { return store_->keys(); }

  // The stored key `kid`; a failure if absent.
  StoredKey key(const std::string& kid) {
    auto all = keys().list_keys();
    EXPECT_TRUE(all) << all.error().message();
    if (all) {
      for (auto& k : *all) {
        if (k.kid == kid) return k;
      }
    }
    ADD_FAILURE() << "no key " << kid;
    return {};
  }

  std::unique_ptr<Harness> harness_;
  std::unique_ptr<Store> store_;
};

TEST_P(KeyStoreConformance, FreshStoreHasNoKeys) {
  auto all = keys().list_keys();
  ASSERT_TRUE(all) << all.error().message();
  EXPECT_TRUE(all->empty());
}

TEST_P(KeyStoreConformance, ActivateFirstKeyRoundTripsEveryField) {
  StoredKey k = make_key("k1", kT0);
  k.status = KeyStatus::Retired;  // ignored: activate_key stores it Active
  ASSERT_TRUE(keys().activate_key(k, kT0 + days{1}));
  auto all = keys().list_keys();
  ASSERT_TRUE(all) << all.error().message();
  ASSERT_EQ(all->size(), 1u);
  const StoredKey& got = (*all)[0];
  EXPECT_EQ(got.kid, "k1");
  EXPECT_EQ(got.alg, k.alg);
  EXPECT_EQ(got.private_sealed, k.private_sealed);
  EXPECT_EQ(got.public_jwk, k.public_jwk);
  EXPECT_EQ(got.status, KeyStatus::Active);
  EXPECT_EQ(got.created_at, kT0);
  EXPECT_FALSE(got.not_after.has_value());
}

TEST_P(KeyStoreConformance, HmacKeyWithoutPublicJwkRoundTrips) {
  StoredKey k = make_key("hs", kT0);
  k.alg = "HS256";
  k.public_jwk.clear();
  ASSERT_TRUE(keys().activate_key(k, kT0));
  EXPECT_EQ(key("hs").public_jwk, "");
  EXPECT_EQ(key("hs").alg, "HS256");
}

TEST_P(KeyStoreConformance, ActivateTwiceDemotesTheFirstToPublished) {
  ASSERT_TRUE(keys().activate_key(make_key("k1", kT0), kT0));
  ASSERT_TRUE(keys().activate_key(make_key("k2", kT0 + days{30}), kT0 + days{31}));
  StoredKey k1 = key("k1");
  EXPECT_EQ(k1.status, KeyStatus::Published);
  EXPECT_EQ(k1.not_after, kT0 + days{31});
  EXPECT_EQ(key("k2").status, KeyStatus::Active);
  EXPECT_FALSE(key("k2").not_after.has_value());

  // Only the Active key is demoted; a Published one keeps its not_after.
  ASSERT_TRUE(keys().activate_key(make_key("k3", kT0 + days{60}), kT0 + days{61}));
  EXPECT_EQ(key("k1").status, KeyStatus::Published);
  EXPECT_EQ(key("k1").not_after, kT0 + days{31});
  EXPECT_EQ(key("k2").status, KeyStatus::Published);
  EXPECT_EQ(key("k2").not_after, kT0 + days{61});
  EXPECT_EQ(key("k3").status, KeyStatus::Active);
}

TEST_P(KeyStoreConformance, ListIsNewestFirstThenByKid) {
  // Activated out of order; equal created_at falls back to kid order.
  ASSERT_TRUE(keys().activate_key(make_key("b", kT0 + seconds{10}), kT0));
  ASSERT_TRUE(keys().activate_key(make_key("c", kT0 + seconds{20}), kT0));
  ASSERT_TRUE(keys().activate_key(make_key("a", kT0 + seconds{10}), kT0));
  ASSERT_TRUE(keys().activate_key(make_key("d", kT0), kT0));
  auto all = keys().list_keys();
  ASSERT_TRUE(all);
  EXPECT_EQ(kids_of(*all), (std::vector<std::string>{"c", "a", "b", "d"}));
  EXPECT_EQ(key("d").status, KeyStatus::Active) << "the last activated, not the newest";
}

TEST_P(KeyStoreConformance, SetKeyStatus) {
  ASSERT_TRUE(keys().activate_key(make_key("k1", kT0), kT0));
  ASSERT_TRUE(keys().activate_key(make_key("k2", kT0 + seconds{1}), kT0 + days{2}));
  ASSERT_TRUE(keys().set_key_status("k1", KeyStatus::Retired));
  EXPECT_EQ(key("k1").status, KeyStatus::Retired);
  EXPECT_EQ(key("k1").not_after, kT0 + days{2}) << "only the status changes";
  ASSERT_TRUE(keys().set_key_status("k1", KeyStatus::Retired));  // same status again
  EXPECT_EQ(key("k2").status, KeyStatus::Active);
}

TEST_P(KeyStoreConformance, SetKeyStatusUnknownKidIsNotFound) {
  EXPECT_ERROR(keys().set_key_status("nope", KeyStatus::Retired), StoreError::NotFound);
}

TEST_P(KeyStoreConformance, SecondActiveKeyIsConflict) {
  ASSERT_TRUE(keys().activate_key(make_key("k1", kT0), kT0));
  ASSERT_TRUE(keys().activate_key(make_key("k2", kT0 + seconds{1}), kT0));
  // Exactly one Active key at a time: promoting another goes through activate_key.
  EXPECT_ERROR(keys().set_key_status("k1", KeyStatus::Active), StoreError::Conflict);
  EXPECT_EQ(key("k1").status, KeyStatus::Published);
  ASSERT_TRUE(keys().set_key_status("k2", KeyStatus::Active)) << "already Active: no change";
  ASSERT_TRUE(keys().set_key_status("k2", KeyStatus::Retired));
  ASSERT_TRUE(keys().set_key_status("k1", KeyStatus::Active)) << "no other Active key now";
}

TEST_P(KeyStoreConformance, DuplicateKidIsConflictAndDemotesNothing) {
  ASSERT_TRUE(keys().activate_key(make_key("k1", kT0), kT0));
  ASSERT_TRUE(keys().activate_key(make_key("k2", kT0 + seconds{1}), kT0 + days{1}));
  StoredKey again = make_key("k1", kT0 + seconds{2});
  again.alg = "ES256";
  EXPECT_ERROR(keys().activate_key(again, kT0 + days{9}), StoreError::Conflict);
  // One transaction: k2's demotion was rolled back with the failed insert.
  EXPECT_EQ(key("k2").status, KeyStatus::Active);
  EXPECT_FALSE(key("k2").not_after.has_value());
  EXPECT_EQ(key("k1").alg, "EdDSA");
  EXPECT_EQ(key("k1").not_after, kT0 + days{1});
  EXPECT_EQ(keys().list_keys()->size(), 2u);
}

TEST_P(KeyStoreConformance, ConcurrentActivationsLeaveOneActiveKey) {
  constexpr int kThreads = 8;
  std::latch go(kThreads);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      const StoredKey k = make_key(fmt::format("k{}", i), kT0 + seconds{i});
      go.arrive_and_wait();
      auto r = keys().activate_key(k, kT0 + days{1});
      if (!r) {
        ++failures;
        ADD_FAILURE() << r.error().message();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  auto all = keys().list_keys();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), static_cast<std::size_t>(kThreads));
  int active = 0;
  for (const auto& k : *all) {
    if (k.status == KeyStatus::Active) {
      ++active;
      EXPECT_FALSE(k.not_after.has_value());
    } else {
      EXPECT_EQ(k.status, KeyStatus::Published) << k.kid;
      EXPECT_EQ(k.not_after, kT0 + days{1}) << k.kid;
    }
  }
  EXPECT_EQ(active, 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, KeyStoreConformance, ::testing::ValuesIn(all_backends()));

}  // namespace
}  // namespace gh::store::testing
