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
complete -c udskit -n "__fish_udskit_needs_command" -s q -l quiet -d 'Print no diagnostics on stderr, only errors and warnings (for http: curl\'s -sS)'
complete -c udskit -n "__fish_udskit_needs_command" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c udskit -n "__fish_udskit_needs_command" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "listen" -d 'Stream server: accept clients and bridge, collect, echo or exec them'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "connect" -d 'Bridge stdin/stdout to a socket (like nc -U)'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "sendto" -d 'Send datagrams to a unix datagram socket (syslog, NOTIFY_SOCKET, control sockets)'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "recvfrom" -d 'Receive datagrams on a unix socket and print them (a datagram server)'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "grpc" -d 'gRPC over a unix socket, like grpcurl (containerd, CRI and CSI sockets, sidecars)'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "relay" -d 'Relay connections between two stream addresses (TCP <-> UDS)'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "generate" -d 'Write completions and man pages'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "http" -d 'HTTP over a unix socket, like curl --unix-socket (Docker API, uvicorn, nginx)'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "ls" -d 'List listening unix sockets: path, type, state, processes, user, connections'
complete -c udskit -n "__fish_udskit_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l exec -d 'Run CMD (with sh -c) per client, the connection as its stdin/stdout and UDSKIT_PEER_PID, UDSKIT_PEER_UID, UDSKIT_PEER_GID (or UDSKIT_PEER_ADDR) in its env' -r
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l max-clients -d 'Serve at most N clients at a time; more wait in the accept queue' -r
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l count -d 'Exit after N clients have been served (with -k, --echo or --exec)' -r
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l pcap -d 'Capture every client into FILE (pcapng; - for stdout with --echo) as a TCP flow that Wireshark and tshark decode; bytes then move through user space (descriptors taken by --take-fds are logged, not captured)' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l mode -d 'Permission bits of the socket file (0 to 777), given to it as bind creates it' -r
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l listen-fd -d 'Serve on an inherited socket instead of binding: descriptor N (socat\'s ACCEPT-FD), or the one systemd passed under NAME (FileDescriptorName=); the address argument may then be left out, and if given must be the socket\'s own' -r
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l color -d 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l seqpacket -d 'Use a SOCK_SEQPACKET socket'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -s k -l keep-open -d 'Serve clients concurrently, each one\'s bytes to stdout (socat unix-listen:P,fork STDOUT)'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l echo -d 'Echo server: every client gets its bytes back'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l take-fds -d 'Take the descriptors each client passes with its first bytes (SCM_RIGHTS): log them, and with --exec hand them to CMD as fds 3.. (UDSKIT_FDS=count); waits for those bytes first (unix sockets)'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -l force -d 'Replace a live socket at the path (a dead one is always replaced)'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -s q -l quiet -d 'Print no diagnostics on stderr, only errors and warnings (for http: curl\'s -sS)'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c udskit -n "__fish_udskit_using_subcommand listen" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_using_subcommand connect" -s q -l quit-after -l quit -d 'After stdin\'s end, quit within DURATION even if the server still sends (nc -q, socat -t); `never`: wait for the server to close [default: 1s of quiet once it answered]' -r
complete -c udskit -n "__fish_udskit_using_subcommand connect" -s w -l idle-timeout -d 'Close the connection after DURATION without data either way; also bounds the connect (nc -w); 0: no limit' -r
complete -c udskit -n "__fish_udskit_using_subcommand connect" -l send-fd -d 'Pass our open descriptor N to the server with the first bytes of stdin (SCM_RIGHTS; repeatable; unix sockets)' -r
complete -c udskit -n "__fish_udskit_using_subcommand connect" -l send-file -d 'Open PATH read-only and pass it with the first bytes of stdin (repeatable)' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand connect" -l pcap -d 'Capture the connection into FILE (pcapng) as a TCP flow that Wireshark and tshark decode (a tls: connection\'s plaintext); bytes then move through user space (descriptors passed are not captured)' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand connect" -l wait -d 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)' -r
complete -c udskit -n "__fish_udskit_using_subcommand connect" -l connect-timeout -d 'Give up a connection attempt that does not complete within DURATION; 0: no limit' -r
complete -c udskit -n "__fish_udskit_using_subcommand connect" -l cacert -d 'For a tls: address, trust the CA certificates of FILE (PEM) instead of the system\'s' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand connect" -l color -d 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c udskit -n "__fish_udskit_using_subcommand connect" -l seqpacket -d 'Use a SOCK_SEQPACKET socket (each stdin read is sent as one record)'
complete -c udskit -n "__fish_udskit_using_subcommand connect" -l quiet -d 'Print no diagnostics on stderr, only errors and warnings (also `udskit -q connect`)'
complete -c udskit -n "__fish_udskit_using_subcommand connect" -l insecure -d 'For a tls: address, accept any server certificate, unchecked (curl -k): anyone on the path can read and change the traffic'
complete -c udskit -n "__fish_udskit_using_subcommand connect" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_using_subcommand connect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c udskit -n "__fish_udskit_using_subcommand connect" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -l bind -d 'Send from this address (PATH or @NAME; with --reply, answers arrive there)' -r
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -l timeout -d 'How long --reply waits for the answers (500ms, 10s, 2m)' -r
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -l fd -d 'Pass our open descriptor N with the datagram (SCM_RIGHTS; repeatable), e.g. one the shell opened with `3<FILE`' -r
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -l send-file -d 'Open PATH read-only and pass it with the datagram (repeatable)' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -l pcap -d 'Capture every datagram sent (and answer received) into FILE as UDP packets (pcapng; - for stdout, unless --reply prints answers there)' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -l mode -d 'Permission bits of the socket file (0 to 777), given to it as bind creates it' -r
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -l color -d 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -s l -l lines -d 'Send each line of stdin as one datagram, without its newline'
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -s r -l reply -d 'Wait for the answers on a temporary return address and print them'
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -l newline -d 'Print a newline after each answer (the default with --lines)'
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -l force -d 'Replace a live socket at the path (a dead one is always replaced)'
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -s q -l quiet -d 'Print no diagnostics on stderr, only errors and warnings (for http: curl\'s -sS)'
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c udskit -n "__fish_udskit_using_subcommand sendto" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_using_subcommand recvfrom" -s n -l count -d 'Exit after N datagrams' -r
complete -c udskit -n "__fish_udskit_using_subcommand recvfrom" -l pcap -d 'Capture every datagram (and --echo answer) into FILE as UDP packets (pcapng); with - the capture goes to stdout instead of the datagrams' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand recvfrom" -l mode -d 'Permission bits of the socket file (0 to 777), given to it as bind creates it' -r
complete -c udskit -n "__fish_udskit_using_subcommand recvfrom" -l listen-fd -d 'Serve on an inherited socket instead of binding: descriptor N (socat\'s ACCEPT-FD), or the one systemd passed under NAME (FileDescriptorName=); the address argument may then be left out, and if given must be the socket\'s own' -r
complete -c udskit -n "__fish_udskit_using_subcommand recvfrom" -l color -d 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c udskit -n "__fish_udskit_using_subcommand recvfrom" -l newline -d 'Print a newline after each datagram'
complete -c udskit -n "__fish_udskit_using_subcommand recvfrom" -l json -d 'One JSON object per datagram and line: time, sender, sender_encoding, size, pid, uid, gid, encoding, data (and fds when descriptors came with it)'
complete -c udskit -n "__fish_udskit_using_subcommand recvfrom" -l hexdump -d 'Print each datagram as a hex dump after a line naming its size and sender'
complete -c udskit -n "__fish_udskit_using_subcommand recvfrom" -l echo -d 'Send every datagram back to its sender (senders without an address get nothing)'
complete -c udskit -n "__fish_udskit_using_subcommand recvfrom" -l force -d 'Replace a live socket at the path (a dead one is always replaced)'
complete -c udskit -n "__fish_udskit_using_subcommand recvfrom" -s q -l quiet -d 'Print no diagnostics on stderr, only errors and warnings (for http: curl\'s -sS)'
complete -c udskit -n "__fish_udskit_using_subcommand recvfrom" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_using_subcommand recvfrom" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c udskit -n "__fish_udskit_using_subcommand recvfrom" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -s d -l data -d 'The request: JSON, @FILE or @- (stdin). For a streaming request, JSON messages one after the other (stdin: one per line, sent as each line arrives); stdin by default' -r
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -s H -l header -d 'Metadata sent with the call and with reflection requests, \'name: value\' (repeatable); a name ending in -bin takes base64' -r
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -l authority -d 'The :authority of every request' -r
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -l proto -d 'Take the schema from this .proto file instead of reflection (repeatable)' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -s I -l import-path -d 'Where imports of --proto files are looked up (repeatable; default: each file\'s directory); google/protobuf\'s own files are built in' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -l protoset -d 'Take the schema from this FileDescriptorSet (protoc --include_imports --descriptor_set_out) instead of reflection (repeatable)' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -s m -l max-time -d 'Give up the whole command after DURATION (exit 68, DEADLINE_EXCEEDED); the call\'s deadline is sent to the server as grpc-timeout; 0: no limit' -r
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -l max-msg-sz -d 'The largest answer message to take, in bytes (grpcurl\'s -max-msg-sz); a larger one ends the call, exit 72 (RESOURCE_EXHAUSTED), before its bytes are read' -r
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -l wait -d 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)' -r
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -l connect-timeout -d 'Give up a connection attempt that does not complete within DURATION; 0: no limit' -r
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -l color -d 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -l emit-defaults -d 'Answers with fields at their default values too (the protobuf JSON mapping leaves them out)'
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -s q -l quiet -d 'Print no diagnostics on stderr, only errors and warnings (for http: curl\'s -sS)'
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c udskit -n "__fish_udskit_using_subcommand grpc" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l connect-timeout -d 'Give up connecting to TARGET after DURATION (the client is closed); a unix TARGET whose accept queue is full is waited for until then' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l idle-timeout -d 'Close a connection after DURATION without a byte either way (nginx\'s proxy_timeout); 0: no limit' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l max-connections -d 'Relay at most N connections at a time; more wait in the accept queue (never reset)' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l threads -d 'Relay on N workers, each a thread with its own event loop: a TCP LISTEN gets a socket per worker (SO_REUSEPORT), a unix one\'s clients are handed to the least busy [default: the CPUs udskit may run on, at most 16; 1 for datagrams]' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l unix-accept -d 'With --threads on a unix LISTEN, how the workers share it: one accepts and hands each client to the least busy, or each accepts from the one socket, all woken by every client (for measurements: bench/relay --only scale)' -r -f -a "handoff\t'Worker 0 accepts and hands each client to the least busy worker'
shared\t'Every worker accepts from the one socket (in its own epoll: all are woken)'"
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l grace -d 'On SIGINT/SIGTERM, give open connections DURATION to finish before closing them' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l dump -d 'Show every chunk each way, tagged `#ID >` (to TARGET) or `#ID <` (back), with its time' -r -f -a "text\t'Printable text as is; control bytes, `\\` and invalid UTF-8 escaped; one line per line'
hex\t'Offsets, 16 bytes in hex and their ASCII per line'"
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l dump-file -d 'Write the --dump output to PATH instead of stderr' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l pcap -d 'Capture every connection into FILE (pcapng; - for stdout) as a TCP flow that Wireshark and tshark decode (HTTP, HTTP/2, ...); spliced bytes reach it by tee(2) and splice, their TCP checksum left 0; a tls: side\'s plaintext (stream relays only; descriptors passed by --pass-fds are not captured; with --http, the client\'s side of each connection, the guard\'s own answers included)' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l busy-poll -d 'After every chunk, poll the sockets for DURATION (such as 50us) before sleeping, whatever the load; 0: never [default: 50us after the chunks of a connection that ping-pongs, while a CPU is free]' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l copier -d 'How bytes move: splice or buffer (for measurements: bench/relay --copiers)' -r -f -a "splice\t'splice(2) through a pipe: the bytes never enter user space'
buffer\t'recv into our own buffer, then send: what `--dump` needs to see the bytes'"
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l header-timeout -d 'With --http, close a client that takes longer than DURATION to send a request head (from connecting, or from the first byte of a later head), answering 408 if it had begun one, or the body of a request the guard checks; 0 turns it off' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l allow -d 'With --http, forward requests of METHOD (GET, a list such as GET,POST, or *) whose path matches PATH-GLOB (* within a segment, ** across; /v1.NN/ optional); repeatable, and the first --allow or --deny that matches decides' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l deny -d 'With --http, answer 403 to requests of METHOD whose path matches PATH-GLOB' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l preset -d 'With --http, allow what a known client needs (README lists each preset\'s rules)' -r -f -a "docker-readonly\t'Everything --read-only allows: GET and HEAD, except what reads files or secrets'
traefik\t'Traefik\'s docker provider: ping, version, info, events, containers, networks and, for swarm mode, services and tasks; GET only'
watchtower\t'Watchtower: list and inspect containers and images, pull, stop, remove, create, start and rename containers, remove images, connect networks'
portainer\t'Portainer (docker-socket-proxy\'s CONTAINERS, IMAGES, NETWORKS, VOLUMES, INFO, EXEC, SERVICES, TASKS with POST): any method there, but never a container\'s files (archive, copy, export), secrets, configs, swarm tokens, plugins, builds or auth'"
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l rules -d 'With --http, also the rules of FILE (TOML, or YAML when named .yaml or .yml): rules for everyone and [[peer]] sections for clients by uid, user, gid or group (README, relay --http, shows one)' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l allow-uid -d 'With --http on a unix LISTEN, let in only clients of user UID (a number or a name; repeatable; as SO_PEERCRED tells): the others get a 403' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l allow-gid -d 'With --http on a unix LISTEN, let in only clients whose primary group is GID (a number or a name; repeatable); with --allow-uid, either lets a client in' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l allow-bind -d 'With --http, let a create bind-mount host paths under PREFIX (repeatable); without it, no host path at all' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l allow-host-namespace -d 'With --http, let a create (or a build\'s networkmode) share the host\'s NAMESPACE (repeatable)' -r -f -a "pid\t''
ipc\t''
network\t''
userns\t''
uts\t''
cgroup\t''"
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l reply-timeout -d 'For datagrams: keep a sender\'s own socket toward TARGET, and pass its answers back, until DURATION without a datagram either way [default: 30s]' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l on-full -d 'For datagrams: when a unix receiver\'s queue is full, wait for room, or drop the datagram and count it [default: wait]' -r -f -a "wait\t'Wait until the receiver has room (the relay\'s other traffic waits too)'
drop\t'Drop the datagram and count it (as a UDP network would)'"
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l proxy-protocol -d 'Send TARGET a PROXY protocol header naming the client before its bytes (HAProxy\'s send-proxy; nginx\'s `listen ... proxy_protocol` reads it); v2 carries unix addresses too (not with --http: README, relay --http, says why)' -r -f -a "v1\t'The text header: `PROXY TCP4 SRC DST SPORT DPORT\\r\\n` (unix clients: `PROXY UNKNOWN`)'
v2\t'The binary header, which carries unix addresses too'"
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l cert -d 'For a tls: LISTEN, the certificate chain to present (PEM); with --key' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l key -d 'For a tls: LISTEN, the private key of --cert (PEM)' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l self-signed-out -d 'Write the --self-signed certificate (PEM) to FILE, for clients to trust (curl --cacert FILE)' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l client-ca -d 'For a tls: LISTEN, require a client certificate signed by a CA of FILE (PEM): mutual TLS; the certificate\'s subject is in the connection log' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l cacert -d 'For a tls: address, trust the CA certificates of FILE (PEM) instead of the system\'s' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l mode -d 'Permission bits of the socket file (0 to 777), given to it as bind creates it' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l listen-fd -d 'Serve on an inherited socket instead of binding: descriptor N (socat\'s ACCEPT-FD), or the one systemd passed under NAME (FileDescriptorName=); the address argument may then be left out, and if given must be the socket\'s own' -r
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l color -d 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l json -l log-json -d 'Log as JSON lines on stderr (one object per connection, and a summary; with --http, one per request too)'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l pass-fds -d 'Forward the descriptors (SCM_RIGHTS) that arrive with the bytes, both ways, between a unix stream LISTEN and TARGET; each is closed here once sent on'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l http -d 'Speak HTTP/1.1 with each client and forward only the requests the rules allow (a guard in front of docker.sock); the others get a 403 with a Docker-style JSON message'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l read-only -d 'With --http, allow GET and HEAD only, and never the endpoints that read files or secrets (archive, export, attach/ws, images/get, secrets, configs, swarm)'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l dry-run -d 'With --http, forward every request, and log those the rules would have denied'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l allow-privileged -d 'With --http, let a container create (or exec) ask for a privileged container, and lift confinement (SecurityOpt seccomp=unconfined, apparmor, label; /proc unmasked)'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l allow-cap-add -d 'With --http, let a create add capabilities (CapAdd, Capabilities, a service\'s CapabilityAdd)'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l allow-devices -d 'With --http, let a create give the container devices (Devices, DeviceRequests, DeviceCgroupRules)'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l dgram -d 'Relay datagrams: unix LISTEN and TARGET are datagram sockets (implied by a udp: side)'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l accept-proxy-protocol -d 'Read a PROXY protocol header (v1 or v2) from each client before relaying it: the client logged, and sent on with --proxy-protocol, is the one it names; a client without a valid one is closed (with --http too: each request\'s log line names it)'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l self-signed -d 'For a tls: LISTEN, make a certificate for the listening host now (its SHA-256 fingerprint is logged)'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l insecure -d 'For a tls: address, accept any server certificate, unchecked (curl -k): anyone on the path can read and change the traffic'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -l force -d 'Replace a live socket at the path (a dead one is always replaced)'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -s q -l quiet -d 'Print no diagnostics on stderr, only errors and warnings (for http: curl\'s -sS)'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c udskit -n "__fish_udskit_using_subcommand relay" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_using_subcommand generate" -l out-dir -d 'Directory that receives completions/ and man/' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand generate" -l color -d 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c udskit -n "__fish_udskit_using_subcommand generate" -s q -l quiet -d 'Print no diagnostics on stderr, only errors and warnings (for http: curl\'s -sS)'
complete -c udskit -n "__fish_udskit_using_subcommand generate" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_using_subcommand generate" -s h -l help -d 'Print help'
complete -c udskit -n "__fish_udskit_using_subcommand generate" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_using_subcommand http" -l unix-socket -d 'The socket file, as curl\'s option: TARGET is then a URL or a path, and no SOCKET argument is given' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand http" -l abstract-unix-socket -d 'A socket in the Linux abstract namespace, as curl\'s option (NAME without the \'@\')' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -s H -l header -d 'A request header, \'Name: value\' (repeatable); \'Name:\' drops a default one' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -s d -l data -d 'Send DATA as the body (a form, as curl\'s); POST unless a method is given. @FILE or @- (stdin) read it with CR and LF left out, as curl does (--data-binary keeps them). Several -d/--data-* are joined with \'&\' in order' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -l data-binary -d 'Send DATA, @FILE or @- byte for byte; a file or stdin goes as application/octet-stream' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -l data-raw -d 'Send DATA as it is written, \'@\' included' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -l data-urlencode -d 'Send DATA URL-encoded, in curl\'s forms: content, =content, name=content, @FILE, name@FILE (the name is sent as it is)' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -l json -d 'Send DATA, @FILE or @- as a JSON body (sets Content-Type and Accept)' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -s F -l form -d 'A multipart/form-data field (repeatable), as curl\'s: name=value, name=@FILE (a file, streamed; ;type=T and ;filename=N may follow), \'name=<FILE\' (a text field from a file)' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -s T -l upload-file -d 'PUT FILE (or - for stdin) as the body, streamed; a TARGET ending in \'/\' gets the file\'s name appended, as curl does' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand http" -s u -l user -d 'Basic authentication (Authorization: Basic); a -H Authorization wins. udskit never prompts: give the password too' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -l max-redirs -d 'At most N redirects with -L (-1: no limit); one more is exit 47, as curl\'s' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -s A -l user-agent -d 'The User-Agent header [default: udskit/VERSION]' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -s o -l output -d 'Write the body to FILE instead of stdout (bytes unchanged); FILE is replaced only once the whole answer has arrived, and left as it was on any failure' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand http" -s m -l max-time -d 'Give up the whole request after DURATION (exit 28; what arrived is kept); 0: no limit' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -l wait -d 'Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -l connect-timeout -d 'Give up a connection attempt that does not complete within DURATION; 0: no limit' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -l upgrade -d 'Ask to switch protocols (Connection: Upgrade, Upgrade: PROTOCOL, e.g. tcp); a 101 answer bridges the connection to stdin/stdout with half-close' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -l subprotocol -d 'With --ws: ask for the subprotocol PROTOCOL (Sec-WebSocket-Protocol; repeatable, in order of preference)' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -s w -l write-out -d 'After the transfer (also a failed one) print FORMAT, @FILE or @- on stdout, as curl -w: %{http_code} ... %{stderr} switches to stderr, %header{NAME}, \\n \\t \\r, %%' -r
complete -c udskit -n "__fish_udskit_using_subcommand http" -s D -l dump-header -d 'Write the status line and headers, as received (CRLF), to FILE; - is stdout, before the body' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand http" -s X -l request -d 'The method (as curl -X; a METHOD argument does the same)' -r -f -a "GET\t''
HEAD\t''
POST\t''
PUT\t''
DELETE\t''
PATCH\t''
OPTIONS\t''
CONNECT\t''
TRACE\t''"
complete -c udskit -n "__fish_udskit_using_subcommand http" -l color -d 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c udskit -n "__fish_udskit_using_subcommand http" -s G -l get -d 'Put the -d/--data-* data in the URL\'s query and send a GET (HEAD with -I)'
complete -c udskit -n "__fish_udskit_using_subcommand http" -s L -l location -d 'Follow redirects (3xx with a Location) on the same socket, as curl: 301/302 turn a POST into a GET, 303 anything but HEAD, 307/308 keep the method and the body'
complete -c udskit -n "__fish_udskit_using_subcommand http" -l http2 -d 'Speak HTTP/2 without TLS from the first byte (h2c prior knowledge, as gRPC servers do)'
complete -c udskit -n "__fish_udskit_using_subcommand http" -l http1.1 -d 'HTTP/1.1, the default (accepted for curl\'s sake)'
complete -c udskit -n "__fish_udskit_using_subcommand http" -s k -l insecure -d 'Accepted for curl\'s sake, and meaningless here: plain HTTP on a socket has no TLS'
complete -c udskit -n "__fish_udskit_using_subcommand http" -s N -l no-buffer -d 'Accepted for curl\'s sake: bodies always stream, nothing is buffered'
complete -c udskit -n "__fish_udskit_using_subcommand http" -s i -l include -d 'Print the status line and headers before the body'
complete -c udskit -n "__fish_udskit_using_subcommand http" -s I -l head -d 'HEAD request: print the status line and headers only'
complete -c udskit -n "__fish_udskit_using_subcommand http" -s f -l fail -d 'Exit 22 when the status is 400 or more (the body is still shown)'
complete -c udskit -n "__fish_udskit_using_subcommand http" -l ws -d 'Speak WebSocket on TARGET: each stdin line is sent as a text message, each message received is written to stdout (text and a newline, binary as it is); the server\'s close code is printed on stderr and is the exit code: 1000 (or none) exit 0, 4000+N exit N (N up to 255), any other exit 1. Stdin\'s end sends a close (1000) and waits up to 5s for the server\'s (not with --no-close)'
complete -c udskit -n "__fish_udskit_using_subcommand http" -l binary -d 'With --ws: each stdin read is sent as one binary message (bytes unchanged)'
complete -c udskit -n "__fish_udskit_using_subcommand http" -l ws-json -d 'With --ws: each message received as one JSON object on a line: type (text or binary), size, encoding (utf-8, or base64 for binary), data; and a last {"type":"close","code":C,"reason":R}'
complete -c udskit -n "__fish_udskit_using_subcommand http" -l no-close -d 'With --ws: stdin\'s end sends no close frame; the session lasts until the server closes (a server that only pushes, with stdin at its end or /dev/null)'
complete -c udskit -n "__fish_udskit_using_subcommand http" -l demux -d 'Split docker\'s multiplexed frames onto stdout and stderr (automatic when the answer is marked or recognisably multiplexed)'
complete -c udskit -n "__fish_udskit_using_subcommand http" -l pretty -d 'Format the body as on a terminal even when piped (JSON pretty-printed)'
complete -c udskit -n "__fish_udskit_using_subcommand http" -l path-as-is -d 'Send the path as given: `.` and `..` segments are otherwise resolved first (`/a/../b` is sent as `/b`), as curl does'
complete -c udskit -n "__fish_udskit_using_subcommand http" -l raw -d 'The body\'s bytes unchanged even on a terminal (no formatting, no demultiplexing, docker progress left as JSON and not read for errors)'
complete -c udskit -n "__fish_udskit_using_subcommand http" -s s -l silent -d 'No progress bar, no diagnostics, no warnings and no error message, as curl -s (the exit code still tells; -v still shows the exchange). -q alone is -sS: errors and warnings shown, nothing else'
complete -c udskit -n "__fish_udskit_using_subcommand http" -s S -l show-error -d 'With -s, print the error message when the request fails anyway (curl -sS)'
complete -c udskit -n "__fish_udskit_using_subcommand http" -l compressed -d 'Ask for a compressed answer (Accept-Encoding: gzip, deflate, br, zstd) and decode it as it streams; -o and the terminal get the decoded bytes (exit 61 when it cannot be decoded). Without it the body stays as sent'
complete -c udskit -n "__fish_udskit_using_subcommand http" -s O -l remote-name -d 'Write the body to the file named by the last segment of TARGET\'s path, in the current directory, as -o does (curl -O)'
complete -c udskit -n "__fish_udskit_using_subcommand http" -s q -l quiet -d 'Print no diagnostics on stderr, only errors and warnings (for http: curl\'s -sS)'
complete -c udskit -n "__fish_udskit_using_subcommand http" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_using_subcommand http" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c udskit -n "__fish_udskit_using_subcommand http" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s c -l command -d 'Only sockets held by a process whose command name starts with NAME (repeatable)' -r -f -a "(__fish_complete_proc)"
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s p -l pid -d 'Only sockets held by process PID (repeatable)' -r -f -a "(udskit ls -q --pids 2>/dev/null)"
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s t -l type -d 'Only sockets of this type (repeatable)' -r -f -a "stream\t''
seqpacket\t''
datagram\t''"
complete -c udskit -n "__fish_udskit_using_subcommand ls" -l stale -d 'Instead: socket files under DIR (default /tmp /run /var/run) that no socket is bound to' -r -F
complete -c udskit -n "__fish_udskit_using_subcommand ls" -l graph -d 'Instead: draw who connects to which listener, as Graphviz DOT or a Mermaid flowchart' -r -f -a "dot\t'Graphviz DOT (`| dot -Tsvg > ipc.svg`)'
mermaid\t'A Mermaid flowchart, for a README or an issue'"
complete -c udskit -n "__fish_udskit_using_subcommand ls" -l interval -d 'With --watch: the time between two listings (a DURATION, e.g. 500ms)' -r
complete -c udskit -n "__fish_udskit_using_subcommand ls" -l netns -d 'Only network namespace NS: host, its inode, pid:PID, a container name or id prefix (repeatable)' -r
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s u -l user -d 'Only sockets owned by USER (a name or uid; repeatable)' -r -f -a "(__fish_complete_users)"
complete -c udskit -n "__fish_udskit_using_subcommand ls" -l color -d 'When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s l -l long -d 'Add inode, descriptor numbers, accept queue, socket file mode and owner:group'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s a -l all -d 'All unix sockets: also connected and unnamed ones'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -l peers -d 'With -a: show the process at the other end of each connected socket'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -l json -d 'Print a JSON array (keys listed in the README) instead of a table'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -l watch -d 'Take the listing again every --interval: a table redrawn in place, or JSON events when piped (or with --json)'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -l changes-only -d 'With --watch: report changes only, not the sockets already there at the start'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -l pids -d 'Print only the pids holding the listed sockets, one per line (lsof\'s -t)'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s x -d 'Unix sockets only, which is all ls lists (ss\'s -x; also -U, lsof\'s, and -n)'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s q -l quiet -d 'Print no diagnostics on stderr, only errors and warnings (for http: curl\'s -sS)'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s v -l verbose -d 'Print more diagnostics on stderr'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c udskit -n "__fish_udskit_using_subcommand ls" -s V -l version -d 'Print version'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect sendto recvfrom grpc relay generate http ls help" -f -a "listen" -d 'Stream server: accept clients and bridge, collect, echo or exec them'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect sendto recvfrom grpc relay generate http ls help" -f -a "connect" -d 'Bridge stdin/stdout to a socket (like nc -U)'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect sendto recvfrom grpc relay generate http ls help" -f -a "sendto" -d 'Send datagrams to a unix datagram socket (syslog, NOTIFY_SOCKET, control sockets)'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect sendto recvfrom grpc relay generate http ls help" -f -a "recvfrom" -d 'Receive datagrams on a unix socket and print them (a datagram server)'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect sendto recvfrom grpc relay generate http ls help" -f -a "grpc" -d 'gRPC over a unix socket, like grpcurl (containerd, CRI and CSI sockets, sidecars)'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect sendto recvfrom grpc relay generate http ls help" -f -a "relay" -d 'Relay connections between two stream addresses (TCP <-> UDS)'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect sendto recvfrom grpc relay generate http ls help" -f -a "generate" -d 'Write completions and man pages'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect sendto recvfrom grpc relay generate http ls help" -f -a "http" -d 'HTTP over a unix socket, like curl --unix-socket (Docker API, uvicorn, nginx)'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect sendto recvfrom grpc relay generate http ls help" -f -a "ls" -d 'List listening unix sockets: path, type, state, processes, user, connections'
complete -c udskit -n "__fish_udskit_using_subcommand help; and not __fish_seen_subcommand_from listen connect sendto recvfrom grpc relay generate http ls help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
