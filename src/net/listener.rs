//! The listening-socket type of every stream server: unix stream, unix seqpacket and TCP,
//! accepting with the peer's credentials, and an accept loop that never ends on an error.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use tokio::io::unix::AsyncFd;
use tokio::net::{TcpListener, UnixListener};

use crate::net::cred::{Cred, Peer};
use crate::net::kind::Kind;
use crate::net::stream::{SeqPacket, Stream, register};
use crate::shutdown::Shutdown;
use crate::term::Ctx;

/// A listening socket of any kind.
#[derive(Debug)]
pub enum Listener {
    Unix(UnixListener),
    SeqPacket(AsyncFd<OwnedFd>),
    Tcp(TcpListener),
}

impl Listener {
    /// Wraps a bound, listening, non-blocking unix socket.
    pub fn from_unix_fd(fd: OwnedFd, kind: Kind) -> io::Result<Listener> {
        match kind {
            Kind::SeqPacket => Ok(Listener::SeqPacket(register(fd)?)),
            _ => Ok(Listener::Unix(UnixListener::from_std(
                std::os::unix::net::UnixListener::from(fd),
            )?)),
        }
    }

    pub async fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            Listener::Unix(l) => {
                let (s, _) = l.accept().await?;
                let cred = Cred::of(s.as_fd());
                Ok((Stream::Unix(s), Peer { addr: None, cred }))
            }
            Listener::SeqPacket(l) => loop {
                let mut guard = l.readable().await?;
                let flags = rustix::net::SocketFlags::CLOEXEC | rustix::net::SocketFlags::NONBLOCK;
                match guard.try_io(|fd| Ok(rustix::net::accept_with(fd.get_ref(), flags)?)) {
                    Ok(fd) => {
                        let fd = fd?;
                        let cred = Cred::of(fd.as_fd());
                        return Ok((
                            Stream::SeqPacket(SeqPacket::new(fd)?),
                            Peer { addr: None, cred },
                        ));
                    }
                    Err(_would_block) => continue,
                }
            },
            Listener::Tcp(l) => {
                let (s, a) = l.accept().await?;
                let _ = s.set_nodelay(true);
                Ok((
                    Stream::Tcp(s),
                    Peer {
                        addr: Some(a),
                        cred: None,
                    },
                ))
            }
        }
    }
}

impl Listener {
    /// The next client, or None once `stop` fires. An accept error (EMFILE and friends) is
    /// a warning followed by a pause (10 ms doubling to 1 s): it never ends the listener.
    /// The warning is given once for a run of failures, not once per attempt, and a
    /// shortage of descriptors is named as ours, with our limit.
    pub async fn accept_or_stop(&self, ctx: &Ctx, stop: &Shutdown) -> Option<(Stream, Peer)> {
        let mut pause = std::time::Duration::from_millis(10);
        let mut failing = false;
        loop {
            tokio::select! {
                r = self.accept() => match r {
                    Ok(c) => {
                        if failing {
                            ctx.info("accepting clients again");
                        }
                        return Some(c);
                    }
                    Err(e) => {
                        if !failing {
                            ctx.warn(accept_error(&e));
                            failing = true;
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(pause) => {}
                            _ = stop.stopped() => return None,
                        }
                        pause = (pause * 2).min(std::time::Duration::from_secs(1));
                    }
                },
                _ = stop.stopped() => return None,
            }
        }
    }
}

/// The warning for a failed accept, as the kernel says it, and for a shortage of
/// descriptors in words too (ours, with our limit).
pub fn accept_error(e: &io::Error) -> String {
    match crate::net::explain::descriptor_shortage(e) {
        Some(words) => {
            format!("accepting a client: {e}: {words}; clients wait in the accept queue")
        }
        None => format!("accepting a client: {e}"),
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Unix(l) => l.as_fd(),
            Listener::SeqPacket(l) => l.get_ref().as_fd(),
            Listener::Tcp(l) => l.as_fd(),
        }
    }
}
