#!/usr/bin/env bash
# clang-tidy over the project's sources (compile database from the given build
# dir), plus a clang-format check. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
[ -f "$BUILD/compile_commands.json" ] || { echo "no $BUILD/compile_commands.json: build first" >&2; exit 2; }
files=$(git ls-files 'src/*.cc' 'cli/*.cc')
# clang 14 spells C++23 as c++2b and needs co_await enabled for Boost 1.74 Asio.
echo "$files" | xargs -P"${JOBS:-2}" -n1 clang-tidy -p "$BUILD" --quiet \
  --extra-arg=-std=c++2b --extra-arg=-DBOOST_ASIO_HAS_CO_AWAIT=1 --extra-arg=-Wno-unknown-warning-option 2>&1 \
  | grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated|^Suppressed|^Use -header-filter' | tee /tmp/gh-tidy.log
if grep -qE 'warning:|error:' /tmp/gh-tidy.log; then echo "clang-tidy: findings above" >&2; exit 1; fi
unformatted=$(git ls-files '*.h' '*.cc' | xargs clang-format --dry-run 2>&1 | grep -c 'warning:' || true)
echo "clang-format: $unformatted lines differ (run make format)"
