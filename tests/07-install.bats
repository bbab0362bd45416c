#!/usr/bin/env bats
# What an install relies on: the data directory found beside the binary, a
# warning when only the built-in copy is left, the bash completion, and the
# cron and systemd examples. tests/install-check.sh does a real
# "make install" into a prefix and runs the installed tools.

load test_helper

COMPLETION=$RM_TOP_SRCDIR/share/remotemedia/completion/remotemedia

# complete WORD...: completes the last word as bash would; COMPREPLY, one a line
complete_words() {
	bash -c 'source "$1" || exit 1; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=()
		_rm_complete; printf "%s\n" "${COMPREPLY[@]}"' sh "$COMPLETION" "$@"
}

@test "completion: remotemedia completes its verbs (pu -> push)" {
	run complete_words remotemedia pu
	assert_success
	assert_output "push"
	run complete_words remotemedia re
	assert_output "$(printf 'report\nregister')"
}

@test "completion: a tool's verb, then that verb's long options (rm-cache fetch --of -> --offline)" {
	run complete_words rm-cache ''
	assert_success
	assert_line fetch
	assert_line gc
	run complete_words rm-cache fetch --of
	assert_output "--offline"
	run complete_words rm-schedule run --res
	assert_output "--resume"
	run complete_words rm-schedule plan --regi
	assert_output "--registry"
}

@test "completion: a front-end shortcut completes as its tool and verb (remotemedia run)" {
	run complete_words remotemedia run --gr
	assert_output "--grace"
	run complete_words remotemedia schedule re
	assert_output "$(printf 'reconcile\nreport')"
	run complete_words remotemedia help sch
	assert_output "schedule"
}

@test "completion: options come from the tool's own --help" {
	run complete_words rm-build --opt
	assert_output "--optimize"
	run complete_words rm-match --exp
	assert_output "--explain"
	# a tool that is not there completes nothing (and says nothing)
	run complete_words rm-none --x
	assert_success
	assert_output ""
}

@test "completion: every built tool has a completion registered" {
	local d t
	for d in "$RM_TOP_BUILDDIR"/tools/*/; do
		t=$(basename "$d")
		[ -x "$d$t" ] || continue
		run bash -c 'source "$1" && complete -p "$2"' sh "$COMPLETION" "$t"
		assert_success
		assert_output --partial "_rm_complete"
	done
}

# fake_copy DIR: a copy of rm-match in DIR (a prefix bin/, a TREE/tools/rm-match/)
fake_copy() {
	mkdir -p "$1"
	cp "$RM_TOP_BUILDDIR/tools/rm-match/rm-match" "$1/rm-match"
}

# a taxonomy with one more capability, fpga.count, under DIR
edited_share() {
	mkdir -p "$1"
	awk '{ print } /^capabilities:$/ && !done { done = 1
	    print "  fpga.count:\n    type: number\n    compare: at_least" }' \
	    "$SHARE/taxonomy.yaml" >"$1/taxonomy.yaml"
	printf 'id: fpga-node\ncapabilities:\n  fpga.count: 2\n' >"$BATS_TEST_TMPDIR/node.yaml"
	printf 'id: fpga-box\ncapabilities:\n  fpga.count: 4\n' >"$BATS_TEST_TMPDIR/advert.yaml"
}

@test "share dir: an installed binary reads the taxonomy installed beside it (bin/../share/remotemedia)" {
	local p=$BATS_TEST_TMPDIR/prefix
	fake_copy "$p/bin"
	edited_share "$p/share/remotemedia"
	unset REMOTEMEDIA_SHARE
	run "$p/bin/rm-match" --no-local --json -x "$BATS_TEST_TMPDIR/advert.yaml" "$BATS_TEST_TMPDIR/node.yaml"
	assert_success
	assert_output --partial '"id": "fpga-box"'
	refute_output --partial 'built-in copy'
}

@test "share dir: a build tree's binary reads its source tree's share/ without REMOTEMEDIA_SHARE" {
	unset REMOTEMEDIA_SHARE
	run rm-match --no-local --json -x "$SHARE/examples/adverts.yaml" "$SHARE/examples/nodes.yaml"
	assert_success
	refute_output --partial 'built-in copy'
	# and a build tree moved with its share/ (TREE/tools/NAME/NAME)
	fake_copy "$BATS_TEST_TMPDIR/tree/tools/rm-match"
	edited_share "$BATS_TEST_TMPDIR/tree/share/remotemedia"
	run "$BATS_TEST_TMPDIR/tree/tools/rm-match/rm-match" --no-local --json \
		-x "$BATS_TEST_TMPDIR/advert.yaml" "$BATS_TEST_TMPDIR/node.yaml"
	assert_success
	assert_output --partial '"id": "fpga-box"'
}

@test "share dir: with no data directory a tool warns that it uses its built-in copy" {
	local p=$BATS_TEST_TMPDIR/bare
	[ ! -e /usr/local/share/remotemedia/taxonomy.yaml ] ||
		skip "an install in /usr/local would be found"
	fake_copy "$p/bin"
	unset REMOTEMEDIA_SHARE
	run "$p/bin/rm-match" --no-local --json -x "$SHARE/examples/adverts.yaml" "$SHARE/examples/nodes.yaml"
	assert_success
	assert_output --partial 'rm-match: warning: taxonomy.yaml: no data directory'
	assert_output --partial 'using the built-in copy (set REMOTEMEDIA_SHARE)'
	# once, not per file or per read
	[ "$(grep -c 'built-in copy' <<<"$output")" = 1 ]
	# and an explicit REMOTEMEDIA_SHARE lacking the file says so too
	mkdir -p "$p/empty"
	REMOTEMEDIA_SHARE=$p/empty run "$p/bin/rm-match" --no-local --json \
		-x "$SHARE/examples/adverts.yaml" "$SHARE/examples/nodes.yaml"
	assert_success
	assert_output --partial "taxonomy.yaml: not in $p/empty; using the built-in copy"
}

# ---- the cron and systemd examples --------------------------------------------
# made from FILE.in with @bindir@ set; here to the build tree's rm-probe
example() {
	sed "s|@bindir@|$RM_TOP_BUILDDIR/tools/rm-probe|g" "$SHARE/examples/$1.in" \
		>"$BATS_TEST_TMPDIR/$1"
}

@test "examples: rm-probe.cron is a crontab of rm-probe verbs named by path" {
	local line jobs=0 prog verb
	example rm-probe.cron
	while IFS= read -r line; do
		case $line in '' | '#'*) continue ;; esac
		# five time fields (numbers, *, ranges, lists, steps), then a command
		[[ $line =~ ^([0-9*][0-9*,/-]*[[:space:]]+){5}(/[^[:space:]]+)[[:space:]]+([a-z]+) ]] ||
			fail "not a crontab line: $line"
		prog=${BASH_REMATCH[2]} verb=${BASH_REMATCH[3]}
		[ -x "$prog" ] || fail "$prog: not a tool"
		run "$prog" --help
		assert_line --regexp "^ +$(basename "$prog") $verb( |$)"
		jobs=$((jobs + 1))
	done <"$BATS_TEST_TMPDIR/rm-probe.cron"
	[ "$jobs" = 2 ]
}

@test "examples: the systemd service and timer verify and run rm-probe verify" {
	command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
	example rm-probe-verify.service
	cp "$SHARE/examples/rm-probe-verify.timer" "$BATS_TEST_TMPDIR/"
	run grep '^ExecStart=' "$BATS_TEST_TMPDIR/rm-probe-verify.service"
	assert_output "ExecStart=$RM_TOP_BUILDDIR/tools/rm-probe/rm-probe verify -q"
	SYSTEMD_LOG_LEVEL=warning run systemd-analyze verify --man=no \
		"$BATS_TEST_TMPDIR/rm-probe-verify.service" "$BATS_TEST_TMPDIR/rm-probe-verify.timer"
	assert_success
	assert_output ""
}

@test "examples: make substituted the configured bindir into the built examples" {
	local f
	for f in rm-probe.cron rm-probe-verify.service; do
		[ -f "$RM_TOP_BUILDDIR/share/remotemedia/examples/$f" ] || skip "not built (make all)"
		run grep -c '@bindir@' "$RM_TOP_BUILDDIR/share/remotemedia/examples/$f"
		assert_output 0
		run grep -Ec '[ =]/[^ ]*/rm-probe (verify|bench) ' "$RM_TOP_BUILDDIR/share/remotemedia/examples/$f"
		refute_output 0
	done
}
