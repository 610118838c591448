#!/usr/bin/env bash
# Federated sign-in (issue #7): time to complete the whole callback (state
# check + code exchange + ID-token validation + user upsert + session) against
# the local oidc-provider (npm, tests/node_modules), p50/p99 over N sequential
# sign-ins of one returning person; the first callback (discovery + JWKS fetch)
# is reported apart as "cold".
#
#   bench/oauth.sh [--smoke]     (prints a markdown section; build/ must exist)
# Knobs: BENCH_OAUTH_N (200), GATEHOUSE_BIN. --smoke (or BENCH_SMOKE=1): 10 sign-ins.
# The provider and Gatehouse run on 127.0.0.1 as children of the node driver,
# which stops them by PID; the driver runs under `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=${BENCH_SMOKE:-0}; [ "${1:-}" = "--smoke" ] && SMOKE=1
N=${BENCH_OAUTH_N:-200}; [ "$SMOKE" = 1 ] && N=10
export GATEHOUSE_BIN=${GATEHOUSE_BIN:-$PWD/build/cli/gatehouse}
[ -d tests/node_modules/oidc-provider ] || (cd tests && npm ci --no-audit --no-fund >/dev/null)
out=$(timeout 600 node bench/oauth_callback.mjs "$N" 2>/dev/null | tail -1)
echo "## Federated sign-in callback (oidc-provider on loopback)"
echo
echo "\`bench/oauth.sh\` — $N sequential sign-ins, SQLite store, one Gatehouse and one provider on 127.0.0.1."
echo
echo "| cold (discovery + JWKS) | p50 | p90 | p99 | max |"
echo "|---|---|---|---|---|"
node -e 'const r = JSON.parse(process.argv[1]); console.log(`| ${r.cold_ms} ms | ${r.p50_ms} ms | ${r.p90_ms} ms | ${r.p99_ms} ms | ${r.max_ms} ms |`)' "$out"
echo
