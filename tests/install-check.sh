#!/bin/bash
# Installs remotemedia into a temporary prefix and checks the installed tools
# alone: a copy of the source tree is configured with --prefix, built and
# installed, then the copy and its build tree are moved away and the README
# demo, a Python build, an edited installed taxonomy, a moved prefix, the
# bash completion and the cron/systemd examples are tried with PATH holding
# only the installed bin and the system directories. Ends with
# "make uninstall" leaving no file behind.
#
# usage: tests/install-check.sh [SRCDIR]   (default: this script's tree)
# Prints TAP ("ok N - ..." / "not ok N - ..."); exit 1 when a check failed,
# 2 when the tree could not be built. KEEP=1 keeps the temporary directory.
set -u
src=$(cd "${1:-$(dirname "$0")/..}" && pwd) || exit 2
T=$(mktemp -d "${TMPDIR:-/tmp}/rm-install.XXXXXX") || exit 2
P=$T/prefix
S=$P/share/remotemedia
n=0
failed=0
cleanup() {
	[ -d "$T/src.away" ] && mv "$T/src.away" "$T/src"
	[ -d "$T/build.away" ] && mv "$T/build.away" "$T/build"
	if [ "${KEEP:-0}" = 1 ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT

# check DESCRIPTION COMMAND...: one TAP line; the command's output shows as
# comments when it fails.
check() {
	local what=$1 out
	shift
	n=$((n + 1))
	if out=$("$@" 2>&1); then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		printf '%s\n' "$out" | sed 's/^/# /'
		failed=$((failed + 1))
	fi
}

# ---- build and install from a copy ------------------------------------------
echo "# source $src, work directory $T"
mkdir -p "$T/src" "$T/build" "$T/home" "$T/cwd"
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z --cached --others --exclude-standard |
	    xargs -0 cp --parents -t "$T/src" 2>/dev/null)
else
	cp -a "$src/." "$T/src/"
fi
(cd "$T/src" && { [ -x configure ] || autoreconf -fi; }) >"$T/build.log" 2>&1 &&
    (cd "$T/build" && "$T/src/configure" --prefix="$P" &&
	make -j"$(nproc 2>/dev/null || echo 2)" && make install) >>"$T/build.log" 2>&1
rc=$?
n=$((n + 1))
if [ $rc -ne 0 ]; then
	echo "not ok $n - configure --prefix, make, make install"
	tail -n 30 "$T/build.log" | sed 's/^/# /'
	exit 2
fi
echo "ok $n - configure --prefix, make, make install"

# ---- the installed tools alone -------------------------------------------------
mv "$T/src" "$T/src.away" && mv "$T/build" "$T/build.away" || exit 2
unset REMOTEMEDIA_SHARE REMOTEMEDIA_EXEC_PATH REMOTEMEDIA_PYTHON CI
export PATH=$P/bin:/usr/local/bin:/usr/bin:/bin
export HOME=$T/home REMOTEMEDIA_HOME=$T/home/.remotemedia REMOTEMEDIA_ENV=development
export LC_ALL=C TZ=UTC
cd "$T/cwd" || exit 2

layout() {
	local f
	for f in taxonomy.yaml catalog.yaml node-types.yaml python/rm_build_runner.py \
	    python/remotemedia/__init__.py examples/hello.yaml examples/adverts.yaml \
	    examples/nodes.yaml examples/voice.py examples/models/tiny-vad.safetensors \
	    examples/rm-probe.cron examples/rm-probe-verify.service \
	    examples/rm-probe-verify.timer; do
		[ -f "$S/$f" ] || { echo "missing $S/$f"; return 1; }
	done
	[ ! -e "$S/share" ] || { echo "$S/share: data installed one level too deep"; return 1; }
	for f in remotemedia rm-build rm-cache rm-inspect rm-match rm-probe rm-push rm-schedule; do
		[ -x "$P/bin/$f" ] || { echo "missing $P/bin/$f"; return 1; }
	done
	[ -f "$P/share/man/man7/remotemedia.7" ] || { echo "no man pages"; return 1; }
}
check "data installed in \$(datadir)/remotemedia with the tree's layout" layout

# quiet RC CMD...: runs CMD, wants exit status RC and no warning about the
# built-in data (the install must be found, not the embedded fallback)
quiet() {
	local want=$1 rc
	shift
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" != "$want" ] || grep -q 'built-in copy' "$T/err"; then
		echo "$* exited $rc (wanted $want)"
		cat "$T/out" "$T/err"
		return 1
	fi
}
check "rm-probe --no-frameworks" quiet 0 rm-probe --no-frameworks
check "rm-match --explain -x examples/adverts.yaml examples/nodes.yaml" \
	quiet 0 rm-match --explain -x "$S/examples/adverts.yaml" "$S/examples/nodes.yaml"
hello() {
	quiet 0 remotemedia run "$S/examples/hello.yaml" &&
	    grep -q 'HELLO' "$T/out" || { cat "$T/out" "$T/err"; return 1; }
}
check "remotemedia run examples/hello.yaml" hello

pybuild() {
	mkdir -p "$T/cwd/out" &&
	    quiet 0 rm-build -o "$T/cwd/out" "$S/examples/voice.py" &&
	    quiet 0 rm-inspect --json "$T/cwd/out"/voice-*.rmpkg
}
check "rm-build of the installed examples/voice.py from another directory" pybuild

# ---- an edit of the installed taxonomy is honoured -----------------------------
cat >"$T/fpga-node.yaml" <<'EOF'
id: fpga-node
capabilities:
  fpga.count: 2
EOF
cat >"$T/fpga-adverts.yaml" <<'EOF'
- id: fpga-box
  capabilities:
    fpga.count: 4
- id: small-fpga-box
  capabilities:
    fpga.count: 1
EOF
add_fpga() {
	awk '{ print } /^capabilities:$/ && !done { done = 1
	    print "  fpga.count:\n    type: number\n    compare: at_least"
	    print "    description: FPGAs (added by install-check.sh)" }' \
	    "$1/taxonomy.yaml" >"$T/taxonomy.new" && cat "$T/taxonomy.new" >"$1/taxonomy.yaml"
}
match_fpga() {
	rm-match --no-local --json -x "$T/fpga-adverts.yaml" "$T/fpga-node.yaml"
}
unknown_before() {
	match_fpga >"$T/out" 2>&1
	[ $? = 3 ] && grep -q 'unknown capability' "$T/out" || { cat "$T/out"; return 1; }
}
check "a capability missing from the installed taxonomy is refused (exit 3)" unknown_before
known_after() {
	add_fpga "$S" && match_fpga >"$T/out" 2>"$T/err" || { cat "$T/out" "$T/err"; return 1; }
	grep -q '"id": "fpga-box"' "$T/out" && grep -q '"compatible_count": 1' "$T/out" ||
	    { cat "$T/out"; return 1; }
	rm-match --no-local --json -x "$T/fpga-adverts.yaml" - >/dev/null 2>&1 <<'EOF'
id: big-fpga-node
capabilities:
  fpga.count: 8
EOF
	[ $? = 1 ] || { echo "a node needing 8 FPGAs was not refused (exit 1)"; return 1; }
}
check "after adding it to the installed taxonomy.yaml it matches, and rejects" known_after

# ---- a moved prefix finds its own data; a missing one is reported ------------
relocated() {
	local Q=$T/moved/prefix rc
	mkdir -p "$T/moved" "$T/cwd/out2" && mv "$P" "$Q" || return 1
	PATH=$Q/bin:/usr/bin:/bin match_fpga >"$T/out" 2>"$T/err"
	rc=$?
	PATH=$Q/bin:/usr/bin:/bin rm-build -o "$T/cwd/out2" "$Q/share/remotemedia/examples/voice.py" \
	    >>"$T/out" 2>>"$T/err" || rc=9
	mv "$Q" "$P"
	[ $rc = 0 ] && grep -q fpga-box "$T/out" || { echo "rc $rc"; cat "$T/out" "$T/err"; return 1; }
}
check "a prefix moved elsewhere still finds its share/remotemedia" relocated
warns() {
	local rc
	mv "$S" "$S.away" || return 1
	rm-match --no-local -x "$T/fpga-adverts.yaml" "$T/fpga-node.yaml" >"$T/out" 2>"$T/err"
	rc=$?
	mv "$S.away" "$S"
	[ $rc = 3 ] && grep -q 'taxonomy.yaml: no data directory' "$T/err" &&
	    grep -q 'built-in copy' "$T/err" || { echo "rc $rc"; cat "$T/err"; return 1; }
}
check "without the installed data a tool warns that it uses the built-in copy" warns

# ---- bash completion -----------------------------------------------------------
completion() {
	local d t
	d=$(find "$P" -type d -path '*/bash-completion/completions' | head -n 1)
	[ -n "$d" ] || { echo "no bash-completion/completions directory under $P"; return 1; }
	for t in "$P"/bin/*; do
		[ -f "$d/${t##*/}" ] || { echo "no completion for ${t##*/} in $d"; return 1; }
	done
	bash -c '
	source "$1/rm-cache" || exit 1
	COMP_WORDS=(remotemedia pu); COMP_CWORD=1; _rm_complete
	[ "${COMPREPLY[*]}" = push ] || { echo "remotemedia pu: ${COMPREPLY[*]}"; exit 1; }
	COMP_WORDS=(rm-cache fetch --of); COMP_CWORD=2; _rm_complete
	[ "${COMPREPLY[*]}" = --offline ] || { echo "rm-cache fetch --of: ${COMPREPLY[*]}"; exit 1; }' \
	    sh "$d"
}
check "bash completion installed for every tool and working" completion

# ---- the cron and systemd examples ------------------------------------------
# cron has no checker; a line is a comment, a VAR=value, or five time fields
# (numbers, ranges, lists, steps, *) and a command whose program is installed.
cron_ok() {
	local f=$S/examples/rm-probe.cron line prog jobs=0
	while IFS= read -r line; do
		case $line in '' | '#'*) continue ;; [A-Za-z_]*=*) continue ;; esac
		echo "$line" | grep -Eq '^([0-9*][0-9*,/-]*[[:space:]]+){5}[^[:space:]]' ||
		    { echo "$f: not a crontab line: $line"; return 1; }
		prog=$(echo "$line" | awk '{ print $6 }')
		case $prog in "$P/bin/"*) ;; *) echo "$f: $prog is not an installed tool"; return 1 ;; esac
		[ -x "$prog" ] || { echo "$f: $prog does not exist"; return 1; }
		"$prog" "$(echo "$line" | awk '{ print $7 }')" --help >/dev/null ||
		    { echo "$f: $line: not a verb of $prog"; return 1; }
		jobs=$((jobs + 1))
	done <"$f"
	[ $jobs -gt 0 ] || { echo "$f: no job"; return 1; }
}
check "examples/rm-probe.cron parses and runs installed tools" cron_ok
systemd_ok() {
	local exe
	exe=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$S/examples/rm-probe-verify.service")
	[ "$exe" = "$P/bin/rm-probe" ] && [ -x "$exe" ] ||
	    { echo "ExecStart runs '$exe', not the installed rm-probe"; return 1; }
	grep -q '^OnUnitActiveSec=' "$S/examples/rm-probe-verify.timer" || return 1
	if command -v systemd-analyze >/dev/null 2>&1; then
		# offline: the unit files, not a running systemd
		SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
		    "$S/examples/rm-probe-verify.service" "$S/examples/rm-probe-verify.timer"
	else
		echo "# systemd-analyze not found: checked ExecStart only" >&2
	fi
}
check "examples/rm-probe-verify.service and .timer verify, and run the installed rm-probe" \
	systemd_ok

# ---- make uninstall ----------------------------------------------------------
mv "$T/src.away" "$T/src" && mv "$T/build.away" "$T/build" || exit 2
uninstall() {
	make -C "$T/build" uninstall >"$T/out" 2>&1 || { cat "$T/out"; return 1; }
	left=$(find "$P" ! -type d)
	[ -z "$left" ] || { echo "left after make uninstall:"; echo "$left"; return 1; }
}
check "make uninstall leaves only empty directories" uninstall

echo "1..$n"
[ $failed -eq 0 ]
