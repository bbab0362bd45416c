#!/usr/bin/env bats
# Documentation that runs: every EXAMPLES block of every man page is run as
# written, in a scratch HOME, with the built tools on PATH; what an example
# needs (a registry, a key, a pipeline file, adverts) is provided first.
# The extractor and its conventions: tests/fixtures/man/examples.py.

load test_helper
load fixtures/oci/registry

EXAMPLES="python3 $FIXTURES/man/examples.py"
MAN=$RM_TOP_SRCDIR/man
EX=$SHARE/examples

setup() {
	WORK=$BATS_TEST_TMPDIR/work
	mkdir -p "$WORK"
	cd "$WORK"
}

teardown() {
	registry_stop "$BATS_TEST_TMPDIR/reg"
}

# Runs the examples of one page: examples PAGE; at least one command must run.
examples() {
	run $EXAMPLES run "$MAN/$1"
	assert_success
	refute_output --partial ": 0 commands run"
}

# The example registry: the adverts of share/remotemedia/examples/adverts.yaml,
# one advert a file as the registry keeps them (the last test checks that
# they are the same).
example_registry() {
	mkdir -p "$REMOTEMEDIA_HOME/executors"
	cp "$FIXTURES"/man/executors/*.json "$REMOTEMEDIA_HOME/executors/"
}

# A registry on 127.0.0.1 holding the example voice package as voice/tts:1.0;
# REGISTRY is its host:port, as the pages name it.
example_oci_registry() {
	registry_start "$BATS_TEST_TMPDIR/reg"
	export REGISTRY=$REG
	mkdir -p "$BATS_TEST_TMPDIR/src"
	cp -r "$EX/voice.yaml" "$EX/models" "$BATS_TEST_TMPDIR/src/"
	p=$(rm-build -q -o "$BATS_TEST_TMPDIR/pkg" "$BATS_TEST_TMPDIR/src/voice.yaml" | jq -r .path)
	rm-push -q --insecure "$p" "oci://$REGISTRY/voice/tts:1.0" >/dev/null
}

@test "man pages: every example block parses, and mandoc shows every example line as written" {
	run $EXAMPLES render "$MAN"/*.[157]
	assert_success
	run $EXAMPLES list "$MAN"/*.[157]
	assert_success
	echo "$output"
	# every page but the format reference shows how it is used
	for p in "$MAN"/*.1 "$MAN"/*.7; do
		grep -q "^$p:[0-9]* run" <<<"$output" || { echo "no runnable example in $p"; false; }
	done
}

@test "man pages: the examples not run are few, and each says why" {
	run $EXAMPLES list "$MAN"/*.[157]
	assert_success
	skipped=$(grep -c ' skip ' <<<"$output" || true)
	echo "$output" | grep ' skip ' || true
	[ "$skipped" -le 4 ]
	# a block run by another suite: that suite exists and runs this page's block
	while read -r where _ suite; do
		[ -f "$RM_TOP_SRCDIR/$suite" ] || { echo "$where: no $suite"; false; }
		grep -q 'examples.py" commands' "$RM_TOP_SRCDIR/$suite" &&
			grep -q "man/$(basename "${where%%:*}")" "$RM_TOP_SRCDIR/$suite" ||
			{ echo "$where: $suite does not run it"; false; }
	done < <(grep ' by ' <<<"$output")
	# a reason is required by the extractor; an empty one is refused
	printf '.Sh EXAMPLES\n.\\" example: not run ()\n.Bd -literal\n$ true\n.Ed\n' > "$BATS_TEST_TMPDIR/x.1"
	run $EXAMPLES list "$BATS_TEST_TMPDIR/x.1"
	assert_failure
	assert_output --partial 'expected "example: not run (REASON)"'
}

@test "man pages: the runner catches a failing example, a wrong exit and missing output" {
	printf '%s\n' '.Sh EXAMPLES' '.Bd -literal' '$ echo a \e' '    b' 'a b' '.Ed' \
	    '.\" example: exit 1' '.Bd -literal' '$ false' '.Ed' > "$BATS_TEST_TMPDIR/ok.1"
	run $EXAMPLES run "$BATS_TEST_TMPDIR/ok.1"
	assert_success
	assert_output --partial "2 commands run, 0 failed"
	printf '%s\n' '.Sh EXAMPLES' '.Bd -literal' '$ echo a' 'b' '$ false' '.Ed' > "$BATS_TEST_TMPDIR/bad.1"
	run $EXAMPLES run "$BATS_TEST_TMPDIR/bad.1"
	assert_failure
	assert_output --partial "missing output line: b"
	assert_output --partial "2 commands run, 2 failed"
}

@test "remotemedia(1) EXAMPLES run as written" {
	example_registry
	cp "$FIXTURES/match/nodes/gpu8.json" node.json
	mkdir -p "$HOME/src/remotemedia"
	ln -s "$RM_TOP_BUILDDIR" "$HOME/src/remotemedia/build"
	examples remotemedia.1
}

@test "remotemedia(7) EXAMPLES run as written" {
	cp "$EX/hello.yaml" .
	examples remotemedia.7
}

@test "rm-build(1) EXAMPLES run as written" {
	cp -r "$EX/voice.py" "$EX/models" .
	# bob's key, made elsewhere and sent as bob.pub
	REMOTEMEDIA_HOME=$BATS_TEST_TMPDIR/bob rm-build keygen bob >/dev/null 2>&1
	cp "$BATS_TEST_TMPDIR/bob/keys/bob.pub" .
	examples rm-build.1
}

@test "rm-inspect(1) EXAMPLES run as written" {
	rm-build keygen alice >/dev/null 2>&1
	rm-build trust alice >/dev/null
	cp -r "$EX/voice.yaml" "$EX/models" .
	rm-build -q --sign alice voice.yaml >/dev/null
	example_oci_registry
	examples rm-inspect.1
}

@test "rm-match(1) EXAMPLES run as written" {
	example_registry
	cp "$FIXTURES/man/gpu-0-worker.json" "$REMOTEMEDIA_HOME/executors/"
	cp "$FIXTURES/match/nodes/gpu8.json" node.json
	cp "$FIXTURES/man/cpu16.json" .
	cp "$FIXTURES/mcd/gpu-0-worker.ecp.json" ecp.json
	cp "$FIXTURES/gguf/llama-gqa-q4_0.gguf" llama-8b-q4_0.gguf
	cp "$FIXTURES/schedule/pipelines/chain.json" pipeline.json
	examples rm-match.1
}

@test "rm-probe(1) EXAMPLES run as written" {
	examples rm-probe.1
}

@test "rm-push(1) EXAMPLES run as written" {
	registry_start "$BATS_TEST_TMPDIR/reg"
	export REGISTRY=$REG
	cp -r "$EX/voice.yaml" "$EX/models" .
	examples rm-push.1
	skopeo inspect --raw --tls-verify=false "docker://$REGISTRY/voice/tts:1.0" >/dev/null
}

@test "rm-cache(1) EXAMPLES run as written" {
	example_oci_registry
	sed "s|oci://registry.example/|oci://$REGISTRY/|" "$EX/voice.yaml" > voice.yaml
	cp -r "$EX/models" .
	examples rm-cache.1
}

@test "rm-schedule(1) EXAMPLES run as written" {
	example_registry
	cp "$EX/voice.yaml" "$EX/hello.yaml" .
	examples rm-schedule.1
}

@test "man pages: the example registry of the tests is share/remotemedia/examples/adverts.yaml" {
	for node in '{}' '{"codecs": ["h264", "vp9"], "hardware_accel": true, "gpu": {"min_memory_gb": 8}}'; do
		# the same executors with the same reasons, in either order
		a=$(rm-match --json -x "$EX/adverts.yaml" - <<<"$node" 2>/dev/null |
		    jq -S '[.executors[]?, .rejected[]?] | sort_by(.id)' || true)
		b=$(rm-match --json -d "$FIXTURES/man/executors" - <<<"$node" 2>/dev/null |
		    jq -S '[.executors[]?, .rejected[]?] | sort_by(.id)' || true)
		[ "$(jq length <<<"$a")" -eq 3 ]
		[ "$a" = "$b" ]
	done
}
