//! Moving bytes: stdin and stdout as async channels fed by plain threads (so a blocked
//! terminal read or a full pipe never hangs the runtime or its exit), and the copies between
//! them and a stream with half-close: EOF one way becomes a write shutdown, the other way
//! keeps flowing until the peer closes. And the relay's socket-to-socket copy: splice(2)
//! through a pipe, or a buffer when the bytes must be seen (`--dump`).

use std::fs::File;
use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use rustix::pipe::PipeFlags;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest};
use tokio::sync::{mpsc, oneshot};

use crate::shutdown::Shutdown;
use crate::stream::Stream;

/// Size of one read. 256 KiB: on these machines unix socketpairs move about 4 GiB/s with
/// 256 KiB I/O and clearly less with 64 KiB (../shared/peers.md); bench/stream measures it
/// end to end.
pub const CHUNK: usize = 256 * 1024;

/// Chunks in flight between a stdio thread and the runtime: bounds memory to a few CHUNKs.
const DEPTH: usize = 4;

fn raw_stdio(fd: i32) -> ManuallyDrop<File> {
    // SAFETY: fds 0 and 1 are open for the life of the process; ManuallyDrop never closes them.
    ManuallyDrop::new(unsafe { File::from_raw_fd(fd) })
}

/// Stdin read by a thread in CHUNK-sized pieces; `None` after EOF. The thread is never
/// joined: the process exits without waiting for a read that may never return.
pub fn stdin() -> mpsc::Receiver<io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(DEPTH);
    std::thread::spawn(move || {
        let mut file = raw_stdio(0);
        loop {
            let mut buf = BytesMut::zeroed(CHUNK);
            match file.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.blocking_send(Ok(buf.freeze())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    rx
}

/// Stdout written by a thread, one chunk per `write_all`: chunks from concurrent clients
/// never interleave mid-chunk. Cloned handles share the thread.
#[derive(Clone)]
pub struct Stdout {
    tx: mpsc::Sender<Bytes>,
}

/// Waits for the stdout thread to write everything and reports how it ended.
pub struct StdoutDone(oneshot::Receiver<io::Result<()>>);

impl Stdout {
    pub fn spawn() -> (Stdout, StdoutDone) {
        let (tx, mut rx) = mpsc::channel::<Bytes>(DEPTH);
        let (done_tx, done_rx) = oneshot::channel();
        std::thread::spawn(move || {
            let mut file = raw_stdio(1);
            let mut result = Ok(());
            while let Some(chunk) = rx.blocking_recv() {
                if let Err(e) = file.write_all(&chunk) {
                    result = Err(e);
                    break;
                }
            }
            let _ = done_tx.send(result);
        });
        (Stdout { tx }, StdoutDone(done_rx))
    }

    /// Queues a chunk; fails with BrokenPipe once stdout is gone.
    pub async fn write(&self, chunk: Bytes) -> io::Result<()> {
        self.tx
            .send(chunk)
            .await
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }

    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl StdoutDone {
    /// Waits until every queued chunk is written (all `Stdout` handles must be dropped).
    /// A closed stdout is not an error: design.md exits 0 when the reader goes away.
    pub async fn wait(self) -> io::Result<()> {
        match self.0.await {
            Ok(Err(e)) if crate::error::is_broken_pipe(&e) => Ok(()),
            Ok(r) => r,
            Err(_) => Ok(()),
        }
    }
}

/// Copies a stream to stdout until EOF; returns the byte count. Stops early (Ok) when
/// stdout is closed.
pub async fn to_stdout<R: AsyncRead + Unpin>(reader: &mut R, out: &Stdout) -> io::Result<u64> {
    let mut total = 0;
    let mut buf = BytesMut::with_capacity(CHUNK);
    loop {
        buf.reserve(CHUNK);
        let n = reader.read_buf(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
        if out.write(buf.split().freeze()).await.is_err() {
            return Ok(total);
        }
    }
}

/// Copies stdin chunks into a writer, then shuts down its write side (half-close).
pub async fn from_stdin<W: AsyncWrite + Unpin>(
    stdin: &mut mpsc::Receiver<io::Result<Bytes>>,
    writer: &mut W,
) -> io::Result<u64> {
    let mut total = 0;
    while let Some(chunk) = stdin.recv().await {
        let chunk = chunk.map_err(|e| io::Error::new(e.kind(), format!("reading stdin: {e}")))?;
        writer.write_all(&chunk).await?;
        total += chunk.len() as u64;
    }
    writer.shutdown().await?;
    Ok(total)
}

/// Sends everything read back to the sender until EOF, then half-closes. Returns the count.
pub async fn echo<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            stream.shutdown().await?;
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

/// Resolves once the peer has closed both directions (POLLHUP), which reading alone cannot
/// tell after it half-closed. Polled every 50 ms: it only runs while we wait for stdin after
/// the peer's EOF.
async fn hung_up(fd: impl AsFd) {
    use rustix::event::{PollFd, PollFlags, Timespec};
    loop {
        let mut fds = [PollFd::new(&fd, PollFlags::empty())];
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if rustix::event::poll(&mut fds, Some(&zero)).is_ok()
            && fds[0].revents().intersects(PollFlags::HUP | PollFlags::ERR)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Bytes moved by a bridge: `up` from stdin to the socket, `down` from the socket to stdout.
#[derive(Debug, Default, Clone, Copy)]
pub struct Transfer {
    pub up: u64,
    pub down: u64,
}

fn peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}

/// Bridges stdin/stdout and a connected stream, byte-exact, with half-close both ways:
/// stdin EOF shuts down our write side and we keep reading until the peer closes; the
/// peer's EOF ends the bridge once stdin is done too or the peer has hung up entirely.
/// Ends early (Ok) on a stop signal or when stdout is closed.
pub async fn bridge<S>(
    stream: S,
    stdin: &mut mpsc::Receiver<io::Result<Bytes>>,
    out: &Stdout,
    stop: &Shutdown,
) -> io::Result<Transfer>
where
    S: AsyncRead + AsyncWrite + AsFd + Unpin,
{
    let fd = stream.as_fd().try_clone_to_owned()?;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut t = Transfer::default();
    let up = from_stdin(stdin, &mut wr);
    let down = to_stdout(&mut rd, out);
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    while !(up_done && down_done) {
        tokio::select! {
            r = &mut up, if !up_done => {
                up_done = true;
                match r {
                    Ok(n) => t.up = n,
                    // The peer stopped reading: what it sends us still arrives.
                    Err(e) if peer_gone(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            r = &mut down, if !down_done => {
                down_done = true;
                t.down = r?;
                if out.is_closed() {
                    break;
                }
            }
            _ = hung_up(&fd), if down_done && !up_done => break,
            _ = stop.stopped() => break,
        }
    }
    Ok(t)
}

// ---------------------------------------------------------------------------------------
// Socket to socket (relay)

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
/// plain recv/send. Hence [`Copier::Auto`]: splice when reading TCP, a buffer when reading
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
/// within noise (0.4-2.2 GiB/s, UDS->TCP); 256 KiB matches [`CHUNK`].
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
/// order, before the direction ends. Cancel-safe only in the sense that dropping it closes
/// nothing: the caller owns and closes both sockets.
pub async fn relay(
    client: &Stream,
    target: &Stream,
    copier: Copier,
    meter: &Meter,
    tap: Option<Tap<'_>>,
) -> Ends {
    let one = async |from: &Stream, to: &Stream, dir: Dir| {
        let splice = match copier {
            Copier::Auto => matches!(from, Stream::Tcp(_)),
            Copier::Splice => true,
            Copier::Buffer => false,
        };
        let r = if splice && tap.is_none() {
            splice_one_way(from, to, dir, meter).await
        } else {
            buffer_one_way(from, to, dir, meter, tap).await
        };
        match &r {
            Ok(()) => to.shutdown_side(rustix::net::Shutdown::Write)?,
            Err(_) => {
                let _ = to.shutdown_side(rustix::net::Shutdown::Write);
                let _ = from.shutdown_side(rustix::net::Shutdown::Read);
            }
        }
        r
    };
    let (up, down) = tokio::join!(one(client, target, Dir::Up), one(target, client, Dir::Down));
    Ends { up, down }
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
async fn splice_one_way(from: &Stream, to: &Stream, dir: Dir, meter: &Meter) -> io::Result<()> {
    use rustix::pipe::{SpliceFlags, splice};
    let flags = SpliceFlags::MOVE | SpliceFlags::NONBLOCK;
    from.ready(Interest::READABLE).await?;
    let (pr, pw) = new_pipe()?;
    let want = rustix::pipe::fcntl_getpipe_size(&pw).unwrap_or(64 * 1024);
    loop {
        let n = from
            .io(Interest::READABLE, || {
                Ok(splice(from.as_fd(), None, &pw, None, want, flags)?)
            })
            .await?;
        if n == 0 {
            return Ok(());
        }
        let mut left = n;
        while left > 0 {
            let m = to
                .io(Interest::WRITABLE, || {
                    Ok(splice(&pr, None, to.as_fd(), None, left, flags)?)
                })
                .await?;
            left -= m;
            meter.add(dir, m);
        }
    }
}

/// One direction through a user-space buffer (allocated at the first byte), shown to
/// `tap` before it is sent on.
async fn buffer_one_way(
    from: &Stream,
    to: &Stream,
    dir: Dir,
    meter: &Meter,
    tap: Option<Tap<'_>>,
) -> io::Result<()> {
    use rustix::net::{RecvFlags, SendFlags, recv, send};
    from.ready(Interest::READABLE).await?;
    let mut buf = vec![0u8; RELAY_BUF_START];
    loop {
        let n = from
            .io(Interest::READABLE, || {
                Ok(recv(from.as_fd(), &mut buf[..], RecvFlags::empty())?.0)
            })
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
                .io(Interest::WRITABLE, || {
                    Ok(send(to.as_fd(), &buf[sent..n], SendFlags::NOSIGNAL)?)
                })
                .await?;
            sent += m;
            meter.add(dir, m);
        }
        if n == buf.len() && buf.len() < RELAY_BUF {
            buf = vec![0u8; (buf.len() * 4).min(RELAY_BUF)];
        }
    }
}
