#!/usr/bin/env bash
# README command (a): set up, build, and run paradit on the bundled tiny model.
# Until the pipeline lands this validates and summarises a bundled reference checkpoint
# (the SD3.5 joint-attention layer from tests/fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/paradit info --model tests/fixtures/layers/attention_joint_rms.safetensors --tensors
