#!/usr/bin/env bash
# Installs paradit's build dependencies from Debian packages (only those missing, so a second
# run does nothing) and builds everything into build/. Safe to run again at any time.
#
#   scripts/setup.sh            # Release build in build/
#   BUILD_DIR=out scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config
  libdnnl-dev          # oneDNN: CPU GEMM and convolution
  nlohmann-json3-dev   # JSON: safetensors headers, configs
  libicu-dev           # Unicode normalisation and classes for the tokenizers
  zlib1g-dev           # the bundled (gzip) CLIP vocabulary
  libpng-dev           # PNG output
  libcpp-httplib-dev   # the HTTP server of paradit serve
  openmpi-bin libopenmpi-dev  # multi-rank runs: mpirun, and the MPI communicator
  libgtest-dev         # the test suites
  libopenblas-dev      # only the GEMM benchmark's comparison peer
  chromium chromium-driver python3-selenium  # the web page's browser test
)
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

build="${BUILD_DIR:-build}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPARADIT_WERROR=ON >/dev/null
cmake --build "$build" -j "$(nproc)"
echo "setup: built $build/paradit"
