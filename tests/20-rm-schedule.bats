#!/usr/bin/env bats
# rm-schedule: plans under each policy, degraded matches, fallback chains,
# parking and reconcile, budgets, explain, DOT, production approval, bad input.

load test_helper

SF=$RM_TOP_SRCDIR/tests/fixtures/schedule
P=$SF/pipelines

@test "rm-schedule: greedy picks the first compatible executor by id, skipping an incompatible one that sorts first" {
	run rm-schedule plan -p greedy -d "$SF/three" "$P/three.yaml"
	assert_success
	[ "$(jq -r .schema <<<"$output")" = remotemedia.plan/1 ]
	[ "$(jq -r .status <<<"$output")" = planned ]
	[ "$(jq -r '.nodes[0].executor' <<<"$output")" = ex-a ]
	[ "$(jq -r '[.nodes[0].alternatives[].id] | join(",")' <<<"$output")" = ex-b,ex-c ]
	jq -e '.nodes[0].reason | test("executor-id order")' <<<"$output"
}

@test "rm-schedule: balanced picks the lowest load_score of three compatible executors" {
	run rm-schedule plan -p balanced -d "$SF/three" "$P/three.yaml"
	assert_success
	[ "$(jq -r '.nodes[0].executor' <<<"$output")" = ex-b ]
	jq -e '.nodes[0].reason | test("load_score 0.1")' <<<"$output"
}

@test "rm-schedule: cost picks the cheapest (per_hour x estimated_seconds) and totals the estimate" {
	run rm-schedule plan -p cost -d "$SF/three" "$P/three.yaml"
	assert_success
	[ "$(jq -r '.nodes[0].executor' <<<"$output")" = ex-c ]
	[ "$(jq -r '.nodes[0].estimated_cost' <<<"$output")" = 0.5 ]
	[ "$(jq -r '.total_estimated_cost' <<<"$output")" = 0.5 ]
	[ "$(jq -r '[.nodes[0].alternatives[].id] | join(",")' <<<"$output")" = ex-b,ex-a ]
}

@test "rm-schedule: latency picks the lowest advertised latency" {
	run rm-schedule plan -p latency -d "$SF/three" "$P/three.yaml"
	assert_success
	[ "$(jq -r '.nodes[0].executor' <<<"$output")" = ex-b ]
}

@test "rm-schedule: latency --measure connects to the endpoints: the only reachable one wins" {
	port=$(free_port)
	python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); time.sleep(20)' "$port" &
	srv=$!
	mkdir -p "$BATS_TEST_TMPDIR/ex"
	cp "$SF"/three/*.json "$BATS_TEST_TMPDIR/ex/"
	jq --arg ep "tcp://127.0.0.1:$port" '.endpoint = $ep' "$SF/three/ex-a.json" > "$BATS_TEST_TMPDIR/ex/ex-a.json"
	for i in 1 2 3 4 5 6 7 8 9 10; do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.2; done
	run rm-schedule plan -p latency --measure --timeout 300 -d "$BATS_TEST_TMPDIR/ex" "$P/three.yaml"
	kill "$srv"
	assert_success
	[ "$(jq -r '.nodes[0].executor' <<<"$output")" = ex-a ]
	jq -e '.nodes[0].reason | test("measured connect time")' <<<"$output"
}

@test "rm-schedule: unknown policy is a usage error" {
	run rm-schedule plan -p fastest -d "$SF/three" "$P/three.yaml"
	assert_failure 2
	assert_output --partial 'unknown policy "fastest"'
}

@test "rm-schedule: GPU-preferring node with only CPU executors is placed, degraded, with a warning" {
	run rm-schedule plan -d "$SF/cpu" "$P/gpu-pref.json"
	assert_success
	[ "$(jq -r '.nodes[0].executor' <<<"$output")" = cpu-1 ]
	[ "$(jq -r '.nodes[0].degraded' <<<"$output")" = true ]
	jq -e '.nodes[0].warnings[] | select(test("degraded performance"))' <<<"$output"
}

@test "rm-schedule: GPU requirement falls back to the CPU tier and records both tiers" {
	run rm-schedule plan -d "$SF/cpu" "$P/fallback-cpu.json"
	assert_success
	[ "$(jq -r '.nodes[0].executor' <<<"$output")" = cpu-1 ]
	[ "$(jq -r '.nodes[0].tier' <<<"$output")" = 1 ]
	[ "$(jq -r '.nodes[0].tiers_tried | length' <<<"$output")" = 2 ]
	[ "$(jq -r '.nodes[0].tiers_tried[0].compatible' <<<"$output")" = 0 ]
	jq -e '.nodes[0].warnings[] | select(test("fell back to tier 1"))' <<<"$output"
}

@test "rm-schedule: chain GPU -> CPU -> remote exhausted lists every tier and every executor with reasons" {
	run rm-schedule plan --no-park -d "$SF/cpu" -d "$SF/three" "$P/chain.json"
	assert_failure 1
	for t in 'tier 0' 'tier 1' 'tier 2'; do assert_output --partial "$t"; done
	for e in cpu-1 cpu-2 ex-0 ex-a ex-b ex-c; do
		[ "$(grep -c "    $e (incompatible)" <<<"$output")" = 3 ]
	done
	assert_output --partial 'cpu.cores: need 64, have 16'
	assert_output --partial 'missing "gpu-farm"'
	# --no-park: nothing queued
	[ ! -e "$REMOTEMEDIA_HOME/queue" ] || [ -z "$(ls "$REMOTEMEDIA_HOME/queue")" ]
}

@test "rm-schedule: exhausted chain in JSON: status partial, every tier with its rejected executors" {
	rm-schedule plan --no-park -d "$SF/cpu" -d "$SF/three" "$P/chain.json" > "$BATS_TEST_TMPDIR/p.json" 2>/dev/null || true
	[ "$(jq -r .status "$BATS_TEST_TMPDIR/p.json")" = partial ]
	[ "$(jq -r '.nodes[0].executor' "$BATS_TEST_TMPDIR/p.json")" = null ]
	[ "$(jq -r '[.nodes[0].tiers_tried[] | .rejected | length] | join(",")' "$BATS_TEST_TMPDIR/p.json")" = 6,6,6 ]
	[ "$(jq -r '.nodes[0].tiers_tried[2].remote_only' "$BATS_TEST_TMPDIR/p.json")" = true ]
}

@test "rm-schedule: screenshot node parks on a FreeBSD-only registry; reconcile places it after a Linux executor registers" {
	registry_from "$SF/shot/bsd-1.json"
	run rm-schedule plan --no-local -o "$BATS_TEST_TMPDIR/plan.json" "$P/shot.json"
	assert_failure 1
	assert_output --partial 'tags: need ["screenshot"], missing "screenshot"'
	assert_output --partial '(parked)'
	[ "$(jq -r .status "$BATS_TEST_TMPDIR/plan.json")" = parked ]
	[ "$(jq -r '.nodes[0].status' "$BATS_TEST_TMPDIR/plan.json")" = parked ]
	run rm-schedule queue --json
	assert_success
	[ "$(jq -r 'length' <<<"$output")" = 1 ]
	[ "$(jq -r '.[0].status' <<<"$output")" = parked ]
	[ "$(jq -r '.[0].node.id' <<<"$output")" = grab ]
	# reconcile before anything changed: still parked
	run rm-schedule reconcile --no-local --json
	assert_failure 1
	[ "$(ls "$REMOTEMEDIA_HOME/queue" | wc -l)" = 1 ]
	rm-probe register --from "$SF/shot/linux-shot.json" >/dev/null
	run rm-schedule reconcile --no-local --json
	assert_success
	[ "$(jq -r '.placed[0].node' <<<"$output")" = grab ]
	[ "$(jq -r '.placed[0].executor' <<<"$output")" = linux-shot ]
	run rm-schedule queue --json
	[ "$(jq -r 'length' <<<"$output")" = 0 ]
	[ "$(jq -r .status "$BATS_TEST_TMPDIR/plan.json")" = planned ]
	[ "$(jq -r '.nodes[0].executor' "$BATS_TEST_TMPDIR/plan.json")" = linux-shot ]
	ls "$REMOTEMEDIA_HOME"/placed/*-grab.json
}

@test "rm-schedule: --budget above the estimate plans; below it exits 7 with the per-node breakdown" {
	run rm-schedule plan -p cost --budget 1 -d "$SF/three" "$P/voice.yaml"
	assert_success
	run rm-schedule plan -p cost --budget 0.1 -o "$BATS_TEST_TMPDIR/none.json" -d "$SF/three" "$P/voice.yaml"
	assert_failure 7
	assert_output --partial 'exceeds the budget 0.1'
	for n in src vad stt sink; do assert_output --partial "  $n "; done
	[ ! -e "$BATS_TEST_TMPDIR/none.json" ]
	json=$(rm-schedule plan -p cost --budget 0.1 -d "$SF/three" "$P/voice.yaml" 2>/dev/null || true)
	[ "$(jq -r .status <<<"$json")" = over_budget ]
	[ "$(jq -r '.budget_exceeded.nodes | length' <<<"$json")" = 4 ]
}

@test "rm-schedule: negative or non-numeric budget is a usage error" {
	run rm-schedule plan --budget -3 -d "$SF/three" "$P/three.yaml"
	assert_failure 2
	assert_output --partial '--budget: expected a number >= 0, got "-3"'
	run rm-schedule plan --budget lots -d "$SF/three" "$P/three.yaml"
	assert_failure 2
}

@test "rm-schedule: cyclic pipeline, edge to an unknown node, duplicate ids: exit 3 naming the problem" {
	run rm-schedule plan -d "$SF/three" "$P/cyclic.json"
	assert_failure 3
	assert_output --partial 'cycle: a -> b -> a'
	run rm-schedule plan -d "$SF/three" "$P/unknown-edge.json"
	assert_failure 3
	assert_output --partial 'unknown node "ghost"'
	run rm-schedule plan -d "$SF/three" "$P/dup.json"
	assert_failure 3
	assert_output --partial 'duplicate node id "a"'
	[ ! -e "$REMOTEMEDIA_HOME/queue" ]
}

@test "rm-schedule: a bad fallback requirement names its field" {
	jq '.nodes[0].fallback[0].capabilities.cpu.cores = "many"' "$P/fallback-cpu.json" > "$BATS_TEST_TMPDIR/bad.json"
	run rm-schedule plan -d "$SF/cpu" "$BATS_TEST_TMPDIR/bad.json"
	assert_failure 3
	assert_output --partial 'nodes[0].fallback[0]'
}

@test "rm-schedule: DOT output renders with Graphviz and has every node, edge and executor cluster" {
	command -v dot || skip "graphviz not installed"
	run rm-schedule plan -p cost --format dot -d "$SF/three" "$P/voice.yaml"
	assert_success
	echo "$output" > "$BATS_TEST_TMPDIR/p.dot"
	dot -Tsvg "$BATS_TEST_TMPDIR/p.dot" -o "$BATS_TEST_TMPDIR/p.svg"
	grep -q '<svg' "$BATS_TEST_TMPDIR/p.svg"
	for n in src vad stt sink; do grep -q "\"$n\" \[label" "$BATS_TEST_TMPDIR/p.dot"; done
	for e in '"src" -> "vad"' '"vad" -> "stt"' '"stt" -> "sink"'; do grep -qF "$e" "$BATS_TEST_TMPDIR/p.dot"; done
	[ "$(grep -c 'subgraph cluster_' "$BATS_TEST_TMPDIR/p.dot")" = 2 ]
	grep -q 'cpu.cores 16' "$BATS_TEST_TMPDIR/p.dot"
	# the svg holds every node title and every edge
	[ "$(grep -c 'class="node"' "$BATS_TEST_TMPDIR/p.svg")" = 4 ]
	[ "$(grep -c 'class="edge"' "$BATS_TEST_TMPDIR/p.svg")" = 3 ]
}

@test "rm-schedule: text format is a table with the total" {
	run rm-schedule plan -p cost --format text -d "$SF/three" "$P/voice.yaml"
	assert_success
	assert_line --regexp '^stt +ex-c '
	assert_output --partial 'total estimated cost: 0.5867'
}

@test "rm-schedule: explain works offline from the plan: every executor, clause by clause, the rule and the choice" {
	rm-schedule plan -p cost -o "$BATS_TEST_TMPDIR/plan.json" -d "$SF/three" "$P/voice.yaml" >/dev/null
	run rm-schedule explain --format text "$BATS_TEST_TMPDIR/plan.json" vad
	assert_success
	assert_output --partial 'policy: cost: the cheapest compatible executor'
	assert_line --regexp '^  ex-0 +incompatible'
	assert_output --partial 'need 8                have 2'
	assert_line --regexp '^  ex-c +available .*rank 1'
	assert_line --regexp '^choice: ex-c: cost: cheapest'
	run rm-schedule explain --json "$BATS_TEST_TMPDIR/plan.json" vad
	assert_success
	[ "$(jq -r '.tiers[0].executors | length' <<<"$output")" = 4 ]
	[ "$(jq -r '.tiers[0].executors[] | select(.id=="ex-0") | .clauses[] | select(.path=="memory_gb") | .result' <<<"$output")" = fail ]
	run rm-schedule explain "$BATS_TEST_TMPDIR/plan.json" nosuch
	assert_failure 4
	assert_output --partial 'nodes: src vad stt sink'
}

@test "rm-schedule: a node without requirements or host runs on the local executor" {
	run rm-schedule plan "$P/local.json"
	assert_success
	[ "$(jq -r '.nodes[0].endpoint' <<<"$output")" = local ]
	[ "$(jq -r '.nodes[0].local' <<<"$output")" = true ]
	jq -e '.nodes[0].reason | test("no network call")' <<<"$output"
}

@test "rm-schedule: host pins a node to that executor; an incompatible pin is explained" {
	run rm-schedule plan --no-park -o "$BATS_TEST_TMPDIR/p.json" -d "$SF/three" "$P/pinned.json"
	assert_failure 1
	assert_output --partial 'ex-0 (incompatible): cpu.cores: need 4, have 2'
	# only the pinned executor was considered
	refute_output --partial 'ex-a (incompatible)'
	[ "$(jq -r '.nodes[0].executor' "$BATS_TEST_TMPDIR/p.json")" = ex-c ]
	jq -e '.nodes[0].reason | test("pinned to host ex-c")' "$BATS_TEST_TMPDIR/p.json"
	[ "$(jq -r '.nodes[1].executor' "$BATS_TEST_TMPDIR/p.json")" = null ]
}

@test "rm-schedule: production mode uses only approved executors, others rejected by policy" {
	mkdir -p "$REMOTEMEDIA_HOME"
	printf 'approved_executors: ["ex-c", "cpu-*"]\n' > "$REMOTEMEDIA_HOME/config.yaml"
	REMOTEMEDIA_ENV=production run rm-schedule plan -p balanced --decisions full -d "$SF/three" "$P/three.yaml"
	assert_success
	[ "$(jq -r '.nodes[0].executor' <<<"$output")" = ex-c ]
	[ "$(jq -r '.tier_records[.decisions[0].tiers[0]].buckets.policy' <<<"$output")" = 2 ]
	[ "$(jq -r '.tier_records[.decisions[0].tiers[0]].executors[] | select(.id=="ex-b") | .reasons[0].code' <<<"$output")" = not_approved ]
	# rm-match reads the same list
	REMOTEMEDIA_ENV=production run rm-match --json -d "$SF/three" "$(printf '{"id":"n","capabilities":{"cpu":{"cores":4}}}' > "$BATS_TEST_TMPDIR/n.json"; echo "$BATS_TEST_TMPDIR/n.json")"
	[ "$(jq -r '.executors[0].id' <<<"$output")" = ex-c ]
}

@test "rm-schedule: the plan keeps the canonical pipeline, its digest and the edges" {
	run rm-schedule plan -d "$SF/three" "$P/voice.yaml"
	assert_success
	jq -e '.pipeline.digest | test("^sha256:[0-9a-f]{64}$")' <<<"$output"
	[ "$(jq -r '.canonical.schema' <<<"$output")" = remotemedia.pipeline/1 ]
	[ "$(jq -r '.edges | length' <<<"$output")" = 3 ]
}

@test "rm-schedule: usage errors and help" {
	run rm-schedule --help
	assert_success
	assert_output --partial 'usage: rm-schedule plan'
	run rm-schedule
	assert_failure 2
	run rm-schedule frobnicate
	assert_failure 2
	run rm-schedule plan --format png "$P/three.yaml"
	assert_failure 2
	run rm-schedule plan --bogus "$P/three.yaml"
	assert_failure 2
}

# Issue 10 (3): where one document is expected, a second one is refused as
# it starts, never expanded (before: the whole stream was, 1.8 GB here).
@test "rm-schedule: a pipeline followed by a 17 KB YAML alias bomb stops at the second document" {
	{ cat "$P/three.yaml"; echo ---; yaml_bomb 70; } > "$BATS_TEST_TMPDIR/p.yaml"
	run_measured rm-schedule plan -d "$SF/three" "$BATS_TEST_TMPDIR/p.yaml"
	assert_failure 3
	assert_output --partial "p.yaml:11:1: expected one YAML document, found a second one"
	assert_bounded 64 2
	yaml_bomb 70 > "$BATS_TEST_TMPDIR/bomb.yaml"
	run_measured rm-schedule plan -d "$SF/three" "$BATS_TEST_TMPDIR/bomb.yaml"
	assert_failure 3
	assert_output --partial "YAML expands to more than"
	assert_bounded 64 2
}

# Issue 10 (also): pipelines have a 4 MiB limit, named in the refusal.
@test "rm-schedule: a 10 MB pipeline is refused with the limit, in bounded time and memory" {
	python3 - "$BATS_TEST_TMPDIR" <<'PY'
import json, sys
def pipeline(n):
    nodes = [{"id": "n%06d" % i, "type": "Command", "exec": ["cat"], "estimated_seconds": 10,
              "capabilities": {"cpu": {"cores": 4}, "memory_gb": 16}} for i in range(n)]
    edges = [["n%06d" % (i - 1), "n%06d" % i] for i in range(1, n)]
    return json.dumps({"schema": "remotemedia.pipeline/1", "name": "big", "nodes": nodes,
                       "edges": edges})
open(sys.argv[1] + "/big.json", "w").write(pipeline(80000))
open(sys.argv[1] + "/ok.json", "w").write(pipeline(2000))
PY
	[ "$(stat -c %s "$BATS_TEST_TMPDIR/big.json")" -gt 10000000 ]
	run_measured rm-schedule plan -d "$SF/three" "$BATS_TEST_TMPDIR/big.json"
	assert_failure 3
	assert_output --regexp "big.json: file too large: [0-9]+ bytes, limit 4194304"
	assert_bounded 64 2
	run_measured bash -c "cat '$BATS_TEST_TMPDIR/big.json' | rm-schedule plan -d '$SF/three' -"
	assert_failure 3
	assert_output --partial "<stdin>: file too large: more than 4194304 bytes"
	assert_bounded 64 2
	# 2,000 nodes (a quarter of a megabyte) plan in bounded time and memory
	run_measured rm-schedule plan -d "$SF/three" "$BATS_TEST_TMPDIR/ok.json"
	assert_success
	assert_equal "$(jq '.nodes | length' <<<"$output")" 2000
	assert_bounded 128 10
}

@test "rm-schedule explain: a plan without decision logs explains every node as plans with them did" {
	# the .plan.json files were written before plans kept an explain basis
	# instead of per-node records; the .explain files are what explain said
	E=$SF/explain
	while read -r name policy pipeline dirs; do
		args=()
		for d in $dirs; do args+=(-d "$SF/$d"); done
		rm-schedule plan --no-park --no-local --decisions basis -p "$policy" "${args[@]}" \
		    -o "$BATS_TEST_TMPDIR/$name.json" "$P/$pipeline" >/dev/null 2>&1 || true
		jq -e '(has("decisions") | not) and (has("tier_records") | not) and (.explain.adverts | length > 0)' \
		    "$BATS_TEST_TMPDIR/$name.json"
		for plan in "$BATS_TEST_TMPDIR/$name.json" "$E/$name.plan.json"; do
			for n in $(jq -r '.nodes[].id' "$E/$name.plan.json"); do
				rm-schedule explain --format text "$plan" "$n"
				rm-schedule explain --json "$plan" "$n"
			done > "$BATS_TEST_TMPDIR/got"
			diff -u "$E/$name.explain" "$BATS_TEST_TMPDIR/got"
		done
	done <<-LIST
	voice cost voice.yaml three
	fallback greedy fallback-cpu.json cpu
	gpupref balanced gpu-pref.json cpu
	chain latency chain.json cpu three
	shot greedy shot.json shot
	LIST
}

@test "rm-schedule: a plan of few shapes keeps its decision log, one of many shapes the basis" {
	rm-schedule plan -p cost -o "$BATS_TEST_TMPDIR/plan.json" -d "$SF/three" "$P/voice.yaml" >/dev/null
	jq -e '(.decisions | length) == 4 and (has("explain") | not)' "$BATS_TEST_TMPDIR/plan.json"
	# 70 nodes, each its own memory: more decisions than 4 / 8 + 64
	jq -n '{schema: "remotemedia.pipeline/1", name: "many", edges: [],
	    nodes: [range(70) as $i | {id: "n\($i)", type: "Command", exec: ["cat"],
	    capabilities: {memory_gb: (1 + $i / 100)}}]}' > "$BATS_TEST_TMPDIR/many.json"
	rm-schedule plan --no-park -o "$BATS_TEST_TMPDIR/many-plan.json" -d "$SF/three" "$BATS_TEST_TMPDIR/many.json" >/dev/null || true
	jq -e '(has("decisions") | not) and (.explain.adverts | length) == 4' "$BATS_TEST_TMPDIR/many-plan.json"
	run rm-schedule explain "$BATS_TEST_TMPDIR/many-plan.json" n69
	assert_success
	assert_output --partial 'memory_gb'
	# an id the plan writes with escapes: found by reading the whole plan
	jq -n '{schema: "remotemedia.pipeline/1", name: "q", edges: [], nodes: [{id: "a\"b",
	    type: "Command", exec: ["cat"], capabilities: {cpu: {cores: 2}}}]}' > "$BATS_TEST_TMPDIR/q.json"
	rm-schedule plan --no-park --decisions basis -o "$BATS_TEST_TMPDIR/q-plan.json" -d "$SF/three" \
	    "$BATS_TEST_TMPDIR/q.json" >/dev/null
	run rm-schedule explain --format text "$BATS_TEST_TMPDIR/q-plan.json" 'a"b'
	assert_success
	assert_line 'node a"b'
}

@test "rm-schedule: --decisions full keeps the decision log and shared tier records" {
	rm-schedule plan --decisions full -p cost -o "$BATS_TEST_TMPDIR/plan.json" -d "$SF/three" "$P/voice.yaml" >/dev/null
	jq -e '(.decisions | length) == 4 and (.tier_records | length) > 0 and (has("explain") | not)' \
	    "$BATS_TEST_TMPDIR/plan.json"
	run rm-schedule explain --json "$BATS_TEST_TMPDIR/plan.json" vad
	assert_success
	[ "$(jq -r '.tiers[0].executors | length' <<<"$output")" = 4 ]
}

@test "rm-schedule: a plan with the basis keeps per node what a placement needs" {
	rm-schedule plan --no-park --no-local -p cost -o "$BATS_TEST_TMPDIR/log.json" -d "$SF/three" \
	    "$P/voice.yaml" >/dev/null
	rm-schedule plan --no-park --no-local --decisions basis -p cost -o "$BATS_TEST_TMPDIR/basis.json" \
	    -d "$SF/three" "$P/voice.yaml" >/dev/null
	# placed nodes: no tiers_tried or decided_by (explain makes them again),
	# alternatives by id; otherwise the same placements
	jq -e '[.nodes[] | select(.status == "placed") | has("tiers_tried") or has("decided_by") or
	    (.alternatives | any(type != "string"))] | any | not' \
	    "$BATS_TEST_TMPDIR/basis.json"
	diff -u <(jq -S '[.nodes[] | del(.tiers_tried, .decided_by) | .alternatives |= map(.id)]' \
	    "$BATS_TEST_TMPDIR/log.json") <(jq -S '.nodes' "$BATS_TEST_TMPDIR/basis.json")
	# the graph still names each node's deciding capabilities
	rm-schedule plan --no-park --no-local -p cost --format dot -d "$SF/three" "$P/voice.yaml" \
	    > "$BATS_TEST_TMPDIR/log.dot"
	rm-schedule plan --no-park --no-local -p cost --format dot --decisions basis -d "$SF/three" \
	    "$P/voice.yaml" > "$BATS_TEST_TMPDIR/basis.dot"
	grep -q 'cpu.cores 8' "$BATS_TEST_TMPDIR/log.dot"
	diff -u "$BATS_TEST_TMPDIR/log.dot" "$BATS_TEST_TMPDIR/basis.dot"
}

@test "rm-schedule explain: clauses in the order written, from a plan's key_order" {
	# explain reads only the node's key_order entry; an escaped id there
	# (a"b) has it read whole
	for ids in 'c d' 'a"b d'; do
		set -- $ids
		jq -n --arg a "$1" --arg b "$2" '{schema: "remotemedia.pipeline/1", name: "k",
		    edges: [], nodes: [$a, $b] | map({id: ., type: "Command", exec: ["cat"],
		    capabilities: {memory_gb: 1, cpu: {cores: 1}}})}' > "$BATS_TEST_TMPDIR/k.json"
		rm-schedule plan --no-park --decisions basis -o "$BATS_TEST_TMPDIR/k-plan.json" \
		    -d "$SF/three" "$BATS_TEST_TMPDIR/k.json" >/dev/null
		jq -e '.explain.key_order | length == 2' "$BATS_TEST_TMPDIR/k-plan.json"
		for n in "$1" "$2"; do
			run rm-schedule explain --format text "$BATS_TEST_TMPDIR/k-plan.json" "$n"
			assert_success
			[[ "${lines[4]}" == "  clause memory_gb "* ]]
		done
	done
}

@test "rm-schedule explain: nodes of one shape share a key order; values %.15g loses are kept" {
	# a and c are written alike and share one skeleton; b needs 0.1 + 0.2,
	# which the plan's canonical pipeline writes as 0.3: its skeleton keeps
	# the exact value, so explain rejects ex-a (0.3 GB) as the plan did
	cat > "$BATS_TEST_TMPDIR/x.jsonl" <<'EOF'
{"schema":"remotemedia.executor/1","id":"ex-a","endpoint":"tcp://10.0.0.1:9000","capabilities":{"cpu":{"cores":4},"memory_gb":0.3}}
{"schema":"remotemedia.executor/1","id":"ex-b","endpoint":"tcp://10.0.0.2:9000","capabilities":{"cpu":{"cores":4},"memory_gb":0.5}}
EOF
	cat > "$BATS_TEST_TMPDIR/s.json" <<'EOF'
{"schema":"remotemedia.pipeline/1","name":"s","edges":[],"nodes":[
{"id":"a","type":"Command","exec":["cat"],"capabilities":{"memory_gb":0.25,"cpu":{"cores":1}}},
{"id":"b","type":"Command","exec":["cat"],"capabilities":{"memory_gb":0.30000000000000004,"cpu":{"cores":1}}},
{"id":"c","type":"Command","exec":["cat"],"capabilities":{"memory_gb":0.5,"cpu":{"cores":2}}}]}
EOF
	rm-schedule plan --no-park --no-local -p greedy --decisions basis -x "$BATS_TEST_TMPDIR/x.jsonl" \
	    -o "$BATS_TEST_TMPDIR/s-plan.json" "$BATS_TEST_TMPDIR/s.json" >/dev/null
	jq -e '.explain.key_shapes | length == 2' "$BATS_TEST_TMPDIR/s-plan.json"
	jq -e '.explain.key_order == {"a": 0, "b": 1, "c": 0}' "$BATS_TEST_TMPDIR/s-plan.json"
	jq -e '.explain.key_shapes[1] | contains("0.30000000000000004")' "$BATS_TEST_TMPDIR/s-plan.json"
	[ "$(jq -r '.nodes[1].executor' "$BATS_TEST_TMPDIR/s-plan.json")" = ex-b ]
	run rm-schedule explain "$BATS_TEST_TMPDIR/s-plan.json" b
	assert_success
	[ "$(jq -r .choice.executor <<<"$output")" = ex-b ]
	[ "$(jq -r '.tiers[0].clauses | map(.path) | join(",")' <<<"$output")" = memory_gb,cpu,cpu.cores ]
	run rm-schedule explain --format text "$BATS_TEST_TMPDIR/s-plan.json" c
	assert_success
	[[ "${lines[4]}" == "  clause memory_gb "* ]]
}

@test "rm-schedule explain: a plan with key orders written whole (before skeletons) still explains" {
	# written by rm-schedule before key_shapes, from the pipeline and
	# adverts of the test above: b's 0.1 + 0.2 comes from the key order
	run rm-schedule explain "$SF/plan-key-order-v1.json" b
	assert_success
	[ "$(jq -r .choice.executor <<<"$output")" = ex-b ]
	[ "$(jq -r '.tiers[0].clauses | map(.path) | join(",")' <<<"$output")" = memory_gb,cpu,cpu.cores ]
	[ "$(jq -r '.tiers[0].clauses[0].eliminated' <<<"$output")" = 1 ]
}
