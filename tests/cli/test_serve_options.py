#!/usr/bin/env python3
"""`paradit serve` options seen from outside: --access-log writes one line per request (time,
method, path, status, duration; never the body) and --api-key guards the API. A FLUX.1 pipeline
folder (tests/fixtures/tiny-flux, beside the SD3 one) serves through the same APIs. (The warning for a
non-loopback address without a key is not exercised here: tests bind 127.0.0.1 only; its
condition, is_loopback_host, is unit-tested in ServerGuard.) Run as:
test_serve_options.py PARADIT_BINARY TINY_MODEL_DIR"""
import json
import os
import re
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request


def start(binary, model, *extra, no_t5=True):
    p = subprocess.Popen([binary, "serve", "--model", model, *(["--no-t5"] if no_t5 else []), "--port", "0", *extra],
                         stderr=subprocess.PIPE, text=True)
    lines = []
    while True:
        line = p.stderr.readline()
        lines.append(line)
        m = re.search(r":(\d+)/", line)
        if m or not line:
            return p, int(m.group(1)) if m else 0, "".join(lines)


def status(url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main():
    binary, model = sys.argv[1:3]
    passed = failed = 0

    def check(name, ok, detail=""):
        nonlocal passed, failed
        print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}")
        passed, failed = passed + ok, failed + (not ok)

    with tempfile.TemporaryDirectory() as tmp:
        log = os.path.join(tmp, "access.log")
        server, port, _ = start(binary, model, "--access-log", log, "--api-key", "k3y")
        base = f"http://127.0.0.1:{port}"
        secret_prompt = "a secret prompt nobody may log"
        body = json.dumps({"prompt": secret_prompt, "size": "32x32", "steps": 1}).encode()
        check("no key: 401", status(base + "/v1/models") == 401)
        check("with the key: 200", status(base + "/v1/models", headers={"Authorization": "Bearer k3y"}) == 200)
        check("a generation with the key", status(base + "/v1/images/generations", body,
                                                   {"Authorization": "Bearer k3y",
                                                    "Content-Type": "application/json"}) == 200)
        server.terminate()
        server.wait(timeout=60)
        text = open(log).read()
        lines = text.strip().splitlines()
        pattern = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (GET|POST) \S+ \d{3} [\d.]+ ms$"
        check("one line per request", len(lines) == 3, text)
        check("time, method, path, status, duration", all(re.match(pattern, l) for l in lines), text)
        check("statuses logged", " /v1/models 401 " in text and " /v1/images/generations 200 " in text, text)
        check("never the body", secret_prompt not in text, text)

    flux = os.path.join(os.path.dirname(os.path.abspath(model)), "tiny-flux")
    server, port, banner = start(binary, flux, no_t5=False)
    base = f"http://127.0.0.1:{port}"
    check("FLUX serves", "flux.1-dev on http://127.0.0.1" in banner, banner)
    body = json.dumps({"prompt": "a red circle", "size": "64x64", "steps": 2}).encode()
    req = urllib.request.Request(base + "/v1/images/generations", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        answer = json.loads(r.read())
    check("FLUX image over the OpenAI API", len(answer.get("data", [])) == 1 and
          answer["data"][0].get("b64_json", "").startswith("iVBORw0KGgo"), str(answer)[:200])
    server.terminate()
    server.wait(timeout=60)

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
