#!/usr/bin/env bats
# The signature policy applies each time a cached package is used, not only
# when it is installed: a package cached in development mode, or signed by
# a key since taken out of trust/, is refused in production (exit 5) and
# nothing of it runs. Locks of the cache stay put while they are held.

bats_require_minimum_version 1.5.0
load test_helper
source "$RM_TOP_SRCDIR/tests/fixtures/oci/registry.bash"

setup_file() {
	oci_setup_file
	rm-build keygen alice >/dev/null
	PUB=$REMOTEMEDIA_HOME/keys/alice.pub
	UNSIGNED=$(make_pkg "$BATS_FILE_TMPDIR/u" 4 1.0.0)
	SIGNED=$(make_pkg "$BATS_FILE_TMPDIR/s" 5 2.0.0)
	rm-build sign --sign alice "$SIGNED" >/dev/null
	rm-push --insecure -q "$UNSIGNED" "oci://$REG/trust/unsigned:1.0" >/dev/null
	rm-push --insecure -q "$SIGNED" "oci://$REG/trust/signed:1.0" >/dev/null
	export REG REG_PID REG_LOG PUB UNSIGNED SIGNED
}

teardown_file() {
	registry_stop "$BATS_FILE_TMPDIR/reg"
}

# Every test gets its own state directory: its own cache and trust store.
setup() {
	export REMOTEMEDIA_HOME=$BATS_TEST_TMPDIR/state REMOTEMEDIA_ENV=development
	mkdir -p "$REMOTEMEDIA_HOME/trust"
	{
		printf 'registries:\n  "%s":\n    insecure: true\n' "$REG"
		printf 'approved_executors: ["*"]\n'
	} > "$REMOTEMEDIA_HOME/config.yaml"
	MARK=$BATS_TEST_TMPDIR/ran
}

# pipeline NAME REF: one Command node using REF that leaves $MARK behind.
pipeline() {
	cat > "$BATS_TEST_TMPDIR/$1.yaml" <<-EOF2
	schema: remotemedia.pipeline/1
	name: $1
	nodes:
	  - id: use
	    type: Command
	    remote_ref: $2
	    exec: 'touch "$MARK"; jq -r .version "\$REMOTEMEDIA_PACKAGE/manifest.json"'
	EOF2
	echo "$BATS_TEST_TMPDIR/$1.yaml"
}

# two_nodes REF: two.yaml, where 'first' needs no package and runs before
# 'use', whose package is REF; each leaves a mark when it runs.
two_nodes() {
	cat > "$BATS_TEST_TMPDIR/two.yaml" <<-EOF2
	schema: remotemedia.pipeline/1
	name: two
	nodes:
	  - id: first
	    type: Command
	    exec: 'touch "$BATS_TEST_TMPDIR/first-ran"; echo x'
	  - id: use
	    type: Command
	    remote_ref: $1
	    exec: 'touch "$MARK"; cat'
	edges:
	  - [first, use]
	EOF2
}

digest_of() { rm-inspect --json "$1" 2>/dev/null | jq -r .digest; }

# refused NAME REF PKG WHY: in production, a pipeline using the cached REF
# (the package PKG) and rm-cache fetch of its digest both exit 5 with WHY,
# and the node's command never runs.
refused() {
	local p
	p=$(pipeline "$1" "$2")
	REMOTEMEDIA_ENV=production run rm-schedule run "$p"
	assert_failure 5
	assert_output --partial "refused in production mode: cached package $(digest_of "$3")"
	assert_output --partial "$4"
	[ ! -e "$MARK" ]
	assert_output --partial "$(digest_of "$3") ($2) is"
	REMOTEMEDIA_ENV=production run rm-cache fetch "$(digest_of "$3")"
	assert_failure 5
	assert_output --partial "$4"
	refute_output --partial "hint: use --offline"
}

@test "rm-schedule run in production refuses a package cached unsigned in development, and runs nothing" {
	ref=oci://$REG/trust/unsigned:1.0
	run --separate-stderr rm-cache fetch --json "$ref"
	assert_success
	[ "$(jq -r '.[0].signature' <<<"$output")" = unsigned ]
	refused unsigned "$ref" "$UNSIGNED" "is unsigned"
	# by reference, straight from rm-cache, without the network
	REMOTEMEDIA_ENV=production run rm-cache fetch --offline "$ref"
	assert_failure 5
	# development mode still uses it
	run --separate-stderr rm-schedule run "$BATS_TEST_TMPDIR/unsigned.yaml"
	assert_success
	assert_output 1.0.0
	[ -e "$MARK" ]
}

@test "rm-schedule run in production refuses a cached package whose signer is no longer trusted" {
	ref=oci://$REG/trust/signed:1.0
	cp "$PUB" "$REMOTEMEDIA_HOME/trust/"
	REMOTEMEDIA_ENV=production run --separate-stderr rm-cache fetch --json "$ref"
	assert_success
	[ "$(jq -r '.[0].signature + " " + .[0].signer' <<<"$output")" = "valid alice" ]
	rm "$REMOTEMEDIA_HOME/trust/alice.pub"
	refused signed "$ref" "$SIGNED" "not by a key trusted now"
	# rm-inspect --verify of the cache digest judges it by today's trust store too
	REMOTEMEDIA_ENV=production run rm-inspect --verify "$(digest_of "$SIGNED")"
	assert_failure 5
	assert_output --partial "untrusted"
}

@test "rm-cache fetch in production refuses an unsigned entry answered from the cache for a layout or --pipeline" {
	lay=$BATS_TEST_TMPDIR/layout
	run skopeo copy --src-tls-verify=false "docker://$REG/trust/unsigned:1.0" "oci:$lay:1.0"
	assert_success
	rm-cache fetch -q "$lay:1.0" >/dev/null 2>&1
	REMOTEMEDIA_ENV=production run rm-cache fetch --json "$lay:1.0"
	assert_failure 5
	assert_output --partial "is unsigned"
	rm-cache fetch -q "oci://$REG/trust/unsigned:1.0" >/dev/null 2>&1
	REMOTEMEDIA_ENV=production run rm-cache fetch --offline --pipeline \
	    "$(pipeline unsigned "oci://$REG/trust/unsigned:1.0")"
	assert_failure 5
	assert_output --partial "is unsigned"
}

@test "rm-schedule run in production runs a cached package signed by a trusted key" {
	ref=oci://$REG/trust/signed:1.0
	cp "$PUB" "$REMOTEMEDIA_HOME/trust/"
	rm-cache fetch -q "$ref" >/dev/null
	p=$(pipeline signed "$ref")
	REMOTEMEDIA_ENV=production run --separate-stderr rm-schedule run "$p"
	assert_success
	assert_output 2.0.0
	[ -e "$MARK" ]
	REMOTEMEDIA_ENV=production run rm-inspect --verify --json "$(digest_of "$SIGNED")"
	assert_success
	[ "$(jq -r '.signature.status' <<<"$output")" = valid ]
}

@test "rm-cache: 8 fetches of one package at once, three times over, all succeed and the cache verifies" {
	ref=oci://$REG/trust/signed:1.0
	hex=$(digest_of "$SIGNED")
	hex=${hex#sha256:}
	for round in 1 2 3; do
		pids=()
		for i in 1 2 3 4 5 6 7 8; do
			# two of them install the same package from its .rmpkg file
			if [ "$i" -gt 6 ]; then src=$SIGNED; else src=$ref; fi
			rm-cache fetch -q "$src" > "$BATS_TEST_TMPDIR/out.$i" 2>&1 &
			pids+=($!)
		done
		for i in "${!pids[@]}"; do
			wait "${pids[$i]}" || { cat "$BATS_TEST_TMPDIR/out.$((i + 1))"; false; }
		done
		run rm-cache verify
		assert_success
		[ -f "$REMOTEMEDIA_HOME/pipelines/$hex/manifest.json" ]
		# no temporaries left behind by one install deleting another's
		run ls "$REMOTEMEDIA_HOME/pipelines"
		refute_output --regexp '\.(new|old|tmp)'
		rm-cache clear -q "$hex" >/dev/null
	done
}

@test "rm-cache: lock files are never unlinked after use (one inode across fetches); gc drops orphans" {
	ref=oci://$REG/trust/signed:1.0
	hex=$(digest_of "$SIGNED")
	hex=${hex#sha256:}
	model=$(sha256sum "$BATS_FILE_TMPDIR/s/src/models/tiny-vad.safetensors" | cut -c1-64)
	rm-cache fetch -q "$ref" >/dev/null
	plock=$REMOTEMEDIA_HOME/pipelines/$hex.lock
	block=$REMOTEMEDIA_HOME/blobs/sha256/$model.lock
	[ -f "$plock" ]
	[ -f "$block" ]
	pi=$(stat -c %i "$plock")
	bi=$(stat -c %i "$block")
	rm-cache fetch -q --refresh "$ref" >/dev/null
	rm-cache fetch -q "$SIGNED" >/dev/null
	[ "$(stat -c %i "$plock")" = "$pi" ]
	[ "$(stat -c %i "$block")" = "$bi" ]
	rm-cache gc -q >/dev/null
	[ "$(stat -c %i "$plock")" = "$pi" ]
	# once the entry and its blobs are gone, so are their locks
	rm-cache clear -q "$hex" >/dev/null
	[ ! -e "$plock" ]
	[ ! -e "$block" ]
}

@test "rm-schedule run in production checks every package before any node starts" {
	ref=oci://$REG/trust/unsigned:1.0
	rm-cache fetch -q "$ref" >/dev/null
	two_nodes "$ref"
	REMOTEMEDIA_ENV=production run rm-schedule run "$BATS_TEST_TMPDIR/two.yaml"
	assert_failure 5
	assert_output --partial "node 'use': cannot fetch $ref"
	assert_output --partial "is unsigned"
	[ ! -e "$BATS_TEST_TMPDIR/first-ran" ]
	[ ! -e "$MARK" ]
	# development mode runs both
	run rm-schedule run "$BATS_TEST_TMPDIR/two.yaml"
	assert_success
	[ -e "$BATS_TEST_TMPDIR/first-ran" ]
}

# The signature is recorded beside each entry (pipelines/HEX.sig) when it is
# installed, so that a use checks it without opening the package (issue 14).

@test "rm-cache: an entry cached without its signature record is checked from its package, and the record written" {
	u=$(digest_of "$UNSIGNED"); u=${u#sha256:}
	s=$(digest_of "$SIGNED"); s=${s#sha256:}
	rm-cache fetch -q "oci://$REG/trust/unsigned:1.0" "oci://$REG/trust/signed:1.0" >/dev/null 2>&1
	[ "$(jq -c .signature "$REMOTEMEDIA_HOME/pipelines/$u.sig")" = null ]
	[ "$(jq -r .signature.digest "$REMOTEMEDIA_HOME/pipelines/$s.sig")" = "sha256:$s" ]
	# as a cache written by an older version leaves them
	rm "$REMOTEMEDIA_HOME/pipelines/$u.sig" "$REMOTEMEDIA_HOME/pipelines/$s.sig"
	refused unsigned "oci://$REG/trust/unsigned:1.0" "$UNSIGNED" "is unsigned"
	[ "$(jq -c .signature "$REMOTEMEDIA_HOME/pipelines/$u.sig")" = null ]
	cp "$PUB" "$REMOTEMEDIA_HOME/trust/"
	REMOTEMEDIA_ENV=production run --separate-stderr rm-cache fetch --json "$s"
	assert_success
	[ "$(jq -r '.[0].signature + " " + .[0].signer' <<<"$output")" = "valid alice" ]
	[ "$(jq -r .signature.digest "$REMOTEMEDIA_HOME/pipelines/$s.sig")" = "sha256:$s" ]
	# the record written is the one checked from then on, against trust/ as it is
	rm "$REMOTEMEDIA_HOME/trust/alice.pub"
	refused signed "oci://$REG/trust/signed:1.0" "$SIGNED" "not by a key trusted now"
	# a damaged record is read again from the package
	echo garbage > "$REMOTEMEDIA_HOME/pipelines/$u.sig"
	run --separate-stderr rm-cache fetch --json "$u"
	assert_success
	[ "$(jq -r '.[0].signature' <<<"$output")" = unsigned ]
	[ "$(jq -c .signature "$REMOTEMEDIA_HOME/pipelines/$u.sig")" = null ]
	run rm-cache verify
	assert_success
}

@test "rm-cache: a signature record for another digest is refused in every mode, and verify reports it" {
	u=$(digest_of "$UNSIGNED"); u=${u#sha256:}
	s=$(digest_of "$SIGNED"); s=${s#sha256:}
	rm-cache fetch -q "oci://$REG/trust/unsigned:1.0" "oci://$REG/trust/signed:1.0" >/dev/null 2>&1
	cp "$PUB" "$REMOTEMEDIA_HOME/trust/"
	# alice's signature of another package put beside the unsigned one
	cp "$REMOTEMEDIA_HOME/pipelines/$s.sig" "$REMOTEMEDIA_HOME/pipelines/$u.sig"
	for mode in development production; do
		REMOTEMEDIA_ENV=$mode run rm-cache fetch "oci://$REG/trust/unsigned:1.0"
		assert_failure 5
		assert_output --partial "cached package sha256:$u (oci://$REG/trust/unsigned:1.0) has an invalid signature: the signature is for sha256:$s"
	done
	p=$(pipeline unsigned "oci://$REG/trust/unsigned:1.0")
	run rm-schedule run "$p"
	assert_failure 5
	[ ! -e "$MARK" ]
	run rm-cache verify
	assert_failure 1
	assert_output --partial "$u.sig"
	assert_output --partial "does not match the package's meta/signature"
}

@test "rm-cache: clear and gc remove an entry's signature record with it" {
	s=$(digest_of "$SIGNED"); s=${s#sha256:}
	rm-cache fetch -q "oci://$REG/trust/signed:1.0" >/dev/null
	[ -f "$REMOTEMEDIA_HOME/pipelines/$s.sig" ]
	rm-cache clear -q "$s" >/dev/null
	[ ! -e "$REMOTEMEDIA_HOME/pipelines/$s.sig" ]
	# one left without its entry (a clear killed half-way), and a temporary
	rm-cache fetch -q "oci://$REG/trust/signed:1.0" >/dev/null
	rm -r "$REMOTEMEDIA_HOME/pipelines/$s"
	touch "$REMOTEMEDIA_HOME/pipelines/$s.sig.tmp.AbC123"
	run rm-cache gc
	assert_success
	[ ! -e "$REMOTEMEDIA_HOME/pipelines/$s.sig" ]
	[ ! -e "$REMOTEMEDIA_HOME/pipelines/$s.sig.tmp.AbC123" ]
	run ls "$REMOTEMEDIA_HOME/pipelines"
	refute_output --partial "$s"
}

@test "rm-schedule run in production stops before any node when a package cannot be fetched" {
	port=$(free_port)	# nothing listens there: connection refused at once
	{
		printf 'registries:\n  "127.0.0.1:%s":\n    insecure: true\n' "$port"
		printf 'approved_executors: ["*"]\n'
	} > "$REMOTEMEDIA_HOME/config.yaml"
	two_nodes "oci://127.0.0.1:$port/none/pkg:1"
	REMOTEMEDIA_ENV=production RM_HTTP_RETRIES=0 run rm-schedule run "$BATS_TEST_TMPDIR/two.yaml"
	assert_failure 6
	assert_output --partial "node 'use': cannot fetch oci://127.0.0.1:$port/none/pkg:1"
	[ ! -e "$BATS_TEST_TMPDIR/first-ran" ]
	[ ! -e "$MARK" ]
}
