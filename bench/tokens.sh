#!/usr/bin/env bash
# Token benchmarks (same run, ratios): GET /v1/me with one repeated token
# (verified-token cache) next to GET /healthz, in alternating rounds (ratio per
# round, median reported); cold verification (cache off, distinct tokens), also
# with the server pinned to one core and wrk to another, against the raw
# OpenSSL Ed25519 verify rate on that core measured just before and after
# (`openssl speed ed25519`); and POST /v1/token/refresh rotations/s on SQLite
# and on PostgreSQL.
#   bench/tokens.sh [--smoke]     (prints a markdown section; build/ must exist)
# Knobs: BENCH_DURATION (5s per round; smoke 1s), BENCH_ROUNDS (3; smoke 1), GATEHOUSE_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=${BENCH_SMOKE:-0}; [ "${1:-}" = "--smoke" ] && SMOKE=1
DUR=${BENCH_DURATION:-5s}; ROUNDS=${BENCH_ROUNDS:-3}; [ $SMOKE = 1 ] && { DUR=1s; ROUNDS=1; }
BIN=${GATEHOUSE_BIN:-build/cli/gatehouse}
T=$(mktemp -d /tmp/gh-bench-tok.XXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; scripts/pg-test-server.sh stop "$T/pg" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT

start() {  # start NAME ARGS... -> sets ADDR; env from the caller
  local name=$1; shift
  mkdir -p "$T/$name"
  GATEHOUSE_SERVER_ACCESS_LOG=false GATEHOUSE_RATE_LIMIT_ENABLED=${GATEHOUSE_RATE_LIMIT_ENABLED:-false} GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB=8192 GATEHOUSE_PASSWORD_ARGON2_ITERATIONS=1 \
    ${PIN:+taskset -c "$PIN"} "$BIN" serve --dev --listen 127.0.0.1:0 --data-dir "$T/$name" "$@" > "$T/$name.out" 2> "$T/$name.err" &
  SPID=$!; PIDS+=($SPID)
  for _ in $(seq 1 200); do ADDR=$(grep -o '"address":"[^"]*"' "$T/$name.out" 2>/dev/null | cut -d'"' -f4 || true); [ -n "$ADDR" ] && return 0; sleep 0.05; done
  echo "server $name did not start" >&2; cat "$T/$name.err" >&2; return 1
}
wrk_rps() { timeout 120 ${WRK_PIN:+taskset -c "$WRK_PIN"} wrk -t1 -c"${2:-64}" -d"$DUR" --latency -s "$1" "http://$ADDR" | grep '^RESULT' ; }
load() { uptime | sed -E 's/.*load average: ([^,]+),.*/\1/'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime of a process, in clock ticks
median() { sort -n | awk '{v[NR]=$1} END{printf "%.1f", (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
# raw_verify CORE: µs per Ed25519 verify on that core by OpenSSL's own benchmark (`openssl speed`),
# "real cpu": wall-clock (-elapsed) and user-CPU time. It reuses one prepared context, so it is
# the fastest rate OpenSSL reaches, not a re-initialising loop.
raw_verify() {
  local secs; secs=$([ $SMOKE = 1 ] && echo 1 || echo 2)
  local real cpu
  real=$(taskset -c "$1" timeout 120 openssl speed -elapsed -seconds "$secs" -mr ed25519 2>/dev/null | awk -F: '/^\+F6:/ {printf "%.2f", 1e6/$6}')
  cpu=$(taskset -c "$1" timeout 120 openssl speed -seconds "$secs" -mr ed25519 2>/dev/null | awk -F: '/^\+F6:/ {printf "%.2f", 1e6/$6}')
  echo "$real $cpu"
}
field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$2"; }
tokens_for() {  # tokens_for N FILE [refresh]: N sign-ups, one access (or refresh) token per line
  node -e '
    const [base, n, file, kind] = process.argv.slice(1);
    const out = [];
    (async () => {
      for (let i = 0; i < +n; i++) {
        const r = await fetch(base + "/v1/register", { method: "POST", headers: { "content-type": "application/json", "token-transport": "body" },
          body: JSON.stringify({ email: `b${i}.${Date.now()}@bench.test`, password: "violet-harbor-tangerine-" + i }) });
        const j = await r.json();
        out.push(kind === "refresh" ? j.refresh_token : j.access_token);
      }
      require("fs").writeFileSync(file, out.join("\n") + "\n");
    })();' "http://$ADDR" "$1" "$2" "${3:-access}"
}

echo "## Tokens ($( [ $SMOKE = 1 ] && echo smoke || echo full ), wrk -t1 -c64, $ROUNDS round(s) of $DUR)"
echo
echo "Started $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) vCPUs, load average $(load) (1 min)."
echo
# 1. /v1/me, repeated token (cache) vs /healthz, EdDSA and HS256: alternating rounds, ratio per round.
echo "| server | endpoint | req/s per round | p99 ms per round | ratio to /healthz per round | **median** | load per round |"
echo "|---|---|---|---|---|---:|---|"
for alg in EdDSA HS256; do
  GATEHOUSE_TOKENS_SIGNING_ALG=$alg start "me-$alg"
  tokens_for 1 "$T/one-$alg"
  hr=""; mr=""; hp=""; mp=""; ratios=""; hl=""; ml=""
  for _ in $(seq 1 "$ROUNDS"); do
    hl="$hl${hl:+ / }$(load)"; H=$(WRK_PATH=/healthz wrk_rps bench/get.lua)
    ml="$ml${ml:+ / }$(load)"; M=$(TOKENS_FILE="$T/one-$alg" wrk_rps bench/me.lua)
    h=$(field rps "$H"); m=$(field rps "$M")
    [ "$(field err_status "$M")" = 0 ] || echo "warning: $(field err_status "$M") non-2xx answers to /v1/me" >&2
    hr="$hr${hr:+ / }$(printf %.0f "$h")"; mr="$mr${mr:+ / }$(printf %.0f "$m")"
    hp="$hp${hp:+ / }$(awk "BEGIN{printf \"%.2f\", $(field p99_us "$H")/1000}")"; mp="$mp${mp:+ / }$(awk "BEGIN{printf \"%.2f\", $(field p99_us "$M")/1000}")"
    ratios="$ratios $(awk "BEGIN{printf \"%.1f\", 100*$m/$h}")"
  done
  echo "| gatehouse $alg | GET /healthz | $hr | $hp | – | – | $hl |"
  echo "| gatehouse $alg | GET /v1/me, one token (cached) | $mr | $mp | $(echo $ratios | sed 's/ / \/ /g') % | **$(tr ' ' '\n' <<<"$ratios" | grep . | median) %** | $ml |"
done
# 2. Cold verification: distinct tokens, cache off (wrk and the server share both vCPUs).
GATEHOUSE_TOKENS_CACHE_ENTRIES=0 start me-cold
N=200; [ $SMOKE = 1 ] && N=20
tokens_for $N "$T/many"
M=$(TOKENS_FILE="$T/many" wrk_rps bench/me.lua)
echo "| gatehouse EdDSA, cache off | GET /v1/me, $N distinct tokens (cold verify), unpinned | $(printf %.0f "$(field rps "$M")") | $(awk "BEGIN{printf \"%.2f\", $(field p99_us "$M")/1000}") | – | – | $(load) |"
echo
# 2b. The same pinned: the server (one I/O thread) on core 0, wrk on core 1, against the raw
# OpenSSL Ed25519 verify rate on core 0 measured just before and just after each run.
# Two ratios: throughput (req/s ÷ raw verifies/s, the target's definition; it also counts CPU
# that other processes take from core 0) and CPU cost (raw CPU µs per verify ÷ the server's
# CPU µs per request, from /proc; insensitive to that).
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  PIN=0 GATEHOUSE_SERVER_IO_THREADS=1 GATEHOUSE_TOKENS_CACHE_ENTRIES=0 start me-pinned
  tokens_for $N "$T/pinned"
  TICK=$(getconf CLK_TCK)
  echo "Cold verification pinned (server on CPU 0 with 1 I/O thread, wrk on CPU 1, $N distinct EdDSA tokens, cache off), target ≥ 80 % of the raw rate:"
  echo
  echo "| round | raw verify µs before (real / cpu) | /v1/me req/s | server CPU µs per request | raw verify µs after | raw verifies/s (mean) | **req/s ÷ raw rate** | raw CPU ÷ server CPU per request | non-2xx | load |"
  echo "|---|---|---:|---:|---|---:|---:|---:|---:|---:|"
  tr=""; cr=""
  for r in $(seq 1 "$ROUNDS"); do
    b=$(raw_verify 0)
    c0=$(cpu_ticks "$SPID")
    M=$(WRK_PIN=1 TOKENS_FILE="$T/pinned" wrk_rps bench/me.lua)
    c1=$(cpu_ticks "$SPID")
    a=$(raw_verify 0)
    rps=$(field rps "$M"); n=$(field requests "$M")
    read -r breal bcpu <<<"$b"; read -r areal acpu <<<"$a"
    srv=$(awk "BEGIN{printf \"%.1f\", ($c1-$c0)/$TICK*1e6/$n}")
    raw_rate=$(awk "BEGIN{printf \"%.0f\", (1e6/$breal + 1e6/$areal)/2}")
    t=$(awk "BEGIN{printf \"%.1f\", 100*$rps/$raw_rate}"); c=$(awk "BEGIN{printf \"%.1f\", 100*(($bcpu+$acpu)/2)/$srv}")
    tr="$tr $t"; cr="$cr $c"
    echo "| $r | $breal / $bcpu | $(printf %.0f "$rps") | $srv | $areal / $acpu | $raw_rate | $t % | $c % | $(field err_status "$M") | $(load) |"
  done
  echo "| **median** | | | | | | **$(tr ' ' '\n' <<<"$tr" | grep . | median) %** | **$(tr ' ' '\n' <<<"$cr" | grep . | median) %** | | |"
else
  echo "Cold verification pinned: skipped (needs 2 CPUs and taskset)."
fi
echo
# 3. Refresh rotations/s on SQLite and PostgreSQL.
echo "| store | POST /v1/token/refresh rotations/s (200s) | p99 ms | statuses |"
echo "|---|---:|---:|---|"
start ref-sqlite
tokens_for 200 "$T/ref" refresh
R=$(REFRESH_FILE="$T/ref" wrk_rps bench/refresh.lua)
ok=$(field statuses "$R" | tr ',' '\n' | grep '^200:' | cut -d: -f2 || echo 0)
echo "| SQLite | $(awk "BEGIN{printf \"%.1f\", ${ok:-0}/$(field duration_s "$R")}") | $(awk "BEGIN{print $(field p99_us "$R")/1000}") | $(field statuses "$R") |"
mkdir -p "$T/pg"
if scripts/pg-test-server.sh start "$T/pg" >/dev/null 2>&1; then
  PGURL=$(cat "$T/pg/url")
  "$BIN" migrate --store "$PGURL" >/dev/null 2>&1
  start ref-pg --store "$PGURL"
  tokens_for 200 "$T/refpg" refresh
  R=$(REFRESH_FILE="$T/refpg" wrk_rps bench/refresh.lua)
  ok=$(field statuses "$R" | tr ',' '\n' | grep '^200:' | cut -d: -f2 || echo 0)
  echo "| PostgreSQL | $(awk "BEGIN{printf \"%.1f\", ${ok:-0}/$(field duration_s "$R")}") | $(awk "BEGIN{print $(field p99_us "$R")/1000}") | $(field statuses "$R") |"
else
  echo "| PostgreSQL | (server did not start) | | |"
fi
echo
echo "2 vCPUs shared by wrk and the server: rotations/s per core ≈ the figure / 2 (upper bound)."
echo
# 4. The reference peer's /me (HS256, its fastest configuration JWT_KEY=keyobject) vs ours (HS256, cached).
ANCHOR=/work/shared/anchors/node-seed-ref
[ -d "$ANCHOR" ] || ANCHOR="$(cd .. && pwd)/shared/anchors/node-seed-ref"
if [ -d "$ANCHOR" ] && [ $SMOKE = 0 ]; then
  cp -r "$ANCHOR" "$T/peer"
  (cd "$T/peer" && timeout 300 npm install --no-audit --no-fund --loglevel=error >/dev/null 2>&1)
  PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  SECRET=$(openssl rand -hex 32)
  (cd "$T/peer" && JWT_SECRET=$SECRET JWT_KEY=keyobject PORT=$PORT exec node server.js > "$T/peer.log" 2>&1) &
  PIDS+=($!)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/hello" >/dev/null 2>&1 && break; sleep 0.05; done
  (cd "$T/peer" && JWT_SECRET=$SECRET node mint.js valid) > "$T/peer-token"
  GATEHOUSE_TOKENS_SIGNING_ALG=HS256 start me-vs-peer
  tokens_for 1 "$T/ours"
  O=$(TOKENS_FILE="$T/ours" wrk_rps bench/me.lua)
  ADDR_SAVE=$ADDR; ADDR=127.0.0.1:$PORT
  P=$(TOKENS_FILE="$T/peer-token" WRK_PATH=/me wrk_rps bench/me.lua)
  ADDR=$ADDR_SAVE
  echo "| /me, HS256 | gatehouse req/s | node-seed-ref (keyobject) req/s | ours / theirs |"
  echo "|---|---:|---:|---:|"
  echo "| GET /v1/me vs GET /me | $(field rps "$O") | $(field rps "$P") | **$(awk "BEGIN{printf \"%.1f\", $(field rps "$O")/$(field rps "$P")}")×** |"
fi
