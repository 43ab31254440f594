//! The connected-stream type every stream subcommand works with: unix stream, unix
//! seqpacket (which tokio lacks) and TCP behind one `AsyncRead + AsyncWrite` type.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use rustix::net::{RecvFlags, SendFlags};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

use crate::net::cred::Cred;
use crate::net::kind::Kind;

/// Registers an owned socket with the reactor, for reading and writing.
pub fn register(fd: OwnedFd) -> io::Result<AsyncFd<OwnedFd>> {
    register_with(
        fd,
        tokio::io::Interest::READABLE | tokio::io::Interest::WRITABLE,
    )
}

/// Registers an owned socket with the reactor for `interest` only.
pub fn register_with(fd: OwnedFd, interest: tokio::io::Interest) -> io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: the OwnedFd keeps the descriptor open and unchanged while the AsyncFd owns it.
    unsafe { AsyncFd::register_with_interest(fd, interest) }.map_err(|e| e.into_parts().1)
}

/// A SOCK_SEQPACKET socket: each write is one record, each read returns one record.
#[derive(Debug)]
pub struct SeqPacket(AsyncFd<OwnedFd>);

/// The size records are cut to when a write is larger than the kernel accepts in one record
/// (the socket send buffer, net.core.wmem_default = 208 KiB here, less a header).
pub const SEQPACKET_MAX_WRITE: usize = 64 * 1024;

impl SeqPacket {
    pub fn new(fd: OwnedFd) -> io::Result<SeqPacket> {
        Ok(SeqPacket(register(fd)?))
    }

    pub fn into_fd(self) -> OwnedFd {
        self.0.into_inner()
    }
}

/// One recv(2) of a record socket. A read of 0 is also an empty record, which a
/// SOCK_SEQPACKET peer may send and read(2) cannot tell from the end: those are skipped
/// while bytes are still queued (FIONREAD, which sums every queued record of a seqpacket
/// socket) or the peer has not shut its writing side (poll's POLLRDHUP); 0 is the end only
/// then.
fn recv_record(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    loop {
        let (n, _) = rustix::net::recv(fd, &mut *buf, RecvFlags::empty())?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        if rustix::io::ioctl_fionread(fd).is_ok_and(|queued| queued > 0) {
            continue;
        }
        let mut fds = [PollFd::new(&fd, PollFlags::RDHUP)];
        let zero = Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        if poll(&mut fds, Some(&zero)).map_or(true, |n| n > 0) {
            return Ok(0);
        }
        // An empty record and nothing after it yet: the next recv says EAGAIN.
    }
}

impl AsyncRead for SeqPacket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.0.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|fd| recv_record(fd.get_ref().as_fd(), &mut *unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for SeqPacket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        // A record goes out whole (an echo keeps the client's records); only one larger than
        // the kernel takes (EMSGSIZE: more than the send buffer) is split.
        let mut data = data;
        loop {
            let mut guard = ready!(self.0.poll_write_ready(cx))?;
            match guard.try_io(|fd| Ok(rustix::net::send(fd.get_ref(), data, SendFlags::NOSIGNAL)?))
            {
                Ok(Err(e))
                    if e.raw_os_error() == Some(rustix::io::Errno::MSGSIZE.raw_os_error())
                        && data.len() > SEQPACKET_MAX_WRITE =>
                {
                    data = &data[..SEQPACKET_MAX_WRITE];
                }
                Ok(r) => return Poll::Ready(r),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(
            rustix::net::shutdown(self.0.get_ref(), rustix::net::Shutdown::Write)
                .map_err(Into::into),
        )
    }
}

/// A connected stream of any kind.
#[derive(Debug)]
pub enum Stream {
    Unix(UnixStream),
    SeqPacket(SeqPacket),
    Tcp(TcpStream),
}

/// A stream taken off its runtime's reactor, to be moved to another thread's runtime (a
/// relay worker) and registered there with [`Detached::attach`].
#[derive(Debug)]
pub enum Detached {
    Unix(std::os::unix::net::UnixStream),
    SeqPacket(OwnedFd),
    Tcp(std::net::TcpStream),
}

impl Detached {
    /// The stream again, registered with the reactor of the runtime this runs on.
    pub fn attach(self) -> io::Result<Stream> {
        Ok(match self {
            Detached::Unix(s) => Stream::Unix(UnixStream::from_std(s)?),
            Detached::SeqPacket(fd) => Stream::SeqPacket(SeqPacket::new(fd)?),
            Detached::Tcp(s) => Stream::Tcp(TcpStream::from_std(s)?),
        })
    }
}

impl Stream {
    /// Wraps a connected, non-blocking unix socket of `kind`.
    pub fn from_unix_fd(fd: OwnedFd, kind: Kind) -> io::Result<Stream> {
        match kind {
            Kind::SeqPacket => Ok(Stream::SeqPacket(SeqPacket::new(fd)?)),
            _ => Ok(Stream::Unix(UnixStream::from_std(
                std::os::unix::net::UnixStream::from(fd),
            )?)),
        }
    }

    /// Takes the stream off this runtime's reactor (it stays non-blocking).
    pub fn detach(self) -> io::Result<Detached> {
        Ok(match self {
            Stream::Unix(s) => Detached::Unix(s.into_std()?),
            Stream::SeqPacket(s) => Detached::SeqPacket(s.into_fd()),
            Stream::Tcp(s) => Detached::Tcp(s.into_std()?),
        })
    }

    /// Waits until a read would find bytes (or EOF), holding no buffer meanwhile: with
    /// [`try_read`](Self::try_read) a server lends a connection a buffer only once it has
    /// something to read.
    pub async fn readable(&self) -> io::Result<()> {
        match self {
            Stream::Unix(s) => s.readable().await,
            Stream::Tcp(s) => s.readable().await,
            Stream::SeqPacket(s) => s.0.readable().await.map(|mut g| g.retain_ready()),
        }
    }

    /// [`readable`](Self::readable) as a poll: ready once a read would find bytes (or EOF).
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Unix(s) => s.poll_read_ready(cx),
            Stream::Tcp(s) => s.poll_read_ready(cx),
            Stream::SeqPacket(s) => s.0.poll_read_ready(cx).map_ok(|mut g| g.retain_ready()),
        }
    }

    /// Reads what is there without waiting: WouldBlock (and readiness cleared) when nothing is.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.try_read(buf),
            Stream::Tcp(s) => s.try_read(buf),
            Stream::SeqPacket(s) => s.0.try_io(tokio::io::Interest::READABLE, |fd| {
                recv_record(fd.as_fd(), &mut *buf)
            }),
        }
    }

    /// Runs a non-blocking socket operation `op` on the reactor in `interest`'s direction
    /// until it stops saying EAGAIN (waiting for readiness in between), for what the
    /// AsyncRead/AsyncWrite view cannot do: sendmsg and recvmsg with control data.
    pub async fn io_with<R>(
        &self,
        interest: tokio::io::Interest,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        match self {
            Stream::Unix(s) => s.async_io(interest, &mut op).await,
            Stream::Tcp(s) => s.async_io(interest, &mut op).await,
            Stream::SeqPacket(s) => s.0.async_io(interest, |_| op()).await,
        }
    }

    /// The socket itself, out of the reactor.
    pub fn into_fd(self) -> io::Result<OwnedFd> {
        Ok(match self {
            Stream::Unix(s) => s.into_std()?.into(),
            Stream::Tcp(s) => s.into_std()?.into(),
            Stream::SeqPacket(s) => s.into_fd(),
        })
    }

    /// The peer's credentials (unix sockets only).
    pub fn peer_cred(&self) -> Option<Cred> {
        match self {
            Stream::Tcp(_) => None,
            _ => Cred::of(self.as_fd()),
        }
    }
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::SeqPacket(s) => s.0.get_ref().as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        }
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Stream::Unix($s) => $e,
            Stream::SeqPacket($s) => $e,
            Stream::Tcp($s) => $e,
        }
    };
}

impl AsyncRead for Stream {
    /// A unix stream read is not taken to have drained the socket when it comes back short,
    /// as tokio's own read takes it: the kernel ends a read at a message that carried
    /// descriptors (SCM_RIGHTS, which any peer may send) with more bytes queued behind it,
    /// and with edge-triggered readiness cleared no event would come for those. Readiness
    /// is cleared only by a read that finds nothing (EAGAIN).
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Unix(s) => loop {
                ready!(s.poll_read_ready(cx))?;
                // SAFETY: recv writes only the bytes it reports, which are then marked
                // initialized; nothing is de-initialized.
                let unfilled = unsafe { buf.unfilled_mut() };
                let got = s.try_io(tokio::io::Interest::READABLE, || {
                    rustix::net::recv(&*s, &mut *unfilled, rustix::net::RecvFlags::DONTWAIT)
                        .map(|((read, _), _)| read.len())
                        .map_err(io::Error::from)
                });
                match got {
                    Ok(n) => {
                        // SAFETY: recv wrote these n bytes.
                        unsafe { buf.assume_init(n) };
                        buf.advance(n);
                        return Poll::Ready(Ok(()));
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Poll::Ready(Err(e)),
                }
            },
            Stream::SeqPacket(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tcp(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, data))
    }

    /// One writev(2) for all of `bufs` (rustls hands over its queued records this way):
    /// without it, each buffer would be a system call of its own.
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Unix(s) => s.is_write_vectored(),
            Stream::SeqPacket(s) => s.is_write_vectored(),
            Stream::Tcp(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }

    /// Half-close: shuts down our write side; reading goes on.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// At most this long is spent reading what a peer still sends after our side is done (see
/// [`close_gently`]): a peer that has sent everything closes within a round trip of our
/// EOF; one that keeps sending is cut after it, by the reset we wanted to spare it.
pub const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(1);
/// And at most this much: five times a default socket buffer (208 KiB), so that what was
/// in flight when we finished is taken, without reading an endless upload to its end.
pub const DRAIN_BYTES: usize = 1 << 20;

/// Closes a connection without resetting it: our write side is shut down (the peer reads
/// EOF after everything we sent), what the peer still sends is read and dropped until its
/// EOF, bounded in time and bytes, and only then is the socket closed. Closing with unread
/// bytes in the receive queue instead makes the kernel reset the connection (TCP sends a
/// RST; a unix peer's next read fails with ECONNRESET), and a peer that had already
/// received a complete answer would lose it or report a failure. Works on a blocking
/// socket too (one shared with a child process): every read is MSG_DONTWAIT.
pub async fn close_gently(fd: OwnedFd) {
    let _ = rustix::net::shutdown(&fd, rustix::net::Shutdown::Write);
    let Ok(fd) = register_with(fd, tokio::io::Interest::READABLE) else {
        return;
    };
    let drain = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut taken = 0;
        while taken < DRAIN_BYTES {
            let Ok(mut guard) = fd.readable().await else {
                return;
            };
            match guard.try_io(|fd| {
                Ok(rustix::net::recv(fd.get_ref(), &mut buf[..], RecvFlags::DONTWAIT)?.0)
            }) {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) => taken += n,
                Err(_would_block) => {}
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
}
