#!/usr/bin/env python3
"""Hold N keep-alive HTTP/1.1 connections open, each after one completed request.

usage: conns.py HOST PORT N [PATH] [MAX_SECONDS]

Opens N TCP connections to HOST:PORT (loopback only), sends one GET PATH
(default /healthz) with keep-alive on each, reads the whole response (status
must be 200, the connection must stay open), then prints "READY <n>" and waits,
holding every socket, until SIGTERM/SIGINT or MAX_SECONDS (default 120) pass.
Exit status 0 after a signal or the time limit, 1 if a connection fails.
"""
import resource
import signal
import socket
import sys
import time


def read_response(sock):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response headers")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    close = False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value.strip())
        elif name == "connection" and "close" in value.lower():
            close = True
    while len(rest) < length:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed in the response body")
        rest += chunk
    return status, close


def main():
    host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    path = sys.argv[4] if len(sys.argv) > 4 else "/healthz"
    max_seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 120.0
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("conns.py: loopback addresses only")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n\r\n".encode()
    socks = []
    t0 = time.monotonic()
    try:
        for i in range(n):
            s = socket.create_connection((host, port), timeout=10)
            s.sendall(request)
            status, close = read_response(s)
            if status != 200 or close:
                raise ConnectionError(f"connection {i}: status {status}, close={close}")
            socks.append(s)
    except (OSError, ConnectionError, ValueError) as e:
        print(f"FAILED after {len(socks)} connections: {e}", flush=True)
        return 1
    print(f"READY {len(socks)} open_s={time.monotonic() - t0:.3f}", flush=True)
    deadline = time.monotonic() + max_seconds
    while not stop["flag"] and time.monotonic() < deadline:
        time.sleep(0.05)
    # Check that the server kept them open (a closed one reads b"" without blocking).
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            alive += 0 if s.recv(1) == b"" else 1
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    for s in socks:
        s.close()
    print(f"CLOSED alive_at_close={alive}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
