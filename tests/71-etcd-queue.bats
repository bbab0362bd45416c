#!/usr/bin/env bats
# The parked queue in etcd (issue 12): rm-schedule plan parks under
# PREFIX/queue/<id>, queue lists it, reconcile from any host (another
# REMOTEMEDIA_HOME) places it; claims are etcd transactions, so two racing
# reconcilers place a node exactly once; reconcile --watch places a parked
# node as soon as a capable executor registers.

load test_helper
load etcd_helper
bats_require_minimum_version 1.5.0

SF=$BATS_TEST_DIRNAME/fixtures/schedule
P=$SF/pipelines

setup() {
	PREFIX=q$BATS_TEST_NUMBER
	REG=$ETCD_URL/$PREFIX
	H1=$BATS_TEST_TMPDIR/host1
	H2=$BATS_TEST_TMPDIR/host2
	mkdir -p "$H1" "$H2"
}

# parks the screenshot node of shot.json from host 1 (only a FreeBSD advert)
park_shot() {
	run rm-probe register -q --registry "$REG" --from "$SF/shot/bsd-1.json" --ttl 300
	assert_success
	run --separate-stderr env REMOTEMEDIA_HOME="$H1" rm-schedule plan --registry "$REG" \
		--no-local -o "$H1/plan.json" "$P/shot.json"
	assert_failure 1
	[[ $stderr == *"(parked)"* ]]
}

@test "etcd queue: plan parks in etcd, not in the directory; queue lists it from another host" {
	park_shot
	[ ! -e "$H1/queue" ]
	assert_equal "$(etcd_keys "$PREFIX/queue/" | wc -l)" 1
	key=$(etcd_keys "$PREFIX/queue/")
	[[ $key == "/$PREFIX/queue/"*-grab ]]
	assert_equal "$(etcd_get "${key#/}" | jq -r '.schema, .status, .node.id' | tr '\n' ' ')" \
		"remotemedia.parked/1 parked grab "
	run --separate-stderr env REMOTEMEDIA_HOME="$H2" rm-schedule queue --json --registry "$REG"
	assert_success
	assert_equal "$(jq -r 'length, .[0].node.id, .[0].id' <<<"$output" | tr '\n' ' ')" \
		"1 grab ${key##*/} "
	# the directory backend of host 2 knows nothing of it
	run --separate-stderr env REMOTEMEDIA_HOME="$H2" rm-schedule queue --json
	assert_equal "$(jq length <<<"$output")" 0
}

@test "etcd queue: reconcile from another host places the node once a capable executor registers" {
	park_shot
	run --separate-stderr env REMOTEMEDIA_HOME="$H2" rm-schedule reconcile --json --no-local \
		--registry "$REG"
	assert_failure 1
	[[ $stderr == *"grab still parked"* ]]
	assert_equal "$(etcd_keys "$PREFIX/queue/" | wc -l)" 1
	run rm-probe register -q --registry "$REG" --from "$SF/shot/linux-shot.json" --ttl 300
	assert_success
	run --separate-stderr env REMOTEMEDIA_HOME="$H2" rm-schedule reconcile --json --no-local \
		--registry "$REG"
	assert_success
	assert_equal "$(jq -r '.placed[0].node, .placed[0].executor' <<<"$output" | tr '\n' ' ')" \
		"grab linux-shot "
	assert_equal "$(etcd_keys "$PREFIX/queue/")" ""
	ls "$H2"/placed/*-grab.json
	[ ! -e "$H1/placed" ]
	run --separate-stderr env REMOTEMEDIA_HOME="$H1" rm-schedule queue --json --registry "$REG"
	assert_equal "$(jq length <<<"$output")" 0
}

@test "etcd queue: two reconcilers racing on one parked node place it exactly once" {
	park_shot
	run rm-probe register -q --registry "$REG" --from "$SF/shot/linux-shot.json" --ttl 300
	assert_success
	# both list and place before either claims: one transaction wins
	RM_TEST_CLAIM_DELAY_MS=1500 REMOTEMEDIA_HOME="$H1" rm-schedule reconcile --json \
		--no-local --registry "$REG" >"$H1/out" 2>"$H1/err" &
	p1=$!
	RM_TEST_CLAIM_DELAY_MS=1500 REMOTEMEDIA_HOME="$H2" rm-schedule reconcile --json \
		--no-local --registry "$REG" >"$H2/out" 2>"$H2/err" &
	p2=$!
	wait $p1 || true
	wait $p2 || true
	cat "$H1/err" "$H2/err"
	n=$(cat "$H1"/placed/*.json "$H2"/placed/*.json 2>/dev/null | jq -s length)
	assert_equal "$n" 1
	assert_equal "$(jq -s '[.[].placed | length] | add' "$H1/out" "$H2/out")" 1
	assert_equal "$(jq -s '[.[].claimed_elsewhere | length] | add' "$H1/out" "$H2/out")" 1
	grep -q "grab not placed here: another reconciler claimed it first" "$H1/err" "$H2/err"
	assert_equal "$(etcd_keys "$PREFIX/queue/")" ""
}

@test "etcd queue: many parked nodes, two reconcilers at once: each placed exactly once" {
	run rm-probe register -q --registry "$REG" --from "$SF/shot/bsd-1.json" --ttl 300
	for i in $(seq 1 12); do
		jq --arg n "grab$i" '.name = $n | .nodes[0].id = $n' "$P/shot.json" > "$BATS_TEST_TMPDIR/s$i.json"
		REMOTEMEDIA_HOME="$H1" rm-schedule plan --registry "$REG" --no-local \
			"$BATS_TEST_TMPDIR/s$i.json" >/dev/null 2>&1 || true
	done
	assert_equal "$(etcd_keys "$PREFIX/queue/" | wc -l)" 12
	rm-probe register -q --registry "$REG" --from "$SF/shot/linux-shot.json" --ttl 300
	REMOTEMEDIA_HOME="$H1" rm-schedule reconcile --json --no-local --registry "$REG" \
		>"$H1/out" 2>/dev/null &
	p1=$!
	REMOTEMEDIA_HOME="$H2" rm-schedule reconcile --json --no-local --registry "$REG" \
		>"$H2/out" 2>/dev/null &
	p2=$!
	wait $p1 || true
	wait $p2 || true
	assert_equal "$(jq -s '[.[].placed | length] | add' "$H1/out" "$H2/out")" 12
	assert_equal "$(ls "$H1/placed" "$H2/placed" 2>/dev/null | grep -c '\.json$')" 12
	assert_equal "$(jq -rs '[.[].placed[].node] | unique | length' "$H1/out" "$H2/out")" 12
	assert_equal "$(etcd_keys "$PREFIX/queue/")" ""
}

@test "etcd queue: a malformed entry is named by its key, skipped with a warning, left in place" {
	park_shot
	etcd_put "$PREFIX/queue/bad-entry" '{"schema": "remotemedia.parked/1", oops'
	run --separate-stderr rm-schedule queue --json --registry "$REG"
	assert_success
	assert_equal "$(jq length <<<"$output")" 1
	[[ $stderr == *"etcd:/$PREFIX/queue/bad-entry: malformed JSON"*"(skipped)"* ]]
	run rm-probe register -q --registry "$REG" --from "$SF/shot/linux-shot.json" --ttl 300
	run --separate-stderr rm-schedule reconcile --json --no-local --registry "$REG"
	assert_success
	assert_equal "$(jq '.placed | length' <<<"$output")" 1
	[[ $stderr == *"etcd:/$PREFIX/queue/bad-entry: malformed JSON"*"(left in the queue)"* ]]
	assert_equal "$(etcd_keys "$PREFIX/queue/")" "/$PREFIX/queue/bad-entry"
}

@test "etcd queue: an entry from another host names no file here: a foreign id is left, its plan not touched" {
	park_shot
	key=$(etcd_keys "$PREFIX/queue/")
	entry=$(etcd_get "${key#/}")
	# the same entry under a key whose last part is not its id, aiming outside placed/
	etcd_put "$PREFIX/queue/evil" "$(jq -c '.id = "../executors/gpu1"' <<<"$entry")"
	run rm-probe register -q --registry "$REG" --from "$SF/shot/linux-shot.json" --ttl 300
	run --separate-stderr env REMOTEMEDIA_HOME="$H2" rm-schedule reconcile --json --no-local \
		--registry "$REG"
	assert_success
	[[ $stderr == *"etcd:/$PREFIX/queue/evil: id: expected the entry's own id (evil)"*"(left in the queue)"* ]]
	[ ! -e "$H2/executors/gpu1.json" ]
	assert_equal "$(etcd_keys "$PREFIX/queue/")" "/$PREFIX/queue/evil"
	# the genuine entry is placed on host 2, and host 1's plan file is host 1's
	assert_equal "$(jq '.placed | length' <<<"$output")" 1
	assert_equal "$(jq -r '.nodes[0].status' "$H1/plan.json")" parked
}

@test "etcd queue: unreachable etcd is exit 6 naming the endpoints, for plan, queue and reconcile" {
	p1=$(free_port)
	p2=$(free_port)
	u=etcd://127.0.0.1:$p1,127.0.0.1:$p2
	for verb in queue reconcile; do
		run --separate-stderr rm-schedule "$verb" --no-local --registry "$u"
		assert_failure 6
		[[ $stderr == *"etcd unreachable: tried 127.0.0.1:$p1, 127.0.0.1:$p2"* ]]
	done
	run --separate-stderr rm-schedule plan --no-local -x "$SF/shot/bsd-1.json" \
		--registry "$u" "$P/shot.json"
	assert_failure 6
	[[ $stderr == *"127.0.0.1:$p1"* ]]
}

# The Range requests etcd has served so far (its /metrics)
etcd_ranges() {
	curl -fsS "$ETCD_HTTP/metrics" |
		awk '/^grpc_server_handled_total/ && /grpc_method="Range"/ { n += $2 } END { print n + 0 }'
}

# wait_for FILE PATTERN [TENTHS]: up to TENTHS/10 s (default 10 s) for PATTERN in FILE
wait_for() {
	for _ in $(seq 1 "${3:-100}"); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$1" >&2
	return 1
}

# starts reconcile --watch [ARGS] from host 2 in the background, with the
# environment in $WATCH_ENV: $WP, output in $H2/w.*
start_watch() {
	# shellcheck disable=SC2086
	env REMOTEMEDIA_HOME="$H2" ${WATCH_ENV:-} rm-schedule reconcile -v --watch --no-local "$@" \
		--registry "$REG" --format text >"$H2/w.out" 2>"$H2/w.err" &
	WP=$!
	echo "$WP" > "$BATS_TEST_TMPDIR/watch.bgpid"
}

@test "etcd queue: reconcile --watch places a parked node within a second of a capable executor registering, without polling" {
	park_shot
	start_watch --timeout 30
	wait_for "$H2/w.err" "watching etcd from revision"
	# idle: the watch stream only, not a single read
	r0=$(etcd_ranges)
	sleep 2
	echo "etcd Range requests before and after 2 s of watching: $r0 $(etcd_ranges)" >&3
	[ "$r0" -gt 0 ]
	assert_equal "$(etcd_ranges)" "$r0"
	rm-probe register -q --registry "$REG" --from "$SF/shot/linux-shot.json" --ttl 300
	t0=$(date +%s%N)
	for _ in $(seq 1 100); do
		ls "$H2"/placed/*-grab.json >/dev/null 2>&1 && break
		sleep 0.02
	done
	t1=$(date +%s%N)
	ls "$H2"/placed/*-grab.json
	echo "placed $(( (t1 - t0) / 1000000 )) ms after the register" >&3
	[ $(( (t1 - t0) / 1000000 )) -lt 1000 ]
	rc=0
	wait "$WP" || rc=$?
	cat "$H2/w.err"
	assert_equal "$rc" 0
	grep -q "^placed grab on linux-shot: " "$H2/w.out"
	assert_equal "$(etcd_keys "$PREFIX/queue/")" ""
}

@test "etcd queue: reconcile --watch --timeout is exit 1 saying what is still parked; SIGTERM too" {
	park_shot
	SECONDS=0
	run --separate-stderr env REMOTEMEDIA_HOME="$H2" rm-schedule reconcile --watch --timeout 1.5 \
		--no-local --registry "$REG"
	assert_failure 1
	[ "$SECONDS" -lt 5 ]
	[[ $stderr == *"reconcile --watch: timed out after 1.5 s"* ]]
	[[ $stderr == *"grab still parked: no compatible executor"* ]]
	assert_equal "$(jq '(.placed | length), (.still_parked | length)' <<<"$output" | tr '\n' ' ')" "0 1 "
	start_watch
	wait_for "$H2/w.err" "watching etcd from revision"
	kill -TERM "$WP"
	rc=0
	wait "$WP" || rc=$?
	assert_equal "$rc" 1
	grep -q "stopped by signal 15" "$H2/w.err"
	grep -q "grab still parked" "$H2/w.err"
	# an empty queue ends at once
	run rm-probe register -q --registry "$REG" --from "$SF/shot/linux-shot.json" --ttl 300
	run env REMOTEMEDIA_HOME="$H2" rm-schedule reconcile --watch --no-local --registry "$REG"
	assert_success
	run env REMOTEMEDIA_HOME="$H2" rm-schedule reconcile --watch --no-local --registry "$REG"
	assert_success
}

@test "etcd queue: a compacted watch revision is said, the queue read again, and the node still placed" {
	park_shot
	WATCH_ENV=RM_TEST_WATCH_DELAY_MS=2000 start_watch --timeout 30
	wait_for "$H2/w.err" "watching etcd from revision"
	# while it has not opened its watch yet: history moves on and is compacted
	for i in 1 2 3; do etcd_put "$PREFIX/other/$i" x; done
	rev=$(curl -fsS -X POST "$ETCD_HTTP/v3/kv/range" -d '{"key":"AA=="}' | jq -r .header.revision)
	curl -fsS -X POST "$ETCD_HTTP/v3/kv/compaction" -d "{\"revision\":\"$rev\",\"physical\":true}"
	wait_for "$H2/w.err" "compacted; the oldest revision left is $rev; reading the whole queue again"
	grep compacted "$H2/w.err" >&3
	rm-probe register -q --registry "$REG" --from "$SF/shot/linux-shot.json" --ttl 300
	rc=0
	wait "$WP" || rc=$?
	cat "$H2/w.err"
	assert_equal "$rc" 0
	grep -q "^placed grab on linux-shot: " "$H2/w.out"
}

@test "etcd queue: --watch needs etcd (exit 2 on a directory), --timeout needs --watch, unreachable is exit 6" {
	run --separate-stderr rm-schedule reconcile --watch --no-local
	assert_failure 2
	[[ $stderr == *"reconcile --watch needs an etcd registry"* ]]
	run --separate-stderr rm-schedule reconcile --watch --registry "dir:$BATS_TEST_TMPDIR/d"
	assert_failure 2
	run --separate-stderr rm-schedule reconcile --timeout 3 --registry "$REG"
	assert_failure 2
	[[ $stderr == *"--timeout needs --watch"* ]]
	run --separate-stderr rm-schedule queue --watch --registry "$REG"
	assert_failure 2
	run --separate-stderr rm-schedule reconcile --watch --timeout -1 --registry "$REG"
	assert_failure 2
	p1=$(free_port)
	run --separate-stderr rm-schedule reconcile --watch --timeout 3 --no-local \
		--registry "etcd://127.0.0.1:$p1"
	assert_failure 6
	[[ $stderr == *"etcd unreachable: tried 127.0.0.1:$p1"* ]]
	# the watch needs libcurl, loaded on first use: exit 6 saying so
	run --separate-stderr env RM_LIBCURL=/nonexistent/libcurl.so rm-schedule reconcile --watch \
		--timeout 3 --no-local --registry "$REG"
	assert_failure 6
	[[ $stderr == *"cannot load libcurl"* ]]
}

@test "etcd cluster: one of three members killed mid-way changes nothing for register, match, plan and reconcile --watch" {
	etcd_cluster3 "$BATS_TEST_TMPDIR/cluster"
	# the leader first in the URL: every client (and the watch) uses it
	IFS=, read -r -a eps <<<"${ETCD_URL#etcd://}"
	read -r -a pids <<<"$ETCD_MEMBER_PIDS"
	for i in 0 1 2; do
		st=$(curl -fsS -X POST "http://${eps[i]}/v3/maintenance/status" -d '{}')
		[ "$(jq -r .leader <<<"$st")" = "$(jq -r .header.member_id <<<"$st")" ] && lead=$i
	done
	order="${eps[lead]}"
	rest=""
	for i in 0 1 2; do
		[ "$i" = "$lead" ] || { order="$order,${eps[i]}"; rest="$rest ${pids[i]}"; }
	done
	read -r m2 m3 <<<"$rest"
	REG=etcd://$order/$PREFIX
	ETCD_HTTP=http://${eps[(lead + 1) % 3]}
	park_shot
	start_watch --timeout 60
	wait_for "$H2/w.err" "watching etcd from revision"
	# the leader goes down: an election, and the first endpoint gone
	kill -9 "${pids[lead]}"
	run --separate-stderr rm-probe register -q --registry "$REG" --from "$SF/shot/linux-shot.json" --ttl 300
	assert_success
	rc=0
	wait "$WP" || rc=$?
	cat "$H2/w.err"
	assert_equal "$rc" 0
	grep -q "^placed grab on linux-shot: " "$H2/w.out"
	run --separate-stderr rm-match --json --no-local --registry "$REG" "$P/shot.json"
	run --separate-stderr rm-schedule plan --registry "$REG" --no-local "$P/shot.json"
	assert_success
	assert_equal "$(jq -r '.nodes[0].executor' <<<"$output")" linux-shot
	run --separate-stderr env REMOTEMEDIA_HOME="$H2" rm-schedule queue --json --registry "$REG"
	assert_success
	assert_equal "$(jq length <<<"$output")" 0
	# a second member down: no quorum, exit 6 naming the endpoints
	kill -9 "$m2"
	SECONDS=0
	run --separate-stderr rm-schedule queue --json --registry "$REG"
	assert_failure 6
	[[ $stderr == *"etcd unreachable: tried 127.0.0.1:"*", 127.0.0.1:"* ]]
	echo "$SECONDS s: $stderr" >&3
	etcd_stop "$m3"
}

@test "etcd queue: two reconcile --watch on two hosts, one executor registering: placed exactly once, both exit 0" {
	park_shot
	for h in "$H1" "$H2"; do
		REMOTEMEDIA_HOME="$h" RM_TEST_CLAIM_DELAY_MS=300 rm-schedule reconcile -v --watch \
			--timeout 30 --no-local --registry "$REG" --json >"$h/w.out" 2>"$h/w.err" &
		echo $! >> "$BATS_TEST_TMPDIR/watch.bgpid"
	done
	mapfile -t ws < "$BATS_TEST_TMPDIR/watch.bgpid"
	wait_for "$H1/w.err" "watching etcd from revision"
	wait_for "$H2/w.err" "watching etcd from revision"
	rm-probe register -q --registry "$REG" --from "$SF/shot/linux-shot.json" --ttl 300
	r1=0
	r2=0
	wait "${ws[0]}" || r1=$?
	wait "${ws[1]}" || r2=$?
	cat "$H1/w.err" "$H2/w.err"
	assert_equal "$r1 $r2" "0 0"
	assert_equal "$(jq -s '[.[].placed | length] | add' "$H1/w.out" "$H2/w.out")" 1
	assert_equal "$(cat "$H1"/placed/*.json "$H2"/placed/*.json 2>/dev/null | jq -s length)" 1
	assert_equal "$(etcd_keys "$PREFIX/queue/")" ""
}
