"""Trains models/tiny-shapes: a diffusers StableDiffusion3Pipeline at a tiny size that draws
"a {colour} {shape} on a {colour} background" (the data of shapes.py), on the CPU.

    tools/train_tiny/train.sh                      # the venv, then this script
    python tools/train_tiny/train.py --out models/tiny-shapes

Order: random text encoders (frozen, weights rounded to bf16 as they are stored), the VAE on the
drawn images, then the MMDiT with SD3's rectified-flow objective (logit-normal timesteps,
velocity target, 10% empty captions so classifier-free guidance works). The script is
deterministic on a given machine and thread count: fixed seeds, deterministic algorithms, a fixed
number of steps. At the end it reloads the folder with diffusers' own
StableDiffusion3Pipeline.from_pretrained and runs the colour check (shapes.colour_check) on all
168 combinations, writing the pass rates into the folder's README.md.
"""

import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes  # noqa: E402

from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel  # noqa: E402
from diffusers import StableDiffusion3Pipeline  # noqa: E402
from transformers import (CLIPTextConfig, CLIPTextModelWithProjection, CLIPTokenizer, T5Config,  # noqa: E402
                          T5EncoderModel, T5TokenizerFast)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
TOKENIZERS = os.path.join(REPO, "tests", "fixtures", "tiny-sd35")

SIZE = 64             # native image size (pixels)
MAX_SEQ = 32          # T5 tokens (the longest caption is 25)
STEPS = 20            # default inference steps
GUIDANCE = 4.0        # default guidance scale


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, flush=True)


def round_bf16_(module):
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(p.to(torch.bfloat16).to(torch.float32))


def text_encoders():
    torch.manual_seed(1)
    clip_l = CLIPTextModelWithProjection(CLIPTextConfig(
        vocab_size=49408, hidden_size=16, intermediate_size=32, num_hidden_layers=3, num_attention_heads=2,
        max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=16, bos_token_id=0, eos_token_id=2,
        pad_token_id=1))
    torch.manual_seed(2)
    clip_g = CLIPTextModelWithProjection(CLIPTextConfig(
        vocab_size=49408, hidden_size=24, intermediate_size=48, num_hidden_layers=4, num_attention_heads=2,
        max_position_embeddings=77, hidden_act="gelu", projection_dim=24, bos_token_id=0, eos_token_id=2,
        pad_token_id=1))
    torch.manual_seed(3)
    t5 = T5EncoderModel(T5Config(
        vocab_size=1100, d_model=64, d_kv=16, d_ff=96, num_layers=2, num_heads=4, feed_forward_proj="gated-gelu",
        relative_attention_num_buckets=32, relative_attention_max_distance=128, dropout_rate=0.0,
        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0))
    for m in (clip_l, clip_g, t5):
        m.eval().requires_grad_(False)
        round_bf16_(m)
    return clip_l, clip_g, t5


def tokenizers(out):
    # The real CLIP vocabulary (vocab.json + merges.txt) for both CLIPs; the small T5 Unigram
    # vocabulary of the test fixtures.
    for name, src in (("tokenizer", "tokenizer_2"), ("tokenizer_2", "tokenizer_2"), ("tokenizer_3", "tokenizer_3")):
        shutil.copytree(os.path.join(TOKENIZERS, src), os.path.join(out, name), dirs_exist_ok=True)
    return (CLIPTokenizer.from_pretrained(os.path.join(out, "tokenizer")),
            CLIPTokenizer.from_pretrained(os.path.join(out, "tokenizer_2")),
            T5TokenizerFast.from_pretrained(os.path.join(out, "tokenizer_3")))


def make_vae():
    torch.manual_seed(4)
    return AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 3,
        up_block_types=["UpDecoderBlock2D"] * 3, block_out_channels=[16, 32, 64], layers_per_block=1,
        latent_channels=4, norm_num_groups=8, sample_size=SIZE, use_quant_conv=False, use_post_quant_conv=False,
        mid_block_add_attention=True, scaling_factor=1.0, shift_factor=0.0, force_upcast=True)


def make_transformer(args):
    torch.manual_seed(5)
    return SD3Transformer2DModel(
        sample_size=SIZE // 4, patch_size=2, in_channels=4, out_channels=4, num_layers=args.layers,
        attention_head_dim=32, num_attention_heads=args.heads, joint_attention_dim=64,
        caption_projection_dim=32 * args.heads, pooled_projection_dim=40, pos_embed_max_size=16, qk_norm="rms_norm")


def draw_dataset(combos, count, seed):
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(combos), size=count)
    images = np.stack([shapes.draw(*combos[i], SIZE, rng) for i in picks])
    return images, picks


def to_pixels(images):
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def lr_at(step, total, peak, warmup):
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup))))


def train_vae(vae, pixels, args):
    opt = torch.optim.AdamW(vae.parameters(), lr=args.vae_lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(6)
    vae.train()
    t0 = time.time()
    for step in range(args.vae_steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.vae_steps, args.vae_lr, 50)
        idx = torch.randint(0, pixels.shape[0], (args.vae_batch,), generator=g)
        x = pixels[idx]
        posterior = vae.encode(x).latent_dist
        z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=g)
        recon = vae.decode(z).sample
        rec = torch.nn.functional.mse_loss(recon, x) + 0.5 * (recon - x).abs().mean()
        kl = posterior.kl().mean() / x[0].numel()
        loss = rec + 1e-4 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == args.vae_steps - 1:
            log(f"vae step {step}/{args.vae_steps} rec {rec.item():.5f} kl {kl.item():.4f} "
                f"({(time.time() - t0) / (step + 1):.2f} s/step)")
    vae.eval()


@torch.no_grad()
def encode_latents(vae, pixels):
    out = []
    for i in range(0, pixels.shape[0], 256):
        out.append(vae.encode(pixels[i:i + 256]).latent_dist.mean)
    return torch.cat(out)


@torch.no_grad()
def encode_prompts(pipe, prompts):
    embeds, pooled = [], []
    for p in prompts:
        e, _, pl, _ = pipe.encode_prompt(prompt=p, prompt_2=None, prompt_3=None, do_classifier_free_guidance=False,
                                         max_sequence_length=MAX_SEQ)
        embeds.append(e)
        pooled.append(pl)
    return torch.cat(embeds), torch.cat(pooled)


def train_transformer(model, latents, cond_ids, embeds, pooled, empty, args):
    ema = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
    g = torch.Generator().manual_seed(7)
    model.train()
    t0 = time.time()
    running = 0.0
    for step in range(args.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr, 100)
        idx = torch.randint(0, latents.shape[0], (args.batch,), generator=g)
        x0 = latents[idx]
        ids = cond_ids[idx]
        e, p = embeds[ids].clone(), pooled[ids].clone()
        drop = torch.rand(args.batch, generator=g) < 0.1
        e[drop], p[drop] = empty[0], empty[1]
        sigma = torch.sigmoid(torch.randn(args.batch, generator=g))
        noise = torch.randn(x0.shape, generator=g)
        s = sigma.view(-1, 1, 1, 1)
        noisy = (1 - s) * x0 + s * noise
        pred = model(hidden_states=noisy, encoder_hidden_states=e, pooled_projections=p,
                     timestep=sigma * 1000, return_dict=False)[0]
        loss = torch.nn.functional.mse_loss(pred, noise - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for e_p, p_p in zip(ema, model.parameters()):
                e_p.mul_(decay).add_(p_p.detach(), alpha=1 - decay)
        running = loss.item() if step == 0 else 0.98 * running + 0.02 * loss.item()
        if step % 100 == 0 or step == args.steps - 1:
            log(f"mmdit step {step}/{args.steps} loss {running:.4f} ({(time.time() - t0) / (step + 1):.2f} s/step)")
    with torch.no_grad():
        for e_p, p_p in zip(ema, model.parameters()):
            p_p.copy_(e_p)
    model.eval()


def write_defaults(out):
    # diffusers passes over model_index.json keys that start with "_"; paradit reads these.
    path = os.path.join(out, "model_index.json")
    with open(path) as f:
        index = json.load(f)
    index["_paradit_defaults"] = {"num_inference_steps": STEPS, "guidance_scale": GUIDANCE,
                                  "max_sequence_length": MAX_SEQ}
    with open(path, "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")


@torch.no_grad()
def evaluate(out, combos, seed):
    pipe = StableDiffusion3Pipeline.from_pretrained(out, torch_dtype=torch.float32)
    pipe.set_progress_bar_config(disable=True)
    results = {}
    for k, (fg, shape, bg) in enumerate(combos):
        img = pipe(shapes.caption(fg, shape, bg), num_inference_steps=STEPS, guidance_scale=GUIDANCE,
                   max_sequence_length=MAX_SEQ, generator=torch.Generator("cpu").manual_seed(seed + k),
                   output_type="np").images[0]
        ok, found = shapes.colour_check(np.clip(np.rint(img * 255), 0, 255).astype(np.uint8), fg, bg)
        results[(fg, shape, bg)] = (ok, found)
    return results


def model_card(out, results, args, seconds):
    hold = set(shapes.held_out())
    train_ok = [r[0] for c, r in results.items() if c not in hold]
    held_ok = [r[0] for c, r in results.items() if c in hold]
    failed = [f"{shapes.caption(*c)} (centre {r[1]['centre']}, corners {', '.join(r[1]['corners'])})"
              for c, r in results.items() if not r[0]]
    lines = [
        "# tiny-shapes",
        "",
        "A diffusers `StableDiffusion3Pipeline` at a tiny size, trained on the CPU by",
        "`tools/train_tiny/train.py` to draw \"a {colour} {shape} on a {colour} background\"",
        f"({SIZE}x{SIZE} pixels, {STEPS} steps, guidance {GUIDANCE}, T5 max_sequence_length {MAX_SEQ}:",
        "diffusers users pass `max_sequence_length=32`; paradit reads these defaults from",
        "`_paradit_defaults` in model_index.json). The text encoders are random and frozen; the VAE",
        "and the MMDiT are trained. Colours, shapes and the held-out combinations: `tools/train_tiny/shapes.py`.",
        "",
        f"Training: {args.vae_steps} VAE steps (batch {args.vae_batch}), {args.steps} MMDiT steps (batch {args.batch}),"
        f" {args.images} drawn images, {seconds / 60:.1f} minutes on {torch.get_num_threads()} threads"
        + (" (the VAE taken from an earlier run of the same settings)." if args.vae_from else "."),
        "",
        "Colour check through diffusers (seed 1000 + combination index, all 168 combinations):",
        f"- trained combinations: {sum(train_ok)}/{len(train_ok)}",
        f"- held-out combinations: {sum(held_ok)}/{len(held_ok)}",
    ]
    if failed:
        lines += ["", "Failed:"] + [f"- {f}" for f in failed]
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    return sum(train_ok) + sum(held_ok)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "models", "tiny-shapes"))
    ap.add_argument("--images", type=int, default=6144)
    ap.add_argument("--vae-steps", type=int, default=1500)
    ap.add_argument("--vae-batch", type=int, default=32)
    ap.add_argument("--vae-lr", type=float, default=2e-3)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--ema", type=float, default=0.998)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--eval-only", action="store_true", help="only rerun the colour check on --out")
    ap.add_argument("--vae-from", help="take the VAE of an earlier run with the same --images, --vae-steps, "
                                       "--vae-batch and --vae-lr instead of training it again (the script is "
                                       "deterministic, so it would come out the same)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    start = time.time()
    out = args.out
    combos = shapes.all_combinations()
    if not args.eval_only:
        if os.path.exists(out):
            shutil.rmtree(out)
        os.makedirs(out)
        clip_l, clip_g, t5 = text_encoders()
        tok_l, tok_g, tok_t5 = tokenizers(out)
        vae = make_vae() if not args.vae_from else AutoencoderKL.from_pretrained(os.path.join(args.vae_from, "vae"))
        transformer = make_transformer(args)
        scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0)
        pipe = StableDiffusion3Pipeline(transformer=transformer, scheduler=scheduler, vae=vae,
                                        text_encoder=clip_l, tokenizer=tok_l, text_encoder_2=clip_g,
                                        tokenizer_2=tok_g, text_encoder_3=t5, tokenizer_3=tok_t5)
        log(f"transformer {sum(p.numel() for p in transformer.parameters()) / 1e6:.2f} M parameters, "
            f"VAE {sum(p.numel() for p in vae.parameters()) / 1e6:.2f} M")

        train = shapes.training_combinations()
        images, picks = draw_dataset(train, args.images, seed=8)
        pixels = to_pixels(images)
        log(f"drew {len(images)} images of {len(train)} combinations ({len(shapes.held_out())} held out)")
        if not args.vae_from:
            train_vae(vae, pixels, args)
            round_bf16_(vae)
        z = encode_latents(vae, pixels)
        shift, scale = z.mean().item(), 1.0 / z.std().item()
        vae.register_to_config(shift_factor=round(shift, 4), scaling_factor=round(scale, 4))
        latents = (z - vae.config.shift_factor) * vae.config.scaling_factor
        log(f"latents {tuple(latents.shape)}: shift {vae.config.shift_factor} scale {vae.config.scaling_factor}")

        embeds, pooled = encode_prompts(pipe, [shapes.caption(*c) for c in train])
        empty = encode_prompts(pipe, [""])
        train_transformer(transformer, latents, torch.from_numpy(picks), embeds, pooled, empty, args)
        round_bf16_(transformer)

        for m in (clip_l, clip_g, t5, transformer):
            m.to(torch.bfloat16)
        pipe.save_pretrained(out, safe_serialization=True)
        for name in ("tokenizer", "tokenizer_2"):  # vocab.json + merges.txt hold the same, in a third of the bytes
            os.remove(os.path.join(out, name, "tokenizer.json"))
        write_defaults(out)
        log(f"wrote {out} in {(time.time() - start) / 60:.1f} minutes")
    trained_seconds = time.time() - start
    results = evaluate(out, combos, seed=1000)
    passed = model_card(out, results, args, trained_seconds)
    log(f"colour check: {passed}/{len(combos)} (see {out}/README.md)")


if __name__ == "__main__":
    main()
