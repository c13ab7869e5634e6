#!/bin/bash
# layers.sh - the library's structure, checked on the built objects:
#   - no circle: the objects of the library, linked by the symbols one
#     uses and another defines, form no cycle (so layers only call down);
#   - the command line reaches the library only through okof.h: every
#     library symbol a command-line object uses is named okof_*.
#
#   bash tests/layers.sh LIBOBJ_DIR CLIOBJ_DIR
set -u
lib=${1:-build/lib} cli=${2:-build/cli}
pass=0 fail=0
ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $1"; fail=$((fail + 1)); }

declare -A def
for o in "$lib"/*.o; do
	for s in $(nm --defined-only -g "$o" | awk '{print $3}'); do
		def[$s]=$(basename "$o" .o)
	done
done
[ ${#def[@]} -gt 0 ] || { bad "no library objects in $lib"; echo "$pass passed, $fail failed"; exit 1; }

# "provider user" pairs: tsort orders them and names any loop.
edges=$(for o in "$lib"/*.o; do
	u=$(basename "$o" .o)
	for s in $(nm -u "$o" | awk '{print $2}'); do
		p=${def[$s]:-}
		[ -n "$p" ] && [ "$p" != "$u" ] && echo "$p $u"
	done
done | sort -u)
if loop=$(printf '%s\n' "$edges" | tsort 2>&1 >/dev/null) && [ -z "$loop" ]; then
	ok "library objects form no circle"
else
	bad "library objects form a circle:"
	printf '%s\n' "$loop" | sed 's/^/#   /'
fi

inside=$(for o in "$cli"/*.o; do
	for s in $(nm -u "$o" | awk '{print $2}'); do
		[ -n "${def[$s]:-}" ] && case $s in okof_*) ;; *) echo "$(basename "$o"): $s (${def[$s]}.o)" ;; esac
	done
done)
if [ -z "$inside" ]; then
	ok "the command line uses only okof_* symbols of the library"
else
	bad "the command line reaches past okof.h:"
	printf '%s\n' "$inside" | sed 's/^/#   /'
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
