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

# A streaming node that checkpoints after each record; on its first attempt
# (input offset 0) it takes its host down after the fourth record's output,
# killing the sshd that serves its connection, as a host that dies would.
streaming_pipeline() {
	cat > "$BATS_TEST_TMPDIR/s.yaml" <<-'EOF'
	schema: remotemedia.pipeline/1
	name: stream-over-ssh
	nodes:
	  - {id: src, type: Command, exec: "seq 1 8 | sed 's/^/record-/'"}
	  - id: up
	    type: Command
	    capabilities: {tags: [demo]}
	    exec: |
	      off=0 n=0
	      while IFS= read -r l; do
	        n=$((n + 1))
	        printf '%s %s\n' "$l" "$REMOTEMEDIA_EXECUTOR"
	        off=$((off + ${#l} + 1))
	        if [ "$REMOTEMEDIA_INPUT_OFFSET" = 0 ] && [ $n = 4 ]; then
	          sleep 0.5
	          p=$PPID
	          while [ "$p" -gt 1 ] && [ "$(cat /proc/$p/comm)" != sshd ]; do
	            p=$(cut -d' ' -f4 /proc/$p/stat)
	          done
	          kill -9 "$p"
	          exit 1
	        fi
	        if [ -n "$REMOTEMEDIA_CHECKPOINT_FD" ]; then
	          echo "$off" >&3
	          read -r ack <&3
	        fi
	      done
	edges: [[src, up]]
	EOF
	jq '.id = "y-ssh"' "$BATS_TEST_TMPDIR/z-ssh.json" > "$BATS_TEST_TMPDIR/y-ssh.json"
}

@test "rm-schedule run: a streaming node whose ssh host dies resumes on another ssh executor from its relayed checkpoint, every record once" {
	streaming_pipeline
	export REMOTEMEDIA_RELAY=$RM_TOP_BUILDDIR/tools/rm-schedule/rm-schedule
	run --separate-stderr rm-schedule run --no-local --run-id ck -x "$BATS_TEST_TMPDIR/z-ssh.json" \
	    -x "$BATS_TEST_TMPDIR/y-ssh.json" "$BATS_TEST_TMPDIR/s.yaml"
	assert_success
	D=$REMOTEMEDIA_HOME/runs/ck/decisions.jsonl
	first=$(jq -rs '[.[] | select(.event == "start" and .node == "up")][0].executor' "$D")
	second=$(jq -rs '[.[] | select(.event == "start" and .node == "up")][1].executor' "$D")
	[ "$first" != "$second" ]
	# records 1-3 were checkpointed on the first host, 4-8 ran on the second
	assert_output "record-1 $first
record-2 $first
record-3 $first
record-4 $second
record-5 $second
record-6 $second
record-7 $second
record-8 $second"
	[[ $stderr == *"node up: executor $first failed (ssh failed (exit 255)"*"trying $second from input byte 27"* ]]
	jq -se '[.[] | select(.event == "checkpoint")][0] | .input == 27 and .output == 27 + 18' "$D"
	jq -se '[.[] | select(.event == "failed")][0] | .resume_offset == 27' "$D"
	# the relay's markers stay out of the failure messages
	! grep -q 'remotemedia-checkpoint' "$REMOTEMEDIA_HOME/runs/ck/results.json"
}

@test "rm-schedule run: an ssh executor without the relay still runs the node, without a checkpoint descriptor" {
	export REMOTEMEDIA_RELAY=/nonexistent/rm-schedule
	sed -i 's/^\(    exec: .\)if/\1echo "fd=${REMOTEMEDIA_CHECKPOINT_FD:-none}" >\&2; if/' "$BATS_TEST_TMPDIR/p.yaml"
	run rm-schedule run --no-local --run-id norelay -x "$BATS_TEST_TMPDIR/z-ssh.json" "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	assert_line --partial "|z-ssh|work|three"
	grep -qx 'fd=none' "$REMOTEMEDIA_HOME"/runs/norelay/nodes/work/attempt-1.err
	# with the relay, the node has descriptor 3
	export REMOTEMEDIA_RELAY=$RM_TOP_BUILDDIR/tools/rm-schedule/rm-schedule
	run rm-schedule run --no-local --run-id relay -x "$BATS_TEST_TMPDIR/z-ssh.json" "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	grep -qx 'fd=3' "$REMOTEMEDIA_HOME"/runs/relay/nodes/work/attempt-1.err
}
