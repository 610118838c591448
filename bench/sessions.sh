#!/usr/bin/env bash
# Browser-session benchmarks (issue #4), same run, ratios:
#   1. GET /v1/forward-auth with a session cookie, on the default SQLite store
#      and on the Redis session store (sessions.store_url), and with a bearer
#      token, each next to GET /healthz of the same server (wrk, rounds of
#      healthz / cookie / bearer; the ratio is taken per round, and the median
#      of the rounds is reported). Target: forward-auth with Redis >= 80 % of /healthz.
#   2. Memory per stored session on SQLite, PostgreSQL and Redis: N sessions
#      made through POST /v1/session/login (cheap Argon2 setting), measured as
#        SQLite:     page_count x page_size delta after a WAL checkpoint, and the
#                    sessions table + its indexes alone (dbstat);
#        PostgreSQL: pg_total_relation_size('sessions') delta;
#        Redis:      INFO memory used_memory delta (and the key count).
#
#   bench/sessions.sh [--smoke]     (prints a markdown section; build/ must exist)
# Knobs: BENCH_DURATION (5s), BENCH_ROUNDS (3), BENCH_CONNS (64), BENCH_SESSIONS (10000),
#        BENCH_USERS (100: the sessions are spread over this many users), GATEHOUSE_BIN.
# --smoke (or BENCH_SMOKE=1): 1 s runs, 1 round, 200 sessions over 10 users; a few seconds, for CI.
# Every server listens on 127.0.0.1 and is stopped by its PID; every client runs
# under `timeout`. Exits non-zero only if a step fails to run (a missed target is
# reported, not asserted).
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=${BENCH_SMOKE:-0}; [ "${1:-}" = "--smoke" ] && SMOKE=1
DUR=${BENCH_DURATION:-5s}; ROUNDS=${BENCH_ROUNDS:-3}; CONNS=${BENCH_CONNS:-64}
NSESS=${BENCH_SESSIONS:-10000}; NUSERS=${BENCH_USERS:-100}
if [ "$SMOKE" = 1 ]; then DUR=1s; ROUNDS=1; NSESS=200; NUSERS=10; fi
[ "$NUSERS" -gt "$NSESS" ] && NUSERS=$NSESS
BIN=${GATEHOUSE_BIN:-build/cli/gatehouse}
T=$(mktemp -d /tmp/gh-bench-sess.XXXX)
PIDS=()
FAILED=0
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  scripts/redis-test-server.sh stop "$T/redis" >/dev/null 2>&1 || true
  scripts/pg-test-server.sh stop "$T/pg" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "step failed: $*" >&2; echo; echo "**step failed:** $*"; echo; FAILED=$((FAILED + 1)); }
load() { uptime | sed -E 's/.*load average: ([^,]+),.*/\1/'; }
field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<" $2"; }

start() {  # start NAME ARGS... -> sets ADDR and SPID; env from the caller
  local name=$1; shift
  mkdir -p "$T/$name"
  GATEHOUSE_SERVER_ACCESS_LOG=false GATEHOUSE_RATE_LIMIT_ENABLED=${GATEHOUSE_RATE_LIMIT_ENABLED:-false} GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB=8192 GATEHOUSE_PASSWORD_ARGON2_ITERATIONS=1 \
    "$BIN" serve --dev --listen 127.0.0.1:0 --data-dir "$T/$name" "$@" > "$T/$name.out" 2> "$T/$name.err" &
  SPID=$!; PIDS+=("$SPID")
  for _ in $(seq 1 200); do
    ADDR=$(grep -o '"address":"[^"]*"' "$T/$name.out" 2>/dev/null | cut -d'"' -f4 || true)
    [ -n "$ADDR" ] && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05
  done
  echo "server $name did not start" >&2; tail -5 "$T/$name.err" >&2; return 1
}
stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }  # our own child, by PID

# A small client: `users BASE U FILE` registers U users (FILE.creds) and writes a
# bearer token (FILE.bearer); `sessions BASE N FILE` signs in N times round-robin
# over FILE.creds, 8 requests at a time, with a browser-sized User-Agent, writes
# the first session cookie (FILE.cookie) and prints "ok=N statuses=200:N,...".
CLIENT='
const [mode, base, n, file] = process.argv.slice(1);
const fs = require("fs");
const UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
const post = (path, body, headers = {}) => fetch(base + path, { method: "POST",
  headers: { "content-type": "application/json", "user-agent": UA, ...headers }, body: JSON.stringify(body) });
(async () => {
  if (mode === "users") {
    const creds = [];
    let bearer = "";
    for (let i = 0; i < +n; i++) {
      const c = { email: `s${i}.${Date.now()}@bench.test`, password: "violet-harbor-tangerine-" + i };
      const r = await post("/v1/register", c, { "token-transport": "body" });
      if (r.status !== 201) throw new Error(`register: ${r.status} ${await r.text()}`);
      const j = await r.json();
      if (!bearer) bearer = j.access_token;
      creds.push(c);
    }
    fs.writeFileSync(file + ".creds", JSON.stringify(creds));
    fs.writeFileSync(file + ".bearer", bearer);
    return;
  }
  const creds = JSON.parse(fs.readFileSync(file + ".creds", "utf8"));
  const statuses = {};
  let next = 0, cookie = "";
  async function worker() {
    while (next < +n) {
      const i = next++;
      const r = await post("/v1/session/login", creds[i % creds.length]);
      statuses[r.status] = (statuses[r.status] || 0) + 1;
      if (r.status === 200 && !cookie) cookie = r.headers.getSetCookie()[0].split(";")[0];
      await r.arrayBuffer();
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker));
  fs.writeFileSync(file + ".cookie", cookie);
  console.log(`ok=${statuses[200] || 0} statuses=${Object.entries(statuses).map(([k, v]) => k + ":" + v).join(",")}`);
})().catch((e) => { console.error(String(e)); process.exit(1); });'
client() { timeout 1200 node -e "$CLIENT" "$@"; }

echo "## Browser sessions (issue #4; $( [ "$SMOKE" = 1 ] && echo smoke || echo full ): wrk -t1 -c$CONNS -d$DUR, $ROUNDS round(s); $NSESS sessions)"
echo
echo "Started $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) vCPUs, load average $(load) (1 min)."
echo

# ---- Redis for steps 1 and 2 ---------------------------------------------------------
REDIS_URL=
mkdir -p "$T/redis"
if ! command -v redis-server >/dev/null; then
  echo "redis-server is not installed: the Redis rows are skipped."; echo
elif scripts/redis-test-server.sh start "$T/redis" >/dev/null 2>"$T/redis.err"; then
  REDIS_URL=$(cat "$T/redis/url")
else
  fail "redis-server did not start: $(tail -3 "$T/redis.err" | tr '\n' ' ')"
fi

# ---- 1. forward-auth vs /healthz -----------------------------------------------------
echo "### GET /v1/forward-auth vs GET /healthz (same server; rounds of healthz, cookie, bearer; ratio per round, median)"
echo
echo "| sessions store | request | req/s per round | p99 ms per round | non-2xx / errors | ratio to /healthz per round | **median ratio** | load per round |"
echo "|---|---|---|---|---:|---|---:|---|"
fa_bench() {  # fa_bench LABEL NAME (env from the caller): one user, one session, one token
  local label=$1 name=$2 ADDR SPID
  if ! start "$name"; then fail "$label: server did not start"; return 0; fi
  if ! client users "http://$ADDR" 1 "$T/$name" > "$T/$name.mk" 2>&1 \
      || ! client sessions "http://$ADDR" 1 "$T/$name" >> "$T/$name.mk" 2>&1; then
    fail "$label: sign-in failed: $(tail -3 "$T/$name.mk" | tr '\n' ' ')"; stop "$SPID"; return 0
  fi
  local cookie bearer c1 c2
  cookie=$(cat "$T/$name.cookie"); bearer=$(cat "$T/$name.bearer")
  c1=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "http://$ADDR/v1/forward-auth" || true)
  c2=$(timeout 10 curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $bearer" "http://$ADDR/v1/forward-auth" || true)
  if [ "$c1" != 200 ] || [ "$c2" != 200 ]; then
    fail "$label: forward-auth answered $c1 (cookie) / $c2 (bearer)"; stop "$SPID"; return 0
  fi
  local -A rps p99 errs lds
  local r k res path hdr
  for r in $(seq 1 "$ROUNDS"); do
    for k in healthz cookie bearer; do
      case $k in
        healthz) path=/healthz; hdr="X-Bench: healthz" ;;
        cookie) path=/v1/forward-auth; hdr="Cookie: $cookie" ;;
        bearer) path=/v1/forward-auth; hdr="Authorization: Bearer $bearer" ;;
      esac
      lds[$k]="${lds[$k]:-}${lds[$k]:+ / }$(load)"
      if ! res=$(WRK_PATH=$path timeout 120 wrk -t1 -c"$CONNS" -d"$DUR" --latency -H "$hdr" -s bench/get.lua "http://$ADDR" | grep '^RESULT'); then
        fail "$label: wrk $k did not run"; stop "$SPID"; return 0
      fi
      rps[$k]="${rps[$k]:-} $(field rps "$res")"
      p99[$k]="${p99[$k]:-}${p99[$k]:+ / }$(awk "BEGIN{printf \"%.2f\", $(field p99_us "$res")/1000}")"
      errs[$k]=$(( ${errs[$k]:-0} + $(field err_status "$res") + $(field err_read "$res") + $(field err_connect "$res") + $(field err_timeout "$res") ))
    done
  done
  for k in healthz cookie bearer; do
    local what ratios med
    case $k in
      healthz) what="GET /healthz" ;;
      cookie) what="GET /v1/forward-auth, session cookie" ;;
      bearer) what="GET /v1/forward-auth, bearer token (EdDSA)" ;;
    esac
    ratios=$(paste -d' ' <(tr ' ' '\n' <<<"${rps[$k]}" | grep .) <(tr ' ' '\n' <<<"${rps[healthz]}" | grep .) | awk '{printf "%.1f\n", 100*$1/$2}')
    med=$(sort -n <<<"$ratios" | awk '{v[NR]=$1} END{printf "%.1f %%", (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}')
    echo "| $label | $what | $(awk '{for(i=1;i<=NF;i++)printf "%s%.0f", (i>1?" / ":""), $i}' <<<"${rps[$k]}") | ${p99[$k]} | ${errs[$k]} | $(paste -sd/ <<<"$ratios" | sed 's|/| / |g') | **$med** | ${lds[$k]} |"
  done
  stop "$SPID"
}
fa_bench SQLite fa-sqlite
if [ -n "$REDIS_URL" ]; then GATEHOUSE_SESSIONS_STORE_URL=$REDIS_URL/1 fa_bench Redis fa-redis; fi
echo
echo "One user, one session, one access token per server; every request repeats the same cookie or token."
echo "wrk (one thread) and the server share the $(nproc) vCPUs. Target: Redis session cookie >= 80 % of /healthz."
echo

# ---- 2. Memory per stored session ----------------------------------------------------
# measure_<backend> prints one number (bytes) for the state right now.
measure_sqlite_file() {  # whole database: page_count x page_size after a WAL checkpoint
  local db="$T/$1/gatehouse.db" pages size
  timeout 60 sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
  pages=$(timeout 60 sqlite3 "$db" 'PRAGMA page_count;'); size=$(timeout 60 sqlite3 "$db" 'PRAGMA page_size;')
  echo $((pages * size))
}
measure_sqlite_table() {  # the sessions table and its indexes (dbstat, pages in use)
  timeout 60 sqlite3 "$T/$1/gatehouse.db" \
    "SELECT coalesce(sum(pgsize),0) FROM dbstat WHERE name IN (SELECT name FROM sqlite_schema WHERE tbl_name='sessions');"
}
measure_pg() { timeout 60 psql -X -q -At "$PGURL" -c "SELECT pg_total_relation_size('sessions');"; }
measure_redis() { timeout 10 redis-cli -u "$REDIS_URL/2" INFO memory | tr -d '\r' | sed -n 's/^used_memory://p'; }
redis_keys() { timeout 10 redis-cli -u "$REDIS_URL/2" DBSIZE | tr -d '\r'; }

echo "### Memory per stored session ($NSESS sessions over $NUSERS users; POST /v1/session/login, 8 at a time, browser-sized User-Agent)"
echo
echo "| backend | what is measured | before, bytes | after, bytes | sessions created (statuses) | **bytes per session** | load |"
echo "|---|---|---:|---:|---|---:|---:|"
mem_bench() {  # mem_bench LABEL NAME [serve args] (env from the caller); uses MEASURES (function names + labels)
  local label=$1 name=$2 ADDR SPID; shift 2
  if ! start "$name" "$@"; then fail "$label: server did not start"; return 0; fi
  # Users and one warm-up session before the "before" figure (scripts loaded, tables created).
  if ! client users "http://$ADDR" "$NUSERS" "$T/$name" > "$T/$name.mk" 2>&1 \
      || ! client sessions "http://$ADDR" 1 "$T/$name" >> "$T/$name.mk" 2>&1; then
    fail "$label: sign-up failed: $(tail -3 "$T/$name.mk" | tr '\n' ' ')"; stop "$SPID"; return 0
  fi
  local -a before=() after=()
  local m mk ok i
  for m in "${MEASURES[@]}"; do before+=("$(${m%%:*} "$name")") || { fail "$label: ${m%%:*}"; stop "$SPID"; return 0; }; done
  if ! mk=$(client sessions "http://$ADDR" "$NSESS" "$T/$name" 2>&1); then
    fail "$label: sign-ins failed: $mk"; stop "$SPID"; return 0
  fi
  for m in "${MEASURES[@]}"; do after+=("$(${m%%:*} "$name")") || { fail "$label: ${m%%:*}"; stop "$SPID"; return 0; }; done
  ok=$(field ok "$mk")
  if [ "${ok:-0}" -le 0 ]; then fail "$label: no session was created ($mk)"; stop "$SPID"; return 0; fi
  for i in "${!MEASURES[@]}"; do
    echo "| $label | ${MEASURES[$i]#*:} | ${before[$i]} | ${after[$i]} | $ok ($(field statuses "$mk")) | **$(awk "BEGIN{printf \"%.0f\", (${after[$i]}-${before[$i]})/$ok}")** | $(load) |"
  done
  stop "$SPID"
}
MEASURES=("measure_sqlite_file:SQLite file, page_count × page_size after \`wal_checkpoint(TRUNCATE)\`" \
          "measure_sqlite_table:sessions table + 4 indexes (dbstat)")
mem_bench SQLite mem-sqlite

PGURL=
mkdir -p "$T/pg"
if [ ! -x "${PG_BIN:-/usr/lib/postgresql/15/bin}/postgres" ]; then
  echo "| PostgreSQL | (not installed: skipped) | | | | | |"
elif scripts/pg-test-server.sh start "$T/pg" >/dev/null 2>"$T/pg.err"; then
  PGURL=$(cat "$T/pg/url")
  if timeout 120 "$BIN" migrate --store "$PGURL" >/dev/null 2>"$T/pg-migrate.err"; then
    MEASURES=("measure_pg:\`pg_total_relation_size('sessions')\` (heap, TOAST, 4 indexes)")
    mem_bench PostgreSQL mem-pg --store "$PGURL"
  else
    fail "PostgreSQL: migrate failed: $(tail -3 "$T/pg-migrate.err" | tr '\n' ' ')"
  fi
else
  fail "PostgreSQL did not start: $(tail -3 "$T/pg.err" | tr '\n' ' ')"
fi

if [ -n "$REDIS_URL" ]; then
  MEASURES=("measure_redis:\`INFO memory\` used_memory (whole server; the sessions in db 2)")
  GATEHOUSE_SESSIONS_STORE_URL=$REDIS_URL/2 mem_bench Redis mem-redis
  REDIS_KEYS=$(redis_keys || echo '?')
fi
echo
echo "The users and one warm-up sign-in are made before the first figure, so the deltas hold sessions only."
[ -n "${REDIS_KEYS:-}" ] && echo "Redis db 2 holds $REDIS_KEYS keys afterwards: one hash per session plus one set per user ($NUSERS)."
echo
echo "Finished $(date -u +%Y-%m-%dT%H:%MZ), load average $(load)."
[ "$FAILED" -eq 0 ]
