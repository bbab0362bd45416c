# Hosts on Linux network namespaces, for tests that need several machines:
# a bridge, N namespaces joined to it by veth pairs, sshd and etcd inside
# them, and a teardown that leaves nothing behind, even after a failed setup.
#
#   load netns_helper
#   setup_file() { netns_require || return 0; netns_setup 4; ...; }
#   teardown_file() { netns_teardown; }
#
# Host i (0 <= i < N; netns_add_host adds one) is the namespace "$(netns_name i)" at address
# "$(netns_addr i)" = $NETNS_NET.(i+1) on a /24 chosen per run among
# 10.77.0.0/16, with lo up; eth0 is its end of the veth pair. Names carry a
# random tag, so a leftover from an earlier run never collides. Every name
# made is written to $NETNS_STATE before it is made: netns_teardown removes
# what exists of them. Processes started with netns_bg, and anything else
# inside the namespaces, die with them. Background processes close fd 3
# (bats' own) and write to a log, so bats never waits on them.
#
# Requires root and iproute2: netns_require sets NETNS_SKIP to the reason
# and returns 1 otherwise; call `netns_skip` in setup() to skip each test.

# Are namespaces available? Sets NETNS_SKIP (exported) when not.
netns_require() {
	NETNS_SKIP=
	if [ "$(id -u)" -ne 0 ]; then
		NETNS_SKIP="network namespaces need root"
	elif ! command -v ip >/dev/null 2>&1; then
		NETNS_SKIP="iproute2 (ip) is not installed"
	elif ! ip netns list >/dev/null 2>&1; then
		NETNS_SKIP="ip netns does not work here"
	fi
	export NETNS_SKIP
	[ -z "$NETNS_SKIP" ]
}

netns_skip() {
	[ -z "${NETNS_SKIP:-}" ] || skip "$NETNS_SKIP"
}

netns_name() { printf '%sh%s' "$NETNS_TAG" "$1"; }
netns_addr() { printf '%s.%s' "$NETNS_NET" "$(($1 + 1))"; }

# Runs a command on host i: netns_exec 1 rm-probe register ...
netns_exec() {
	local h=$1
	shift
	ip netns exec "$(netns_name "$h")" "$@"
}

# Starts a command on host i in the background, output to LOG; prints its pid.
netns_bg() {
	local h=$1 log=$2
	shift 2
	ip netns exec "$(netns_name "$h")" "$@" >"$log" 2>&1 </dev/null 3>&- &
	disown $! 2>/dev/null || true
	echo $!
}

# Waits (bounded: tries x 0.1 s) for a TCP port to accept on host i.
netns_wait_port() {
	local h=$1 addr=$2 port=$3 tries=${4:-100}
	while [ "$tries" -gt 0 ]; do
		netns_exec "$h" bash -c "exec 9<>/dev/tcp/$addr/$port" 2>/dev/null && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	echo "netns: nothing answers on $addr:$port in $(netns_name "$h")" >&2
	return 1
}

# A free 10.77.X.0/24: none of the machine's addresses in it.
netns_pick_net() {
	local x
	for _ in $(seq 1 50); do
		x=$((RANDOM % 250 + 1))
		ip -4 -o addr show | grep -q " 10\.77\.$x\." || { echo "10.77.$x"; return 0; }
	done
	return 1
}

# Makes the bridge and N hosts (0 .. N-1). Exports NETNS_TAG, NETNS_NET,
# NETNS_N, NETNS_STATE and NETNS_DIR (a directory for the hosts' files).
netns_setup() {
	local n=$1 i
	NETNS_DIR=${BATS_FILE_TMPDIR:-$BATS_TEST_TMPDIR}/netns
	mkdir -p "$NETNS_DIR"
	NETNS_STATE=$NETNS_DIR/state
	: >"$NETNS_STATE"
	NETNS_N=0
	for _ in $(seq 1 20); do
		NETNS_TAG=rm$(printf '%04x' $((RANDOM % 65536)))
		ip link show "${NETNS_TAG}br" >/dev/null 2>&1 ||
			[ -e "/run/netns/$(netns_name 0)" ] || break
	done
	NETNS_NET=$(netns_pick_net) || { echo "netns: no free 10.77.X.0/24" >&2; return 1; }
	export NETNS_DIR NETNS_STATE NETNS_N NETNS_TAG NETNS_NET
	echo "link ${NETNS_TAG}br" >>"$NETNS_STATE"
	ip link add "${NETNS_TAG}br" type bridge || return 1
	ip link set "${NETNS_TAG}br" up || return 1
	for ((i = 0; i < n; i++)); do
		netns_add_host || return 1
	done
}

# One more host, number $NETNS_N (a host that joins later: a fourth
# executor starting mid-test); waits until host 0 reaches it.
netns_add_host() {
	local i=$NETNS_N ns v k
	ns=$(netns_name "$i")
	v=${NETNS_TAG}v$i
	echo "netns $ns" >>"$NETNS_STATE"
	echo "link $v" >>"$NETNS_STATE"
	NETNS_N=$((i + 1))
	export NETNS_N
	ip netns add "$ns" || return 1
	ip link add "$v" type veth peer name "${v}p" || return 1
	ip link set "${v}p" netns "$ns" name eth0 || return 1
	ip link set "$v" master "${NETNS_TAG}br" up || return 1
	ip -n "$ns" addr add "$(netns_addr "$i")/24" dev eth0 || return 1
	ip -n "$ns" link set lo up || return 1
	ip -n "$ns" link set eth0 up || return 1
	[ "$i" -gt 0 ] || return 0
	# the bridge forwards once the port is up (a refused connection to
	# port 9 is an answer)
	for ((k = 0; k < 50; k++)); do
		timeout 2 ip netns exec "$(netns_name 0)" bash -c \
			"exec 9<>/dev/tcp/$(netns_addr "$i")/9" 2>&1 | grep -q refused && return 0
		sleep 0.1
	done
	echo "netns: $(netns_name 0) cannot reach $(netns_addr "$i")" >&2
	return 1
}

# The key pair every sshd accepts: $NETNS_DIR/ssh/id. And REMOTEMEDIA_SSH
# for the runner: this key, known hosts of this run only (the runner's
# StrictHostKeyChecking=accept-new records each host key on first use).
netns_ssh_client() {
	local d=$NETNS_DIR/ssh
	mkdir -p "$d"
	[ -s "$d/id" ] || ssh-keygen -q -t ed25519 -N '' -f "$d/id" || return 1
	cp "$d/id.pub" "$d/authorized_keys"
	chmod 600 "$d/authorized_keys"
	export REMOTEMEDIA_SSH="ssh -F /dev/null -i $d/id -o IdentitiesOnly=yes -o UserKnownHostsFile=$d/known_hosts -o ConnectTimeout=5"
}

# Starts sshd on host i, port 22 of its address, with its own host key.
netns_sshd() {
	local h=$1 d=$NETNS_DIR/sshd$1 pid
	[ -x /usr/sbin/sshd ] || { echo "netns: /usr/sbin/sshd is not installed" >&2; return 1; }
	netns_ssh_client || return 1
	mkdir -p "$d" /run/sshd
	ssh-keygen -q -t ed25519 -N '' -f "$d/host_key" <<<y >/dev/null || return 1
	cat >"$d/sshd_config" <<-EOF
	Port 22
	ListenAddress $(netns_addr "$h")
	HostKey $d/host_key
	AuthorizedKeysFile $NETNS_DIR/ssh/authorized_keys
	PermitRootLogin yes
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	UsePAM no
	StrictModes no
	PidFile $d/sshd.pid
	EOF
	pid=$(netns_bg "$h" "$d/sshd.log" /usr/sbin/sshd -D -e -f "$d/sshd_config")
	echo "$pid" >"$d/pid"
	netns_wait_port "$h" "$(netns_addr "$h")" 22
}

# Starts etcd on host i (client port 2379, peer 2380 of its address); sets
# NETNS_ETCD to etcd://ADDR:2379 and NETNS_ETCD_HTTP to its gateway.
netns_etcd() {
	local h=$1 a d=$NETNS_DIR/etcd$1 i
	command -v etcd >/dev/null 2>&1 || { echo "netns: etcd is not installed" >&2; return 1; }
	a=$(netns_addr "$h")
	mkdir -p "$d"
	netns_bg "$h" "$d/etcd.log" etcd --name "h$h" --data-dir "$d/data" \
		--listen-client-urls "http://$a:2379" --advertise-client-urls "http://$a:2379" \
		--listen-peer-urls "http://$a:2380" --initial-advertise-peer-urls "http://$a:2380" \
		--initial-cluster "h$h=http://$a:2380" >"$d/pid"
	NETNS_ETCD=etcd://$a:2379
	NETNS_ETCD_HTTP=http://$a:2379
	export NETNS_ETCD NETNS_ETCD_HTTP
	for ((i = 0; i < 100; i++)); do
		netns_exec "$h" curl -fsS "$NETNS_ETCD_HTTP/health" 2>/dev/null |
			grep -q '"health":"true"' && return 0
		sleep 0.1
	done
	echo "netns: etcd did not start on $a:" >&2
	tail -5 "$d/etcd.log" >&2
	return 1
}

# Takes host i down as a crash would: every process in it is killed at once
# (sshd and its sessions, lease keep-alives, nodes); the namespace stays.
netns_kill_host() {
	local ns pids i
	ns=$(netns_name "$1")
	for ((i = 0; i < 50; i++)); do
		pids=$(ip netns pids "$ns" 2>/dev/null)
		[ -n "$pids" ] || return 0
		# shellcheck disable=SC2086
		kill -9 $pids 2>/dev/null
		sleep 0.1
	done
	echo "netns: processes of $ns survive: $pids" >&2
	return 1
}

# Removes everything netns_setup made (what of it exists), killing every
# process in the namespaces first. Safe to call twice or after a failure.
netns_teardown() {
	local kind name
	[ -n "${NETNS_STATE:-}" ] && [ -f "$NETNS_STATE" ] || return 0
	while read -r kind name; do
		[ "$kind" = netns ] || continue
		[ -e "/run/netns/$name" ] || continue
		NETNS_TAG=${name%h*} netns_kill_host "${name##*h}" || true
		ip netns del "$name" 2>/dev/null || true
	done <"$NETNS_STATE"
	while read -r kind name; do
		[ "$kind" = link ] || continue
		ip link del "$name" 2>/dev/null || true
	done <"$NETNS_STATE"
	: >"$NETNS_STATE"
	return 0
}
