#!/usr/bin/env bats
# rm-inspect and the shared package loader: contents, tampering, hostile
# archives, signatures and certificate chains.

load test_helper

EX=$SHARE/examples
EDIT="python3 $FIXTURES/pkg/rmpkg_edit.py"

setup() {
	OUT=$BATS_TEST_TMPDIR/out
	mkdir -p "$OUT" "$REMOTEMEDIA_HOME/trust"
}

build() {
	rm-build -o "$OUT" "$@" "$EX/voice.yaml" | jq -r .path
}

trust() {
	cp "$REMOTEMEDIA_HOME/keys/$1.pub" "$REMOTEMEDIA_HOME/trust/"
}

# refused PKG MESSAGE: --verify exits 5 saying MESSAGE; -x exits 5 leaving nothing
refused() {
	run rm-inspect --verify "$1"
	assert_failure 5
	assert_output --partial "$2"
	run rm-inspect -x "$OUT/x" "$1"
	assert_failure 5
	[ ! -e "$OUT/x" ]
	[ -z "$(ls -d "$OUT"/x.tmp.* 2>/dev/null)" ]
}

@test "rm-inspect: shows name, version, digest, nodes with requirements, files, runtime, provenance, signature" {
	p=$(build)
	run rm-inspect --json "$p"
	assert_success
	[ "$(jq -r '.name + " " + .version' <<<"$output")" = "voice 1.0.0" ]
	[ "$(jq -r .digest <<<"$output")" = "sha256:$($EDIT cat "$p" meta/contents.json | sha256sum | cut -c1-64)" ]
	[ "$(jq -c '[.nodes[] | .id + ":" + .type]' <<<"$output")" = '["vad:VAD","stt:SpeechToText","tts:HFPipelineNode"]' ]
	[ "$(jq -r '.nodes[1].requirements.gpu.type' <<<"$output")" = cuda ]
	[ "$(jq -r '.nodes[2].remote_ref' <<<"$output")" = oci://registry.example/voice/tts:1.0 ]
	[ "$(jq -r '.files[] | select(.path=="models/tiny-vad.safetensors") | .size' <<<"$output")" = 2320 ]
	[ "$(jq -r '.signature.status, .verified, .provenance.schema, .runtime.schema' <<<"$output" | tr '\n' ' ')" = "unsigned false remotemedia.provenance/1 remotemedia.runtime/1 " ]
	# a terminal gets a table
	run script -qec "rm-inspect '$p'" /dev/null
	assert_success
	assert_output --partial "signature  unsigned"
	assert_output --partial "stt              SpeechToText"
	# sizes for people in the table (2320 bytes), bytes in JSON
	assert_output --regexp "0644 +2\.3 KiB  models/tiny-vad\.safetensors"
}

@test "rm-inspect: --verify exits 5 for an unsigned package, 0 once signed by a trusted key" {
	p=$(build)
	run rm-inspect --verify "$p"
	assert_failure 5
	assert_output --partial "refused: package is unsigned"
	rm-build keygen alice >/dev/null
	rm-build sign --sign alice "$p" >/dev/null
	run rm-inspect --verify "$p"
	assert_failure 5
	assert_output --partial "signed but untrusted: key"
	trust alice
	run rm-inspect --verify --json "$p"
	assert_success
	[ "$(jq -r '.verified, .signature.status, .signature.signer' <<<"$output" | tr '\n' ' ')" = "true valid alice " ]
}

@test "rm-inspect: one byte changed in a model is refused with exit 5 naming the file" {
	rm-build keygen alice >/dev/null
	trust alice
	p=$(build --sign alice)
	$EDIT flip "$p" models/tiny-vad.safetensors
	refused "$p" "'models/tiny-vad.safetensors' has been modified"
}

@test "rm-inspect: a file added or removed is refused with exit 5, even without --verify" {
	p=$(build)
	cp "$p" "$OUT/added.rmpkg"
	$EDIT add "$OUT/added.rmpkg" modules/evil.py 'import os'
	run rm-inspect "$OUT/added.rmpkg"
	assert_failure 5
	assert_output --partial "'modules/evil.py' is in the package but not in the contents list"
	cp "$p" "$OUT/removed.rmpkg"
	$EDIT remove "$OUT/removed.rmpkg" models/tiny-vad.safetensors
	run rm-inspect "$OUT/removed.rmpkg"
	assert_failure 5
	assert_output --partial "'models/tiny-vad.safetensors' is in the contents list but missing from the package"
	cp "$p" "$OUT/nomanifest.rmpkg"
	$EDIT remove "$OUT/nomanifest.rmpkg" manifest.json
	$EDIT rehash "$OUT/nomanifest.rmpkg"
	run rm-inspect "$OUT/nomanifest.rmpkg"
	assert_failure 5
	assert_output --partial "no manifest.json"
}

@test "rm-inspect: an edited contents list is refused: hash mismatch, or a signature that no longer matches" {
	p=$(build)
	$EDIT cat "$p" meta/contents.json | sed 's/"sha256": "4/"sha256": "5/' > "$OUT/c.json"
	! cmp -s "$OUT/c.json" <($EDIT cat "$p" meta/contents.json)
	cp "$p" "$OUT/u.rmpkg"
	$EDIT put "$OUT/u.rmpkg" meta/contents.json "$OUT/c.json"
	run rm-inspect -x "$OUT/x" "$OUT/u.rmpkg"
	assert_failure 5
	assert_output --partial "has been modified: sha256"
	# a signed package whose model and contents list were both changed to agree
	rm-build keygen alice >/dev/null
	trust alice
	s=$(build --sign alice)
	$EDIT flip "$s" models/tiny-vad.safetensors
	$EDIT rehash "$s"
	run rm-inspect "$s"
	assert_failure 5
	assert_output --partial "invalid signature: the signature is for sha256:"
}

@test "rm-inspect: a signature replaced by another key's is refused (untrusted or not verifying)" {
	rm-build keygen alice >/dev/null
	rm-build keygen mallory >/dev/null
	trust alice
	p=$(build --sign alice)
	cp "$p" "$OUT/m.rmpkg"
	rm-build sign --sign mallory "$OUT/m.rmpkg" >/dev/null
	run rm-inspect --verify "$OUT/m.rmpkg"
	assert_failure 5
	assert_output --partial "signed but untrusted"
	REMOTEMEDIA_ENV=production run rm-inspect -x "$OUT/x" "$OUT/m.rmpkg"
	assert_failure 5
	# mallory's signature bytes claiming alice's key: does not verify, always refused
	$EDIT cat "$p" meta/signature > "$OUT/alice.sig"
	$EDIT cat "$OUT/m.rmpkg" meta/signature > "$OUT/mallory.sig"
	jq --arg s "$(jq -r .signature "$OUT/mallory.sig")" '.signature = $s' "$OUT/alice.sig" > "$OUT/forged.sig"
	cp "$p" "$OUT/f.rmpkg"
	$EDIT put "$OUT/f.rmpkg" meta/signature "$OUT/forged.sig"
	run rm-inspect "$OUT/f.rmpkg"
	assert_failure 5
	assert_output --partial "invalid signature: the signature does not verify with key"
}

@test "rm-inspect: production mode refuses unsigned packages, development warns" {
	p=$(build)
	run rm-inspect -x "$OUT/dev" "$p"
	assert_success
	assert_output --partial "unsigned (accepted in development mode)"
	cmp "$OUT/dev/models/tiny-vad.safetensors" "$EX/models/tiny-vad.safetensors"
	REMOTEMEDIA_ENV=production run rm-inspect -x "$OUT/prod" "$p"
	assert_failure 5
	assert_output --partial "refused: package is unsigned"
	[ ! -e "$OUT/prod" ]
}

@test "rm-inspect: hostile archives are refused with exit 5 and nothing is written outside the target" {
	p=$(build)
	mkdir -p "$BATS_TEST_TMPDIR/work"
	abs=$BATS_TEST_TMPDIR/abs-escape.txt
	for kind in absolute dotdot symlink hardlink device fifo duplicate setuid setgid sticky; do
		$EDIT hostile "$p" "$OUT/$kind.rmpkg" $kind "$abs"
		run rm-inspect -x "$BATS_TEST_TMPDIR/work/t/out" "$OUT/$kind.rmpkg"
		assert_failure 5
		case $kind in
		absolute|dotdot) assert_output --partial "unsafe path" ;;
		symlink) assert_output --partial "is a symbolic link" ;;
		hardlink) assert_output --partial "is a hard link" ;;
		device) assert_output --partial "is a character device" ;;
		fifo) assert_output --partial "is a fifo" ;;
		duplicate) assert_output --partial "'manifest.json' appears twice" ;;
		setuid) assert_output --partial "'modules/run.sh' has mode 4755; a package holds files of mode 0644 or 0755 only" ;;
		setgid) assert_output --partial "'modules/run.sh' has mode 2755" ;;
		sticky) assert_output --partial "'modules/run.sh' has mode 1755" ;;
		esac
		[ ! -e "$abs" ]
		[ ! -e "$BATS_TEST_TMPDIR/work/escape.txt" ]
		[ ! -e "$BATS_TEST_TMPDIR/escape.txt" ]
		[ -z "$(find "$BATS_TEST_TMPDIR/work" -mindepth 1 -not -name t)" ]
	done
}

# The voice example with its pipeline file executable: packaged 0755.
build_exec() {
	cp -r "$EX" "$BATS_TEST_TMPDIR/ex"
	chmod 0755 "$BATS_TEST_TMPDIR/ex/voice.yaml"
	rm-build -o "$OUT" "$@" "$BATS_TEST_TMPDIR/ex/voice.yaml" | jq -r .path
}

@test "rm-inspect: file modes are signed: an exec bit set or cleared in the archive is refused, never extracted" {
	rm-build keygen alice >/dev/null
	trust alice
	p=$(build_exec --sign alice)
	[ "$($EDIT cat "$p" meta/contents.json | jq -r '.schema, (.files[] | .path + " " + .mode)' | tr '\n' ,)" = \
	    "remotemedia.contents/2,manifest.json 0644,meta/provenance.json 0644,meta/runtime.json 0644,models/tiny-vad.safetensors 0644,modules/voice.yaml 0755," ]
	run rm-inspect --verify --json "$p"
	assert_success
	[ "$(jq -r '.files[] | select(.path=="modules/voice.yaml") | .mode' <<<"$output")" = 0755 ]
	(umask 022 && rm-inspect -x "$OUT/good" "$p" >/dev/null)
	[ "$(stat -c %a "$OUT/good/modules/voice.yaml" "$OUT/good/models/tiny-vad.safetensors" "$OUT/good/manifest.json" | tr '\n' ' ')" = "755 644 644 " ]
	digest=$($EDIT cat "$p" meta/contents.json | sha256sum)
	# the bit set on a model, then cleared on the script: bytes, list and signature unchanged
	for flip in "models/tiny-vad.safetensors 0755" "modules/voice.yaml 0644"; do
		set -- $flip
		cp "$p" "$OUT/m.rmpkg"
		$EDIT chmod "$OUT/m.rmpkg" "$1" "$2"
		[ "$($EDIT cat "$OUT/m.rmpkg" meta/contents.json | sha256sum)" = "$digest" ]
		$EDIT cat "$OUT/m.rmpkg" meta/signature | cmp - <($EDIT cat "$p" meta/signature)
		refused "$OUT/m.rmpkg" "'$1' has mode $2 in the archive, the contents list says 0"
	done
}

@test "rm-inspect: an old remotemedia.contents/1 package (no modes) is read as all 0644; an executable entry in it is extracted 0644" {
	p=$(build_exec)
	cp "$p" "$OUT/old.rmpkg"
	$EDIT chmod "$OUT/old.rmpkg" modules/voice.yaml 0644
	$EDIT rehash "$OUT/old.rmpkg" 1
	[ "$($EDIT cat "$OUT/old.rmpkg" meta/contents.json | jq -c '[.schema, (.files[0] | has("mode"))]')" = '["remotemedia.contents/1",false]' ]
	run rm-inspect --json "$OUT/old.rmpkg"
	assert_success
	[ "$(jq -r '[.files[].mode] | unique | join(",")' <<<"$output")" = 0644 ]
	rm-inspect -x "$OUT/old" "$OUT/old.rmpkg" >/dev/null
	[ ! -x "$OUT/old/modules/voice.yaml" ]
	# its writer stored 0755 for executable sources: read, but the unsigned
	# bit never takes effect
	$EDIT chmod "$OUT/old.rmpkg" modules/voice.yaml 0755
	run rm-inspect -x "$OUT/x" "$OUT/old.rmpkg"
	assert_success
	[ -f "$OUT/x/modules/voice.yaml" ] && [ ! -x "$OUT/x/modules/voice.yaml" ]
	# any other mode stays refused
	$EDIT chmod "$OUT/old.rmpkg" modules/voice.yaml 04755
	run rm-inspect -x "$OUT/y" "$OUT/old.rmpkg"
	assert_failure 5
	[ ! -e "$OUT/y" ]
	$EDIT chmod "$OUT/old.rmpkg" modules/voice.yaml 0644
	# a current list must give every mode
	$EDIT rehash "$OUT/old.rmpkg"
	$EDIT cat "$OUT/old.rmpkg" meta/contents.json | jq 'del(.files[0].mode)' > "$OUT/c.json"
	$EDIT put "$OUT/old.rmpkg" meta/contents.json "$OUT/c.json"
	run rm-inspect "$OUT/old.rmpkg"
	assert_failure 5
	assert_output --partial 'files[0]: expected {"path", "size", "sha256", "mode": "0644" or "0755"}'
}

@test "rm-inspect: a manifest of schema major 2 is a version mismatch; garbage is not a package" {
	p=$(build)
	$EDIT cat "$p" manifest.json | jq '.schema = "remotemedia.pipeline/2"' > "$OUT/m.json"
	$EDIT put "$p" manifest.json "$OUT/m.json"
	$EDIT rehash "$p"
	run rm-inspect "$p"
	assert_failure 3
	assert_output --partial "version mismatch"
	head -c 3000 /dev/urandom > "$OUT/junk.rmpkg"
	run rm-inspect "$OUT/junk.rmpkg"
	assert_failure 5
	run rm-inspect "$OUT/missing.rmpkg"
	assert_failure 4
}

# A CA chain made with the openssl command line: root -> intermediate -> leaf,
# with the extensions RFC 5280 and strict verification ask for; ext_file
# PROFILE writes a leaf's extensions (code signing unless told otherwise).
ext_file() {	# ext_file NAME KEYUSAGE [EKU]
	local d=$BATS_TEST_TMPDIR/ca
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,$2"
		[ -z "${3:-}" ] || echo "extendedKeyUsage=$3"
		echo "subjectKeyIdentifier=hash"
		echo "authorityKeyIdentifier=keyid"
	} > "$d/$1.ext"
}

make_ca() {
	local d=$BATS_TEST_TMPDIR/ca
	mkdir -p "$d"
	printf '%s\n' basicConstraints=critical,CA:TRUE keyUsage=critical,keyCertSign,cRLSign \
	    subjectKeyIdentifier=hash authorityKeyIdentifier=keyid > "$d/ca.ext"
	openssl req -x509 -newkey ed25519 -nodes -keyout "$d/root.key" -out "$d/root.crt" \
	    -subj /CN=Test-Root -days 3650 -addext basicConstraints=critical,CA:TRUE \
	    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
	openssl req -new -newkey ed25519 -nodes -keyout "$d/int.key" -out "$d/int.csr" \
	    -subj /CN=Test-Intermediate 2>/dev/null
	openssl x509 -req -in "$d/int.csr" -CA "$d/root.crt" -CAkey "$d/root.key" \
	    -CAcreateserial -days 3650 -extfile "$d/ca.ext" -out "$d/int.crt" 2>/dev/null
	rm-build keygen builder >/dev/null
	openssl req -new -key "$REMOTEMEDIA_HOME/keys/builder.key" -subj /CN=Builder \
	    -out "$d/leaf.csr" 2>/dev/null
	ext_file code digitalSignature codeSigning
}

leaf_cert() {	# leaf_cert DAYS ISSUER OUT [PROFILE]
	local d=$BATS_TEST_TMPDIR/ca
	openssl x509 -req -in "$d/leaf.csr" -CA "$d/$2.crt" -CAkey "$d/$2.key" \
	    -CAcreateserial -days "$1" -extfile "$d/${4:-code}.ext" -out "$d/leaf-$3.crt" 2>/dev/null
	cat "$d/leaf-$3.crt" "$d/$2.crt" > "$d/chain-$3.pem"
}

@test "rm-inspect: a leaf <- intermediate <- root chain verifies against the trusted root; expired or wrongly issued leaves are refused" {
	make_ca
	d=$BATS_TEST_TMPDIR/ca
	cp "$d/root.crt" "$REMOTEMEDIA_HOME/trust/"
	leaf_cert 30 int good
	p=$(build --sign builder --cert "$d/chain-good.pem")
	run rm-inspect --verify --json "$p"
	assert_success
	[ "$(jq -r '.signature.status, .signature.certificates' <<<"$output" | tr '\n' ' ')" = "valid 2 " ]
	assert_output --partial "CN=Builder"
	# expired leaf
	leaf_cert -1 int expired
	cp "$p" "$OUT/exp.rmpkg"
	rm-build sign --sign builder --cert "$d/chain-expired.pem" "$OUT/exp.rmpkg" >/dev/null
	run rm-inspect --verify "$OUT/exp.rmpkg"
	assert_failure 5
	assert_output --partial "certificate has expired"
	# a leaf issued by another CA, presented with our intermediate
	openssl req -x509 -newkey ed25519 -nodes -keyout "$d/rogue.key" -out "$d/rogue.crt" \
	    -subj /CN=Test-Intermediate -days 3650 -addext basicConstraints=critical,CA:TRUE 2>/dev/null
	leaf_cert 30 rogue rogue
	cat "$d/leaf-rogue.crt" "$d/int.crt" > "$d/chain-rogue.pem"
	cp "$p" "$OUT/rogue.rmpkg"
	rm-build sign --sign builder --cert "$d/chain-rogue.pem" "$OUT/rogue.rmpkg" >/dev/null
	run rm-inspect --verify "$OUT/rogue.rmpkg"
	assert_failure 5
	assert_output --partial "not trusted: unable to get local issuer certificate"
	# without the root in trust/ the good chain is untrusted too
	rm "$REMOTEMEDIA_HOME/trust/root.crt"
	run rm-inspect --verify "$p"
	assert_failure 5
	assert_output --partial "unable to get"
	# a chain whose leaf is not the signing key is refused at signing time
	rm-build keygen other >/dev/null
	run rm-build sign --sign other --cert "$d/chain-good.pem" "$OUT/rogue.rmpkg"
	assert_failure 3
	assert_output --partial "does not hold the signing key"
}

@test "rm-inspect: an X.509 signer must hold a code-signing leaf (codeSigning, digitalSignature) under real CAs" {
	make_ca
	d=$BATS_TEST_TMPDIR/ca
	cp "$d/root.crt" "$REMOTEMEDIA_HOME/trust/"
	leaf_cert 30 int good
	cat "$d/leaf-good.crt" "$d/int.crt" > "$d/chain-good.pem"
	p=$(build --sign builder --cert "$d/chain-good.pem")
	run rm-inspect --verify --json "$p"
	assert_success
	[ "$(jq -r .signature.status <<<"$output")" = valid ]
	# a TLS server certificate from the same CA
	ext_file tls keyAgreement serverAuth
	leaf_cert 30 int tls tls
	cp "$p" "$OUT/tls.rmpkg"
	run rm-build sign --sign builder --cert "$d/chain-tls.pem" "$OUT/tls.rmpkg"
	assert_success
	assert_output --partial "the leaf is not a code-signing certificate (its extended key usage lacks codeSigning): verifiers will not trust this signature"
	run rm-inspect --verify "$OUT/tls.rmpkg"
	assert_failure 5
	assert_output --partial "CN=Builder is not a code-signing certificate: its extended key usage lacks codeSigning"
	REMOTEMEDIA_ENV=production run rm-inspect -x "$OUT/x" "$OUT/tls.rmpkg"
	assert_failure 5
	[ ! -e "$OUT/x" ]
	# no extended key usage at all is not "any purpose"
	ext_file noeku digitalSignature
	leaf_cert 30 int noeku noeku
	rm-build sign --sign builder --cert "$d/chain-noeku.pem" "$OUT/tls.rmpkg" >/dev/null
	run rm-inspect --verify "$OUT/tls.rmpkg"
	assert_failure 5
	assert_output --partial "has no extended key usage (codeSigning is required)"
	# code signing, but a key usage without digitalSignature
	ext_file nodigsig nonRepudiation codeSigning
	leaf_cert 30 int nodigsig nodigsig
	rm-build sign --sign builder --cert "$d/chain-nodigsig.pem" "$OUT/tls.rmpkg" >/dev/null
	run rm-inspect --verify "$OUT/tls.rmpkg"
	assert_failure 5
	assert_output --partial "its key usage lacks digitalSignature"
	# a CA certificate, even one for code signing, is no signer
	printf '%s\n' basicConstraints=critical,CA:TRUE keyUsage=critical,digitalSignature,keyCertSign \
	    extendedKeyUsage=codeSigning subjectKeyIdentifier=hash authorityKeyIdentifier=keyid \
	    > "$d/caleaf.ext"
	leaf_cert 30 int caleaf caleaf
	rm-build sign --sign builder --cert "$d/chain-caleaf.pem" "$OUT/tls.rmpkg" >/dev/null
	run rm-inspect --verify "$OUT/tls.rmpkg"
	assert_failure 5
	assert_output --partial "it is a CA certificate"
	# an intermediate that may sign certificates (keyCertSign) but is not a CA
	openssl req -new -newkey ed25519 -nodes -keyout "$d/noca.key" -out "$d/noca.csr" \
	    -subj /CN=Not-A-CA 2>/dev/null
	printf '%s\n' keyUsage=critical,keyCertSign subjectKeyIdentifier=hash \
	    authorityKeyIdentifier=keyid > "$d/noca.ext"
	openssl x509 -req -in "$d/noca.csr" -CA "$d/root.crt" -CAkey "$d/root.key" \
	    -CAcreateserial -days 3650 -extfile "$d/noca.ext" -out "$d/noca.crt" 2>/dev/null
	leaf_cert 30 noca noca
	rm-build sign --sign builder --cert "$d/chain-noca.pem" "$OUT/tls.rmpkg" >/dev/null
	run rm-inspect --verify "$OUT/tls.rmpkg"
	assert_failure 5
	assert_output --partial "certificate chain of /CN=Builder not trusted"
	# the intermediate alone in trust/ is no anchor: no partial chains
	rm "$REMOTEMEDIA_HOME/trust/root.crt"
	cp "$d/int.crt" "$REMOTEMEDIA_HOME/trust/"
	run rm-inspect --verify "$p"
	assert_failure 5
	assert_output --partial "not trusted: unable to get issuer certificate"
}

@test "rm-inspect: usage errors exit 2, --help exits 0" {
	run rm-inspect
	assert_failure 2
	assert_output --partial "rm-inspect: missing the package"
	run rm-inspect registry.example:5000/voice/tts:1.0
	assert_failure 2
	assert_output --partial "did you mean oci://registry.example:5000/voice/tts:1.0?"
	# a path that exists is a path, whatever its name looks like
	mkdir -p "$BATS_TEST_TMPDIR/w/a.b"
	cp "$(build 2>/dev/null)" "$BATS_TEST_TMPDIR/w/a.b/p"
	(cd "$BATS_TEST_TMPDIR/w" && rm-inspect --json a.b/p >/dev/null)
	run rm-inspect --bogus x
	assert_failure 2
	run rm-inspect --help
	assert_success
	assert_output --partial "usage: rm-inspect"
}
