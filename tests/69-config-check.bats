#!/usr/bin/env bats
# config.yaml is checked by every tool, whether or not the tool reads a key
# of it: a misspelled key is one warning naming the file and the nearest
# known key in development, and exit 3 in production, before anything runs.

load test_helper
bats_require_minimum_version 1.5.0

setup() {
	export RM_HTTP_RETRIES=0
	mkdir -p "$REMOTEMEDIA_HOME"
	CFG=$REMOTEMEDIA_HOME/config.yaml
	P=$BATS_TEST_TMPDIR/p.yaml
	printf 'schema: remotemedia.pipeline/1\nname: cfg\nnodes:\n  - {id: a, type: Command, exec: ["true"]}\n' > "$P"
	N=$BATS_TEST_TMPDIR/node.json
	echo '{"id":"n","capabilities":{"memory_gb":1}}' > "$N"
	A=$BATS_TEST_TMPDIR/adv.json
	echo '{"id":"e1","capabilities":{"memory_gb":8}}' > "$A"
	# a package to push and inspect, built before config.yaml exists
	PKG=$(rm-build -q --json -o "$BATS_TEST_TMPDIR/out" "$P" | jq -r .path)
	[ -f "$PKG" ]
}

# One command line per tool (a quoted word list), each cheap and offline but
# for rm-push, whose registry (port 9 on 127.0.0.1) refuses the connection.
commands() {
	printf '%s\n' \
	    "rm-build -o $BATS_TEST_TMPDIR/out2 $P" \
	    "rm-push --insecure $PKG oci://127.0.0.1:9/cfg/x:1" \
	    "rm-inspect $PKG" \
	    "rm-probe validate --schema-only $A" \
	    "rm-match -x $A $N" \
	    "rm-schedule plan -x $A $P" \
	    "rm-cache ls"
}

@test "config check: a misspelled top-level key warns once in every tool, naming the file and the nearest key" {
	printf 'regsitry: dir:/nonexistent\napproved_executor: ["*"]\n' > "$CFG"
	while read -r cmd; do
		run --separate-stderr $cmd
		# the tool still does its work (rm-push: its network error, not a config one)
		if [[ $cmd == rm-push* ]]; then [ "$status" -eq 6 ]; else [ "$status" -eq 0 ]; fi
		[[ $stderr == *"$CFG: regsitry: unknown field, ignored (did you mean registry?)"* ]] ||
		    { echo "$cmd: $stderr"; false; }
		[[ $stderr == *"$CFG: approved_executor: unknown field, ignored (did you mean approved_executors?)"* ]]
		[ "$(grep -c 'regsitry' <<<"$stderr")" -eq 1 ] || { echo "$cmd: $stderr"; false; }
	done < <(commands)
}

@test "config check: in production a misspelled key is exit 3 in every tool, and nothing is done" {
	printf 'approved_executor: ["*"]\n' > "$CFG"
	export REMOTEMEDIA_ENV=production
	while read -r cmd; do
		run --separate-stderr $cmd
		[ "$status" -eq 3 ] || { echo "$cmd: exit $status: $stderr"; false; }
		[[ $stderr == *"$CFG: approved_executor: unknown field (did you mean approved_executors?)"* ]]
	done < <(commands)
	# rm-build wrote nothing
	[ ! -e "$BATS_TEST_TMPDIR/out2" ]
}

@test "config check: keys inside registries.HOST and etcd are checked too; the known ones are quiet" {
	printf 'registry: dir:%s/reg\netcd:\n  cacert: /c\n  cert: /c\n  key: /k\n  user: u\n  password: p\npeers:\n  - ssh peer1 rm-cache\nregistries:\n  "r.example":\n    username: u\n    insecure: true\n' \
	    "$BATS_TEST_TMPDIR" > "$CFG"
	run --separate-stderr rm-cache ls
	assert_success
	assert_equal "$stderr" ""
	REMOTEMEDIA_ENV=production run --separate-stderr rm-cache ls
	assert_success
	assert_equal "$stderr" ""
	printf 'etcd:\n  cacrt: /c\nregistries:\n  "r.example":\n    pasword: x\n' > "$CFG"
	run --separate-stderr rm-match -x "$A" "$N"
	assert_success
	[[ $stderr == *"$CFG: etcd.cacrt: unknown field, ignored (did you mean cacert?)"* ]]
	[[ $stderr == *"$CFG: registries.r.example.pasword: unknown field, ignored (did you mean password?)"* ]]
	REMOTEMEDIA_ENV=production run -3 rm-inspect "$PKG"
	assert_output --partial "etcd.cacrt: unknown field (did you mean cacert?)"
}

@test "config check: a config.yaml that is not YAML is exit 3 in a tool that reads no key of it" {
	printf 'registry: [unclosed\n' > "$CFG"
	run rm-cache ls
	assert_failure 3
	assert_output --partial "config.yaml"
	run rm-inspect "$PKG"
	assert_failure 3
}
