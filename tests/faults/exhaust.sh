#!/bin/bash
# exhaust.sh - real exhaustion, not simulated: a tmpfs full of blocks, a
# tmpfs out of inodes, too few descriptors (ulimit -n), a file size
# limit (ulimit -f).  Every failing command must exit 3 with one
# "okof: " line, and leave the old value readable and whole.
#
#   OKOF=./okof bash tests/faults/exhaust.sh     (tmpfs cases need root)
set -u
OKOF=${OKOF:-./okof}
case $OKOF in /*) ;; *) OKOF=$PWD/$OKOF ;; esac
T=$(mktemp -d "${TMPDIR:-/tmp}/okof-exhaust.XXXXXX")
MNT="$T/mnt"
mkdir -p "$MNT"
trap 'mountpoint -q "$MNT" && umount "$MNT"; rm -rf "$T"' EXIT
passed=0 failed=0
result() { if [ "$1" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $2"; fi; }
head -c 300000 /dev/urandom >"$T/old"
head -c 3000000 /dev/urandom >"$T/new"

# failing_put DESC STORE [CMD-PREFIX...]: put new over old must fail cleanly
failing_put() {
	local desc=$1 store=$2
	shift 2
	OKOF_DIR=$store "$@" "$OKOF" put k <"$T/new" >/dev/null 2>"$T/err"
	local st=$?
	result $([ $st = 3 ]; echo $?) "$desc: exit $st, want 3"
	result $([ "$(wc -l <"$T/err")" = 1 ] && grep -q '^okof: ' "$T/err"; echo $?) "$desc: one okof: line ($(head -c 200 "$T/err"))"
	OKOF_DIR=$store "$OKOF" get k 2>/dev/null | cmp -s - "$T/old"
	result $? "$desc: old value intact"
}

if [ "$(id -u)" = 0 ]; then
	# Blocks: room for the old value, not the new one.
	mount -t tmpfs -o size=1M,mode=0700 tmpfs "$MNT"
	OKOF_DIR=$MNT/s "$OKOF" put k <"$T/old"
	failing_put "full tmpfs" "$MNT/s"
	OKOF_DIR=$MNT/s "$OKOF" gc
	result $([ -z "$(find "$MNT" -name '.tmp-*')" ]; echo $?) "full tmpfs: no temp file after gc"
	umount "$MNT"
	# Inodes: the store, one record and its bucket's lock file (root,
	# store, meta, bucket, record, .locks, lock file, temp: 8), then the
	# rest filled.
	mount -t tmpfs -o size=64M,nr_inodes=10,mode=0700 tmpfs "$MNT"
	OKOF_DIR=$MNT/s "$OKOF" put k <"$T/old"
	result $? "tmpfs with few inodes: the first put"
	n=0
	while OKOF_DIR=$MNT/s "$OKOF" put "fill$n" x 2>/dev/null; do n=$((n + 1)); [ $n -gt 50 ] && break; done
	# A fill that failed may have wanted a new bucket and its lock file
	# (three inodes) where one was left, enough for put k's temp file:
	# the last inodes go to plain files beside the store.
	n=0
	while : 2>/dev/null >"$MNT/pad$n"; do n=$((n + 1)); [ $n -gt 50 ] && break; done
	failing_put "tmpfs out of inodes" "$MNT/s"
	umount "$MNT"
else
	echo "skip: tmpfs cases need root"
fi

# Too few descriptors: okof needs a handful.
OKOF_DIR=$T/s "$OKOF" put k <"$T/old"
failing_put "ulimit -n 4" "$T/s" bash -c 'ulimit -n 4; exec "$@"' --
# A file size limit below the new value: EFBIG, not death by SIGXFSZ.
failing_put "ulimit -f 1000 (KiB)" "$T/s" bash -c 'ulimit -f 1000; exec "$@"' --
OKOF_DIR=$T/s "$OKOF" verify >/dev/null; result $? "verify after the failures"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
