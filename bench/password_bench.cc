// Password hashing cost at the production defaults: Argon2id m=19 MiB, t=2,
// p=1 and bcrypt cost 12, through PasswordHasher and (for Argon2id) straight
// through libsodium, so the wrapper's overhead shows as the difference.
// Also times PasswordPolicy::check and loading a HIBP-style blocklist.
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <benchmark/benchmark.h>

#include "core/password/hasher.h"
#include "core/password/policy.h"

namespace {

using gh::SecretString;
using gh::password::Algorithm;
using gh::password::HashParams;
using gh::password::PasswordHasher;

constexpr std::string_view kPassword = "correct horse battery staple";

PasswordHasher make_hasher(Algorithm algorithm) {
  HashParams p;  // the defaults under test
  p.algorithm = algorithm;
  auto h = PasswordHasher::create(p);
  if (!h) std::abort();
  return std::move(*h);
}

void hash_loop(benchmark::State& state, Algorithm algorithm) {
  const PasswordHasher h = make_hasher(algorithm);
  const SecretString pw(kPassword);
  for ([[maybe_unused]] auto _ : state) {
    auto stored = h.hash(pw);
    benchmark::DoNotOptimize(stored);
  }
}

void verify_loop(benchmark::State& state, Algorithm algorithm) {
  const PasswordHasher h = make_hasher(algorithm);
  const SecretString pw(kPassword);
  const std::string stored = *h.hash(pw);
  for ([[maybe_unused]] auto _ : state) {
    if (!h.verify(stored, pw)) state.SkipWithError("verify failed");
  }
}

void argon2id_hash(benchmark::State& state) { hash_loop(state, Algorithm::Argon2id); }
void argon2id_verify(benchmark::State& state) { verify_loop(state, Algorithm::Argon2id); }
void bcrypt_hash(benchmark::State& state) { hash_loop(state, Algorithm::Bcrypt); }
void bcrypt_verify(benchmark::State& state) { verify_loop(state, Algorithm::Bcrypt); }

// The same work as argon2id_hash/Verify without PasswordHasher.
void sodium_pwhash_str(benchmark::State& state) {
  const HashParams p;
  std::array<char, crypto_pwhash_STRBYTES> out{};
  for ([[maybe_unused]] auto _ : state) {
    if (crypto_pwhash_str_alg(out.data(), kPassword.data(), kPassword.size(), p.argon2_iterations,
                              p.argon2_memory_kib * 1024, crypto_pwhash_ALG_ARGON2ID13) != 0) {
      state.SkipWithError("crypto_pwhash_str_alg failed");
    }
    benchmark::DoNotOptimize(out);
  }
}

void sodium_pwhash_str_verify(benchmark::State& state) {
  const HashParams p;
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (sodium_init() < 0 ||
      crypto_pwhash_str_alg(out.data(), kPassword.data(), kPassword.size(), p.argon2_iterations,
                            p.argon2_memory_kib * 1024, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    state.SkipWithError("crypto_pwhash_str_alg failed");
    return;
  }
  for ([[maybe_unused]] auto _ : state) {
    if (crypto_pwhash_str_verify(out.data(), kPassword.data(), kPassword.size()) != 0) {
      state.SkipWithError("verify failed");
    }
  }
}

constexpr auto kMs = benchmark::kMillisecond;
BENCHMARK(argon2id_hash)->Unit(kMs)->UseRealTime();
BENCHMARK(sodium_pwhash_str)->Unit(kMs)->UseRealTime();
BENCHMARK(argon2id_verify)->Unit(kMs)->UseRealTime();
BENCHMARK(sodium_pwhash_str_verify)->Unit(kMs)->UseRealTime();
BENCHMARK(bcrypt_hash)->Unit(kMs)->UseRealTime();
BENCHMARK(bcrypt_verify)->Unit(kMs)->UseRealTime();

// Throughput of the hash pool's work on every core: one verify loop per thread,
// as many threads as the server's default pool (std::thread::hardware_concurrency(),
// like cli/main.cc), or GH_BENCH_THREADS. With UseRealTime the reported time is
// wall time per verify across all threads, and items_per_second is the pool's
// raw rate in verifies/s, the ceiling for POST /v1/login (bench/run.sh compares them).
int pool_threads() {
  if (const char* env = std::getenv("GH_BENCH_THREADS")) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
}

void argon2id_verify_mt(benchmark::State& state) {
  verify_loop(state, Algorithm::Argon2id);
  state.SetItemsProcessed(state.iterations());
}
void bcrypt_verify_mt(benchmark::State& state) {
  verify_loop(state, Algorithm::Bcrypt);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(argon2id_verify_mt)->Unit(kMs)->UseRealTime()->Threads(pool_threads());
BENCHMARK(bcrypt_verify_mt)->Unit(kMs)->UseRealTime()->Threads(pool_threads());

// Policy check with the Debian lists: a long passphrase skips cracklib, a short one does not.
void policy_check(benchmark::State& state) {
  gh::password::PolicyConfig c;
  c.min_length = 8;
  const auto policy = gh::password::PasswordPolicy::load(c);
  if (!policy) {
    state.SkipWithError("cannot load the Debian lists");
    return;
  }
  const auto pw = gh::password::normalize_password(state.range(0) ? "vivid-otter-marches-north"
                                                                  : "kjhgf7pq!vx2");
  for ([[maybe_unused]] auto _ : state) {
    auto s = (*policy)->check(*pw, {});
    benchmark::DoNotOptimize(s);
  }
}
BENCHMARK(policy_check)->Arg(1)->Arg(0)->Unit(benchmark::kMicrosecond);

// Loading an N-line HIBP "SHA1:count" file (the file is written once, outside the timing).
void blocklist_load(benchmark::State& state) {
  const auto lines = static_cast<unsigned>(state.range(0));
  const std::string path = "/tmp/gh_password_bench_blocklist_" + std::to_string(lines) + ".txt";
  if (std::FILE* f = std::fopen(path.c_str(), "wb")) {
    for (unsigned i = 0; i < lines; ++i)
      std::fprintf(f, "%08X%032X:%u\r\n", i * 2654435761u, i, i % 97 + 1);
    std::fclose(f);
  }
  gh::password::PolicyConfig c;
  c.common_list.clear();
  c.use_cracklib = false;
  c.blocklist_file = path;
  for ([[maybe_unused]] auto _ : state) {
    auto policy = gh::password::PasswordPolicy::load(c);
    if (!policy || (*policy)->blocklist_count() != lines) state.SkipWithError("load failed");
    benchmark::DoNotOptimize(policy);
  }
  std::remove(path.c_str());
}
BENCHMARK(blocklist_load)->Arg(1'000'000)->Unit(kMs)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
