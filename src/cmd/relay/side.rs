//! One socket of a relayed connection: registered with the reactor for just what the relay
//! needs of it, read until an abort says to stop (leaving what its peer sent unread), and
//! closed as a reset when the connection is aborted, once its peer has taken what was
//! queued for it. Also the descriptors a connection needs, set aside before it is accepted.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::net::stream::{Detached, register_with};

/// The error a reader returns once the connection is aborted and its peer must no longer
/// be read (see [`Side::stop_reading`]).
pub fn stopped() -> io::Error {
    io::Error::other("stopped: the connection was aborted")
}

/// How long an abort waits for a TCP peer to take the bytes already queued for it before
/// resetting, counted from the last time the queue shrank: a peer still reading gets them
/// all, one that stopped does not hold the connection for more than this.
const DRAIN_STALL: Duration = Duration::from_secs(1);

/// Until a TCP socket's peer has acknowledged what is queued for it (or the socket failed),
/// waited for while the queue shrinks, at most [`DRAIN_STALL`] from its last shrinking. A
/// unix socket is not waited for: its peer has every byte sent already in its own queue
/// (there TIOCOUTQ counts what the peer has not read).
pub async fn drained(fd: BorrowedFd<'_>) {
    use rustix::net::AddressFamily;
    match rustix::net::sockopt::socket_domain(fd) {
        Ok(d) if d == AddressFamily::INET || d == AddressFamily::INET6 => {}
        _ => return,
    }
    let queued = || {
        let mut n: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int, the bytes not yet acknowledged.
        let r = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
        let gone = !matches!(rustix::net::sockopt::socket_error(fd), Ok(Ok(())));
        if r < 0 || gone { 0 } else { n }
    };
    let mut left = queued();
    let mut shrank = Instant::now();
    let mut pause = Duration::from_millis(1);
    while left > 0 && shrank.elapsed() < DRAIN_STALL {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
        let now = queued();
        if now < left {
            shrank = Instant::now();
        }
        left = now;
    }
}

/// The send buffer asked for a unix socket that a bulk direction goes into (the kernel
/// doubles it, and caps the request at net.core.wmem_max first: 2 MiB where that allows,
/// 416 KiB under the default 208 KiB cap, against 208 KiB without). A unix stream socket
/// holds what its writer's buffer allows, so with the default a relay sending into one
/// fills it every 208 KiB and waits for the reader to be woken and read it; where every
/// process shares one CPU, each of those turns is two context switches and a reader that
/// took little. 1 MiB measured best (docs/performance.md, "Send buffer of a unix
/// destination").
pub const UNIX_BULK_SNDBUF: usize = 1024 * 1024;

/// What a relayed socket is, for what its readiness tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Tcp,
    /// A unix stream socket.
    Unix,
}

/// One socket of a relayed connection, registered with the reactor for just what the relay
/// needs of it, so that a 1-byte exchange costs no system call and no wakeup beyond the
/// read, the write and the wait (bench/relay, latency):
/// - a short read of a stream socket clears the read readiness: the kernel returned all it
///   had, and another read would only fail with EAGAIN (tokio's own `poll_read` does the
///   same; a FIN or an error stays visible, as tokio never clears a closed state);
/// - a short write clears the write readiness the same way (the send buffer is full);
/// - a unix socket signals "writable" every time its peer reads from it (the kernel's
///   unix_write_space does not check whether anyone is waiting for room), which would
///   wake the relay once per message for nothing. So it is registered for reading only,
///   and gets a write registration (of a duplicate descriptor: epoll keeps one entry per
///   descriptor) only once a send finds its buffer full, which a connection that never
///   fills a buffer never does. TCP signals room only after a send found none, so a TCP
///   socket is registered both ways from the start.
///
/// The descriptor of that second registration is set aside when the connection starts
/// near the descriptor limit (`spare`, see accept.rs), and otherwise duplicated when
/// first needed; a write that finds no descriptor for it waits for room by polling, so a
/// connection never fails for want of one mid-stream.
pub struct Side {
    fd: AsyncFd<OwnedFd>,
    write: OnceLock<AsyncFd<OwnedFd>>,
    spare: std::sync::Mutex<Option<OwnedFd>>,
    family: Family,
    /// This peer failed (reset, gone): it is read to its end, not reset again.
    failed: AtomicBool,
    /// The connection was aborted and this peer must not be read any more.
    stop: AtomicBool,
}

impl Side {
    /// A bare socket (accepted or connected, on no reactor yet), registered once.
    pub fn new(s: Detached, spare: Option<OwnedFd>) -> io::Result<Side> {
        let (fd, family): (OwnedFd, _) = match s {
            Detached::Tcp(s) => (s.into(), Family::Tcp),
            Detached::Unix(s) => (s.into(), Family::Unix),
            // A short read of a record socket says nothing of what is left; relay's
            // addresses are stream addresses, so none gets here.
            Detached::SeqPacket(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "relay moves stream sockets only",
                ));
            }
        };
        let interest = match family {
            Family::Tcp => Interest::READABLE | Interest::WRITABLE,
            Family::Unix => Interest::READABLE,
        };
        // The second registration's descriptor, a duplicate made now into the one set
        // aside (dup3 onto it needs no free descriptor); none set aside, made when needed.
        let spare = match (family, spare) {
            (Family::Unix, Some(mut keep)) => {
                rustix::io::dup3(&fd, &mut keep, rustix::io::DupFlags::CLOEXEC)?;
                Some(keep)
            }
            _ => None,
        };
        Ok(Side {
            fd: register_with(fd, interest)?,
            write: OnceLock::new(),
            spare: std::sync::Mutex::new(spare),
            family,
            failed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        })
    }

    /// The socket, for a write outside [`Side::write`] (one that must not wait).
    pub fn raw(&self) -> BorrowedFd<'_> {
        self.fd.get_ref().as_fd()
    }

    pub fn fail(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// From now on a read of this socket returns [`stopped`] without reading: what its
    /// peer sent stays unread (a unix socket closed so tells its peer ECONNRESET; a TCP
    /// socket so closed sends a reset). shutdown(SHUT_RD) wakes the reader waiting on it.
    pub fn stop_reading(&self) {
        if !self.stop.swap(true, Ordering::Relaxed) {
            let _ = rustix::net::shutdown(self.fd.get_ref(), rustix::net::Shutdown::Read);
        }
    }

    /// For an abort: a live TCP peer first gets the bytes queued for it (its send queue
    /// empties as it acknowledges them; waited for while it shrinks, see [`DRAIN_STALL`]),
    /// then the reset. A unix peer has every byte sent to it already in its own queue.
    pub async fn drain(&self) {
        if !self.failed() {
            drained(self.fd.get_ref().as_fd()).await;
        }
        self.reset();
    }

    /// A direction into this socket turned bulk: a unix socket gets a send buffer of
    /// [`UNIX_BULK_SNDBUF`] (never a smaller one than it has). A TCP socket's grows by
    /// itself (autotuning, which setting SO_SNDBUF would turn off).
    pub fn sending_bulk(&self) {
        use rustix::net::sockopt::{set_socket_send_buffer_size, socket_send_buffer_size};
        if self.family == Family::Unix
            && socket_send_buffer_size(self.raw()).is_ok_and(|n| n < 2 * UNIX_BULK_SNDBUF)
        {
            let _ = set_socket_send_buffer_size(self.raw(), UNIX_BULK_SNDBUF);
        }
    }

    /// Makes the close of a TCP socket a reset (SO_LINGER 0), which discards what it has
    /// not sent yet.
    pub fn reset(&self) {
        if self.family == Family::Tcp {
            let _ =
                rustix::net::sockopt::set_socket_linger(self.fd.get_ref(), Some(Duration::ZERO));
        }
    }

    /// Shuts down one side (a relay's half-close); a peer already gone (ENOTCONN) is no error.
    pub fn shutdown(&self, how: rustix::net::Shutdown) -> io::Result<()> {
        match rustix::net::shutdown(self.fd.get_ref(), how) {
            Err(rustix::io::Errno::NOTCONN) => Ok(()),
            r => r.map_err(Into::into),
        }
    }

    /// Waits until the socket is readable (or closed, or no longer to be read).
    pub async fn readable(&self) -> io::Result<()> {
        let _ready = self.fd.readable().await?;
        if self.stopping() {
            return Err(stopped());
        }
        Ok(())
    }

    /// Runs the non-blocking read `f` once the socket is readable, again after each EAGAIN.
    /// `short(n)` tells whether `n` bytes prove the socket had no more queued.
    pub async fn read(
        &self,
        short: impl Fn(usize) -> bool,
        mut f: impl FnMut(BorrowedFd<'_>) -> io::Result<usize>,
    ) -> io::Result<usize> {
        loop {
            let mut ready = self.fd.readable().await?;
            if self.stopping() {
                return Err(stopped());
            }
            match f(self.fd.get_ref().as_fd()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => ready.clear_ready(),
                Ok(n) if n > 0 && short(n) => {
                    ready.clear_ready();
                    return Ok(n);
                }
                r => return r,
            }
        }
    }

    /// Runs the non-blocking write `f` of `len` bytes until it writes some, waiting for
    /// room after each EAGAIN.
    pub async fn write(
        &self,
        len: usize,
        mut f: impl FnMut(BorrowedFd<'_>) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let reg = match (self.family, self.write.get()) {
            (Family::Tcp, _) => &self.fd,
            (_, Some(w)) => w,
            (_, None) => {
                // No write registration yet: just try.
                match f(self.fd.get_ref().as_fd()) {
                    Ok(m) if m == len => return Ok(m),
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                    // Full (or filled now): from here on, wait for room through a registration.
                    r => {
                        let w = self.register_for_room()?;
                        if let Ok(m) = r {
                            return Ok(m);
                        }
                        match w {
                            Some(w) => w,
                            None => match self.write_polled(&mut f).await? {
                                Polled::Wrote(m) => return Ok(m),
                                Polled::Registered(w) => w,
                            },
                        }
                    }
                }
            }
        };
        loop {
            let mut ready = reg.writable().await?;
            match f(self.fd.get_ref().as_fd()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => ready.clear_ready(),
                Ok(m) if m < len => {
                    ready.clear_ready();
                    return Ok(m);
                }
                r => return r,
            }
        }
    }

    /// The write registration of a unix socket, made now on the descriptor set aside or a
    /// new duplicate; None while the process has no descriptor for it.
    fn register_for_room(&self) -> io::Result<Option<&AsyncFd<OwnedFd>>> {
        let spare = self.spare.lock().ok().and_then(|mut s| s.take());
        let dup = match spare {
            Some(fd) => fd,
            None => match self.fd.get_ref().try_clone() {
                Ok(fd) => fd,
                // EINVAL: a limit below 3, the lowest number try_clone asks for.
                Err(e) if is_short_of_descriptors(&e) || e.raw_os_error() == Some(libc::EINVAL) => {
                    return Ok(None);
                }
                Err(e) => return Err(e),
            },
        };
        let w = register_with(dup, Interest::WRITABLE)?;
        Ok(Some(self.write.get_or_init(|| w)))
    }

    /// A write into a full unix socket with no descriptor to register for room (the
    /// process at its limit): tried again after a pause (1 ms, doubling to 50 ms), and a
    /// registration with it, until one of the two succeeds.
    async fn write_polled(
        &self,
        f: &mut impl FnMut(BorrowedFd<'_>) -> io::Result<usize>,
    ) -> io::Result<Polled<'_>> {
        let mut pause = Duration::from_millis(1);
        loop {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
            match f(self.fd.get_ref().as_fd()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                r => return r.map(Polled::Wrote),
            }
            if let Some(w) = self.register_for_room()? {
                return Ok(Polled::Registered(w));
            }
        }
    }
}

/// How a polled write ended: bytes written, or a registration to wait on after all.
enum Polled<'a> {
    Wrote(usize),
    Registered(&'a AsyncFd<OwnedFd>),
}

/// Whether an error is the process's (EMFILE) or the system's (ENFILE) want of descriptors.
fn is_short_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// Descriptors set aside for a connection before it is accepted, so that it never runs
/// short of them once bytes flow: one per unix socket of the connection, which waits for
/// room to write through a second registration (see [`Side`]). Taken by
/// [`Spare::reserve`]; the target's own socket is [`Spare::target_fd`]'s.
pub struct Spare(pub [Option<OwnedFd>; 2], Option<OwnedFd>);

impl Spare {
    /// Descriptors for a connection whose client is (`client_unix`) and whose target is
    /// (`target_unix`) a unix socket, as duplicates of `of`; fails with EMFILE (or ENFILE)
    /// when there are not enough.
    pub fn reserve(of: BorrowedFd<'_>, client_unix: bool, target_unix: bool) -> io::Result<Spare> {
        let dup = || rustix::io::fcntl_dupfd_cloexec(of, 0).map_err(io::Error::from);
        let one = |unix: bool| unix.then(dup).transpose();
        Ok(Spare([one(client_unix)?, one(target_unix)?], Some(dup()?)))
    }

    /// No descriptors set aside: for a connection that is not spliced (`--http`, which
    /// needs none beyond its sockets), or one accepted far from the limit (accept.rs).
    pub fn none() -> Spare {
        Spare([None, None], None)
    }

    /// Frees the descriptor kept for the target's socket, right before it is made.
    pub fn target_fd(&mut self) {
        self.1 = None;
    }
}
