#!/bin/bash
# lockdouble.sh - a stand-in for okof's lock command, to show that the
# "lock across mounts" check of run.sh passes with a working lock and
# fails without one, before okof has a lock of its own:
#
#   OKOF_REAL=$PWD/okof OKOF=tests/sharedfs/lockdouble.sh bash tests/sharedfs/run.sh
#   ... LOCKDOUBLE_NONE=1 ...   (no exclusion at all: the check must fail)
#
# Everything but "lock" and "help lock" goes to the real binary.  The
# lock is flock(1) on a file of the local disk, which both mounts share
# only because they are on one machine: a double, not a design.
set -u
real=${OKOF_REAL:?OKOF_REAL=path to the real okof}
dir=${TMPDIR:-/tmp}
args=("$@")
[ "${1:-}" = -d ] && shift 2
case ${1:-} in
help) [ "${2:-}" = lock ] && exit 0 ;;
lock)
	shift
	[ "$1" = -n ] && shift
	name=$1
	shift
	[ "$1" = -- ] && shift
	f=$dir/okof-lockdouble.$name
	exec 9>>"$f"
	if [ "${LOCKDOUBLE_NONE:-}" != 1 ]; then
		flock -n 9 || { echo "okof: lock '$name' is busy" >&2; exit 75; }
	fi
	n=$(($(cat "$f.token" 2>/dev/null || echo 0) + 1))
	echo "$n" >"$f.token"
	OKOF_LOCK=$name OKOF_LOCK_TOKEN=$n "$@" 9>&-
	exit $?
	;;
esac
exec "$real" "${args[@]}"
