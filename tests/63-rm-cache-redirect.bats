#!/usr/bin/env bats
# Registry credentials stay with the registry: a blob download redirected to
# another host (object storage) carries no Authorization, and a challenge from
# the host redirected to is refused, never answered with the registry's
# credentials. The registry's own token service, on another port, still works.

bats_require_minimum_version 1.5.0
load test_helper
source "$RM_TOP_SRCDIR/tests/fixtures/oci/registry.bash"

setup_file() {
	oci_setup_file
	PKG1=$(make_pkg "$BATS_FILE_TMPDIR/p1" 1 1.0.0)
	rm-push --insecure -q "$PKG1" "oci://$REG/voice/tts:1.0" >/dev/null
	export REG REG_PID REG_LOG PKG1
	export REDIR_USER=alice REDIR_PASSWORD='Redir-S3cret-Qw9'
	export REMOTEMEDIA_REGISTRY_USER=alice REMOTEMEDIA_REGISTRY_PASSWORD='Redir-S3cret-Qw9'
}

teardown_file() {
	registry_stop "$BATS_FILE_TMPDIR/reg"
}

setup() {
	export REMOTEMEDIA_HOME=$BATS_TEST_TMPDIR/rmhome
}

teardown() {
	proxy_stop
}

@test "redirect: a 401 Bearer challenge from the storage host a blob GET is redirected to is refused; no credentials leave the registry" {
	redirector_start "$BATS_TEST_TMPDIR" challenge
	run rm-cache fetch --insecure -vv "oci://$PROXY/voice/tts:1.0"
	assert_failure 6
	assert_output --partial "redirected to http://127.0.0.1:"
	assert_output --partial "not sent to another host"
	refute_output --partial "$REDIR_PASSWORD"
	log=$BATS_TEST_TMPDIR/proxy.log
	# the registry's own token service got the Basic credentials, the front a Bearer token
	grep -qE '^auth GET /token.* Basic$' "$log"
	grep -qE '^front GET /v2/voice/tts/blobs/sha256:.* Bearer$' "$log"
	# storage was asked without any Authorization; its token realm never reached
	grep -qE '^storage GET ' "$log"
	run grep -E '^storage .* [^-]$' "$log"
	assert_failure
	run grep -E '^evil ' "$log"
	assert_failure
	# no token but the registry's own came back to the registry
	[ "$(grep -c '^front ' "$log")" -gt 0 ]
	run grep -c '^auth ' "$log"
	[ "$output" -le 2 ]
}

@test "redirect: a blob served by the storage host a GET is redirected to arrives without the registry's Authorization" {
	redirector_start "$BATS_TEST_TMPDIR" serve
	run --separate-stderr rm-cache fetch --insecure --json --package "oci://$PROXY/voice/tts:1.0"
	assert_success
	cmp "$PKG1" "$(jq -r '.[0].package' <<<"$output")"
	log=$BATS_TEST_TMPDIR/proxy.log
	grep -qE '^storage GET /v2/voice/tts/blobs/sha256:' "$log"
	run grep -E '^storage .* [^-]$' "$log"
	assert_failure
	grep -qE '^auth GET /token.* Basic$' "$log"
}
