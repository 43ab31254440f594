//! Safe bind for every server subcommand: probe what is at the path, remove a dead socket,
//! refuse a live one naming its owner, never delete anything else, permissions set before
//! any client can connect, the file removed on exit only if it is still ours (see
//! [`FileGuard`]). TCP listeners, and the stream server's listener of either kind.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Mutex;

use rustix::io::Errno;

use crate::error::Fail;
use crate::net::addr::Addr;
use crate::net::connect::{first_address, tcp_socket};
use crate::net::cred::Cred;
use crate::net::explain::file_kind;
use crate::net::kind::Kind;
use crate::net::listener::Listener;
use crate::net::unix::{try_connect_unix, unix_socket, unix_target};
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
    /// Permission bits of the socket file, applied before any client can connect
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode)]
    pub mode: Option<u32>,
}

fn parse_mode(s: &str) -> Result<u32, String> {
    match u32::from_str_radix(s.trim_start_matches("0o"), 8) {
        Ok(m) if m <= 0o7777 => Ok(m),
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

/// Serializes the umask dance of concurrent binds in this process.
static UMASK: Mutex<()> = Mutex::new(());

/// Binds a unix socket of `kind` at `addr` safely (see the module doc); stream kinds also
/// listen. Logs a removed stale socket or a replaced live one through `ctx`.
pub fn bind_unix(addr: &Addr, kind: Kind, opts: &BindOpts, ctx: &Ctx) -> anyhow::Result<Bound> {
    let what = format!("binding {}", escape(&addr.to_string()));
    if let Addr::Path(p) = addr {
        clear_path(p, &what, opts, ctx)?;
    }
    let target = unix_target(addr).map_err(|e| e.context(what.clone()))?;
    let fd = unix_socket(kind).map_err(|e| anyhow::Error::from(e).context(what.clone()))?;
    let guard = {
        // Created with no permissions at all, then chmod-ed: nobody can reach the file
        // before the mode the user asked for is in place.
        let _lock = UMASK.lock().unwrap_or_else(|e| e.into_inner());
        let old = rustix::process::umask(rustix::fs::Mode::from_bits_truncate(0o777));
        let bound = rustix::net::bind(&fd, &target.addr);
        rustix::process::umask(old);
        if let Err(e) = bound {
            return Err(bind_error(addr, e.into(), &what).into());
        }
        match addr {
            Addr::Path(p) => {
                let m = std::fs::symlink_metadata(p)
                    .map_err(|e| anyhow::Error::from(e).context(what.clone()))?;
                let guard = FileGuard::new(p.clone(), m.dev(), m.ino());
                let mode = opts.mode.unwrap_or(0o777 & !old.bits());
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).map_err(
                    |e| anyhow::Error::from(e).context(format!("{what}: setting mode {mode:o}")),
                )?;
                Some(guard)
            }
            _ => None,
        }
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

fn bind_error(addr: &Addr, err: io::Error, what: &str) -> Fail {
    match err.raw_os_error().map(Errno::from_raw_os_error) {
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
        Some(Errno::NOENT) => Fail::new(1, format!("{what}: the directory does not exist")),
        _ => Fail::new(1, format!("{what}: {err}")),
    }
}

/// What is at a path we are about to bind: nothing, a live socket (owner when known),
/// a dead socket, or something that is not a socket.
enum Occupant {
    Nothing,
    Live(Option<Cred>),
    Dead,
    NotASocket(&'static str),
}

fn occupant(p: &Path) -> anyhow::Result<Occupant> {
    let m = match std::fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Occupant::Nothing),
        Err(e) => return Err(e.into()),
    };
    if !m.file_type().is_socket() {
        return Ok(Occupant::NotASocket(file_kind(&m)));
    }
    // Ask the kernel which socket is bound to this very file rather than connecting to it:
    // a connection is a client to the server there, and a single-client server (listen in
    // its default mode) would take our probe as its one client.
    match crate::linux::diag::bound_to(m.dev(), m.ino()) {
        Ok(Some(sock)) => return Ok(Occupant::Live(owner(sock.inode))),
        // No socket of this network namespace is bound to it. One in another namespace (a
        // container sharing the directory) would still answer: confirm with a connect,
        // which a dead socket refuses without anyone noticing.
        Ok(None) => {}
        // No sock_diag here (seccomp, a kernel without unix_diag): connecting is all we have.
        Err(_) => {}
    }
    match connect_probe(&Addr::Path(p.to_path_buf())) {
        Ok(cred) => Ok(Occupant::Live(cred)),
        Err(e) if e.raw_os_error() == Some(Errno::CONNREFUSED.raw_os_error()) => Ok(Occupant::Dead),
        Err(e) if e.raw_os_error() == Some(Errno::NOENT.raw_os_error()) => Ok(Occupant::Nothing),
        // A full accept queue still means somebody listens.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Occupant::Live(None)),
        Err(e) => Err(anyhow::Error::from(e).context("probing the existing socket")),
    }
}

/// The process holding socket `inode` (the first one, if several share it), as a [`Cred`]
/// with its effective ids, when /proc lets us see it.
fn owner(inode: u32) -> Option<Cred> {
    let scan = crate::linux::fdscan::scan_socket_fds(&|_| true);
    let holder = scan.holders(u64::from(inode)).next()?;
    let (uid, gid) = crate::linux::process::ids(holder.pid)?;
    Some(Cred {
        pid: holder.pid,
        uid,
        gid,
    })
}

/// Who is bound at `addr`, for the "address in use" message: sock_diag first, a connect
/// only where sock_diag is unavailable.
fn probe(addr: &Addr) -> io::Result<Option<Cred>> {
    if let Addr::Abstract(name) = addr
        && let Ok(found) = crate::linux::diag::bound_abstract(name)
    {
        return Ok(found.and_then(|s| owner(s.inode)));
    }
    connect_probe(addr)
}

/// Connects to whatever is bound at `addr`, trying each socket type, and returns the
/// listener's credentials when the kernel gives them.
fn connect_probe(addr: &Addr) -> io::Result<Option<Cred>> {
    let mut last = io::Error::from(Errno::CONNREFUSED);
    for kind in [Kind::Stream, Kind::SeqPacket, Kind::Datagram] {
        match try_connect_unix(addr, kind) {
            Ok(fd) => {
                let cred = rustix::net::sockopt::socket_peercred(fd.as_fd())
                    .ok()
                    .map(Cred::from)
                    .filter(|c| c.pid > 0);
                return Ok(cred);
            }
            Err(e) if e.raw_os_error() == Some(Errno::PROTOTYPE.raw_os_error()) => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

fn clear_path(p: &Path, what: &str, opts: &BindOpts, ctx: &Ctx) -> anyhow::Result<()> {
    let shown = escape(&p.display().to_string()).into_owned();
    let remove = |which: &str| {
        std::fs::remove_file(p).map_err(|e| {
            anyhow::Error::from(e).context(format!("{what}: removing the {which} socket"))
        })
    };
    match occupant(p).map_err(|e| e.context(what.to_string()))? {
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
        Occupant::Dead => {
            remove("stale")?;
            ctx.info(format!(
                "removed stale socket {shown} (nothing was listening on it)"
            ));
            Ok(())
        }
        Occupant::Live(owner) => {
            let by = owner.map(|c| format!(" by {c}")).unwrap_or_default();
            if !opts.force {
                let f = Fail::new(1, format!("{what}: {shown} is in use{by}"));
                return Err(f
                    .hint(
                        "a live socket is never taken over; stop that server, choose another \
                         path, or pass --force to replace it",
                    )
                    .into());
            }
            remove("live")?;
            ctx.warn(format!("--force: replaced live socket {shown} in use{by}"));
            Ok(())
        }
    }
}

/// Binds a TCP listener; `tcp:HOST:0` reports the chosen port in [`Bound::local`].
pub async fn bind_tcp(addr: &Addr) -> anyhow::Result<(tokio::net::TcpListener, Addr)> {
    let Addr::Tcp { host, port } = addr else {
        unreachable!()
    };
    let what = format!("binding {}", escape(&addr.to_string()));
    // As TcpListener::bind (SO_REUSEADDR, std's backlog of 128), with the congestion
    // control a loopback listener's connections start with chosen first.
    let l = first_address(host, *port, async |at| {
        let socket = tcp_socket(at.ip())?;
        socket.set_reuseaddr(true)?;
        socket.bind(at)?;
        socket.listen(128)
    })
    .await
    .map_err(|e| {
        let f = Fail::new(1, format!("{what}: {e}"));
        if e.kind() == io::ErrorKind::AddrInUse {
            f.hint("another process listens on that port; `ss -tlnp` shows which")
        } else {
            f
        }
    })?;
    let local = l.local_addr()?;
    Ok((
        l,
        Addr::Tcp {
            host: host.clone(),
            port: local.port(),
        },
    ))
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
