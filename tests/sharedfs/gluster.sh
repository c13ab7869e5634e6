# shellcheck shell=bash
# gluster.sh - a throw-away GlusterFS on this one machine, for run.sh.
# Sourced, not run.  Uses T (a fresh temp dir), NS (a network namespace
# name of our own) and VOL; sets GD_PID.
#
# Why it is built this way:
#   - The CLI refuses localhost and 127.0.0.1 as brick hosts; 127.0.0.2
#     works.  glusterd runs in a private network namespace whose lo also
#     carries 127.0.0.2.  Nothing listens on the
#     host's network and a second run (or another engineer's) cannot
#     collide on port 24007.
#   - glusterd, its bricks and the CLI write under /var/lib/glusterd,
#     /run (glusterd.socket, brick sockets) and /var/log/glusterfs
#     whatever their options say, and glfsheal ("heal info") only finds
#     glusterd at /run/glusterd.socket.  So they run in a private mount
#     namespace where those three paths are bind mounts of directories
#     under T: they leave nothing on the host, and a second glusterd
#     (another run) cannot answer in our place.
#   - The FUSE clients must mount in the host's mount namespace (the
#     tests run there), so they are started with nsenter --net only: their
#     glusterfs processes live in NS (they reach 127.0.0.2) while their
#     mounts are ours.
#   - Every process in NS is ours, so "ip netns pids NS" is the list of
#     daemons to stop at the end; nothing is killed by name.

GL_HOST=127.0.0.2
# Client-side caches that could let a mount answer from its own memory
# what the other mount changed.  SHAREDFS_VOLOPTS overrides the list
# (pairs KEY VALUE; empty for gluster's defaults).  Measured with
# SHAREDFS_CHECKS="fresh reader_writer" on glusterfs 10.3:
#   - everything at gluster's defaults: 32 of 40 reads through the other
#     mount returned the previous value, for up to 1.0 s;
#   - the mount timeouts below at 0, these options at their defaults: no
#     stale read.  okof never rewrites a file in place (a put renames a
#     new file over the name), so caches keyed by inode cannot serve an
#     old value; it is the kernel's cache of names that does.  They stay
#     off here all the same: what the test should show is okof's
#     behaviour, not a cache's.
#   - performance.write-behind off: no difference (okof fsyncs before it
#     renames, which flushes write-behind); left on.
#   - there is no option performance.md-cache: md-cache is switched by
#     performance.stat-prefetch.
GL_VOLOPTS_DEFAULT="performance.open-behind off performance.quick-read off
performance.stat-prefetch off performance.io-cache off
performance.read-ahead off performance.readdir-ahead off"
# FUSE's own kernel caches of names and attributes: with them at their
# default (1 s), get through B also failed with "Stale file handle" (2 of
# 113 gets): B's cached name still led to the file A's rename replaced.
# SHAREDFS_MOUNTOPTS overrides.
GL_MOUNTOPTS=${SHAREDFS_MOUNTOPTS-entry-timeout=0,attribute-timeout=0,negative-timeout=0}

gl() { # the gluster CLI, talking to our glusterd only
	# In glusterd's namespaces (see above), bounded: a CLI call that
	# hangs must not hang the target.
	timeout 60 nsenter -t "$GD_PID" -m -n gluster --mode=script "$@"
}

in_ns() { # run a command in NS's network, in the host's mount namespace
	nsenter --net="/run/netns/$NS" "$@"
}

ours() { # PID: true when PID is alive and in NS (never kill anything else)
	[ -n "$1" ] && kill -0 "$1" 2>/dev/null &&
		[ "$(ip netns identify "$1" 2>/dev/null)" = "$NS" ]
}

gl_brick_dir() { echo "$T/brick$1"; } # N = 1..3

gl_brick_pid() { # N: the pid of brick N's glusterfsd, empty if down
	local dir pidf pid
	dir=$(gl_brick_dir "$1")
	# glusterd names the pid file after host and path, / turned into -.
	pidf="$T/run/vols/$VOL/$GL_HOST-$(echo "${dir#/}" | tr / -).pid"
	pid=$(cat "$pidf" 2>/dev/null) || return 0
	if ours "$pid"; then echo "$pid"; fi
}

gl_wait_bricks() { # N...: wait (at most 20 s) until those bricks run
	local n i up
	for i in $(seq 100); do
		up=1
		for n in "$@"; do
			[ -n "$(gl_brick_pid "$n")" ] || up=0
		done
		[ "$up" = 1 ] && return 0
		sleep 0.2
	done
	return 1
}

gl_setup() {
	local i opts
	mkdir -p "$T/gd" "$T/run" "$T/varrun/gluster" "$T/log" "$T/A" "$T/B" &&
	for i in 1 2 3; do mkdir -p "$(gl_brick_dir $i)" || return 1; done
	# glusterd listens on every address of NS (none is the host's):
	# glfsheal, which "heal info" runs, fetches the volume from localhost.
	cat >"$T/glusterd.vol" <<-EOF || return 1
		volume management
		    type mgmt/glusterd
		    option working-directory $T/gd
		    option run-directory $T/run
		    option transport-type socket
		    option transport.socket.listen-port 24007
		    option ping-timeout 0
		    option event-threads 1
		end-volume
	EOF
	if ! { ip netns add "$NS" && ip -n "$NS" link set lo up &&
		ip -n "$NS" addr add "$GL_HOST/8" dev lo; }; then
		echo "# ip netns failed"
		return 1
	fi

	# glusterd forks into the background; the child writes the pid file.
	# shellcheck disable=SC2016 # expanded by the inner sh
	in_ns unshare --mount --propagation private sh -c '
		mount --bind "$1/gd" /var/lib/glusterd &&
		mount --bind "$1/varrun" /run &&
		mount --bind "$1/log" /var/log/glusterfs &&
		exec glusterd -f "$1/glusterd.vol" -p "$1/glusterd.pid" \
			-l "$1/log/glusterd.log"' sh "$T" ||
		{ echo "# glusterd did not start"; return 1; }
	for i in $(seq 100); do
		GD_PID=$(cat "$T/glusterd.pid" 2>/dev/null)
		ours "$GD_PID" && gl volume list >/dev/null 2>&1 && break
		GD_PID=
		sleep 0.2
	done
	[ -n "$GD_PID" ] || { echo "# glusterd not answering"; return 1; }

	# force: gluster refuses bricks on the root file system otherwise.
	gl volume create "$VOL" replica 3 "$GL_HOST:$(gl_brick_dir 1)" \
		"$GL_HOST:$(gl_brick_dir 2)" "$GL_HOST:$(gl_brick_dir 3)" \
		force >/dev/null || { echo "# volume create failed"; return 1; }
	opts=${SHAREDFS_VOLOPTS-$GL_VOLOPTS_DEFAULT}
	# shellcheck disable=SC2086 # opts is a list of words on purpose
	set -- $opts
	while [ $# -ge 2 ]; do
		gl volume set "$VOL" "$1" "$2" >/dev/null ||
			{ echo "# volume set $1 $2 failed"; return 1; }
		shift 2
	done
	gl volume start "$VOL" >/dev/null || { echo "# volume start failed"; return 1; }
	gl_wait_bricks 1 2 3 || { echo "# bricks not running"; return 1; }
	for i in A B; do
		in_ns mount -t glusterfs \
			-o "${GL_MOUNTOPTS:+$GL_MOUNTOPTS,}log-file=$T/log/mount-$i.log" \
			"$GL_HOST:/$VOL" "$T/$i" ||
			{ echo "# mount $i failed"; return 1; }
	done
}

gl_teardown() {
	local m pid i left
	[ -n "${T:-}" ] && [ -d "$T" ] || return 0
	for m in A B; do
		mountpoint -q "$T/$m" || continue
		umount "$T/$m" 2>/dev/null || umount -l "$T/$m" ||
			echo "# cannot unmount $T/$m"
	done
	# Stopping the volume lets glusterd end the bricks and glustershd.
	if ours "${GD_PID:-}"; then
		gl volume stop "$VOL" force >/dev/null 2>&1
		kill "$GD_PID" 2>/dev/null
	fi
	# Whatever is still in NS (clients that outlived umount -l, a brick
	# the stop missed) is ours: TERM, then KILL after 5 s.
	for i in $(seq 26); do
		left=$(ip netns pids "$NS" 2>/dev/null)
		[ -z "$left" ] && break
		for pid in $left; do
			if [ "$i" -lt 26 ]; then kill "$pid"; else kill -9 "$pid"; fi 2>/dev/null
		done
		sleep 0.2
	done
	ip netns del "$NS" 2>/dev/null
	# Never rm through a mount: that would delete the bricks' contents
	# through gluster, or worse if a mount point were reused.
	for m in A B; do
		if mountpoint -q "$T/$m"; then
			echo "# $T/$m still mounted: left $T in place"
			return 1
		fi
	done
	rm -rf --one-file-system "$T"
}

gl_leftovers() { # what gluster-related state exists on the host now
	ls -A /var/lib/glusterd /var/run/gluster /var/log/glusterfs 2>&1
}
