//! What is at a socket path: nothing, a live socket (and whose), a dead one, or something
//! that is not a socket. Safe bind asks before it binds; `ls --stale` asks of every file no
//! socket in any namespace it read is bound to. The kernel's table is asked first (which
//! socket is bound to this very file?); a connect is the last word, because a socket in a
//! network namespace we did not see (a container sharing the directory) still answers it,
//! and a dead socket refuses it without anyone noticing.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use rustix::io::Errno;

use crate::net::addr::Addr;
use crate::net::cred::Cred;
use crate::net::explain::file_kind;
use crate::net::kind::Kind;
use crate::net::unix::try_connect_unix;

/// What is at a path we are about to bind: nothing, a live socket (owner when known),
/// a dead socket, or something that is not a socket.
pub enum Occupant {
    Nothing,
    /// A live socket file (dev, ino), its owner when known (another process before
    /// ourselves), and whether we hold a descriptor of it too (one we were started with).
    Live {
        file: (u64, u64),
        owner: Option<Cred>,
        held_by_us: bool,
    },
    /// A dead socket file (dev, ino).
    Dead((u64, u64)),
    NotASocket(&'static str),
}

pub fn occupant(p: &Path) -> anyhow::Result<Occupant> {
    let m = match std::fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Occupant::Nothing),
        Err(e) => return Err(e.into()),
    };
    if !m.file_type().is_socket() {
        return Ok(Occupant::NotASocket(file_kind(&m)));
    }
    let id = (m.dev(), m.ino());
    // Ask the kernel which socket is bound to this very file rather than connecting to it:
    // a connection is a client to the server there, and a single-client server (listen in
    // its default mode) would take our probe as its one client.
    let unbound_here = match crate::linux::diag::bound_to(m.dev(), m.ino()) {
        Ok(Some(sock)) => {
            let (owner, held_by_us) = owner(sock.inode);
            return Ok(Occupant::Live {
                file: id,
                owner,
                held_by_us,
            });
        }
        // No socket of this network namespace is bound to it. One in another namespace (a
        // container sharing the directory) would still answer: confirm with a connect.
        Ok(None) => true,
        // No sock_diag here (seccomp, a kernel without unix_diag): connecting is all we have.
        Err(_) => false,
    };
    match knock(p) {
        Answer::Accepts(cred) => Ok(Occupant::Live {
            file: id,
            owner: cred,
            held_by_us: false,
        }),
        Answer::Refuses => Ok(Occupant::Dead(id)),
        Answer::Gone => Ok(Occupant::Nothing),
        Answer::Unknown(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            Err(crate::net::explain::unprobed(p, &m, unbound_here).into())
        }
        Answer::Unknown(e) => Err(anyhow::Error::from(e).context("probing the existing socket")),
    }
}

/// What a socket file answers a connect.
#[derive(Debug)]
pub enum Answer {
    /// Somebody listens (or a bound datagram socket takes datagrams): the listener's
    /// credentials when the kernel gives them. A full accept queue counts: it is live.
    Accepts(Option<Cred>),
    /// Nobody is bound to it: dead.
    Refuses,
    /// The file went away meanwhile.
    Gone,
    /// The connect failed otherwise (no write permission on the file, ...): no verdict.
    Unknown(io::Error),
}

/// Connects to the socket file at `p`, trying each socket type, and says what that tells.
pub fn knock(p: &Path) -> Answer {
    match connect_probe(&Addr::Path(p.to_path_buf())) {
        Ok(cred) => Answer::Accepts(cred),
        Err(e) if e.raw_os_error() == Some(Errno::CONNREFUSED.raw_os_error()) => Answer::Refuses,
        Err(e) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => Answer::Gone,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Answer::Accepts(None),
        Err(e) => Answer::Unknown(e),
    }
}

/// The process holding socket `inode` (the first one, if several share it), as a [`Cred`]
/// with its effective ids, when /proc lets us see it.
fn owner(inode: u32) -> (Option<Cred>, bool) {
    let scan = crate::linux::fdscan::scan_socket_fds(&|_| true);
    let me = std::process::id();
    let held_by_us = scan.holders(u64::from(inode)).any(|h| h.pid == me);
    // Another process before ourselves.
    let owner = scan
        .holders(u64::from(inode))
        .min_by_key(|h| h.pid == me)
        .and_then(|holder| {
            let (uid, gid) = crate::linux::process::ids(holder.pid)?;
            Some(Cred {
                pid: holder.pid,
                uid,
                gid,
            })
        });
    (owner, held_by_us)
}

/// Who is bound at `addr`, for the "address in use" message: sock_diag first, a connect
/// only where sock_diag is unavailable.
pub fn probe(addr: &Addr) -> io::Result<Option<Cred>> {
    if let Addr::Abstract(name) = addr
        && let Ok(found) = crate::linux::diag::bound_abstract(name)
    {
        return Ok(found.and_then(|s| owner(s.inode).0));
    }
    connect_probe(addr)
}

/// Connects to whatever is bound at `addr`, trying each socket type, and returns the
/// listener's credentials when the kernel gives them.
fn connect_probe(addr: &Addr) -> io::Result<Option<Cred>> {
    let mut last = io::Error::from(Errno::CONNREFUSED);
    for kind in [Kind::Stream, Kind::SeqPacket, Kind::Datagram] {
        match try_connect_unix(addr, kind) {
            Ok(fd) => {
                let cred = rustix::net::sockopt::socket_peercred(fd.as_fd())
                    .ok()
                    .map(Cred::from)
                    .filter(|c| c.pid > 0);
                return Ok(cred);
            }
            Err(e) if e.raw_os_error() == Some(Errno::PROTOTYPE.raw_os_error()) => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}
