
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'udskit' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'udskit'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'udskit' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Stream server: accept clients and bridge, collect, echo or exec them')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Bridge stdin/stdout to a socket (like nc -U)')
            [CompletionResult]::new('sendto', 'sendto', [CompletionResultType]::ParameterValue, 'Send datagrams to a unix datagram socket (syslog, NOTIFY_SOCKET, control sockets)')
            [CompletionResult]::new('recvfrom', 'recvfrom', [CompletionResultType]::ParameterValue, 'Receive datagrams on a unix socket and print them (a datagram server)')
            [CompletionResult]::new('grpc', 'grpc', [CompletionResultType]::ParameterValue, 'gRPC over a unix socket, like grpcurl (containerd, CRI and CSI sockets, sidecars)')
            [CompletionResult]::new('relay', 'relay', [CompletionResultType]::ParameterValue, 'Relay connections between two stream addresses (TCP <-> UDS)')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write completions and man pages')
            [CompletionResult]::new('http', 'http', [CompletionResultType]::ParameterValue, 'HTTP over a unix socket, like curl --unix-socket (Docker API, uvicorn, nginx)')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List listening unix sockets: path, type, state, processes, user, connections')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'udskit;listen' {
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Run CMD (with sh -c) per client, the connection as its stdin/stdout and UDSKIT_PEER_PID, UDSKIT_PEER_UID, UDSKIT_PEER_GID (or UDSKIT_PEER_ADDR) in its env')
            [CompletionResult]::new('--max-clients', '--max-clients', [CompletionResultType]::ParameterName, 'Serve at most N clients at a time; more wait in the accept queue')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Exit after N clients have been served (with -k, --echo or --exec)')
            [CompletionResult]::new('--pcap', '--pcap', [CompletionResultType]::ParameterName, 'Capture every client into FILE (pcapng; - for stdout with --echo) as a TCP flow that Wireshark and tshark decode; bytes then move through user space (descriptors taken by --take-fds are logged, not captured)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Permission bits of the socket file (0 to 777), given to it as bind creates it')
            [CompletionResult]::new('--listen-fd', '--listen-fd', [CompletionResultType]::ParameterName, 'Serve on an inherited socket instead of binding: descriptor N (socat''s ACCEPT-FD), or the one systemd passed under NAME (FileDescriptorName=); the address argument may then be left out, and if given must be the socket''s own')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('--seqpacket', '--seqpacket', [CompletionResultType]::ParameterName, 'Use a SOCK_SEQPACKET socket')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Serve clients concurrently, each one''s bytes to stdout (socat unix-listen:P,fork STDOUT)')
            [CompletionResult]::new('--keep-open', '--keep-open', [CompletionResultType]::ParameterName, 'Serve clients concurrently, each one''s bytes to stdout (socat unix-listen:P,fork STDOUT)')
            [CompletionResult]::new('--echo', '--echo', [CompletionResultType]::ParameterName, 'Echo server: every client gets its bytes back')
            [CompletionResult]::new('--take-fds', '--take-fds', [CompletionResultType]::ParameterName, 'Take the descriptors each client passes with its first bytes (SCM_RIGHTS): log them, and with --exec hand them to CMD as fds 3.. (UDSKIT_FDS=count); waits for those bytes first (unix sockets)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace a live socket at the path (a dead one is always replaced)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'udskit;connect' {
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'After stdin''s end, quit within DURATION even if the server still sends (nc -q, socat -t); `never`: wait for the server to close [default: 1s of quiet once it answered]')
            [CompletionResult]::new('--quit-after', '--quit-after', [CompletionResultType]::ParameterName, 'After stdin''s end, quit within DURATION even if the server still sends (nc -q, socat -t); `never`: wait for the server to close [default: 1s of quiet once it answered]')
            [CompletionResult]::new('--quit', '--quit', [CompletionResultType]::ParameterName, 'After stdin''s end, quit within DURATION even if the server still sends (nc -q, socat -t); `never`: wait for the server to close [default: 1s of quiet once it answered]')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'Close the connection after DURATION without data either way; also bounds the connect (nc -w); 0: no limit')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close the connection after DURATION without data either way; also bounds the connect (nc -w); 0: no limit')
            [CompletionResult]::new('--send-fd', '--send-fd', [CompletionResultType]::ParameterName, 'Pass our open descriptor N to the server with the first bytes of stdin (SCM_RIGHTS; repeatable; unix sockets)')
            [CompletionResult]::new('--send-file', '--send-file', [CompletionResultType]::ParameterName, 'Open PATH read-only and pass it with the first bytes of stdin (repeatable)')
            [CompletionResult]::new('--pcap', '--pcap', [CompletionResultType]::ParameterName, 'Capture the connection into FILE (pcapng) as a TCP flow that Wireshark and tshark decode (a tls: connection''s plaintext); bytes then move through user space (descriptors passed are not captured)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up a connection attempt that does not complete within DURATION; 0: no limit')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'For a tls: address, trust the CA certificates of FILE (PEM) instead of the system''s')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('--seqpacket', '--seqpacket', [CompletionResultType]::ParameterName, 'Use a SOCK_SEQPACKET socket (each stdin read is sent as one record)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (also `udskit -q connect`)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'For a tls: address, accept any server certificate, unchecked (curl -k): anyone on the path can read and change the traffic')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'udskit;sendto' {
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Send from this address (PATH or @NAME; with --reply, answers arrive there)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long --reply waits for the answers (500ms, 10s, 2m)')
            [CompletionResult]::new('--fd', '--fd', [CompletionResultType]::ParameterName, 'Pass our open descriptor N with the datagram (SCM_RIGHTS; repeatable), e.g. one the shell opened with `3<FILE`')
            [CompletionResult]::new('--send-file', '--send-file', [CompletionResultType]::ParameterName, 'Open PATH read-only and pass it with the datagram (repeatable)')
            [CompletionResult]::new('--pcap', '--pcap', [CompletionResultType]::ParameterName, 'Capture every datagram sent (and answer received) into FILE as UDP packets (pcapng; - for stdout, unless --reply prints answers there)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Permission bits of the socket file (0 to 777), given to it as bind creates it')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Send each line of stdin as one datagram, without its newline')
            [CompletionResult]::new('--lines', '--lines', [CompletionResultType]::ParameterName, 'Send each line of stdin as one datagram, without its newline')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Wait for the answers on a temporary return address and print them')
            [CompletionResult]::new('--reply', '--reply', [CompletionResultType]::ParameterName, 'Wait for the answers on a temporary return address and print them')
            [CompletionResult]::new('--newline', '--newline', [CompletionResultType]::ParameterName, 'Print a newline after each answer (the default with --lines)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace a live socket at the path (a dead one is always replaced)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'udskit;recvfrom' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Exit after N datagrams')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Exit after N datagrams')
            [CompletionResult]::new('--pcap', '--pcap', [CompletionResultType]::ParameterName, 'Capture every datagram (and --echo answer) into FILE as UDP packets (pcapng); with - the capture goes to stdout instead of the datagrams')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Permission bits of the socket file (0 to 777), given to it as bind creates it')
            [CompletionResult]::new('--listen-fd', '--listen-fd', [CompletionResultType]::ParameterName, 'Serve on an inherited socket instead of binding: descriptor N (socat''s ACCEPT-FD), or the one systemd passed under NAME (FileDescriptorName=); the address argument may then be left out, and if given must be the socket''s own')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('--newline', '--newline', [CompletionResultType]::ParameterName, 'Print a newline after each datagram')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON object per datagram and line: time, sender, sender_encoding, size, pid, uid, gid, encoding, data (and fds when descriptors came with it)')
            [CompletionResult]::new('--hexdump', '--hexdump', [CompletionResultType]::ParameterName, 'Print each datagram as a hex dump after a line naming its size and sender')
            [CompletionResult]::new('--echo', '--echo', [CompletionResultType]::ParameterName, 'Send every datagram back to its sender (senders without an address get nothing)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace a live socket at the path (a dead one is always replaced)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'udskit;grpc' {
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'The request: JSON, @FILE or @- (stdin). For a streaming request, JSON messages one after the other (stdin: one per line, sent as each line arrives); stdin by default')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'The request: JSON, @FILE or @- (stdin). For a streaming request, JSON messages one after the other (stdin: one per line, sent as each line arrives); stdin by default')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'Metadata sent with the call and with reflection requests, ''name: value'' (repeatable); a name ending in -bin takes base64')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'Metadata sent with the call and with reflection requests, ''name: value'' (repeatable); a name ending in -bin takes base64')
            [CompletionResult]::new('--authority', '--authority', [CompletionResultType]::ParameterName, 'The :authority of every request')
            [CompletionResult]::new('--proto', '--proto', [CompletionResultType]::ParameterName, 'Take the schema from this .proto file instead of reflection (repeatable)')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'Where imports of --proto files are looked up (repeatable; default: each file''s directory); google/protobuf''s own files are built in')
            [CompletionResult]::new('--import-path', '--import-path', [CompletionResultType]::ParameterName, 'Where imports of --proto files are looked up (repeatable; default: each file''s directory); google/protobuf''s own files are built in')
            [CompletionResult]::new('--protoset', '--protoset', [CompletionResultType]::ParameterName, 'Take the schema from this FileDescriptorSet (protoc --include_imports --descriptor_set_out) instead of reflection (repeatable)')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Give up the whole command after DURATION (exit 68, DEADLINE_EXCEEDED); the call''s deadline is sent to the server as grpc-timeout; 0: no limit')
            [CompletionResult]::new('--max-time', '--max-time', [CompletionResultType]::ParameterName, 'Give up the whole command after DURATION (exit 68, DEADLINE_EXCEEDED); the call''s deadline is sent to the server as grpc-timeout; 0: no limit')
            [CompletionResult]::new('--max-msg-sz', '--max-msg-sz', [CompletionResultType]::ParameterName, 'The largest answer message to take, in bytes (grpcurl''s -max-msg-sz); a larger one ends the call, exit 72 (RESOURCE_EXHAUSTED), before its bytes are read')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up a connection attempt that does not complete within DURATION; 0: no limit')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('--emit-defaults', '--emit-defaults', [CompletionResultType]::ParameterName, 'Answers with fields at their default values too (the protobuf JSON mapping leaves them out)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'udskit;relay' {
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to TARGET after DURATION (the client is closed); a unix TARGET whose accept queue is full is waited for until then')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close a connection after DURATION without a byte either way (nginx''s proxy_timeout); 0: no limit')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Relay at most N connections at a time; more wait in the accept queue (never reset)')
            [CompletionResult]::new('--threads', '--threads', [CompletionResultType]::ParameterName, 'Relay on N workers, each a thread with its own event loop: a TCP LISTEN gets a socket per worker (SO_REUSEPORT), a unix one''s clients are handed to the least busy [default: the CPUs udskit may run on, at most 16; 1 for datagrams]')
            [CompletionResult]::new('--unix-accept', '--unix-accept', [CompletionResultType]::ParameterName, 'With --threads on a unix LISTEN, how the workers share it: one accepts and hands each client to the least busy, or each accepts from the one socket, all woken by every client (for measurements: bench/relay --only scale)')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'On SIGINT/SIGTERM, give open connections DURATION to finish before closing them')
            [CompletionResult]::new('--dump', '--dump', [CompletionResultType]::ParameterName, 'Show every chunk each way, tagged `#ID >` (to TARGET) or `#ID <` (back), with its time')
            [CompletionResult]::new('--dump-file', '--dump-file', [CompletionResultType]::ParameterName, 'Write the --dump output to PATH instead of stderr')
            [CompletionResult]::new('--pcap', '--pcap', [CompletionResultType]::ParameterName, 'Capture every connection into FILE (pcapng; - for stdout) as a TCP flow that Wireshark and tshark decode (HTTP, HTTP/2, ...); spliced bytes reach it by tee(2) and splice, their TCP checksum left 0; a tls: side''s plaintext (stream relays only; descriptors passed by --pass-fds are not captured; with --http, the client''s side of each connection, the guard''s own answers included)')
            [CompletionResult]::new('--busy-poll', '--busy-poll', [CompletionResultType]::ParameterName, 'After every chunk, poll the sockets for DURATION (such as 50us) before sleeping, whatever the load; 0: never [default: 50us after the chunks of a connection that ping-pongs, while a CPU is free]')
            [CompletionResult]::new('--copier', '--copier', [CompletionResultType]::ParameterName, 'How bytes move: splice or buffer (for measurements: bench/relay --copiers)')
            [CompletionResult]::new('--header-timeout', '--header-timeout', [CompletionResultType]::ParameterName, 'With --http, close a client that takes longer than DURATION to send a request head (from connecting, or from the first byte of a later head), answering 408 if it had begun one, or the body of a request the guard checks; 0 turns it off')
            [CompletionResult]::new('--allow', '--allow', [CompletionResultType]::ParameterName, 'With --http, forward requests of METHOD (GET, a list such as GET,POST, or *) whose path matches PATH-GLOB (* within a segment, ** across; /v1.NN/ optional); repeatable, and the first --allow or --deny that matches decides')
            [CompletionResult]::new('--deny', '--deny', [CompletionResultType]::ParameterName, 'With --http, answer 403 to requests of METHOD whose path matches PATH-GLOB')
            [CompletionResult]::new('--preset', '--preset', [CompletionResultType]::ParameterName, 'With --http, allow what a known client needs (README lists each preset''s rules)')
            [CompletionResult]::new('--rules', '--rules', [CompletionResultType]::ParameterName, 'With --http, also the rules of FILE (TOML, or YAML when named .yaml or .yml): rules for everyone and [[peer]] sections for clients by uid, user, gid or group (README, relay --http, shows one)')
            [CompletionResult]::new('--allow-uid', '--allow-uid', [CompletionResultType]::ParameterName, 'With --http on a unix LISTEN, let in only clients of user UID (a number or a name; repeatable; as SO_PEERCRED tells): the others get a 403')
            [CompletionResult]::new('--allow-gid', '--allow-gid', [CompletionResultType]::ParameterName, 'With --http on a unix LISTEN, let in only clients whose primary group is GID (a number or a name; repeatable); with --allow-uid, either lets a client in')
            [CompletionResult]::new('--allow-bind', '--allow-bind', [CompletionResultType]::ParameterName, 'With --http, let a create bind-mount host paths under PREFIX (repeatable); without it, no host path at all')
            [CompletionResult]::new('--allow-host-namespace', '--allow-host-namespace', [CompletionResultType]::ParameterName, 'With --http, let a create (or a build''s networkmode) share the host''s NAMESPACE (repeatable)')
            [CompletionResult]::new('--reply-timeout', '--reply-timeout', [CompletionResultType]::ParameterName, 'For datagrams: keep a sender''s own socket toward TARGET, and pass its answers back, until DURATION without a datagram either way [default: 30s]')
            [CompletionResult]::new('--on-full', '--on-full', [CompletionResultType]::ParameterName, 'For datagrams: when a unix receiver''s queue is full, wait for room, or drop the datagram and count it [default: wait]')
            [CompletionResult]::new('--proxy-protocol', '--proxy-protocol', [CompletionResultType]::ParameterName, 'Send TARGET a PROXY protocol header naming the client before its bytes (HAProxy''s send-proxy; nginx''s `listen ... proxy_protocol` reads it); v2 carries unix addresses too (not with --http: README, relay --http, says why)')
            [CompletionResult]::new('--cert', '--cert', [CompletionResultType]::ParameterName, 'For a tls: LISTEN, the certificate chain to present (PEM); with --key')
            [CompletionResult]::new('--key', '--key', [CompletionResultType]::ParameterName, 'For a tls: LISTEN, the private key of --cert (PEM)')
            [CompletionResult]::new('--self-signed-out', '--self-signed-out', [CompletionResultType]::ParameterName, 'Write the --self-signed certificate (PEM) to FILE, for clients to trust (curl --cacert FILE)')
            [CompletionResult]::new('--client-ca', '--client-ca', [CompletionResultType]::ParameterName, 'For a tls: LISTEN, require a client certificate signed by a CA of FILE (PEM): mutual TLS; the certificate''s subject is in the connection log')
            [CompletionResult]::new('--cacert', '--cacert', [CompletionResultType]::ParameterName, 'For a tls: address, trust the CA certificates of FILE (PEM) instead of the system''s')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Permission bits of the socket file (0 to 777), given to it as bind creates it')
            [CompletionResult]::new('--listen-fd', '--listen-fd', [CompletionResultType]::ParameterName, 'Serve on an inherited socket instead of binding: descriptor N (socat''s ACCEPT-FD), or the one systemd passed under NAME (FileDescriptorName=); the address argument may then be left out, and if given must be the socket''s own')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Log as JSON lines on stderr (one object per connection, and a summary; with --http, one per request too)')
            [CompletionResult]::new('--log-json', '--log-json', [CompletionResultType]::ParameterName, 'Log as JSON lines on stderr (one object per connection, and a summary; with --http, one per request too)')
            [CompletionResult]::new('--pass-fds', '--pass-fds', [CompletionResultType]::ParameterName, 'Forward the descriptors (SCM_RIGHTS) that arrive with the bytes, both ways, between a unix stream LISTEN and TARGET; each is closed here once sent on')
            [CompletionResult]::new('--http', '--http', [CompletionResultType]::ParameterName, 'Speak HTTP/1.1 with each client and forward only the requests the rules allow (a guard in front of docker.sock); the others get a 403 with a Docker-style JSON message')
            [CompletionResult]::new('--read-only', '--read-only', [CompletionResultType]::ParameterName, 'With --http, allow GET and HEAD only, and never the endpoints that read files or secrets (archive, export, attach/ws, images/get, secrets, configs, swarm)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'With --http, forward every request, and log those the rules would have denied')
            [CompletionResult]::new('--allow-privileged', '--allow-privileged', [CompletionResultType]::ParameterName, 'With --http, let a container create (or exec) ask for a privileged container, and lift confinement (SecurityOpt seccomp=unconfined, apparmor, label; /proc unmasked)')
            [CompletionResult]::new('--allow-cap-add', '--allow-cap-add', [CompletionResultType]::ParameterName, 'With --http, let a create add capabilities (CapAdd, Capabilities, a service''s CapabilityAdd)')
            [CompletionResult]::new('--allow-devices', '--allow-devices', [CompletionResultType]::ParameterName, 'With --http, let a create give the container devices (Devices, DeviceRequests, DeviceCgroupRules)')
            [CompletionResult]::new('--dgram', '--dgram', [CompletionResultType]::ParameterName, 'Relay datagrams: unix LISTEN and TARGET are datagram sockets (implied by a udp: side)')
            [CompletionResult]::new('--accept-proxy-protocol', '--accept-proxy-protocol', [CompletionResultType]::ParameterName, 'Read a PROXY protocol header (v1 or v2) from each client before relaying it: the client logged, and sent on with --proxy-protocol, is the one it names; a client without a valid one is closed (with --http too: each request''s log line names it)')
            [CompletionResult]::new('--self-signed', '--self-signed', [CompletionResultType]::ParameterName, 'For a tls: LISTEN, make a certificate for the listening host now (its SHA-256 fingerprint is logged)')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'For a tls: address, accept any server certificate, unchecked (curl -k): anyone on the path can read and change the traffic')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace a live socket at the path (a dead one is always replaced)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'udskit;generate' {
            [CompletionResult]::new('--out-dir', '--out-dir', [CompletionResultType]::ParameterName, 'Directory that receives completions/ and man/')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'udskit;http' {
            [CompletionResult]::new('--unix-socket', '--unix-socket', [CompletionResultType]::ParameterName, 'The socket file, as curl''s option: TARGET is then a URL or a path, and no SOCKET argument is given')
            [CompletionResult]::new('--abstract-unix-socket', '--abstract-unix-socket', [CompletionResultType]::ParameterName, 'A socket in the Linux abstract namespace, as curl''s option (NAME without the ''@'')')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'A request header, ''Name: value'' (repeatable); ''Name:'' drops a default one')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'A request header, ''Name: value'' (repeatable); ''Name:'' drops a default one')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Send DATA as the body (a form, as curl''s); POST unless a method is given. @FILE or @- (stdin) read it with CR and LF left out, as curl does (--data-binary keeps them). Several -d/--data-* are joined with ''&'' in order')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Send DATA as the body (a form, as curl''s); POST unless a method is given. @FILE or @- (stdin) read it with CR and LF left out, as curl does (--data-binary keeps them). Several -d/--data-* are joined with ''&'' in order')
            [CompletionResult]::new('--data-binary', '--data-binary', [CompletionResultType]::ParameterName, 'Send DATA, @FILE or @- byte for byte; a file or stdin goes as application/octet-stream')
            [CompletionResult]::new('--data-raw', '--data-raw', [CompletionResultType]::ParameterName, 'Send DATA as it is written, ''@'' included')
            [CompletionResult]::new('--data-urlencode', '--data-urlencode', [CompletionResultType]::ParameterName, 'Send DATA URL-encoded, in curl''s forms: content, =content, name=content, @FILE, name@FILE (the name is sent as it is)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Send DATA, @FILE or @- as a JSON body (sets Content-Type and Accept)')
            [CompletionResult]::new('-F', '-F ', [CompletionResultType]::ParameterName, 'A multipart/form-data field (repeatable), as curl''s: name=value, name=@FILE (a file, streamed; ;type=T and ;filename=N may follow), ''name=<FILE'' (a text field from a file)')
            [CompletionResult]::new('--form', '--form', [CompletionResultType]::ParameterName, 'A multipart/form-data field (repeatable), as curl''s: name=value, name=@FILE (a file, streamed; ;type=T and ;filename=N may follow), ''name=<FILE'' (a text field from a file)')
            [CompletionResult]::new('-T', '-T ', [CompletionResultType]::ParameterName, 'PUT FILE (or - for stdin) as the body, streamed; a TARGET ending in ''/'' gets the file''s name appended, as curl does')
            [CompletionResult]::new('--upload-file', '--upload-file', [CompletionResultType]::ParameterName, 'PUT FILE (or - for stdin) as the body, streamed; a TARGET ending in ''/'' gets the file''s name appended, as curl does')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Basic authentication (Authorization: Basic); a -H Authorization wins. udskit never prompts: give the password too')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Basic authentication (Authorization: Basic); a -H Authorization wins. udskit never prompts: give the password too')
            [CompletionResult]::new('--max-redirs', '--max-redirs', [CompletionResultType]::ParameterName, 'At most N redirects with -L (-1: no limit); one more is exit 47, as curl''s')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'The User-Agent header [default: udskit/VERSION]')
            [CompletionResult]::new('--user-agent', '--user-agent', [CompletionResultType]::ParameterName, 'The User-Agent header [default: udskit/VERSION]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write the body to FILE instead of stdout (bytes unchanged); FILE is replaced only once the whole answer has arrived, and left as it was on any failure')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the body to FILE instead of stdout (bytes unchanged); FILE is replaced only once the whole answer has arrived, and left as it was on any failure')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Give up the whole request after DURATION (exit 28; what arrived is kept); 0: no limit')
            [CompletionResult]::new('--max-time', '--max-time', [CompletionResultType]::ParameterName, 'Give up the whole request after DURATION (exit 28; what arrived is kept); 0: no limit')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up a connection attempt that does not complete within DURATION; 0: no limit')
            [CompletionResult]::new('--upgrade', '--upgrade', [CompletionResultType]::ParameterName, 'Ask to switch protocols (Connection: Upgrade, Upgrade: PROTOCOL, e.g. tcp); a 101 answer bridges the connection to stdin/stdout with half-close')
            [CompletionResult]::new('--subprotocol', '--subprotocol', [CompletionResultType]::ParameterName, 'With --ws: ask for the subprotocol PROTOCOL (Sec-WebSocket-Protocol; repeatable, in order of preference)')
            [CompletionResult]::new('-w', '-w', [CompletionResultType]::ParameterName, 'After the transfer (also a failed one) print FORMAT, @FILE or @- on stdout, as curl -w: %{http_code} ... %{stderr} switches to stderr, %header{NAME}, \n \t \r, %%')
            [CompletionResult]::new('--write-out', '--write-out', [CompletionResultType]::ParameterName, 'After the transfer (also a failed one) print FORMAT, @FILE or @- on stdout, as curl -w: %{http_code} ... %{stderr} switches to stderr, %header{NAME}, \n \t \r, %%')
            [CompletionResult]::new('-D', '-D ', [CompletionResultType]::ParameterName, 'Write the status line and headers, as received (CRLF), to FILE; - is stdout, before the body')
            [CompletionResult]::new('--dump-header', '--dump-header', [CompletionResultType]::ParameterName, 'Write the status line and headers, as received (CRLF), to FILE; - is stdout, before the body')
            [CompletionResult]::new('-X', '-X ', [CompletionResultType]::ParameterName, 'The method (as curl -X; a METHOD argument does the same)')
            [CompletionResult]::new('--request', '--request', [CompletionResultType]::ParameterName, 'The method (as curl -X; a METHOD argument does the same)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('-G', '-G ', [CompletionResultType]::ParameterName, 'Put the -d/--data-* data in the URL''s query and send a GET (HEAD with -I)')
            [CompletionResult]::new('--get', '--get', [CompletionResultType]::ParameterName, 'Put the -d/--data-* data in the URL''s query and send a GET (HEAD with -I)')
            [CompletionResult]::new('-L', '-L ', [CompletionResultType]::ParameterName, 'Follow redirects (3xx with a Location) on the same socket, as curl: 301/302 turn a POST into a GET, 303 anything but HEAD, 307/308 keep the method and the body')
            [CompletionResult]::new('--location', '--location', [CompletionResultType]::ParameterName, 'Follow redirects (3xx with a Location) on the same socket, as curl: 301/302 turn a POST into a GET, 303 anything but HEAD, 307/308 keep the method and the body')
            [CompletionResult]::new('--http2', '--http2', [CompletionResultType]::ParameterName, 'Speak HTTP/2 without TLS from the first byte (h2c prior knowledge, as gRPC servers do)')
            [CompletionResult]::new('--http1.1', '--http1.1', [CompletionResultType]::ParameterName, 'HTTP/1.1, the default (accepted for curl''s sake)')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Accepted for curl''s sake, and meaningless here: plain HTTP on a socket has no TLS')
            [CompletionResult]::new('--insecure', '--insecure', [CompletionResultType]::ParameterName, 'Accepted for curl''s sake, and meaningless here: plain HTTP on a socket has no TLS')
            [CompletionResult]::new('-N', '-N ', [CompletionResultType]::ParameterName, 'Accepted for curl''s sake: bodies always stream, nothing is buffered')
            [CompletionResult]::new('--no-buffer', '--no-buffer', [CompletionResultType]::ParameterName, 'Accepted for curl''s sake: bodies always stream, nothing is buffered')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Print the status line and headers before the body')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Print the status line and headers before the body')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'HEAD request: print the status line and headers only')
            [CompletionResult]::new('--head', '--head', [CompletionResultType]::ParameterName, 'HEAD request: print the status line and headers only')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Exit 22 when the status is 400 or more (the body is still shown)')
            [CompletionResult]::new('--fail', '--fail', [CompletionResultType]::ParameterName, 'Exit 22 when the status is 400 or more (the body is still shown)')
            [CompletionResult]::new('--ws', '--ws', [CompletionResultType]::ParameterName, 'Speak WebSocket on TARGET: each stdin line is sent as a text message, each message received is written to stdout (text and a newline, binary as it is); the server''s close code is printed on stderr and is the exit code: 1000 (or none) exit 0, 4000+N exit N (N up to 255), any other exit 1. Stdin''s end sends a close (1000) and waits up to 5s for the server''s (not with --no-close)')
            [CompletionResult]::new('--binary', '--binary', [CompletionResultType]::ParameterName, 'With --ws: each stdin read is sent as one binary message (bytes unchanged)')
            [CompletionResult]::new('--ws-json', '--ws-json', [CompletionResultType]::ParameterName, 'With --ws: each message received as one JSON object on a line: type (text or binary), size, encoding (utf-8, or base64 for binary), data; and a last {"type":"close","code":C,"reason":R}')
            [CompletionResult]::new('--no-close', '--no-close', [CompletionResultType]::ParameterName, 'With --ws: stdin''s end sends no close frame; the session lasts until the server closes (a server that only pushes, with stdin at its end or /dev/null)')
            [CompletionResult]::new('--demux', '--demux', [CompletionResultType]::ParameterName, 'Split docker''s multiplexed frames onto stdout and stderr (automatic when the answer is marked or recognisably multiplexed)')
            [CompletionResult]::new('--pretty', '--pretty', [CompletionResultType]::ParameterName, 'Format the body as on a terminal even when piped (JSON pretty-printed)')
            [CompletionResult]::new('--path-as-is', '--path-as-is', [CompletionResultType]::ParameterName, 'Send the path as given: `.` and `..` segments are otherwise resolved first (`/a/../b` is sent as `/b`), as curl does')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'The body''s bytes unchanged even on a terminal (no formatting, no demultiplexing, docker progress left as JSON and not read for errors)')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'No progress bar, no diagnostics, no warnings and no error message, as curl -s (the exit code still tells; -v still shows the exchange). -q alone is -sS: errors and warnings shown, nothing else')
            [CompletionResult]::new('--silent', '--silent', [CompletionResultType]::ParameterName, 'No progress bar, no diagnostics, no warnings and no error message, as curl -s (the exit code still tells; -v still shows the exchange). -q alone is -sS: errors and warnings shown, nothing else')
            [CompletionResult]::new('-S', '-S ', [CompletionResultType]::ParameterName, 'With -s, print the error message when the request fails anyway (curl -sS)')
            [CompletionResult]::new('--show-error', '--show-error', [CompletionResultType]::ParameterName, 'With -s, print the error message when the request fails anyway (curl -sS)')
            [CompletionResult]::new('--compressed', '--compressed', [CompletionResultType]::ParameterName, 'Ask for a compressed answer (Accept-Encoding: gzip, deflate, br, zstd) and decode it as it streams; -o and the terminal get the decoded bytes (exit 61 when it cannot be decoded). Without it the body stays as sent')
            [CompletionResult]::new('-O', '-O ', [CompletionResultType]::ParameterName, 'Write the body to the file named by the last segment of TARGET''s path, in the current directory, as -o does (curl -O)')
            [CompletionResult]::new('--remote-name', '--remote-name', [CompletionResultType]::ParameterName, 'Write the body to the file named by the last segment of TARGET''s path, in the current directory, as -o does (curl -O)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'udskit;ls' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'Only sockets held by a process whose command name starts with NAME (repeatable)')
            [CompletionResult]::new('--command', '--command', [CompletionResultType]::ParameterName, 'Only sockets held by a process whose command name starts with NAME (repeatable)')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Only sockets held by process PID (repeatable)')
            [CompletionResult]::new('--pid', '--pid', [CompletionResultType]::ParameterName, 'Only sockets held by process PID (repeatable)')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Only sockets of this type (repeatable)')
            [CompletionResult]::new('--type', '--type', [CompletionResultType]::ParameterName, 'Only sockets of this type (repeatable)')
            [CompletionResult]::new('--stale', '--stale', [CompletionResultType]::ParameterName, 'Instead: socket files under DIR (default /tmp /run /var/run) that no socket is bound to')
            [CompletionResult]::new('--graph', '--graph', [CompletionResultType]::ParameterName, 'Instead: draw who connects to which listener, as Graphviz DOT or a Mermaid flowchart')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'With --watch: the time between two listings (a DURATION, e.g. 500ms)')
            [CompletionResult]::new('--netns', '--netns', [CompletionResultType]::ParameterName, 'Only network namespace NS: host, its inode, pid:PID, a container name or id prefix (repeatable)')
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Only sockets owned by USER (a name or uid; repeatable)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Only sockets owned by USER (a name or uid; repeatable)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Add inode, descriptor numbers, accept queue, socket file mode and owner:group')
            [CompletionResult]::new('--long', '--long', [CompletionResultType]::ParameterName, 'Add inode, descriptor numbers, accept queue, socket file mode and owner:group')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'All unix sockets: also connected and unnamed ones')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'All unix sockets: also connected and unnamed ones')
            [CompletionResult]::new('--peers', '--peers', [CompletionResultType]::ParameterName, 'With -a: show the process at the other end of each connected socket')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON array (keys listed in the README) instead of a table')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'Take the listing again every --interval: a table redrawn in place, or JSON events when piped (or with --json)')
            [CompletionResult]::new('--changes-only', '--changes-only', [CompletionResultType]::ParameterName, 'With --watch: report changes only, not the sockets already there at the start')
            [CompletionResult]::new('--pids', '--pids', [CompletionResultType]::ParameterName, 'Print only the pids holding the listed sockets, one per line (lsof''s -t)')
            [CompletionResult]::new('-x', '-x', [CompletionResultType]::ParameterName, 'Unix sockets only, which is all ls lists (ss''s -x; also -U, lsof''s, and -n)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings (for http: curl''s -sS)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'udskit;help' {
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Stream server: accept clients and bridge, collect, echo or exec them')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Bridge stdin/stdout to a socket (like nc -U)')
            [CompletionResult]::new('sendto', 'sendto', [CompletionResultType]::ParameterValue, 'Send datagrams to a unix datagram socket (syslog, NOTIFY_SOCKET, control sockets)')
            [CompletionResult]::new('recvfrom', 'recvfrom', [CompletionResultType]::ParameterValue, 'Receive datagrams on a unix socket and print them (a datagram server)')
            [CompletionResult]::new('grpc', 'grpc', [CompletionResultType]::ParameterValue, 'gRPC over a unix socket, like grpcurl (containerd, CRI and CSI sockets, sidecars)')
            [CompletionResult]::new('relay', 'relay', [CompletionResultType]::ParameterValue, 'Relay connections between two stream addresses (TCP <-> UDS)')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write completions and man pages')
            [CompletionResult]::new('http', 'http', [CompletionResultType]::ParameterValue, 'HTTP over a unix socket, like curl --unix-socket (Docker API, uvicorn, nginx)')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List listening unix sockets: path, type, state, processes, user, connections')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'udskit;help;listen' {
            break
        }
        'udskit;help;connect' {
            break
        }
        'udskit;help;sendto' {
            break
        }
        'udskit;help;recvfrom' {
            break
        }
        'udskit;help;grpc' {
            break
        }
        'udskit;help;relay' {
            break
        }
        'udskit;help;generate' {
            break
        }
        'udskit;help;http' {
            break
        }
        'udskit;help;ls' {
            break
        }
        'udskit;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
