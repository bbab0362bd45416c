#!/usr/bin/env bats
# rm-schedule run: a node with a remote_ref gets its package through the
# cache first (from a real registry), and sees it in REMOTEMEDIA_PACKAGE.

bats_require_minimum_version 1.5.0
load test_helper
source "$RM_TOP_SRCDIR/tests/fixtures/oci/registry.bash"

setup_file() {
	oci_setup_file
	PKG=$(make_pkg "$BATS_FILE_TMPDIR/p" 3 1.0.0)
	rm-push --insecure -q "$PKG" "oci://$REG/voice/tts:1.0" >/dev/null
	export REG REG_PID REG_LOG PKG
}

teardown_file() {
	registry_stop "$BATS_FILE_TMPDIR/reg"
}

setup() {
	mkdir -p "$REMOTEMEDIA_HOME"
	printf 'registries:\n  "%s":\n    insecure: true\n' "$REG" > "$REMOTEMEDIA_HOME/config.yaml"
}

@test "rm-schedule run: a remote_ref node runs with its package fetched and unpacked" {
	cat > "$BATS_TEST_TMPDIR/p.yaml" <<-EOF2
	schema: remotemedia.pipeline/1
	name: uses-package
	nodes:
	  - id: tts
	    type: Command
	    remote_ref: oci://$REG/voice/tts:1.0
	    exec: 'test -f "\$REMOTEMEDIA_PACKAGE/manifest.json" && jq -r .name,.version "\$REMOTEMEDIA_PACKAGE/manifest.json"'
	EOF2
	run --separate-stderr rm-schedule run "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	assert_output "$(printf 'voice\n1.0.0')"
	d=$(rm-inspect --json "$PKG" 2>/dev/null | jq -r .digest)
	[ -f "$REMOTEMEDIA_HOME/pipelines/${d#sha256:}/manifest.json" ]
}

@test "rm-schedule run: a remote_ref that cannot be fetched is an error naming it" {
	cat > "$BATS_TEST_TMPDIR/p.yaml" <<-EOF2
	schema: remotemedia.pipeline/1
	name: missing-package
	nodes:
	  - id: tts
	    type: Command
	    remote_ref: oci://$REG/voice/nothing:9.9
	    exec: ["true"]
	EOF2
	run rm-schedule run "$BATS_TEST_TMPDIR/p.yaml"
	assert_failure
	assert_output --partial "oci://$REG/voice/nothing:9.9"
}

@test "remotemedia run oci://REF: the package's own pipeline runs, fetched through the cache" {
	mkdir -p "$BATS_TEST_TMPDIR/own"
	cat > "$BATS_TEST_TMPDIR/own/own.yaml" <<-'EOF2'
	schema: remotemedia.pipeline/1
	name: own
	version: 3.0.0
	nodes:
	  - id: read
	    type: Command
	    exec: 'jq -r .version "$REMOTEMEDIA_PACKAGE/manifest.json"'
	EOF2
	own=$(SOURCE_DATE_EPOCH=1700000000 rm-build -q -o "$BATS_TEST_TMPDIR/own" "$BATS_TEST_TMPDIR/own/own.yaml" | jq -r .path)
	rm-push --insecure -q "$own" "oci://$REG/own/pipe:3" >/dev/null
	run --separate-stderr remotemedia run "oci://$REG/own/pipe:3"
	assert_success
	assert_output "3.0.0"
	run --separate-stderr remotemedia run "oci://$REG/own/nothing:3"
	assert_failure 4
	# without the registry in config.yaml: --insecure, as rm-cache fetch
	rm "$REMOTEMEDIA_HOME/config.yaml"
	rm-cache clear --all >/dev/null
	run --separate-stderr remotemedia run "oci://$REG/own/pipe:3"
	assert_failure 6
	run --separate-stderr remotemedia run --insecure "oci://$REG/own/pipe:3"
	assert_success
	assert_output "3.0.0"
}
