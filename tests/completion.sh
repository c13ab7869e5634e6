#!/bin/bash
# completion.sh - Tab completion in real interactive shells: bash, zsh and
# fish run under tmux with rc files of our own, a partial line is typed,
# Tab pressed, the rest of the line typed, Enter pressed; then what the
# completed line did (the value okof printed, its exit status) is compared
# with what the line should have done.
#
#   OKOF=./okof bash tests/completion.sh [bash|zsh|fish...]
#
# Prints "ok"/"not ok" lines, then "N passed, N failed"; exits 1 if any
# failed.
set -u
OKOF=${OKOF:-./okof}
case $OKOF in /*) ;; *) OKOF=$PWD/$OKOF ;; esac
shells=("$@")
[ ${#shells[@]} -gt 0 ] || shells=(bash bash-completion zsh fish)
[ -f /usr/share/bash-completion/bash_completion ] || {
	echo "completion.sh: bash-completion not installed (sh .ci/deps bash-completion)"
	exit 1
}
for tool in tmux "${shells[@]/bash-completion/bash}"; do
	command -v "$tool" >/dev/null || {
		echo "completion.sh: $tool not installed (sh .ci/deps tmux zsh fish)"
		exit 1
	}
done
T=$(mktemp -d "${TMPDIR:-/tmp}/okof-compl.XXXXXX")
# exit-empty off: between two shells the server has no session, and a
# server on its way out fails the next new-session.
echo "set -s exit-empty off" >"$T/tmux.conf"
TM=(tmux -S "$T/tmux.sock" -f "$T/tmux.conf")
trap '"${TM[@]}" kill-server 2>/dev/null; rm -rf "$T"' EXIT
passed=0
failed=0

mkdir -p "$T/bin" "$T/home" "$T/cwd"
ln -s "$OKOF" "$T/bin/okof"
export OKOF_DIR=$T/store
unset OKOF_KEY_FILE XDG_DATA_HOME
# Each key's value names it, so the output says which key the line got.
keys=("my key" "it's" 'say "hi"' 'dollar$x' 'star*' 'what?' 'br[a]ck'
	-dash plain 'url:x=1' nlkey $'nl\nzz' "end'" "café:crème brûlée")
for k in "${keys[@]}"; do
	"$OKOF" put -- "$k" "v=$k" || exit 1
done
"$OKOF" -d "$T/my store" put "only here" "v=only here" || exit 1
"$OKOF" keygen "$T/secret" &&
	"$OKOF" -k "$T/secret" -d "$T/enc" init --encrypt &&
	printf v=sealed | "$OKOF" -k "$T/secret" -d "$T/enc" put sealed ||
	exit 1
# Random keys: a plain prefix rN to type, then 3 to 8 of the characters
# shells treat specially.  COMPLETION_SEED=N repeats a run.
seed=${COMPLETION_SEED:-$$}
echo "# random keys: COMPLETION_SEED=$seed"
RANDOM=$seed
special=(' ' "'" '"' '$' '*' '?' '[' ']' '\' '!' '&' ';' '|' '<' '>' '('
	')' '{' '}' '~' '#' '=' ':' ',' '`' '%' '^' - a b)
rkeys=()
for i in $(seq 10 21); do
	k=r$i
	for j in $(seq 0 $((RANDOM % 6 + 2))); do
		k+=${special[RANDOM % ${#special[@]}]}
	done
	rkeys+=("$k")
	"$OKOF" put -- "$k" "v=$k" || exit 1
done
# Files that an unquoted *, ? or [...] would match in the shell's cwd.
touch "$T/cwd/star-x" "$T/cwd/whatX" "$T/cwd/brack"

# poll TIMEOUT COMMAND...: runs COMMAND every 20 ms until it succeeds.
poll() {
	local n=$(($1 * 50))
	shift
	while ! "$@"; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.02
	done
}
screen() { "${TM[@]}" capture-pane -p -t "$sh" -S - 2>/dev/null; }
# gone DESC: true (after one "not ok") when the shell under test ended.
gone() {
	if [ -n "$dead" ]; then
		echo "# skipped: $1"
		return 0
	fi
	"${TM[@]}" has-session -t "$sh" 2>/dev/null && return 1
	dead=1
	failed=$((failed + 1))
	echo "not ok - $1: the shell (or tmux) ended"
}
prompts() { screen | grep -c 'PROMPT>'; }
more_prompts() { [ "$(prompts)" -gt "$1" ]; }

# type TEXT: sends TEXT to the shell as typed keys.  As hex: tmux takes a
# final \; of an argument for its command separator.
type() {
	keys -H $(printf %s "$1" | od -An -v -tx1)
}
keys() { "${TM[@]}" send-keys -t "$sh" "$@" 2>/dev/null; }

# start SHELL COMMAND...: an interactive shell in a tmux window; waits for
# its first prompt.
start() {
	sh=$1 label=$1 dead=
	shift
	"${TM[@]}" new-session -d -s "$sh" -x 250 -y 50 -c "$T/cwd" \
		env -i PATH="$T/bin:$PATH" HOME="$T/home" TERM=screen \
		LANG=C.UTF-8 OKOF_DIR="$OKOF_DIR" XDG_CONFIG_HOME="$T/home/.config" \
		XDG_DATA_HOME="$T/home/.local/share" "$@"
	poll 10 more_prompts 0 || echo "# $sh: no prompt in 10 s"
}

# try DESC TYPED AFTER WANT_STATUS [WANT_OUTPUT]: types TYPED, Tab, then
# AFTER and Enter; the line's output goes to a file, its status to another.
try() {
	local desc="$label: $1" typed=$2 after=$3 st=$4 want=${5-} n
	gone "$desc" && return
	rm -f "$T/out" "$T/rc"
	n=$(prompts)
	type "$typed"
	keys Tab
	type "$after >$T/out 2>&1; echo $status_var >$T/rc"
	keys Enter
	if ! poll 10 test -s "$T/rc" || ! poll 5 more_prompts "$n"; then
		fail "$desc" "no status (line not complete?)"
		keys C-c
		poll 5 more_prompts "$(prompts)"
		return
	fi
	if [ "$(cat "$T/rc")" != "$st" ]; then
		fail "$desc" "status $(cat "$T/rc"), want $st"
	elif [ $# -ge 5 ] && [ "$(cat "$T/out")" != "$want" ]; then
		fail "$desc" "output '$(cat "$T/out")', want '$want'"
	else
		passed=$((passed + 1))
		echo "ok - $desc"
	fi
}
# words DESC TYPED AFTER WANT: for lines this test cannot run (lock,
# cache, watch are other commands' business): types TYPED, Tab, AFTER,
# then puts printf '%s|' in front of the line (C-a) and runs it, so that
# the output is the line's words as the command would get them.
words() {
	local desc="$label: $1" typed=$2 after=$3 want=$4 n
	gone "$desc" && return
	rm -f "$T/out" "$T/rc"
	n=$(prompts)
	type "$typed"
	keys Tab
	type "$after >$T/out 2>&1; echo $status_var >$T/rc"
	keys C-a
	type "printf '%s|' "
	keys Enter
	if ! poll 10 test -s "$T/rc" || ! poll 5 more_prompts "$n"; then
		fail "$desc" "no status (line not complete?)"
		keys C-c
		poll 5 more_prompts "$(prompts)"
	elif [ "$(cat "$T/out")" != "$want" ]; then
		fail "$desc" "words '$(cat "$T/out")', want '$want'"
	else
		passed=$((passed + 1))
		echo "ok - $desc"
	fi
}
fail() {
	failed=$((failed + 1))
	echo "not ok - $1: $2"
	screen | grep . | tail -4 | sed 's/^/#   /'
}
# check DESC COMMAND...: an ok/not ok line for COMMAND's status.
check() {
	if "${@:2}"; then
		passed=$((passed + 1))
		echo "ok - $label: $1"
	else
		fail "$label: $1" "failed"
	fi
}
# Nothing but the prompt on the screen: no error from the rc files.
clean_start() { [ "$(screen | grep -v '^ *$' | grep -vc 'PROMPT>')" = 0 ]; }

# The random keys, each from its plain prefix, unquoted and after a ";
# in bash and zsh also from a longer prefix typed with backslashes.
random_cases() {
	local k q
	for k in "${rkeys[@]}"; do
		printf -v q %q "$k"
		try "random key $q" "okof get ${k:0:3}" "" 0 "v=$k"
		# fish adds no space, so no closing quote, after a completion
		# that ends in one of / = @ : . , - (for --opt=, host: ...).
		if [ "$sh" != fish ] || [[ $k != *[/=@:.,-] ]]; then
			try "random key $q after an open \"" \
				"okof get \"${k:0:3}" "" 0 "v=$k"
		fi
		[ "$sh" = fish ] && continue
		printf -v q %q "${k:0:5}"
		try "random key $(printf %q "$k") from $q" "okof get $q" "" 0 \
			"v=$k"
	done
}

# The cases every shell runs.  A key starting with - is completed as
# "-- -dash" by bash and zsh; fish inserts one word, so it offers -dash
# after a -- only.
cases() {
	local d=$T/my\ store
	try "key with a space" "okof get my" "" 0 "v=my key"
	try "key with a single quote" "okof get it" "" 0 "v=it's"
	try "key with double quotes" "okof get say" "" 0 'v=say "hi"'
	try "key with \$" "okof get doll" "" 0 'v=dollar$x'
	try "key with * (a file matches it)" "okof get sta" "" 0 'v=star*'
	try "key with ? (a file matches it)" "okof get wha" "" 0 'v=what?'
	try "key with [ ] (a file matches it)" "okof get br" "" 0 'v=br[a]ck'
	try "key with : and =" "okof get url" "" 0 'v=url:x=1'
	try "key with : and =, typed up to the =" "okof get url:x=" "" 0 \
		'v=url:x=1'
	try "UTF-8 key, typed up to its :" "okof get café:" "" 0 \
		"v=café:crème brûlée"
	try "key after an open \"" 'okof get "my k' "" 0 "v=my key"
	try "key with \$ after an open \"" 'okof get "doll' "" 0 'v=dollar$x'
	try "key with ' after an open '" "okof get 'it" "" 0 "v=it's"
	try "key ending in ' after an open '" "okof get 'end" "" 0 "v=end'"
	try "key ending in \" after an open \"" "okof get \"say" "" 0 \
		'v=say "hi"'
	try "key with a newline is left out" "okof get nl" "" 0 "v=nlkey"
	try "leading - after --" "okof get -- -da" "" 0 "v=-dash"
	if [ "$sh" != fish ]; then
		try "leading - gets -- in front" "okof get -da" "" 0 "v=-dash"
	fi
	try "del completes a second key" "okof del -f plain nlk" \
		"; okof has nlkey" 1
	"$OKOF" put plain v=plain && "$OKOF" put nlkey v=nlkey
	try "command name" "okof ge" " plain" 0 "v=plain"
	try "global option" "okof --ver" "" 0 "$("$OKOF" --version)"
	try "command option" "okof put --if-" " plain other" 1 ""
	try "-d \"DIR\" with a space lists its keys" "okof -d \"$d\" get on" \
		"" 0 "v=only here"
	try "--dir=\"DIR\" lists its keys" "okof --dir=\"$d\" get on" "" 0 \
		"v=only here"
	try "--dir \"DIR\" after the command" "okof get --dir \"$d\" on" "" 0 \
		"v=only here"
	try "-d completes a directory with a space" "okof -d $T/my" \
		" get only\\ here" 0 "v=only here"
	try "--dir= completes a directory" "okof --dir=$T/my" \
		" get only\\ here" 0 "v=only here"
	try "completion SHELL" "okof completion fi" " | head -c 6" 0 "# fish"
	try "-k FILE and -d DIR list an encrypted store's keys" \
		"okof -k $T/secret -d $T/enc get sea" "" 0 "v=sealed"
	try "-k completes a file" "okof -d $T/enc -k $T/secr" \
		" get sealed" 0 "v=sealed"
	words "keygen completes a file" "okof keygen $T/cwd/sta" "" \
		"okof|keygen|$T/cwd/star-x|"
	# zsh takes the / of a completed directory away when a space follows.
	local slash=/
	[ "$sh" = zsh ] && slash=
	words "backup completes a directory" "okof backup $T/my" "" \
		"okof|backup|$T/my store$slash|"
	words "get --default" "okof get --def" " 0 k" "okof|get|--default|0|k|"
	words "help COMMAND" "okof help ge" "" "okof|help|get|"
	words "lock option" "okof lock --no-w" " n -- true" \
		"okof|lock|--no-wait|n|--|true|"
	words "lock NAME -- COMMAND" "okof lock --wait 5m n -- ech" " hi" \
		"okof|lock|--wait|5m|n|--|echo|hi|"
	words "cache option" "okof cache --tt" " 1h k -- true" \
		"okof|cache|--ttl|1h|k|--|true|"
	words "cache KEY" "okof cache --ttl 1h my" " -- true" \
		"okof|cache|--ttl|1h|my key|--|true|"
	words "cache KEY -- COMMAND" "okof cache k -- ech" " hi" \
		"okof|cache|k|--|echo|hi|"
	words "watch option" "okof watch --ini" " k" "okof|watch|--initial|k|"
	words "watch KEY..." "okof watch plain sta" "" \
		"okof|watch|plain|star*|"
	words "watch --prefix PREFIX" "okof watch --prefix doll" "" \
		'okof|watch|--prefix|dollar$x|'
	words "watch -- COMMAND" "okof watch --once k -- ech" " hi" \
		"okof|watch|--once|k|--|echo|hi|"
	# The command's own completion after --: bash needs bash-completion.
	[ -n "${nested-}" ] || return 0
	words "lock -- okof COMMAND" "okof lock n -- okof ge" " plain" \
		"okof|lock|n|--|okof|get|plain|"
	words "lock -- okof get KEY" "okof lock n -- okof get wha" "" \
		"okof|lock|n|--|okof|get|what?|"
}

dead=
for sh in "${shells[@]}"; do
	case $sh in
	bash)
		status_var='$?'
		printf '%s\n' "PS1='PROMPT> '" \
			'source <(okof completion bash)' >"$T/bashrc"
		start bash bash --noprofile --rcfile "$T/bashrc" -i
		check "starts without errors" clean_start
		cases
		random_cases
		;;
	bash-completion)
		# With the bash-completion package loaded: the command after
		# lock's -- is completed by its own completion.
		sh=bash
		status_var='$?'
		printf '%s\n' "PS1='PROMPT> '" \
			'source /usr/share/bash-completion/bash_completion' \
			'source <(okof completion bash)' >"$T/bashrc"
		start bash bash --noprofile --rcfile "$T/bashrc" -i
		label="bash+bash-completion"
		check "starts without errors" clean_start
		nested=1 cases
		;;
	zsh)
		status_var='$?'
		# Sourced from .zshrc after compinit: it calls compdef itself.
		mkdir -p "$T/zdot"
		printf '%s\n' "PS1='PROMPT> '" \
			"autoload -Uz compinit && compinit -u -d $T/zcompdump" \
			'source <(okof completion zsh)' >"$T/zdot/.zshrc"
		start zsh env ZDOTDIR="$T/zdot" zsh -i
		check "sourced in .zshrc: starts without errors" clean_start
		nested=1 cases
		random_cases
		"${TM[@]}" kill-session -t zsh
		# As _okof on $fpath, found by compinit.
		mkdir -p "$T/zfunc"
		"$OKOF" completion zsh >"$T/zfunc/_okof"
		printf '%s\n' "PS1='PROMPT> '" "fpath=($T/zfunc \$fpath)" \
			"autoload -Uz compinit && compinit -u -d $T/zcompdump2" \
			>"$T/zdot/.zshrc"
		start zsh env ZDOTDIR="$T/zdot" zsh -i
		check "_okof on \$fpath: starts without errors" clean_start
		try "_okof on \$fpath: key with a space" "okof get my" "" 0 \
			"v=my key"
		try "_okof on \$fpath: command name" "okof ge" " plain" 0 "v=plain"
		try "_okof on \$fpath: -d \"DIR\"" "okof -d \"$T/my store\" get on" \
			"" 0 "v=only here"
		;;
	fish)
		status_var='$status'
		start fish fish --no-config -i -C \
			"function fish_prompt; echo -n 'PROMPT> '; end; okof completion fish | source"
		check "starts without errors" clean_start
		nested=1 cases
		random_cases
		;;
	esac
	# COMPLETION_SCREEN=1 shows the lines as the shell ran them.
	[ -n "${COMPLETION_SCREEN-}" ] && screen | grep .
	"${TM[@]}" kill-session -t "$sh" 2>/dev/null
done

echo "$passed passed, $failed failed"
[ $failed = 0 ]
