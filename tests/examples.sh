#!/bin/bash
# The calling sequence at the top of src/okof.h and the EXAMPLES program
# of man/okof.3, extracted, compiled against the library and run: the
# examples users copy must build and do what they say.
# Usage: CC=... LIB=build/libokof.a OKOF=./okof bash tests/examples.sh
set -u
CC=${CC:-cc}
LIB=${LIB:-build/libokof.a}
OKOF=${OKOF:-./okof}
libs="$LIB $(pkg-config --libs libsodium snappy) -lstdc++ -lm -pthread"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
notok() { echo "not ok - $*"; fail=$((fail + 1)); }

# okof.h: the indented lines after "Calling sequence", up to the blank
# comment line that ends them, become the body of main().
sed -n '/^ \* Calling sequence/,/^ \* Errors:/p' src/okof.h |
	sed -n 's/^ \*\t//p' >"$tmp/body"
{
	printf '#include <stdio.h>\n#include "okof.h"\n'
	printf 'int\nmain(void)\n{\n'
	cat "$tmp/body"
	printf '\treturn rc < 0;\n}\n'
} | sed 's|/path/to/store|'"$tmp"'/hstore|' >"$tmp/header.c"
if [ "$(wc -l <"$tmp/body")" -ge 10 ] &&
    $CC -std=c17 -Wall -Wextra -Werror -Isrc -o "$tmp/header" \
	"$tmp/header.c" $libs 2>"$tmp/err"; then
	ok "okof.h calling sequence compiles"
else
	cat "$tmp/err" "$tmp/header.c"
	notok "okof.h calling sequence compiles"
fi
if [ -x "$tmp/header" ] && [ "$("$tmp/header")" = v ] &&
    [ "$("$OKOF" -d "$tmp/hstore" get k)" = v ]; then
	ok "okof.h calling sequence writes k=v, which okof get reads"
else
	notok "okof.h calling sequence writes k=v, which okof get reads"
fi

# okof.3: the .Bd -literal block of EXAMPLES, with mdoc's \e unescaped.
sed -n '/^\.Sh EXAMPLES/,/^\.Sh /p' man/okof.3 |
	sed -n '/^\.Bd -literal/,/^\.Ed/p' | sed '1d;$d' |
	sed 's/\\e/\\/g' | sed 's|#include <okof.h>|#include "okof.h"|' \
	>"$tmp/greet.c"
if grep -q '^main(int argc' "$tmp/greet.c" &&
    $CC -std=c17 -Wall -Wextra -Werror -Isrc -o "$tmp/greet" \
	"$tmp/greet.c" $libs 2>"$tmp/err"; then
	ok "okof(3) EXAMPLES program compiles"
else
	cat "$tmp/err" "$tmp/greet.c"
	notok "okof(3) EXAMPLES program compiles"
fi
if [ -x "$tmp/greet" ] &&
    [ "$("$tmp/greet" "$tmp/gstore")" = "$(printf 'hello\nruns: 1')" ] &&
    [ "$("$tmp/greet" "$tmp/gstore")" = "$(printf 'hello\nruns: 2')" ] &&
    [ "$("$OKOF" -d "$tmp/gstore" get greeting)" = hello ] &&
    [ "$("$OKOF" -d "$tmp/gstore" get runs)" = 2 ]; then
	ok "okof(3) EXAMPLES program prints hello and counts its runs"
else
	notok "okof(3) EXAMPLES program prints hello and counts its runs"
fi
# Its expiry: an hour from now, to the second (rounded up).
now=$(date +%s)
exp=$("$OKOF" -d "$tmp/gstore" stat --json greeting | sed -n 's/.*"expires":"\([^"]*\)".*/\1/p')
exps=$(date -d "$exp" +%s 2>/dev/null || echo 0)
if [ $((exps - now)) -ge 3598 ] && [ $((exps - now)) -le 3601 ]; then
	ok "okof(3) EXAMPLES: the greeting expires in an hour ($exp)"
else
	notok "okof(3) EXAMPLES: the greeting expires in an hour (got '$exp', now $now)"
fi
# README.md: the C block of "Using the library", its store moved here.
sed -n '/^## Using the library/,/^## /p' README.md | sed -n '/^```c$/,/^```$/p' |
	sed '1d;$d' | sed 's|#include <okof.h>|#include "okof.h"|' |
	sed 's|/tmp/demo-store|'"$tmp"'/dstore|' >"$tmp/demo.c"
if grep -q okof_open "$tmp/demo.c" &&
    $CC -std=c17 -Wall -Wextra -Werror -Isrc -o "$tmp/demo" "$tmp/demo.c" \
	$libs 2>"$tmp/err" && "$tmp/demo" &&
    [ "$("$OKOF" -d "$tmp/dstore" get greeting)" = hello ]; then
	ok "README's library example compiles and stores greeting=hello"
else
	cat "$tmp/err"
	notok "README's library example compiles and stores greeting=hello"
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
