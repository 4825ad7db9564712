#!/usr/bin/env bash
# `cmake --install` then examples/generate.cpp built as an outside project against the
# installed prefix (find_package(paradit), paradit::paradit), and run on the tiny pipeline.
set -u
build="$1" src="$2" model="$3"
source "$(dirname "$0")/check.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
check "cmake --install" 0 "" cmake --install "$build" --prefix "$prefix"
check "the public header is installed" 0 "" test -f "$prefix/include/paradit/paradit.h"
check "only the public header" 0 "^1$" sh -c "find '$prefix/include' -name '*.h' | wc -l"
check "the package names no HTTP server or MPI dependency" 1 "" \
  grep -rliE "httplib|mpi" "$prefix"/lib*/cmake/paradit
check "configure the example outside the tree" 0 "" \
  cmake -S "$src/examples" -B "$work/example" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release
check "build the example" 0 "" cmake --build "$work/example"
# The source tree's assets are used while it exists; the installed copy is found otherwise.
check "the example renders with the installed library" 0 "out.png: 256x256, 4 steps" \
  sh -c "cd '$work' && '$work/example/example_generate' '$model' 'a red circle' out.png"
check "the PNG is written" 0 "" test -s "$work/out.png"
check "the installed command runs" 0 "usage: paradit generate" "$prefix/bin/paradit" generate --help
summary
