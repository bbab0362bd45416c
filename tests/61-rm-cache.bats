#!/usr/bin/env bats
# rm-cache: fetching packages from a real registry into the crash-safe,
# content-addressed cache; hits without network; faults; verify, gc, clear.

bats_require_minimum_version 1.5.0
load test_helper
source "$RM_TOP_SRCDIR/tests/fixtures/oci/registry.bash"

setup_file() {
	oci_setup_file
	PKG1=$(make_pkg "$BATS_FILE_TMPDIR/p1" 1 1.0.0)
	PKG2=$(make_pkg "$BATS_FILE_TMPDIR/p2" 2 2.0.0)
	rm-push --insecure -q "$PKG1" "oci://$REG/voice/tts:1.0" >/dev/null
	rm-push --insecure -q "$PKG2" "oci://$REG/voice/tts:2.0" >/dev/null
	rm-push --insecure -q "$PKG1" "oci://$REG/voice/tts:latest" >/dev/null
	export REG REG_PID REG_LOG PKG1 PKG2
}

teardown_file() {
	registry_stop "$BATS_FILE_TMPDIR/reg"
}

teardown() {
	proxy_stop
}

fetch_json() { run --separate-stderr rm-cache fetch --insecure --json "$@"; }

# random_model_pkg DIR BYTES: the example package with a model of BYTES random
# bytes (never sparse), built under DIR; prints its path.
random_model_pkg() {
	mkdir -p "$1/src/models" "$1/out"
	cp "$SHARE/examples/voice.yaml" "$1/src/"
	head -c "$2" /dev/urandom > "$1/src/models/tiny-vad.safetensors"
	SOURCE_DATE_EPOCH=1700000000 rm-build -q -o "$1/out" "$1/src/voice.yaml" | jq -r .path
}

@test "rm-cache: fetch unpacks a verified package under pipelines/<digest>/ and makes a byte-identical .rmpkg when asked" {
	fetch_json "oci://$REG/voice/tts:1.0"
	assert_success
	d=$(jq -r '.[0].digest' <<<"$output")
	[ "$d" = "$(rm-inspect --json "$PKG1" 2>/dev/null | jq -r .digest)" ]
	jq -e '.[0].cached == false and (.[0] | has("package") | not)' <<<"$output"
	[ "$(jq -r '.[0].path' <<<"$output")" = "$REMOTEMEDIA_HOME/pipelines/${d#sha256:}" ]
	# the blobs are the package: no .rmpkg until one is asked for
	[ ! -e "$REMOTEMEDIA_HOME/pipelines/${d#sha256:}.rmpkg" ]
	fetch_json --package "oci://$REG/voice/tts:1.0"
	assert_success
	[ "$(jq -r '.[0].package' <<<"$output")" = "$REMOTEMEDIA_HOME/pipelines/${d#sha256:}.rmpkg" ]
	cmp "$PKG1" "$REMOTEMEDIA_HOME/pipelines/${d#sha256:}.rmpkg"
	[ -f "$REMOTEMEDIA_HOME/pipelines/${d#sha256:}/manifest.json" ]
	cmp "$BATS_FILE_TMPDIR/p1/src/models/tiny-vad.safetensors" "$REMOTEMEDIA_HOME/pipelines/${d#sha256:}/models/tiny-vad.safetensors"
	# the model blob is stored once under its digest
	[ -f "$REMOTEMEDIA_HOME/blobs/sha256/$(sha256sum "$BATS_FILE_TMPDIR/p1/src/models/tiny-vad.safetensors" | cut -c1-64)" ]
	# a terminal gets sizes in binary units; the package is about 303 KiB
	run script -qec "rm-cache ls" /dev/null
	assert_output --regexp "voice +1\.0\.0 +30[0-9]\.[0-9] KiB"
	run --separate-stderr rm-cache ls --json
	jq -e --arg d "$d" --arg r "oci://$REG/voice/tts:1.0" 'length == 1 and .[0].digest == $d and .[0].name == "voice" and .[0].version == "1.0.0" and .[0].refs == [$r]' <<<"$output"
	run --separate-stderr rm-cache path --json "oci://$REG/voice/tts:1.0"
	[ "$(jq -r .path <<<"$output")" = "$REMOTEMEDIA_HOME/pipelines/${d#sha256:}" ]
	run --separate-stderr rm-cache path --json --package "${d:7:12}"
	[ "$(jq -r .package <<<"$output")" = "$REMOTEMEDIA_HOME/pipelines/${d#sha256:}.rmpkg" ]
	run --separate-stderr rm-cache path --package "${d:7:12}"
	assert_output "$REMOTEMEDIA_HOME/pipelines/${d#sha256:}.rmpkg"
	# one value: the directory alone, even into a pipe; JSON only when asked
	run --separate-stderr rm-cache path "${d:7:12}"
	assert_output "$REMOTEMEDIA_HOME/pipelines/${d#sha256:}"
}

@test "rm-cache: a reference seen before is answered with no network request (proxy gone), and --offline misses exit 1" {
	proxy_start "$BATS_TEST_TMPDIR" pass
	fetch_json "oci://$PROXY/voice/tts:1.0"
	assert_success
	proxy_stop
	n=$(wc -l < "$BATS_TEST_TMPDIR/proxy.log")
	fetch_json --package "oci://$PROXY/voice/tts:1.0"
	assert_success
	jq -e '.[0].cached == true' <<<"$output"
	cmp "$PKG1" "$(jq -r '.[0].package' <<<"$output")"
	[ "$(wc -l < "$BATS_TEST_TMPDIR/proxy.log")" = "$n" ]
	run rm-cache fetch --offline "oci://$PROXY/voice/tts:2.0"
	assert_failure 1
	assert_output --partial "offline"
	# not cached and unreachable: a clear error naming it, suggesting --offline
	run rm-cache fetch "oci://$PROXY/voice/tts:2.0"
	assert_failure 6
	assert_output --partial "cannot fetch oci://$PROXY/voice/tts:2.0"
	assert_output --partial "--offline"
}

@test "rm-cache: a download cut off mid-blob resumes with Range and gives the same package" {
	proxy_start "$BATS_TEST_TMPDIR" drop-blob
	fetch_json --package "oci://$PROXY/voice/tts:1.0"
	assert_success
	grep -q '^dropped after' "$BATS_TEST_TMPDIR/proxy.log"
	grep -qE '^GET /v2/voice/tts/blobs/sha256:[0-9a-f]+ 206$' "$BATS_TEST_TMPDIR/proxy.log"
	cmp "$PKG1" "$(jq -r '.[0].package' <<<"$output")"
	run rm-cache verify
	assert_success
}

@test "rm-cache: a 500 is retried" {
	proxy_start "$BATS_TEST_TMPDIR" 500-once
	fetch_json --package "oci://$PROXY/voice/tts:1.0"
	assert_success
	grep -qE '^GET /v2/voice/tts/blobs/sha256:[0-9a-f]+ 500$' "$BATS_TEST_TMPDIR/proxy.log"
	cmp "$PKG1" "$(jq -r '.[0].package' <<<"$output")"
}

@test "rm-cache: a blob whose bytes do not match its digest is refused, and nothing corrupt is left" {
	proxy_start "$BATS_TEST_TMPDIR" corrupt
	run rm-cache fetch --insecure "oci://$PROXY/voice/tts:1.0"
	assert_failure 5
	assert_output --partial "refused"
	[ -z "$(ls "$REMOTEMEDIA_HOME/pipelines" 2>/dev/null | grep -v '\.lock$')" ]
	run rm-cache verify
	assert_success
	run rm-cache ls --json
	assert_output "[]"
}

@test "rm-cache: kill -9 during a fetch leaves a valid cache; the next fetch completes it" {
	proxy_start "$BATS_TEST_TMPDIR" slow
	rm-cache fetch --insecure -q "oci://$PROXY/voice/tts:1.0" >/dev/null 2>&1 &
	pid=$!
	sleep 0.6
	kill -9 "$pid"
	wait "$pid" || true
	# nothing half-done is visible
	run --separate-stderr rm-cache ls --json
	assert_output "[]"
	run rm-cache verify
	assert_success
	ls "$REMOTEMEDIA_HOME/blobs/sha256/" | grep -q '\.partial$'
	fetch_json --package "oci://$REG/voice/tts:1.0"
	assert_success
	cmp "$PKG1" "$(jq -r '.[0].package' <<<"$output")"
	run rm-cache verify
	assert_success
	run rm-cache gc
	assert_success
	[ -z "$(ls "$REMOTEMEDIA_HOME/blobs/sha256/" | grep '\.partial$')" ]
}

@test "rm-cache gc: a peer transfer left behind goes, unless a fetch holds its lock" {
	P=$REMOTEMEDIA_HOME/pipelines
	h=$(printf 'a%.0s' $(seq 64))
	k=$(printf 'b%.0s' $(seq 64))
	mkdir -p "$P"
	for x in "$h" "$k"; do
		head -c 1000 /dev/urandom >"$P/$x.peer"
		echo '{}' >"$P/$x.peer.state"
	done
	# a fetch still running holds k's lock
	flock "$P/$k.peer.lock" sleep 30 &
	holder=$!
	for _ in $(seq 1 50); do
		[ -e "$P/$k.peer.lock" ] && break
		sleep 0.1
	done
	run --separate-stderr rm-cache gc --json
	kill "$holder"
	assert_success
	assert_equal "$(jq -r '[.[] | select(.what == "partial") | .path | sub(".*/"; "")] | sort | join(" ")' <<<"$output")" \
		"$h.peer $h.peer.state"
	[ ! -e "$P/$h.peer" ] && [ ! -e "$P/$h.peer.state" ]
	[ -e "$P/$k.peer" ] && [ -e "$P/$k.peer.state" ]
}

@test "rm-cache: two concurrent fetches of the same reference give one correct entry" {
	rm-cache fetch --insecure -q --json --package "oci://$REG/voice/tts:2.0" > "$BATS_TEST_TMPDIR/a" 2>&1 &
	a=$!
	rm-cache fetch --insecure -q --json --package "oci://$REG/voice/tts:2.0" > "$BATS_TEST_TMPDIR/b" 2>&1 &
	b=$!
	wait "$a"
	wait "$b"
	run --separate-stderr rm-cache ls --json
	jq -e 'length == 1' <<<"$output"
	cmp "$PKG2" "$(jq -r '.[0].package' "$BATS_TEST_TMPDIR/a")"
	# the unpacked directory, its layout and signature records, the .rmpkg asked for
	[ "$(ls "$REMOTEMEDIA_HOME/pipelines" | grep -v '\.lock$' | wc -l)" = 4 ]
	run rm-cache verify
	assert_success
}

@test "rm-cache: --pipeline fetches every remote_ref in parallel; several refs at once" {
	sed -e "s#oci://registry.example/voice/tts:1.0#oci://$REG/voice/tts:1.0#" \
	    "$SHARE/examples/voice.yaml" > "$BATS_TEST_TMPDIR/p.yaml"
	grep -q "oci://$REG/voice/tts:1.0" "$BATS_TEST_TMPDIR/p.yaml"
	run --separate-stderr rm-cache fetch --insecure --json --pipeline "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	jq -e 'length == 1 and .[0].cached == false' <<<"$output"
	fetch_json "oci://$REG/voice/tts:1.0" "oci://$REG/voice/tts:2.0" "oci://$REG/voice/tts:latest"
	assert_success
	jq -e 'length == 3 and .[0].cached and (.[1].cached|not) and .[2].digest == .[0].digest' <<<"$output"
}

@test "rm-cache: --refresh re-resolves a moved tag; clear removes an entry and its blobs; clear --all empties the cache" {
	fetch_json "oci://$REG/voice/tts:latest"
	d1=$(jq -r '.[0].digest' <<<"$output")
	rm-push --insecure -q "$PKG2" "oci://$REG/voice/tts:latest" >/dev/null
	fetch_json "oci://$REG/voice/tts:latest"
	[ "$(jq -r '.[0].digest' <<<"$output")" = "$d1" ]
	fetch_json --package --refresh "oci://$REG/voice/tts:latest"
	d2=$(jq -r '.[0].digest' <<<"$output")
	[ "$d2" != "$d1" ]
	cmp "$PKG2" "$(jq -r '.[0].package' <<<"$output")"
	rm-push --insecure -q "$PKG1" "oci://$REG/voice/tts:latest" >/dev/null
	run rm-cache clear "$d1"
	assert_success
	[ ! -e "$REMOTEMEDIA_HOME/pipelines/${d1#sha256:}" ]
	[ ! -e "$REMOTEMEDIA_HOME/blobs/sha256/$(sha256sum "$BATS_FILE_TMPDIR/p1/src/models/tiny-vad.safetensors" | cut -c1-64)" ]
	[ -e "$REMOTEMEDIA_HOME/blobs/sha256/$(sha256sum "$BATS_FILE_TMPDIR/p2/src/models/tiny-vad.safetensors" | cut -c1-64)" ]
	run rm-cache path "$d1"
	assert_failure 1
	run rm-cache clear --all
	assert_success
	run --separate-stderr rm-cache ls --json
	assert_output "[]"
}

@test "rm-cache: verify reports a corrupted blob and a tampered unpacked file, exit 1" {
	fetch_json "oci://$REG/voice/tts:1.0"
	d=$(jq -r '.[0].digest' <<<"$output")
	m=$(sha256sum "$BATS_FILE_TMPDIR/p1/src/models/tiny-vad.safetensors" | cut -c1-64)
	printf 'x' >> "$REMOTEMEDIA_HOME/blobs/sha256/$m"
	printf 'x' >> "$REMOTEMEDIA_HOME/pipelines/${d#sha256:}/modules/voice.yaml"
	run --separate-stderr rm-cache verify --json
	assert_failure 1
	jq -e 'length == 2 and ([.[].what] | sort) == ["blob", "file"]' <<<"$output"
}

@test "rm-inspect: accepts oci:// references and cache digests" {
	# a plain-HTTP registry listed as insecure in config.yaml
	mkdir -p "$REMOTEMEDIA_HOME"
	printf 'registries:\n  "%s":\n    insecure: true\n' "$REG" > "$REMOTEMEDIA_HOME/config.yaml"
	run --separate-stderr rm-inspect --json "oci://$REG/voice/tts:1.0"
	assert_success
	d=$(jq -r .digest <<<"$output")
	[ "$d" = "$(rm-inspect --json "$PKG1" 2>/dev/null | jq -r .digest)" ]
	# inspecting a reference caches nothing: fetch it to inspect it by digest
	rm-cache fetch -q "oci://$REG/voice/tts:1.0" >/dev/null
	run --separate-stderr rm-inspect --json "$d"
	assert_success
	[ "$(jq -r .digest <<<"$output")" = "$d" ]
	run --separate-stderr rm-inspect --json "${d:7:12}"
	assert_success
}

@test "rm-cache: a large file is unpacked as a hard link to its verified blob; verify, clear and a new fetch handle the shared inode" {
	d=$BATS_TEST_TMPDIR/big
	mkdir -p "$d/src/models" "$d/out"
	cp "$SHARE/examples/voice.yaml" "$d/src/"
	head -c 1500000 /dev/urandom > "$d/src/models/tiny-vad.safetensors"
	pkg=$(SOURCE_DATE_EPOCH=1700000000 rm-build -q -o "$d/out" "$d/src/voice.yaml" | jq -r .path)
	rm-push --insecure -q "$pkg" "oci://$REG/voice/big:1" >/dev/null
	fetch_json --package "oci://$REG/voice/big:1"
	assert_success
	h=$(jq -r '.[0].digest' <<<"$output")
	h=${h#sha256:}
	cmp "$pkg" "$REMOTEMEDIA_HOME/pipelines/$h.rmpkg"
	blob=$REMOTEMEDIA_HOME/blobs/sha256/$(sha256sum "$d/src/models/tiny-vad.safetensors" | cut -c1-64)
	file=$REMOTEMEDIA_HOME/pipelines/$h/models/tiny-vad.safetensors
	cmp "$d/src/models/tiny-vad.safetensors" "$file"
	[ "$(stat -c %i "$blob")" = "$(stat -c %i "$file")" ]
	# read-only: a program opening it for writing is refused, the blob unchanged
	[ "$(stat -c %a "$file")" = 444 ]
	[ "$(stat -c %a "$REMOTEMEDIA_HOME/pipelines/$h/manifest.json")" = 644 ]
	# a small file is a copy of its own
	v=$REMOTEMEDIA_HOME/pipelines/$h/modules/voice.yaml
	[ "$(stat -c %i "$v")" != "$(stat -c %i "$REMOTEMEDIA_HOME/blobs/sha256/$(sha256sum "$v" | cut -c1-64)")" ]
	run rm-cache verify
	assert_success
	# one byte changed in the shared inode is reported under both of its names
	# (the data is random: write a byte other than the one there, or 1 in 256
	# runs would change nothing)
	b=$(dd if="$file" bs=1 skip=1000 count=1 status=none | od -An -tu1 | tr -d ' ')
	printf '%b' "\\0$(printf %03o $(((b + 1) % 256)))" |
	    dd of="$file" bs=1 seek=1000 conv=notrunc status=none
	if cmp -s "$d/src/models/tiny-vad.safetensors" "$file"; then false; fi
	run --separate-stderr rm-cache verify --json
	assert_failure 1
	jq -e --arg b "$blob" --arg f "$file" 'length == 2 and (map(.path) | sort) == ([$b, $f] | sort)' <<<"$output"
	# clear takes both names away; the next fetch downloads a good blob again
	run rm-cache clear "sha256:$h"
	assert_success
	[ ! -e "$blob" ]
	[ ! -e "$REMOTEMEDIA_HOME/pipelines/$h" ]
	fetch_json "oci://$REG/voice/big:1"
	assert_success
	jq -e '.[0].cached == false' <<<"$output"
	cmp "$d/src/models/tiny-vad.safetensors" "$file"
	run rm-cache verify
	assert_success
}

@test "rm-cache: a package with a 64 MiB model is stored once (state under 1.3x the model), its .rmpkg only while asked for" {
	d=$BATS_TEST_TMPDIR/m64
	pkg=$(random_model_pkg "$d" $((64 << 20)))
	rm-push --insecure -q "$pkg" "oci://$REG/voice/m64:1" >/dev/null
	export REMOTEMEDIA_HOME=$BATS_TEST_TMPDIR/state
	fetch_json "oci://$REG/voice/m64:1"
	assert_success
	h=$(jq -r '.[0].digest' <<<"$output")
	h=${h#sha256:}
	model=$((64 << 20))
	kib=$(du -sk "$REMOTEMEDIA_HOME" | cut -f1)
	[ $((kib * 1024)) -lt $((model * 13 / 10)) ] || { du -ak "$REMOTEMEDIA_HOME" >&3; false; }
	# the unpacked model is the blob (one inode), read-only, and verify passes
	file=$REMOTEMEDIA_HOME/pipelines/$h/models/tiny-vad.safetensors
	blob=$REMOTEMEDIA_HOME/blobs/sha256/$(sha256sum "$d/src/models/tiny-vad.safetensors" | cut -c1-64)
	[ "$(stat -c %i "$file")" = "$(stat -c %i "$blob")" ]
	[ "$(stat -c %a "$file")" = 444 ]
	run rm-cache verify
	assert_success
	# a tool that needs the package gets it, made from the blobs, byte-identical
	run --separate-stderr rm-inspect --json "${h:0:12}"
	assert_success
	cmp "$pkg" "$REMOTEMEDIA_HOME/pipelines/$h.rmpkg"
	run rm-cache verify
	assert_success
	# gc takes the made package away again; the entry stays whole
	run --separate-stderr rm-cache gc --json
	assert_success
	jq -e --arg p "$REMOTEMEDIA_HOME/pipelines/$h.rmpkg" 'map(select(.path == $p and .what == "package")) | length == 1' <<<"$output"
	[ ! -e "$REMOTEMEDIA_HOME/pipelines/$h.rmpkg" ]
	kib=$(du -sk "$REMOTEMEDIA_HOME" | cut -f1)
	[ $((kib * 1024)) -lt $((model * 13 / 10)) ]
	fetch_json --offline "oci://$REG/voice/m64:1"
	assert_success
	jq -e '.[0].cached == true' <<<"$output"
	# an edit of the unpacked file (root ignores the read-only mode) changes the blob:
	# verify names both, and a fetch of the package does not trust the blob
	printf 'x' | dd of="$file" bs=1 seek=4096 conv=notrunc status=none
	run --separate-stderr rm-cache verify --json
	assert_failure 1
	jq -e --arg b "$blob" --arg f "$file" '(map(.path) | index($b) != null) and (map(.path) | index($f) != null)' <<<"$output"
	run rm-cache path --package "${h:0:12}"
	assert_failure 5
	assert_output --partial "'rm-cache clear' it and fetch it again"
	[ ! -e "$REMOTEMEDIA_HOME/pipelines/$h.rmpkg" ]
}

@test "rm-cache: a .rmpkg file fetched (as rm-schedule run PKG does) is stored once too, and made again byte for byte" {
	d=$BATS_TEST_TMPDIR/m16
	pkg=$(random_model_pkg "$d" $((16 << 20)))
	run --separate-stderr rm-cache fetch --json "$pkg"
	assert_success
	h=$(jq -r '.[0].digest' <<<"$output")
	h=${h#sha256:}
	kib=$(du -sk "$REMOTEMEDIA_HOME" | cut -f1)
	[ $((kib * 1024)) -lt $(((16 << 20) * 13 / 10)) ] || { du -ak "$REMOTEMEDIA_HOME" >&3; false; }
	file=$REMOTEMEDIA_HOME/pipelines/$h/models/tiny-vad.safetensors
	cmp "$d/src/models/tiny-vad.safetensors" "$file"
	[ "$(stat -c %h "$file")" = 2 ]
	run rm-cache path --package "${h:0:12}"
	assert_success
	cmp "$pkg" "$output"
	run rm-cache verify
	assert_success
	# the same file again is a cache hit
	run --separate-stderr rm-cache fetch --json "$pkg"
	jq -e '.[0].cached == true' <<<"$output"
}

@test "rm-cache: a cached blob that no longer matches its digest is fetched again, never unpacked" {
	fetch_json "oci://$REG/voice/tts:1.0"
	h=$(jq -r '.[0].digest' <<<"$output")
	h=${h#sha256:}
	m=$REMOTEMEDIA_HOME/blobs/sha256/$(sha256sum "$BATS_FILE_TMPDIR/p1/src/models/tiny-vad.safetensors" | cut -c1-64)
	# the entry gone, its blobs left (as by a crash), one of them damaged in place
	rm -rf "$REMOTEMEDIA_HOME/pipelines/$h" "$REMOTEMEDIA_HOME/pipelines/$h".{rmpkg,layout}
	printf 'x' | dd of="$m" bs=1 seek=10 conv=notrunc status=none
	fetch_json --package "oci://$REG/voice/tts:1.0"
	assert_success
	[[ $stderr == *"does not match its digest; fetching it again"* ]]
	cmp "$PKG1" "$REMOTEMEDIA_HOME/pipelines/$h.rmpkg"
	cmp "$BATS_FILE_TMPDIR/p1/src/models/tiny-vad.safetensors" "$REMOTEMEDIA_HOME/pipelines/$h/models/tiny-vad.safetensors"
	run rm-cache verify
	assert_success
}

@test "rm-cache: a layer that is not the file the contents list names (same size) is refused, exit 5" {
	rm-push --insecure -q "$PKG1" "oci://$REG/voice/forged:1.0" >/dev/null
	lay=$BATS_TEST_TMPDIR/layout
	run skopeo copy --src-tls-verify=false "docker://$REG/voice/forged:1.0" "oci:$lay:1.0"
	assert_success
	man=$(jq -r '.manifests[0].digest' "$lay/index.json")
	man=${man#sha256:}
	title='.annotations["org.opencontainers.image.title"] == "modules/voice.yaml"'
	old=$(jq -r ".layers[] | select($title) | .digest" "$lay/blobs/sha256/$man")
	# the same bytes with one changed: a blob true to its own digest, not to the list
	cp "$lay/blobs/sha256/${old#sha256:}" "$BATS_TEST_TMPDIR/forged"
	c='#'
	[ "$(head -c1 "$BATS_TEST_TMPDIR/forged")" != '#' ] || c='%'
	printf '%s' "$c" | dd of="$BATS_TEST_TMPDIR/forged" bs=1 seek=0 conv=notrunc status=none
	new=$(sha256sum "$BATS_TEST_TMPDIR/forged" | cut -c1-64)
	[ "sha256:$new" != "$old" ]
	mv "$BATS_TEST_TMPDIR/forged" "$lay/blobs/sha256/$new"
	jq -c --arg d "sha256:$new" "(.layers[] | select($title) | .digest) = \$d" "$lay/blobs/sha256/$man" > "$BATS_TEST_TMPDIR/m"
	nm=$(sha256sum "$BATS_TEST_TMPDIR/m" | cut -c1-64)
	mv "$BATS_TEST_TMPDIR/m" "$lay/blobs/sha256/$nm"
	jq -c --arg d "sha256:$nm" --argjson s "$(stat -c %s "$lay/blobs/sha256/$nm")" \
	    '.manifests[0].digest = $d | .manifests[0].size = $s' "$lay/index.json" > "$BATS_TEST_TMPDIR/i"
	mv "$BATS_TEST_TMPDIR/i" "$lay/index.json"
	# the true blobs in the cache too (an entry that was removed, blobs kept)
	fetch_json "oci://$REG/voice/forged:1.0"
	assert_success
	h=$(jq -r '.[0].digest' <<<"$output")
	rm -rf "$REMOTEMEDIA_HOME/pipelines/${h#sha256:}" "$REMOTEMEDIA_HOME/pipelines/${h#sha256:}".{rmpkg,sig,layout}
	run rm-cache fetch "$lay:1.0"
	assert_failure 5
	assert_output --partial "refused: the layer for 'modules/voice.yaml'"
	run --separate-stderr rm-cache ls --json
	assert_output "[]"
	[ -z "$(ls "$REMOTEMEDIA_HOME/pipelines" | grep -v '\.lock$')" ]
}

@test "rm-cache: usage errors exit 2, --help exits 0, unknown digest exit 4" {
	run rm-cache --help
	assert_success
	assert_output --partial "usage: rm-cache"
	run rm-cache
	assert_failure 2
	run rm-cache frobnicate
	assert_failure 2
	run rm-cache fetch
	assert_failure 2
	run rm-cache clear
	assert_failure 2
	run rm-cache fetch "oci://nohost"
	assert_failure 2
	run rm-cache fetch
	assert_output --partial "rm-cache: fetch: missing the reference"
	run rm-cache path
	assert_failure 2
	assert_output --partial "rm-cache: path: missing the package"
	run rm-cache
	assert_output --partial "rm-cache: missing the command"
	run rm-cache fetch "$REG/voice/tts:1.0"
	assert_failure 2
	assert_output --partial "did you mean oci://$REG/voice/tts:1.0?"
	run rm-cache fetch "registry.example/voice/tts:1.0"
	assert_failure 2
	assert_output --partial "rm-cache: \"registry.example/voice/tts:1.0\" is not a reference or a file: did you mean oci://registry.example/voice/tts:1.0?"
	run rm-cache fetch "sha256:$(printf '0%.0s' $(seq 64))"
	assert_failure 4
}

@test "rm-cache fetch on a terminal: progress with rate and time taken, then a verifying phase" {
	run script -qec "rm-cache fetch --insecure oci://$REG/voice/tts:2.0 >/dev/null" /dev/null
	assert_success
	# the final bar: 100%, sizes, a rate and the time it took
	assert_output --regexp 'voice/tts:2\.0 \[#{30}\] 100% [0-9.]+/[0-9.]+ MiB, [0-9.]*[1-9][0-9.]* MiB/s in [0-9]+:[0-9]{2}'
	assert_output --partial "voice/tts:2.0: verifying and installing..."
	# on a pipe: no bar
	run --separate-stderr rm-cache fetch --insecure --refresh "oci://$REG/voice/tts:2.0"
	[[ $stderr != *"MiB/s"* ]]
}
