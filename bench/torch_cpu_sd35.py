#!/usr/bin/env python3
"""The PyTorch peer for `paradit bench transformer` on the CPU.

Runs diffusers' SD3Transformer2DModel with random weights at the released models' shapes and
times denoising steps the same way (warm-up, then median and min). Same inputs shape as paradit:
batch B of (size/8)^2 latents and 333 prompt tokens.

  python bench/torch_cpu_sd35.py --config sd3.5-medium --size 512 --batch 2 --dtype bf16 --threads 2
  python bench/torch_cpu_sd35.py --config sd3.5-large --size 1024 --batch 2 --dtype bf16 --threads 2 --layers 4
"""
import argparse
import json
import statistics
import time

import torch
from diffusers import SD3Transformer2DModel

PRESETS = {
    "sd3.5-large": dict(num_layers=38, num_attention_heads=38, caption_projection_dim=2432, pos_embed_max_size=192,
                        qk_norm="rms_norm", dual_attention_layers=()),
    "sd3.5-medium": dict(num_layers=24, num_attention_heads=24, caption_projection_dim=1536, pos_embed_max_size=384,
                         qk_norm="rms_norm", dual_attention_layers=tuple(range(13))),
    "sd3-medium": dict(num_layers=24, num_attention_heads=24, caption_projection_dim=1536, pos_embed_max_size=192,
                       qk_norm=None, dual_attention_layers=()),
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="sd3.5-medium", choices=PRESETS)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--prompt-tokens", type=int, default=333)
    p.add_argument("--layers", type=int, default=0, help="keep the first N blocks (as paradit bench --layers)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    t0 = time.perf_counter()
    torch.set_default_dtype(dtype)
    preset = dict(PRESETS[args.config])
    if args.layers:
        preset["num_layers"] = args.layers
        preset["dual_attention_layers"] = tuple(i for i in preset["dual_attention_layers"] if i < args.layers)
    model = SD3Transformer2DModel(patch_size=2, in_channels=16, out_channels=16, attention_head_dim=64,
                                  joint_attention_dim=4096, pooled_projection_dim=2048, sample_size=128,
                                  **preset).eval()
    torch.set_default_dtype(torch.float32)
    load_s = time.perf_counter() - t0
    latent = args.size // 8
    x = torch.randn(args.batch, 16, latent, latent, dtype=dtype)
    ctx = torch.randn(args.batch, args.prompt_tokens, 4096, dtype=dtype)
    pooled = torch.randn(args.batch, 2048, dtype=dtype)
    t = torch.full((args.batch,), 500.0)
    times = []
    with torch.inference_mode():
        for i in range(args.warmup + args.runs):
            start = time.perf_counter()
            model(hidden_states=x, encoder_hidden_states=ctx, pooled_projections=pooled, timestep=t)
            if i >= args.warmup:
                times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({"peer": f"torch {torch.__version__} diffusers", "config": args.config, "size": args.size,
                      "batch": args.batch, "dtype": args.dtype, "threads": args.threads, "layers": args.layers or None,
                      "median_ms": statistics.median(times), "min_ms": min(times), "load_s": load_s}))


if __name__ == "__main__":
    main()
