#!/usr/bin/env bats
# One executor pool across hosts (issue 12), on network namespaces: host 0
# plans and runs etcd; hosts 1-3 each run sshd and keep their own advert
# registered in that etcd over the namespace network, with a lease of
# MH_TTL seconds re-registered every second (the loop dies with its host).
# Root only (as CI is); skipped with the reason otherwise.

load test_helper
load netns_helper
bats_require_minimum_version 1.5.0

MH_TTL=3

setup_file() {
	netns_require || return 0
	[ -x /usr/sbin/sshd ] || { export NETNS_SKIP="openssh-server is not installed"; return 0; }
	command -v etcd >/dev/null || { export NETNS_SKIP="etcd is not installed"; return 0; }
	netns_setup 4 || return 1
	netns_etcd 0 || return 1
	export MH_REG=$NETNS_ETCD/pool
	export REMOTEMEDIA_RELAY=$RM_TOP_BUILDDIR/tools/rm-schedule/rm-schedule
	mh_start_host 1 '"a", "stream"'
	mh_start_host 2 '"b", "stream"'
	mh_start_host 3 '"c"'
	mh_wait_adverts 3
}

teardown_file() {
	netns_teardown
}

setup() {
	netns_skip
}

# Starts executor host i: its sshd, its advert (id host<i>, endpoint
# ssh://root@ADDR, tags TAGS as JSON list items) and the loop that keeps
# it registered, with its own REMOTEMEDIA_HOME.
mh_start_host() {
	local h=$1 tags=$2 d=$NETNS_DIR/host$1
	mkdir -p "$d/home"
	netns_sshd "$h" || return 1
	jq --arg id "host$h" --arg ep "ssh://root@$(netns_addr "$h")" --argjson tags "[$tags]" \
		'.id = $id | .endpoint = $ep | .capabilities.tags = $tags' \
		"$FIXTURES/run/b-local.json" >"$d/advert.json"
	netns_bg "$h" "$d/register.log" env REMOTEMEDIA_HOME="$d/home" bash -c \
		'while :; do rm-probe register -q --registry "$1" --from "$2" --ttl "$3"; sleep 1; done' \
		- "$MH_REG" "$d/advert.json" "$MH_TTL" >"$d/register.pid"
}

# The executor ids in etcd, sorted, one a line (read with curl on host 0).
mh_adverts() {
	local k e
	k=$(printf '/pool/executors/' | base64 -w0)
	e=$(printf '/pool/executors0' | base64 -w0)
	netns_exec 0 curl -fsS -X POST "$NETNS_ETCD_HTTP/v3/kv/range" \
		-d "{\"key\":\"$k\",\"range_end\":\"$e\",\"keys_only\":true}" |
		jq -r '.kvs // [] | .[].key | @base64d | sub(".*/"; "")' | sort
}

mh_wait_adverts() {
	for _ in $(seq 1 100); do
		[ "$(mh_adverts | wc -l)" -ge "$1" ] && return 0
		sleep 0.1
	done
	mh_adverts >&2
	return 1
}

# Runs rm-schedule on the planning host with the pool's registry.
mh_plan_host() {
	netns_exec 0 env REMOTEMEDIA_HOME="$NETNS_DIR/planner" "$@"
}

@test "multihost: a pipeline planned across three hosts runs over ssh; the report names each node's host" {
	cat >"$BATS_TEST_TMPDIR/p.yaml" <<-'EOF'
	schema: remotemedia.pipeline/1
	name: three-hosts
	nodes:
	  - {id: cut, type: Command, capabilities: {tags: [a]}, exec: 'echo "cut on $(ip -4 -o addr show dev eth0 | awk "{print \$4}")"'}
	  - {id: scale, type: Command, capabilities: {tags: [b]}, exec: 'cat; echo "scale on $(ip -4 -o addr show dev eth0 | awk "{print \$4}")"'}
	  - {id: mux, type: Command, capabilities: {tags: [c]}, exec: 'cat; echo "mux on $(ip -4 -o addr show dev eth0 | awk "{print \$4}")"'}
	edges: [[cut, scale], [scale, mux]]
	EOF
	run --separate-stderr mh_plan_host rm-schedule plan --no-local --registry "$MH_REG" \
		"$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	assert_equal "$(jq -r '[.nodes[] | .id + "=" + .executor] | join(" ")' <<<"$output")" \
		"cut=host1 scale=host2 mux=host3"
	run --separate-stderr mh_plan_host rm-schedule run --no-local --run-id three \
		--registry "$MH_REG" "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	# each node ran inside its host's namespace: its own address
	assert_output "cut on $(netns_addr 1)/24
scale on $(netns_addr 2)/24
mux on $(netns_addr 3)/24"
	run --separate-stderr mh_plan_host rm-schedule report --json three
	assert_success
	assert_equal "$(jq -r '[.nodes[] | .id + "@" + (.attempts[0].endpoint | sub(".*@"; ""))] |
		join(" ")' <<<"$output")" \
		"cut@$(netns_addr 1) scale@$(netns_addr 2) mux@$(netns_addr 3)"
}

@test "multihost: the README's three commands run as written, 10.0.0.1 being host 3" {
	mapfile -t L < <(sed -n '/^A pool across hosts/,/^Where things are/p' "$RM_TOP_SRCDIR/README" |
		sed -n 's/^    //p')
	[ "${#L[@]}" -eq 3 ]
	a=$(netns_addr 3)
	cd "$BATS_TEST_TMPDIR"
	# a second etcd, host 3 playing the README's planning host
	cmd=${L[0]//10.0.0.1/$a}
	pid=$(netns_bg 3 "$BATS_TEST_TMPDIR/etcd.log" bash -c "${cmd% &}")
	for _ in $(seq 1 100); do
		netns_exec 0 curl -fsS "http://$a:2379/health" 2>/dev/null | grep -q true && break
		sleep 0.1
	done
	# the same register line on two hosts, each with its own host name
	for h in 1 2; do
		run netns_exec "$h" env REMOTEMEDIA_HOME="$BATS_TEST_TMPDIR/home$h" unshare --uts \
			bash -c "hostname readme$h && ${L[1]//10.0.0.1/$a}"
		assert_success
	done
	run --separate-stderr mh_plan_host bash -c "cd '$RM_TOP_SRCDIR' && ${L[2]//10.0.0.1/$a}"
	assert_success
	assert_equal "$(jq -r '[.nodes[].executor] | unique | map(test("^readme[12]$")) | all' \
		<<<"$output")" true
	run --separate-stderr mh_plan_host bash -c "echo '{}' | rm-match --json --all --no-local \
		--registry etcd://$a:2379 -"
	kill "$pid"
	assert_equal "$(jq -r '[.executors[] | .id + " " + .endpoint] | sort | join(",")' \
		<<<"$output")" "readme1 ssh://$(netns_addr 1),readme2 ssh://$(netns_addr 2)"
}

# A one-node pipeline needing tag TAG, run on the host that places it:
# it prints that host's address.
mh_tag_pipeline() {
	cat >"$2" <<-EOF
	schema: remotemedia.pipeline/1
	name: needs-$1
	nodes:
	  - {id: grab, type: Command, capabilities: {tags: [$1]}, exec: 'echo "grab on \$(ip -4 -o addr show dev eth0 | awk "{print \\\$4}")"'}
	EOF
}

# Waits (bounded: tries x 0.1 s) for TEXT in FILE.
mh_wait_for() {
	for _ in $(seq 1 "${3:-100}"); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$1" >&2
	return 1
}

@test "multihost: a node no host can run is parked; reconcile --watch on another host places it when a fourth host registers; the run completes there" {
	mh_tag_pipeline d "$BATS_TEST_TMPDIR/d.yaml"
	run --separate-stderr mh_plan_host rm-schedule plan --no-local --registry "$MH_REG" \
		-o "$BATS_TEST_TMPDIR/d.plan" "$BATS_TEST_TMPDIR/d.yaml"
	assert_failure 1
	assert_equal "$(jq -r '.nodes[0].status' <<<"$output")" parked
	run --separate-stderr mh_plan_host rm-schedule queue --json --registry "$MH_REG"
	assert_equal "$(jq -r '.[0].node.id' <<<"$output")" grab
	# the reconciler runs on host 3, with its own home, and waits on etcd
	W=$NETNS_DIR/host3/reconcile
	mkdir -p "$W"
	netns_bg 3 "$W/err" env REMOTEMEDIA_HOME="$W" bash -c 'rm-schedule reconcile -v --watch \
		--timeout 30 --no-local --registry "$1" --format text; echo $? >"$2/rc"' \
		- "$MH_REG" "$W" >/dev/null
	mh_wait_for "$W/err" "watching etcd from revision"
	# a fourth host starts and registers an executor with tag d
	netns_add_host
	mh_start_host 4 '"d"'
	mh_wait_adverts 4
	registered=$(date +%s%N)
	mh_wait_for "$W/err" "placed grab on host4" 50
	placed=$(date +%s%N)
	# within a second of the advert being there (seen by host 0 polling etcd)
	[ $(((placed - registered) / 1000000)) -lt 1000 ]
	for _ in $(seq 1 50); do
		[ -s "$W/rc" ] && break
		sleep 0.1
	done
	cat "$W/err" >&2
	# the queue is empty: the watcher is done
	[ "$(cat "$W/rc")" = 0 ]
	[ "$(ls "$W/placed")" = "$(jq -r '.[0].id' <<<"$output").json" ]
	run --separate-stderr mh_plan_host rm-schedule queue --json --registry "$MH_REG"
	assert_output "[]"
	# the planning host runs the pipeline: it goes to host 4, which now exists
	run --separate-stderr mh_plan_host rm-schedule run --no-local --run-id parked \
		--registry "$MH_REG" "$BATS_TEST_TMPDIR/d.yaml"
	assert_success
	assert_output "grab on $(netns_addr 4)/24"
}

@test "multihost: two reconcilers on two hosts race on one parked node; it is placed exactly once" {
	mh_tag_pipeline e "$BATS_TEST_TMPDIR/e.yaml"
	run --separate-stderr mh_plan_host rm-schedule plan --no-local --registry "$MH_REG" \
		"$BATS_TEST_TMPDIR/e.yaml"
	assert_failure 1
	# an executor with tag e appears (host 3 registers a second advert)
	jq --arg ep "ssh://root@$(netns_addr 3)" '.id = "host3e" | .endpoint = $ep |
		.capabilities.tags = ["e"]' "$FIXTURES/run/b-local.json" >"$BATS_TEST_TMPDIR/e.json"
	run netns_exec 3 env REMOTEMEDIA_HOME="$NETNS_DIR/host3/home" rm-probe register -q \
		--registry "$MH_REG" --from "$BATS_TEST_TMPDIR/e.json" --ttl 120
	assert_success
	# hosts 1 and 2 both list the queue and place before either claims
	for h in 1 2; do
		R=$NETNS_DIR/host$h/race
		mkdir -p "$R"
		netns_bg "$h" "$R/err" env REMOTEMEDIA_HOME="$R" RM_TEST_CLAIM_DELAY_MS=1000 \
			bash -c 'rm-schedule reconcile --json --no-local --registry "$1" >"$2/out"; echo $? >"$2/rc"' \
			- "$MH_REG" "$R" >/dev/null
	done
	for h in 1 2; do
		for _ in $(seq 1 150); do
			[ -s "$NETNS_DIR/host$h/race/rc" ] && break
			sleep 0.1
		done
	done
	R1=$NETNS_DIR/host1/race R2=$NETNS_DIR/host2/race
	cat "$R1/err" "$R2/err" >&2
	assert_equal "$(cat "$R1/rc") $(cat "$R2/rc")" "0 0"
	assert_equal "$(jq -s '[.[].placed | length] | add' "$R1/out" "$R2/out")" 1
	assert_equal "$(jq -s '[.[].claimed_elsewhere | length] | add' "$R1/out" "$R2/out")" 1
	assert_equal "$(cat "$R1"/placed/*.json "$R2"/placed/*.json 2>/dev/null | jq -s length)" 1
	grep -q "grab not placed here: another reconciler claimed it first" "$R1/err" "$R2/err"
	run --separate-stderr mh_plan_host rm-schedule queue --json --registry "$MH_REG"
	assert_output "[]"
}

@test "multihost: a host dies mid-run; its streaming node resumes on another host from its checkpoint, and its advert expires" {
	cat >"$BATS_TEST_TMPDIR/s.yaml" <<-'EOF'
	schema: remotemedia.pipeline/1
	name: stream-failover
	nodes:
	  - {id: src, type: Command, capabilities: {tags: [c]}, exec: "seq -w 1 60 | sed 's/^/rec-/'"}
	  - id: up
	    type: Command
	    capabilities: {tags: [stream]}
	    exec: |
	      off=0
	      me=$(ip -4 -o addr show dev eth0 | awk '{print $4}')
	      while IFS= read -r l; do
	        printf '%s %s\n' "$l" "$me"
	        off=$((off + ${#l} + 1))
	        echo "$off" >&3
	        read -r ack <&3
	        sleep 0.1
	      done
	edges: [[src, up]]
	EOF
	D=$NETNS_DIR/planner/runs/fo
	rm -rf "$D"
	started=$(date +%s)
	netns_bg 0 "$BATS_TEST_TMPDIR/run.log" env REMOTEMEDIA_HOME="$NETNS_DIR/planner" \
		bash -c 'rm-schedule run --no-local --run-id fo --registry "$1" "$2" >"$3"; echo $? >"$3.rc"' \
		- "$MH_REG" "$BATS_TEST_TMPDIR/s.yaml" "$BATS_TEST_TMPDIR/out" >/dev/null
	# the first attempt of up, once it has written ten records and the
	# adverts read when the run began have expired (their renewals have not)
	for _ in $(seq 1 150); do
		[ -f "$D/nodes/up/attempt-1.out" ] && [ "$(wc -l <"$D/nodes/up/attempt-1.out")" -ge 10 ] &&
			[ $(($(date +%s) - started)) -gt "$MH_TTL" ] && break
		sleep 0.1
	done
	first=$(jq -rs '[.[] | select(.event == "start" and .node == "up")][0].executor' \
		"$D/decisions.jsonl")
	[[ $first == host[12] ]]
	netns_kill_host "${first#host}"
	killed_at=$(date +%s)
	for _ in $(seq 1 200); do
		[ -s "$BATS_TEST_TMPDIR/out.rc" ] && break
		sleep 0.1
	done
	cat "$BATS_TEST_TMPDIR/run.log" >&2
	assert_equal "$(cat "$BATS_TEST_TMPDIR/out.rc")" 0
	second=$(jq -rs '[.[] | select(.event == "start" and .node == "up")][1].executor' \
		"$D/decisions.jsonl")
	[[ $second == host[12] && $second != "$first" ]]
	# adverts on a lease live as long as their lease: none was skipped as
	# expired, though the ttl written in them passed long ago
	jq -se '[.[] | select(.event == "skip")] | length == 0' "$D/decisions.jsonl"
	# every record once, in order; the first ones from the dead host
	assert_equal "$(cut -d' ' -f1 "$BATS_TEST_TMPDIR/out" | tr '\n' ' ')" \
		"$(seq -w 1 60 | sed 's/^/rec-/' | tr '\n' ' ')"
	k=$(jq -rs '[.[] | select(.event == "failed" and .node == "up")][0].resume_offset' \
		"$D/decisions.jsonl")
	[ "$k" -ge $((10 * 7)) ]
	n=$((k / 7))
	[ "$(head -n "$n" "$BATS_TEST_TMPDIR/out" | cut -d' ' -f2 | sort -u)" = \
		"$(netns_addr "${first#host}")/24" ]
	[ "$(tail -n +$((n + 1)) "$BATS_TEST_TMPDIR/out" | cut -d' ' -f2 | sort -u)" = \
		"$(netns_addr "${second#host}")/24" ]
	# the dead host's advert leaves etcd when its lease ends, nobody deleting it
	for _ in $(seq 1 $((MH_TTL * 10 + 30))); do
		mh_adverts | grep -qx "$first" || break
		sleep 0.1
	done
	run mh_adverts
	refute_line "$first"
	assert_line "$second"
	[ $(($(date +%s) - killed_at)) -le $((MH_TTL + 4)) ]
}
