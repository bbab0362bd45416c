#!/usr/bin/env bats
# Libraries are loaded only when used (issue 14): no tool NEEDs libcurl,
# libarchive, libcrypto, libgit2 or nettle; --version and a cache hit load
# none of them, a plan no libcrypto, an inspect of a local unsigned package
# nothing but Nettle (read by rm_tar, not libarchive: no libxml2, ICU,
# libstdc++), and libarchive only for an archive rm_tar does not take (seen
# from outside with LD_DEBUG=libs); a missing
# or broken libcurl at run time is exit 6 with a clear message, and hits
# still work.

bats_require_minimum_version 1.5.0
load test_helper
source "$RM_TOP_SRCDIR/tests/fixtures/oci/registry.bash"

setup_file() {
	oci_setup_file
	PKG1=$(make_pkg "$BATS_FILE_TMPDIR/p1" 1 1.0.0)
	rm-push --insecure -q "$PKG1" "oci://$REG/voice/tts:1.0" >/dev/null
	# the same package, each entry after a pax header: rm_tar leaves it to libarchive
	PKGPAX=$BATS_FILE_TMPDIR/pax.rmpkg
	python3 - "$PKG1" "$PKGPAX" <<-'EOF'
	import sys, tarfile
	src = tarfile.open(sys.argv[1])
	dst = tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT)
	for m in src.getmembers():
	    m.pax_headers = {"comment": "an extension header"}
	    dst.addfile(m, src.extractfile(m))
	dst.close()
	EOF
	export REG REG_PID REG_LOG PKG1 PKGPAX
}

teardown_file() {
	registry_stop "$BATS_FILE_TMPDIR/reg"
}

# libs_loaded CMD...: runs CMD with LD_DEBUG=libs; the shared objects it opened, one a line.
libs_loaded() {
	LD_DEBUG=libs LD_DEBUG_OUTPUT=$BATS_TEST_TMPDIR/ld "$@" >/dev/null 2>&1 || true
	cat "$BATS_TEST_TMPDIR"/ld.* | sed -n 's/.*calling init: //p'
	rm -f "$BATS_TEST_TMPDIR"/ld.*
}

@test "startup: no tool is linked against libcurl, libarchive, libcrypto, libgit2 or nettle" {
	for t in "$RM_TOP_BUILDDIR"/tools/*/*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		run readelf -d "$t"
		assert_output --partial "(NEEDED)"
		refute_output --regexp "lib(curl|archive|crypto|git2|nettle)"
	done
}

@test "startup: --version and a cache hit load nothing but libc, libjansson and libyaml" {
	rm-cache fetch --insecure -q "oci://$REG/voice/tts:1.0" >/dev/null
	digest=$(rm-cache fetch --offline --json "oci://$REG/voice/tts:1.0" 2>/dev/null | jq -r '.[0].digest')
	for t in "$RM_TOP_BUILDDIR"/tools/*/*; do
		[ -x "$t" ] && [ -f "$t" ] || continue
		run libs_loaded "$t" --version
		assert_output --partial libc.so
		refute_output --regexp "lib(curl|archive|crypto|git2|ssl|xml2|icu)"
	done
	run libs_loaded rm-cache fetch --offline --json "$digest"
	assert_output --partial libjansson
	refute_output --regexp "lib(curl|archive|crypto|git2|ssl|xml2|icu)"
	run libs_loaded rm-cache fetch --insecure --json "oci://$REG/voice/tts:1.0"
	refute_output --regexp "lib(curl|archive|crypto|git2|ssl|xml2|icu)"
}

@test "startup: a broken libarchive ends an inspect with exit 70 naming it, and nothing that does not need it" {
	mkdir -p "$BATS_TEST_TMPDIR/lib"
	: > "$BATS_TEST_TMPDIR/lib/libarchive.so.13"
	LD_LIBRARY_PATH=$BATS_TEST_TMPDIR/lib run rm-inspect --json "$PKGPAX"
	assert_failure 70
	assert_output --partial "rm-inspect: cannot load a library it needs: $BATS_TEST_TMPDIR/lib/libarchive.so.13"
	# a package as rm-build writes it is read without libarchive
	LD_LIBRARY_PATH=$BATS_TEST_TMPDIR/lib run rm-inspect --json "$PKG1"
	assert_success
	LD_LIBRARY_PATH=$BATS_TEST_TMPDIR/lib run rm-cache --version
	assert_success
	LD_LIBRARY_PATH=$BATS_TEST_TMPDIR/lib run rm-schedule plan --format json --no-park \
	    -d "$RM_TOP_SRCDIR/tests/fixtures/schedule/three" "$RM_TOP_SRCDIR/share/remotemedia/examples/hello.yaml"
	assert_success
}

@test "startup: a cache hit, an oci:// hit, a plan and a local inspect load no libcurl; a fetch does" {
	# the probe sees libcurl when the network is used
	run libs_loaded rm-cache fetch --insecure --json "oci://$REG/voice/tts:1.0"
	assert_output --partial libcurl.so.4
	run --separate-stderr rm-cache fetch --offline --json "oci://$REG/voice/tts:1.0"
	assert_success
	digest=$(jq -r '.[0].digest' <<<"$output")
	run libs_loaded rm-cache fetch --offline --json "$digest"
	assert_output --partial libjansson
	refute_output --partial libcurl
	run libs_loaded rm-cache fetch --insecure --json "oci://$REG/voice/tts:1.0"
	assert_output --partial libjansson
	refute_output --partial libcurl
	for sub in ls verify gc "path $digest"; do
		run libs_loaded rm-cache $sub
		refute_output --partial libcurl
	done
	run libs_loaded rm-inspect --json "$PKG1"
	refute_output --partial libcurl
	# an unsigned package: its documents are hashed by Nettle, nothing needs OpenSSL
	assert_output --partial libnettle
	refute_output --regexp "lib(crypto|ssl)"
	# read by rm_tar: no libarchive, nor what Debian's brings (libxml2, ICU; not
	# libstdc++, which a sanitizer build loads anyway)
	refute_output --regexp "lib(archive|xml2|icu)"
	run libs_loaded rm-schedule plan --format json --no-park -d "$RM_TOP_SRCDIR/tests/fixtures/schedule/three" \
	    "$RM_TOP_SRCDIR/share/remotemedia/examples/hello.yaml"
	assert_output --partial libjansson
	refute_output --partial libcurl
	# the pipeline's digest is hashed by Nettle: no OpenSSL to load and start
	refute_output --regexp "lib(crypto|archive|ssl)"
	rm-schedule plan --format json --no-park -o "$BATS_TEST_TMPDIR/plan.json" \
	    -d "$RM_TOP_SRCDIR/tests/fixtures/schedule/three" \
	    "$RM_TOP_SRCDIR/share/remotemedia/examples/hello.yaml" >/dev/null
	run libs_loaded rm-schedule explain "$BATS_TEST_TMPDIR/plan.json" upper
	assert_output --partial libjansson
	refute_output --partial libcurl
	run libs_loaded rm-schedule queue
	refute_output --partial libcurl
}

@test "startup: an archive rm_tar does not take is read by libarchive, to the same package" {
	run --separate-stderr rm-inspect --json "$PKG1"
	assert_success
	plain=$(jq -c 'del(.path)' <<<"$output")
	run libs_loaded rm-inspect --json "$PKGPAX"
	assert_output --partial libarchive.so
	run --separate-stderr rm-inspect --json "$PKGPAX"
	assert_success
	assert_equal "$(jq -c 'del(.path)' <<<"$output")" "$plain"
	# what libarchive refuses is refused as before: a pax package cut short
	head -c 3000 "$PKGPAX" > "$BATS_TEST_TMPDIR/cut.rmpkg"
	run rm-inspect --json "$BATS_TEST_TMPDIR/cut.rmpkg"
	assert_failure 5
	# and one rm_tar would read, cut short in a file's data, likewise
	head -c 5000 "$PKG1" > "$BATS_TEST_TMPDIR/cut1.rmpkg"
	run libs_loaded rm-inspect --json "$BATS_TEST_TMPDIR/cut1.rmpkg"
	assert_output --partial libarchive.so
	run rm-inspect --json "$BATS_TEST_TMPDIR/cut1.rmpkg"
	assert_failure 5
	assert_output --partial "Truncated tar archive"
}

@test "startup: rm-schedule run of a remote_ref already in the cache loads no libcurl, in any process" {
	mkdir -p "$REMOTEMEDIA_HOME"
	printf 'registries:\n  "%s":\n    insecure: true\n' "$REG" > "$REMOTEMEDIA_HOME/config.yaml"
	cat > "$BATS_TEST_TMPDIR/p.yaml" <<-EOF2
	schema: remotemedia.pipeline/1
	name: uses-package
	nodes:
	  - id: tts
	    type: Command
	    remote_ref: oci://$REG/voice/tts:1.0
	    exec: 'test -f "\$REMOTEMEDIA_PACKAGE/manifest.json"'
	EOF2
	run libs_loaded rm-schedule run "$BATS_TEST_TMPDIR/p.yaml"
	assert_output --partial libcurl.so.4
	run --separate-stderr rm-schedule run "$BATS_TEST_TMPDIR/p.yaml"
	assert_success
	run libs_loaded rm-schedule run --run-id startup-hit "$BATS_TEST_TMPDIR/p.yaml"
	assert_output --partial libjansson
	refute_output --partial libcurl
	run libs_loaded rm-schedule report startup-hit
	assert_output --partial libjansson
	refute_output --partial libcurl
}

@test "startup: a missing or broken libcurl is exit 6 naming it; cache hits need none" {
	RM_LIBCURL=$BATS_TEST_TMPDIR/none/libcurl.so.4 run rm-cache fetch --insecure --refresh "oci://$REG/voice/tts:1.0"
	assert_failure 6
	assert_output --partial "cannot load libcurl: $BATS_TEST_TMPDIR/none/libcurl.so.4"
	# a file that is no shared object, found on the library path under the usual name
	mkdir -p "$BATS_TEST_TMPDIR/lib"
	: > "$BATS_TEST_TMPDIR/lib/libcurl.so.4"
	LD_LIBRARY_PATH=$BATS_TEST_TMPDIR/lib run rm-push --insecure "$PKG1" "oci://$REG/voice/tts:1.1"
	assert_failure 6
	assert_output --partial "cannot load libcurl"
	# a library that is not libcurl
	RM_LIBCURL=libjansson.so.4 run rm-inspect "oci://$REG/voice/tts:1.0"
	assert_failure 6
	assert_output --partial "libjansson.so.4 is not libcurl"
	# hits never need it
	rm-cache fetch --insecure -q "oci://$REG/voice/tts:1.0" >/dev/null
	RM_LIBCURL=$BATS_TEST_TMPDIR/none/libcurl.so.4 run rm-cache fetch --insecure "oci://$REG/voice/tts:1.0"
	assert_success
}
