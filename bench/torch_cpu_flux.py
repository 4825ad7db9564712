#!/usr/bin/env python3
"""The PyTorch peer for `paradit bench transformer --config flux.1-dev|flux.1-schnell` on the CPU.

Runs diffusers' FluxTransformer2DModel with random weights at FLUX.1's shapes and times
denoising steps the same way (warm-up, then median and min): batch B of (size/16)^2 packed
latent tokens of 64 channels and 512 text tokens; --layers N keeps N double-stream and 2N
single-stream blocks, as paradit does.

  python bench/torch_cpu_flux.py --config flux.1-dev --size 512 --batch 1 --dtype bf16 --threads 2 --layers 2
"""
import argparse
import json
import statistics
import time

import torch
from diffusers import FluxTransformer2DModel


def image_ids(side):
    ids = torch.zeros(side, side, 3)
    ids[..., 1] += torch.arange(side)[:, None]
    ids[..., 2] += torch.arange(side)[None, :]
    return ids.reshape(side * side, 3)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="flux.1-dev", choices=["flux.1-dev", "flux.1-schnell"])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--prompt-tokens", type=int, default=512)
    p.add_argument("--layers", type=int, default=0, help="keep N double and 2N single blocks (as paradit)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    t0 = time.perf_counter()
    torch.set_default_dtype(dtype)
    layers = dict(num_layers=args.layers, num_single_layers=2 * args.layers) if args.layers else {}
    model = FluxTransformer2DModel(guidance_embeds=args.config == "flux.1-dev", **layers).eval()
    torch.set_default_dtype(torch.float32)
    load_s = time.perf_counter() - t0
    side = args.size // 16
    x = torch.randn(args.batch, side * side, 64, dtype=dtype)
    ctx = torch.randn(args.batch, args.prompt_tokens, 4096, dtype=dtype)
    pooled = torch.randn(args.batch, 768, dtype=dtype)
    t = torch.full((args.batch,), 0.5, dtype=dtype)
    guidance = torch.full((args.batch,), 3.5, dtype=dtype) if args.config == "flux.1-dev" else None
    img_ids, txt_ids = image_ids(side).to(dtype), torch.zeros(args.prompt_tokens, 3, dtype=dtype)
    times = []
    with torch.inference_mode():
        for i in range(args.warmup + args.runs):
            start = time.perf_counter()
            model(hidden_states=x, encoder_hidden_states=ctx, pooled_projections=pooled, timestep=t,
                  img_ids=img_ids, txt_ids=txt_ids, guidance=guidance)
            if i >= args.warmup:
                times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({"peer": f"torch {torch.__version__} diffusers", "config": args.config, "size": args.size,
                      "batch": args.batch, "dtype": args.dtype, "threads": args.threads, "layers": args.layers or None,
                      "median_ms": statistics.median(times), "min_ms": min(times), "load_s": load_s}))


if __name__ == "__main__":
    main()
