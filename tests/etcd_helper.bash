# Real etcd servers (Debian etcd-server) on loopback for the etcd suites.
# etcd_start DIR [EXTRA ARGS...]: one member on free ports, data and log in
# DIR; sets ETCD_URL (etcd://127.0.0.1:PORT), ETCD_HTTP and ETCD_PID, and
# appends the pid to $BATS_FILE_TMPDIR/etcd.pids for etcd_stop_all.
# Loading it gives a suite one etcd for the whole file (setup_file) that
# teardown_file stops, with every other etcd the file started, and a
# teardown for each test's background processes.

etcd_need() {
	command -v etcd >/dev/null 2>&1 ||
		skip "etcd is not installed (apt-get install etcd-server etcd-client)"
}

# etcd_wait_health HTTP PID LOG: up to 10 s for /health
etcd_wait_health() {
	local i
	for i in $(seq 1 100); do
		# shellcheck disable=SC2086
		if curl -fsS ${ETCD_CURL_TLS:-} "$1/health" 2>/dev/null | grep -q '"health":"true"'; then
			return 0
		fi
		kill -0 "$2" 2>/dev/null || break
		sleep 0.1
	done
	cat "$3" >&2
	return 1
}

etcd_start() {
	local dir=$1 client peer
	shift
	client=$(free_port)
	peer=$(free_port)
	while [ "$peer" = "$client" ]; do peer=$(free_port); done
	mkdir -p "$dir"
	ETCD_URL=etcd://127.0.0.1:$client
	ETCD_HTTP=http://127.0.0.1:$client
	# the command kept for etcd_restart
	printf '%q ' etcd --name rmtest --data-dir "$dir/data" \
		--listen-client-urls "$ETCD_HTTP" --advertise-client-urls "$ETCD_HTTP" \
		--listen-peer-urls "http://127.0.0.1:$peer" \
		--initial-advertise-peer-urls "http://127.0.0.1:$peer" \
		--initial-cluster "rmtest=http://127.0.0.1:$peer" "$@" > "$dir/cmd"
	etcd_restart "$dir"
}

# Starts the etcd of DIR (etcd_start) again, on its ports and data: ETCD_PID
etcd_restart() {
	local dir=$1
	eval "exec $(cat "$dir/cmd")" >>"$dir/etcd.log" 2>&1 &
	ETCD_PID=$!
	echo "$ETCD_PID" >> "$BATS_FILE_TMPDIR/etcd.pids"
	etcd_wait_health "$ETCD_HTTP" "$ETCD_PID" "$dir/etcd.log" || return 1
	export ETCD_URL ETCD_HTTP ETCD_PID
}

# Stops a pid: TERM, up to 5 s, then KILL.
etcd_stop() {
	kill "$1" 2>/dev/null || return 0
	for _ in $(seq 1 50); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$1" 2>/dev/null || true
}

etcd_stop_all() {
	local pid
	[ -f "$BATS_FILE_TMPDIR/etcd.pids" ] || return 0
	while read -r pid; do etcd_stop "$pid"; done < "$BATS_FILE_TMPDIR/etcd.pids"
}

# The keys under a prefix (no leading '/': etcd_keys t1/executors/), one a
# line, read through the gateway with curl rather than our client.
etcd_keys() {
	local k e
	k=$(printf '/%s' "$1" | base64 -w0)
	e=$(printf '/%s0' "${1%/}" | base64 -w0)
	curl -fsS -X POST "$ETCD_HTTP/v3/kv/range" \
		-d "{\"key\":\"$k\",\"range_end\":\"$e\",\"keys_only\":true}" |
		jq -r '.kvs // [] | .[].key | @base64d'
}

# etcd_put KEY VALUE (KEY without the leading '/'), through curl
etcd_put() {
	curl -fsS -X POST "$ETCD_HTTP/v3/kv/put" -d "{\"key\":\"$(printf '/%s' "$1" | base64 -w0)\",\
\"value\":\"$(printf '%s' "$2" | base64 -w0)\"}" >/dev/null
}

# etcd_get KEY: the value
etcd_get() {
	curl -fsS -X POST "$ETCD_HTTP/v3/kv/range" \
		-d "{\"key\":\"$(printf '/%s' "$1" | base64 -w0)\"}" | jq -r '.kvs[0].value // empty | @base64d'
}

setup_file() {
	etcd_need
	etcd_start "$BATS_FILE_TMPDIR/etcd"
}

teardown_file() {
	etcd_stop_all
}

# Each test's background processes (one pid a line in
# $BATS_TEST_TMPDIR/*.bgpid) are stopped, even when it failed half-way.
teardown() {
	local pid
	for pid in $(cat "$BATS_TEST_TMPDIR"/*.bgpid 2>/dev/null); do
		etcd_stop "$pid"
	done
}

# etcd_pki DIR: a CA, a server certificate for 127.0.0.1 and a client
# certificate (CN rmclient) in DIR, made with openssl
etcd_pki() {
	local d=$1
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rmtest-ca \
		-keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
	for n in server client; do
		openssl req -newkey rsa:2048 -nodes -subj "/CN=rm$n" \
			-keyout "$d/$n.key" -out "$d/$n.csr" 2>/dev/null
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' \
			> "$d/$n.ext"
		openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
			-CAcreateserial -days 2 -extfile "$d/$n.ext" -out "$d/$n.pem" 2>/dev/null
	done
}

# etcd_start_tls DIR [EXTRA ARGS]: one member serving clients over TLS
# only, client certificates required; ETCD_URL is etcds://...; curl
# reaches it with $ETCD_CURL_TLS
etcd_start_tls() {
	local dir=$1 client peer
	shift
	etcd_pki "$dir/pki"
	client=$(free_port)
	peer=$(free_port)
	while [ "$peer" = "$client" ]; do peer=$(free_port); done
	ETCD_URL=etcds://127.0.0.1:$client
	ETCD_HTTP=https://127.0.0.1:$client
	ETCD_CURL_TLS="--cacert $dir/pki/ca.pem --cert $dir/pki/client.pem --key $dir/pki/client.key"
	export ETCD_CURL_TLS
	printf '%q ' etcd --name rmtest --data-dir "$dir/data" \
		--listen-client-urls "$ETCD_HTTP" --advertise-client-urls "$ETCD_HTTP" \
		--cert-file "$dir/pki/server.pem" --key-file "$dir/pki/server.key" \
		--trusted-ca-file "$dir/pki/ca.pem" --client-cert-auth \
		--listen-peer-urls "http://127.0.0.1:$peer" \
		--initial-advertise-peer-urls "http://127.0.0.1:$peer" \
		--initial-cluster "rmtest=http://127.0.0.1:$peer" "$@" > "$dir/cmd"
	etcd_restart "$dir"
}

# etcd_cluster3 DIR: three members on loopback, distinct ports; ETCD_URL
# names the three endpoints (etcd://a,b,c), ETCD_HTTP the first, and
# ETCD_MEMBER_PIDS their pids in that order
etcd_cluster3() {
	local dir=$1 i cluster="" urls="" c p
	local -a cports pports
	for i in 1 2 3; do
		c=$(free_port)
		p=$(free_port)
		cports[i]=$c
		pports[i]=$p
		cluster="$cluster${cluster:+,}m$i=http://127.0.0.1:$p"
		urls="$urls${urls:+,}127.0.0.1:$c"
	done
	ETCD_MEMBER_PIDS=""
	for i in 1 2 3; do
		mkdir -p "$dir/m$i"
		etcd --name "m$i" --data-dir "$dir/m$i/data" \
			--listen-client-urls "http://127.0.0.1:${cports[i]}" \
			--advertise-client-urls "http://127.0.0.1:${cports[i]}" \
			--listen-peer-urls "http://127.0.0.1:${pports[i]}" \
			--initial-advertise-peer-urls "http://127.0.0.1:${pports[i]}" \
			--initial-cluster "$cluster" --initial-cluster-token "rmtest-$$" \
			--initial-cluster-state new >"$dir/m$i/etcd.log" 2>&1 &
		echo "$!" >> "$BATS_FILE_TMPDIR/etcd.pids"
		ETCD_MEMBER_PIDS="$ETCD_MEMBER_PIDS $!"
	done
	ETCD_URL=etcd://$urls
	ETCD_HTTP=http://127.0.0.1:${cports[1]}
	for i in 1 2 3; do
		etcd_wait_health "http://127.0.0.1:${cports[i]}" "$(echo $ETCD_MEMBER_PIDS | cut -d' ' -f$i)" \
			"$dir/m$i/etcd.log" || return 1
	done
	export ETCD_URL ETCD_HTTP ETCD_MEMBER_PIDS
}
