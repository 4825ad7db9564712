#!/usr/bin/env python3
"""The PyTorch peer for `paradit bench transformer --device cuda` (the GPU speed issue).

diffusers' SD3Transformer2DModel with random weights at the released shapes, on one device, in
eager mode and with torch.compile, timed with CUDA events: warm-up, then the median and min of
the runs, the achieved TFLOP/s (the same FLOP count as paradit's mmdit_flops) and the peak
memory. Prints one JSON line per mode. On a CPU it runs too (for checking the script itself).

  python bench/torch_sd35.py --config sd3.5-large --size 1024 --batch 2 --modes eager,compile
  python bench/torch_sd35.py --config tiny --size 64 --device cpu --modes eager   # a quick check
"""
import argparse
import json
import statistics
import time

import torch
from diffusers import SD3Transformer2DModel

from torch_cpu_sd35 import PRESETS as RELEASED

# The released shapes, shared with the CPU peer; "tiny" checks this script in seconds.
PRESETS = dict(RELEASED, tiny=dict(num_layers=2, num_attention_heads=2, caption_projection_dim=128,
                                   pos_embed_max_size=32, qk_norm="rms_norm", dual_attention_layers=()))


def mmdit_flops(cfg, image_tokens, prompt_tokens, batch, head_dim=64, joint_dim=4096, out_per_token=64):
    """The FLOP count of paradit's mmdit_flops (src/models/mmdit/config.cpp), term for term."""
    d = cfg["num_attention_heads"] * head_dim
    n, m, layers = image_tokens, prompt_tokens, cfg["num_layers"]
    total = 2 * m * joint_dim * d
    for b in range(layers):
        last = b == layers - 1
        total += 2 * n * d * (3 * d + d + 8 * d)
        total += 2 * m * d * (3 * d + (0 if last else d + 8 * d))
        total += 2 * 2 * (n + m) * (n + m) * d
        if b in cfg["dual_attention_layers"]:
            total += 2 * n * d * 4 * d + 2 * 2 * n * n * d
    total += 2 * n * d * out_per_token
    return total * batch


def timed_runs(fn, runs, warmup, device):
    times = []
    for i in range(warmup + runs):
        if device == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            ms = start.elapsed_time(end)
        else:
            t0 = time.perf_counter()
            fn()
            ms = (time.perf_counter() - t0) * 1e3
        if i >= warmup:
            times.append(ms)
    return times


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="sd3.5-large", choices=PRESETS)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--prompt-tokens", type=int, default=333)
    p.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--modes", default="eager,compile")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--peak-tflops", type=float, default=0.0, help="the device's bf16 peak, for the ratio")
    p.add_argument("--compile-mode", default="max-autotune-no-cudagraphs",
                   help="torch.compile's mode ('default' compiles in a fraction of the time)")
    args = p.parse_args()
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    cfg = PRESETS[args.config]
    torch.manual_seed(0)
    with torch.device(args.device):
        model = SD3Transformer2DModel(patch_size=2, in_channels=16, out_channels=16, attention_head_dim=64,
                                      joint_attention_dim=4096, pooled_projection_dim=2048, sample_size=128,
                                      **cfg).to(dtype).eval()
    latent = args.size // 8
    x = torch.randn(args.batch, 16, latent, latent, dtype=dtype, device=args.device)
    ctx = torch.randn(args.batch, args.prompt_tokens, 4096, dtype=dtype, device=args.device)
    pooled = torch.randn(args.batch, 2048, dtype=dtype, device=args.device)
    t = torch.full((args.batch,), 500.0, device=args.device)
    flop = mmdit_flops(cfg, (latent // 2) ** 2, args.prompt_tokens, args.batch)
    for mode in args.modes.split(","):
        fn = model if mode == "eager" else torch.compile(model, mode=args.compile_mode)
        if args.device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        with torch.inference_mode():
            times = timed_runs(lambda: fn(hidden_states=x, encoder_hidden_states=ctx, pooled_projections=pooled,
                                          timestep=t), args.runs, args.warmup, args.device)
        median = statistics.median(times)
        out = {"peer": f"torch {torch.__version__} diffusers {mode}" + ("" if mode == "eager" else f" ({args.compile_mode})"), "config": args.config, "size": args.size,
               "batch": args.batch, "dtype": args.dtype, "device": args.device,
               "device_name": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
               "median_ms": median, "min_ms": min(times), "tflop_per_step": flop / 1e12,
               "tflops": flop / 1e12 / (median / 1e3)}
        if args.device == "cuda":
            out["peak_gb"] = torch.cuda.max_memory_allocated() / 1e9
        if args.peak_tflops:
            out["of_peak"] = out["tflops"] / args.peak_tflops
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
