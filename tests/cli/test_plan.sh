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
check "version reports the CUDA backend" 0 "CUDA backend: \(built\|not built\)" "$bin" version
summary
