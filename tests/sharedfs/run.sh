#!/bin/bash
# run.sh - one okof store used through two mounts of a GlusterFS volume
# at once, as two machines sharing a store would: the contract's
# concurrency guarantees (incr, put --if-absent, lock, atomic replace,
# list/verify/gc) must hold across the mounts, and a lost brick must
# neither lose an update nor hang a command.
#
# Sets up glusterd in a private network namespace, a replica-3 volume of
# three bricks under a temp dir, two FUSE mounts A and B; runs the checks
# (one "ok - ..." or "not ok - ...: detail" line each); tears it all
# down (also on failure or signal), then prints timings and
# "N passed, M failed".  Exit 0 only when nothing failed.  Root only.
#
#   make check-sharedfs [OKOF=path]      or
#   OKOF=./okof bash tests/sharedfs/run.sh
#
# Knobs: INCR_N (200), ROUNDS (20), LOCK_ITER (20), RW_SECONDS (10),
# BRICK_N (150), SHAREDFS_VOLOPTS (see gluster.sh), SHAREDFS_CHECKS (a
# subset, e.g. "fresh reader_writer", to measure volume options).
set -u
OKOF=${OKOF:-./okof}
case $OKOF in /*) ;; *) OKOF=$PWD/$OKOF ;; esac
HERE=$(cd "$(dirname "$0")" && pwd)
INCR_N=${INCR_N:-200}
ROUNDS=${ROUNDS:-20}
LOCK_ITER=${LOCK_ITER:-20}
RW_SECONDS=${RW_SECONDS:-10}
RW_VALUES=12
BRICK_N=${BRICK_N:-150}
VOL=okofsfs
NS=okof-sharedfs-$$
PASSED=0
FAILED=0

pass() { echo "ok - $1"; PASSED=$((PASSED + 1)); }
fail() { echo "not ok - $1: $2"; FAILED=$((FAILED + 1)); }
summary() { echo "$PASSED passed, $FAILED failed"; [ "$FAILED" = 0 ]; }

if [ "$(id -u)" != 0 ]; then
	echo "check-sharedfs: needs root (network namespace, glusterd, FUSE mounts)" >&2
	exit 2
fi
for c in glusterd gluster mount.glusterfs ip nsenter unshare mountpoint timeout; do
	command -v "$c" >/dev/null || {
		echo "check-sharedfs: $c missing: sh .ci/deps glusterfs-server glusterfs-client iproute2 util-linux mount" >&2
		exit 2
	}
done
[ -x "$OKOF" ] || { echo "check-sharedfs: no okof at $OKOF" >&2; exit 2; }

# shellcheck source=tests/sharedfs/gluster.sh
. "$HERE/gluster.sh"
# shellcheck source=tests/sharedfs/checks.sh
. "$HERE/checks.sh"

T=$(mktemp -d /tmp/okof-sharedfs.XXXXXX) || exit 2
W=$T/work # scratch on the local disk, never on the volume
SA=$T/A/store
SB=$T/B/store
GD_PID=
mkdir -p "$W"
export TMPDIR="$W" # whatever a check's helpers leave in a temp dir goes too
before=$(gl_leftovers)

# Background loops first (they hold the mounts busy), then gluster.
cleanup() {
	local j
	for j in $(jobs -p); do kill "$j" 2>/dev/null; done
	wait 2>/dev/null
	gl_teardown
}
on_signal() {
	trap - EXIT INT TERM HUP
	echo "# signal $1: tearing down"
	cleanup
	exit $((128 + $2))
}
trap 'cleanup' EXIT
trap 'on_signal INT 2' INT
trap 'on_signal TERM 15' TERM
trap 'on_signal HUP 1' HUP

t0=$(now_ms)
echo "# $(glusterfs --version | head -1), okof $OKOF, temp $T, netns $NS"
if ! gl_setup >"$W/setup.out" 2>&1; then
	fail "set-up of glusterd, a replica-3 volume and two mounts" \
		"$(grep '^#' "$W/setup.out" | tail -1) (log: $(tail -3 "$T/log/glusterd.log" 2>/dev/null | tr '\n' ' ' | head -c 300))"
	cleanup
	trap - EXIT
	summary
	exit 1
fi
t1=$(now_ms)
echo "# volume $VOL: $(gl volume get "$VOL" all 2>/dev/null |
	awk '$1 ~ /^(cluster\.quorum-type|performance\.(write-behind|open-behind|quick-read|stat-prefetch|io-cache|read-ahead|readdir-ahead|nl-cache|flush-behind))$/ { printf "%s=%s ", $1, $2 }')"
echo "# mounts: $GL_MOUNTOPTS"

okA init >/dev/null 2>&1 || okA put sharedfs.init x >/dev/null
timed() { # a check, then how long it took (the target must stay short)
	local t
	t=$(now_ms)
	"$@"
	t=$(($(now_ms) - t))
	echo "# $1: $((t / 1000)).$((t % 1000 / 100)) s"
}
for c in ${SHAREDFS_CHECKS:-fresh incr if_absent lock reader_writer \
	list_verify_gc gc_spares_write bricks}; do
	timed "check_$c"
done
t2=$(now_ms)

cleanup
trap - EXIT
t3=$(now_ms)
after=$(gl_leftovers)
if [ -e "$T" ] || ip netns list | grep -q "^$NS\b" || grep -q " $T/" /proc/mounts ||
	[ "$before" != "$after" ]; then
	fail "teardown leaves nothing behind" "temp $( [ -e "$T" ] && echo present || echo gone), netns $(ip netns list | grep -c "^$NS\b"), mounts $(grep -c " $T/" /proc/mounts), host state changed: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"
else
	pass "teardown leaves nothing behind"
fi
echo "# time: set-up $(((t1 - t0) / 1000)).$(((t1 - t0) % 1000 / 100)) s, checks $(((t2 - t1) / 1000)).$(((t2 - t1) % 1000 / 100)) s, teardown $(((t3 - t2) / 1000)).$(((t3 - t2) % 1000 / 100)) s, total $(((t3 - t0) / 1000)) s"
summary
