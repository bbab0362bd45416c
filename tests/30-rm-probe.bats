#!/usr/bin/env bats
# rm-probe: the advert of this machine and of fixture boxes, register,
# verify (drift), bench, watch, validate, and every source failing.

load test_helper
bats_require_minimum_version 1.5.0

BOXES=$FIXTURES/probe

setup() {
	RMP=$(command -v rm-probe)
}

# The advert of a fixture box, as its expected.json is kept: probe BOX [ARGS]
probe_box() {
	local box=$1
	shift
	PATH=$box/bin "$RMP" --root "$box" --json "$@"
}

comparable() {
	jq -S 'del(.probed_at, .capabilities.storage)'
}

# A writable copy of a box: copy_box NAME -> $BOX
copy_box() {
	BOX=$BATS_TEST_TMPDIR/$1
	cp -a "$BOXES/$1" "$BOX"
}

@test "rm-probe: on this machine cores, memory and arch agree with nproc, /proc/meminfo and uname" {
	run rm-probe --json --no-frameworks
	assert_success
	echo "$output" | jq -e '.schema == "remotemedia.executor/1" and .endpoint == "local"'
	[ "$(echo "$output" | jq .capabilities.cpu.cores)" -eq "$(nproc)" ]
	[ "$(echo "$output" | jq -r .capabilities.cpu.arch)" = "$(uname -m)" ]
	kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
	want=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1048576 }')
	[ "$(echo "$output" | jq '.capabilities.memory_gb * 10 | round / 10')" = "$want" ] ||
		[ "$(echo "$output" | jq '.capabilities.memory_gb')" = "$want" ]
	echo "$output" | jq -e '.capabilities.frameworks == null'
	echo "$output" | jq -e '.capabilities.storage.free_gb > 0 and .capabilities.storage.path == env.REMOTEMEDIA_HOME'
	[ "$(echo "$output" | jq -r .id)" = "$(hostname -s)" ]
}

@test "rm-probe: fixture boxes (CPU-only, NVIDIA, AMD) give exactly the expected adverts" {
	for b in cpu-box nvidia-box amd-box; do
		probe_box "$BOXES/$b" > "$BATS_TEST_TMPDIR/$b.json"
		comparable < "$BATS_TEST_TMPDIR/$b.json" | diff -u "$BOXES/$b/expected.json" -
	done
	# What the expected files say, spelled out for the reader.
	jq -e '.capabilities.gpu == null and (.capabilities.tags | index("gpu") | not)' "$BATS_TEST_TMPDIR/cpu-box.json"
	jq -e '.capabilities.gpu | .type == "cuda" and .count == 2 and .memory_gb == 24 and .compute_capability == "8.9"' "$BATS_TEST_TMPDIR/nvidia-box.json"
	jq -e '.capabilities.codecs.h264 == "hardware" and .capabilities.codecs.vp9 == "software"' "$BATS_TEST_TMPDIR/nvidia-box.json"
	jq -e '.capabilities.gpu.type == "rocm" and .capabilities.gpus[0].render_node == "/dev/dri/renderD128"' "$BATS_TEST_TMPDIR/amd-box.json"
	jq -e '.capabilities.codecs.vp9 == "hardware" and .id == "amd1"' "$BATS_TEST_TMPDIR/amd-box.json"
}

@test "rm-probe: ffmpeg's hardware encoders count only when their hardware was found" {
	copy_box nvidia-box
	rm "$BOX/bin/nvidia-smi"
	run probe_box "$BOX"
	assert_success
	echo "$output" | jq -e '.capabilities.codecs.h264 == "software" and .capabilities.hardware_accel == null'
}

@test "rm-probe: the caller's PATH does not change the advert (cron's PATH and a login shell's)" {
	copy_box cpu-box
	# node where a package manager puts it, outside cron's PATH
	mkdir -p "$BOX/usr/local/bin"
	mv "$BOX/bin/node" "$BOX/usr/local/bin/node"
	sed -i 's|/\.\./captured|/../../../captured|' "$BOX/usr/local/bin/node"
	# a program only on the shell's PATH, outside the probed machine
	mkdir -p "$BATS_TEST_TMPDIR/home-bin"
	printf '#!/bin/sh\necho go1.22\n' > "$BATS_TEST_TMPDIR/home-bin/go"
	chmod +x "$BATS_TEST_TMPDIR/home-bin/go"
	env PATH=/usr/bin:/bin "$RMP" --root "$BOX" --json | comparable > "$BATS_TEST_TMPDIR/cron.json"
	env PATH="$BATS_TEST_TMPDIR/home-bin:$BOX/usr/local/bin:$BOX/bin:/usr/local/bin:/usr/bin:/bin" \
	    "$RMP" --root "$BOX" --json | comparable > "$BATS_TEST_TMPDIR/login.json"
	diff -u "$BATS_TEST_TMPDIR/cron.json" "$BATS_TEST_TMPDIR/login.json"
	jq -e '.capabilities.tags == ["linux", "node20", "python3.11"]' "$BATS_TEST_TMPDIR/cron.json"
	# REMOTEMEDIA_PROBE_PATH adds directories (under the root, like the rest)
	mkdir -p "$BOX/opt/go/bin"
	cp "$BATS_TEST_TMPDIR/home-bin/go" "$BOX/opt/go/bin/go"
	run env PATH=/usr/bin:/bin REMOTEMEDIA_PROBE_PATH=/opt/go/bin "$RMP" --root "$BOX" --json
	assert_success
	echo "$output" | jq -e '.capabilities.tags | index("go")'
}

@test "rm-probe -v: a program only on the caller's PATH is named, with how to probe it" {
	mkdir -p "$BATS_TEST_TMPDIR/home-bin"
	printf '#!/bin/sh\nexit 0\n' > "$BATS_TEST_TMPDIR/home-bin/go"
	chmod +x "$BATS_TEST_TMPDIR/home-bin/go"
	run --separate-stderr env PATH="$BATS_TEST_TMPDIR/home-bin:/usr/bin:/bin" "$RMP" -v --json --no-frameworks
	assert_success
	[[ $stderr == *"go is in $BATS_TEST_TMPDIR/home-bin, which is on PATH but not in the probe's search list; not probed (add $BATS_TEST_TMPDIR/home-bin to REMOTEMEDIA_PROBE_PATH)"* ]]
	echo "$output" | jq -e '.capabilities.tags | index("go") | not'
}

@test "rm-probe verify: a GPU that vanished is drift: exact report, registry updated, exit 1; then exit 0" {
	copy_box nvidia-box
	PATH=$BOX/bin "$RMP" --root "$BOX" register --ttl 600 --set region=eu-west >/dev/null
	jq -e '.capabilities.gpu.count == 2 and .region == "eu-west"' "$REMOTEMEDIA_HOME/executors/gpu1.json"
	printf '#!/bin/sh\necho "No devices were found"\nexit 6\n' > "$BOX/bin/nvidia-smi"
	run --separate-stderr env PATH="$BOX/bin" "$RMP" --root "$BOX" verify
	assert_failure 1
	echo "$output" | jq -e '.schema == "remotemedia.drift/1" and .id == "gpu1"'
	echo "$output" | jq -S .changes | diff -u "$BOXES/nvidia-box/expected-drift.json" -
	jq -e '.capabilities.gpu == null and .region == "eu-west"' "$REMOTEMEDIA_HOME/executors/gpu1.json"
	jq -e '.capabilities.tags | index("gpu") | not' "$REMOTEMEDIA_HOME/executors/gpu1.json"
	echo '{"id":"stt","capabilities":{"gpu":{"type":"cuda"}}}' > "$BATS_TEST_TMPDIR/gpunode.json"
	run rm-match --no-local "$BATS_TEST_TMPDIR/gpunode.json"
	assert_failure 1
	assert_output --partial "gpu1 (incompatible): gpu: need true, have none"
	run env PATH="$BOX/bin" "$RMP" --root "$BOX" verify
	assert_success
	echo "$output" | jq -e '.changes == []'
}

@test "rm-probe verify -q: drift reaches stderr (for cron's mail) and stays on record in drift.jsonl" {
	copy_box nvidia-box
	PATH=$BOX/bin "$RMP" --root "$BOX" register --ttl 600 >/dev/null
	printf '#!/bin/sh\necho "No devices were found"\nexit 6\n' > "$BOX/bin/nvidia-smi"
	# as the crontab example runs it: stdout thrown away
	run --separate-stderr env PATH="$BOX/bin" "$RMP" --root "$BOX" verify -q
	assert_failure 1
	[[ $stderr == *"rm-probe: drift: gpu1: capabilities.gpu"*"now null"* ]]
	[[ $stderr == *"recorded in $REMOTEMEDIA_HOME/drift.jsonl"* ]]
	run jq -s -e 'length == 1 and .[0].id == "gpu1" and (.[0].changes | length > 0) and (.[0].at | test("Z$"))' \
	    "$REMOTEMEDIA_HOME/drift.jsonl"
	assert_success
	# no drift: nothing said, nothing recorded
	run --separate-stderr env PATH="$BOX/bin" "$RMP" --root "$BOX" verify -q
	assert_success
	[ -z "$stderr" ]
	[ "$(wc -l < "$REMOTEMEDIA_HOME/drift.jsonl")" -eq 1 ]
}

@test "rm-probe verify: nothing registered is not found (exit 4)" {
	run env PATH="$BOXES/cpu-box/bin" "$RMP" --root "$BOXES/cpu-box" verify
	assert_failure 4
	assert_output --partial 'no executor "cpubox"'
}

@test "rm-probe verify: while another rm-probe holds the registry lock it writes nothing and exits 0" {
	PATH=$BOXES/cpu-box/bin "$RMP" --root "$BOXES/cpu-box" register >/dev/null
	snapshot "$REMOTEMEDIA_HOME/executors"
	exec 9>"$REMOTEMEDIA_HOME/executors.lock"
	flock -x 9
	run env PATH="$BOXES/cpu-box/bin" "$RMP" --root "$BOXES/cpu-box" verify
	exec 9>&-
	assert_success
	assert_output --partial "another rm-probe is running"
	same_as_snapshot "$REMOTEMEDIA_HOME/executors"
}

@test "rm-probe register: config.yaml gives static metadata, --set wins, probed_at and expires_at from --ttl" {
	mkdir -p "$REMOTEMEDIA_HOME"
	cat > "$REMOTEMEDIA_HOME/config.yaml" <<-'EOF'
	executor:
	  id: edge-7
	  region: us-east
	  pricing: {per_hour: 0.9, currency: USD}
	  runtime: python3.11
	  ttl: 120
	EOF
	run env PATH="$BOXES/cpu-box/bin" "$RMP" --root "$BOXES/cpu-box" register \
		--set region=eu-west --set slo.latency_p95_ms=200 --set 'controller_affinity=["c1"]'
	assert_success
	f=$REMOTEMEDIA_HOME/executors/edge-7.json
	jq -e '.id == "edge-7" and .region == "eu-west" and .pricing.per_hour == 0.9 and .runtime == "python3.11"' "$f"
	jq -e '.slo.latency_p95_ms == 200 and .controller_affinity == ["c1"] and .capabilities.cpu.cores == 2' "$f"
	jq -e '((.expires_at | fromdate) - (.probed_at | fromdate)) == 120' "$f"
	jq -e '.ttl == null' "$f"
	run env PATH="$BOXES/cpu-box/bin" "$RMP" --root "$BOXES/cpu-box" register --id other --ttl 60
	jq -e '((.expires_at | fromdate) - (.probed_at | fromdate)) == 60' "$REMOTEMEDIA_HOME/executors/other.json"
}

@test "rm-probe register: without --set it keeps the static fields set before; --unset drops one" {
	copy_box cpu-box
	f=$REMOTEMEDIA_HOME/executors/cpubox.json
	"$RMP" --root "$BOX" register --set pricing.per_hour=2 --set endpoint=ssh://cpubox.example.net \
	    --set region=eu-west --set tags=render-farm >/dev/null
	# as cron runs it: no --set, cron's PATH
	run env PATH=/usr/bin:/bin "$RMP" --root "$BOX" register --json
	assert_success
	jq -e '.pricing.per_hour == 2 and .endpoint == "ssh://cpubox.example.net" and .region == "eu-west"' "$f"
	jq -e '.tags == ["render-farm"] and (.capabilities.tags | index("render-farm"))' "$f"
	# the probed fields are fresh, not kept
	echo "9.00 1.00 1.00 1/85 1" > "$BOX/proc/loadavg"
	"$RMP" --root "$BOX" register --unset region --unset tags >/dev/null
	jq -e '.region == null and .tags == null and .load_score == 1' "$f"
	jq -e '.pricing.per_hour == 2 and .endpoint == "ssh://cpubox.example.net"' "$f"
	jq -e '.capabilities.tags | index("render-farm") | not' "$f"
	# a field that is not there is no error; a probed one cannot be unset
	run "$RMP" --root "$BOX" register --unset region
	assert_success
	run "$RMP" --root "$BOX" register --unset capabilities.gpu
	assert_failure 2
	assert_output --partial "--unset capabilities.gpu: not a static field"
	# what config.yaml sets comes back: the warning says so
	mkdir -p "$REMOTEMEDIA_HOME"
	printf 'executor:\n  region: us-east\n' > "$REMOTEMEDIA_HOME/config.yaml"
	run --separate-stderr "$RMP" --root "$BOX" register --unset region
	assert_success
	[[ $stderr == *"--unset region: config.yaml sets it"* ]]
	jq -e '.region == null' "$f"
}

@test "rm-probe register --set tags=...: matched by rm-match, never drift; probed changes still are" {
	copy_box nvidia-box
	f=$REMOTEMEDIA_HOME/executors/gpu1.json
	"$RMP" --root "$BOX" register --ttl 600 --set tags=gpu-box >/dev/null
	jq -e '.tags == ["gpu-box"] and (.capabilities.tags | index("gpu-box") and index("gpu"))' "$f"
	echo '{"id":"render","capabilities":{"tags":["gpu-box"]}}' > "$BATS_TEST_TMPDIR/node.json"
	run rm-match --no-local --json "$BATS_TEST_TMPDIR/node.json"
	assert_success
	assert_equal "$(jq -r '.executors[0].id' <<<"$output")" gpu1
	run "$RMP" --root "$BOX" verify --json
	assert_success
	echo "$output" | jq -e '.changes == []'
	# the GPU goes: drift, the probed tag "gpu" among it, the user's tag not
	printf '#!/bin/sh\necho "No devices were found"\nexit 6\n' > "$BOX/bin/nvidia-smi"
	run --separate-stderr "$RMP" --root "$BOX" verify --json
	assert_failure 1
	echo "$output" | jq -e '[.changes[].path] | index("capabilities.gpu") and index("capabilities.tags")'
	echo "$output" | jq -e '.changes[] | select(.path == "capabilities.tags") | (.was | index("gpu")) and (.was + .now | index("gpu-box") | not)'
	jq -e '.tags == ["gpu-box"] and (.capabilities.tags | index("gpu-box")) and (.capabilities.tags | index("gpu") | not)' "$f"
	run rm-match --no-local --json "$BATS_TEST_TMPDIR/node.json"
	assert_success
	run "$RMP" --root "$BOX" verify --json
	assert_success
}

@test "rm-probe register: --from registers a captured advert; bad --set and bad config are refused" {
	probe_box "$BOXES/amd-box" > "$BATS_TEST_TMPDIR/amd.json"
	run rm-probe register --from "$BATS_TEST_TMPDIR/amd.json" --set pricing.per_hour=2.5
	assert_success
	jq -e '.capabilities.gpu.type == "rocm" and .pricing.per_hour == 2.5' "$REMOTEMEDIA_HOME/executors/amd1.json"
	# registered again without --set: the price set before stays
	run rm-probe register --from "$BATS_TEST_TMPDIR/amd.json"
	assert_success
	jq -e '.pricing.per_hour == 2.5' "$REMOTEMEDIA_HOME/executors/amd1.json"
	run rm-probe register --from "$BATS_TEST_TMPDIR/amd.json" --set novalue
	assert_failure 2
	assert_output --partial "expected PATH=VALUE"
	mkdir -p "$REMOTEMEDIA_HOME"
	echo 'executor: [1, 2]' > "$REMOTEMEDIA_HOME/config.yaml"
	run rm-probe register --from "$BATS_TEST_TMPDIR/amd.json"
	assert_failure 3
	assert_output --partial "executor: expected a mapping"
}

@test "rm-probe register: concurrent registrations never tear the advert" {
	probe_box "$BOXES/cpu-box" > "$BATS_TEST_TMPDIR/a.json"
	for i in 1 2 3 4 5 6 7 8; do
		rm-probe register --from "$BATS_TEST_TMPDIR/a.json" --id same --set n=$i >/dev/null &
	done
	wait
	jq -e '.id == "same" and (.n | type) == "number"' "$REMOTEMEDIA_HOME/executors/same.json"
	[ "$(ls "$REMOTEMEDIA_HOME/executors")" = "same.json" ]
}

@test "rm-probe: unreadable /proc files are reported, everything else still answered, exit 0" {
	copy_box cpu-box
	rm "$BOX/proc/meminfo"
	mkdir "$BOX/proc/meminfo"
	rm "$BOX/proc/cpuinfo"
	run --separate-stderr probe_box "$BOX"
	assert_success
	echo "$output" | jq -e '[.probe_errors[].source] | index("/proc/meminfo") and index("/proc/cpuinfo")'
	echo "$output" | jq -e '.capabilities.memory_gb == null and .capabilities.cpu.arch == "x86_64"'
	echo "$output" | jq -e '.capabilities.tags | index("python3.11")'
}

@test "rm-probe: nvidia-smi that hangs is killed after the timeout; the rest is answered" {
	copy_box nvidia-box
	cat > "$BOX/bin/nvidia-smi" <<-EOF
	#!/bin/sh
	echo \$\$ > "$BATS_TEST_TMPDIR/smi.pid"
	/bin/sleep 30 &
	echo \$! > "$BATS_TEST_TMPDIR/child.pid"
	wait
	EOF
	SECONDS=0
	run --separate-stderr env PATH="$BOX/bin" REMOTEMEDIA_PROBE_TIMEOUT=0.5 "$RMP" --root "$BOX" --json
	[ "$SECONDS" -lt 4 ]
	assert_success
	echo "$output" | jq -e '.probe_errors == [{"source": "nvidia-smi", "error": "timed out after 500 ms"}]'
	echo "$output" | jq -e '.capabilities.gpu == null and .capabilities.cpu.cores == 2 and .capabilities.codecs.vp9 == "software"'
	! kill -0 "$(cat "$BATS_TEST_TMPDIR/smi.pid")" 2>/dev/null
	! kill -0 "$(cat "$BATS_TEST_TMPDIR/child.pid")" 2>/dev/null
	run --separate-stderr env PATH="$BOX/bin" "$RMP" --root "$BOX" --timeout 1 --json
	echo "$output" | jq -e '.probe_errors[0].error == "timed out after 1 s"'
}

@test "rm-probe: nvidia-smi printing garbage or exiting non-zero is reported, not believed" {
	copy_box nvidia-box
	printf '#!/bin/sh\necho "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver."\n' > "$BOX/bin/nvidia-smi"
	run --separate-stderr probe_box "$BOX"
	assert_success
	echo "$output" | jq -e '.capabilities.gpu == null'
	echo "$output" | jq -e '.probe_errors[0] == {"source": "nvidia-smi", "error": "1 line of unexpected output ignored"}'
	printf '#!/bin/sh\necho "0, X, 1, 1, 1, 1"\nexit 9\n' > "$BOX/bin/nvidia-smi"
	run --separate-stderr probe_box "$BOX"
	assert_success
	[[ "$stderr" == *"nvidia-smi: exited with status 9"* ]]
	echo "$output" | jq -e '.capabilities.gpu == null and .probe_errors[0].error == "exited with status 9"'
}

@test "rm-probe: python3 is asked once; the cache holds until the interpreter changes; --no-frameworks never asks" {
	copy_box nvidia-box
	log=$BATS_TEST_TMPDIR/py.log
	mv "$BOX/bin/python3" "$BOX/bin/python3.real"
	printf '#!/bin/sh\necho "$1" >> "%s"\nexec "${0%%/*}/python3.real" "$@"\n' "$log" > "$BOX/bin/python3"
	chmod +x "$BOX/bin/python3"
	probe_box "$BOX" | jq -e '.capabilities.frameworks.torch == "2.1.0" and .capabilities.torch_cuda == true'
	probe_box "$BOX" | jq -e '.capabilities.frameworks.onnxruntime == "1.16.3"'
	[ "$(grep -c -- -I "$log")" -eq 1 ]
	touch -d '2001-01-01' "$BOX/bin/python3"
	probe_box "$BOX" >/dev/null
	[ "$(grep -c -- -I "$log")" -eq 2 ]
	rm "$REMOTEMEDIA_HOME/cache/frameworks.json"
	probe_box "$BOX" --no-frameworks | jq -e '.capabilities.frameworks == null'
	[ "$(grep -c -- -I "$log")" -eq 2 ]
}

@test "rm-probe validate: by default what formats(5) requires; a minimal advert passes" {
	d=$BATS_TEST_TMPDIR
	echo '{"schema":"remotemedia.executor/1","id":"m1","capabilities":{"memory_gb":8}}' > "$d/min.json"
	run rm-probe validate "$d/min.json"
	assert_success
	echo "$output" | jq -e '.adverts[0].gaps == [] and .adverts[0].errors == []'
	# --schema-only, the default now, is still accepted
	run rm-probe validate --schema-only "$d/min.json"
	assert_success
	# required: an id; a schema, when given, ours; values of the taxonomy's types
	echo '{"schema":"remotemedia.executor/1","capabilities":{}}' > "$d/noid.json"
	echo '{"schema":"remotemedia.executor/2","id":"x"}' > "$d/v2.json"
	echo '{"id":"x","capabilities":{"memory_gb":"lots"}}' > "$d/type.json"
	run rm-probe validate "$d/noid.json" "$d/v2.json" "$d/type.json" "$d/min.json"
	assert_failure 3
	echo "$output" | jq -e '[.adverts[].errors | length] == [1, 1, 1, 0]'
	echo "$output" | jq -e '.adverts[0].errors[0] | test("id: missing")'
	echo "$output" | jq -e '.adverts[2].errors[0] | test("capabilities.memory_gb: expected a number")'
	run rm-probe validate
	assert_failure 2
}

@test "rm-probe validate --profile: spec 004 completeness gaps only when asked for" {
	d=$BATS_TEST_TMPDIR
	echo '{"schema":"remotemedia.executor/1","id":"m1","capabilities":{"memory_gb":8}}' > "$d/min.json"
	run rm-probe validate --profile faas "$d/min.json"
	assert_failure 1
	echo "$output" | jq -e '.adverts[0].gaps == ["runtime: missing (FaaS profile)", "env_profile: missing (FaaS profile)", "constraints: missing (FaaS profile)"]'
	run rm-probe validate --profile priority "$d/min.json"
	assert_failure 1
	echo "$output" | jq -e '.adverts[0].gaps | length == 3'
	cat > "$d/p1.yaml" <<-'EOF'
	schema: remotemedia.executor/1
	id: p1
	priority: P1
	runtime: python3.11
	env_profile: cpu-optimized
	constraints: {min_memory_mb: 512}
	capabilities: {}
	EOF
	run rm-probe validate "$d/p1.yaml"
	assert_success
	run rm-probe validate --profile priority "$d/p1.yaml"
	assert_failure 1
	echo "$output" | jq -e '.adverts[0].gaps == ["slo: missing (P1 profile)"]'
	run rm-probe validate --profile faas,economic "$d/p1.yaml"
	assert_failure 1
	echo "$output" | jq -e '.adverts[0].gaps == ["cost_tokens: missing (economic profile)", "slo_bid: missing (economic profile)"]'
	cat > "$d/p0.json" <<-'EOF'
	{"schema":"remotemedia.executor/1","id":"p0","priority":"P0","runtime":"python3.11",
	 "env_profile":"cpu-optimized","constraints":{"min_memory_mb":512},"slo":{"latency_p95_ms":100},
	 "spiffe_id":"spiffe://crank.local/worker/hello-world","required_capabilities":[],
	 "cost_tokens":0.1,"slo_bid":1.0,"controller_affinity":["controller-primary"],"capabilities":{}}
	EOF
	run rm-probe validate --profile priority "$d/p0.json"
	assert_success
	run rm-probe validate --profile faas,bogus "$d/p0.json"
	assert_failure 2
	assert_output --partial "unknown profile 'bogus'"
}

@test "rm-probe bench: under 5 s, figures recorded in the registered advert, warns below the claim" {
	PATH=$BOXES/cpu-box/bin "$RMP" --root "$BOXES/cpu-box" register --set bench.memory_bandwidth_gbps=100000 >/dev/null
	SECONDS=0
	run env PATH="$BOXES/cpu-box/bin:$PATH" "$RMP" --root "$BOXES/cpu-box" bench
	[ "$SECONDS" -lt 5 ]
	assert_failure 1
	assert_output --partial "memory_bandwidth_gbps: measured"
	jq -e '.bench.measured | .cpu_mops > 0 and .memory_bandwidth_gbps > 0 and .disk_write_mbps > 0' "$REMOTEMEDIA_HOME/executors/cpubox.json"
	jq -e '.bench.memory_bandwidth_gbps == 100000' "$REMOTEMEDIA_HOME/executors/cpubox.json"
	PATH=$BOXES/cpu-box/bin "$RMP" --root "$BOXES/cpu-box" register --set bench.memory_bandwidth_gbps=0.01 >/dev/null
	run env PATH="$BOXES/cpu-box/bin:$PATH" "$RMP" --root "$BOXES/cpu-box" bench --json
	assert_success
	echo "$output" | jq -e '.recorded == true and .below_advertised == []'
}

@test "rm-probe watch: registers, then writes only when something changed" {
	copy_box cpu-box
	run env PATH="$BOX/bin" "$RMP" --root "$BOX" watch --interval 0.05 --count 3
	assert_success
	[ "${#lines[@]}" -eq 1 ]
	echo "${lines[0]}" | jq -e '.event == "registered" and .id == "cpubox"'
	echo "9.00 1.00 1.00 1/85 1" > "$BOX/proc/loadavg"
	run env PATH="$BOX/bin" "$RMP" --root "$BOX" watch --interval 0.05 --count 2
	[ "${#lines[@]}" -eq 1 ]
	echo "${lines[0]}" | jq -e '.event == "resources changed"'
	jq -e '.load_score == 1' "$REMOTEMEDIA_HOME/executors/cpubox.json"
}

@test "rm-probe register then rm-match: a node needing more memory is rejected with need and have" {
	PATH=$BOXES/cpu-box/bin:$PATH "$RMP" --root "$BOXES/cpu-box" register --id cpubox >/dev/null
	echo '{"id":"big","capabilities":{"memory_gb":512}}' > "$BATS_TEST_TMPDIR/node.json"
	run rm-match --no-local "$BATS_TEST_TMPDIR/node.json"
	assert_failure 1
	assert_output --partial "cpubox (incompatible): memory_gb: need 512, have 23.5"
	run bash -c "rm-match --no-local --json '$BATS_TEST_TMPDIR/node.json' 2>/dev/null"
	assert_equal "$(jq -c '.rejected[0].reasons[0] | {need,have}' <<<"$output")" '{"need":512,"have":23.5}'
}

@test "rm-probe: usage: -h exit 0, bad option, unknown verb, bad --ttl exit 2" {
	run rm-probe -h
	assert_success
	assert_output --partial "rm-probe register"
	run rm-probe --bogus
	assert_failure 2
	run rm-probe frobnicate
	assert_failure 2
	assert_output --partial "unknown verb"
	run rm-probe register --ttl -5
	assert_failure 2
	run rm-probe --root "$BATS_TEST_TMPDIR/none" --json
	assert_failure 4
	run rm-probe --version
	assert_success
}
