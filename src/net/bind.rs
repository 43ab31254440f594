//! Safe bind for every server subcommand: probe what is at the path, remove a dead socket,
//! refuse a live one naming its owner, never delete anything else, permissions given by
//! bind(2) itself (no path lookup after bind that a symlink could redirect), the whole
//! judge -> unlink -> bind -> listen sequence under a lock on the directory (two udskit
//! servers racing over one stale socket: exactly one wins), the file removed on exit only
//! if it is still ours (see [`FileGuard`]). docs/architecture.md, "Safe bind", has the
//! reasoning. TCP listeners, and the stream server's listener of either kind.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustix::io::Errno;

use crate::error::Fail;
use crate::net::addr::Addr;
use crate::net::connect::{first_address, tcp_socket};
use crate::net::explain;
use crate::net::kind::Kind;
use crate::net::listener::Listener;
use crate::net::occupant::{Occupant, occupant, probe};
use crate::net::unix::{unix_socket, unix_target};
use crate::shutdown::FileGuard;
use crate::term::{Ctx, escape};

/// Listen backlog: the kernel caps it at net.core.somaxconn (4096 on current kernels).
pub const BACKLOG: i32 = 4096;

/// Options every server subcommand shares: `#[command(flatten)]` them into its Args.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct BindOpts {
    /// Replace a live socket at the path (a dead one is always replaced)
    #[arg(long)]
    pub force: bool,
    /// Permission bits of the socket file (0 to 777), given to it as bind creates it
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode)]
    pub mode: Option<u32>,
}

/// `--mode`: permission bits only. They are applied through the umask of bind(2), which
/// cannot carry setuid, setgid or sticky, and those mean nothing on a socket anyway.
fn parse_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o777 => Ok(m),
        Ok(_) => Err(format!(
            "'{s}' is not a socket file mode: give permission bits 0 to 777 (setuid, setgid \
             and sticky mean nothing on a socket)"
        )),
        _ => Err(format!(
            "'{s}' is not an octal mode such as 600, 660 or 0777"
        )),
    }
}
/// A bound (and, for stream kinds, listening) socket with the guard of its file.
pub struct Bound {
    pub fd: OwnedFd,
    /// The address as bound: for `tcp:` with port 0 it carries the port the kernel chose.
    pub local: Addr,
    pub guard: Option<FileGuard>,
}

/// Serializes the umask of concurrent binds in this process: the umask is process-wide.
static UMASK: Mutex<()> = Mutex::new(());

/// Binds a unix socket of `kind` at `addr` safely (see the module doc); stream kinds also
/// listen. Logs a removed stale socket or a replaced live one through `ctx`.
pub fn bind_unix(addr: &Addr, kind: Kind, opts: &BindOpts, ctx: &Ctx) -> anyhow::Result<Bound> {
    let what = format!("binding {}", escape(&addr.to_string()));
    // `listen 8080` would otherwise make a socket file named 8080 in the current directory.
    if let (Some(tcp), Some(p)) = (addr.tcp_lookalike(), addr.path()) {
        let p = escape(&p.display().to_string()).into_owned();
        let loopback = if tcp.matches(':').count() == 1 {
            " (127.0.0.1; tcp:0.0.0.0:PORT for every interface)"
        } else {
            ""
        };
        return Err(Fail::usage(format!(
            "{what}: '{p}' reads as a TCP address, not a socket file; for TCP write \
             {tcp}{loopback}"
        ))
        .hint(format!("for a socket file of that name, write ./{p}"))
        .into());
    }
    let target = unix_target(addr).map_err(|e| e.context(what.clone()))?;
    let fd = unix_socket(kind).map_err(|e| anyhow::Error::from(e).context(what.clone()))?;
    let path = match addr {
        Addr::Path(p) => Some(p),
        _ => None,
    };
    // Held until the socket listens: another udskit judging the path meanwhile must find
    // a live socket, not a file that refuses connections because listen(2) has not run.
    let _dir_lock = path.and_then(|p| lock_dir(p, ctx));
    if let Some(p) = path {
        clear_path(p, &what, opts, ctx)?;
    }
    bind_with_mode(&fd, &target.addr, opts.mode).map_err(|e| bind_error(addr, e.into(), &what))?;
    let guard = match path {
        Some(p) => Some(guard_of_new_file(p, &fd, opts.mode, &what, ctx)?),
        None => None,
    };
    if kind != Kind::Datagram {
        rustix::net::listen(&fd, BACKLOG)
            .map_err(|e| anyhow::Error::from(io::Error::from(e)).context(what.clone()))?;
    }
    Ok(Bound {
        fd,
        local: addr.clone(),
        guard,
    })
}

/// bind(2) under the umask that makes the new file's permission bits exactly `mode`: the
/// kernel creates a socket file with 0777 & ~umask. The mode is thus in place the moment
/// the file exists, and nothing looks the path up again to apply it (a chmod by path
/// follows a symlink that another user of the directory put there after bind).
fn bind_with_mode(
    fd: &OwnedFd,
    addr: &rustix::net::SocketAddrUnix,
    mode: Option<u32>,
) -> rustix::io::Result<()> {
    // Taken even without --mode, so that a bind on another thread never runs under the
    // umask set for this one.
    let _lock = UMASK.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mode) = mode else {
        return rustix::net::bind(fd, addr);
    };
    let old = rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o777 & !mode));
    let bound = rustix::net::bind(fd, addr);
    rustix::process::umask(old);
    bound
}

/// The guard of the file our bind just created at `p`, identified by the kernel: fstat of
/// the socket gives the socket's inode, and sock_diag the (dev, ino) of the file that
/// socket is bound to. The path is stat-ed only to check that it still leads to that file
/// (and for the 64 bits of the inode number, of which sock_diag reports 32): if it does
/// not, someone replaced it between bind and now, and serving where nobody can reach us
/// would hide that, so we stop. Without sock_diag, the path's stat is all we have.
fn guard_of_new_file(
    p: &Path,
    fd: &OwnedFd,
    mode: Option<u32>,
    what: &str,
    ctx: &Ctx,
) -> anyhow::Result<FileGuard> {
    let shown = escape(&p.display().to_string()).into_owned();
    let kernel = rustix::fs::fstat(fd)
        .ok()
        .and_then(|st| u32::try_from(st.st_ino).ok())
        .and_then(|ino| crate::linux::diag::by_inode(ino).ok())
        .and_then(|s| s.vfs);
    let m = std::fs::symlink_metadata(p).map_err(|e| {
        anyhow::Error::from(e).context(format!("{what}: {shown} was removed right after bind"))
    })?;
    let ours = match kernel {
        Some((dev, ino)) => m.dev() == dev && m.ino() & 0xffff_ffff == ino,
        None => m.file_type().is_socket(),
    };
    if !ours {
        return Err(
            Fail::new(1, format!("{what}: {shown} was replaced right after bind"))
                .hint(
                    "another process renamed or replaced the new socket file; someone else can \
                     write in that directory",
                )
                .into(),
        );
    }
    if let Some(mode) = mode
        && m.mode() & 0o777 != mode
    {
        // A default ACL on the directory narrows what bind creates; chmod-ing to widen it
        // would be the path lookup this module avoids.
        ctx.warn(format!(
            "{shown} has mode {:o}, not {mode:o}: the directory's default ACL narrowed it",
            m.mode() & 0o777
        ));
    }
    Ok(FileGuard::new(p.to_path_buf(), m.dev(), m.ino()))
}

/// How long to wait for the directory lock. Another udskit holds it only from judging the
/// path to listening; a process that holds it longer is not playing along, and waiting
/// forever would let it stop every bind in a shared directory such as /tmp.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// An exclusive flock(2) on the directory holding `p`, released when the returned fd
/// closes. None (go on without it, the inode re-check before any unlink still holds) when
/// the directory cannot be opened for reading or the lock is not given within LOCK_WAIT.
fn lock_dir(p: &Path, ctx: &Ctx) -> Option<OwnedFd> {
    use rustix::fs::{FlockOperation, Mode, OFlags};
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let deadline = Instant::now() + LOCK_WAIT;
    let mut pause = Duration::from_millis(1);
    loop {
        match rustix::fs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Some(fd),
            Err(Errno::WOULDBLOCK) if Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(Errno::INTR) => {}
            Err(Errno::WOULDBLOCK) => {
                ctx.warn(format!(
                    "binding without the lock on directory {}: another process has held it \
                     for {LOCK_WAIT:?}",
                    escape(&dir.display().to_string()),
                ));
                return None;
            }
            // A filesystem without flock (some network filesystems): nothing to warn about
            // on every start, the inode re-check still holds.
            Err(e) => {
                ctx.debug(format!(
                    "binding without the lock on directory {}: {}",
                    escape(&dir.display().to_string()),
                    io::Error::from(e)
                ));
                return None;
            }
        }
    }
}

fn bind_error(addr: &Addr, err: io::Error, what: &str) -> Fail {
    match err.raw_os_error().map(Errno::from_raw_os_error) {
        Some(Errno::ADDRINUSE) if matches!(addr, Addr::Path(_)) => Fail::new(
            1,
            format!("{what}: something was created at the path meanwhile"),
        )
        .hint(
            "another process created a file there after udskit cleared the path; \
                     run again to see what it is",
        ),
        Some(Errno::ADDRINUSE) => {
            let owner = match addr {
                Addr::Abstract(_) => probe(addr)
                    .ok()
                    .flatten()
                    .map(|c| format!(" by {c}"))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            Fail::new(1, format!("{what}: address in use{owner}")).hint(
                "an abstract name is freed only when its socket closes; choose another name \
                 or stop that process",
            )
        }
        Some(Errno::ACCESS) => Fail::new(1, format!("{what}: permission denied"))
            .hint("binding needs write and search permission on the directory"),
        Some(Errno::NOTDIR) if let Addr::Path(p) = addr => {
            Fail::new(1, format!("{what}: {}", explain::not_a_directory(p)))
        }
        Some(Errno::NOENT | Errno::PERM) if let Some(kind) = on_pseudo_fs(addr) => Fail::new(
            1,
            format!("{what}: a {kind} filesystem holds no socket files"),
        )
        .hint("choose a directory on an ordinary filesystem, such as /run or /tmp"),
        Some(Errno::NOENT) => match addr {
            Addr::Path(p) => match p.parent().filter(|d| !d.as_os_str().is_empty()) {
                Some(d) if !d.exists() => Fail::new(
                    1,
                    format!(
                        "{what}: the directory {} does not exist",
                        escape(&d.display().to_string())
                    ),
                ),
                _ => Fail::new(1, format!("{what}: {err}")),
            },
            _ => Fail::new(1, format!("{what}: the directory does not exist")),
        },
        _ => Fail::new(1, format!("{what}: {err}")),
    }
}

/// The pseudo filesystem (procfs, sysfs...) the directory of a path address is on, if so.
fn on_pseudo_fs(addr: &Addr) -> Option<&'static str> {
    let Addr::Path(p) = addr else { return None };
    let dir = p.parent().filter(|d| !d.as_os_str().is_empty())?;
    explain::pseudo_filesystem(dir)
}

fn clear_path(p: &Path, what: &str, opts: &BindOpts, ctx: &Ctx) -> anyhow::Result<()> {
    let shown = escape(&p.display().to_string()).into_owned();
    // Only the inode that was judged is ever unlinked: the path is stat-ed again right
    // before, and a different file there (put by a process that does not take the
    // directory lock) is left alone. Gone already is as good as removed.
    let remove = |which: &str, judged: (u64, u64)| {
        match std::fs::symlink_metadata(p) {
            Ok(m) if (m.dev(), m.ino()) == judged => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            _ => {
                return Err(anyhow::Error::from(
                    Fail::new(
                        1,
                        format!("{what}: {shown} was replaced while udskit was checking it"),
                    )
                    .hint(
                        "another process is using that path right now; run again to see what it is",
                    ),
                ));
            }
        }
        match std::fs::remove_file(p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => {
                let f = Fail::new(
                    1,
                    format!("{what}: removing the {which} socket {shown}: {e}"),
                );
                // EPERM (a sticky directory) and EACCES both.
                let denied = e.kind() == io::ErrorKind::PermissionDenied;
                Err(
                    match crate::net::explain::unremovable_hint(p).filter(|_| denied) {
                        Some(why) => f.hint(why),
                        None => f,
                    }
                    .into(),
                )
            }
            Ok(()) => Ok(()),
        }
    };
    let not_a_dir = |e: &anyhow::Error| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.raw_os_error() == Some(Errno::NOTDIR.raw_os_error()))
    };
    let occupant = occupant(p).map_err(|e| match not_a_dir(&e) {
        true => Fail::new(1, format!("{what}: {}", explain::not_a_directory(p))).into(),
        false => e.context(what.to_string()),
    });
    match occupant? {
        Occupant::Nothing => Ok(()),
        Occupant::NotASocket(kind) => {
            let f = Fail::new(
                1,
                format!("{what}: {shown} exists and is not a socket (it is {kind})"),
            );
            Err(f
                .hint(
                    "udskit never deletes a file that is not a socket; choose another path \
                     or remove it yourself",
                )
                .into())
        }
        Occupant::Dead(id) => {
            remove("stale", id)?;
            ctx.info(format!(
                "removed stale socket {shown} (nothing was listening on it)"
            ));
            Ok(())
        }
        Occupant::Live {
            file: id,
            owner,
            held_by_us,
        } => {
            let ours = owner.is_some_and(|c| c.pid == std::process::id());
            let by = match owner {
                // Only we hold it: a descriptor we were started with.
                Some(_) if ours => {
                    " by this process itself (a descriptor it was started with)".into()
                }
                Some(c) => format!(" by {c}"),
                None => String::new(),
            };
            if !opts.force {
                let f = Fail::new(1, format!("{what}: {shown} is in use{by}"));
                let hint = match UNCLAIMED.get() {
                    Some(note) if held_by_us => format!(
                        "{note}: LISTEN_PID must be the pid of udskit itself (a wrapper that \
                         forks breaks it); or serve on the socket with --listen-fd N"
                    ),
                    _ if ours => "serve on that socket with --listen-fd N (its descriptor), \
                                     leaving the address out"
                        .into(),
                    _ => "a live socket is never taken over; stop that server, choose \
                             another path, or pass --force to replace it"
                        .into(),
                };
                return Err(f.hint(hint).into());
            }
            remove("live", id)?;
            ctx.warn(format!("--force: replaced live socket {shown} in use{by}"));
            Ok(())
        }
    }
}

/// Why sockets passed by systemd were not taken (LISTEN_PID names another process), set
/// at startup: a bind at their address finds them live, and its error says why.
static UNCLAIMED: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Records why the sockets of socket activation were not taken (see [`UNCLAIMED`]).
pub fn note_unclaimed(why: String) {
    let _ = UNCLAIMED.set(why);
}

/// The first port an unprivileged process may bind (net.ipv4.ip_unprivileged_port_start).
fn privileged_below() -> Option<u16> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Binds a TCP listener; `tcp:HOST:0` reports the chosen port in [`Bound::local`].
pub async fn bind_tcp(addr: &Addr) -> anyhow::Result<(tokio::net::TcpListener, Addr)> {
    let (mut group, local) = bind_tcp_group(addr, 1).await?;
    Ok((group.remove(0), local))
}

/// Binds `n` TCP listeners on one address, one per relay worker: with `n` > 1 they share
/// the port through SO_REUSEPORT, and the kernel spreads new connections over them (by a
/// hash of the client's address and port). A port some other socket listens on is still
/// refused, as with one listener: before the group binds, a plain socket (SO_REUSEADDR
/// only) is bound there and dropped, which fails while anything listens on it, another
/// SO_REUSEPORT group included. `tcp:HOST:0` gets one port chosen by the kernel, which
/// the rest of the group joins.
pub async fn bind_tcp_group(
    addr: &Addr,
    n: usize,
) -> anyhow::Result<(Vec<tokio::net::TcpListener>, Addr)> {
    let Addr::Tcp { host, port } = addr else {
        unreachable!()
    };
    let what = format!("binding {}", escape(&addr.to_string()));
    let shared = n > 1;
    // As TcpListener::bind (SO_REUSEADDR, std's backlog of 128), with the congestion
    // control a loopback listener's connections start with chosen first, and TCP_NODELAY,
    // which Linux copies to every socket the listener accepts (no setsockopt(2) each).
    let one = |at: std::net::SocketAddr| -> io::Result<tokio::net::TcpListener> {
        let socket = tcp_socket(at.ip())?;
        socket.set_reuseaddr(true)?;
        socket.set_nodelay(true)?;
        if shared {
            socket.set_reuseport(true)?;
        }
        socket.bind(at)?;
        socket.listen(128)
    };
    let l = first_address(host, *port, async |at| {
        if shared && at.port() != 0 {
            let probe = tcp_socket(at.ip())?;
            probe.set_reuseaddr(true)?;
            probe.bind(at)?;
        }
        one(at)
    })
    .await
    .map_err(|e| {
        let f = Fail::new(1, format!("{what}: {e}"));
        match e.kind() {
            io::ErrorKind::AddrInUse => {
                f.hint("another process listens on that port; `ss -tlnp` shows which")
            }
            io::ErrorKind::PermissionDenied => match privileged_below() {
                Some(first) if *port < first => f.hint(format!(
                    "ports below {first} (net.ipv4.ip_unprivileged_port_start) need root or \
                     CAP_NET_BIND_SERVICE; choose one from {first} up, such as tcp:{}",
                    first.max(8080)
                )),
                _ => f,
            },
            _ => f,
        }
    })?;
    // The address really bound, not the name: `tcp:localhost:0` is told as 127.0.0.1.
    let at = l.local_addr()?;
    let mut group = vec![l];
    for _ in 1..n {
        group.push(
            one(at).map_err(|e| Fail::new(1, format!("{what}: another worker's socket: {e}")))?,
        );
    }
    Ok((
        group,
        Addr::Tcp {
            host: at.ip().to_string(),
            port: at.port(),
        },
    ))
}

/// Who can reach a TCP server bound at `local`, for its "listening on" line: "loopback
/// only" with the spelling that serves every interface, or "every interface"; None for a
/// unix address or one interface's address.
pub fn reach(local: &Addr) -> Option<String> {
    let Addr::Tcp { host, port } = local else {
        return None;
    };
    let ip: std::net::IpAddr = host.parse().ok()?;
    if ip.is_loopback() {
        let every = if ip.is_ipv4() { "0.0.0.0" } else { "[::]" };
        Some(format!(
            "loopback only; tcp:{every}:{port} for every interface"
        ))
    } else if ip.is_unspecified() {
        Some("every interface".into())
    } else {
        None
    }
}

/// A stream server's listening socket, the address it really bound, and its file's guard.
pub struct Server {
    pub listener: Listener,
    pub local: Addr,
    /// Held for its Drop: removes the socket file.
    pub _guard: Option<FileGuard>,
}

/// Binds `addr` for a stream server (unix stream/seqpacket or TCP).
pub async fn listen(addr: &Addr, kind: Kind, opts: &BindOpts, ctx: &Ctx) -> anyhow::Result<Server> {
    if addr.is_udp() {
        return Err(Fail::usage(format!(
            "{addr}: a UDP address carries datagrams, not a stream (relay takes it, with a \
             unix datagram socket or UDP on the other side)"
        ))
        .into());
    }
    if let Addr::Tcp { .. } = addr {
        if kind != Kind::Stream {
            return Err(Fail::usage(format!("{addr}: --seqpacket needs a unix address")).into());
        }
        let (l, local) = bind_tcp(addr).await?;
        return Ok(Server {
            listener: Listener::Tcp(l),
            local,
            _guard: None,
        });
    }
    let Bound { fd, local, guard } = bind_unix(addr, kind, opts, ctx)?;
    Ok(Server {
        listener: Listener::from_unix_fd(fd, kind)?,
        local,
        _guard: guard,
    })
}
