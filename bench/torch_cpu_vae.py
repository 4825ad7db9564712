#!/usr/bin/env python3
"""The PyTorch peer for `paradit bench vae`: diffusers' AutoencoderKL with SD3's VAE shapes and
random weights, decoding one latent of size/8, f32, timed the same way (warm-up, median, min).

  python bench/torch_cpu_vae.py --size 512 --threads 2
"""
import argparse
import json
import statistics
import time

import torch
from diffusers import AutoencoderKL


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--warmup", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(128, 256, 512, 512),
                        layers_per_block=2, latent_channels=16, use_quant_conv=False, use_post_quant_conv=False).eval()
    z = torch.randn(1, 16, args.size // 8, args.size // 8)
    times = []
    with torch.inference_mode():
        for i in range(args.warmup + args.runs):
            start = time.perf_counter()
            vae.decode(z)
            if i >= args.warmup:
                times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({"peer": f"torch {torch.__version__} diffusers", "size": args.size, "dtype": "f32",
                      "threads": args.threads, "median_ms": statistics.median(times), "min_ms": min(times)}))


if __name__ == "__main__":
    main()
