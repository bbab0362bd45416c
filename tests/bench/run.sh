#!/bin/sh
# The runner's own overhead: a chain of N `true` nodes on the local
# executor against a shell loop running the same commands.
#   tests/bench/run.sh [BUILDDIR] [N]     (default: the source tree, 1000)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top}
n=${2:-1000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export REMOTEMEDIA_HOME=$tmp/home REMOTEMEDIA_SHARE=$top/share/remotemedia LC_ALL=C
sched=$build/tools/rm-schedule/rm-schedule
{
	echo "schema: remotemedia.pipeline/1"
	echo "name: chain"
	echo "nodes:"
	i=1
	while [ "$i" -le "$n" ]; do echo "  - {id: n$i, type: Command, exec: [\"true\"]}"; i=$((i + 1)); done
	echo "edges:"
	i=2
	while [ "$i" -le "$n" ]; do echo "  - [n$((i - 1)), n$i]"; i=$((i + 1)); done
} > "$tmp/chain.yaml"
now() { date +%s.%N; }
# plan once, so that the figure is the runner's alone
"$sched" plan "$tmp/chain.yaml" > "$tmp/plan.json"
t0=$(now)
i=0
while [ "$i" -lt "$n" ]; do /bin/true < /dev/null > /dev/null; i=$((i + 1)); done
t1=$(now)
"$sched" run --run-id bench "$tmp/plan.json"
t2=$(now)
awk -v n="$n" -v a="$t0" -v b="$t1" -v c="$t2" 'BEGIN {
	loop = b - a; run = c - b
	printf "nodes %d\nshell loop       %.3f s (%.3f ms per command)\n", n, loop, loop * 1000 / n
	printf "rm-schedule run  %.3f s (%.3f ms per node)\n", run, run * 1000 / n
	printf "runner overhead  %.3f ms per node (target < 5)\n", (run - loop) * 1000 / n
}'
[ "$(wc -l < "$REMOTEMEDIA_HOME/runs/bench/costs.jsonl")" -eq "$n" ]
