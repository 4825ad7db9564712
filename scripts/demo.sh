#!/usr/bin/env bash
# README command (a): set up, build, and render an image with the bundled tiny SD3.5 model
# (tests/fixtures/tiny-sd35: random weights, so the picture is noise; the pipeline is real).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/paradit generate --model tests/fixtures/tiny-sd35 --prompt "a red fox in the snow, 35mm photo" \
  --negative-prompt "blurry" --width 256 --height 256 --steps 8 --seed 42 --output tiny.png --timings
