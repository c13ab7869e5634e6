#!/bin/bash
# watch.sh - tests of okof watch: run watchers in the background, make
# changes, and compare what they report with the changes made and with
# the store's final state (okof list), never with themselves.
#
#   OKOF=./okof bash tests/watch.sh
#
# Prints "ok - ..." or "not ok - ..." per test, then "N passed, M
# failed"; exits 1 if any failed.  Waits are bounded polls for the
# expected output, never a fixed sleep taken as the answer.
set -u
OKOF=${OKOF:-./okof}
case $OKOF in /*) ;; *) OKOF=$PWD/$OKOF ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/okof-watch.XXXXXX")
chmod 755 "$T"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${saved_queue:-}" ] &&
		echo "$saved_queue" >/proc/sys/fs/inotify/max_queued_events
	rm -rf "$T"
}
trap cleanup EXIT
unset OKOF_KEY_FILE XDG_DATA_HOME
passed=0
failed=0

check() {
	local desc=$1
	shift
	if "$@"; then
		passed=$((passed + 1))
		echo "ok - $desc"
	else
		failed=$((failed + 1))
		echo "not ok - $desc"
	fi
}

# wait_for FILE PATTERN [SECONDS]: until a line of FILE matches (grep -x).
wait_for() {
	local n
	n=$(awk "BEGIN { print int(${3:-10} * 20) }")
	while [ $n -gt 0 ]; do
		grep -qax -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

# wait_count FILE LINE N: until FILE holds LINE N times (10 s at most).
wait_count() {
	local i
	for i in $(seq 1 200); do
		[ "$(grep -cax -- "$2" "$1" 2>/dev/null)" -ge "$3" ] && return 0
		sleep 0.05
	done
	return 1
}

# start NAME ARGS...: okof watch ARGS in the background, its output in
# $T/NAME.out and $T/NAME.err, its pid in $wpid.
start() {
	local name=$1
	shift
	"$OKOF" watch "$@" >"$T/$name.out" 2>"$T/$name.err" &
	wpid=$!
	pids+=("$wpid")
}

# ready FILE KEY [PUTARGS]: puts KEY until FILE shows "put KEY", so that
# the watcher has read its starting state and sees what follows.
ready() {
	local i
	for i in $(seq 1 60); do
		"$OKOF" put "$2" "$i" || return 1
		wait_for "$1" "put $2" 0.2 && return 0
	done
	return 1
}

# stop PID: ends a watcher, quietly.
stop() {
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# without FILE KEY: FILE's lines that are not about KEY.
without() {
	grep -avx -e "put $2" -e "del $2" "$1"
}

# ---------------------------------------------------------------- basics
export OKOF_DIR="$T/s1"
"$OKOF" put before 1
start basic a b before sync
check "watch: ready (a store's first change is seen)" ready "$T/basic.out" sync
"$OKOF" put a 1 && wait_count "$T/basic.out" "put a" 1
"$OKOF" put other 1
"$OKOF" put b 2 && wait_count "$T/basic.out" "put b" 1
"$OKOF" del a && wait_count "$T/basic.out" "del a" 1
"$OKOF" put a 3 && wait_count "$T/basic.out" "put a" 2
"$OKOF" put a 3 # the same bytes again: a new record
check "watch: a put of the same bytes is a change" \
	wait_count "$T/basic.out" "put a" 3
without "$T/basic.out" sync >"$T/basic.got"
printf 'put a\nput b\ndel a\nput a\nput a\n' >"$T/basic.want"
check "watch: put and del reported in order, other keys not" \
	cmp -s "$T/basic.got" "$T/basic.want"
check "watch: existing keys not reported without --initial" \
	test "$(grep -cax 'put before' "$T/basic.out")" = 0
check "watch: nothing on standard error" test ! -s "$T/basic.err"
stop "$wpid"

# A store that does not exist yet is waited for.
export OKOF_DIR="$T/later/deeper/s"
start later k
for i in $(seq 1 60); do
	"$OKOF" put k "$i"
	wait_for "$T/later.out" "put k" 0.2 && break
done
check "watch: a store created after the start" wait_for "$T/later.out" "put k" 1
stop "$wpid"

# -0: keys that hold newlines.
export OKOF_DIR="$T/s1"
start nul -0 "$(printf 'x\ny')"
for i in $(seq 1 60); do
	"$OKOF" put "$(printf 'x\ny')" "$i"
	[ -s "$T/nul.out" ] && break
	sleep 0.2
done
sleep 0.1
stop "$wpid"
check "watch -0: NUL-ended reports" \
	test "$(head -c 8 "$T/nul.out" | od -An -c | tr -s ' ')" = \
	" p u t x \n y \0"

# ---------------------------------------------------------------- prefix
start prefix --prefix job.
check "watch --prefix: ready" ready "$T/prefix.out" job.sync
"$OKOF" put job.1 a && wait_for "$T/prefix.out" "put job.1"
"$OKOF" put task.1 a
"$OKOF" put job.2 a
"$OKOF" del job.1
wait_for "$T/prefix.out" "del job.1"
without "$T/prefix.out" job.sync >"$T/prefix.got"
printf 'put job.1\nput job.2\ndel job.1\n' >"$T/prefix.want"
check "watch --prefix: the keys under it, in order" \
	cmp -s "$T/prefix.got" "$T/prefix.want"
stop "$wpid"

# ---------------------------------------------------------------- -- KEY
# Keys that start with '-' come after a first '--', before a second.
start dash -- -x dsync
check "watch -- -x: ready" ready "$T/dash.out" dsync
"$OKOF" put -- -x 1
check "watch -- -x: reports the key -x" wait_for "$T/dash.out" "put -x" 3
stop "$wpid"
"$OKOF" watch -- -y dsync2 -- sh -c 'echo "$OKOF_WATCH_EVENT $OKOF_WATCH_KEY" >>"$1"' \
	sh "$T/dashcmd.out" 2>"$T/dashcmd.err" &
wpid=$!
pids+=("$wpid")
for i in $(seq 1 60); do
	"$OKOF" put dsync2 "$i"
	wait_for "$T/dashcmd.out" "put dsync2" 0.2 && break
done
"$OKOF" put -- -y 1
check "watch -- -y KEY -- COMMAND: COMMAND runs for -y" \
	wait_for "$T/dashcmd.out" "put -y" 3
stop "$wpid"

# ---------------------------------------------------------------- --once
export OKOF_DIR="$T/s2"
("$OKOF" watch --once report.ready >"$T/once.out" 2>"$T/once.err" &&
	echo done >"$T/once.flag") &
pids+=($!)
for i in $(seq 1 60); do
	"$OKOF" put report.ready "$i"
	wait_for "$T/once.flag" done 0.2 && break
done
check "watch --once: wakes the waiting script" wait_for "$T/once.flag" done 1
check "watch --once: one report" \
	test "$(cat "$T/once.out")" = "put report.ready"
[ -s "$T/once.flag" ] || sed 's/^/# once.err: /' "$T/once.err" >&2

# ---------------------------------------------------------------- --timeout
s=$(date +%s%N)
"$OKOF" watch --timeout 1 nothing.here >"$T/to.out" 2>"$T/to.err"
st=$?
e=$((($(date +%s%N) - s) / 1000000))
check "watch --timeout: exit 1 when nothing changed" test $st = 1
check "watch --timeout: after the time, not before (${e} ms)" test $e -ge 950
check "watch --timeout: silent" test ! -s "$T/to.out" -a ! -s "$T/to.err"
"$OKOF" watch --timeout 300ms nothing.here
check "watch --timeout 300ms" test $? = 1

# ---------------------------------------------------------------- --initial
export OKOF_DIR="$T/s3"
"$OKOF" put i.a 1
"$OKOF" put i.b 1
"$OKOF" put --ttl 1 i.gone 1
"$OKOF" put j.c 1
start init1 --initial i.a i.b i.c
wait_for "$T/init1.out" "put i.b"
sleep 0.2
stop "$wpid"
check "watch --initial: the keys that exist, as put" \
	test "$(sort "$T/init1.out" | tr '\n' ' ')" = "put i.a put i.b "
for i in $(seq 1 60); do "$OKOF" has i.gone || break; sleep 0.1; done
start init2 --initial --prefix i.
wait_for "$T/init2.out" "put i.b"
sleep 0.2
stop "$wpid"
check "watch --initial --prefix: live keys only" \
	test "$(sort "$T/init2.out" | tr '\n' ' ')" = "put i.a put i.b "

# ---------------------------------------------------------------- TTL, gc
export OKOF_DIR="$T/s4"
start ttl t sync
ready "$T/ttl.out" sync
"$OKOF" put --ttl 1 t v
s=$(date +%s%N)
wait_for "$T/ttl.out" "put t"
check "watch: an expiry is reported as del" wait_for "$T/ttl.out" "del t" 4
e=$((($(date +%s%N) - s) / 1000000))
check "watch: the expiry's del within ~2 s (${e} ms; TTL 1 is 1-2 s)" test $e -le 3000
"$OKOF" gc
"$OKOF" put sync again
wait_for "$T/ttl.out" "put sync"
sleep 0.3
check "watch: gc removing the expired key is no second del" \
	test "$(grep -cax 'del t' "$T/ttl.out")" = 1
stop "$wpid"

# ---------------------------------------------------------------- bursts
burst() { # burst NAME WATCHARGS...: 200 quick puts and a del
	local name=$1
	shift
	start "$name" "$@" k sync
	ready "$T/$name.out" sync
	for i in $(seq 1 200); do "$OKOF" put --no-sync k "$i"; done
	"$OKOF" del k
	local last=
	for i in $(seq 1 200); do
		last=$(without "$T/$name.out" sync | tail -1)
		[ "$last" = "del k" ] && break
		sleep 0.05
	done
	sleep 0.3
	last=$(without "$T/$name.out" sync | tail -1)
	stop "$wpid"
	test "$last" = "del k" &&
		! without "$T/$name.out" sync | grep -qavx -e 'put k' -e 'del k' &&
		test "$(without "$T/$name.out" sync | wc -l)" -le 201
}
export OKOF_DIR="$T/s5"
check "watch: 200 quick puts and a del, the last report is del" burst b1

# A put and a del both made while the watcher was not looking: the key
# was absent before and after, yet it changed, and says so.
start gap k sync
ready "$T/gap.out" sync
kill -STOP "$wpid"
"$OKOF" put k 1
"$OKOF" del k
kill -CONT "$wpid"
check "watch: a put and a del made while it was stopped: del" \
	wait_for "$T/gap.out" "del k" 5
stop "$wpid"

cmdrun() { # cmdrun NAME WATCHARGS...: 30 puts while a 0.5 s COMMAND runs
	local name=$1
	shift
	: >"$T/$name.runs"
	start "$name" "$@" k sync -- sh -c 'v=$('"$OKOF"' get k 2>/dev/null)
		echo "$OKOF_WATCH_EVENT $OKOF_WATCH_KEY $v" >>'"$T/$name.runs"'
		sleep 0.5'
	for i in $(seq 1 40); do
		"$OKOF" put sync "$i"
		wait_for "$T/$name.runs" "put sync.*" 1 && break
	done
	sleep 0.7 # the sync run ends: the first put starts a run of its own
	for i in $(seq 1 30); do "$OKOF" put --no-sync k "$i"; done
	wait_for "$T/$name.runs" "put k 30" 10
	sleep 1.2 # no run may follow the one with the latest state
	stop "$wpid"
	local runs
	runs=$(grep -c '^put k ' "$T/$name.runs")
	echo "# $name: $runs runs for 30 puts"
	test "$(grep -a ' k ' "$T/$name.runs" | tail -1)" = "put k 30" &&
		test "$(grep -c '^put k 30$' "$T/$name.runs")" = 1 &&
		test "$runs" -ge 1 -a "$runs" -le 5 && test ! -s "$T/$name.err"
}
check "watch -- COMMAND: 30 puts, a few runs, the last with the latest" \
	cmdrun c1

# A failing COMMAND is named, and watching goes on.
start fail k -- sh -c 'echo "$OKOF_WATCH_EVENT" >>'"$T/fail.runs"'; exit 3'
for i in $(seq 1 60); do
	"$OKOF" put k "$i"
	wait_for "$T/fail.runs" put 0.2 && break
done
n=$(wc -l <"$T/fail.runs")
"$OKOF" del k
for i in $(seq 1 100); do
	grep -qx del "$T/fail.runs" && break
	sleep 0.05
done
check "watch -- COMMAND: goes on after a failed run" grep -qx del "$T/fail.runs"
sleep 0.1
check "watch -- COMMAND: one okof: line per failed run" \
	test "$(grep -c "^okof: 'sh' failed for .* 'k': exit status 3$" \
		"$T/fail.err")" = "$(wc -l <"$T/fail.runs")" -a \
		"$(wc -l <"$T/fail.err")" = "$(wc -l <"$T/fail.runs")"
stop "$wpid"
start nf k -- /nonexistent/cmd
for i in $(seq 1 60); do
	"$OKOF" put k "$i"
	wait_for "$T/nf.err" "okof: cannot run .*" 0.2 && break
done
check "watch -- COMMAND: not found is one line" \
	test "$(head -1 "$T/nf.err")" = \
	"okof: cannot run '/nonexistent/cmd' for put 'k': No such file or directory"
check "watch -- COMMAND: still watching after that" kill -0 "$wpid"
stop "$wpid"

# SIGTERM ends the watch and its running COMMAND.
start sig k -- sleep 31.25
for i in $(seq 1 60); do
	"$OKOF" put k "$i"
	pgrep -f "^sleep 31.25" >/dev/null && break
	sleep 0.2
done
kill -TERM "$wpid"
for i in $(seq 1 60); do
	kill -0 "$wpid" 2>/dev/null || break
	sleep 0.05
done
check "watch: SIGTERM ends it at once (within 3 s)" \
	eval '! kill -0 "$wpid" 2>/dev/null'
kill -KILL "$wpid" 2>/dev/null
wait "$wpid"
st=$?
check "watch: SIGTERM ends it (status 143)" test $st = 143
check "watch: SIGTERM ends the running COMMAND" \
	test -z "$(pgrep -f '^sleep 31.25')"

# ---------------------------------------------------------------- overflow
# A queue of 16 events, a watcher stopped while hundreds of changes
# happen: the kernel drops events and says so; the watcher must read
# everything again and still end at the store's state.
model() { # model FILE: the keys whose last report is put, sorted
	awk '{ k = substr($0, 5); if ($1 == "put") live[k] = 1; else delete live[k] }
	     END { for (k in live) print k }' "$1" | LC_ALL=C sort
}
overflow() { # overflow NAME WATCHARGS...
	local name=$1
	shift
	start "$name" "$@" --prefix o.
	ready "$T/$name.out" o.sync || return 1
	# The watcher's queue is made: the limit goes back at once.
	if [ -n "${saved_queue:-}" ]; then
		echo "$saved_queue" >/proc/sys/fs/inotify/max_queued_events
		saved_queue=
	fi
	kill -STOP "$wpid"
	for i in $(seq 1 300); do
		"$OKOF" put --no-sync "o.$((i % 40))" "$i"
		[ $((i % 7)) = 0 ] && "$OKOF" del -f "o.$((i % 13))"
	done
	"$OKOF" put o.last x
	kill -CONT "$wpid"
	wait_for "$T/$name.out" "put o.last" 10
	sleep 0.3
	stop "$wpid"
	"$OKOF" list o. >"$T/$name.list"
	model "$T/$name.out" >"$T/$name.model"
	cmp -s "$T/$name.list" "$T/$name.model"
}
export OKOF_DIR="$T/s6"
q=/proc/sys/fs/inotify/max_queued_events
if [ -w $q ]; then
	saved_queue=$(cat $q)
	echo 16 >$q
	check "watch: an inotify queue overflow still ends in the store's state" \
		overflow ofl
	[ -n "$saved_queue" ] && echo "$saved_queue" >$q
	saved_queue=
else
	echo "ok - # SKIP queue overflow: $q is not writable"
fi

# ---------------------------------------------------------------- polling
export OKOF_DIR="$T/s7"
start poll --poll --interval 100ms a sync
check "watch --poll: ready" ready "$T/poll.out" sync
"$OKOF" put a 1 && wait_count "$T/poll.out" "put a" 1
"$OKOF" del a && wait_count "$T/poll.out" "del a" 1
"$OKOF" put a 2 && wait_count "$T/poll.out" "put a" 2
without "$T/poll.out" sync >"$T/poll.got"
printf 'put a\ndel a\nput a\n' >"$T/poll.want"
check "watch --poll: the same reports" cmp -s "$T/poll.got" "$T/poll.want"
check "watch --poll: silent on standard error (forced)" test ! -s "$T/poll.err"
stop "$wpid"
check "watch --poll: 200 quick puts and a del, the last report is del" \
	burst b2 --poll --interval 100ms
export OKOF_DIR="$T/s8"
check "watch --poll --prefix: ends in the store's state" \
	overflow pollofl --poll --interval 100ms
export OKOF_DIR="$T/s9"
"$OKOF" put --ttl 2 t v
start pttl --initial --poll --interval 1h t
check "watch --poll: an expiry is reported by its timer, not a poll" \
	wait_for "$T/pttl.out" "del t" 5
stop "$wpid"

# ---------------------------------------------------------------- encrypted
export OKOF_DIR="$T/enc"
"$OKOF" keygen "$T/key"
"$OKOF" keygen "$T/key2"
"$OKOF" -k "$T/key" init --encrypt
export OKOF_KEY_FILE="$T/key"
start enc --prefix e.
for i in $(seq 1 60); do
	echo "$i" | "$OKOF" put e.sync
	wait_for "$T/enc.out" "put e.sync" 0.2 && break
done
echo secret | "$OKOF" put e.1 && wait_for "$T/enc.out" "put e.1"
echo secret | "$OKOF" put f.1
"$OKOF" del e.1
wait_for "$T/enc.out" "del e.1"
without "$T/enc.out" e.sync >"$T/enc.got"
printf 'put e.1\ndel e.1\n' >"$T/enc.want"
check "watch --prefix on an encrypted store" cmp -s "$T/enc.got" "$T/enc.want"
stop "$wpid"
OKOF_KEY_FILE="$T/key2" "$OKOF" watch e.1 >"$T/out" 2>"$T/err"
check "watch: a wrong secret is exit 3, one line" \
	test $? = 3 -a ! -s "$T/out" -a "$(grep -c '^okof: ' "$T/err")" = 1 \
	-a "$(wc -l <"$T/err")" = 1
unset OKOF_KEY_FILE
"$OKOF" watch e.1 >"$T/out" 2>"$T/err"
check "watch: no secret for an encrypted store is exit 3" test $? = 3

# ---------------------------------------------------------------- bad input
export OKOF_DIR="$T/s1"
usage() { # usage STATUS ARGS...: exit STATUS, one okof: line, no output
	local want=$1
	shift
	timeout 10 "$OKOF" watch "$@" >"$T/out" 2>"$T/err"
	test $? = "$want" -a ! -s "$T/out" -a "$(wc -l <"$T/err")" = 1 &&
		grep -q '^okof: ' "$T/err"
}
check "watch: no KEY and no --prefix is exit 2" usage 2
check "watch: KEY and --prefix is exit 2" usage 2 k --prefix p
check "watch: a bad --timeout is exit 2" usage 2 --timeout 5x k
check "watch: a bad --interval is exit 2" usage 2 --interval 0 k
check "watch: an empty key is exit 2" usage 2 ''
check "watch: nothing after -- is exit 2" usage 2 k --
check "watch: an unknown option is exit 2" usage 2 --bogus k
mkdir -p "$T/notstore" && echo x >"$T/notstore/file"
OKOF_DIR="$T/notstore"
export OKOF_DIR
check "watch: a directory that is not a store is exit 3" usage 3 k
export OKOF_DIR="$T/s1"
chmod 777 "$T/s1"
check "watch: an unsafe store (mode 777) is exit 3" usage 3 k
chmod 700 "$T/s1"

echo "$passed passed, $failed failed"
[ $failed = 0 ]
