#!/usr/bin/env bash
# README command (a): set up, build the paradit command, and render an image with the bundled
# trained model (models/tiny-shapes: a tiny SD3 pipeline that draws coloured shapes; its size,
# steps and guidance are the folder's own defaults).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/paradit generate --model models/tiny-shapes --prompt "a yellow triangle on a blue background" --seed 42 \
  --output tiny.png --timings
