#!/usr/bin/env bash
# The whole suite, as `make test` and CI run it:
#   1. release build: unit + store conformance (SQLite, PostgreSQL) via ctest,
#      then integration tests against the real binary (node:test);
#   2. the same under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. a short smoke run of every libFuzzer target.
# Prints one closing line: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
JOBS=${JOBS:-2}
passed=0; failed=0
results=$(mktemp)

count_ctest() {  # parses "100% tests passed, 0 tests failed out of 57"
  local line; line=$(grep -E 'tests passed, [0-9]+ tests? failed out of' "$1" | tail -1)
  local total fail
  total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line"); fail=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
  [ -z "$total" ] && { failed=$((failed + 1)); echo "no ctest summary in $1"; return; }
  [ "$total" -eq 0 ] && { failed=$((failed + 1)); echo "ctest ran no test"; return; }
  passed=$((passed + total - fail)); failed=$((failed + fail))
}
count_node() {  # parses "# pass N" / "# fail M"
  local p f; p=$(grep -E '^# pass [0-9]+' "$1" | tail -1 | awk '{print $3}'); f=$(grep -E '^# fail [0-9]+' "$1" | tail -1 | awk '{print $3}')
  [ -z "$p" ] && { failed=$((failed + 1)); echo "no node summary in $1"; return; }
  [ "$p" -eq 0 ] && { failed=$((failed + 1)); echo "node ran no test"; return; }
  passed=$((passed + p)); failed=$((failed + ${f:-0}))
}

run_suite() {  # run_suite NAME BUILD_DIR CMAKE_ARGS...
  local name=$1 dir=$2; shift 2
  echo "== [$name] configure + build ($dir)"
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null || { failed=$((failed + 1)); return; }
  if ! cmake --build "$dir" -j"$JOBS" > "$dir.build.log" 2>&1; then
    tail -50 "$dir.build.log"; failed=$((failed + 1)); return
  fi
  echo "== [$name] unit + conformance (ctest)"
  local log="$dir.ctest.log"
  ctest --test-dir "$dir" -j"$JOBS" --output-on-failure --timeout 600 > "$log" 2>&1
  tail -5 "$log"; grep -E '\*\*\*(Failed|Timeout|Exception)|Not Run' "$log" | head -20
  count_ctest "$log"
  echo "== [$name] integration (node --test, real binary)"
  log="$dir.integration.log"
  GATEHOUSE_BIN="$PWD/$dir/cli/gatehouse" timeout 1800 node --test --test-concurrency="$JOBS" --test-reporter=tap \
    tests/integration/ > "$log" 2>&1
  grep -E '^not ok|^# (pass|fail|tests)' "$log"
  grep -q '^not ok' "$log" && grep -B2 -A30 '^not ok' "$log" | head -120
  count_node "$log"
}

run_suite release build -DCMAKE_BUILD_TYPE=RelWithDebInfo
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite asan build-asan -DCMAKE_BUILD_TYPE=Debug -DGH_SANITIZE=ON -DGH_BENCH=OFF

if [ -x scripts/fuzz.sh ]; then
  echo "== [fuzz] smoke run"
  if ./scripts/fuzz.sh "${FUZZ_SMOKE_SECONDS:-5}" > build-fuzz.log 2>&1; then
    n=$(grep -c '^fuzz-ok' build-fuzz.log); passed=$((passed + n)); grep '^fuzz-' build-fuzz.log
  else
    tail -40 build-fuzz.log; failed=$((failed + 1))
  fi
fi

echo "== [bench] smoke run (the harness works; numbers are not meaningful)"
if bench/run.sh --smoke > build-bench-smoke.log 2>&1 && bench/tokens.sh --smoke >> build-bench-smoke.log 2>&1 && bench/sessions.sh --smoke >> build-bench-smoke.log 2>&1 && bench/ratelimit.sh --smoke >> build-bench-smoke.log 2>&1 && bench/enumeration.py --smoke >> build-bench-smoke.log 2>&1 && bench/authz.sh --smoke >> build-bench-smoke.log 2>&1 && bench/oauth.sh --smoke >> build-bench-smoke.log 2>&1; then
  passed=$((passed + 1)); echo "bench smoke ok"
else
  tail -30 build-bench-smoke.log; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
