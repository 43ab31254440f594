//! Network namespaces: which ones the processes we can read are in, and the unix socket
//! table of each. sock_diag answers for the caller's namespace only, so as root a worker
//! thread enters each other namespace in turn (setns(2) moves only the calling thread, and
//! the thread ends afterwards, as util-linux lsfd does) and dumps it there. Where a
//! namespace cannot be entered (not root), the `/proc/PID/net/unix` of a process in it is
//! read instead: names, states and inodes, without the socket files' identities.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;

use rustc_hash::FxHashMap;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::container::Container;
use super::diag::{Sock, Source};

/// One network namespace and the processes seen in it.
#[derive(Debug, Clone)]
pub struct NetNs {
    /// The namespace's inode (`net:[INODE]` of `/proc/PID/ns/net`); `None` when that link
    /// may not be read (another user's process, when not root).
    pub inode: Option<u64>,
    /// The processes in it, ascending; the first ones are used to enter it.
    pub pids: Vec<u32>,
    /// The namespace of this process.
    pub ours: bool,
}

impl NetNs {
    /// How a listing names it: `host` for ours, else its inode, else `pid:N` of the first
    /// process in it (when its inode could not be read).
    pub fn label(&self) -> String {
        match (self.ours, self.inode) {
            (true, _) => "host".to_string(),
            (false, Some(i)) => i.to_string(),
            (false, None) => format!("pid:{}", self.pids.first().copied().unwrap_or(0)),
        }
    }
}

impl NetNs {
    /// The container its first processes run in (a container's init comes first).
    pub fn container(&self) -> Option<Container> {
        self.pids
            .iter()
            .take(TRIES)
            .find_map(|&p| super::container::of_process(p))
    }
}

/// The inode of this process's network namespace.
pub fn our_inode() -> Option<u64> {
    link_inode(
        &std::fs::read_link("/proc/thread-self/ns/net")
            .ok()?
            .into_os_string(),
    )
}

fn link_inode(link: &std::ffi::OsStr) -> Option<u64> {
    parse_link(link.as_encoded_bytes())
}

fn parse_link(b: &[u8]) -> Option<u64> {
    let digits = b.strip_prefix(b"net:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// What identifies a namespace while grouping processes: its inode, or, where that link is
/// denied, the inode of the process's `net/unix` file in /proc (one per namespace, which
/// anyone may stat).
#[derive(Hash, PartialEq, Eq, Clone, Copy)]
enum Key {
    Ns(u64),
    ProcNet(u64),
}

/// Every network namespace that a process we can see is in, ours first, then by inode.
/// One readlink per process (and a stat for those whose link is denied).
pub fn namespaces() -> Vec<NetNs> {
    let Ok(proc_dir) = rustix::fs::open(
        "/proc",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return vec![ours_alone()];
    };
    let ours = our_inode();
    let mut groups: FxHashMap<Key, NetNs> = FxHashMap::default();
    let mut link = [MaybeUninit::<u8>::uninit(); 32];
    let pids = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok());
    for pid in pids {
        let key = match rustix::fs::readlinkat_raw(&proc_dir, format!("{pid}/ns/net"), &mut link) {
            Ok((target, _)) => match parse_link(target) {
                Some(i) => Key::Ns(i),
                None => continue,
            },
            Err(Errno::ACCESS) | Err(Errno::PERM) => {
                match rustix::fs::statat(
                    &proc_dir,
                    format!("{pid}/net/unix"),
                    rustix::fs::AtFlags::empty(),
                ) {
                    Ok(st) => Key::ProcNet(st.st_ino),
                    Err(_) => continue,
                }
            }
            Err(_) => continue, // gone meanwhile
        };
        let ns = groups.entry(key).or_insert_with(|| NetNs {
            inode: match key {
                Key::Ns(i) => Some(i),
                Key::ProcNet(_) => None,
            },
            pids: Vec::new(),
            ours: matches!(key, Key::Ns(i) if Some(i) == ours),
        });
        ns.pids.push(pid);
    }
    // Processes whose namespace link was denied may share a namespace with ones whose link
    // was not: their /proc net files are the same file.
    let unnamed: Vec<Key> = groups
        .keys()
        .filter(|k| matches!(k, Key::ProcNet(_)))
        .copied()
        .collect();
    if !unnamed.is_empty() {
        let mut by_proc_net: FxHashMap<u64, Key> = FxHashMap::default();
        for (k, ns) in &groups {
            if let (Key::Ns(_), Some(&pid)) = (k, ns.pids.first())
                && let Ok(st) = rustix::fs::statat(
                    &proc_dir,
                    format!("{pid}/net/unix"),
                    rustix::fs::AtFlags::empty(),
                )
            {
                by_proc_net.insert(st.st_ino, *k);
            }
        }
        for k in unnamed {
            let Key::ProcNet(ino) = k else { continue };
            if let Some(named) = by_proc_net.get(&ino)
                && let Some(ns) = groups.remove(&k)
                && let Some(into) = groups.get_mut(named)
            {
                into.pids.extend(ns.pids);
                into.pids.sort_unstable();
            }
        }
    }
    let mut list: Vec<NetNs> = groups.into_values().collect();
    if !list.iter().any(|n| n.ours) {
        list.push(ours_alone());
    }
    list.sort_by_key(|n| (!n.ours, n.inode.is_none(), n.inode, n.pids.first().copied()));
    list
}

fn ours_alone() -> NetNs {
    NetNs {
        inode: our_inode(),
        pids: vec![std::process::id()],
        ours: true,
    }
}

/// How the sockets of one namespace were read.
#[derive(Debug)]
pub enum Table {
    /// From sock_diag (in ours, or after entering it) or its /proc/PID/net/unix; and the
    /// container its processes run in (looked for beside the other work, on the worker).
    Read(Vec<Sock>, Source, Option<Container>),
    /// Every process seen in it is gone, or nothing of it could be read.
    Unreadable(io::Error),
}

/// How many of a namespace's processes are tried, one after the other, when the first
/// one is gone by the time we enter through it.
const TRIES: usize = 3;

/// The unix sockets of each namespace in `spaces`, in their order: ours dumped on this
/// thread, the others on one worker thread that enters each in turn (a namespace it may
/// not enter is read from /proc instead).
pub fn tables(spaces: &[NetNs]) -> Vec<Table> {
    let foreign = || -> Vec<Table> {
        spaces
            .iter()
            .filter(|n| !n.ours)
            .map(entered_or_read)
            .collect()
    };
    let ours_wanted = spaces.iter().any(|n| n.ours);
    let dump_ours = || ours_wanted.then(super::diag::sockets);
    let (mut ours, mut others) = if spaces.iter().any(|n| !n.ours) {
        std::thread::scope(|s| {
            let worker = s.spawn(foreign);
            let ours = dump_ours();
            (ours, worker.join().unwrap_or_default().into_iter())
        })
    } else {
        (dump_ours(), Vec::new().into_iter())
    };
    spaces
        .iter()
        .map(|n| {
            if n.ours {
                match ours.take() {
                    Some(Ok((socks, source))) => Table::Read(socks, source, None),
                    Some(Err(e)) => Table::Unreadable(e),
                    None => gone(),
                }
            } else {
                others.next().unwrap_or_else(gone)
            }
        })
        .collect()
}

fn gone() -> Table {
    Table::Unreadable(io::Error::from(Errno::SRCH))
}

/// This worker thread enters the namespace through one of its processes and dumps it
/// there; failing that, the process's /proc/PID/net/unix. The thread stays in the last
/// namespace it entered: it is not used for anything else and ends with the listing.
fn entered_or_read(ns: &NetNs) -> Table {
    // A namespace without unix sockets shows no row: its container is not looked for.
    let read = |socks: Vec<Sock>, source| {
        let container = if socks.is_empty() {
            None
        } else {
            ns.container()
        };
        Table::Read(socks, source, container)
    };
    let mut last = io::Error::from(Errno::SRCH);
    for &pid in ns.pids.iter().take(TRIES) {
        match enter(pid, ns.inode) {
            Ok(()) => match super::diag::dump() {
                Ok(socks) => return read(socks, Source::Netlink),
                Err(e) => last = e,
            },
            Err(e) => last = e,
        }
        match super::diag::proc_net_unix_of(pid) {
            Ok(socks) => return read(socks, Source::ProcNetUnix),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => last = e,
        }
    }
    Table::Unreadable(last)
}

/// setns(2) of this thread into the network namespace of `pid`, checked to be the one we
/// meant (a pid reused meanwhile would lead elsewhere).
fn enter(pid: u32, want: Option<u64>) -> io::Result<()> {
    let fd: OwnedFd = rustix::fs::open(
        format!("/proc/{pid}/ns/net"),
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    if want.is_some_and(|w| rustix::fs::fstat(&fd).is_ok_and(|st| st.st_ino != w)) {
        return Err(io::Error::from(Errno::SRCH));
    }
    rustix::thread::move_into_link_name_space(
        std::os::fd::AsFd::as_fd(&fd),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_parse() {
        assert_eq!(parse_link(b"net:[4026531840]"), Some(4026531840));
        assert_eq!(parse_link(b"mnt:[4026531840]"), None);
        assert_eq!(parse_link(b"net:[x]"), None);
    }

    #[test]
    fn ours_comes_first_and_holds_us() {
        let spaces = namespaces();
        assert!(spaces[0].ours);
        assert_eq!(spaces[0].label(), "host");
        assert_eq!(spaces.iter().filter(|n| n.ours).count(), 1);
        let me = std::process::id();
        assert!(spaces[0].pids.contains(&me) || spaces[0].pids == [me]);
    }
}
