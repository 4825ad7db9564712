#!/usr/bin/env bash
# `paradit generate` end to end on the bundled tiny model: a real PNG with its parameters,
# the same bytes for the same seed, a trace file, and one-line exit-2 errors for bad input.
set -u
bin="$1"
model="$2/tiny-sd35"
example="$3"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
source "$(dirname "$0")/check.sh"
gen=("$bin" generate --model "$model" --prompt "a red fox" --width 128 --height 64 --steps 2 --seed 5 --no-t5)
check "generate writes a PNG" 0 "wrote .*a.png (128x64)" "${gen[@]}" -o "$tmp/a.png" --trace "$tmp/trace.json" --timings
check "the PNG is a PNG" 0 "P   N   G" sh -c "head -c 4 '$tmp/a.png' | od -An -c"
check "the PNG carries its parameters" 0 "Seed: 5, Size: 128x64" grep -a -o "Seed: 5, Size: 128x64" "$tmp/a.png"
check "the trace is Chrome trace JSON" 0 '"traceEvents"' cat "$tmp/trace.json"
check "same seed, same image" 0 "" "${gen[@]}" -o "$tmp/b.png" --quiet
check "identical bytes" 0 "" cmp "$tmp/a.png" "$tmp/b.png"
check "dtype f32 is the reference" 0 "f32 GEMMs" "${gen[@]}" -o "$tmp/c.png" --dtype f32 --timings
check "dtype bf16" 0 "bf16 GEMMs" "${gen[@]}" -o "$tmp/c.png" --dtype bf16 --timings
check "dtype auto resolves" 0 "\(bf16\|f32\) GEMMs" "${gen[@]}" -o "$tmp/c.png" --timings
check "bad dtype" 2 "dtype: must be auto, f32 or bf16" "${gen[@]}" -o "$tmp/c.png" --dtype f16
check "bad width" 2 "width: 100 must be a positive multiple of 16" "${gen[@]}" --width 100
check "too large" 2 "exceeds this model's largest size" "${gen[@]}" --width 4096
check "bad seed" 2 "needs a non-negative integer" "${gen[@]}" --seed -1
check "bad rng" 2 "only 'torch'" "${gen[@]}" --rng philox
check "missing prompt" 2 "missing required option --prompt" "$bin" generate --model "$model"
check "missing model" 2 "no such file" "$bin" generate --model "$tmp/none" --prompt x
check "unwritable output" 2 "cannot" "${gen[@]}" -o "$tmp/no/such/dir/x.png"
check "no partial file left" 0 "^0$" sh -c "ls '$tmp' | grep -c tmp || true"
# bench make-pipeline: a random-weight pipeline of the tiny model's shapes in many small shards
# (shard indexes for every component), which loads and renders.
check "make-pipeline writes shards" 0 "wrote $tmp/rand" "$bin" bench make-pipeline --like "$model" --out "$tmp/rand" --shard-gb 0.0005
check "make-pipeline indexes" 0 "weight_map" cat "$tmp/rand/transformer/diffusion_pytorch_model.safetensors.index.json"
check "a random pipeline renders" 0 "wrote .*r.png (64x64)" "$bin" generate --model "$tmp/rand" --prompt x --width 64 --height 64 --steps 1 -o "$tmp/r.png"
check "make-pipeline needs tokenizers" 2 "has no tokenizer" "$bin" bench make-pipeline --like "$model" --out "$tmp/r2" --tokenizers "$tmp"
check "library example" 0 "256x256, 4 steps" "$example" "$model" "a fox" "$tmp/example.png"
# The bundled trained model with nothing but a prompt: its own size, steps and guidance.
shapes="$(dirname "$0")/../../models/tiny-shapes"
check "the trained model's defaults" 0 "model custom, 20 steps, guidance 4.00" \
  "$bin" generate --model "$shapes" --prompt "a red circle on a blue background" -o "$tmp/s.png" --timings
check "the trained model's native size" 0 "wrote .*s.png (64x64)" \
  "$bin" generate --model "$shapes" --prompt "a red circle on a blue background" -o "$tmp/s.png"
check "a prompt from a file" 0 "wrote .*f.png (64x64)" sh -c "printf 'a red circle on a blue background' > '$tmp/p.txt' && \
  '$bin' generate --model '$shapes' --prompt-file '$tmp/p.txt' -o '$tmp/f.png'"
check "the file's prompt is the prompt" 0 "" cmp "$tmp/s.png" "$tmp/f.png"
check "--prompt and --prompt-file together" 2 "not both" "$bin" generate --model "$shapes" --prompt x \
  --prompt-file "$tmp/p.txt" -o "$tmp/x.png"
# FLUX.1: the tiny FluxPipeline folder renders through the same command (the pipeline's numbers
# against diffusers are tests/pipelines/test_flux_pipeline.cpp), true CFG takes its own option.
flux="$2/tiny-flux"
fgen=("$bin" generate --model "$flux" --prompt "a red circle on a blue background" --width 96 --height 64 --steps 2
      --seed 7 --max-sequence-length 32)
check "FLUX generates" 0 "model flux.1-dev, 2 steps, guidance 3.50" "${fgen[@]}" -o "$tmp/flux.png" --timings
check "FLUX same seed again" 0 "" "${fgen[@]}" -o "$tmp/flux2.png" --quiet
check "FLUX same seed, same image" 0 "" cmp "$tmp/flux.png" "$tmp/flux2.png"
check "FLUX true CFG" 0 "wrote .*fc.png (96x64)" "${fgen[@]}" --negative-prompt "a green square" --true-cfg 2 \
  -o "$tmp/fc.png"
check "FLUX true CFG changes the image" 1 "" cmp -s "$tmp/flux.png" "$tmp/fc.png"
check "FLUX bad size" 2 "width: 72 must be a positive multiple of 16" "${fgen[@]}" --width 72
check "FLUX bad true CFG" 2 "true_cfg: -1 must be in 0..100" "${fgen[@]}" --true-cfg -1
check "FLUX needs T5" 2 "FLUX cannot run without T5" "${fgen[@]}" --no-t5
check "FLUX --transformer FILE" 0 "wrote .*ft.png (96x64)" "${fgen[@]}" \
  --transformer "$2/models/tiny_flux_transformer_bfl.safetensors" -o "$tmp/ft.png"
check "make-pipeline writes a FLUX folder" 0 "wrote $tmp/randflux" "$bin" bench make-pipeline --like "$flux" \
  --out "$tmp/randflux" --shard-gb 0.0005
check "the random FLUX folder is a FluxPipeline" 0 "FluxPipeline" cat "$tmp/randflux/model_index.json"
check "a random FLUX pipeline renders" 0 "wrote .*rf.png (64x64)" "$bin" generate --model "$tmp/randflux" --prompt x \
  --width 64 --height 64 --steps 1 --max-sequence-length 16 -o "$tmp/rf.png"
check "SD3 refuses --transformer" 2 "only FLUX pipelines take a separate transformer file" "${gen[@]}" \
  --transformer "$2/models/tiny_flux_transformer_bfl.safetensors"
summary
