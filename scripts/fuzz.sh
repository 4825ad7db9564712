#!/usr/bin/env bash
# Fuzzes every libFuzzer target (tests/fuzz) for SECONDS each, in build-fuzz (longer than the
# 20 s per target that ctest gives them). Findings land in build-fuzz/findings/TARGET.
#
#   scripts/fuzz.sh [seconds=300] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-300}"
shift || true
scripts/setup.sh --tests >/dev/null  # clang and libFuzzer come with the test packages
exec tests/fuzz/run.sh build-fuzz "$seconds" "$@"
