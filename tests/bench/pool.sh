#!/bin/bash
# Benchmark of the executor pool in etcd and the incremental index (issue 12).
# Not a test: prints figures side by side.
#   tests/bench/pool.sh [--long] [BUILDDIR]
# Starts a real etcd (Debian etcd-server) on free ports, loads 10,000
# adverts each on its own lease (as rm-probe register does) through the
# HTTP gateway, and measures:
#   1. cold match (the index built from etcd), warm match, and the
#      etcdctl get --prefix --print-value-only | jq line doing the same
#      selection; goal: warm < 20 ms and >= 10x faster than etcdctl|jq;
#   2. one advert changed, then one match: etcd and directory backends
#      (a file replaced by rename; rm-probe register); goal < 20 ms;
#      1 and 2 for etcd both without and with rm-match --follow running;
#   3. 100 advert updates a second while rm-match runs in a loop (10 s;
#      --long: 60 s), with rm-match --follow and without: every match
#      must parse (no torn read) and the last update must be seen by the
#      first match after it;
#   4. 10,000 leases kept alive by one process (the gateway's keepalive):
#      its CPU and memory, and what one rm-probe register refresh costs.
set -eu
long=0
if [ "${1:-}" = --long ]; then long=1; shift; fi
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top}
PATH=$build/tools/rm-match:$build/tools/rm-probe:$PATH
work=$(mktemp -d)
etcd_pid= follow_pid=
cleanup() {
	[ -n "$follow_pid" ] && kill "$follow_pid" 2>/dev/null && wait "$follow_pid" 2>/dev/null
	[ -n "$etcd_pid" ] && kill "$etcd_pid" 2>/dev/null && wait "$etcd_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
export REMOTEMEDIA_HOME=$work/home REMOTEMEDIA_SHARE=$top/share/remotemedia REMOTEMEDIA_ENV=development
mkdir -p "$REMOTEMEDIA_HOME/executors"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cport=$(port); pport=$(port)
http=http://127.0.0.1:$cport
etcd --name bench --data-dir "$work/etcd" --listen-client-urls "$http" \
	--advertise-client-urls "$http" --listen-peer-urls "http://127.0.0.1:$pport" \
	--initial-advertise-peer-urls "http://127.0.0.1:$pport" \
	--initial-cluster "bench=http://127.0.0.1:$pport" --quota-backend-bytes 4294967296 \
	>"$work/etcd.log" 2>&1 &
etcd_pid=$!
for _ in $(seq 1 100); do
	curl -fsS "$http/health" 2>/dev/null | grep -q '"health":"true"' && break
	sleep 0.1
done
url=etcd://127.0.0.1:$cport/bench

# The adverts of tests/bench/match.sh, as files and in etcd, one lease each.
python3 - "$work" "$cport" <<'PY'
import base64, http.client, json, random, sys
random.seed(42)
work, port = sys.argv[1], int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
def call(path, body):
    c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    return json.loads(c.getresponse().read())
b64 = lambda s: base64.b64encode(s.encode()).decode()
types = ["cuda", "rocm"]
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
    text = json.dumps(a, sort_keys=True, separators=(",", ":"))
    with open("%s/home/executors/ex%05d.json" % (work, i), "w") as f:
        f.write(text)
    lease = call("/v3/lease/grant", {"TTL": 3600})["ID"]
    call("/v3/kv/put", {"key": b64("/bench/executors/ex%05d" % i), "value": b64(text), "lease": lease})
PY
node='{"id":"stt","capabilities":{"gpu":{"type":"cuda","min_memory_gb":24},"memory_gb":64,"cpu":{"cores":16},"codecs":["h264"],"hardware_accel":true,"tags":["screenshot"]}}'
printf '%s\n' "$node" > "$work/node.json"
jqf='select(.capabilities.gpu.type=="cuda" and .capabilities.gpu.memory_gb>=24 and .capabilities.memory_gb>=64 and .capabilities.cpu.cores>=16 and .capabilities.codecs.h264=="hardware" and (.capabilities.tags|index("screenshot")))'

# median wall time in ms of N runs of a command (a setup command may precede: ms N SETUP -- CMD)
ms() {
	local n=$1 setup=: t=() s e
	shift
	if [ "${2:-}" = -- ]; then setup=$1; shift 2; fi
	for _ in $(seq 1 "$n"); do
		$setup
		s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
		t+=($(( (e - s) / 1000 )))
	done
	printf '%s\n' "${t[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}'
}
etcdjq() {
	ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$cport" get --prefix /bench/executors/ \
		--print-value-only | jq -c "$jqf"
}
put_one() {	# put_one ID GB: one advert changed in etcd, on a new lease
	python3 - "$cport" "$1" "$2" <<'PY'
import base64, http.client, json, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
def call(p, b):
    c.request("POST", p, json.dumps(b)); return json.loads(c.getresponse().read())
a = {"schema": "remotemedia.executor/1", "id": sys.argv[2], "endpoint": "ssh://10.9.9.9",
     "capabilities": {"gpu": {"type": "cuda", "memory_gb": int(sys.argv[3])}}}
lease = call("/v3/lease/grant", {"TTL": 3600})["ID"]
call("/v3/kv/put", {"key": base64.b64encode(("/bench/executors/" + sys.argv[2]).encode()).decode(),
    "value": base64.b64encode(json.dumps(a).encode()).decode(), "lease": lease})
PY
}

echo "== 10,000 adverts in etcd ($(etcd --version | head -1))"
n_jq=$(etcdjq | wc -l)
cold=$( (rm -rf "$REMOTEMEDIA_HOME/cache"; ms 1 rm-match --no-local --registry "$url" "$work/node.json") )
n_rm=$(rm-match --no-local --json --registry "$url" "$work/node.json" | jq .compatible_count)
echo "compatible: etcdctl|jq $n_jq, rm-match $n_rm (same selection)"
warm=$(ms 21 rm-match --no-local --registry "$url" "$work/node.json")
t_jq=$(ms 5 etcdjq)
echo "cold match (index built from etcd):        $cold ms"
echo "warm match:                                $warm ms"
echo "etcdctl get --prefix | jq:                 $t_jq ms  (warm is $(awk -v a="$t_jq" -v b="$warm" 'BEGIN{printf "%.1f", a/b}')x faster)"

i=0
etcd_change() { i=$((i + 1)); put_one "ex0$(printf %04d $((i * 37 % 10000)))" $((i % 2 ? 80 : 8)); }
t_ec=$(ms 11 etcd_change -- rm-match --no-local --registry "$url" "$work/node.json")
echo "one advert changed, then one match (etcd): $t_ec ms (median of 11; the match asks etcd what changed: etcd reads every value to filter by mod_revision; the change is logged)"
follow_start() {
	rm-match --follow --registry "$url" 2>"$work/follow.err" &
	follow_pid=$!
	for _ in $(seq 1 100); do
		ls "$REMOTEMEDIA_HOME"/cache/index/*.sock >/dev/null 2>&1 && break
		sleep 0.05
	done
}
follow_stop() { kill "$follow_pid"; wait "$follow_pid" || true; follow_pid=; }
follow_start
warm_f=$(ms 21 rm-match --no-local --registry "$url" "$work/node.json")
t_ecf=$(ms 21 etcd_change -- rm-match --no-local --registry "$url" "$work/node.json")
echo "with rm-match --follow running (it logs each change from its watch and answers the revision; the match loads no libcurl):"
echo "  warm match:                              $warm_f ms (median of 21; $(awk -v a="$t_jq" -v b="$warm_f" 'BEGIN{printf "%.1f", a/b}')x faster than etcdctl|jq)"
echo "  one advert changed, then one match:      $t_ecf ms (median of 21)"
follow_stop

echo "== 10,000 adverts in a directory"
rm-match --no-local "$work/node.json" >/dev/null 2>&1 || true
sleep 0.2
t_dw=$(ms 11 rm-match --no-local "$work/node.json")
dir_change() {
	i=$((i + 1))
	local id=ex0$(printf %04d $((i * 37 % 10000))) f=$REMOTEMEDIA_HOME/executors
	jq -c --argjson gb $((i % 2 ? 80 : 8)) '.capabilities.gpu.memory_gb = $gb' "$f/$id.json" > "$f/.$id.tmp"
	mv "$f/.$id.tmp" "$f/$id.json"
}
t_dc=$(ms 11 dir_change -- rm-match --no-local "$work/node.json")
t_rs=$(ms 3 rm-match --no-local --rescan "$work/node.json")
reg_change() {
	i=$((i + 1))
	jq --argjson gb $((i % 2 ? 80 : 8)) '.capabilities.gpu.memory_gb = $gb' \
		"$REMOTEMEDIA_HOME/executors/ex00001.json" > "$work/reg.json"
	local s e
	s=$(date +%s%N); rm-probe register -q --from "$work/reg.json" --ttl 3600 >/dev/null 2>&1; e=$(date +%s%N)
	echo $(( (e - s) / 1000 )) >> "$work/reg.times"
}
t_rc=$(ms 5 reg_change -- rm-match --no-local "$work/node.json")
t_reg=$(sort -n "$work/reg.times" | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}')
echo "warm match:                                $t_dw ms"
echo "one file replaced, then one match:         $t_dc ms (median of 11)"
echo "rm-probe register, then one match:         $t_rc ms (the register itself: $t_reg ms, index written)"
echo "full rescan (--rescan, the old cost):      $t_rs ms"

updates_loop() {	# updates_loop WHAT MARK: the last update sets ex00000 to MARK GB
local dur=$((long ? 60 : 10)) gen runs bad rc s e last p50 p95
echo "== $dur s of 100 advert updates a second (etcd) while matching in a loop, $1"
python3 - "$cport" "$dur" "$2" > "$work/gen.log" <<'PY' &
import base64, http.client, json, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
dur = int(sys.argv[2])
def call(p, b):
    c.request("POST", p, json.dumps(b)); return json.loads(c.getresponse().read())
lease = call("/v3/lease/grant", {"TTL": 3600})["ID"]
start, n = time.time(), 0
while time.time() - start < dur:
    n += 1
    a = {"schema": "remotemedia.executor/1", "id": "ex%05d" % (n * 7919 % 10000), "endpoint": "ssh://10.8.0.1",
         "capabilities": {"gpu": {"type": "cuda", "memory_gb": 8 + n % 64}}}
    call("/v3/kv/put", {"key": base64.b64encode(("/bench/executors/" + a["id"]).encode()).decode(),
        "value": base64.b64encode(json.dumps(a).encode()).decode(), "lease": lease})
    time.sleep(max(0, start + n / 100.0 - time.time()))
# the last update: one advert nobody else has
a = {"schema": "remotemedia.executor/1", "id": "ex00000", "endpoint": "ssh://10.8.0.1",
     "capabilities": {"gpu": {"type": "cuda", "memory_gb": int(sys.argv[3])}}}
call("/v3/kv/put", {"key": base64.b64encode(b"/bench/executors/ex00000").decode(),
    "value": base64.b64encode(json.dumps(a).encode()).decode(), "lease": lease})
print(n + 1)
PY
gen=$!
runs=0 bad=0
: > "$work/loop.times"
while kill -0 "$gen" 2>/dev/null; do
	s=$(date +%s%N)
	rc=0
	rm-match --no-local --json --registry "$url" "$work/node.json" > "$work/out.json" 2>"$work/err" || rc=$?
	e=$(date +%s%N)
	echo $(( (e - s) / 1000 )) >> "$work/loop.times"
	runs=$((runs + 1))
	if [ "$rc" -gt 1 ] || ! jq -e '.compatible_count >= 0' "$work/out.json" >/dev/null 2>&1 ||
	    grep -q 'skipped' "$work/err"; then
		bad=$((bad + 1))
	fi
done
wait "$gen"
printf '{"id":"last","capabilities":{"gpu":{"min_memory_gb":%d}}}\n' "$2" > "$work/last.json"
last=$(rm-match --no-local --json --registry "$url" "$work/last.json" | jq -r '[.executors[].id] | join(" ")')
p50=$(sort -n "$work/loop.times" | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)]/1000}')
p95=$(sort -n "$work/loop.times" | awk '{a[NR]=$1} END {printf "%.1f", a[int(NR*0.95+0.5)]/1000}')
echo "updates: $(cat "$work/gen.log"); matches: $runs (median $p50 ms, p95 $p95 ms); torn or failed reads: $bad"
echo "the last update seen by the next match: $([ "$last" = ex00000 ] && echo yes || echo "NO ($last)")"
}
follow_start
updates_loop "with rm-match --follow" 1001
follow_stop
updates_loop "without a follower" 1002

echo "== 10,000 leases kept alive by one process (gateway keepalive, every 10 s, for 30 s)"
python3 - "$cport" <<'PY'
import http.client, json, os, resource, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
def call(p, b):
    c.request("POST", p, json.dumps(b)); return c.getresponse().read()
ids = [json.loads(call("/v3/lease/grant", {"TTL": 30}))["ID"] for _ in range(10000)]
t0, c0 = time.time(), time.process_time()
rounds = 0
while time.time() - t0 < 30:
    r0 = time.time()
    for i in ids:
        call("/v3/lease/keepalive", {"ID": i})
    rounds += 1
    time.sleep(max(0, r0 + 10 - time.time()))
cpu = time.process_time() - c0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("keepalives: %d rounds of 10,000; CPU %.1f s in %.0f s (%.1f%% of a core; %.0f us a lease a round); peak RSS %d MB"
      % (rounds, cpu, time.time() - t0, 100 * cpu / (time.time() - t0), cpu / rounds / 10000 * 1e6, rss // 1024))
PY
s=$(date +%s%N)
for _ in 1 2 3 4 5; do rm-probe register -q --registry "$url" --from "$work/reg.json" --ttl 3600 >/dev/null 2>&1; done
e=$(date +%s%N)
echo "rm-probe register refresh of one advert in etcd (range, grant, put, revoke): $(( (e - s) / 5000000 )) ms a lease"
