# bash completion for okof(1).  Load it with
#	source <(okof completion bash)
# in ~/.bashrc, or install it as share/bash-completion/completions/okof.
#
# The line is split here, not by COMP_WORDS (which splits at = and :), and
# each key is quoted here for the quoting the word already has, so that
# the line runs as shown: `my key` becomes my\ key, or "my key" after a ",
# and a key starting with - becomes -- -key when no -- is on the line.

# _okof_split: sets _okof_w to the words of the line up to the cursor with
# their quoting removed (the last one is the word being completed, maybe
# empty), _okof_q to the quote left open in it (' or " or nothing) and
# _okof_keep to the start of that word (unquoted) that bash keeps: up to
# the open quote, or to the last word break (COMP_WORDBREAKS) outside
# quotes.  The line is never evaluated.  It is read byte by byte (LC_ALL=C,
# as COMP_POINT counts), which leaves UTF-8 whole.
_okof_split() {
	local LC_ALL=C line=${COMP_LINE:0:COMP_POINT} c w= q= keep= inword=
	local br=${COMP_WORDBREAKS//[\"\']/}
	local -i i len=${#line}
	_okof_w=()
	for ((i = 0; i < len; i++)); do
		c=${line:i:1}
		case $q in
		\')
			if [[ $c == \' ]]; then q= keep=$w; else w+=$c; fi
			continue ;;
		\")
			case $c in
			\") q= keep=$w ;;
			\\)
				case ${line:i+1:1} in
				[\$\`\"\\]) w+=${line:i+1:1}; ((i++)) ;;
				*) w+=$c ;;
				esac ;;
			*) w+=$c ;;
			esac
			continue ;;
		esac
		case $c in
		[[:space:]])
			[[ -n $inword ]] && _okof_w+=("$w")
			w= inword= keep=
			continue ;;
		\' | \") q=$c ;;
		\\) ((i++)); w+=${line:i:1} ;;
		*) w+=$c ;;
		esac
		if [[ -n $q || ($c != \\ && $br == *"$c"*) ]]; then
			keep=$w
		fi
		inword=1
	done
	_okof_w+=("$w")
	_okof_q=$q
	_okof_keep=$keep
}

# _okof_quote STRING: sets REPLY to STRING quoted as the open quote
# (_okof_q) needs; unquoted, a backslash before each special character.
_okof_quote() {
	case $_okof_q in
	\') REPLY=${1//\'/\'\\\'\'} ;;
	\")
		REPLY=$1
		REPLY=${REPLY//\\/\\\\}
		REPLY=${REPLY//\"/\\\"}
		REPLY=${REPLY//\$/\\\$}
		REPLY=${REPLY//\`/\\\`}
		REPLY=${REPLY//!/\"\'!\'\"} ;;
	*) printf -v REPLY %q "$1" ;;
	esac
}

# _okof_keys DASH PREFIX: adds to COMPREPLY the keys starting with PREFIX,
# from the store and secret given on the line, quoted.  Keys with a
# newline cannot be typed as one word of a line and are left out.  A key
# starting with - is added as it is when DASH is 1 (a -- is on the line),
# as -- -KEY when DASH is 0, and not at all when DASH is 2 (where -- would
# start a command: lock, cache, watch).
_okof_keys() {
	local k lead
	local -a keys
	mapfile -t -d '' keys < <(command okof "${_okof_g[@]}" list -0 -- \
		"$2" 2>/dev/null)
	for k in "${keys[@]}"; do
		[[ $k == *$'\n'* || $k != "$2"* ]] && continue
		lead=
		if [[ $1 != 1 && $k == -* ]]; then
			[[ $1 == 0 && -z $_okof_keep && -z $_okof_q ]] || continue
			lead='-- '
		fi
		_okof_quote "${k#"$_okof_keep"}"
		# readline closes the open quote after the one match, unless
		# the match already ends in that quote character (\" or '\'').
		[[ -n $_okof_q && $REPLY == *"$_okof_q" ]] && REPLY+=$_okof_q
		COMPREPLY+=("$lead$REPLY")
	done
}

# _okof_files -d|-f WORD: directories or files, quoted by bash.
_okof_files() {
	local f
	compopt -o filenames 2>/dev/null
	COMPREPLY=()
	while IFS= read -r f; do
		COMPREPLY+=("${f#"$_okof_keep"}")
	done < <(compgen "$1" -- "$2")
}

_okof_opts() {
	case $1 in
	put) REPLY='--if-absent --ttl --no-sync' ;;
	get) REPLY='--default' ;;
	del) REPLY='-f --force --no-sync' ;;
	list) REPLY='-0 --null -l --long' ;;
	stat) REPLY='--json' ;;
	incr) REPLY='--no-sync' ;;
	verify) REPLY='-q --quiet' ;;
	gc) REPLY='-v --verbose' ;;
	init) REPLY='--encrypt --compress-threshold' ;;
	lock) REPLY='-n --no-wait --wait --max-time --status' ;;
	cache) REPLY='--ttl -n --no-wait --wait --max-time' ;;
	watch) REPLY='--prefix -0 --once --timeout --initial --interval' ;;
	*) REPLY= ;;
	esac
	REPLY+=" -d --dir -k --key-file -h --help"
}

_okof() {
	local -a _okof_w _okof_g=()
	local _okof_q _okof_keep REPLY
	_okof_split
	local cur=${_okof_w[-1]} prev= cmd= w i ddash=0 nops=0 after=-1
	local -i n=$((${#_okof_w[@]} - 1))
	for ((i = 1; i < n; i++)); do
		w=${_okof_w[i]}
		if ((after >= 0)); then
			((after++))
			continue
		fi
		if ((ddash)); then
			((nops++))
			continue
		fi
		case $w in
		-d | --dir | -k | --key-file)
			((i + 1 < n)) &&
				_okof_g+=("$w" "${_okof_w[i + 1]/#~\//$HOME/}")
			((i++)) ;;
		--dir=* | --key-file=* | -d?* | -k?*) _okof_g+=("$w") ;;
		--ttl | --compress-threshold | --default | --wait | --max-time | \
		--timeout | --interval | --prefix) ((i++)) ;;
		--)
			case $cmd in
			lock | cache | watch) after=0 ;;
			*) ddash=1 ;;
			esac ;;
		-?*) ;;
		*) if [[ -z $cmd ]]; then cmd=$w; else ((nops++)); fi ;;
		esac
	done
	((n > 1 && after < 0)) && prev=${_okof_w[n - 1]}
	COMPREPLY=()

	# The command of lock, cache or watch, then its arguments: by that
	# command's own completion where bash-completion is loaded.
	if ((after >= 0)) && declare -F _command_offset >/dev/null; then
		for ((i = 2; i < COMP_CWORD; i++)); do
			[[ ${COMP_WORDS[i]} == -- ]] && break
		done
		_command_offset $((i + 1))
		return
	elif ((after == 0)); then
		COMPREPLY=($(compgen -c -- "$cur"))
		return
	elif ((after > 0)); then
		_okof_files -f "$cur"
		return
	fi
	case $prev in
	-d | --dir) _okof_files -d "$cur"; return ;;
	-k | --key-file) _okof_files -f "$cur"; return ;;
	--prefix) _okof_keys 1 "$cur"; return ;;
	--ttl | --compress-threshold | --default | --wait | --max-time | \
	--timeout | --interval) return ;;
	esac
	case $cur in
	--dir=*)
		_okof_keep=${_okof_keep#--dir=}
		_okof_files -d "${cur#--dir=}"
		return ;;
	--key-file=*)
		_okof_keep=${_okof_keep#--key-file=}
		_okof_files -f "${cur#--key-file=}"
		return ;;
	esac
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '-d --dir -k --key-file -h --help -V --version' -- "$cur"))
		else
			COMPREPLY=($(compgen -W 'backup cache completion del export gc get has help import incr init keygen list lock put stat verify watch' -- "$cur"))
		fi
		return
	fi
	if [[ $cur == -* && $ddash == 0 ]]; then
		_okof_opts "$cmd"
		COMPREPLY=($(compgen -W "$REPLY" -- "$cur"))
		case $cmd in
		lock | cache | watch) [[ $cur == - || $cur == -- ]] && COMPREPLY+=(--) ;;
		esac
	fi
	case $cmd in
	get | has | stat | incr | put | list)
		((nops == 0)) && _okof_keys $ddash "$cur" ;;
	del) _okof_keys $ddash "$cur" ;;
	cache) ((nops == 0)) && _okof_keys 2 "$cur" ;;
	watch) _okof_keys 2 "$cur" ;;
	keygen) ((nops == 0)) && _okof_files -f "$cur" ;;
	backup) ((nops == 0)) && _okof_files -d "$cur" ;;
	completion) ((nops == 0)) && COMPREPLY=($(compgen -W 'bash zsh fish' -- "$cur")) ;;
	help) ((nops == 0)) && COMPREPLY=($(compgen -W 'backup cache completion del export gc get has help import incr init keygen list lock put stat verify watch' -- "$cur")) ;;
	esac
}
complete -F _okof okof
