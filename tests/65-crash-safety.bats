#!/usr/bin/env bats
# Crash safety (DESIGN.md section 2): rm-push, rm-cache fetch from a
# registry, rm-cache fetch of a .rmpkg file (cache install) and rm-probe
# register, each SIGKILLed at a random point of its run, trial after trial
# (tests/fixtures/crash/crash.bash). After every kill: no torn file, no
# stray temporary name, nothing completed before is lost; a trial the kill
# missed ran to success; and one uninterrupted run afterwards completes and
# verifies.
#
# The delays are drawn from RANDOM seeded with RM_CRASH_SEED (printed) over
# the duration of the operation measured first, so they scale with the build
# (sanitizers) and the machine. RM_CRASH_TRIALS (default 100) lengthens a
# campaign: RM_CRASH_TRIALS=2000 RM_CRASH_SEED=7 bats tests/65-crash-safety.bats

bats_require_minimum_version 1.5.0
load test_helper
source "$RM_TOP_SRCDIR/tests/fixtures/oci/registry.bash"
CRASH=$RM_TOP_SRCDIR/tests/fixtures/crash/crash.bash
source "$CRASH"

: "${RM_CRASH_TRIALS:=100}"
: "${RM_CRASH_SEED:=6565}"
export RM_CRASH_TRIALS FIXTURES

setup_file() {
	oci_setup_file
	PKG0=$(make_pkg "$BATS_FILE_TMPDIR/p0" 10 0.9.0)
	PKG1=$(make_pkg "$BATS_FILE_TMPDIR/p1" 11 1.0.0 3000000)
	PKG2=$(make_pkg "$BATS_FILE_TMPDIR/p2" 12 1.1.0 3000000)
	# pushed from the file's state directory, which push trials mount from
	SEEDHOME=$REMOTEMEDIA_HOME
	rm-push --insecure -q "$PKG0" "oci://$REG/crash/keep:1" >/dev/null
	rm-push --insecure -q "$PKG1" "oci://$REG/crash/base:1" >/dev/null
	export PKG0 PKG1 PKG2 SEEDHOME
}

setup() {
	TMPD=$BATS_TEST_TMPDIR
}

teardown_file() {
	registry_stop "$BATS_FILE_TMPDIR/reg"
}

# campaign OP N ARGS...: the trials of OP with seed RM_CRASH_SEED+N, in a
# plain bash; its summary line goes to the TAP stream.
campaign() {
	local op=$1 n=$2
	shift 2
	run env RM_CRASH_SEED=$((RM_CRASH_SEED + n)) TMPD="$BATS_TEST_TMPDIR" bash "$CRASH" "$op" "$@"
	printf '%s\n' "$output" | grep '^# ' >&3 || true
	assert_success
}

# ---- leftovers ------------------------------------------------------------

# What a writer killed at the wrong instant leaves; each is found by the
# campaigns below, and reproduced here by hand so that it fails every time.
@test "crash: a temporary of refs.json left by a killed fetch is removed by the next update of the index" {
	mkdir -p "$REMOTEMEDIA_HOME"
	echo '{"schema": "remotemedia.cache-re' > "$REMOTEMEDIA_HOME/refs.json.tmp.AbC123"
	rm-cache fetch -q "$PKG0" >/dev/null
	[ ! -e "$REMOTEMEDIA_HOME/refs.json.tmp.AbC123" ]
	jq -e '.packages | length == 1' "$REMOTEMEDIA_HOME/refs.json"
}

@test "crash: rm-cache gc removes the half-unpacked directory of a killed install" {
	local hex
	rm-cache fetch -q "$PKG0" >/dev/null
	hex=$(digest_of "$PKG1")
	hex=${hex#sha256:}
	mkdir -p "$REMOTEMEDIA_HOME/pipelines/$hex.new.tmp.AbC123/models"
	echo torn > "$REMOTEMEDIA_HOME/pipelines/$hex.new.tmp.AbC123/models/tiny-vad.safetensors"
	run --separate-stderr rm-cache gc --json
	assert_success
	[ ! -e "$REMOTEMEDIA_HOME/pipelines/$hex.new.tmp.AbC123" ]
	rm-cache path "$PKG0" >/dev/null
}

@test "crash: a temporary of an advert left by a killed register is removed by the next register" {
	mkdir -p "$REMOTEMEDIA_HOME/executors"
	echo '{"id": "bo' > "$REMOTEMEDIA_HOME/executors/box.json.tmp.AbC123"
	register box 1 >/dev/null
	[ ! -e "$REMOTEMEDIA_HOME/executors/box.json.tmp.AbC123" ]
	jq -e '.trial == 1' "$REMOTEMEDIA_HOME/executors/box.json"
}

@test "crash: a temporary of the matcher's index left by a killed rebuild is removed by the next rebuild" {
	local idx
	register box 1 >/dev/null
	idx=$(echo "$REMOTEMEDIA_HOME"/cache/index/*.idx)
	[ -f "$idx" ]
	head -c 100 "$idx" > "$idx.tmp.AbC123"
	register box 2 >/dev/null
	[ ! -e "$idx.tmp.AbC123" ]
	echo '{"id":"any","capabilities":{}}' > "$BATS_TEST_TMPDIR/node.json"
	run --separate-stderr rm-match --no-local --json "$BATS_TEST_TMPDIR/node.json"
	assert_success
	[ "$(jq -c '[.executors[].id]' <<<"$output")" = '["box"]' ]
}

# ---- the campaigns ---------------------------------------------------------

# After a cache campaign, fetch_completes REF PKG KEEP: one uninterrupted
# fetch of REF gives PKG byte for byte, gc leaves no temporary, every entry
# verifies and KEEP is still cached.
fetch_completes() {
	run --separate-stderr rm-cache fetch --insecure --json --package "$1"
	assert_success
	[ "$(jq -r '.[0].digest' <<<"$output")" = "$(digest_of "$2")" ]
	cmp "$2" "$(jq -r '.[0].package' <<<"$output")"
	rm-cache gc >/dev/null
	no_leftovers "$REMOTEMEDIA_HOME"
	check_state "$REMOTEMEDIA_HOME"
	rm-cache path "$3"
}

@test "crash: rm-cache fetch from a registry killed at random points: blobs whole or partial, the cached package kept, the next fetch completes" {
	campaign fetch 1 "oci://$REG/crash/base:1" "oci://$REG/crash/keep:1"
	fetch_completes "oci://$REG/crash/base:1" "$PKG1" "oci://$REG/crash/keep:1"
}

@test "crash: rm-cache fetch of a .rmpkg file (cache install) killed at random points: the entry appears whole or not at all, the next install completes" {
	campaign install 2 "$PKG1" "$PKG0"
	fetch_completes "$PKG1" "$PKG1" "$PKG0"
}

@test "crash: rm-push killed at random points: the tag names the old or the new package, never a manifest with missing blobs; the next push completes" {
	local ref=oci://$REG/crash/t$RM_CRASH_TRIALS:v m2
	campaign push 3
	m2=$(reg_manifest crash/m1 v)
	export REMOTEMEDIA_HOME=$BATS_TEST_TMPDIR/t$RM_CRASH_TRIALS
	run --separate-stderr rm-push --insecure --json "$PKG2" "$ref"
	assert_success
	[ "$(jq -r .manifest_digest <<<"$output")" = "$m2" ]
	run skopeo inspect --raw --tls-verify=false "docker://${ref#oci://}"
	assert_success
	[ "$(printf '%s' "$output" | sha256sum | cut -c1-64)" = "${m2#sha256:}" ]
	run --separate-stderr rm-cache fetch --insecure --json "$ref"
	assert_success
	[ "$(jq -r '.[0].digest' <<<"$output")" = "$(digest_of "$PKG2")" ]
	no_leftovers "$REMOTEMEDIA_HOME"
	check_state "$REMOTEMEDIA_HOME"
}

@test "crash: rm-probe register killed at random points: the advert is the old or the new one, the other advert and the index stay good" {
	local exe=$REMOTEMEDIA_HOME/executors
	campaign register 4
	run --separate-stderr register box final
	assert_success
	jq -e '.id == "box" and .trial == "final"' "$exe/box.json"
	rm-probe validate --schema-only "$exe/box.json" "$exe/keeper.json" >/dev/null
	no_leftovers "$REMOTEMEDIA_HOME"
	check_state "$REMOTEMEDIA_HOME"
}
