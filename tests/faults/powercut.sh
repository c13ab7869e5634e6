#!/bin/bash
# powercut.sh - durability across power cuts, the way the kernel's own
# filesystem tests check it: a small ext4 or XFS image on a loop device,
# okof stopped by SIGKILL right before the K-th call of each system call
# it makes (strace fault injection) or run to completion, then the power
# cut ("xfs_io -x -c shutdown": the journal is not flushed), a remount
# that replays the journal, and the invariants:
#   - the key reads as its old whole value or its new whole value
#   - a change okof acknowledged (exit 0) is there; the oracle log of
#     acknowledgements lives outside the image
#   - verify passes, and after gc no temp file is left
#
# Needs root, losetup, mkfs.ext4, mkfs.xfs, xfs_io and strace; says why
# and skips otherwise.  FS="ext4 ext4-noauto_da_alloc ext4-writeback xfs"
#
#   OKOF=./okof bash tests/faults/powercut.sh
#
# NEGATIVE=1 runs only the acknowledged-then-cut cases and expects
# failures: the negative control, for a build without the file fsync
# (make ... EXTRA_CFLAGS=-DOKOF_TEST_NO_FILE_FSYNC).
set -u
OKOF=${OKOF:-./okof}
case $OKOF in /*) ;; *) OKOF=$PWD/$OKOF ;; esac
FS=${FS:-ext4 ext4-noauto_da_alloc ext4-writeback xfs}
skip() { echo "skip: power-cut suite: $*"; echo "0 passed, 0 failed"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (loop devices, mount)"
for t in losetup mkfs.ext4 mkfs.xfs xfs_io strace mount; do
	command -v $t >/dev/null || skip "needs $t"
done
T=$(mktemp -d "${TMPDIR:-/tmp}/okof-powercut.XXXXXX")
MNT="$T/mnt"
mkdir -p "$MNT"
LOOP=
cleanup() {
	mountpoint -q "$MNT" && umount "$MNT"
	[ -n "$LOOP" ] && losetup -d "$LOOP" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
truncate -s 320M "$T/img"
LOOP=$(losetup -f --show "$T/img") || skip "no loop device"

passed=0 failed=0 points=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $* [$desc]"; }

head -c 300000 /dev/urandom >"$T/old"
head -c 300000 /dev/urandom >"$T/new"
printf '{"key":"k","value":"NEW"}\n{"key":"k2","value":"NEW2"}\n{"key":"k3","value":"NEW3"}\n' >"$T/import"

S="$MNT/store"
ok_run() { OKOF_DIR=$S "$OKOF" "$@"; }

# The state the scenario starts from, made durable.
setup() {
	rm -rf "$S"
	case $1 in
	put_new) ok_run put other x ;;
	put_over | del | import) ok_run put k <"$T/old" ;;
	incr) ok_run put k 41 ;;
	first_put) ;;
	esac
	sync -f "$MNT"
}
cmd() {
	case $1 in
	put_new | put_over | first_put) echo "put k" ;;
	del) echo "del k" ;;
	incr) echo "incr k" ;;
	import) echo "import" ;;
	esac
}
input() { [ "$1" = import ] && echo "$T/import" || echo "$T/new"; }

# What k reads as: old, new, absent or BAD.
state() {
	ok_run get k >"$T/got" 2>"$T/geterr"
	case $? in
	1) echo absent ;;
	0) if cmp -s "$T/got" "$T/old"; then echo old
	   elif cmp -s "$T/got" "$T/new"; then echo new
	   else case "$(cat "$T/got")" in NEW) echo new ;; 41) echo old ;; 42) echo new ;; *) echo BAD ;; esac
	   fi ;;
	*) echo "BAD($(head -c 200 "$T/geterr"))" ;;
	esac
}

power_cut() {
	xfs_io -x -c shutdown "$MNT" || bad "shutdown failed"
	umount "$MNT" || bad "umount failed"
	mount $MOUNTOPTS "$LOOP" "$MNT" || bad "remount failed"
}

check() { # SCENARIO ACKED
	local sc=$1 acked=$2 s allowed done_state
	case $sc in
	put_new | first_put) allowed="absent new"; done_state=new ;;
	put_over | import | incr) allowed="old new"; done_state=new ;;
	del) allowed="old absent"; done_state=absent ;;
	esac
	if [ "$sc" = first_put ] && [ ! -e "$S/meta" ]; then
		[ "$acked" = 1 ] && bad "acknowledged, but the store is gone" || ok
		return
	fi
	s=$(state)
	case " $allowed " in *" $s "*) ok ;; *) bad "k reads as $s" ;; esac
	if [ "$acked" = 1 ]; then
		[ "$s" = "$done_state" ] && ok || bad "acknowledged, but k reads as $s after the power cut"
	fi
	ok_run verify >"$T/v" 2>&1 && ok || bad "verify: $(head -2 "$T/v")"
	ok_run gc >/dev/null 2>&1
	[ -z "$(find "$S" -name '.tmp-*' 2>/dev/null)" ] && ok || bad "temp file after gc"
}

SYSCALLS="openat mkdirat write pwrite64 fsync close rename renameat renameat2 linkat unlinkat"
for fs in $FS; do
	case $fs in
	ext4) mkfs.ext4 -q -F "$LOOP"; MOUNTOPTS= ;;
	ext4-noauto_da_alloc) mkfs.ext4 -q -F "$LOOP"; MOUNTOPTS="-o noauto_da_alloc" ;;
	ext4-writeback) mkfs.ext4 -q -F "$LOOP"; MOUNTOPTS="-o data=writeback" ;;
	xfs) mkfs.xfs -q -f "$LOOP"; MOUNTOPTS= ;;
	esac
	mount $MOUNTOPTS "$LOOP" "$MNT" || { bad "mount $fs"; continue; }
	fs_points=0
	for sc in put_new put_over first_put del incr import; do
		[ "${NEGATIVE:-0}" = 1 ] && SYSCALLS_RUN= || SYSCALLS_RUN=$SYSCALLS
		# One recorded trace says how often each call happens.
		setup "$sc"
		OKOF_DIR=$S strace -f -qq -o "$T/trace" $OKOF $(cmd "$sc") <"$(input "$sc")" >/dev/null 2>&1
		for sys in $SYSCALLS_RUN; do
			n=$(grep -c "^[0-9]* *$sys(" "$T/trace")
			[ "$n" = 0 ] && continue
			for ((k = 1; k <= n; k++)); do
				desc="$fs $sc: killed before $sys #$k"
				setup "$sc"
				{ OKOF_DIR=$S strace -f -qq -o /dev/null -e trace="$sys" \
					-e inject="$sys":signal=KILL:when=$k \
					$OKOF $(cmd "$sc") <"$(input "$sc")" >/dev/null 2>&1; } 2>/dev/null
				st=$?
				acked=0; [ $st = 0 ] && acked=1 && echo "$desc" >>"$T/oracle"
				power_cut
				check "$sc" $acked
				points=$((points + 1)); fs_points=$((fs_points + 1))
			done
		done
		# Run to completion, acknowledged, then the power cut at once.
		for i in 1 2 3; do
			desc="$fs $sc: acknowledged, then power cut ($i)"
			setup "$sc"
			OKOF_DIR=$S $OKOF $(cmd "$sc") <"$(input "$sc")" >/dev/null 2>&1
			st=$?
			[ $st = 0 ] || bad "exit $st"
			echo "$desc" >>"$T/oracle"
			power_cut
			check "$sc" 1
			points=$((points + 1)); fs_points=$((fs_points + 1))
		done
	done
	echo "power cut on $fs: $fs_points fault points"
	umount "$MNT"
done
echo "power cut: $points fault points in all"
if [ "${NEGATIVE:-0}" = 1 ]; then
	echo "negative control: $failed failures (a build without the file fsync must fail)"
	[ $failed -gt 0 ] && { echo "1 passed, 0 failed"; exit 0; }
	echo "0 passed, 1 failed"; exit 1
fi
echo "$passed passed, $failed failed"
[ $failed = 0 ]
