#!/usr/bin/env bash
# `paradit info` on a good fixture succeeds; on broken files it fails with exit 2 and one
# error line naming the file, never a crash.
set -u
bin="$1"
fixtures="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/check.sh"
check "info on a fixture" 0 "tensors: " "$bin" info --model "$fixtures/layers/linear.safetensors"
check "info lists tensors" 0 "weight" "$bin" info --model "$fixtures/layers/linear.safetensors" --tensors
check "info names a FLUX transformer" 0 "model: FLUX.1 transformer, diffusers layout, config from config.json" \
  "$bin" info --model "$fixtures/tiny-flux/transformer"
check "info names a BFL single file" 0 "model: FLUX.1 transformer (config: FLUX: cannot infer axes_dims_rope" \
  "$bin" info --model "$fixtures/models/flux_dev_like_bfl_fp8.safetensors"
head -c 100 "$fixtures/layers/linear.safetensors" >"$tmp/truncated.safetensors"
check "truncated file" 2 "truncated.safetensors" "$bin" info --model "$tmp/truncated.safetensors"
printf 'garbage-garbage-garbage' >"$tmp/garbage.safetensors"
check "garbage file" 2 "error: .*garbage.safetensors" "$bin" info --model "$tmp/garbage.safetensors"
check "missing file" 2 "no such file" "$bin" info --model "$tmp/absent.safetensors"
check "missing option" 2 "missing required option --model" "$bin" info
check "unknown option" 2 "unknown option --modle" "$bin" info --modle x
check "info names a CLIP encoder" 0 "model: CLIP text encoder" "$bin" info --model "$fixtures/tiny-sd35/text_encoder"
check "info names a T5 encoder" 0 "model: T5 encoder" "$bin" info --model "$fixtures/tiny-sd35/text_encoder_3"
check "info finds the VAE in a single file" 0 "model: VAE (original layout) under 'first_stage_model.'" \
  "$bin" info --model "$fixtures/models/tiny_sd35_single_file.safetensors"
check "unknown command" 2 "unknown command" "$bin" frobnicate
# Paths that are not regular files are refused at once, never blocked on (a FIFO's open waits
# for a writer).
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkfifo "$work/model.safetensors"
check "a FIFO as the model is refused" 2 "model.safetensors: not a regular file" \
  timeout 10 "$bin" info --model "$work/model.safetensors"
cp -r "$fixtures/tiny-sd35" "$work/pipe"
rm "$work/pipe/vae/config.json" && mkfifo "$work/pipe/vae/config.json"
check "a FIFO as a config is refused" 2 "config.json: not a regular file" \
  timeout 10 "$bin" generate --model "$work/pipe" --prompt x --width 64 --height 64 --steps 1 -o "$work/x.png"
rm "$work/pipe/vae/config.json" && mkfifo "$work/pipe/vae/config.json" && rm -rf "$work/pipe/tokenizer_2" && mkdir "$work/pipe/tokenizer_2"
mkfifo "$work/pipe/tokenizer_2/vocab.json" && cp "$fixtures/tiny-sd35/tokenizer_2/merges.txt" "$work/pipe/tokenizer_2/"
check "a FIFO as a tokenizer file is refused" 2 "not a regular file" \
  timeout 10 "$bin" tokenize --model "$work/pipe" --text x
check "a directory as the output is refused" 2 "is a directory" \
  timeout 60 "$bin" generate --model "$fixtures/tiny-sd35" --prompt x --width 64 --height 64 --steps 1 -o "$work"
summary
