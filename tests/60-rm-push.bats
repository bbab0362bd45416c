#!/usr/bin/env bats
# rm-push: packages into a real OCI registry (Debian's docker-registry), read
# back by skopeo and by rm-cache; auth; faults through a proxy.

bats_require_minimum_version 1.5.0
load test_helper
source "$RM_TOP_SRCDIR/tests/fixtures/oci/registry.bash"

setup_file() {
	oci_setup_file
	PKG1=$(make_pkg "$BATS_FILE_TMPDIR/p1" 1 1.0.0)
	PKG2=$(make_pkg "$BATS_FILE_TMPDIR/p2" 2 1.1.0)
	# a second registry with htpasswd (bcrypt) Basic auth
	htpasswd -Bbn alice 's3cret-Pa55word' > "$BATS_FILE_TMPDIR/htpasswd"
	local r1=$REG p1=$REG_PID l1=$REG_LOG
	registry_start "$BATS_FILE_TMPDIR/regauth" "$BATS_FILE_TMPDIR/htpasswd"
	AREG=$REG
	REG=$r1 REG_PID=$p1 REG_LOG=$l1
	export REG REG_PID REG_LOG AREG PKG1 PKG2
}

teardown_file() {
	registry_stop "$BATS_FILE_TMPDIR/reg"
	registry_stop "$BATS_FILE_TMPDIR/regauth"
}

teardown() {
	proxy_stop
}

digest_of() { rm-inspect --json "$1" | jq -r .digest; }

@test "rm-push: the manifest skopeo reads has our artifactType, manifest.json as config, one titled layer per file" {
	run --separate-stderr rm-push --insecure --json "$PKG1" "oci://$REG/voice/a:1.0"
	assert_success
	jq -e '.uploaded == 6 and .blobs == 6 and (.manifest_digest|test("^sha256:[0-9a-f]{64}$"))' <<<"$output"
	[ "$(jq -r .digest <<<"$output")" = "$(digest_of "$PKG1")" ]
	run skopeo inspect --raw --tls-verify=false "docker://$REG/voice/a:1.0"
	assert_success
	jq -e '.artifactType == "application/vnd.remotemedia.package.v1"
	    and .mediaType == "application/vnd.oci.image.manifest.v1+json"
	    and .config.mediaType == "application/vnd.remotemedia.manifest.v1+json"' <<<"$output"
	run jq -r '[.layers[].annotations."org.opencontainers.image.title"] | join(" ")' <<<"$output"
	assert_output "meta/contents.json meta/provenance.json meta/runtime.json models/tiny-vad.safetensors modules/voice.yaml"
	# the model layer is the model file's own bytes
	model_digest=$(skopeo inspect --raw --tls-verify=false "docker://$REG/voice/a:1.0" | jq -r '.layers[] | select(.annotations."org.opencontainers.image.title" == "models/tiny-vad.safetensors") | .digest')
	[ "$model_digest" = "sha256:$(sha256sum "$BATS_FILE_TMPDIR/p1/src/models/tiny-vad.safetensors" | cut -c1-64)" ]
}

@test "rm-push: skopeo copies the artifact to an OCI layout, and the package fetched from it is byte-identical" {
	rm-push --insecure -q "$PKG1" "oci://$REG/voice/b:1.0" >/dev/null
	run skopeo copy --src-tls-verify=false "docker://$REG/voice/b:1.0" "oci:$BATS_TEST_TMPDIR/layout:1.0"
	assert_success
	run --separate-stderr rm-cache fetch --json --package "$BATS_TEST_TMPDIR/layout:1.0"
	assert_success
	cmp "$PKG1" "$(jq -r '.[0].package' <<<"$output")"
}

@test "rm-push: fetch from the registry rebuilds a byte-identical package with the same digest" {
	rm-push --insecure -q "$PKG1" "oci://$REG/voice/c:1.0" >/dev/null
	run --separate-stderr rm-cache fetch --insecure --json --package "oci://$REG/voice/c:1.0"
	assert_success
	cmp "$PKG1" "$(jq -r '.[0].package' <<<"$output")"
	[ "$(jq -r '.[0].digest' <<<"$output")" = "$(digest_of "$PKG1")" ]
}

@test "rm-push: a second push of an unchanged package uploads no blob" {
	rm-push --insecure -q "$PKG1" "oci://$REG/voice/d:1.0" >/dev/null
	before=$(registry_uploads)
	run --separate-stderr rm-push --insecure --json "$PKG1" "oci://$REG/voice/d:1.0"
	assert_success
	jq -e '.uploaded == 0 and .mounted == 0 and .bytes_uploaded == 0' <<<"$output"
	[ "$(registry_uploads)" = "$before" ]
}

@test "rm-push: pushing a new version to the same tag moves the tag; the old model blob is not sent again for unchanged files" {
	rm-push --insecure -q "$PKG1" "oci://$REG/voice/e:latest" >/dev/null
	run --separate-stderr rm-push --insecure --json "$PKG2" "oci://$REG/voice/e:latest"
	assert_success
	# only what changed: manifest.json, contents, provenance and the model
	jq -e '.uploaded < 6' <<<"$output"
	run skopeo inspect --raw --tls-verify=false "docker://$REG/voice/e:latest"
	[ "$(jq -r '.annotations."org.remotemedia.package.digest"' <<<"$output")" = "$(digest_of "$PKG2")" ]
	run --separate-stderr rm-cache fetch --insecure --json --package "oci://$REG/voice/e:latest"
	cmp "$PKG2" "$(jq -r '.[0].package' <<<"$output")"
}

@test "rm-push: a blob already in another repository of the registry is mounted, not sent" {
	rm-push --insecure -q "$PKG1" "oci://$REG/voice/f:1.0" >/dev/null
	before=$(registry_uploads)
	run --separate-stderr rm-push --insecure --json "$PKG1" "oci://$REG/other/g:1.0"
	assert_success
	jq -e '.mounted == 6 and .uploaded == 0' <<<"$output"
	[ "$(registry_uploads)" = "$before" ]
	grep -q 'POST /v2/other/g/blobs/uploads/?mount=' "$REG_LOG"
}

@test "rm-push: a chunked upload cut off mid-way resumes from the offset the registry reports" {
	proxy_start "$BATS_TEST_TMPDIR" drop-patch
	run --separate-stderr rm-push --insecure -v --json --chunk-size 64K "$PKG1" "oci://$PROXY/voice/h:1.0"
	assert_success
	grep -q 'PATCH .* dropped' "$BATS_TEST_TMPDIR/proxy.log"
	# the upload status asked after the failure, answered 204 with Range
	grep -qE '^GET /v2/voice/h/blobs/uploads/.* 204$' "$BATS_TEST_TMPDIR/proxy.log"
	run --separate-stderr rm-cache fetch --insecure --json --package "oci://$REG/voice/h:1.0"
	assert_success
	cmp "$PKG1" "$(jq -r '.[0].package' <<<"$output")"
}

# interrupted_push DIR REPO SIGNAL: starts rm-push of PKGB (a 1 MiB model, 64
# KiB chunks) through a hold-patch proxy, and sends it SIGNAL while the
# answer to its third PATCH is held (the registry has the chunk, the client
# does not know it yet). SIGINT is Ctrl-C: a background job of a script
# ignores it, so it is made default again before exec.
interrupted_push() {
	local dir=$1 repo=$2 sig=$3 pid i st=0
	proxy_start "$dir" hold-patch
	python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' \
	    rm-push --insecure --chunk-size 64K "$PKGB" "oci://$PROXY/$repo" >/dev/null 2>"$dir/push1.err" &
	pid=$!
	for ((i = 0; i < 200; i++)); do
		grep -q '^PATCH .* held$' "$dir/proxy.log" 2>/dev/null && break
		sleep 0.05
	done
	grep -q '^PATCH .* held$' "$dir/proxy.log"
	kill -"$sig" "$pid"
	wait "$pid" || st=$?
	[ "$st" -eq $((128 + $(kill -l "$sig"))) ]
}

model_of() { echo "sha256:$(sha256sum "$1/src/models/tiny-vad.safetensors" | cut -c1-64)"; }

@test "rm-push: Ctrl-C mid-blob lets the request under way finish; run again, the push goes on from what the registry holds" {
	PKGB=$(make_pkg "$BATS_TEST_TMPDIR/big" 7 1.0.0 1048576)
	model=$(model_of "$BATS_TEST_TMPDIR/big")
	interrupted_push "$BATS_TEST_TMPDIR" voice/resume:1.0 INT
	grep -q 'rm-push: interrupted: finishing the requests under way' "$BATS_TEST_TMPDIR/push1.err"
	grep -q 'rm-push: push: stopped before the tag was moved' "$BATS_TEST_TMPDIR/push1.err"
	# no tag yet; the session is on record at the third chunk's end
	[ "$(curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/voice/resume/manifests/1.0")" = 404 ]
	rec=$(ls "$REMOTEMEDIA_HOME"/push/*.json)
	jq -e --arg d "$model" '.digest == $d and .offset == 196608 and .size == 1048576' "$rec"
	posts=$(grep -c '^POST /v2/voice/resume/blobs/uploads/' "$BATS_TEST_TMPDIR/proxy.log")
	run --separate-stderr rm-push --insecure --json --chunk-size 64K "$PKGB" "oci://$PROXY/voice/resume:1.0"
	assert_success
	# said at normal verbosity, with what the registry reported
	[[ $stderr == *"rm-push: push: resuming layer $model at 18% (192.0 KiB held by the registry)"* ]]
	jq -e '.resumed == 1 and .bytes_uploaded <= 1048576 - 196608 + 4096' <<<"$output"
	# no new session for the model: the next PATCH starts where the registry stood
	sed -n '/^PATCH .* held$/,$p' "$BATS_TEST_TMPDIR/proxy.log" | grep '^range ' | sed -n 1p | grep -q ' 196608-262143$'
	[ "$(grep -c '^POST /v2/voice/resume/blobs/uploads/' "$BATS_TEST_TMPDIR/proxy.log")" = "$posts" ]
	# the record is gone, and what the registry holds is the package
	[ -z "$(ls "$REMOTEMEDIA_HOME/push/")" ]
	run skopeo inspect --raw --tls-verify=false "docker://$REG/voice/resume:1.0"
	jq -e --arg d "$model" '[.layers[].digest] | index($d) != null' <<<"$output"
	run --separate-stderr rm-cache fetch --insecure --json --package "oci://$REG/voice/resume:1.0"
	assert_success
	cmp "$PKGB" "$(jq -r '.[0].package' <<<"$output")"
}

@test "rm-push: killed mid-PATCH, the session the registry dropped is started over, saying so" {
	PKGB=$(make_pkg "$BATS_TEST_TMPDIR/big" 8 1.0.0 1048576)
	model=$(model_of "$BATS_TEST_TMPDIR/big")
	# the registry got a chunk the record does not know: docker-registry
	# cancels a session asked about with an older state
	interrupted_push "$BATS_TEST_TMPDIR" voice/forgot:1.0 KILL
	jq -e '.offset == 131072' "$REMOTEMEDIA_HOME"/push/*.json
	run --separate-stderr rm-push --insecure --json --chunk-size 64K "$PKGB" "oci://$PROXY/voice/forgot:1.0"
	assert_success
	[[ $stderr == *"rm-push: push: the registry no longer holds the upload of layer $model that an earlier run left (HTTP 404); starting it over"* ]]
	jq -e '.resumed == 0' <<<"$output"
	[ -z "$(ls "$REMOTEMEDIA_HOME/push/")" ]
	run --separate-stderr rm-cache fetch --insecure --json --package "oci://$REG/voice/forgot:1.0"
	assert_success
	cmp "$PKGB" "$(jq -r '.[0].package' <<<"$output")"
}

@test "rm-push: a 500 on the manifest PUT is retried" {
	proxy_start "$BATS_TEST_TMPDIR" 500-once
	run --separate-stderr rm-push --insecure --json "$PKG1" "oci://$PROXY/voice/i:1.0"
	assert_success
	# the retry is said at normal verbosity, with the attempt and the wait
	[[ $stderr == *"rm-push: registry: PUT http://$PROXY/v2/voice/i/manifests/1.0: HTTP 500; retrying 1/"*" in 0.2 s"* ]]
	grep -qE '^PUT /v2/voice/i/manifests/1.0 500$' "$BATS_TEST_TMPDIR/proxy.log"
	grep -qE '^PUT /v2/voice/i/manifests/1.0 201$' "$BATS_TEST_TMPDIR/proxy.log"
}

@test "rm-push: a plain-HTTP registry without --insecure is a network error (TLS is verified by default)" {
	run rm-push "$PKG1" "oci://$REG/voice/j:1.0"
	assert_failure 6
	run curl -s -o /dev/null -w '%{http_code}' -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/voice/j/manifests/1.0"
	assert_output 404
}

@test "rm-push: a wrong password is exit 6 and the password never appears, even with -vv" {
	export REMOTEMEDIA_REGISTRY_USER=alice REMOTEMEDIA_REGISTRY_PASSWORD='Wr0ng-S3cret-XyZ'
	run rm-push --insecure -vv "$PKG1" "oci://$AREG/voice/k:1.0"
	assert_failure 6
	assert_output --partial "authentication failed"
	refute_output --partial 'Wr0ng-S3cret-XyZ'
	# nor its base64 form in a header dump
	refute_output --partial "$(printf 'alice:Wr0ng-S3cret-XyZ' | base64)"
	run rm-cache fetch --insecure -vv "oci://$AREG/voice/k:1.0"
	assert_failure 6
	refute_output --partial 'Wr0ng-S3cret-XyZ'
}

@test "rm-push: Basic auth from the environment, config.yaml, docker config.json auths and a credential helper" {
	REMOTEMEDIA_REGISTRY_USER=alice REMOTEMEDIA_REGISTRY_PASSWORD='s3cret-Pa55word' \
	    run rm-push --insecure -vv "$PKG1" "oci://$AREG/voice/l:1.0"
	assert_success
	refute_output --partial 's3cret-Pa55word'
	# without credentials: refused
	run rm-push --insecure "$PKG1" "oci://$AREG/voice/l:1.1"
	assert_failure 6
	mkdir -p "$REMOTEMEDIA_HOME"
	printf 'registries:\n  "%s":\n    username: alice\n    password_env: MY_REG_PW\n' "$AREG" > "$REMOTEMEDIA_HOME/config.yaml"
	MY_REG_PW='s3cret-Pa55word' run rm-push --insecure -q "$PKG1" "oci://$AREG/voice/l:1.2"
	assert_success
	rm "$REMOTEMEDIA_HOME/config.yaml"
	mkdir -p "$HOME/.docker"
	printf '{"auths": {"%s": {"auth": "%s"}}}\n' "$AREG" "$(printf 'alice:s3cret-Pa55word' | base64)" > "$HOME/.docker/config.json"
	run rm-push --insecure -q "$PKG1" "oci://$AREG/voice/l:1.3"
	assert_success
	run --separate-stderr rm-cache fetch --insecure --json --package "oci://$AREG/voice/l:1.3"
	assert_success
	cmp "$PKG1" "$(jq -r '.[0].package' <<<"$output")"
	# credHelpers: docker-credential-NAME get, host on stdin
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	cat > "$BATS_TEST_TMPDIR/bin/docker-credential-testhelper" <<-'EOS'
	#!/bin/sh
	read host
	[ "$1" = get ] || exit 1
	printf '{"ServerURL":"%s","Username":"alice","Secret":"s3cret-Pa55word"}\n' "$host"
	EOS
	chmod +x "$BATS_TEST_TMPDIR/bin/docker-credential-testhelper"
	printf '{"credHelpers": {"%s": "testhelper"}}\n' "$AREG" > "$HOME/.docker/config.json"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH run rm-push --insecure -q "$PKG1" "oci://$AREG/voice/l:1.4"
	assert_success
	printf '{"credsStore": "testhelper"}\n' > "$HOME/.docker/config.json"
	PATH=$BATS_TEST_TMPDIR/bin:$PATH run rm-push --insecure -q "$PKG1" "oci://$AREG/voice/l:1.5"
	assert_success
}

@test "rm-push: usage errors exit 2, a missing package 4, --help 0" {
	run rm-push --help
	assert_success
	assert_output --partial "usage: rm-push"
	run rm-push "$PKG1"
	assert_failure 2
	assert_output --partial "rm-push: missing the destination oci://HOST/REPO:TAG"
	run rm-push
	assert_failure 2
	assert_output --partial "rm-push: missing the package (.rmpkg) and the destination"
	run rm-push "$PKG1" "$REG/voice/x:1"
	assert_failure 2
	assert_output --partial "did you mean oci://$REG/voice/x:1?"
	run rm-push "$PKG1" "localhost/voice/x"
	assert_failure 2
	assert_output --partial "did you mean oci://localhost/voice/x?"
	run rm-push "$PKG1" "docker://$REG/x:1"
	assert_failure 2
	run rm-push "$PKG1" "oci://$REG/Bad Repo:1"
	assert_failure 2
	run rm-push --bogus "$PKG1" "oci://$REG/x:1"
	assert_failure 2
	run rm-push --insecure "$BATS_TEST_TMPDIR/nope.rmpkg" "oci://$REG/voice/x:1"
	assert_failure 4
}
