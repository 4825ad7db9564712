#!/usr/bin/env python3
"""`paradit serve` ends cleanly on SIGTERM: it stops taking work, lets the running job finish,
and exits 0. Run as: test_serve_signal.py PARADIT_BINARY TINY_MODEL_DIR"""
import json
import re
import signal
import subprocess
import sys
import time
import urllib.request


def request(url, data=None):
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def main():
    binary, model = sys.argv[1:3]
    server = subprocess.Popen([binary, "serve", "--model", model, "--no-t5", "--port", "0"],
                              stderr=subprocess.PIPE, text=True)
    line = server.stderr.readline()
    port = int(re.search(r":(\d+)/", line).group(1))
    base = f"http://127.0.0.1:{port}"
    job = request(base + "/v1/jobs", {"prompt": "a fox", "width": 128, "height": 128, "steps": 60})
    for _ in range(200):
        if request(f"{base}/v1/jobs/{job['id']}")["state"] == "running":
            break
        time.sleep(0.01)
    start = time.time()
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=120)
    rest = server.stderr.read()
    ok = code == 0 and "finishing the current job" in rest and "1 jobs done" in rest
    print(f"serve exited {code} {time.time() - start:.2f} s after SIGTERM; log: {rest.strip()!r}")
    print("1 passed, 0 failed" if ok else "0 passed, 1 failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
