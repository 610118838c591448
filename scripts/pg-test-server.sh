#!/usr/bin/env bash
# pg-test-server.sh start|stop DIR: a throwaway PostgreSQL 15 for the store
# conformance tests (CTest fixture "postgres", see tests/conformance/).
#
# start: initdb a fresh cluster (trust auth, loopback only, fsync off) in a new
#        /tmp directory, start it on a free port and wait until it accepts
#        connections; writes DIR/url (postgres://postgres@127.0.0.1:PORT/postgres),
#        DIR/pid (the postmaster) and DIR/base (the cluster directory).
# stop:  fast shutdown (SIGINT) of the server named in DIR/pid, then removes
#        the cluster. Succeeds if nothing is running.
#
# The cluster lives under /tmp, not DIR: the postgres user must be able to
# traverse every parent directory, and the socket path must stay short.
# As root, initdb and postgres run as the postgres user via setpriv (which
# execs, so the PID we record is the postmaster's own; see RECIPES.md §3.1).
set -euo pipefail

BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
cmd=$1
dir=$2

as_pg=()
if [[ $(id -u) -eq 0 ]]; then
  as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --)
fi

# Prints a port nothing listens on right now (another process may still take
# it before postgres binds; start retries on that).
free_port() {
  if [[ -x /usr/bin/python3 ]]; then
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
  else
    shuf -i 20000-60000 -n1
  fi
}

# True once postgres is gone (or only a zombie awaiting its reaper). The
# server is not our child here, so `wait` cannot be used.
gone() {
  local stat
  stat=$(ps -o stat= -p "$1" 2>/dev/null || true)
  [[ -z $stat || $stat == Z* ]]
}

do_stop() {
  local pid base
  pid=$(cat "$dir/pid" 2>/dev/null || true)
  base=$(cat "$dir/base" 2>/dev/null || true)
  # A stale pid file may name a PID since reused by another program.
  if [[ -n $pid ]] && ! gone "$pid" && [[ $(ps -o comm= -p "$pid" 2>/dev/null) != postgres ]]; then
    echo "pid $pid is not postgres any more; not signalling it" >&2
    pid=
  fi
  if [[ -n $pid ]] && ! gone "$pid"; then
    kill -INT "$pid" 2>/dev/null || true
    for _ in $(seq 1 300); do gone "$pid" && break; sleep 0.1; done
    if ! gone "$pid"; then
      echo "postgres $pid ignored SIGINT for 30 s; sending SIGQUIT" >&2
      kill -QUIT "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do gone "$pid" && break; sleep 0.1; done
    fi
    gone "$pid" || { echo "postgres $pid is still running" >&2; return 1; }
  fi
  # Only remove what start created.
  if [[ -n $base && $base == /tmp/gh-pg.* && -d $base ]]; then rm -rf "$base"; fi
  rm -f "$dir/url" "$dir/pid" "$dir/base"
}

do_start() {
  [[ -x $BIN/postgres ]] || { echo "no PostgreSQL binaries in $BIN (set PG_BIN)" >&2; exit 1; }
  mkdir -p "$dir"
  do_stop  # a server left behind by an interrupted run
  local base
  base=$(mktemp -d /tmp/gh-pg.XXXXXX)
  echo "$base" > "$dir/base"
  mkdir -p "$base/sock"
  [[ ${#as_pg[@]} -eq 0 ]] || chown -R postgres:postgres "$base"
  cd "$base"
  if ! timeout 120 "${as_pg[@]}" "$BIN/initdb" -D "$base/data" -U postgres -A trust -E UTF8 \
      --locale=C.UTF-8 --no-sync > "$base/initdb.log" 2>&1; then
    cat "$base/initdb.log" >&2
    exit 1
  fi

  local attempt port pid status
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    # stdin/stdout/stderr are redirected so CTest, which waits for the test's
    # pipes to close, does not wait for the server too.
    "${as_pg[@]}" "$BIN/postgres" -D "$base/data" -p "$port" -k "$base/sock" -h 127.0.0.1 \
      -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
      < /dev/null > "$base/pg.log" 2>&1 &
    pid=$!
    # Ready when postmaster.pid's status line (8th) says so: unlike pg_isready
    # alone, this cannot be fooled by another server that holds the port.
    for _ in $(seq 1 300); do
      status=$(sed -n 8p "$base/data/postmaster.pid" 2>/dev/null | tr -d ' ' || true)
      [[ $status == ready ]] && break
      gone "$pid" && break
      sleep 0.05
    done
    if [[ $status == ready ]] && ! gone "$pid" \
        && timeout 10 "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port"; then
      echo "$pid" > "$dir/pid"
      echo "postgres://postgres@127.0.0.1:$port/postgres" > "$dir/url"
      echo "postgres $pid ready on 127.0.0.1:$port (cluster $base)"
      exit 0
    fi
    echo "attempt $attempt on port $port failed:" >&2
    tail -n 5 "$base/pg.log" >&2 || true
    if ! gone "$pid"; then kill -INT "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
  done
  echo "postgres did not start" >&2
  exit 1
}

case $cmd in
  start) do_start ;;
  stop) do_stop ;;
  *) usage ;;
esac
