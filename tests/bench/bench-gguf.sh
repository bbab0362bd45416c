#!/bin/sh
# GGUF preflight speed: rm_mcd_load on a Llama-3-8B-shaped header (128256
# tokens, 280147 merges, 291 tensors, about 6 MB of header) at the front of
# a sparse 8 GiB file. The reader maps the file and touches only the header,
# so the time must not grow with the file size and memory stays small.
#   tests/bench/bench-gguf.sh [BUILDDIR]   (default: the current directory)
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-.}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$src/tests/fixtures/gguf/make-gguf.py" --big "$tmp/big.gguf" 8
cc -std=c11 -O2 -I"$src/common" -I"$build" -I"$build/common" "$src/tests/bench/mcd_load.c" \
    "$build/common/librm.a" $(pkg-config --libs jansson yaml-0.1) -lm -o "$tmp/mcd_load"
ls -ls "$tmp/big.gguf"
/usr/bin/time -f "max RSS %M KiB" "$tmp/mcd_load" "$tmp/big.gguf" 50
