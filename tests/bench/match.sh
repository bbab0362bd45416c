#!/bin/bash
# Benchmark of rm-match (issue: foundation and rm-match). Not a test: prints figures.
#   tests/bench/match.sh [BUILDDIR]
# Measures, in one run on this machine:
#   1. jq selecting from 10,000 adverts held as JSON lines (the baseline);
#   2. rm-match of one node against the registry directory of the same 10,000
#      adverts (warm index), process start to output; goal: >= 10x faster than 1;
#   3. rm-match -x FILE with the 10,000 adverts as JSON lines; goal: not slower than 1;
#   4. 1,000 nodes against the 10,000-advert registry (10 million pairs); goal < 1 s.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top}
PATH=$build/tools/rm-match:$PATH
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export REMOTEMEDIA_HOME=$work/home REMOTEMEDIA_SHARE=$top/share/remotemedia REMOTEMEDIA_ENV=development
mkdir -p "$REMOTEMEDIA_HOME/executors"

python3 - "$work" <<'PY'
import json, random, sys
random.seed(42)
work = sys.argv[1]
types = ["cuda", "rocm"]
with open(work + "/adverts.jsonl", "w") as lines:
    for i in range(10000):
        a = {"schema": "remotemedia.executor/1", "id": "ex%05d" % i,
             "endpoint": "ssh://10.0.%d.%d" % (i // 250, i % 250),
             "region": random.choice(["eu-west-1", "eu-central-1", "us-east-1"]),
             "pricing": {"per_hour": round(random.uniform(0.1, 4), 2)},
             "load_score": round(random.random(), 2),
             "capabilities": {
                 "gpu": {"type": random.choice(types), "memory_gb": random.choice([8, 16, 24, 48, 80]),
                         "count": random.choice([1, 2, 4]), "compute_capability": random.choice(["7.5", "8.0", "8.9", "9.0"])},
                 "cpu": {"cores": random.choice([4, 8, 16, 32, 64]), "arch": "x86_64", "flags": ["avx2"]},
                 "memory_gb": random.choice([16, 32, 64, 128, 256]),
                 "codecs": {"h264": random.choice(["hardware", "software"]), "vp9": "software"},
                 "frameworks": {"torch": random.choice(["1.13.1", "2.1.2", "2.3.0"])},
                 "tags": ["linux", "docker"] + (["screenshot"] if i % 3 == 0 else [])}}
        lines.write(json.dumps(a) + "\n")
        with open("%s/home/executors/ex%05d.json" % (work, i), "w") as f:
            json.dump(a, f)
with open(work + "/nodes.jsonl", "w") as f:
    for i in range(1000):
        n = {"id": "n%04d" % i, "capabilities": {
            "gpu": {"type": random.choice(types), "min_memory_gb": random.choice([8, 16, 24, 48])},
            "memory_gb": random.choice([16, 32, 64, 128]),
            "cpu": {"cores": random.choice([4, 8, 16])},
            "codecs": ["h264"], "tags": ["linux"]}}
        f.write(json.dumps(n) + "\n")
PY
node='{"id":"stt","capabilities":{"gpu":{"type":"cuda","min_memory_gb":24},"memory_gb":64,"cpu":{"cores":16},"codecs":["h264"],"hardware_accel":true,"tags":["screenshot"]}}'
printf '%s\n' "$node" > "$work/node.json"
jqf='select(.capabilities.gpu.type=="cuda" and .capabilities.gpu.memory_gb>=24 and .capabilities.memory_gb>=64 and .capabilities.cpu.cores>=16 and .capabilities.codecs.h264=="hardware" and (.capabilities.tags|index("screenshot")))'

# median wall time in ms of N runs of a command
ms() {
	local n=$1; shift
	local t=()
	for _ in $(seq 1 "$n"); do
		local s e
		s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
		t+=($(( (e - s) / 1000 )))
	done
	printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}

rm-match --no-local "$work/node.json" >/dev/null 2>&1 || true	# builds the index
sleep 0.2
rm-match --no-local "$work/node.json" >/dev/null 2>&1 || true
n_jq=$(jq -c "$jqf" "$work/adverts.jsonl" | wc -l)
n_rm=$(rm-match --no-local "$work/node.json" | jq .compatible_count)
echo "compatible: jq $n_jq, rm-match $n_rm (same filter)"
t_jq=$(ms 11 jq -c "$jqf" "$work/adverts.jsonl")
t_reg=$(ms 31 rm-match --no-local "$work/node.json")
t_x=$(ms 11 rm-match -x "$work/adverts.jsonl" "$work/node.json")
t_rescan=$(ms 3 rm-match --no-local --rescan "$work/node.json")
t_many=$(ms 3 rm-match --no-local -n 3 "$work/nodes.jsonl")
echo "jq over 10,000 JSON lines:                  $t_jq ms"
echo "rm-match, registry of 10,000 (warm index):  $t_reg ms  ($(awk -v a="$t_jq" -v b="$t_reg" 'BEGIN{printf "%.1f", a/b}')x faster than jq)"
echo "rm-match -x 10,000 JSON lines:              $t_x ms"
echo "rm-match --rescan (index rebuild):          $t_rescan ms"
echo "1,000 nodes x 10,000 adverts (-n 3):        $t_many ms"
