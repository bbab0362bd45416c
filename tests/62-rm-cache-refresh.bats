#!/usr/bin/env bats
# rm-cache: a package whose signature changed upstream is fetched again on
# the next --refresh (spec 001 "Cache invalidation"), against a real registry.

bats_require_minimum_version 1.5.0
load test_helper
source "$RM_TOP_SRCDIR/tests/fixtures/oci/registry.bash"

setup_file() {
	oci_setup_file
	export REG REG_PID REG_LOG
}

teardown_file() {
	registry_stop "$BATS_FILE_TMPDIR/reg"
}

@test "rm-cache: a signature added upstream under the same tag is picked up by --refresh, same digest" {
	PKG=$(make_pkg "$BATS_TEST_TMPDIR/p" 7 1.0.0)
	rm-push --insecure -q "$PKG" "oci://$REG/voice/sig:1.0" >/dev/null
	run --separate-stderr rm-cache fetch --insecure --json "oci://$REG/voice/sig:1.0"
	assert_success
	d=$(jq -r '.[0].digest' <<<"$output")
	run --separate-stderr rm-inspect --json "$d"
	[ "$(jq -r .signature.status <<<"$output")" = unsigned ]

	# the publisher signs the same package and pushes it again under the tag
	rm-build keygen pub >/dev/null
	cp "$REMOTEMEDIA_HOME/keys/pub.pub" "$BATS_TEST_TMPDIR/pub.pub"
	cp "$PKG" "$BATS_TEST_TMPDIR/signed.rmpkg"
	rm-build sign --sign pub "$BATS_TEST_TMPDIR/signed.rmpkg" >/dev/null
	run --separate-stderr rm-inspect --json "$BATS_TEST_TMPDIR/signed.rmpkg"
	[ "$(jq -r .digest <<<"$output")" = "$d" ]
	rm-push --insecure -q "$BATS_TEST_TMPDIR/signed.rmpkg" "oci://$REG/voice/sig:1.0" >/dev/null

	# without --refresh the tag is answered from the cache: still unsigned
	run --separate-stderr rm-cache fetch --insecure --json "oci://$REG/voice/sig:1.0"
	assert_success
	jq -e '.[0].cached == true' <<<"$output"
	run --separate-stderr rm-inspect --json "$d"
	[ "$(jq -r .signature.status <<<"$output")" = unsigned ]

	# --refresh re-resolves the tag, sees the new signature and replaces the entry
	run --separate-stderr rm-cache fetch --insecure --refresh --json "oci://$REG/voice/sig:1.0"
	assert_success
	[ "$(jq -r '.[0].digest' <<<"$output")" = "$d" ]
	jq -e '.[0].cached == false' <<<"$output"
	cmp "$BATS_TEST_TMPDIR/signed.rmpkg" "$(rm-cache path --json --package "$d" 2>/dev/null | jq -r .package)"
	mkdir -p "$REMOTEMEDIA_HOME/trust"
	cp "$BATS_TEST_TMPDIR/pub.pub" "$REMOTEMEDIA_HOME/trust/"
	run --separate-stderr rm-inspect --json "$d"
	[ "$(jq -r .signature.status <<<"$output")" = valid ]
	# the signature recorded beside the entry was replaced with it
	REMOTEMEDIA_ENV=production run --separate-stderr rm-cache fetch --offline --json "$d"
	assert_success
	[ "$(jq -r '.[0].signature + " " + .[0].signer' <<<"$output")" = "valid pub" ]
	run rm-cache verify
	assert_success
}
