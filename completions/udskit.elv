
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
            cand -q 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
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
            cand relay 'Relay connections between two stream addresses (TCP <-> UDS)'
            cand generate 'Write completions and man pages'
            cand http 'HTTP over a unix socket, like curl --unix-socket (Docker API, uvicorn, nginx)'
            cand ls 'List listening unix sockets: path, type, state, processes, user, connections'
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
            cand -q 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
            cand -v 'Print more diagnostics on stderr'
            cand --verbose 'Print more diagnostics on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'udskit;connect'= {
            cand -q 'After stdin''s end, quit within DURATION even if the server still sends (nc -q, socat -t); `never`: wait for the server to close [default: 1s of quiet once it answered]'
            cand --quit-after 'After stdin''s end, quit within DURATION even if the server still sends (nc -q, socat -t); `never`: wait for the server to close [default: 1s of quiet once it answered]'
            cand --quit 'After stdin''s end, quit within DURATION even if the server still sends (nc -q, socat -t); `never`: wait for the server to close [default: 1s of quiet once it answered]'
            cand -w 'Close the connection after DURATION without data either way; also bounds the connect (nc -w)'
            cand --idle-timeout 'Close the connection after DURATION without data either way; also bounds the connect (nc -w)'
            cand --wait 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)'
            cand --connect-timeout 'Give up a connection attempt that does not complete within DURATION'
            cand --color 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never'
            cand --seqpacket 'Use a SOCK_SEQPACKET socket (each stdin read is sent as one record)'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings (also `udskit -q connect`)'
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
            cand -q 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
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
            cand -q 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
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
            cand -q 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
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
            cand -q 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
            cand -v 'Print more diagnostics on stderr'
            cand --verbose 'Print more diagnostics on stderr'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'udskit;http'= {
            cand --unix-socket 'The socket file, as curl''s option: TARGET is then a URL or a path, and no SOCKET argument is given'
            cand --abstract-unix-socket 'A socket in the Linux abstract namespace, as curl''s option (NAME without the ''@'')'
            cand -H 'A request header, ''Name: value'' (repeatable); ''Name:'' drops a default one'
            cand --header 'A request header, ''Name: value'' (repeatable); ''Name:'' drops a default one'
            cand -d 'Send DATA as the body (a form, as curl''s); POST unless a method is given. @FILE or @- (stdin) read it with CR and LF left out, as curl does (--data-binary keeps them). Several -d/--data-* are joined with ''&'' in order'
            cand --data 'Send DATA as the body (a form, as curl''s); POST unless a method is given. @FILE or @- (stdin) read it with CR and LF left out, as curl does (--data-binary keeps them). Several -d/--data-* are joined with ''&'' in order'
            cand --data-binary 'Send DATA, @FILE or @- byte for byte; a file or stdin goes as application/octet-stream'
            cand --data-raw 'Send DATA as it is written, ''@'' included'
            cand --data-urlencode 'Send DATA URL-encoded, in curl''s forms: content, =content, name=content, @FILE, name@FILE (the name is sent as it is)'
            cand --json 'Send DATA, @FILE or @- as a JSON body (sets Content-Type and Accept)'
            cand -F 'A multipart/form-data field (repeatable), as curl''s: name=value, name=@FILE (a file, streamed; ;type=T and ;filename=N may follow), ''name=<FILE'' (a text field from a file)'
            cand --form 'A multipart/form-data field (repeatable), as curl''s: name=value, name=@FILE (a file, streamed; ;type=T and ;filename=N may follow), ''name=<FILE'' (a text field from a file)'
            cand -T 'PUT FILE (or - for stdin) as the body, streamed; a TARGET ending in ''/'' gets the file''s name appended, as curl does'
            cand --upload-file 'PUT FILE (or - for stdin) as the body, streamed; a TARGET ending in ''/'' gets the file''s name appended, as curl does'
            cand -u 'Basic authentication (Authorization: Basic); a -H Authorization wins. udskit never prompts: give the password too'
            cand --user 'Basic authentication (Authorization: Basic); a -H Authorization wins. udskit never prompts: give the password too'
            cand --max-redirs 'At most N redirects with -L (-1: no limit); one more is exit 47, as curl''s'
            cand -A 'The User-Agent header [default: udskit/VERSION]'
            cand --user-agent 'The User-Agent header [default: udskit/VERSION]'
            cand -o 'Write the body to FILE instead of stdout (bytes unchanged); FILE is replaced only once the whole answer has arrived, and left as it was on any failure'
            cand --output 'Write the body to FILE instead of stdout (bytes unchanged); FILE is replaced only once the whole answer has arrived, and left as it was on any failure'
            cand -m 'Give up the whole request after DURATION (exit 28; what arrived is kept)'
            cand --max-time 'Give up the whole request after DURATION (exit 28; what arrived is kept)'
            cand --wait 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)'
            cand --connect-timeout 'Give up a connection attempt that does not complete within DURATION'
            cand --upgrade 'Ask to switch protocols (Connection: Upgrade, Upgrade: PROTOCOL, e.g. tcp); a 101 answer bridges the connection to stdin/stdout with half-close'
            cand -w 'After the transfer (also a failed one) print FORMAT, @FILE or @- on stdout, as curl -w: %{http_code} ... %{stderr} switches to stderr, %header{NAME}, \n \t \r, %%'
            cand --write-out 'After the transfer (also a failed one) print FORMAT, @FILE or @- on stdout, as curl -w: %{http_code} ... %{stderr} switches to stderr, %header{NAME}, \n \t \r, %%'
            cand -D 'Write the status line and headers, as received (CRLF), to FILE; - is stdout, before the body'
            cand --dump-header 'Write the status line and headers, as received (CRLF), to FILE; - is stdout, before the body'
            cand -X 'The method (as curl -X; a METHOD argument does the same)'
            cand --request 'The method (as curl -X; a METHOD argument does the same)'
            cand --color 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never'
            cand -G 'Put the -d/--data-* data in the URL''s query and send a GET (HEAD with -I)'
            cand --get 'Put the -d/--data-* data in the URL''s query and send a GET (HEAD with -I)'
            cand -L 'Follow redirects (3xx with a Location) on the same socket, as curl: 301/302 turn a POST into a GET, 303 anything but HEAD, 307/308 keep the method and the body'
            cand --location 'Follow redirects (3xx with a Location) on the same socket, as curl: 301/302 turn a POST into a GET, 303 anything but HEAD, 307/308 keep the method and the body'
            cand --http2 'Speak HTTP/2 without TLS from the first byte (h2c prior knowledge, as gRPC servers do)'
            cand --http1.1 'HTTP/1.1, the default (accepted for curl''s sake)'
            cand -k 'Accepted for curl''s sake, and meaningless here: plain HTTP on a socket has no TLS'
            cand --insecure 'Accepted for curl''s sake, and meaningless here: plain HTTP on a socket has no TLS'
            cand -N 'Accepted for curl''s sake: bodies always stream, nothing is buffered'
            cand --no-buffer 'Accepted for curl''s sake: bodies always stream, nothing is buffered'
            cand -i 'Print the status line and headers before the body'
            cand --include 'Print the status line and headers before the body'
            cand -I 'HEAD request: print the status line and headers only'
            cand --head 'HEAD request: print the status line and headers only'
            cand -f 'Exit 22 when the status is 400 or more (the body is still shown)'
            cand --fail 'Exit 22 when the status is 400 or more (the body is still shown)'
            cand --demux 'Split docker''s multiplexed frames onto stdout and stderr (automatic when the answer is marked or recognisably multiplexed)'
            cand --pretty 'Format the body as on a terminal even when piped (JSON pretty-printed)'
            cand --raw 'The body''s bytes unchanged even on a terminal (no formatting, no demultiplexing, docker progress left as JSON and not read for errors)'
            cand -s 'No progress bar, no diagnostics, no warnings and no error message, as curl -s (the exit code still tells; -v still shows the exchange). -q alone is -sS: errors and warnings shown, nothing else'
            cand --silent 'No progress bar, no diagnostics, no warnings and no error message, as curl -s (the exit code still tells; -v still shows the exchange). -q alone is -sS: errors and warnings shown, nothing else'
            cand -S 'With -s, print the error message when the request fails anyway (curl -sS)'
            cand --show-error 'With -s, print the error message when the request fails anyway (curl -sS)'
            cand --compressed 'Ask for a compressed answer (Accept-Encoding: gzip, deflate, br, zstd) and decode it as it streams; -o and the terminal get the decoded bytes (exit 61 when it cannot be decoded). Without it the body stays as sent'
            cand -O 'Write the body to the file named by the last segment of TARGET''s path, in the current directory, as -o does (curl -O)'
            cand --remote-name 'Write the body to the file named by the last segment of TARGET''s path, in the current directory, as -o does (curl -O)'
            cand -q 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
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
            cand -t 'Only sockets of this type (repeatable)'
            cand --type 'Only sockets of this type (repeatable)'
            cand --stale 'Instead: socket files under DIR (default /tmp /run /var/run) that no socket is bound to'
            cand --graph 'Instead: draw who connects to which listener, as Graphviz DOT or a Mermaid flowchart'
            cand --interval 'With --watch: the time between two listings (a DURATION, e.g. 500ms)'
            cand --netns 'Only network namespace NS: host, its inode, pid:PID, a container name or id prefix (repeatable)'
            cand -u 'Only sockets owned by USER (a name or uid; repeatable)'
            cand --user 'Only sockets owned by USER (a name or uid; repeatable)'
            cand --color 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never'
            cand -l 'Add inode, descriptor numbers, accept queue, socket file mode and owner:group'
            cand --long 'Add inode, descriptor numbers, accept queue, socket file mode and owner:group'
            cand -a 'All unix sockets: also connected and unnamed ones'
            cand --all 'All unix sockets: also connected and unnamed ones'
            cand --peers 'With -a: show the process at the other end of each connected socket'
            cand --json 'Print a JSON array (keys listed in the README) instead of a table'
            cand --watch 'Take the listing again every --interval: a table redrawn in place, or JSON events when piped (or with --json)'
            cand --changes-only 'With --watch: report changes only, not the sockets already there at the start'
            cand --pids 'Print only the pids holding the listed sockets, one per line (lsof''s -t)'
            cand -x 'Unix sockets only, which is all ls lists (ss''s -x; also -U, lsof''s, and -n)'
            cand -q 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
            cand --quiet 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)'
            cand -v 'Print more diagnostics on stderr'
            cand --verbose 'Print more diagnostics on stderr'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'udskit;help'= {
            cand listen 'Stream server: accept clients and bridge, collect, echo or exec them'
            cand connect 'Bridge stdin/stdout to a socket (like nc -U)'
            cand sendto 'Send datagrams to a unix datagram socket (syslog, NOTIFY_SOCKET, control sockets)'
            cand recvfrom 'Receive datagrams on a unix socket and print them (a datagram server)'
            cand relay 'Relay connections between two stream addresses (TCP <-> UDS)'
            cand generate 'Write completions and man pages'
            cand http 'HTTP over a unix socket, like curl --unix-socket (Docker API, uvicorn, nginx)'
            cand ls 'List listening unix sockets: path, type, state, processes, user, connections'
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
        &'udskit;help;relay'= {
        }
        &'udskit;help;generate'= {
        }
        &'udskit;help;http'= {
        }
        &'udskit;help;ls'= {
        }
        &'udskit;help;help'= {
        }
    ]
    $completions[$command]
}
