#!/usr/bin/env bats
# rm-schedule run over slurm:// against a real single-node Slurm (Debian
# slurm-wlm and munge, started here without systemd; DESIGN.md section 10).

load test_helper
bats_require_minimum_version 1.5.0

F=$RM_TOP_SRCDIR/tests/fixtures/run

setup_file() {
	if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
	    ! command -v srun >/dev/null || ! [ -x /usr/sbin/munged ]; then
		export RM_SLURM_SKIP="slurm-wlm and munge are not installed"
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		export RM_SLURM_SKIP="a single-node Slurm is started as root only"
		return 0
	fi
	D=$BATS_FILE_TMPDIR/slurm
	mkdir -p "$D/state" "$D/spool" "$D/log"
	# munged as the munge user, unless one already answers
	if ! munge -n </dev/null >/dev/null 2>&1; then
		mkdir -p /run/munge /var/log/munge /var/lib/munge
		chown munge: /run/munge /var/log/munge /var/lib/munge
		[ -s /etc/munge/munge.key ] || {
			dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
			chown munge: /etc/munge/munge.key
			chmod 400 /etc/munge/munge.key
		}
		runuser -u munge -- /usr/sbin/munged
		echo started > "$D/munged.ours"
		for _ in $(seq 50); do munge -n </dev/null >/dev/null 2>&1 && break; sleep 0.1; done
	fi
	P1=$(free_port)
	P2=$(free_port)
	cat > "$D/slurm.conf" <<-EOF
	ClusterName=rmtest
	SlurmctldHost=$(hostname -s)(127.0.0.1)
	SlurmUser=root
	SlurmdUser=root
	SlurmctldPort=$P1
	SlurmdPort=$P2
	AuthType=auth/munge
	StateSaveLocation=$D/state
	SlurmdSpoolDir=$D/spool
	SlurmctldPidFile=$D/slurmctld.pid
	SlurmdPidFile=$D/slurmd.pid
	SlurmctldLogFile=$D/log/slurmctld.log
	SlurmdLogFile=$D/log/slurmd.log
	ProctrackType=proctrack/linuxproc
	TaskPlugin=task/none
	SelectType=select/cons_tres
	SelectTypeParameters=CR_Core
	ReturnToService=2
	MpiDefault=none
	JobAcctGatherType=jobacct_gather/none
	AccountingStorageType=accounting_storage/none
	NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) Feature=h264,linux State=UNKNOWN
	PartitionName=rmq Nodes=localhost Default=YES MaxTime=INFINITE State=UP
	EOF
	export SLURM_CONF=$D/slurm.conf
	slurmctld -i
	slurmd -N localhost
	for _ in $(seq 120); do
		sinfo -h -o %T 2>/dev/null | grep -qx idle && break
		sleep 0.5
	done
	if ! sinfo -h -o %T 2>/dev/null | grep -qx idle; then
		export RM_SLURM_FAIL="slurm did not become ready: $(sinfo -h -o '%T %E' 2>&1 | head -2)"
	fi
	export RM_SLURM_DIR=$D
}

teardown_file() {
	[ -n "${RM_SLURM_DIR:-}" ] || return 0
	local f
	for f in slurmd.pid slurmctld.pid; do
		[ -s "$RM_SLURM_DIR/$f" ] && kill "$(cat "$RM_SLURM_DIR/$f")" 2>/dev/null
	done
	if [ -e "$RM_SLURM_DIR/munged.ours" ] && [ -s /run/munge/munged.pid ]; then
		kill "$(cat /run/munge/munged.pid)" 2>/dev/null
	fi
	return 0
}

setup() {
	[ -z "${RM_SLURM_SKIP:-}" ] || skip "$RM_SLURM_SKIP"
	[ -z "${RM_SLURM_FAIL:-}" ] || { echo "$RM_SLURM_FAIL" >&2; return 1; }
	jq '.id = "s-slurm" | .endpoint = "slurm://rmq" | .capabilities.tags = ["demo", "h264", "av1"]' \
	    "$F/b-local.json" > "$BATS_TEST_TMPDIR/s-slurm.json"
}

@test "rm-schedule run: a node runs through srun with its tags as --constraint" {
	cat > "$BATS_TEST_TMPDIR/p.yaml" <<-'EOF'
	schema: remotemedia.pipeline/1
	name: on-slurm
	nodes:
	  - {id: src, type: Command, exec: "echo frame"}
	  - {id: enc, type: Command, capabilities: {tags: [h264], cpu: {cores: 1}}, exec: 'read x; echo "$x encoded in job ${SLURM_JOB_ID:-none} on $REMOTEMEDIA_EXECUTOR"'}
	edges: [[src, enc]]
	EOF
	run rm-schedule run --run-id sl -x "$BATS_TEST_TMPDIR/s-slurm.json" "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	assert_output --regexp '^frame encoded in job [0-9]+ on s-slurm$'
	jq -se '[.[] | select(.event == "start" and .node == "enc")][0].argv |
	    index("--constraint=h264") and index("--cpus-per-task=1") and index("--partition=rmq")' \
	    "$REMOTEMEDIA_HOME/runs/sl/decisions.jsonl"
}

@test "rm-schedule run: a feature no Slurm node offers is refused with Invalid feature specification; fails over, else exit 8" {
	cat > "$BATS_TEST_TMPDIR/p.yaml" <<-'EOF'
	schema: remotemedia.pipeline/1
	name: av1
	nodes:
	  - {id: enc, type: Command, capabilities: {tags: [av1]}, exec: 'echo "av1 on $REMOTEMEDIA_EXECUTOR"'}
	EOF
	run rm-schedule run --run-id refused -x "$BATS_TEST_TMPDIR/s-slurm.json" "$BATS_TEST_TMPDIR/p.yaml"
	[ "$status" -eq 8 ]
	assert_output --partial "s-slurm: srun: error:"
	assert_output --partial "Invalid feature specification"
	jq -se '[.[] | select(.event == "failed")][0] | .reason == "slurm_refused"' \
	    "$REMOTEMEDIA_HOME/runs/refused/decisions.jsonl"
	# with a local executor that has av1 as well, the node fails over to it
	jq '.id = "t-local" | .capabilities.tags = ["av1"]' "$F/b-local.json" > "$BATS_TEST_TMPDIR/t.json"
	run --separate-stderr rm-schedule run --run-id refused2 -x "$BATS_TEST_TMPDIR/s-slurm.json" \
	    -x "$BATS_TEST_TMPDIR/t.json" "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	[[ $stderr == *"node enc: executor s-slurm failed ("*"Invalid feature specification"*"), trying t-local"* ]]
	assert_output "av1 on t-local"
	[ "$(jq -r '.executor + " " + .status + " " + (.reason // "")' "$REMOTEMEDIA_HOME/runs/refused2/costs.jsonl")" = "s-slurm failed slurm_refused
t-local ok " ]
}

@test "rm-schedule run: a streaming node whose Slurm job is cancelled resumes on another executor from its relayed checkpoint" {
	cat > "$BATS_TEST_TMPDIR/s.yaml" <<-'EOF'
	schema: remotemedia.pipeline/1
	name: stream-on-slurm
	nodes:
	  - {id: src, type: Command, exec: "seq 1 8 | sed 's/^/record-/'"}
	  - id: up
	    type: Command
	    capabilities: {tags: [h264]}
	    exec: |
	      off=0 n=0
	      while IFS= read -r l; do
	        n=$((n + 1))
	        printf '%s %s\n' "$l" "$REMOTEMEDIA_EXECUTOR"
	        off=$((off + ${#l} + 1))
	        if [ -n "${SLURM_JOB_ID:-}" ] && [ $n = 4 ]; then
	          sleep 0.5
	          scancel "$SLURM_JOB_ID"
	          # the cancel must land before record 4's checkpoint: a busy
	          # slurmd took more than 5 s once (record-4 kept from s-slurm)
	          sleep 60
	        fi
	        echo "$off" >&3
	        read -r ack <&3
	      done
	edges: [[src, up]]
	EOF
	jq '.id = "t-local" | .capabilities.tags = ["h264"] | .pricing.per_hour = 50' "$F/b-local.json" \
	    > "$BATS_TEST_TMPDIR/t.json"
	export REMOTEMEDIA_RELAY=$RM_TOP_BUILDDIR/tools/rm-schedule/rm-schedule
	run --separate-stderr rm-schedule run --no-local --run-id slck -x "$BATS_TEST_TMPDIR/s-slurm.json" \
	    -x "$BATS_TEST_TMPDIR/t.json" "$BATS_TEST_TMPDIR/s.yaml"
	assert_success
	assert_output "record-1 s-slurm
record-2 s-slurm
record-3 s-slurm
record-4 t-local
record-5 t-local
record-6 t-local
record-7 t-local
record-8 t-local"
	jq -se '[.[] | select(.event == "failed" and .node == "up")][0] |
	    .executor == "s-slurm" and .resume_offset == 27' "$REMOTEMEDIA_HOME/runs/slck/decisions.jsonl"
}
