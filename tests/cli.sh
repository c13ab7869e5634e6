#!/bin/bash
# cli.sh - command-line tests: run the built binary and check exit
# statuses, standard output and standard error against the contract.
#
#   OKOF=./okof [VALGRIND="valgrind ..."] bash tests/cli.sh
#
# Ends with "N passed, N failed"; exits 1 if any failed.
set -u
OKOF=${OKOF:-./okof}
case $OKOF in /*) ;; *) OKOF=$PWD/$OKOF ;; esac
VALGRIND=${VALGRIND:-}
T=$(mktemp -d "${TMPDIR:-/tmp}/okof-cli.XXXXXX")
chmod 755 "$T"
trap 'chmod -R u+rwx "$T" 2>/dev/null; rm -rf "$T"' EXIT
export OKOF_DIR="$T/store"
unset OKOF_KEY_FILE XDG_DATA_HOME
passed=0
failed=0

ok() { passed=$((passed + 1)); }
bad() {
	failed=$((failed + 1))
	echo "FAIL: $*"
	echo "  status $st; stdout: $(head -c 300 "$T/out" | od -c | head -3)"
	echo "  stderr: $(head -c 300 "$T/err")"
}

# Valgrind's own notes ("--PID-- WARNING: unhandled syscall 437", for
# openat2, which okof then does without) are not okof's output.
unvalgrind() {
	[ -n "$VALGRIND" ] || return 0
	grep -v '^--[0-9]*-- ' "$T/err" >"$T/err.v"
	mv "$T/err.v" "$T/err"
}
# run ARGS...: runs okof, keeping status in $st and output in $T/out, $T/err.
run() {
	$VALGRIND "$OKOF" "$@" >"$T/out" 2>"$T/err"
	st=$?
	unvalgrind
}
# runin FILE ARGS...: the same with standard input from FILE.
runin() {
	local f=$1
	shift
	$VALGRIND "$OKOF" "$@" <"$f" >"$T/out" 2>"$T/err"
	st=$?
	unvalgrind
}

# expect DESC STATUS [STDOUT]: checks the last run; stdout exactly, if given.
expect() {
	local desc=$1 want=$2
	if [ "$st" != "$want" ]; then
		bad "$desc: want status $want"
		return
	fi
	if [ $# -ge 3 ] && [ "$(cat "$T/out"; echo x)" != "$3
x" ] && [ "$(cat "$T/out"; echo x)" != "${3}x" ]; then
		bad "$desc: want stdout '$3'"
		return
	fi
	if [ "$want" = 0 ] || [ "$want" = 1 ]; then
		if [ -s "$T/err" ]; then
			bad "$desc: stderr not empty"
			return
		fi
	else
		# Exactly one line, starting "okof: ".
		if [ "$(wc -l <"$T/err")" != 1 ] || ! grep -q '^okof: ' "$T/err"; then
			bad "$desc: want one 'okof: ' line on stderr"
			return
		fi
	fi
	ok
}

# expect_out DESC FILE: stdout equals FILE byte for byte.
expect_out() {
	if cmp -s "$T/out" "$2"; then ok; else bad "$1: stdout differs from $2"; fi
}
# check DESC COMMAND...: passes if COMMAND succeeds.
check() {
	local desc=$1
	shift
	if "$@"; then ok; else st=-; bad "$desc"; fi
}
not() { ! "$@"; }
# err_has DESC TEXT: the last stderr mentions TEXT.
err_has() {
	if grep -qF -- "$2" "$T/err"; then ok; else bad "$1: stderr lacks '$2'"; fi
}

# --- basics ------------------------------------------------------------
run get k;		expect "get on a store that does not exist" 1 ""
check "reads do not create the store" test ! -e "$OKOF_DIR"
run list;		expect "list on no store" 0 ""
run has k;		expect "has on no store" 1 ""
run stat k;		expect "stat on no store" 1 ""
run del k;		expect "del on no store" 1 ""
run del -f k;		expect "del -f on no store" 0 ""
run put k hello;	expect "put argv" 0 ""
run get k;		expect "get" 0 "hello"
check "get writes exactly the bytes" test "$(wc -c <"$T/out")" = 5
printf 'line\n' >"$T/v1"
runin "$T/v1" put k;	expect "put stdin" 0 ""
run get k;		expect_out "get stdin value" "$T/v1"
: >"$T/empty"
runin "$T/empty" put e;	expect "put empty stdin" 0 ""
run get e;		expect "get empty" 0 ""
check "empty value is 0 bytes" test ! -s "$T/out"
run put e2 "";		expect "put empty argv" 0 ""
run has e2;		expect "has empty value" 0 ""
printf 'a\0b\0\0c\377\n' >"$T/bin"
runin "$T/bin" put bin;	expect "put binary" 0
run get bin;		expect_out "binary value with NUL bytes" "$T/bin"
run has k;		expect "has present" 0 ""
run has nope;		expect "has absent" 1 ""
run get nope;		expect "get absent" 1 ""

# --- get --default ---------------------------------------------------------
run get --default 0 nope;	expect "--default on an absent key" 0 "0"
check "--default adds nothing" test "$(od -An -c "$T/out" | tr -d ' ')" = 0
run get --default "" nope;	expect "--default ''" 0 ""
check "--default '' writes nothing" test ! -s "$T/out"
run get --default $'-x\ny\n' nope; expect "--default with newlines" 0
check "--default writes VALUE exactly" cmp -s "$T/out" <(printf -- '-x\ny\n')
run get --default=dflt nope;	expect "--default=VALUE" 0 "dflt"
run get --default 0 k;		expect "--default on a present key" 0 "line"
run get --default 0 e;		expect "--default on an empty value" 0 ""
run -d "$T/nostore" get --default 0 k; expect "--default on no store" 0 "0"
check "--default does not create the store" test ! -e "$T/nostore"
run put --ttl 1 dexp old
sleep 2
run get --default gone dexp;	expect "--default on an expired key" 0 "gone"
run get --default;		expect "--default without a value" 2
run get --default 0 --default 1 nope; expect "--default twice" 2

# --- modes -------------------------------------------------------------
check "store dir 0700" test "$(stat -c %a "$OKOF_DIR")" = 700
check "meta 0600" test "$(stat -c %a "$OKOF_DIR/meta")" = 600
for f in "$OKOF_DIR"/*/*; do
	check "record $f 0600" test "$(stat -c %a "$f")" = 600
done
for d in "$OKOF_DIR"/*/; do
	check "bucket $d 0700" test "$(stat -c %a "$d")" = 700
done
for m in 000 777 022; do
	(umask $m && OKOF_DIR="$T/um$m" "$OKOF" put k v) 2>"$T/err"
	st=$?
	check "umask $m: put works" test $st = 0
	check "umask $m: store 0700" test "$(stat -c %a "$T/um$m")" = 700
	check "umask $m: record 0600" \
		test "$(stat -c %a "$T/um$m"/*/* | sort -u)" = 600
	printf '{"key":"i%d","value":"v"}\n' 1 2 3 4 5 6 7 8 9 >"$T/um.jsonl"
	(umask $m && OKOF_DIR="$T/umi$m" "$OKOF" import <"$T/um.jsonl") 2>"$T/err"
	st=$?
	check "umask $m: import works" test $st = 0
	check "umask $m: imported records 0600, directories 0700" \
		test "$(stat -c %a "$T/umi$m"/*/* | sort -u)/$(stat -c %a "$T/umi$m"/*/ | sort -u)" = 600/700
done

# --- options -----------------------------------------------------------
run put k -x;		expect "unknown option is not a value" 2
err_has "unknown option message" "-x"
run get k;		expect "unknown option stored nothing" 0 "line"
run put k -- -x;	expect "-- ends options" 0 ""
run get k;		expect "value after --" 0 "-x"
run put k -5;		expect "negative number is an operand" 0 ""
run get k;		expect "negative value" 0 "-5"
for v in -1.5 -.25 -2e3 -1E-9; do
	run put k "$v";	expect "negative number $v is an operand" 0 ""
	run get k;	expect "negative value $v" 0 "$v"
done
run put k -5x;		expect "-5x is no number: an unknown option" 2
err_has "the message quotes the whole argument" "'-5x'"
runin "$T/v1" put k --ttl 1h; expect "option after operand" 0 ""
run stat k
check "ttl set" grep -q '^expires: 20' "$T/out"
run put k v --ttl 1h --ttl 2h; expect "duplicate option" 2
run put k v --ttl;	expect "option without value" 2
for d in 0 -1 1x 1.5h h "" 1hh 99999999999999999999; do
	run put k v --ttl "$d"; expect "bad duration '$d'" 2
done
for d in 90 90s 15m 2h 7d; do
	run put t v --ttl "$d"; expect "duration $d" 0
done
run put k v extra;	expect "too many operands" 2
run put;		expect "put without key" 2
run frob;		expect "unknown command" 2
run;			expect "no command" 2
run --help;		check "--help exit 0" test $st = 0
check "--help prints usage" grep -q '^usage: okof' "$T/out"
run -h;			check "-h exit 0" test $st = 0
run --version;		expect "--version" 0 "okof 0.1.0"
run -V;			expect "-V" 0 "okof 0.1.0"
run get k --bogus;	expect "unknown option after operand" 2
run put k v --ttl 1h --ttl 2h
check "option given twice: one wording" test "$(cat "$T/err")" = "okof: option '--ttl' given twice"
run -d "$T/a" get -d "$T/b" k
check "global option given twice: the same wording" test "$(cat "$T/err")" = "okof: option '--dir' given twice"

# --- help ----------------------------------------------------------------
# Every command's options, as the contract and okof(1) list them.
declare -A want_opts=(
	[backup]="" [completion]="" [del]="-f --force --no-sync" [export]=""
	[gc]="-v --verbose" [get]="--default" [has]="" [help]="" [import]=""
	[incr]="--no-sync" [init]="--encrypt --compress-threshold" [keygen]=""
	[list]="-0 --null -l --long" [put]="--if-absent --ttl --no-sync"
	[stat]="--json" [verify]="-q --quiet"
)
store_cmds=" backup del export gc get has import incr init list put stat verify "
for cmd in "${!want_opts[@]}"; do
	run help "$cmd";	expect "help $cmd" 0
	cp "$T/out" "$T/help.$cmd"
	check "help $cmd: the synopsis first" grep -q "^usage: okof $cmd\b" "$T/help.$cmd"
	check "help $cmd: one example" test "$(grep -c "^example: .*okof .*$cmd\b" "$T/help.$cmd")" = 1
	want=${want_opts[$cmd]}
	case $store_cmds in *" $cmd "*) want="$want -d --dir -k --key-file" ;; esac
	want="$want -h --help"
	for o in $want; do
		check "help $cmd lists $o" grep -Eq -- "^  (-., )?$o\b|^  $o, " "$T/help.$cmd"
	done
	# ... and nothing the command does not take.
	for o in $(grep -Eo -- '^  (-[a-zA-Z0-9], )?--[a-z-]+' "$T/help.$cmd" | tr -d ','); do
		case " $want -V --version " in *" $o "*) ok ;; *) bad "help $cmd lists $o, which it does not take" ;; esac
	done
	run "$cmd" --help;	expect "$cmd --help" 0
	check "$cmd --help is help $cmd" cmp -s "$T/out" "$T/help.$cmd"
	run "$cmd" -h;		expect "$cmd -h" 0
	check "$cmd -h is help $cmd" cmp -s "$T/out" "$T/help.$cmd"
done
run put k --help;	check "put KEY --help is help too, and stores nothing" test $st = 0 -a "$(OKOF_DIR=$OKOF_DIR "$OKOF" get k)" = line
run help;		expect "help" 0
cp "$T/out" "$T/help.all"
run --help;		expect "--help" 0
check "--help is help" cmp -s "$T/out" "$T/help.all"
run -h;			check "-h is help" cmp -s "$T/out" "$T/help.all"
for cmd in "${!want_opts[@]}" lock cache watch; do
	if [ "$cmd" = lock ] || [ "$cmd" = cache ] || [ "$cmd" = watch ]; then
		"$OKOF" help "$cmd" >/dev/null 2>&1 || continue
	fi
	check "the overview lists $cmd" grep -q "^  $cmd\b" "$T/help.all"
done
check "help fits 80 columns" test -z "$(cat "$T"/help.* | awk 'length > 80')"
# Every command the overview lists (those added later too) has help of
# the same shape: synopsis, what it does, options, one example.
for cmd in $(sed -n 's/^  \([a-z]*\)\( .*\)*$/\1/p' "$T/help.all" | sed -n '/^[a-z]/p'); do
	[ -n "${want_opts[$cmd]+x}" ] && continue
	run help "$cmd";	expect "help $cmd (listed in the overview)" 0
	check "help $cmd: synopsis, options, one example" test \
		"$(grep -c "^usage: okof $cmd\b" "$T/out"),$(grep -c '^options:$' "$T/out"),$(grep -c '^example: ' "$T/out")" = 1,1,1
done
run help nosuch;	expect "help of an unknown command" 2
check "help nosuch: no suggestion" test "$(cat "$T/err")" = "okof: unknown command 'nosuch' (see 'okof help')"
run help get put;	expect "help of two commands" 2
for typo in gte:get lst:list verfy:verify exprot:export imprt:import gett:get; do
	run "${typo%%:*}" k;	expect "unknown command ${typo%%:*}" 2
	check "${typo%%:*}: did you mean '${typo#*:}'?" \
		test "$(cat "$T/err")" = "okof: unknown command '${typo%%:*}' (did you mean '${typo#*:}'?)"
done
run help gte;		check "help gte suggests get" grep -qF "(did you mean 'get'?)" "$T/err"
for far in frob x hel zzzzzz putgetdel; do # hel: as near del as help
	run "$far";	expect "unknown command $far" 2
	check "$far: no suggestion" not grep -q 'did you mean' "$T/err"
done
run del;		check "usage error names the synopsis" grep -qF "okof: usage: okof del [-f] [--no-sync] KEY... (see 'okof help del')" "$T/err"

# --- standard output closed at start ---------------------------------------
# runc ARGS...: runs okof with standard output closed.
runc() {
	$VALGRIND "$OKOF" "$@" >&- 2>"$T/err"
	st=$?
	: >"$T/out"
	unvalgrind
}
cbad="okof: cannot write to standard output: Bad file descriptor"
run put cv hello; run put cempty ""; run put cn 5
for args in "get cv" "get --default 0 absent" "list" "list c" "stat cv" "export" \
	"completion bash" "help" "help get" "get --help" "--help" "--version" "incr cn" "incr cnew"; do
	runc $args;	expect "closed stdout: $args" 3
	check "closed stdout: $args: says so, as cat does" test "$(cat "$T/err")" = "$cbad"
done
run get cn;		expect "incr with closed stdout changed nothing" 0 "5"
run has cnew;		expect "incr with closed stdout created nothing" 1
runc get absent;	expect "closed stdout: get of an absent key has nothing to write" 1
runc get cempty;	expect "closed stdout: get of an empty value, as cat of an empty file" 0
runc list nomatch;	expect "closed stdout: list with nothing to list" 0
runc verify;		expect "closed stdout: verify of a sound store" 0
runc put cv2 there;	expect "closed stdout: put works" 0
run get cv2;		expect "closed stdout: put stored" 0 "there"
runc del cv2;		expect "closed stdout: del works" 0
run has cv2;		expect "closed stdout: del deleted" 1
"$OKOF" get cv >&- 2>&-; st=$?
check "closed stdout and stderr: exit 3 still" test $st = 3
G="$T/gcclosed"
OKOF_DIR=$G "$OKOF" put --ttl 1 gone x
OKOF_DIR=$G "$OKOF" put stays x
sleep 2
nrec=$(find "$G" -type f | wc -l)
OKOF_DIR=$G runc gc -v;	expect "closed stdout: gc -v fails" 3
check "closed stdout: gc -v removed nothing" test "$(find "$G" -type f | wc -l)" = "$nrec"
OKOF_DIR=$G runc gc;	expect "closed stdout: gc without -v works" 0
check "closed stdout: gc removed the expired record" test "$(find "$G" -type f | wc -l)" = $((nrec - 1))
run get;		expect "get without key" 2
run has a b;		expect "has with two keys" 2

# --- keys --------------------------------------------------------------
k4096=$(head -c 4096 /dev/zero | tr '\0' k)
run put "$k4096" v;	expect "4096-byte key" 0 ""
run get "$k4096";	expect "get 4096-byte key" 0 "v"
run put "${k4096}k" v;	expect "4097-byte key" 2
run get "${k4096}k";	expect "get 4097-byte key" 2
run put "" v;		expect "empty key" 2
run get "";		expect "get empty key" 2
for key in ../x /etc/passwd a/b . .. meta .tmp-x "sp ace" $'new\nline'; do
	run put "$key" "val:$key"; expect "put key '$key'" 0
	run get "$key";	expect "get key '$key'" 0 "val:$key"
done
check "path-like keys stay inside" test ! -e "$T/x" -a ! -e "$OKOF_DIR/a"
check "no file beside the store" test "$(ls "$T" | grep -c '^store')" = 1

# --- list --------------------------------------------------------------
L="$T/list"
OKOF_DIR=$L "$OKOF" put b 1
OKOF_DIR=$L "$OKOF" put a 22
OKOF_DIR=$L "$OKOF" put ab 333
OKOF_DIR=$L "$OKOF" put $'x\ny' 4
OKOF_DIR=$L run list;	expect "list sorted" 0 "$(printf 'a\nab\nb\nx\ny')"
OKOF_DIR=$L run list a;	expect "list prefix" 0 "$(printf 'a\nab')"
OKOF_DIR=$L run list zz; expect "list prefix none" 0 ""
OKOF_DIR=$L run list -0 a
printf 'a\0ab\0' >"$T/want0"
expect_out "list -0" "$T/want0"
OKOF_DIR=$L run list -l ab
check "list -l" grep -Eq $'^3\t20[0-9-]+T[0-9:]+Z\tab$' "$T/out"
OKOF_DIR=$L run list a b; expect "list two prefixes" 2

# --- stat --------------------------------------------------------------
run put s hello
run stat s
check "stat key" grep -qx 'key: s' "$T/out"
check "stat size" grep -qx 'size: 5' "$T/out"
check "stat disk" grep -Eqx 'disk: [0-9]+' "$T/out"
check "stat compressed" grep -qx 'compressed: no' "$T/out"
check "stat encrypted" grep -qx 'encrypted: no' "$T/out"
check "stat modified" grep -Eqx 'modified: [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z' "$T/out"
check "stat expires never" grep -qx 'expires: never' "$T/out"
check "stat has 7 lines" test "$(wc -l <"$T/out")" = 7
run stat --json s
check "stat --json" grep -Eq '^\{"key":"s","size":5,"disk":[0-9]+,"compressed":false,"encrypted":false,"modified":"[0-9T:Z-]+","expires":null\}$' "$T/out"
seq 1 100000 >"$T/seq"
runin "$T/seq" put seq
run stat seq
check "stat compressed yes" grep -qx 'compressed: yes' "$T/out"
# Random chunks first, then text: after the random ones okof stops
# trying for a while, but the text is still compressed.
seq 1 1000000 >"$T/text"
{ head -c 400000 /dev/urandom; cat "$T/text"; } >"$T/mixed"
runin "$T/text" put text
runin "$T/mixed" put mixed
run get mixed;	expect_out "random then text: round trip" "$T/mixed"
text_disk=$("$OKOF" stat text | sed -n 's/^disk: //p')
run stat mixed
check "random then text: compressed" grep -qx 'compressed: yes' "$T/out"
# At most a few chunks of text (64 KiB each) stored as they are.
check "random then text: the text part shrinks as alone" \
	test "$(sed -n 's/^disk: //p' "$T/out")" -lt $((text_disk + 400000 + 200000))
run stat --json $'q"\\\n'
expect "stat --json absent" 1 ""
run put $'q"\\\n' v
run stat --json $'q"\\\n'
check "stat --json escapes" grep -qF '{"key":"q\"\\\n",' "$T/out"
run put $'\xff\xfe' v
run stat --json $'\xff\xfe'
check "stat --json base64 key" grep -qF '"key_base64":"//4="' "$T/out"

# --- del ---------------------------------------------------------------
run put d1 1; run put d2 2
run del d1 nope d2;	expect "del with one absent" 1 ""
run has d1;		expect "d1 deleted anyway" 1
run has d2;		expect "d2 deleted anyway" 1
run put d1 1
run del -f d1 nope;	expect "del -f" 0 ""
run has d1;		expect "del -f deleted" 1
run del;		expect "del without keys" 2
run del -f;		expect "del -f without keys, as rm -f" 0 ""
run --dir "$T/nostore" del -f; expect "del -f without keys on no store" 0 ""
run del --no-sync;	expect "del --no-sync without keys" 2
# The README's recipe, literally: GNU xargs runs del -f once with no KEY.
run put tmp.a 1; run put tmp.b 2; run put keep 3
"$OKOF" list -0 tmp. | xargs -0 "$OKOF" del -f 2>"$T/err"; st=$?
check "list -0 | xargs -0 del -f: exit 0" test $st = 0 -a ! -s "$T/err"
run list tmp.;		expect "the recipe deleted what matched" 0 ""
run get keep;		expect "the recipe left the rest" 0 "3"
"$OKOF" list -0 tmp. | xargs -0 "$OKOF" del -f 2>"$T/err"; st=$?
check "the recipe when nothing matches: exit 0" test $st = 0 -a ! -s "$T/err"
"$OKOF" list -0 tmp. | xargs -0 "$OKOF" del 2>"$T/err"; st=$?
check "without -f, nothing matching is a usage error (xargs: 123)" \
	test $st = 123 -a "$(grep -c '^okof: ' "$T/err")" = 1

# --- init --------------------------------------------------------------
I="$T/init"
run -d "$I" init;	expect "init" 0 ""
check "init made a store" test -f "$I/meta"
run -d "$I" init;	expect "init again" 0 ""
run -d "$I" init --compress-threshold 256; expect "init same settings" 0 ""
run -d "$I" init --compress-threshold 10; expect "init other settings" 3
run -d "$T/init2" init --compress-threshold 0; expect "init threshold 0" 0
head -c 1000 /dev/zero >"$T/zeros"
OKOF_DIR="$T/init2" "$OKOF" put z <"$T/zeros"
run -d "$T/init2" stat z
check "threshold 0 compresses small" grep -qx 'compressed: yes' "$T/out"
run -d "$T/init2" init --compress-threshold x; expect "init bad number" 2

# --- location ----------------------------------------------------------
H="$T/home"
mkdir -p "$H"
(unset OKOF_DIR; HOME=$H "$OKOF" put loc home) 
check "HOME default" test -f "$H/.local/share/okof/meta"
check "HOME parents 0700" test "$(stat -c %a "$H/.local/share")" = 700
(unset OKOF_DIR; XDG_DATA_HOME=$T/xdg HOME=$H "$OKOF" put loc xdg)
check "XDG_DATA_HOME" test -f "$T/xdg/okof/meta"
OKOF_DIR=$T/env "$OKOF" put loc env
check "OKOF_DIR" test -f "$T/env/meta"
run -d "$T/dflag" put loc d
check "-d wins" test -f "$T/dflag/meta" -a ! -f "$OKOF_DIR/../dflag2"
OKOF_DIR=$T/env run --dir "$T/dflag" get loc; expect "-d over OKOF_DIR" 0 "d"
OKOF_DIR=$T/env run get loc -d "$T/dflag"; expect "-d after command" 0 "d"
run --dir="$T/dflag" get loc; expect "--dir=" 0 "d"

# --- strangers ---------------------------------------------------------
mkdir "$T/home2"
echo precious >"$T/home2/notes"
run -d "$T/home2" put k v; expect "non-store dir refused" 3
err_has "non-store message" "not an okof store"
check "nothing written to non-store" test "$(ls -A "$T/home2")" = notes
run -d "$T/home2" get k; expect "get in non-store dir" 3
echo file >"$T/afile"
run -d "$T/afile" put k v; expect "store is a file" 3
run -d "$T/afile" get k; expect "get when store is a file" 3
mkdir -m 700 "$T/gw"; OKOF_DIR="$T/gw" "$OKOF" put k v; chmod 770 "$T/gw"
run -d "$T/gw" get k;	expect "group-writable store refused" 3
err_has "unsafe message" "unsafe"
chmod 700 "$T/gw"
# Interrupted creation: only our temp file inside.
mkdir -m 700 "$T/half"; : >"$T/half/.tmp-meta-0123456789abcdef"
run -d "$T/half" get k;	expect "half-made store reads absent" 1
run -d "$T/half" put k v; expect "half-made store completed" 0
run -d "$T/half" get k;	expect "half-made store works" 0 "v"

# --- corruption --------------------------------------------------------
C="$T/corrupt"
OKOF_DIR=$C "$OKOF" put c "some value here"
f=$(ls "$C"/*/*)
printf 'X' | dd of="$f" bs=1 seek=$(($(stat -c %s "$f") - 3)) conv=notrunc 2>/dev/null
OKOF_DIR=$C run get c;	expect "corrupt record" 3 ""
err_has "corrupt names the key" "'c'"
err_has "corrupt names the file" "$f"
OKOF_DIR=$C run has c;	expect "has sees a present record" 0
OKOF_DIR=$C run del c;	expect "del removes a corrupt record" 0
OKOF_DIR=$C "$OKOF" put c v
f=$(ls "$C"/*/*)
truncate -s 10 "$f"
OKOF_DIR=$C run get c;	expect "truncated record" 3 ""
OKOF_DIR=$C run get --default 0 c; expect "--default on a truncated record" 3 ""
printf 'Z' | dd of="$f" bs=1 seek=5 conv=notrunc 2>/dev/null
OKOF_DIR=$C run get --default 0 c; expect "--default on a damaged header" 3 ""
OKOF_DIR=$C run list;	expect "list skips corrupt, says so" 3 ""
# Two bad records, one found by the listing (header) and one by the
# read (a chunk): export still writes one okof: line, and the good one.
E2="$T/corrupt2"
for k in a b c; do OKOF_DIR=$E2 "$OKOF" put "$k" "value of $k"; done
set -- $(ls "$E2"/*/*)
printf 'X' | dd of="$1" bs=1 seek=$(($(stat -c %s "$1") - 3)) conv=notrunc 2>/dev/null
truncate -s 10 "$2"
good=$(OKOF_DIR=$E2 "$OKOF" get a 2>/dev/null || OKOF_DIR=$E2 "$OKOF" get b 2>/dev/null ||
	OKOF_DIR=$E2 "$OKOF" get c 2>/dev/null)
OKOF_DIR=$E2 run export
expect "export of a store with two bad records" 3
check "export: the good record, alone" test "$(wc -l <"$T/out"),$(grep -c "\"value\":\"$good\"" "$T/out")" = "1,1"
err_has "export counts the other failure" "(and 1 more failure)"

# A store large enough that list shares its buckets between threads:
# every key once, sorted, and one corrupt record skipped and named.
L="$T/large"
awk 'BEGIN { for (i = 0; i < 4000; i++) printf "{\"key\":\"k%d\",\"value\":\"%d\"}\n", i, i }' >"$T/large.jsonl"
OKOF_DIR=$L "$OKOF" import <"$T/large.jsonl"
awk 'BEGIN { for (i = 0; i < 4000; i++) print "k" i }' | LC_ALL=C sort >"$T/large.keys"
OKOF_DIR=$L run list;	expect_out "list of 4000 keys, sorted" "$T/large.keys"
bad_rec=$(ls -d "$L"/*/ | tail -1)
bad_rec=$(ls "${bad_rec:?}"* | head -1) # never the cwd
truncate -s 10 "$bad_rec"
OKOF_DIR=$L run list;	check "list of a large store with a corrupt record: exit 3" test $st = 3
check "the others listed, sorted" test "$(comm -13 "$T/large.keys" "$T/out" | wc -l),$(wc -l <"$T/out")" = "0,3999"
err_has "the corrupt record named" "${bad_rec#"$L"/}"

# --- hostile ground ------------------------------------------------------
Hs="$T/hostile"
OKOF_DIR=$Hs "$OKOF" put victim value
rec=$(ls "$Hs"/*/*)
echo "outside secret" >"$T/outside"
mv "$rec" "$T/rec.saved"
ln -s "$T/outside" "$rec"
OKOF_DIR=$Hs run get victim;	expect "record replaced by a symlink" 3 ""
err_has "symlink named" "symlink"
OKOF_DIR=$Hs run put victim new; expect "put over a planted symlink replaces the link" 0
check "the symlink's target is untouched" test "$(cat "$T/outside")" = "outside secret"
OKOF_DIR=$Hs run get victim;	expect "value after replacing the link" 0 "new"
rm -f "$rec"; mkfifo "$rec"
OKOF_DIR=$Hs timeout 5 "$OKOF" get victim >"$T/out" 2>"$T/err"; st=$?
expect "record replaced by a FIFO: no hang" 3
OKOF_DIR=$Hs run verify;	check "verify names the FIFO" test $st = 3
rm -f "$rec"; truncate -s 20G "$rec"
OKOF_DIR=$Hs timeout 5 "$OKOF" get victim >"$T/out" 2>"$T/err"; st=$?
expect "record replaced by a huge sparse file" 3
rm -f "$rec"; mv "$T/rec.saved" "$rec"
OKOF_DIR=$Hs run get victim;	expect "restored record" 0 "value"
bucket=$(dirname "$rec")
mv "$bucket" "$T/bucket.saved"
mkdir -m 700 "$T/elsewhere"
ln -s "$T/elsewhere" "$bucket"
OKOF_DIR=$Hs run get victim;	expect "bucket replaced by a symlink: not followed" 3
OKOF_DIR=$Hs run put victim v2; expect "put into a symlinked bucket refused" 3
check "nothing written through the symlink" test -z "$(ls -A "$T/elsewhere")"
rm "$bucket"; mv "$T/bucket.saved" "$bucket"

# --- output errors, signals, closed descriptors -------------------------
if [ -w /dev/full ]; then
	"$OKOF" get k >/dev/full 2>"$T/err"; st=$?
	check "get > /dev/full is exit 3" test $st = 3
	check "/dev/full message" grep -q '^okof: cannot write to standard output' "$T/err"
	"$OKOF" put n 41
	"$OKOF" incr n >/dev/full 2>"$T/err"; st=$?
	check "incr > /dev/full: exit 3" test $st = 3
	check "incr > /dev/full: one line that says the value was stored" \
		test "$(wc -l <"$T/err")" = 1 -a "$(grep -c "^okof: incr 'n': stored 42, but" "$T/err")" = 1
	check "incr > /dev/full: stored indeed" test "$("$OKOF" get n)" = 42
fi
head -c 3000000 /dev/urandom >"$T/big"
runin "$T/big" put big;	expect "put 3 MB" 0
run get big;		expect_out "get 3 MB" "$T/big"
# Standard input is read a chunk's remainder and three more chunks at a
# time, into buffers that start at 4 KiB: sizes around those edges, from
# a file (whole reads) and from a pipe that brings odd pieces.
for n in 4095 4096 4097 65535 65536 65537 196608 262143 262144 262145 \
	270000 600001; do
	head -c $n "$T/big" >"$T/part"
	runin "$T/part" put "part$n"
	run get "part$n";	expect_out "put of $n bytes from a file" "$T/part"
	{ head -c 1000 "$T/part"; sleep 0.05; tail -c +1001 "$T/part"; } |
		$VALGRIND "$OKOF" put "pipe$n" 2>"$T/err"
	check "put of $n bytes from a pipe: exit 0" test "${PIPESTATUS[1]}" = 0
	run get "pipe$n";	expect_out "put of $n bytes from a pipe" "$T/part"
done
( "$OKOF" get big; echo $? >"$T/pipest" ) 2>"$T/err" | head -c 10 >/dev/null
check "SIGPIPE ends get quietly" test "$(cat "$T/pipest")" = 141 -a ! -s "$T/err"
( trap '' PIPE; "$OKOF" get big; echo $? >"$T/pipest" ) 2>"$T/err" | head -c 10 >/dev/null
check "SIGPIPE even when ignored by the parent" test "$(cat "$T/pipest")" = 141
"$OKOF" put fdk fdv <&- >&- 2>&-; st=$?
check "closed 0-2: put works" test $st = 0
run get fdk;		expect "closed 0-2: value intact" 0 "fdv"
check "no temp files left" test -z "$(find "$OKOF_DIR" -name '.tmp-*')"

# --- permissions, as another user ---------------------------------------
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
	N="$T/nobody"
	mkdir -m 700 "$N"
	chown nobody "$N"
	asn() { setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups "$@"; }
	asn env OKOF_DIR="$N/s" "$OKOF" put k secret
	f=$(ls "$N"/s/*/*)
	chmod 000 "$f"
	asn env OKOF_DIR="$N/s" "$OKOF" get k >"$T/out" 2>"$T/err"; st=$?
	expect "unreadable record" 3
	err_has "unreadable says why" "Permission denied"
	chmod 600 "$f"
	chmod 500 "$N/s/$(basename "$(dirname "$f")")"
	asn env OKOF_DIR="$N/s" "$OKOF" put k new >"$T/out" 2>"$T/err"; st=$?
	expect "unwritable bucket" 3
	asn env OKOF_DIR="$N/s" "$OKOF" get k >"$T/out" 2>"$T/err"; st=$?
	expect "old value intact after failed put" 0 "secret"
	# A store that belongs to someone else.
	asn env OKOF_DIR="$OKOF_DIR" "$OKOF" get k >"$T/out" 2>"$T/err"; st=$?
	expect "store owned by another user" 3
	# Below a directory one may enter but not read (mode 0711, as home
	# directories often are): the store is made all the same.
	R="$T/r711"
	mkdir -m 711 "$R"
	mkdir -m 700 "$R/d"
	chown nobody "$R/d"
	check "setup: nobody cannot read $R" not asn ls "$R" 2>/dev/null
	asn env OKOF_DIR="$R/d/sub/store" "$OKOF" put k v711 >"$T/out" 2>"$T/err"; st=$?
	expect "put below a 0711 directory" 0 ""
	asn env OKOF_DIR="$R/d/sub/store" "$OKOF" get k >"$T/out" 2>"$T/err"; st=$?
	expect "get below a 0711 directory" 0 "v711"
	check "the new directories: nobody's, 0700" \
		test "$(stat -c '%U %a' "$R/d/sub" "$R/d/sub/store" | sort -u)" = "nobody 700"
	asn "$OKOF" keygen "$R/d/keys/k" >"$T/out" 2>"$T/err"; st=$?
	expect "keygen below a 0711 directory" 0 ""
	check "that key: nobody's, 0600, 32 bytes" \
		test "$(stat -c '%U %a %s' "$R/d/keys/k")" = "nobody 600 32"
else
	echo "skip: permission tests need root, setpriv and user nobody"
fi

# --- concurrency: writers and readers on one key -------------------------
for c in a b c d; do head -c 200000 /dev/zero | tr '\0' $c >"$T/val_$c"; done
"$OKOF" put hot <"$T/val_a"
secs=3
[ -n "$VALGRIND" ] && secs=0
end=$(($(date +%s) + secs))
for c in a b c d; do
	( while [ "$(date +%s)" -lt $end ]; do "$OKOF" put hot <"$T/val_$c" || echo "put failed" >>"$T/conc_err"; done ) &
done
for r in 1 2; do
	( n=0; while [ "$(date +%s)" -lt $end ]; do
		"$OKOF" get hot >"$T/read_$r" || echo "get failed" >>"$T/conc_err"
		cmp -s "$T/read_$r" "$T/val_a" || cmp -s "$T/read_$r" "$T/val_b" ||
		cmp -s "$T/read_$r" "$T/val_c" || cmp -s "$T/read_$r" "$T/val_d" ||
		echo "torn read" >>"$T/conc_err"
		n=$((n + 1))
	done; echo $n >"$T/reads_$r" ) &
done
wait
check "concurrent puts and gets: every read whole ($(cat "$T/reads_1" "$T/reads_2" 2>/dev/null | paste -sd+ | bc 2>/dev/null) reads)" test ! -e "$T/conc_err"

# --- create-only puts ---------------------------------------------------
run put --if-absent ia one;	expect "--if-absent on absent key" 0 ""
run put --if-absent ia two;	expect "--if-absent on present key" 1 ""
run get ia;			expect "--if-absent kept the first" 0 "one"
run put --ttl 1 iaexp old
sleep 2
run put --if-absent iaexp new;	expect "--if-absent over an expired key" 0 ""
run get iaexp;			expect "expired key replaced" 0 "new"
for round in 1 2 3; do
	rm -f "$T"/race.*
	for i in $(seq 1 16); do
		( "$OKOF" put --if-absent "race$round" "writer $i" 2>"$T/race.err.$i"
		  echo $? >"$T/race.st.$i" ) &
	done
	wait
	wins=$(cat "$T"/race.st.* | grep -c '^0$')
	losses=$(cat "$T"/race.st.* | grep -c '^1$')
	check "16 racing --if-absent: one wins (round $round: $wins won, $losses lost)" \
		test "$wins" = 1 -a "$losses" = 15
	winner=$(grep -l '^0$' "$T"/race.st.* | sed 's/.*\.//')
	run get "race$round";	expect "race value is the winner's" 0 "writer $winner"
done

# --- incr --------------------------------------------------------------
run incr cnt;			expect "incr absent counts as 0" 0 "1"
run incr cnt 10;		expect "incr by 10" 0 "11"
run incr cnt -20;		expect "incr by a negative operand" 0 "-9"
run get cnt;			expect "incr stores digits and newline" 0 "-9"
check "stored value ends in one newline" test "$(od -An -c "$T/out" | tr -d ' ')" = '-9\n'
run put cnt $' \t42 \n';	run incr cnt; expect "incr accepts surrounding whitespace" 0 "43"
run put cnt 9223372036854775807
run incr cnt;			expect "incr overflow" 3
err_has "overflow message" "overflow"
run get cnt;			expect "overflow leaves the value" 0 "9223372036854775807"
run put cnt -9223372036854775808
run incr cnt -1;		expect "incr underflow" 3
run incr cnt 0;			expect "incr by 0" 0 "-9223372036854775808"
run put cnt abc
run incr cnt;			expect "incr on a non-integer" 3
err_has "non-integer message" "not a decimal integer"
run get cnt;			expect "non-integer left alone" 0 "abc"
run put cnt "1 2";		run incr cnt; expect "incr on '1 2'" 3
run put cnt "";			run incr cnt; expect "incr on empty value" 3
runin "$T/big" put cnt;		run incr cnt; expect "incr on a large value" 3
run incr cnt2 x;		expect "incr bad delta" 2
run incr cnt2 1.5;		expect "incr fractional delta" 2
run incr cnt2 99999999999999999999; expect "incr delta too big" 2
run incr cnt2 +5;		expect "incr +5" 0 "5"
run put --ttl 1h cnt3 1;	run incr cnt3
run stat cnt3
check "incr keeps the expiry" grep -q '^expires: 20' "$T/out"
nproc=4; per=250
[ -n "$VALGRIND" ] && per=5
for p in $(seq 1 $nproc); do
	( for i in $(seq 1 $per); do "$OKOF" incr contended >/dev/null || echo x >>"$T/incr_err"; done ) &
done
wait
run get contended;		expect "$nproc x $per concurrent incr exact" 0 "$((nproc * per))"
check "no concurrent incr failed" test ! -e "$T/incr_err"

# --- export / import ---------------------------------------------------
E="$T/exp"
OKOF_DIR=$E "$OKOF" put plain hello
printf 'a\0b\377\n' | OKOF_DIR=$E "$OKOF" put binval
OKOF_DIR=$E "$OKOF" put $'bin\xffkey' v
OKOF_DIR=$E "$OKOF" put $'esc"\\\n\t' $'quote"back\\slash\nnl\ttab\x01'
OKOF_DIR=$E "$OKOF" put --ttl 1h withttl x
OKOF_DIR=$E "$OKOF" put --ttl 1 soon x
OKOF_DIR=$E "$OKOF" put emptyval ""
OKOF_DIR=$E "$OKOF" put "é€𝄞" "ünïcödé"
OKOF_DIR=$E "$OKOF" put big <"$T/big"
seq 1 100000 | OKOF_DIR=$E "$OKOF" put bigtext
sleep 2
OKOF_DIR=$E run export;		expect "export" 0
cp "$T/out" "$T/export1"
check "export: one line per live record" test "$(wc -l <"$T/export1")" = 9
check "export leaves out expired keys" test -z "$(grep '"key":"soon"' "$T/export1")"
check "export: plain value" grep -qxF '{"key":"plain","value":"hello"}' "$T/export1"
check "export: binary value as base64" grep -qF '{"key":"binval","value_base64":"YQBi/wo="}' "$T/export1"
check "export: binary key as base64" grep -qxF '{"key_base64":"Ymlu/2tleQ==","value":"v"}' "$T/export1"
check "export: expires" grep -Eq '^\{"key":"withttl","value":"x","expires":[0-9]+\}$' "$T/export1"
check "export: escapes" grep -qF '"value":"quote\"back\\slash\nnl\ttab\u0001"' "$T/export1"
check "export: UTF-8 as is" grep -qF '{"key":"é€𝄞","value":"ünïcödé"}' "$T/export1"
if command -v python3 >/dev/null; then
	check "export is valid JSON per line" python3 -c '
import json,sys
for l in open(sys.argv[1]): json.loads(l)' "$T/export1"
fi
E2="$T/imp"
OKOF_DIR=$E2 runin "$T/export1" import; expect "import" 0 ""
OKOF_DIR=$E2 run export
expect_out "export | import round trip" "$T/export1"
for k in plain binval big bigtext emptyval "é€𝄞"; do
	OKOF_DIR=$E run get "$k"; cp "$T/out" "$T/v_a"
	OKOF_DIR=$E2 run get "$k"
	expect_out "round trip of '$k'" "$T/v_a"
done
# The meter ticks as a large record streams, not every 64 records: with
# a reader that waits, one export of a few records draws on a terminal.
if command -v script >/dev/null; then
	OKOF_DIR=$E "$OKOF" export >"$T/export.plain" 2>"$T/err"
	check "export: no meter when standard error is not a terminal" test ! -s "$T/err"
	printf '%s\n' "OKOF_DIR='$E' '$OKOF' export | { sleep 1; cat >'$T/export.tty'; }" >"$T/meter.sh"
	script -qec "bash '$T/meter.sh'" /dev/null >"$T/meter.out" 2>&1
	check "export: the meter draws during a large record on a terminal" \
		grep -aq 'okof: export: [0-9]* records, [0-9.]* MiB' "$T/meter.out"
	check "export: the meter is erased at the end" \
		test "$(tail -c 4 "$T/meter.out" | od -An -c | tr -d ' ')" = '\r033[K'
	check "export: the meter leaves standard output alone" cmp -s "$T/export.tty" "$T/export.plain"
	OKOF_DIR=$E "$OKOF" export 2>"$T/err" | { sleep 1; cat >/dev/null; }
	check "export: no meter into a file, however long it takes" test ! -s "$T/err"
else
	echo "skip: progress meter tests need script(1)"
fi
OKOF_DIR=$E run stat withttl; grep expires "$T/out" >"$T/e1"
OKOF_DIR=$E2 run stat withttl; grep expires "$T/out" >"$T/e2"
check "round trip keeps the expiry" cmp -s "$T/e1" "$T/e2"
# Round trips compared with the original bytes, not with another export:
# binary values at the lengths where the base64 carry crosses a 64 KiB
# chunk (65536 % 3 == 1), and UTF-8 with a character split over chunks.
R="$T/rt"
R2="$T/rt2"
rt_lens="0 1 2 3 4 65535 65536 65537 65538 65539 131071 131072 131073
	131074 196607 196608 196609 196610 262144 262145 262146 262147"
for n in $rt_lens; do
	{ printf '\377'; head -c $((n > 0 ? n - 1 : 0)) /dev/urandom; } |
		head -c "$n" >"$T/rt.$n"
	OKOF_DIR=$R "$OKOF" put "bin$n" <"$T/rt.$n"
done
for n in 65534 65535 65536 65537; do
	# 'a' * (n - 1), then a 4-byte character that starts at byte n - 1.
	python3 -c 'import sys; n = int(sys.argv[1])
sys.stdout.buffer.write(b"a" * (n - 1) + "\U0001d11e".encode() + b"\0\"\n" * 3)' \
		"$n" >"$T/rtu.$n"
	OKOF_DIR=$R "$OKOF" put "utf$n" <"$T/rtu.$n"
done
# Not UTF-8 only across the boundary: a cut character, a surrogate, a
# lone continuation byte at the start of the second chunk.
for b in e282 eda080 80 f09d84; do
	python3 -c 'import sys; sys.stdout.buffer.write(b"a" * 65535 +
bytes.fromhex(sys.argv[1]) + b"a")' "$b" >"$T/rtb.$b"
	OKOF_DIR=$R "$OKOF" put "bad$b" <"$T/rtb.$b"
done
OKOF_DIR=$R run export;		expect "export of chunk-boundary values" 0
cp "$T/out" "$T/rt.jsonl"
OKOF_DIR=$R2 runin "$T/rt.jsonl" import
expect "import of chunk-boundary values" 0 ""
for n in $rt_lens; do
	OKOF_DIR=$R2 run get "bin$n"
	expect_out "round trip of $n binary bytes" "$T/rt.$n"
done
for n in 65534 65535 65536 65537; do
	OKOF_DIR=$R2 run get "utf$n"
	expect_out "round trip of UTF-8 split at byte $n" "$T/rtu.$n"
	check "UTF-8 split at byte $n exported as text" \
		grep -q "\"key\":\"utf$n\",\"value\":\"" "$T/rt.jsonl"
done
for b in e282 eda080 80 f09d84; do
	OKOF_DIR=$R2 run get "bad$b"
	expect_out "round trip of $b across chunks" "$T/rtb.$b"
	check "$b across chunks exported as base64" \
		grep -q "\"key\":\"bad$b\",\"value_base64\":\"" "$T/rt.jsonl"
done
# Malformed input anywhere: exit 2, line named, nothing stored.
E3="$T/imp3"
printf '{"key":"ok1","value":"1"}\n{"key":"ok2","value":"2"}\n{"key":"bad" "value":"3"}\n' >"$T/bad1"
printf '{"key":"ok1","value":"1"}\n{"value":"no key"}\n' >"$T/bad2"
printf '{"key":"ok1","value":"1"}\n["array"]\n' >"$T/bad3"
printf '{"key":"ok1","value":"1"}\n{"key":"k","value_base64":"!!!"}\n' >"$T/bad4"
printf '{"key":"ok1","value":"1"}\n{"key":"","value":"v"}\n' >"$T/bad5"
printf '{"key":"ok1","value":"1"}\n{"key":"a\\u0000b","value":"v"}\n' >"$T/bad6"
printf '{"key":"ok1","value":"1"}\n{"key":"k","value":"v","expires":"soon"}\n' >"$T/bad7"
printf '{"key":"ok1","value":"1"}\n{"key":"k","value":"v","extra":1}\n' >"$T/bad8"
printf '{"key":"ok1","value":"1"}\n{"key":"k","key":"j","value":"v"}\n' >"$T/bad9"
printf '{"key":"ok1","value":"1"}\n{"key":"k","value":"v"' >"$T/bad10"
for i in 1 2 3 4 5 6 7 8 9 10; do
	line=2; [ $i = 1 ] && line=3
	OKOF_DIR=$E3 runin "$T/bad$i" import; expect "malformed import $i" 2 ""
	err_has "malformed import $i names line $line" "line $line"
	OKOF_DIR=$E3 run list; expect "malformed import $i stored nothing" 0 ""
done
check "malformed imports left no temp files" test -z "$(find "$E3" -name '.tmp-*')"
printf '\n{"key":"k","value":"v"}\n\n' >"$T/blank"
OKOF_DIR=$E3 runin "$T/blank" import; expect "blank lines allowed" 0 ""
OKOF_DIR=$E3 run get k;		expect "import after blank lines" 0 "v"
run -d "$T/nostore" export;	expect "export of no store" 0 ""

# --- verify / gc ---------------------------------------------------------
V="$T/ver"
for i in 1 2 3 4 5; do OKOF_DIR=$V "$OKOF" put "key$i" "value number $i"; done
OKOF_DIR=$V run verify;		expect "verify clean store" 0 ""
OKOF_DIR=$V run verify -q;	expect "verify -q clean" 0 ""
f1=$(ls "$V"/*/* | sed -n 1p); f2=$(ls "$V"/*/* | sed -n 2p)
k1=$(OKOF_DIR=$V "$OKOF" list | while read -r k; do OKOF_DIR=$V "$OKOF" stat "$k" >/dev/null; done; echo)
printf 'X' | dd of="$f1" bs=1 seek=$(($(stat -c %s "$f1") - 2)) conv=notrunc 2>/dev/null
truncate -s 40 "$f2"
bucket=$(dirname "$f1")
: >"$bucket/.tmp-00112233aabbccdd"
chmod 600 "$bucket/.tmp-00112233aabbccdd"
OKOF_DIR=$V run verify;		check "verify damaged store: exit 3" test $st = 3
check "verify names the flipped record" grep -qF "$f1" "$T/out"
check "verify names its key" grep -q "(key 'key" "$T/out"
check "verify names the truncated record" grep -qF "$f2" "$T/out"
check "verify names the temp file" grep -qF ".tmp-00112233aabbccdd" "$T/out"
check "verify: one line each" test "$(wc -l <"$T/out")" = 3
check "verify: one line on stderr counts the bad records" \
	test "$(cat "$T/err")" = "okof: verify found 2 bad records in '$V'"
OKOF_DIR=$V run verify -q;	check "verify -q prints nothing, exit 3" test $st = 3 -a ! -s "$T/out"
check "verify -q: the count on stderr" \
	test "$(cat "$T/err")" = "okof: verify found 2 bad records in '$V'"
# get --default never turns damage into the default.
OKOF_DIR=$V run verify
badkeys=$(sed -n "s/^bad .*(key '\(key[0-9]\)')$/\1/p" "$T/out")
check "verify named a damaged key" test -n "$badkeys"
for kb in $badkeys; do
	OKOF_DIR=$V run get --default 0 "$kb"; expect "--default on corrupt record $kb" 3
	check "--default on corrupt $kb: not the default" not grep -qx 0 "$T/out"
done
echo junk >"$bucket/stray-file"; chmod 600 "$bucket/stray-file"
OKOF_DIR=$V run verify -q;	check "verify counts stray files apart" \
	test "$st:$(cat "$T/err")" = "3:okof: verify found 2 bad records and 1 stray file in '$V'"
rm "$bucket/stray-file"
echo junk >"$V/stray-top"; mkdir -m 700 "$V/zz"
OKOF_DIR=$V run verify;	check "verify lists strays in the top directory too" \
	test "$st:$(grep -c "^stray $V/stray-top: \|^stray $V/zz: " "$T/out")" = "3:2"
rm -r "$V/stray-top" "$V/zz"
rm "$f1" "$f2"
OKOF_DIR=$V run verify;		expect "a temp file alone is not damage" 0
check "temp file still reported" grep -q '^temp ' "$T/out"
OKOF_DIR=$V "$OKOF" put --ttl 1 dying x
sleep 2
OKOF_DIR=$V run gc -v;		expect "gc -v" 0
check "gc removed the temp file" test ! -e "$bucket/.tmp-00112233aabbccdd"
check "gc says what it removed" test "$(grep -c '^removed ' "$T/out")" = 2
OKOF_DIR=$V run has dying;	expect "expired key gone" 1
OKOF_DIR=$V run gc;		expect "gc again: nothing to do" 0 ""
OKOF_DIR=$V run verify;		expect "verify after gc" 0 ""
# A temp file whose writer still runs is never removed.
mkfifo "$T/fifo"
OKOF_DIR=$V "$OKOF" put slow <"$T/fifo" &
slowpid=$!
exec 7>"$T/fifo"
printf 'partial' >&7
sleep 0.3
check "running put has a temp file" test -n "$(find "$V" -name '.tmp-*')"
OKOF_DIR=$V run gc;		expect "gc while a put runs" 0
check "gc left the running put's temp file" test -n "$(find "$V" -name '.tmp-*')"
printf ' done' >&7
exec 7>&-
wait $slowpid
OKOF_DIR=$V run get slow;	expect "the put finished after gc" 0 "partial done"
run -d "$T/nostore" verify;	expect "verify of no store" 0 ""
run -d "$T/nostore" gc;		expect "gc of no store" 0 ""

# --- backup --------------------------------------------------------------
B="$T/bk"
OKOF_DIR=$E run backup "$B";	expect "backup" 0 ""
OKOF_DIR=$B run export
expect_out "backup holds every live record" "$T/export1"
OKOF_DIR=$B run verify;		expect "backup verifies" 0 ""
check "backup dir 0700" test "$(stat -c %a "$B")" = 700
OKOF_DIR=$E run backup "$B";	expect "backup onto a non-empty dir" 3
OKOF_DIR=$T/no-store run backup "$T/bk-of-none"; expect "backup of no store: absent" 1 ""
check "backup of no store: no store made, nor DEST" test ! -e "$T/no-store" -a ! -e "$T/bk-of-none"
OKOF_DIR=$E "$OKOF" put plain changed
OKOF_DIR=$B run get plain;	expect "backup is a copy, not a view" 0 "hello"
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	B2=$(mktemp -d /dev/shm/okof-bk.XXXXXX); rmdir "$B2"
	OKOF_DIR=$E run backup "$B2"; expect "backup across filesystems" 0 ""
	OKOF_DIR=$B2 run get big; expect_out "cross-fs backup value" "$T/big"
	rm -rf "$B2"
fi
# Backup while a writer runs: every value read back whole.
W="$T/bkw"
OKOF_DIR=$W "$OKOF" put hot <"$T/val_a"
( for i in $(seq 1 60); do for c in a b c d; do OKOF_DIR=$W "$OKOF" put hot <"$T/val_$c"; done; done ) &
wpid=$!
bk_bad=0
for i in 1 2 3 4 5; do
	OKOF_DIR=$W "$OKOF" backup "$T/bkw$i" 2>>"$T/bkerr" || bk_bad="backup $i failed"
	if OKOF_DIR=$T/bkw$i "$OKOF" get hot >"$T/bkv" 2>>"$T/bkerr"; then
		cmp -s "$T/bkv" "$T/val_a" || cmp -s "$T/bkv" "$T/val_b" ||
		cmp -s "$T/bkv" "$T/val_c" || cmp -s "$T/bkv" "$T/val_d" ||
		bk_bad="value $i torn"
	else
		bk_bad="get $i: exit $?"
	fi
done
wait $wpid
[ "$bk_bad" = 0 ] || echo "backup during writes: $bk_bad: $(cat "$T/bkerr")" >&2
check "backups during writes hold whole values" test "$bk_bad" = 0

# --- completion ------------------------------------------------------------
run completion bash;		expect "completion bash" 0
check "bash script parses" bash -n "$T/out"
check "bash script completes commands" grep -q 'complete -F _okof okof' "$T/out"
run completion zsh;		expect "completion zsh" 0
check "zsh script starts with #compdef" grep -q '^#compdef okof' "$T/out"
if command -v zsh >/dev/null; then check "zsh script parses" zsh -n "$T/out"; fi
run completion fish;		expect "completion fish" 0
check "fish script registers okof" grep -q '^complete -c okof ' "$T/out"
if command -v fish >/dev/null; then
	check "fish script parses" fish --no-execute "$T/out"
fi
run completion tcsh;		expect "completion of another shell" 2
run completion;			expect "completion without a shell" 2

# --- encrypted stores ------------------------------------------------------
X="$T/enc"
run keygen "$T/key1";		expect "keygen" 0 ""
check "key file mode 0600" test "$(stat -c %a "$T/key1")" = 600
check "key file 32 bytes" test "$(stat -c %s "$T/key1")" = 32
run keygen "$T/key2";		expect "keygen another" 0 ""
check "two keys differ" not cmp -s "$T/key1" "$T/key2"
cp "$T/key1" "$T/key1.copy"
run keygen "$T/key1";		expect "keygen refuses to overwrite" 3
check "key file untouched" cmp -s "$T/key1" "$T/key1.copy"
check "key file mode untouched" test "$(stat -c %a "$T/key1")" = 600
echo "not a key" >"$T/notkey"; chmod 644 "$T/notkey"; cp -p "$T/notkey" "$T/notkey.copy"
run keygen "$T/notkey";		expect "keygen refuses any existing file" 3
check "existing file: bytes untouched" cmp -s "$T/notkey" "$T/notkey.copy"
check "existing file: mode untouched" test "$(stat -c %a "$T/notkey")" = 644
check "keygen left no temp file beside it" test -z "$(find "$T" -maxdepth 1 -name '.tmp-*')"
(umask 022 && "$OKOF" keygen "$T/kg/a/b/key") >"$T/out" 2>"$T/err"; st=$?
expect "keygen makes missing parents" 0 ""
check "parents made, each 0700" test "$(stat -c %a "$T/kg" "$T/kg/a" "$T/kg/a/b" | sort -u)" = 700
check "new key file 0600" test "$(stat -c %a "$T/kg/a/b/key")" = 600
check "new key file 32 bytes" test "$(stat -c %s "$T/kg/a/b/key")" = 32
check "new key file: nothing else in its directory" test "$(ls -A "$T/kg/a/b")" = key
check "keygen of the new key differs from the others" not cmp -s "$T/kg/a/b/key" "$T/key1"
cp "$T/kg/a/b/key" "$T/newkey.copy"
run keygen "$T/kg/a/b/key";	expect "keygen refuses the new key too" 3
check "new key untouched" cmp -s "$T/kg/a/b/key" "$T/newkey.copy"
check "refused keygen: no temp file left" test "$(ls -A "$T/kg/a/b")" = key
printf x | OKOF_DIR=$T/withnewkey "$OKOF" -k "$T/kg/a/b/key" put k
OKOF_DIR=$T/withnewkey run -k "$T/kg/a/b/key" get k; expect "the new key works" 0 "x"
run keygen "";		expect "keygen of an empty name: usage" 2
run -d "$X" init --encrypt;	expect "init --encrypt without a secret" 3
check "nothing created without a secret" test ! -e "$X"
run -d "$X" -k "$T/key1" init --encrypt; expect "init --encrypt" 0 ""
run -d "$X" -k "$T/key1" init --encrypt; expect "init --encrypt again" 0 ""
run -d "$X" -k "$T/key1" init;	expect "init on an encrypted store" 0 ""
run -d "$I" -k "$T/key1" init;	expect "init with a secret on a plain store" 3 ""
err_has "init with a secret on a plain store: says it is plain" "not encrypted"
printf 'HUSHVALUE-9f1c' | OKOF_DIR=$X OKOF_KEY_FILE=$T/key1 "$OKOF" put HUSHKEY-7d2e
check "put with OKOF_KEY_FILE" test $? = 0
OKOF_DIR=$X run -k "$T/key1" get HUSHKEY-7d2e; expect "get sealed value" 0 "HUSHVALUE-9f1c"
OKOF_DIR=$X OKOF_KEY_FILE=$T/key2 run -k "$T/key1" get HUSHKEY-7d2e
expect "-k wins over OKOF_KEY_FILE" 0 "HUSHVALUE-9f1c"
OKOF_DIR=$X run get HUSHKEY-7d2e; expect "missing secret" 3
err_has "missing secret message" "store is encrypted; its secret is needed (give -k/--key-file or OKOF_KEY_FILE)"
OKOF_DIR=$X run -k "$T/key2" get HUSHKEY-7d2e; expect "wrong secret" 3
err_has "wrong secret message" "wrong key"
before=$(find "$X" | sort | xargs stat -c '%n %s %Y' 2>/dev/null | md5sum)
OKOF_DIR=$X run -k "$T/key2" put other v; expect "wrong secret: put" 3
OKOF_DIR=$X run put other v;	expect "missing secret: put" 3
head -c 31 /dev/urandom >"$T/short"; chmod 600 "$T/short"
OKOF_DIR=$X run -k "$T/short" get HUSHKEY-7d2e; expect "key file of the wrong size" 3
err_has "wrong size message" "wrong size"
cp "$T/key1" "$T/open"; chmod 644 "$T/open"
OKOF_DIR=$X run -k "$T/open" get HUSHKEY-7d2e; expect "key file readable by others" 3
err_has "mode message" "chmod 600"
OKOF_DIR=$X run -k "$T/nokey" get HUSHKEY-7d2e; expect "key file missing" 3
OKOF_DIR=$X run -k "$T/key1" put HUSHKEY-7d2e HUSHVALUE-argv; expect "argv value refused" 2
run -d "$T/enc-new" -k "$T/key1" put k v; expect "argv value refused on a new store" 2
after=$(find "$X" | sort | xargs stat -c '%n %s %Y' 2>/dev/null | md5sum)
check "refused commands wrote nothing" test "$before" = "$after"
# A secret for a plain store: every write of a value refused, reads fine.
P="$T/plainsec"
OKOF_DIR=$P "$OKOF" put pk plainvalue
OKOF_DIR=$P "$OKOF" put pc 41
printf '{"key":"ik","value":"iv"}\n' >"$T/imp.jsonl"
pbefore=$(find "$P" | sort | xargs stat -c '%n %s %Y %i' | md5sum)
for how in flag env; do
	if [ $how = flag ]; then sec=(-k "$T/key1"); else sec=(); export OKOF_KEY_FILE=$T/key1; fi
	OKOF_DIR=$P run "${sec[@]}" put pk sealed?; expect "$how secret, plain store: put argv" 3 ""
	err_has "$how: put says the store is not encrypted" "store is not encrypted"
	OKOF_DIR=$P runin "$T/v1" "${sec[@]}" put pk; expect "$how secret, plain store: put stdin" 3 ""
	OKOF_DIR=$P runin "$T/v1" "${sec[@]}" put newkey; expect "$how secret, plain store: put of a new key" 3 ""
	OKOF_DIR=$P run "${sec[@]}" put --if-absent newkey v; expect "$how secret, plain store: put --if-absent" 3 ""
	OKOF_DIR=$P run "${sec[@]}" incr pc; expect "$how secret, plain store: incr prints nothing" 3 ""
	err_has "$how: incr says the store is not encrypted" "store is not encrypted"
	OKOF_DIR=$P runin "$T/imp.jsonl" "${sec[@]}" import; expect "$how secret, plain store: import" 3 ""
	err_has "$how: import says the store is not encrypted" "store is not encrypted"
	OKOF_DIR=$P run "${sec[@]}" get pk; expect "$how secret, plain store: get works" 0 "plainvalue"
	OKOF_DIR=$P run "${sec[@]}" list; expect "$how secret, plain store: list works" 0 "$(printf 'pc\npk')"
	OKOF_DIR=$P run "${sec[@]}" verify; expect "$how secret, plain store: verify works" 0 ""
	unset OKOF_KEY_FILE
done
pafter=$(find "$P" | sort | xargs stat -c '%n %s %Y %i' | md5sum)
check "secret on a plain store: nothing written" test "$pbefore" = "$pafter"
OKOF_DIR=$P run get pk;		expect "plain value intact" 0 "plainvalue"
OKOF_DIR=$P run incr pc;	expect "without the secret incr works" 0 "42"
printf 'v' | OKOF_DIR=$T/newsealed "$OKOF" -k "$T/key1" put k
OKOF_DIR=$T/newsealed run -k "$T/key1" stat k
check "a secret for a new store still seals it" grep -qx 'encrypted: yes' "$T/out"
K1="-k $T/key1"
OKOF_DIR=$X "$OKOF" $K1 put --ttl 1h HUSHTTL-5a5a <"$T/v1"
OKOF_DIR=$X "$OKOF" $K1 put HUSHBIG-0c0c <"$T/big"
seq 1 200000 | sed 's/^/HUSHLINE-/' | OKOF_DIR=$X "$OKOF" $K1 put HUSHSEQ-3b3b
OKOF_DIR=$X run $K1 get HUSHBIG-0c0c; expect_out "sealed 3 MB round trip" "$T/big"
OKOF_DIR=$X run $K1 stat HUSHSEQ-3b3b
check "stat: encrypted yes" grep -qx 'encrypted: yes' "$T/out"
check "stat: compressed yes (compressed before sealing)" grep -qx 'compressed: yes' "$T/out"
: >"$T/e0"; OKOF_DIR=$X "$OKOF" $K1 put HUSHEMPTY <"$T/e0"
OKOF_DIR=$X run $K1 get HUSHEMPTY; expect "sealed empty value" 0 ""
OKOF_DIR=$X run $K1 list HUSH;	expect "list decrypts keys" 0 "$(printf 'HUSHBIG-0c0c\nHUSHEMPTY\nHUSHKEY-7d2e\nHUSHSEQ-3b3b\nHUSHTTL-5a5a')"
OKOF_DIR=$X run $K1 incr HUSHCOUNT; expect "incr on an encrypted store" 0 "1"
OKOF_DIR=$X run $K1 verify;	expect "verify encrypted store" 0 ""
OKOF_DIR=$X run $K1 export;	cp "$T/out" "$T/encexp"
check "export decrypts" grep -qF '"key":"HUSHKEY-7d2e","value":"HUSHVALUE-9f1c"' "$T/encexp"
OKOF_DIR=$T/enc2 runin "$T/encexp" -k "$T/key2" import; expect "import into an encrypted store" 0
OKOF_DIR=$T/enc2 run -k "$T/key2" export; expect_out "encrypted round trip" "$T/encexp"
OKOF_DIR=$X run $K1 backup "$T/encbk"; expect "backup of an encrypted store" 0
OKOF_DIR=$T/encbk run -k "$T/key1" verify; expect "backup stays sealed with the same secret" 0
OKOF_DIR=$T/encbk run get HUSHKEY-7d2e; expect "backup needs the secret" 3
OKOF_DIR=$X run $K1 gc;		expect "gc on an encrypted store" 0
# A put in progress: its temp file holds no plaintext either.
mkfifo "$T/efifo"
OKOF_DIR=$X "$OKOF" $K1 put HUSHSLOW-1e1e <"$T/efifo" &
epid=$!
exec 8>"$T/efifo"
head -c 3000000 /dev/urandom | base64 | sed 's/^/HUSHTEMP-/' >&8
sleep 0.3
check "temp file exists" test -n "$(find "$X" -name '.tmp-*' -size +1k)"
check "no plaintext in any file, temp files included" test -z "$(grep -rl -a HUSH "$X" "$T/enc2" "$T/encbk")"
exec 8>&-
wait $epid
OKOF_DIR=$X run $K1 get HUSHSLOW-1e1e; check "slow sealed put finished" test $st = 0 -a "$(head -c 9 "$T/out")" = HUSHTEMP-
check "still no plaintext anywhere" test -z "$(grep -rl -a HUSH "$X")"
# Tampering: every kind detected, never returned.
rec_file() { # the record file of key $1: the one that moves when it is rewritten
	local before after
	before=$(ls "$X"/*/* | sort); OKOF_DIR=$X "$OKOF" $K1 del "$1"
	after=$(ls "$X"/*/* | sort); comm -23 <(echo "$before") <(echo "$after")
}
OKOF_DIR=$X "$OKOF" $K1 get HUSHBIG-0c0c >"$T/bigcopy"
f=$(rec_file HUSHBIG-0c0c); OKOF_DIR=$X "$OKOF" $K1 put HUSHBIG-0c0c <"$T/bigcopy"
cp "$f" "$T/bigrec"
tamper() { # DESC COMMAND...: damage the record, expect exit 3, restore
	local desc=$1; shift
	"$@"
	OKOF_DIR=$X run $K1 get HUSHBIG-0c0c
	check "tampering: $desc: get exit 3" test $st = 3
	check "tampering: $desc: output is a prefix of the value" cmp -s "$T/out" <(head -c "$(wc -c <"$T/out")" "$T/big")
	OKOF_DIR=$X run $K1 verify
	check "tampering: $desc: verify exit 3" test $st = 3
	cp "$T/bigrec" "$f"
}
flip() { printf '\x55' | dd of="$f" bs=1 seek="$1" conv=notrunc 2>/dev/null; }
hlen=$((80 + 12 + 17 + 4)); clen=$((16 + 65536 + 17))
tamper "bit in the header" flip 60
tamper "bit in a chunk" flip $((hlen + clen + 500))
tamper "cut at a chunk boundary" truncate -s $((hlen + 2 * clen)) "$f"
tamper "last chunk dropped" truncate -s $(( $(stat -c %s "$T/bigrec") - (3000000 % 65536) - 16 - 17)) "$f"
g=$(rec_file HUSHKEY-7d2e); printf 'HUSHVALUE-9f1c' | OKOF_DIR=$X "$OKOF" $K1 put HUSHKEY-7d2e
cp "$g" "$T/smallrec"
swap() { cp "$f" "$T/sw"; cp "$g" "$f"; cp "$T/sw" "$g"; }
swap
OKOF_DIR=$X run $K1 get HUSHBIG-0c0c; expect "swapped record files (1)" 3
OKOF_DIR=$X run $K1 get HUSHKEY-7d2e; expect "swapped record files (2)" 3
OKOF_DIR=$X run $K1 verify; check "swapped record files: verify exit 3" test $st = 3
check "swapped record files: verify lists both" test "$(grep -c '^bad ' "$T/out")" = 2
check "swapped record files: no key shown it could not open" not grep -q "(key " "$T/out"
cp "$T/bigrec" "$f"; cp "$T/smallrec" "$g"
OKOF_DIR=$X run $K1 get HUSHKEY-7d2e; expect "restored record reads again" 0 "HUSHVALUE-9f1c"
# A record of another store, under another secret, copied in.
OKOF_DIR=$T/enc3 "$OKOF" -k "$T/key2" put HUSHKEY-7d2e <"$T/v1"
cp "$T/enc3"/*/* "$g"
OKOF_DIR=$X run $K1 get HUSHKEY-7d2e; expect "record from another store" 3
cp "$T/smallrec" "$g"
# The same secret, another store: records are bound to their store.
OKOF_DIR=$T/enc4 "$OKOF" $K1 init --encrypt
printf 'x' | OKOF_DIR=$T/enc4 "$OKOF" $K1 put HUSHKEY-7d2e
cp "$T/enc4"/*/* "$g" 2>/dev/null
OKOF_DIR=$X run $K1 get HUSHKEY-7d2e; check "record from a store with the same secret: not returned" test $st != 0
cp "$T/smallrec" "$g"
# A plaintext record planted in an encrypted store is refused.
OKOF_DIR=$T/plain5 "$OKOF" put HUSHKEY-7d2e planted
cp "$T/plain5"/*/* "$g"
OKOF_DIR=$X run $K1 get HUSHKEY-7d2e; check "planted plaintext record: not returned" test $st != 0 -a "$(cat "$T/out")" != planted
cp "$T/smallrec" "$g"

# --- kill -9 while streaming --------------------------------------------
K="$T/kill"
head -c 4000000 /dev/urandom >"$T/old"
head -c 4000000 /dev/urandom >"$T/new"
OKOF_DIR=$K "$OKOF" put k <"$T/old"
rounds=40
[ -n "$VALGRIND" ] && rounds=0
killed_bad=0
for i in $(seq 1 $rounds); do
	cat "$T/new" | OKOF_DIR=$K "$OKOF" put k &
	pid=$!
	sleep "0.0$((i % 10))$((i * 7 % 10))"
	kill -9 $pid 2>/dev/null
	wait $pid 2>/dev/null
	OKOF_DIR=$K "$OKOF" get k >"$T/got" 2>/dev/null || killed_bad=$((killed_bad + 1))
	if cmp -s "$T/got" "$T/new"; then
		OKOF_DIR=$K "$OKOF" put k <"$T/old"
	elif ! cmp -s "$T/got" "$T/old"; then
		killed_bad=$((killed_bad + 1))
	fi
done
check "kill -9 during put: old or new value, $rounds rounds" test $killed_bad = 0

echo "$passed passed, $failed failed"
[ $failed = 0 ]
