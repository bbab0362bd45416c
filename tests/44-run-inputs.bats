#!/usr/bin/env bats
# remotemedia run / rm-schedule run: what it takes besides a pipeline file:
# a package (its pipeline, through the cache), a Python pipeline, and a
# usage error naming the inputs for anything else.

bats_require_minimum_version 1.5.0
load test_helper

# pkg_pipeline DIR: a built package whose first node reads its own package
pkg_pipeline() {
	mkdir -p "$1/src" "$1/out"
	cat > "$1/src/own.yaml" <<-'EOF2'
	schema: remotemedia.pipeline/1
	name: own
	version: 2.0.0
	nodes:
	  - id: read
	    type: Command
	    exec: 'jq -r ".name + \" \" + .version" "$REMOTEMEDIA_PACKAGE/manifest.json"'
	  - id: upper
	    type: Command
	    exec: [tr, a-z, A-Z]
	edges:
	  - [read, upper]
	EOF2
	SOURCE_DATE_EPOCH=1700000000 rm-build -q -o "$1/out" "$1/src/own.yaml" | jq -r .path
}

@test "remotemedia run PKG.rmpkg: the package's pipeline runs, each node seeing the package" {
	pkg=$(pkg_pipeline "$BATS_TEST_TMPDIR/p")
	run --separate-stderr remotemedia run "$pkg"
	assert_success
	assert_output "OWN 2.0.0"
	d=$(rm-inspect --json "$pkg" 2>/dev/null | jq -r .digest)
	[ -f "$REMOTEMEDIA_HOME/pipelines/${d#sha256:}/manifest.json" ]
	# and again by its cache digest
	run --separate-stderr remotemedia run "$d"
	assert_success
	assert_output "OWN 2.0.0"
}

@test "remotemedia run PKG: production refuses an unsigned package before any node runs" {
	pkg=$(pkg_pipeline "$BATS_TEST_TMPDIR/p")
	REMOTEMEDIA_ENV=production run --separate-stderr remotemedia run "$pkg"
	assert_failure 5
	assert_output ""
}

@test "remotemedia run pipeline.py: a Python pipeline runs as rm-build would package it" {
	cat > "$BATS_TEST_TMPDIR/words.py" <<-'EOF2'
	from remotemedia import Command, Pipeline
	pipeline = Pipeline("words", version="1.0.0")
	a = pipeline.add(Command("a", exec="printf '%s\\n' python pipeline"))
	b = pipeline.add(Command("b", exec=["tr", "a-z", "A-Z"]))
	pipeline.connect(a, b)
	EOF2
	run --separate-stderr remotemedia run "$BATS_TEST_TMPDIR/words.py"
	assert_success
	assert_output "$(printf 'PYTHON\nPIPELINE')"
}

@test "remotemedia run pipeline.py: a failing Python pipeline is invalid input (exit 3)" {
	printf 'raise RuntimeError("broken on purpose")\n' > "$BATS_TEST_TMPDIR/bad.py"
	run remotemedia run "$BATS_TEST_TMPDIR/bad.py"
	assert_failure 3
	assert_output --partial "broken on purpose"
	# the runner's own messages name the tool that ran it
	printf 'x = 1\n' > "$BATS_TEST_TMPDIR/none.py"
	run remotemedia run "$BATS_TEST_TMPDIR/none.py"
	assert_failure 3
	assert_output --partial "rm-schedule: the file defines no Pipeline"
}

@test "remotemedia run: anything else is a usage error naming what run takes" {
	touch "$BATS_TEST_TMPDIR/notes.txt"
	run remotemedia run "$BATS_TEST_TMPDIR/notes.txt"
	assert_failure 2
	assert_output --partial "rm-schedule: run: cannot run \"$BATS_TEST_TMPDIR/notes.txt\""
	assert_output --partial ".py"
	assert_output --partial "oci://HOST/REPO:TAG"
}
