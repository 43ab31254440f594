//! `--pcap FILE` for datagrams (`sendto`, `recvfrom`): each datagram a UDP packet in the
//! capture ([`super::pcap`]), from a fake sender address stable per real sender address
//! ([`Endpoint::sender`]) to 10.0.0.1 port 9 (the receiver), and back for answers; each
//! packet's comment names the real addresses (and the sender's pid, command and uid when
//! they came with it).

use std::path::Path;

use anyhow::Context;

use super::pcap::{Endpoint, Pcap};
use crate::net::addr::Addr;
use crate::net::dgram::{self, Dgram, Received};
use crate::net::fds::FdInfo;
use crate::term::{Ctx, escape, escape_bytes};

/// Opens the capture file (`-`: stdout, never a terminal), its failure named (for every
/// subcommand's `--pcap`).
pub fn open(path: &Path, ctx: &Ctx) -> anyhow::Result<Pcap> {
    use std::io::IsTerminal;
    if path == Path::new("-") && std::io::stdout().is_terminal() {
        return Err(crate::error::Fail::usage(
            "--pcap - would write a binary capture to the terminal",
        )
        .hint("pipe it (`| tshark -r -`, `| wireshark -k -i -`) or give a file")
        .into());
    }
    let name = escape(&path.display().to_string()).into_owned();
    let pcap = Pcap::open(path, concat!("udskit ", env!("CARGO_PKG_VERSION")))
        .with_context(|| format!("opening the capture file {name}"))?;
    let ctx = ctx.clone();
    Ok(pcap.on_failure(move |e| {
        ctx.warn(format!(
            "writing the capture to {name}: {e}; capture stopped (the traffic goes on)"
        ))
    }))
}

/// An address as a comment shows it; an unbound socket as such.
fn named(a: Option<&Addr>) -> String {
    a.map_or("an unbound socket".into(), |a| escape_bytes(&a.to_bytes()))
}

/// The datagrams `sendto` sends from its socket to ADDR, and the answers it gets.
pub struct Sent<'a> {
    pcap: &'a Pcap,
    us: Endpoint,
    /// ADDR's bytes: answers from it come from the receiver's end.
    to: Vec<u8>,
    comment: String,
}

impl<'a> Sent<'a> {
    /// `fds`: how many descriptors go with the datagram (SCM_RIGHTS, which UDP cannot
    /// carry: told in the comment).
    pub fn new(pcap: &'a Pcap, sock: &Dgram, to: &Addr, fds: usize) -> Sent<'a> {
        let local = sock.local.as_ref();
        let mut comment = format!(
            "udskit sendto (pid {}) from {} to {}",
            std::process::id(),
            named(local),
            named(Some(to))
        );
        if fds > 0 {
            comment.push_str(&format!(
                "; {fds} descriptor{} passed with it",
                if fds == 1 { "" } else { "s" }
            ));
        }
        Sent {
            pcap,
            us: Endpoint::sender(&local.map(Addr::to_bytes).unwrap_or_default()),
            to: to.to_bytes(),
            comment,
        }
    }

    pub fn sent(&self, data: &[u8]) {
        self.pcap
            .datagram(self.us, Endpoint::receiver(), data, Some(&self.comment));
    }

    /// An answer: from the receiver's end when ADDR sent it, else from the fake address
    /// of the socket that did.
    pub fn answer(&self, r: &Received, data: &[u8]) {
        let (mut from, comment) = described(r, "answer");
        let real = r.from.as_ref().and_then(dgram::addr_of);
        if real.is_some_and(|a| a.to_bytes() == self.to) {
            from = Endpoint::receiver();
        }
        self.pcap.datagram(from, self.us, data, Some(&comment));
    }
}

/// A received datagram's fake sender and the comment that names the real one.
fn described(r: &Received, what: &str) -> (Endpoint, String) {
    let from = r.from.as_ref().and_then(dgram::addr_of);
    let mut comment = format!("{what} from {}", named(from.as_ref()));
    if let Some(c) = r.cred {
        comment.push_str(&format!(" ({c})"));
    }
    if r.truncated {
        comment.push_str(&format!("; {} bytes sent, {} received", r.size, r.stored));
    }
    (
        Endpoint::sender(&from.map(|a| a.to_bytes()).unwrap_or_default()),
        comment,
    )
}

/// The datagrams `recvfrom` receives on its address (and its `--echo` answers).
pub struct Receiving<'a> {
    pcap: &'a Pcap,
    on: String,
}

impl<'a> Receiving<'a> {
    pub fn new(pcap: &'a Pcap, on: &Addr) -> Receiving<'a> {
        Receiving {
            pcap,
            on: named(Some(on)),
        }
    }

    /// Datagram number `n`, received; the descriptors that came with it (SCM_RIGHTS, which
    /// UDP cannot carry) are named in its comment.
    pub fn received(&self, n: u64, r: &Received, data: &[u8], passed: &[FdInfo]) {
        let (from, mut comment) = described(r, &format!("datagram #{n} to {}", self.on));
        for info in passed {
            comment.push_str(&format!("; passed {info}"));
        }
        self.pcap
            .datagram(from, Endpoint::receiver(), data, Some(&comment));
    }

    /// The `--echo` answer to datagram `n`, sent back to its sender.
    pub fn echoed(&self, n: u64, r: &Received, data: &[u8]) {
        let (to, _) = described(r, "");
        let comment = format!("the echo of datagram #{n}");
        self.pcap
            .datagram(Endpoint::receiver(), to, data, Some(&comment));
    }
}
