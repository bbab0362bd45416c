#!/usr/bin/env bats
# rm-schedule run / report on local executors: zero-config demo, DAG piping,
# environment, failover, checkpoints, expiry, budget, exhaustion, bad input,
# out of memory, --resume after kill -9, the ledger and the report.

load test_helper
bats_require_minimum_version 1.5.0

F=$RM_TOP_SRCDIR/tests/fixtures/run
AB=(-x "$F/a-local.json" -x "$F/b-local.json")

# jq 1.6 -e answers by the last input only: jqs 'select(...) | TEST' FILE is
# true when some line is selected and TEST holds for every selected line.
jqs() {
	jq -se "[.[] | $1] | length > 0 and all" "$2"
}

# An ISO time N seconds from now.
iso_in() {
	date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%SZ
}

@test "rm-schedule run: zero-config demo on a fresh HOME runs locally with no network and prints the result" {
	[ ! -e "$REMOTEMEDIA_HOME" ]
	# a network namespace with no interfaces: any network call would fail
	if unshare -n true 2>/dev/null; then
		run unshare -n remotemedia run "$SHARE/examples/hello.yaml"
	else
		run remotemedia run "$SHARE/examples/hello.yaml"
	fi
	assert_success
	assert_output "hello.yaml: 1 HELLO
hello.yaml: 2 REMOTE
hello.yaml: 3 MEDIA"
	[ "$(wc -l < "$REMOTEMEDIA_HOME/costs.jsonl")" -eq 3 ]
	[ "$(jq -r .executor "$REMOTEMEDIA_HOME/costs.jsonl" | sort -u)" = "$(hostname -s)" ]
	[ ! -e "$REMOTEMEDIA_HOME/executors" ]
	run=$(ls "$REMOTEMEDIA_HOME/runs")
	jq -e '.status == "ok" and ([.nodes[].status] == ["done","done","done"])' \
	    "$REMOTEMEDIA_HOME/runs/$run/results.json"
	grep -q '"event":"schedule".*no network call' "$REMOTEMEDIA_HOME/runs/$run/decisions.jsonl"
}

@test "rm-schedule run: fan-out copies a node's output to each successor, fan-in concatenates in edge order" {
	run rm-schedule run --run-id dag "$F/dag.yaml"
	assert_success
	# sinks print as they complete; compare as sets, then each sink exactly
	[ "$(sort <<<"$output")" = "$(printf '%s\n' copy:L1 copy:L2 join:L1 join:L2 join:R1 | sort)" ]
	[ "$(cat "$REMOTEMEDIA_HOME/runs/dag/nodes/join/output")" = "join:L1
join:L2
join:R1" ]
	[ "$(cat "$REMOTEMEDIA_HOME/runs/dag/nodes/copy/output")" = "copy:L1
copy:L2" ]
}

@test "rm-schedule run: a node gets REMOTEMEDIA_RUN/NODE/EXECUTOR and RM_PARAM_*, an argv exec is not split" {
	run rm-schedule run --run-id envrun "$F/env.yaml"
	assert_success
	assert_line "REMOTEMEDIA_RUN=envrun"
	assert_line "REMOTEMEDIA_NODE=show"
	assert_line "REMOTEMEDIA_EXECUTOR=$(hostname -s)"
	assert_line "RM_PARAM_FRAME_SIZE=512"
	assert_line "RM_PARAM_MODEL=tiny"
	assert_line 'RM_PARAM_OPTS={"a":[1,2]}'
	assert_line "<two words><it's>"
}

@test "rm-schedule run: a node failing on the first executor fails over to the next; the ledger has both attempts" {
	run --separate-stderr rm-schedule run --run-id fo "${AB[@]}" "$F/failover.yaml"
	assert_success
	assert_output "ran on b-local"
	# said on stderr at normal verbosity, not only in decisions.jsonl
	[[ $stderr == *"rm-schedule: node flaky: executor a-local failed (exited with status 1"*"), trying b-local"* ]]
	L=$REMOTEMEDIA_HOME/runs/fo/costs.jsonl
	[ "$(jq -r '[.executor, .status, (.reason // "")] | join(" ")' "$L")" = "a-local failed exit_status
b-local ok " ]
	[ "$(grep -c '"run":"fo"' "$REMOTEMEDIA_HOME/costs.jsonl")" -eq 2 ]
	jqs 'select(.event == "failover") | .from == "a-local" and .to == "b-local"' \
	    "$REMOTEMEDIA_HOME/runs/fo/decisions.jsonl"
	grep -q "no luck on a" "$REMOTEMEDIA_HOME/runs/fo/nodes/flaky/attempt-1.err"
}

@test "rm-schedule run: a plan with the explain basis fails over to its alternatives (ids)" {
	rm-schedule plan --decisions basis "${AB[@]}" -o "$BATS_TEST_TMPDIR/plan.json" "$F/failover.yaml" >/dev/null
	jq -e '.nodes[0].executor == "a-local" and .nodes[0].alternatives == ["b-local"]' \
	    "$BATS_TEST_TMPDIR/plan.json"
	run --separate-stderr rm-schedule run --run-id fob "${AB[@]}" "$BATS_TEST_TMPDIR/plan.json"
	assert_success
	assert_output "ran on b-local"
}

@test "rm-schedule run: a streaming node killed at line 5000 on A resumes on B from its checkpoint, every line once in order" {
	run --separate-stderr rm-schedule run --run-id st "${AB[@]}" "$F/stream.yaml"
	assert_success
	[[ $stderr =~ "node relay: executor a-local failed (killed by signal 9 (Killed)), trying b-local from input byte "[0-9]+ ]]
	[ "$(printf '%s\n' "$output" | wc -l)" -eq 10000 ]
	diff <(seq 1 10000 | sed 's/^/line /') <(printf '%s\n' "$output")
	D=$REMOTEMEDIA_HOME/runs/st/decisions.jsonl
	jqs 'select(.event == "failed" and .node == "relay") |
	    .executor == "a-local" and .reason == "signal" and .resume_offset > 20000' "$D"
	# B was given the input from the checkpoint on: it printed only the rest
	[ "$(head -1 "$REMOTEMEDIA_HOME/runs/st/nodes/relay/attempt-2.out")" = "line 5000" ] ||
	    [ "$(head -1 "$REMOTEMEDIA_HOME/runs/st/nodes/relay/attempt-2.out")" = "line 4999" ]
	[ "$(wc -l < "$REMOTEMEDIA_HOME/runs/st/nodes/relay/attempt-2.out")" -le 5002 ]
}

@test "rm-schedule run: an executor whose advert expired mid-run is not chosen for the next attempt" {
	jq --arg t "$(iso_in 3)" '.id = "b-expiring" | .expires_at = $t' "$F/b-local.json" \
	    > "$BATS_TEST_TMPDIR/b-expiring.json"
	cat > "$BATS_TEST_TMPDIR/p.yaml" <<-'EOF'
	schema: remotemedia.pipeline/1
	name: expiry
	nodes:
	  - id: slow
	    type: Command
	    capabilities: {tags: [demo]}
	    exec: 'if [ "$REMOTEMEDIA_EXECUTOR" = a-local ]; then sleep 4; exit 1; fi; echo "ran on $REMOTEMEDIA_EXECUTOR"'
	EOF
	run --separate-stderr rm-schedule run --run-id ex -x "$F/a-local.json" \
	    -x "$BATS_TEST_TMPDIR/b-expiring.json" -x "$F/c-local.json" "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	[[ $stderr == *"node slow: executor b-expiring skipped: "* ]]
	assert_output "ran on c-local"
	D=$REMOTEMEDIA_HOME/runs/ex/decisions.jsonl
	jqs 'select(.event == "schedule") | .candidates == ["a-local","b-expiring","c-local"]' "$D"
	jqs 'select(.event == "skip") | .executor == "b-expiring" and .reason == "advert_expired"' "$D"
	jq -se '[.[] | select(.event == "start" and .executor == "b-expiring")] == []' "$D"
	[ "$(jq -r .executor "$REMOTEMEDIA_HOME/runs/ex/costs.jsonl" | paste -sd,)" = a-local,c-local ]
}

@test "rm-schedule run: the node crossing the budget is stopped, the next never starts, exit 7, report shows each cost" {
	run rm-schedule run --run-id bud --budget 1.5 --force --grace 1 -x "$F/priced.json" "$F/budget.yaml"
	[ "$status" -eq 7 ]
	assert_output --partial "budget"
	L=$REMOTEMEDIA_HOME/runs/bud/costs.jsonl
	[ "$(jq -r '.node + " " + .status' "$L")" = "one ok
two stopped" ]
	jqs 'select(.node == "one") | .cost > 0.95 and .cost < 1.3' "$L"
	jqs 'select(.node == "two") | .cost > 0.3 and .cost < 0.8' "$L"
	! grep -q '"node":"three"' "$REMOTEMEDIA_HOME/runs/bud/decisions.jsonl"
	run rm-schedule report --json bud
	assert_success
	jq -e '.status == "budget_exceeded" and .budget == 1.5' <<<"$output"
	jq -e '[.nodes[].id] == ["one","two","three"]' <<<"$output"
	jq -e '.nodes[2].status == "not_run" and .nodes[2].cost == 0' <<<"$output"
	jq -e '(.total_cost - (.nodes[0].cost + .nodes[1].cost) | fabs) < 1e-9 and .total_cost >= 1.5' \
	    <<<"$output"
	run rm-schedule report --format text bud
	assert_success
	assert_line --regexp '^one +priced +ok '
	assert_line --regexp '^two +priced +stopped .* budget$'
	assert_line --regexp '^TOTAL .*\(budget 1.5\)$'
}

# Four chained nodes at cost_tokens 10 each, the first blocking until $1/go exists.
four_tens() {
	jq '.id = "ten" | .cost_tokens = 10' "$F/tokens.json" > "$1/ten.json"
	cat > "$1/four.yaml" <<-EOF
	schema: remotemedia.pipeline/1
	name: four
	nodes:
	  - {id: n1, type: Command, capabilities: {tags: [tok]}, exec: 'if [ -e $1/go ]; then echo one; else echo \$\$ > $1/n1.pid; exec sleep 30; fi'}
	  - {id: n2, type: Command, capabilities: {tags: [tok]}, exec: cat}
	  - {id: n3, type: Command, capabilities: {tags: [tok]}, exec: cat}
	  - {id: n4, type: Command, capabilities: {tags: [tok]}, exec: cat}
	edges: [[n1, n2], [n2, n3], [n3, n4]]
	EOF
}

@test "rm-schedule run --resume: the budget is kept with the run and the cost counts from its ledger" {
	T=$BATS_TEST_TMPDIR
	four_tens "$T"
	rm-schedule run --run-id b4 --budget 15 --force --grace 1 -x "$T/ten.json" "$T/four.yaml" \
	    > "$T/out1" 2>&1 &
	runner=$!
	for _ in $(seq 100); do [ -s "$T/n1.pid" ] && break; sleep 0.1; done
	[ -s "$T/n1.pid" ]
	kill -TERM "$runner"
	status=0
	wait "$runner" || status=$?
	[ "$status" -eq 8 ]
	jq -e '.budget == 15' "$REMOTEMEDIA_HOME/runs/b4/budget.json"
	[ "$(jq -r '.node + " " + .status + " " + (.cost | tostring)' \
	    "$REMOTEMEDIA_HOME/runs/b4/costs.jsonl")" = "n1 stopped 10" ]
	grep -q '"reason":"interrupted"' "$REMOTEMEDIA_HOME/runs/b4/costs.jsonl"
	touch "$T/go"
	# no --budget: the stored one holds, and the 10 already spent count
	run rm-schedule run --resume b4 -x "$T/ten.json"
	[ "$status" -eq 7 ]
	assert_output --partial "rm-schedule: budget: accumulated cost 10.0000 and cost_tokens 10 of node 'n1' on 'ten' would reach the budget 15; the attempt was not started"
	[ "$(wc -l < "$REMOTEMEDIA_HOME/runs/b4/costs.jsonl")" -eq 1 ]
	jq -e '.status == "budget_exceeded" and .budget == 15 and .total_cost == 10' \
	    "$REMOTEMEDIA_HOME/runs/b4/results.json"
	# the same budget given again changes nothing
	run rm-schedule run --resume b4 --budget 15 -x "$T/ten.json"
	[ "$status" -eq 7 ]
	assert_output --partial "would reach the budget 15"
	run rm-schedule report --json b4
	jq -e '.total_cost == 10 and .budget == 15' <<<"$output"
	# an explicit --budget on resume replaces the stored one, lower or higher
	run rm-schedule run --resume b4 --budget 60 -x "$T/ten.json"
	assert_success
	assert_output "one"
	jq -e '.budget == 60' "$REMOTEMEDIA_HOME/runs/b4/budget.json"
	jqs 'select(.event == "budget_changed") | .from == 15 and .to == 60' \
	    "$REMOTEMEDIA_HOME/runs/b4/decisions.jsonl"
	run rm-schedule report --json b4
	jq -e '.total_cost == 50 and .status == "ok" and .budget == 60' <<<"$output"
}

@test "rm-schedule run: an attempt whose cost_tokens would reach the budget is not started" {
	T=$BATS_TEST_TMPDIR
	four_tens "$T"
	touch "$T/go"
	run rm-schedule run --run-id b4 --budget 15 --force -x "$T/ten.json" "$T/four.yaml"
	[ "$status" -eq 7 ]
	assert_output --partial "cost_tokens 10 of node 'n2' on 'ten' would reach the budget 15"
	[ "$(jq -r .node "$REMOTEMEDIA_HOME/runs/b4/costs.jsonl")" = n1 ]
	jq -e '.total_cost == 10 and [.nodes[].status] == ["done","not_run","not_run","not_run"]' \
	    "$REMOTEMEDIA_HOME/runs/b4/results.json"
	# a damaged budget.json stops a resume rather than running without a budget
	echo '{"budget": "lots"}' > "$REMOTEMEDIA_HOME/runs/b4/budget.json"
	run rm-schedule run --resume b4 -x "$T/ten.json"
	[ "$status" -eq 3 ]
	assert_output --partial "runs/b4/budget.json: budget: expected a number >= 0, got \"lots\""
	[ "$(wc -l < "$REMOTEMEDIA_HOME/runs/b4/costs.jsonl")" -eq 1 ]
}

@test "rm-schedule run: cost_tokens are charged per attempt" {
	cat > "$BATS_TEST_TMPDIR/p.yaml" <<-'EOF'
	schema: remotemedia.pipeline/1
	name: tokens
	nodes:
	  - {id: t1, type: Command, capabilities: {tags: [tok]}, exec: "true"}
	  - {id: t2, type: Command, capabilities: {tags: [tok]}, exec: "true"}
	EOF
	run rm-schedule run --run-id tok -x "$F/tokens.json" "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	run rm-schedule report --json tok
	jq -e '.total_cost == 0.5 and [.nodes[].cost] == [0.25, 0.25]' <<<"$output"
}

@test "rm-schedule run: a node whose every option fails exits 8 listing every executor tried and why" {
	cat > "$BATS_TEST_TMPDIR/p.yaml" <<-'EOF'
	schema: remotemedia.pipeline/1
	name: doomed
	nodes:
	  - {id: up, type: Command, capabilities: {tags: [demo]}, exec: "echo up"}
	  - {id: doomed, type: Command, capabilities: {tags: [demo]}, exec: 'echo "broken on $REMOTEMEDIA_EXECUTOR" >&2; exit 3'}
	  - {id: after, type: Command, capabilities: {tags: [demo]}, exec: "cat"}
	edges: [[up, doomed], [doomed, after]]
	EOF
	run rm-schedule run --run-id all "${AB[@]}" -x "$F/c-local.json" "$BATS_TEST_TMPDIR/p.yaml"
	[ "$status" -eq 8 ]
	assert_output --partial "node 'doomed' failed on every option: a-local: exited with status 3: broken on a-local; b-local: exited with status 3: broken on b-local; c-local: exited with status 3: broken on c-local"
	D=$REMOTEMEDIA_HOME/runs/all/decisions.jsonl
	jqs 'select(.event == "exhausted") | [.tried[].executor] == ["a-local","b-local","c-local"]' "$D"
	jq -e '.nodes[2].status == "not_run" and .nodes[1].status == "failed" and .status == "failed"' \
	    "$REMOTEMEDIA_HOME/runs/all/results.json"
	[ "$(jq -s 'map(select(.node == "doomed")) | length' "$REMOTEMEDIA_HOME/runs/all/costs.jsonl")" -eq 3 ]
}

@test "rm-schedule run: a fallback tier not in the plan is tried at run time after the planned tier fails" {
	cat > "$BATS_TEST_TMPDIR/p.yaml" <<-'EOF'
	schema: remotemedia.pipeline/1
	name: tiers
	nodes:
	  - id: n
	    type: Command
	    capabilities: {tags: [fast]}
	    fallback: [{capabilities: {tags: [demo]}}]
	    exec: '[ "$REMOTEMEDIA_EXECUTOR" != a-local ] || exit 1; echo "fell back to $REMOTEMEDIA_EXECUTOR"'
	EOF
	run --separate-stderr rm-schedule run --run-id tiers "${AB[@]}" "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	[[ $stderr == *"node n: every executor failed; trying its fallback tier 1 ("* ]]
	assert_output "fell back to b-local"
	jqs 'select(.event == "fallback_tier") | .tier == 1 and (.candidates | index("b-local"))' \
	    "$REMOTEMEDIA_HOME/runs/tiers/decisions.jsonl"
}

@test "rm-schedule run: an out-of-memory failure under the requirement's memory limit is recorded as out_of_memory" {
	cat > "$BATS_TEST_TMPDIR/p.yaml" <<-'EOF'
	schema: remotemedia.pipeline/1
	name: oom
	nodes:
	  - id: hog
	    type: Command
	    capabilities: {tags: [demo], memory_gb: 0.05}
	    exec: "head -c 100000000 /dev/zero | tr '\\0' a | sort > /dev/null"
	EOF
	run rm-schedule run --run-id oom -x "$F/a-local.json" "$BATS_TEST_TMPDIR/p.yaml"
	[ "$status" -eq 8 ]
	jqs 'select(.event == "failed") | .reason == "out_of_memory" and (.message | test("0.05 GB"))' \
	    "$REMOTEMEDIA_HOME/runs/oom/decisions.jsonl"
	jqs 'select(.event == "start") | .memory_limit_gb == 0.05' "$REMOTEMEDIA_HOME/runs/oom/decisions.jsonl"
}

@test "rm-schedule run: a plan whose executor no longer exists fails with that reason in decisions.jsonl" {
	rm-schedule plan -x "$F/a-local.json" "$F/failover.yaml" > "$BATS_TEST_TMPDIR/plan.json"
	[ "$(jq -r '.nodes[0].executor' "$BATS_TEST_TMPDIR/plan.json")" = a-local ]
	run rm-schedule run --run-id gone -x "$F/b-local.json" "$BATS_TEST_TMPDIR/plan.json"
	[ "$status" -eq 8 ]
	assert_output --partial "executor 'a-local' no longer exists"
	jqs 'select(.event == "skip") | .executor == "a-local" and .reason == "executor_missing"' \
	    "$REMOTEMEDIA_HOME/runs/gone/decisions.jsonl"
	# the plan is kept with the run, for rm-schedule explain
	cmp "$BATS_TEST_TMPDIR/plan.json" <(jq -S . "$REMOTEMEDIA_HOME/runs/gone/plan.json") ||
	    jq -e '.schema == "remotemedia.plan/1"' "$REMOTEMEDIA_HOME/runs/gone/plan.json"
}

@test "rm-schedule run: an exec that is neither a string nor a list is refused (exit 3) and recorded" {
	rm-schedule plan -x "$F/a-local.json" "$F/failover.yaml" |
	    jq '.canonical.nodes[0].exec = 42' > "$BATS_TEST_TMPDIR/plan.json"
	run rm-schedule run --run-id badexec -x "$F/a-local.json" "$BATS_TEST_TMPDIR/plan.json"
	[ "$status" -eq 3 ]
	assert_output --partial "canonical.nodes[0].exec: expected a command string or a non-empty argv list of strings, got number 42"
	jqs 'select(.event == "invalid") | .node == "flaky" and .field == "canonical.nodes[0].exec"' \
	    "$REMOTEMEDIA_HOME/runs/badexec/decisions.jsonl"
	[ ! -e "$REMOTEMEDIA_HOME/costs.jsonl" ] || [ ! -s "$REMOTEMEDIA_HOME/costs.jsonl" ]
}

@test "rm-schedule run: a missing binary is reported as command not found" {
	cat > "$BATS_TEST_TMPDIR/p.yaml" <<-'EOF'
	schema: remotemedia.pipeline/1
	name: nobin
	nodes:
	  - {id: n, type: Command, capabilities: {tags: [demo]}, exec: [rm-no-such-binary, x]}
	EOF
	run rm-schedule run --run-id nobin -x "$F/a-local.json" "$BATS_TEST_TMPDIR/p.yaml"
	[ "$status" -eq 8 ]
	assert_output --partial "a-local: command not found (exit 127): rm-schedule: cannot run 'rm-no-such-binary': No such file or directory"
	jqs 'select(.event == "failed") | .reason == "command_not_found"' \
	    "$REMOTEMEDIA_HOME/runs/nobin/decisions.jsonl"
}

@test "rm-schedule run --resume: after kill -9 of the runner, completed nodes are not run again" {
	T=$BATS_TEST_TMPDIR
	cat > "$T/p.yaml" <<-EOF
	schema: remotemedia.pipeline/1
	name: resume
	nodes:
	  - {id: first, type: Command, exec: 'echo once >> $T/first.count; echo payload'}
	  - {id: second, type: Command, exec: 'if [ -e $T/go ]; then sed s/^/got:/; else echo \$\$ > $T/second.pid; exec sleep 30; fi'}
	edges: [[first, second]]
	EOF
	rm-schedule run --run-id rs "$T/p.yaml" > "$T/out1" 2>&1 &
	runner=$!
	for _ in $(seq 100); do [ -s "$T/second.pid" ] && break; sleep 0.1; done
	[ -s "$T/second.pid" ]
	kill -9 "$runner"
	wait "$runner" || true
	kill -9 "$(cat "$T/second.pid")"
	grep -q '"node":"first","status":"done"' "$REMOTEMEDIA_HOME/runs/rs/state.jsonl"
	touch "$T/go"
	run --separate-stderr rm-schedule run --resume rs
	assert_success
	assert_output "got:payload"
	assert_equal "$stderr" "rm-schedule: run rs: node first completed in an earlier invocation; not run again"
	[ "$(wc -l < "$T/first.count")" -eq 1 ]
	jqs 'select(.event == "resume_skip") | .node == "first"' "$REMOTEMEDIA_HOME/runs/rs/decisions.jsonl"
	# resuming a finished run runs nothing and prints the result again
	run --separate-stderr rm-schedule run --resume rs
	assert_success
	assert_output "got:payload"
	[ "$(wc -l < "$T/first.count")" -eq 1 ]
}

@test "rm-schedule report: text and JSON for a run; an unknown run is not found (exit 4)" {
	rm-schedule run --run-id rep "${AB[@]}" "$F/failover.yaml" > /dev/null
	run rm-schedule report --json rep
	assert_success
	jq -e '.schema == "remotemedia.run-report/1" and .status == "ok"' <<<"$output"
	jq -e '.nodes[0].attempts | map(.executor) == ["a-local","b-local"]' <<<"$output"
	run rm-schedule report --format text rep
	assert_success
	assert_line --regexp '^flaky +a-local +failed .* exit_status$'
	assert_line --regexp '^ +b-local +ok '
	run rm-schedule report nosuchrun
	[ "$status" -eq 4 ]
	assert_output --partial "no such run 'nosuchrun'"
}

@test "rm-schedule run: usage errors exit 2 and an existing run id is refused" {
	run rm-schedule run
	[ "$status" -eq 2 ]
	run rm-schedule run --budget cheap "$F/failover.yaml"
	[ "$status" -eq 2 ]
	assert_output --partial "--budget: expected a number >= 0"
	run rm-schedule run --run-id ../x "$F/failover.yaml"
	[ "$status" -eq 2 ]
	run rm-schedule run --help
	assert_success
	assert_output --partial "usage: rm-schedule run"
	rm-schedule run --run-id twice "$F/dag.yaml" > /dev/null
	run rm-schedule run --run-id twice "$F/dag.yaml"
	[ "$status" -eq 2 ]
	assert_output --partial "run 'twice' exists already"
	run rm-schedule run --resume nosuch
	[ "$status" -eq 4 ]
}

@test "rm-schedule explain: a run id explains a node from the plan kept in the run directory" {
	rm-schedule run --run-id ex1 "${AB[@]}" "$F/failover.yaml" > /dev/null
	run rm-schedule explain --json ex1 flaky
	assert_success
	jq -e '.node == "flaky" and .choice.executor == "a-local"' <<<"$output"
	run rm-schedule explain nosuchrun flaky
	[ "$status" -ne 0 ]
}

@test "rm-schedule run: an executor from a registry file holding several adverts is found at run time" {
	# the shipped example file is a YAML list of three adverts; plan picks one
	mkdir -p "$REMOTEMEDIA_HOME/executors"
	cp "$SHARE/examples/adverts.yaml" "$REMOTEMEDIA_HOME/executors/"
	run rm-schedule plan -o "$BATS_TEST_TMPDIR/plan.json" "$SHARE/examples/hello.yaml"
	assert_success
	run jq -r '.nodes[0].executor' "$BATS_TEST_TMPDIR/plan.json"
	assert_output laptop-16g
	run rm-schedule run "$BATS_TEST_TMPDIR/plan.json"
	assert_success
	assert_output --partial "hello.yaml: 3 MEDIA"
	refute_output --partial "no longer exists"
}

@test "rm-schedule run --budget: a plan estimated over the budget is refused before it starts (exit 7), unless --force" {
	# the same message as rm-schedule plan --budget
	run -7 rm-schedule plan --budget 1.5 -x "$F/priced.json" "$F/budget.yaml"
	plan_msg=$(grep 'exceeds the budget' <<<"$output")
	[ -n "$plan_msg" ]
	run -7 rm-schedule run --run-id early --budget 1.5 -x "$F/priced.json" "$F/budget.yaml"
	assert_line "$plan_msg"
	assert_output --partial "run: not started (--force starts it anyway"
	[ ! -e "$REMOTEMEDIA_HOME/runs/early" ]
	# a plan file is checked the same way
	rm-schedule plan -o "$BATS_TEST_TMPDIR/plan.json" -x "$F/priced.json" "$F/budget.yaml" >/dev/null
	run -7 rm-schedule run --budget 1.5 -x "$F/priced.json" "$BATS_TEST_TMPDIR/plan.json"
	assert_line "$plan_msg"
	# within the estimate it runs
	run rm-schedule run --run-id fits --budget 200 -x "$F/priced.json" "$F/budget.yaml"
	assert_success
}
