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
