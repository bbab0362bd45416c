#!/bin/bash
# A package moved peer to peer (rm-cache fetch --peer / serve) between two
# network namespaces joined by a veth pair, side by side with scp of the same
# .rmpkg between the same namespaces (sshd in A): throughput, connection
# setup (a small package end to end), peak RSS of each side. Needs root.
# usage: tests/bench/p2p.sh [BUILDDIR] [SIZE_MIB...]   (default 256)
# P2P_SETUP_RUNS: how many times set-up is measured (default 5)
# P2P_RUNS: transfers of each size in each form, medians reported (default 3)
#
# Each size is measured in two layouts of the machine's CPUs:
#  - shared: both "hosts" run on all cores, competing for them as no two
#    real hosts do. Over ssh the serving side is in sshd's session, and with
#    the kernel's autogroup scheduling (/proc/sys/kernel/sched_autogroup_enabled)
#    each session is scheduled as one group: the packet-passing threads of
#    both sides then take a fifth to a half more CPU for the same bytes, and
#    the channel runs at two thirds to four fifths of its "netns" rate
#    (measured: with autogroup off both forms reach the netns rate; a netns
#    server given a session of its own with setsid -w is as slow as ssh);
#  - one core per host (two cores or more): namespace A's processes (sshd,
#    the server, scp's far end) on core 0, B's (the fetcher, scp) on core 1,
#    as two machines would be.
# Forms: "netns" runs the server with ip netns exec (the issue's own form),
# "ssh" through sshd in A, the way a user reaches another machine.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top}
shift || true
sizes=${*:-256}
for d in "$build"/tools/*/; do PATH=${d%/}:$PATH; done
export PATH RM_TOP_SRCDIR=$top REMOTEMEDIA_SHARE=$top/share/remotemedia REMOTEMEDIA_ENV=development
work=$(mktemp -d /tmp/rm-bench-p2p.XXXXXX)
A=rmbA$$ B=rmbB$$
cleanup() {
	for f in "$work/sshd.pid" "$work/sshd1.pid"; do
		[ ! -f "$f" ] || kill "$(cat "$f")" 2>/dev/null || true
	done
	netns_del "$A" "$B"
	rm -rf "$work"
}
trap cleanup EXIT
export HOME=$work/home GST_REGISTRY=$work/gst-registry.bin
mkdir -p "$HOME"
source "$top/tests/fixtures/oci/registry.bash"
source "$top/tests/fixtures/p2p/netns.bash"
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

netns_pair "$A" "$B" "rmb$$" 10.214.0

# sshd in A, for scp and for the peer command as it is used for real
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
ssh-keygen -q -t ed25519 -N '' -f "$work/id"
cp "$work/id.pub" "$work/authorized_keys"
chmod 600 "$work/authorized_keys"
cat > "$work/sshd_config" <<EOF
Port 2222
ListenAddress 10.214.0.1
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $work/sshd.pid
Subsystem sftp internal-sftp
EOF
mkdir -p /run/sshd
ip netns exec "$A" /usr/sbin/sshd -f "$work/sshd_config"
ncpu=$(nproc)
if [ "$ncpu" -ge 2 ]; then
	# the same, on core 0 alone (its sessions inherit that): port 2223
	sed -e 's/^Port 2222/Port 2223/' -e "s|^PidFile .*|PidFile $work/sshd1.pid|" \
	    "$work/sshd_config" > "$work/sshd1_config"
	ip netns exec "$A" taskset -c 0 /usr/sbin/sshd -f "$work/sshd1_config"
fi
sshopt="-F /dev/null -i $work/id -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
ssh="ssh $sshopt -p 2222"
ports=2222
[ "$ncpu" -lt 2 ] || ports="2222 2223"
for port in $ports; do
	for _ in $(seq 50); do
		ip netns exec "$B" ssh $sshopt -p "$port" root@10.214.0.1 true 2>/dev/null && break
		sleep 0.1
	done
done

srv=$work/serving
# the server as either form starts it, its peak RSS in srv.rss
server="env PATH=$PATH HOME=$HOME GST_REGISTRY=$GST_REGISTRY REMOTEMEDIA_HOME=$srv /usr/bin/time -f %M -o $work/srv.rss rm-cache serve --stdio"
serve="$ssh root@10.214.0.1 $server"
# median of numbers on stdin
median() { sort -n | awk '{v[NR] = $1} END {print NR ? v[int((NR + 1) / 2)] : 0}'; }

# pkg NAME MIB: a package holding a model of MIB MiB of random bytes, in A's cache
pkg() {
	mkdir -p "$work/$1/src/models" "$work/$1/out"
	cp "$top/share/remotemedia/examples/voice.yaml" "$work/$1/src/"
	head -c $(($2 * 1048576)) /dev/urandom > "$work/$1/src/models/tiny-vad.safetensors"
	p=$(SOURCE_DATE_EPOCH=1700000000 rm-build -q -o "$work/$1/out" "$work/$1/src/voice.yaml" | jq -r .path)
	REMOTEMEDIA_HOME=$srv rm-cache fetch -q "$p" >/dev/null
	rm -rf "$work/$1/src"
	rm-inspect --json "$p" 2>/dev/null | jq -r .digest
	echo "$p" > "$work/$1/pkgfile"
}

# fetch DIGEST [SERVE [B-WRAPPER]]: into a fresh cache in B; prints seconds,
# the client's peak RSS (KB) and the channel's own rate (MB/s)
fetch() {
	local t
	rm -rf "$work/b"
	t=$(now)
	ip netns exec "$B" ${3:-} env REMOTEMEDIA_HOME="$work/b" /usr/bin/time -f %M -o "$work/cli.rss" \
	    rm-cache fetch -v --peer "${2:-$serve}" "$1" 2>"$work/cli.log" >/dev/null
	# the channel alone: "received N bytes of ... (X MB/s)"
	echo "$(since "$t") $(cat "$work/cli.rss") $(sed -n 's/.*received .* (\([0-9.]*\) MB\/s).*/\1/p' "$work/cli.log")"
}

small=$(pkg small 1)
fetch "$small" >/dev/null	# warms GStreamer's plugin registry
# set-up varies from run to run (each side makes a DTLS key): several runs
runs=${P2P_SETUP_RUNS:-5}
setups=$(for _ in $(seq "$runs"); do fetch "$small" | cut -d' ' -f1; done | sort -n)
t=$(now)
ip netns exec "$B" $ssh root@10.214.0.1 true
printf 'connection setup (1 MiB package end to end, over ssh), %d runs: min %.2f s, median %.2f s, max %.2f s (ssh alone: %.2f s)\n' \
    "$runs" "$(head -1 <<<"$setups")" "$(median <<<"$setups")" \
    "$(tail -1 <<<"$setups")" "$(since "$t")"
# the same without ssh: the peer command enters A itself (the issue's own form)
direct="ip netns exec $A $server"
setups=$(for _ in $(seq "$runs"); do fetch "$small" "$direct" | cut -d' ' -f1; done | sort -n)
printf 'connection setup (1 MiB package end to end, ip netns exec), %d runs: min %.2f s, median %.2f s, max %.2f s\n' \
    "$runs" "$(head -1 <<<"$setups")" "$(median <<<"$setups")" "$(tail -1 <<<"$setups")"
runs=${P2P_RUNS:-3}
layouts=shared
[ "$ncpu" -lt 2 ] || layouts="shared pinned"
printf '(autogroup scheduling: %s; %d runs each, medians; MB/s of the .rmpkg bytes)\n' \
    "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo unknown)" "$runs"
for mib in $sizes; do
	# the serving cache keeps it as blobs: served from a package made from them
	d=$(pkg "m$mib" "$mib")
	f=$(cat "$work/m$mib/pkgfile")
	bytes=$(stat -c %s "$f")
	for lay in $layouts; do
		if [ "$lay" = pinned ]; then
			wa="taskset -c 0" wb="taskset -c 1" port=2223 what="one core per host"
		else
			wa="" wb="" port=2222 what="shared cores"
		fi
		for form in netns ssh; do
			if [ "$form" = netns ]; then
				cmd="ip netns exec $A $wa $server"
			else
				cmd="ssh $sshopt -p $port root@10.214.0.1 $server"
			fi
			: > "$work/runs"
			for _ in $(seq "$runs"); do
				fetch "$d" "$cmd" "$wb" >> "$work/runs"
				cat "$work/srv.rss" >> "$work/srss"
				cmp "$f" "$(REMOTEMEDIA_HOME=$work/b rm-cache path --package "$d")"
			done
			secs=$(cut -d' ' -f1 "$work/runs" | median)
			printf '%5d MiB, %-18s %-5s: peer %6.1f MB/s end to end (%.1f s), channel %5.1f MB/s (runs: %s); RSS fetch %d MB, serve %d MB\n' \
			    "$mib" "$what," "$form" "$(echo "$bytes / $secs / 1000000" | bc -l)" \
			    "$secs" "$(cut -d' ' -f3 "$work/runs" | median)" \
			    "$(cut -d' ' -f3 "$work/runs" | tr '\n' ' ' | sed 's/ $//')" \
			    $(($(cut -d' ' -f2 "$work/runs" | sort -n | tail -1) / 1024)) \
			    $(($(sort -n "$work/srss" | tail -1) / 1024))
			rm -f "$work/srss"
		done
		: > "$work/runs"
		for _ in $(seq "$runs"); do
			t=$(now)
			ip netns exec "$B" $wb scp -q $sshopt -P "$port" "root@10.214.0.1:$f" "$work/scp.out"
			since "$t" >> "$work/runs"
			rm -f "$work/scp.out"
		done
		secs=$(median < "$work/runs")
		printf '%5d MiB, %-18s scp  : %6.1f MB/s (%.1f s)\n' "$mib" "$what," \
		    "$(echo "$bytes / $secs / 1000000" | bc -l)" "$secs"
	done
	rm -f "$f"
	REMOTEMEDIA_HOME=$srv rm-cache clear "$d" >/dev/null
	rm -rf "$work/b"
done
