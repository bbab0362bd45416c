#!/bin/bash
# Runs the libFuzzer harnesses of a build configured with CC=clang
# --enable-fuzzing, each for a while on its seeds (tests/fuzz/corpus/NAME)
# and crash regressions (tests/fuzz/regress/NAME), keeping what the corpus
# grows to in a scratch directory, never in the source tree.
#
#   tests/fuzz/campaign.sh [-t SECONDS | -m MINUTES] [-j JOBS] [-b BUILDDIR]
#                          [-o SCRATCH] [-s SRCDIR] [NAME...]
#
# -t/-m  time per harness (default 30 s); -j  harnesses run at once
# (default 1; each is one process); -b  the fuzzing build (default .);
# -o  scratch (default BUILDDIR/tests/fuzz/work): SCRATCH/NAME/corpus keeps
# growing from run to run, crash-*, leak-*, timeout-*, oom-* are what a run
# found, SCRATCH/NAME/fuzz.log libFuzzer's output; NAME...: some harnesses
# only (doc, advert, node, pipeline, taxo, gguf, mcd, pkg, oci_manifest,
# oci_index, headers, creds; default all built).
# Prints one TAP line per harness (executions, exec/s, cov, ft, new
# crashes) and ends with "N passed, N failed". A harness fails on any crash,
# leak, timeout (10 s an input) or out-of-memory (2 GB). Every harness
# gets tests/fuzz/remotemedia.dict (field names, taxonomy keys, tokens).
set -u
secs=30
jobs=1
build=.
scratch=
src=$(cd "$(dirname "$0")/../.." && pwd)
while getopts t:m:j:b:o:s: opt; do
	case $opt in
	t) secs=$OPTARG ;;
	m) secs=$((OPTARG * 60)) ;;
	j) jobs=$OPTARG ;;
	b) build=$OPTARG ;;
	o) scratch=$OPTARG ;;
	s) src=$OPTARG ;;
	*) sed -n '2,20s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
build=$(cd "$build" && pwd) || exit 2
src=$(cd "$src" && pwd) || exit 2
scratch=${scratch:-$build/tests/fuzz/work}
mkdir -p "$scratch" && scratch=$(cd "$scratch" && pwd) || exit 2
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for b in "$build"/tests/fuzz/fuzz_*; do
		[ -x "$b" ] && names+=("${b##*/fuzz_}")
	done
fi
if [ ${#names[@]} -eq 0 ]; then
	echo "campaign.sh: no harness in $build/tests/fuzz (make fuzz builds them)" >&2
	exit 2
fi
# the harnesses write their input to a file: in memory where there is room
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	export TMPDIR=/dev/shm
fi
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

artifacts() {
	find "$1" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
	    -o -name 'oom-*' \) | wc -l
}

# run_one NAME: fuzzes one harness; writes SCRATCH/NAME/result (one TAP line)
run_one() {
	local name=$1 bin=$build/tests/fuzz/fuzz_$1 work=$scratch/$1 d before after rc
	local runs eps cov ft new dict=
	[ -f "$src/tests/fuzz/remotemedia.dict" ] && dict=-dict=$src/tests/fuzz/remotemedia.dict
	mkdir -p "$work/corpus"
	if [ ! -x "$bin" ] || ! grep -q LLVMFuzzerRunDriver "$bin" 2>/dev/null; then
		echo "not ok - fuzz $name: $bin is not a libFuzzer build" > "$work/result"
		return
	fi
	for d in corpus regress; do
		[ -d "$src/tests/fuzz/$d/$name" ] && cp -n "$src/tests/fuzz/$d/$name"/* "$work/corpus/" 2>/dev/null
	done
	before=$(artifacts "$work")
	(cd "$work" && "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -malloc_limit_mb=2048 -detect_leaks=1 -error_exitcode=77 -timeout_exitcode=78 \
	    -print_final_stats=1 -artifact_prefix="$work/" $dict corpus > fuzz.log 2>&1)
	rc=$?
	after=$(artifacts "$work")
	new=$((after - before))
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$work/fuzz.log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$work/fuzz.log" | tail -1 | cut -d' ' -f2)
	set -- "fuzz $name: ${runs:-?} runs, ${eps:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}," \
	    "$new new crashes ($secs s)"
	if [ $rc -eq 0 ] && [ $new -eq 0 ]; then
		echo "ok - $*" > "$work/result"
	else
		{
			echo "not ok - $* exit status $rc"
			grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error:)|^artifact_prefix|Test unit written' \
			    "$work/fuzz.log" | head -8 | sed 's/^/# /'
			echo "# see $work/fuzz.log"
		} > "$work/result"
	fi
}

running=0
for name in "${names[@]}"; do
	rm -f "$scratch/$name/result"
	run_one "$name" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
passed=0
failed=0
for name in "${names[@]}"; do
	if [ -f "$scratch/$name/result" ]; then
		cat "$scratch/$name/result"
		head -1 "$scratch/$name/result" | grep -q '^ok' && passed=$((passed + 1)) || failed=$((failed + 1))
	else
		echo "not ok - fuzz $name: no result"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
