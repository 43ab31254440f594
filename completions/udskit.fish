# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_udskit_global_optspecs
    string join \n color= q/quiet v/verbose h/help V/version
end

function __fish_udskit_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_udskit_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_udskit_using_subcommand
    set -l cmd (__fish_udskit_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c udskit -n "__fish_udskit_needs_command" -l color -d 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c udskit -n "__fish_udskit_needs_command" -s q -l quiet -d 'Print no diagnostics on stderr, only errors and warnings'
complete -c udskit -n "__fish_udskit_needs_command" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c udskit -n "__fish_udskit_needs_command" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "listen" -d 'Stream server: accept clients and bridge, collect, echo or exec them'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "connect" -d 'Bridge stdin/stdout to a socket (like nc -U)'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "ls" -d 'List listening unix sockets: path, type, state, processes, user, connections'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "generate" -d 'Write completions and man pages'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l exec -d 'Run CMD (with sh -c) per client, the connection as its stdin/stdout and UDSKIT_PEER_PID, UDSKIT_PEER_UID, UDSKIT_PEER_GID (or UDSKIT_PEER_ADDR) in its env' -r
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l max-clients -d 'Serve at most N clients at a time; more wait in the accept queue' -r
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l count -d 'Exit after N clients have been served (with -k, --echo or --exec)' -r
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l mode -d 'Permission bits of the socket file, applied before any client can connect' -r
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l color -d 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l seqpacket -d 'Use a SOCK_SEQPACKET socket'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -s k -l keep-open -d 'Serve clients concurrently, each one\'s bytes to stdout (socat unix-listen:P,fork STDOUT)'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l echo -d 'Echo server: every client gets its bytes back'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l force -d 'Replace a live socket at the path (a dead one is always replaced)'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -s q -l quiet -d 'Print no diagnostics on stderr, only errors and warnings'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_using_subcommand connect" -l wait -d 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)' -r
complete -c udskit -n "__fish_udskit_using_subcommand connect" -l color -d 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c udskit -n "__fish_udskit_using_subcommand connect" -l seqpacket -d 'Use a SOCK_SEQPACKET socket (each stdin read is sent as one record)'
complete -c udskit -n "__fish_udskit_using_subcommand connect" -s q -l quiet -d 'Print no diagnostics on stderr, only errors and warnings'
complete -c udskit -n "__fish_udskit_using_subcommand connect" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_using_subcommand connect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c udskit -n "__fish_udskit_using_subcommand connect" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s c -l command -d 'Only sockets held by a process whose command name starts with NAME (repeatable)' -r
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s p -l pid -d 'Only sockets held by process PID (repeatable)' -r
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s u -l user -d 'Only sockets owned by USER (a name or uid; repeatable)' -r
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s t -l type -d 'Only sockets of this type (repeatable)' -r -f -a "stream\t''
seqpacket\t''
datagram\t''"
complete -c udskit -n "__fish_udskit_using_subcommand ls" -l stale -d 'Instead: socket files under DIR (default /tmp /run /var/run) that no socket is bound to' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand ls" -l color -d 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s l -l long -d 'Add inode, descriptor numbers, accept queue, socket file mode and owner:group'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s a -l all -d 'All unix sockets: also connected and unnamed ones'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -l peers -d 'With -a: show the process at the other end of each connected socket'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -l json -d 'Print a JSON array (keys listed in the README) instead of a table'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s q -l quiet -d 'Print no diagnostics on stderr, only errors and warnings'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_using_subcommand generate" -l out-dir -d 'Directory that receives completions/ and man/' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand generate" -l color -d 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c udskit -n "__fish_udskit_using_subcommand generate" -s q -l quiet -d 'Print no diagnostics on stderr, only errors and warnings'
complete -c udskit -n "__fish_udskit_using_subcommand generate" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_using_subcommand generate" -s h -l help -d 'Print help'
complete -c udskit -n "__fish_udskit_using_subcommand generate" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect ls generate help" -f -a "listen" -d 'Stream server: accept clients and bridge, collect, echo or exec them'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect ls generate help" -f -a "connect" -d 'Bridge stdin/stdout to a socket (like nc -U)'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect ls generate help" -f -a "ls" -d 'List listening unix sockets: path, type, state, processes, user, connections'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect ls generate help" -f -a "generate" -d 'Write completions and man pages'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect ls generate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
