//! Descriptors passed over unix sockets (SCM_RIGHTS): sending ours with a message, receiving
//! them (with room for as many as the kernel allows in one message, and MSG_CTRUNC reported
//! instead of lost), telling what a received one is (fstat and its /proc/self/fd link) for
//! logs and JSON, and taking `--fd N` / `--send-file PATH` from the command line.

use std::fmt;
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

use rustix::net::{
    RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, ReturnFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags, SocketAddrUnix,
};

use crate::error::Fail;
use crate::net::cred::Cred;
use crate::term::escape;

/// The most descriptors one message can carry: the kernel's SCM_MAX_FD. A sender asking
/// for more gets EINVAL, so the command line refuses more up front.
pub const MAX_FDS: usize = 253;

/// Control-message space for [`MAX_FDS`] descriptors and one set of credentials: every
/// receive offers this much, so only the receiver's open-file limit can cut what arrives.
pub fn control_space() -> Vec<MaybeUninit<u8>> {
    vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS), ScmCredentials(1))]
}

/// What came with one message besides its bytes.
#[derive(Debug, Default)]
pub struct Passed {
    /// The descriptors, ours now (close-on-exec), closed when dropped.
    pub fds: Vec<OwnedFd>,
    /// SCM_CREDENTIALS, when the socket asked for them.
    pub cred: Option<Cred>,
    /// MSG_CTRUNC: the kernel dropped control data (descriptors beyond our open-file limit,
    /// RLIMIT_NOFILE, or beyond the space offered); they are closed and lost.
    pub cut: bool,
}

impl Passed {
    /// The log line for a cut control message, naming the likely cause.
    pub fn cut_message(&self, what: &str) -> String {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .map_or_else(|| "unlimited".to_string(), |n| n.to_string());
        format!(
            "{what}: the kernel cut its control data (MSG_CTRUNC): descriptors the sender \
             passed were closed without reaching us ({} arrived; our open-file limit is {limit})",
            self.fds.len()
        )
    }
}

/// `recvmsg` with room for descriptors and credentials; returns the byte count, the sender
/// and whether the data was cut (MSG_TRUNC), with what came beside the bytes.
pub fn recv(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    space: &mut [MaybeUninit<u8>],
    flags: RecvFlags,
) -> rustix::io::Result<(rustix::net::RecvMsg, Passed)> {
    let mut ctl = RecvAncillaryBuffer::new(space);
    let msg = rustix::net::recvmsg(
        fd,
        &mut [IoSliceMut::new(buf)],
        &mut ctl,
        flags | RecvFlags::CMSG_CLOEXEC,
    )?;
    let mut passed = Passed {
        cut: msg.flags.contains(ReturnFlags::CTRUNC),
        ..Passed::default()
    };
    for m in ctl.drain() {
        match m {
            RecvAncillaryMessage::ScmRights(fds) => passed.fds.extend(fds),
            RecvAncillaryMessage::ScmCredentials(c) => {
                passed.cred = Some(Cred {
                    pid: c.pid.as_raw_nonzero().get() as u32,
                    uid: c.uid.as_raw(),
                    gid: c.gid.as_raw(),
                });
            }
            _ => {}
        }
    }
    Ok((msg, passed))
}

/// `sendmsg` of `data` with `fds` (to `to`, or the connected peer); the byte count sent.
pub fn send(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
    to: Option<&SocketAddrUnix>,
    flags: SendFlags,
) -> rustix::io::Result<usize> {
    let mut space = vec![MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(fds.len().max(1)))];
    let mut ctl = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !ctl.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(rustix::io::Errno::NOBUFS);
    }
    let iov = [IoSlice::new(data)];
    match to {
        Some(to) => rustix::net::sendmsg_addr(sock, to, &iov, &mut ctl, flags),
        None => rustix::net::sendmsg(sock, &iov, &mut ctl, flags),
    }
}

/// What a descriptor is, for a log line and JSON.
#[derive(Debug, Clone)]
pub struct FdInfo {
    /// Its number in our process when it was described.
    pub fd: i32,
    /// `regular file`, `directory`, `socket`, `pipe`, `character device`, `block device`,
    /// `symlink` or `other` (eventfd, epoll, memfd... show in `target`).
    pub kind: &'static str,
    /// Where /proc/self/fd/N points: the path of a file, `socket:[INODE]`, `pipe:[INODE]`,
    /// `anon_inode:[eventfd]`...
    pub target: String,
    pub inode: u64,
    /// For a socket: `unix stream`, `inet dgram`...
    pub socket: Option<String>,
    /// For a regular file: its size.
    pub size: Option<u64>,
}

/// Describes `fd` from fstat and its /proc/self/fd link; never fails (an unreadable link is
/// left empty).
pub fn describe(fd: BorrowedFd<'_>) -> FdInfo {
    use rustix::fs::FileType;
    let raw = fd.as_raw_fd();
    let target = std::fs::read_link(format!("/proc/self/fd/{raw}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let st = rustix::fs::fstat(fd).ok();
    let ft = st.as_ref().map(|s| FileType::from_raw_mode(s.st_mode));
    let kind = match ft {
        Some(FileType::RegularFile) => "regular file",
        Some(FileType::Directory) => "directory",
        Some(FileType::Socket) => "socket",
        Some(FileType::Fifo) => "pipe",
        Some(FileType::CharacterDevice) => "character device",
        Some(FileType::BlockDevice) => "block device",
        Some(FileType::Symlink) => "symlink",
        _ => "other",
    };
    let socket = (kind == "socket").then(|| socket_kind(fd));
    FdInfo {
        fd: raw,
        kind,
        target,
        inode: st.as_ref().map_or(0, |s| s.st_ino),
        socket,
        size: st
            .as_ref()
            .filter(|_| kind == "regular file")
            .map(|s| s.st_size as u64),
    }
}

fn socket_kind(fd: BorrowedFd<'_>) -> String {
    use rustix::net::{AddressFamily, SocketType, sockopt};
    let family = match sockopt::socket_domain(fd) {
        Ok(AddressFamily::UNIX) => "unix",
        Ok(AddressFamily::INET) => "inet",
        Ok(AddressFamily::INET6) => "inet6",
        Ok(AddressFamily::NETLINK) => "netlink",
        _ => "other",
    };
    let ty = match sockopt::socket_type(fd) {
        Ok(SocketType::STREAM) => "stream",
        Ok(SocketType::DGRAM) => "dgram",
        Ok(SocketType::SEQPACKET) => "seqpacket",
        Ok(SocketType::RAW) => "raw",
        _ => "other",
    };
    format!("{family} {ty}")
}

impl fmt::Display for FdInfo {
    /// `fd: 5 regular file /etc/hostname`, `fd: 6 socket unix stream inode 123`,
    /// `fd: 7 pipe inode 456`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fd: {} {}", self.fd, self.kind)?;
        match (self.kind, &self.socket) {
            (_, Some(s)) => write!(f, " {s} inode {}", self.inode),
            ("pipe", _) => write!(f, " inode {}", self.inode),
            ("other", _) => write!(f, " {}", escape(&self.target)),
            _ => write!(f, " {}", escape(&self.target)),
        }
    }
}

impl FdInfo {
    /// A JSON object: fd, kind, target, inode, and socket or size where they apply.
    pub fn json(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("fd".into(), self.fd.into());
        m.insert("kind".into(), self.kind.into());
        m.insert("target".into(), self.target.clone().into());
        m.insert("inode".into(), self.inode.into());
        if let Some(s) = &self.socket {
            m.insert("socket".into(), s.clone().into());
        }
        if let Some(s) = self.size {
            m.insert("size".into(), s.into());
        }
        serde_json::Value::Object(m)
    }
}

/// A descriptor number from the command line (`--fd N`, `--send-fd N`), and whether it
/// was open as the command line was parsed: then every open descriptor is one udskit
/// inherited, while later one of its own (the runtime's epoll, a socket) may have taken a
/// number the shell left closed, and would be passed in its place.
#[derive(Clone, Copy, Debug)]
pub struct Inherited {
    n: i32,
    open: bool,
}

/// clap's parser of such a number: a non-negative integer, probed with F_GETFD.
pub fn inherited(s: &str) -> Result<Inherited, String> {
    let n: i32 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a descriptor number"))?;
    // SAFETY: only used for the F_GETFD probe, while nothing closes n.
    let open = n >= 0 && rustix::io::fcntl_getfd(unsafe { BorrowedFd::borrow_raw(n) }).is_ok();
    Ok(Inherited { n, open })
}

/// Descriptors to pass, from `--fd N` (ours, open already) and `--send-file PATH` (opened
/// read-only here), checked: each must have been open when udskit started, and all
/// together at most [`MAX_FDS`].
pub struct Outgoing {
    numbers: Vec<i32>,
    files: Vec<OwnedFd>,
}

impl Outgoing {
    pub fn new(
        numbers: &[Inherited],
        paths: &[std::path::PathBuf],
        flag: &str,
    ) -> Result<Self, Fail> {
        let total = numbers.len() + paths.len();
        if total > MAX_FDS {
            return Err(Fail::usage(format!(
                "{total} descriptors to pass: one message carries at most {MAX_FDS} (the kernel's SCM_MAX_FD)"
            )));
        }
        if let Some(&Inherited { n, .. }) = numbers.iter().find(|i| !i.open) {
            return Err(
                Fail::usage(format!("{flag} {n}: not an open descriptor")).hint(format!(
                    "open it in the shell first, e.g. `{n}<FILE` or `{n}<>SOCKET`"
                )),
            );
        }
        let mut files = Vec::with_capacity(paths.len());
        for p in paths {
            files.push(open(p)?);
        }
        Ok(Outgoing {
            numbers: numbers.iter().map(|i| i.n).collect(),
            files,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.numbers.is_empty() && self.files.is_empty()
    }

    /// All of them, `--fd` ones first, in command-line order.
    pub fn borrowed(&self) -> Vec<BorrowedFd<'_>> {
        // SAFETY: open since udskit started (checked in new()); nothing in udskit closes
        // descriptors it did not open.
        let mut v: Vec<BorrowedFd<'_>> = self
            .numbers
            .iter()
            .map(|&n| unsafe { BorrowedFd::borrow_raw(n) })
            .collect();
        v.extend(self.files.iter().map(|f| f.as_fd()));
        v
    }
}

fn open(p: &Path) -> Result<OwnedFd, Fail> {
    std::fs::File::open(p).map(OwnedFd::from).map_err(|e| {
        Fail::new(
            1,
            format!(
                "opening {} to pass it (--send-file): {}",
                escape(&p.display().to_string()),
                e
            ),
        )
    })
}

/// Sends `data` with `fds` on a connected stream, waiting while the socket is full; the
/// descriptors go with the first byte, what the kernel did not take yet goes after them. A
/// seqpacket record larger than the kernel takes (EMSGSIZE) is split as
/// [`Stream`](crate::net::stream::Stream)'s writes split it.
pub async fn send_on_stream(
    stream: &crate::net::stream::Stream,
    data: &[u8],
    fds: &[BorrowedFd<'_>],
) -> std::io::Result<()> {
    use crate::net::stream::SEQPACKET_MAX_WRITE;
    let flags = SendFlags::NOSIGNAL | SendFlags::DONTWAIT;
    let mut sent = 0;
    let mut with = fds;
    let mut most = data.len();
    while sent < data.len() {
        let end = data.len().min(sent + most);
        let r = stream
            .io_with(tokio::io::Interest::WRITABLE, || {
                send(stream.as_fd(), &data[sent..end], with, None, flags).map_err(Into::into)
            })
            .await;
        let n = match r {
            Err(e)
                if e.raw_os_error() == Some(rustix::io::Errno::MSGSIZE.raw_os_error())
                    && most > SEQPACKET_MAX_WRITE =>
            {
                most = SEQPACKET_MAX_WRITE;
                continue;
            }
            r => r?,
        };
        sent += n;
        with = &[];
    }
    Ok(())
}

/// Waits for the peer's first bytes on a stream and takes copies of the descriptors that
/// came with them, leaving bytes (and descriptors) in the socket for whoever reads next
/// (MSG_PEEK duplicates them). None at EOF before any byte (or descriptor).
pub async fn peek_first(stream: &crate::net::stream::Stream) -> std::io::Result<Option<Passed>> {
    let mut space = control_space();
    let mut one = [0u8; 1];
    let (msg, passed) = stream
        .io_with(tokio::io::Interest::READABLE, || {
            recv(
                stream.as_fd(),
                &mut one,
                &mut space,
                RecvFlags::PEEK | RecvFlags::DONTWAIT,
            )
            .map_err(Into::into)
        })
        .await?;
    // An empty seqpacket record may carry descriptors: no EOF, that.
    let something = msg.bytes > 0 || !passed.fds.is_empty() || passed.cut;
    Ok(something.then_some(passed))
}

/// Arranges for `fds` to be the child's descriptors 3, 4, ... (without close-on-exec), as
/// systemd's socket activation does. Returns the copies that must live until the child has
/// started: each is first moved above the target range, so that placing one never
/// overwrites another still to be placed.
pub fn hand_to_child(
    command: &mut tokio::process::Command,
    fds: Vec<OwnedFd>,
) -> std::io::Result<Vec<OwnedFd>> {
    let n = fds.len() as i32;
    let high: Vec<OwnedFd> = fds
        .iter()
        .map(|f| rustix::io::fcntl_dupfd_cloexec(f, 3 + n))
        .collect::<Result<_, _>>()?;
    drop(fds);
    let raw: Vec<i32> = high.iter().map(|f| f.as_raw_fd()).collect();
    // SAFETY: between fork and exec only dup2(2) runs, which is async-signal-safe; the
    // targets are placeholders forgotten at once, never closed here.
    unsafe {
        command.pre_exec(move || {
            use std::os::fd::FromRawFd;
            for (i, &src) in raw.iter().enumerate() {
                let src = BorrowedFd::borrow_raw(src);
                let mut target = OwnedFd::from_raw_fd(3 + i as i32);
                let r = rustix::io::dup2(src, &mut target);
                std::mem::forget(target);
                r?;
            }
            Ok(())
        });
    }
    Ok(high)
}
