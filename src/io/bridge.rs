//! Moving bytes between stdin/stdout (see stdio.rs) and a stream, with half-close: EOF one
//! way becomes a write shutdown, the other way keeps flowing until the peer closes; and the
//! echo of `listen --echo`.

use std::io;
use std::os::fd::AsFd;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf};
use tokio::sync::{mpsc, oneshot};

use crate::io::CHUNK;
use crate::io::pool;
use crate::io::stdio::{PIPE_SIZE, Writer, grow_pipe, stdin, wait_for};
use crate::net::stream::Stream;
use crate::shutdown::Shutdown;

/// Copies a stream to stdout until EOF; returns the byte count. Stops early (Ok) when
/// stdout is closed.
pub async fn to_stdout<R: AsyncRead + Unpin>(reader: &mut R, out: &Writer) -> io::Result<u64> {
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
/// A client holds a buffer only while its bytes are in flight: readiness is awaited without
/// one, and the buffer read into is lent by the pool and back there once the bytes are
/// written, so 1,000 idle clients cost no 1,000 buffers.
pub async fn echo(stream: &mut Stream) -> io::Result<u64> {
    let mut total = 0;
    loop {
        stream.readable().await?;
        let mut buf = pool::lend();
        let n = match stream.try_read(&mut buf) {
            Ok(0) => {
                drop(buf);
                stream.shutdown().await?;
                return Ok(total);
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
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

/// Where the bytes for the socket come from: the stdin thread's chunks, or a thread that
/// splices them from a stdin pipe straight into the socket (see [`bridge_stdio`]).
enum Up<'a> {
    Chunks(&'a mut mpsc::Receiver<io::Result<Bytes>>),
    Spliced(oneshot::Receiver<io::Result<u64>>),
}

/// Bridges stdin/stdout and a connected stream, byte-exact, with half-close both ways:
/// stdin EOF shuts down our write side and we keep reading until the peer closes; the
/// peer's EOF ends the bridge once stdin is done too or the peer has hung up entirely.
/// Ends early (Ok) on a stop signal or when stdout is closed.
pub async fn bridge<S>(
    stream: S,
    stdin: &mut mpsc::Receiver<io::Result<Bytes>>,
    out: &Writer,
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
    bridge_from(stream, Up::Chunks(stdin), down, gone, stop).await
}

/// [`bridge`] with this process's stdin, read from here on: when stdin is a pipe and the
/// stream a unix stream or TCP socket, its bytes are spliced from the pipe into the socket
/// without passing through our memory or a thread (about 40% less CPU per GiB, figures in
/// docs/performance.md); otherwise the stdin thread of [`stdin`] feeds it.
pub async fn bridge_stdio(
    stream: crate::net::stream::Stream,
    out: &Writer,
    stop: &Shutdown,
) -> io::Result<Transfer> {
    use crate::net::stream::Stream;
    let stdin_is_pipe = rustix::fs::fstat(rustix::stdio::stdin()).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Fifo
    });
    if stdin_is_pipe && matches!(stream, Stream::Unix(_) | Stream::Tcp(_)) {
        let spliced = splice_stdin_into(stream.as_fd().try_clone_to_owned()?);
        let down = async |rd: &mut ReadHalf<Stream>| to_stdout(rd, out).await;
        bridge_from(stream, Up::Spliced(spliced), down, || out.is_closed(), stop).await
    } else {
        bridge(stream, &mut stdin(), out, stop).await
    }
}

/// Largest splice(2) call: the 1 MiB we ask of the stdin pipe.
const SPLICE_MAX: usize = PIPE_SIZE;

/// A thread that splices stdin (a pipe) into `sock` until EOF, then shuts down the socket's
/// write side; reports the byte count. Never joined, like the stdin thread.
fn splice_stdin_into(sock: std::os::fd::OwnedFd) -> oneshot::Receiver<io::Result<u64>> {
    use rustix::event::PollFlags;
    use rustix::io::Errno;
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let stdin = rustix::stdio::stdin();
        grow_pipe(stdin);
        let mut total = 0u64;
        let result = loop {
            match rustix::pipe::splice(
                stdin,
                None,
                &sock,
                None,
                SPLICE_MAX,
                rustix::pipe::SpliceFlags::MOVE,
            ) {
                Ok(0) => {
                    break rustix::net::shutdown(&sock, rustix::net::Shutdown::Write)
                        .map(|()| total)
                        .map_err(io::Error::from);
                }
                Ok(n) => total += n as u64,
                Err(Errno::INTR) => {}
                // The socket is non-blocking (it is the runtime's), which makes splice
                // non-blocking on the pipe side too: EAGAIN means "pipe empty" or "socket
                // full". Wait for stdin first; if it has data, the socket was full.
                Err(Errno::AGAIN) => {
                    let mut fds = [rustix::event::PollFd::new(&stdin, PollFlags::IN)];
                    let zero = rustix::event::Timespec {
                        tv_sec: 0,
                        tv_nsec: 0,
                    };
                    match rustix::event::poll(&mut fds, Some(&zero)) {
                        Ok(0) => wait_for(stdin, PollFlags::IN),
                        _ => wait_for(&sock, PollFlags::OUT),
                    }
                }
                // A kernel or socket that cannot splice (nothing moved yet): copy instead.
                Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) if total == 0 => {
                    break copy_stdin_into(&sock);
                }
                Err(e) => break Err(io::Error::from(e)),
            }
        };
        let _ = tx.send(result);
    });
    rx
}

/// The fallback of [`splice_stdin_into`]: read and write through a buffer, on its thread.
fn copy_stdin_into(sock: &std::os::fd::OwnedFd) -> io::Result<u64> {
    use rustix::event::PollFlags;
    use rustix::io::Errno;
    let stdin = rustix::stdio::stdin();
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match rustix::io::read(stdin, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(Errno::AGAIN) => {
                wait_for(stdin, PollFlags::IN);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let mut data = &buf[..n];
        while !data.is_empty() {
            match rustix::net::send(sock, data, rustix::net::SendFlags::NOSIGNAL) {
                Ok(k) => data = &data[k..],
                Err(Errno::INTR) => {}
                Err(Errno::AGAIN) => wait_for(sock, PollFlags::OUT),
                Err(e) => return Err(e.into()),
            }
        }
        total += n as u64;
    }
    rustix::net::shutdown(sock, rustix::net::Shutdown::Write)?;
    Ok(total)
}

async fn bridge_from<S, D>(
    stream: S,
    up: Up<'_>,
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
    let up = async {
        match up {
            Up::Chunks(stdin) => from_stdin(stdin, &mut wr).await,
            Up::Spliced(done) => done.await.unwrap_or(Ok(0)),
        }
    };
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
            _ = hung_up(&fd), if down_done && !up_done => {
                // Our own write shutdown at stdin's EOF makes the HUP too: give `up` a
                // moment to report its byte count before leaving.
                if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(100), &mut up).await {
                    t.up = n;
                }
                break;
            }
            _ = stop.stopped() => break,
        }
    }
    Ok(t)
}
