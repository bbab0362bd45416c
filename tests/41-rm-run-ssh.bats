#!/usr/bin/env bats
# rm-schedule run over ssh:// against a real sshd (Debian openssh-server)
# started on 127.0.0.1 with a free port and a throw-away key.

load test_helper
bats_require_minimum_version 1.5.0

F=$RM_TOP_SRCDIR/tests/fixtures/run

setup_file() {
	SSHD=/usr/sbin/sshd
	if [ ! -x "$SSHD" ] || ! command -v ssh >/dev/null || ! command -v ssh-keygen >/dev/null; then
		export RM_SSH_SKIP="openssh-server and openssh-client are not installed"
		return 0
	fi
	D=$BATS_FILE_TMPDIR/sshd
	mkdir -p "$D"
	ssh-keygen -q -t ed25519 -N '' -f "$D/host_key"
	ssh-keygen -q -t ed25519 -N '' -f "$D/id"
	cp "$D/id.pub" "$D/authorized_keys"
	chmod 600 "$D/authorized_keys"
	PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
	cat > "$D/sshd_config" <<-EOF
	Port $PORT
	ListenAddress 127.0.0.1
	HostKey $D/host_key
	AuthorizedKeysFile $D/authorized_keys
	PermitRootLogin yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	StrictModes no
	PidFile $D/sshd.pid
	EOF
	[ "$(id -u)" -ne 0 ] || mkdir -p /run/sshd
	"$SSHD" -D -e -f "$D/sshd_config" 2> "$D/sshd.log" &
	echo $! > "$D/pid"
	for _ in $(seq 50); do
		(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
		sleep 0.1
	done
	export RM_SSH_PORT=$PORT RM_SSH_DIR=$D
}

teardown_file() {
	[ -z "${RM_SSH_DIR:-}" ] || kill "$(cat "$RM_SSH_DIR/pid")" 2>/dev/null || true
}

setup() {
	[ -z "${RM_SSH_SKIP:-}" ] || skip "$RM_SSH_SKIP"
	export REMOTEMEDIA_SSH="ssh -F /dev/null -i $RM_SSH_DIR/id -o IdentitiesOnly=yes -o UserKnownHostsFile=$RM_SSH_DIR/known_hosts -o ConnectTimeout=5"
	U=$(id -un)
	jq --arg ep "ssh://$U@127.0.0.1:$RM_SSH_PORT" '.id = "z-ssh" | .endpoint = $ep' \
	    "$F/b-local.json" > "$BATS_TEST_TMPDIR/z-ssh.json"
	cat > "$BATS_TEST_TMPDIR/p.yaml" <<-'EOF'
	schema: remotemedia.pipeline/1
	name: over-ssh
	nodes:
	  - {id: src, type: Command, exec: "printf 'one two\\nthree\\n'"}
	  - id: work
	    type: Command
	    capabilities: {tags: [demo]}
	    params: {greeting: "it's \"quoted\" $HOME `x`"}
	    exec: 'if [ "$REMOTEMEDIA_EXECUTOR" = a-local ]; then echo "fails here" >&2; exit 1; fi; while IFS= read -r l; do printf "%s|%s|%s|%s\n" "$RM_PARAM_GREETING" "$REMOTEMEDIA_EXECUTOR" "$REMOTEMEDIA_NODE" "$l"; done'
	edges: [[src, work]]
	EOF
}

@test "rm-schedule run: a node failing on the local executor succeeds on the ssh executor; the ledger shows both attempts" {
	run --separate-stderr rm-schedule run --run-id viassh -x "$F/a-local.json" \
	    -x "$BATS_TEST_TMPDIR/z-ssh.json" "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	[[ $stderr == *"node work: executor a-local failed (exited with status 1"*"), trying z-ssh"* ]]
	# stdin piped through ssh, params quoted safely, the executor's id in the environment
	assert_output "it's \"quoted\" \$HOME \`x\`|z-ssh|work|one two
it's \"quoted\" \$HOME \`x\`|z-ssh|work|three"
	L=$REMOTEMEDIA_HOME/costs.jsonl
	[ "$(jq -r 'select(.node == "work") | .executor + " " + .status' "$L")" = "a-local failed
z-ssh ok" ]
	jq -se '[.[] | select(.event == "failover")] | .[0].from == "a-local" and .[0].to == "z-ssh"' \
	    "$REMOTEMEDIA_HOME/runs/viassh/decisions.jsonl"
	jq -se '[.[] | select(.event == "start" and .executor == "z-ssh")][0].argv |
	    index("BatchMode=yes") and index("-p")' "$REMOTEMEDIA_HOME/runs/viassh/decisions.jsonl"
}

@test "rm-schedule run: an unreachable ssh executor is recorded as such and the node fails over" {
	P2=$(free_port)
	jq --arg ep "ssh://127.0.0.1:$P2" '.id = "a-down" | .endpoint = $ep' "$F/b-local.json" \
	    > "$BATS_TEST_TMPDIR/a-down.json"
	run rm-schedule run --run-id down -x "$BATS_TEST_TMPDIR/a-down.json" -x "$F/c-local.json" \
	    "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	assert_line --partial "|c-local|work|three"
	jq -se '[.[] | select(.event == "failed")] | .[0].executor == "a-down" and
	    .[0].reason == "unreachable" and (.[0].message | test("exit 255"))' \
	    "$REMOTEMEDIA_HOME/runs/down/decisions.jsonl"
}

@test "rm-schedule run: a node failing on every executor including ssh exits 8 listing both" {
	sed -i 's/= a-local ]/!= nobody ]/' "$BATS_TEST_TMPDIR/p.yaml"
	run rm-schedule run --run-id both -x "$F/a-local.json" -x "$BATS_TEST_TMPDIR/z-ssh.json" \
	    "$BATS_TEST_TMPDIR/p.yaml"
	[ "$status" -eq 8 ]
	assert_output --partial "a-local: exited with status 1: fails here; z-ssh: exited with status 1: fails here"
}
