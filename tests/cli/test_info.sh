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
summary
