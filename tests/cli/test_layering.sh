#!/usr/bin/env bash
# The build enforces the layering of docs/architecture.md: each layer compiles against a view
# of its own folders and those beneath it (src/CMakeLists.txt). Here a header of a layer above is
# unreachable from each view, while the layer's own and lower headers are reachable.
#   test_layering.sh CXX VIEWS_DIR SRC_DIR
set -u
cxx="$1" views="$2" src="$3"
fail=0
# include_flags LAYER...: -I for each named view
flags() { for l in "$@"; do printf -- "-I%s/%s " "$views" "$l"; done; }
try() {  # try EXPECT(ok|fail) "VIEWS" HEADER
  local expect="$1" layers="$2" header="$3"
  local err
  if err=$(echo "#include \"$header\"" | "$cxx" -std=c++20 -fsyntax-only $(flags $layers) -I"$src/../include" \
      -x c++ - 2>&1); then
    got=ok
  elif grep -q "$header: No such file" <<<"$err"; then
    got=fail  # the header itself is out of sight, not some other error
  else
    got="error: $(head -1 <<<"$err")"
  fi
  if [ "$got" = "$expect" ]; then
    echo "ok   [$layers] includes $header: $got"
  else
    echo "FAIL [$layers] includes $header: expected $expect, got $got"
    fail=1
  fi
}
try ok   "core" core/tensor.h
try fail "core" ops/ops.h
try fail "core" io/checkpoint.h
try ok   "ops backend core" backend/cpu/cpu_ops.h
try fail "ops backend core" layers/linear.h
try fail "io core" text/clip_tokenizer.h
try fail "io core" ops/ops.h
try ok   "text io core" text/t5_tokenizer.h
try fail "parallel ops backend core" layers/attention.h
try ok   "layers ops backend io parallel core" layers/attention.h
try fail "layers ops backend io parallel core" models/mmdit/mmdit.h
try fail "models layers text ops backend io parallel core" pipelines/sd35/pipeline.h
try ok   "models layers text ops backend io parallel core" models/mmdit/mmdit.h
try fail "api pipelines models layers text ops backend io parallel core" server/http_server.h
exit $fail
