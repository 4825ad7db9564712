#!/usr/bin/env bash
# Installs paradit's build dependencies from Debian packages (only those missing, so a second
# run does nothing) and builds into build/. Safe to run again at any time.
#
#   scripts/setup.sh            # what building and rendering need; builds the paradit command
#   scripts/setup.sh --tests    # also the test-only packages; builds everything (tests, benchmarks)
#   BUILD_DIR=out scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

tests=0
for arg in "$@"; do
  case "$arg" in
    --tests) tests=1 ;;
    *) echo "setup: unknown option $arg (use --tests)" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake pkg-config
  libdnnl-dev          # oneDNN: CPU GEMM and convolution
  ocl-icd-opencl-dev opencl-headers  # Debian's oneDNN CMake package asks for OpenCL
  nlohmann-json3-dev   # JSON: safetensors headers, configs
  libicu-dev           # Unicode normalisation and classes for the tokenizers
  zlib1g-dev           # the bundled (gzip) CLIP vocabulary
  libpng-dev           # PNG output
  libcpp-httplib-dev   # the HTTP server of paradit serve
  openmpi-bin libopenmpi-dev  # multi-rank runs: mpirun, and the MPI communicator
)
if [ "$tests" -eq 1 ]; then
  packages+=(
    libgtest-dev         # the test suites
    python3              # the CLI and server test scripts
    libopenblas-dev      # only the GEMM benchmark's comparison peer
    chromium chromium-driver python3-selenium  # the web page's browser test
    clang libclang-rt-14-dev libomp-dev  # the libFuzzer targets (tests/fuzz): clang, its sanitizers, its OpenMP
  )
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# cuDNN's fused attention needs the cudnn-frontend headers, which NVIDIA ships in the
# nvidia-cudnn-frontend wheel: where the CUDA toolkit has cuDNN, unpack the wheel's include/
# into third_party/cudnn-frontend (ignored by git). Without them the build uses paradit's
# attention kernel alone, so a failed download only warns.
frontend_version=1.32.0
frontend=third_party/cudnn-frontend
if [ -e /usr/local/cuda/include/cudnn.h ] && [ "$(cat "$frontend/VERSION" 2>/dev/null)" != "$frontend_version" ]; then
  wheels=$(mktemp -d)
  if python3 -m pip download -q --no-deps --only-binary=:all: -d "$wheels" "nvidia-cudnn-frontend==$frontend_version" &&
     rm -rf "$frontend" && mkdir -p "$frontend" &&
     python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith("include/")])' "$wheels"/*.whl "$frontend"; then
    echo "$frontend_version" > "$frontend/VERSION"
    echo "setup: cudnn-frontend $frontend_version headers in $frontend"
  else
    echo "setup: could not fetch nvidia-cudnn-frontend $frontend_version; building without cuDNN attention" >&2
    rm -rf "$frontend"
  fi
  rm -rf "$wheels"
fi

build="${BUILD_DIR:-build}"
if [ "$tests" -eq 1 ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPARADIT_WERROR=ON \
    -DPARADIT_BUILD_TESTS=ON -DPARADIT_BUILD_BENCH=ON >/dev/null
  cmake --build "$build" -j "$(nproc)"
else
  # A build folder configured with the tests keeps them; a fresh one builds only the command.
  extra=()
  [ -f "$build/CMakeCache.txt" ] || extra=(-DPARADIT_BUILD_TESTS=OFF -DPARADIT_BUILD_BENCH=OFF)
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPARADIT_WERROR=ON "${extra[@]}" >/dev/null
  cmake --build "$build" -j "$(nproc)" --target paradit_cli
fi
echo "setup: built $build/paradit"
