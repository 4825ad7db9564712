#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in BUILD, then runs each
# for SECONDS from its seeds with a fixed random seed. ctest runs it for 20 s per target;
# scripts/fuzz.sh runs it for longer. Any crash, leak, undefined behaviour, timeout or
# out-of-memory is a finding: the reproducer is kept under BUILD/findings and the run fails.
#
#   tests/fuzz/run.sh BUILD SECONDS [TARGET...]
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="$1"
seconds="$2"
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_safetensors_header fuzz_http_request fuzz_config_json
                                     fuzz_config_inference fuzz_tokenizers)
if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
    >/dev/null 2>&1; then
  echo "fuzz: clang++ and libFuzzer are missing (scripts/setup.sh --tests installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S "$src" -B "$build" -DPARADIT_FUZZ=ON -DPARADIT_BUILD_TESTS=OFF \
    -DPARADIT_BUILD_BENCH=OFF -DPARADIT_CUDA=OFF >/dev/null
fi
cmake --build "$build" --target fuzz_targets -j "$(nproc)" >"$build/build.log" 2>&1 || {
  tail -40 "$build/build.log" >&2
  exit 1
}

# Seeds: the committed ones, plus the fixtures' own configs and safetensors headers.
seed_dir() {
  local t="$1" dir="$build/corpus/$1"
  mkdir -p "$dir"
  [ -d "$src/tests/fuzz/seeds/$t" ] && cp -n "$src/tests/fuzz/seeds/$t"/* "$dir"/
  case "$t" in
    fuzz_config_json)
      for c in "$src"/tests/fixtures/tiny-sd35/*/config.json; do
        cp -n "$c" "$dir/$(basename "$(dirname "$c")").json"
      done ;;
    fuzz_safetensors_header)
      for f in "$src"/tests/fixtures/tiny-sd35/*/*.safetensors; do
        head -c 4096 "$f" >"$dir/$(basename "$(dirname "$f")").safetensors"
      done ;;
  esac
  echo "$dir"
}

failed=0
for t in "${targets[@]}"; do
  corpus="$(seed_dir "$t")"
  findings="$build/findings/$t"
  mkdir -p "$findings"
  log="$build/$t.log"
  # One process, a fixed seed; -max_len 64 KB covers a request body, a config or a long prompt.
  # detect_leaks=0: the tokenizers and readers keep process-wide caches on purpose.
  if ASAN_OPTIONS=detect_leaks=0 "$build/tests/fuzz/$t" "$corpus" -max_total_time="$seconds" -seed=1 \
      -timeout=10 -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$findings/" -print_final_stats=1 \
      >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
    echo "ok   $t: $runs executions in ${seconds} s, $cov coverage points, no findings"
  else
    failed=1
    echo "FAIL $t: a finding (reproducer in $findings):"
    grep -E "ERROR|runtime error|SUMMARY|Test unit written|deadly signal|timeout" "$log" | head -20
  fi
done
exit $failed
