//! Who is at the other end: the credentials of the process at the other end of a unix
//! socket (SO_PEERCRED), and where an accepted connection came from.

use std::fmt;
use std::os::fd::BorrowedFd;

use crate::linux::process::comm;
use crate::term::escape;

/// Who is at the other end of a unix socket, as the kernel recorded it at connect/listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cred {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

impl From<rustix::net::UCred> for Cred {
    fn from(c: rustix::net::UCred) -> Cred {
        Cred {
            pid: c.pid.as_raw_nonzero().get() as u32,
            uid: c.uid.as_raw(),
            gid: c.gid.as_raw(),
        }
    }
}

impl Cred {
    pub fn of(fd: BorrowedFd<'_>) -> Option<Cred> {
        rustix::net::sockopt::socket_peercred(fd)
            .ok()
            .map(Cred::from)
    }

    /// The peer's command name from /proc, when it can still be seen.
    pub fn command(&self) -> Option<String> {
        comm(self.pid)
    }
}

impl fmt::Display for Cred {
    /// `pid 1234 (python3) uid 1000 gid 1000`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_command(self.command().as_deref()).fmt(f)
    }
}

impl Cred {
    /// Shown as [`Display`](fmt::Display) shows it, with the command already read (None:
    /// not seen).
    pub fn with_command<'a>(&'a self, command: Option<&'a str>) -> WithCommand<'a> {
        WithCommand {
            cred: self,
            command,
        }
    }
}

/// See [`Cred::with_command`].
pub struct WithCommand<'a> {
    cred: &'a Cred,
    command: Option<&'a str>,
}

impl fmt::Display for WithCommand<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {}", self.cred.pid)?;
        if let Some(cmd) = self.command {
            write!(f, " ({})", escape(cmd))?;
        }
        write!(f, " uid {} gid {}", self.cred.uid, self.cred.gid)
    }
}

/// Where an accepted connection came from.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The TCP address, or None for unix peers (their address is usually unnamed).
    pub addr: Option<std::net::SocketAddr>,
    pub cred: Option<Cred>,
}

impl Peer {
    /// Shown as [`Display`](fmt::Display) shows it, with a unix peer's command already
    /// read (None: not seen).
    pub fn with_command<'a>(&'a self, command: Option<&'a str>) -> PeerShown<'a> {
        PeerShown {
            peer: self,
            command,
        }
    }
}

/// See [`Peer::with_command`].
pub struct PeerShown<'a> {
    peer: &'a Peer,
    command: Option<&'a str>,
}

impl fmt::Display for PeerShown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.peer.addr, &self.peer.cred) {
            (Some(a), _) => write!(f, "{a}"),
            (None, Some(c)) => c.with_command(self.command).fmt(f),
            (None, None) => f.write_str("unknown peer"),
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let command = match (&self.addr, &self.cred) {
            (None, Some(c)) => c.command(),
            _ => None,
        };
        self.with_command(command.as_deref()).fmt(f)
    }
}
