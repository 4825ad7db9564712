#!/usr/bin/env bash
# The GPU check: proves the CUDA backend on a GPU machine in one call (under 8 minutes), from
# what scripts/device-bundle.sh prepared here. Run it through the device tool from the
# repository root, carrying the bundle:
#   scripts/device-bundle.sh
#   device run: command "scripts/device-check.sh", carry ["device-bundle"], timeout_s 540
# Phases, each with its own time limit, skipped when the time left is too short (run in order
# 1, 2, 3, 4, 5, 3c, 4c, 3d, 2b, 4b, 8, 7, 6: the lower-priority ones last); the summary table comes last. Logs and results go to $OUT (the tool brings them back):
#   1 versions and ceilings (driver, CUDA, cuBLASLt, cuDNN, NCCL; copy bandwidth, 8192^3 GEMM)
#   2 every GPU op test against the CPU (bin/test_cuda, tolerances stated per op in its source);
#     2b the attention and convolution tests again with cuDNN turned off (paradit's kernels)
#   3 the tiny transformers (eval, f32 and bf16) against diffusers, and the tiny pipelines on
#     the GPU: every step's latents and the image against diffusers and the CPU; 3c the
#     parallel configs with several ranks sharing the GPU (carried Open MPI) against one rank
#   4 paradit bench transformer, SD3.5 Large 1024x1024 batch 2, bf16, eager and graph replay,
#     and one step profiled: GEMM, attention and the rest (--breakdown);
#     4b eager again with paradit's attention kernel instead of cuDNN's
#   5 the PyTorch peer in the same call: bench/torch_sd35.py, diffusers eager and torch.compile;
#     4c the step again with the prompt stream's work on a second CUDA stream, 3d the tiny
#     pipelines and graphs with it
#   6 compute-sanitizer memcheck and racecheck on the op tests
#   8 FLUX.1-dev 1024x1024 step: paradit, then bench/torch_flux.py eager and torch.compile
#   7 T5-XXL and the VAE at 1024x1024 timed on the GPU (the VAE also with its convolutions as
#     GEMMs instead of cuDNN's)
# A second call can run only the phases the first one skipped: PARADIT_CHECK_ONLY="3c 4c 8a 8b"
# (phase numbers as in the table; setup always runs).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${OUT:-/tmp/paradit-check}
mkdir -p "$out"
budget=${PARADIT_CHECK_BUDGET_S:-475}
start=$(date +%s)
log="$out/check.log"
summary="$out/summary.txt"
: > "$log"
: > "$summary"
left() { echo $(( budget - ($(date +%s) - start) )); }
note() { echo "$*" | tee -a "$log"; }
row() { printf '%-34s %-8s %6ss  %s\n' "$1" "$2" "$3" "$4" >> "$summary"; }

# phase NAME LIMIT_S COMMAND...: runs COMMAND (a shell string) with a time limit, unless less
# than LIMIT_S is left; its output goes to the log, its last line to the summary.
phase() {
  local name=$1 limit=$2 cmd=$3
  if [ -n "${PARADIT_CHECK_ONLY:-}" ] && ! [[ " $PARADIT_CHECK_ONLY " == *" ${name%% *} "* ]]; then
    return  # not selected for this call
  fi
  if [ "$(left)" -lt "$limit" ]; then
    row "$name" skipped 0 "only $(left) s left, it needs up to $limit"
    note "== $name: skipped ($(left) s left)"
    return
  fi
  note "== $name (limit $limit s)"
  local t0=$(date +%s) rc
  timeout --kill-after=5 "$limit" bash -o pipefail -c "$cmd" > "$out/phase.tmp" 2>&1
  rc=$?
  cat "$out/phase.tmp" >> "$log"
  local last
  last=$(grep -v '^\s*$' "$out/phase.tmp" | tail -1 | cut -c1-110)
  local status=ok
  [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ] && status=timeout
  [ "$rc" -ne 0 ] && [ "$status" = ok ] && status="rc=$rc"
  row "$name" "$status" $(( $(date +%s) - t0 )) "$last"
}

# ---- setup: unpack the bundle, find the machine's cuBLASLt and NCCL ----
bundle=/tmp/paradit-bundle
rm -rf "$bundle" && mkdir -p "$bundle"
if [ -f device-bundle/bundle.tar.xz ]; then
  (xz -dc device-bundle/bundle.tar.xz 2>/dev/null ||
     python3 -c 'import lzma, sys; sys.stdout.buffer.write(lzma.open(sys.argv[1]).read())' device-bundle/bundle.tar.xz) |
    tar -C "$bundle" -xf -
else
  note "no device-bundle/bundle.tar.xz: run scripts/device-bundle.sh here and carry device-bundle"
fi
libdirs="$bundle/lib"
for pattern in 'libcublasLt.so.13*' 'libnccl.so.2*' 'libcudnn.so.9*'; do
  found=$( (ls -d /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu 2>/dev/null;
            python3 -c 'import nvidia, os; [print(os.path.join(p, d, "lib")) for p in nvidia.__path__ for d in os.listdir(p)]' 2>/dev/null) |
          while read -r d; do ls "$d"/$pattern >/dev/null 2>&1 && { echo "$d"; break; }; done)
  [ -n "$found" ] && libdirs="$libdirs:$found"
  note "library $pattern: ${found:-not found}"
done
export LD_LIBRARY_PATH="$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export PARADIT_FIXTURES_DIR="$root/tests/fixtures"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-16}
pd="$bundle/bin/paradit"
if ! "$pd" version >> "$log" 2>&1; then
  note "the carried binaries do not load with the machine's libstdc++; trying the carried one"
  export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$bundle/lib/compat"
fi
if ! "$pd" version >> "$log" 2>&1; then
  note "the carried binaries do not load; building here (needs oneDNN, Open MPI, libpng, nlohmann-json, cpp-httplib)"
  if cmake -S . -B /tmp/pd-build -DCMAKE_BUILD_TYPE=Release -DPARADIT_ICU=OFF -DPARADIT_CUDA=ON \
       -DCMAKE_CUDA_ARCHITECTURES=90a-real >> "$log" 2>&1 &&
     cmake --build /tmp/pd-build -j 16 --target paradit_cli test_cuda >> "$log" 2>&1; then
    mkdir -p "$bundle/bin" && cp /tmp/pd-build/paradit /tmp/pd-build/tests/test_cuda "$bundle/bin/"
  else
    note "the build failed too (see check.log): nothing can run"
  fi
fi
row setup "$("$pd" version >/dev/null 2>&1 && echo ok || echo failed)" $(( $(date +%s) - start )) "$("$pd" version 2>&1 | tail -1 | cut -c1-110)"
py=python3
site="$bundle/site"
# The multi-rank GPU tests start the carried paradit through the carried Open MPI.
export PARADIT_CLI_PATH="$pd" PARADIT_MPIEXEC="$bundle/mpi/bin/mpirun"

# ---- 1: versions and ceilings ----
phase "1 versions, ceilings" 60 "nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv;
  $pd version; $py scripts/device_check_eval.py versions; $py scripts/device_check_eval.py ceilings"

# Each test of a filter in its own process (a crash or a sticky CUDA error then costs one test,
# not the rest), its output in the log; one line per test and a count at the end.
cat > /tmp/gtest_each.sh <<'EACH'
#!/usr/bin/env bash
bin=$1 filter=$2 limit=$3
failed=0 passed=0 skipped=0
for t in $("$bin" --gtest_filter="$filter" --gtest_list_tests | awk '/^[^ ]/ {suite=$1} /^  / {print suite $1}'); do
  if timeout --kill-after=5 "$limit" "$bin" --gtest_filter="$t" > /tmp/gtest_one.log 2>&1; then
    if grep -q "SKIPPED \] $t" /tmp/gtest_one.log; then
      skipped=$((skipped + 1)); echo "SKIP $t"
    else
      passed=$((passed + 1)); echo "PASS $t"
    fi
  else
    failed=$((failed + 1)); echo "FAIL $t (rc $?)"
  fi
  grep -E 'PCC|levels|Failure|Expected|error|SKIPPED|Which is' /tmp/gtest_one.log | sed 's/^/    /' | head -40
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$skipped" -eq 0 ]
EACH
chmod +x /tmp/gtest_each.sh

# ---- 2: the op tests (bf16 attention through cuDNN where the machine has it, then again
# through paradit's kernel) ----
phase "2 GPU op tests vs CPU" 150 "/tmp/gtest_each.sh $bundle/bin/test_cuda 'Cuda.*' 60"

# ---- 3: tiny transformers and pipelines ----
phase "3a tiny transformers vs diffusers" 90 "set -e; d=\$(mktemp -d); m=tests/fixtures/models; rc=0
  for v in sd35_large_like sd35_medium_like sd3_like flux_dev_like flux_schnell_like; do
    $py scripts/device_check_eval.py inputs \$m/\${v}_io.safetensors \$d/in.st
    for dt in f32 bf16; do
      $pd eval transformer --model \$m/\$v --in \$d/in.st --out \$d/gpu.st --device cuda --dtype \$dt 2>/dev/null
      bar='0.99999 1e-4'; [ \$dt = bf16 ] && bar='0.999 5e-2'
      $py scripts/device_check_eval.py compare \"\$v \$dt gpu vs diffusers\" \$d/gpu.st \$m/\${v}_io.safetensors out.sample \$bar || rc=1
    done
  done; exit \$rc"
phase "3b tiny pipelines, graph on the GPU" 120 "/tmp/gtest_each.sh $bundle/bin/test_cuda 'CudaPipeline.*:CudaGraph.*' 90"

# ---- 4 and 5: SD3.5 Large 1024x1024, batch 2: paradit, then PyTorch in the same call ----
phase "4 paradit SD3.5-L 1024 b2 bf16" 150 "$pd bench transformer --config sd3.5-large --random-weights --size 1024 \
  --batch 2 --device cuda --graph --breakdown --runs 5 --warmup 2 --json | tee $out/bench_paradit.json"
phase "5 PyTorch peer eager, compile" 200 "PYTHONPATH=$site:bench $py bench/torch_sd35.py --config sd3.5-large --size 1024 \
  --batch 2 --modes eager,compile --compile-mode default --runs 5 --warmup 2 | tee $out/bench_torch.json"

# ---- 3c: the parallel configs with ranks sharing the GPU (host-staged collectives), against
# one GPU rank: the transformer on every axis, the pipelines on two, NCCL refused cleanly ----
phase "3c parallel configs on the GPU" 150 "/tmp/gtest_each.sh $bundle/bin/test_cuda \
  'Configs/CudaParallel.Transformer*:Configs/CudaParallel.Pipeline*/tp2:Configs/CudaParallel.Pipeline*/sp2_ulysses:CudaParallelErrors.*' 100"

# ---- 4c/3d: the prompt stream's GEMMs on a second stream (PARADIT_TWO_STREAMS=1): timed,
# then the pipelines and graphs checked with it; it becomes the default only if it is faster ----
phase "4c SD3.5-L 1024 b2, two streams" 120 "PARADIT_TWO_STREAMS=1 $pd bench transformer --config sd3.5-large \
  --random-weights --size 1024 --batch 2 --device cuda --graph --runs 5 --warmup 2 --json | tee $out/bench_two_streams.json"
phase "3d tiny pipelines, two streams" 90 "PARADIT_TWO_STREAMS=1 /tmp/gtest_each.sh $bundle/bin/test_cuda \
  'CudaPipeline.*:CudaGraph.*' 90"

# ---- cuDNN against paradit's own attention kernel (after the peer: lower priority) ----
phase "2b attention, conv: own kernels" 60 "PARADIT_CUDNN_SDPA=0 PARADIT_CUDNN_CONV=0 /tmp/gtest_each.sh \
  $bundle/bin/test_cuda 'Cuda.AttentionMatchesCpu:Cuda.JointAttentionMatchesCpu:Cuda.Conv2dMatchesCpu' 60"
phase "4b the same, own attention kernel" 120 "PARADIT_CUDNN_SDPA=0 $pd bench transformer --config sd3.5-large \
  --random-weights --size 1024 --batch 2 --device cuda --runs 3 --warmup 1 --json"

# ---- FLUX.1-dev 1024x1024 (the FLUX issue's GPU figure), paradit then PyTorch ----
phase "8a paradit FLUX.1-dev 1024 bf16" 120 "$pd bench transformer --config flux.1-dev --random-weights --size 1024 \
  --device cuda --graph --breakdown --runs 5 --warmup 2 --json | tee $out/bench_flux_paradit.json"
phase "8b PyTorch FLUX eager, compile" 180 "PYTHONPATH=$site:bench $py bench/torch_flux.py --config flux.1-dev --size 1024 \
  --modes eager,compile --compile-mode default --runs 5 --warmup 2 | tee $out/bench_flux_torch.json"

# ---- 7: the text encoder and the VAE ----
phase "7a T5-XXL b2 x 256 bf16" 90 "$pd bench t5 --random-weights --device cuda --runs 3 --json"
phase "7b VAE decode 1024 f32" 60 "$pd bench vae --random-weights --size 1024 --device cuda --runs 3 --json"
phase "7c the same, convolutions as GEMMs" 60 "PARADIT_CUDNN_CONV=0 $pd bench vae --random-weights --size 1024 \
  --device cuda --runs 2 --json"

# ---- 6: compute-sanitizer ----
if command -v compute-sanitizer >/dev/null 2>&1; then
  phase "6a memcheck op tests" 90 "compute-sanitizer --tool memcheck --error-exitcode 3 $bundle/bin/test_cuda \
    --gtest_filter='Cuda.Elementwise*:Cuda.Norms*:Cuda.Attention*:Cuda.JointAttention*:Cuda.Tensors*:Cuda.Conv2d*' 2>&1 |
    grep -E 'ERROR SUMMARY|Invalid|PASSED|FAILED'; exit \${PIPESTATUS[0]}"
  phase "6b racecheck attention" 60 "compute-sanitizer --tool racecheck --error-exitcode 3 $bundle/bin/test_cuda \
    --gtest_filter='Cuda.AttentionMatchesCpu:Cuda.NormsMatchCpu' 2>&1 | grep -E 'RACECHECK SUMMARY|hazard|PASSED|FAILED';
    exit \${PIPESTATUS[0]}"
else
  row "6 compute-sanitizer" skipped 0 "not installed here"
fi

rm -f "$out/phase.tmp"
{
  echo
  echo "paradit device check, $(date -u +%Y-%m-%dT%H:%MZ), $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
  printf '%-34s %-8s %7s  %s\n' phase status time "last line"
  cat "$summary"
  echo "total $(( $(date +%s) - start )) s of $budget"
} | tee "$out/summary.txt.tmp"
mv "$out/summary.txt.tmp" "$summary"
