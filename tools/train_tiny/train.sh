#!/usr/bin/env bash
# Trains models/tiny-shapes from scratch on the CPU (about 40 minutes on 2 cores), in the
# fixtures' venv (the same pinned diffusers, transformers and torch: tools/fixtures/requirements.txt).
#   tools/train_tiny/train.sh [--out DIR] [train.py options]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${PARADIT_FIXTURES_VENV:-$here/../../.venv-fixtures}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q -r "$here/../fixtures/requirements.txt"
exec "$venv/bin/python" "$here/train.py" "$@"
