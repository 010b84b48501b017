#!/usr/bin/env bash
# Builds the benchmark load generator: bench/work/loadgen (g++ -O2 -std=c++20, ccache if present).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/work"
cxx=${CXX:-g++}
command -v ccache >/dev/null && cxx="ccache $cxx"
out="$here/work/loadgen"
if [ ! -x "$out" ] || [ "$here/loadgen.cc" -nt "$out" ] || [ "$0" -nt "$out" ]; then
  $cxx -O2 -std=c++20 -Wall -Wextra -pthread -o "$out.tmp" "$here/loadgen.cc"
  mv "$out.tmp" "$out"
fi
echo "$out"
