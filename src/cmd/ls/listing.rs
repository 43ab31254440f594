//! The model behind `udskit ls`: the kernel's unix sockets of every network namespace read
//! (picked and counted in pick.rs) joined with the processes that hold them (one
//! /proc/PID/fd pass; socket inodes are global, so this spans namespaces), and listeners
//! whose path no longer leads to them (shadowed, shadow.rs) unless it does where their
//! processes are (another mount namespace). What to list is in select.rs; socket
//! files no socket is bound to in stale.rs.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::pick::{Picked, space_of};
use super::select::{Select, command};
use super::shadow::{self, DirCache, Facts, SeenFrom, file_facts};
use crate::linux::container::Container;
use crate::linux::diag::{Name, Sock, SockState, Source};
use crate::linux::fdscan::{FdScan, Holder};

/// One process holding a socket, with the descriptors it holds it under.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub command: Option<Arc<str>>,
    pub fds: Vec<u32>,
}

/// One row of the listing; the JSON keys are documented in the README and stay stable.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Entry {
    /// How the listing shows the address (`/path`, `@abstract`, `./@relative`).
    pub name: String,
    /// The filesystem path as bound (null for abstract and unnamed sockets).
    pub path: Option<String>,
    /// The abstract name without `@` (null otherwise).
    #[serde(rename = "abstract")]
    pub abstract_name: Option<String>,
    /// How `path`, `abstract` and `host_path` are written: their real text, or base64 when
    /// one of them is not UTF-8. Set with [`Entry::set_address`].
    pub encoding: Encoding,
    /// stream, seqpacket, datagram; null for a stale file.
    #[serde(rename = "type")]
    pub kind: Option<&'static str>,
    /// listen, bound, connected, unconnected, stale, unknown.
    pub state: &'static str,
    /// Why the state is `unknown` (null otherwise).
    pub reason: Option<String>,
    /// The path now leads to another file or to nothing (null: could not tell), also in
    /// the mount namespace of the processes holding it.
    pub shadowed: Option<bool>,
    /// The path leads to the socket in the mount namespace (or root) of this process, not
    /// in ours: a listener in another container or `unshare -m`, not a shadowed one.
    pub mntns_pid: Option<u32>,
    /// With `mntns_pid`: where that file is in our mount namespace, when it is in it at
    /// all (the host side of a bind mount).
    pub host_path: Option<String>,
    pub inode: Option<u32>,
    /// Accepted connections still open (listeners only).
    pub conns: Option<u32>,
    /// Connections waiting in the accept queue, and its limit (listeners, sock_diag only).
    pub queue: Option<u32>,
    pub backlog: Option<u32>,
    pub processes: Vec<Owner>,
    pub uid: Option<u32>,
    pub user: Option<Arc<str>>,
    /// The network namespace: `host` (ours), its inode, or `pid:N` when its inode could
    /// not be read; null for a socket file (`--stale`).
    pub netns: Option<Arc<str>>,
    pub netns_inode: Option<u64>,
    /// The container the namespace's processes run in, when it could be told.
    pub container: Option<Arc<Container>>,
    /// The socket file's permission bits in octal ("0660"), owner and group.
    pub mode: Option<String>,
    pub owner: Option<Arc<str>>,
    pub group: Option<Arc<str>>,
    pub peer_inode: Option<u32>,
    /// The processes at the other end (with `--peers`).
    pub peer_processes: Vec<Owner>,
    /// (st_dev, st_ino) of the file the socket is bound to, from sock_diag: what ties an
    /// accepted connection to its listener (`--graph`). Not part of the JSON.
    #[serde(skip)]
    pub file: Option<(u64, u64)>,
    /// Its path as bound when it is shadowed here (to look for it through a holder's root).
    #[serde(skip)]
    pub shadowed_path: Option<Vec<u8>>,
    /// PATTERN matched only where the file seemed to be here: kept only once `host_path`
    /// is found and matches it (which clears this).
    #[serde(skip)]
    pub by_path_here: bool,
}

/// How an entry's addresses are written in the JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum Encoding {
    #[default]
    #[serde(rename = "utf-8")]
    Utf8,
    #[serde(rename = "base64")]
    Base64,
}

/// The JSON fields that carry an address.
#[derive(Debug, Clone, Copy)]
pub enum Address {
    Path,
    Abstract,
    HostPath,
}

impl Entry {
    fn address(&mut self, a: Address) -> &mut Option<String> {
        match a {
            Address::Path => &mut self.path,
            Address::Abstract => &mut self.abstract_name,
            Address::HostPath => &mut self.host_path,
        }
    }

    /// Sets an address for the JSON as its real text, so that a newline in a path is a
    /// newline and not the two characters the table shows; as soon as one of the entry's
    /// addresses is not UTF-8, all of them go in base64, as `recvfrom --json` sends a
    /// sender (the text already set is the bytes it was made from).
    pub fn set_address(&mut self, a: Address, bytes: &[u8]) {
        use crate::term::json::base64;
        if self.encoding == Encoding::Utf8 {
            if let Ok(text) = std::str::from_utf8(bytes) {
                *self.address(a) = Some(text.into());
                return;
            }
            for other in [Address::Path, Address::Abstract, Address::HostPath] {
                if let Some(text) = self.address(other) {
                    *text = base64(text.as_bytes());
                }
            }
            self.encoding = Encoding::Base64;
        }
        *self.address(a) = Some(base64(bytes));
    }
}

/// What the listing found, and what it could not see.
pub struct Listing {
    pub entries: Vec<Entry>,
    /// Processes whose descriptors we were not allowed to read.
    pub denied: usize,
    pub source: Source,
    /// Network namespaces seen whose sockets could not be read.
    pub unreadable_netns: usize,
    /// Network namespaces read through /proc/PID/net/unix (not entered: not root).
    pub unentered_netns: usize,
}

fn state_name(s: &Sock) -> &'static str {
    match s.state {
        SockState::Listen => "listen",
        SockState::Connected => "connected",
        SockState::Unconnected if s.name.is_some() => "bound",
        SockState::Unconnected => "unconnected",
    }
}

pub fn collect(sel: &Select) -> anyhow::Result<Listing> {
    // With -c/-p most sockets will be dropped: their entries are made only afterwards.
    let early = !sel.by_process();
    // The sock_diag dump (and, without -c/-p, the shadow checks and the entries of its
    // sockets) runs on a second thread beside the /proc fd scan, which that thread then
    // helps to finish (see FdWork): the wall time drops by about a quarter for the same
    // CPU time, and what is made there is not left for after the join, where nothing runs
    // beside it (figures in docs/performance.md).
    let dump = move || -> std::io::Result<(Found, Names, DirCache)> {
        let mut dirs = DirCache::default();
        let mut names = Names::default();
        let picked = super::pick::picked(sel)?;
        Ok(if early {
            let (entries, source) = picked.entries(sel, &mut names, &mut dirs);
            (Found::Built(entries, source), names, dirs)
        } else {
            (Found::Picked(picked), names, dirs)
        })
    };
    let work: std::sync::OnceLock<Option<crate::linux::fdscan::FdWork>> =
        std::sync::OnceLock::new();
    // The fd scan's list of processes is usually ready long before the dump is, and the
    // dump's thread then takes its share of the processes left (none if it ran last).
    let helper = || {
        let found = dump();
        let part = work.get().and_then(Option::as_ref).map(|w| w.scan());
        (found, part)
    };
    let mine = || {
        let work =
            work.get_or_init(|| crate::linux::fdscan::FdWork::new(&|pid| sel.wants_process(pid)));
        work.as_ref().map(|w| w.scan()).unwrap_or_default()
    };
    let ((found, part), mine) = crate::thread::beside(helper, mine);
    let scan = FdScan::merge([Some(mine), part].into_iter().flatten().collect());
    let (found, mut names, mut dirs) =
        found.map_err(|e| anyhow::Error::from(e).context("reading the kernel's unix sockets"))?;
    let mut comms: FxHashMap<u32, Option<Arc<str>>> = FxHashMap::default();
    let (mut entries, reads) = match found {
        Found::Built(mut entries, reads) => {
            // Nothing else runs now: two threads take blocks of entries in turn (each with
            // its own command names), when there are enough to be worth a thread.
            let many = entries.len() >= SPLIT_MIN;
            let blocks = std::sync::Mutex::new(entries.chunks_mut(SPLIT_BLOCK));
            let work = || {
                let (mut comms, mut names) = Default::default();
                while let Some(block) = {
                    let next = blocks.lock().map(|mut b| b.next());
                    next.unwrap_or_else(|p| p.into_inner().next())
                } {
                    for e in block {
                        add_processes(e, sel, &scan, &mut comms, &mut names);
                    }
                }
            };
            if many {
                crate::thread::beside(work, work);
            } else {
                work();
            }
            if !sel.uids.is_empty() {
                entries.retain(|e| e.uid.is_some_and(|u| sel.uids.contains(&u)));
            }
            entries.retain(|e| !e.by_path_here);
            (entries, reads)
        }
        Found::Picked(mut picked) => {
            // Only the sockets of the selected processes are made into entries.
            picked.order.retain(|&p| {
                let inode = picked.socks[picked.picks[p as usize].sock as usize].inode;
                scan.held(u64::from(inode))
                    .iter()
                    .any(|(_, h)| sel.process_matches(h.pid, &mut comms))
            });
            let (mut entries, reads) = picked.entries(sel, &mut names, &mut dirs);
            for e in &mut entries {
                add_processes(e, sel, &scan, &mut comms, &mut names);
            }
            entries.retain(|e| sel.uids.is_empty() || e.uid.is_some_and(|u| sel.uids.contains(&u)));
            entries.retain(|e| !e.by_path_here);
            (entries, reads)
        }
    };
    if let Some(partial) = &reads.partial {
        count_accepted_elsewhere(&mut entries, partial, &scan);
    }
    Ok(Listing {
        entries,
        denied: scan.denied,
        source: reads.source,
        unreadable_netns: reads.unreadable,
        unentered_netns: reads.unentered,
    })
}

/// Adds to the listeners' CONNS the connections their clients made from namespaces a
/// partial listing did not read (see [`super::pick::Partial`]).
fn count_accepted_elsewhere(entries: &mut [Entry], partial: &super::pick::Partial, scan: &FdScan) {
    let listeners = || {
        entries
            .iter()
            .filter(|e| e.conns.is_some() && e.file.is_some())
    };
    let files: Vec<(u64, u64)> = listeners().filter_map(|e| e.file).collect();
    let mut holders: Vec<u32> = listeners()
        .flat_map(|e| e.processes.iter().map(|p| p.pid))
        .collect();
    holders.sort_unstable();
    holders.dedup();
    let counts = partial.accepted_elsewhere(&files, &holders, scan);
    for e in entries {
        if let (Some(n), Some(file)) = (&mut e.conns, e.file) {
            *n += counts.get(&file).copied().unwrap_or(0);
        }
    }
}

/// Entries from this many on get their processes from two threads, in blocks of
/// SPLIT_BLOCK: fewer take not much more than starting a thread (docs/performance.md).
const SPLIT_MIN: usize = 1000;
/// About 50 us of work at that rate: the two threads end within that of each other, and
/// take the lock 40 times for 10,000 entries.
const SPLIT_BLOCK: usize = 256;

/// The holders of an entry's socket (and with `--peers`, of its peer), and its user from
/// the first process when the kernel did not say whose the socket is.
fn add_processes(
    e: &mut Entry,
    sel: &Select,
    scan: &FdScan,
    comms: &mut FxHashMap<u32, Option<Arc<str>>>,
    names: &mut Names,
) {
    let Some(inode) = e.inode else {
        return;
    };
    e.processes = owners(scan.held(u64::from(inode)), comms);
    // A path that leads elsewhere here may still lead to the socket where its holders
    // are (another mount namespace, or a chroot): that is not a shadowed listener.
    if let (Some(path), Some(vfs)) = (e.shadowed_path.take(), e.file) {
        // Not looked at: no holder is visible (other users' processes, when not root).
        let mut denied = e.processes.is_empty() && scan.denied > 0;
        for o in &e.processes {
            match shadow::seen_from(o.pid, &path, vfs) {
                SeenFrom::There(mode, uid, gid) => {
                    e.shadowed = Some(false);
                    e.mntns_pid = Some(o.pid);
                    if let Some(here) = crate::linux::mounts::path_here(o.pid, &path, vfs) {
                        let here = here.as_os_str().as_encoded_bytes();
                        // PATTERN matched where the file seemed to be here: it is here.
                        e.by_path_here &= !sel.name_matches(&crate::term::escape_bytes(here));
                        e.set_address(Address::HostPath, here);
                    }
                    set_file_facts(e, mode, uid, gid, names);
                    denied = false;
                    break;
                }
                SeenFrom::Denied => denied = true,
                SeenFrom::Elsewhere => {}
            }
        }
        if denied {
            e.shadowed = None;
            e.reason = Some(
                "its path leads elsewhere here; the mount namespace of the processes holding \
                 it could not be looked into"
                    .to_string(),
            );
        }
    }
    if e.uid.is_none() {
        e.uid = e
            .processes
            .first()
            .and_then(|p| crate::linux::process::ids(p.pid))
            .map(|(u, _)| u);
        e.user = e.uid.map(|u| names.user(u));
    }
    if sel.peers
        && let Some(peer) = e.peer_inode
    {
        e.peer_processes = owners(scan.held(u64::from(peer)), comms);
    }
}

/// What the dump thread hands over: the picked sockets, or (without -c/-p) their entries,
/// all but the processes.
enum Found {
    Picked(Picked),
    Built(Vec<Entry>, Reads),
}

/// How the namespaces were read.
struct Reads {
    source: Source,
    unreadable: usize,
    unentered: usize,
    partial: Option<super::pick::Partial>,
}

impl Picked {
    /// The entries of the picks in `order`, all but their processes, each socket's file
    /// looked up (in big directories read at once when mode and owner are not wanted).
    fn entries(
        mut self,
        sel: &Select,
        names: &mut Names,
        dirs: &mut DirCache,
    ) -> (Vec<Entry>, Reads) {
        // By pick, in the dump's order: the sockets are read one after the other. With
        // -c/-p, the few sockets left are looked up one by one (reading a big directory
        // whole costs more than a few lookups).
        let mut unmoved = vec![false; self.picks.len()];
        if !sel.file_facts && !sel.by_process() {
            let socks = self.picks.iter().map(|p| &self.socks[p.sock as usize]);
            for i in shadow::unmoved_in_big_dirs(socks) {
                unmoved[i] = true;
            }
        }
        let mut entries = Vec::with_capacity(self.order.len());
        for &p in &self.order {
            let unmoved = unmoved[p as usize];
            let pick = &mut self.picks[p as usize];
            let space = space_of(&self.spaces, pick.sock);
            let s = &mut self.socks[pick.sock as usize];
            let facts = if unmoved {
                Facts {
                    shadowed: Some(false),
                    file: None,
                }
            } else {
                file_facts(s, dirs)
            };
            let mut e = Entry {
                name: String::new(),
                path: None,
                abstract_name: None,
                encoding: Encoding::Utf8,
                kind: Some(s.kind.name()),
                state: state_name(s),
                reason: None,
                shadowed: facts.shadowed,
                mntns_pid: None,
                host_path: None,
                inode: Some(s.inode),
                conns: pick.conns,
                queue: s.queue.map(|q| q.0),
                backlog: s.queue.map(|q| q.1),
                processes: Vec::new(),
                uid: s.uid,
                user: s.uid.map(|u| names.user(u)),
                netns: Some(space.label.clone()),
                netns_inode: space.ns.inode,
                container: space.container.clone(),
                mode: None,
                owner: None,
                group: None,
                peer_inode: s.peer,
                peer_processes: Vec::new(),
                file: s.vfs,
                by_path_here: pick.by_path_here,
                shadowed_path: match &s.name {
                    Some(Name::Path(p)) if facts.shadowed == Some(true) => Some(p.clone()),
                    _ => None,
                },
            };
            if let Some((mode, uid, gid)) = facts.file {
                set_file_facts(&mut e, mode, uid, gid, names);
            }
            // Only JSON shows them; the table has `name`.
            match &s.name {
                Some(Name::Path(p)) if sel.file_facts => e.set_address(Address::Path, p),
                Some(Name::Abstract(n)) if sel.file_facts => e.set_address(Address::Abstract, n),
                _ => {}
            }
            // The shown name, or the plain name's own bytes moved over (each socket is
            // listed once): no copy of 10,000 paths.
            e.name = match (pick.shown.take(), s.name.take()) {
                (Some(shown), _) => shown,
                (None, Some(Name::Path(p))) => String::from_utf8(p).unwrap_or_default(),
                (None, _) => String::new(),
            };
            entries.push(e);
        }
        let unentered = self
            .spaces
            .iter()
            .filter(|s| !s.ns.ours && s.source == Source::ProcNetUnix)
            .count();
        (
            entries,
            Reads {
                source: self.source,
                unreadable: self.unreadable,
                unentered,
                partial: self.partial.take(),
            },
        )
    }
}

/// User and group names, each id looked up once: a listing repeats the same few ids, and
/// reading /etc/passwd per row made 10,000 rows take 0.7 s instead of tens of ms.
#[derive(Default)]
pub struct Names {
    users: FxHashMap<u32, Arc<str>>,
    groups: FxHashMap<u32, Arc<str>>,
}

impl Names {
    pub fn user(&mut self, uid: u32) -> Arc<str> {
        self.users
            .entry(uid)
            .or_insert_with(|| crate::linux::users::user_name(uid).into())
            .clone()
    }

    pub fn group(&mut self, gid: u32) -> Arc<str> {
        self.groups
            .entry(gid)
            .or_insert_with(|| crate::linux::users::group_name(gid).into())
            .clone()
    }
}

/// Groups descriptors by process, with each process's command name. Sized exactly: one
/// process with one descriptor is the usual case, and the vectors' default first capacity
/// (4 owners of 48 bytes, 4 fds) made 2 MB of the heap at 10,000 sockets.
fn owners(holders: &[(u64, Holder)], comms: &mut FxHashMap<u32, Option<Arc<str>>>) -> Vec<Owner> {
    let by_pid = |a: &(u64, Holder), b: &(u64, Holder)| a.1.pid == b.1.pid;
    let mut out = Vec::with_capacity(holders.chunk_by(by_pid).count());
    for group in holders.chunk_by(by_pid) {
        let pid = group[0].1.pid;
        out.push(Owner {
            pid,
            // Escaped once per process, shared by all its rows.
            command: comms.entry(pid).or_insert_with(|| command(pid)).clone(),
            fds: group.iter().map(|(_, h)| h.fd).collect(),
        });
    }
    out
}

pub fn set_file_facts(e: &mut Entry, mode: u32, uid: u32, gid: u32, names: &mut Names) {
    e.mode = Some(format!("{:04o}", mode & 0o7777));
    e.owner = Some(names.user(uid));
    e.group = Some(names.group(gid));
}
