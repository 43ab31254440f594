
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
            cand sendto 'Send datagrams to a unix datagram socket (syslog, NOTIFY_SOCKET, control sockets)'
            cand recvfrom 'Receive datagrams on a unix socket and print them (a datagram server)'
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
        &'udskit;sendto'= {
            cand --bind 'Send from this address (PATH or @NAME; with --reply, answers arrive there)'
            cand --timeout 'How long --reply waits for the answers (500ms, 10s, 2m)'
            cand --mode 'Permission bits of the socket file, applied before any client can connect'
            cand --color 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never'
            cand -l 'Send each line of stdin as one datagram, without its newline'
            cand --lines 'Send each line of stdin as one datagram, without its newline'
            cand -r 'Wait for the answers on a temporary return address and print them'
            cand --reply 'Wait for the answers on a temporary return address and print them'
            cand --newline 'Print a newline after each answer (the default with --lines)'
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
        &'udskit;recvfrom'= {
            cand -n 'Exit after N datagrams'
            cand --count 'Exit after N datagrams'
            cand --mode 'Permission bits of the socket file, applied before any client can connect'
            cand --color 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never'
            cand --newline 'Print a newline after each datagram'
            cand --json 'One JSON object per datagram and line: time, sender, size, pid, uid, gid, encoding, data'
            cand --hexdump 'Print each datagram as a hex dump after a line naming its size and sender'
            cand --echo 'Send every datagram back to its sender (senders without an address get nothing)'
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
            cand sendto 'Send datagrams to a unix datagram socket (syslog, NOTIFY_SOCKET, control sockets)'
            cand recvfrom 'Receive datagrams on a unix socket and print them (a datagram server)'
            cand generate 'Write completions and man pages'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'udskit;help;listen'= {
        }
        &'udskit;help;connect'= {
        }
        &'udskit;help;sendto'= {
        }
        &'udskit;help;recvfrom'= {
        }
        &'udskit;help;generate'= {
        }
        &'udskit;help;help'= {
        }
    ]
    $completions[$command]
}
