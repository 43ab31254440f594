//! Moving bytes: stdin and stdout as async channels fed by plain threads (so a blocked
//! terminal read or a full pipe never hangs the runtime or its exit), and the copies between
//! them and a stream with half-close: EOF one way becomes a write shutdown, the other way
//! keeps flowing until the peer closes.

use std::fs::File;
use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{AsFd, FromRawFd};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf};
use tokio::sync::{mpsc, oneshot};

use crate::shutdown::Shutdown;

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
    read_chunks(StdioFd(raw_stdio(0)))
}

/// Any blocking reader (stdin, a file sent as a request body) read by a thread in
/// CHUNK-sized pieces; `None` after EOF, an error ends the stream.
pub fn read_chunks<R: Read + Send + 'static>(mut reader: R) -> mpsc::Receiver<io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(DEPTH);
    std::thread::spawn(move || {
        loop {
            let mut buf = BytesMut::zeroed(CHUNK);
            match reader.read(&mut buf) {
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

/// Fd 0, 1 or 2 as a reader or writer that never closes it.
struct StdioFd(ManuallyDrop<File>);

impl Read for StdioFd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl Write for StdioFd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
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
        Stdout::spawn_to(StdioFd(raw_stdio(1)))
    }

    /// The same writer thread on stderr (`http --demux` writes a container's stderr there).
    pub fn spawn_stderr() -> (Stdout, StdoutDone) {
        Stdout::spawn_to(StdioFd(raw_stdio(2)))
    }

    /// The same writer thread on any destination, such as the file of `http -o`.
    pub fn spawn_to<W: Write + Send + 'static>(mut file: W) -> (Stdout, StdoutDone) {
        let (tx, mut rx) = mpsc::channel::<Bytes>(DEPTH);
        let (done_tx, done_rx) = oneshot::channel();
        std::thread::spawn(move || {
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
    bridge_with(
        stream,
        stdin,
        async |rd: &mut ReadHalf<S>| to_stdout(rd, out).await,
        || out.is_closed(),
        stop,
    )
    .await
}

/// [`bridge`] with the way down to the user chosen by the caller: `down` reads the stream
/// until EOF and returns the byte count (`http --upgrade` demultiplexes docker frames there);
/// `gone` tells when the user's side closed, which ends the bridge at once.
pub async fn bridge_with<S, D>(
    stream: S,
    stdin: &mut mpsc::Receiver<io::Result<Bytes>>,
    down: D,
    gone: impl Fn() -> bool,
    stop: &Shutdown,
) -> io::Result<Transfer>
where
    S: AsyncRead + AsyncWrite + AsFd + Unpin,
    D: AsyncFnOnce(&mut ReadHalf<S>) -> io::Result<u64>,
{
    let fd = stream.as_fd().try_clone_to_owned()?;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut t = Transfer::default();
    let up = from_stdin(stdin, &mut wr);
    let down = down(&mut rd);
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
                if gone() {
                    break;
                }
            }
            _ = hung_up(&fd), if down_done && !up_done => break,
            _ = stop.stopped() => break,
        }
    }
    Ok(t)
}
