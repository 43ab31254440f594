//! nc's flags that udskit has no letter for (`-l`, `-U`, `-u`, `-e`, `-c`): the hint beside
//! clap's "unexpected argument" names udskit's way of saying the same thing.

use std::ffi::OsString;

/// The hint for `e`, an error of the command line `args`, when what clap refused is one of
/// nc's flags (alone or in a cluster such as `-lU`).
pub fn nc_hint(e: &clap::Error, args: &[OsString], cli: &clap::Command) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    let words: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    // The subcommand clap was reading, if any: the first word that is one.
    let sub = words
        .iter()
        .find(|w| !w.starts_with('-') && cli.find_subcommand(w).is_some());
    // curl's and grpcurl's letters (http -c, -e; grpc -unix) are theirs, not nc's.
    if sub.is_some_and(|s| !["listen", "connect", "sendto", "recvfrom"].contains(s)) {
        return None;
    }
    let hint = match (arg.as_str(), sub.copied()) {
        ("-l", Some("listen")) => {
            "nc's -l is the subcommand itself here: leave it out (`udskit listen ADDR`)"
        }
        ("-l", _) => {
            "nc's -l is `udskit listen ADDR` (a path is a unix socket: nc's -U is not \
             needed; -k keeps listening, --exec CMD runs CMD per client)"
        }
        ("-U", _) => {
            "nc's -U is not needed: a path (or unix:PATH, @NAME for an abstract socket) is a \
             unix socket, as in `udskit connect /tmp/app.sock`"
        }
        ("-u", Some("sendto" | "recvfrom")) => {
            "nc's -u is not needed: sendto and recvfrom speak datagrams already"
        }
        ("-u", _) => {
            "nc's -u (datagrams) is `udskit sendto ADDR DATA` and `udskit recvfrom ADDR`; \
             `udskit relay udp:PORT PATH` relays UDP to a unix datagram socket"
        }
        ("-e" | "-c", Some("listen")) => {
            "nc's -e/-c is --exec CMD here (run with sh -c per client, the connection as its \
             stdin/stdout): `udskit listen ADDR --exec 'CMD'`"
        }
        ("-e" | "-c", _) => {
            "nc's -e/-c is the server's: `udskit listen ADDR --exec 'CMD'` runs CMD per \
             client; `udskit connect ADDR` bridges the socket to stdin/stdout"
        }
        _ => return None,
    };
    Some(hint.to_string())
}
