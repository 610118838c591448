#!/usr/bin/env bash
# bench/run.sh — `make bench`: Gatehouse's performance numbers, measured in ONE run so that
# every comparison is a ratio taken on the same (noisy, 2-vCPU) machine at the same time.
#
#   1. password_bench (Google Benchmark): Argon2id / bcrypt cost per hash and verify, raw
#      libsodium, and the multi-threaded verify rate on every core (the hash pool's ceiling).
#   2. wrk GET /healthz: req/s and p99.
#   3. wrk POST /v1/login (a pre-registered user, right password): logins/s vs the raw rate.
#   4. /healthz p99 while a login flood saturates the hash pool (idle vs flood), 503s counted.
#   5. RSS idle and with N open keep-alive connections (bench/conns.py); bytes per connection.
#   6. The Node/Express reference peer (/work/shared/anchors/node-seed-ref), same wrk settings:
#      /hello vs /healthz, /login (bcrypt-12) vs our /login with Argon2id and with bcrypt-12.
#
# Usage: bench/run.sh [--smoke]      (or BENCH_SMOKE=1; short durations, for CI)
# Knobs (environment): BUILD (build dir, default build), BENCH_DURATION (s, default 10; smoke 1),
#   BENCH_CONNS (wrk -c, 64), BENCH_WRK_THREADS (wrk -t, 1), BENCH_KEEPALIVE_CONNS (1000; smoke 100),
#   BENCH_PROBE_CONNS (light /healthz probe -c, 4), BENCH_LOGIN_TIMEOUT (wrk --timeout for logins, 30s),
#   BENCH_ROUNDS (rounds of /healthz-vs-/hello and of raw-rate/login, 2; smoke 1),
#   BENCH_FLOOD_CONNS (login flood -c, default BENCH_CONNS: saturates the pool, within its queue),
#   BENCH_OVERLOAD_CONNS (second flood -c, default 2 × BENCH_CONNS: beyond queue + threads → 503s),
#   ANCHOR_DIR (default /work/shared/anchors), BENCH_NODE_NODERS=0 skips the @node-rs/bcrypt variant.
# Output: a markdown report on stdout, also written to $BUILD/bench-report.md; logs of every
# step live in a temporary directory removed on exit (BENCH_KEEP_TMP=1 keeps it).
# Exit status: non-zero if a step fails to run. Missed targets are reported, never asserted.
# Every server is a direct child of this script, on 127.0.0.1 only, stopped by its own PID;
# every client command runs under `timeout`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_SRC=$ROOT/bench
BUILD_DIR=$ROOT/${BUILD:-build}
GH_BIN=$BUILD_DIR/cli/gatehouse
PW_BENCH=$BUILD_DIR/bench/password_bench
REPORT_OUT=$BUILD_DIR/bench-report.md
PY=/usr/bin/python3

SMOKE=${BENCH_SMOKE:-0}
for arg in "$@"; do
  case "$arg" in
    --smoke) SMOKE=1 ;;
    -h | --help) sed -n '2,29p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

if [[ $SMOKE == 1 ]]; then
  DUR=${BENCH_DURATION:-1}
  KEEPALIVE_N=${BENCH_KEEPALIVE_CONNS:-100}
  GB_MIN_TIME=0.01
  RAW_MIN_TIME=0.01
  AB_ROUNDS=${BENCH_ROUNDS:-1}
  LOGIN_ROUNDS=${BENCH_ROUNDS:-1}
  NPM_TIMEOUT=60
  LOGIN_DUR=${BENCH_DURATION:-3}  # a few slow bcrypt verifies must complete even on a loaded machine
  MODE="smoke (--smoke: ~1 s per load step, results are not meaningful)"
else
  DUR=${BENCH_DURATION:-10}
  KEEPALIVE_N=${BENCH_KEEPALIVE_CONNS:-1000}
  GB_MIN_TIME=${BENCH_GB_MIN_TIME:-0.5}
  RAW_MIN_TIME=2
  AB_ROUNDS=${BENCH_ROUNDS:-2}
  LOGIN_ROUNDS=${BENCH_ROUNDS:-2}
  NPM_TIMEOUT=300
  LOGIN_DUR=$DUR
  MODE="full"
fi
CONNS=${BENCH_CONNS:-64}
WRK_T=${BENCH_WRK_THREADS:-1}
PROBE_CONNS=${BENCH_PROBE_CONNS:-4}
FLOOD_CONNS=${BENCH_FLOOD_CONNS:-$CONNS}
OVERLOAD_CONNS=${BENCH_OVERLOAD_CONNS:-$((2 * CONNS))}
LOGIN_TIMEOUT=${BENCH_LOGIN_TIMEOUT:-30}
ANCHOR_DIR=${ANCHOR_DIR:-/work/shared/anchors}
NODE_NODERS=${BENCH_NODE_NODERS:-1}
NPROC=$(nproc)

for tool in wrk curl awk timeout; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done
[[ -x $PY ]] || { echo "run.sh: $PY not found" >&2; exit 1; }
[[ -x $GH_BIN ]] || { echo "run.sh: $GH_BIN not built (make build)" >&2; exit 1; }
[[ -x $PW_BENCH ]] || { echo "run.sh: $PW_BENCH not built (make build)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/gh-bench.XXXXXX)
REPORT=$TMP/report.md
: >"$REPORT"
PIDS=()          # every background child still to stop
CURRENT_STEP="setup"

# --- process helpers ------------------------------------------------------------------------
stop_pid() { # stop_pid PID [GRACE_S]: SIGTERM, up to GRACE_S (10) s, then SIGKILL; always reaped
  local pid=$1 grace=${2:-10}
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((grace * 10))); do
    [[ $(ps -o stat= -p "$pid" 2>/dev/null || true) =~ ^Z|^$ ]] && break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}
forget_pid() { # forget_pid PID: drop it from PIDS (it has been reaped)
  local keep=() p
  for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
}

on_exit() {
  local rc=$?
  set +e
  for p in "${PIDS[@]}"; do stop_pid "$p"; done
  if [[ $rc -ne 0 ]]; then
    {
      echo
      echo "**bench FAILED in step: $CURRENT_STEP (exit $rc)** — the report above is partial."
    } >>"$REPORT"
    echo "run.sh: step '$CURRENT_STEP' failed (exit $rc)" >&2
    mkdir -p "$BUILD_DIR" && cp "$REPORT" "$REPORT_OUT" 2>/dev/null
    echo "----- partial report -----" >&2
    cat "$REPORT" >&2
  fi
  if [[ ${BENCH_KEEP_TMP:-0} == 1 ]]; then
    echo "run.sh: logs kept in $TMP" >&2
  else
    rm -rf "$TMP"
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }
out() { echo "$*" >>"$REPORT"; }
step() { CURRENT_STEP=$1; log "$1"; echo "$(date +%s.%N) $1" >>"$TMP/steps.txt"; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
calc() { awk "BEGIN { printf \"%s\", $1 }"; }  # calc 'expr' (awk float arithmetic)
us_to_ms() { awk -v u="$1" 'BEGIN { printf "%.2f", u / 1000 }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1f %%", 100 * a / b; else printf "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3g×", a / b; else printf "n/a (peer: 0)" }'; }
fmt_num() { awk -v v="$1" 'BEGIN { printf "%.1f", v }'; }
met() { awk -v c="$1" 'BEGIN { print (c ? "**met**" : "**not met**") }'; }

free_port() {
  timeout 10 "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_http URL: poll until HTTP 200 (bounded, ~15 s)
wait_http() {
  for _ in $(seq 1 150); do
    [[ $(curl -s -m 2 -o /dev/null -w '%{http_code}' "$1" 2>/dev/null || true) == 200 ]] && return 0
    sleep 0.1
  done
  echo "no HTTP 200 from $1" >&2
  return 1
}

# post_json URL BODY EXPECTED_STATUS: bounded POST, fails unless the status matches
post_json() {
  local code
  code=$(timeout 130 curl -sS -m 120 -o "$TMP/post.body" -w '%{http_code}' \
    -H 'Content-Type: application/json' --data "$2" "$1")
  if [[ $code != "$3" ]]; then
    echo "POST $1 -> $code (expected $3): $(head -c 300 "$TMP/post.body")" >&2
    return 1
  fi
}

# start_gatehouse NAME [VAR=VALUE...]: sets GH_PID and GH_ADDR
start_gatehouse() {
  local name=$1
  shift
  mkdir -p "$TMP/$name/data"
  env GATEHOUSE_SERVER_ACCESS_LOG=false GATEHOUSE_RATE_LIMIT_ENABLED=false "$@" \
    "$GH_BIN" serve --dev --listen 127.0.0.1:0 --data-dir "$TMP/$name/data" >"$TMP/$name/log" 2>&1 &
  GH_PID=$!
  PIDS+=("$GH_PID")
  GH_ADDR=""
  for _ in $(seq 1 200); do
    GH_ADDR=$(grep '"msg":"listening"' "$TMP/$name/log" | grep -o '"address":"127\.0\.0\.1:[0-9]*"' |
      head -1 | cut -d'"' -f4 || true)
    [[ -n $GH_ADDR ]] && break
    kill -0 "$GH_PID" 2>/dev/null || { cat "$TMP/$name/log" >&2; echo "gatehouse ($name) exited" >&2; return 1; }
    sleep 0.1
  done
  [[ -n $GH_ADDR ]] || { cat "$TMP/$name/log" >&2; echo "gatehouse ($name) did not print its address" >&2; return 1; }
  wait_http "http://$GH_ADDR/healthz"
  log "gatehouse ($name) pid $GH_PID on $GH_ADDR"
}

# start_node NAME BCRYPT_IMPL: sets NODE_PID and NODE_ADDR
start_node() {
  local name=$1 impl=$2 port
  port=$(free_port)
  mkdir -p "$TMP/$name"
  env JWT_SECRET="$(openssl rand -hex 32)" LOGIN_RATE_LIMIT=1000000000 PORT="$port" HOST=127.0.0.1 \
    BCRYPT_IMPL="$impl" node "$NODE_DIR/server.js" >"$TMP/$name/log" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  NODE_ADDR=127.0.0.1:$port
  wait_http "http://$NODE_ADDR/hello"
  log "node-seed-ref ($name, $impl) pid $NODE_PID on $NODE_ADDR"
}

# run_wrk OUT CONNS DURATION_S TIMEOUT_S SCRIPT URL PATH: one bounded wrk run, RESULT line checked
run_wrk() {
  local outf=$1 conns=$2 dur=$3 tmo=$4 script=$5 url=$6 path=$7
  env WRK_PATH="$path" timeout $((dur + tmo + 30)) \
    wrk -t"$WRK_T" -c"$conns" -d"${dur}s" --timeout "${tmo}s" --latency -s "$BENCH_SRC/$script" "$url" \
    >"$outf" 2>&1
  grep -q '^RESULT ' "$outf" || { cat "$outf" >&2; echo "wrk wrote no RESULT line ($outf)" >&2; return 1; }
}
# R FILE KEY: a value from a wrk RESULT line
R() { sed -n "s/^RESULT .*\\b$2=\\([^ ]*\\).*/\\1/p" "$1"; }
# STATUS FILE CODE: responses with that status (login scripts count them)
STATUS() {
  local s
  s=$(R "$1" statuses)
  awk -v s="$s" -v c="$2" 'BEGIN { n = split(s, a, ","); v = 0;
    for (i = 1; i <= n; i++) { split(a[i], kv, ":"); if (kv[1] == c) v = kv[2] } print v }'
}
# rate of 200 responses per second in a wrk run
OK_RATE() { awk -v n="$(STATUS "$1" 200)" -v d="$(R "$1" duration_s)" 'BEGIN { printf "%.2f", (d > 0 ? n / d : 0) }'; }
# wrk errors summary
ERRS() {
  local f=$1
  echo "conn $(R "$f" err_connect), read $(R "$f" err_read), write $(R "$f" err_write), status $(R "$f" err_status), timeout $(R "$f" err_timeout)"
}
# require_requests FILE: a load step that completed nothing did not run
require_requests() {
  [[ $(R "$1" requests) -gt 0 ]] || { cat "$1" >&2; echo "no request completed ($1)" >&2; return 1; }
}

cpu_sample() { # cpu_sample SECONDS -> "busy% steal%" of the whole machine over that interval
  local a b
  a=$(head -1 /proc/stat)
  sleep "$1"
  b=$(head -1 /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN { split(a, x); split(b, y); t = 0;
    for (i = 2; i <= 9; i++) t += y[i] - x[i];
    idle = (y[5] - x[5]) + (y[6] - x[6]); steal = y[9] - x[9];
    if (t <= 0) t = 1; printf "%.0f %% busy, %.0f %% steal", 100 * (t - idle) / t, 100 * steal / t }'
}
busy_procs() { # other processes using CPU right now (top, second sample), as a short list
  timeout 10 top -b -n 2 -d 1 -w 200 2>/dev/null |
    awk '/^top -/ { n++ } n == 2 && $1 ~ /^[0-9]+$/ && $9 + 0 >= 5 { printf "%s%s (%s %%)", sep, $12, $9; sep = ", " }' || true
}

# wait_pool_idle ADDR: wait (bounded, 60 s) until the hash pool has no queued or running job, so
# that jobs left over by a finished wrk run (its connections closed, their hashes still queued)
# neither fill the queue of the next run nor steal CPU from the next measurement.
wait_pool_idle() {
  local m q b
  for _ in $(seq 1 600); do
    m=$(timeout 10 curl -s -m 5 "http://$1/metrics" || true)
    q=$(awk '$1 == "gatehouse_hash_pool_queue_depth" {print $2}' <<<"$m")
    b=$(awk '$1 == "gatehouse_hash_pool_busy" {print $2}' <<<"$m")
    [[ ${q:-x} == 0 && ${b:-x} == 0 ]] && return 0
    sleep 0.1
  done
  echo "hash pool of $1 did not drain (queue ${q:-?}, busy ${b:-?})" >&2
  return 1
}

# raw_rate BENCHMARK OUTFILE: one password_bench run of a *_verify_mt benchmark
#   -> "verifies/s CPU-ms-per-verify"
raw_rate() {
  timeout 300 "$PW_BENCH" --benchmark_filter="^$1" --benchmark_min_time="$RAW_MIN_TIME" \
    --benchmark_out="$2.json" --benchmark_out_format=json >"$2.txt" 2>&1 || { cat "$2.txt" >&2; return 1; }
  echo "$("$PY" "$BENCH_SRC/gbench_summary.py" rate "$2.json" "$1") $("$PY" "$BENCH_SRC/gbench_summary.py" cpu_ms "$2.json" "$1")"
}

CLK_TCK=$(getconf CLK_TCK)
# proc_cpu PID -> "user_ticks sys_ticks" of the whole process (all threads)
proc_cpu() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
logins_ok() { # gatehouse_logins_total{outcome="success"} of $GH_ADDR
  timeout 10 curl -s -m 5 "http://$GH_ADDR/metrics" |
    awk '/^gatehouse_logins_total\{outcome="success"\}/ { v = $2 } END { print v + 0 }'
}

# login_rounds NAME BENCHMARK ROUNDS: ROUNDS × [drain, raw rate, wrk POST /v1/login], then a last
# raw rate, all against the running gatehouse ($GH_PID at $GH_ADDR). The raw rate is measured right
# before and after every login run because the CPU these VMs get drifts within seconds.
# Also the CPU cost: the server's CPU time (all threads, user + sys, /proc/PID/stat) from the start
# of each login run until its pool has drained, per successful login (server metric), against the
# benchmark's CPU time per verify — a ratio that other load on the machine barely moves.
# Sets LR_RATE (logins/s, 200s only, over all rounds), LR_RAW (mean raw rate), LR_ROWS (table rows),
# LR_STATUSES, LR_P50, LR_P99 (mean of the rounds), LR_FILES, LR_CPU_MS (server CPU ms per login),
# LR_CPU_USER_MS, LR_CPU_SYS_MS, LR_RAW_CPU_MS (mean benchmark CPU ms per verify).
login_rounds() {
  local name=$1 bench=$2 rounds=$3 r raws=() rcpus=() f x c0 c1 s0 s1
  local ut=0 st=0 ok=0
  LR_ROWS="" LR_FILES=()
  for r in $(seq 1 "$rounds"); do
    wait_pool_idle "$GH_ADDR"
    x=$(raw_rate "$bench" "$TMP/raw_${name}_$r")
    raws+=("${x% *}") rcpus+=("${x#* }")
    f=$TMP/login_${name}_$r.txt
    c0=$(proc_cpu "$GH_PID") s0=$(logins_ok)
    run_wrk "$f" "$CONNS" "$LOGIN_DUR" "$LOGIN_TIMEOUT" login.lua "http://$GH_ADDR" /v1/login
    require_requests "$f"
    wait_pool_idle "$GH_ADDR"
    c1=$(proc_cpu "$GH_PID") s1=$(logins_ok)
    ut=$((ut + ${c1% *} - ${c0% *})) st=$((st + ${c1#* } - ${c0#* })) ok=$((ok + s1 - s0))
    echo "$r $(((${c1% *} - ${c0% *}) + (${c1#* } - ${c0#* }))) $((s1 - s0))" >>"$TMP/cpu_${name}.txt"
    LR_FILES+=("$f")
  done
  x=$(raw_rate "$bench" "$TMP/raw_${name}_end")
  raws+=("${x% *}") rcpus+=("${x#* }")
  for r in $(seq 1 "$rounds"); do
    f=${LR_FILES[$((r - 1))]}
    local around cpu_row raw_cpu_row
    around=$(calc "(${raws[$((r - 1))]}+${raws[$r]})/2")
    raw_cpu_row=$(calc "(${rcpus[$((r - 1))]}+${rcpus[$r]})/2")
    cpu_row=$(awk -v r="$r" -v hz="$CLK_TCK" '$1 == r { printf "%.2f", ($3 > 0 ? 1000 * $2 / hz / $3 : 0) }' "$TMP/cpu_${name}.txt")
    LR_ROWS+="| $r | $(fmt_num "${raws[$((r - 1))]}") | $(fmt_num "$(OK_RATE "$f")") | $(fmt_num "${raws[$r]}") | $(pct "$(OK_RATE "$f")" "$around") | $cpu_row | $(printf '%.2f' "$raw_cpu_row") | $(pct "$raw_cpu_row" "$cpu_row") | $(R "$f" statuses) | $(us_to_ms "$(R "$f" p99_us)") |"$'\n'
  done
  LR_RAW=$(printf '%s\n' "${raws[@]}" | awk '{ s += $1; n++ } END { printf "%.3f", s / n }')
  LR_RAW_CPU_MS=$(printf '%s\n' "${rcpus[@]}" | awk '{ s += $1; n++ } END { printf "%.3f", s / n }')
  LR_CPU_MS=$(awk -v t=$((ut + st)) -v n="$ok" -v hz="$CLK_TCK" 'BEGIN { printf "%.3f", (n > 0 ? 1000 * t / hz / n : 0) }')
  LR_CPU_USER_MS=$(awk -v t="$ut" -v n="$ok" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (n > 0 ? 1000 * t / hz / n : 0) }')
  LR_CPU_SYS_MS=$(awk -v t="$st" -v n="$ok" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", (n > 0 ? 1000 * t / hz / n : 0) }')
  LR_RATE=$(for f in "${LR_FILES[@]}"; do echo "$(STATUS "$f" 200) $(R "$f" duration_s)"; done |
    awk '{ n += $1; d += $2 } END { printf "%.3f", (d > 0 ? n / d : 0) }')
  LR_STATUSES=$(SUM_STATUSES "${LR_FILES[@]}")
  LR_P50=$(AGG_MEAN p50_us "${LR_FILES[@]}")
  LR_P99=$(AGG_MEAN p99_us "${LR_FILES[@]}")
}

overloaded_count() { # gatehouse_logins_total{outcome="overloaded"} of $GH_ADDR (0 if absent)
  timeout 10 curl -s -m 5 "http://$GH_ADDR/metrics" |
    awk '/^gatehouse_logins_total\{outcome="overloaded"\}/ { v = $2 } END { print v + 0 }'
}

# run_flood NAME FLOOD_CONNS PROBE_CONNS...: a wrk POST /v1/login flood (right password) against
# $GH_ADDR, with one /healthz probe of DUR seconds per PROBE_CONNS run one after the other inside
# it (the flood starts 1 s earlier and ends ~2 s later). Files: $TMP/NAME.txt (the flood),
# $TMP/NAME_probe_cN.txt. Sets FL_OVERLOADED (the server's count of 503-refused logins during it).
run_flood() {
  local name=$1 fconns=$2 before c
  shift 2
  local fdur=$(($# * DUR + 3))
  wait_pool_idle "$GH_ADDR"
  before=$(overloaded_count)
  env WRK_PATH=/v1/login timeout $((fdur + LOGIN_TIMEOUT + 30)) \
    wrk -t"$WRK_T" -c"$fconns" -d"${fdur}s" --timeout "${LOGIN_TIMEOUT}s" --latency \
    -s "$BENCH_SRC/login.lua" "http://$GH_ADDR" >"$TMP/$name.txt" 2>&1 &
  FLOOD_PID=$!
  PIDS+=("$FLOOD_PID")
  sleep 1
  for c in "$@"; do
    run_wrk "$TMP/${name}_probe_c$c.txt" "$c" "$DUR" 2 get.lua "http://$GH_ADDR" /healthz
    require_requests "$TMP/${name}_probe_c$c.txt"
  done
  wait "$FLOOD_PID" || { cat "$TMP/$name.txt" >&2; echo "login flood wrk ($name) failed" >&2; return 1; }
  forget_pid "$FLOOD_PID"
  grep -q '^RESULT ' "$TMP/$name.txt" || { cat "$TMP/$name.txt" >&2; echo "flood wrk wrote no RESULT" >&2; return 1; }
  require_requests "$TMP/$name.txt"
  wait_pool_idle "$GH_ADDR"
  FL_OVERLOADED=$(($(overloaded_count) - before))
}

# Aggregates over several wrk RESULT files
AGG_RPS() { for f in "$@"; do echo "$(R "$f" requests) $(R "$f" duration_s)"; done |
  awk '{ n += $1; d += $2 } END { printf "%.2f", (d > 0 ? n / d : 0) }'; }
AGG_MEAN() { local k=$1; shift; for f in "$@"; do R "$f" "$k"; done | awk '{ s += $1; n++ } END { printf "%.0f", s / n }'; }
AGG_MAX() { local k=$1; shift; for f in "$@"; do R "$f" "$k"; done | awk '$1 > m { m = $1 } END { printf "%.0f", m }'; }
AGG_ERRS() {
  local k out=""
  for k in connect read write status timeout; do
    out+="${out:+, }$k $(for f in "$@"; do R "$f" "err_$k"; done | awk '{ s += $1 } END { print s + 0 }')"
  done
  echo "$out"
}
SUM_STATUSES() { for f in "$@"; do R "$f" statuses | tr ',' '\n'; done |
  awk -F: 'NF == 2 { c[$1] += $2 } END { for (k in c) print k ":" c[k] }' | sort -n | paste -sd, -; }

EMAIL="bench-$(date +%s)-$$@example.com"
PASSWORD="violet-harbor-tangerine-42"
export EMAIL PASSWORD
LOGIN_BODY="{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}"

# --- header ---------------------------------------------------------------------------------
step "machine"
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=$(git -C "$ROOT" --no-optional-locks status --porcelain --untracked-files=no 2>/dev/null | grep -c . || true)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
CPU_START=$(cpu_sample 1)
PROCS_START=$(busy_procs)
START_TS=$(date -u +%Y-%m-%dT%H:%M:%SZ)
START_S=$SECONDS

out "# Gatehouse benchmark report"
out ""
out "- command: \`$([[ $SMOKE == 1 ]] && echo "bench/run.sh --smoke" || echo "make bench")\`; mode: $MODE"
out "- date: $START_TS; commit $COMMIT$([[ $DIRTY -gt 0 ]] && echo " (+$DIRTY modified tracked files in the tree)")"
out "- machine: $NPROC vCPU ($CPU_MODEL), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -r)"
out "- tools: $(wrk -v 2>&1 | head -1 | awk '{print "wrk", $2}'), node $(node -v 2>/dev/null || echo absent), $($PY --version 2>&1)"
out "- wrk settings: -t$WRK_T -c$CONNS -d${DUR}s --latency (logins: --timeout ${LOGIN_TIMEOUT}s); light probe -c$PROBE_CONNS; keep-alive connections: $KEEPALIVE_N"
out "- gatehouse: \`serve --dev\`, SQLite store, access log off, hash pool = default (hardware_concurrency = $NPROC threads), queue limit 64"
out "- load before the run: loadavg $LOAD_START; 1 s sample: $CPU_START; busy processes: ${PROCS_START:-none}"
out ""

# CPU used by this run's processes vs all others, sampled every second (see Conditions)
timeout 3600 "$PY" "$BENCH_SRC/cpu_sampler.py" sample $$ "$TMP/cpu.txt" 1 3500 >/dev/null 2>&1 &
SAMPLER_PID=$!
PIDS+=("$SAMPLER_PID")

# --- 1. password_bench ----------------------------------------------------------------------
step "1. password_bench"
timeout 900 "$PW_BENCH" --benchmark_min_time="$GB_MIN_TIME" \
  --benchmark_out="$TMP/pw.json" --benchmark_out_format=json >"$TMP/pw.txt" 2>&1 ||
  { cat "$TMP/pw.txt" >&2; exit 1; }
RAW_A1=$("$PY" "$BENCH_SRC/gbench_summary.py" rate "$TMP/pw.json" argon2id_verify_mt)
RAW_B=$("$PY" "$BENCH_SRC/gbench_summary.py" rate "$TMP/pw.json" bcrypt_verify_mt)
A_VERIFY_MS=$("$PY" "$BENCH_SRC/gbench_summary.py" ms "$TMP/pw.json" argon2id_verify)
S_VERIFY_MS=$("$PY" "$BENCH_SRC/gbench_summary.py" ms "$TMP/pw.json" sodium_pwhash_str_verify)
B_VERIFY_MS=$("$PY" "$BENCH_SRC/gbench_summary.py" ms "$TMP/pw.json" bcrypt_verify)
out "## 1. Password hashing (Google Benchmark \`password_bench\`, min time ${GB_MIN_TIME} s)"
out ""
out "| benchmark | wall ms/op | CPU ms/op | iterations | ops/s (wall) |"
out "|---|---:|---:|---:|---:|"
"$PY" "$BENCH_SRC/gbench_summary.py" table "$TMP/pw.json" >>"$REPORT"
out ""
out "\`*_verify_mt/threads:$NPROC\`: one verify loop per core, wall time per verify across all threads;"
out "its ops/s is the **raw hash rate of the worker pool**: Argon2id $(fmt_num "$RAW_A1") verifies/s,"
out "bcrypt-12 $(fmt_num "$RAW_B") verifies/s (one core: $(calc "1000/$A_VERIFY_MS" | xargs printf '%.1f') and $(calc "1000/$B_VERIFY_MS" | xargs printf '%.2f')/s)."
out "PasswordHasher vs raw libsodium (Argon2id verify, wall): $(calc "100*($A_VERIFY_MS-$S_VERIFY_MS)/$S_VERIFY_MS" | xargs printf '%+.1f') % (one short run each; on these VMs ±10 % is noise)."
out ""

# --- reference peer: install first, so npm's CPU use does not overlap a measurement ---------
NODE_OK=0
NODE_NOTE=""
NODE_INSTALL=""
NODE_SRC=$ANCHOR_DIR/node-seed-ref
if [[ -d $NODE_SRC ]]; then
  step "6a. node-seed-ref: install its node_modules (in a copy)"
  NODE_DIR=$TMP/node-seed-ref
  cp -r "$NODE_SRC" "$NODE_DIR"
  chmod -R u+w "$NODE_DIR"
  rm -rf "$NODE_DIR/node_modules"
  # `npm ci` first; its lock file lacks @node-rs/bcrypt's optional per-platform entries, which
  # npm 10+ reports as out of sync, so fall back to `npm install` (keeps the locked versions).
  if (cd "$NODE_DIR" && timeout "$NPM_TIMEOUT" npm ci --no-audit --no-fund --loglevel=error) >"$TMP/npm.log" 2>&1; then
    NODE_OK=1 NODE_INSTALL="npm ci"
  elif (cd "$NODE_DIR" && timeout "$NPM_TIMEOUT" npm install --no-audit --no-fund --loglevel=error) >>"$TMP/npm.log" 2>&1; then
    NODE_OK=1 NODE_INSTALL="npm install (npm ci refused the lock file as out of sync)"
  elif [[ $SMOKE == 1 ]]; then
    NODE_NOTE="skipped: its node_modules could not be installed within ${NPM_TIMEOUT} s (smoke mode)"
    log "$NODE_NOTE"
  else
    tail -30 "$TMP/npm.log" >&2
    echo "could not install the reference peer's node_modules" >&2
    exit 1
  fi
else
  NODE_NOTE="skipped: $NODE_SRC is absent"
  log "$NODE_NOTE"
fi

# --- gatehouse, Argon2id (the default) ------------------------------------------------------
step "5. gatehouse start, idle RSS"
start_gatehouse gh-argon2id
sleep 0.5
RSS_IDLE=$(rss_kb "$GH_PID")

step "5. RSS with $KEEPALIVE_N keep-alive connections"
RSS_BEFORE_CONNS=$(rss_kb "$GH_PID")
timeout 180 "$PY" "$BENCH_SRC/conns.py" 127.0.0.1 "${GH_ADDR##*:}" "$KEEPALIVE_N" /healthz 120 \
  >"$TMP/conns.log" 2>&1 &
CONNS_PID=$!
PIDS+=("$CONNS_PID")
for _ in $(seq 1 600); do
  grep -q '^READY\|^FAILED' "$TMP/conns.log" && break
  kill -0 "$CONNS_PID" 2>/dev/null || break
  sleep 0.1
done
grep -q '^READY' "$TMP/conns.log" || { cat "$TMP/conns.log" >&2; echo "conns.py did not open its connections" >&2; exit 1; }
sleep 0.5
RSS_CONNS=$(rss_kb "$GH_PID")
SERVER_FDS=$(find "/proc/$GH_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
kill -TERM "$CONNS_PID"
wait "$CONNS_PID" || { cat "$TMP/conns.log" >&2; echo "conns.py failed" >&2; exit 1; }
forget_pid "$CONNS_PID"
ALIVE=$(sed -n 's/^CLOSED alive_at_close=\([0-9]*\).*/\1/p' "$TMP/conns.log")
sleep 1
RSS_AFTER_CONNS=$(rss_kb "$GH_PID")
PER_CONN=$(calc "($RSS_CONNS-$RSS_BEFORE_CONNS)*1024/$KEEPALIVE_N" | xargs printf '%.0f')

step "register a user (gatehouse)"
post_json "http://$GH_ADDR/v1/register" "$LOGIN_BODY" 201
post_json "http://$GH_ADDR/v1/login" "$LOGIN_BODY" 200

if [[ $NODE_OK == 1 ]]; then
  step "6b. node-seed-ref (bcryptjs) start, idle RSS, register"
  start_node node-bcryptjs bcryptjs
  sleep 0.5
  NODE_RSS_IDLE=$(rss_kb "$NODE_PID")
  post_json "http://$NODE_ADDR/register" "$LOGIN_BODY" 201
  post_json "http://$NODE_ADDR/login" "$LOGIN_BODY" 200
fi

# 2 (+6c): ours and theirs alternate, AB_ROUNDS times, so that drift hits both alike
HZ_FILES=() HELLO_FILES=()
for r in $(seq 1 "$AB_ROUNDS"); do
  step "2. wrk GET /healthz (gatehouse), round $r/$AB_ROUNDS"
  run_wrk "$TMP/healthz_$r.txt" "$CONNS" "$DUR" 2 get.lua "http://$GH_ADDR" /healthz
  require_requests "$TMP/healthz_$r.txt"
  HZ_FILES+=("$TMP/healthz_$r.txt")
  if [[ $NODE_OK == 1 ]]; then
    step "6c. wrk GET /hello (node-seed-ref), round $r/$AB_ROUNDS"
    run_wrk "$TMP/hello_$r.txt" "$CONNS" "$DUR" 2 get.lua "http://$NODE_ADDR" /hello
    require_requests "$TMP/hello_$r.txt"
    HELLO_FILES+=("$TMP/hello_$r.txt")
  fi
done
step "4a. wrk GET /healthz light probe (-c$PROBE_CONNS), idle"
run_wrk "$TMP/probe_idle.txt" "$PROBE_CONNS" "$DUR" 2 get.lua "http://$GH_ADDR" /healthz
require_requests "$TMP/probe_idle.txt"

step "3. login rounds (Argon2id): raw rate / wrk POST /v1/login, $LOGIN_ROUNDS round(s)"
login_rounds argon2id argon2id_verify_mt "$LOGIN_ROUNDS"
LOGIN_RATE=$LR_RATE RAW_A=$LR_RAW LOGIN_ROWS=$LR_ROWS LOGIN_STATUSES=$LR_STATUSES
LOGIN_P50=$LR_P50 LOGIN_P99=$LR_P99 LOGIN_CPU=$LR_CPU_MS RAW_A_CPU=$LR_RAW_CPU_MS
LOGIN_CPU_U=$LR_CPU_USER_MS LOGIN_CPU_S=$LR_CPU_SYS_MS

step "4b. login flood (-c$FLOOD_CONNS) + /healthz probes -c$CONNS and -c$PROBE_CONNS"
run_flood flood "$FLOOD_CONNS" "$CONNS" "$PROBE_CONNS"
FLOOD_OVERLOADED=$FL_OVERLOADED
step "4c. overload flood (-c$OVERLOAD_CONNS, beyond the queue) + /healthz probe -c$PROBE_CONNS"
run_flood overload "$OVERLOAD_CONNS" "$PROBE_CONNS"
OVERLOAD_OVERLOADED=$FL_OVERLOADED
wait_pool_idle "$GH_ADDR"
RSS_AFTER_LOAD=$(rss_kb "$GH_PID")
stop_pid "$GH_PID"

if [[ $NODE_OK == 1 ]]; then
  step "6d. wrk POST /login (node-seed-ref, bcryptjs)"
  run_wrk "$TMP/node_login.txt" "$CONNS" "$LOGIN_DUR" "$LOGIN_TIMEOUT" login.lua "http://$NODE_ADDR" /login
  NODE_RSS_AFTER=$(rss_kb "$NODE_PID")
  stop_pid "$NODE_PID" 2
fi

step "6e. gatehouse with bcrypt-12: raw rate / wrk POST /v1/login"
start_gatehouse gh-bcrypt GATEHOUSE_PASSWORD_ALGORITHM=bcrypt GATEHOUSE_PASSWORD_BCRYPT_COST=12
post_json "http://$GH_ADDR/v1/register" "$LOGIN_BODY" 201
post_json "http://$GH_ADDR/v1/login" "$LOGIN_BODY" 200
login_rounds bcrypt bcrypt_verify_mt 1
LOGIN_B_RATE=$LR_RATE RAW_B2=$LR_RAW LOGIN_B_ROWS=$LR_ROWS LOGIN_B_STATUSES=$LR_STATUSES
LOGIN_B_P50=$LR_P50 LOGIN_B_P99=$LR_P99 LOGIN_B_CPU=$LR_CPU_MS RAW_B_CPU=$LR_RAW_CPU_MS
LOGIN_B_CPU_U=$LR_CPU_USER_MS LOGIN_B_CPU_S=$LR_CPU_SYS_MS
stop_pid "$GH_PID"

if [[ $NODE_OK == 1 && $NODE_NODERS == 1 ]]; then
  step "6f. node-seed-ref with @node-rs/bcrypt: wrk POST /login"
  start_node node-noders noders
  sleep 0.5
  NODERS_RSS_IDLE=$(rss_kb "$NODE_PID")
  post_json "http://$NODE_ADDR/register" "$LOGIN_BODY" 201
  post_json "http://$NODE_ADDR/login" "$LOGIN_BODY" 200
  run_wrk "$TMP/node_login_noders.txt" "$CONNS" "$LOGIN_DUR" "$LOGIN_TIMEOUT" login.lua "http://$NODE_ADDR" /login
  stop_pid "$NODE_PID" 2
fi

step "report"
stop_pid "$SAMPLER_PID"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
CPU_END=$(cpu_sample 1)
PROCS_END=$(busy_procs)

# 2. /healthz
HZ_RPS=$(AGG_RPS "${HZ_FILES[@]}")
HZ_P99=$(AGG_MEAN p99_us "${HZ_FILES[@]}")
out "## 2. GET /healthz (wrk -t$WRK_T -c$CONNS -d${DUR}s, $AB_ROUNDS round(s) alternating with the peer's /hello)"
out ""
out "| server | round | req/s | p50 ms | p99 ms | max ms | errors |"
out "|---|---|---:|---:|---:|---:|---|"
for f in "${HZ_FILES[@]}"; do
  out "| gatehouse /healthz | $(basename "$f" .txt | sed 's/.*_//') | $(fmt_num "$(R "$f" rps)") | $(us_to_ms "$(R "$f" p50_us)") | $(us_to_ms "$(R "$f" p99_us)") | $(us_to_ms "$(R "$f" max_us)") | $(ERRS "$f") |"
done
out "| **gatehouse /healthz** | all | **$(fmt_num "$HZ_RPS")** | $(us_to_ms "$(AGG_MEAN p50_us "${HZ_FILES[@]}")") | **$(us_to_ms "$HZ_P99")** | $(us_to_ms "$(AGG_MAX max_us "${HZ_FILES[@]}")") | $(AGG_ERRS "${HZ_FILES[@]}") |"
if [[ $NODE_OK == 1 ]]; then
  HELLO_RPS=$(AGG_RPS "${HELLO_FILES[@]}")
  HELLO_P99=$(AGG_MEAN p99_us "${HELLO_FILES[@]}")
  for f in "${HELLO_FILES[@]}"; do
    out "| node-seed-ref /hello | $(basename "$f" .txt | sed 's/.*_//') | $(fmt_num "$(R "$f" rps)") | $(us_to_ms "$(R "$f" p50_us)") | $(us_to_ms "$(R "$f" p99_us)") | $(us_to_ms "$(R "$f" max_us)") | $(ERRS "$f") |"
  done
  out "| **node-seed-ref /hello** | all | **$(fmt_num "$HELLO_RPS")** | $(us_to_ms "$(AGG_MEAN p50_us "${HELLO_FILES[@]}")") | **$(us_to_ms "$HELLO_P99")** | $(us_to_ms "$(AGG_MAX max_us "${HELLO_FILES[@]}")") | $(AGG_ERRS "${HELLO_FILES[@]}") |"
fi
out ""
out "\"all\": req/s = all requests / all seconds; p50/p99 = mean of the rounds; max = max."
out ""

# 3. logins
LOGIN_PCT=$(pct "$LOGIN_RATE" "$RAW_A")
LOGIN_MET=$(awk -v a="$LOGIN_RATE" -v b="$RAW_A" 'BEGIN { print (b > 0 && a / b >= 0.95) }')
LOGIN_CPU_PCT=$(pct "$RAW_A_CPU" "$LOGIN_CPU")
LOGIN_CPU_MET=$(awk -v a="$RAW_A_CPU" -v b="$LOGIN_CPU" 'BEGIN { print (b > 0 && a / b >= 0.95) }')
out "## 3. POST /v1/login vs the raw hash rate of the pool (wrk -t$WRK_T -c$CONNS -d${LOGIN_DUR}s per round)"
out ""
out "The raw rate (\`*_verify_mt\`, $NPROC threads, min time ${RAW_MIN_TIME} s) is re-measured right before and after every"
out "login run, with the server's hash pool drained, because the CPU these VMs get drifts within seconds. The CPU columns"
out "compare cost instead of speed: the server's CPU time (all threads, user + sys) from the start of a login run until its"
out "pool has drained, per successful login, against the benchmark's CPU time per verify; other load barely moves them."
out ""
out "| gatehouse | round | raw before /s | logins/s (200s) | raw after /s | login / mean(raw) | server CPU ms / login | raw CPU ms / verify | raw / server CPU | statuses | p99 ms |"
out "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"
while IFS= read -r row; do [[ -n $row ]] && out "| Argon2id m=19 MiB t=2 ${row}"; done <<<"$LOGIN_ROWS"
while IFS= read -r row; do [[ -n $row ]] && out "| bcrypt cost 12 ${row}"; done <<<"$LOGIN_B_ROWS"
out ""
out "| gatehouse | logins/s | raw pool verifies/s (mean of all raw runs) | **login / raw** | server CPU ms / login (user + sys) | raw CPU ms / verify | **raw / server CPU** | p50 ms | p99 ms | statuses |"
out "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
out "| **Argon2id** | **$(fmt_num "$LOGIN_RATE")** | $(fmt_num "$RAW_A") | **$LOGIN_PCT** | $(printf '%.2f' "$LOGIN_CPU") ($LOGIN_CPU_U + $LOGIN_CPU_S) | $(printf '%.2f' "$RAW_A_CPU") | **$LOGIN_CPU_PCT** | $(us_to_ms "$LOGIN_P50") | $(us_to_ms "$LOGIN_P99") | $LOGIN_STATUSES |"
out "| bcrypt-12 | $(fmt_num "$LOGIN_B_RATE") | $(fmt_num "$RAW_B2") | $(pct "$LOGIN_B_RATE" "$RAW_B2") | $(printf '%.2f' "$LOGIN_B_CPU") ($LOGIN_B_CPU_U + $LOGIN_B_CPU_S) | $(printf '%.2f' "$RAW_B_CPU") | $(pct "$RAW_B_CPU" "$LOGIN_B_CPU") | $(us_to_ms "$LOGIN_B_P50") | $(us_to_ms "$LOGIN_B_P99") | $LOGIN_B_STATUSES |"
out ""
out "Target: Argon2id logins/s ≥ 95 % of the raw pool rate — $(met "$LOGIN_MET") by throughput ($LOGIN_PCT);"
out "by CPU cost per login $(met "$LOGIN_CPU_MET") ($LOGIN_CPU_PCT)."
out "Login latencies are those of a closed loop of $CONNS connections queueing for $NPROC hash threads (≈ $CONNS / rate)."
out ""

# 4. flood
PI=$TMP/probe_idle.txt HF=$TMP/flood_probe_c$CONNS.txt PF=$TMP/flood_probe_c$PROBE_CONNS.txt F=$TMP/flood.txt
PO=$TMP/overload_probe_c$PROBE_CONNS.txt O=$TMP/overload.txt
dms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.2f", (a - b) / 1000 }'; }
FLOOD_MET=$(awk -v a="$(R "$PF" p99_us)" -v b="$(R "$PI" p99_us)" 'BEGIN { print (a - b <= 5000) }')
OVERLOAD_MET=$(awk -v a="$(R "$PO" p99_us)" -v b="$(R "$PI" p99_us)" 'BEGIN { print (a - b <= 5000) }')
out "## 4. GET /healthz while a login flood saturates the hash pool"
out ""
out "Floods: wrk -t$WRK_T POST /v1/login (Argon2id, right password), -c$FLOOD_CONNS (fills the pool: $NPROC hashing + up to"
out "$((FLOOD_CONNS - NPROC)) queued, within the queue limit of 64) and -c$OVERLOAD_CONNS (more than $((64 + NPROC)): the excess is refused with 503,"
out "and those connections retry at once). The /healthz probes (-d${DUR}s each) run inside the flood; idle -c$CONNS figures are the step-2 rounds."
out ""
out "| /healthz probe | idle req/s | idle p99 ms | flood -c$FLOOD_CONNS: req/s | p99 ms | p99 change | max ms | overload -c$OVERLOAD_CONNS: req/s | p99 ms | p99 change | max ms |"
out "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
out "| -c$CONNS (saturating) | $(fmt_num "$HZ_RPS") | $(us_to_ms "$HZ_P99") | $(fmt_num "$(R "$HF" rps)") | $(us_to_ms "$(R "$HF" p99_us)") | $(dms "$(R "$HF" p99_us)" "$HZ_P99") | $(us_to_ms "$(R "$HF" max_us)") | – | – | – | – |"
out "| -c$PROBE_CONNS (light) | $(fmt_num "$(R "$PI" rps)") | $(us_to_ms "$(R "$PI" p99_us)") | $(fmt_num "$(R "$PF" rps)") | $(us_to_ms "$(R "$PF" p99_us)") | $(dms "$(R "$PF" p99_us)" "$(R "$PI" p99_us)") | $(us_to_ms "$(R "$PF" max_us)") | $(fmt_num "$(R "$PO" rps)") | $(us_to_ms "$(R "$PO" p99_us)") | $(dms "$(R "$PO" p99_us)" "$(R "$PI" p99_us)") | $(us_to_ms "$(R "$PO" max_us)") |"
out ""
out "| flood | logins/s (200s) | statuses | 503s (wrk) | 503s (server metric \`overloaded\`) | login p99 ms | wrk errors |"
out "|---|---:|---|---:|---:|---:|---|"
out "| -c$FLOOD_CONNS, $(R "$F" duration_s | xargs printf '%.0f') s | $(fmt_num "$(OK_RATE "$F")") | $(R "$F" statuses) | **$(STATUS "$F" 503)** | $FLOOD_OVERLOADED | $(us_to_ms "$(R "$F" p99_us)") | $(ERRS "$F") |"
out "| -c$OVERLOAD_CONNS, $(R "$O" duration_s | xargs printf '%.0f') s | $(fmt_num "$(OK_RATE "$O")") | $(R "$O" statuses) | **$(STATUS "$O" 503)** | $OVERLOAD_OVERLOADED | $(us_to_ms "$(R "$O" p99_us)") | $(ERRS "$O") |"
out ""
out "Target: /healthz p99 under a login flood within a few ms of idle (read here as: the light probe's p99 rises by ≤ 5 ms) —"
out "flood -c$FLOOD_CONNS: $(met "$FLOOD_MET") ($(dms "$(R "$PF" p99_us)" "$(R "$PI" p99_us)") ms); overload -c$OVERLOAD_CONNS: $(met "$OVERLOAD_MET") ($(dms "$(R "$PO" p99_us)" "$(R "$PI" p99_us)") ms)."
out ""

# 5. memory
out "## 5. Memory (VmRSS of the gatehouse process)"
out ""
out "| state | RSS KiB |"
out "|---|---:|"
out "| idle, after start + one /healthz | $RSS_IDLE |"
out "| just before opening connections | $RSS_BEFORE_CONNS |"
out "| $KEEPALIVE_N keep-alive connections open, one /healthz each (server fds: $SERVER_FDS) | $RSS_CONNS |"
out "| 1 s after closing them | $RSS_AFTER_CONNS |"
out "| after the login runs and the flood (Argon2id: 19 MiB per running hash) | $RSS_AFTER_LOAD |"
out ""
out "Per connection: **$PER_CONN bytes** ((RSS with connections − RSS before) / $KEEPALIVE_N); connections the server still"
out "held open when the helper closed them: ${ALIVE:-?}/$KEEPALIVE_N."
out ""

# 6. reference peer
out "## 6. Reference peer: node-seed-ref (Express 5, bcrypt-12), same wrk settings"
out ""
if [[ $NODE_OK == 1 ]]; then
  NL=$TMP/node_login.txt
  NODE_LOGIN_RATE=$(OK_RATE "$NL")
  out "Installed with $NODE_INSTALL; one process, JWT_KEY=string, LOGIN_RATE_LIMIT=1000000000."
  out ""
  out "| comparison | gatehouse | node-seed-ref | ours / theirs |"
  out "|---|---:|---:|---:|"
  out "| GET /healthz vs GET /hello, req/s | $(fmt_num "$HZ_RPS") | $(fmt_num "$HELLO_RPS") | **$(ratio "$HZ_RPS" "$HELLO_RPS")** |"
  out "| same, p99 ms (lower is better) | $(us_to_ms "$HZ_P99") | $(us_to_ms "$HELLO_P99") | $(ratio "$HZ_P99" "$HELLO_P99") |"
  out "| POST /login: ours Argon2id vs bcryptjs-12, logins/s | $(fmt_num "$LOGIN_RATE") | $(fmt_num "$NODE_LOGIN_RATE") | **$(ratio "$LOGIN_RATE" "$NODE_LOGIN_RATE")** |"
  out "| POST /login: ours bcrypt-12 vs bcryptjs-12, logins/s | $(fmt_num "$LOGIN_B_RATE") | $(fmt_num "$NODE_LOGIN_RATE") | **$(ratio "$LOGIN_B_RATE" "$NODE_LOGIN_RATE")** |"
  if [[ $NODE_NODERS == 1 ]]; then
    NR=$TMP/node_login_noders.txt
    NODERS_RATE=$(OK_RATE "$NR")
    out "| POST /login: ours bcrypt-12 vs @node-rs/bcrypt-12, logins/s | $(fmt_num "$LOGIN_B_RATE") | $(fmt_num "$NODERS_RATE") | $(ratio "$LOGIN_B_RATE" "$NODERS_RATE") |"
    out "| POST /login: ours Argon2id vs @node-rs/bcrypt-12, logins/s | $(fmt_num "$LOGIN_RATE") | $(fmt_num "$NODERS_RATE") | $(ratio "$LOGIN_RATE" "$NODERS_RATE") |"
  fi
  out "| RSS idle, MiB | $(calc "$RSS_IDLE/1024" | xargs printf '%.1f') | $(calc "$NODE_RSS_IDLE/1024" | xargs printf '%.1f') | $(ratio "$RSS_IDLE" "$NODE_RSS_IDLE") |"
  out ""
  if [[ $(R "$NL" requests) -gt 0 ]]; then
    out "Peer login (bcryptjs): statuses $(R "$NL" statuses), p99 $(us_to_ms "$(R "$NL" p99_us)") ms, errors: $(ERRS "$NL"); its RSS after the runs: $(calc "$NODE_RSS_AFTER/1024" | xargs printf '%.1f') MiB."
  else
    out "Peer login (bcryptjs): **no login completed within ${LOGIN_DUR} s** (all $CONNS compares share Node's main thread); its RSS after the run: $(calc "$NODE_RSS_AFTER/1024" | xargs printf '%.1f') MiB."
  fi
  if [[ $NODE_NODERS == 1 ]]; then
    out "Peer login (@node-rs/bcrypt, libuv pool of 4 threads): statuses $(R "$NR" statuses), p99 $(us_to_ms "$(R "$NR" p99_us)") ms, errors: $(ERRS "$NR"); idle RSS $(calc "$NODERS_RSS_IDLE/1024" | xargs printf '%.1f') MiB."
  fi
  out "Argon2id (m=19 MiB, t=2) and bcrypt-12 are different costs; the bcrypt-12 rows are the like-for-like login comparison."
else
  out "$NODE_NOTE"
fi
out ""
out "## Conditions"
out ""
out "- load after the run: loadavg $LOAD_END; 1 s sample: $CPU_END; busy processes: ${PROCS_END:-none}"
out "- wall time of the run: $((SECONDS - START_S)) s. wrk (one thread) shares the $NPROC vCPUs with the server it loads."
out "- CPU per step, sampled every second from /proc (this run = bench/run.sh and its descendants; $NPROC CPUs = $((NPROC * 100)) %):"
out ""
if [[ -s $TMP/cpu.txt ]]; then
  "$PY" "$BENCH_SRC/cpu_sampler.py" summary "$TMP/cpu.txt" "$TMP/steps.txt" >>"$REPORT"
else
  out "(no CPU samples)"
fi
out ""

mkdir -p "$BUILD_DIR"
cp "$REPORT" "$REPORT_OUT"
cat "$REPORT"
log "report written to $REPORT_OUT"
