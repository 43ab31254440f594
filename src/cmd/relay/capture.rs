//! `relay --pcap FILE`: every relayed connection as a TCP flow in a pcapng capture
//! ([`crate::io::pcap`]): client 10.1.x.y, target 10.0.0.1 on TARGET's TCP port (80 for a
//! unix TARGET, so that Wireshark reads HTTP without a "Decode As"), the connection id,
//! the client (address, or pid, command and uid), LISTEN and TARGET in the comment of its
//! SYN.

use std::os::fd::BorrowedFd;

use super::copy::{Direction, Seen};
use crate::io::pcap::{Endpoint, Flow, Pcap, Sender};
use crate::net::addr::Addr;

/// The port the target end of every flow has.
pub fn server_port(target: &Addr) -> u16 {
    match target {
        Addr::Tcp { port, .. } => *port,
        _ => 80,
    }
}

/// Opens connection `id`'s flow.
pub fn open<'a>(pcap: &'a Pcap, id: u64, peer: &str, plan: &super::RelayPlan) -> Flow<'a> {
    let [listen, target] = &plan.shown;
    let comment =
        format!("udskit relay connection #{id}: client {peer} on {listen}, target {target}");
    pcap.flow(
        id,
        Endpoint::client(id),
        Endpoint::server(server_port(&plan.target)),
        &comment,
    )
}

/// The sender of a direction's bytes, and the other end.
fn ends(dir: Direction) -> (Sender, Sender) {
    match dir {
        Direction::Up => (Sender::Client, Sender::Server),
        Direction::Down => (Sender::Server, Sender::Client),
    }
}

/// `n` bytes of a spliced direction, waiting in `pipe`, into the flow (see
/// [`Flow::data_in_pipe`]).
pub fn spliced(flow: &Flow<'_>, dir: Direction, pipe: BorrowedFd<'_>, n: usize) {
    flow.data_in_pipe(ends(dir).0, pipe, n);
}

/// What the relay's tap saw, into the flow: up is the client's side of the flow.
pub fn seen(flow: &Flow<'_>, dir: Direction, seen: Seen<'_>) {
    let (source, destination) = ends(dir);
    match seen {
        Seen::Data(b) => flow.data(source, b),
        Seen::End => flow.fin(source),
        Seen::SourceFailed => flow.reset(source, Some("reset (or gone) while sending")),
        Seen::DestinationFailed => {
            flow.reset(destination, Some("reset (or gone) while being sent to"))
        }
    }
}
