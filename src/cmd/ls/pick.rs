//! Picking the sockets a listing starts from, out of the kernel's tables (one per network
//! namespace, read in linux/netns.rs): the filters that need no process (type, state,
//! address pattern), the accepted connections counted per listener, and the listing's
//! order. The picks point into the tables rather than copy them.

use std::collections::HashMap;
use std::sync::Arc;

use super::select::Select;
use crate::linux::container::Container;
use crate::linux::diag::{Name, Sock, SockState, Source};
use crate::linux::netns::{NetNs, Table};
use crate::net::kind::Kind;

/// One network namespace whose sockets were read, and how a listing names it.
pub struct Space {
    pub ns: NetNs,
    /// `host`, the namespace's inode, or `pid:N` (see `NetNs::label`).
    pub label: Arc<str>,
    /// The container its processes run in, when one could be told (not for ours).
    pub container: Option<Arc<Container>>,
    pub source: Source,
    /// Its sockets are `socks[start..]`, up to the next space's start.
    pub start: u32,
}

/// The sockets of every namespace read, one after the other, and the namespaces.
pub struct Tables {
    pub socks: Vec<Sock>,
    pub spaces: Vec<Space>,
    /// Namespaces seen whose sockets could not be read (not those whose processes ended
    /// meanwhile).
    pub unreadable: usize,
}

impl Tables {
    /// The space socket `sock` (an index into `socks`) belongs to.
    pub fn space_of(&self, sock: u32) -> &Space {
        space_of(&self.spaces, sock)
    }
}

/// The space socket `sock` belongs to, in spaces ordered by `start`.
pub fn space_of(spaces: &[Space], sock: u32) -> &Space {
    let i = spaces.partition_point(|s| s.start <= sock);
    &spaces[i.saturating_sub(1)]
}

/// The tables of `chosen` namespaces (every namespace seen, when `None`): ours must be
/// readable, the others are counted when they are not.
pub fn tables(chosen: Option<&[NetNs]>) -> std::io::Result<Tables> {
    let all;
    let spaces: &[NetNs] = match chosen {
        Some(c) => c,
        None => {
            all = crate::linux::netns::namespaces();
            &all
        }
    };
    let read = crate::linux::netns::tables(spaces);
    let total: usize = read
        .iter()
        .map(|t| match t {
            Table::Read(s, ..) => s.len(),
            Table::Unreadable(_) => 0,
        })
        .sum();
    let mut socks = Vec::new();
    let mut out = Vec::with_capacity(spaces.len());
    let mut unreadable = 0;
    for (ns, table) in spaces.iter().zip(read) {
        match table {
            Table::Read(mut s, source, container) => {
                let start = socks.len() as u32;
                if socks.is_empty() {
                    // Ours (or the only one) is not copied; the others join it once.
                    socks = s;
                    socks.reserve(total - socks.len());
                } else {
                    socks.append(&mut s);
                }
                out.push(Space {
                    label: ns.label().into(),
                    container: container.map(Arc::new),
                    ns: ns.clone(),
                    source,
                    start,
                });
            }
            Table::Unreadable(e) if ns.ours => return Err(e),
            // Its processes ended since they were listed: so did their sockets.
            Table::Unreadable(e)
                if e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(rustix::io::Errno::SRCH.raw_os_error()) => {}
            Table::Unreadable(_) => unreadable += 1,
        }
    }
    Ok(Tables {
        socks,
        spaces: out,
        unreadable,
    })
}

/// With -c/-p (and no --netns): our namespace and those that a matching process is in,
/// so that no other namespace is entered (each costs a setns and a dump). A socket is
/// read in the namespace it was made in; one that a matching process got from a process
/// in yet another namespace (passed over a socket) is not seen this way.
fn of_processes(sel: &Select) -> Vec<NetNs> {
    let mut comms = rustc_hash::FxHashMap::default();
    crate::linux::netns::namespaces()
        .into_iter()
        .filter(|ns| ns.ours || ns.pids.iter().any(|&p| sel.process_matches(p, &mut comms)))
        .collect()
}

/// Servers: stream and seqpacket sockets that listen, and bound datagram sockets; also a
/// stream socket bound but not listening yet (it holds the address, as `ss -l` shows too).
fn is_server(s: &Sock) -> bool {
    s.state == SockState::Listen || (s.name.is_some() && s.state == SockState::Unconnected)
}

/// What identifies a listener's file: (dev, ino) with sock_diag, else the name.
#[derive(Hash, PartialEq, Eq)]
enum FileKey {
    Vfs(u64, u64),
    /// A name means something within its namespace only (abstract names per network
    /// namespace; paths without a file identity per mount namespace): keyed by the space.
    Name(u32, Name),
}

fn file_key(s: &Sock, space: u32) -> Option<FileKey> {
    match (&s.vfs, &s.name) {
        (Some((d, i)), _) => Some(FileKey::Vfs(*d, *i)),
        (None, Some(n)) => Some(FileKey::Name(space, n.clone())),
        _ => None,
    }
}

/// A socket that passed the filters not involving processes, before the fd scan is known:
/// an index into the dump rather than a copy of the socket.
pub struct Pick {
    pub sock: u32,
    /// How the listing shows the address; `None` when that is the path as it is
    /// (`Name::plain`), so that it need not be copied.
    pub shown: Option<String>,
    /// Accepted connections still open (listeners only).
    pub conns: Option<u32>,
    /// Picked because PATTERN matches where its file seems to be in our mount namespace
    /// (a container's bind mount), not its name: kept only if `host_path` confirms it.
    pub by_path_here: bool,
}

/// The dumps, the sockets picked from them, and the listing's order of the picks.
pub struct Picked {
    pub socks: Vec<Sock>,
    pub spaces: Vec<Space>,
    pub unreadable: usize,
    pub picks: Vec<Pick>,
    pub order: Vec<u32>,
    pub source: Source,
    /// Set when only some namespaces were read (see [`Partial`]).
    pub partial: Option<Partial>,
}

/// Only some namespaces were read (--netns, -c, -p), while a connection accepted by a
/// listener is a socket of the *client's* namespace (the kernel makes it there): a client in
/// another container reaching a path listener through a shared directory is counted only
/// once [`Partial::accepted_elsewhere`] has looked there too.
pub struct Partial {
    read: Vec<NetNs>,
    /// The inodes of the sockets read, sorted.
    known: Vec<u32>,
}

impl Partial {
    /// The accepted connections of the path listeners `files` (their (dev, ino)) held by
    /// `holders`, from the namespaces not read. They are looked for only if a holder holds
    /// a unix socket the namespaces read do not have (its `system.sockprotoname` is
    /// UNIX...): without one, no other namespace is entered.
    pub fn accepted_elsewhere(
        &self,
        files: &[(u64, u64)],
        holders: &[u32],
        scan: &crate::linux::fdscan::FdScan,
    ) -> HashMap<(u64, u64), u32> {
        let mut counts = HashMap::new();
        let unix_unknown = scan.sockets.iter().any(|(inode, h)| {
            holders.binary_search(&h.pid).is_ok()
                && u32::try_from(*inode).is_ok_and(|i| self.known.binary_search(&i).is_err())
                && is_unix(h.pid, h.fd)
        });
        if files.is_empty() || !unix_unknown {
            return counts;
        }
        let others: Vec<NetNs> = crate::linux::netns::namespaces()
            .into_iter()
            .filter(|n| !self.read.iter().any(|r| same_ns(r, n)))
            .collect();
        for table in crate::linux::netns::tables(&others) {
            let Table::Read(socks, ..) = table else {
                continue;
            };
            for s in socks {
                if let (SockState::Connected, Some(vfs)) = (s.state, s.vfs)
                    && s.kind != Kind::Datagram
                    && files.contains(&vfs)
                {
                    *counts.entry(vfs).or_default() += 1;
                }
            }
        }
        counts
    }
}

/// Whether descriptor `fd` of process `pid` is a unix socket (the socket's protocol name,
/// `UNIX` or `UNIX-STREAM`, which sockfs gives as an extended attribute).
fn is_unix(pid: u32, fd: u32) -> bool {
    let mut name = [0u8; 16];
    rustix::fs::getxattr(
        format!("/proc/{pid}/fd/{fd}"),
        "system.sockprotoname",
        &mut name,
    )
    .is_ok_and(|n| name[..n].starts_with(b"UNIX"))
}

/// Whether two namespaces seen are the same one.
fn same_ns(a: &NetNs, b: &NetNs) -> bool {
    match (a.inode, b.inode) {
        _ if a.ours || b.ours => a.ours == b.ours,
        (Some(x), Some(y)) => x == y,
        (None, None) => a.pids.first() == b.pids.first(),
        _ => false,
    }
}

/// The address bytes a pick is sorted by: what the listing shows.
fn shown_bytes<'a>(pick: &'a Pick, socks: &'a [Sock]) -> &'a [u8] {
    match (&pick.shown, &socks[pick.sock as usize].name) {
        (Some(shown), _) => shown.as_bytes(),
        (None, Some(Name::Path(p))) => p,
        (None, _) => b"",
    }
}

/// The sockets that pass the filters not involving processes, in the listing's order (by
/// address, then inode), with their accepted connections counted.
pub fn picked(sel: &Select) -> std::io::Result<Picked> {
    let by_process;
    let chosen = match &sel.spaces {
        Some(s) => Some(s.as_slice()),
        None if sel.by_process() && !sel.peers => {
            by_process = of_processes(sel);
            Some(by_process.as_slice())
        }
        None => None,
    };
    let Tables {
        socks,
        spaces,
        unreadable,
    } = tables(chosen)?;
    let source = spaces
        .iter()
        .find(|s| s.ns.ours)
        .map_or(Source::Netlink, |s| s.source);
    let space_index =
        |i: usize| (spaces.partition_point(|s| s.start as usize <= i).max(1) - 1) as u32;
    // Accepted connections carry their listener's name and file: count them per file.
    let mut children: HashMap<FileKey, u32> = HashMap::new();
    for (i, s) in socks.iter().enumerate() {
        if s.state == SockState::Connected
            && s.kind != Kind::Datagram
            && let Some(k) = file_key(s, space_index(i))
        {
            *children.entry(k).or_default() += 1;
        }
    }
    // An upper bound: the pages it does not fill are never touched.
    let mut picks = Vec::with_capacity(socks.len());
    let mut translators: Vec<Option<Option<crate::linux::mounts::Translator>>> =
        spaces.iter().map(|_| None).collect();
    for (i, sock) in socks.iter().enumerate() {
        if !(sel.all || is_server(sock))
            || (!sel.kinds.is_empty() && !sel.kinds.contains(&sock.kind))
        {
            continue;
        }
        let shown = match &sock.name {
            Some(n) if n.plain().is_some() => None,
            Some(n) => Some(n.display()),
            None => Some(String::new()),
        };
        let mut by_path_here = false;
        if sel.pattern.is_some() {
            let text = match (&shown, &sock.name) {
                (_, None) => continue,
                (Some(s), _) => s.as_str(),
                (None, Some(n)) => n.plain().unwrap_or_default(),
            };
            if !sel.name_matches(text) {
                // A container's socket matches by where its file is here, too (checked
                // once its processes are known; see `Pick::by_path_here`).
                let space = space_index(i) as usize;
                if !matches!(sock.name, Some(Name::Path(_)))
                    || sock.vfs.is_none()
                    || spaces[space].ns.ours
                {
                    continue;
                }
                let t = translators[space].get_or_insert_with(|| {
                    spaces[space]
                        .ns
                        .pids
                        .first()
                        .and_then(|&p| crate::linux::mounts::Translator::new(p))
                });
                let Some(Name::Path(p)) = &sock.name else {
                    continue;
                };
                let here = t.as_ref().map(|t| t.candidates(p)).unwrap_or_default();
                if !here
                    .iter()
                    .any(|h| sel.name_matches(&Name::Path(h.clone()).display()))
                {
                    continue;
                }
                by_path_here = true;
            }
        }
        // Connections still waiting in the accept queue are not in the kernel's table
        // (checked: ss does not show them either), so this counts accepted ones only.
        let conns = (sock.state == SockState::Listen).then(|| {
            file_key(sock, space_index(i))
                .and_then(|k| children.get(&k).copied())
                .unwrap_or(0)
        });
        picks.push(Pick {
            sock: i as u32,
            shown,
            conns,
            by_path_here,
        });
    }
    let order = sorted(&picks, &socks);
    let partial = chosen.map(|read| {
        let mut known: Vec<u32> = socks.iter().map(|s| s.inode).collect();
        known.sort_unstable();
        Partial {
            read: read.to_vec(),
            known,
        }
    });
    Ok(Picked {
        socks,
        spaces,
        unreadable,
        picks,
        order,
        source,
        partial,
    })
}

/// The picks' order in the listing: by the address shown, then by inode. Each address is
/// keyed by its first 32 bytes after the prefix all of them share (four integers compare
/// faster than a memcmp call), and compared in full only when those are equal. The prefix
/// alone is not enough: one socket outside the directory of the others makes it `/`, and
/// with keys of 8 bytes nearly every comparison then went on to the full addresses
/// (figures in docs/performance.md).
fn sorted(picks: &[Pick], socks: &[Sock]) -> Vec<u32> {
    let bytes = |p: u32| shown_bytes(&picks[p as usize], socks);
    let common = (0..picks.len() as u32).map(bytes).reduce(|a, b| {
        let n = a.iter().zip(b).take_while(|(x, y)| x == y).count();
        &a[..n]
    });
    let skip = common.map_or(0, <[u8]>::len);
    // No shown address holds a NUL (paths cannot, the rest is escaped), so padding a short
    // one with zeros keeps the byte order.
    let prefix = |p: u32| {
        let mut word = [0u8; 32];
        let rest = &bytes(p)[skip..];
        let n = rest.len().min(32);
        word[..n].copy_from_slice(&rest[..n]);
        std::array::from_fn::<u64, 4, _>(|i| {
            u64::from_be_bytes(word[i * 8..i * 8 + 8].try_into().unwrap_or_default())
        })
    };
    let mut keys: Vec<([u64; 4], u32, u32)> = (0..picks.len() as u32)
        .map(|p| (prefix(p), socks[picks[p as usize].sock as usize].inode, p))
        .collect();
    keys.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| bytes(a.2).cmp(bytes(b.2)))
            .then(a.1.cmp(&b.1))
    });
    keys.into_iter().map(|(_, _, p)| p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_by_shown_address_then_inode() {
        let names: [&[u8]; 9] = [
            b"/tmp/d/a-10.sock",
            b"/tmp/d/a-1.sock",
            b"/tmp/d/a-1.sock",
            b"/tmp/d/a-very-long-name-beyond-the-first-32-bytes-x",
            b"/tmp/d/a-very-long-name-beyond-the-first-32-bytes-",
            b"/tmp/d/a-very-long-name-beyond-the-first-32-bytes-a",
            b"/run/x",
            b"@starts-with-at",
            b"/tmp/d",
        ];
        let socks: Vec<Sock> = names
            .iter()
            .enumerate()
            .map(|(i, n)| Sock {
                inode: 100 - i as u32,
                kind: Kind::Stream,
                state: SockState::Listen,
                name: Some(Name::Path(n.to_vec())),
                vfs: None,
                peer: None,
                queue: None,
                uid: None,
            })
            .collect();
        let picks: Vec<Pick> = socks
            .iter()
            .enumerate()
            .map(|(i, s)| Pick {
                sock: i as u32,
                shown: s
                    .name
                    .as_ref()
                    .filter(|n| n.plain().is_none())
                    .map(Name::display),
                conns: None,
                by_path_here: false,
            })
            .collect();
        let mut want: Vec<(String, u32)> = socks
            .iter()
            .map(|s| (s.name.as_ref().unwrap().display(), s.inode))
            .collect();
        want.sort();
        let got: Vec<(String, u32)> = sorted(&picks, &socks)
            .into_iter()
            .map(|p| {
                let s = &socks[picks[p as usize].sock as usize];
                (s.name.as_ref().unwrap().display(), s.inode)
            })
            .collect();
        assert_eq!(got, want);
    }
}
