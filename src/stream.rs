//! The connected-stream and listener types every stream subcommand works with: unix stream,
//! unix seqpacket (which tokio lacks) and TCP behind one `AsyncRead + AsyncWrite` type, and
//! the credentials of the process at the other end of a unix socket.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use rustix::net::{RecvFlags, SendFlags};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UnixListener, UnixStream};

use crate::addr::Addr;

/// The socket types a unix address can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stream,
    SeqPacket,
    Datagram,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Stream => "stream",
            Kind::SeqPacket => "seqpacket",
            Kind::Datagram => "datagram",
        }
    }

    pub fn stream_or_seqpacket(seqpacket: bool) -> Kind {
        if seqpacket {
            Kind::SeqPacket
        } else {
            Kind::Stream
        }
    }
}

/// Who is at the other end of a unix socket, as the kernel recorded it at connect/listen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cred {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

impl From<rustix::net::UCred> for Cred {
    fn from(c: rustix::net::UCred) -> Cred {
        Cred {
            pid: c.pid.as_raw_nonzero().get() as u32,
            uid: c.uid.as_raw(),
            gid: c.gid.as_raw(),
        }
    }
}

impl Cred {
    pub fn of(fd: BorrowedFd<'_>) -> Option<Cred> {
        rustix::net::sockopt::socket_peercred(fd)
            .ok()
            .map(Cred::from)
    }

    /// The peer's command name from /proc, when it can still be seen.
    pub fn command(&self) -> Option<String> {
        crate::proc::comm(self.pid)
    }
}

impl fmt::Display for Cred {
    /// `pid 1234 (python3) uid 1000 gid 1000`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pid {}", self.pid)?;
        if let Some(cmd) = self.command() {
            write!(f, " ({})", crate::output::escape(&cmd))?;
        }
        write!(f, " uid {} gid {}", self.uid, self.gid)
    }
}

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
const SEQPACKET_MAX_WRITE: usize = 64 * 1024;

impl SeqPacket {
    pub fn new(fd: OwnedFd) -> io::Result<SeqPacket> {
        Ok(SeqPacket(register(fd)?))
    }

    pub fn into_fd(self) -> OwnedFd {
        self.0.into_inner()
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
            match guard.try_io(|fd| {
                Ok(rustix::net::recv(
                    fd.get_ref(),
                    &mut *unfilled,
                    RecvFlags::empty(),
                )?)
            }) {
                Ok(Ok((n, _))) => {
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
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
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

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }

    /// Half-close: shuts down our write side; reading goes on.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// Where an accepted connection came from.
#[derive(Debug, Clone)]
pub struct Peer {
    /// The TCP address, or None for unix peers (their address is usually unnamed).
    pub addr: Option<std::net::SocketAddr>,
    pub cred: Option<Cred>,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.addr, &self.cred) {
            (Some(a), _) => write!(f, "{a}"),
            (None, Some(c)) => write!(f, "{c}"),
            (None, None) => f.write_str("unknown peer"),
        }
    }
}

/// A listening socket of any kind.
#[derive(Debug)]
pub enum Listener {
    Unix(UnixListener),
    SeqPacket(AsyncFd<OwnedFd>),
    Tcp(TcpListener),
}

impl Listener {
    /// Wraps a bound, listening, non-blocking unix socket.
    pub fn from_unix_fd(fd: OwnedFd, kind: Kind) -> io::Result<Listener> {
        match kind {
            Kind::SeqPacket => Ok(Listener::SeqPacket(register(fd)?)),
            _ => Ok(Listener::Unix(UnixListener::from_std(
                std::os::unix::net::UnixListener::from(fd),
            )?)),
        }
    }

    pub async fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            Listener::Unix(l) => {
                let (s, _) = l.accept().await?;
                let cred = Cred::of(s.as_fd());
                Ok((Stream::Unix(s), Peer { addr: None, cred }))
            }
            Listener::SeqPacket(l) => loop {
                let mut guard = l.readable().await?;
                let flags = rustix::net::SocketFlags::CLOEXEC | rustix::net::SocketFlags::NONBLOCK;
                match guard.try_io(|fd| Ok(rustix::net::accept_with(fd.get_ref(), flags)?)) {
                    Ok(fd) => {
                        let fd = fd?;
                        let cred = Cred::of(fd.as_fd());
                        return Ok((
                            Stream::SeqPacket(SeqPacket::new(fd)?),
                            Peer { addr: None, cred },
                        ));
                    }
                    Err(_would_block) => continue,
                }
            },
            Listener::Tcp(l) => {
                let (s, a) = l.accept().await?;
                let _ = s.set_nodelay(true);
                Ok((
                    Stream::Tcp(s),
                    Peer {
                        addr: Some(a),
                        cred: None,
                    },
                ))
            }
        }
    }
}

impl Listener {
    /// The next client, or None once `stop` fires. An accept error (EMFILE and friends) is
    /// a warning followed by a pause (10 ms doubling to 1 s): it never ends the listener.
    pub async fn accept_or_stop(
        &self,
        ctx: &crate::output::Ctx,
        stop: &crate::shutdown::Shutdown,
    ) -> Option<(Stream, Peer)> {
        let mut pause = std::time::Duration::from_millis(10);
        loop {
            tokio::select! {
                r = self.accept() => match r {
                    Ok(c) => return Some(c),
                    Err(e) => {
                        ctx.warn(format!("accepting a client: {e}"));
                        tokio::select! {
                            _ = tokio::time::sleep(pause) => {}
                            _ = stop.stopped() => return None,
                        }
                        pause = (pause * 2).min(std::time::Duration::from_secs(1));
                    }
                },
                _ = stop.stopped() => return None,
            }
        }
    }
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Unix(l) => l.as_fd(),
            Listener::SeqPacket(l) => l.get_ref().as_fd(),
            Listener::Tcp(l) => l.as_fd(),
        }
    }
}

/// Connects to a stream address (unix stream/seqpacket or TCP), once.
pub async fn connect_once(addr: &Addr, kind: Kind) -> io::Result<Stream> {
    match addr {
        Addr::Tcp { host, port } => {
            let s = first_address(host, *port, async |to| {
                tcp_socket(to.ip())?.connect(to).await
            })
            .await?;
            let _ = s.set_nodelay(true);
            Ok(Stream::Tcp(s))
        }
        _ => Stream::from_unix_fd(crate::reach::try_connect_unix(addr, kind)?, kind),
    }
}

/// Runs `f` on each address `host` resolves to until one succeeds, as std's and tokio's
/// TCP constructors do; the last failure otherwise.
pub async fn first_address<T>(
    host: &str,
    port: u16,
    mut f: impl AsyncFnMut(std::net::SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for at in tokio::net::lookup_host((host, port)).await? {
        match f(at).await {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}

/// A new TCP socket for `ip`, [`unpaced`] when `ip` is a loopback address. The
/// congestion control is chosen before the connection exists: a connection that started
/// under a pacing one keeps pacing after a switch (and a listener's choice is what its
/// accepted connections start with).
pub fn tcp_socket(ip: std::net::IpAddr) -> io::Result<TcpSocket> {
    let socket = if ip.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if ip.is_loopback() {
        unpaced(&socket);
    }
    Ok(socket)
}

/// Gives a loopback TCP socket the "reno" congestion control, which any user may choose,
/// in place of the system's default, which may pace its sends (bbr does): on loopback
/// there is no network to pace for, no loss and no queue, so congestion control never
/// acts, but bbr's pacing arms a timer as it sends, and on a virtual machine every timer
/// is a trip to the hypervisor. Measured here (bbr the default, 2 cores, `relay` reading
/// 2 GiB from a unix socket and sending them on loopback TCP, medians of 5): 1.45-1.57
/// GiB/s at 0.60-0.67 s of relay CPU per GiB under bbr, 2.22-2.45 GiB/s at 0.42-0.44 s
/// under reno (cubic measured the same); switched only after connecting, the relay spent
/// 5-15% more (the kernel leaves a socket's pacing on once bbr has asked for it). Best
/// effort: a kernel without reno keeps its default.
fn unpaced(socket: &TcpSocket) {
    let _ = rustix::net::sockopt::set_tcp_congestion(socket, "reno");
}

/// Connects, retrying for `wait` while the socket is missing or refusing; the error names
/// the address and the real cause.
pub async fn connect(
    addr: &Addr,
    kind: Kind,
    wait: Option<std::time::Duration>,
) -> Result<Stream, crate::error::Fail> {
    crate::reach::retry_until(wait, async || connect_once(addr, kind).await)
        .await
        .map_err(|e| crate::reach::connect_error(addr, kind, &e, wait))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both ends udskit makes of a loopback TCP connection, the one it connects and the one
    /// its listener accepts, are unpaced from their first byte.
    #[tokio::test]
    async fn loopback_tcp_is_unpaced_both_ways() {
        let (listener, local) = crate::socket::bind_tcp(&"tcp:127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let (connected, accepted) =
            tokio::join!(connect_once(&local, Kind::Stream), listener.accept());
        let connected = connected.unwrap();
        let (accepted, _) = accepted.unwrap();
        for fd in [connected.as_fd(), accepted.as_fd()] {
            assert_eq!(rustix::net::sockopt::tcp_congestion(fd).unwrap(), "reno");
        }
    }
}
