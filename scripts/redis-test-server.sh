#!/usr/bin/env bash
# redis-test-server.sh start|stop DIR [PORT]: a throwaway Redis for the session
# store conformance tests (CTest fixture "redis", see tests/conformance/).
#
# start: runs redis-server on 127.0.0.1 (no persistence, 256 databases so
#        parallel tests can each claim one) on a free port, or on PORT if given
#        (the reconnect test restarts a server on its old port), and waits
#        until it answers PING; writes DIR/url (redis://127.0.0.1:PORT),
#        DIR/pid and DIR/base (its working directory, under /tmp).
#        With REDIS_PERSIST_DIR set, data goes there with an fsync'd append-only
#        file, so a restart on the same port and dir keeps every key.
# stop:  SIGTERM to the server named in DIR/pid, waits for it to exit, then
#        removes its directory. Succeeds if nothing is running.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR [PORT]" >&2; exit 2; }
[[ $# -eq 2 || $# -eq 3 ]] || usage
cmd=$1
dir=$2
fixed_port=${3:-}

# Prints a port nothing listens on right now (another process may still take
# it before redis binds; start retries on that).
free_port() {
  if [[ -x /usr/bin/python3 ]]; then
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
  else
    shuf -i 20000-60000 -n1
  fi
}

# True once the process is gone (or only a zombie awaiting its reaper). The
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
  if [[ -n $pid ]] && ! gone "$pid" && [[ $(ps -o comm= -p "$pid" 2>/dev/null) != redis-server ]]; then
    echo "pid $pid is not redis-server any more; not signalling it" >&2
    pid=
  fi
  if [[ -n $pid ]] && ! gone "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do gone "$pid" && break; sleep 0.05; done
    gone "$pid" || { echo "redis-server $pid is still running after 10 s" >&2; return 1; }
  fi
  # Only remove what start created.
  if [[ -n $base && $base == /tmp/gh-redis.* && -d $base ]]; then rm -rf "$base"; fi
  rm -f "$dir/url" "$dir/pid" "$dir/base"
}

do_start() {
  command -v redis-server > /dev/null || { echo "redis-server is not installed" >&2; exit 1; }
  mkdir -p "$dir"
  do_stop  # a server left behind by an interrupted run
  local base
  base=$(mktemp -d /tmp/gh-redis.XXXXXX)
  echo "$base" > "$dir/base"

  local attempt port pid pong
  for attempt in 1 2 3 4 5; do
    port=${fixed_port:-$(free_port)}
    # A simple command, so $! is redis-server itself; stdin/stdout/stderr are
    # redirected so CTest, which waits for the test's pipes to close, does not
    # wait for the server too.
    local persistence=(--save '' --appendonly no --dir "$base")
    if [[ -n ${REDIS_PERSIST_DIR:-} ]]; then
      mkdir -p "$REDIS_PERSIST_DIR"
      persistence=(--save '' --appendonly yes --appendfsync always --dir "$REDIS_PERSIST_DIR")
    fi
    redis-server --bind 127.0.0.1 --port "$port" "${persistence[@]}" \
      --daemonize no --databases 256 < /dev/null > "$base/redis.log" 2>&1 &
    pid=$!
    pong=
    for _ in $(seq 1 100); do
      gone "$pid" && break
      pong=$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null || true)
      [[ $pong == PONG ]] && break
      sleep 0.05
    done
    # The PING must have reached our server, not another one on the port.
    if [[ $pong == PONG ]] && [[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$port" INFO server \
        | tr -d '\r' | sed -n 's/^process_id://p') == "$pid" ]]; then
      echo "$pid" > "$dir/pid"
      echo "redis://127.0.0.1:$port" > "$dir/url"
      echo "redis-server $pid ready on 127.0.0.1:$port (dir $base)"
      exit 0
    fi
    echo "attempt $attempt on port $port failed:" >&2
    tail -n 5 "$base/redis.log" >&2 || true
    if ! gone "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
    wait "$pid" 2>/dev/null || true
    [[ -z $fixed_port ]] || sleep 0.2
  done
  echo "redis-server did not start" >&2
  exit 1
}

case $cmd in
  start) do_start ;;
  stop) do_stop ;;
  *) usage ;;
esac
