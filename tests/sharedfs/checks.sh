# shellcheck shell=bash
# checks.sh - the contract's concurrency guarantees, through two mounts
# of one GlusterFS volume at once.  Sourced by run.sh, which provides
# OKOF, T, W (scratch, not on the volume), SA and SB (the same store seen
# through mount A and mount B), pass/fail and the gl_* helpers.
#
# Every check makes both mounts act at the same time: one process per
# mount, as two machines would.  The same races within one mount are
# tests/faults/torture.sh's business.

okA() { "$OKOF" -d "$SA" "$@"; }
okB() { "$OKOF" -d "$SB" "$@"; }
store_of() { if [ "$1" = A ]; then echo "$SA"; else echo "$SB"; fi; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }

first_line() { # FILE: its first line, or "none"
	local l
	l=$(head -1 "$1" 2>/dev/null)
	echo "${l:-none}"
}

# incr KEY N times through mount M; prints how many calls failed.
incr_loop() {
	local m=$1 key=$2 n=$3 err=$4 s i fails=0
	s=$(store_of "$m")
	for ((i = 0; i < n; i++)); do
		"$OKOF" -d "$s" incr "$key" >/dev/null 2>>"$err" || fails=$((fails + 1))
	done
	echo "$fails"
}

# What made it fail with okof 0047df9: incr (and put --if-absent over an
# existing record) flock the bucket directory.  On a FUSE mount the kernel
# keeps flock on a directory to itself (FUSE passes flock to the file
# system for regular files only), so each mount has its own lock; flock
# and fcntl locks on a regular file are gluster's and hold across mounts
# (tried by hand on this set-up).
check_incr() {
	local n=$INCR_N a b fa fb fails
	: >"$W/incr.err"
	incr_loop A count "$n" "$W/incr.err" >"$W/incr.A" &
	a=$!
	incr_loop B count "$n" "$W/incr.err" >"$W/incr.B" &
	b=$!
	wait "$a" "$b"
	fa=$(okA get count 2>&1)
	fb=$(okB get count 2>&1)
	fails=$(($(cat "$W/incr.A") + $(cat "$W/incr.B")))
	if [ "$fa" = $((2 * n)) ] && [ "$fb" = $((2 * n)) ] && [ "$fails" = 0 ]; then
		pass "incr ${n}x through each mount at once ends at $((2 * n))"
	else
		fail "incr ${n}x through each mount at once" \
			"final $fa via A, $fb via B (want $((2 * n))); $fails calls failed (first: $(first_line "$W/incr.err"))"
	fi
}

# One race: put --if-absent through both mounts at once.  Prints the two
# exit statuses.
race_if_absent() {
	local key=$1 a b
	( okA put --if-absent --ttl 1 "$key" "A:$key" 2>>"$W/race.err"
	  echo $? >"$W/race.A" ) &
	a=$!
	( okB put --if-absent --ttl 1 "$key" "B:$key" 2>>"$W/race.err"
	  echo $? >"$W/race.B" ) &
	b=$!
	wait "$a" "$b"
	echo "$(cat "$W/race.A") $(cat "$W/race.B")"
}

# ROUNDS races over KEYPREFIX<r>; pass when each has one winner (0) and
# one loser (1).
race_rounds() {
	local name=$1 prefix=$2 extra=$3 r st two=0 none=0 odd=0
	: >"$W/race.err"
	for ((r = 1; r <= ROUNDS; r++)); do
		st=$(race_if_absent "$prefix$r")
		case $st in
		"0 1" | "1 0") ;;
		"0 0") two=$((two + 1)) ;;
		"1 1") none=$((none + 1)) ;;
		*) odd=$((odd + 1)); echo "round $r: exits $st" >>"$W/race.err" ;;
		esac
	done
	if [ $((two + none + odd)) = 0 ]; then
		pass "$name: one winner in each of $ROUNDS rounds$extra"
	else
		fail "$name" "two winners in $two of $ROUNDS rounds, none in $none, other exits in $odd$extra (first error: $(first_line "$W/race.err"))"
	fi
}

check_if_absent() {
	local r i files
	# Half the expired records written through each mount, so that the
	# loser's side is sometimes the one that wrote the old record.
	for ((r = 1; r <= ROUNDS; r++)); do
		if [ $((r % 2)) = 0 ]; then okA put --ttl 1 "exp$r" old; else okB put --ttl 1 "exp$r" old; fi
	done
	# A TTL counts in whole seconds: wait until both sides read the last
	# one as expired (absent), at most 5 s.
	for ((i = 0; i < 50; i++)); do
		! okA has "exp$ROUNDS" && ! okB has "exp$ROUNDS" && break
		sleep 0.1
	done
	# The records must still be there, expired, not gone: count files.
	files=$(find "$SA" -type f | wc -l)
	race_rounds "put --if-absent racing through both mounts over an expired record" \
		exp " ($files files in the store before)"
	race_rounds "put --if-absent racing through both mounts over an absent key" abs ""
}

# Critical sections under okof lock -n from mount M, until LOCK_ITER of
# them ran (at most 20 times as many tries: -n gives up when busy).
# Each section stamps a marker file on the volume (through its own
# mount), sleeps, and checks the marker is still its own; it also logs
# its start and end times (one clock: one machine) and its fencing token.
lock_loop() {
	local m=$1 s i rc ran=0 busy=0 other=0
	s=$(store_of "$m")
	for ((i = 1; ran < LOCK_ITER && i <= 20 * LOCK_ITER; i++)); do
		# shellcheck disable=SC2016 # expanded by the inner sh
		"$OKOF" -d "$s" lock -n sharedfs-crit -- sh -c '
			echo "$(date +%s%N) start $1.$2 ${OKOF_LOCK_TOKEN:-none}" >>"$3"
			echo "$1.$2" >"$4"
			sleep 0.05
			got=$(cat "$4")
			echo "$(date +%s%N) end $1.$2" >>"$3"
			[ "$got" = "$1.$2" ] || echo "$1.$2 found the marker $got" >>"$5"
			' sh "$m" "$i" "$W/lock.log.$m" "$T/$m/lock-marker" \
			"$W/lock.overlap" 2>>"$W/lock.err"
		rc=$?
		case $rc in
		0) ran=$((ran + 1)) ;;
		75) busy=$((busy + 1)) ;;
		*) other=$((other + 1)); echo "$m.$i: exit $rc" >>"$W/lock.err" ;;
		esac
		sleep 0.01
	done
	echo "$ran $busy $other"
}

check_lock() {
	local name="lock across mounts" rc a b overlaps tokens
	local ran_a busy_a other_a ran_b busy_b other_b
	if ! "$OKOF" help lock >/dev/null 2>&1; then
		fail "$name" "okof has no lock command"
		return
	fi
	: >"$W/lock.log.A"; : >"$W/lock.log.B"; : >"$W/lock.overlap"; : >"$W/lock.err"
	lock_loop A >"$W/lock.A" &
	a=$!
	lock_loop B >"$W/lock.B" &
	b=$!
	wait "$a" "$b"
	# Sections sorted by time must alternate start, end, start, end... and
	# the tokens of successive sections must grow.
	overlaps=$(sort -n "$W/lock.log.A" "$W/lock.log.B" | awk '
		$2 == "start" { if (open) bad++; open = 1 }
		$2 == "end"   { open = 0 }
		END { print bad + 0 }')
	tokens=$(sort -n "$W/lock.log.A" "$W/lock.log.B" | awk '
		$2 == "start" { if ($4 !~ /^[0-9]+$/ || (n++ && $4 <= last)) bad++; last = $4 }
		END { print bad + 0 }')
	overlaps=$((overlaps + $(wc -l <"$W/lock.overlap")))
	read -r ran_a busy_a other_a <"$W/lock.A"
	read -r ran_b busy_b other_b <"$W/lock.B"
	if [ "$overlaps" = 0 ] && [ "$tokens" = 0 ] && [ "$other_a" = 0 ] &&
		[ "$other_b" = 0 ] && [ "$ran_a" -gt 0 ] && [ "$ran_b" -gt 0 ]; then
		pass "$name: no overlap in $((ran_a + ran_b)) sections (A ran $ran_a, busy $busy_a; B ran $ran_b, busy $busy_b)"
	else
		fail "$name" "$overlaps overlapping sections, $tokens tokens out of order; A ran $ran_a busy $busy_a other $other_a, B ran $ran_b busy $busy_b other $other_b (first: $(first_line "$W/lock.overlap"); $(first_line "$W/lock.err"))"
	fi
}

# The values the writer cycles through: several sizes, each distinct, so
# that a read is right when its md5 is one of theirs.
make_rw_values() {
	local i size
	: >"$W/rw.sums"
	for ((i = 0; i < RW_VALUES; i++)); do
		case $((i % 4)) in
		0 | 2) size=10 ;;
		1) size=204800 ;;
		3) size=5000 ;;
		esac
		{ printf 'v%03d:' "$i"; head -c "$size" /dev/urandom | base64 -w 0; } |
			head -c "$size" >"$W/rw.val.$i"
		md5sum <"$W/rw.val.$i" | cut -c1-32 >>"$W/rw.sums"
	done
}

rw_writer() {
	local end=$1 i=0 writes=0 fails=0
	while [ "$(now_ms)" -lt "$end" ]; do
		if okA put rw <"$W/rw.val.$((i % RW_VALUES))" 2>>"$W/rw.werr"; then
			writes=$((writes + 1))
		else
			fails=$((fails + 1))
		fi
		i=$((i + 1))
	done
	echo "$writes $fails"
}

rw_reader() {
	local end=$1 rc
	while [ "$(now_ms)" -lt "$end" ]; do
		okB get rw >"$W/rw.got" 2>>"$W/rw.rerr"
		rc=$?
		echo "$rc $(md5sum <"$W/rw.got" | cut -c1-32)"
	done
}

check_reader_writer() {
	local end w r gets errs wrong writes wfails
	make_rw_values
	: >"$W/rw.werr"; : >"$W/rw.rerr"
	okA put rw <"$W/rw.val.0"
	end=$(($(now_ms) + RW_SECONDS * 1000))
	rw_writer "$end" >"$W/rw.writes" &
	w=$!
	rw_reader "$end" >"$W/rw.reads" &
	r=$!
	wait "$w" "$r"
	gets=$(wc -l <"$W/rw.reads")
	errs=$(awk '$1 != 0' "$W/rw.reads" | wc -l)
	wrong=$(awk 'NR == FNR { ok[$1] = 1; next } $1 == 0 && !($2 in ok)' \
		"$W/rw.sums" "$W/rw.reads" | wc -l)
	read -r writes wfails <"$W/rw.writes"
	if [ "$errs" = 0 ] && [ "$wrong" = 0 ] && [ "$wfails" = 0 ] && [ "$gets" -gt 0 ]; then
		pass "get through B while put replaces the value through A: $gets gets, $writes puts, no error, no unwritten value"
	else
		fail "get through B while put replaces the value through A" \
			"$errs of $gets gets failed, $wrong returned a value never written; $wfails of $((writes + wfails)) puts failed (first get error: $(first_line "$W/rw.rerr"); first put error: $(first_line "$W/rw.werr"))"
	fi
}

# Read-after-write between mounts: what the volume options are for.
# On a stale read, how long until the new value shows (the lag, in ms).
fresh_once() {
	local from=$1 to=$2 v=$3 t0 i
	"$OKOF" -d "$(store_of "$from")" put fresh "$v" 2>/dev/null
	t0=$(now_ms)
	for ((i = 0; i < 100; i++)); do
		[ "$("$OKOF" -d "$(store_of "$to")" get fresh 2>/dev/null)" = "$v" ] && break
		sleep 0.05
	done
	[ "$i" = 0 ] || echo $(($(now_ms) - t0))
}

check_fresh() {
	local i lags stale max
	lags=$(for ((i = 1; i <= ROUNDS; i++)); do
		fresh_once A B "a$i"
		fresh_once B A "b$i"
	done)
	stale=$(echo "$lags" | grep -c .)
	max=$(echo "$lags" | sort -n | tail -1)
	if [ "$stale" = 0 ]; then
		pass "a put through one mount is read at once through the other ($((2 * ROUNDS)) times)"
	else
		fail "a put through one mount is read at once through the other" \
			"$stale of $((2 * ROUNDS)) reads returned an older value; the new one showed after up to $max ms"
	fi
}

check_list_verify_gc() {
	local i va vb rc fa fb
	for ((i = 1; i <= 10; i++)); do
		okA put "lv.a$i" "A$i"
		okB put "lv.b$i" "B$i"
	done
	for ((i = 1; i <= 5; i++)); do okA put --ttl 1 "lv.ttl$i" x; done
	sleep 2.1 # the TTL keys expire
	okA list >"$W/list.A" 2>&1
	okB list >"$W/list.B" 2>&1
	if cmp -s "$W/list.A" "$W/list.B" && grep -qx lv.b10 "$W/list.A" &&
		! grep -q '^lv\.ttl' "$W/list.A"; then
		pass "list agrees through A and B ($(wc -l <"$W/list.A") keys)"
	else
		fail "list agrees through A and B" "$(diff "$W/list.A" "$W/list.B" | wc -l) diff lines, $(wc -l <"$W/list.A") vs $(wc -l <"$W/list.B") keys"
	fi
	okA verify >"$W/verify.A" 2>&1; va=$?
	okB verify >"$W/verify.B" 2>&1; vb=$?
	if [ "$va" = 0 ] && [ "$vb" = 0 ]; then
		pass "verify exits 0 through A and B"
	else
		fail "verify exits 0 through A and B" "exit $va via A ($(first_line "$W/verify.A")), $vb via B ($(first_line "$W/verify.B"))"
	fi
	fa=$(find "$SB" -type f | wc -l)
	okA gc >"$W/gc.out" 2>&1; rc=$?
	okB list >"$W/list.B2" 2>&1
	okA list >"$W/list.A2" 2>&1
	fb=$(find "$SB" -type f | wc -l)
	okB verify >"$W/verify.B2" 2>&1; vb=$?
	if [ "$rc" = 0 ] && cmp -s "$W/list.A" "$W/list.B2" &&
		cmp -s "$W/list.A2" "$W/list.B2" && [ "$fb" -lt "$fa" ] && [ "$vb" = 0 ]; then
		pass "gc through A, then list and verify through B agree ($fa files before, $fb after, seen through B)"
	else
		fail "gc through A, then list and verify through B" \
			"gc exit $rc; list via B changed: $(diff "$W/list.A" "$W/list.B2" | wc -l) diff lines; files via B $fa -> $fb; verify via B exit $vb"
	fi
}

# A put through A that takes 2 s to read its input, and a gc through B in
# the middle: gc must leave the temp file of a running write alone.
check_gc_spares_write() {
	local p rc prc got
	{ printf 'slow-head\n'; sleep 2; printf 'slow-tail\n'; } |
		okA put slow 2>"$W/slow.err" &
	p=$!
	sleep 1
	okB gc >"$W/gc2.out" 2>&1; rc=$?
	wait "$p"; prc=$?
	got=$(okB get slow 2>&1)
	if [ "$rc" = 0 ] && [ "$prc" = 0 ] && [ "$got" = "slow-head
slow-tail" ]; then
		pass "gc through B spares the temp file of a put running through A"
	else
		fail "gc through B spares the temp file of a put running through A" \
			"gc exit $rc, put exit $prc ($(first_line "$W/slow.err")), get via B: $(echo "$got" | head -c 80 | tr '\n' ' ')"
	fi
}

# One brick killed while both mounts incr (each its own counter, so that
# what this measures is the brick, not the cross-mount incr of
# check_incr), then brought back; then two of three bricks down.
check_bricks() {
	local n=$BRICK_N a b i pid t0 t1 fa fb fails rc lines
	okA del -f bc.A bc.B 2>/dev/null
	: >"$W/brick.err"
	incr_loop A bc.A "$n" "$W/brick.err" >"$W/brick.A" &
	a=$!
	incr_loop B bc.B "$n" "$W/brick.err" >"$W/brick.B" &
	b=$!
	# Kill when the loops are well under way.
	for ((i = 0; i < 100; i++)); do
		[ "$(okA get bc.A 2>/dev/null || echo 0)" -ge $((n / 4)) ] && break
		sleep 0.1
	done
	pid=$(gl_brick_pid 3)
	if ours "$pid"; then kill -9 "$pid"; else echo "# brick 3 has no pid to kill"; fi
	wait "$a" "$b"
	fa=$(okB get bc.A 2>&1)
	fb=$(okA get bc.B 2>&1)
	fails=$(($(cat "$W/brick.A") + $(cat "$W/brick.B")))
	if [ -n "$pid" ] && [ "$fa" = "$n" ] && [ "$fb" = "$n" ] && [ "$fails" = 0 ]; then
		pass "one brick killed during incr through both mounts: nothing lost ($n and $n)"
	else
		fail "one brick killed during incr through both mounts" \
			"counters $fa and $fb (want $n each), $fails calls failed (first: $(first_line "$W/brick.err"))"
	fi

	t0=$(now_ms)
	gl volume start "$VOL" force >/dev/null 2>&1
	if gl_wait_bricks 3; then
		# Let self-heal copy what brick 3 missed before more bricks go.
		gl volume heal "$VOL" >/dev/null 2>&1
		# Healed: all three bricks answer, none with entries to heal.
		for ((i = 0; i < 150; i++)); do
			[ "$(gl volume heal "$VOL" info 2>/dev/null |
				grep -c '^Number of entries: 0$')" = 3 ] && break
			sleep 0.2
		done
		t1=$(now_ms)
		if [ "$i" -lt 150 ]; then
			pass "killed brick back with volume start force, healed in $((t1 - t0)) ms"
		else
			fail "killed brick back" "entries still to heal after 30 s"
		fi
	else
		fail "killed brick back" "volume start force did not restart brick 3"
	fi

	for i in 2 3; do
		pid=$(gl_brick_pid "$i")
		if ours "$pid"; then kill -9 "$pid"; fi
	done
	sleep 0.5
	t0=$(now_ms)
	timeout 60 "$OKOF" -d "$SA" put quorum v 2>"$W/quorum.err"
	rc=$?
	t1=$(now_ms)
	lines=$(wc -l <"$W/quorum.err")
	if [ "$rc" = 3 ] && [ "$lines" = 1 ] && grep -q '^okof: ' "$W/quorum.err"; then
		pass "two bricks down: put exits 3 in $((t1 - t0)) ms: $(cat "$W/quorum.err")"
	else
		fail "two bricks down: put exits 3 with one okof: line" \
			"exit $rc after $((t1 - t0)) ms (124 = hung until timeout 60), $lines lines on stderr: $(head -c 200 "$W/quorum.err" | tr '\n' '|')"
	fi
	t0=$(now_ms)
	timeout 60 "$OKOF" -d "$SB" incr count 2>"$W/quorum2.err" >/dev/null
	rc=$?
	t1=$(now_ms)
	lines=$(wc -l <"$W/quorum2.err")
	if [ "$rc" = 3 ] && [ "$lines" = 1 ] && grep -q '^okof: ' "$W/quorum2.err"; then
		pass "two bricks down: incr exits 3 in $((t1 - t0)) ms"
	else
		fail "two bricks down: incr exits 3 with one okof: line" \
			"exit $rc after $((t1 - t0)) ms, $lines lines on stderr: $(head -c 200 "$W/quorum2.err" | tr '\n' '|')"
	fi
	# Not a contract point; what a reader sees with one brick of three.
	okB get count >/dev/null 2>"$W/quorum3.err"
	echo "# with one brick of three, get exits $? ($(first_line "$W/quorum3.err"))"
}
