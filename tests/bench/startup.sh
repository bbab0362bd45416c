#!/bin/sh
# Start-up time of every tool (issue 14). Not a test: prints figures.
#   tests/bench/startup.sh [BUILDDIR] [RUNS]   (default: the source tree, 50)
# Each command is run RUNS times (after 3 unmeasured runs), the commands in
# turn, with output to /dev/null; the median wall time of process start to
# exit is printed beside rm-match --version measured in the same rounds, and
# the ratio to it; the CPU time (user + system, from wait4) beside it is the
# steadier figure on a busy machine.
# Goals: every --version and a cache hit (rm-cache fetch --offline DIGEST)
# within 2x of rm-match --version, the cache hit under 3 ms; a 3-node
# rm-schedule plan and rm-inspect of a local package within 4x.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top}
runs=${2:-50}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export REMOTEMEDIA_HOME="$work/home" REMOTEMEDIA_SHARE="$top/share/remotemedia" REMOTEMEDIA_ENV=development
mkdir -p "$REMOTEMEDIA_HOME" "$work/out"
t() { echo "$build/tools/$1/$1"; }

# a package, put in the cache from its file
SOURCE_DATE_EPOCH=1700000000 "$(t rm-build)" -q -o "$work/out" \
    "$top/share/remotemedia/examples/voice.yaml" > "$work/build.json"
pkg=$(sed -n 's/.*"path": *"\([^"]*\)".*/\1/p' "$work/build.json")
digest=$("$(t rm-cache)" fetch --json "$pkg" | sed -n 's/.*"digest": *"\(sha256:[0-9a-f]*\)".*/\1/p')
[ -n "$digest" ] || { echo "startup.sh: cannot cache $pkg" >&2; exit 1; }

python3 - "$runs" <<PY
import os, statistics, sys, time
runs = int(sys.argv[1])
t = lambda n: "$build/tools/%s/%s" % (n, n)
cases = [("rm-match --version", [t("rm-match"), "--version"], None)]
for n in ("remotemedia", "rm-build", "rm-push", "rm-inspect", "rm-probe", "rm-schedule", "rm-cache"):
    cases.append(("%s --version" % n, [t(n), "--version"], 2.0))
cases += [
    ("cache hit: rm-cache fetch --offline DIGEST",
     [t("rm-cache"), "fetch", "--offline", "--json", "$digest"], 2.0),
    ("rm-schedule plan (3 nodes)",
     [t("rm-schedule"), "plan", "--format", "json", "--no-park", "-d",
      "$top/tests/fixtures/schedule/three", "$top/share/remotemedia/examples/hello.yaml"], 4.0),
    ("rm-inspect PKG (local)", [t("rm-inspect"), "--json", "$pkg"], 4.0),
]
null = os.open(os.devnull, os.O_RDWR)
def once(argv):
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
    _, st, ru = os.wait4(pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(st) != 0:
        sys.exit("startup.sh: %s failed" % " ".join(argv))
    return dt, ru.ru_utime + ru.ru_stime
# round robin: a burst of load on the machine weighs on every command alike
for _, argv, _ in cases:
    for _ in range(3):
        once(argv)
wall = [[] for _ in cases]
cpu = [[] for _ in cases]
for _ in range(runs):
    for i, (_, argv, _) in enumerate(cases):
        w, c = once(argv)
        wall[i].append(w * 1000)
        cpu[i].append(c * 1000)
med = [statistics.median(t) for t in wall]
cmed = [statistics.median(t) for t in cpu]
base = med[0]
print("median of %d runs, ms (wall; CPU, user + system); ratio of wall to rm-match --version" % runs)
print("%-44s %8s %8s %7s  %s" % ("command", "wall", "CPU", "ratio", "goal"))
fails = 0
for (name, argv, goal), ms, cms in zip(cases, med, cmed):
    ok = goal is None or ms <= goal * base
    if name.startswith("cache hit") and ms >= 3.0:
        ok = False
    fails += not ok
    print("%-44s %8.2f %8.2f %6.2fx  %s" % (name, ms, cms, ms / base,
          "" if goal is None else "<= %gx%s %s" % (goal, ", < 3 ms" if name.startswith("cache hit") else "",
                                                   "ok" if ok else "MISSED")))
print("%d goal(s) missed" % fails)
PY
