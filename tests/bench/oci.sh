#!/bin/bash
# Push and fetch of a package holding a 1 GiB model against Debian's
# docker-registry on loopback, compared with skopeo copy of the same bytes
# (OCI layout -> registry, registry -> OCI layout) in the same run; re-push of
# the unchanged package; cache hits with no network (registry stopped).
# usage: tests/bench/oci.sh [BUILDDIR] [SIZE_MIB]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$top}
mib=${2:-1024}
for d in "$build"/tools/*/; do PATH=${d%/}:$PATH; done
export PATH RM_TOP_SRCDIR=$top REMOTEMEDIA_SHARE=$top/share/remotemedia REMOTEMEDIA_ENV=development
work=$(mktemp -d /tmp/rm-bench-oci.XXXXXX)
trap 'registry_stop "$work/reg"; rm -rf "$work"' EXIT
export HOME=$work/home REMOTEMEDIA_HOME=$work/home/.remotemedia
mkdir -p "$HOME"
source "$top/tests/fixtures/oci/registry.bash"
registry_start "$work/reg"
now() { date +%s.%N; }
since() { echo "$(now) - $1" | bc; }

mkdir -p "$work/src/models" "$work/out"
cp "$top/share/remotemedia/examples/voice.yaml" "$work/src/"
head -c $((mib * 1048576)) /dev/urandom > "$work/src/models/tiny-vad.safetensors"
pkg=$(SOURCE_DATE_EPOCH=1700000000 rm-build -q -o "$work/out" "$work/src/voice.yaml" | jq -r .path)

# skopeo: the same bytes as one layer of an OCI layout
lay=$work/layout
mkdir -p "$lay/blobs/sha256"
m=$(sha256sum "$work/src/models/tiny-vad.safetensors" | cut -c1-64)
cp "$work/src/models/tiny-vad.safetensors" "$lay/blobs/sha256/$m"
printf '{}' > "$lay/blobs/sha256/cfg"
c=$(sha256sum "$lay/blobs/sha256/cfg" | cut -c1-64)
mv "$lay/blobs/sha256/cfg" "$lay/blobs/sha256/$c"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example+type","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:%s","size":2},"layers":[{"mediaType":"application/octet-stream","digest":"sha256:%s","size":%d}]}' "$c" "$m" $((mib * 1048576)) > "$work/man"
md=$(sha256sum "$work/man" | cut -c1-64)
mv "$work/man" "$lay/blobs/sha256/$md"
printf '{"imageLayoutVersion":"1.0.0"}' > "$lay/oci-layout"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"annotations":{"org.opencontainers.image.ref.name":"1"}}]}' "$md" "$(stat -c %s "$lay/blobs/sha256/$md")" > "$lay/index.json"

sync
t=$(now); skopeo copy -q --dest-tls-verify=false "oci:$lay:1" "docker://$REG/skopeo/x:1"; sk_push=$(since "$t")
t=$(now); skopeo copy -q --src-tls-verify=false "docker://$REG/skopeo/x:1" "oci:$work/layout2:1"; sk_pull=$(since "$t")
t=$(now); rm-push -q --insecure "$pkg" "oci://$REG/rm/x:1" >/dev/null; rm_push=$(since "$t")
t=$(now); rm-push -q --insecure "$pkg" "oci://$REG/rm/x:1" >/dev/null; rm_repush=$(since "$t")
t=$(now); rm-cache fetch -q --insecure "oci://$REG/rm/x:1" >/dev/null; rm_fetch=$(since "$t")
cmp "$pkg" "$REMOTEMEDIA_HOME"/pipelines/*.rmpkg
registry_stop "$work/reg"
# 50 hits in a row, each a whole process (start-up included); the mean
t=$(now)
for i in $(seq 50); do rm-cache fetch -q "oci://$REG/rm/x:1" >/dev/null; done
best=$(echo "($(now) - $t) / 50" | bc -l)
printf 'model %d MiB on loopback\n' "$mib"
printf '  skopeo copy layout->registry  %6.2f s\n' "$sk_push"
printf '  rm-push                       %6.2f s\n' "$rm_push"
printf '  skopeo copy registry->layout  %6.2f s\n' "$sk_pull"
printf '  rm-cache fetch (cold)         %6.2f s   (blobs, .rmpkg, verified unpack)\n' "$rm_fetch"
printf '  rm-push, unchanged            %6.3f s   (target < 0.3 s)\n' "$rm_repush"
printf '  rm-cache fetch, cache hit     %6.4f s   (mean of 50, registry stopped; target < 0.010 s)\n' "$best"
