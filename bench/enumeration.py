#!/usr/bin/python3
"""Timing enumeration measurement (issue #5): can an attacker tell, from the
time a login takes, whether an email has an account?

Starts gatehouse (production hashing parameters unless told otherwise, rate
limiting off so the measurement is not throttled), registers one user, then
sends N logins for unknown emails and N wrong-password logins for the real
account, interleaved in random order over one keep-alive connection, and
records each latency. A second server with lockout on measures the
attacker's view once they have tripped the lock: a locked real account
against a locked unknown email (lockout counts unknown emails the same way).

Reports both latency distributions (percentiles) and the two-sample
Kolmogorov-Smirnov statistic D with its asymptotic p-value: D near 0 and a
large p mean the two distributions are indistinguishable at this N. A
measurement, not a CI assertion: it prints markdown and exits 0 unless a step
fails to run.

    bench/enumeration.py [--smoke] [--n N]        (GATEHOUSE_BIN, default build/cli/gatehouse)
"""
import argparse
import http.client
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

BIN = os.environ.get("GATEHOUSE_BIN", "build/cli/gatehouse")


def start(data_dir, env):
    full = {"PATH": os.environ.get("PATH", ""), "GATEHOUSE_ACCESS_LOG": "false",
            "GATEHOUSE_SERVER_ACCESS_LOG": "false", **env}
    proc = subprocess.Popen([BIN, "serve", "--dev", "--listen", "127.0.0.1:0", "--data-dir", data_dir],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=full, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        try:
            j = json.loads(line)
        except ValueError:
            continue
        if j.get("msg") == "listening":
            host, port = j["address"].rsplit(":", 1)
            # Keep draining stdout (audit lines): a full pipe would stall the server.
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, host, int(port)
    proc.kill()
    raise RuntimeError("gatehouse did not start")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def post(conn, path, body):
    data = json.dumps(body)
    t0 = time.perf_counter()
    conn.request("POST", path, body=data, headers={"content-type": "application/json"})
    res = conn.getresponse()
    res.read()
    return res.status, (time.perf_counter() - t0) * 1000.0


def ks(a, b):
    """Two-sample Kolmogorov-Smirnov statistic and its asymptotic p-value."""
    a, b = sorted(a), sorted(b)
    i = j = 0
    d = 0.0
    while i < len(a) and j < len(b):
        x = min(a[i], b[j])
        while i < len(a) and a[i] <= x:
            i += 1
        while j < len(b) and b[j] <= x:
            j += 1
        d = max(d, abs(i / len(a) - j / len(b)))
    n = len(a) * len(b) / (len(a) + len(b))
    lam = (math.sqrt(n) + 0.12 + 0.11 / math.sqrt(n)) * d
    p = 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return d, max(0.0, min(1.0, p))


def pct(v, q):
    s = sorted(v)
    return s[min(len(s) - 1, int(q * len(s)))]


def measure(n, env, lockout):
    d = tempfile.mkdtemp(prefix="gh-bench-enum-")
    proc = None
    try:
        proc, host, port = start(d, env)
        conn = http.client.HTTPConnection(host, port, timeout=60)
        email = f"enum.{uuid.uuid4().hex[:8]}@example.test"
        status, _ = post(conn, "/v1/register", {"email": email, "password": "violet-harbor-tangerine-enum-7"})
        if status != 201:
            raise RuntimeError(f"register answered {status}")
        locked_unknown = f"nobody.locked.{uuid.uuid4().hex[:8]}@example.test"
        if lockout:  # lock the real account and one unknown email for this source: the attacker's view after a lock
            for target in (email, locked_unknown):
                for _ in range(5):
                    post(conn, "/v1/login", {"email": target, "password": "wrong wrong wrong wrong"})
        kinds = ["unknown"] * n + ["known"] * n
        random.shuffle(kinds)
        times = {"unknown": [], "known": []}
        statuses = set()
        for _ in range(3):  # warm-up
            post(conn, "/v1/login", {"email": f"warm.{uuid.uuid4().hex}@example.test", "password": "x" * 20})
        for k in kinds:
            target = email if k == "known" else (locked_unknown if lockout else f"nobody.{uuid.uuid4().hex[:12]}@example.test")
            status, ms = post(conn, "/v1/login", {"email": target, "password": "wrong wrong wrong wrong"})
            statuses.add(status)
            times[k].append(ms)
        return times, statuses
    finally:
        if proc:
            stop(proc)
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    n = 20 if args.smoke or os.environ.get("BENCH_SMOKE") == "1" else args.n
    base_env = {"GATEHOUSE_RATE_LIMIT_ENABLED": "false"}
    if args.smoke or os.environ.get("BENCH_SMOKE") == "1":
        base_env.update({"GATEHOUSE_PASSWORD_ARGON2_MEMORY_KIB": "8192", "GATEHOUSE_PASSWORD_ARGON2_ITERATIONS": "1"})
    print("## Timing enumeration (issue #5)\n")
    print(f"`bench/enumeration.py{' --smoke' if n == 20 else ''}`: {n} logins for unknown emails and {n} wrong-password "
          f"logins for one real account, shuffled, one keep-alive connection, load average {os.getloadavg()[0]:.1f}. "
          "Two-sample Kolmogorov-Smirnov: D (0 = identical distributions) and its asymptotic p-value.\n")
    print("| comparison | unknown p50 / p90 / p99 ms | real account p50 / p90 / p99 ms | KS D | p-value | statuses |")
    print("|---|---|---|---:|---:|---|")
    failed = 0
    for label, env, lockout in [("wrong password vs unknown email (lockout off)", {"GATEHOUSE_LOCKOUT_ENABLED": "false"}, False),
                                ("locked account vs locked unknown email (lockout on)", {}, True)]:
        try:
            times, statuses = measure(n, {**base_env, **env}, lockout)
        except Exception as e:  # a step that fails to run is reported and fails the script
            print(f"| {label} | step failed: {e} | | | | |")
            failed += 1
            continue
        u, k = times["unknown"], times["known"]
        d, p = ks(u, k)
        fmt = lambda v: f"{pct(v, .5):.2f} / {pct(v, .9):.2f} / {pct(v, .99):.2f}"
        print(f"| {label} | {fmt(u)} | {fmt(k)} | {d:.3f} | {p:.3f} | {sorted(statuses)} |")
    print()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
