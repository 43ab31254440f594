
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
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
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
            [CompletionResult]::new('http', 'http', [CompletionResultType]::ParameterValue, 'HTTP over a unix socket, like curl --unix-socket (Docker API, uvicorn, nginx)')
            [CompletionResult]::new('grpc', 'grpc', [CompletionResultType]::ParameterValue, 'gRPC over a unix socket, like grpcurl (containerd, CRI and CSI sockets, sidecars)')
            [CompletionResult]::new('relay', 'relay', [CompletionResultType]::ParameterValue, 'Relay connections between two stream addresses (TCP <-> UDS)')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List listening unix sockets: path, type, state, processes, user, connections')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write completions and man pages')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'udskit;listen' {
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Run CMD (with sh -c) per client, the connection as its stdin/stdout and UDSKIT_PEER_PID, UDSKIT_PEER_UID, UDSKIT_PEER_GID (or UDSKIT_PEER_ADDR) in its env')
            [CompletionResult]::new('--max-clients', '--max-clients', [CompletionResultType]::ParameterName, 'Serve at most N clients at a time; more wait in the accept queue')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Exit after N clients have been served (with -k, --echo or --exec)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Permission bits of the socket file (0 to 777), given to it as bind creates it')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('--seqpacket', '--seqpacket', [CompletionResultType]::ParameterName, 'Use a SOCK_SEQPACKET socket')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Serve clients concurrently, each one''s bytes to stdout (socat unix-listen:P,fork STDOUT)')
            [CompletionResult]::new('--keep-open', '--keep-open', [CompletionResultType]::ParameterName, 'Serve clients concurrently, each one''s bytes to stdout (socat unix-listen:P,fork STDOUT)')
            [CompletionResult]::new('--echo', '--echo', [CompletionResultType]::ParameterName, 'Echo server: every client gets its bytes back')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace a live socket at the path (a dead one is always replaced)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'udskit;connect' {
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up a connection attempt that does not complete within DURATION')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('--seqpacket', '--seqpacket', [CompletionResultType]::ParameterName, 'Use a SOCK_SEQPACKET socket (each stdin read is sent as one record)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
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
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Permission bits of the socket file (0 to 777), given to it as bind creates it')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Send each line of stdin as one datagram, without its newline')
            [CompletionResult]::new('--lines', '--lines', [CompletionResultType]::ParameterName, 'Send each line of stdin as one datagram, without its newline')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Wait for the answers on a temporary return address and print them')
            [CompletionResult]::new('--reply', '--reply', [CompletionResultType]::ParameterName, 'Wait for the answers on a temporary return address and print them')
            [CompletionResult]::new('--newline', '--newline', [CompletionResultType]::ParameterName, 'Print a newline after each answer (the default with --lines)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace a live socket at the path (a dead one is always replaced)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
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
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Permission bits of the socket file (0 to 777), given to it as bind creates it')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('--newline', '--newline', [CompletionResultType]::ParameterName, 'Print a newline after each datagram')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON object per datagram and line: time, sender, sender_encoding, size, pid, uid, gid, encoding, data')
            [CompletionResult]::new('--hexdump', '--hexdump', [CompletionResultType]::ParameterName, 'Print each datagram as a hex dump after a line naming its size and sender')
            [CompletionResult]::new('--echo', '--echo', [CompletionResultType]::ParameterName, 'Send every datagram back to its sender (senders without an address get nothing)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace a live socket at the path (a dead one is always replaced)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'udskit;http' {
            [CompletionResult]::new('-X', '-X ', [CompletionResultType]::ParameterName, 'The method (as curl -X; a METHOD argument does the same)')
            [CompletionResult]::new('--request', '--request', [CompletionResultType]::ParameterName, 'The method (as curl -X; a METHOD argument does the same)')
            [CompletionResult]::new('-H', '-H ', [CompletionResultType]::ParameterName, 'A request header, ''Name: value'' (repeatable); ''Name:'' drops a default one')
            [CompletionResult]::new('--header', '--header', [CompletionResultType]::ParameterName, 'A request header, ''Name: value'' (repeatable); ''Name:'' drops a default one')
            [CompletionResult]::new('-d', '-d', [CompletionResultType]::ParameterName, 'Send DATA, @FILE or @- (stdin) as the body, byte for byte; POST unless a method is given. DATA goes as a form (as curl''s), a file or stdin as application/octet-stream')
            [CompletionResult]::new('--data', '--data', [CompletionResultType]::ParameterName, 'Send DATA, @FILE or @- (stdin) as the body, byte for byte; POST unless a method is given. DATA goes as a form (as curl''s), a file or stdin as application/octet-stream')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Send DATA, @FILE or @- as a JSON body (sets Content-Type and Accept)')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'The User-Agent header [default: udskit/VERSION]')
            [CompletionResult]::new('--user-agent', '--user-agent', [CompletionResultType]::ParameterName, 'The User-Agent header [default: udskit/VERSION]')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Write the body to FILE instead of stdout (bytes unchanged); FILE is replaced only once the whole answer has arrived, and left as it was on any failure')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Write the body to FILE instead of stdout (bytes unchanged); FILE is replaced only once the whole answer has arrived, and left as it was on any failure')
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Give up the whole request after DURATION (exit 28; what arrived is kept)')
            [CompletionResult]::new('--max-time', '--max-time', [CompletionResultType]::ParameterName, 'Give up the whole request after DURATION (exit 28; what arrived is kept)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up a connection attempt that does not complete within DURATION')
            [CompletionResult]::new('--upgrade', '--upgrade', [CompletionResultType]::ParameterName, 'Ask to switch protocols (Connection: Upgrade, Upgrade: PROTOCOL, e.g. tcp); a 101 answer bridges the connection to stdin/stdout with half-close')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('--http2', '--http2', [CompletionResultType]::ParameterName, 'Speak HTTP/2 without TLS from the first byte (h2c prior knowledge, as gRPC servers do)')
            [CompletionResult]::new('-i', '-i', [CompletionResultType]::ParameterName, 'Print the status line and headers before the body')
            [CompletionResult]::new('--include', '--include', [CompletionResultType]::ParameterName, 'Print the status line and headers before the body')
            [CompletionResult]::new('-I', '-I ', [CompletionResultType]::ParameterName, 'HEAD request: print the status line and headers only')
            [CompletionResult]::new('--head', '--head', [CompletionResultType]::ParameterName, 'HEAD request: print the status line and headers only')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Exit 22 when the status is 400 or more (the body is still shown)')
            [CompletionResult]::new('--fail', '--fail', [CompletionResultType]::ParameterName, 'Exit 22 when the status is 400 or more (the body is still shown)')
            [CompletionResult]::new('--demux', '--demux', [CompletionResultType]::ParameterName, 'Split docker''s multiplexed frames onto stdout and stderr (automatic when the answer is marked or recognisably multiplexed)')
            [CompletionResult]::new('--pretty', '--pretty', [CompletionResultType]::ParameterName, 'Format the body as on a terminal even when piped (JSON pretty-printed)')
            [CompletionResult]::new('--raw', '--raw', [CompletionResultType]::ParameterName, 'The body''s bytes unchanged even on a terminal (no formatting, no demultiplexing)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
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
            [CompletionResult]::new('-m', '-m', [CompletionResultType]::ParameterName, 'Give up the whole command after DURATION (exit 68, DEADLINE_EXCEEDED); the call''s deadline is sent to the server as grpc-timeout')
            [CompletionResult]::new('--max-time', '--max-time', [CompletionResultType]::ParameterName, 'Give up the whole command after DURATION (exit 68, DEADLINE_EXCEEDED); the call''s deadline is sent to the server as grpc-timeout')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)')
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up a connection attempt that does not complete within DURATION')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('--emit-defaults', '--emit-defaults', [CompletionResultType]::ParameterName, 'Answers with fields at their default values too (the protobuf JSON mapping leaves them out)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
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
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close a connection after DURATION without a byte either way (nginx''s proxy_timeout)')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Relay at most N connections at a time; more wait in the accept queue (never reset)')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'On SIGINT/SIGTERM, give open connections DURATION to finish before closing them')
            [CompletionResult]::new('--dump', '--dump', [CompletionResultType]::ParameterName, 'Show every chunk each way, tagged `#ID >` (to TARGET) or `#ID <` (back), with its time')
            [CompletionResult]::new('--dump-file', '--dump-file', [CompletionResultType]::ParameterName, 'Write the --dump output to PATH instead of stderr')
            [CompletionResult]::new('--busy-poll', '--busy-poll', [CompletionResultType]::ParameterName, 'After bytes move, poll the sockets for DURATION (such as 50us) before sleeping: lower latency for request/response traffic, for a core kept busy while it flows')
            [CompletionResult]::new('--copier', '--copier', [CompletionResultType]::ParameterName, 'How bytes move: splice or buffer (for measurements: bench/relay --copiers)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Permission bits of the socket file (0 to 777), given to it as bind creates it')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Log as JSON lines on stderr (one object per connection, and a summary)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Replace a live socket at the path (a dead one is always replaced)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
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
            [CompletionResult]::new('-u', '-u', [CompletionResultType]::ParameterName, 'Only sockets owned by USER (a name or uid; repeatable)')
            [CompletionResult]::new('--user', '--user', [CompletionResultType]::ParameterName, 'Only sockets owned by USER (a name or uid; repeatable)')
            [CompletionResult]::new('-t', '-t', [CompletionResultType]::ParameterName, 'Only sockets of this type (repeatable)')
            [CompletionResult]::new('--type', '--type', [CompletionResultType]::ParameterName, 'Only sockets of this type (repeatable)')
            [CompletionResult]::new('--stale', '--stale', [CompletionResultType]::ParameterName, 'Instead: socket files under DIR (default /tmp /run /var/run) that no socket is bound to')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Add inode, descriptor numbers, accept queue, socket file mode and owner:group')
            [CompletionResult]::new('--long', '--long', [CompletionResultType]::ParameterName, 'Add inode, descriptor numbers, accept queue, socket file mode and owner:group')
            [CompletionResult]::new('-a', '-a', [CompletionResultType]::ParameterName, 'All unix sockets: also connected and unnamed ones')
            [CompletionResult]::new('--all', '--all', [CompletionResultType]::ParameterName, 'All unix sockets: also connected and unnamed ones')
            [CompletionResult]::new('--peers', '--peers', [CompletionResultType]::ParameterName, 'With -a: show the process at the other end of each connected socket')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print a JSON array (keys listed in the README) instead of a table')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
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
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print no diagnostics on stderr, only errors and warnings')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Print more diagnostics on stderr')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'udskit;help' {
            [CompletionResult]::new('listen', 'listen', [CompletionResultType]::ParameterValue, 'Stream server: accept clients and bridge, collect, echo or exec them')
            [CompletionResult]::new('connect', 'connect', [CompletionResultType]::ParameterValue, 'Bridge stdin/stdout to a socket (like nc -U)')
            [CompletionResult]::new('sendto', 'sendto', [CompletionResultType]::ParameterValue, 'Send datagrams to a unix datagram socket (syslog, NOTIFY_SOCKET, control sockets)')
            [CompletionResult]::new('recvfrom', 'recvfrom', [CompletionResultType]::ParameterValue, 'Receive datagrams on a unix socket and print them (a datagram server)')
            [CompletionResult]::new('http', 'http', [CompletionResultType]::ParameterValue, 'HTTP over a unix socket, like curl --unix-socket (Docker API, uvicorn, nginx)')
            [CompletionResult]::new('grpc', 'grpc', [CompletionResultType]::ParameterValue, 'gRPC over a unix socket, like grpcurl (containerd, CRI and CSI sockets, sidecars)')
            [CompletionResult]::new('relay', 'relay', [CompletionResultType]::ParameterValue, 'Relay connections between two stream addresses (TCP <-> UDS)')
            [CompletionResult]::new('ls', 'ls', [CompletionResultType]::ParameterValue, 'List listening unix sockets: path, type, state, processes, user, connections')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write completions and man pages')
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
        'udskit;help;http' {
            break
        }
        'udskit;help;grpc' {
            break
        }
        'udskit;help;relay' {
            break
        }
        'udskit;help;ls' {
            break
        }
        'udskit;help;generate' {
            break
        }
        'udskit;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
