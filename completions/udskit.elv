
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
            cand http 'HTTP over a unix socket, like curl --unix-socket (Docker API, uvicorn, nginx)'
            cand grpc 'gRPC over a unix socket, like grpcurl (containerd, CRI and CSI sockets, sidecars)'
            cand relay 'Relay connections between two stream addresses (TCP <-> UDS)'
            cand ls 'List listening unix sockets: path, type, state, processes, user, connections'
            cand generate 'Write completions and man pages'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'udskit;listen'= {
            cand --exec 'Run CMD (with sh -c) per client, the connection as its stdin/stdout and UDSKIT_PEER_PID, UDSKIT_PEER_UID, UDSKIT_PEER_GID (or UDSKIT_PEER_ADDR) in its env'
            cand --max-clients 'Serve at most N clients at a time; more wait in the accept queue'
            cand --count 'Exit after N clients have been served (with -k, --echo or --exec)'
            cand --mode 'Permission bits of the socket file (0 to 777), given to it as bind creates it'
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
            cand --connect-timeout 'Give up a connection attempt that does not complete within DURATION'
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
            cand --mode 'Permission bits of the socket file (0 to 777), given to it as bind creates it'
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
            cand --mode 'Permission bits of the socket file (0 to 777), given to it as bind creates it'
            cand --color 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never'
            cand --newline 'Print a newline after each datagram'
            cand --json 'One JSON object per datagram and line: time, sender, sender_encoding, size, pid, uid, gid, encoding, data'
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
        &'udskit;http'= {
            cand -X 'The method (as curl -X; a METHOD argument does the same)'
            cand --request 'The method (as curl -X; a METHOD argument does the same)'
            cand -H 'A request header, ''Name: value'' (repeatable); ''Name:'' drops a default one'
            cand --header 'A request header, ''Name: value'' (repeatable); ''Name:'' drops a default one'
            cand -d 'Send DATA, @FILE or @- (stdin) as the body, byte for byte; POST unless a method is given. DATA goes as a form (as curl''s), a file or stdin as application/octet-stream'
            cand --data 'Send DATA, @FILE or @- (stdin) as the body, byte for byte; POST unless a method is given. DATA goes as a form (as curl''s), a file or stdin as application/octet-stream'
            cand --json 'Send DATA, @FILE or @- as a JSON body (sets Content-Type and Accept)'
            cand -A 'The User-Agent header [default: udskit/VERSION]'
            cand --user-agent 'The User-Agent header [default: udskit/VERSION]'
            cand -o 'Write the body to FILE instead of stdout (bytes unchanged); FILE is replaced only once the whole answer has arrived, and left as it was on any failure'
            cand --output 'Write the body to FILE instead of stdout (bytes unchanged); FILE is replaced only once the whole answer has arrived, and left as it was on any failure'
            cand -m 'Give up the whole request after DURATION (exit 28; what arrived is kept)'
            cand --max-time 'Give up the whole request after DURATION (exit 28; what arrived is kept)'
            cand --wait 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)'
            cand --connect-timeout 'Give up a connection attempt that does not complete within DURATION'
            cand --upgrade 'Ask to switch protocols (Connection: Upgrade, Upgrade: PROTOCOL, e.g. tcp); a 101 answer bridges the connection to stdin/stdout with half-close'
            cand --color 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never'
            cand --http2 'Speak HTTP/2 without TLS from the first byte (h2c prior knowledge, as gRPC servers do)'
            cand -i 'Print the status line and headers before the body'
            cand --include 'Print the status line and headers before the body'
            cand -I 'HEAD request: print the status line and headers only'
            cand --head 'HEAD request: print the status line and headers only'
            cand -f 'Exit 22 when the status is 400 or more (the body is still shown)'
            cand --fail 'Exit 22 when the status is 400 or more (the body is still shown)'
            cand --demux 'Split docker''s multiplexed frames onto stdout and stderr (automatic when the answer is marked or recognisably multiplexed)'
            cand --pretty 'Format the body as on a terminal even when piped (JSON pretty-printed)'
            cand --raw 'The body''s bytes unchanged even on a terminal (no formatting, no demultiplexing)'
            cand -q 'Print no diagnostics on stderr, only errors and warnings'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings'
            cand -v 'Print more diagnostics on stderr'
            cand --verbose 'Print more diagnostics on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'udskit;grpc'= {
            cand -d 'The request: JSON, @FILE or @- (stdin). For a streaming request, JSON messages one after the other (stdin: one per line, sent as each line arrives); stdin by default'
            cand --data 'The request: JSON, @FILE or @- (stdin). For a streaming request, JSON messages one after the other (stdin: one per line, sent as each line arrives); stdin by default'
            cand -H 'Metadata sent with the call and with reflection requests, ''name: value'' (repeatable); a name ending in -bin takes base64'
            cand --header 'Metadata sent with the call and with reflection requests, ''name: value'' (repeatable); a name ending in -bin takes base64'
            cand --authority 'The :authority of every request'
            cand --proto 'Take the schema from this .proto file instead of reflection (repeatable)'
            cand -I 'Where imports of --proto files are looked up (repeatable; default: each file''s directory); google/protobuf''s own files are built in'
            cand --import-path 'Where imports of --proto files are looked up (repeatable; default: each file''s directory); google/protobuf''s own files are built in'
            cand --protoset 'Take the schema from this FileDescriptorSet (protoc --include_imports --descriptor_set_out) instead of reflection (repeatable)'
            cand -m 'Give up the whole command after DURATION (exit 68, DEADLINE_EXCEEDED); the call''s deadline is sent to the server as grpc-timeout'
            cand --max-time 'Give up the whole command after DURATION (exit 68, DEADLINE_EXCEEDED); the call''s deadline is sent to the server as grpc-timeout'
            cand --wait 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)'
            cand --connect-timeout 'Give up a connection attempt that does not complete within DURATION'
            cand --color 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never'
            cand --emit-defaults 'Answers with fields at their default values too (the protobuf JSON mapping leaves them out)'
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
            cand --connect-timeout 'Give up connecting to TARGET after DURATION (the client is closed); a unix TARGET whose accept queue is full is waited for until then'
            cand --idle-timeout 'Close a connection after DURATION without a byte either way (nginx''s proxy_timeout)'
            cand --max-connections 'Relay at most N connections at a time; more wait in the accept queue (never reset)'
            cand --grace 'On SIGINT/SIGTERM, give open connections DURATION to finish before closing them'
            cand --dump 'Show every chunk each way, tagged `#ID >` (to TARGET) or `#ID <` (back), with its time'
            cand --dump-file 'Write the --dump output to PATH instead of stderr'
            cand --busy-poll 'After bytes move, poll the sockets for DURATION (such as 50us) before sleeping: lower latency for request/response traffic, for a core kept busy while it flows'
            cand --copier 'How bytes move: splice or buffer (for measurements: bench/relay --copiers)'
            cand --mode 'Permission bits of the socket file (0 to 777), given to it as bind creates it'
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
            cand sendto 'Send datagrams to a unix datagram socket (syslog, NOTIFY_SOCKET, control sockets)'
            cand recvfrom 'Receive datagrams on a unix socket and print them (a datagram server)'
            cand http 'HTTP over a unix socket, like curl --unix-socket (Docker API, uvicorn, nginx)'
            cand grpc 'gRPC over a unix socket, like grpcurl (containerd, CRI and CSI sockets, sidecars)'
            cand relay 'Relay connections between two stream addresses (TCP <-> UDS)'
            cand ls 'List listening unix sockets: path, type, state, processes, user, connections'
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
        &'udskit;help;http'= {
        }
        &'udskit;help;grpc'= {
        }
        &'udskit;help;relay'= {
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
