#!/bin/bash
# inject.sh - I/O errors, SQLite style: fail the N-th call of each
# system call okof makes, with each errno, once and persistently, for N
# from 1 until the command runs without reaching the fault; after every
# run check the invariants:
#   - exit 0 or 3 (and 0 whenever the fault is EINTR: it must be retried)
#   - on exit 3 exactly one "okof: " line on stderr; on 0 none
#   - the key reads as its old whole value or its new whole value, and
#     as the new one if okof said 0
#   - verify passes, and after gc no temp file is left
#
#   OKOF=build-dyn/okof SHIM=build-dyn/failshim.so bash tests/faults/inject.sh
set -u
OKOF=${OKOF:?OKOF must name a dynamically linked okof}
SHIM=${SHIM:?SHIM must name failshim.so}
case $OKOF in /*) ;; *) OKOF=$PWD/$OKOF ;; esac
case $SHIM in /*) ;; *) SHIM=$PWD/$SHIM ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/okof-inject.XXXXXX")
trap 'rm -rf "$T"' EXIT
S="$T/s"
export OKOF_DIR=$S
unset OKOF_KEY_FILE
head -c 700000 /dev/urandom >"$T/old"
head -c 700000 /dev/urandom >"$T/new"
printf '{"key":"k","value":"NEW"}\n{"key":"k2","value":"NEW2"}\n' >"$T/import"
runs=0 failures=0 faults=0

fail() {
	failures=$((failures + 1))
	echo "FAIL: $1 [$desc]"
	[ -s "$T/err" ] && echo "  stderr: $(head -c 300 "$T/err")"
}

# reads KEY: echoes old, new, absent or BAD
state() {
	"$OKOF" get "$1" >"$T/got" 2>/dev/null
	case $? in
	1) echo absent ;;
	0) if cmp -s "$T/got" "$T/old"; then echo old
	   elif cmp -s "$T/got" "$T/new"; then echo new
	   elif [ "$(cat "$T/got")" = NEW ]; then echo new
	   elif [ "$(cat "$T/got")" = 41 ]; then echo old
	   elif [ "$(printf '%s' "$(cat "$T/got")")" = 42 ]; then echo new
	   else echo BAD; fi ;;
	*) echo BAD ;;
	esac
}

setup() {
	rm -rf "$S"
	case $1 in
	put_new | ifabsent) "$OKOF" put other x ;;
	put_over | del | import) "$OKOF" put k <"$T/old" ;;
	incr) "$OKOF" put k 41 ;;
	first_put) ;;
	esac
}

command_for() {
	case $1 in
	put_new | put_over | first_put) echo "put k" ;;
	ifabsent) echo "put --if-absent k" ;;
	del) echo "del k" ;;
	incr) echo "incr k" ;;
	import) echo "import" ;;
	esac
}

input_for() {
	case $1 in
	import) echo "$T/import" ;;
	*) echo "$T/new" ;;
	esac
}

# what the key may read as, given exit status st
check_state() {
	local sc=$1 st=$2 s
	s=$(state k)
	case $sc in
	put_new | first_put | ifabsent) allowed="absent new"; done_state=new ;;
	put_over | import) allowed="old new"; done_state=new ;;
	del) allowed="old absent"; done_state=absent ;;
	incr) allowed="old new"; done_state=new ;;
	esac
	case " $allowed " in *" $s "*) ;; *) fail "key reads as $s"; return ;; esac
	if [ "$st" = 0 ] && [ "$s" != "$done_state" ]; then
		fail "exit 0 but the key reads as $s"
	fi
}

one_run() { # SCENARIO CALL ERRNO MODE N
	local sc=$1 call=$2 err=$3 mode=$4 n=$5
	desc="$sc $call $err $mode N=$n"
	setup "$sc" 2>/dev/null
	rm -f "$T/mark"
	FAIL_CALL=$call FAIL_N=$n FAIL_ERRNO=$err FAIL_MODE=$mode \
		FAIL_MARK="$T/mark" LD_PRELOAD="$SHIM" \
		"$OKOF" $(command_for "$sc") <"$(input_for "$sc")" >/dev/null 2>"$T/err"
	local st=$?
	runs=$((runs + 1))
	[ -e "$T/mark" ] && faults=$((faults + 1))
	case $st in
	0) [ -s "$T/err" ] && fail "exit 0 with stderr" ;;
	3) if [ "$(wc -l <"$T/err")" != 1 ] || ! grep -q '^okof: ' "$T/err"; then
		fail "exit 3 without exactly one okof: line"
	   fi ;;
	*) fail "exit status $st" ;;
	esac
	if [ "$err" = EINTR ] && [ "$st" != 0 ] && [ -e "$T/mark" ]; then
		fail "EINTR was not retried"
	fi
	if [ -d "$S" ] && [ -e "$S/meta" ]; then
		check_state "$sc" "$st"
		"$OKOF" verify >"$T/vout" 2>&1 || fail "verify: $(head -3 "$T/vout")"
		"$OKOF" gc >/dev/null 2>&1 || fail "gc failed"
		[ -z "$(find "$S" -name '.tmp-*')" ] || fail "temp file left after gc"
	elif [ "$st" = 0 ]; then
		fail "exit 0 but no store"
	fi
	[ -e "$T/mark" ]
}

calls="write pwrite fsync close renameat linkat mkdirat openat unlinkat read fchmod flock"
errnos="EIO ENOSPC EDQUOT EINTR SHORT"
scenarios="put_new put_over first_put ifabsent del incr import"
for sc in $scenarios; do
	echo "scenario $sc: $runs runs so far, $failures failures"
	for call in $calls; do
		for err in $errnos; do
			case $err in SHORT) case $call in write | pwrite) ;; *) continue ;; esac ;; esac
			case $err in EDQUOT) case $call in write | pwrite | fsync | close) ;; *) continue ;; esac ;; esac
			for mode in once persist; do
				# A short write happens once; an EINTR that recurs
				# forever is no real kernel's (and is retried forever).
				[ "$err" = SHORT ] && [ $mode = persist ] && continue
				[ "$err" = EINTR ] && [ $mode = persist ] && continue
				n=1
				while one_run "$sc" "$call" "$err" "$mode" $n; do
					n=$((n + 1))
					[ $n -gt 200 ] && { fail "fault point never exhausted"; break; }
				done
			done
		done
	done
done
echo "fault injection: $runs runs, $faults with a fault injected"
echo "$((runs - failures)) passed, $failures failed"
[ $failures = 0 ]
