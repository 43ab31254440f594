//! Moving bytes between two sockets for `relay`: splice(2) through a pipe, or a user-space
//! buffer where `--dump` must see the bytes; half-close (EOF one way becomes a write
//! shutdown on the other side while the other way keeps flowing); live byte meters for logs
//! and the idle timeout; a tap that shows every chunk to `--dump`; `--busy-poll`.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::net::{RecvFlags, SendFlags};
use rustix::pipe::PipeFlags;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::net::stream::{Stream, register_with};

/// How a relay moves bytes between its two sockets: splice, every direction, unless
/// `--dump` needs the bytes in hand.
///
/// splice moves page references from one socket's queue into the other's where a buffer
/// copies every byte twice, so it costs about half the relay's CPU per GiB; from a unix
/// socket too, now that loopback TCP is unpaced ([`crate::net::connect::tcp_socket`]).
/// Figures in docs/performance.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Copier {
    /// splice(2) through a pipe: the bytes never enter user space.
    Splice,
    /// recv into our own buffer, then send: what `--dump` needs to see the bytes.
    Buffer,
}

/// Pipe size of a busy spliced direction, and the most one splice asks for: 1 MiB makes 16
/// times fewer splice calls than the default 64 KiB, for the same throughput. Pipe sizes
/// count against the user's fs.pipe-user-pages-soft (16,384 pages by default; past it new
/// pipes get 2 slots), which 1 MiB per direction would reach at 32 connections, so a
/// direction grows to this only once one splice moves half its default pipe.
pub const SPLICE_PIPE: usize = 1024 * 1024;

/// Largest buffer of a buffered direction, 256 KiB as [`crate::io::CHUNK`]: one recv(2)
/// of a unix socket returns at most what its writer's SO_SNDBUF let it queue (208 KiB by
/// default), so bigger buys nothing; 32 KiB to 1 MiB measured alike (docs/performance.md).
pub const RELAY_BUF: usize = 256 * 1024;

/// First buffer of a buffered direction, grown 4x (up to RELAY_BUF) whenever a read fills
/// it: an idle connection that moved a few bytes holds 16 KiB, not 256, at the price of
/// two smaller reads before a busy direction reaches RELAY_BUF (docs/performance.md).
pub const RELAY_BUF_START: usize = 16 * 1024;

/// A relayed connection's direction: `Up` from the client to the target, `Down` back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// Live counters of one relayed connection, shared by its two directions and the watchdog
/// that enforces an idle timeout. Atomics only because tokio tasks must be Send: it all
/// runs on one thread.
#[derive(Debug)]
pub struct Meter {
    started: Instant,
    up: AtomicU64,
    down: AtomicU64,
    /// Milliseconds after `started` when bytes last moved either way.
    last: AtomicU64,
}

impl Default for Meter {
    fn default() -> Meter {
        Meter {
            started: Instant::now(),
            up: AtomicU64::new(0),
            down: AtomicU64::new(0),
            last: AtomicU64::new(0),
        }
    }
}

impl Meter {
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Bytes moved so far: (up, down).
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.up.load(Ordering::Relaxed),
            self.down.load(Ordering::Relaxed),
        )
    }

    fn add(&self, dir: Direction, n: usize) {
        let c = match dir {
            Direction::Up => &self.up,
            Direction::Down => &self.down,
        };
        c.fetch_add(n as u64, Ordering::Relaxed);
        self.last
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// How long no byte has moved either way.
    pub fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    /// Resolves once no byte has moved for `limit`.
    pub async fn idle(&self, limit: Duration) {
        loop {
            let idle = self.idle_for();
            if idle >= limit {
                return;
            }
            tokio::time::sleep(limit - idle).await;
        }
    }
}

/// Sees every chunk of a buffered copy, in order, before it is sent on (`relay --dump`).
pub type Tap<'a> = &'a (dyn Fn(Direction, &[u8]) + Sync);

/// `relay --busy-poll`: after a chunk moves, the relay's thread polls its sockets for a
/// while instead of sleeping, so that the answer to a request it just passed on is picked
/// up without the relay being woken for it.
///
/// A round trip through any relay costs four wakeups where the direct one costs two (the
/// relay is woken by the request and by the answer); its system calls are already as few as
/// socat's and nginx's, and on a virtual machine waking an idle CPU is the dearest part. The
/// price is a core kept busy while traffic flows, which is why it is asked for, never the
/// default (latency figures in docs/performance.md).
pub struct BusyPoll {
    window: Duration,
    /// Chunks moved so far, by every connection: a poll that sees it change goes on.
    moved: AtomicU64,
    moving: tokio::sync::Notify,
}

impl BusyPoll {
    pub fn new(window: Duration) -> BusyPoll {
        BusyPoll {
            window,
            moved: AtomicU64::new(0),
            moving: tokio::sync::Notify::new(),
        }
    }

    /// A direction sent a chunk on (called on the runtime's thread, so no wakeup costs a
    /// system call).
    fn moved(&self) {
        self.moved.fetch_add(1, Ordering::Relaxed);
        self.moving.notify_one();
    }

    /// Runs beside the connections for the life of the relay: once a chunk has moved, it
    /// yields again and again until `window` has passed without another. While a task
    /// yields, the runtime does not sleep: between turns it asks the kernel for ready
    /// sockets with a zero timeout (epoll_wait(2) with timeout 0).
    pub async fn run(&self) {
        loop {
            self.moving.notified().await;
            let mut seen = self.moved.load(Ordering::Relaxed);
            let mut until = Instant::now() + self.window;
            while Instant::now() < until {
                tokio::task::yield_now().await;
                let now = self.moved.load(Ordering::Relaxed);
                if now != seen {
                    seen = now;
                    until = Instant::now() + self.window;
                }
            }
        }
    }
}

/// How each direction of a relayed connection ended.
#[derive(Debug)]
pub struct Ends {
    pub up: io::Result<()>,
    pub down: io::Result<()>,
}

/// Relays between `client` and `target` until both directions have ended: EOF one way
/// becomes a write shutdown on the other side while the other way keeps flowing
/// (half-close). An error one way shuts that way down at both ends (so neither peer waits
/// on it) and leaves the other way running to its own end. Every byte read is written, in
/// order, before the direction ends. Both sockets close when the returned future ends or
/// is dropped.
pub async fn relay(
    client: Stream,
    target: Stream,
    copier: Copier,
    meter: &Meter,
    tap: Option<Tap<'_>>,
    busy: Option<&BusyPoll>,
) -> io::Result<Ends> {
    let client = Side::new(client)?;
    let target = Side::new(target)?;
    let one = async |from: &Side, to: &Side, dir: Direction| {
        let r = if copier == Copier::Splice && tap.is_none() {
            splice_one_way(from, to, dir, meter, busy).await
        } else {
            buffer_one_way(from, to, dir, meter, tap, busy).await
        };
        match &r {
            Ok(()) => to.shutdown(rustix::net::Shutdown::Write)?,
            Err(_) => {
                let _ = to.shutdown(rustix::net::Shutdown::Write);
                let _ = from.shutdown(rustix::net::Shutdown::Read);
            }
        }
        r
    };
    let (up, down) = tokio::join!(
        one(&client, &target, Direction::Up),
        one(&target, &client, Direction::Down)
    );
    Ok(Ends { up, down })
}

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
struct Side {
    fd: AsyncFd<OwnedFd>,
    write: OnceLock<AsyncFd<OwnedFd>>,
    family: Family,
}

impl Side {
    fn new(s: Stream) -> io::Result<Side> {
        let (fd, family): (OwnedFd, _) = match s {
            Stream::Tcp(s) => (s.into_std()?.into(), Family::Tcp),
            Stream::Unix(s) => (s.into_std()?.into(), Family::Unix),
            // A short read of a record socket says nothing of what is left; relay's
            // addresses are stream addresses, so none gets here.
            Stream::SeqPacket(_) => {
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
        Ok(Side {
            fd: register_with(fd, interest)?,
            write: OnceLock::new(),
            family,
        })
    }

    /// Shuts down one side (a relay's half-close); a peer already gone (ENOTCONN) is no error.
    fn shutdown(&self, how: rustix::net::Shutdown) -> io::Result<()> {
        match rustix::net::shutdown(self.fd.get_ref(), how) {
            Err(rustix::io::Errno::NOTCONN) => Ok(()),
            r => r.map_err(Into::into),
        }
    }

    /// Waits until the socket is readable (or closed).
    async fn readable(&self) -> io::Result<()> {
        self.fd.readable().await.map(drop)
    }

    /// Runs the non-blocking read `f` once the socket is readable, again after each EAGAIN.
    /// `short(n)` tells whether `n` bytes prove the socket had no more queued.
    async fn read(
        &self,
        short: impl Fn(usize) -> bool,
        mut f: impl FnMut(BorrowedFd<'_>) -> io::Result<usize>,
    ) -> io::Result<usize> {
        loop {
            let mut ready = self.fd.readable().await?;
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
    async fn write(
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
                        let dup = self.fd.get_ref().try_clone()?;
                        let w = register_with(dup, Interest::WRITABLE)?;
                        let w = self.write.get_or_init(|| w);
                        if let Ok(m) = r {
                            return Ok(m);
                        }
                        w
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
}

/// One direction with splice(2): socket -> pipe -> socket, draining the pipe completely
/// before reading again, so a splice into it never fails for lack of room. The pipe is
/// created at the first byte: an idle connection holds none.
async fn splice_one_way(
    from: &Side,
    to: &Side,
    dir: Direction,
    meter: &Meter,
    busy: Option<&BusyPoll>,
) -> io::Result<()> {
    use rustix::pipe::{SpliceFlags, splice};
    let flags = SpliceFlags::MOVE | SpliceFlags::NONBLOCK;
    from.readable().await?;
    let (pr, pw) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    let size = |pw: &OwnedFd| rustix::pipe::fcntl_getpipe_size(pw).unwrap_or(64 * 1024);
    let mut want = size(&pw);
    let mut grown = false;
    loop {
        // A splice into the pipe stops short when the socket has no more, or when the pipe
        // has no free slot (one per page or part of a page). Fewer bytes than slots prove
        // the former.
        let slots = want / 4096;
        let n = from
            .read(
                |n| n < slots,
                |fd| Ok(splice(fd, None, &pw, None, want, flags)?),
            )
            .await?;
        if n == 0 {
            return Ok(());
        }
        let mut left = n;
        while left > 0 {
            let m = to
                .write(left, |fd| Ok(splice(&pr, None, fd, None, left, flags)?))
                .await?;
            left -= m;
            meter.add(dir, m);
        }
        if let Some(busy) = busy {
            busy.moved();
        }
        if n >= want / 2 && !grown {
            // Half the pipe at once: a busy direction. Best effort (fs.pipe-max-size, the
            // user's pipe pages).
            grown = true;
            let _ = rustix::pipe::fcntl_setpipe_size(&pw, SPLICE_PIPE);
            want = size(&pw);
        }
    }
}

/// One direction through a user-space buffer (allocated at the first byte), shown to
/// `tap` before it is sent on.
async fn buffer_one_way(
    from: &Side,
    to: &Side,
    dir: Direction,
    meter: &Meter,
    tap: Option<Tap<'_>>,
    busy: Option<&BusyPoll>,
) -> io::Result<()> {
    use rustix::net::{recv, send};
    from.readable().await?;
    let mut buf = vec![0u8; RELAY_BUF_START];
    loop {
        let len = buf.len();
        let n = from
            .read(
                |n| n < len,
                |fd| Ok(recv(fd, &mut buf[..], RecvFlags::empty())?.0),
            )
            .await?;
        if n == 0 {
            return Ok(());
        }
        if let Some(tap) = tap {
            tap(dir, &buf[..n]);
        }
        let mut sent = 0;
        while sent < n {
            let m = to
                .write(n - sent, |fd| {
                    Ok(send(fd, &buf[sent..n], SendFlags::NOSIGNAL)?)
                })
                .await?;
            sent += m;
            meter.add(dir, m);
        }
        if let Some(busy) = busy {
            busy.moved();
        }
        if n == buf.len() && buf.len() < RELAY_BUF {
            buf = vec![0u8; (buf.len() * 4).min(RELAY_BUF)];
        }
    }
}
