#!/usr/bin/env bash
# Sets up (scripts/setup.sh), builds and runs every test suite. This is README command (b) and
# exactly what .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
build="${BUILD_DIR:-build}"
cd "$build"
ctest --output-on-failure -j "$(nproc)" --timeout 600
