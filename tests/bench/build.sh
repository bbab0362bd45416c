#!/bin/sh
# Benchmark of rm-build and rm-inspect with a 1 GiB model (issue 5 targets):
#   building takes at most 1.5 x `sha256sum` of the same file, same run;
#   rm-inspect of the package without --verify takes under 50 ms.
# usage: tests/bench/build.sh [BUILDDIR] [SIZE_MIB]   (not run by make check)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top}
mib=${2:-1024}
PATH=$build/tools/rm-build:$build/tools/rm-inspect:$PATH
export REMOTEMEDIA_SHARE=$top/share/remotemedia
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export REMOTEMEDIA_HOME=$tmp/home SOURCE_DATE_EPOCH=0

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }

mkdir -p "$tmp/p/models" "$tmp/out"
head -c $((mib * 1048576)) /dev/urandom > "$tmp/p/models/big.bin"
printf 'name: bench\nnodes:\n  - {id: m, type: Passthrough, models: [models/big.bin]}\n' > "$tmp/p/pipe.yaml"
cat "$tmp/p/models/big.bin" > /dev/null	# warm the page cache for both contenders

t0=$(now); sha256sum "$tmp/p/models/big.bin" > /dev/null; t1=$(now)
sha=$(elapsed "$t0" "$t1")
t0=$(now); rm-build -q -o "$tmp/out" "$tmp/p/pipe.yaml" > "$tmp/res.json"; t1=$(now)
bld=$(elapsed "$t0" "$t1")
pkg=$(sed -n 's/.*"path": *"\([^"]*\)".*/\1/p' "$tmp/res.json")
rm -f "$tmp/out"/*.rmpkg
t0=$(now); sha256sum "$tmp/p/models/big.bin" > /dev/null; t1=$(now)
sha2=$(elapsed "$t0" "$t1")
t0=$(now); rm-build -q -o "$tmp/out" "$tmp/p/pipe.yaml" > /dev/null; t1=$(now)
bld2=$(elapsed "$t0" "$t1")

n=20
t0=$(now)
i=0
while [ $i -lt $n ]; do rm-inspect --json "$pkg" > /dev/null; i=$((i + 1)); done
t1=$(now)
insp=$(echo "($t1 - $t0) * 1000 / $n" | bc -l)
t0=$(now); rm-inspect --json -q "$pkg" > /dev/null 2>&1 || true; rm-inspect --verify -q "$pkg" > /dev/null 2>&1 || true; t1=$(now)
ver=$(elapsed "$t0" "$t1")

printf 'model size            %d MiB\n' "$mib"
printf 'sha256sum             %.2f s, %.2f s\n' "$sha" "$sha2"
printf 'rm-build              %.2f s, %.2f s  (ratio %.2f, %.2f; target <= 1.5)\n' "$bld" "$bld2" \
    "$(echo "$bld / $sha" | bc -l)" "$(echo "$bld2 / $sha2" | bc -l)"
printf 'rm-inspect            %.1f ms per run, mean of %d (target < 50 ms)\n' "$insp" "$n"
printf 'rm-inspect + --verify %.2f s\n' "$ver"
