//! The kernel's table of unix sockets: one netlink sock_diag dump (`SOCK_DIAG_BY_FAMILY`
//! for AF_UNIX), which gives what /proc/net/unix cannot — the (dev, ino) of the socket file
//! each socket is bound to (to tell a live socket file from a stale or shadowed one), the
//! peer's inode, the accept queue and the socket owner's uid. Where netlink is unavailable
//! (seccomp, old kernels, no CONFIG_UNIX_DIAG) /proc/net/unix is read instead, without those.
//! Hand-written on a rustix netlink socket: one request and five attributes, where a netlink
//! crate would bring a message framework of its own, and libc has no unix_diag constants.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType, netlink};

use crate::net::kind::Kind;

/// The socket's address, as bound.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Name {
    /// A filesystem name, exactly as passed to bind (possibly relative).
    Path(Vec<u8>),
    /// An abstract name, without the leading NUL.
    Abstract(Vec<u8>),
}

impl Name {
    /// How a listing shows it: `@name` for abstract names; a path that could be read as an
    /// abstract name (it starts with `@`) gets a `./` in front. Control bytes are escaped.
    pub fn display(&self) -> String {
        match self {
            Name::Abstract(n) => format!("@{}", crate::term::escape_bytes(n)),
            Name::Path(p) if p.first() == Some(&b'@') => {
                format!("./{}", crate::term::escape_bytes(p))
            }
            Name::Path(p) => crate::term::escape_bytes(p),
        }
    }

    /// The name when `display` would show it unchanged (a path of printable ASCII without
    /// `\\` that does not start with `@`, nearly every one): no copy needs to be made.
    pub fn plain(&self) -> Option<&str> {
        match self {
            Name::Path(p)
                if p.first() != Some(&b'@')
                    && p.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'\\') =>
            {
                std::str::from_utf8(p).ok()
            }
            _ => None,
        }
    }

    pub fn path(&self) -> Option<&Path> {
        match self {
            Name::Path(p) => Some(Path::new(std::ffi::OsStr::from_bytes(p))),
            Name::Abstract(_) => None,
        }
    }
}

/// The state of a unix socket (the kernel reuses the TCP state numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SockState {
    /// A stream or seqpacket socket that listens.
    Listen,
    /// Connected (a client, an accepted connection, one end of a socketpair).
    Connected,
    /// Neither: a datagram socket, or a stream socket not yet listening or connected.
    Unconnected,
}

/// One unix socket as the kernel reports it.
#[derive(Debug, Clone)]
pub struct Sock {
    pub inode: u32,
    pub kind: Kind,
    pub state: SockState,
    pub name: Option<Name>,
    /// (st_dev, st_ino) of the socket file it is bound to, in stat(2)'s encoding.
    pub vfs: Option<(u64, u64)>,
    /// The inode of the socket at the other end, when connected.
    pub peer: Option<u32>,
    /// Connections waiting in a listener's accept queue (and the queue's limit).
    pub queue: Option<(u32, u32)>,
    /// The uid of whoever created the socket.
    pub uid: Option<u32>,
}

/// Where the table came from: sock_diag knows more than /proc/net/unix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Netlink,
    ProcNetUnix,
}

/// Every unix socket in this network namespace: from sock_diag, else /proc/net/unix.
pub fn sockets() -> io::Result<(Vec<Sock>, Source)> {
    match dump() {
        Ok(v) => Ok((v, Source::Netlink)),
        Err(_) => Ok((proc_net_unix()?, Source::ProcNetUnix)),
    }
}

// ---------------------------------------------------------------------------------------
// sock_diag (linux/unix_diag.h, linux/sock_diag.h, linux/netlink.h)

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDRLEN: usize = 16;

const UDIAG_SHOW_NAME: u32 = 0x01;
const UDIAG_SHOW_VFS: u32 = 0x02;
const UDIAG_SHOW_PEER: u32 = 0x04;
const UDIAG_SHOW_RQLEN: u32 = 0x10;
const UDIAG_SHOW_UID: u32 = 0x40;

const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_VFS: u16 = 1;
const UNIX_DIAG_PEER: u16 = 2;
const UNIX_DIAG_RQLEN: u16 = 4;
const UNIX_DIAG_UID: u16 = 7;

const TCP_ESTABLISHED: u8 = 1;
const TCP_LISTEN: u8 = 10;

/// The receive buffer for the dump. The kernel fills each dump message up to the reader's
/// buffer size but at most 32 KiB, so a bigger one saves no recv call and a smaller one
/// costs more (docs/performance.md).
const RECV_BUF: usize = 32 * 1024;

/// Sends one SOCK_DIAG_BY_FAMILY request for unix sockets: a dump of all of them
/// (`inode` 0, `NLM_F_DUMP`), or the one socket with that inode.
fn request(flags: u16, inode: u32, show: u32) -> io::Result<rustix::fd::OwnedFd> {
    let fd = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )?;
    let mut req = Vec::with_capacity(NLMSG_HDRLEN + 24);
    req.extend_from_slice(&((NLMSG_HDRLEN + 24) as u32).to_ne_bytes());
    req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
    req.extend_from_slice(&1u32.to_ne_bytes()); // sequence number
    req.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel
    // struct unix_diag_req
    req.push(libc_af_unix());
    req.push(0); // protocol
    req.extend_from_slice(&0u16.to_ne_bytes());
    req.extend_from_slice(&u32::MAX.to_ne_bytes()); // all states
    req.extend_from_slice(&inode.to_ne_bytes());
    req.extend_from_slice(&show.to_ne_bytes());
    req.extend_from_slice(&[0xff; 8]); // no cookie
    rustix::net::send(&fd, &req, SendFlags::empty())?;
    Ok(fd)
}

/// The one socket with `inode`, asked for by inode rather than found in a dump: the
/// (dev, ino) of the file a socket of ours was bound to, straight from the kernel.
/// `Err` without sock_diag (or when the kernel does not know the inode).
pub fn by_inode(inode: u32) -> io::Result<Sock> {
    let fd = request(0, inode, UDIAG_SHOW_NAME | UDIAG_SHOW_VFS)?;
    let mut buf = vec![0u8; 4096];
    let (n, _) = rustix::net::recv(&fd, &mut buf[..], RecvFlags::empty())?;
    let m = &buf[..n];
    if m.len() < NLMSG_HDRLEN {
        return Err(io::Error::other("sock_diag: short answer"));
    }
    // A length below the header's own (a broken answer) leaves no payload, not a panic.
    let len = (u32_at(m, 0) as usize).clamp(NLMSG_HDRLEN, m.len());
    match u16::from_ne_bytes([m[4], m[5]]) {
        NLMSG_ERROR if m.len() >= 20 => {
            let errno = i32::from_ne_bytes([m[16], m[17], m[18], m[19]]);
            Err(io::Error::from_raw_os_error(-errno))
        }
        SOCK_DIAG_BY_FAMILY => parse_msg(&m[NLMSG_HDRLEN..len])
            .filter(|s| s.inode == inode)
            .ok_or_else(|| io::Error::other("sock_diag: malformed answer")),
        _ => Err(io::Error::other("sock_diag: unexpected answer")),
    }
}

/// Dumps every unix socket through NETLINK_SOCK_DIAG.
pub fn dump() -> io::Result<Vec<Sock>> {
    let show =
        UDIAG_SHOW_NAME | UDIAG_SHOW_VFS | UDIAG_SHOW_PEER | UDIAG_SHOW_RQLEN | UDIAG_SHOW_UID;
    let fd = request(NLM_F_DUMP, 0, show)?;

    let mut socks = Vec::with_capacity(unix_socket_count().map_or(0, |n| n + n / 16 + 16));
    let mut buf = vec![0u8; RECV_BUF];
    loop {
        let (n, _) = rustix::net::recv(&fd, &mut buf[..], RecvFlags::empty())?;
        if n == 0 {
            return Err(io::Error::other("sock_diag: the dump ended early"));
        }
        let mut msgs = &buf[..n];
        while msgs.len() >= NLMSG_HDRLEN {
            let len = u32_at(msgs, 0) as usize;
            let ty = u16::from_ne_bytes([msgs[4], msgs[5]]);
            if len < NLMSG_HDRLEN || len > msgs.len() {
                return Err(io::Error::other("sock_diag: malformed message"));
            }
            match ty {
                NLMSG_DONE => return Ok(socks),
                NLMSG_ERROR => {
                    let errno = i32::from_ne_bytes(msgs[16..20].try_into().unwrap_or([0; 4]));
                    return Err(io::Error::from_raw_os_error(-errno));
                }
                SOCK_DIAG_BY_FAMILY => {
                    if let Some(s) = parse_msg(&msgs[NLMSG_HDRLEN..len]) {
                        socks.push(s);
                    }
                }
                _ => {}
            }
            msgs = &msgs[align4(len).min(msgs.len())..];
        }
    }
}

/// How many unix sockets the kernel counts in this thread's network namespace (the `sockets` column
/// of the UNIX rows in /proc/net/protocols), to size the dump's vector once: grown by
/// doubling, each step a fresh copy, it made about 450 of the 2,500 page faults of
/// `udskit ls` at 10,000 sockets.
fn unix_socket_count() -> Option<usize> {
    // thread-self: a thread that entered another network namespace counts that one's.
    let text = std::fs::read_to_string("/proc/thread-self/net/protocols").ok()?;
    let mut fields = text.lines().next()?.split_whitespace();
    let col = fields.position(|f| f == "sockets")?;
    Some(
        text.lines()
            .filter(|l| l.starts_with("UNIX"))
            .filter_map(|l| l.split_whitespace().nth(col)?.parse::<usize>().ok())
            .sum(),
    )
}

fn libc_af_unix() -> u8 {
    AddressFamily::UNIX.as_raw() as u8
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn kind_of(raw: u8) -> Option<Kind> {
    match raw {
        1 => Some(Kind::Stream),
        2 => Some(Kind::Datagram),
        5 => Some(Kind::SeqPacket),
        _ => None,
    }
}

/// One `struct unix_diag_msg` and its attributes.
fn parse_msg(m: &[u8]) -> Option<Sock> {
    if m.len() < 16 {
        return None;
    }
    let kind = kind_of(m[1])?;
    let state = match m[2] {
        TCP_LISTEN => SockState::Listen,
        TCP_ESTABLISHED => SockState::Connected,
        _ => SockState::Unconnected,
    };
    let mut s = Sock {
        inode: u32_at(m, 4),
        kind,
        state,
        name: None,
        vfs: None,
        peer: None,
        queue: None,
        uid: None,
    };
    let mut attrs = &m[16..];
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let ty = u16::from_ne_bytes([attrs[2], attrs[3]]);
        if len < 4 || len > attrs.len() {
            break;
        }
        let data = &attrs[4..len];
        match ty {
            UNIX_DIAG_NAME if !data.is_empty() => {
                s.name = Some(if data[0] == 0 {
                    Name::Abstract(data[1..].to_vec())
                } else {
                    // The kernel includes the terminating NUL of a path name.
                    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                    Name::Path(data[..end].to_vec())
                });
            }
            UNIX_DIAG_VFS if data.len() >= 8 => {
                // The kernel's internal dev_t: major << 20 | minor.
                let (ino, dev) = (u32_at(data, 0), u32_at(data, 4));
                let dev = rustix::fs::makedev(dev >> 20, dev & 0xf_ffff);
                s.vfs = Some((dev, u64::from(ino)));
            }
            UNIX_DIAG_PEER if data.len() >= 4 => s.peer = Some(u32_at(data, 0)),
            UNIX_DIAG_RQLEN if data.len() >= 8 => {
                s.queue = Some((u32_at(data, 0), u32_at(data, 4)));
            }
            UNIX_DIAG_UID if data.len() >= 4 => s.uid = Some(u32_at(data, 0)),
            _ => {}
        }
        attrs = &attrs[align4(len).min(attrs.len())..];
    }
    if s.state != SockState::Listen {
        // For other states RQLEN is the receive queue in bytes, not an accept queue.
        s.queue = None;
    }
    Some(s)
}

// ---------------------------------------------------------------------------------------
// /proc/net/unix: "Num RefCount Protocol Flags Type St Inode Path"

/// `__SO_ACCEPTCON`: the socket listens.
const SO_ACCEPTCON: u32 = 1 << 16;

/// Reads /proc/net/unix. It marks abstract names with a leading `@` exactly as a path
/// starting with `@` would look, and has no file identity, peer or queue: a fallback only.
pub fn proc_net_unix() -> io::Result<Vec<Sock>> {
    parse_proc_file("/proc/net/unix")
}

/// The /proc/net/unix of process `pid`'s network namespace, which anyone may read, also
/// of a namespace they may not enter.
pub fn proc_net_unix_of(pid: u32) -> io::Result<Vec<Sock>> {
    parse_proc_file(&format!("/proc/{pid}/net/unix"))
}

fn parse_proc_file(path: &str) -> io::Result<Vec<Sock>> {
    Ok(parse_proc_text(&std::fs::read(path)?))
}

/// The kernel writes each name as it is, so a newline in one goes on to the next line: a
/// line that is not an entry is the rest of the name before it (a name made to look like
/// an entry there cannot be told from one: sock_diag has no such ambiguity).
fn parse_proc_text(text: &[u8]) -> Vec<Sock> {
    let mut socks: Vec<Sock> = Vec::new();
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    for line in body.split(|&b| b == b'\n').skip(1) {
        match parse_proc_line(line) {
            Some(s) => socks.push(s),
            None => {
                if let Some(Sock {
                    name: Some(Name::Path(n) | Name::Abstract(n)),
                    ..
                }) = socks.last_mut()
                {
                    n.push(b'\n');
                    n.extend_from_slice(line);
                }
            }
        }
    }
    socks
}

fn parse_proc_line(line: &[u8]) -> Option<Sock> {
    let mut fields = line.splitn(8, |&b| b == b' ').filter(|f| !f.is_empty());
    let mut next = || std::str::from_utf8(fields.next()?).ok();
    let _num = next()?;
    let _refs = next()?;
    let _proto = next()?;
    let flags = u32::from_str_radix(next()?, 16).ok()?;
    let kind = kind_of(u8::from_str_radix(next()?, 16).ok()?)?;
    let st = u8::from_str_radix(next()?, 16).ok()?;
    let inode = next()?.parse().ok()?;
    // The path is whatever follows the inode and one space (it may hold spaces itself).
    let name = {
        let pos = find_nth_field_end(line, 7)?;
        let rest = line.get(pos + 1..).unwrap_or_default();
        match rest.first() {
            None => None,
            Some(b'@') => Some(Name::Abstract(rest[1..].to_vec())),
            Some(_) => Some(Name::Path(rest.to_vec())),
        }
    };
    let state = if flags & SO_ACCEPTCON != 0 {
        SockState::Listen
    } else if st == 3 {
        SockState::Connected
    } else {
        SockState::Unconnected
    };
    Some(Sock {
        inode,
        kind,
        state,
        name,
        vfs: None,
        peer: None,
        queue: None,
        uid: None,
    })
}

/// The byte offset just past the `n`-th space-separated field (fields may be padded).
fn find_nth_field_end(line: &[u8], n: usize) -> Option<usize> {
    let mut seen = 0;
    let mut in_field = false;
    for (i, &b) in line.iter().enumerate() {
        if b == b' ' {
            if in_field {
                seen += 1;
                if seen == n {
                    return Some(i);
                }
            }
            in_field = false;
        } else {
            in_field = true;
        }
    }
    (in_field && seen + 1 == n).then_some(line.len())
}

// ---------------------------------------------------------------------------------------
// Lookups for safe bind

/// What sock_diag says about a socket file: the live socket bound to it, if any.
/// `Err` when sock_diag is unavailable (the caller falls back to a connect probe).
pub fn bound_to(dev: u64, ino: u64) -> io::Result<Option<Sock>> {
    let socks = dump()?;
    Ok(socks
        .into_iter()
        .filter(|s| s.vfs == Some((dev, ino & 0xffff_ffff)))
        // An accepted connection shares its listener's file but cannot be connected to;
        // a stream socket that is bound but not yet listening is about to be a server.
        .filter(|s| s.kind == Kind::Datagram || s.state != SockState::Connected)
        .min_by_key(|s| s.state))
}

/// The socket bound to an abstract name, if any (`Err` without sock_diag).
pub fn bound_abstract(name: &[u8]) -> io::Result<Option<Sock>> {
    Ok(dump()?.into_iter().find(|s| {
        matches!(&s.name, Some(Name::Abstract(n)) if n == name)
            && (s.kind == Kind::Datagram || s.state != SockState::Connected)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unambiguous() {
        assert_eq!(Name::Abstract(b"x".to_vec()).display(), "@x");
        assert_eq!(Name::Path(b"@x".to_vec()).display(), "./@x");
        assert_eq!(Name::Path(b"/tmp/a\nb".to_vec()).display(), "/tmp/a\\nb");
        assert_eq!(Name::Abstract(b"a\0b".to_vec()).display(), "@a\\u{0}b");
        // `plain` is the display form whenever it is given, and is given for plain paths.
        assert_eq!(
            Name::Path(b"/run/a.sock".to_vec()).plain(),
            Some("/run/a.sock")
        );
        for n in [b"@x".as_slice(), b"a\\b", b"/tmp/\xff", b"/tmp/a\nb"] {
            assert_eq!(Name::Path(n.to_vec()).plain(), None);
        }
        assert_eq!(Name::Abstract(b"x".to_vec()).plain(), None);
    }

    #[test]
    fn the_kernel_counts_our_socket() {
        let _pair = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(unix_socket_count().is_some_and(|n| n >= 2));
    }

    #[test]
    fn proc_net_unix_lines() {
        let l = b"0000000000000000: 00000002 00000000 00010000 0001 01 4242 /tmp/a b.sock";
        let s = parse_proc_line(l).unwrap();
        assert_eq!(
            (s.inode, s.kind, s.state),
            (4242, Kind::Stream, SockState::Listen)
        );
        assert_eq!(s.name, Some(Name::Path(b"/tmp/a b.sock".to_vec())));
        let l = b"0000000000000000: 00000003 00000000 00000000 0002 03 17";
        let s = parse_proc_line(l).unwrap();
        assert_eq!(
            (s.kind, s.state, s.name),
            (Kind::Datagram, SockState::Connected, None)
        );
        let l = b"0000000000000000: 00000002 00000000 00000000 0005 01 9 @abs";
        let s = parse_proc_line(l).unwrap();
        assert_eq!(s.name, Some(Name::Abstract(b"abs".to_vec())));
    }

    #[test]
    fn a_newline_in_a_name_goes_on_to_the_next_line() {
        let text = b"Num       RefCount Protocol Flags    Type St Inode Path\n\
0000000000000000: 00000002 00000000 00010000 0001 01 1 /tmp/nl\nx.sock\n\
0000000000000000: 00000002 00000000 00000000 0001 01 2 /tmp/two\n\nlines\n\
0000000000000000: 00000002 00000000 00000000 0001 01 3 /tmp/end\n\n\
0000000000000000: 00000003 00000000 00000000 0001 03 4\n";
        let names: Vec<_> = parse_proc_text(text)
            .into_iter()
            .map(|s| (s.inode, s.name))
            .collect();
        let path = |p: &[u8]| Some(Name::Path(p.to_vec()));
        assert_eq!(
            names,
            [
                (1, path(b"/tmp/nl\nx.sock")),
                (2, path(b"/tmp/two\n\nlines")),
                (3, path(b"/tmp/end\n")),
                (4, None)
            ]
        );
    }

    #[test]
    fn netlink_sees_our_own_listener() {
        let dir = std::env::temp_dir().join(format!("udskit-diag-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let l = std::os::unix::net::UnixListener::bind(&dir).unwrap();
        let m = std::fs::metadata(&dir).unwrap();
        use std::os::unix::fs::MetadataExt;
        let found = bound_to(m.dev(), m.ino()).unwrap().expect("our listener");
        assert_eq!(found.state, SockState::Listen);
        assert_eq!(
            found.name.as_ref().and_then(|n| n.path()),
            Some(dir.as_path())
        );
        // Asked for by the socket's own inode, the kernel names the same file.
        use std::os::fd::AsFd;
        let sock_ino = rustix::fs::fstat(l.as_fd()).unwrap().st_ino as u32;
        let me = by_inode(sock_ino).unwrap();
        assert_eq!(me.vfs, Some((m.dev(), m.ino() & 0xffff_ffff)));
        drop(l);
        assert!(bound_to(m.dev(), m.ino()).unwrap().is_none());
        let _ = std::fs::remove_file(&dir);
    }
}
