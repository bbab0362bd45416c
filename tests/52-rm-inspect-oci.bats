#!/usr/bin/env bats
# rm-inspect oci://...: shown from the registry's manifest and the package's
# documents alone (no model downloaded), the tag always resolved again,
# --insecure as rm-push and rm-cache, the whole package only for --verify.

bats_require_minimum_version 1.5.0
load test_helper
source "$RM_TOP_SRCDIR/tests/fixtures/oci/registry.bash"

setup_file() {
	oci_setup_file
	PKG1=$(make_pkg "$BATS_FILE_TMPDIR/p1" 11 1.0.0)
	PKG2=$(make_pkg "$BATS_FILE_TMPDIR/p2" 12 2.0.0)
	export REG REG_PID REG_LOG PKG1 PKG2
}

teardown_file() {
	registry_stop "$BATS_FILE_TMPDIR/reg"
}

# model_hex PKG: the SHA-256 of the package's model file
model_hex() {
	rm-inspect --json "$1" | jq -r '.files[] | select(.path | startswith("models/")) | .sha256'
}

@test "rm-inspect oci://: the package is shown without fetching its model or caching it" {
	rm-push --insecure -q "$PKG1" "oci://$REG/ins/a:1" >/dev/null
	want=$(rm-inspect --json "$PKG1" | jq -c '{name, version, digest, files, total_size}')
	hex=$(model_hex "$PKG1")
	run --separate-stderr rm-inspect --insecure --json "oci://$REG/ins/a:1"
	assert_success
	[ "$(jq -c '{name, version, digest, files, total_size}' <<<"$output")" = "$want" ]
	[ "$(jq -r .verified <<<"$output")" = false ]
	[ "$(jq -r .manifest_digest <<<"$output")" != null ]
	[ "$(jq -r .signature.status <<<"$output")" = unsigned ]
	run grep -c "GET /v2/ins/a/blobs/sha256:$hex" "$REG_LOG"
	assert_output 0
	[ -z "$(ls -A "$REMOTEMEDIA_HOME/pipelines" 2>/dev/null)" ]
	[ ! -e "$REMOTEMEDIA_HOME/blobs/sha256/$hex" ]
}

@test "rm-inspect oci://TAG: asks the registry every time, so a moved tag shows the new package" {
	rm-push --insecure -q "$PKG1" "oci://$REG/ins/b:latest" >/dev/null
	rm-cache fetch --insecure "oci://$REG/ins/b:latest" >/dev/null 2>&1
	rm-push --insecure -q "$PKG2" "oci://$REG/ins/b:latest" >/dev/null
	run --separate-stderr rm-inspect --insecure --json "oci://$REG/ins/b:latest"
	assert_success
	[ "$(jq -r .version <<<"$output")" = 2.0.0 ]
	run --separate-stderr rm-inspect --insecure --verify --json "oci://$REG/ins/b:latest"
	assert_failure 5	# unsigned: --verify requires a trusted signature
	REMOTEMEDIA_ENV=development run --separate-stderr rm-inspect --insecure --refresh -x "$BATS_TEST_TMPDIR/x" --json "oci://$REG/ins/b:latest"
	assert_success
	[ "$(jq -r .version,.verified <<<"$output")" = "$(printf '2.0.0\ntrue')" ]
}

@test "rm-inspect oci://: a plain-HTTP registry without --insecure is exit 6; a missing tag exit 4" {
	rm-push --insecure -q "$PKG1" "oci://$REG/ins/c:1" >/dev/null
	run rm-inspect --json "oci://$REG/ins/c:1"
	assert_failure 6
	run rm-inspect --insecure --json "oci://$REG/ins/c:nothing"
	assert_failure 4
	assert_output --partial "oci://$REG/ins/c:nothing"
}
