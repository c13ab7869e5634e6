#!/bin/bash
# man.sh - the man pages lint clean and render with balanced quotes under
# mandoc and groff (both its -man and -mandoc entry points).
#
#   bash tests/man.sh [PAGE...]        (default: man/okof.1 man/okof.5)
#
# Prints "ok"/"not ok" lines, then "N passed, N failed"; exits 1 if any
# failed.
set -u
pages=("$@")
[ ${#pages[@]} -gt 0 ] || pages=(man/okof.1 man/okof.5)
T=$(mktemp -d "${TMPDIR:-/tmp}/okof-man.XXXXXX")
trap 'rm -rf "$T"' EXIT
passed=0
failed=0
export LC_ALL=C.UTF-8

check() {
	local desc=$1
	shift
	if "$@" >"$T/why" 2>&1; then
		passed=$((passed + 1))
		echo "ok - $desc"
	else
		failed=$((failed + 1))
		echo "not ok - $desc"
		sed 's/^/#   /' "$T/why" | head -20
	fi
}

# mandoc -W all, but "referenced manual not found" is about the machine
# (mandoc looks every .Xr up among the installed pages: inotifywait(1)
# is there only with inotify-tools), and so are mandoc's notes about an
# outdated system database.
lint() {
	mandoc -T lint -W all "$@" 2>&1 | grep -v \
		-e 'STYLE: referenced manual not found: Xr ' \
		-e 'outdated mandoc.db' && return 1
	return 0
}

# quotes FILE: every paragraph of the rendered text has its quotes
# balanced: no ‘ inside ‘...’ (the shape nested .Ql gives), no ’ or ”
# without its opening, no empty ‘’, an even number of straight ".
quotes() {
	awk '
	function flush() {
		if (sq || dq)
			bad("quote left open")
		if (n % 2)
			bad("odd number of \" characters")
		sq = dq = n = 0
	}
	function bad(what) {
		printf "%s:%d: %s: %s\n", FILENAME, NR, what, $0
		err = 1
	}
	/^[ \t]*$/ { flush(); next }
	{
		line = $0
		n += gsub(/"/, "\"", line)
		while (match(line, /‘|’|“|”/)) {
			c = substr(line, RSTART, RLENGTH)
			line = substr(line, RSTART + RLENGTH)
			if (c == "‘") {
				if (sq)
					bad("‘ inside ‘...’")
				sq = 1
				if (substr(line, 1, length("’")) == "’")
					bad("empty ‘’")
			} else if (c == "’") {
				if (!sq)
					bad("’ without ‘")
				sq = 0
			} else if (c == "“") {
				if (dq)
					bad("“ inside “...”")
				dq = 1
			} else {
				if (!dq)
					bad("” without “")
				dq = 0
			}
		}
	}
	END { flush(); exit err }' "$1"
}

# literals PAGE FILE: every one-word quote of the source (".Ql WORD" then
# the line's end, a delimiter or the next macro) renders as ‘WORD’ exactly:
# a " or a delimiter misread, or a quote that swallows the macros after it,
# changes it.
literals() {
	local word missing=0
	while IFS= read -r word; do
		grep -qF "‘$word’" "$2" && continue
		echo "no ‘$word’ in the rendering"
		missing=1
	done < <(grep '^\.' "$1" |
		sed -n 's/.*Ql \([^ ]*\)\( [.,:;)]\)*\( [A-Z][a-z] .*\)*$/\1/p' |
		sed 's/\\-/-/g; s/\\(dq/"/g; s/\\&//g; s/\\e/\\/g')
	return $missing
}

for tool in mandoc groff; do
	command -v $tool >/dev/null ||
		{ echo "man.sh: $tool not installed (sh .ci/deps mandoc groff)"; exit 1; }
done

check "mandoc -T lint -W all ${pages[*]}" lint "${pages[@]}"
for page in "${pages[@]}"; do
	name=${page##*/}
	# Wide lines, so that no quoted word is hyphenated or broken.
	mandoc -T utf8 -O width=400 "$page" >"$T/raw" 2>"$T/mandoc.err"
	check "$page: mandoc -T utf8 renders" test $? = 0 -a -s "$T/raw"
	col -b <"$T/raw" >"$T/$name.mandoc-T"
	for m in man mandoc; do
		groff -ww -$m -Tutf8 -rLL=400n "$page" >"$T/raw" 2>"$T/err"
		st=$?
		cat "$T/err" >>"$T/groff.err"
		check "$page: groff -$m -Tutf8 renders, no warnings" \
			test $st = 0 -a -s "$T/raw" -a ! -s "$T/err"
		col -b <"$T/raw" >"$T/$name.groff-$m"
	done
	for r in mandoc-T groff-man groff-mandoc; do
		check "$page: quotes balanced ($r)" quotes "$T/$name.$r"
		check "$page: every .Ql word renders as itself ($r)" \
			literals "$page" "$T/$name.$r"
	done
	check "$page: groff -man and -mandoc render alike" \
		cmp "$T/$name.groff-man" "$T/$name.groff-mandoc"
done

# okof(3) documents every function okof.h declares: in NAME, in the
# SYNOPSIS, and in the text (.Fn NAME outside the SYNOPSIS).
documented() {
	local f miss=0
	for f in $(sed -n 's/^OKOF_API [^(]*[ *]\(okof_[a-z_0-9]*\)(.*/\1/p' src/okof.h); do
		grep -Eqx "\.Nm $f( ,)?" man/okof.3 || { echo "$f: not in NAME"; miss=1; }
		grep -Eq "^\.(Fn|Fo) $f( |\$)" man/okof.3 || { echo "$f: not in SYNOPSIS"; miss=1; }
		sed -n '/^\.Sh DESCRIPTION/,$p' man/okof.3 | grep -Eq "^\.Fn $f( |\$)" ||
			{ echo "$f: not described"; miss=1; }
	done
	return $miss
}
case " ${pages[*]} " in
*" man/okof.3 "*) check "man/okof.3: every function of okof.h in NAME, SYNOPSIS and text" documented ;;
esac

echo "$passed passed, $failed failed"
[ $failed = 0 ]
