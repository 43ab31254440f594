
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
            cand relay 'Relay connections between two stream addresses (TCP <-> UDS)'
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
        &'udskit;relay'= {
            cand --connect-timeout 'Give up connecting to TARGET after DURATION (the client is closed)'
            cand --idle-timeout 'Close a connection after DURATION without a byte either way (nginx''s proxy_timeout)'
            cand --max-connections 'Relay at most N connections at a time; more wait in the accept queue (never reset)'
            cand --grace 'On SIGINT/SIGTERM, give open connections DURATION to finish before closing them'
            cand --dump 'Show every chunk each way, tagged `#ID >` (to TARGET) or `#ID <` (back), with its time'
            cand --dump-file 'Write the --dump output to PATH instead of stderr'
            cand --copier 'How bytes move: auto, splice or buffer (for measurements: bench/relay --copiers)'
            cand --mode 'Permission bits of the socket file, applied before any client can connect'
            cand --color 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never'
            cand --json 'Log as JSON lines on stderr (one object per connection, and a summary)'
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
            cand relay 'Relay connections between two stream addresses (TCP <-> UDS)'
            cand generate 'Write completions and man pages'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'udskit;help;listen'= {
        }
        &'udskit;help;connect'= {
        }
        &'udskit;help;relay'= {
        }
        &'udskit;help;generate'= {
        }
        &'udskit;help;help'= {
        }
    ]
    $completions[$command]
}
