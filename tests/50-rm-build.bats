#!/usr/bin/env bats
# rm-build: pipelines (.py, .yaml, .json) into reproducible, signed packages.

load test_helper
bats_require_minimum_version 1.5.0

EX=$SHARE/examples
EDIT="python3 $FIXTURES/pkg/rmpkg_edit.py"

setup() {
	OUT=$BATS_TEST_TMPDIR/out
	mkdir -p "$OUT"
}

# A git repository holding a copy of the example pipeline, committed at a fixed time.
make_repo() {
	local d=$1
	mkdir -p "$d/models"
	cp "$EX/voice.yaml" "$EX/voice.py" "$d/"
	cp "$EX/models/tiny-vad.safetensors" "$d/models/"
	git -C "$d" init -q -b main
	git -C "$d" add -A
	GIT_AUTHOR_DATE='2024-01-02T03:04:05Z' GIT_COMMITTER_DATE='2024-01-02T03:04:05Z' \
	    git -C "$d" -c user.name=t -c user.email=t@example.com commit -q -m init
}

@test "rm-build: the example voice pipeline builds from YAML and from Python with the same manifest.json" {
	mkdir -p "$OUT/y" "$OUT/p"
	run rm-build -o "$OUT/y" "$EX/voice.yaml"
	assert_success
	y=$(jq -r .path <<<"$output")
	run rm-build -o "$OUT/p" "$EX/voice.py"
	assert_success
	p=$(jq -r .path <<<"$output")
	$EDIT cat "$y" manifest.json > "$OUT/my.json"
	$EDIT cat "$p" manifest.json > "$OUT/mp.json"
	cmp "$OUT/my.json" "$OUT/mp.json"
	# what the example promises: VAD -> STT on CUDA with 8 GB preferred -> TTS from a package
	run jq -c '[.nodes[].type], .nodes[1].capabilities.gpu.type, .nodes[1].capabilities.gpu.min_memory_gb.min, .nodes[2].remote_ref, .edges' "$OUT/mp.json"
	assert_output "$(printf '%s\n' '["VAD","SpeechToText","HFPipelineNode"]' '"cuda"' '8' '"oci://registry.example/voice/tts:1.0"' '[["vad","stt"],["stt","tts"]]')"
}

@test "rm-build: writes <name>-<12 hex>.rmpkg and prints path and digest; contents hold manifest, modules, models, meta" {
	run rm-build -o "$OUT" "$EX/voice.yaml"
	assert_success
	path=$(jq -r .path <<<"$output")
	digest=$(jq -r .digest <<<"$output")
	[[ $digest =~ ^sha256:[0-9a-f]{64}$ ]]
	[ "$path" = "$OUT/voice-${digest:7:12}.rmpkg" ]
	[ -f "$path" ]
	# the digest is the SHA-256 of meta/contents.json
	[ "sha256:$($EDIT cat "$path" meta/contents.json | sha256sum | cut -c1-64)" = "$digest" ]
	run tar -tf "$path"
	assert_output "$(printf '%s\n' manifest.json meta/contents.json meta/provenance.json meta/runtime.json models/tiny-vad.safetensors modules/voice.yaml)"
	# fixed owner and modes
	run tar --numeric-owner -tvf "$path"
	refute_output --regexp '^-rw-r--r-- [^0]'
	# the model is referenced from the manifest by package path and hash
	run bash -c "$EDIT cat '$path' manifest.json | jq -r '.nodes[0].params.model_path, .nodes[0].models[0].sha256'"
	assert_line --index 0 models/tiny-vad.safetensors
	assert_line --index 1 "$(sha256sum "$EX/models/tiny-vad.safetensors" | cut -c1-64)"
}

@test "rm-build: two builds of the same commit in different directories and at different times give the same bytes" {
	make_repo "$BATS_TEST_TMPDIR/src"
	git clone -q "$BATS_TEST_TMPDIR/src" "$BATS_TEST_TMPDIR/one"
	git clone -q "$BATS_TEST_TMPDIR/src" "$BATS_TEST_TMPDIR/two"
	mkdir -p "$OUT/1" "$OUT/2"
	run rm-build -o "$OUT/1" "$BATS_TEST_TMPDIR/one/voice.py"
	assert_success
	a=$(jq -r .path <<<"$output")
	sleep 1
	touch "$BATS_TEST_TMPDIR/two/voice.py" "$BATS_TEST_TMPDIR/two/models/tiny-vad.safetensors"
	run bash -c "cd '$BATS_TEST_TMPDIR' && rm-build -o '$OUT/2' two/voice.py"
	assert_success
	b=$(jq -r .path <<<"$output")
	[ "$(basename "$a")" = "$(basename "$b")" ]
	cmp "$a" "$b"
	# entries carry the commit time
	run tar -tvf "$a" manifest.json
	assert_output --partial "2024-01-02 03:04"
	run bash -c "$EDIT cat '$a' meta/provenance.json | jq -r '.build_time, .build_time_source, .git.path'"
	assert_output "$(printf '%s\n' 2024-01-02T03:04:05Z git-commit voice.py)"
}

@test "rm-build: a source's exec bit is packaged 0755 and listed in the contents list, so it is part of the digest" {
	cp -r "$EX" "$BATS_TEST_TMPDIR/ex"
	chmod 0755 "$BATS_TEST_TMPDIR/ex/voice.py"
	export SOURCE_DATE_EPOCH=86400
	mkdir -p "$OUT/a" "$OUT/b" "$OUT/c"
	a=$(rm-build -o "$OUT/a" "$BATS_TEST_TMPDIR/ex/voice.py" | jq -r .path)
	run tar -tvf "$a" modules/voice.py models/tiny-vad.safetensors
	assert_line --index 1 --regexp '^-rwxr-xr-x .* modules/voice.py$'
	assert_line --index 0 --regexp '^-rw-r--r-- .* models/tiny-vad.safetensors$'
	run bash -c "$EDIT cat '$a' meta/contents.json | jq -r '.schema, (.files[] | select(.path | startswith(\"modules/\")) | .path + \" \" + .mode)'"
	assert_output "$(printf '%s\n' remotemedia.contents/2 'modules/voice.py 0755')"
	chmod 0644 "$BATS_TEST_TMPDIR/ex/voice.py"
	b=$(rm-build -o "$OUT/b" "$BATS_TEST_TMPDIR/ex/voice.py" | jq -r .path)
	[ "$(basename "$a")" != "$(basename "$b")" ]
	[ "$($EDIT cat "$b" meta/contents.json | jq -r '.files[] | select(.path=="modules/voice.py") | .mode')" = 0644 ]
	# the same sources with the same modes: the same bytes again
	chmod 0755 "$BATS_TEST_TMPDIR/ex/voice.py"
	c=$(rm-build -o "$OUT/c" "$BATS_TEST_TMPDIR/ex/voice.py" | jq -r .path)
	cmp "$a" "$c"
}

@test "rm-build: SOURCE_DATE_EPOCH sets the recorded build time and the entries' mtime" {
	SOURCE_DATE_EPOCH=86400 run rm-build -o "$OUT" "$EX/voice.yaml"
	assert_success
	p=$(jq -r .path <<<"$output")
	run bash -c "$EDIT cat '$p' meta/provenance.json | jq -r '.build_time, .build_time_source'"
	assert_output "$(printf '%s\n' 1970-01-02T00:00:00Z SOURCE_DATE_EPOCH)"
	run tar -tvf "$p" manifest.json
	assert_output --partial "1970-01-02 00:00"
}

@test "rm-build: provenance names the git commit, branch and remote (without credentials) and turns dirty after an edit" {
	make_repo "$BATS_TEST_TMPDIR/repo"
	git -C "$BATS_TEST_TMPDIR/repo" remote add origin https://alice:s3cret@git.example.com/team/voice.git
	head=$(git -C "$BATS_TEST_TMPDIR/repo" rev-parse HEAD)
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/repo/voice.yaml"
	assert_success
	p=$(jq -r .path <<<"$output")
	run bash -c "$EDIT cat '$p' meta/provenance.json | jq -c '.git'"
	assert_output "{\"branch\":\"main\",\"commit\":\"$head\",\"commit_time\":1704164645,\"dirty\":false,\"path\":\"voice.yaml\",\"remote_url\":\"https://git.example.com/team/voice.git\"}"
	refute_output --partial s3cret
	# the package written into the tree is untracked and does not count as dirty
	echo "# edited" >> "$BATS_TEST_TMPDIR/repo/voice.yaml"
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/repo/voice.yaml"
	assert_success
	p2=$(jq -r .path <<<"$output")
	[ "$p" != "$p2" ]
	run bash -c "$EDIT cat '$p2' meta/provenance.json | jq -c '.git.dirty, .sources[0].path'"
	assert_output "$(printf '%s\n' true '"modules/voice.yaml"')"
}

# The git object of a package's provenance, compact.
prov_git() {
	$EDIT cat "$1" meta/provenance.json | jq -c .git
}

@test "rm-build: a checkout and its clones by local path or file:// give the same digest, with no remote recorded" {
	make_repo "$BATS_TEST_TMPDIR/orig"
	git clone -q "$BATS_TEST_TMPDIR/orig" "$BATS_TEST_TMPDIR/bypath"
	(cd "$BATS_TEST_TMPDIR" && git clone -q ./orig relclone)
	git clone -q "file://$BATS_TEST_TMPDIR/orig" "$BATS_TEST_TMPDIR/byurl"
	for d in orig bypath relclone byurl; do
		mkdir -p "$OUT/$d"
		run rm-build -o "$OUT/$d" "$BATS_TEST_TMPDIR/$d/voice.yaml"
		assert_success
		jq -r .path <<<"$output" > "$OUT/$d.path"
		run prov_git "$(cat "$OUT/$d.path")"
		assert_success
		# a local remote is no provenance: it names this machine's disk
		jq -e 'has("remote_url") | not' <<<"$output"
		refute_output --partial "$BATS_TEST_TMPDIR"
	done
	for d in bypath relclone byurl; do
		[ "$(basename "$(cat "$OUT/$d.path")")" = "$(basename "$(cat "$OUT/orig.path")")" ]
		cmp "$(cat "$OUT/orig.path")" "$(cat "$OUT/$d.path")"
	done
}

@test "rm-build: a clone of a checkout records the checkout's network remote and gives the same digest" {
	make_repo "$BATS_TEST_TMPDIR/orig"
	git -C "$BATS_TEST_TMPDIR/orig" remote add origin https://tok@example.com/team/voice.git
	git clone -q "$BATS_TEST_TMPDIR/orig" "$BATS_TEST_TMPDIR/c1"
	# a clone of the clone, by file:// URL
	git clone -q "file://$BATS_TEST_TMPDIR/c1" "$BATS_TEST_TMPDIR/c2"
	for d in orig c1 c2; do
		mkdir -p "$OUT/$d"
		run rm-build -o "$OUT/$d" "$BATS_TEST_TMPDIR/$d/voice.yaml"
		assert_success
		jq -r .path <<<"$output" > "$OUT/$d.path"
		run prov_git "$(cat "$OUT/$d.path")"
		jq -e '.remote_url == "https://example.com/team/voice.git"' <<<"$output"
	done
	cmp "$(cat "$OUT/orig.path")" "$(cat "$OUT/c1.path")"
	cmp "$(cat "$OUT/orig.path")" "$(cat "$OUT/c2.path")"
	# with the checkout gone, the clone has no network remote to record
	mv "$BATS_TEST_TMPDIR/orig" "$BATS_TEST_TMPDIR/gone"
	mkdir -p "$OUT/c1b"
	run rm-build -o "$OUT/c1b" "$BATS_TEST_TMPDIR/c1/voice.yaml"
	assert_success
	run prov_git "$(jq -r .path <<<"$output")"
	jq -e 'has("remote_url") | not' <<<"$output"
}

@test "rm-build: network remotes are recorded without credentials; local ones are not" {
	make_repo "$BATS_TEST_TMPDIR/repo"
	R=$BATS_TEST_TMPDIR/repo
	git -C "$R" remote add origin https://user:secret@example.com/x.git
	run rm-build -o "$OUT" "$R/voice.yaml"
	assert_success
	p=$(jq -r .path <<<"$output")
	run prov_git "$p"
	jq -e '.remote_url == "https://example.com/x.git"' <<<"$output"
	# nowhere in the package, whatever the entry
	mkdir "$OUT/x"
	tar -xf "$p" -C "$OUT/x"
	! grep -rqa secret "$OUT/x"
	! grep -qa secret "$p"
	while read -r url want; do
		git -C "$R" remote set-url origin "$url"
		mkdir -p "$OUT/u"
		rm -f "$OUT"/u/*
		run rm-build -o "$OUT/u" "$R/voice.yaml"
		assert_success
		run prov_git "$(jq -r .path <<<"$output")"
		[ "$(jq -r '.remote_url // "-"' <<<"$output")" = "$want" ] ||
		    { echo "$url: got $output, want $want"; false; }
	done <<-EOF
	ssh://git:pw@example.com:2222/x.git ssh://example.com:2222/x.git
	git://example.com/x.git git://example.com/x.git
	git@example.com:team/x.git git@example.com:team/x.git
	example.com:x.git example.com:x.git
	file:///srv/git/x.git -
	/srv/git/x.git -
	../x.git -
	x.git -
	./a:b -
	EOF
	# a local origin gives way to a network remote of the same repository
	git -C "$R" remote set-url origin /srv/git/x.git
	git -C "$R" remote add upstream https://tok@example.com/up.git
	mkdir "$OUT/u2"
	run rm-build -o "$OUT/u2" "$R/voice.yaml"
	assert_success
	run prov_git "$(jq -r .path <<<"$output")"
	jq -e '.remote_url == "https://example.com/up.git"' <<<"$output"
}

@test "rm-build: outside any git repository provenance has git null and mtime 0" {
	mkdir -p "$BATS_TEST_TMPDIR/plain/models"
	cp "$EX/voice.yaml" "$BATS_TEST_TMPDIR/plain/"
	cp "$EX/models/tiny-vad.safetensors" "$BATS_TEST_TMPDIR/plain/models/"
	GIT_CEILING_DIRECTORIES=$BATS_TEST_TMPDIR run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/plain/voice.yaml"
	assert_success
	p=$(jq -r .path <<<"$output")
	run bash -c "$EDIT cat '$p' meta/provenance.json | jq -c '.git, .build_time_source'"
	assert_output "$(printf '%s\n' null '"none"')"
}

@test "rm-build: a Python exception is reported with its traceback and exit 3" {
	cat > "$BATS_TEST_TMPDIR/bad.py" <<'PY'
from remotemedia import Pipeline
def broken():
    return 1 / 0
pipeline = broken()
PY
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/bad.py"
	assert_failure 3
	assert_output --partial "Traceback (most recent call last)"
	assert_output --partial "ZeroDivisionError"
	assert_output --partial "bad.py: the pipeline failed in Python"
	[ -z "$(ls "$OUT")" ]
}

@test "rm-build: a .py file without a Pipeline is refused with exit 3" {
	echo 'x = 1' > "$BATS_TEST_TMPDIR/none.py"
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/none.py"
	assert_failure 3
	assert_output --partial "defines no Pipeline"
}

@test "rm-build: local modules are packaged, third-party imports recorded in runtime.json, the stdlib left out" {
	d=$BATS_TEST_TMPDIR/proj
	mkdir -p "$d/helpers"
	cat > "$d/helpers/__init__.py" <<'PY'
from .names import NODE_ID
PY
	echo 'NODE_ID = "echo"' > "$d/helpers/names.py"
	echo 'import json' > "$d/util.py"
	cat > "$d/pipe.py" <<'PY'
import os, sys
import util
from helpers import NODE_ID
from remotemedia import Pipeline, Node

def optional():
    import pip
    import rm_surely_not_installed_mod

pipeline = Pipeline("local-mods")
pipeline.add(Node(NODE_ID, "Command", exec=["cat"]))
PY
	run rm-build -o "$OUT" "$d/pipe.py"
	assert_success
	p=$(jq -r .path <<<"$output")
	run tar -tf "$p"
	assert_line modules/pipe.py
	assert_line modules/util.py
	assert_line modules/helpers/__init__.py
	assert_line modules/helpers/names.py
	run bash -c "$EDIT cat '$p' meta/runtime.json | jq -c '[.imports[].module], [.imports[] | select(.module==\"rm_surely_not_installed_mod\") | .distribution], (.imports[] | select(.module==\"pip\") | .distribution), .python.version'"
	assert_line --index 0 '["pip","rm_surely_not_installed_mod"]'
	assert_line --index 1 '[null]'
	assert_line --index 2 '"pip"'
	assert_line --index 3 "\"$(python3 -I -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')\""
	run bash -c "$EDIT cat '$p' manifest.json | jq -c '.nodes[0].exec'"
	assert_output '["cat"]'
}

@test "rm-build: complex parameter values become data files referenced by path, format and SHA-256" {
	cat > "$BATS_TEST_TMPDIR/cx.py" <<'PY'
import dataclasses
from remotemedia import Pipeline, Node

@dataclasses.dataclass
class Cfg:
    rate: int
    label: str

class Custom:
    def __init__(self):
        self.v = 42

pipeline = Pipeline("complex")
pipeline.add(Node("n", "Passthrough", params={"cfg": Cfg(16000, "hi"), "blob": b"\x00\x01", "obj": Custom()}))
PY
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/cx.py"
	assert_success
	p=$(jq -r .path <<<"$output")
	$EDIT cat "$p" manifest.json > "$OUT/m.json"
	run jq -r '.nodes[0].params | [.cfg["$data"].format, .blob["$data"].format, .obj["$data"].format] | join(" ")' "$OUT/m.json"
	assert_output "json bytes pickle"
	path=$(jq -r '.nodes[0].params.cfg["$data"].path' "$OUT/m.json")
	sha=$(jq -r '.nodes[0].params.cfg["$data"].sha256' "$OUT/m.json")
	[ "$($EDIT cat "$p" "$path")" = '{"label":"hi","rate":16000}' ]
	[ "$($EDIT cat "$p" "$path" | sha256sum | cut -c1-64)" = "$sha" ]
}

@test "rm-build: every missing required field is listed in one message" {
	cat > "$BATS_TEST_TMPDIR/m.yaml" <<'Y'
name: broken
nodes:
  - type: VAD
  - id: b
  - params: {}
Y
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/m.yaml"
	assert_failure 3
	assert_output --partial "missing required fields: nodes[0].id, nodes[1].type, nodes[2].id, nodes[2].type"
	printf 'schema: remotemedia.pipeline/1\nname: x\n' > "$BATS_TEST_TMPDIR/n.yaml"
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/n.yaml"
	assert_failure 3
	assert_output --partial "missing required field: nodes"
}

@test "rm-build: an unsupported node type is answered with the supported types" {
	printf 'name: x\nnodes:\n  - {id: a, type: Teleporter}\n' > "$BATS_TEST_TMPDIR/t.yaml"
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/t.yaml"
	assert_failure 3
	assert_output --partial 'nodes[0].type: unsupported node type "Teleporter"; supported types: Passthrough'
	assert_output --partial "SpeechToText"
	assert_output --partial "HFPipelineNode"
}

@test "rm-build: cycles, duplicate ids, unknown edge ends and a bad exec are refused" {
	printf 'name: x\nnodes:\n  - {id: a, type: VAD}\n  - {id: b, type: VAD}\n  - {id: c, type: VAD}\nedges: [[a, b], [b, c], [c, a]]\n' > "$BATS_TEST_TMPDIR/c.yaml"
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/c.yaml"
	assert_failure 3
	assert_output --partial "cycle: a -> b -> c -> a"
	printf 'name: x\nnodes:\n  - {id: a, type: VAD, exec: [ls, 3]}\n  - {id: a, type: VAD}\nedges: [[a, zz]]\n' > "$BATS_TEST_TMPDIR/d.yaml"
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/d.yaml"
	assert_failure 3
	assert_output --partial 'nodes[0].exec: expected a string or a non-empty list of strings'
	assert_output --partial 'duplicate node id "a"'
	assert_output --partial 'edges[0]: unknown node "zz"'
}

@test "rm-build: a pipeline schema of major version 2 is a version mismatch" {
	printf 'schema: remotemedia.pipeline/2\nname: x\nnodes: [{id: a, type: VAD}]\n' > "$BATS_TEST_TMPDIR/v2.yaml"
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/v2.yaml"
	assert_failure 3
	assert_output --partial "version mismatch"
	echo '{"version": "v2", "nodes": [{"id": "a", "node_type": "VAD"}], "connections": []}' > "$BATS_TEST_TMPDIR/v2.json"
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/v2.json"
	assert_failure 3
	assert_output --partial "version mismatch"
}

@test "rm-build: RemoteMedia's own serialize() output is read (node_type, connections, gpu.required true)" {
	cat > "$BATS_TEST_TMPDIR/rm.json" <<'J'
{"version": "v1", "metadata": {"name": "rmformat", "version": "2.1"},
 "nodes": [{"id": "w", "node_type": "WhisperNode", "params": {"model": "small"},
            "capabilities": {"gpu": {"type": "cuda", "memory_gb": 8}}, "host": "gpu1:50051"},
           {"id": "p", "node_type": "Passthrough", "params": {}}],
 "connections": [{"from": "w", "to": "p"}]}
J
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/rm.json"
	assert_success
	p=$(jq -r .path <<<"$output")
	[[ $(basename "$p") == rmformat-*.rmpkg ]]
	run bash -c "$EDIT cat '$p' manifest.json | jq -c '.name, .version, .nodes[0].type, .nodes[0].capabilities.gpu.required, .nodes[0].host, .edges'"
	assert_output "$(printf '%s\n' '"rmformat"' '"2.1"' '"WhisperNode"' true '"gpu1:50051"' '[["w","p"]]')"
}

@test "rm-build: a model file named in a node's models list must exist (exit 4)" {
	printf 'name: x\nnodes:\n  - {id: a, type: VAD, models: [weights/missing.safetensors]}\n' > "$BATS_TEST_TMPDIR/mm.yaml"
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/mm.yaml"
	assert_failure 4
	assert_output --partial "nodes[0].models[0]: model file 'weights/missing.safetensors' not found"
}

@test "rm-build keygen: Ed25519 key pair, private key 0600, public key path printed, no overwrite" {
	run rm-build keygen alice
	assert_success
	assert_line --index 0 "$REMOTEMEDIA_HOME/keys/alice.pub"
	assert_line --index 1 "rm-build: to trust its signatures on this machine: rm-build trust alice"
	[ "$(stat -c %a "$REMOTEMEDIA_HOME/keys/alice.key")" = 600 ]
	run openssl pkey -in "$REMOTEMEDIA_HOME/keys/alice.key" -noout -text
	assert_output --partial "ED25519 Private-Key"
	snapshot "$REMOTEMEDIA_HOME/keys"
	run rm-build keygen alice
	assert_failure 3
	assert_output --partial "already exists"
	same_as_snapshot "$REMOTEMEDIA_HOME/keys"
	run rm-build keygen ../evil
	assert_failure 2
	# one value bare, JSON when asked
	out=$(rm-build keygen --json bob 2>/dev/null)
	[ "$(jq -r .path <<<"$out")" = "$REMOTEMEDIA_HOME/keys/bob.pub" ]
	out=$(rm-build trust --json bob)
	[ "$(jq -r .path <<<"$out")" = "$REMOTEMEDIA_HOME/trust/bob.pub" ]
}

@test "rm-build trust: a key is trusted by name or path, once, and only an Ed25519 public key" {
	rm-build keygen alice >/dev/null 2>&1
	rm-build keygen bob >/dev/null 2>&1
	s=$(rm-build -o "$OUT" --sign alice "$EX/voice.yaml" | jq -r .path)
	run rm-inspect --verify "$s"
	assert_failure 5
	assert_output --partial untrusted
	run rm-build trust alice
	assert_success
	assert_output "$REMOTEMEDIA_HOME/trust/alice.pub"
	cmp "$REMOTEMEDIA_HOME/keys/alice.pub" "$REMOTEMEDIA_HOME/trust/alice.pub"
	run rm-inspect --verify --json "$s"
	assert_success
	[ "$(jq -r .signature.signer <<<"$output")" = alice ]
	# again: nothing to do; another key under the same name: refused, unchanged
	run rm-build trust alice
	assert_success
	cp "$REMOTEMEDIA_HOME/keys/bob.pub" "$BATS_TEST_TMPDIR/alice.pub"
	run rm-build trust "$BATS_TEST_TMPDIR/alice.pub"
	assert_failure 3
	assert_output --partial "another key is already trusted as 'alice'"
	cmp "$REMOTEMEDIA_HOME/keys/alice.pub" "$REMOTEMEDIA_HOME/trust/alice.pub"
	# a path is trusted under its base name; a private key or junk is not a public key
	run rm-build trust "$REMOTEMEDIA_HOME/keys/bob.pub"
	assert_success
	assert_output "$REMOTEMEDIA_HOME/trust/bob.pub"
	run rm-build trust "$REMOTEMEDIA_HOME/keys/bob.key"
	assert_failure 3
	assert_output --partial "expected an Ed25519 public key"
	[ ! -e "$REMOTEMEDIA_HOME/trust/bob.key.pub" ]
	run rm-build trust nosuch
	assert_failure 4
	run rm-build trust
	assert_failure 2
}

@test "rm-build -o: missing directories are created 0755; a file in the way is refused" {
	run rm-build -o "$OUT/new/dist" "$EX/voice.yaml"
	assert_success
	[ -f "$(jq -r .path <<<"$output")" ]
	[ "$(stat -c %a "$OUT/new/dist")" = 755 ]
	[ "$(stat -c %a "$OUT/new")" = 755 ]
	touch "$OUT/file"
	run rm-build -o "$OUT/file" "$EX/voice.yaml"
	assert_failure 3
	assert_output --partial "$OUT/file: output path is not a directory"
	run rm-build -o "$OUT/file/sub" "$EX/voice.yaml"
	assert_failure 3
	assert_output --partial "cannot create directory"
}

@test "rm-build: --sign at build and 'sign' afterwards keep the digest; the signature verifies with trust" {
	rm-build keygen alice >/dev/null
	mkdir -p "$OUT/u" "$OUT/s" "$REMOTEMEDIA_HOME/trust"
	u=$(rm-build -o "$OUT/u" "$EX/voice.yaml" | jq -r .path)
	run rm-build -o "$OUT/s" --sign alice "$EX/voice.yaml"
	assert_success
	[ "$(jq -r .signed <<<"$output")" = true ]
	s=$(jq -r .path <<<"$output")
	[ "$(basename "$u")" = "$(basename "$s")" ]
	cp "$REMOTEMEDIA_HOME/keys/alice.pub" "$REMOTEMEDIA_HOME/trust/"
	run rm-inspect --verify --json "$s"
	assert_success
	[ "$(jq -r .signature.status <<<"$output")" = valid ]
	[ "$(jq -r .signature.signer <<<"$output")" = alice ]
	# signing the unsigned build afterwards gives the very same bytes
	run rm-build sign --sign alice "$u"
	assert_success
	cmp "$u" "$s"
}

@test "rm-build: --optimize converts F32 safetensors tensors and records size saved and the largest error" {
	for t in f16 bf16 int8; do
		mkdir -p "$OUT/$t"
		run rm-build -o "$OUT/$t" --optimize=$t "$EX/voice.yaml"
		assert_success
		p=$(jq -r .path <<<"$output")
		[ "$(jq -r '.optimized[0].saved_bytes > 0' <<<"$output")" = true ]
		$EDIT cat "$p" manifest.json > "$OUT/$t.json"
		run jq -r '.nodes[0].models[0].optimization | .dtype, (.tensors | length), (.tensors[] | select(.name=="vad.weight") | .max_abs_error < 0.01)' "$OUT/$t.json"
		assert_output "$(printf '%s\n' $t 2 true)"
		$EDIT cat "$p" models/tiny-vad.safetensors > "$OUT/$t.st"
		run python3 -c '
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8+n])
print(h["vad.weight"]["dtype"], "vad.weight.scale" in h)' "$OUT/$t.st"
		case $t in
		f16) assert_output "F16 False" ;;
		bf16) assert_output "BF16 False" ;;
		int8) assert_output "I8 True" ;;
		esac
	done
	run rm-build -o "$OUT" --optimize=int4 "$EX/voice.yaml"
	assert_failure 2
}

@test "rm-build: usage errors exit 2, --help exits 0" {
	run rm-build
	assert_failure 2
	run rm-build --frobnicate x.yaml
	assert_failure 2
	assert_output --partial "usage: rm-build"
	run rm-build --help
	assert_success
	assert_output --partial "usage: rm-build"
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/nope.yaml"
	assert_failure 4
	run rm-build -o "$OUT" "$FIXTURES/pkg/rmpkg_edit.py.txt"
	assert_failure 4
	echo 'x' > "$BATS_TEST_TMPDIR/p.txt"
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/p.txt"
	assert_failure 3
}

@test "rm-build: data files load back through the SDK; a pickle is refused in production mode" {
	cat > "$BATS_TEST_TMPDIR/pk.py" <<'PY'
from remotemedia import Pipeline, Node
pipeline = Pipeline("pk")
pipeline.add(Node("n", "Passthrough", params={"tags": {"b", "a"}, "blob": b"\x00\x01"}))
PY
	run rm-build -o "$OUT" "$BATS_TEST_TMPDIR/pk.py"
	assert_success
	p=$(jq -r .path <<<"$output")
	rm-inspect -x "$BATS_TEST_TMPDIR/unpacked" "$p" >/dev/null
	cat > "$BATS_TEST_TMPDIR/load.py" <<'PY'
import json, sys
sys.path.insert(0, sys.argv[1])
from remotemedia import load_data
root = sys.argv[2]
params = json.load(open(root + "/manifest.json"))["nodes"][0]["params"]
print(sorted(load_data(params["tags"], root)), load_data(params["blob"], root))
PY
	REMOTEMEDIA_ENV=development run python3 "$BATS_TEST_TMPDIR/load.py" "$SHARE/python" "$BATS_TEST_TMPDIR/unpacked"
	assert_success
	assert_output "['a', 'b'] b'\\x00\\x01'"
	REMOTEMEDIA_ENV=production run python3 "$BATS_TEST_TMPDIR/load.py" "$SHARE/python" "$BATS_TEST_TMPDIR/unpacked"
	assert_failure
	assert_output --partial "refusing to load a pickle in production mode"
	# a data file changed after the build is refused before it is read
	f=$(jq -r '.nodes[0].params.blob["$data"].path' "$BATS_TEST_TMPDIR/unpacked/manifest.json")
	chmod u+w "$BATS_TEST_TMPDIR/unpacked/$f" "$BATS_TEST_TMPDIR/unpacked/$(dirname "$f")" 2>/dev/null || true
	printf 'x' >> "$BATS_TEST_TMPDIR/unpacked/$f"
	REMOTEMEDIA_ENV=development run python3 "$BATS_TEST_TMPDIR/load.py" "$SHARE/python" "$BATS_TEST_TMPDIR/unpacked"
	assert_failure
	assert_output --partial "SHA-256 does not match the manifest"
}

@test "rm-build: a model_path or models entry that does not exist is exit 4 naming it" {
	d=$BATS_TEST_TMPDIR/nomodel
	mkdir -p "$d"
	printf 'schema: remotemedia.pipeline/1\nname: m\nnodes:\n  - id: a\n    type: VAD\n    params: {model_path: models/missing.safetensors}\n' > "$d/p.yaml"
	run -4 rm-build -o "$OUT" "$d/p.yaml"
	assert_output --partial "p.yaml: nodes[0].params.model_path: model file 'models/missing.safetensors' not found"
	printf 'schema: remotemedia.pipeline/1\nname: m\nnodes:\n  - id: a\n    type: VAD\n    models: [w/gone.bin]\n' > "$d/p.yaml"
	run -4 rm-build -o "$OUT" "$d/p.yaml"
	assert_output --partial "nodes[0].models[0]: model file 'w/gone.bin' not found"
	# a URI is not a file of ours: left for the node
	printf 'schema: remotemedia.pipeline/1\nname: m\nnodes:\n  - id: a\n    type: VAD\n    params: {model_path: "hf://org/vad"}\n' > "$d/p.yaml"
	run rm-build -o "$OUT" "$d/p.yaml"
	assert_success
}

@test "rm-build: the example voice.py builds from any working directory, its model found beside it" {
	mkdir -p "$OUT/elsewhere"
	cd "$OUT/elsewhere"
	run rm-build -o "$OUT" "$EX/voice.py"
	assert_success
	p=$(jq -r .path <<<"$output")
	run bash -c "$EDIT cat '$p' manifest.json | jq -r '.nodes[0].params.model_path, (.nodes[0].models[0].sha256 | length)'"
	assert_output "$(printf '%s\n' models/tiny-vad.safetensors 64)"
}
