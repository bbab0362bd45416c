#!/bin/sh
# Placement at fleet scale (issue 15). Not a test: prints figures.
#   tests/bench/scale.sh [BUILDDIR]
# On one core (taskset -c 0), in one run; wall time and CPU time (user +
# system: on a shared machine the wall time includes waiting for the core):
#   1. 10,000 all-different nodes (each its own memory, cores and GPU memory)
#      over 5,000 executors, every policy: time, peak RSS, plan size;
#      goals: < 1 s, < 200 MB, plan < 10 MB;
#   2. rm-schedule explain of one node of that plan; goal < 100 ms;
#   3. 1,000 all-different nodes over 100,000 executors (from -x JSON lines,
#      and from the registry with its index); goal < 1 s;
#   4. one node against 100,000 executors, rm-match -n 3, warm; goal < 20 ms;
#   5. tests/bench/schedule.sh (repeated shapes) again.
# SCALE_SKIP_BIG=1 leaves out 3 and 4; SCALE_SKIP_SCHEDULE=1 leaves out 5.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top}
sched=$build/tools/rm-schedule/rm-schedule
match=$build/tools/rm-match/rm-match
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export REMOTEMEDIA_HOME="$work/home" REMOTEMEDIA_SHARE="$top/share/remotemedia" REMOTEMEDIA_ENV=development

gen() { # gen DIR NEXEC PIPELINE NNODES
	python3 - "$@" <<'PY'
import json, os, random, sys
d, nex, pipe, nn = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
random.seed(15)
os.makedirs(d, exist_ok=True)
tags = ["linux", "docker", "screenshot", "ffmpeg", "x11", "batch", "spot"]
with open(os.path.join(d, "all.jsonl"), "w") as out:
    for i in range(nex):
        caps = {"cpu": {"cores": random.randint(1, 128), "arch": random.choice(["x86_64", "aarch64"])},
                "memory_gb": random.randint(2, 1024),
                "tags": random.sample(tags, 3),
                "network": {"latency_ms": random.randint(1, 400)}}
        if i % 2 == 0:
            caps["gpu"] = {"type": random.choice(["cuda", "rocm"]),
                           "memory_gb": random.randint(4, 192)}
        if i % 5 == 0:
            caps["frameworks"] = {"torch": random.choice(["1.13.1", "2.1.2", "2.3.0"])}
        adv = {"schema": "remotemedia.executor/1", "id": "ex-%06d" % i,
               "endpoint": "tcp://10.%d.%d.%d:9000" % (i // 62500, i // 250 % 250, i % 250),
               "load_score": round(random.random(), 4),
               "pricing": {"per_hour": round(random.uniform(0.05, 8), 4)},
               "capabilities": caps}
        out.write(json.dumps(adv) + "\n")
nodes, edges = [], []
for i in range(nn):
    caps = {"cpu": {"cores": 1 + i % 96}, "memory_gb": 2 + (i * 7919) % 900 + i / 1e5}
    if i % 3 != 2:
        caps["gpu"] = {"type": "cuda", "min_memory_gb": 4 + (i * 104729) % 160 + i / 1e5}
    if i % 4 == 1:
        caps["tags"] = ["linux", random.choice(tags)]
    if i % 7 == 3:
        caps["frameworks"] = {"torch": ">=2.1"}
    node = {"id": "n%05d" % i, "type": "Command", "exec": ["cat"],
            "estimated_seconds": random.randint(1, 600), "capabilities": caps}
    if i % 10 == 5:
        node["fallback"] = [{"cpu": {"cores": 1 + i % 8}, "memory_gb": 1 + i % 16}]
    nodes.append(node)
    if i:
        edges.append(["n%05d" % (i - 1), "n%05d" % i])
json.dump({"schema": "remotemedia.pipeline/1", "name": "scale", "nodes": nodes,
           "edges": edges}, open(pipe, "w"))
PY
}
# measure LABEL CMD...: wall seconds and peak RSS on one core
measure() {
	label=$1
	shift
	/usr/bin/time -f '%e %U %S %M' -o "$work/time" taskset -c 0 "$@" > "$work/out" || true
	# the last line: after "Command exited with non-zero status N"
	tail -n 1 "$work/time" | awk -v l="$label" '{ printf "%-52s %7.3f s (cpu %.3f s) %5d MB",
	    l, $1, $2 + $3, $4 / 1024 }'
}

gen "$work/ex5k" 5000 "$work/p10k.json" 10000
for pol in greedy balanced cost latency; do
	measure "10,000 nodes x 5,000 executors ($pol)" \
	    "$sched" plan -q -p "$pol" -x "$work/ex5k/all.jsonl" "$work/p10k.json"
	cp "$work/out" "$work/plan-$pol.json"
	printf '  plan %5.1f MB  placed %s\n' \
	    "$(echo "$(wc -c < "$work/out") / 1048576" | bc -l)" \
	    "$(jq '[.nodes[] | select(.status == "placed")] | length' "$work/out")"
done
"$sched" explain "$work/plan-cost.json" n04242 > /dev/null
measure "explain of one node (cost plan)" "$sched" explain "$work/plan-cost.json" n04242
echo
if [ "${SCALE_SKIP_BIG:-0}" != 1 ]; then
	gen "$work/ex100k" 100000 "$work/p1k.json" 1000
	measure "1,000 nodes x 100,000 executors (greedy)" \
	    "$sched" plan -q -p greedy -x "$work/ex100k/all.jsonl" "$work/p1k.json"
	echo
	mkdir -p "$REMOTEMEDIA_HOME/executors"
	split -l 1 -a 6 -d --additional-suffix=.json "$work/ex100k/all.jsonl" \
	    "$REMOTEMEDIA_HOME/executors/ex"
	node='{"id":"one","capabilities":{"gpu":{"type":"cuda","min_memory_gb":48},"memory_gb":256,"cpu":{"cores":32},"tags":["linux"]}}'
	printf '%s\n' "$node" > "$work/node.json"
	"$match" --no-local -n 3 "$work/node.json" > /dev/null || true	# builds the index
	"$match" --no-local -n 3 "$work/node.json" > /dev/null || true
	# the same 1,000 nodes against the registry: its index is mapped, not parsed
	measure "1,000 nodes x 100,000 executors (registry, greedy)" \
	    "$sched" plan -q --no-local -p greedy "$work/p1k.json"
	echo
	for _ in 1 2 3 4 5; do
		measure "one node x 100,000 executors, rm-match -n 3 (warm)" \
		    "$match" --no-local -n 3 "$work/node.json"
		echo
	done
fi
if [ "${SCALE_SKIP_SCHEDULE:-0}" != 1 ]; then
	echo "tests/bench/schedule.sh (repeated shapes):"
	sh "$top/tests/bench/schedule.sh" "$build"
fi
