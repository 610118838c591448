#!/usr/bin/env bash
# Authorization benchmarks (issue #6), same run, ratios:
#   1. Google Benchmark (build/bench/authz_bench): decide() on the default policy
#      per outcome, parse_policy on the default policy's text, and forward-auth
#      route normalisation + matching on a 10-rule table (ns per call).
#   2. POST /v1/authz/check next to GET /healthz of the same server, wrk, rounds of
#        healthz / single check (Bearer: a member about themselves) / single check
#        (service client, Basic) / batch of 10 (Bearer) / batch of 10 (Basic);
#      the ratio to /healthz is taken per round and the median of the rounds is
#      reported, with checks/s for the batches and the server's CPU per request
#      (from /proc). Set-up through the HTTP API (docs/authz.md): a platform admin
#      (`gatehouse user grant-admin`), a tenant, a member with role manager, a
#      service client of the tenant.
#
#   bench/authz.sh [--smoke]     (prints a markdown section; build/ must exist)
# Knobs: BENCH_DURATION (5s), BENCH_ROUNDS (3), BENCH_CONNS (64), BENCH_MIN_TIME (0.5, Google
#        Benchmark seconds per benchmark), GATEHOUSE_BIN, AUTHZ_BENCH (default: bench/authz_bench
#        next to the binary's build dir), PIN / WRK_PIN (CPU lists for taskset: server / wrk; unset
#        = unpinned, wrk and the server share the vCPUs like the other scripts' ratio tables).
# --smoke (or BENCH_SMOKE=1): 1 s runs, 1 round, min time 0.05 s; a few seconds, for CI.
# The server listens on 127.0.0.1 and is stopped by its PID; every client runs under
# `timeout`. Exits non-zero only if a step fails to run (no target is asserted).
set -euo pipefail
cd "$(dirname "$0")/.."
SMOKE=${BENCH_SMOKE:-0}; [ "${1:-}" = "--smoke" ] && SMOKE=1
DUR=${BENCH_DURATION:-5s}; ROUNDS=${BENCH_ROUNDS:-3}; CONNS=${BENCH_CONNS:-64}; MIN_TIME=${BENCH_MIN_TIME:-0.5}
if [ "$SMOKE" = 1 ]; then DUR=1s; ROUNDS=1; MIN_TIME=0.05; fi
BIN=${GATEHOUSE_BIN:-build/cli/gatehouse}
AUTHZ_BENCH=${AUTHZ_BENCH:-$(dirname "$(dirname "$BIN")")/bench/authz_bench}
T=$(mktemp -d /tmp/gh-bench-authz.XXXX)
PIDS=()
FAILED=0
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "step failed: $*" >&2; echo; echo "**step failed:** $*"; echo; FAILED=$((FAILED + 1)); }
load() { uptime | sed -E 's/.*load average: ([^,]+),.*/\1/'; }
field() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<" $2"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }  # utime + stime of a process, in clock ticks
median() { sort -n | awk '{v[NR]=$1} END{printf "%.1f", (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

start() {  # start NAME ARGS... -> sets ADDR and SPID; env from the caller
  local name=$1; shift
  mkdir -p "$T/$name"
  GATEHOUSE_SERVER_ACCESS_LOG=false GATEHOUSE_RATE_LIMIT_ENABLED=false GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB=8192 GATEHOUSE_PASSWORD_ARGON2_ITERATIONS=1 \
    ${PIN:+taskset -c "$PIN"} "$BIN" serve --dev --listen 127.0.0.1:0 --data-dir "$T/$name" "$@" > "$T/$name.out" 2> "$T/$name.err" &
  SPID=$!; PIDS+=("$SPID")
  for _ in $(seq 1 200); do
    ADDR=$(grep -o '"address":"[^"]*"' "$T/$name.out" 2>/dev/null | cut -d'"' -f4 || true)
    [ -n "$ADDR" ] && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.05
  done
  echo "server $name did not start" >&2; tail -5 "$T/$name.err" >&2; return 1
}

# The set-up client (docs/authz.md). `admin BASE DIR`: registers the future platform
# admin (DIR/admin.json). `setup BASE DIR`: waits until the server honours the
# grant, creates a tenant, registers a member and adds them as manager, creates a
# service client; writes the wrk bodies (DIR/*.json) and Authorization values
# (DIR/bearer.auth, DIR/basic.auth), and checks that every body gets the expected answer.
CLIENT='
const [mode, base, dir] = process.argv.slice(1);
const fs = require("fs");
const call = async (method, path, body, headers = {}) => {
  const r = await fetch(base + path, { method, headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null; try { json = JSON.parse(text); } catch {}
  return { status: r.status, text, json };
};
const must = (r, status, what) => { if (r.status !== status) throw new Error(`${what}: ${r.status} ${r.text}`); return r.json; };
const register = async (tag) => {
  const email = `${tag}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}@bench.test`;
  const password = "violet-harbor-tangerine-" + tag;
  const j = must(await call("POST", "/v1/register", { email, password }, { "token-transport": "body" }), 201, "register " + tag);
  return { email, id: j.user.id, access: j.access_token };
};
const bearer = (t) => ({ authorization: "Bearer " + t });
(async () => {
  if (mode === "admin") {
    fs.writeFileSync(dir + "/admin.json", JSON.stringify(await register("admin")));
    return;
  }
  const admin = JSON.parse(fs.readFileSync(dir + "/admin.json", "utf8"));
  // The grant was made by the CLI, outside this server: it applies within authz.cache_ttl_s.
  let r;
  for (let i = 0; i < 100; i++) {
    r = await call("GET", "/v1/admin/users?limit=1", undefined, bearer(admin.access));
    if (r.status === 200) break;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  must(r, 200, "platform admin honoured");
  const tenant = must(await call("POST", "/v1/tenants", { name: "bench-tenant" }, bearer(admin.access)), 201, "create tenant").tenant.id;
  const member = await register("member");
  must(await call("POST", `/v1/tenants/${tenant}/members`, { user_id: member.id, role: "manager" }, bearer(admin.access)), 201, "add member");
  const client = must(await call("POST", `/v1/tenants/${tenant}/service-clients`, { name: "bench-svc" }, bearer(admin.access)), 201, "create client");
  const basic = "Basic " + Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64");
  const auth = { bearer: "Bearer " + member.access, basic };
  // Ten checks over the default policy for a manager: 6 granted, 4 not granted.
  const perms = ["projects:read", "projects:write", "projects:delete", "users:read", "users:admin",
                 "billing:read", "billing:write", "reports:read", "reports:write", "reports:admin"];
  const granted = new Set(["projects:read", "projects:write", "users:read", "billing:read", "reports:read", "reports:write"]);
  const one = (p, subject) => { const [resource, action] = p.split(":"); return { tenant, resource, action, ...(subject ? { subject } : {}) }; };
  const bodies = {
    single_bearer: [one("projects:write"), "bearer"],
    single_basic: [one("reports:write", member.id), "basic"],
    batch_bearer: [{ checks: perms.map((p) => one(p)) }, "bearer"],
    batch_basic: [{ checks: perms.map((p) => one(p, member.id)) }, "basic"],
  };
  for (const [name, [body, how]] of Object.entries(bodies)) {
    const j = must(await call("POST", "/v1/authz/check", body, { authorization: auth[how] }), 200, "check " + name);
    const got = j.results ?? [j];
    const want = (body.checks ?? [body]).map((c) => granted.has(`${c.resource}:${c.action}`));
    if (got.length !== want.length || got.some((d, i) => d.allowed !== want[i] || d.reason !== (want[i] ? "granted" : "not_granted")))
      throw new Error(`check ${name}: unexpected answer ${JSON.stringify(j)}`);
    fs.writeFileSync(`${dir}/${name}.json`, JSON.stringify(body));
  }
  fs.writeFileSync(dir + "/bearer.auth", auth.bearer);
  fs.writeFileSync(dir + "/basic.auth", auth.basic);
  console.log(`tenant \`${tenant}\`, member \`${member.id}\`, service client \`${client.client_id}\``);
})().catch((e) => { console.error(String(e)); process.exit(1); });'
client() { timeout 120 node -e "$CLIENT" "$@"; }

echo "## Authorization (issue #6; $( [ "$SMOKE" = 1 ] && echo smoke || echo full ): wrk -t1 -c$CONNS -d$DUR, $ROUNDS round(s))"
echo
echo "Started $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) vCPUs, load average $(load) (1 min)."
echo

# ---- 1. The decision function and the route table (Google Benchmark) ------------------
echo "### Core functions (\`authz_bench\`, Google Benchmark, min time ${MIN_TIME} s; run before the server starts)"
echo
if [ -x "$AUTHZ_BENCH" ]; then
  if timeout 300 "$AUTHZ_BENCH" --benchmark_min_time="$MIN_TIME" --benchmark_format=json --benchmark_out="$T/gbench.json" \
      --benchmark_out_format=json > /dev/null 2> "$T/gbench.err"; then
    echo "| benchmark | what | ns per call (wall) | ns per call (CPU) | calls/s |"
    echo "|---|---|---:|---:|---:|"
    python3 - "$T/gbench.json" <<'EOF' || fail "authz_bench: unreadable output"
import json, sys
what = {
    "decide_granted": "decide(): manager, projects:write → granted",
    "decide_not_granted": "decide(): member, billing:delete → not_granted",
    "decide_not_member": "decide(): not a member → not_member",
    "decide_platform_admin": "decide(): platform admin, billing:admin → platform_admin",
    "decide_unknown_resource": "decide(): manager, invoices:read → unknown_resource",
    "parse_default_policy": "parse_policy() on the default policy's text (TOML)",
    "route_plain_match": "normalize_route_path + match_route, 10 rules: `/admin/billing/accounts/42?tab=usage`",
    "route_tricky_match": "same: `//ADMIN\\%62illing//accounts/42` (escape, backslash, `//`, case)",
    "route_no_match": "same: `/static/css/site.4f2a9c.css` (no rule)",
    "route_refused": "same: `/static/../admin/billing/accounts/42` (dot segment: refused)",
    "route_match_only": "match_route alone, 10 rules, normalised path",
}
scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("run_type", "iteration") != "iteration":
        continue
    if b.get("error_occurred"):
        print(f"| `{b['name']}` | error: {b.get('error_message', '')} | | | |")
        continue
    k = scale[b.get("time_unit", "ns")]
    wall, cpu = b["real_time"] * k, b["cpu_time"] * k
    print(f"| `{b['name']}` | {what.get(b['name'], '')} | {wall:,.1f} | {cpu:,.1f} | {1e9 / wall:,.0f} |")
EOF
    grep -q '"error_occurred": true' "$T/gbench.json" && fail "authz_bench: a benchmark reported an error"
  else
    fail "authz_bench did not run: $(tail -3 "$T/gbench.err" | tr '\n' ' ')"
  fi
else
  fail "$AUTHZ_BENCH is missing (ninja -C build authz_bench)"
fi
echo

# ---- 2. POST /v1/authz/check vs GET /healthz -------------------------------------------
echo "### POST /v1/authz/check vs GET /healthz (same server; rounds of healthz, single Bearer, single Basic, batch-10 Bearer, batch-10 Basic; ratio per round, median)"
echo
if ! start authz; then
  fail "server did not start"
  exit 1
fi
if ! client admin "http://$ADDR" "$T" > "$T/setup.log" 2>&1; then
  fail "register the admin: $(tail -3 "$T/setup.log" | tr '\n' ' ')"; exit 1
fi
ADMIN_EMAIL=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).email)' "$T/admin.json")
if ! timeout 60 "$BIN" user grant-admin "$ADMIN_EMAIL" --data-dir "$T/authz" >> "$T/setup.log" 2>&1; then
  fail "gatehouse user grant-admin: $(tail -3 "$T/setup.log" | tr '\n' ' ')"; exit 1
fi
if ! SETUP=$(client setup "http://$ADDR" "$T" 2>> "$T/setup.log"); then
  fail "set-up through the API: $(tail -3 "$T/setup.log" | tr '\n' ' ')"; exit 1
fi

KINDS=(healthz single_bearer single_basic batch_bearer batch_basic)
TICK=$(getconf CLK_TCK)
declare -A rps p99 errs lds cpu
for r in $(seq 1 "$ROUNDS"); do
  for k in "${KINDS[@]}"; do
    lds[$k]="${lds[$k]:-}${lds[$k]:+ / }$(load)"
    c0=$(cpu_ticks "$SPID")
    if [ "$k" = healthz ]; then
      res=$(WRK_PATH=/healthz timeout 120 ${WRK_PIN:+taskset -c "$WRK_PIN"} wrk -t1 -c"$CONNS" -d"$DUR" --latency -s bench/get.lua "http://$ADDR" | grep '^RESULT') \
        || { fail "wrk $k did not run"; continue; }
    else
      res=$(BODY_FILE="$T/$k.json" AUTHZ="$(cat "$T/${k#*_}.auth")" timeout 120 ${WRK_PIN:+taskset -c "$WRK_PIN"} \
              wrk -t1 -c"$CONNS" -d"$DUR" --latency -s bench/authz_check.lua "http://$ADDR" | grep '^RESULT') \
        || { fail "wrk $k did not run"; continue; }
    fi
    c1=$(cpu_ticks "$SPID")
    rps[$k]="${rps[$k]:-} $(field rps "$res")"
    p99[$k]="${p99[$k]:-}${p99[$k]:+ / }$(awk "BEGIN{printf \"%.2f\", $(field p99_us "$res")/1000}")"
    cpu[$k]="${cpu[$k]:-}${cpu[$k]:+ / }$(awk "BEGIN{n=$(field requests "$res"); printf \"%.1f\", n ? ($c1-$c0)/$TICK*1e6/n : 0}")"
    errs[$k]=$(( ${errs[$k]:-0} + $(field err_status "$res") + $(field err_read "$res") + $(field err_connect "$res") + $(field err_timeout "$res") ))
  done
done
echo "| request | req/s per round | p99 ms per round | non-2xx / errors | % of /healthz per round | **median** | checks/s (median round) | server CPU µs per request, per round | /healthz CPU ÷ this CPU per request, **median** | load per round |"
echo "|---|---|---|---:|---|---:|---:|---|---:|---|"
for k in "${KINDS[@]}"; do
  [ -n "${rps[$k]:-}" ] && [ -n "${rps[healthz]:-}" ] || continue
  n=1
  case $k in
    healthz) what="GET /healthz" ;;
    single_bearer) what="POST /v1/authz/check, 1 check, Bearer (member about themselves)" ;;
    single_basic) what="POST /v1/authz/check, 1 check, service client (Basic, subject = member)" ;;
    batch_bearer) what="POST /v1/authz/check, batch of 10, Bearer"; n=10 ;;
    batch_basic) what="POST /v1/authz/check, batch of 10, service client (Basic)"; n=10 ;;
  esac
  ratios=$(paste -d' ' <(tr ' ' '\n' <<<"${rps[$k]}" | grep .) <(tr ' ' '\n' <<<"${rps[healthz]}" | grep .) | awk '{printf "%.1f\n", 100*$1/$2}')
  med=$(median <<<"$ratios")
  cratio=$(paste -d' ' <(tr '/' '\n' <<<"${cpu[healthz]}" | tr -d ' ' | grep .) <(tr '/' '\n' <<<"${cpu[$k]}" | tr -d ' ' | grep .) \
             | awk '{printf "%.1f\n", ($2 > 0 ? 100*$1/$2 : 0)}' | median)
  checks=$(tr ' ' '\n' <<<"${rps[$k]}" | grep . | median | awk -v n="$n" '{printf "%.0f", $1*n}')
  [ "$k" = healthz ] && checks="–"
  echo "| $what | $(awk '{for(i=1;i<=NF;i++)printf "%s%.0f", (i>1?" / ":""), $i}' <<<"${rps[$k]}") | ${p99[$k]} | ${errs[$k]} | $(paste -sd/ <<<"$ratios" | sed 's|/| / |g') | **$med %** | $checks | ${cpu[$k]} | **$cratio %** | ${lds[$k]} |"
  [ "${errs[$k]}" = 0 ] || fail "$k: ${errs[$k]} non-2xx answers or socket errors"
done
echo
echo "Set-up: $SETUP. The default policy; one member (role manager) of one tenant; every request repeats"
echo "the same token or client credentials and the same body, answered from the membership and client caches"
echo "(authz.cache_ttl_s = 1: about one request per second per key goes to the store). The batch asks 10"
echo "different resource:action pairs (6 granted, 4 not). wrk (one thread) and the server share the $(nproc) vCPUs$([ -n "${PIN:-}${WRK_PIN:-}" ] && echo " (pinned: server ${PIN:-any}, wrk ${WRK_PIN:-any})");"
echo "server CPU per request is its user + sys time during the run (/proc, ${TICK} Hz) ÷ requests; the CPU ratio"
echo "compares cost rather than speed (/healthz's CPU per request ÷ this request's, per round), so it moves less"
echo "than the req/s ratio when other processes take CPU during a round."
echo
echo "Finished $(date -u +%Y-%m-%dT%H:%MZ), load average $(load)."
[ "$FAILED" -eq 0 ]
