#!/usr/bin/env bats
# rm-match: capability matching that explains itself (spec 000, 002, 003, 004).

load test_helper
bats_require_minimum_version 1.5.0

M=$BATS_TEST_DIRNAME/fixtures/match

setup() {
	EX=$M/executors
}

node() {
	printf '%s\n' "$1" > "$BATS_TEST_TMPDIR/node.json"
	echo "$BATS_TEST_TMPDIR/node.json"
}

advert() {
	# advert ID JSON-CAPABILITIES [extra top-level JSON fields]
	mkdir -p "$BATS_TEST_TMPDIR/ex"
	printf '{"schema":"remotemedia.executor/1","id":"%s","capabilities":%s%s}\n' \
		"$1" "$2" "${3:+,$3}" > "$BATS_TEST_TMPDIR/ex/$1.json"
}

@test "rm-match: 8 GB CUDA node is compatible with a 24 GB CUDA executor (spec exact match)" {
	advert gpu24 '{"gpu":{"type":"cuda","model":"RTX 4090","memory_gb":24}}'
	run rm-match --json -d "$BATS_TEST_TMPDIR/ex" "$(node '{"gpu":{"type":"cuda","min_memory_gb":8}}')"
	assert_success
	assert_equal "$(jq -r '.executors[0].id' <<<"$output")" gpu24
	assert_equal "$(jq -r '.executors[0].compatible' <<<"$output")" true
	assert_equal "$(jq -r '.schema' <<<"$output")" "remotemedia.match/1"
}

@test "rm-match: 32 GB node is rejected by a 16 GB executor, with 32 and 16 in the reason" {
	advert mem16 '{"memory_gb":16}'
	run rm-match --json -d "$BATS_TEST_TMPDIR/ex" "$(node '{"memory_gb":32}')"
	assert_failure 1
	r=$(jq -c '.rejected[0].reasons[0]' <<<"${lines[*]}" 2>/dev/null || true)
	run bash -c "rm-match --json -d '$BATS_TEST_TMPDIR/ex' '$BATS_TEST_TMPDIR/node.json' 2>/dev/null"
	assert_equal "$(jq -c '.rejected[0].reasons[0] | {path,code,need,have}' <<<"$output")" \
		'{"path":"memory_gb","code":"insufficient","need":32,"have":16}'
}

@test "rm-match: with nothing compatible, stderr names every executor and every failing clause" {
	run bash -c "echo '{\"memory_gb\": 128, \"codecs\": [\"h264\",\"vp9\"], \"hardware_accel\": true}' | rm-match -d '$EX' - 2>&1 >/dev/null"
	assert_equal "$status" 1
	assert_output --partial "cpu-big (incompatible): memory_gb: need 128, have 64; codecs: codec h264 needs hardware acceleration"
	assert_output --partial "gpu-4090 (incompatible): memory_gb: need 128, have 64; codecs: codec vp9 needs hardware acceleration"
	assert_output --partial "small (incompatible): memory_gb: need 128, have 16"
	assert_output --partial "0/3 executors: 3 insufficient memory_gb (need 128, best 64)"
}

@test "rm-match: every failing clause is reported, not only the first" {
	run bash -c "rm-match --json -d '$EX' '$(node '{"memory_gb":128,"cpu":{"cores":64},"tags":["screenshot","wayland"]}')' 2>/dev/null"
	assert_equal "$status" 1
	assert_equal "$(jq -r '.rejected[] | select(.id=="cpu-big") | [.reasons[].path] | join(",")' <<<"$output")" \
		"memory_gb,cpu.cores,tags"
	assert_equal "$(jq -r '.rejected[] | select(.id=="cpu-big") | .reasons[] | select(.path=="tags") | .missing' <<<"$output")" screenshot
}

@test "rm-match: codecs with hardware_accel need hardware; without it software will do" {
	run rm-match --json -d "$EX" "$(node '{"codecs":["h264"],"hardware_accel":true}')"
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" "gpu-4090"
	run rm-match --json -d "$EX" "$(node '{"codecs":["h264","vp9"]}')"
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | sort | join(",")' <<<"$output")" "cpu-big,gpu-4090"
	assert_equal "$(jq -r '.rejected' <<<"$output")" null
}

@test "rm-match: preferred-only GPU on CPU executors is a degraded match with a warning, never a rejection" {
	advert cpu1 '{"cpu":{"cores":8},"memory_gb":32}'
	run rm-match --json -d "$BATS_TEST_TMPDIR/ex" "$(node '{"gpu":{"required":false,"preferred":true},"cpu":{"cores":4}}')"
	assert_success
	assert_equal "$(jq -r '.executors[0].degraded' <<<"$output")" true
	assert_equal "$(jq -r '.executors[0].compatible' <<<"$output")" true
	assert_output --partial "preferred, not required"
	assert_output --partial "degraded performance"
}

@test "rm-match: a preferred clause that is met ranks its executor above one that misses it" {
	run rm-match --json -d "$EX" "$(node '{"cpu":{"cores":4},"gpu":{"required":false,"preferred":true,"type":"cuda"}}')"
	assert_success
	assert_equal "$(jq -r '.executors[0].id' <<<"$output")" gpu-4090
	assert_equal "$(jq -r '.executors[0].degraded' <<<"$output")" false
	assert_equal "$(jq -r '[.executors[] | select(.degraded)] | length' <<<"$output")" 2
}

@test "rm-match: frameworks with version ranges >=, ==.*, ~=" {
	run rm-match --json -d "$EX" "$(node '{"frameworks":{"torch":">=2.1,<3"}}')"
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" gpu-4090
	run bash -c "rm-match --json -d '$EX' '$(node '{"frameworks":{"torch":"==1.13.*"}}')' 2>/dev/null"
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" cpu-big
	run bash -c "rm-match --json --all -d '$EX' '$(node '{"frameworks":{"onnxruntime":"~=1.16"}}')' 2>/dev/null"
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" gpu-4090
	assert_equal "$(jq -r '.rejected[] | select(.id=="cpu-big") | .reasons[0].code' <<<"$output")" framework_missing
	run bash -c "rm-match --json -d '$EX' '$(node '{"frameworks":{"torch":">=3"}}')' 2>/dev/null"
	assert_equal "$status" 1
	assert_equal "$(jq -r '.rejected[] | select(.id=="gpu-4090") | .reasons[0].code' <<<"$output")" version_mismatch
}

@test "rm-match: compute capability is a version compared at least" {
	run rm-match --json -d "$EX" "$(node '{"gpu":{"compute_capability":"8.0"}}')"
	assert_success
	run bash -c "rm-match --json -d '$EX' '$(node '{"gpu":{"compute_capability":"9.0"}}')' 2>/dev/null"
	assert_equal "$status" 1
	assert_equal "$(jq -r '.rejected[] | select(.id=="gpu-4090") | .reasons[0] | "\(.code) \(.have)"' <<<"$output")" "version_mismatch 8.9"
}

@test "rm-match: flat tags are exact strings (spec 003): screenshot is not image-render" {
	advert linux '["linux","docker","gui","screenshot"]'
	advert bsd '["freebsd","freebsd-jail","zfs","rust"]'
	run rm-match --json -d "$BATS_TEST_TMPDIR/ex" "$(node '{"id":"shot","required_capabilities":["screenshot"]}')"
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" linux
	run bash -c "rm-match --json -d '$BATS_TEST_TMPDIR/ex' '$(node '{"tags":["image-render"]}')' 2>/dev/null"
	assert_equal "$status" 1
	run bash -c "rm-match --json -d '$BATS_TEST_TMPDIR/ex' '$(node '{"tags":["Screenshot"]}')' 2>/dev/null"
	assert_equal "$status" 1
}

@test "rm-match: a Colibri plain tag list works as an advert and as a node" {
	printf '["linux","gpu"]\n' > "$BATS_TEST_TMPDIR/colibri.json"
	run rm-match --json -x "$BATS_TEST_TMPDIR/colibri.json" "$(node '{"id":"t","capabilities":["gpu"]}')"
	assert_success
	assert_equal "$(jq -r '.executors[0].id' <<<"$output")" colibri
}

@test "rm-match: crank registration bodies and flat spec 004 adverts are read" {
	cat > "$BATS_TEST_TMPDIR/crank.json" <<-'EOF2'
	{"worker_id":"worker-hello-world","worker_url":"https://localhost:8500",
	 "capabilities":[{"name":"hello_world","verb":"greet","version":"1.0.0","runtime":"python3.11",
	   "env_profile":"cpu-optimized","slo":{"latency_p95_ms":100,"availability_pct":99.5},
	   "cost_tokens_per_invocation":0.1,"controller_affinity":["controller-primary"]}]}
	EOF2
	printf '{"worker_id":"w-stream","url":"https://localhost:8501","load_score":0.3,"runtime":"python3.11","env_profile":"gpu-required","slo":{"latency_p95_ms":250},"cost_tokens":0.5}\n' > "$BATS_TEST_TMPDIR/flat.json"
	run rm-match --json -x "$BATS_TEST_TMPDIR/crank.json" -x "$BATS_TEST_TMPDIR/flat.json" \
		--query runtime=python3.11 --query 'slo.latency_p95_ms<=200'
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" worker-hello-world
	run rm-match --json -x "$BATS_TEST_TMPDIR/crank.json" -x "$BATS_TEST_TMPDIR/flat.json" --query env_profile=gpu-required
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" w-stream
	assert_equal "$(jq -r '.executors[0].endpoint' <<<"$output")" "https://localhost:8501"
}

@test "rm-match: a minimal advert (id only) is valid and simply matches nothing specific" {
	advert bare '{}'
	printf '{"id":"tiny"}\n' > "$BATS_TEST_TMPDIR/ex/tiny.json"
	run rm-match --json -d "$BATS_TEST_TMPDIR/ex" "$(node '{}')"
	assert_success
	assert_equal "$(jq -r '.compatible_count' <<<"$output")" 2
}

@test "rm-match: discovery by GPU type and memory ranks by availability" {
	advert a '{"gpu":{"type":"cuda","memory_gb":16}}' '"load_score":0.9'
	advert b '{"gpu":{"type":"cuda","memory_gb":24}}' '"load_score":0.1'
	advert c '{"gpu":{"type":"rocm","memory_gb":32}}' '"load_score":0.0'
	advert d '{"gpu":{"type":"cuda","memory_gb":8}}' '"load_score":0.0'
	run rm-match --json -d "$BATS_TEST_TMPDIR/ex" --query gpu.type=cuda --query 'gpu.memory_gb>=16'
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" "b,a"
	# spaces around the operator, as people write it
	run rm-match --json -d "$BATS_TEST_TMPDIR/ex" --query ' gpu.type = cuda' --query 'gpu.memory_gb >= 16 '
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" "b,a"
}

@test "rm-match: --region puts the same region first, then the same continent, then the rest" {
	advert far '{}' '"region":"us-east-1"'
	advert near '{}' '"region":"eu-central-1"'
	advert same '{}' '"region":"eu-west-1"'
	run rm-match --json -d "$BATS_TEST_TMPDIR/ex" --region eu-west-1 "$(node '{}')"
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" "same,near,far"
}

@test "rm-match: --max-cost filters executors priced above it (unpriced count as free)" {
	run rm-match --json -d "$EX" --max-cost 1.0 "$(node '{}')"
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | sort | join(",")' <<<"$output")" "cpu-big,small"
	run rm-match --json -d "$EX" --max-cost 1.0 --sort cost "$(node '{}')"
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" "small,cpu-big"
}

@test "rm-match: --explain gives the per-clause view in JSON and on stderr" {
	run bash -c "rm-match --json --explain -d '$EX' '$(node '{"memory_gb":32,"gpu":{"type":"cuda"}}')' 2>'$BATS_TEST_TMPDIR/err'"
	assert_success
	assert_equal "$(jq -c '.clauses[] | select(.path=="memory_gb") | {eliminated,best}' <<<"$output")" '{"eliminated":1,"best":64}'
	assert_equal "$(jq -c '.clauses[] | select(.path=="gpu") | .eliminated' <<<"$output")" 2
	assert_equal "$(jq -r '.rejected | length' <<<"$output")" 2
	run cat "$BATS_TEST_TMPDIR/err"
	assert_output --partial "1/3 executors: 2 missing gpu"
	assert_output --partial "1 insufficient memory_gb (need 32, best 64)"
}

@test "rm-match: the registry directory is the default source, YAML adverts included" {
	registry_from "$EX"/*
	run rm-match --json --no-local "$(node '{"cpu":{"arch":"aarch64"}}')"
	assert_success
	assert_equal "$(jq -r '.executors[0].id' <<<"$output")" small
}

@test "rm-match: the registry index sees an advert added, removed or replaced by the next call" {
	registry_from "$EX"/cpu-big.json
	n=$(node '{"memory_gb":32}')
	run rm-match --json --no-local "$n"
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" cpu-big
	cp "$EX/gpu-4090.json" "$REMOTEMEDIA_HOME/executors/"
	run rm-match --json --no-local "$n"
	assert_equal "$(jq -r '[.executors[].id] | sort | join(",")' <<<"$output")" "cpu-big,gpu-4090"
	jq '.capabilities.memory_gb = 8' "$EX/cpu-big.json" > "$REMOTEMEDIA_HOME/executors/cpu-big.json.new"
	mv "$REMOTEMEDIA_HOME/executors/cpu-big.json.new" "$REMOTEMEDIA_HOME/executors/cpu-big.json"
	run rm-match --json --no-local "$n"
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" gpu-4090
	rm "$REMOTEMEDIA_HOME/executors/gpu-4090.json"
	run rm-match --json --no-local "$n"
	assert_failure 1
	ls "$REMOTEMEDIA_HOME"/cache/index/*.idx
}

@test "rm-match: an advert edited in place (same file, same inode) is seen by the next call" {
	registry_from "$EX"/cpu-big.json
	n=$(node '{"memory_gb":32}')
	run rm-match --json --no-local "$n"
	assert_success
	sleep 0.1
	jq '.capabilities.memory_gb = 8' "$EX/cpu-big.json" > "$BATS_TEST_TMPDIR/edited.json"
	cat "$BATS_TEST_TMPDIR/edited.json" > "$REMOTEMEDIA_HOME/executors/cpu-big.json"
	run bash -c "rm-match --json --no-local '$n' 2>/dev/null"
	assert_equal "$status" 1
	assert_equal "$(jq -r '.rejected[0].reasons[0].have' <<<"$output")" 8
}

@test "rm-match: an expired advert is not matched" {
	advert old '{"memory_gb":64}' '"expires_at":"2001-01-01T00:00:00Z"'
	advert new '{"memory_gb":64}' '"expires_at":"2999-01-01T00:00:00Z"'
	run rm-match --json --all -d "$BATS_TEST_TMPDIR/ex" "$(node '{"memory_gb":32}')"
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" new
	assert_equal "$(jq -r '.rejected[0] | "\(.id) \(.reasons[0].code)"' <<<"$output")" "old expired"
}

@test "rm-match: a wrongly typed advert value is a precise error naming file, field and value" {
	advert bad '{"gpu":{"type":"cuda","memory_gb":"24GB"}}'
	advert good '{"memory_gb":8}'
	run rm-match --json -d "$BATS_TEST_TMPDIR/ex" "$(node '{}')"
	assert_success
	assert_output --partial "ex/bad.json: capabilities.gpu.memory_gb: expected a number in GB, got \"24GB\" (advert skipped)"
	REMOTEMEDIA_ENV=production run rm-match --json -d "$BATS_TEST_TMPDIR/ex" "$(node '{}')"
	assert_failure 3
	assert_output --partial 'capabilities.gpu.memory_gb: expected a number in GB, got "24GB"'
}

@test "rm-match: 1,000 adverts with one broken: the broken one is named, the rest still match" {
	mkdir -p "$BATS_TEST_TMPDIR/many"
	for i in $(seq 1 1000); do
		printf '{"id":"ex%04d","capabilities":{"memory_gb":%d}}\n' "$i" $((i % 64)) > "$BATS_TEST_TMPDIR/many/ex$i.json"
	done
	printf '{"id":"ex0500","capabilities":{"memory_gb":' > "$BATS_TEST_TMPDIR/many/ex500.json"
	run bash -c "rm-match --json -d '$BATS_TEST_TMPDIR/many' '$(node '{"memory_gb":60}')' 2>'$BATS_TEST_TMPDIR/err'"
	assert_success
	assert_equal "$(jq -r '.considered' <<<"$output")" 999
	assert_equal "$(jq -r '.compatible_count' <<<"$output")" 60
	run cat "$BATS_TEST_TMPDIR/err"
	assert_output --partial "many/ex500.json: malformed JSON"
	assert_equal "${#lines[@]}" 1
}

@test "rm-match: malformed node JSON and YAML give file, line and column with exit 3" {
	printf '{"memory_gb": 32,\n "cpu": }\n' > "$BATS_TEST_TMPDIR/bad.json"
	run rm-match -d "$EX" "$BATS_TEST_TMPDIR/bad.json"
	assert_failure 3
	assert_output --regexp "bad.json:2:[0-9]+: malformed JSON"
	printf 'memory_gb: 32\ncpu: [1, 2\n' > "$BATS_TEST_TMPDIR/bad.yaml"
	run rm-match -d "$EX" "$BATS_TEST_TMPDIR/bad.yaml"
	assert_failure 3
	assert_output --regexp "bad.yaml:[0-9]+:[0-9]+: malformed YAML"
}

@test "rm-match: empty files, wrong types and unknown keys in a node are exit 3 with the field" {
	: > "$BATS_TEST_TMPDIR/empty.json"
	run rm-match -d "$EX" "$BATS_TEST_TMPDIR/empty.json"
	assert_failure 3
	assert_output --partial "empty document"
	run rm-match -d "$EX" "$(node '{"memory_gb":"32GB"}')"
	assert_failure 3
	assert_output --partial 'memory_gb: expected a number (or {min, max}), got "32GB"'
	run rm-match -d "$EX" "$(node '{"gpu":{"type":"cudaa"}}')"
	assert_failure 3
	assert_output --partial 'gpu.type: expected one of cuda, rocm, metal, vulkan, oneapi, got "cudaa"'
	run rm-match -d "$EX" "$(node '{"id":"n","capabilities":{"flux_capacitor":1}}')"
	assert_failure 3
	assert_output --partial "capabilities.flux_capacitor: unknown capability"
	run rm-match -d "$EX" "$(node '{"frameworks":{"torch":">>2"}}')"
	assert_failure 3
	assert_output --partial "frameworks.torch: expected a version range"
}

@test "rm-match: an advert of an unknown schema major version is refused as a version mismatch" {
	printf '{"schema":"remotemedia.executor/2","id":"future"}\n' > "$BATS_TEST_TMPDIR/f.json"
	run rm-match -x "$BATS_TEST_TMPDIR/f.json" "$(node '{}')"
	assert_failure 1
	assert_output --partial "version mismatch: document is remotemedia.executor/2, this runtime reads remotemedia.executor/1.x"
	REMOTEMEDIA_ENV=production run rm-match -x "$BATS_TEST_TMPDIR/f.json" "$(node '{}')"
	assert_failure 3
}

@test "rm-match: a new capability type in taxonomy.d works with no code change" {
	mkdir -p "$REMOTEMEDIA_HOME/taxonomy.d"
	cat > "$REMOTEMEDIA_HOME/taxonomy.d/npu.yaml" <<-'EOF2'
	capabilities:
	  npu:
	    type: presence
	  npu.tops:
	    type: number
	    compare: at_least
	    requirement: [npu.min_tops]
	  npu.vendor:
	    type: enum
	    values: [hailo, coral]
	EOF2
	advert hailo '{"npu":{"tops":26,"vendor":"hailo"}}'
	advert coral '{"npu":{"tops":4,"vendor":"coral"}}'
	advert none '{}'
	run rm-match --json -d "$BATS_TEST_TMPDIR/ex" "$(node '{"npu":{"min_tops":10}}')"
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" hailo
	run bash -c "rm-match --json --all -d '$BATS_TEST_TMPDIR/ex' '$BATS_TEST_TMPDIR/node.json' 2>/dev/null"
	assert_equal "$(jq -c '[.rejected[] | {id, r: .reasons[0] | "\(.code) \(.have)"}]' <<<"$output")" \
		'[{"id":"coral","r":"insufficient 4"},{"id":"none","r":"missing null"}]'
	run rm-match -d "$BATS_TEST_TMPDIR/ex" "$(node '{"npu":{"vendor":"intel"}}')"
	assert_failure 3
	assert_output --partial "expected one of hailo, coral"
}

@test "rm-match: a broken taxonomy extension is an error naming the file and entry" {
	mkdir -p "$REMOTEMEDIA_HOME/taxonomy.d"
	printf 'capabilities:\n  npu.tops:\n    type: integerish\n' > "$REMOTEMEDIA_HOME/taxonomy.d/bad.yaml"
	run rm-match -d "$EX" "$(node '{}')"
	assert_failure 3
	assert_output --partial "taxonomy.d/bad.yaml: capabilities.npu.tops: type: expected one of"
}

@test "rm-match: several nodes give one JSON line each; exit 1 when any has no match" {
	printf '{"id":"a","capabilities":{"memory_gb":8}}\n{"id":"b","capabilities":{"memory_gb":999}}\n' > "$BATS_TEST_TMPDIR/nodes.jsonl"
	run bash -c "rm-match -d '$EX' '$BATS_TEST_TMPDIR/nodes.jsonl' 2>/dev/null"
	assert_equal "$status" 1
	assert_equal "${#lines[@]}" 2
	assert_equal "$(jq -rs '[.[].node] | join(",")' <<<"$output")" "a,b"
	assert_equal "$(jq -rs '[.[].compatible_count] | join(",")' <<<"$output")" "3,0"
}

@test "rm-match: a pipeline document's nodes are each matched" {
	printf 'nodes:\n  - id: vad\n    capabilities: {cpu: {cores: 2}}\n  - id: stt\n    capabilities: {gpu: {type: cuda}}\n' > "$BATS_TEST_TMPDIR/p.yaml"
	run rm-match -n 1 -d "$EX" "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	assert_equal "$(jq -rs '[.[] | "\(.node)=\(.executors[0].id)"] | join(",")' <<<"$output")" "vad=small,stt=gpu-4090"
}

@test "rm-match: busy executors (dynamic capacity only) are told apart from incompatible ones" {
	advert full '{"memory_gb":64,"memory_available_gb":2}'
	advert tiny '{"memory_gb":4}'
	run bash -c "rm-match --json -d '$BATS_TEST_TMPDIR/ex' '$(node '{"memory_gb":32,"memory_available_gb":16}')' 2>/dev/null"
	assert_equal "$status" 1
	assert_equal "$(jq -c '.buckets' <<<"$output")" '{"available":0,"busy":1,"incompatible":1,"policy":0}'
}

@test "rm-match: production mode uses only approved executors; the others are rejected by policy" {
	mkdir -p "$REMOTEMEDIA_HOME"
	printf 'approved_executors: ["gpu-*"]\n' > "$REMOTEMEDIA_HOME/config.yaml"
	REMOTEMEDIA_ENV=production run bash -c "rm-match --json --all -d '$EX' '$(node '{}')' 2>/dev/null"
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" gpu-4090
	assert_equal "$(jq -r '[.rejected[] | "\(.id):\(.bucket):\(.reasons[0].code)"] | join(",")' <<<"$output")" \
		"cpu-big:policy:not_approved,small:policy:not_approved"
}

@test "rm-match: -v names the mode and the state directory on stderr" {
	run bash -c "rm-match -v -d '$EX' '$(node '{}')' 2>&1 >/dev/null"
	assert_success
	assert_output --partial "mode development, state directory $REMOTEMEDIA_HOME"
}

@test "rm-match: usage errors exit 2" {
	run rm-match
	assert_failure 2
	assert_output --partial "no node given"
	run rm-match --bogus x
	assert_failure 2
	run rm-match --sort fastest "$(node '{}')"
	assert_failure 2
	run rm-match --query 'gpu.memory_gb' -d "$EX"
	assert_failure 2
	assert_output --partial "expected PATH OP VALUE"
	run rm-match --help
	assert_success
	assert_output --partial "usage: rm-match"
	run rm-match --version
	assert_success
	assert_output --regexp '^rm-match \(remotemedia\) '
}

@test "rm-match: a missing node file is exit 4; a missing -d directory is exit 4" {
	run rm-match -d "$EX" /nonexistent/node.json
	assert_failure 4
	assert_output --partial "/nonexistent/node.json: cannot open"
	run rm-match -d /nonexistent "$(node '{}')"
	assert_failure 4
}

# ---- spec 002: model preflight --------------------------------------------

G=$BATS_TEST_DIRNAME/fixtures/gguf

@test "rm-match: model preflight of a GQA q4_0 llama GGUF against the spec's ECP passes" {
	run rm-match --json --model "$G/llama-gqa-q4_0.gguf" --engine "$BATS_TEST_DIRNAME/fixtures/mcd/gpu-0-worker.ecp.json"
	assert_success
	assert_equal "$(jq -r '.compatible' <<<"$output")" true
	assert_equal "$(jq -r '.model.attention' <<<"$output")" gqa
}

@test "rm-match: each spec 002 rule fails with its own code, need and supported values" {
	printf '{"worker_id":"w","supports_positional":["alibi"],"supports_attention":["mha"],"supports_quant":["fp16"],"max_context":1024}\n' > "$BATS_TEST_TMPDIR/ecp.json"
	run bash -c "rm-match --json --model '$G/llama-gqa-q4_0.gguf' --engine '$BATS_TEST_TMPDIR/ecp.json' 2>/dev/null"
	assert_equal "$status" 1
	assert_equal "$(jq -r '[.reasons[].code] | join(",")' <<<"$output")" \
		"incompatible_positional,incompatible_attention,incompatible_quant,context_too_large"
	assert_equal "$(jq -c '.reasons[0] | {need,have}' <<<"$output")" '{"need":"rope_llama","have":["alibi"]}'
}

@test "rm-match: a hostile GGUF is an invalid_mcd error, never a crash" {
	for f in "$G"/hostile/*.gguf; do
		run rm-match --model "$f" --engine "$BATS_TEST_DIRNAME/fixtures/mcd/gpu-0-worker.ecp.json"
		assert_failure 3
		assert_output --partial "invalid_mcd"
	done
}

@test "rm-match: --model alone ranks the registry's engines for the model" {
	advert eng-a '{}' '"engine":{"supports_positional":["rope_llama"],"supports_attention":["gqa","mha"],"supports_quant":["q4_0"],"max_context":8192}'
	advert eng-b '{}' '"engine":{"supports_positional":["rope_neox"],"supports_attention":["gqa"],"supports_quant":["q8_0"],"max_context":2048}'
	run bash -c "rm-match --json -d '$BATS_TEST_TMPDIR/ex' --all --model '$G/llama-gqa-q4_0.gguf' 2>/dev/null"
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" eng-a
	assert_equal "$(jq -r '[.rejected[0].reasons[].code] | join(",")' <<<"$output")" \
		"incompatible_positional,incompatible_quant,context_too_large"
}

@test "rm-match: --max-cost compares cost_tokens when an executor has no hourly price" {
	advert tok-cheap '{}' '"cost_tokens":0.1'
	advert tok-dear '{}' '"cost_tokens":10'
	run rm-match --json -d "$BATS_TEST_TMPDIR/ex" --max-cost 5 "$(node '{}')"
	assert_success
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" tok-cheap
	run bash -c "rm-match --json --all -d '$BATS_TEST_TMPDIR/ex' --max-cost 5 '$BATS_TEST_TMPDIR/node.json' 2>/dev/null"
	assert_equal "$(jq -r '.rejected[0].reasons[0] | "\(.code) \(.have)"' <<<"$output")" "exceeds 10"
}

@test "rm-match: a leaf can be preferred on its own: 8 GB preferred, a 6 GB GPU still matches degraded" {
	advert small-gpu '{"gpu":{"type":"cuda","memory_gb":6}}'
	advert big-gpu '{"gpu":{"type":"cuda","memory_gb":24}}'
	run rm-match --json -d "$BATS_TEST_TMPDIR/ex" "$(node '{"gpu":{"type":"cuda","min_memory_gb":{"min":8,"required":false,"preferred":true}}}')"
	assert_success
	assert_equal "$(jq -r '[.executors[] | "\(.id):\(.degraded)"] | join(",")' <<<"$output")" "big-gpu:false,small-gpu:true"
}

# Issue 10 (9): found by fuzzing. In the sanitizer build UBSan aborts with
# "runtime error" (exit 1, which a plain exit-status check would mistake for a
# negative answer), so both the status and the absence of the report are checked.
@test "rm-match -x: an advert with an empty tag list or codec map is read cleanly (no NULL pool)" {
	printf '%s\n' '{"id":"a","capabilities":{"tags":[]}}' > "$BATS_TEST_TMPDIR/a.jsonl"
	run --separate-stderr rm-match --json -x "$BATS_TEST_TMPDIR/a.jsonl" "$(node '{"capabilities":{}}')"
	[[ $stderr != *"runtime error"* ]]
	assert_success
	assert_equal "$(jq -r '.executors[0].id' <<<"$output")" a
	printf '%s\n' '{"id":"b","capabilities":{"tags":[],"codecs":{},"frameworks":{}}}' \
		> "$BATS_TEST_TMPDIR/b.jsonl"
	run --separate-stderr rm-match --json -x "$BATS_TEST_TMPDIR/b.jsonl" "$(node '{"tags":["x"]}')"
	[[ $stderr != *"runtime error"* ]]
	assert_failure 1
	assert_equal "$(jq -r '.rejected[0].reasons[0].missing' <<<"$output")" x
}

@test "rm-match: an empty registry directory is a clean negative answer (no qsort of nothing)" {
	mkdir -p "$BATS_TEST_TMPDIR/none"
	run --separate-stderr rm-match --json -d "$BATS_TEST_TMPDIR/none" "$(node '{"capabilities":{}}')"
	[[ $stderr != *"runtime error"* ]]
	assert_failure 1
	assert_equal "$(jq -r '.considered' <<<"$output")" 0
	# the index of the empty directory is written and read back alike
	run --separate-stderr rm-match --json -d "$BATS_TEST_TMPDIR/none" "$(node '{"capabilities":{}}')"
	[[ $stderr != *"runtime error"* ]]
	assert_failure 1
}

# Issue 10 (3): the expansion bound is counted over the whole stream and
# grows with the input; the old per-document bound let this file take 1.8 GB
# and 18 s.
@test "rm-match -x: a 17 KB multi-document YAML alias bomb is refused at once, in little memory" {
	yaml_bomb 70 > "$BATS_TEST_TMPDIR/bomb.yaml"
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/bomb.yaml")" -gt 17000 ]
	run_measured rm-match -x "$BATS_TEST_TMPDIR/bomb.yaml" "$(node '{"memory_gb":1}')"
	assert_failure 3
	assert_output --partial "bomb.yaml:5:9: YAML expands to more than"
	assert_output --partial "the limit for 17360 bytes of input"
	assert_bounded 64 2
}

# Issue 10 (also): 100 MB of adverts is refused naming the limit, before it
# is read when it is a file, after 64 MiB from a pipe.
@test "rm-match -x: 100 MB of adverts is refused with the limit, in bounded time and memory" {
	local ad='{"id":"a","capabilities":{"memory_gb":16,"tags":["linux","docker"],"cpu":{"cores":8}}}'
	yes "$ad" | head -c 104857600 > "$BATS_TEST_TMPDIR/ads.jsonl"
	run_measured rm-match -x "$BATS_TEST_TMPDIR/ads.jsonl" "$(node '{"memory_gb":1}')"
	assert_failure 3
	assert_output --partial "ads.jsonl: file too large: 104857600 bytes, limit 67108864"
	assert_bounded 64 2
	run_measured bash -c "cat '$BATS_TEST_TMPDIR/ads.jsonl' | rm-match -x - '$BATS_TEST_TMPDIR/node.json'"
	assert_failure 3
	assert_output --partial "<stdin>: file too large: more than 67108864 bytes"
	assert_bounded 160 5
	# the same adverts as a JSON array have the 16 MiB limit of one tree
	{ printf '['; yes "$ad," | head -n 200000; printf '%s]\n' "$ad"; } > "$BATS_TEST_TMPDIR/ads.json"
	run_measured rm-match -x "$BATS_TEST_TMPDIR/ads.json" "$BATS_TEST_TMPDIR/node.json"
	assert_failure 3
	assert_output --regexp "ads.json: file too large: [0-9]+ bytes, limit 16777216 for a YAML stream or a JSON array"
	assert_bounded 64 2
	rm -f "$BATS_TEST_TMPDIR"/ads.*
}

@test "rm-match -x: 20,000 adverts in JSON lines, well under the limit, still match quickly" {
	local i
	for ((i = 0; i < 20000; i++)); do
		printf '{"id":"e%05d","capabilities":{"memory_gb":%d,"tags":["linux"]}}\n' "$i" $((i % 64))
	done > "$BATS_TEST_TMPDIR/ads.jsonl"
	run_measured rm-match --json -n 1 -x "$BATS_TEST_TMPDIR/ads.jsonl" "$(node '{"memory_gb":63}')"
	assert_success
	assert_equal "$(jq -r '.compatible_count' <<<"$output")" 312
	assert_bounded 64 5
}

@test "rm-match -x: 20,100 adverts in JSON lines answer as the same adverts in a JSON array" {
	# A JSON-lines file of more than 20,000 adverts is read straight into
	# the columns where the reader is sure, the normaliser's way otherwise;
	# an array always goes the normaliser's way. Every answer must agree.
	local i
	for ((i = 0; i < 20100; i++)); do
		case $((i % 10)) in
		0) printf '{"id":"e%05d","endpoint":"tcp://10.0.%d.%d:9000","load_score":0.%d,"pricing":{"per_hour":%d.5},"capabilities":{"cpu":{"cores":%d,"arch":"x86_64"},"memory_gb":%d,"tags":["linux","docker"],"gpu":{"type":"cuda","memory_gb":%d},"frameworks":{"torch":"2.1.2"}}}\n' \
			"$i" $((i / 250 % 250)) $((i % 250)) $((i % 10)) $((i % 7)) $((i % 96 + 1)) $((i % 512)) $((i % 80 + 8)) ;;
		1) printf '{"id":"e%05d","capabilities":{"gpu":{"type":"rocm","memory_gb":%d,"driver":535},"frameworks":{"torch":2.1}}}\n' "$i" $((i % 64)) ;;
		2) printf '{"id":"e%05d","tags":["admin"],"capabilities":{"tags":["linux"],"memory_gb":%d}}\n' "$i" $((i % 300)) ;;
		3) printf '{"id":"e%05d","capabilities":{"tags":"linux","codecs":["h264"],"memory_gb":%d.25}}\n' "$i" $((i % 100)) ;;
		4) printf '{"id":"e\\u0025%05d","capabilities":{"memory_gb":%d}}\n' "$i" $((i % 50)) ;;
		5) printf '{"id":"e%05d","capabilities":{"memory_gb":"%d"}}\n' "$i" $((i % 50)) ;;
		6) printf '{"id":"e%05d","expires_at":"2001-01-01T00:00:00Z","capabilities":{"memory_gb":%d}}\n' "$i" $((i % 700)) ;;
		7) printf '{"id":"e%05d","capabilities":{"gpu":false,"cpu":true,"memory_gb":1e2,"storage":{"type":"nvme","free_gb":%d}}}\n' "$i" $((i % 900)) ;;
		8) printf '{"id":"e%05d","capabilities":{"memory_gb":%d}}\n' $((i - 8)) $((i % 40)) ;;
		*) printf '{"schema":"remotemedia.executor/1","id":"e%05d","region":"eu","capabilities":{"memory_gb":%d,"network":{"latency_ms":%d}}}\n' "$i" $((i % 1000)) $((i % 90)) ;;
		esac
	done > "$BATS_TEST_TMPDIR/ads.jsonl"
	{ echo '['; sed '$!s/$/,/' "$BATS_TEST_TMPDIR/ads.jsonl"; echo ']'; } > "$BATS_TEST_TMPDIR/ads.json"
	for n in '{"memory_gb":63}' '{"gpu":{"type":"cuda","min_memory_gb":40},"frameworks":{"torch":">=2.1"},"tags":["linux"]}' \
		'{"memory_gb":{"min":200},"tags":["admin"]}' '{"cpu":{"cores":8},"max_cost_per_hour":3}'; do
		node "$n" > /dev/null
		run --separate-stderr rm-match --json -n 5 -x "$BATS_TEST_TMPDIR/ads.jsonl" "$BATS_TEST_TMPDIR/node.json"
		local a=$output ae=$stderr as=$status
		run --separate-stderr rm-match --json -n 5 -x "$BATS_TEST_TMPDIR/ads.json" "$BATS_TEST_TMPDIR/node.json"
		assert_equal "$as" "$status"
		assert_equal "$a" "$output"
		assert_equal "$(grep -c 'advert skipped' <<<"$ae")" "$(grep -c 'advert skipped' <<<"$stderr")"
		assert_equal "$(jq '.considered' <<<"$a")" 14070
	done
	# skipped: an id escaped to '%', a memory_gb string, a duplicate id (2,010 each)
	assert_equal "$(grep -c 'advert skipped' <<<"$ae")" 6030
	assert_equal "$(grep -c 'not a valid executor id' <<<"$ae")" 2010
	assert_equal "$(grep -c 'expected a number' <<<"$ae")" 2010
	assert_equal "$(grep -c 'duplicate executor id' <<<"$ae")" 2010
}
