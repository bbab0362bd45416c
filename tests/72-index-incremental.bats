#!/usr/bin/env bats
# The registry index brought up to date from the changes only (issue 12):
# a directory's changed, added and removed adverts, the racy second, a
# writer killed mid-write; etcd's changes since a revision, deletions and
# leases that end; rm-match --cached; the log of etcd changes beside the
# index, torn or not, and rm-match --follow keeping it from a watch.
# "Read again" counts come from the -vv debug line, which is how these
# tests tell an update from a rescan.

load test_helper
load etcd_helper
bats_require_minimum_version 1.5.0

M=$BATS_TEST_DIRNAME/fixtures/match
NODE='{"id":"n","capabilities":{"gpu":{"type":"cuda","min_memory_gb":40}}}'

# N adverts ex00..ex(N-1) in the registry, memory 24 GB, mtimes in the past.
adverts() {
	local d=$REMOTEMEDIA_HOME/executors i
	mkdir -p "$d"
	for i in $(seq -w 0 $(($1 - 1))); do
		jq -c --arg id "ex$i" '.id = $id' "$M/executors/gpu-4090.json" > "$d/ex$i.json"
	done
	touch -d '1 min ago' "$d"/*.json "$d"
	sleep 0.1	# their ctime is now: past the racy window
}

# Rewrites advert ID with gpu.memory_gb = GB, by rename as the tools do.
set_mem() {
	local d=$REMOTEMEDIA_HOME/executors
	jq -c --arg id "$1" --argjson gb "$2" '.id = $id | .capabilities.gpu.memory_gb = $gb' \
		"$M/executors/gpu-4090.json" > "$d/.$1.tmp"
	mv "$d/.$1.tmp" "$d/$1.json"
}

# The ids that match $NODE, one line; the debug line of the index in $IDX.
match_ids() {
	printf '%s\n' "$NODE" > "$BATS_TEST_TMPDIR/node.json"
	run --separate-stderr rm-match --no-local --json -vv "$@" "$BATS_TEST_TMPDIR/node.json"
	[ "$status" -le 1 ] || { echo "$stderr"; return 1; }
	IDS=$(jq -r '[.executors[].id] | sort | join(" ")' <<< "$output")
	IDX=$(grep -E 'index .*(current|rebuilt|updated)' <<< "$stderr" || true)
}

@test "index: a changed, an added and a removed advert are seen, only they are read" {
	adverts 40
	set_mem ex07 48
	touch -d '1 min ago' "$REMOTEMEDIA_HOME"/executors/*.json "$REMOTEMEDIA_HOME/executors"
	sleep 0.1
	match_ids
	assert_equal "$IDS" "ex07"
	assert_regex "$IDX" 'rebuilt: 40 adverts read again'
	match_ids
	assert_regex "$IDX" 'is current \(40 adverts\)'

	set_mem ex21 80
	match_ids
	assert_equal "$IDS" "ex07 ex21"
	assert_regex "$IDX" 'updated in memory: 1 adverts read again \(1 changed, 0 racy\), 40 in all'
	# one advert rewritten, same id: patched into the mapped columns, not copied
	assert_regex "$stderr" 'index: 1 adverts patched in place'

	jq -c '.id = "new" | .capabilities.gpu.memory_gb = 48' "$M/executors/gpu-4090.json" \
		> "$REMOTEMEDIA_HOME/executors/new.json"
	match_ids
	assert_equal "$IDS" "ex07 ex21 new"
	assert_regex "$IDX" ': 2 adverts read again \(2 changed, 0 racy\), 41 in all'

	rm "$REMOTEMEDIA_HOME/executors/ex07.json"
	match_ids
	assert_equal "$IDS" "ex21 new"
	assert_regex "$IDX" ': 2 adverts read again \(3 changed, 0 racy\), 40 in all'
}

@test "index: from 32 changes a reader writes the index; a writer always does" {
	adverts 40
	match_ids
	for i in $(seq -w 0 31); do set_mem "ex$i" 48; done
	match_ids
	assert_regex "$IDX" 'index .* updated: 32 adverts read again'
	assert_equal "$(wc -w <<< "$IDS")" 32
	# the files written last were racy then: read again once, and written
	sleep 0.1
	match_ids
	assert_regex "$IDX" 'updated: [1-9] adverts read again \(0 changed, [1-9] racy\)'
	match_ids
	assert_regex "$IDX" 'is current \(40 adverts\)'
	# rm-probe register updates the index itself: the next match reads nothing
	jq '.id = "ex39" | .capabilities.gpu.memory_gb = 80' "$M/executors/gpu-4090.json" \
		> "$BATS_TEST_TMPDIR/ex39.json"
	run -0 rm-probe register -q --from "$BATS_TEST_TMPDIR/ex39.json" --ttl 300
	match_ids
	assert_regex "$IDX" 'is current \(40 adverts\)'
	assert_regex "$IDS" 'ex39'
}

@test "index: the racy second: a file rewritten in place too soon after the build is read again" {
	adverts 40
	# racy within 1 s; no stat of the other entries, as above 2,000 files
	export REMOTEMEDIA_TEST_INDEX_RACY_MS=1000 REMOTEMEDIA_TEST_INDEX_STAT_MAX=0
	sleep 1.1
	local f=$REMOTEMEDIA_HOME/executors/ex05.json mt
	touch "$f"
	match_ids
	assert_regex "$IDX" 'rebuilt'
	# same inode, same size, same mtime: only the racy mark tells
	mt=$(stat -c %y "$f")
	sed 's/"memory_gb":24,/"memory_gb":96,/' "$f" > "$BATS_TEST_TMPDIR/x"
	cat "$BATS_TEST_TMPDIR/x" > "$f"
	touch -d "$mt" "$f"
	match_ids
	assert_equal "$IDS" "ex05"
	# only the racy entry was read, not the 40
	assert_regex "$IDX" ': 1 adverts read again \([01] changed, [01] racy\), 40 in all'
	# an entry that is not racy is not even stat'ed above STAT_MAX ...
	export REMOTEMEDIA_TEST_INDEX_RACY_MS=0
	run -0 rm-match --no-local --rescan "$BATS_TEST_TMPDIR/node.json"
	match_ids
	assert_regex "$IDX" 'is current \(40 adverts\)'
	# ... and is below it: an in-place edit is seen by its stat
	unset REMOTEMEDIA_TEST_INDEX_STAT_MAX
	sed 's/"memory_gb":96,/"memory_gb":24,/' "$f" > "$BATS_TEST_TMPDIR/x"
	cat "$BATS_TEST_TMPDIR/x" > "$f"
	match_ids
	assert_equal "$IDS" ""
}

@test "index: a writer killed between write and rename leaves the old index, and a reader sees it" {
	adverts 20
	match_ids
	assert_equal "$IDS" ""
	set_mem ex03 48
	local dir=$REMOTEMEDIA_HOME/cache/index pid i
	REMOTEMEDIA_TEST_INDEX_PAUSE=20000 rm-match --no-local --rescan \
		"$BATS_TEST_TMPDIR/node.json" >/dev/null 2>&1 &
	pid=$!
	for i in $(seq 1 100); do
		ls "$dir"/*.idx.tmp.* >/dev/null 2>&1 && break
		sleep 0.1
	done
	ls "$dir"/*.idx.tmp.*
	# while it waits, a reader gets the old index and the change on top
	match_ids
	assert_equal "$IDS" "ex03"
	assert_regex "$IDX" 'updated in memory: 1 adverts read again'
	kill -9 "$pid"
	wait "$pid" || true
	ls "$dir"/*.idx.tmp.*
	match_ids
	assert_equal "$IDS" "ex03"
	# the next writer removes what the killed one left
	run -0 rm-match --no-local --rescan "$BATS_TEST_TMPDIR/node.json"
	run ls "$dir"
	refute_output --partial '.tmp.'
	match_ids
	assert_regex "$IDX" 'is current \(20 adverts\)'
}

@test "index: a damaged or foreign index file is rebuilt, never trusted" {
	adverts 10
	set_mem ex02 48
	match_ids
	local f
	f=$(ls "$REMOTEMEDIA_HOME"/cache/index/*.idx)
	truncate -s 1000 "$f"
	match_ids
	assert_equal "$IDS" "ex02"
	assert_regex "$IDX" 'rebuilt'
	head -c 5000 /dev/urandom > "$f"
	match_ids
	assert_equal "$IDS" "ex02"
	assert_regex "$IDX" 'rebuilt'
}

@test "index: --cached matches the directory's index as it is, saying how old it is" {
	adverts 10
	printf '%s\n' "$NODE" > "$BATS_TEST_TMPDIR/node.json"
	run -4 --separate-stderr rm-match --no-local --cached "$BATS_TEST_TMPDIR/node.json"
	assert_regex "$stderr" 'cache/index/[0-9a-f]+\.idx: no index of .*executors to use with --cached'
	match_ids
	set_mem ex04 48
	run -1 --separate-stderr rm-match --no-local --cached "$BATS_TEST_TMPDIR/node.json"
	assert_regex "$stderr" 'warning: using the index of [0-9]+ s ago; .*executors not read'
	match_ids
	assert_equal "$IDS" "ex04"
	run -2 rm-match --cached --rescan "$BATS_TEST_TMPDIR/node.json"
}

# ---- etcd ---------------------------------------------------------------

# An etcd of this test's own (etcd_helper.bash), keys under /tN.
start_etcd() {
	etcd_need
	etcd_start "$BATS_TEST_TMPDIR/etcd"
	ETCD_URL=$ETCD_URL/t$BATS_TEST_NUMBER
}

stop_etcd() {
	[ -z "${ETCD_PID:-}" ] || etcd_stop "$ETCD_PID"
}

# (not the helper's: one etcd per etcd test, none for the directory tests)
setup_file() { :; }
teardown_file() { etcd_stop_all; }
teardown() {
	[ -z "${WRITER:-}" ] || { kill "$WRITER" 2>/dev/null; wait "$WRITER" 2>/dev/null || true; }
	[ -z "${FOLLOW:-}" ] || { kill "$FOLLOW" 2>/dev/null; wait "$FOLLOW" 2>/dev/null || true; }
	stop_etcd
}

# register ID GB [TTL]: an advert in etcd, as rm-probe register puts it.
register() {
	jq --arg id "$1" --argjson gb "$2" '.id = $id | .capabilities.gpu.memory_gb = $gb' \
		"$M/executors/gpu-4090.json" > "$BATS_TEST_TMPDIR/$1.json"
	run -0 rm-probe register -q --registry "$ETCD_URL" --from "$BATS_TEST_TMPDIR/$1.json" \
		--ttl "${3:-300}"
}

@test "etcd index: changes since its revision only; deletions and ended leases are seen" {
	start_etcd
	register a 24
	register b 48
	register c 24
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "b"
	assert_regex "$IDX" 'etcd: index .* rebuilt: 3 adverts read again, 3 changed, 3 in all'
	match_ids --registry "$ETCD_URL"
	assert_regex "$IDX" 'etcd: index .* is current \(3 adverts, revision [0-9]+\)'

	register c 80
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "b c"
	assert_regex "$IDX" 'updated: 1 adverts read again, 1 changed, 3 in all'

	run -0 rm-probe deregister -q --registry "$ETCD_URL" --id b
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "c"
	assert_regex "$IDX" ': 0 adverts read again, 1 changed, 2 in all'

	# a lease that ends deletes its key; a new key at the same time
	register d 48 2
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "c d"
	register c 80 2
	sleep 4
	register e 96
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "e"
	# against the index of a, c, d: e read, c and d gone with their leases
	assert_regex "$IDX" ': 1 adverts read again, 3 changed, 2 in all'

	# a value that is not an advert is skipped with a warning, as in a directory
	curl -fsS -X POST "$ETCD_HTTP/v3/kv/put" -d "{\"key\":\"$(printf '/t%s/executors/zz' \
		"$BATS_TEST_NUMBER" | base64 -w0)\",\"value\":\"$(printf '{oops' | base64 -w0)\"}" >/dev/null
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "e"
	assert_regex "$stderr" 'etcd:/t[0-9]+/executors/zz: .*malformed JSON.*advert skipped'
	assert_regex "$IDX" ': 1 adverts read again, 1 changed, 2 in all'
	match_ids --registry "$ETCD_URL"
	assert_regex "$IDX" 'is current'

	assert_regex "$stderr" 'etcd:/t[0-9]+/executors/zz: .*malformed JSON.*advert skipped'
}

@test "etcd index: --cached matches the last index with etcd stopped, saying how old it is" {
	start_etcd
	printf '%s\n' "$NODE" > "$BATS_TEST_TMPDIR/node.json"
	run -4 --separate-stderr rm-match --no-local --cached --registry "$ETCD_URL" \
		"$BATS_TEST_TMPDIR/node.json"
	assert_regex "$stderr" 'idx: no index of etcd://127\.0\.0\.1:[0-9]+/t[0-9]+ to use with --cached'
	register a 48
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "a"
	stop_etcd
	run -6 --separate-stderr rm-match --no-local --registry "$ETCD_URL" \
		"$BATS_TEST_TMPDIR/node.json"
	assert_regex "$stderr" 'etcd unreachable: tried 127\.0\.0\.1:[0-9]+'
	run -0 --separate-stderr rm-match --no-local --json --cached --registry "$ETCD_URL" \
		"$BATS_TEST_TMPDIR/node.json"
	assert_equal "$(jq -r '.executors[].id' <<< "$output")" "a"
	assert_regex "$stderr" 'warning: using the index of [0-9]+ s ago \(revision [0-9]+\); etcd not asked'
}

# The etcd revision now, read with curl.
etcd_rev() {
	curl -fsS -X POST "$ETCD_HTTP/v3/kv/range" -d '{"key":"AA=="}' | jq -r .header.revision
}

# Waits up to 5 s for the follower (stderr in $1) to log revision $(etcd_rev).
follower_caught_up() {
	local rev i
	rev=$(etcd_rev)
	for i in $(seq 1 50); do
		grep -q "revision $rev logged" "$1" && return 0
		sleep 0.1
	done
	cat "$1" >&2
	return 1
}

@test "etcd index: rm-match --follow logs each change from its watch; a match then reads none" {
	start_etcd
	run -2 --separate-stderr rm-match --follow
	assert_regex "$stderr" '--follow needs an etcd registry'
	register a 24
	register b 48
	match_ids --registry "$ETCD_URL"
	assert_regex "$IDX" 'rebuilt: 2 adverts read again'
	f=$BATS_TEST_TMPDIR/follow.err
	rm-match --follow -vv --registry "$ETCD_URL" 2>"$f" &
	FOLLOW=$!
	for _ in $(seq 1 50); do grep -q 'following' "$f" && break; sleep 0.1; done
	run -1 --separate-stderr rm-match --follow --registry "$ETCD_URL"
	assert_regex "$stderr" 'another rm-match --follow keeps this index up to date'

	# a change, a deregister, a lease that ends, a put by another client:
	# each is in the log before the match, which asks etcd its revision only
	register c 80
	follower_caught_up "$f"
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "b c"
	assert_regex "$IDX" 'is current \(3 adverts, revision [0-9]+\), with its log'
	run -0 rm-probe deregister -q --registry "$ETCD_URL" --id b
	register d 48 2
	follower_caught_up "$f"
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "c d"
	assert_regex "$IDX" 'is current \(3 adverts, revision [0-9]+\), with its log'
	sleep 3.5
	jq -c '.id = "e" | .capabilities.gpu.memory_gb = 96' "$M/executors/gpu-4090.json" \
		> "$BATS_TEST_TMPDIR/e.json"
	etcd_put "t$BATS_TEST_NUMBER/executors/e" "$(cat "$BATS_TEST_TMPDIR/e.json")"
	follower_caught_up "$f"
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "c e"
	assert_regex "$IDX" 'is current \(3 adverts, revision [0-9]+\), with its log'
	# the revision came from the follower: this match loaded no HTTP client
	assert_regex "$stderr" 'etcd: revision [0-9]+, from rm-match --follow'

	# past 64 KiB, the follower writes the index again with its log in it
	v=$(cat "$BATS_TEST_TMPDIR/e.json")
	for i in $(seq 1 150); do
		etcd_put "t$BATS_TEST_NUMBER/executors/e" "${v/\"memory_gb\":96/\"memory_gb\":$((100 + i))}"
	done
	follower_caught_up "$f"
	assert_regex "$(cat "$f")" 'index .* written again with its log \(3 adverts'
	log=$(ls "$REMOTEMEDIA_HOME"/cache/index/*.idx).log
	[ "$(stat -c %s "$log")" -lt 65536 ]
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "c e"
	assert_regex "$IDX" 'is current \(3 adverts, revision [0-9]+\)'
	run -0 rm-match --no-local --json --query 'gpu.memory_gb = 250' --registry "$ETCD_URL"
	assert_equal "$(jq -r '[.executors[].id] | join(" ")' <<< "$output")" "e"

	# a write outside the prefix: the follower is not told; the match waits
	# for it a moment, then reads what changed itself
	etcd_put "elsewhere/x" "y"
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "c e"
	assert_regex "$stderr" 'not caught up after 50 ms waiting for rm-match --follow'
	assert_regex "$IDX" 'updated: 0 adverts read again, 0 changed, 3 in all'

	kill -TERM "$FOLLOW"
	st=0
	wait "$FOLLOW" || st=$?
	FOLLOW=
	assert_equal "$st" 0
	assert_regex "$(cat "$f")" 'stopped by signal 15'
	# without it, a change is read from etcd by the match
	register a 64
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "a c e"
	assert_regex "$IDX" 'updated: 1 adverts read again, 1 changed, 3 in all'
}

@test "etcd index: a torn or foreign record of the log is not read; what it held is read again" {
	start_etcd
	register a 24
	register b 48
	match_ids --registry "$ETCD_URL"
	log=$(ls "$REMOTEMEDIA_HOME"/cache/index/*.idx).log
	register c 80
	match_ids --registry "$ETCD_URL"
	assert_regex "$IDX" 'updated: 1 adverts read again, 1 changed, 3 in all, revision [0-9]+, logged'
	register a 96
	match_ids --registry "$ETCD_URL"
	assert_regex "$IDX" 'updated: 1 adverts read again, 1 changed, 3 in all, revision [0-9]+, logged'
	match_ids --registry "$ETCD_URL"
	assert_regex "$IDX" 'is current \(3 adverts, revision [0-9]+\), with its log'
	assert_equal "$IDS" "a b c"

	# a writer killed mid-append: the last record cut short; a is read again
	truncate -s -7 "$log"
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "a b c"
	assert_regex "$IDX" 'updated: 1 adverts read again, 1 changed, 3 in all'
	# a byte of the first record changed: nothing of the log is trusted
	printf '\377' | dd of="$log" bs=1 seek=50 conv=notrunc 2>/dev/null
	match_ids --registry "$ETCD_URL"
	assert_equal "$IDS" "a b c"
	assert_regex "$IDX" 'updated: 2 adverts read again, 2 changed, 3 in all'

	# --cached: the index with its log, etcd not asked
	stop_etcd
	run -0 --separate-stderr rm-match --no-local --json --cached --registry "$ETCD_URL" \
		"$BATS_TEST_TMPDIR/node.json"
	assert_equal "$(jq -r '[.executors[].id] | sort | join(" ")' <<< "$output")" "a b c"
	assert_regex "$stderr" 'using the index of [0-9]+ s ago \(revision [0-9]+\); etcd not asked'
}

@test "etcd index: matches racing a follower that logs fast never take its log for a history gone back" {
	start_etcd
	register a 24
	register b 48
	match_ids --registry "$ETCD_URL"
	f=$BATS_TEST_TMPDIR/follow.err
	rm-match --follow -vv --registry "$ETCD_URL" 2>"$f" &
	FOLLOW=$!
	for _ in $(seq 1 50); do grep -q 'following' "$f" && break; sleep 0.1; done
	v=$(jq -c '.id = "b" | .capabilities.gpu.memory_gb = 48' "$M/executors/gpu-4090.json")
	(for i in $(seq 1 300); do
		etcd_put "t$BATS_TEST_NUMBER/executors/b" "${v/\"memory_gb\":48/\"memory_gb\":$((48 + i % 2))}"
	done) &
	WRITER=$!
	n=0
	while kill -0 "$WRITER" 2>/dev/null; do
		match_ids --registry "$ETCD_URL"
		assert_equal "$IDS" "b"
		refute_regex "$stderr" 'history restarted|rebuilt'
		n=$((n + 1))
	done
	wait "$WRITER"
	WRITER=
	[ "$n" -ge 3 ]
}
