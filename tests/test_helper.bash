# Loaded by every bats file: a private HOME and state directory per test, a
# fixed locale and time zone, and the freshly built tools first on PATH.
bats_load_library bats-support
bats_load_library bats-assert

: "${RM_TOP_SRCDIR:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
: "${RM_TOP_BUILDDIR:=$RM_TOP_SRCDIR}"
export RM_TOP_SRCDIR RM_TOP_BUILDDIR
FIXTURES=$RM_TOP_SRCDIR/tests/fixtures
SHARE=$RM_TOP_SRCDIR/share/remotemedia

for _d in "$RM_TOP_BUILDDIR"/tools/*/; do
	PATH=${_d%/}:$PATH
done
export PATH
unset _d

export HOME=$BATS_TEST_TMPDIR/home
export REMOTEMEDIA_HOME=$HOME/.remotemedia
export REMOTEMEDIA_SHARE=$SHARE
export REMOTEMEDIA_ENV=development
export LC_ALL=C TZ=UTC
unset REMOTEMEDIA_EXEC_PATH CI
mkdir -p "$HOME"

# A registry directory of adverts from fixture files: registry_from FILE...
registry_from() {
	mkdir -p "$REMOTEMEDIA_HOME/executors"
	local f
	for f in "$@"; do
		cp "$f" "$REMOTEMEDIA_HOME/executors/"
	done
}

# Prints a free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Asserts that a tree is unchanged: snapshot DIR, then later same_as_snapshot DIR.
snapshot() {
	(cd "$1" 2>/dev/null && find . -type f -exec sha256sum {} + | sort) > "$BATS_TEST_TMPDIR/snapshot"
}
same_as_snapshot() {
	(cd "$1" 2>/dev/null && find . -type f -exec sha256sum {} + | sort) | diff "$BATS_TEST_TMPDIR/snapshot" -
}

# run_measured CMD...: like run, and sets PEAK_KB (peak resident memory of
# CMD, empty without /usr/bin/time) and SECS (wall time in seconds).
run_measured() {
	local t=$BATS_TEST_TMPDIR/measured s=$SECONDS
	PEAK_KB= SECS=
	if [ -x /usr/bin/time ]; then
		run /usr/bin/time -o "$t" -f '%M %e' "$@"
		read -r PEAK_KB SECS < <(tail -n 1 "$t")
	else
		run "$@"
		SECS=$((SECONDS - s))
	fi
}

# assert_bounded MAX_MB MAX_SECONDS: the last run_measured stayed within both
# (four times both in a sanitizer build: shadow memory, quarantine, checks).
assert_bounded() {
	local mb=$1 s=$2
	if ldd "$(command -v rm-match)" 2>/dev/null | grep -q libasan; then
		mb=$((mb * 4)) s=$((s * 4))
	fi
	if [ -n "$PEAK_KB" ] && [ "$PEAK_KB" -ge $((mb * 1024)) ]; then
		fail "peak memory $PEAK_KB KB, bound $mb MB"
	fi
	awk -v t="$SECS" -v m="$s" 'BEGIN { exit !(t < m) }' || fail "took $SECS s, bound $s s"
}

# yaml_bomb DOCS: a multi-document "billion laughs", 250 bytes a document,
# each document expanding to 200,000 strings.
yaml_bomb() {
	local d i
	for ((d = 0; d < $1; d++)); do
		printf 'l0: &a [x, x, x, x, x, x, x, x, x, x]\n'
		for i in 1 2 3 4; do
			printf 'l%d: &a [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n' "$i"
		done
		printf 'm1: *a\nm2: *a\n---\n'
	done
}
