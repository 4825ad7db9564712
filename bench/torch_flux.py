#!/usr/bin/env python3
"""The PyTorch peer for `paradit bench transformer --config flux.1-dev --device cuda`.

diffusers' FluxTransformer2DModel with random weights at FLUX.1's shapes on one device, eager
and with torch.compile, timed with CUDA events as bench/torch_sd35.py times SD3: batch B of
(size/16)^2 packed latent tokens of 64 channels and 512 text tokens. One JSON line per mode.

  python bench/torch_flux.py --config flux.1-dev --size 1024 --modes eager,compile --compile-mode default
  python bench/torch_flux.py --config flux.1-dev --size 256 --layers 1 --device cpu --modes eager  # a check
"""
import argparse
import json
import statistics

import torch
from diffusers import FluxTransformer2DModel

from torch_cpu_flux import image_ids
from torch_sd35 import timed_runs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--config", default="flux.1-dev", choices=["flux.1-dev", "flux.1-schnell"])
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--prompt-tokens", type=int, default=512)
    p.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--modes", default="eager,compile")
    p.add_argument("--compile-mode", default="default")
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--layers", type=int, default=0, help="keep N double and 2N single blocks (as paradit)")
    args = p.parse_args()
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    torch.manual_seed(0)
    layers = dict(num_layers=args.layers, num_single_layers=2 * args.layers) if args.layers else {}
    with torch.device(args.device):
        model = FluxTransformer2DModel(guidance_embeds=args.config == "flux.1-dev", **layers).to(dtype).eval()
    side = args.size // 16
    dev = args.device
    x = torch.randn(args.batch, side * side, 64, dtype=dtype, device=dev)
    ctx = torch.randn(args.batch, args.prompt_tokens, 4096, dtype=dtype, device=dev)
    pooled = torch.randn(args.batch, 768, dtype=dtype, device=dev)
    t = torch.full((args.batch,), 0.5, dtype=dtype, device=dev)
    guidance = torch.full((args.batch,), 3.5, dtype=dtype, device=dev) if args.config == "flux.1-dev" else None
    img_ids = image_ids(side).to(dtype).to(dev)
    txt_ids = torch.zeros(args.prompt_tokens, 3, dtype=dtype, device=dev)
    for mode in args.modes.split(","):
        fn = model if mode == "eager" else torch.compile(model, mode=args.compile_mode)
        with torch.inference_mode():
            times = timed_runs(lambda: fn(hidden_states=x, encoder_hidden_states=ctx, pooled_projections=pooled,
                                          timestep=t, img_ids=img_ids, txt_ids=txt_ids, guidance=guidance),
                               args.runs, args.warmup, dev)
        median = statistics.median(times)
        print(json.dumps({"peer": f"torch {torch.__version__} diffusers {mode}" +
                          ("" if mode == "eager" else f" ({args.compile_mode})"),
                          "config": args.config, "size": args.size, "batch": args.batch, "dtype": args.dtype,
                          "device": dev, "layers": args.layers or None, "median_ms": median, "min_ms": min(times)}),
              flush=True)


if __name__ == "__main__":
    main()
