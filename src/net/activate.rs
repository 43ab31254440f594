//! Listening sockets handed to us instead of bound, and telling systemd we serve: socket
//! activation (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES, read by the sd-notify crate, which
//! checks LISTEN_PID and sets close-on-exec) and `--listen-fd N|NAME` (socat's ACCEPT-FD).
//! Which passed socket serves, and whether it is the kind the subcommand needs, is decided
//! here (README, "Socket activation"); an inherited socket comes without a FileGuard, so its
//! file is never unlinked: it is not ours. READY=1 goes to NOTIFY_SOCKET by our own
//! sendto, since sd-notify's connect does not take the abstract `@` form systemd uses.

use std::ffi::OsString;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;

use rustix::net::{AddressFamily, SocketAddrAny, SocketAddrUnix, SocketType, sockopt};

use crate::error::Fail;
use crate::net::addr::Addr;
use crate::net::bind::{self, BindOpts, Server};
use crate::net::dgram::{self, Dgram};
use crate::net::kind::Kind;
use crate::net::listener::Listener;
use crate::term::{Ctx, escape};

/// `--listen-fd`: shared by the servers that can take their socket from their parent.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct InheritOpts {
    /// Serve on an inherited socket instead of binding: descriptor N (socat's ACCEPT-FD),
    /// or the one systemd passed under NAME (FileDescriptorName=); the address argument
    /// may then be left out, and if given must be the socket's own
    #[arg(long, value_name = "N|NAME")]
    pub listen_fd: Option<FdChoice>,
}

/// The argument of `--listen-fd`: a number is a descriptor, anything else a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FdChoice {
    Number(RawFd),
    Name(String),
}

impl FromStr for FdChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err("give a descriptor number or a systemd socket name".into());
        }
        match s.parse::<RawFd>() {
            Ok(n) if n < 0 => Err(format!("{n} is not a descriptor")),
            Ok(n) => Ok(FdChoice::Number(n)),
            Err(_) if s.bytes().all(|b| b.is_ascii_digit()) => {
                Err(format!("{s} is too large for a descriptor"))
            }
            Err(_) => Ok(FdChoice::Name(s.to_string())),
        }
    }
}

/// A socket systemd passed, with its LISTEN_FDNAMES name ("unknown" without one).
struct Passed {
    fd: OwnedFd,
    name: String,
}

/// What [`take_environment`] found: the passed sockets (or why LISTEN_FDS could not be
/// read), the descriptor `--listen-fd N` names (or why it cannot be had), and NOTIFY_SOCKET.
struct Activation {
    passed: Result<Vec<Passed>, String>,
    numbered: Option<anyhow::Result<(OwnedFd, String)>>,
    notify: Option<OsString>,
}

static ACTIVATION: Mutex<Option<Activation>> = Mutex::new(None);

/// Takes the sockets systemd passed (when LISTEN_PID is ours) and NOTIFY_SOCKET out of the
/// environment, so that a child (`listen --exec`) inherits neither the variables nor the
/// descriptors (close-on-exec) and never speaks for us; and the descriptor of
/// `--listen-fd N`, taken now, before udskit opens any of its own at that number.
///
/// # Safety
/// It changes the environment: call it before any other thread runs (before the runtime).
pub unsafe fn take_environment(opts: &InheritOpts) {
    let fds = std::env::var("LISTEN_FDS").ok();
    let pid = std::env::var("LISTEN_PID").ok();
    let ours = std::process::id();
    // Sockets passed to another process (LISTEN_PID is not ours) are not taken, but are
    // most likely still open here: a bind at their address finds them, and says why.
    if let Some(n) = &fds {
        match &pid {
            Some(p) if p.parse::<u32>().is_ok_and(|p| p != ours) => bind::note_unclaimed(format!(
                "LISTEN_FDS={} is for pid {}, not for this process ({ours}), so the sockets \
                 systemd passed were not taken",
                escape(n),
                escape(p)
            )),
            None => bind::note_unclaimed(format!(
                "LISTEN_FDS={} comes without LISTEN_PID, so the sockets it names were not taken",
                escape(n)
            )),
            Some(_) => {}
        }
    }
    let explained = |e: std::io::Error| {
        let shown = |v: &Option<String>| escape(v.as_deref().unwrap_or_default()).into_owned();
        match e.to_string().as_str() {
            "invalid LISTEN_PID" => format!("LISTEN_PID={} is not a process id", shown(&pid)),
            "invalid LISTEN_FDS" => {
                format!("LISTEN_FDS={} is not a number of descriptors", shown(&fds))
            }
            _ if e.raw_os_error() == Some(libc::EBADF) => {
                let n: u64 = fds.as_deref().and_then(|f| f.parse().ok()).unwrap_or(0);
                format!(
                    "LISTEN_FDS={n} names descriptors 3 to {}, and not all of them are open",
                    n + 2
                )
            }
            _ => format!("reading the sockets systemd passed (LISTEN_FDS): {e}"),
        }
    };
    // SAFETY: the caller runs this while the process has one thread.
    let passed = unsafe { sd_notify::listen_fds_with_names_and_unset_env() }
        .map(|fds| {
            fds.map(|(fd, name)| Passed {
                // SAFETY: sd-notify checked LISTEN_PID and set FD_CLOEXEC on each of these
                // descriptors (failing if one is not open); systemd handed them to this
                // process and nothing else in it has taken them.
                fd: unsafe { OwnedFd::from_raw_fd(fd) },
                name,
            })
            .collect()
        })
        .map_err(explained);
    let mut passed: Result<Vec<Passed>, String> = passed;
    let numbered = match (&opts.listen_fd, &mut passed) {
        (Some(FdChoice::Number(n)), Ok(passed)) => Some(take_number(*n, passed)),
        (Some(FdChoice::Number(n)), Err(_)) => Some(take_number(*n, &mut Vec::new())),
        _ => None,
    };
    let notify = std::env::var_os("NOTIFY_SOCKET");
    // SAFETY: as above, one thread.
    unsafe { std::env::remove_var("NOTIFY_SOCKET") };
    *ACTIVATION.lock().unwrap_or_else(|e| e.into_inner()) = Some(Activation {
        passed,
        numbered,
        notify,
    });
}

/// Whether a socket is handed over at all: `--listen-fd`, or sockets systemd passed (or
/// meant to: a LISTEN_FDS that could not be read is told, not taken for none).
pub fn offered(opts: &InheritOpts) -> bool {
    opts.listen_fd.is_some()
        || ACTIVATION
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|a| !matches!(&a.passed, Ok(p) if p.is_empty()))
}

/// What the subcommand can serve on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// listen: a listening socket of this kind (stream: unix or TCP; seqpacket: unix).
    Stream(Kind),
    /// recvfrom: a unix datagram socket.
    UnixDatagram,
    /// relay: a listening unix stream or TCP socket, or a unix datagram or UDP socket.
    Relay,
}

/// A socket we serve on without having bound it.
#[derive(Debug)]
pub struct Inherited {
    pub fd: OwnedFd,
    /// Its bound address, as getsockname tells it.
    pub local: Addr,
    pub kind: Kind,
    /// Where it came from, for messages: `descriptor 3`, `systemd socket "web" (fd 3)`.
    pub from: String,
}

/// Where a server's socket comes from.
#[derive(Debug)]
pub enum Source {
    Inherited(Inherited),
    Bind(Addr),
}

impl Source {
    /// The address served: the inherited socket's own, or the one to bind.
    pub fn addr(&self) -> &Addr {
        match self {
            Source::Inherited(i) => &i.local,
            Source::Bind(a) => a,
        }
    }

    /// `; inherited: descriptor 3` for a "listening on" line; None for one to bind.
    pub fn origin(&self) -> Option<String> {
        self.inherited_from().map(|f| format!("; inherited: {f}"))
    }

    /// Where an inherited socket came from (`descriptor 3`, or systemd's name for it);
    /// None for one to bind.
    pub fn inherited_from(&self) -> Option<String> {
        match self {
            Source::Inherited(i) => Some(i.from.clone()),
            Source::Bind(_) => None,
        }
    }

    /// The inherited socket's kind; None for one still to bind.
    pub fn inherited_kind(&self) -> Option<Kind> {
        match self {
            Source::Inherited(i) => Some(i.kind),
            Source::Bind(_) => None,
        }
    }
}

/// Decides where the socket comes from (README, "Socket activation"): `--listen-fd N` is
/// that descriptor, `--listen-fd NAME` the systemd socket of that name; without it, when
/// systemd passed sockets, the one bound at `addr`, or the only one when `addr` is left
/// out. Otherwise `addr` is bound. An inherited socket must be of the kind `need` says,
/// bound at `addr` when one is given, and takes no --mode or --force.
pub fn source(
    addr: Option<&Addr>,
    opts: &InheritOpts,
    bind: &BindOpts,
    need: Need,
) -> anyhow::Result<Source> {
    let mut guard = ACTIVATION.lock().unwrap_or_else(|e| e.into_inner());
    let Some(activation) = guard.as_mut() else {
        unreachable!("take_environment runs before the server starts");
    };
    let numbered = activation.numbered.take();
    let passed = match &mut activation.passed {
        Ok(p) => p,
        // `--listen-fd N` needs no LISTEN_FDS.
        Err(_) if numbered.is_some() => &mut Vec::new(),
        Err(e) => return Err(Fail::new(1, e.clone()).into()),
    };
    let (fd, from) = match &opts.listen_fd {
        Some(FdChoice::Number(_)) => numbered.expect("taken by take_environment")?,
        Some(FdChoice::Name(name)) => take_name(name, passed)?,
        None if passed.is_empty() => {
            return match addr {
                Some(a) => Ok(Source::Bind(a.clone())),
                None => Err(Fail::usage(
                    "no address to serve on: give one, or a socket with --listen-fd N (or \
                     systemd's socket activation)",
                )
                .into()),
            };
        }
        None => take_by_address(addr, passed)?,
    };
    passed.clear();
    let inherited = check(fd, from, need)?;
    if let Some(a) = addr
        && !same_address(a, &inherited.local)
    {
        return Err(Fail::usage(format!(
            "{} is bound to {}, not {}",
            inherited.from,
            shown(&inherited.local),
            shown(a)
        ))
        .hint("leave the address out to serve on that socket as it is bound")
        .into());
    }
    if bind.mode.is_some() || bind.force {
        return Err(Fail::usage(format!(
            "--mode and --force are for a socket udskit binds; {} is bound already",
            inherited.from
        ))
        .hint("with systemd, SocketMode= in the .socket unit sets the mode")
        .into());
    }
    Ok(Source::Inherited(inherited))
}

fn shown(a: &Addr) -> String {
    escape(&a.to_string()).into_owned()
}

/// `--listen-fd N`: one of systemd's, or any open descriptor past stdio.
fn take_number(n: RawFd, passed: &mut Vec<Passed>) -> anyhow::Result<(OwnedFd, String)> {
    use std::os::fd::AsRawFd;
    if let Some(i) = passed.iter().position(|p| p.fd.as_raw_fd() == n) {
        let p = passed.swap_remove(i);
        return Ok((p.fd, format!("descriptor {n} (systemd's \"{}\")", p.name)));
    }
    if n <= 2 {
        return Err(Fail::usage(format!(
            "--listen-fd {n}: descriptors 0, 1 and 2 are stdin, stdout and stderr"
        ))
        .hint("pass the listening socket as descriptor 3 or above (socat's ACCEPT-FD)")
        .into());
    }
    // SAFETY: F_GETFD only reads the flags of descriptor n, open or not.
    let open = unsafe { libc::fcntl(n, libc::F_GETFD) } >= 0;
    if !open {
        return Err(
            Fail::usage(format!("--listen-fd {n}: descriptor {n} is not open"))
                .hint(
                    "the parent must leave the socket open (without close-on-exec) at that number",
                )
                .into(),
        );
    }
    // SAFETY: the user handed us descriptor n to serve on; it is open, it is not stdio,
    // and nothing in this process opened it (it was there when we started).
    let fd = unsafe { OwnedFd::from_raw_fd(n) };
    // A child (`listen --exec`) must not keep it.
    rustix::io::fcntl_setfd(&fd, rustix::io::FdFlags::CLOEXEC)?;
    Ok((fd, format!("descriptor {n}")))
}

/// `--listen-fd NAME`: the systemd socket passed under that name.
fn take_name(name: &str, passed: &mut Vec<Passed>) -> anyhow::Result<(OwnedFd, String)> {
    use std::os::fd::AsRawFd;
    match passed.iter().position(|p| p.name == name) {
        Some(i) => {
            let p = passed.swap_remove(i);
            let n = p.fd.as_raw_fd();
            Ok((
                p.fd,
                format!("systemd socket \"{}\" (fd {n})", escape(name)),
            ))
        }
        None if passed.is_empty() => Err(Fail::usage(format!(
            "--listen-fd {}: systemd passed no sockets (LISTEN_FDS is not set for this process)",
            escape(name)
        ))
        .hint("a number names a descriptor; a name needs socket activation")
        .into()),
        None => Err(Fail::usage(format!(
            "--listen-fd {}: systemd passed no socket of that name; it passed {}",
            escape(name),
            listing(passed)
        ))
        .into()),
    }
}

/// Without --listen-fd: the passed socket bound at `addr`, or the only one.
fn take_by_address(
    addr: Option<&Addr>,
    passed: &mut Vec<Passed>,
) -> anyhow::Result<(OwnedFd, String)> {
    use std::os::fd::AsRawFd;
    let pick = match addr {
        Some(a) => passed
            .iter()
            .position(|p| bound_address(p.fd.as_fd()).is_some_and(|b| same_address(a, &b))),
        None if passed.len() == 1 => Some(0),
        None => {
            return Err(Fail::usage(format!(
                "systemd passed {} sockets: {}",
                passed.len(),
                listing(passed)
            ))
            .hint("choose one with --listen-fd NAME, or give the address it is bound to")
            .into());
        }
    };
    let Some(i) = pick else {
        let a = addr.expect("a pick fails only for an address");
        return Err(Fail::usage(format!(
            "systemd passed {}, none bound to {}",
            listing(passed),
            shown(a)
        ))
        .hint(
            "the address must be the one in the .socket unit (ListenStream=, ListenDatagram=), \
             or leave it out",
        )
        .into());
    };
    let p = passed.swap_remove(i);
    let n = p.fd.as_raw_fd();
    Ok((
        p.fd,
        format!("systemd socket \"{}\" (fd {n})", escape(&p.name)),
    ))
}

/// The passed sockets for a message: `"web" (fd 3, unix:/run/web.sock), ...`.
fn listing(passed: &[Passed]) -> String {
    use std::os::fd::AsRawFd;
    passed
        .iter()
        .map(|p| {
            let at = bound_address(p.fd.as_fd())
                .map(|a| shown(&a))
                .unwrap_or_else(|| "no address".into());
            format!("\"{}\" (fd {}, {at})", escape(&p.name), p.fd.as_raw_fd())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The address a socket is bound to, in the one grammar (TCP or UDP by its type).
fn bound_address(fd: BorrowedFd<'_>) -> Option<Addr> {
    let any: SocketAddrAny = rustix::net::getsockname(fd).ok()?;
    match any.address_family() {
        AddressFamily::UNIX => dgram::addr_of(&SocketAddrUnix::try_from(any).ok()?),
        AddressFamily::INET | AddressFamily::INET6 => {
            let at = std::net::SocketAddr::try_from(any).ok()?;
            let (host, port) = (at.ip().to_string(), at.port());
            match sockopt::socket_type(fd).ok()? {
                SocketType::DGRAM => Some(Addr::Udp { host, port }),
                _ => Some(Addr::Tcp { host, port }),
            }
        }
        _ => None,
    }
}

/// Whether the address written names the socket bound at `bound`: the same path (or the
/// same file under another spelling), abstract name, or IP address and port (a host name
/// is resolved).
fn same_address(given: &Addr, bound: &Addr) -> bool {
    match (given, bound) {
        (Addr::Path(a), Addr::Path(b)) => a == b || same_file(a, b),
        (Addr::Abstract(a), Addr::Abstract(b)) => a == b,
        (Addr::Tcp { host, port }, Addr::Tcp { host: ip, port: p })
        | (Addr::Udp { host, port }, Addr::Udp { host: ip, port: p }) => {
            let Ok(ip) = ip.parse::<std::net::IpAddr>() else {
                return false;
            };
            use std::net::ToSocketAddrs;
            port == p
                && (host.as_str(), *port)
                    .to_socket_addrs()
                    .is_ok_and(|mut all| all.any(|a| a.ip() == ip))
        }
        _ => false,
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::symlink_metadata(a), std::fs::symlink_metadata(b)) {
        (Ok(x), Ok(y)) => (x.dev(), x.ino()) == (y.dev(), y.ino()),
        _ => false,
    }
}

/// The socket's family and type in words: `a unix datagram socket`.
struct Described {
    family: AddressFamily,
    ty: SocketType,
}

impl fmt::Display for Described {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let family = match self.family {
            AddressFamily::UNIX => "unix",
            AddressFamily::INET => "IPv4",
            AddressFamily::INET6 => "IPv6",
            AddressFamily::NETLINK => "netlink",
            _ => "other",
        };
        let ty = match self.ty {
            SocketType::STREAM => "stream",
            SocketType::DGRAM => "datagram",
            SocketType::SEQPACKET => "seqpacket",
            SocketType::RAW => "raw",
            _ => "other",
        };
        let article = if family.starts_with('I') { "an" } else { "a" };
        write!(f, "{article} {family} {ty} socket")
    }
}

/// Checks that `fd` is a socket `need` can serve on and reads its address.
fn check(fd: OwnedFd, from: String, need: Need) -> anyhow::Result<Inherited> {
    let is_socket = rustix::fs::fstat(&fd).is_ok_and(|st| {
        rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Socket
    });
    if !is_socket {
        let what = crate::net::fds::describe(fd.as_fd());
        return Err(
            Fail::usage(format!("{from} is not a socket (it is a {})", what.kind))
                .hint("hand udskit a socket that is bound (and, for a stream socket, listening)")
                .into(),
        );
    }
    let d = Described {
        family: sockopt::socket_domain(&fd)?,
        ty: sockopt::socket_type(&fd)?,
    };
    let unix = d.family == AddressFamily::UNIX;
    let inet = matches!(d.family, AddressFamily::INET | AddressFamily::INET6);
    let kind = match d.ty {
        SocketType::STREAM if unix || inet => Some(Kind::Stream),
        SocketType::SEQPACKET if unix => Some(Kind::SeqPacket),
        SocketType::DGRAM if unix || inet => Some(Kind::Datagram),
        _ => None,
    };
    let takes = match need {
        Need::Stream(Kind::SeqPacket) => "a listening unix seqpacket socket",
        Need::Stream(_) => "a listening unix or TCP stream socket",
        Need::UnixDatagram => "a unix datagram socket",
        Need::Relay => "a listening unix or TCP stream socket, or a unix or UDP datagram socket",
    };
    let fits = match (need, kind) {
        (Need::Stream(want), Some(k)) => want == k,
        (Need::UnixDatagram, Some(Kind::Datagram)) => unix,
        (Need::Relay, Some(Kind::Stream | Kind::Datagram)) => true,
        _ => false,
    };
    if !fits {
        let hint = match (need, kind) {
            (Need::Stream(Kind::Stream), Some(Kind::SeqPacket)) => {
                "add --seqpacket to serve a seqpacket socket"
            }
            (Need::Stream(Kind::SeqPacket), Some(Kind::Stream)) => {
                "leave out --seqpacket to serve a stream socket"
            }
            (Need::Stream(_), Some(Kind::Datagram)) => {
                "recvfrom (or relay) serves a datagram socket"
            }
            (Need::UnixDatagram, Some(Kind::Stream | Kind::SeqPacket)) => {
                "listen serves a stream socket"
            }
            _ => "hand udskit the socket its subcommand serves",
        };
        return Err(
            Fail::usage(format!("{from} is {d}; this subcommand takes {takes}"))
                .hint(hint)
                .into(),
        );
    }
    let kind = kind.expect("a socket that fits has a kind");
    if kind != Kind::Datagram && !sockopt::socket_acceptconn(&fd)? {
        return Err(Fail::usage(format!("{from} is {d} that does not listen"))
            .hint(
                "pass a socket after listen(2), as systemd's ListenStream= with Accept=no does; \
                 a connection (Accept=yes, inetd style) is not a listener",
            )
            .into());
    }
    let Some(local) = bound_address(fd.as_fd()) else {
        return Err(Fail::usage(format!("{from} is {d} bound to no address")).into());
    };
    // systemd hands sockets over blocking; the reactor needs them non-blocking.
    rustix::io::ioctl_fionbio(&fd, true)?;
    Ok(Inherited {
        fd,
        local,
        kind,
        from,
    })
}

/// A stream server's socket: the inherited one, or bound by safe bind.
pub async fn listen(
    source: Source,
    kind: Kind,
    opts: &BindOpts,
    ctx: &Ctx,
) -> anyhow::Result<Server> {
    let i = match source {
        Source::Bind(addr) => return bind::listen(&addr, kind, opts, ctx).await,
        Source::Inherited(i) => i,
    };
    ctx.debug(format!("serving on {} (inherited)", i.from));
    let listener = match i.local {
        Addr::Tcp { .. } => Listener::Tcp(tokio::net::TcpListener::from_std(
            std::net::TcpListener::from(i.fd),
        )?),
        _ => Listener::from_unix_fd(i.fd, i.kind)?,
    };
    Ok(Server {
        listener,
        local: i.local,
        _guard: None,
    })
}

/// A unix datagram server's socket: the inherited one, or bound by safe bind.
pub fn dgram(source: Source, opts: &BindOpts, ctx: &Ctx) -> anyhow::Result<Dgram> {
    match source {
        Source::Bind(addr) => Dgram::bind(&addr, opts, ctx),
        Source::Inherited(i) => {
            ctx.debug(format!("serving on {} (inherited)", i.from));
            Ok(Dgram::inherited(i.fd, i.local)?)
        }
    }
}

/// Tells the service manager we serve (READY=1 and a STATUS line), if NOTIFY_SOCKET was
/// set: a path, or `@NAME` for an abstract socket. A notification that cannot be sent is
/// a warning; serving goes on. Sent once, for a socket bound as for one inherited, so that
/// a `Type=notify` unit works either way.
pub fn ready(status: &str, ctx: &Ctx) {
    let notify = ACTIVATION
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .as_mut()
        .and_then(|a| a.notify.take());
    let Some(to) = notify else { return };
    let message = format!("READY=1\nSTATUS={}\n", status.replace('\n', " "));
    if let Err(e) = send_notification(&to, message.as_bytes()) {
        ctx.warn(format!(
            "telling systemd we are ready (NOTIFY_SOCKET={}): {e}",
            escape(&to.to_string_lossy())
        ));
    }
}

fn send_notification(to: &OsString, message: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = to.as_bytes();
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => SocketAddrUnix::new_abstract_name(name)?,
        None if bytes.first() == Some(&b'/') => SocketAddrUnix::new(to.as_os_str())?,
        None => anyhow::bail!("only a path or an @abstract name is understood"),
    };
    let fd = crate::net::unix::unix_socket(Kind::Datagram)?;
    rustix::net::sendto(&fd, message, rustix::net::SendFlags::empty(), &addr)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_choices() {
        assert_eq!("3".parse(), Ok(FdChoice::Number(3)));
        assert_eq!("web".parse(), Ok(FdChoice::Name("web".into())));
        assert!("-1".parse::<FdChoice>().is_err());
        assert!("99999999999".parse::<FdChoice>().is_err());
        assert!("".parse::<FdChoice>().is_err());
    }

    #[test]
    fn addresses_match_by_ip_and_port() {
        let tcp = |h: &str, port| Addr::Tcp {
            host: h.into(),
            port,
        };
        assert!(same_address(&tcp("127.0.0.1", 80), &tcp("127.0.0.1", 80)));
        assert!(same_address(&tcp("localhost", 80), &tcp("127.0.0.1", 80)));
        assert!(!same_address(&tcp("127.0.0.1", 81), &tcp("127.0.0.1", 80)));
        assert!(!same_address(&tcp("0.0.0.0", 80), &tcp("::", 80)));
        assert!(!same_address(
            &Addr::Udp {
                host: "127.0.0.1".into(),
                port: 80
            },
            &tcp("127.0.0.1", 80)
        ));
        assert!(same_address(
            &Addr::Abstract(b"x".to_vec()),
            &Addr::Abstract(b"x".to_vec())
        ));
    }
}
