//! Moving bytes between stdin/stdout (see stdio.rs) and a stream, with half-close: EOF one
//! way becomes a write shutdown, the other way keeps flowing until the peer closes or a
//! limit of ending.rs runs out; and the echo of `listen --echo`.

use std::io;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf};
use tokio::sync::{mpsc, oneshot};

use crate::io::CHUNK;
pub use crate::io::ending::Ending;
use crate::io::ending::{Ends, Meter, Wake};
use crate::io::pool;
use crate::io::splice;
use crate::io::stdio::{Writer, grow_pipe, stdin};
use crate::net::stream::Stream;
use crate::shutdown::Shutdown;

/// Copies a stream to stdout until EOF; returns the byte count. Stops early (Ok) when
/// stdout is closed.
pub async fn to_stdout<R: AsyncRead + Unpin>(reader: &mut R, out: &Writer) -> io::Result<u64> {
    to_stdout_metered(reader, out, &Meter::default()).await
}

/// [`to_stdout`], counting what arrives into `meter` as it arrives.
async fn to_stdout_metered<R: AsyncRead + Unpin>(
    reader: &mut R,
    out: &Writer,
    meter: &Meter,
) -> io::Result<u64> {
    let mut total = 0;
    let mut buf = BytesMut::with_capacity(CHUNK);
    loop {
        buf.reserve(CHUNK);
        let n = reader.read_buf(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n as u64;
        meter.received(n);
        if out.write(buf.split().freeze()).await.is_err() {
            return Ok(total);
        }
    }
}

/// Copies stdin chunks into a writer, then shuts down its write side (half-close); what
/// went out is counted into `meter` as it goes.
async fn from_stdin<W: AsyncWrite + Unpin>(
    stdin: &mut mpsc::Receiver<io::Result<Bytes>>,
    writer: &mut W,
    meter: &Meter,
) -> io::Result<u64> {
    let mut total = 0;
    while let Some(chunk) = stdin.recv().await {
        let chunk = chunk.map_err(|e| io::Error::new(e.kind(), format!("reading stdin: {e}")))?;
        writer.write_all(&chunk).await?;
        total += chunk.len() as u64;
        meter.sent(chunk.len());
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

/// Bytes moved by a bridge: `up` from stdin to the socket, `down` from the socket to
/// stdout; and how it ended.
#[derive(Debug, Default, Clone, Copy)]
pub struct Transfer {
    pub up: u64,
    pub down: u64,
    pub ending: Ending,
}

/// Where the bytes for the socket come from: the stdin thread's chunks, or a thread that
/// moves them from a stdin pipe or file straight into the socket (see [`bridge_stdio`]).
enum Up<'a> {
    Chunks(&'a mut mpsc::Receiver<io::Result<Bytes>>),
    Spliced(oneshot::Receiver<io::Result<u64>>),
}

/// Bridges stdin (the chunks of `stdin`) and a connected stream, byte-exact, with
/// half-close both ways: stdin EOF shuts down our write side and we keep reading until the
/// peer closes; the peer's EOF ends the bridge once stdin is done too or the peer has hung
/// up entirely. Ends early on a stop signal or when the user's side closed
/// (`Ending::Done`), and when the peer resets the connection or stops reading. `down`
/// reads the stream until EOF and returns the byte count (`http --upgrade` demultiplexes
/// docker frames there); `gone` tells when the user's side closed.
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
    let limits = Limits::none(Arc::new(Meter::default()));
    bridge_from(stream, Up::Chunks(stdin), down, gone, limits, stop).await
}

/// [`bridge_with`] with this process's stdin, read from here on, stdout as the way down,
/// and `ends` for the limits on how long it lasts. When the stream is a unix stream or TCP
/// socket, the bytes move in the kernel (io/splice.rs) where they can, each way on a thread
/// of its own, never through our memory (figures in docs/performance.md): a stdin pipe by
/// splice and a regular file by sendfile, into the socket; the socket's bytes by splice to
/// a stdout pipe, a regular file or /dev/null. Otherwise the stdin thread of [`stdin`]
/// feeds the socket and its bytes go through the `Writer` `out`.
pub async fn bridge_stdio(
    stream: crate::net::stream::Stream,
    out: &Writer,
    ends: Ends,
    stop: &Shutdown,
) -> io::Result<Transfer> {
    use crate::net::stream::Stream;
    let plain = matches!(stream, Stream::Unix(_) | Stream::Tcp(_));
    let meter = Arc::new(Meter::default());
    let limits = Limits {
        ends,
        meter: meter.clone(),
        metered_down: true,
    };
    let source = splice::source_of(rustix::stdio::stdin()).filter(|_| plain);
    let sink = splice::sink_of(rustix::stdio::stdout()).filter(|_| plain);
    match sink {
        Some(sink) => {
            // Both directions on threads, the socket off the reactor: while it stayed
            // registered, every piece the peer sent woke the runtime too (one epoll_wait
            // per splice, for nothing). It stays non-blocking, the threads waiting in
            // poll(2): a blocking splice would wait holding stdout's pipe (io/splice.rs).
            let fd = stream.into_fd()?;
            rustix::io::ioctl_fionbio(&fd, true)?;
            let up = match source {
                Some(from) => stdin_into(fd.try_clone()?, from, meter.clone()),
                None => chunks_into(fd.try_clone()?, stdin(), meter.clone()),
            };
            let gone = Arc::new(AtomicBool::new(false));
            let moved = socket_to_stdout(fd.try_clone()?, sink, meter.clone(), gone.clone());
            let up = async { up.await.unwrap_or(Ok(0)) };
            let down = async { moved.await.unwrap_or(Ok(0)) };
            let gone = || gone.load(Ordering::Relaxed) || out.is_closed();
            bridge_two(fd, up, down, gone, limits, stop).await
        }
        None => {
            let mut stdin_rx = None;
            let up = match source {
                Some(from) => Up::Spliced(stdin_into(
                    stream.as_fd().try_clone_to_owned()?,
                    from,
                    meter.clone(),
                )),
                None => Up::Chunks(stdin_rx.insert(stdin())),
            };
            let down = async |rd: &mut ReadHalf<Stream>| to_stdout_metered(rd, out, &meter).await;
            bridge_from(stream, up, down, || out.is_closed(), limits, stop).await
        }
    }
}

/// [`bridge_stdio`] through a stream that is not a plain socket (`connect --pcap`'s
/// [`crate::io::tapped::Tapped`]): stdin's chunks go up through it, never spliced.
pub async fn bridge_stdio_through<S>(
    stream: S,
    out: &Writer,
    ends: Ends,
    stop: &Shutdown,
) -> io::Result<Transfer>
where
    S: AsyncRead + AsyncWrite + AsFd + Unpin,
{
    bridge_stdin_chunks(stream, &mut stdin(), out, ends, stop).await
}

/// [`bridge_stdio`] fed by a stdin reader already started (`connect --send-fd` takes the
/// first chunk itself, to send descriptors with it), stdout as the way down, `ends` kept;
/// the stream a socket or one wrapping it ([`bridge_stdio_through`]).
pub async fn bridge_stdin_chunks<S>(
    stream: S,
    stdin: &mut mpsc::Receiver<io::Result<Bytes>>,
    out: &Writer,
    ends: Ends,
    stop: &Shutdown,
) -> io::Result<Transfer>
where
    S: AsyncRead + AsyncWrite + AsFd + Unpin,
{
    let meter = Arc::new(Meter::default());
    let limits = Limits {
        ends,
        meter: meter.clone(),
        metered_down: true,
    };
    let down = async |rd: &mut ReadHalf<S>| to_stdout_metered(rd, out, &meter).await;
    bridge_from(
        stream,
        Up::Chunks(stdin),
        down,
        || out.is_closed(),
        limits,
        stop,
    )
    .await
}

/// A thread that moves stdin (`from`) into `sock` in the kernel until EOF, then shuts down
/// the socket's write side; reports the byte count (and counts into `meter` as it goes).
/// Never joined, like the stdin thread.
fn stdin_into(
    sock: std::os::fd::OwnedFd,
    from: splice::Source,
    meter: Arc<Meter>,
) -> oneshot::Receiver<io::Result<u64>> {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        if from == splice::Source::Pipe {
            grow_pipe(rustix::stdio::stdin());
        }
        let _ = tx.send(splice::stdin_into(&sock, from, &|n| meter.sent(n)));
    });
    rx
}

/// A thread that writes stdin's chunks (`rx`) into `sock` (off the reactor) until
/// stdin's EOF, then shuts down the socket's write side, as [`from_stdin`] does on the
/// runtime; reports the byte count (and counts into `meter` as it goes). Never joined.
fn chunks_into(
    sock: std::os::fd::OwnedFd,
    mut rx: mpsc::Receiver<io::Result<Bytes>>,
    meter: Arc<Meter>,
) -> oneshot::Receiver<io::Result<u64>> {
    let (tx, done) = oneshot::channel();
    std::thread::spawn(move || {
        let result = (|| {
            let mut total = 0;
            while let Some(chunk) = rx.blocking_recv() {
                let chunk =
                    chunk.map_err(|e| io::Error::new(e.kind(), format!("reading stdin: {e}")))?;
                splice::send_all(&sock, &chunk, &|k| meter.sent(k))?;
                total += chunk.len() as u64;
            }
            rustix::net::shutdown(&sock, rustix::net::Shutdown::Write)?;
            Ok(total)
        })();
        let _ = tx.send(result);
    });
    done
}

/// A thread that moves the socket's bytes to stdout (a `sink`) in the kernel until EOF or
/// until stdout's reader is gone (then `gone` is set); reports the byte count, counting
/// into `meter` as they come. Never joined: a bridge that ends first leaves it behind.
fn socket_to_stdout(
    sock: std::os::fd::OwnedFd,
    sink: splice::Sink,
    meter: Arc<Meter>,
    gone: Arc<AtomicBool>,
) -> oneshot::Receiver<io::Result<u64>> {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let stdout = rustix::stdio::stdout();
        let moved = splice::socket_into(sock.as_fd(), stdout, sink, None, &|n| meter.received(n));
        let result = match moved {
            Ok((n, splice::Stop::OutGone)) => {
                gone.store(true, Ordering::Relaxed);
                Ok(n)
            }
            Ok((n, _)) => Ok(n),
            Err(splice::Failed::Reading(e)) => Err(e),
            Err(splice::Failed::Writing(e)) => {
                Err(io::Error::new(e.kind(), format!("writing stdout: {e}")))
            }
        };
        let _ = tx.send(result);
    });
    rx
}

/// The limits a bridge runs under and the meter they are measured against; with
/// `metered_down` the meter's count of bytes received is the one reported (the caller's
/// `down` counts into it).
struct Limits {
    ends: Ends,
    meter: Arc<Meter>,
    metered_down: bool,
}

impl Limits {
    fn none(meter: Arc<Meter>) -> Limits {
        Limits {
            ends: Ends::default(),
            meter,
            metered_down: false,
        }
    }
}

/// The worse of two endings: a reset says more than a peer that stopped reading, either
/// failure more than a limit that ran out (`-q`, `-w`, the quiet end after stdin), and any
/// of them more than none.
fn worse(a: Ending, b: Ending) -> Ending {
    match (a, b) {
        (Ending::Reset, _) | (_, Ending::Reset) => Ending::Reset,
        (Ending::StoppedReading, _) | (_, Ending::StoppedReading) => Ending::StoppedReading,
        (Ending::Done, b) => b,
        (a, _) => a,
    }
}

/// Sleeps until the limits must be looked at again; never, when none can run out.
async fn next_look(wake: &Wake) {
    match wake {
        Wake::Never => std::future::pending().await,
        Wake::At(at, _) => tokio::time::sleep_until((*at).into()).await,
        Wake::Soon => tokio::time::sleep(crate::io::ending::LOOK_AGAIN).await,
    }
}

async fn bridge_from<S, D>(
    stream: S,
    up: Up<'_>,
    down: D,
    gone: impl Fn() -> bool,
    limits: Limits,
    stop: &Shutdown,
) -> io::Result<Transfer>
where
    S: AsyncRead + AsyncWrite + AsFd + Unpin,
    D: AsyncFnOnce(&mut ReadHalf<S>) -> io::Result<u64>,
{
    let fd = stream.as_fd().try_clone_to_owned()?;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let meter = limits.meter.clone();
    let up = async {
        match up {
            Up::Chunks(stdin) => from_stdin(stdin, &mut wr, &meter).await,
            Up::Spliced(done) => done.await.unwrap_or(Ok(0)),
        }
    };
    let down = down(&mut rd);
    bridge_two(fd, up, down, gone, limits, stop).await
}

/// The bridge itself, its two directions given as futures (`up` stdin to the socket,
/// `down` the socket to stdout, each resolving to its byte count) and `fd` the socket, for
/// the hang-up and the TCP peer's answer to our shutdown.
async fn bridge_two(
    fd: std::os::fd::OwnedFd,
    up: impl Future<Output = io::Result<u64>>,
    down: impl Future<Output = io::Result<u64>>,
    gone: impl Fn() -> bool,
    limits: Limits,
    stop: &Shutdown,
) -> io::Result<Transfer> {
    let meter = &*limits.meter;
    let mut t = Transfer::default();
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    let mut stdin_ended: Option<Instant> = None;
    // The peer's EOF came: whether it took all we sent is known only from how it answers
    // our last bytes and our shutdown (see `tcp_fate`), whichever of its FIN and our input's
    // end came first (both orders happen, as the scheduler has it).
    let mut peer_closed = false;
    // A peer's error (a reset, a pipe broken) ends one direction; which syscall gets the
    // kernel's report of it is a race between the two, so the report is kept from either.
    let mut ending = Ending::Done;
    let up_result = |r: io::Result<u64>, ending: &mut Ending| match r {
        Ok(_) => Ok(()),
        Err(e) => match Ending::of_peer(&e) {
            Some(end) => {
                *ending = worse(*ending, end);
                Ok(())
            }
            None => Err(e),
        },
    };
    while !(up_done && down_done) {
        let wake = limits.ends.wake(meter, stdin_ended);
        tokio::select! {
            r = &mut up, if !up_done => {
                up_done = true;
                stdin_ended = Some(Instant::now());
                up_result(r, &mut ending)?;
            }
            r = &mut down, if !down_done => {
                down_done = true;
                match r {
                    Ok(n) => t.down = n,
                    Err(e) => match Ending::of_peer(&e) {
                        // What was queued before the reset has been read; stdin can go.
                        Some(end) => {
                            ending = worse(ending, end);
                            break;
                        }
                        None => return Err(e),
                    },
                }
                if gone() {
                    break;
                }
                peer_closed = true;
            }
            _ = hung_up(&fd), if down_done && !up_done => {
                // Our own write shutdown at stdin's EOF makes the HUP too: give `up` a
                // moment to report before leaving (a reset, if that is what it was).
                if let Ok(r) = tokio::time::timeout(Duration::from_millis(100), &mut up).await {
                    up_result(r, &mut ending)?;
                } else if let Ok(Err(e)) = rustix::net::sockopt::socket_error(&fd) {
                    // `up` is still reading stdin (which has not ended): the reset our
                    // bytes drew is the socket's pending error, which no write has taken
                    // (EPIPE when it came after the peer's FIN: it stopped reading).
                    ending = worse(ending, Ending::of_peer(&e.into()).unwrap_or_default());
                }
                break;
            }
            _ = next_look(&wake) => {
                if let Wake::At(at, end) = limits.ends.wake(meter, stdin_ended)
                    && at <= Instant::now()
                {
                    ending = worse(ending, end);
                    break;
                }
            }
            _ = stop.stopped() => break,
        }
    }
    if ending == Ending::Done && peer_closed && up_done && meter.up() > 0 {
        ending = tcp_fate(&fd).await;
    }
    t.up = meter.up();
    if limits.metered_down {
        t.down = meter.down();
    }
    t.ending = ending;
    Ok(t)
}

/// For a TCP peer that closed (before or after our input ended): how it answered our last
/// bytes and the shutdown that followed them. A peer that had closed its socket answers bytes it can no
/// longer read with a reset, but that reset may arrive after both directions ended, so
/// it is waited for here, a round trip at most (bounded at one second): once our FIN is
/// acknowledged the connection is closed, and the kernel holds the reset, if one came,
/// as the socket's pending error.
async fn tcp_fate(fd: impl AsFd) -> Ending {
    // TCP_LAST_ACK and TCP_CLOSING (linux/tcp_states.h): our FIN is not acknowledged yet.
    const LAST_ACK: u8 = 9;
    const CLOSING: u8 = 11;
    let state = || {
        let mut info = [0u8; 8];
        let mut len = info.len() as libc::socklen_t;
        // SAFETY: TCP_INFO writes at most `len` bytes into `info`, a plain byte buffer;
        // its first byte is the connection's state.
        let rc = unsafe {
            libc::getsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&fd.as_fd()),
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                info.as_mut_ptr().cast(),
                &mut len,
            )
        };
        (rc == 0 && len > 0).then_some(info[0])
    };
    if state().is_none() {
        // Not TCP: a unix peer's close leaves nothing in flight.
        return Ending::Done;
    }
    let deadline = Instant::now() + Duration::from_secs(1);
    while matches!(state(), Some(LAST_ACK | CLOSING)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    match rustix::net::sockopt::socket_error(&fd) {
        Ok(Err(e)) => Ending::of_peer(&e.into()).unwrap_or_default(),
        _ => Ending::Done,
    }
}
