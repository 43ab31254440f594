//! `relay X X`: a relay whose TARGET is its own LISTEN connects to itself, every
//! connection opening another, until descriptors run out. Refused as a usage error before
//! anything is bound, under every spelling of one place: `unix:P` and `P`, relative paths,
//! symlinked directories and links to the socket, one abstract name in its three forms,
//! `tcp:PORT` and `tcp:127.0.0.1:PORT`, a name resolving to the address (`localhost` to
//! ::1 as well, as connecting does), and a listener on 0.0.0.0 or :: with a TARGET that
//! is one of this host's addresses.

use std::net::IpAddr;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::Fail;
use crate::net::addr::Addr;
use crate::term::escape;

/// A usage error when `target` leads back to `listen`.
pub async fn refuse_loop(listen: &Addr, target: &Addr) -> Result<(), Fail> {
    if !same_place(listen, target).await {
        return Ok(());
    }
    let (l, t) = (listen.to_string(), target.to_string());
    let (l, t) = (escape(&l), escape(&t));
    Err(Fail::usage(format!(
        "relay {l} {t}: the relay relays to itself (TARGET leads to LISTEN): every \
         connection would open another until descriptors run out"
    ))
    .hint("TARGET is the address of the server the clients are meant to reach"))
}

async fn same_place(listen: &Addr, target: &Addr) -> bool {
    match (listen, target) {
        (Addr::Abstract(a), Addr::Abstract(b)) => a == b,
        (Addr::Path(a), Addr::Path(b)) => same_file(a, b),
        (Addr::Tcp { host: lh, port: lp }, Addr::Tcp { host: th, port: tp }) => {
            lp == tp && *lp != 0 && reaches(lh, th, *lp).await
        }
        (Addr::Udp { host: lh, port: lp }, Addr::Udp { host: th, port: tp }) => {
            lp == tp && *lp != 0 && lh == th
        }
        _ => false,
    }
}

/// Whether two paths name one socket file: the same file already (a link to it), or the
/// same name in the same directory once the directories are resolved.
fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b))
        && (x.dev(), x.ino()) == (y.dev(), y.ino())
    {
        return true;
    }
    let place = |p: &Path| -> Option<PathBuf> {
        let name = p.file_name()?;
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        Some(std::fs::canonicalize(dir).ok()?.join(name))
    };
    match (place(a), place(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Whether connecting to `target_host:port` reaches a listener on `listen_host:port`.
/// A name that does not resolve reaches nothing (binding or connecting reports it).
async fn reaches(listen_host: &str, target_host: &str, port: u16) -> bool {
    let listen: Vec<IpAddr> = match tokio::net::lookup_host((listen_host, port)).await {
        Ok(addrs) => addrs.map(|a| a.ip()).collect(),
        Err(_) => Vec::new(),
    };
    // Every address a connect tries (`localhost` is ::1 too), not only the resolver's.
    let target: Vec<IpAddr> = match crate::net::connect::resolve(target_host, port).await {
        Ok(addrs) => addrs.iter().map(|a| a.ip()).collect(),
        Err(_) => Vec::new(),
    };
    target.iter().any(|&t| {
        listen.iter().any(|&l| {
            l == t || (l.is_unspecified() && is_ours(t)) || (t.is_unspecified() && is_ours(l))
        })
    })
}

/// An address of this host: loopback, or one a socket can be bound to.
fn is_ours(ip: IpAddr) -> bool {
    ip.is_loopback() || ip.is_unspecified() || std::net::UdpSocket::bind((ip, 0)).is_ok()
}
