#!/bin/bash
# syscalls.sh - the order of system calls the contract needs, checked on
# strace traces of put (first put into a new store, new key, existing
# key), put --if-absent, put --no-sync, del and incr:
#   - a file is only ever created as a ".tmp-*" temp file (or a lock file
#     in .locks, which holds no data), with O_EXCL, O_NOFOLLOW, O_CLOEXEC
#     and mode 0600; nothing is opened with O_TRUNC
#   - every store path (meta, bucket, record, temp) is opened O_NOFOLLOW
#     and O_CLOEXEC
#   - every write to a temp file comes before its fsync, the fsync before
#     its close, the close before the rename or link that publishes it,
#     and the directory is fsynced after that
#   - every directory made is fsynced, and so is its parent, before use
#   - an unlink of a record is followed by an fsync of its directory
#   - with --no-sync, no fsync at all
#
#   OKOF=./okof bash tests/faults/syscalls.sh
set -u
OKOF=${OKOF:-./okof}
case $OKOF in /*) ;; *) OKOF=$PWD/$OKOF ;; esac
command -v strace >/dev/null || { echo "skip: syscalls: needs strace"; echo "0 passed, 0 failed"; exit 0; }
T=$(mktemp -d "${TMPDIR:-/tmp}/okof-syscalls.XXXXXX")
trap 'rm -rf "$T"' EXIT
export OKOF_DIR="$T/s"
passed=0 failed=0
CALLS=openat,openat2,write,pwrite64,fsync,fdatasync,rename,renameat,renameat2,linkat,mkdirat,close,unlinkat

trace() { # NAME ARGS...: traces okof ARGS into $T/NAME.trace
	local name=$1
	shift
	strace -f -qq -e trace=$CALLS -o "$T/$name.trace" "$OKOF" "$@" <"$T/input" >/dev/null 2>"$T/$name.err"
}

# check NAME [nosync]: runs the rules over a trace
check() {
	local name=$1 mode=${2:-sync} out
	out=$(awk -v mode="$mode" '
	function fail(msg) { print "  " msg ": " $0; bad++ }
	function fd_of(s) { sub(/^[a-z0-9_]+\(/, "", s); sub(/[,)].*/, "", s); return s }
	{
		sub(/^[0-9]+ +/, "")
		ret = $0; sub(/.*= /, "", ret); sub(/ .*/, "", ret)
	}
	/O_TRUNC/ { fail("O_TRUNC") }
	/^openat\(/ && /O_CREAT/ {
		if ($0 !~ /O_EXCL/ || $0 !~ /O_NOFOLLOW/ || $0 !~ /O_CLOEXEC/ || $0 !~ /, 0600\)/)
			fail("file created without O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600")
		# Lock files (.locks/NAME) hold no data: made once, never published.
		if (dirname[fd_of($0)] == ".locks") next
		if ($0 !~ /"\.tmp-[0-9a-f]+(-[0-9a-f]+)?"/) fail("created a file that is not a temp file")
		if (ret + 0 >= 0) { tmp[ret] = 1; wrote[ret] = 0; synced[ret] = 0
			n = $0; sub(/^[^"]*"/, "", n); sub(/".*/, "", n); tmpname[ret] = n; tmpdir[ret] = fd_of($0) }
	}
	/^openat2?\(/ && /"(meta|\.locks|\.locks\/[0-9a-f]+|[0-9a-f][0-9a-f]|[0-9a-f]{30}|[0-9a-f][0-9a-f]\/[0-9a-f]{30}|\.tmp-[^"]*)"/ {
		if ($0 !~ /O_NOFOLLOW|RESOLVE_NO_SYMLINKS/ || $0 !~ /O_CLOEXEC/) fail("store path opened without O_NOFOLLOW|O_CLOEXEC")
	}
	/^openat\(/ && /O_DIRECTORY/ && ret + 0 >= 0 {
		n = $0; sub(/^[^"]*"/, "", n); sub(/".*/, "", n)
		dirname[ret] = n
	}
	/^(write|pwrite64)\(/ { f = fd_of($0); if (f in tmp) { if (synced[f]) fail("write after fsync"); wrote[f] = 1 } }
	/^fsync\(/ {
		if (mode == "nosync") fail("fsync with --no-sync")
		f = fd_of($0)
		if (f in tmp) synced[f] = 1
		dsynced[f] = 1
		if (f in dirname) dirsynced[dirname[f]] = 1
		if (f in pending_dir) delete pending_dir[f]
	}
	/^close\(/ {
		f = fd_of($0)
		if ((f in tmp) && mode != "nosync" && !synced[f] && wrote[f]) fail("temp file closed before fsync")
		if (f in tmp) closed[tmpname[f]] = 1
		delete tmp[f]; delete dirname[f]; delete dsynced[f]
	}
	/^(renameat2?|linkat)\(/ && ret == 0 {
		n = $0; sub(/^[^"]*"/, "", n); sub(/".*/, "", n)
		if (n ~ /^\.tmp-/ && !closed[n]) fail("published before the temp file was closed")
		pending_dir[fd_of($0)] = 1
	}
	/^unlinkat\(/ && ret == 0 && /"[0-9a-f]{30}"/ { pending_dir[fd_of($0)] = 1 }
	/^mkdirat\(/ && ret == 0 {
		n = $0; sub(/^[^"]*"/, "", n); sub(/".*/, "", n)
		made[n] = 1; pending_dir[fd_of($0)] = 1 # the parent, fsynced next
	}
	END {
		if (mode != "nosync") {
			for (d in pending_dir) { print "  published or unlinked, but directory fd " d " never fsynced after"; bad++ }
			for (n in made) if (!dirsynced[n]) { print "  made directory " n " without fsyncing it"; bad++ }
		}
		print bad + 0
	}' "$T/$name.trace")
	local n=${out##*$'\n'}
	if [ "$n" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: $name"; echo "$out" | head -10; fi
}

head -c 600000 /dev/urandom >"$T/input"
trace first_put put k;		check first_put
trace put_new put k2;		check put_new
trace put_over put k;		check put_over
trace if_absent put --if-absent k3;	check if_absent
trace no_sync put --no-sync k;	check no_sync nosync
printf 5 >"$T/input"
trace incr incr n;		check incr
trace del del k;		check del
# The rules must be able to fail: a trace with a rename before the fsync.
printf '1 openat(3, ".tmp-00", O_WRONLY|O_CREAT|O_EXCL|O_NOFOLLOW|O_CLOEXEC, 0600) = 4\n1 write(4, "x", 1) = 1\n1 close(4) = 0\n1 renameat(3, ".tmp-00", 3, "0123456789abcdef0123456789abcd") = 0\n' >"$T/control.trace"
out=$(check control 2>&1)
if echo "$out" | grep -q "FAIL: control"; then passed=$((passed + 1)); else echo "FAIL: the checker passed a bad trace"; failed=$((failed + 1)); fi
echo "$passed passed, $failed failed"
[ $failed = 0 ]
