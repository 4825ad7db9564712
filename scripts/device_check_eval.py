#!/usr/bin/env python3
"""Helpers of scripts/device-check.sh (run on the GPU machine, whose python3 has torch, numpy
and safetensors):

  inputs IO.safetensors OUT.safetensors      the fixture's in.* tensors, named as eval takes them
  compare WHAT GOT.safetensors WANT.safetensors KEY MIN_PCC MAX_REL
                                             PCC and errors of GOT['sample'] against WANT[KEY];
                                             exit 1 when below the bar
  versions                                   CUDA, cuDNN, NCCL and torch as PyTorch sees them
  ceilings                                   device copy bandwidth and an 8192^3 bf16 GEMM
"""
import json
import sys

import numpy as np


def load(path):
    from safetensors.numpy import load_file
    try:
        return load_file(path)
    except Exception:  # bf16 tensors: numpy has no bf16, go through torch
        from safetensors.torch import load_file as load_torch
        return {k: v.float().numpy() for k, v in load_torch(path).items()}


def compare(what, got_path, want_path, key, min_pcc, max_rel):
    got = load(got_path)["sample"].astype(np.float64).ravel()
    want = load(want_path)[key].astype(np.float64).ravel()
    if got.shape != want.shape:
        print(f"FAIL {what}: shape {got.shape} vs {want.shape}")
        return 1
    pcc = float(np.corrcoef(got, want)[0, 1])
    max_abs = float(np.max(np.abs(got - want)))
    rel = max_abs / max(float(np.max(np.abs(want))), 1e-30)
    ok = np.isfinite(got).all() and pcc >= min_pcc and rel <= max_rel
    print(f"{'PASS' if ok else 'FAIL'} {what}: PCC {pcc:.7f} (>= {min_pcc}), max-abs {max_abs:.3e}, "
          f"rel {rel:.3e} (<= {max_rel})")
    return 0 if ok else 1


def inputs(io_path, out_path):
    from safetensors.numpy import save_file
    t = load(io_path)
    save_file({k[3:]: np.ascontiguousarray(v) for k, v in t.items() if k.startswith("in.")}, out_path)


def versions():
    import torch
    v = {"torch": torch.__version__, "cuda (torch)": torch.version.cuda,
         "cudnn (torch)": torch.backends.cudnn.version(), "gpu": torch.cuda.get_device_name(0)}
    try:
        v["nccl (torch)"] = ".".join(str(x) for x in torch.cuda.nccl.version())
    except Exception as e:  # noqa: BLE001
        v["nccl (torch)"] = f"unavailable: {e}"
    print(json.dumps(v))


def ceilings():
    import torch
    dev = torch.device("cuda")
    n = 1 << 30  # 2 GiB of bf16 per buffer, well past the L2
    a = torch.randn(n, dtype=torch.bfloat16, device=dev)
    b = torch.empty_like(a)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(3):
        b.copy_(a)
    times = []
    for _ in range(10):
        start.record(); b.copy_(a); end.record(); torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    copy_ms = sorted(times)[len(times) // 2]
    del a, b
    m = 8192
    x = torch.randn(m, m, dtype=torch.bfloat16, device=dev)
    y = torch.randn(m, m, dtype=torch.bfloat16, device=dev)
    for _ in range(3):
        x @ y
    times = []
    for _ in range(10):
        start.record(); x @ y; end.record(); torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    gemm_ms = sorted(times)[len(times) // 2]
    print(json.dumps({"copy_tb_per_s": 2 * 2 * n / copy_ms / 1e9, "gemm_8192_bf16_tflops": 2 * m**3 / gemm_ms / 1e9,
                      "copy_ms": copy_ms, "gemm_ms": gemm_ms}))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "inputs":
        inputs(sys.argv[2], sys.argv[3])
    elif cmd == "compare":
        sys.exit(compare(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]), float(sys.argv[7])))
    elif cmd == "versions":
        versions()
    elif cmd == "ceilings":
        ceilings()
    else:
        sys.exit(f"unknown command {cmd}")
