#!/bin/sh
# Times rm-probe on this machine (not run by make check):
#   full probe without framework discovery (target < 50 ms),
#   full probe with the framework cache warm (target < 60 ms),
#   the first probe (caches cold: ffmpeg/node/python3 asked),
#   and, where installed, lstopo-no-graphics and nvidia-smi -q for comparison.
# usage: tests/bench/probe.sh [BUILDDIR]   (default: the current directory)
set -eu
B=${1:-.}
P=$B/tools/rm-probe/rm-probe
[ -x "$P" ] || { echo "no $P: build first" >&2; exit 2; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export REMOTEMEDIA_HOME=$T/home
N=${N:-50}

# Mean wall time of N runs of a command, in ms.
ms() {
	python3 - "$N" "$@" <<'PY'
import subprocess, sys, time
n = int(sys.argv[1]); cmd = sys.argv[2:]
subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
t = []
for _ in range(n):
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t.append((time.perf_counter() - t0) * 1000)
t.sort()
print("%8.2f ms mean  %8.2f ms median  %8.2f ms max" % (sum(t) / n, t[n // 2], t[-1]))
PY
}

cold() {
	rm -rf "$REMOTEMEDIA_HOME"
	python3 - "$@" <<'PY'
import subprocess, sys, time
t0 = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print("%8.2f ms (one run, caches cold)" % ((time.perf_counter() - t0) * 1000))
PY
}

echo "rm-probe on $(uname -n), $(nproc) CPUs, N=$N"
printf '%-46s' "first probe, all caches cold:"; cold "$P" --json
printf '%-46s' "probe --no-frameworks (tool cache warm):"; ms "$P" --json --no-frameworks
printf '%-46s' "probe with frameworks (cache warm):"; ms "$P" --json
F=$(cd "$(dirname "$0")/../fixtures/probe" && pwd)
printf '%-46s' "nvidia fixture box (fake nvidia-smi, warm):"; ms env PATH="$F/nvidia-box/bin" "$P" --root "$F/nvidia-box" --json
if command -v lstopo-no-graphics >/dev/null; then
	printf '%-46s' "lstopo-no-graphics:"; ms lstopo-no-graphics
else
	echo "lstopo-no-graphics: not installed"
fi
if command -v nvidia-smi >/dev/null; then
	printf '%-46s' "nvidia-smi -q:"; ms nvidia-smi -q
else
	echo "nvidia-smi: not installed"
fi
