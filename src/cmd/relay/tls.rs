//! A relayed connection with TLS on either side (`tls:` LISTEN, TARGET or both): the
//! handshakes, bounded by --connect-timeout and told in words when they fail, then bytes
//! copied through rustls both ways with half-close (a close_notify, then a write shutdown;
//! an end without a close_notify passed on without one), an abort passed on as a reset,
//! metered for the log and the idle timeout, and shown to --dump and --pcap as plaintext. splice
//! cannot help here: every byte is decrypted or encrypted in user space.
//!
//! The copy is ours rather than tokio's `copy_bidirectional` for the sizes of its system
//! calls (figures in docs/performance.md): rustls reads a socket 4 KiB at a time, so a TLS
//! socket is read through [`BigReads`] (CHUNK-sized reads into a lent buffer, rustls served
//! from it); a direction gathers the plaintext of every record that is ready before it
//! writes, so a unix socket gets CHUNK-sized writes instead of one record (16 KiB) each;
//! and rustls's queued records go out in one writev(2). A direction holds a buffer only
//! while it has bytes in flight: an idle connection holds none.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use rustls::{ClientConfig, ServerConfig};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

use super::capture;
use super::copy::{Direction, Meter, Seen};
use super::{End, RelayPlan};
use crate::duration;
use crate::io::pool::{self, Lent};
use crate::net::stream::Stream;
use crate::net::tls;

/// The TLS sides of a relay.
pub struct TlsPlan {
    /// A tls: LISTEN: the clients' handshakes.
    pub down: Option<tokio_rustls::TlsAcceptor>,
    /// A tls: TARGET: its configuration, the host it is checked against, and the target
    /// as the log names it.
    pub up: Option<(Arc<ClientConfig>, String, String)>,
}

impl TlsPlan {
    pub fn new(
        down: Option<Arc<ServerConfig>>,
        up: Option<(Arc<ClientConfig>, String, String)>,
    ) -> Self {
        TlsPlan {
            down: down.map(tokio_rustls::TlsAcceptor::from),
            up,
        }
    }

    pub fn any(&self) -> bool {
        self.down.is_some() || self.up.is_some()
    }
}

/// The TLS records rustls may hold queued for the socket: 256 KiB, four times rustls's
/// default, so that one writev(2) carries up to 16 records of a busy direction.
const TLS_QUEUE: usize = 256 * 1024;

/// One TLS-relayed client: its handshake (the certificate subject of a mutual-TLS client
/// goes in `subject`), the target's connection and handshake, then the copy.
#[allow(clippy::too_many_arguments)]
pub async fn relay(
    id: u64,
    client: Stream,
    plan: &RelayPlan,
    tlsp: &TlsPlan,
    meter: &Meter,
    subject: &OnceLock<String>,
    hello: &[u8],
    who: &super::answer::Who,
) -> End {
    let bound = plan.connect_timeout;
    let timed_out = |what: &str| {
        End::Error(format!(
            "TLS handshake with {what}: no answer within {} (--connect-timeout)",
            duration::show(bound)
        ))
    };
    let client = match &tlsp.down {
        Some(acceptor) => match accept(acceptor, BigReads::new(client), bound, subject).await {
            Err(end) => return end,
            Ok(mut s) => {
                s.get_mut().1.set_buffer_limit(Some(TLS_QUEUE));
                Side::Server(Box::new(s))
            }
        },
        None => Side::Plain(client),
    };
    // No TARGET for the client: its connection is aborted, as the plain relay's is.
    let target = match super::connect_target(plan, hello).await {
        Ok(t) => t,
        Err(end) => {
            client.reset();
            return end;
        }
    };
    let target = match &tlsp.up {
        Some((config, host, shown)) => {
            let handshake = tls::connect(config.clone(), host, BigReads::new(target));
            match tokio::time::timeout(bound, handshake).await {
                Err(_) => {
                    client.reset();
                    return timed_out(shown);
                }
                Ok(Err(e)) => {
                    client.reset();
                    return End::Upstream(format!("connecting to {shown}: {e}"), None);
                }
                Ok(Ok(mut s)) => {
                    s.get_mut().1.set_buffer_limit(Some(TLS_QUEUE));
                    Side::Client(Box::new(s))
                }
            }
        }
        None => Side::Plain(target),
    };
    let dump = plan.dump.as_ref();
    // --pcap: the plaintext, as it passed between the two handshakes.
    let flow = plan.pcap.map(|p| capture::open(p, id, who.text(), plan));
    let mut sides = [client, target];
    let mut ways = [Way::new(Direction::Up), Way::new(Direction::Down)];
    let copy = std::future::poll_fn(|cx| {
        let [client, target] = &mut sides;
        let [up, down] = &mut ways;
        let seen = |dir: Direction, seen: Seen<'_>| {
            if let Seen::Data(data) = seen {
                meter.add(dir, data.len());
                if let Some(d) = dump {
                    d.chunk(id, dir, data);
                }
            }
            if let Some(flow) = &flow {
                capture::seen(flow, dir, seen);
            }
        };
        let a = up.poll(cx, client, target, &seen)?;
        let b = down.poll(cx, target, client, &seen)?;
        match (a, b) {
            (Poll::Ready(()), Poll::Ready(())) => Poll::Ready(Ok::<(), io::Error>(())),
            _ => Poll::Pending,
        }
    });
    let result = match plan.idle_timeout {
        Some(limit) => tokio::select! {
            r = copy => r,
            _ = meter.idle(limit) => {
                // The idle timeout closes both sockets cleanly.
                if let Some(flow) = &flow {
                    flow.fin(crate::io::pcap::Sender::Server);
                    flow.fin(crate::io::pcap::Sender::Client);
                }
                return End::Idle(limit);
            }
        },
        None => copy.await,
    };
    match result {
        Ok(()) => End::Closed,
        Err(e) => {
            // A direction failed (a reset, a broken pipe): both ends are aborted.
            let [client, target] = &sides;
            tokio::join!(client.abort(), target.abort());
            End::Error(e.to_string())
        }
    }
}

/// A client's TLS handshake on a tls: LISTEN, within `bound` (--connect-timeout), told in
/// words when it fails; the certificate subject of a mutual-TLS client goes in `subject`.
/// Also the guard's (`relay --http`), which then speaks HTTP over the stream.
pub async fn accept<IO>(
    acceptor: &tokio_rustls::TlsAcceptor,
    io: IO,
    bound: std::time::Duration,
    subject: &OnceLock<String>,
) -> Result<tokio_rustls::server::TlsStream<IO>, End>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    match tokio::time::timeout(bound, acceptor.accept(io)).await {
        Err(_) => Err(End::Error(format!(
            "TLS handshake with the client: no answer within {} (--connect-timeout)",
            duration::show(bound)
        ))),
        Ok(Err(e)) => Err(End::Error(format!("client {}", tls::handshake_error(&e)))),
        Ok(Ok(s)) => {
            if let Some(who) = tls::client_subject(s.get_ref().1) {
                let _ = subject.set(who);
            }
            Ok(s)
        }
    }
}

/// A side of the connection: the socket itself, or TLS over it (this end the server, or
/// the client).
enum Side {
    Plain(Stream),
    Server(Box<tokio_rustls::server::TlsStream<BigReads>>),
    Client(Box<tokio_rustls::client::TlsStream<BigReads>>),
}

macro_rules! each {
    ($side:expr, $s:ident => $e:expr) => {
        match $side {
            Side::Plain($s) => $e,
            Side::Server($s) => $e,
            Side::Client($s) => $e,
        }
    };
}

impl Side {
    /// Ready once a read would find bytes or an end, without a buffer to read into: TLS
    /// keeps a ready record's plaintext inside rustls meanwhile. A failure is told here,
    /// where it happens (a socket's error is reported once).
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = match self {
            Side::Plain(s) => s.poll_read_ready(cx),
            Side::Server(s) => Pin::new(&mut **s).poll_fill_buf(cx).map_ok(|_| ()),
            Side::Client(s) => Pin::new(&mut **s).poll_fill_buf(cx).map_ok(|_| ()),
        };
        match r {
            // Told as an end by the read that follows.
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(())),
            other => other,
        }
    }

    fn is_tls(&self) -> bool {
        !matches!(self, Side::Plain(_))
    }

    /// The socket under it.
    fn socket(&self) -> BorrowedFd<'_> {
        match self {
            Side::Plain(s) => s.as_fd(),
            Side::Server(s) => s.get_ref().0.io.as_fd(),
            Side::Client(s) => s.get_ref().0.io.as_fd(),
        }
    }

    /// The connection is aborted: its peer gets what is queued for it (see
    /// `side::drained`), then a reset, as the plain relay passes an abort on.
    async fn abort(&self) {
        super::side::drained(self.socket()).await;
        self.reset();
    }

    /// Its close will be a reset (SO_LINGER 0; nothing for a unix socket).
    fn reset(&self) {
        let _ = rustix::net::sockopt::set_socket_linger(self.socket(), Some(Duration::ZERO));
    }

    /// A read. A TLS peer that closes its TCP connection without a close_notify fails it
    /// with UnexpectedEof, which the copy takes for an end (as curl and socat do) that it
    /// passes on as it came (see [`Way::poll`]).
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_read(cx, buf))
    }

    /// Ends our writing without a close_notify: the socket's write side alone is shut
    /// down, so that a TLS peer sees the end as unclean as it came.
    fn shutdown_ragged(&mut self) -> io::Result<()> {
        match rustix::net::shutdown(self.socket(), rustix::net::Shutdown::Write) {
            Ok(()) | Err(rustix::io::Errno::NOTCONN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write(cx, data))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_flush(cx))
    }

    /// Ends our writing: TLS sends its close_notify, then the socket's write side is shut
    /// down.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// One direction's copy: the bytes read and not yet written, in a buffer lent while they
/// are in flight.
struct Way {
    dir: Direction,
    buf: Option<Lent>,
    pos: usize,
    len: usize,
    /// Written, not yet flushed (TLS records still queued in rustls).
    flushing: bool,
    /// The source ended.
    ended: bool,
    /// Shut down, the direction done.
    done: bool,
    /// A read failed after bytes already read: reported once they are written.
    failed: Option<io::Error>,
    /// The source was a TLS peer that closed its connection without a close_notify: a TLS
    /// destination gets no close_notify either (a truncation is never made to look like
    /// a clean end), a plain one its FIN.
    ragged: bool,
}

impl Way {
    fn new(dir: Direction) -> Way {
        Way {
            dir,
            buf: None,
            pos: 0,
            len: 0,
            flushing: false,
            ended: false,
            done: false,
            failed: None,
            ragged: false,
        }
    }

    /// Moves bytes from `from` to `to` until both would wait; ready when the direction has
    /// ended (and `to` is shut down). `seen` is shown every chunk read.
    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        from: &mut Side,
        to: &mut Side,
        seen: &dyn Fn(Direction, Seen<'_>),
    ) -> Poll<io::Result<()>> {
        let dir = self.dir;
        let source_failed = |e: io::Error| {
            seen(dir, Seen::SourceFailed);
            Poll::Ready(Err(e))
        };
        let destination_failed = |e: io::Error| {
            seen(dir, Seen::DestinationFailed);
            Poll::Ready(Err(e))
        };
        loop {
            if self.done {
                return Poll::Ready(Ok(()));
            }
            if self.pos < self.len {
                let buf = self.buf.as_deref().unwrap_or_default();
                let n = match ready!(to.poll_write(cx, &buf[self.pos..self.len])) {
                    Ok(0) => return destination_failed(io::ErrorKind::WriteZero.into()),
                    Ok(n) => n,
                    Err(e) => return destination_failed(e),
                };
                self.pos += n;
                self.flushing = true;
                continue;
            }
            if self.flushing {
                if let Err(e) = ready!(to.poll_flush(cx)) {
                    return destination_failed(e);
                }
                self.flushing = false;
                // Written: the buffer goes back until there is more to read.
                self.buf = None;
            }
            if let Some(e) = self.failed.take() {
                return source_failed(e);
            }
            if self.ended {
                let shut = if self.ragged && to.is_tls() {
                    to.shutdown_ragged()
                } else {
                    ready!(to.poll_shutdown(cx))
                };
                if let Err(e) = shut {
                    return destination_failed(e);
                }
                seen(dir, Seen::End);
                self.done = true;
                continue;
            }
            if let Err(e) = ready!(from.poll_ready(cx)) {
                return source_failed(e);
            }
            let buf = self.buf.get_or_insert_with(pool::lend);
            let mut filled = 0;
            // A plain socket gives all it has in one read; TLS gives a record at a time,
            // so it is read until nothing more is ready or the buffer is full.
            while filled < buf.len() {
                let mut rb = ReadBuf::new(&mut buf[filled..]);
                match from.poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                        self.ended = true;
                        break;
                    }
                    Poll::Ready(Ok(())) => {
                        filled += rb.filled().len();
                        if !from.is_tls() {
                            break;
                        }
                    }
                    Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        self.ended = true;
                        self.ragged = true;
                        break;
                    }
                    Poll::Ready(Err(e)) if filled == 0 => return source_failed(e),
                    Poll::Ready(Err(e)) => {
                        self.failed = Some(e);
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            if filled == 0 && !self.ended {
                // Ready, yet nothing to read (a TLS record not complete yet): waiting
                // again, the buffer given back.
                self.buf = None;
                return Poll::Pending;
            }
            if filled > 0 {
                seen(dir, Seen::Data(&buf[..filled]));
            }
            self.pos = 0;
            self.len = filled;
        }
    }
}

/// A socket as rustls reads it: through a buffer of CHUNK bytes filled by one read(2),
/// where rustls alone would make a system call per 4 KiB. The buffer is lent only while
/// it holds bytes rustls has not taken yet.
struct BigReads {
    io: Stream,
    buf: Option<Lent>,
    pos: usize,
    len: usize,
}

impl BigReads {
    fn new(io: Stream) -> BigReads {
        BigReads {
            io,
            buf: None,
            pos: 0,
            len: 0,
        }
    }
}

impl AsyncRead for BigReads {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.pos == this.len {
            let buf = this.buf.get_or_insert_with(pool::lend);
            let mut rb = ReadBuf::new(&mut buf[..]);
            let r = Pin::new(&mut this.io).poll_read(cx, &mut rb);
            let n = rb.filled().len();
            match r {
                Poll::Ready(Ok(())) if n > 0 => {
                    this.pos = 0;
                    this.len = n;
                }
                other => {
                    this.buf = None;
                    return other;
                }
            }
        }
        let buf = this.buf.as_deref().unwrap_or_default();
        let n = out.remaining().min(this.len - this.pos);
        out.put_slice(&buf[this.pos..this.pos + n]);
        this.pos += n;
        if this.pos == this.len {
            this.buf = None;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for BigReads {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
