#!/usr/bin/env python3
"""The PyTorch peer for `paradit bench t5`: transformers' T5EncoderModel at T5-XXL's shapes with
random weights, batch B of T tokens, timed the same way (warm-up, then median and min).

  python bench/torch_cpu_t5.py --batch 2 --tokens 256 --dtype bf16 --threads 2
"""
import argparse
import json
import statistics
import time

import torch
from transformers import T5Config, T5EncoderModel


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--tokens", type=int, default=256)
    p.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float32
    config = T5Config(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64,
                      feed_forward_proj="gated-gelu", relative_attention_num_buckets=32)
    t0 = time.perf_counter()
    torch.set_default_dtype(dtype)
    model = T5EncoderModel(config).eval()
    torch.set_default_dtype(torch.float32)
    load_s = time.perf_counter() - t0
    ids = (torch.arange(args.batch * args.tokens).reshape(args.batch, args.tokens) * 7919 + 13) % 32000
    times = []
    with torch.inference_mode():
        for i in range(args.warmup + args.runs):
            start = time.perf_counter()
            model(ids)
            if i >= args.warmup:
                times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps({"peer": f"torch {torch.__version__} transformers", "config": "t5-xxl", "batch": args.batch,
                      "tokens": args.tokens, "dtype": args.dtype, "threads": args.threads,
                      "median_ms": statistics.median(times), "min_ms": min(times), "load_s": load_s}))


if __name__ == "__main__":
    main()
