//! Unix sockets at the system-call level: an address ready for one bind or connect call,
//! new non-blocking sockets, and one connect attempt. Paths longer than `sun_path` are
//! reached through `/proc/self/fd/N/NAME` of the opened parent directory, so they work
//! instead of being truncated.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

use crate::error::Fail;
use crate::net::addr::Addr;
use crate::net::kind::Kind;
use crate::term::escape;

/// The longest path `sun_path` holds (108 bytes with the terminating NUL).
const SUN_PATH_MAX: usize = 107;

/// A unix socket address ready for one bind or connect call. For a long path it holds the
/// opened parent directory that the `/proc/self/fd/N/NAME` form refers to.
pub struct UnixTarget {
    pub addr: SocketAddrUnix,
    _dir: Option<OwnedFd>,
}

pub fn unix_target(addr: &Addr) -> anyhow::Result<UnixTarget> {
    match addr {
        Addr::Abstract(name) => Ok(UnixTarget {
            addr: SocketAddrUnix::new_abstract_name(name)?,
            _dir: None,
        }),
        Addr::Path(p) if p.as_os_str().len() <= SUN_PATH_MAX => Ok(UnixTarget {
            addr: SocketAddrUnix::new(p.as_path())?,
            _dir: None,
        }),
        Addr::Path(p) => long_path_target(p),
        Addr::Tcp { .. } | Addr::Udp { .. } => unreachable!("unix_target called for {addr}"),
    }
}

fn long_path_target(p: &Path) -> anyhow::Result<UnixTarget> {
    let too_long = || {
        let size = p.as_os_str().len();
        Fail::new(
            1,
            format!(
                "the path is {size} bytes, more than a unix socket address holds even \
                 through /proc/self/fd"
            ),
        )
        .hint(format!(
            "a socket path can be at most {SUN_PATH_MAX} bytes, or its file name about 90 \
             bytes inside a longer directory path; use a shorter name"
        ))
    };
    let (Some(dir), Some(name)) = (p.parent(), p.file_name()) else {
        return Err(too_long().into());
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let fd = rustix::fs::open(
        dir,
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| {
        anyhow::Error::from(io::Error::from(e)).context(format!(
            "opening directory {}",
            escape(&dir.display().to_string())
        ))
    })?;
    let mut short = format!("/proc/self/fd/{}/", fd.as_raw_fd()).into_bytes();
    short.extend_from_slice(name.as_bytes());
    if short.len() > SUN_PATH_MAX {
        return Err(too_long().into());
    }
    Ok(UnixTarget {
        addr: SocketAddrUnix::new(OsStr::from_bytes(&short))?,
        _dir: Some(fd),
    })
}

/// A new non-blocking, close-on-exec unix socket of `kind`, neither bound nor connected.
pub fn unix_socket(kind: Kind) -> io::Result<OwnedFd> {
    let ty = match kind {
        Kind::Stream => SocketType::STREAM,
        Kind::SeqPacket => SocketType::SEQPACKET,
        Kind::Datagram => SocketType::DGRAM,
    };
    Ok(rustix::net::socket_with(
        AddressFamily::UNIX,
        ty,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?)
}

/// One attempt: a non-blocking socket of `kind`, connected (unix connect does not block
/// beyond a full backlog, where it fails with EAGAIN and we report it).
pub fn try_connect_unix(addr: &Addr, kind: Kind) -> io::Result<OwnedFd> {
    // A missing directory on a long path stays an io::Error, so that connect_error names it.
    let target = unix_target(addr).map_err(|e| match e.downcast::<io::Error>() {
        Ok(io) => io,
        Err(e) => e
            .downcast::<Fail>()
            .map_or_else(io::Error::other, io::Error::other),
    })?;
    let fd = unix_socket(kind)?;
    match rustix::net::connect(&fd, &target.addr) {
        Ok(()) => Ok(fd),
        Err(Errno::AGAIN) => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "the listener's accept queue is full",
        )),
        Err(e) => Err(e.into()),
    }
}
