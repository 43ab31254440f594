//! Why a socket could not be reached, in words: no such file (or directory), a stale
//! socket, permission bits and owner against who we are, not a socket, the wrong socket type,
//! and each address tried when a TCP name resolved to several.

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustix::io::Errno;

use crate::duration;
use crate::error::Fail;
use crate::linux::diag;
use crate::linux::users::{group_name, user_name};
use crate::net::addr::Addr;
use crate::net::kind::Kind;
use crate::net::unix::try_connect_unix;
use crate::term::escape;

/// What a reset usually means, for the hint beside any report of one.
pub const RESET_HINT: &str = "a server resets a connection when it exits or closes without \
     reading what it was sent; a relay or proxy does when its own target is down";

/// Turns a failed connect into the message every subcommand gives: the address, the real
/// cause, and a hint (stale socket, permission bits and owner, wrong socket type).
pub fn connect_error(addr: &Addr, kind: Kind, err: &io::Error, waited: Option<Duration>) -> Fail {
    reach_error(
        &format!("connecting to {}", escape(&addr.to_string())),
        addr,
        kind,
        err,
        waited,
    )
}

/// [`connect_error`] for any attempt to reach a socket: `what` says what we were doing
/// (`connecting to unix:/a`, `sending to @b`).
pub fn reach_error(
    what: &str,
    addr: &Addr,
    kind: Kind,
    err: &io::Error,
    waited: Option<Duration>,
) -> Fail {
    let after = waited
        .map(|w| format!(" (still, after waiting {})", duration::show(w)))
        .unwrap_or_default();
    let each = err.get_ref().and_then(|e| e.downcast_ref::<Tried>());
    let tried = each.map(|t| format!(" ({t})")).unwrap_or_default();
    let fail = |message: String| Fail::new(1, format!("{what}: {message}{tried}"));
    match (errno(err), addr) {
        (Some(Errno::NOENT), Addr::Path(p)) => no_such_file(p, &after, fail),
        (Some(Errno::CONNREFUSED), Addr::Path(p)) => refused_by_file(p, kind, &after, fail),
        (Some(Errno::CONNREFUSED), Addr::Abstract(_)) => fail(format!(
            "connection refused: nothing is bound to this abstract name{after}"
        )),
        (Some(Errno::CONNREFUSED), Addr::Tcp { .. }) => fail(format!(
            "connection refused: nothing is listening there{after}"
        )),
        (Some(Errno::ACCESS | Errno::PERM), _) => permission_denied(addr, fail),
        (Some(Errno::PROTOTYPE), _) => wrong_type(addr, kind, fail),
        (Some(Errno::NOTDIR), Addr::Path(p)) => fail(not_a_directory(p)),
        // The handshake completed in the kernel and the server reset the connection before
        // the connect returned: it accepted, then closed or reset it at once.
        (Some(Errno::CONNRESET), _) => {
            fail("the server reset the connection as soon as it was made".into()).hint(RESET_HINT)
        }
        // A path too long even for /proc/self/fd: keep its message and hint.
        _ => match err.get_ref().and_then(|e| e.downcast_ref::<Fail>()) {
            Some(f) => {
                let out = Fail::new(f.code, format!("{what}: {}", f.message));
                match &f.hint {
                    Some(h) => out.hint(h.clone()),
                    None => out,
                }
            }
            None => match (Errno::from_io_error(err), kind) {
                // A connected datagram socket whose receiver closed: the first send says
                // refused, every later one "not connected".
                (Some(Errno::NOTCONN), Kind::Datagram) => {
                    fail("the receiver is gone: its socket was closed".into())
                }
                _ => match crate::error::peer_words(err) {
                    Some(w) => fail(format!("the peer {w}")),
                    None => fail(match each {
                        Some(t) => t.0[telling(&t.0)].1.to_string(),
                        None => err.to_string(),
                    }),
                },
            },
        },
    }
}

/// Every address of a TCP name tried, each with its failure, in the order tried.
#[derive(Debug)]
pub struct Tried(Vec<(SocketAddr, io::Error)>);

/// The error of connecting to every address in `failed` (in the order tried): the one
/// error itself when there was one address, else a [`Tried`] that names them all, whose
/// errno ([`errno`]) is the most telling of theirs.
pub fn tried(mut failed: Vec<(SocketAddr, io::Error)>) -> io::Error {
    match failed.len() {
        0 => io::Error::new(
            io::ErrorKind::InvalidInput,
            "the name resolved to no address",
        ),
        1 => failed.remove(0).1,
        _ => {
            let kind = failed[telling(&failed)].1.kind();
            io::Error::new(kind, Tried(failed))
        }
    }
}

/// Which failure tells most: the first that is not "this kind of address is unusable
/// here" (no IPv6 on the host, no route), which every name with an address of each family
/// meets somewhere; the first otherwise.
fn telling(failed: &[(SocketAddr, io::Error)]) -> usize {
    let unusable = |e: &io::Error| {
        matches!(
            e.raw_os_error().map(Errno::from_raw_os_error),
            Some(Errno::ADDRNOTAVAIL | Errno::NETUNREACH | Errno::HOSTUNREACH | Errno::AFNOSUPPORT)
        )
    };
    failed.iter().position(|(_, e)| !unusable(e)).unwrap_or(0)
}

impl std::fmt::Display for Tried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let causes: Vec<String> = self.0.iter().map(|(_, e)| cause(e)).collect();
        if causes.iter().all(|c| *c == causes[0]) {
            let list: Vec<String> = self.0.iter().map(|(a, _)| a.to_string()).collect();
            return write!(f, "tried {}", list.join(", "));
        }
        f.write_str("tried ")?;
        for (i, ((at, _), c)) in self.0.iter().zip(&causes).enumerate() {
            let sep = if i == 0 { "" } else { "; " };
            write!(f, "{sep}{at}: {c}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Tried {}

/// An error's words without std's "(os error N)" and with a small first letter, to sit
/// inside a sentence.
fn cause(e: &io::Error) -> String {
    let s = e.to_string();
    let s = match s.rfind(" (os error ") {
        Some(i) => &s[..i],
        None => &s,
    };
    let mut c = s.chars();
    c.next()
        .map(|first| first.to_lowercase().chain(c).collect())
        .unwrap_or_default()
}

/// The errno behind `err`: its own, or for a [`Tried`] the most telling of its addresses'.
pub fn errno(err: &io::Error) -> Option<Errno> {
    let raw = err.raw_os_error().or_else(|| {
        let t = err.get_ref()?.downcast_ref::<Tried>()?;
        t.0[telling(&t.0)].1.raw_os_error()
    });
    raw.map(Errno::from_raw_os_error)
}

fn no_such_file(p: &Path, after: &str, fail: impl Fn(String) -> Fail) -> Fail {
    if let Some(parent) = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        let parent = escape(&parent.display().to_string()).into_owned();
        return fail(format!(
            "no such file or directory: {parent} does not exist{after}"
        ));
    }
    let f = fail(format!("no such file{after}"));
    match Addr::Path(p.to_path_buf()).tcp_lookalike() {
        Some(tcp) => f.hint(format!(
            "a bare argument is a socket path; for TCP write {tcp}"
        )),
        None => f.hint("is the server running? `udskit ls` lists the sockets that are listening"),
    }
}

/// ENOTDIR for `p`: the first of its directories that is not one, by name and kind.
pub fn not_a_directory(p: &Path) -> String {
    let mut ancestors: Vec<&Path> = p.ancestors().skip(1).collect();
    ancestors.reverse();
    for a in ancestors.into_iter().filter(|a| !a.as_os_str().is_empty()) {
        if let Ok(m) = std::fs::metadata(a)
            && !m.is_dir()
        {
            return format!(
                "{} is not a directory (it is {})",
                escape(&a.display().to_string()),
                file_kind(&m)
            );
        }
    }
    "a component of the path is not a directory".into()
}

/// The kind of filesystem holding `dir` when it is one where no socket file can be made
/// (procfs, sysfs and their kin, whose bind(2) fails with ENOENT or EPERM).
pub fn pseudo_filesystem(dir: &Path) -> Option<&'static str> {
    let magic = rustix::fs::statfs(dir).ok()?.f_type as u64;
    Some(match magic {
        0x9fa0 => "proc",
        0x6265_6572 => "sysfs",
        0x6462_6720 => "debugfs",
        0x7472_6163 => "tracefs",
        0x7363_6673 => "securityfs",
        0xcafe_4a11 => "bpf",
        0x6573_5546 => "fuse control",
        _ => return None,
    })
}

fn refused_by_file(p: &Path, kind: Kind, after: &str, fail: impl Fn(String) -> Fail) -> Fail {
    let meta = std::fs::metadata(p).ok();
    if let Some(m) = &meta
        && !m.file_type().is_socket()
    {
        return fail(format!("not a socket (it is {})", file_kind(m)));
    }
    let nobody = if kind == Kind::Datagram {
        "nothing receives on this socket file"
    } else {
        "nothing is listening on this socket file"
    };
    let shown = escape(&p.display().to_string()).into_owned();
    let f = fail(format!("connection refused: {nobody}{after}"));
    // A socket still bound to the file is no stale one: its server has not listened yet
    // (between bind(2) and listen(2)) or has stopped; only sock_diag tells them apart.
    if let Some(m) = &meta
        && let Ok(Some(_)) = diag::bound_to(m.dev(), m.ino())
    {
        return f.hint(format!(
            "a socket is still bound to {shown}, but it does not listen: its server has not \
             called listen(2) yet (try again, or --wait) or stopped listening; `udskit ls -a` \
             shows who holds it"
        ));
    }
    f.hint(format!(
        "{shown} is a stale socket: the server that created it is gone; restart the server \
         (udskit servers replace a dead socket)"
    ))
}

fn permission_denied(addr: &Addr, fail: impl Fn(String) -> Fail) -> Fail {
    let f = fail("permission denied".into());
    let Some(p) = addr.path() else {
        return f;
    };
    if let Ok(m) = std::fs::metadata(p) {
        return f.hint(permission_hint(p, &m));
    }
    match closed_directory(p) {
        Some((d, m)) => f.hint(format!(
            "the directory {} is {} owned by {}:{} and does not let you through \
             (search permission is missing). {}",
            escape(&d.display().to_string()),
            dir_mode_string(m.mode()),
            user_name(m.uid()),
            group_name(m.gid()),
            who_am_i()
        )),
        None => f,
    }
}

/// Names the type the socket really has: from the kernel's table where it lists the
/// socket, else deduced. A datagram connect only sets a default peer, so it is a harmless
/// test; a stream or seqpacket one would be accepted as a client.
fn wrong_type(addr: &Addr, kind: Kind, fail: impl Fn(String) -> Fail) -> Fail {
    let listed = bound_socket(addr).map(|s| s.kind).filter(|k| *k != kind);
    let actual = listed.or_else(|| match kind {
        Kind::Datagram => None,
        _ if try_connect_unix(addr, Kind::Datagram).is_ok() => Some(Kind::Datagram),
        Kind::Stream => Some(Kind::SeqPacket),
        Kind::SeqPacket => Some(Kind::Stream),
    });
    let to_stream = "use `udskit connect` for stream sockets (add --seqpacket for SOCK_SEQPACKET)";
    let (actual, hint) = match (kind, actual) {
        (Kind::Datagram, Some(k)) => (format!("a {} socket", k.name()), to_stream),
        (Kind::Datagram, None) => ("a stream or seqpacket socket".into(), to_stream),
        (_, Some(Kind::Datagram)) => (
            "a datagram socket".into(),
            "for a datagram socket use `udskit sendto`",
        ),
        (Kind::Stream, _) => (
            "a seqpacket socket".into(),
            "add --seqpacket for a SOCK_SEQPACKET socket",
        ),
        (Kind::SeqPacket, _) => (
            "a stream socket".into(),
            "leave out --seqpacket for a stream socket",
        ),
    };
    fail(format!("not a {} socket: it is {actual}", kind.name())).hint(hint)
}

pub(crate) fn file_kind(m: &std::fs::Metadata) -> &'static str {
    let t = m.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_file() {
        "a regular file"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a socket"
    }
}

/// `srwxr-x---`-style rendering of a socket file's mode.
pub fn mode_string(mode: u32) -> String {
    let mut s = String::from("s");
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

/// "You are uid N (name), groups G (name), ...", each group once.
fn who_am_i() -> String {
    let uid = rustix::process::getuid().as_raw();
    let mut gids = vec![rustix::process::getgid().as_raw()];
    for g in rustix::process::getgroups().unwrap_or_default() {
        if !gids.contains(&g.as_raw()) {
            gids.push(g.as_raw());
        }
    }
    let groups: Vec<String> = gids
        .iter()
        .map(|&g| format!("{g} ({})", group_name(g)))
        .collect();
    format!(
        "You are uid {uid} ({}), groups {}",
        user_name(uid),
        groups.join(", ")
    )
}

fn permission_hint(p: &Path, m: &std::fs::Metadata) -> String {
    format!(
        "{} is {} (mode {:o}) owned by {}:{}; connecting needs write permission on it. {}",
        escape(&p.display().to_string()),
        mode_string(m.mode()),
        m.mode() & 0o7777,
        user_name(m.uid()),
        group_name(m.gid()),
        who_am_i()
    )
}

/// Safe bind met a socket file it may not connect to: whether a server listens there
/// cannot be told, so it is left alone. `unbound_here`: sock_diag found no socket of this
/// network namespace bound to it (one in a container sharing the directory still could be).
pub fn unprobed(p: &Path, m: &std::fs::Metadata, unbound_here: bool) -> Fail {
    let shown = escape(&p.display().to_string()).into_owned();
    let namespace = if unbound_here {
        "No socket of this network namespace is bound to it, but one in another (a container \
         sharing the directory) could be, "
    } else {
        "It may be live, "
    };
    Fail::new(
        1,
        format!(
            "{shown} is a socket file udskit may not connect to, so it cannot tell whether a \
             server listens there"
        ),
    )
    .hint(format!(
        "{}. {namespace}and a live socket is never taken over: if it is stale, {} can remove \
         it; or choose another path",
        permission_hint(p, m),
        match m.uid() {
            0 => "root".to_string(),
            uid => format!("its owner ({}) or root", user_name(uid)),
        }
    ))
}

/// Why we may not remove the socket file at `p` (EPERM, EACCES from unlink): the sticky
/// directory and who may remove in it, or the directory's missing write permission.
pub fn unremovable_hint(p: &Path) -> Option<String> {
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (d, f) = (
        std::fs::metadata(dir).ok()?,
        std::fs::symlink_metadata(p).ok()?,
    );
    let shown = escape(&dir.display().to_string()).into_owned();
    let (mode, owner) = (dir_mode_string(d.mode()), user_name(d.uid()));
    let why = if d.mode() & 0o1000 != 0
        && rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).is_ok()
    {
        format!(
            "{shown} is sticky ({mode}, owned by {owner}): only the file's owner ({}), the \
             directory's owner or root may remove a file in it",
            user_name(f.uid())
        )
    } else {
        format!(
            "removing a file needs write permission on its directory; {shown} is {mode} owned \
             by {owner}:{}",
            group_name(d.gid())
        )
    };
    Some(format!("{why}. {}; choose another path", who_am_i()))
}

/// The first directory on the way to `p` that we may not search, with its metadata.
fn closed_directory(p: &Path) -> Option<(PathBuf, std::fs::Metadata)> {
    let abs = std::path::absolute(p).ok()?;
    abs.ancestors()
        .skip(1)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .find_map(|d| {
            let denied = rustix::fs::access(d, rustix::fs::Access::EXEC_OK).is_err();
            denied.then(|| std::fs::metadata(d).ok().map(|m| (d.to_path_buf(), m)))?
        })
}

fn dir_mode_string(mode: u32) -> String {
    let mut s = mode_string(mode);
    s.replace_range(0..1, "d");
    if mode & 0o1000 != 0 {
        // As ls(1): `t` sticky and searchable by others, `T` sticky alone.
        let t = if mode & 0o001 != 0 { "t" } else { "T" };
        s.replace_range(9..10, t);
    }
    s
}

/// The socket the kernel has bound at `addr`, from sock_diag (None: nothing bound there,
/// or no sock_diag on this system).
fn bound_socket(addr: &Addr) -> Option<diag::Sock> {
    match addr {
        Addr::Path(p) => {
            let m = std::fs::metadata(p).ok()?;
            diag::bound_to(m.dev(), m.ino()).ok()?
        }
        Addr::Abstract(name) => diag::bound_abstract(name).ok()?,
        Addr::Tcp { .. } | Addr::Udp { .. } => None,
    }
}

/// When `err` says that udskit (EMFILE) or the whole system (ENFILE) is out of file
/// descriptors, the words for it: our own limit, how many we hold, how to raise it. None
/// for any other error: the cause then lies with the peer, not with us.
pub fn descriptor_shortage(err: &io::Error) -> Option<String> {
    match errno(err) {
        Some(Errno::MFILE) => {
            let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
            let limit = limit.map_or("unlimited".into(), |n| n.to_string());
            // Counting needs a descriptor of its own, which may be the one missing.
            let open = std::fs::read_dir("/proc/self/fd")
                .map(|d| format!("{} open, ", d.count().saturating_sub(1)))
                .unwrap_or_default();
            Some(format!(
                "udskit is out of file descriptors ({open}its limit is {limit}; raise it with \
                 `ulimit -n`, or LimitNOFILE= for a service)"
            ))
        }
        Some(Errno::NFILE) => {
            Some("the system is out of file descriptors (its table, fs.file-max, is full)".into())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(e: Errno) -> io::Error {
        io::Error::from_raw_os_error(e.raw_os_error())
    }

    #[test]
    fn directory_modes_read_as_ls_shows_them() {
        assert_eq!(dir_mode_string(0o40755), "drwxr-xr-x");
        assert_eq!(dir_mode_string(0o41777), "drwxrwxrwt");
        assert_eq!(dir_mode_string(0o41770), "drwxrwx--T");
    }

    /// A name whose IPv6 address cannot be used here and whose IPv4 one refuses: the
    /// refusal is the cause (so --wait retries it), and each address is named with its own.
    #[test]
    fn every_address_is_named_and_the_telling_cause_leads() {
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        let v4: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let e = tried(vec![
            (v6, os(Errno::ADDRNOTAVAIL)),
            (v4, os(Errno::CONNREFUSED)),
        ]);
        assert_eq!(errno(&e), Some(Errno::CONNREFUSED));
        let addr = Addr::Tcp {
            host: "localhost".into(),
            port: 9,
        };
        let f = connect_error(&addr, Kind::Stream, &e, None);
        assert_eq!(
            f.message,
            "connecting to tcp:localhost:9: connection refused: nothing is listening there \
             (tried [::1]:9: cannot assign requested address; 127.0.0.1:9: connection refused)"
        );
        // One address: its own error, unchanged.
        let one = tried(vec![(v4, os(Errno::CONNREFUSED))]);
        assert_eq!(one.raw_os_error(), Some(Errno::CONNREFUSED.raw_os_error()));
    }

    /// A peer's doing is named in words, never as the kernel's bare errno.
    #[test]
    fn peer_errors_in_words() {
        let addr: Addr = "@x".parse().unwrap();
        let os = |e: Errno| io::Error::from_raw_os_error(e.raw_os_error());
        let said = |kind, e| reach_error("sending to @x", &addr, kind, &os(e), None);
        assert_eq!(
            said(Kind::Datagram, Errno::NOTCONN).message,
            "sending to @x: the receiver is gone: its socket was closed"
        );
        assert_eq!(
            said(Kind::Stream, Errno::PIPE).message,
            "sending to @x: the peer had closed the connection (nothing more can be sent to it)"
        );
        let reset = said(Kind::Stream, Errno::CONNRESET);
        assert_eq!(
            reset.message,
            "sending to @x: the server reset the connection as soon as it was made"
        );
        assert_eq!(reset.hint.as_deref(), Some(RESET_HINT));
    }
}
