//! Datagram unix sockets for `sendto` and `recvfrom`: a non-blocking SOCK_DGRAM socket on the
//! reactor, bound safely, to an abstract name the kernel picks (autobind), or not at all;
//! sends that wait while the receiver's queue is full (unix datagrams apply backpressure,
//! they are never dropped), batches of sends in one `sendmmsg`, and receives that report the
//! sender's address, its credentials (SO_PASSCRED / SCM_CREDENTIALS) and whether the
//! datagram was cut (MSG_TRUNC) — which the buffer sizes below keep from happening.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::io::Errno;
use rustix::net::{
    MMsgHdr, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags,
    SendAncillaryBuffer, SendFlags, SocketAddrAny, SocketAddrUnix,
};
use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};

use crate::error::Fail;
use crate::net::addr::Addr;
use crate::net::batch::RecvBatch;
use crate::net::bind::{self, BindOpts};
use crate::net::busypoll::retry_briefly;
use crate::net::cred::Cred;
use crate::net::fds;
use crate::net::kind::Kind;
use crate::net::unix::{self, UnixTarget, unix_socket};
use crate::shutdown::FileGuard;
use crate::term::{Ctx, escape};

/// The largest datagram the kernel can carry, whatever the sender's buffer: 4 MiB of linear
/// skb data plus 17 pages of fragments, less the skb's own overhead (Linux 6.18, found by
/// sending; see docs/performance.md). Kernels built with more fragments per skb
/// (MAX_SKB_FRAGS up to 45) allow a little more, so the receive buffer leaves room for 64
/// pages; a bigger one still is reported, never cut silently (see [`Received::truncated`]).
pub const KERNEL_MAX: usize = 4 * 1024 * 1024 + 17 * 4096 - 320;

/// Receive buffer: one maximal datagram, whatever kernel (see [`KERNEL_MAX`]).
pub const RECV_BUFFER: usize = 4 * 1024 * 1024 + 64 * 4096;

/// Datagrams one `recvmmsg` takes. The kernel queues at most net.unix.max_dgram_qlen (10 by
/// default, 512 where systemd sets it) per receiver before its senders wait, and every
/// slot holds a maximal datagram in address space it only touches as needed
/// ([`RecvBatch`]): 32 take a default queue whole for 136 MiB of mostly untouched
/// addresses (figures in docs/performance.md).
pub const RECV_BATCH: usize = 32;

/// Datagrams per `sendmmsg`: the kernel's UIO_MAXIOV caps a call at 1024 messages.
pub const SEND_BATCH: usize = 1024;

/// One non-blocking `sendmmsg` of the first [`SEND_BATCH`] of `msgs`, each to `to` (or to
/// the socket's peer): how many went (at least one), or the error of the first.
pub fn send_mmsg(
    fd: BorrowedFd<'_>,
    msgs: &[&[u8]],
    to: Option<&SocketAddrAny>,
) -> rustix::io::Result<usize> {
    let end = msgs.len().min(SEND_BATCH);
    let iovs: Vec<[IoSlice<'_>; 1]> = msgs[..end].iter().map(|m| [IoSlice::new(m)]).collect();
    let mut ctl: Vec<SendAncillaryBuffer<'_, '_, '_>> = (0..iovs.len())
        .map(|_| SendAncillaryBuffer::default())
        .collect();
    let mut hdrs: Vec<MMsgHdr<'_>> = iovs
        .iter()
        .zip(ctl.iter_mut())
        .map(|(iov, c)| match to {
            Some(to) => MMsgHdr::new_with_addr(to, iov, c),
            None => MMsgHdr::new(iov, c),
        })
        .collect();
    rustix::net::sendmmsg(fd, &mut hdrs, SendFlags::NOSIGNAL | SendFlags::DONTWAIT)
}

/// How often a send to a full queue that poll cannot watch is retried: short against the
/// microseconds a receiver needs per datagram, long enough not to spin.
const RETRY: std::time::Duration = std::time::Duration::from_millis(1);

/// A datagram socket registered with the reactor.
pub struct Dgram {
    fd: AsyncFd<OwnedFd>,
    /// Held for its Drop: removes the socket file we bound.
    _guard: Option<FileGuard>,
    /// Where we are bound, if anywhere (an autobound abstract name, or the address given).
    pub local: Option<Addr>,
    /// Where sends go when the socket is aimed rather than connected (see [`Dgram::aim`]).
    target: Option<UnixTarget>,
}

/// One received datagram.
#[derive(Debug)]
pub struct Received {
    /// Its real size (larger than what was stored when `truncated`).
    pub size: usize,
    /// Bytes stored in the buffer.
    pub stored: usize,
    /// The buffer was too small and the kernel cut the datagram.
    pub truncated: bool,
    /// The sender's address: None when it is not bound (nothing can answer it).
    pub from: Option<SocketAddrUnix>,
    /// SCM_CREDENTIALS, with [`Dgram::pass_credentials`].
    pub cred: Option<Cred>,
}

/// A sender address in the one address grammar (abstract or path), None when unnamed.
pub fn addr_of(a: &SocketAddrUnix) -> Option<Addr> {
    if let Some(name) = a.abstract_name() {
        return Some(Addr::Abstract(name.to_vec()));
    }
    a.path_bytes().map(|p| {
        use std::os::unix::ffi::OsStrExt;
        Addr::Path(std::ffi::OsStr::from_bytes(p).into())
    })
}

impl Dgram {
    /// An unbound socket.
    pub fn unbound() -> io::Result<Dgram> {
        Dgram::wrap(unix_socket(Kind::Datagram)?, None, None)
    }

    /// A socket bound at `addr` with safe bind (stale replaced, live refused, the file
    /// removed when the Dgram is dropped).
    pub fn bind(addr: &Addr, opts: &BindOpts, ctx: &Ctx) -> anyhow::Result<Dgram> {
        if !addr.is_unix() {
            return Err(Fail::usage(format!(
                "{}: datagrams need a unix address (PATH or @NAME)",
                escape(&addr.to_string())
            ))
            .into());
        }
        let b = bind::bind_unix(addr, Kind::Datagram, opts, ctx)?;
        Ok(Dgram::wrap(b.fd, b.guard, Some(b.local))?)
    }

    /// A bound datagram socket handed to us (socket activation, `--listen-fd`): no guard,
    /// its file is not ours to remove.
    pub fn inherited(fd: OwnedFd, local: Addr) -> io::Result<Dgram> {
        Dgram::wrap(fd, None, Some(local))
    }

    /// A socket bound to a unique abstract name the kernel chooses (Linux autobind: bind
    /// with an empty address). It leaves nothing on disk and disappears with the socket.
    pub fn autobind() -> anyhow::Result<Dgram> {
        let fd = unix_socket(Kind::Datagram)?;
        rustix::net::bind(&fd, &SocketAddrUnix::new_unnamed()).map_err(|e| {
            anyhow::Error::from(io::Error::from(e)).context("binding a return address")
        })?;
        let local = rustix::net::getsockname(&fd)
            .ok()
            .and_then(|a| SocketAddrUnix::try_from(a).ok())
            .and_then(|a| addr_of(&a));
        Ok(Dgram::wrap(fd, None, local)?)
    }

    fn wrap(fd: OwnedFd, guard: Option<FileGuard>, local: Option<Addr>) -> io::Result<Dgram> {
        Ok(Dgram {
            fd: crate::net::stream::register(fd)?,
            _guard: guard,
            local,
            target: None,
        })
    }

    /// Connects to the receiver: sends need no address, errors (no such socket, refused,
    /// wrong type, permission) show up here, and readiness then means "the receiver's
    /// queue has room", so a full queue is waited for instead of spun on.
    pub fn connect(&self, addr: &Addr) -> anyhow::Result<()> {
        let target = unix::unix_target(addr)?;
        rustix::net::connect(self.fd.get_ref(), &target.addr)
            .map_err(|e| send_error(addr, &e.into(), 0, self.send_limit()).into())
    }

    /// Aims the socket at `addr` without connecting it: sends then carry the address, and
    /// answers from any sender arrive (a connected datagram socket only accepts its peer's,
    /// and dissolving the connection later would purge what already came). The price: a
    /// full receiver queue cannot be waited for with poll, so it is retried (for a moment
    /// at once, then every 1 ms).
    pub fn aim(&mut self, addr: &Addr) -> anyhow::Result<()> {
        self.target = Some(unix::unix_target(addr)?);
        Ok(())
    }

    /// Raises the send buffer to net.core.wmem_max (the kernel doubles it), since a
    /// datagram must fit in it, and returns the largest datagram this socket can send.
    pub fn grow_send_buffer(&self) -> usize {
        let fd = self.fd.get_ref();
        let max = std::fs::read_to_string("/proc/sys/net/core/wmem_max")
            .ok()
            .and_then(|s| s.trim().parse::<usize>().ok());
        if let Some(max) = max {
            let _ = rustix::net::sockopt::set_socket_send_buffer_size(fd, max);
        }
        self.send_limit()
    }

    /// The largest datagram this socket can send: its send buffer less the 32 bytes the
    /// kernel keeps back, and never more than the kernel can carry.
    pub fn send_limit(&self) -> usize {
        rustix::net::sockopt::socket_send_buffer_size(self.fd.get_ref())
            .map_or(KERNEL_MAX, |b| b.saturating_sub(32))
            .min(KERNEL_MAX)
    }

    /// Asks for the sender's pid/uid/gid with every datagram.
    pub fn pass_credentials(&self) -> io::Result<()> {
        Ok(rustix::net::sockopt::set_socket_passcred(
            self.fd.get_ref(),
            true,
        )?)
    }

    /// Runs a send operation until it gets past a full receiver queue: retried for a moment
    /// first (while a CPU is free), then on a connected socket by waiting for writability,
    /// on an aimed one by retrying every millisecond.
    async fn until_room<T>(
        &self,
        mut op: impl FnMut(&OwnedFd) -> rustix::io::Result<T>,
    ) -> io::Result<T> {
        // Full: the receiver usually takes a datagram within microseconds, so the send is
        // retried for a moment before the thread sleeps, while a CPU is free.
        let briefly = |op: &mut dyn FnMut(&OwnedFd) -> rustix::io::Result<T>| {
            retry_briefly(|| op(self.fd.get_ref())).map(|r| r.map_err(Into::into))
        };
        loop {
            if self.target.is_some() {
                match op(self.fd.get_ref()) {
                    Err(Errno::AGAIN) => match briefly(&mut op) {
                        Some(r) => return r,
                        None => tokio::time::sleep(RETRY).await,
                    },
                    r => return r.map_err(Into::into),
                }
            } else {
                let mut guard = self.fd.writable().await?;
                if let Ok(r) = guard.try_io(|fd| op(fd.get_ref()).map_err(Into::into)) {
                    return r;
                }
                if let Some(r) = briefly(&mut op) {
                    return r;
                }
            }
        }
    }

    /// Sends one datagram to the receiver, waiting while its queue is full.
    pub async fn send(&self, data: &[u8]) -> io::Result<()> {
        let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
        self.until_room(|fd| match &self.target {
            Some(t) => rustix::net::sendto(fd, data, flags, &t.addr),
            None => rustix::net::send(fd, data, flags),
        })
        .await
        .map(|_| ())
    }

    /// Receives one datagram, waiting for it.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<Received> {
        loop {
            let mut guard = self.readable().await?;
            if let Some(r) = self.try_recv(&mut guard, buf, false)? {
                return Ok(r);
            }
        }
    }

    /// Sends all `msgs`, as many per `sendmmsg` as the receiver's queue takes, waiting when
    /// it is full. On error, returns how many were sent.
    pub async fn send_many(&self, msgs: &[&[u8]]) -> Result<(), (usize, io::Error)> {
        let mut sent = 0;
        while sent < msgs.len() {
            match self.send_batch(&msgs[sent..], true).await {
                Ok(n) => sent += n,
                Err(e) => return Err((sent, e)),
            }
        }
        Ok(())
    }

    /// One `sendmmsg` of the first [`SEND_BATCH`] of `msgs`: how many went (at least one),
    /// or the error of the first. With `wait`, a full receiver queue is waited for; without,
    /// it is an error of kind WouldBlock.
    pub async fn send_batch(&self, msgs: &[&[u8]], wait: bool) -> io::Result<usize> {
        let to = self
            .target
            .as_ref()
            .map(|t| SocketAddrAny::from(t.addr.clone()));
        if wait {
            self.until_room(|fd| send_mmsg(fd.as_fd(), msgs, to.as_ref()))
                .await
        } else {
            Ok(send_mmsg(self.fd.get_ref().as_fd(), msgs, to.as_ref())?)
        }
    }

    /// Sends one datagram to `to` (a bound sender) without connecting. The queue of an
    /// unconnected target cannot be waited for with poll, so a full one is retried every
    /// millisecond, for up to `patience`.
    pub async fn send_to(
        &self,
        data: &[u8],
        to: &SocketAddrUnix,
        patience: std::time::Duration,
    ) -> io::Result<()> {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match rustix::net::sendto(
                self.fd.get_ref(),
                data,
                SendFlags::NOSIGNAL | SendFlags::DONTWAIT,
                to,
            ) {
                Ok(_) => return Ok(()),
                Err(Errno::AGAIN) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(RETRY).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Sends one datagram carrying `fds` (SCM_RIGHTS), waiting while the queue is full.
    pub async fn send_fds(&self, data: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
        let to = self.target.as_ref().map(|t| &t.addr);
        self.until_room(|fd| fds::send(fd.as_fd(), data, fds, to, flags))
            .await
            .map(|_| ())
    }

    /// Receives up to `max` datagrams into `batch` with one `recvmmsg`, without waiting.
    /// Returns how many came; fewer than asked for means the queue is empty now, and then
    /// `guard`'s readiness is cleared already (a datagram queued after that call wakes the
    /// reactor again: the socket is edge-triggered), so the caller waits instead of asking
    /// once more only to hear EAGAIN.
    pub fn try_recv_batch(
        &self,
        guard: &mut AsyncFdReadyGuard<'_, OwnedFd>,
        batch: &mut RecvBatch,
        max: usize,
    ) -> io::Result<usize> {
        let want = max.clamp(1, batch.capacity());
        match batch.recv(self.fd.get_ref().as_fd(), want, 0) {
            Ok(n) => {
                if n < want {
                    guard.clear_ready();
                }
                Ok(n)
            }
            Err(Errno::AGAIN) => {
                guard.clear_ready();
                Ok(0)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Waits until a datagram can be read. Receive with [`Dgram::try_recv`] until it
    /// returns None, then drop the guard (the None has cleared the readiness).
    pub async fn readable(&self) -> io::Result<AsyncFdReadyGuard<'_, OwnedFd>> {
        self.fd.readable().await
    }

    /// Receives one datagram into `buf` without waiting; None when there is none (and then
    /// `guard`'s readiness is cleared).
    pub fn try_recv(
        &self,
        guard: &mut AsyncFdReadyGuard<'_, OwnedFd>,
        buf: &mut [u8],
        want_cred: bool,
    ) -> io::Result<Option<Received>> {
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmCredentials(1))];
        let mut ctl = if want_cred {
            RecvAncillaryBuffer::new(&mut space)
        } else {
            RecvAncillaryBuffer::default()
        };
        let stored_max = buf.len();
        let r = rustix::net::recvmsg(
            self.fd.get_ref(),
            &mut [IoSliceMut::new(buf)],
            &mut ctl,
            RecvFlags::TRUNC | RecvFlags::CMSG_CLOEXEC,
        );
        match r {
            Ok(msg) => {
                let mut cred = None;
                for m in ctl.drain() {
                    if let RecvAncillaryMessage::ScmCredentials(c) = m {
                        cred = Some(Cred {
                            pid: c.pid.as_raw_nonzero().get() as u32,
                            uid: c.uid.as_raw(),
                            gid: c.gid.as_raw(),
                        });
                    }
                }
                let from = msg
                    .address
                    .and_then(|a| SocketAddrUnix::try_from(a).ok())
                    .filter(|a| !a.is_unnamed());
                Ok(Some(Received {
                    size: msg.bytes,
                    stored: msg.bytes.min(stored_max),
                    truncated: msg.flags.contains(ReturnFlags::TRUNC),
                    from,
                    cred,
                }))
            }
            Err(Errno::AGAIN) => {
                guard.clear_ready();
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }
}

impl Received {
    /// Datagram `i` of a batch, with the credentials that came with it.
    pub fn of_batch(batch: &RecvBatch, i: usize, cred: Option<Cred>) -> Received {
        Received {
            size: batch.size(i),
            stored: batch.data(i).len(),
            truncated: batch.truncated(i),
            from: batch
                .from(i)
                .and_then(|a| SocketAddrUnix::try_from(a).ok())
                .filter(|a| !a.is_unnamed()),
            cred,
        }
    }
}

impl AsFd for Dgram {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.get_ref().as_fd()
    }
}

/// The error for a datagram the kernel would not take: its size and the limit, and the
/// promise that nothing was cut.
pub fn too_large(to: &Addr, size: usize, limit: usize) -> Fail {
    too_large_as(to, &format!("{size} bytes"), limit)
}

/// [`too_large`] for a datagram from a stdin that did not end while it was counted.
pub fn too_large_unended(to: &Addr, read: usize, limit: usize) -> Fail {
    too_large_as(
        to,
        &format!("at least {read} bytes (stdin did not end)"),
        limit,
    )
}

fn too_large_as(to: &Addr, size: &str, limit: usize) -> Fail {
    Fail::new(
        1,
        format!(
            "sending to {}: the datagram is {size}; the kernel accepts at most {limit} bytes in one datagram here",
            escape(&to.to_string())
        ),
    )
    .hint("udskit never truncates a datagram; send less at once (--lines sends one datagram per line)")
}

/// Turns a failed send into the message the user needs (see [`crate::net::explain::reach_error`]).
pub fn send_error(to: &Addr, err: &io::Error, size: usize, limit: usize) -> Fail {
    match err.raw_os_error().map(Errno::from_raw_os_error) {
        Some(Errno::MSGSIZE) => too_large(to, size, limit),
        // The kernel could not build an skb this large (see KERNEL_MAX).
        Some(Errno::NOBUFS) if size >= 4 * 1024 * 1024 => too_large(to, size, limit),
        _ => crate::net::explain::reach_error(
            &format!("sending to {}", escape(&to.to_string())),
            to,
            Kind::Datagram,
            err,
            None,
        ),
    }
}
