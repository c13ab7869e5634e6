#!/bin/bash
# kills.sh - puts of large values killed with SIGKILL at random moments
# while readers run: every read, and the key after every kill, is the
# old whole value or the new whole value, and verify passes.
#
#   OKOF=./okof KILLS=1000 bash tests/faults/kills.sh
set -u
OKOF=${OKOF:-./okof}
case $OKOF in /*) ;; *) OKOF=$PWD/$OKOF ;; esac
KILLS=${KILLS:-1000}
T=$(mktemp -d "${TMPDIR:-/tmp}/okof-kills.XXXXXX")
trap 'rm -rf "$T"' EXIT
export OKOF_DIR="$T/s"
head -c 3000000 /dev/urandom >"$T/a"
head -c 3000000 /dev/urandom >"$T/b"
"$OKOF" put k <"$T/a"
touch "$T/running"
reader() {
	while [ -e "$T/running" ]; do
		"$OKOF" get k >"$T/r.$1" 2>/dev/null || { echo "get failed" >>"$T/bad"; continue; }
		cmp -s "$T/r.$1" "$T/a" || cmp -s "$T/r.$1" "$T/b" || echo "torn read" >>"$T/bad"
	done
}
reader 1 & r1=$!
reader 2 & r2=$!
killed=0 completed=0 cur=a
for ((i = 1; i <= KILLS; i++)); do
	next=$([ $cur = a ] && echo b || echo a)
	"$OKOF" put k <"$T/$next" &
	pid=$!
	# 0 to ~30 ms: a put of 3 MB takes about that long here.
	sleep "0.0$((RANDOM % 30 / 10))$((RANDOM % 10))"
	if kill -9 $pid 2>/dev/null; then killed=$((killed + 1)); fi
	wait $pid 2>/dev/null && completed=$((completed + 1))
	"$OKOF" get k >"$T/now" || echo "get after kill $i failed" >>"$T/bad"
	if cmp -s "$T/now" "$T/$next"; then cur=$next
	elif ! cmp -s "$T/now" "$T/$cur"; then echo "kill $i: neither old nor new" >>"$T/bad"; fi
done
rm "$T/running"
wait $r1 $r2
"$OKOF" verify >"$T/v" || echo "verify: $(head -3 "$T/v")" >>"$T/bad"
"$OKOF" gc
[ -z "$(find "$T/s" -name '.tmp-*')" ] || echo "temp files after gc" >>"$T/bad"
echo "kills: $KILLS puts, $killed killed mid-way, $completed completed"
if [ -s "$T/bad" ]; then sort "$T/bad" | uniq -c | head; echo "0 passed, 1 failed"; exit 1; fi
echo "1 passed, 0 failed"
