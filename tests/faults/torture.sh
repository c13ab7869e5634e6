#!/bin/bash
# torture.sh - everything at once on a few hot keys for a bounded time:
# writers, readers, deleters, incr, --if-absent races, gc, verify and
# backup.  Every value carries its own checksum; afterwards:
#   - every value any reader got was whole (its checksum matches) and
#     was written by some writer (its id is in the writers' logs)
#   - counters are exact
#   - exactly one --if-absent won each race
#   - verify passes and gc leaves no temp file
#
#   OKOF=./okof SECONDS_TO_RUN=10 bash tests/faults/torture.sh
set -u
OKOF=${OKOF:-./okof}
case $OKOF in /*) ;; *) OKOF=$PWD/$OKOF ;; esac
RUN=${SECONDS_TO_RUN:-10}
T=$(mktemp -d "${TMPDIR:-/tmp}/okof-torture.XXXXXX")
trap 'rm -rf "$T"' EXIT
export OKOF_DIR="$T/s"
KEYS="hot0 hot1 hot2"
end=$(($(date +%s) + RUN))
"$OKOF" init

# A value: "id:<writer>-<n> sum:<md5 of the payload>" then the payload.
make_value() {
	local id=$1 size=$2
	head -c "$size" /dev/urandom | base64 -w 76 >"$T/pl.$id"
	printf 'id:%s sum:%s\n' "$id" "$(md5sum <"$T/pl.$id" | cut -c1-32)"
	cat "$T/pl.$id"
}
check_value() { # FILE: prints the id if whole, BAD otherwise
	local head id sum
	head=$(head -1 "$1")
	id=${head#id:}; id=${id%% *}
	sum=${head##*sum:}
	if [ "$(tail -n +2 "$1" | md5sum | cut -c1-32)" = "$sum" ]; then echo "$id"; else echo BAD; fi
}

writer() {
	local w=$1 n=0 key size
	while [ "$(date +%s)" -lt $end ]; do
		n=$((n + 1))
		key=hot$((n % 3))
		size=$(( (n * 7919 + w * 104729) % 300000 + 1 ))
		make_value "w$w-$n" $size >"$T/val.w$w"
		if "$OKOF" put "$key" <"$T/val.w$w" 2>>"$T/errors"; then
			echo "w$w-$n" >>"$T/written.$w"
		else
			echo "put failed: w$w-$n" >>"$T/errors"
		fi
	done
}
reader() {
	local r=$1 got
	while [ "$(date +%s)" -lt $end ]; do
		for key in $KEYS; do
			"$OKOF" get "$key" >"$T/read.$r" 2>>"$T/geterr.$r"
			case $? in
			0) got=$(check_value "$T/read.$r"); echo "$got" >>"$T/reads.$r"
			   [ "$got" = BAD ] && cp "$T/read.$r" "$T/torn.$r.$(date +%s%N)" ;;
			1) ;;
			*) echo "get $key failed: $(tail -1 "$T/geterr.$r")" >>"$T/errors" ;;
			esac
		done
	done
}
deleter() {
	while [ "$(date +%s)" -lt $end ]; do
		"$OKOF" del -f hot2 2>>"$T/errors" || echo "del failed" >>"$T/errors"
		sleep 0.05
	done
}
counter() {
	local c=$1 n=0
	while [ "$(date +%s)" -lt $end ]; do
		"$OKOF" incr count >/dev/null 2>>"$T/errors" && n=$((n + 1)) ||
			echo "incr failed" >>"$T/errors"
	done
	echo $n >"$T/incrs.$c"
}
racer() { # round: 6 racing creators of one key
	local r=$1 i pids=()
	for i in 1 2 3 4 5 6; do
		( "$OKOF" put --if-absent "race$r" "racer $i" 2>>"$T/errors"; echo $? >"$T/race.$r.$i" ) &
		pids+=($!)
	done
	wait "${pids[@]}"
}
maintenance() {
	local n=0
	while [ "$(date +%s)" -lt $end ]; do
		n=$((n + 1))
		"$OKOF" gc 2>>"$T/errors" || echo "gc failed" >>"$T/errors"
		"$OKOF" verify >"$T/verify.out" 2>&1
		# Temp files of running writes are expected; bad records are not.
		grep -E '^(bad|stray) ' "$T/verify.out" >>"$T/errors"
		"$OKOF" backup "$T/bk.$n" 2>>"$T/errors" || echo "backup failed" >>"$T/errors"
		OKOF_DIR="$T/bk.$n" "$OKOF" verify >/dev/null 2>&1 || echo "backup $n does not verify" >>"$T/errors"
		rm -rf "$T/bk.$n"
	done
}

for w in 1 2 3; do writer $w & done
for r in 1 2; do reader $r & done
deleter &
for c in 1 2; do counter $c & done
maintenance &
rounds=0
while [ "$(date +%s)" -lt $end ]; do rounds=$((rounds + 1)); racer $rounds; done
wait

passed=0 failed=0
result() { if [ "$1" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $2"; fi; }
cat "$T"/written.* >"$T/written" 2>/dev/null
cat "$T"/reads.* >"$T/reads" 2>/dev/null
reads=$(wc -l <"$T/reads")
writes=$(wc -l <"$T/written")
bad=$(grep -c '^BAD$' "$T/reads")
result $([ "$bad" = 0 ]; echo $?) "$bad torn or corrupt reads of $reads"
unknown=$(grep -v '^BAD$' "$T/reads" | sort -u | comm -23 - <(sort -u "$T/written") | wc -l)
# A read may see a put whose exit status the writer had not logged yet
# (the last one of each writer); any other unknown id is a value no one wrote.
result $([ "$unknown" -le 3 ]; echo $?) "$unknown values read that no writer wrote"
incrs=$(cat "$T"/incrs.* | paste -sd+ | bc)
result $([ "$("$OKOF" get count | tr -d '\n')" = "$incrs" ]; echo $?) "counter: $incrs acknowledged increments, value $("$OKOF" get count)"
races_bad=0
for ((r = 1; r <= rounds; r++)); do
	wins=$(cat "$T"/race.$r.* | grep -c '^0$')
	[ "$wins" = 1 ] || races_bad=$((races_bad + 1))
done
result $([ $races_bad = 0 ]; echo $?) "$races_bad of $rounds --if-absent races without exactly one winner"
result $([ ! -s "$T/errors" ]; echo $?) "errors: $(head -5 "$T/errors" 2>/dev/null)"
"$OKOF" verify >/dev/null 2>&1; result $? "verify after the run"
"$OKOF" gc; result $([ -z "$(find "$T/s" -name '.tmp-*')" ]; echo $?) "temp files after gc"
echo "torture: ${RUN}s, $writes puts, $reads reads, $incrs incr, $rounds --if-absent races"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
