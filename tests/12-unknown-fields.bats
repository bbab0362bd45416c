#!/usr/bin/env bats
# Issue 11, no silent surprises: a misspelled key in a pipeline, an advert or
# config.yaml is a warning naming the nearest known key in development and
# an error (exit 3) in production, in every tool that reads the document.

load test_helper
bats_require_minimum_version 1.5.0

setup() {
	P=$BATS_TEST_TMPDIR/p.yaml
	cat > "$P" <<-'EOF2'
	schema: remotemedia.pipeline/1
	name: typo
	nodes:
	  - id: a
	    type: Command
	    exce: ["true"]
	    capabilites: {memory_gb: 1}
	EOF2
	N=$BATS_TEST_TMPDIR/node.json
	echo '{"id":"n","capabilities":{"memory_gb":1}}' > "$N"
}

@test "unknown fields: a pipeline node's misspelled keys warn with the nearest key in development" {
	for tool in "rm-schedule plan" "rm-build -o $BATS_TEST_TMPDIR"; do
		run --separate-stderr $tool "$P"
		assert_success
		[[ $stderr == *"p.yaml: nodes[0].exce: unknown field, ignored (did you mean exec?)"* ]]
		[[ $stderr == *"nodes[0].capabilites: unknown field, ignored (did you mean capabilities?)"* ]]
		# once, however often the document is read
		[ "$(grep -c 'nodes\[0\].exce' <<<"$stderr")" -eq 1 ]
	done
	# a top-level misspelling too
	printf 'nmae: x\n' >> "$P"
	run --separate-stderr rm-schedule plan "$P"
	[[ $stderr == *"p.yaml: nmae: unknown field, ignored (did you mean name?)"* ]]
}

@test "unknown fields: in production a pipeline's misspelled keys are exit 3, in rm-build and rm-schedule" {
	export REMOTEMEDIA_ENV=production
	run -3 rm-schedule plan "$P"
	assert_output --partial "p.yaml: nodes[0].exce: unknown field (did you mean exec?)"
	assert_output --partial "nodes[0].capabilites: unknown field (did you mean capabilities?)"
	run -3 rm-build -o "$BATS_TEST_TMPDIR" "$P"
	assert_output --partial "nodes[0].exce: unknown field (did you mean exec?)"
}

@test "unknown fields: a misspelled requirement suggests the taxonomy's key" {
	echo '{"id":"n","capabilities":{"memroy_gb":4}}' > "$N"
	run -3 rm-match "$N"
	assert_output --partial "capabilities.memroy_gb: unknown capability (did you mean memory_gb?)"
	echo '{"id":"n","capabilities":{"gpu":{"min_memroy_gb":4}}}' > "$N"
	run -3 rm-match "$N"
	assert_output --partial "(did you mean gpu.min_memory_gb?)"
	# rm-build says it at build time: a warning in development, exit 3 in production
	printf 'schema: remotemedia.pipeline/1\nname: r\nnodes:\n  - {id: a, type: Command, exec: ["true"], capabilities: {memroy_gb: 1}, fallback: [{capabilities: {cpu: {coers: 2}}}]}\n' \
	    > "$BATS_TEST_TMPDIR/r.yaml"
	run --separate-stderr rm-build -o "$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR/r.yaml"
	assert_success
	[[ $stderr == *"warning: $BATS_TEST_TMPDIR/r.yaml: nodes[0].capabilities.memroy_gb: unknown capability (did you mean memory_gb?)"* ]]
	[[ $stderr == *"nodes[0].fallback[0].capabilities.cpu.coers: unknown capability (did you mean cpu.cores?)"* ]]
	REMOTEMEDIA_ENV=production run -3 rm-build -o "$BATS_TEST_TMPDIR" "$BATS_TEST_TMPDIR/r.yaml"
	assert_output --partial "nodes[0].capabilities.memroy_gb: unknown capability (did you mean memory_gb?)"
}

@test "unknown fields: an advert's misspelled keys warn in development and are exit 3 in production" {
	mkdir -p "$REMOTEMEDIA_HOME/executors"
	echo '{"id":"e1","capabilites":{"memory_gb":8},"capabilities":{"memroy_gb":8,"memory_gb":8}}' \
	    > "$REMOTEMEDIA_HOME/executors/e1.json"
	run --separate-stderr rm-match --no-local "$N"
	assert_success
	[[ $stderr == *"e1.json: capabilites: unknown field, ignored (did you mean capabilities?)"* ]]
	[[ $stderr == *"e1.json: capabilities.memroy_gb: unknown field, ignored (did you mean memory_gb?)"* ]]
	REMOTEMEDIA_ENV=production run -3 rm-match --no-local --rescan "$N"
	assert_output --partial "e1.json: capabilites: unknown field (did you mean capabilities?)"
}

@test "unknown fields: the foreign advert shapes and spec 004 fields do not warn" {
	mkdir -p "$REMOTEMEDIA_HOME/executors"
	cd "$REMOTEMEDIA_HOME/executors"
	echo '{"worker_id":"crank1","worker_url":"http://h:1","capabilities":[{"name":"stt","verb":"transcribe","version":"1","runtime":"python","cost_tokens_per_invocation":3,"odd_crank_field":1}]}' > crank1.json
	echo '{"worker_id":"flat1","url":"http://h:2","load_score":0.5,"cost_tokens":2,"verb":"x","name":"n"}' > flat1.json
	echo '{"worker_id":"ecp1","supports_positional":["rope"],"supports_attention":["gqa"],"supports_quant":["q4_0"],"max_context":4096,"vram_bytes":1}' > ecp1.json
	echo '["linux","docker"]' > colibri1.json
	echo '{"id":"n","capabilities":{}}' > "$N"
	echo '{"id":"s004","runtime":"python","env_profile":"x","slo":{},"spiffe_id":"spiffe://x","load_score":0.1,"cost_tokens":1,"region":"eu","endpoint":"ssh://h","pricing":{"per_hour":1}}' > s004.json
	run --separate-stderr rm-match --no-local "$N"
	assert_success
	assert_equal "$stderr" ""
}

@test "unknown fields: config.yaml's misspelled keys, in rm-probe (development) and rm-match (production)" {
	mkdir -p "$REMOTEMEDIA_HOME"
	printf 'executor:\n  id: box\napproved_executor: ["*"]\nregistries:\n  "r.example":\n    insecur: true\n' \
	    > "$REMOTEMEDIA_HOME/config.yaml"
	echo '{"id":"box","capabilities":{"memory_gb":8}}' > "$BATS_TEST_TMPDIR/adv.json"
	run --separate-stderr rm-probe register --from "$BATS_TEST_TMPDIR/adv.json"
	assert_success
	[[ $stderr == *"config.yaml: approved_executor: unknown field, ignored (did you mean approved_executors?)"* ]]
	[[ $stderr == *"config.yaml: registries.r.example.insecur: unknown field, ignored (did you mean insecure?)"* ]]
	REMOTEMEDIA_ENV=production run -3 rm-match --no-local "$N"
	assert_output --partial "config.yaml: approved_executor: unknown field (did you mean approved_executors?)"
}

@test "unknown fields: the Python SDK refuses an unknown Node keyword, naming the nearest one" {
	cd "$BATS_TEST_TMPDIR"
	printf 'from remotemedia import Pipeline, Node\npipeline = Pipeline("x")\npipeline.add(Node("a", "VAD", capabilites={"cpu": {"cores": 1}}))\n' > kw.py
	run -3 rm-build -o "$BATS_TEST_TMPDIR" kw.py
	assert_output --partial "TypeError: Node() got an unexpected keyword argument 'capabilites' (did you mean capabilities?)"
	# a parameter given as a keyword is refused too: params are explicit
	run -1 env PYTHONPATH="$SHARE/python" python3 -c 'from remotemedia import VAD; VAD("v", threshold=0.5)'
	assert_output --partial "VAD() got an unexpected keyword argument 'threshold'; node parameters go in params={...}"
	run env PYTHONPATH="$SHARE/python" python3 -c 'from remotemedia import HFPipelineNode as H; print(sorted(H("t", model="m", task="k", params={"x": 1}).params.items()))'
	assert_success
	assert_output "[('model', 'm'), ('task', 'k'), ('x', 1)]"
}

@test "a config.yaml refused in production is said, not silently skipped, when a registry is used" {
	port=$(free_port)
	mkdir -p "$REMOTEMEDIA_HOME"
	printf 'registries:\n  "127.0.0.1:%s":\n    insecure: true\nregistrys: {}\n' "$port" \
	    > "$REMOTEMEDIA_HOME/config.yaml"
	# every tool checks config.yaml first (tests/69): exit 3 before any request
	REMOTEMEDIA_ENV=production RM_HTTP_RETRIES=0 run rm-inspect "oci://127.0.0.1:$port/a/b:1"
	assert_failure 3
	assert_output --partial "registrys: unknown field (did you mean registry?)"
	refute_output --partial "127.0.0.1:$port/v2/"
}
