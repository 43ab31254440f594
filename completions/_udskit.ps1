
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
            [CompletionResult]::new('relay', 'relay', [CompletionResultType]::ParameterValue, 'Relay connections between two stream addresses (TCP <-> UDS)')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Write completions and man pages')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'udskit;listen' {
            [CompletionResult]::new('--exec', '--exec', [CompletionResultType]::ParameterName, 'Run CMD (with sh -c) per client, the connection as its stdin/stdout and UDSKIT_PEER_PID, UDSKIT_PEER_UID, UDSKIT_PEER_GID (or UDSKIT_PEER_ADDR) in its env')
            [CompletionResult]::new('--max-clients', '--max-clients', [CompletionResultType]::ParameterName, 'Serve at most N clients at a time; more wait in the accept queue')
            [CompletionResult]::new('--count', '--count', [CompletionResultType]::ParameterName, 'Exit after N clients have been served (with -k, --echo or --exec)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Permission bits of the socket file, applied before any client can connect')
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
        'udskit;relay' {
            [CompletionResult]::new('--connect-timeout', '--connect-timeout', [CompletionResultType]::ParameterName, 'Give up connecting to TARGET after DURATION (the client is closed)')
            [CompletionResult]::new('--idle-timeout', '--idle-timeout', [CompletionResultType]::ParameterName, 'Close a connection after DURATION without a byte either way (nginx''s proxy_timeout)')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Relay at most N connections at a time; more wait in the accept queue (never reset)')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'On SIGINT/SIGTERM, give open connections DURATION to finish before closing them')
            [CompletionResult]::new('--dump', '--dump', [CompletionResultType]::ParameterName, 'Show every chunk each way, tagged `#ID >` (to TARGET) or `#ID <` (back), with its time')
            [CompletionResult]::new('--dump-file', '--dump-file', [CompletionResultType]::ParameterName, 'Write the --dump output to PATH instead of stderr')
            [CompletionResult]::new('--copier', '--copier', [CompletionResultType]::ParameterName, 'How bytes move: auto, splice or buffer (for measurements: bench/relay --copiers)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'Permission bits of the socket file, applied before any client can connect')
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
            [CompletionResult]::new('relay', 'relay', [CompletionResultType]::ParameterValue, 'Relay connections between two stream addresses (TCP <-> UDS)')
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
        'udskit;help;relay' {
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
