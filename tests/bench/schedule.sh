#!/bin/sh
# Planning speed (issue 4): a 1,000-node pipeline over 10,000 executors, and
# placement throughput over 5,000 executors (10,000 nodes), on one core.
# usage: tests/bench/schedule.sh [BUILDDIR]   (default: the source tree)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top}
bin=$build/tools/rm-schedule/rm-schedule
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export REMOTEMEDIA_HOME="$work/home" REMOTEMEDIA_SHARE="$top/share/remotemedia" REMOTEMEDIA_ENV=development
gen() { # gen DIR NEXEC PIPELINE NNODES
	python3 - "$@" <<'PY'
import json, os, random, sys
d, nex, pipe, nn = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
random.seed(7)
os.makedirs(d, exist_ok=True)
for i in range(nex):
    caps = {"cpu": {"cores": random.choice([2, 4, 8, 16, 32, 64]), "arch": "x86_64"},
            "memory_gb": random.choice([4, 8, 16, 32, 64, 128]),
            "tags": random.sample(["linux", "docker", "screenshot", "ffmpeg", "x11"], 2),
            "network": {"latency_ms": random.randint(1, 200)}}
    if i % 3 == 0:
        caps["gpu"] = {"type": "cuda", "memory_gb": random.choice([8, 16, 24, 48, 80])}
    adv = {"schema": "remotemedia.executor/1", "id": "ex-%05d" % i,
           "endpoint": "tcp://10.0.%d.%d:9000" % (i // 250, i % 250),
           "load_score": round(random.random(), 3),
           "pricing": {"per_hour": round(random.uniform(0.05, 4), 3)},
           "capabilities": caps}
    with open(os.path.join(d, "ex-%05d.json" % i), "w") as f:
        json.dump(adv, f)
nodes, edges = [], []
for i in range(nn):
    k = i % 4
    if k == 0:
        caps = {"cpu": {"cores": random.choice([2, 4, 8])}, "memory_gb": random.choice([4, 8, 16])}
    elif k == 1:
        caps = {"gpu": {"type": "cuda", "min_memory_gb": random.choice([8, 16, 24])},
                "memory_gb": random.choice([8, 16])}
    elif k == 2:
        caps = {"tags": ["linux", random.choice(["docker", "ffmpeg"])], "cpu": {"cores": 4}}
    else:
        caps = {"gpu": {"type": "cuda", "required": False, "preferred": True},
                "cpu": {"cores": random.choice([4, 16])}}
    nodes.append({"id": "n%05d" % i, "type": "Command", "exec": ["cat"],
                  "estimated_seconds": random.randint(1, 600), "capabilities": caps})
    if i:
        edges.append(["n%05d" % (i - 1), "n%05d" % i])
json.dump({"schema": "remotemedia.pipeline/1", "name": "bench", "nodes": nodes,
           "edges": edges}, open(pipe, "w"))
PY
}
run() { # run LABEL POLICY DIR PIPE NNODES
	"$bin" plan -q -p "$2" -d "$3" "$4" > /dev/null || true	# builds the index
	s=$(date +%s.%N)
	taskset -c 0 "$bin" plan -q -p "$2" -d "$3" "$4" > "$work/plan.json" || true
	e=$(date +%s.%N)
	python3 -c "
import json,sys
t=$e-$s; n=$5
p=json.load(open('$work/plan.json'))
placed=sum(1 for x in p['nodes'] if x.get('executor'))
print('%-44s %7.3f s  %8.0f nodes/s  (%d/%d placed)' % ('$1', t, n/t, placed, n))"
}
gen "$work/ex10k" 10000 "$work/p1k.json" 1000
gen "$work/ex5k" 5000 "$work/p10k.json" ${THROUGHPUT_NODES:-10000}
for pol in greedy balanced cost latency; do
	run "1,000 nodes x 10,000 executors ($pol)" $pol "$work/ex10k" "$work/p1k.json" 1000
done
for pol in greedy cost; do
	run "10,000 nodes x 5,000 executors ($pol)" $pol "$work/ex5k" "$work/p10k.json" 10000
done
