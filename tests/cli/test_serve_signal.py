#!/usr/bin/env python3
"""`paradit serve` ends cleanly on SIGTERM: it stops taking work, lets the running job finish,
and exits 0; a second SIGTERM cancels the running job at its next step. Run as:
test_serve_signal.py PARADIT_BINARY TINY_MODEL_DIR"""
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


def start_with_running_job(binary, model, steps, size=128):
    server = subprocess.Popen([binary, "serve", "--model", model, "--no-t5", "--port", "0"],
                              stderr=subprocess.PIPE, text=True)
    line = server.stderr.readline()
    port = int(re.search(r":(\d+)/", line).group(1))
    base = f"http://127.0.0.1:{port}"
    job = request(base + "/v1/jobs", {"prompt": "a fox", "width": size, "height": size, "steps": steps})
    for _ in range(200):
        if request(f"{base}/v1/jobs/{job['id']}")["state"] == "running":
            break
        time.sleep(0.01)
    return server


def main():
    binary, model = sys.argv[1:3]
    passed = 0
    # One SIGTERM: the running job finishes, then the server exits 0.
    server = start_with_running_job(binary, model, 60)
    start = time.time()
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=120)
    rest = server.stderr.read()
    ok = code == 0 and "finishing the current job" in rest and "1 jobs done" in rest
    passed += ok
    print(f"{'ok  ' if ok else 'FAIL'} serve exited {code} {time.time() - start:.2f} s after SIGTERM; log: {rest.strip()!r}")
    # Two: the running job (150 steps at 512x512) is cancelled at its next step.
    server = start_with_running_job(binary, model, 150, 512)
    server.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    start = time.time()
    server.send_signal(signal.SIGTERM)
    code = server.wait(timeout=60)
    rest = server.stderr.read()
    took = time.time() - start
    ok2 = code == 0 and "cancelling the running job" in rest and "0 jobs done" in rest and took < 10
    passed += ok2
    print(f"{'ok  ' if ok2 else 'FAIL'} serve exited {code} {took:.2f} s after a second SIGTERM; log: {rest.strip()!r}")
    print(f"{passed} passed, {2 - passed} failed")
    return 0 if passed == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
