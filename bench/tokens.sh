#!/usr/bin/env bash
# Token benchmarks (same run, ratios): GET /v1/me with one repeated token
# (verified-token cache) and with distinct tokens on a server whose cache is
# off (cold signature verification every request), next to GET /healthz; and
# POST /v1/token/refresh rotations/s on SQLite and on PostgreSQL.
#   bench/tokens.sh [--smoke]     (prints a markdown section; build/ must exist)
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=0; [ "${1:-}" = "--smoke" ] && SMOKE=1
DUR=${BENCH_DURATION:-10s}; [ $SMOKE = 1 ] && DUR=1s
BIN=${GATEHOUSE_BIN:-build/cli/gatehouse}
T=$(mktemp -d /tmp/gh-bench-tok.XXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; scripts/pg-test-server.sh stop "$T/pg" >/dev/null 2>&1 || true; rm -rf "$T"; }
trap cleanup EXIT

start() {  # start NAME ARGS... -> sets ADDR; env from the caller
  local name=$1; shift
  mkdir -p "$T/$name"
  GATEHOUSE_SERVER_ACCESS_LOG=false GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB=8192 GATEHOUSE_PASSWORD_ARGON2_ITERATIONS=1 \
    "$BIN" serve --dev --listen 127.0.0.1:0 --data-dir "$T/$name" "$@" > "$T/$name.out" 2> "$T/$name.err" &
  PIDS+=($!)
  for _ in $(seq 1 200); do ADDR=$(grep -o '"address":"[^"]*"' "$T/$name.out" 2>/dev/null | cut -d'"' -f4 || true); [ -n "$ADDR" ] && return 0; sleep 0.05; done
  echo "server $name did not start" >&2; cat "$T/$name.err" >&2; return 1
}
wrk_rps() { timeout 120 wrk -t1 -c"${2:-64}" -d"$DUR" --latency -s "$1" "http://$ADDR" | grep '^RESULT' ; }
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

echo "## Tokens ($( [ $SMOKE = 1 ] && echo smoke || echo full ), wrk -t1 -c64 -d$DUR)"
echo
# 1. /v1/me, repeated token (cache) vs /healthz, EdDSA and HS256.
echo "| server | endpoint | req/s | p99 ms | ratio to /healthz |"
echo "|---|---|---:|---:|---:|"
for alg in EdDSA HS256; do
  GATEHOUSE_TOKENS_SIGNING_ALG=$alg start "me-$alg"
  tokens_for 1 "$T/one-$alg"
  H=$(WRK_PATH=/healthz wrk_rps bench/get.lua)
  M=$(TOKENS_FILE="$T/one-$alg" wrk_rps bench/me.lua)
  h=$(field rps "$H"); m=$(field rps "$M")
  echo "| gatehouse $alg | GET /healthz | $h | $(awk "BEGIN{print $(field p99_us "$H")/1000}") | 1.00 |"
  echo "| gatehouse $alg | GET /v1/me, one token (cached) | $m | $(awk "BEGIN{print $(field p99_us "$M")/1000}") | $(awk "BEGIN{printf \"%.2f\", $m/$h}") |"
done
# 2. Cold verification: distinct tokens, cache off.
GATEHOUSE_TOKENS_CACHE_ENTRIES=0 start me-cold
N=200; [ $SMOKE = 1 ] && N=20
tokens_for $N "$T/many"
M=$(TOKENS_FILE="$T/many" wrk_rps bench/me.lua)
echo "| gatehouse EdDSA, cache off | GET /v1/me, $N distinct tokens (cold verify) | $(field rps "$M") | $(awk "BEGIN{print $(field p99_us "$M")/1000}") | – |"
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
