#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for $1 seconds (default 60).
# Prints "fuzz-ok NAME" per target that ran clean; exits non-zero on any crash.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGH_FUZZ=ON -DGH_TESTS=OFF -DGH_BENCH=OFF \
  -DCMAKE_CXX_FLAGS="-std=c++2b -fsanitize=fuzzer-no-link,address,undefined" >/dev/null
targets=(fuzz_json fuzz_http fuzz_jwt fuzz_cookie fuzz_web fuzz_client_ip fuzz_mail fuzz_totp)
cmake --build build-fuzz -j"${JOBS:-2}" --target "${targets[@]}"
for t in "${targets[@]}"; do
  corpus="build-fuzz/corpus/$t"; mkdir -p "$corpus"
  [ -d "fuzz/seeds/$t" ] && cp -n fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz: $t for ${SECONDS_EACH}s"
  ASAN_OPTIONS=detect_leaks=1 ./build-fuzz/fuzz/"$t" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$corpus" 2>&1 | tail -5
  [ "${PIPESTATUS[0]}" -eq 0 ] && echo "fuzz-ok $t"
done
