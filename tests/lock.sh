#!/bin/bash
# lock.sh - tests of okof lock and okof cache against the contract:
# what COMMAND sees (its environment, descriptors, signals), what the
# exit status is, who ran and when (marker files written by the
# commands themselves), and what the store holds afterwards (read with
# okof get and compared with the bytes the command wrote).
#
#   OKOF=./okof bash tests/lock.sh
#
# Prints "ok - ..." or "not ok - ..." per test, then "N passed, M
# failed"; exits 1 if any failed.  Waits are bounded polls for a
# marker, never a fixed sleep taken as the answer.
set -u
OKOF=${OKOF:-./okof}
case $OKOF in /*) ;; *) OKOF=$PWD/$OKOF ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/okof-lock.XXXXXX")
chmod 755 "$T"
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
unset OKOF_KEY_FILE XDG_DATA_HOME OKOF_DIR
export OKOF_DIR=$T/s
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

# wait_file FILE [SECONDS]: until FILE exists (10 s at most).
wait_file() {
	local n=$((${2:-10} * 20))
	while [ $n -gt 0 ]; do
		[ -e "$1" ] && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

# rc CMD...: runs CMD, prints its exit status.
rc() {
	"$@" >/dev/null 2>&1
	echo $?
}

# Milliseconds, for the waits that must be short or long.
ms() { echo $(($(date +%s%N) / 1000000)); }

# hold NAME MARK SECONDS: holds lock NAME in the background; MARK
# appears once it is held.  Sets held_pid (okof's pid).
hold() {
	"$OKOF" lock "$1" -- sh -c 'touch "$1"; sleep "$2"' sh "$2" "$3" &
	held_pid=$!
	wait_file "$2"
}

# ---- lock: running COMMAND --------------------------------------------

t_status_passes() {
	[ "$(rc "$OKOF" lock a -- true)" = 0 ] &&
		[ "$(rc "$OKOF" lock a -- sh -c 'exit 7')" = 7 ] &&
		[ "$(rc "$OKOF" lock a -- false)" = 1 ]
}
check "lock exits with COMMAND's status (0, 7, 1)" t_status_passes

t_stdio() {
	local out
	out=$(printf 'in\n' | "$OKOF" lock a -- sh -c 'cat; echo err >&2' 2>"$T/err")
	[ "$out" = in ] && [ "$(cat "$T/err")" = err ]
}
check "COMMAND's standard input, output and error are okof's own" t_stdio

# ... closed too, when they were closed (okof's own /dev/null stand-ins
# are not passed on).
t_stdio_closed() {
	local got
	got=$("$OKOF" lock a -- sh -c '[ -e /proc/$$/fd/1 ] && echo open >&2 ||
		echo closed >&2' 2>&1 >&-)
	[ "$got" = closed ] || { echo "# lock >&-: COMMAND's stdout $got"; return 1; }
	: >"$T/wclosed"
	"$OKOF" watch --once --timeout 20 -- wclosed -- sh -c \
		'[ -e /proc/$$/fd/0 ] && echo open >"$0" || echo closed >"$0"' \
		"$T/wclosed" <&- &
	local i wpid=$!
	for i in $(seq 1 100); do
		"$OKOF" put wclosed "$i"
		[ -s "$T/wclosed" ] && break
		sleep 0.1
	done
	wait "$wpid"
	got=$(cat "$T/wclosed")
	[ "$got" = closed ] || { echo "# watch <&-: COMMAND's stdin $got"; return 1; }
}
[ -d /proc/self/fd ] && check "COMMAND's descriptors closed where okof's were (lock, watch)" t_stdio_closed

t_env() {
	local out
	out=$("$OKOF" lock envtest -- sh -c 'echo "$OKOF_LOCK:$OKOF_LOCK_TOKEN"')
	case $out in envtest:[1-9]*) return 0 ;; esac
	echo "# got '$out'"
	return 1
}
check "COMMAND gets OKOF_LOCK and OKOF_LOCK_TOKEN" t_env

# A NAME that starts with '-' goes after a first '--' (lock and cache).
t_dash_name() {
	local out st
	out=$("$OKOF" lock -- -x -- sh -c 'echo "$OKOF_LOCK"') &&
		[ "$out" = -x ] || { echo "# lock -- -x --: '$out'"; return 1; }
	"$OKOF" lock -- -x -- sh -c '"$0" lock --status -- -x >"$1"' \
		"$OKOF" "$T/dash.status"
	grep -q '^pid: ' "$T/dash.status" || { echo "# --status -- -x"; return 1; }
	out=$("$OKOF" cache -- -y -- echo hi) && [ "$out" = hi ] &&
		[ "$("$OKOF" get -- -y)" = hi ] || { echo "# cache -- -y --"; return 1; }
	"$OKOF" lock -x -- true 2>/dev/null
	st=$?
	[ $st = 125 ] || { echo "# lock -x -- true: exit $st, want 125"; return 1; }
}
check "a NAME that starts with '-': lock -- -x -- COMMAND, --status -- -x, cache -- -y --" t_dash_name

t_tokens_grow() {
	local a b c
	a=$("$OKOF" lock tok -- sh -c 'echo $OKOF_LOCK_TOKEN')
	b=$("$OKOF" lock tok -- sh -c 'echo $OKOF_LOCK_TOKEN')
	c=$("$OKOF" lock tok -- sh -c 'echo $OKOF_LOCK_TOKEN')
	[ "$a" = 1 ] && [ "$b" = 2 ] && [ "$c" = 3 ] ||
		{ echo "# tokens $a $b $c"; return 1; }
}
check "fencing tokens count 1, 2, 3 per name" t_tokens_grow

t_tokens_per_name() {
	[ "$("$OKOF" lock tok2 -- sh -c 'echo $OKOF_LOCK_TOKEN')" = 1 ]
}
check "each name counts its own tokens" t_tokens_per_name

t_no_fd() {
	# No descriptor of COMMAND is on a lock file (nor anything in
	# the store).
	"$OKOF" lock fds -- sh -c 'ls -l /proc/$$/fd' >"$T/fds" 2>&1
	! grep -q "$T/s" "$T/fds"
}
[ -d /proc/self/fd ] && check "COMMAND inherits no descriptor of the lock" t_no_fd

t_busy_nowait() {
	hold busy "$T/m.busy" 3
	local start out code
	start=$(ms)
	"$OKOF" lock -n busy -- touch "$T/ran.busy" 2>"$T/err"
	code=$?
	out=$(cat "$T/err")
	kill "$held_pid"
	wait "$held_pid" 2>/dev/null
	[ "$code" = 75 ] && [ ! -e "$T/ran.busy" ] &&
		[ $(($(ms) - start)) -lt 1500 ] &&
		case $out in "okof: lock 'busy' is busy: held by pid "*" since "*) true ;; *) false ;; esac ||
		{ echo "# exit $code, '$out'"; return 1; }
}
check "-n on a held lock: exit 75 at once, one line naming lock and holder" t_busy_nowait

t_busy_wait() {
	hold bw "$T/m.bw" 4
	local start code took
	start=$(ms)
	"$OKOF" lock --wait 1 bw -- touch "$T/ran.bw" 2>/dev/null
	code=$?
	took=$(($(ms) - start))
	kill "$held_pid"
	wait "$held_pid" 2>/dev/null
	[ "$code" = 75 ] && [ ! -e "$T/ran.bw" ] && [ $took -ge 900 ] &&
		[ $took -lt 3500 ] || { echo "# exit $code after $took ms"; return 1; }
}
check "--wait 1 on a lock held longer: exit 75 after about 1 s" t_busy_wait

t_wait_gets_it() {
	hold wg "$T/m.wg" 1
	"$OKOF" lock --wait 10 wg -- touch "$T/ran.wg"
	local code=$?
	wait "$held_pid"
	[ "$code" = 0 ] && [ -e "$T/ran.wg" ]
}
check "--wait longer than the holder: runs once it is free" t_wait_gets_it

t_default_waits() {
	hold dw "$T/m.dw" 1
	"$OKOF" lock dw -- touch "$T/ran.dw"
	local code=$?
	wait "$held_pid"
	[ "$code" = 0 ] && [ -e "$T/ran.dw" ]
}
check "without -n or --wait, lock waits for the holder" t_default_waits

t_exclusion() {
	# 6 processes x 10 unprotected read-modify-write steps on a plain
	# file: with a lock that excludes, no increment is lost.
	echo 0 >"$T/counter"
	local i
	for i in 1 2 3 4 5 6; do
		(for j in $(seq 1 10); do
			"$OKOF" lock ctr -- sh -c 'n=$(cat "$1"); sleep 0.002; echo $((n + 1)) >"$1"; echo "$OKOF_LOCK_TOKEN" >>"$1.tokens"' sh "$T/counter"
		done) &
	done
	wait
	local n tok uniq
	n=$(cat "$T/counter")
	tok=$(wc -l <"$T/counter.tokens")
	uniq=$(sort -u "$T/counter.tokens" | wc -l)
	[ "$n" = 60 ] && [ "$tok" = 60 ] && [ "$uniq" = 60 ] ||
		{ echo "# counter $n, $tok tokens, $uniq distinct"; return 1; }
}
check "6 processes x 10 locked read-modify-writes: none lost, tokens distinct" t_exclusion

t_kill9_releases() {
	# okof killed with -9 while COMMAND runs: the lock is free at once
	# and COMMAND is killed with it (PR_SET_PDEATHSIG) on Linux.
	"$OKOF" lock k9 -- sh -c 'touch "$1"; sleep 3; touch "$2"' sh "$T/m.k9" "$T/after.k9" &
	local p=$!
	wait_file "$T/m.k9" || return 1
	local before
	before=$("$OKOF" lock --status k9 | sed -n 's/^token: //p')
	kill -9 $p
	wait $p 2>/dev/null
	local code
	code=$(rc "$OKOF" lock -n k9 -- true)
	local tok
	tok=$("$OKOF" lock k9 -- sh -c 'echo $OKOF_LOCK_TOKEN')
	sleep 3.5
	[ "$code" = 0 ] && [ "$tok" -gt "$before" ] ||
		{ echo "# after kill -9: exit $code, token $tok after $before"; return 1; }
	if [ "$(uname)" = Linux ] && [ -e "$T/after.k9" ]; then
		echo "# COMMAND ran on after okof died"
		return 1
	fi
	return 0
}
check "kill -9 of okof: lock free at once, token still grows, COMMAND killed too" t_kill9_releases

t_kill9_command() {
	# The holder's COMMAND killed: okof ends, the lock is free.
	"$OKOF" lock kc -- sh -c 'touch "$1"; exec sleep 30' sh "$T/m.kc" &
	local p=$!
	wait_file "$T/m.kc" || return 1
	pkill -9 -f "^sleep 30$" 2>/dev/null || pkill -9 -x sleep
	wait $p
	local code=$?
	[ "$code" = 137 ] && [ "$(rc "$OKOF" lock -n kc -- true)" = 0 ] ||
		{ echo "# okof exit $code"; return 1; }
}
check "COMMAND killed by SIGKILL: exit 137, lock free" t_kill9_command

t_signal() {
	local sig=$1 want=$2 p code
	"$OKOF" lock "sig$sig" -- sh -c 'trap "echo got >\"$2\"; exit 9" '"$sig"'; touch "$1"; while :; do sleep 0.05; done' sh "$T/m.$sig" "$T/got.$sig" &
	p=$!
	wait_file "$T/m.$sig" || return 1
	kill -"$sig" $p
	wait $p
	code=$?
	[ "$code" = 9 ] && [ -e "$T/got.$sig" ] ||
		{ echo "# exit $code"; return 1; }
	# Without a trap: COMMAND dies of it, okof says 128+N.
	"$OKOF" lock "sig$sig" -- sh -c 'touch "$1"; exec sleep 30' sh "$T/n.$sig" &
	p=$!
	wait_file "$T/n.$sig" || return 1
	kill -"$sig" $p
	wait $p
	code=$?
	[ "$code" = "$want" ] || { echo "# exit $code, want $want"; return 1; }
}
check "SIGTERM reaches COMMAND; okof exits with its status (9, then 143)" t_signal TERM 143
check "SIGINT reaches COMMAND (9, then 130)" t_signal INT 130
check "SIGHUP reaches COMMAND (9, then 129)" t_signal HUP 129

t_maxtime() {
	local start code took
	start=$(ms)
	"$OKOF" lock --max-time 1 mt -- sleep 20
	code=$?
	took=$(($(ms) - start))
	[ "$code" = 124 ] && [ $took -lt 5000 ] && [ $took -ge 900 ] ||
		{ echo "# exit $code after $took ms"; return 1; }
}
check "--max-time 1: COMMAND stopped, exit 124" t_maxtime

t_maxtime_kill() {
	# A COMMAND that ignores SIGTERM is killed 10 s later.
	local start code took
	start=$(ms)
	"$OKOF" lock --max-time 1 mk -- sh -c 'trap "" TERM; while :; do sleep 0.1; done'
	code=$?
	took=$(($(ms) - start))
	[ "$code" = 124 ] && [ $took -ge 10500 ] && [ $took -lt 16000 ] ||
		{ echo "# exit $code after $took ms"; return 1; }
}
check "--max-time: SIGKILL 10 s after an ignored SIGTERM, exit 124" t_maxtime_kill

t_notfound() {
	local code
	"$OKOF" lock nf -- "$T/no-such-command" 2>"$T/err"
	code=$?
	[ "$code" = 127 ] && grep -q "^okof: .*no-such-command" "$T/err" &&
		[ "$(wc -l <"$T/err")" = 1 ]
}
check "COMMAND not found: exit 127, one okof: line" t_notfound

t_notexec() {
	printf '#!/bin/sh\n' >"$T/noexec"
	chmod 644 "$T/noexec"
	[ "$(rc "$OKOF" lock ne -- "$T/noexec")" = 126 ] &&
		[ "$(rc "$OKOF" lock ne -- "$T")" = 126 ]
}
check "COMMAND not executable (a 0644 file, a directory): exit 126" t_notexec

t_usage() {
	local bad=0 args
	for args in "a" "a true" "-- true" "a --" "-n --wait 5 a -- true" \
		"--wait x a -- true" "--max-time 0 a -- true" "--bogus a -- true" \
		"--ttl 5 a -- true" "--status a -- true" "b c -- true"; do
		# shellcheck disable=SC2086
		code=$(rc "$OKOF" lock $args)
		[ "$code" = 125 ] || { echo "# lock $args: exit $code"; bad=1; }
	done
	code=$(rc "$OKOF" lock "" -- true)
	[ "$code" = 125 ] || { echo "# empty name: exit $code"; bad=1; }
	code=$(rc "$OKOF" lock "$(head -c 4097 /dev/zero | tr '\0' n)" -- touch "$T/ran.long")
	[ "$code" = 125 ] && [ ! -e "$T/ran.long" ] || { echo "# 4097-byte name: exit $code"; bad=1; }
	code=$(rc "$OKOF" lock "$(head -c 4096 /dev/zero | tr '\0' n)" -- true)
	[ "$code" = 0 ] || { echo "# 4096-byte name: exit $code"; bad=1; }
	[ $bad = 0 ]
}
check "misuse of lock exits 125 (no --, no COMMAND, bad options, bad name)" t_usage

t_usage_line() {
	"$OKOF" lock a 2>"$T/err"
	[ "$(wc -l <"$T/err")" = 1 ] && grep -q "^okof: " "$T/err"
}
check "misuse: one okof: line" t_usage_line

t_help() {
	"$OKOF" lock --help >"$T/h" && grep -q -- --no-wait "$T/h" &&
		grep -q -- --max-time "$T/h" && grep -q -- --status "$T/h" &&
		grep -q -- "--wait DURATION" "$T/h" &&
		"$OKOF" help cache >"$T/h2" && grep -q -- --ttl "$T/h2"
}
check "lock --help and help cache print every option" t_help

# ---- lock --status -----------------------------------------------------

t_status() {
	[ "$(rc "$OKOF" lock --status st)" = 1 ] || return 1
	hold st "$T/m.st" 3
	"$OKOF" lock --status st >"$T/st"
	local code=$?
	kill "$held_pid"
	wait "$held_pid" 2>/dev/null
	[ "$code" = 0 ] && grep -q "^pid: $held_pid$" "$T/st" &&
		grep -q "^host: $(hostname)$" "$T/st" &&
		grep -q "^since: 20[0-9-]*T[0-9:]*Z$" "$T/st" &&
		grep -q "^token: [1-9][0-9]*$" "$T/st" &&
		grep -q "^command: sh -c " "$T/st" ||
		{ echo "# exit $code:"; sed 's/^/#   /' "$T/st"; return 1; }
	[ "$(rc "$OKOF" lock --status st)" = 1 ]
}
check "--status: 1 when free; holder's pid, host, since, token, command while held" t_status

t_status_not_take() {
	# --status never takes the lock: with it asked in a loop, -n
	# never sees busy.
	(for i in $(seq 1 100); do "$OKOF" lock --status snt >/dev/null; done) &
	local sp=$! bad=0
	for i in $(seq 1 100); do
		c=$(rc "$OKOF" lock -n snt -- true)
		[ "$c" = 0 ] || bad=$((bad + 1))
	done
	wait $sp
	[ $bad = 0 ] || { echo "# -n busy $bad times of 100"; return 1; }
}
check "--status never takes the lock (100 -n beside 100 --status: never busy)" t_status_not_take

t_status_nostore() {
	[ "$(rc "$OKOF" -d "$T/none" lock --status x)" = 1 ] && [ ! -e "$T/none" ]
}
check "--status on a store that does not exist: 1, nothing made" t_status_nostore

t_locks_not_keys() {
	"$OKOF" put realkey v
	"$OKOF" lock hidden.lock -- true
	local keys
	keys=$("$OKOF" list | tr '\n' ' ')
	"$OKOF" gc >/dev/null
	"$OKOF" verify >/dev/null 2>&1 || return 1
	"$OKOF" export | grep -q hidden && return 1
	rm -rf "$T/bk"
	"$OKOF" backup "$T/bk" || return 1
	[ "$("$OKOF" -d "$T/bk" list | grep -c lock)" = 0 ] || return 1
	# gc left the lock file: the tokens go on.
	local t1 t2
	t1=$("$OKOF" lock hidden.lock -- sh -c 'echo $OKOF_LOCK_TOKEN')
	"$OKOF" gc >/dev/null
	t2=$("$OKOF" lock hidden.lock -- sh -c 'echo $OKOF_LOCK_TOKEN')
	case " $keys" in *hidden*) return 1 ;; esac
	[ "$t2" = $((t1 + 1)) ] && [ "$t1" -ge 2 ]
}
check "locks are not keys: list, export, verify, backup skip them; gc keeps them" t_locks_not_keys

t_encrypted() {
	local k=$T/key d=$T/enc
	"$OKOF" keygen "$k" || return 1
	"$OKOF" -d "$d" -k "$k" init --encrypt || return 1
	hold_enc() {
		"$OKOF" -d "$d" -k "$k" lock secret-job-name -- sh -c 'touch "$1"; sleep 3' sh "$T/m.enc" &
		held_pid=$!
		wait_file "$T/m.enc"
	}
	hold_enc
	"$OKOF" -d "$d" -k "$k" lock --status secret-job-name >"$T/est"
	local code=$?
	kill "$held_pid"
	wait "$held_pid" 2>/dev/null
	[ "$code" = 0 ] && grep -q "^token: " "$T/est" &&
		! grep -q "^command:" "$T/est" || { cat "$T/est"; return 1; }
	# The lock file's name and bytes say nothing of the name.
	! ls -R "$d" | grep -q secret && ! grep -rqa secret-job "$d"
}
check "encrypted store: lock name hidden on disk, holder shows no command" t_encrypted

t_plain_secret_lock() {
	# lock writes no value: a secret given for a plain store does not
	# stop it (reads and locks work as usual).
	local k=$T/key2
	"$OKOF" keygen "$k" || return 1
	[ "$(rc "$OKOF" -k "$k" lock ps -- true)" = 0 ]
}
check "lock on a plain store with a secret given: runs (it writes no value)" t_plain_secret_lock

t_token_survives_damage() {
	# The lock file holds two token slots (okof(5)); tokens 1, 2, 3
	# leave 3 in the first and 2 in the second.  A crash while writing
	# token 4 tears the second: token 4 is still handed out next.
	# Both torn is damage, not a crash: refused (125), never a token
	# counted again from 1.
	local f t
	for t in 1 2 3; do "$OKOF" lock dmg -- true; done
	f=$(ls -t "$T"/s/.locks/L* | head -1)
	printf 'XXXX' | dd of="$f" bs=1 seek=600 conv=notrunc 2>/dev/null
	t=$("$OKOF" lock dmg -- sh -c 'echo $OKOF_LOCK_TOKEN')
	[ "$t" = 4 ] || { echo "# token $t after a torn slot"; return 1; }
	printf 'XXXX' | dd of="$f" bs=1 seek=100 conv=notrunc 2>/dev/null
	printf 'XXXX' | dd of="$f" bs=1 seek=600 conv=notrunc 2>/dev/null
	"$OKOF" lock dmg -- touch "$T/ran.dmg" 2>"$T/err"
	t=$?
	[ "$t" = 125 ] && [ ! -e "$T/ran.dmg" ] && grep -q "^okof: .*dmg" "$T/err" ||
		{ echo "# both torn: exit $t: $(cat "$T/err")"; return 1; }
}
check "a torn token slot is survived; both torn is refused (125)" t_token_survives_damage

# ---- cache -------------------------------------------------------------

t_cache_miss_hit() {
	local a b
	a=$("$OKOF" cache ck -- sh -c 'echo computed; touch "$1"' sh "$T/ran1")
	[ "$a" = computed ] && [ -e "$T/ran1" ] || return 1
	b=$("$OKOF" cache ck -- sh -c 'echo again; touch "$1"' sh "$T/ran2")
	[ "$b" = computed ] && [ ! -e "$T/ran2" ] &&
		[ "$("$OKOF" get ck)" = computed ]
}
check "cache: a miss runs COMMAND and stores its output; a hit prints it, runs nothing" t_cache_miss_hit

t_cache_bytes() {
	# Exact bytes, through stdout and into the record, at lengths
	# around a chunk (65536) and nothing at all.
	local n bad=0
	for n in 0 1 255 256 257 65535 65536 65537 131073 300000; do
		head -c "$n" /dev/urandom >"$T/v.$n"
		"$OKOF" cache "cb$n" -- cat "$T/v.$n" >"$T/o.$n" || bad=1
		cmp -s "$T/v.$n" "$T/o.$n" || { echo "# stdout differs at $n"; bad=1; }
		"$OKOF" get "cb$n" | cmp -s "$T/v.$n" - || { echo "# record differs at $n"; bad=1; }
		"$OKOF" cache "cb$n" -- false | cmp -s "$T/v.$n" - || { echo "# hit differs at $n"; bad=1; }
	done
	[ $bad = 0 ]
}
check "cache: output byte for byte on stdout and in the record (0 B..300 KB)" t_cache_bytes

t_cache_fail() {
	"$OKOF" put cf old
	"$OKOF" del cf
	local code
	"$OKOF" cache cf -- sh -c 'echo partial; exit 4' >/dev/null
	code=$?
	[ "$code" = 4 ] && [ "$(rc "$OKOF" has cf)" = 1 ] || return 1
	# An expired older value stays as it was (absent to readers).
	"$OKOF" put --ttl 1 cf2 old
	sleep 2.1
	"$OKOF" cache cf2 -- sh -c 'echo new; exit 3' >/dev/null
	code=$?
	[ "$code" = 3 ] && [ "$(rc "$OKOF" get cf2)" = 1 ]
}
check "cache: a failing COMMAND stores nothing, exit is its status" t_cache_fail

t_cache_ttl() {
	"$OKOF" cache --ttl 1 ct -- echo one >/dev/null
	[ "$("$OKOF" cache --ttl 1 ct -- echo two)" = one ] || return 1
	"$OKOF" stat ct | grep -q "^expires: 20" || return 1
	sleep 2.1
	[ "$("$OKOF" cache --ttl 1 ct -- echo three)" = three ] &&
		[ "$("$OKOF" get ct)" = three ]
}
check "cache --ttl: the value expires, then COMMAND runs again" t_cache_ttl

t_cache_stderr() {
	local out
	out=$("$OKOF" cache cs -- sh -c 'echo out; echo err >&2' 2>"$T/err")
	[ "$out" = out ] && [ "$(cat "$T/err")" = err ] &&
		[ "$("$OKOF" get cs)" = out ]
}
check "cache: COMMAND's stderr passes through, only stdout is stored" t_cache_stderr

t_cache_once() {
	# 8 callers at once: exactly one runs COMMAND, all print its value.
	: >"$T/runs"
	local i
	for i in 1 2 3 4 5 6 7 8; do
		"$OKOF" cache co -- sh -c 'echo x >>"$1"; sleep 0.5; echo value' sh "$T/runs" >"$T/co.$i" &
	done
	wait
	local bad=0
	for i in 1 2 3 4 5 6 7 8; do
		[ "$(cat "$T/co.$i")" = value ] || bad=1
	done
	[ "$(wc -l <"$T/runs")" = 1 ] && [ $bad = 0 ] ||
		{ echo "# $(wc -l <"$T/runs") runs"; return 1; }
}
check "cache: of 8 callers at once exactly one runs COMMAND, all print its output" t_cache_once

t_cache_nowait() {
	"$OKOF" cache cn -- sh -c 'touch "$1"; sleep 2; echo v' sh "$T/m.cn" >/dev/null &
	local p=$!
	wait_file "$T/m.cn" || return 1
	local code
	code=$(rc "$OKOF" cache -n cn -- echo other)
	wait $p
	[ "$code" = 75 ] && [ "$("$OKOF" get cn)" = v ]
}
check "cache -n while another caller computes: 75" t_cache_nowait

t_cache_reader_gone() {
	# The reader goes after 10 bytes: okof ends by SIGPIPE as cat
	# does, but the whole output is stored.
	"$OKOF" cache cg -- sh -c 'head -c 1000000 /dev/zero' | head -c 10 >/dev/null
	local st=${PIPESTATUS[0]}
	[ "$st" = 141 ] && [ "$("$OKOF" get cg | wc -c)" = 1000000 ] ||
		{ echo "# exit $st, stored $("$OKOF" get cg | wc -c)"; return 1; }
}
check "cache | head: SIGPIPE like cat, the whole output still stored" t_cache_reader_gone

t_cache_full() {
	[ -w /dev/full ] || return 0
	local code
	"$OKOF" cache cfull -- echo v >/dev/full 2>"$T/err"
	code=$?
	[ "$code" = 125 ] && [ "$(rc "$OKOF" has cfull)" = 1 ] &&
		grep -q "^okof: " "$T/err"
}
check "cache > /dev/full: 125, nothing stored" t_cache_full

t_cache_closed() {
	local code
	"$OKOF" cache cclosed -- touch "$T/ran.closed" >&- 2>/dev/null
	code=$?
	[ "$code" = 125 ] && [ ! -e "$T/ran.closed" ]
}
check "cache with standard output closed: 125, COMMAND not run" t_cache_closed

t_cache_plain_secret() {
	local k=$T/key3 code
	"$OKOF" keygen "$k" || return 1
	"$OKOF" put pre v
	"$OKOF" -k "$k" cache cps -- touch "$T/ran.cps" 2>"$T/err"
	code=$?
	[ "$code" = 125 ] && [ ! -e "$T/ran.cps" ] &&
		grep -q "not encrypted" "$T/err" && [ "$(rc "$OKOF" has cps)" = 1 ]
}
check "cache with a secret on a plain store: 125, COMMAND not run" t_cache_plain_secret

t_cache_encrypted() {
	local k=$T/key d=$T/enc
	[ "$("$OKOF" -d "$d" -k "$k" cache sealed -- echo topsecret)" = topsecret ] &&
		[ "$("$OKOF" -d "$d" -k "$k" get sealed)" = topsecret ] &&
		! grep -rqa topsecret "$d"
}
check "cache on an encrypted store: value sealed" t_cache_encrypted

t_cache_maxtime() {
	local code
	"$OKOF" cache --max-time 1 cmt -- sh -c 'echo early; sleep 20' >/dev/null
	code=$?
	[ "$code" = 124 ] && [ "$(rc "$OKOF" has cmt)" = 1 ]
}
check "cache --max-time: 124, nothing stored" t_cache_maxtime

t_cache_usage() {
	local bad=0 args
	for args in "k" "k true" "--ttl 0 k -- true" "--ttl x k -- true" \
		"--status k" "-- true" "k --"; do
		# shellcheck disable=SC2086
		code=$(rc "$OKOF" cache $args)
		[ "$code" = 125 ] || { echo "# cache $args: exit $code"; bad=1; }
	done
	[ $bad = 0 ]
}
check "misuse of cache exits 125" t_cache_usage

t_cache_notfound() {
	[ "$(rc "$OKOF" cache cnf -- "$T/nope")" = 127 ] &&
		[ "$(rc "$OKOF" has cnf)" = 1 ]
}
check "cache: COMMAND not found: 127, nothing stored" t_cache_notfound

t_cache_signal() {
	"$OKOF" cache csig -- sh -c 'echo part; touch "$1"; exec sleep 30' sh "$T/m.csig" >/dev/null &
	local p=$!
	wait_file "$T/m.csig" || return 1
	kill -TERM $p
	wait $p
	local code=$?
	[ "$code" = 143 ] && [ "$(rc "$OKOF" has csig)" = 1 ] &&
		[ -z "$(find "$T/s" -name '.tmp-*')" ]
}
check "cache: SIGTERM ends COMMAND, exit 143, nothing stored, no temp file left" t_cache_signal

t_cache_big() {
	# 300 MB of output (text-like, so snappy works too): cached in a
	# few MiB, and the record holds the bytes (compared by checksum).
	[ -n "${MAXRSS:-}" ] || { echo "# no MAXRSS"; return 0; }
	local gen="i=0; while [ \$i -lt 300 ]; do head -c 1000000 \"$T/mb\"; i=\$((i + 1)); done"
	seq 1 200000 | head -c 1000000 >"$T/mb"
	local want got rss
	want=$(sh -c "$gen" | cksum)
	got=$("$MAXRSS" "$OKOF" cache cbig -- sh -c "$gen" 2>"$T/rss" | cksum)
	rss=$(sed -n 's/^maxrss_kib //p' "$T/rss")
	# ASan's shadow memory and quarantine are not okof's: only the bytes
	# count there.
	local limit=8192
	ldd "$OKOF" 2>/dev/null | grep -q libasan && limit=999999999
	[ "$got" = "$want" ] && [ "$("$OKOF" get cbig | cksum)" = "$want" ] &&
		[ "$rss" -lt $limit ] || { echo "# rss $rss KiB, $got vs $want"; return 1; }
	echo "# 300 MB cached, peak RSS $rss KiB"
}
check "cache of 300 MB output: the bytes, in under 8 MiB of memory" t_cache_big

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
