#!/usr/bin/env bats
# The front end: git-style dispatch to rm-VERB.

load test_helper

@test "remotemedia: help lists every tool with one line each" {
	run remotemedia help
	assert_success
	for v in build cache inspect match probe push schedule; do
		assert_output --regexp "  $v +[a-z]"
	done
}

@test "remotemedia: --version names the package version" {
	run remotemedia --version
	assert_success
	assert_output --regexp '^remotemedia \(remotemedia\) [0-9]+\.[0-9]+'
}

@test "remotemedia: unknown verb is a clear error with exit 2" {
	run remotemedia frobnicate
	assert_failure 2
	assert_output --partial "'frobnicate' is not a remotemedia verb"
}

@test "remotemedia: no verb prints usage on stderr and exits 2" {
	run remotemedia
	assert_failure 2
	assert_output --partial "usage: remotemedia"
}

@test "remotemedia: REMOTEMEDIA_EXEC_PATH comes first and the child's exit status passes through" {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\necho "fake $*"\nexit 42\n' > "$BATS_TEST_TMPDIR/bin/rm-match"
	chmod +x "$BATS_TEST_TMPDIR/bin/rm-match"
	REMOTEMEDIA_EXEC_PATH=$BATS_TEST_TMPDIR/bin run remotemedia match a b
	assert_failure 42
	assert_output "fake a b"
}

@test "remotemedia: a verb found only on PATH is run" {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\necho "extra $1"\n' > "$BATS_TEST_TMPDIR/bin/rm-extra"
	chmod +x "$BATS_TEST_TMPDIR/bin/rm-extra"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH run remotemedia extra one
	assert_success
	assert_output "extra one"
}

@test "remotemedia: shortcuts run the tool with its verb (run -> rm-schedule run)" {
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	printf '#!/bin/sh\necho "schedule $*"\n' > "$BATS_TEST_TMPDIR/bin/rm-schedule"
	chmod +x "$BATS_TEST_TMPDIR/bin/rm-schedule"
	REMOTEMEDIA_EXEC_PATH=$BATS_TEST_TMPDIR/bin run remotemedia run x.yaml
	assert_success
	assert_output "schedule run x.yaml"
}

@test "remotemedia: a bad REMOTEMEDIA_ENV is a usage error naming the variable" {
	REMOTEMEDIA_ENV=staging run remotemedia help
	assert_failure 2
	assert_output --partial 'REMOTEMEDIA_ENV: expected development or production, got "staging"'
}

@test "remotemedia: help for an unknown verb names that verb, not 'help'" {
	run remotemedia help nosuch
	assert_failure 2
	assert_output --partial "remotemedia: 'nosuch' is not a remotemedia verb (no rm-nosuch found)"
}
