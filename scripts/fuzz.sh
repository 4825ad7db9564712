#!/usr/bin/env bash
# Fuzzes the safetensors header parser with libFuzzer for a bounded time (not part of CI).
#
#   scripts/fuzz.sh [seconds=60]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
for p in clang libclang-rt-14-dev libomp-dev; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p"
  fi
done
scripts/setup.sh >/dev/null  # the other build dependencies
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DPARADIT_FUZZ=ON -DPARADIT_BUILD_TESTS=OFF -DPARADIT_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz --target fuzz_safetensors_header -j "$(nproc)"
corpus=fuzz-corpus/safetensors_header
mkdir -p "$corpus"
cp -n tests/fixtures/*/*.safetensors "$corpus"/ 2>/dev/null || true
build-fuzz/tests/fuzz/fuzz_safetensors_header "$corpus" -max_total_time="$seconds" -max_len=4096 -timeout=5 \
  -print_final_stats=1
