#!/bin/bash
# big.sh - values larger than memory should be: a >4 GiB compressible
# value and a 256 MiB incompressible one, put and read back exactly, in
# constant memory.
#
#   OKOF=./okof MAXRSS=build/maxrss bash tests/big.sh
set -u
OKOF=${OKOF:-./okof}
MAXRSS=${MAXRSS:-build/maxrss}
LIMIT_KIB=${LIMIT_KIB:-16384}
T=$(mktemp -d "${TMPDIR:-/tmp}/okof-big.XXXXXX")
trap 'rm -rf "$T"' EXIT
export OKOF_DIR="$T/store"
passed=0
failed=0
result() {
	if [ "$1" = 0 ]; then passed=$((passed + 1)); echo "ok: $2"
	else failed=$((failed + 1)); echo "FAIL: $2"; fi
}
rss() { sed -n 's/^maxrss_kib //p' "$1"; }

# 4.5 GiB of text: compresses, so it streams quickly and stays small.
big=$((4608 * 1024 * 1024))
gen() { yes 'okof streams values larger than memory, chunk by chunk 0123456789' | head -c $big; }
gen | "$MAXRSS" "$OKOF" put huge 2>"$T/put.rss"
result $? "put 4.5 GiB from a pipe"
m=$(rss "$T/put.rss")
[ "$m" -lt $LIMIT_KIB ]; result $? "put 4.5 GiB peak RSS ${m} KiB < $LIMIT_KIB KiB"
"$OKOF" stat huge >"$T/stat"
grep -qx "size: $big" "$T/stat"; result $? "stat size $big"
"$MAXRSS" "$OKOF" get huge 2>"$T/get.rss" | cmp - <(gen)
result $? "get 4.5 GiB back exactly"
m=$(rss "$T/get.rss")
[ "$m" -lt $LIMIT_KIB ]; result $? "get 4.5 GiB peak RSS ${m} KiB < $LIMIT_KIB KiB"
"$OKOF" del huge

# 256 MiB of random bytes: nothing to compress.
head -c $((256 * 1024 * 1024)) /dev/urandom >"$T/rand"
"$MAXRSS" "$OKOF" put rand <"$T/rand" 2>"$T/put2.rss"
result $? "put 256 MiB incompressible"
m=$(rss "$T/put2.rss")
[ "$m" -lt $LIMIT_KIB ]; result $? "put 256 MiB peak RSS ${m} KiB < $LIMIT_KIB KiB"
"$MAXRSS" "$OKOF" get rand 2>"$T/get2.rss" | cmp - "$T/rand"
result $? "get 256 MiB back exactly"
m=$(rss "$T/get2.rss")
[ "$m" -lt $LIMIT_KIB ]; result $? "get 256 MiB peak RSS ${m} KiB < $LIMIT_KIB KiB"

echo "$passed passed, $failed failed"
[ $failed = 0 ]
