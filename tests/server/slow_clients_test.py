#!/usr/bin/env python3
"""Hostile clients against `paradit serve` (src/server/connection_gate.h): 200 connections that
send half a request and stall must not keep a new client's /healthz out; a head that does not
arrive within --header-timeout gets 408, a stalled body 408 after --timeout; too many header lines
or too large a head 431; chunked bodies 411; connections past --max-connections 503 at once. Run
as: slow_clients_test.py PARADIT_BINARY TINY_MODEL_DIR"""
import re
import socket
import subprocess
import sys
import time


def start(binary, model, *extra):
    p = subprocess.Popen([binary, "serve", "--model", model, "--no-t5", "--port", "0", *extra],
                         stderr=subprocess.PIPE, text=True)
    while True:
        line = p.stderr.readline()
        m = re.search(r":(\d+)/", line)
        if m or not line:
            return p, int(m.group(1)) if m else 0


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    return s


def reply(s, limit=30):
    """The status line's code and the whole reply (read until the server closes)."""
    s.settimeout(limit)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    m = re.match(rb"HTTP/1\.1 (\d+)", data)
    return (int(m.group(1)) if m else 0), data.decode("latin-1")


def healthz(port):
    s = connect(port)
    t = time.monotonic()
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    code, _ = reply(s)
    s.close()
    return code, time.monotonic() - t


def main():
    binary, model = sys.argv[1:3]
    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}", flush=True)
        passed, failed = passed + ok, failed + (not ok)

    server, port = start(binary, model, "--header-timeout", "3", "--timeout", "3")
    try:
        # 200 slow-loris connections: half a request line each, then silence.
        slow = []
        for _ in range(200):
            s = connect(port)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHo")
            slow.append(s)
        code, took = healthz(port)
        check("/healthz answers while 200 slow connections are open", code == 200 and took < 2,
              f"status {code} after {took:.2f} s")

        # Each slow one is answered 408 at its head deadline (3 s here) and closed.
        code, text = reply(slow[0], 10)
        check("a head that does not arrive in time: 408", code == 408 and "head" in text, text[:200])
        for s in slow:
            s.close()
        s = connect(port)
        t = time.monotonic()
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        code, _ = reply(s, 10)
        took = time.monotonic() - t
        check("... at the header timeout", code == 408 and 2.5 < took < 6, f"status {code} after {took:.2f} s")
        s.close()

        # A client trickling one byte a second cannot stretch the deadline.
        s = connect(port)
        t = time.monotonic()
        request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 20
        try:
            for byte in request:
                s.sendall(bytes([byte]))
                time.sleep(0.25)
        except (BrokenPipeError, ConnectionResetError):
            pass
        code, _ = reply(s, 10)
        check("a trickled head is cut off at the deadline", code in (0, 408) and time.monotonic() - t < 8,
              f"status {code} after {time.monotonic() - t:.2f} s")
        s.close()

        # A body that stalls half way: 408 after --timeout.
        s = connect(port)
        s.sendall(b"POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 100\r\n\r\n{\"prompt\":")
        code, text = reply(s, 10)
        check("a stalled body: 408", code == 408 and "body" in text, text[:200])
        s.close()

        # Too many header lines, too large a head, chunked bodies, a bad Content-Length.
        s = connect(port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                  b"".join(b"X-H%d: v\r\n" % i for i in range(100)) + b"\r\n")
        code, text = reply(s)
        check("100 header lines: 431", code == 431 and "header lines" in text, text[:200])
        s.close()
        s = connect(port)
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 40000 + b"\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        code, text = reply(s)
        check("a 40 KB head: 431", code == 431, text[:200])
        s.close()
        s = connect(port)
        s.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        code, text = reply(s)
        check("a chunked body: 411", code == 411 and "Content-Length" in text, text[:200])
        s.close()
        s = connect(port)
        s.sendall(b"POST /v1/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n")
        code, text = reply(s)
        check("a negative Content-Length: 400", code == 400, text[:200])
        s.close()

        # An ordinary request still works, and Expect: 100-continue gets one interim reply.
        s = connect(port)
        body = b'{"prompt": "x", "size": "32x32", "steps": 1}'
        s.sendall(b"POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
        s.settimeout(10)
        interim = s.recv(25)
        s.sendall(body)
        code, text = reply(s, 60)
        check("Expect: 100-continue then the body: 100, then 200", interim.startswith(b"HTTP/1.1 100") and
              text.startswith("HTTP/1.1 200") and text.count("HTTP/1.1 100") == 0, (interim + text[:200].encode()).decode())
    finally:
        server.terminate()
        server.wait(timeout=60)

    # The connection limit: past it, 503 at once, and the server is free again once they close.
    server, port = start(binary, model, "--max-connections", "8", "--header-timeout", "30")
    try:
        held = []
        for _ in range(8):
            s = connect(port)
            s.sendall(b"GET / HTTP/1.1\r\n")
            held.append(s)
        time.sleep(0.3)
        t = time.monotonic()
        s = connect(port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        code, text = reply(s)
        check("past --max-connections: 503 at once", code == 503 and "max-connections" in text and
              time.monotonic() - t < 2, f"{code} {text[:200]}")
        s.close()
        for s in held:
            s.close()
        time.sleep(0.5)
        code, _ = healthz(port)
        check("free again once they close", code == 200, f"status {code}")
    finally:
        server.terminate()
        server.wait(timeout=60)

    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
