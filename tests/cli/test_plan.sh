#!/usr/bin/env bash
# `paradit plan` (the cost model behind --parallel auto), the multi-rank options' errors that
# need no mpirun, and `paradit version`'s report of the CUDA backend.
set -u
bin="$1"
models="$2/models"
source "$(dirname "$0")/check.sh"
check "plan: the seed's 2x4 preset on its chip" 0 "auto: ((2,1),(2,0),(2,1))" "$bin" plan --mesh 2x4 --profile wormhole
check "plan: the seed's 4x8 preset on its chip" 0 "auto: ((2,1),(4,0),(4,1))" "$bin" plan --mesh 4x8 --profile wormhole
check "plan: configs that don't fit are marked" 0 "((2,1),(4,1),(1,0)) .* no$" "$bin" plan --mesh 1x8 --profile wormhole
check "plan: one config, Ulysses degree" 0 "ulysses=8" "$bin" plan --mesh 1x8 --parallel "((1,0),(8,1),(1,0))" --ulysses 8
check "plan: a config that doesn't fit the mesh" 2 "does not divide mesh axis" "$bin" plan --mesh 2x4 --parallel "((2,1),(3,0),(1,1))"
check "plan: bad mesh" 2 "want RxC" "$bin" plan --mesh 2by4
check "unknown profile" 2 "unknown device profile 'tpu'" "$bin" eval transformer --model "$models/sd35_large_like" \
  --in "$models/sd35_large_like_eval_in.safetensors" --out /dev/null --profile tpu
check "bad comm timeout" 2 "comm-timeout needs a positive number" "$bin" eval transformer \
  --model "$models/sd35_large_like" --in "$models/sd35_large_like_eval_in.safetensors" --out /dev/null --mesh 1x1 \
  --comm-timeout -3
for bad in inf nan -inf 1e300 0; do
  check "comm timeout '$bad' is refused (the hang guard stays on)" 2 "comm-timeout needs a positive number" "$bin" \
    eval transformer --model "$models/sd35_large_like" --in "$models/sd35_large_like_eval_in.safetensors" \
    --out /dev/null --mesh 1x1 --comm-timeout "$bad"
done
check "an empty --parallel is an error" 2 "parallel is empty" "$bin" generate --model "$2/tiny-sd35" --prompt x \
  --mesh 1x1 --parallel ""
check "a mesh too large to count" 2 "more than 65536 ranks" "$bin" plan --mesh 99999x99999
# Under mpirun an option error is printed by rank 0 alone, then every rank exits 2.
if command -v mpirun >/dev/null; then
  for opt in "--comm-timeout inf" "--no-such-option 1" "--parallel="; do
    # shellcheck disable=SC2086
    check "option error under mpirun printed once: $opt" 0 "^1$" sh -c "mpirun --allow-run-as-root --oversubscribe \
      -np 2 '$bin' generate --model '$2/tiny-sd35' --prompt x --mesh 1x2 $opt 2>&1 | grep -c 'paradit: error'"
  done
fi
check "version reports the CUDA backend" 0 "CUDA backend: \(built\|not built\)" "$bin" version
check "version names the bf16 attention kernel" 0 "bf16 attention kernel: \(amx\|avx512-bf16\|avx512-fma (bf16 widened)\|portable\)" "$bin" version
check "version names the bf16 GEMM method" 0 "bf16 GEMM: \(bf16 products\|f32 FMAs on widened bf16\)" "$bin" version
check "PARADIT_BF16_GEMM=dot forces bf16 products" 0 "bf16 GEMM: bf16 products.*set by PARADIT_BF16_GEMM" env PARADIT_BF16_GEMM=dot "$bin" version
check "PARADIT_BF16_GEMM=widened forces f32 FMAs" 0 "bf16 GEMM: f32 FMAs on widened bf16, set by PARADIT_BF16_GEMM" env PARADIT_BF16_GEMM=widened "$bin" version
check "a bad PARADIT_BF16_GEMM is a clear error" 2 "PARADIT_BF16_GEMM must be 'dot' or 'widened'" env PARADIT_BF16_GEMM=bogus "$bin" version
summary
