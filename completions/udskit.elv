
use builtin;
use str;

set edit:completion:arg-completer[udskit] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'udskit'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'udskit'= {
            cand --color 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never'
            cand -q 'Print no diagnostics on stderr, only errors and warnings'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings'
            cand -v 'Print more diagnostics on stderr'
            cand --verbose 'Print more diagnostics on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand listen 'Stream server: accept clients and bridge, collect, echo or exec them'
            cand connect 'Bridge stdin/stdout to a socket (like nc -U)'
            cand ls 'List listening unix sockets: path, type, state, processes, user, connections'
            cand generate 'Write completions and man pages'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'udskit;listen'= {
            cand --exec 'Run CMD (with sh -c) per client, the connection as its stdin/stdout and UDSKIT_PEER_PID, UDSKIT_PEER_UID, UDSKIT_PEER_GID (or UDSKIT_PEER_ADDR) in its env'
            cand --max-clients 'Serve at most N clients at a time; more wait in the accept queue'
            cand --count 'Exit after N clients have been served (with -k, --echo or --exec)'
            cand --mode 'Permission bits of the socket file, applied before any client can connect'
            cand --color 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never'
            cand --seqpacket 'Use a SOCK_SEQPACKET socket'
            cand -k 'Serve clients concurrently, each one''s bytes to stdout (socat unix-listen:P,fork STDOUT)'
            cand --keep-open 'Serve clients concurrently, each one''s bytes to stdout (socat unix-listen:P,fork STDOUT)'
            cand --echo 'Echo server: every client gets its bytes back'
            cand --force 'Replace a live socket at the path (a dead one is always replaced)'
            cand -q 'Print no diagnostics on stderr, only errors and warnings'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings'
            cand -v 'Print more diagnostics on stderr'
            cand --verbose 'Print more diagnostics on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'udskit;connect'= {
            cand --wait 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)'
            cand --color 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never'
            cand --seqpacket 'Use a SOCK_SEQPACKET socket (each stdin read is sent as one record)'
            cand -q 'Print no diagnostics on stderr, only errors and warnings'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings'
            cand -v 'Print more diagnostics on stderr'
            cand --verbose 'Print more diagnostics on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'udskit;ls'= {
            cand -c 'Only sockets held by a process whose command name starts with NAME (repeatable)'
            cand --command 'Only sockets held by a process whose command name starts with NAME (repeatable)'
            cand -p 'Only sockets held by process PID (repeatable)'
            cand --pid 'Only sockets held by process PID (repeatable)'
            cand -u 'Only sockets owned by USER (a name or uid; repeatable)'
            cand --user 'Only sockets owned by USER (a name or uid; repeatable)'
            cand -t 'Only sockets of this type (repeatable)'
            cand --type 'Only sockets of this type (repeatable)'
            cand --stale 'Instead: socket files under DIR (default /tmp /run /var/run) that no socket is bound to'
            cand --color 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never'
            cand -l 'Add inode, descriptor numbers, accept queue, socket file mode and owner:group'
            cand --long 'Add inode, descriptor numbers, accept queue, socket file mode and owner:group'
            cand -a 'All unix sockets: also connected and unnamed ones'
            cand --all 'All unix sockets: also connected and unnamed ones'
            cand --peers 'With -a: show the process at the other end of each connected socket'
            cand --json 'Print a JSON array (keys listed in the README) instead of a table'
            cand -q 'Print no diagnostics on stderr, only errors and warnings'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings'
            cand -v 'Print more diagnostics on stderr'
            cand --verbose 'Print more diagnostics on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'udskit;generate'= {
            cand --out-dir 'Directory that receives completions/ and man/'
            cand --color 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never'
            cand -q 'Print no diagnostics on stderr, only errors and warnings'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings'
            cand -v 'Print more diagnostics on stderr'
            cand --verbose 'Print more diagnostics on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'udskit;help'= {
            cand listen 'Stream server: accept clients and bridge, collect, echo or exec them'
            cand connect 'Bridge stdin/stdout to a socket (like nc -U)'
            cand ls 'List listening unix sockets: path, type, state, processes, user, connections'
            cand generate 'Write completions and man pages'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'udskit;help;listen'= {
        }
        &'udskit;help;connect'= {
        }
        &'udskit;help;ls'= {
        }
        &'udskit;help;generate'= {
        }
        &'udskit;help;help'= {
        }
    ]
    $completions[$command]
}
