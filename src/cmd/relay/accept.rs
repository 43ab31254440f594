//! The relay's accept loop under pressure. The descriptors a connection needs are set
//! aside before its client is accepted, so that no connection is accepted only to be cut
//! for want of one. Short of descriptors, the relay says so once (naming its limit and how
//! to raise it), keeps serving the connections it has, and waits without using the CPU
//! until one of them ends (or a second passes, for descriptors freed elsewhere) while new
//! clients wait in the kernel's accept queue; once it catches up, it says so. With a
//! listening socket per worker (`--threads`), descriptors are still the process's: one
//! episode of shortage is told once, and its end once every worker has caught up.
//!
//! Far from the limit nothing is set aside: each set-aside cost a connection 2 fcntl(2),
//! a dup3(2) and 2 close(2) calls, about a fifth of its system calls under `Connection:
//! close` HTTP (docs/performance.md, "Descriptors set aside only near the limit").
//! Connections are counted against the limit ([`room`]), and once as many are open as
//! fit with room to spare, each new one sets its descriptors aside as before; a write
//! registration that still finds none waits for room by polling (`side.rs`).
//!
//! A client is accepted bare ([`Incoming`]): not registered with the reactor, so that its
//! connection registers it once, for what the relay needs of it (`side.rs`), and a client
//! handed to another worker moves without a registration to undo.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

use super::Log;
use super::side::Spare;
use crate::duration;
use crate::net::cred::{Cred, Peer};
use crate::net::explain::descriptor_shortage;
use crate::net::listener::{Listener, accept_error};
use crate::net::stream::{Detached, register_with};
use crate::shutdown::Shutdown;

/// The longest wait for a connection to end before trying again: descriptors can come
/// free without one ending (another part of the process, a raised limit).
const SHORT_RECHECK: Duration = Duration::from_secs(1);

/// The most descriptors one connection holds: its 2 sockets, a write registration's
/// duplicate of each, and a pipe each way (2 more with `--pcap`'s tee).
const PER_CONNECTION: usize = 12;

/// Descriptors left out of the count for the rest of the process (logs, `--pcap` files,
/// /proc/loadavg, what a worker starts with).
const SLACK: usize = 64;

/// How many connections may be open before a new one sets descriptors aside: those that
/// fit, at [`PER_CONNECTION`] each, in the limit (RLIMIT_NOFILE, read once, after the
/// relay raised it) less the descriptors open now and [`SLACK`].
pub fn room() -> usize {
    use rustix::process::{Resource, getrlimit};
    let limit = getrlimit(Resource::Nofile)
        .current
        .map_or(usize::MAX, |n| n.min(usize::MAX as u64) as usize);
    let open = std::fs::read_dir("/proc/self/fd").map_or(limit, |d| d.count());
    limit.saturating_sub(open).saturating_sub(SLACK) / PER_CONNECTION
}

/// The process's shortage of descriptors, shared by the workers' acceptors.
#[derive(Default)]
pub struct Shortage {
    /// Since when, if the process is short.
    since: Option<Instant>,
    /// Acceptors still short in this episode (a bit each).
    short: u64,
}

/// What a listening socket accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepts {
    Tcp,
    Unix,
    SeqPacket,
}

/// A listening socket as the relay accepts from it: registered with the reactor once (for
/// reading), each client taken by accept4(2) as a bare non-blocking socket. tokio's own
/// accept registers the client both ways at once, and the relay then took it off again to
/// register it for just what it needs (`side.rs`): 4 epoll_ctl(2) calls per socket where
/// one registration and its removal are 2.
pub struct Incoming {
    fd: AsyncFd<OwnedFd>,
    accepts: Accepts,
    /// A TCP client needs TCP_NODELAY set: the listener has none for it to inherit (Linux
    /// copies the listener's to each socket it accepts; ours have it, see
    /// [`crate::net::bind::bind_tcp_group`], a socket-activated one may not).
    set_nodelay: bool,
}

impl Incoming {
    /// `l` on the reactor of the runtime this runs on (the worker's that accepts from it).
    pub fn new(l: Listener) -> io::Result<Incoming> {
        let (fd, accepts): (OwnedFd, _) = match l {
            Listener::Tcp(t) => (t.into_std()?.into(), Accepts::Tcp),
            Listener::Unix(u) => (u.into_std()?.into(), Accepts::Unix),
            Listener::SeqPacket(s) => (s.into_inner(), Accepts::SeqPacket),
        };
        let set_nodelay =
            accepts == Accepts::Tcp && !rustix::net::sockopt::tcp_nodelay(&fd).unwrap_or(false);
        Ok(Incoming {
            fd: register_with(fd, Interest::READABLE)?,
            accepts,
            set_nodelay,
        })
    }

    pub fn is_tcp(&self) -> bool {
        self.accepts == Accepts::Tcp
    }

    /// Whether a client waits in the accept queue (poll(2), no waiting).
    pub fn has_pending(&self) -> bool {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        let mut fds = [PollFd::new(self.fd.get_ref(), PollFlags::IN)];
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        poll(&mut fds, Some(&zero)).is_ok_and(|n| n > 0)
    }

    /// The next client, bare (non-blocking, close-on-exec; a TCP one with TCP_NODELAY,
    /// inherited from the listener where it has it: one setsockopt(2) less a connection).
    pub async fn accept(&self) -> io::Result<(Detached, Peer)> {
        use rustix::net::SocketFlags;
        let flags = SocketFlags::CLOEXEC | SocketFlags::NONBLOCK;
        loop {
            let mut ready = self.fd.readable().await?;
            let listening = self.fd.get_ref();
            let accepted = match self.accepts {
                Accepts::Tcp => rustix::net::acceptfrom_with(listening, flags)
                    .map(|(fd, a)| (fd, a.and_then(|a| std::net::SocketAddr::try_from(a).ok()))),
                _ => rustix::net::accept_with(listening, flags).map(|fd| (fd, None)),
            };
            let (fd, addr) = match accepted {
                Ok(c) => c,
                Err(rustix::io::Errno::AGAIN) => {
                    ready.clear_ready();
                    continue;
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            return Ok(match self.accepts {
                Accepts::Tcp => {
                    if self.set_nodelay {
                        let _ = rustix::net::sockopt::set_tcp_nodelay(&fd, true);
                    }
                    (
                        Detached::Tcp(std::net::TcpStream::from(fd)),
                        Peer { addr, cred: None },
                    )
                }
                Accepts::Unix => {
                    let cred = Cred::of(fd.as_fd());
                    (
                        Detached::Unix(std::os::unix::net::UnixStream::from(fd)),
                        Peer { addr: None, cred },
                    )
                }
                Accepts::SeqPacket => {
                    let cred = Cred::of(fd.as_fd());
                    (Detached::SeqPacket(fd), Peer { addr: None, cred })
                }
            });
        }
    }
}

impl AsFd for Incoming {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.get_ref().as_fd()
    }
}

pub struct Acceptor<'a> {
    listener: &'a Incoming,
    /// This acceptor's bit in [`Shortage::short`].
    bit: u64,
    shortage: Arc<Mutex<Shortage>>,
    client_unix: bool,
    target_unix: bool,
    /// Whether connections are spliced and need descriptors set aside (not with --http).
    spares: bool,
    /// Open connections, by worker (every worker's, for the process's count).
    open: &'a [AtomicUsize],
    /// Open connections below which nothing is set aside ([`room`]).
    room: usize,
    /// This acceptor's bit is set in [`Shortage::short`] (only it sets or clears it).
    short: bool,
    log: &'a Log,
    /// Notified whenever a connection ends.
    pub ended: Arc<Notify>,
    /// Accept has been failing (for another reason), warned once.
    failing: bool,
}

impl<'a> Acceptor<'a> {
    /// An acceptor on `listener` for worker `worker`, telling of a shortage in `shortage`
    /// (one for every worker); `spares` sets descriptors aside once `open` (every worker's
    /// open connections) reaches `room`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        listener: &'a Incoming,
        target_unix: bool,
        spares: bool,
        open: &'a [AtomicUsize],
        room: usize,
        log: &'a Log,
        worker: usize,
        shortage: Arc<Mutex<Shortage>>,
    ) -> Acceptor<'a> {
        Acceptor {
            listener,
            bit: 1 << (worker % 64),
            shortage,
            client_unix: !listener.is_tcp(),
            target_unix,
            spares,
            open,
            room,
            short: false,
            log,
            ended: Arc::new(Notify::new()),
            failing: false,
        }
    }

    /// The next client with the descriptors set aside for its connection, or None once
    /// `stop` fires.
    pub async fn next(&mut self, stop: &Shutdown) -> Option<(Detached, Peer, Spare)> {
        let mut pause = Duration::from_millis(10);
        loop {
            let fd = self.listener.as_fd();
            let reserved = match self.spares && self.near_the_limit() {
                true => Spare::reserve(fd, self.client_unix, self.target_unix),
                false => Ok(Spare::none()),
            };
            let spare = match reserved {
                Ok(spare) => spare,
                Err(e) => {
                    // At the limit with nobody waiting is no shortage to tell of yet.
                    if self.listener.has_pending() {
                        self.shortage(&e);
                    }
                    self.wait_for_an_end(stop).await?;
                    continue;
                }
            };
            if self.short && !self.listener.has_pending() {
                // Every client that waited here has been taken; the episode ends when the
                // other workers' have been too.
                self.short = false;
                let mut sh = self.lock();
                sh.short &= !self.bit;
                if sh.short == 0
                    && let Some(since) = sh.since.take()
                {
                    drop(sh);
                    let waited = since.elapsed();
                    self.log
                        .recovered(Duration::from_millis(waited.as_millis() as u64));
                }
            }
            let accepted = tokio::select! {
                r = self.listener.accept() => r,
                _ = stop.stopped() => return None,
            };
            match accepted {
                Ok((client, peer)) => {
                    if std::mem::take(&mut self.failing) {
                        self.log.ctx.info("accepting clients again");
                    }
                    return Some((client, peer, spare));
                }
                Err(e) if descriptor_shortage(&e).is_some() => {
                    drop(spare);
                    // accept(2) takes the descriptor before it looks at the queue: EMFILE
                    // says nothing of a waiting client.
                    if self.listener.has_pending() {
                        self.shortage(&e);
                    }
                    self.wait_for_an_end(stop).await?;
                }
                Err(e) => {
                    if !std::mem::replace(&mut self.failing, true) {
                        self.log.ctx.warn(accept_error(&e));
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => {}
                        _ = stop.stopped() => return None,
                    }
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
            }
        }
    }

    /// Whether so many connections are open that a new one sets its descriptors aside.
    fn near_the_limit(&self) -> bool {
        let open: usize = self.open.iter().map(|n| n.load(Ordering::Relaxed)).sum();
        open >= self.room
    }

    /// Starts an episode of shortage (told once), or goes on with the current one.
    fn shortage(&mut self, e: &io::Error) {
        self.short = true;
        let mut sh = self.lock();
        sh.short |= self.bit;
        if sh.since.is_none() {
            sh.since = Some(Instant::now());
            drop(sh);
            let words = descriptor_shortage(e).unwrap_or_else(|| e.to_string());
            self.log.shortage(&format!(
                "{words}: new clients wait in the accept queue until a connection ends; \
                 or relay fewer connections at once (--max-connections)"
            ));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shortage> {
        self.shortage.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Until a connection ends, [`SHORT_RECHECK`] passes (descriptors freed otherwise, or a
    /// client now waiting to be told of), or `stop` fires (None).
    async fn wait_for_an_end(&self, stop: &Shutdown) -> Option<()> {
        tokio::select! {
            _ = self.ended.notified() => Some(()),
            _ = tokio::time::sleep(SHORT_RECHECK) => Some(()),
            _ = stop.stopped() => None,
        }
    }
}

impl Log {
    /// The relay ran out of descriptors (a warning, shown even with -q).
    pub fn shortage(&self, words: &str) {
        self.line(
            words.to_string(),
            vec![("event", "shortage".into()), ("message", words.into())],
            true,
        );
    }

    /// The clients that waited for descriptors have all been taken.
    pub fn recovered(&self, waited: Duration) {
        self.line(
            format!(
                "descriptors free again after {}: every waiting client taken",
                duration::show(waited)
            ),
            vec![
                ("event", "recovered".into()),
                ("waited_s", waited.as_secs_f64().into()),
            ],
            false,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP client is accepted with TCP_NODELAY whether the listener gives it (ours do:
    /// set once there, no setsockopt per client) or not (one bound elsewhere, such as a
    /// socket-activated one, where each client gets it set).
    #[tokio::test]
    async fn tcp_clients_are_accepted_with_nodelay() {
        let addr = "tcp:127.0.0.1:0".parse().unwrap();
        let (ours, _) = crate::net::bind::bind_tcp(&addr).await.unwrap();
        let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        plain.set_nonblocking(true).unwrap();
        let plain = tokio::net::TcpListener::from_std(plain).unwrap();
        for (l, inherits) in [(ours, true), (plain, false)] {
            let at = l.local_addr().unwrap();
            let incoming = Incoming::new(Listener::Tcp(l)).unwrap();
            assert_eq!(incoming.set_nodelay, !inherits);
            let _client = std::net::TcpStream::connect(at).unwrap();
            let (accepted, _) = incoming.accept().await.unwrap();
            let Detached::Tcp(s) = accepted else {
                panic!("a TCP listener accepted a non-TCP client")
            };
            assert!(s.nodelay().unwrap(), "inherits: {inherits}");
        }
    }
}
