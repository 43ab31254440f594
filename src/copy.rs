//! Moving bytes between two sockets for `relay`: splice(2) through a pipe or a user-space
//! buffer, chosen per direction by measurement, and for a busy buffered direction a sender
//! thread beside the reading task; half-close (EOF one way becomes a write
//! shutdown on the other side while the other way keeps flowing); live byte meters for logs
//! and the idle timeout; a tap that shows every chunk to `--dump`.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustix::net::{RecvFlags, SendFlags};
use rustix::pipe::PipeFlags;
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use crate::stream::{Stream, register_with};

/// How a relay moves bytes between its two sockets.
///
/// Measured here (kernel 6.18, 2 cores shared with other work, python peers moving 1 GiB
/// per transfer with 1 MiB I/O, medians of 5; the relay's CPU time per GiB is the steadier
/// figure on a noisy machine, throughput varies 2x between runs):
///
/// | direction of the bytes      | splice         | buffer (256 KiB) |
/// |-----------------------------|----------------|------------------|
/// | TCP socket -> unix socket   | 0.19-0.42 s/GiB, 0.7-1.2 GiB/s | 0.27-0.80 s/GiB, 0.5-0.9 GiB/s |
/// | unix socket -> TCP socket   | 0.44-0.46 s/GiB, 0.7-0.9 GiB/s | 0.21-0.22 s/GiB, 1.3-1.6 GiB/s |
///
/// splice from TCP moves page references into the pipe (one copy saved); splice from a
/// unix socket copies into new pipe pages and then pays the pipe on top, so it loses to a
/// plain recv/send. Re-measured at load ~2 (2 GiB, medians of 5, reading a unix socket):
/// splice 1.54-1.63 GiB/s at 0.54-0.62 s/GiB of relay CPU, buffer 1.68-1.95 GiB/s at
/// 0.47-0.54 s/GiB. Once more (UDS->TCP upload, 2 GiB, 3 interleaved runs, perf stat of
/// the relay): splice 0.60-0.75 s/GiB at 0.93-1.05 GiB/s, buffer 0.45-0.69 s/GiB at
/// 1.18-1.43 GiB/s; perf shows the spliced pages cheap to read but sending them costs
/// more in tcp_sendmsg than the copies saved. Hence [`Copier::Auto`]: splice when reading TCP, a buffer when reading
/// a unix socket (UDS to UDS is buffered both ways).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Copier {
    /// Per direction, what measured fastest: splice from a TCP socket, buffer from a unix one.
    Auto,
    /// splice(2) through a pipe: the bytes never enter user space.
    Splice,
    /// recv into our own buffer, then send: what `--dump` needs to see the bytes.
    Buffer,
}

/// Pipe size of a spliced direction, and the most one splice asks for. 1 MiB against the
/// default 64 KiB: fewer splice calls per GiB (16 vs 256 per 16 MiB); the throughput
/// difference was within this machine's noise (0.4-0.8 GiB/s for 64 KiB, 256 KiB and 1 MiB
/// alike, TCP->UDS upload while other jobs ran). The pipe is kernel memory and its pages
/// are only allocated while bytes sit in it.
pub const SPLICE_PIPE: usize = 1024 * 1024;

/// Largest buffer of a buffered direction. 64 KiB, 256 KiB and 1 MiB measured alike
/// within noise (0.4-2.2 GiB/s, UDS->TCP); 256 KiB matches [`crate::pump::CHUNK`].
/// Re-measured on a quieter machine (load ~2, 2 GiB transfers, medians of 5, relay CPU
/// per GiB): 32 KiB 0.46-0.47 s, 64 KiB 0.46-0.48 s, 128 KiB 0.50-0.57 s, 256 KiB 0.44 s
/// (1.8-2.1 GiB/s for all). A larger buffer cannot help a unix source: one recv(2) returns
/// what the writer could queue, which its SO_SNDBUF caps (208 KiB by default; strace shows
/// 208-256 KiB per recv with a 1 MiB buffer), and reading on until EAGAIN to fill 1 MiB
/// before one send measured the same (1.8-1.9 GiB/s, 0.47-0.48 s/GiB). perf shows the
/// relay's time in the kernel's two copies (34%) and the loopback TCP path (most of the
/// rest); the runtime's readiness path is ~2% (216 epoll_wait per 2 GiB).
pub const RELAY_BUF: usize = 256 * 1024;

/// First buffer of a buffered direction, grown 4x (up to RELAY_BUF) whenever a read fills
/// it: with 256 KiB at once, 1,000 idle connections that had each moved a few bytes held
/// 139 MiB RSS; starting at 16 KiB they hold 21 MiB (bench/relay, memory).
pub const RELAY_BUF_START: usize = 16 * 1024;

/// A relayed connection's direction: `Up` from the client to the target, `Down` back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
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

    fn add(&self, dir: Dir, n: usize) {
        let c = match dir {
            Dir::Up => &self.up,
            Dir::Down => &self.down,
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
pub type Tap<'a> = &'a (dyn Fn(Dir, &[u8]) + Sync);

/// `relay --busy-poll`: after a chunk moves, the relay's thread polls its sockets for a
/// while instead of sleeping, so that the answer to a request it just passed on is picked
/// up without the relay being woken for it.
///
/// A round trip through any relay costs four wakeups where the direct one costs two (the
/// relay is woken by the request and by the answer), and udskit, socat and nginx all make
/// the same six system calls per 1-byte round trip; on a virtual machine a wakeup of an
/// idle CPU is the dearest part. Measured here (2 cores, bench/relay latency, direct round
/// trip 55 µs, 9 runs): a relay adds 169-189 µs by default, 41 µs polling for 20 µs,
/// 25 µs for 50 µs, 35 µs for 200 µs. The price is a core kept busy while traffic flows,
/// which is why it is asked for, never the default. Bulk throughput and HTTP requests/s
/// measured the same with and without (within noise).
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
    meter: &Arc<Meter>,
    tap: Option<Tap<'_>>,
    busy: Option<&BusyPoll>,
) -> io::Result<Ends> {
    let client = Side::new(client)?;
    let target = Side::new(target)?;
    let one = async |from: &Side, to: &Side, dir: Dir| {
        let splice = match copier {
            Copier::Auto => from.family == Family::Tcp,
            Copier::Splice => true,
            Copier::Buffer => false,
        };
        let r = if splice && tap.is_none() {
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
        one(&client, &target, Dir::Up),
        one(&target, &client, Dir::Down)
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

fn new_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = rustix::pipe::pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
    // Best effort: an unprivileged process may be capped by fs.pipe-max-size / pipe-user-pages.
    let _ = rustix::pipe::fcntl_setpipe_size(&w, SPLICE_PIPE);
    Ok((r, w))
}

/// One direction with splice(2): socket -> pipe -> socket, draining the pipe completely
/// before reading again, so a splice into it never fails for lack of room. The pipe is
/// created at the first byte: an idle connection holds none.
async fn splice_one_way(
    from: &Side,
    to: &Side,
    dir: Dir,
    meter: &Meter,
    busy: Option<&BusyPoll>,
) -> io::Result<()> {
    use rustix::pipe::{SpliceFlags, splice};
    let flags = SpliceFlags::MOVE | SpliceFlags::NONBLOCK;
    from.readable().await?;
    let (pr, pw) = new_pipe()?;
    let want = rustix::pipe::fcntl_getpipe_size(&pw).unwrap_or(64 * 1024);
    // A splice into the pipe stops short when the socket has no more, or when the pipe has
    // no free slot (one per page or part of a page). Fewer bytes than slots prove the former.
    let slots = want / 4096;
    loop {
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
    }
}

/// One direction through a user-space buffer (allocated at the first byte), shown to
/// `tap` before it is sent on.
async fn buffer_one_way(
    from: &Side,
    to: &Side,
    dir: Dir,
    meter: &Arc<Meter>,
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
        } else if buf.len() == RELAY_BUF
            && n >= RELAY_BUF / 2
            && tap.is_none()
            && let Some(slot) = PipelineSlot::take()
            && pipelined(from, to, dir, meter, slot).await?
        {
            return Ok(());
        }
    }
}

/// Buffers a pipelined direction may have read ahead of its sender thread: with the one
/// being sent and the one being read, the four buffers of the C prototype measured at
/// [`pipelined`]; not tuned further.
const PIPELINE_DEPTH: usize = 2;

/// Directions pipelined at this moment, across all connections.
static PIPELINES: AtomicUsize = AtomicUsize::new(0);

/// The right to run one pipelined direction: one per core beyond the first, so that the
/// sender threads never outnumber the cores the runtime thread leaves free.
struct PipelineSlot;

impl PipelineSlot {
    fn take() -> Option<PipelineSlot> {
        // Looked up once: std reads the cgroup's CPU quota from files to tell.
        static CORES: OnceLock<usize> = OnceLock::new();
        let cores =
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        PIPELINES
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n + 1 < cores).then_some(n + 1)
            })
            .ok()
            .map(|_| PipelineSlot)
    }
}

impl Drop for PipelineSlot {
    fn drop(&mut self) {
        PIPELINES.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Tells a sender thread to give up: set when the direction is dropped before the thread is
/// done (the idle timeout, the end of the grace period). The thread looks at the flag
/// before each buffer, and the eventfd ends its wait for room at once.
struct Stop {
    set: AtomicBool,
    wake: OwnedFd,
}

/// Sets [`Stop`] on drop, unless disarmed (the direction ended and the thread with it).
struct StopSender(Option<Arc<Stop>>);

impl Drop for StopSender {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            stop.set.store(true, Ordering::Release);
            let _ = rustix::io::write(&stop.wake, &1u64.to_ne_bytes());
        }
    }
}

fn given_up() -> io::Error {
    io::Error::other("the relay gave up on this connection")
}

/// A busy buffered direction as a pipeline: this task reads the next buffer while a thread
/// of its own sends the previous one, so the two copies (out of one socket, into the other,
/// with the loopback TCP path behind the send) run on two cores. Measured with 2 GiB
/// UDS->TCP uploads (python peers, 3 interleaved rounds of 2, load ~1): the same C relay
/// single-threaded 1.44 GiB/s, with a reader and a sender thread 1.80 GiB/s (socat -b65536
/// 1.10). Since loopback TCP is unpaced ([`crate::stream::tcp_socket`]) the relay's send is
/// cheaper, and on these 2 cores shared with both peers the pipeline measured a wash
/// (8 interleaved rounds: 2.35 against 2.27 GiB/s TCP->UDS download, 2.28 against 2.56
/// UDS->TCP upload, for 0.39-0.41 against 0.32-0.33 s of relay CPU per GiB); it stays
/// for machines with cores to spare, where one thread's recv-then-send is what limits a
/// single connection.
///
/// Only a direction that reads half of RELAY_BUF at once becomes one, and it ends (with
/// its thread) once the source is quiet for PIPELINE_IDLE: true when the direction reached
/// its end, false when it went quiet. Every byte read is sent, in order, before it
/// returns, also when a read fails.
async fn pipelined(
    from: &Side,
    to: &Side,
    dir: Dir,
    meter: &Arc<Meter>,
    slot: PipelineSlot,
) -> io::Result<bool> {
    use rustix::event::{EventfdFlags, eventfd};
    // Short of descriptors or threads, the direction simply goes on unpipelined.
    let Ok(fd) = to.fd.get_ref().try_clone() else {
        return Ok(false);
    };
    let Ok(wake) = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK) else {
        return Ok(false);
    };
    let stop = Arc::new(Stop {
        set: AtomicBool::new(false),
        wake,
    });
    let (full, mut queue) = tokio::sync::mpsc::channel::<(Vec<u8>, usize)>(PIPELINE_DEPTH);
    let (give_back, mut empty) = tokio::sync::mpsc::channel::<Vec<u8>>(PIPELINE_DEPTH + 2);
    let (done, outcome) = tokio::sync::oneshot::channel::<io::Result<()>>();
    let sender_meter = Arc::clone(meter);
    let sender_stop = Arc::clone(&stop);
    let spawned = std::thread::Builder::new()
        .name("udskit-send".into())
        .spawn(move || {
            let _slot = slot;
            let mut r = Ok(());
            while let Some((buf, n)) = queue.blocking_recv() {
                if sender_stop.set.load(Ordering::Acquire) {
                    r = Err(given_up());
                    break;
                }
                r = send_blocking(&fd, &buf[..n], &sender_stop.wake, dir, &sender_meter);
                if r.is_err() {
                    break;
                }
                let _ = give_back.try_send(buf);
            }
            let _ = done.send(r);
        });
    if spawned.is_err() {
        return Ok(false);
    }
    let mut stopper = StopSender(Some(stop));
    let read = loop {
        match tokio::time::timeout(PIPELINE_IDLE, from.readable()).await {
            Err(_quiet) => break Ok(false),
            Ok(Err(e)) => break Err(e),
            Ok(Ok(())) => {}
        }
        let mut buf = empty.try_recv().unwrap_or_else(|_| vec![0u8; RELAY_BUF]);
        let n = match from
            .read(
                |n| n < RELAY_BUF,
                |fd| Ok(rustix::net::recv(fd, &mut buf[..], RecvFlags::empty())?.0),
            )
            .await
        {
            Ok(0) => break Ok(true),
            Ok(n) => n,
            Err(e) => break Err(e),
        };
        if full.send((buf, n)).await.is_err() {
            break Ok(true); // the sender failed: its outcome says how
        }
    };
    drop(full);
    let sent = outcome
        .await
        .unwrap_or_else(|_| Err(io::Error::other("the sender thread ended without a word")));
    stopper.0 = None;
    sent.and(read)
}

/// How long the source of a pipelined direction may be quiet before the pipeline ends and
/// its thread with it (a keep-alive connection between two large bodies, say). A busy
/// source is never near it: 208 KiB reads at 1 GiB/s come every 0.2 ms.
const PIPELINE_IDLE: Duration = Duration::from_millis(50);

/// Sends all of `data` on a non-blocking socket from a thread of its own, waiting in
/// poll(2) whenever its buffer is full, until `stop` is signalled.
fn send_blocking(
    fd: &OwnedFd,
    mut data: &[u8],
    stop: &OwnedFd,
    dir: Dir,
    meter: &Meter,
) -> io::Result<()> {
    use rustix::event::{PollFd, PollFlags, poll};
    while !data.is_empty() {
        match rustix::net::send(fd, data, SendFlags::NOSIGNAL) {
            Ok(m) => {
                meter.add(dir, m);
                data = &data[m..];
            }
            Err(rustix::io::Errno::AGAIN) => {
                let mut fds = [
                    PollFd::new(fd, PollFlags::OUT),
                    PollFd::new(stop, PollFlags::IN),
                ];
                match poll(&mut fds, None) {
                    Ok(_) if !fds[1].revents().is_empty() => return Err(given_up()),
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
