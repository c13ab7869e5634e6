# fish completion for okof(1).  Load it with
#	okof completion fish | source
# or install it as share/fish/vendor_completions.d/okof.fish.
#
# fish quotes what it inserts, so a key with spaces, quotes, $, *, ? or [
# runs as shown.  fish inserts one completion as one word, so a key
# starting with - is offered only once a -- is on the line (okof get -- -k).
# Keys with a newline or a tab cannot be offered and are left out.

function __okof_complete
    set -l words (commandline -opc)
    set -l cur (commandline -ct)
    set -l g
    set -l cmd
    set -l ddash 0
    set -l nops 0
    set -l after 0
    set -l i 2
    while test $i -le (count $words)
        set -l w $words[$i]
        if test $ddash = 1
            set nops (math $nops + 1)
            set i (math $i + 1)
            continue
        end
        switch $w
            case -d --dir -k --key-file
                if test $i -lt (count $words)
                    set g $g $w $words[(math $i + 1)]
                end
                set i (math $i + 1)
            case '--dir=*' '--key-file=*' '-d?*' '-k?*'
                set g $g $w
            case --ttl --compress-threshold --default --wait --max-time \
                --timeout --interval --prefix
                set i (math $i + 1)
            case --
                if contains -- "$cmd" lock cache watch
                    set after $i
                    break
                end
                set ddash 1
            case '-?*'
            case '*'
                if test -z "$cmd"
                    set cmd $w
                else
                    set nops (math $nops + 1)
                end
        end
        set i (math $i + 1)
    end

    # The command of lock, cache or watch, completed as its own line.
    if test $after -gt 0
        set -l rest $words[(math $after + 1)..-1]
        complete -C (string join ' ' -- (string escape -- $rest) "$cur")
        return
    end

    set -l prev
    test (count $words) -gt 1; and set prev $words[-1]
    switch $prev
        case -d --dir
            __fish_complete_directories "$cur" directory
            return
        case -k --key-file
            __fish_complete_path "$cur"
            return
        case --prefix
            __okof_list 1 $g
            return
        case --ttl --compress-threshold --default --wait --max-time \
            --timeout --interval
            return
    end
    switch $cur
        case '--dir=*'
            __fish_complete_directories (string replace -- --dir= '' $cur) \
                directory | string replace -r -- '^' --dir=
            return
        case '--key-file=*'
            __fish_complete_path (string replace -- --key-file= '' $cur) |
                string replace -r -- '^' --key-file=
            return
    end

    set -l globals -d --dir -k --key-file -h --help
    if test -z "$cmd"
        if string match -q -- '-*' $cur
            printf '%s\n' $globals -V --version
        else
            printf '%s\n' \
                backup\t'copy the store' \
                cache\t'print a cached value or make it with a command' \
                completion\t'print a completion script' \
                del\t'delete keys' export\t'write JSON Lines' \
                gc\t'remove expired records and temp files' \
                get\t'write a value' has\t'test presence' \
                help\t'print the usage' import\t'read JSON Lines' \
                incr\t'add to a counter' init\t'create the store' \
                keygen\t'write a new secret key file' list\t'list keys' \
                lock\t'run a command under a lock' put\t'store a value' \
                stat\t'facts about a key' verify\t'check every record' \
                watch\t'report changes to keys'
        end
        return
    end
    if string match -q -- '-*' $cur; and test $ddash = 0
        set -l o
        switch $cmd
            case put
                set o --if-absent --ttl --no-sync
            case get
                set o --default
            case del
                set o -f --force --no-sync
            case list
                set o -0 --null -l --long
            case stat
                set o --json
            case incr
                set o --no-sync
            case verify
                set o -q --quiet
            case gc
                set o -v --verbose
            case init
                set o --encrypt --compress-threshold
            case lock
                set o -n --no-wait --wait --max-time --status --
            case cache
                set o --ttl -n --no-wait --wait --max-time --
            case watch
                set o --prefix -0 --once --timeout --initial --interval --
        end
        printf '%s\n' $o $globals
    end
    switch $cmd
        case get has stat incr put list cache
            test $nops = 0; and __okof_list $ddash $g
        case del watch
            __okof_list $ddash $g
        case keygen
            test $nops = 0; and __fish_complete_path "$cur"
        case backup
            test $nops = 0; and __fish_complete_directories "$cur" directory
        case completion
            test $nops = 0; and printf '%s\n' bash zsh fish
        case help
            test $nops = 0; and printf '%s\n' backup cache completion del \
                export gc get has help import incr init keygen list lock \
                put stat verify watch
    end
end

# __okof_list DASH ARGS...: the keys of the store that ARGS (-d, -k) name,
# those starting with - only when DASH is 1.  A token typed without quotes
# or backslashes is a prefix for okof list; fish filters the rest.
function __okof_list
    set -l dash $argv[1]
    set -e argv[1]
    set -l cur (commandline -ct)
    set -l pre
    string match -qr -- '^[^\'"\\\\$~]*$' $cur; and set pre $cur
    command okof $argv list -0 -- $pre 2>/dev/null | while read -lz k
        string match -q -- "*"\n"*" $k; and continue
        string match -q -- "*"\t"*" $k; and continue
        if test $dash != 1; and string match -q -- '-*' $k
            continue
        end
        printf '%s\n' $k
    end
end

complete -c okof -f -a '(__okof_complete)'
