#!/usr/bin/env bats
# The etcd registry backend (issue 12, first step): adverts under
# PREFIX/executors/<id> bound to leases, matched exactly as the same adverts
# in a directory; an unreachable etcd is exit 6, a bad URL exit 2.
# A real etcd (Debian etcd-server) runs on free ports for the whole file.

load test_helper
load etcd_helper
bats_require_minimum_version 1.5.0

M=$BATS_TEST_DIRNAME/fixtures/match

setup() {
	# every test its own prefix: no test sees another's adverts
	PREFIX=t$BATS_TEST_NUMBER
	REG=$ETCD_URL/$PREFIX
}

@test "etcd: registered adverts match exactly as the same adverts in a directory" {
	for f in gpu-4090 cpu-big; do
		run rm-probe register -q --registry "$REG" --from "$M/executors/$f.json" --ttl 300
		assert_success
		run rm-probe register -q --registry "dir:$BATS_TEST_TMPDIR/dir" \
			--from "$M/executors/$f.json" --ttl 300
		assert_success
	done
	assert_equal "$(etcd_keys "$PREFIX/executors/" | sort | tr '\n' ' ')" \
		"/$PREFIX/executors/cpu-big /$PREFIX/executors/gpu-4090 "
	for n in gpu8 mem32; do
		run --separate-stderr rm-match --json --all --no-local --registry "$REG" "$M/nodes/$n.json"
		e_rc=$status
		e_out=$(jq -S . <<<"$output")
		run --separate-stderr rm-match --json --all --no-local \
			--registry "dir:$BATS_TEST_TMPDIR/dir" "$M/nodes/$n.json"
		assert_equal "$e_rc" "$status"
		assert_equal "$e_out" "$(jq -S . <<<"$output")"
		# and both saw the two adverts
		assert_equal "$(jq .considered <<<"$output")" 2
	done
}

@test "etcd: REMOTEMEDIA_REGISTRY and registry: in config.yaml choose etcd too" {
	run rm-probe register -q --registry "$REG" --from "$M/executors/gpu-4090.json" --ttl 300
	assert_success
	run --separate-stderr env REMOTEMEDIA_REGISTRY="$REG" rm-match --json --no-local "$M/nodes/gpu8.json"
	assert_success
	assert_equal "$(jq -r '.executors[0].id' <<<"$output")" gpu-4090
	mkdir -p "$REMOTEMEDIA_HOME"
	printf 'registry: %s\n' "$REG" > "$REMOTEMEDIA_HOME/config.yaml"
	run --separate-stderr rm-match --json --no-local "$M/nodes/gpu8.json"
	assert_success
	assert_equal "$(jq -r '.executors[0].id' <<<"$output")" gpu-4090
	# --registry wins over the configuration
	run --separate-stderr rm-match --json --no-local --registry "dir:$BATS_TEST_TMPDIR/none" \
		"$M/nodes/gpu8.json"
	assert_failure 1
}

@test "etcd: an advert's lease ends with its ttl and nobody deleting it" {
	run rm-probe register -q --registry "$REG" --from "$M/executors/gpu-4090.json" --ttl 2
	assert_success
	assert_equal "$(etcd_keys "$PREFIX/executors/")" "/$PREFIX/executors/gpu-4090"
	run --separate-stderr rm-match --json --no-local --registry "$REG" "$M/nodes/gpu8.json"
	assert_success
	# the key itself goes (lease expiry), not just the advert's expires_at
	for _ in $(seq 1 80); do
		[ -z "$(etcd_keys "$PREFIX/executors/")" ] && break
		sleep 0.1
	done
	assert_equal "$(etcd_keys "$PREFIX/executors/")" ""
	run --separate-stderr rm-match --json --all --no-local --registry "$REG" "$M/nodes/gpu8.json"
	assert_failure 1
	assert_equal "$(jq .considered <<<"$output")" 0
}

@test "etcd: deregister removes the advert at once, and a second one is exit 4" {
	run rm-probe register -q --registry "$REG" --from "$M/executors/gpu-4090.json" --ttl 300
	assert_success
	run rm-probe register -q --registry "$REG" --from "$M/executors/cpu-big.json" --ttl 300
	assert_success
	run rm-probe deregister --registry "$REG" --id gpu-4090
	assert_success
	assert_equal "$(etcd_keys "$PREFIX/executors/")" "/$PREFIX/executors/cpu-big"
	run --separate-stderr rm-match --json --all --no-local --registry "$REG" "$M/nodes/gpu8.json"
	assert_failure 1
	assert_equal "$(jq -r '[.executors[].id, .rejected[].id] | join(",")' <<<"$output")" cpu-big
	run rm-probe deregister --registry "$REG" --id gpu-4090
	assert_failure 4
	assert_output --partial "gpu-4090"
}

@test "etcd: re-registering moves the advert to a new lease and revokes the old one" {
	run rm-probe register -q --registry "$REG" --from "$M/executors/gpu-4090.json" --ttl 300
	assert_success
	n1=$(curl -fsS -X POST "$ETCD_HTTP/v3/lease/leases" -d '{}' | jq '.leases | length')
	run rm-probe register -q --registry "$REG" --from "$M/executors/gpu-4090.json" --ttl 300
	assert_success
	n2=$(curl -fsS -X POST "$ETCD_HTTP/v3/lease/leases" -d '{}' | jq '.leases | length')
	assert_equal "$n2" "$n1"
	assert_equal "$(etcd_keys "$PREFIX/executors/")" "/$PREFIX/executors/gpu-4090"
}

@test "etcd: unreachable endpoints are exit 6 naming each one tried, in order" {
	p1=$(free_port)
	p2=$(free_port)
	run --separate-stderr rm-match --no-local --registry "etcd://127.0.0.1:$p1,127.0.0.1:$p2" \
		"$M/nodes/gpu8.json"
	assert_failure 6
	[[ $stderr == *"etcd unreachable: tried 127.0.0.1:$p1, 127.0.0.1:$p2"* ]]
	run --separate-stderr rm-probe register --registry "etcd://127.0.0.1:$p1" \
		--from "$M/executors/gpu-4090.json"
	assert_failure 6
	[[ $stderr == *"127.0.0.1:$p1"* ]]
	# a dead first endpoint is passed over for a live second one
	run rm-probe register -q --registry "etcd://127.0.0.1:$p1,${ETCD_URL#etcd://}/$PREFIX" \
		--from "$M/executors/gpu-4090.json" --ttl 300
	assert_success
	assert_equal "$(etcd_keys "$PREFIX/executors/")" "/$PREFIX/executors/gpu-4090"
}

@test "etcd: a bad registry URL is exit 2 on argv and environment, exit 3 in config.yaml" {
	for u in 'etcd://' 'etcd://host' 'etcd://host:0' 'etcd://host:99999' 'etcd://h:1,' \
		'etcd://user:pw@h:1' 'etcds://' 'http://h:1' 'dir:' 'etcd://h:1/a b'; do
		run --separate-stderr rm-match --no-local --registry "$u" "$M/nodes/gpu8.json"
		assert_failure 2
		[[ $stderr == *"--registry: "* ]]
		run --separate-stderr rm-probe deregister --registry "$u" --id x
		assert_failure 2
	done
	run --separate-stderr env REMOTEMEDIA_REGISTRY=etcd://nohost rm-match --no-local "$M/nodes/gpu8.json"
	assert_failure 2
	[[ $stderr == *"REMOTEMEDIA_REGISTRY: \"nohost\": expected HOST:PORT"* ]]
	mkdir -p "$REMOTEMEDIA_HOME"
	printf 'registry: etcd://h:70000\n' > "$REMOTEMEDIA_HOME/config.yaml"
	run --separate-stderr rm-match --no-local "$M/nodes/gpu8.json"
	assert_failure 3
	[[ $stderr == *"config.yaml: registry: \"h:70000\": the port must be"* ]]
}

@test "etcd: rm-schedule plan follows REMOTEMEDIA_REGISTRY to the adverts in etcd" {
	SF=$FIXTURES/schedule
	for f in "$SF"/three/*.json; do
		run rm-probe register -q --registry "$REG" --from "$f" --ttl 300
		assert_success
	done
	run --separate-stderr env REMOTEMEDIA_REGISTRY="$REG" \
		rm-schedule plan --no-local -p greedy "$SF/pipelines/three.yaml"
	assert_success
	assert_equal "$(jq -r '.nodes[0].executor' <<<"$output")" ex-a
	# and without it, the (empty) directory has nothing to offer
	run --separate-stderr rm-schedule plan --no-local -p greedy "$SF/pipelines/three.yaml"
	assert_failure 1
	# --registry says the same on argv, and wins over the environment
	run --separate-stderr env REMOTEMEDIA_REGISTRY=dir:/nonexistent \
		rm-schedule plan --registry "$REG" --no-local -p greedy "$SF/pipelines/three.yaml"
	assert_success
	assert_equal "$(jq -r '.nodes[0].executor' <<<"$output")" ex-a
	run --separate-stderr rm-schedule plan --registry nosuch:x "$SF/pipelines/three.yaml"
	assert_failure 2
	[[ $stderr == *'--registry: "nosuch:x"'* ]]
}

@test "etcd: verify never overwrites what a register on another host wrote meanwhile" {
	RMP=$(command -v rm-probe)
	BOX=$BATS_TEST_TMPDIR/nvidia-box
	cp -a "$FIXTURES/probe/nvidia-box" "$BOX"
	H2=$BATS_TEST_TMPDIR/host2
	mkdir -p "$H2"
	run env PATH="$BOX/bin" "$RMP" --root "$BOX" register -q --registry "$REG" --ttl 600 \
		--set region=eu-west
	assert_success
	# verify reads the advert, then waits before its write; host 2 registers in between
	RM_TEST_RMW_DELAY_MS=2000 PATH="$BOX/bin" "$RMP" --root "$BOX" verify \
		--registry "$REG" >"$BATS_TEST_TMPDIR/v.out" 2>"$BATS_TEST_TMPDIR/v.err" &
	vp=$!
	echo "$vp" > "$BATS_TEST_TMPDIR/verify.bgpid"
	sleep 0.7
	run env REMOTEMEDIA_HOME="$H2" PATH="$BOX/bin" "$RMP" --root "$BOX" register -q \
		--registry "$REG" --ttl 600 --set region=eu-north
	assert_success
	rc=0
	wait $vp || rc=$?
	cat "$BATS_TEST_TMPDIR/v.err"
	assert_equal "$rc" 0
	grep -q "etcd key /$PREFIX/executors/gpu1 changed since it was read (at revision [0-9]*): another writer was first; not overwritten" "$BATS_TEST_TMPDIR/v.err"
	assert_equal "$(etcd_get "$PREFIX/executors/gpu1" | jq -r .region)" eu-north
	# with nobody in between, verify writes as before
	run env PATH="$BOX/bin" "$RMP" --root "$BOX" verify --registry "$REG"
	assert_success
	assert_equal "$(etcd_get "$PREFIX/executors/gpu1" | jq -r .region)" eu-north
}

# the lease of PREFIX's advert ID (decimal), empty when there is no such key
lease_of() {
	curl -fsS -X POST "$ETCD_HTTP/v3/kv/range" \
		-d "{\"key\":\"$(printf '/%s/executors/%s' "$PREFIX" "$1" | base64 -w0)\"}" |
		jq -r '.kvs[0].lease // empty'
}

# wait_key ID present|absent [TENTHS]
wait_key() {
	for _ in $(seq 1 "${3:-100}"); do
		if [ "$2" = present ] && [ -n "$(lease_of "$1")" ]; then return 0; fi
		if [ "$2" = absent ] && [ -z "$(lease_of "$1")" ]; then return 0; fi
		sleep 0.1
	done
	return 1
}

@test "etcd: rm-probe watch keeps the lease alive past its ttl, registers again when it is lost, and lets it run out on SIGTERM" {
	RMP=$(command -v rm-probe)
	BOX=$FIXTURES/probe/cpu-box
	id=$(PATH="$BOX/bin" "$RMP" --root "$BOX" --json | jq -r .id)
	PATH="$BOX/bin" "$RMP" --root "$BOX" watch -v --registry "$REG" --ttl 3 --interval 600 \
		>"$BATS_TEST_TMPDIR/w.out" 2>"$BATS_TEST_TMPDIR/w.err" &
	wp=$!
	echo "$wp" > "$BATS_TEST_TMPDIR/watch.bgpid"
	wait_key "$id" present
	l1=$(lease_of "$id")
	# three ttls later: the same advert on the same lease, matched
	sleep 9
	assert_equal "$(lease_of "$id")" "$l1"
	run --separate-stderr rm-match --json --all --no-local --registry "$REG" <(echo '{"id":"n"}')
	assert_equal "$(jq -r '[.executors[].id] | join(",")' <<<"$output")" "$id"
	# the lease revoked behind its back: the advert is back within a second or two
	curl -fsS -X POST "$ETCD_HTTP/v3/lease/revoke" -d "{\"ID\":\"$l1\"}" >/dev/null
	wait_key "$id" present 30
	l2=$(lease_of "$id")
	[ "$l2" != "$l1" ]
	grep -q "the lease of $id was lost; registering it again" "$BATS_TEST_TMPDIR/w.err"
	assert_equal "$(grep -c '"event":"registered"' "$BATS_TEST_TMPDIR/w.out")" 2
	# stopped: the lease is not revoked, it runs out (3 s)
	kill -TERM "$wp"
	wait "$wp" || true
	assert_equal "$(lease_of "$id")" "$l2"
	wait_key "$id" absent 60
}

@test "etcd: rm-probe watch rides out an etcd restart with the same lease" {
	RMP=$(command -v rm-probe)
	BOX=$FIXTURES/probe/cpu-box
	etcd_start "$BATS_TEST_TMPDIR/etcd2"
	REG=$ETCD_URL/$PREFIX
	id=$(PATH="$BOX/bin" "$RMP" --root "$BOX" --json | jq -r .id)
	PATH="$BOX/bin" "$RMP" --root "$BOX" watch --registry "$REG" --ttl 3 --interval 600 \
		>"$BATS_TEST_TMPDIR/w.out" 2>"$BATS_TEST_TMPDIR/w.err" &
	wp=$!
	echo "$wp" > "$BATS_TEST_TMPDIR/watch.bgpid"
	wait_key "$id" present
	l1=$(lease_of "$id")
	etcd_stop "$ETCD_PID"
	sleep 2
	etcd_restart "$BATS_TEST_TMPDIR/etcd2"
	sleep 7
	assert_equal "$(lease_of "$id")" "$l1"
	grep -q "cannot keep the lease of $id alive: etcd unreachable: tried 127.0.0.1:" "$BATS_TEST_TMPDIR/w.err"
	kill -TERM "$wp"
	wait "$wp" || true
}

@test "etcds://: TLS with the CA, client certificate and key from config.yaml; refused without the CA" {
	command -v openssl >/dev/null || skip "openssl is not installed"
	etcd_start_tls "$BATS_TEST_TMPDIR/tls"
	REG=$ETCD_URL/$PREFIX
	mkdir -p "$REMOTEMEDIA_HOME"
	pki=$BATS_TEST_TMPDIR/tls/pki
	cp "$pki/client.key" "$REMOTEMEDIA_HOME/etcd-client.key"
	# a relative path is beside config.yaml
	printf 'etcd:\n  cacert: %s\n  cert: %s\n  key: etcd-client.key\n' \
		"$pki/ca.pem" "$pki/client.pem" > "$REMOTEMEDIA_HOME/config.yaml"
	run rm-probe register -q --registry "$REG" --from "$M/executors/gpu-4090.json" --ttl 300
	assert_success
	run --separate-stderr rm-match --json --no-local --registry "$REG" "$M/nodes/gpu8.json"
	assert_success
	assert_equal "$(jq -r '.executors[0].id' <<<"$output")" gpu-4090
	# shellcheck disable=SC2086
	assert_equal "$(curl -fsS $ETCD_CURL_TLS -X POST "$ETCD_HTTP/v3/kv/range" \
		-d "{\"key\":\"$(printf '/%s/executors/gpu-4090' "$PREFIX" | base64 -w0)\"}" |
		jq -r '.kvs[0].value | @base64d | fromjson | .id')" gpu-4090
	# the queue and its watch go over TLS too (a prefix without executors)
	REG=${REG}q
	run --separate-stderr rm-schedule plan --registry "$REG" --no-local \
		"$FIXTURES/schedule/pipelines/shot.json"
	assert_failure 1
	(sleep 2; rm-probe register -q --registry "$REG" \
		--from "$FIXTURES/schedule/shot/linux-shot.json" >/dev/null) &
	run --separate-stderr rm-schedule reconcile -v --watch --timeout 10 --no-local --registry "$REG"
	assert_success
	[[ $stderr == *"watching etcd from revision"* ]]
	assert_equal "$(jq -r '.placed[0].executor' <<<"$output")" linux-shot
	# without the client certificate, or trusting another CA: exit 6, saying why
	printf 'etcd:\n  cacert: %s\n' "$pki/ca.pem" > "$REMOTEMEDIA_HOME/config.yaml"
	run --separate-stderr rm-match --no-local --registry "$REG" "$M/nodes/gpu8.json"
	assert_failure 6
	[[ $stderr == *"etcd unreachable: tried 127.0.0.1:"* ]]
	printf 'etcd:\n  cert: %s\n  key: %s\n' "$pki/client.pem" "$pki/client.key" \
		> "$REMOTEMEDIA_HOME/config.yaml"
	run --separate-stderr rm-match --no-local --registry "$REG" "$M/nodes/gpu8.json"
	assert_failure 6
	[[ $stderr == *"certificate"* ]]
}

@test "etcd auth: user and password from config.yaml; a wrong password is exit 6, never printed" {
	command -v etcdctl >/dev/null || skip "etcdctl is not installed (etcd-client)"
	etcd_start "$BATS_TEST_TMPDIR/auth"
	REG=$ETCD_URL/$PREFIX
	ctl() { ETCDCTL_API=3 etcdctl --endpoints="${ETCD_URL#etcd://}" "$@" >/dev/null; }
	ctl user add root --new-user-password=rootpw --interactive=false
	ctl user grant-role root root
	ctl user add rm --new-user-password='s3cr3t-Pw' --interactive=false
	ctl role add rmrole
	ctl role grant-permission rmrole --prefix=true readwrite "/$PREFIX/"
	ctl user grant-role rm rmrole
	ctl auth enable
	mkdir -p "$REMOTEMEDIA_HOME"
	# no credentials: etcd's refusal, exit 6
	run --separate-stderr rm-match --no-local --registry "$REG" "$M/nodes/gpu8.json"
	assert_failure 6
	[[ $stderr == *"user name is empty"* ]]
	# over plain etcd:// the password would cross in clear: refused unless said
	printf 'etcd:\n  user: rm\n  password_env: RM_TEST_ETCD_PW\n' > "$REMOTEMEDIA_HOME/config.yaml"
	run --separate-stderr env RM_TEST_ETCD_PW='s3cr3t-Pw' rm-probe register -q --registry "$REG" \
		--from "$M/executors/gpu-4090.json" --ttl 300
	assert_failure 3
	[[ $stderr == *"config.yaml: etcd.user: etcd authentication over etcd:// would send the password in clear"* ]]
	printf 'etcd:\n  user: rm\n  password_env: RM_TEST_ETCD_PW\n  plain_auth: true\n' \
		> "$REMOTEMEDIA_HOME/config.yaml"
	run env RM_TEST_ETCD_PW='s3cr3t-Pw' rm-probe register -q --registry "$REG" \
		--from "$M/executors/gpu-4090.json" --ttl 300
	assert_success
	printf 'etcd:\n  user: rm\n  password: s3cr3t-Pw\n  plain_auth: true\n' > "$REMOTEMEDIA_HOME/config.yaml"
	run --separate-stderr rm-match -vv --json --no-local --registry "$REG" "$M/nodes/gpu8.json"
	assert_success
	assert_equal "$(jq -r '.executors[0].id' <<<"$output")" gpu-4090
	[[ $stderr != *"s3cr3t"* ]]
	printf 'etcd:\n  user: rm\n  password: WrongPw-123\n  plain_auth: true\n' > "$REMOTEMEDIA_HOME/config.yaml"
	run --separate-stderr rm-match -vv --no-local --registry "$REG" "$M/nodes/gpu8.json"
	assert_failure 6
	[[ $stderr == *'authentication as user "rm" failed: etcdserver: authentication failed, invalid user ID or password'* ]]
	[[ $stderr != *"WrongPw"* ]]
}

@test "etcd: a bad etcd: block in config.yaml is exit 3 naming the field" {
	mkdir -p "$REMOTEMEDIA_HOME"
	for blk in 'etcd: [1]' $'etcd:\n  passwd: x' $'etcd:\n  user: rm' $'etcd:\n  cacert: 3' \
		$'etcd:\n  user: rm\n  password_env: RM_NO_SUCH_VAR'; do
		printf '%s\n' "$blk" > "$REMOTEMEDIA_HOME/config.yaml"
		run --separate-stderr rm-match --no-local --registry "$REG" "$M/nodes/gpu8.json"
		assert_failure 3
		[[ $stderr == *"config.yaml: etcd"* ]]
	done
	[[ $stderr == *"etcd.password_env: the environment has no RM_NO_SUCH_VAR"* ]]
}
