#!/usr/bin/env python3
"""Memory stays flat under a stream of distinct prompts: 2,000 synchronous requests, each with a
prompt never seen before, from 4 clients against `paradit serve` on the tiny model. The resident
set after the run must be within 5% of the one after the first 500 (the warm-up that fills the
bounded caches, the allocator's arenas and the server's reused connection threads). Before the tokenizer's word cache was bounded, it grew about 210 KB per distinct
prompt. Run as: soak_test.py PARADIT_BINARY TINY_MODEL_DIR [REQUESTS]"""
import json
import re
import subprocess
import sys
import threading
import time
import urllib.request

TOTAL, WARM, CLIENTS = int(sys.argv[3]) if len(sys.argv) > 3 else 2000, 500, 4


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def main():
    binary, model = sys.argv[1:3]
    server = subprocess.Popen([binary, "serve", "--model", model, "--no-t5", "--port", "0", "--max-queue", "64"],
                              stderr=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r":(\d+)/", server.stderr.readline()).group(1))
        url = f"http://127.0.0.1:{port}/v1/images/generations"
        counter = iter(range(TOTAL))
        lock = threading.Lock()
        errors = []
        warm_rss = [None]
        done = [0]

        def client():
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                # 20 words never seen before in every prompt (each one a new entry for the word cache)
                prompt = "a fox " + " ".join(f"q{i}x{k}z" for k in range(20))
                body = json.dumps({"prompt": prompt, "size": "16x16", "steps": 1, "seed": i}).encode()
                req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=60) as r:
                        if r.status != 200:
                            errors.append(r.status)
                except Exception as e:  # noqa: BLE001
                    errors.append(repr(e))
                with lock:
                    done[0] += 1
                    if done[0] == WARM:
                        warm_rss[0] = rss_kb(server.pid)

        start = time.time()
        threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        end_rss = rss_kb(server.pid)
        growth = (end_rss - warm_rss[0]) / warm_rss[0]
        ok = not errors and growth < 0.05
        print(f"{TOTAL} requests with distinct prompts in {time.time() - start:.1f} s, {len(errors)} errors "
              f"{errors[:3]}; RSS {warm_rss[0] / 1024:.1f} MB after {WARM}, {end_rss / 1024:.1f} MB after {TOTAL} "
              f"({100 * growth:+.2f}%)")
        print("1 passed, 0 failed" if ok else "0 passed, 1 failed")
        return 0 if ok else 1
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    sys.exit(main())
