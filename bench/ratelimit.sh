#!/usr/bin/env bash
# Rate-limiter overhead (issue #5), same run, ratios:
#   POST /v1/password/change without a token (a limited endpoint whose handler
#   answers 401 at once, so the limiter's cost is as visible as it can be) on
#   three servers: rate limiting off, the in-process limiter, and the Redis
#   limiter (rate_limit.store_url), the limited ones with a limit far above
#   what wrk can reach (1000000/1s: every request is counted, none refused).
#   Rounds of off / local / redis; the ratio to "off" is taken per round and
#   the median of the rounds is reported. Every response must be 401 (a 429
#   would mean the limit was reached and the numbers are not comparable).
#
#   bench/ratelimit.sh [--smoke]     (prints a markdown section; build/ must exist)
# Knobs: BENCH_DURATION (5s), BENCH_ROUNDS (3), BENCH_CONNS (64), GATEHOUSE_BIN.
# --smoke (or BENCH_SMOKE=1): 1 s runs, 1 round; a few seconds, for CI.
# Every server listens on 127.0.0.1 and is stopped by its PID; every client runs
# under `timeout`. Exits non-zero only if a step fails to run.
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=${BENCH_SMOKE:-0}; [ "${1:-}" = "--smoke" ] && SMOKE=1
DUR=${BENCH_DURATION:-5s}; ROUNDS=${BENCH_ROUNDS:-3}; CONNS=${BENCH_CONNS:-64}
if [ "$SMOKE" = 1 ]; then DUR=1s; ROUNDS=1; fi
BIN=${GATEHOUSE_BIN:-build/cli/gatehouse}
T=$(mktemp -d /tmp/gh-bench-rl.XXXX)
PIDS=()
FAILED=0
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  scripts/redis-test-server.sh stop "$T/redis" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "step failed: $*" >&2; echo; echo "**step failed:** $*"; echo; FAILED=$((FAILED + 1)); }
load() { uptime | sed -E 's/.*load average: ([^,]+),.*/\1/'; }
field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<" $2"; }

declare -A ADDRS
start() {  # start NAME [VAR=VALUE...] -> ADDRS[NAME]
  local name=$1 addr="" pid; shift
  mkdir -p "$T/$name"
  env GATEHOUSE_SERVER_ACCESS_LOG=false GATEHOUSE_RATE_LIMIT_PASSWORD_CHANGE_PER_IP=1000000/1s "$@" \
    "$BIN" serve --dev --listen 127.0.0.1:0 --data-dir "$T/$name" > "$T/$name.out" 2> "$T/$name.err" &
  pid=$!; PIDS+=("$pid")
  for _ in $(seq 1 200); do
    addr=$(grep -o '"address":"[^"]*"' "$T/$name.out" 2>/dev/null | cut -d'"' -f4 || true)
    [ -n "$addr" ] && { ADDRS[$name]=$addr; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "server $name did not start" >&2; tail -5 "$T/$name.err" >&2; return 1
}

echo "## Rate limiting (issue #5; $( [ "$SMOKE" = 1 ] && echo smoke || echo full ): wrk -t1 -c$CONNS -d$DUR, $ROUNDS round(s))"
echo
echo "Started $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) vCPUs, load average $(load) (1 min)."
echo

KINDS=(off local)
start off GATEHOUSE_RATE_LIMIT_ENABLED=false || fail "server off did not start"
start local GATEHOUSE_RATE_LIMIT_ENABLED=true || fail "server local did not start"
mkdir -p "$T/redis"
if ! command -v redis-server >/dev/null; then
  echo "redis-server is not installed: the Redis row is skipped."; echo
elif scripts/redis-test-server.sh start "$T/redis" >/dev/null 2>"$T/redis.err"; then
  if start redis GATEHOUSE_RATE_LIMIT_ENABLED=true GATEHOUSE_RATE_LIMIT_STORE_URL="$(cat "$T/redis/url")/0"; then
    KINDS+=(redis)
  else
    fail "server redis did not start"
  fi
else
  fail "redis-server did not start: $(tail -3 "$T/redis.err" | tr '\n' ' ')"
fi
[ -n "${ADDRS[off]:-}" ] && [ -n "${ADDRS[local]:-}" ] || { echo "no baseline"; exit 1; }

# Each limited server must answer 401 with the RateLimit headers; "off" without them.
for k in "${KINDS[@]}"; do
  h=$(timeout 10 curl -s -D - -o /dev/null -X POST -H 'content-type: application/json' -d '{}' "http://${ADDRS[$k]}/v1/password/change" || true)
  code=$(head -1 <<<"$h" | awk '{print $2}')
  has=$(grep -ci '^ratelimit-limit:' <<<"$h" || true)
  want=1; [ "$k" = off ] && want=0
  if [ "$code" != 401 ] || [ "$has" != "$want" ]; then fail "$k: answered $code with $has RateLimit-Limit header(s)"; fi
done

echo "### POST /v1/password/change, no token (401 at once): limiter off vs in-process vs Redis (rounds; ratio to off per round, median)"
echo
echo "| limiter | req/s per round | p99 ms per round | statuses (all rounds) | ratio to off per round | **median ratio** | load per round |"
echo "|---|---|---|---|---|---:|---|"
declare -A rps p99 sts lds
for r in $(seq 1 "$ROUNDS"); do
  for k in "${KINDS[@]}"; do
    lds[$k]="${lds[$k]:-}${lds[$k]:+ / }$(load)"
    if ! res=$(EMAIL=x PASSWORD=y WRK_PATH=/v1/password/change timeout 120 wrk -t1 -c"$CONNS" -d"$DUR" --latency \
        -s bench/login.lua "http://${ADDRS[$k]}" | grep '^RESULT'); then
      fail "wrk $k did not run"; continue
    fi
    rps[$k]="${rps[$k]:-} $(field rps "$res")"
    p99[$k]="${p99[$k]:-}${p99[$k]:+ / }$(awk "BEGIN{printf \"%.2f\", $(field p99_us "$res")/1000}")"
    sts[$k]="${sts[$k]:-}${sts[$k]:+ }$(field statuses "$res")"
    if grep -q '429' <<<"$(field statuses "$res")"; then fail "$k: the limit was reached (429s): raise it"; fi
  done
done
for k in "${KINDS[@]}"; do
  [ -n "${rps[$k]:-}" ] || continue
  case $k in
    off) what="off (\`rate_limit.enabled = false\`)" ;;
    local) what="in-process (sharded map, on the I/O thread)" ;;
    redis) what="Redis (Lua script, one round trip, on the limiter pool)" ;;
  esac
  ratios=$(paste -d' ' <(tr ' ' '\n' <<<"${rps[$k]}" | grep .) <(tr ' ' '\n' <<<"${rps[off]}" | grep .) | awk '{printf "%.1f\n", 100*$1/$2}')
  med=$(sort -n <<<"$ratios" | awk '{v[NR]=$1} END{printf "%.1f %%", (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}')
  echo "| $what | $(awk '{for(i=1;i<=NF;i++)printf "%s%.0f", (i>1?" / ":""), $i}' <<<"${rps[$k]}") | ${p99[$k]} | ${sts[$k]} | $(paste -sd/ <<<"$ratios" | sed 's|/| / |g') | **$med** | ${lds[$k]} |"
done
echo
echo "All requests come from 127.0.0.1, so each limited server counts them all on one key (the worst case for"
echo "contention: one shard lock, one Redis key). wrk (one thread), the servers and redis-server share the $(nproc) vCPUs."
echo
echo "Finished $(date -u +%Y-%m-%dT%H:%MZ), load average $(load)."
[ "$FAILED" -eq 0 ]
