#!/usr/bin/env bash
# `paradit info` on a good fixture succeeds; on broken files it fails with exit 2 and one
# error line naming the file, never a crash.
set -u
bin="$1"
fixtures="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0
check() {  # name, expected exit code, pattern in output, command...
  local name="$1" want="$2" pattern="$3"
  shift 3
  local out code
  out="$("$@" 2>&1)"
  code=$?
  if [ "$code" != "$want" ] || ! grep -q -- "$pattern" <<<"$out"; then
    echo "FAIL $name: exit $code (want $want), output: $out"
    failures=$((failures + 1))
  else
    echo "ok   $name"
  fi
}
check "info on a fixture" 0 "tensors: " "$bin" info --model "$fixtures/layers/linear.safetensors"
check "info lists tensors" 0 "weight" "$bin" info --model "$fixtures/layers/linear.safetensors" --tensors
head -c 100 "$fixtures/layers/linear.safetensors" >"$tmp/truncated.safetensors"
check "truncated file" 2 "truncated.safetensors" "$bin" info --model "$tmp/truncated.safetensors"
printf 'garbage-garbage-garbage' >"$tmp/garbage.safetensors"
check "garbage file" 2 "error: .*garbage.safetensors" "$bin" info --model "$tmp/garbage.safetensors"
check "missing file" 2 "no such file" "$bin" info --model "$tmp/absent.safetensors"
check "missing option" 2 "missing required option --model" "$bin" info
check "unknown option" 2 "unknown option --modle" "$bin" info --modle x
check "unknown command" 2 "unknown command" "$bin" frobnicate
echo "$((8 - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
