#!/usr/bin/env python3
"""`paradit serve` under mpirun: rank 0 serves HTTP and the other ranks compute each image with
it (here tp=2 on the tiny model); a cancelled job stops every rank at the same step; SIGTERM
to rank 0 finishes the running job, releases the other ranks, and every rank exits 0.
Run as: test_serve_mpi.py MPIEXEC PARADIT_BINARY TINY_MODEL_DIR"""
import base64
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request


def request(url, data=None, method=None):
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data is not None else None,
                                 headers={"Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def main():
    mpiexec, binary, model = sys.argv[1:4]
    cmd = [mpiexec, "--oversubscribe", "-np", "2", "-x", "OMP_NUM_THREADS=1"]
    if os.getuid() == 0:
        cmd.append("--allow-run-as-root")
    cmd += [binary, "serve", "--model", model, "--no-t5", "--port", "0", "--host", "127.0.0.1",
            "--mesh", "1x2", "--parallel", "((1,0),(1,0),(2,1))", "--comm-timeout", "60"]
    server = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    failures = []
    try:
        line = server.stderr.readline()
        match = re.search(r"127\.0\.0\.1:(\d+)/", line)
        if not match:
            print("no port in: " + line + server.stderr.read())
            return 1
        base = f"http://127.0.0.1:{match.group(1)}"
        if "mesh 1x2" not in line:
            failures.append("the start line names the mesh: " + line)
        # Two images in a row: the other rank follows each.
        for seed in (1, 2):
            out = request(base + "/v1/images/generations",
                          {"prompt": "a fox", "size": "64x64", "steps": 2, "seed": seed})
            png = base64.b64decode(out["data"][0]["b64_json"])
            if png[:8] != b"\x89PNG\r\n\x1a\n":
                failures.append(f"image {seed} is not a PNG")
        # A cancelled job: rank 0 stops, and rank 1 must stop at the same step, or the next
        # job's collectives would not line up (and would time out).
        job = request(base + "/v1/jobs", {"prompt": "a slow fox", "width": 128, "height": 128, "steps": 100})
        for _ in range(500):
            if request(f"{base}/v1/jobs/{job['id']}")["state"] == "running":
                break
            time.sleep(0.01)
        request(f"{base}/v1/jobs/{job['id']}", method="DELETE")
        for _ in range(500):
            if request(f"{base}/v1/jobs/{job['id']}")["state"] == "cancelled":
                break
            time.sleep(0.02)
        else:
            failures.append("job was not cancelled")
        out = request(base + "/v1/images/generations", {"prompt": "after the cancel", "size": "64x64", "steps": 2})
        if not out["data"][0]["b64_json"]:
            failures.append("no image after the cancelled job")
        # Stop it as a service manager would stop rank 0. (Signalling mpirun works too: it
        # forwards SIGTERM, the ranks finish the same way, but mpirun itself then exits 1.)
        rank0 = int(re.search(r"pid (\d+)", line).group(1))
        start = time.time()
        os.kill(rank0, signal.SIGTERM)
        code = server.wait(timeout=120)
        rest = server.stderr.read()
        print(f"mpirun exited {code} {time.time() - start:.2f} s after SIGTERM; log: {rest.strip()!r}")
        if code != 0:
            failures.append(f"exit code {code}")
        if "jobs done" not in rest:
            failures.append("rank 0 did not drain")
    finally:
        if server.poll() is None:
            server.kill()
    for f in failures:
        print("FAIL " + f)
    print(f"{0 if failures else 1} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
