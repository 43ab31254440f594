//! `udskit ls --stale`: socket files under some directories that no socket is bound to —
//! the leftovers of a crash that make the next `bind` fail. A file is live when sock_diag,
//! in any network namespace that could be read, reports a socket bound to its (dev, ino)
//! (where a namespace's table came from /proc/net/unix, a socket bound under its path);
//! any other file is knocked on as safe bind does (`net::occupant::knock`): a file that
//! refuses a connect is stale (unless a table from /proc holds a bound, not listening
//! socket whose name matched no file here: then `unknown`), one that accepts it is live in
//! a namespace we did not see, and one that cannot be connected to at all is stale if
//! every namespace's table came from sock_diag, else `unknown`, with the reason. What is
//! about to be called stale is looked for once more in fresh tables (a socket bound since
//! the first read refuses a connect too).

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::listing::{Address, Encoding, Entry, Names, set_file_facts};
use super::select::Select;
use crate::linux::diag::{Name, SockState, Source};
use crate::net::kind::Kind;
use crate::net::occupant::{Answer, knock};

/// How deep `--stale` looks below each directory: /run/user/UID/APP/NAME and
/// /run/docker/containerd/NAME are within 4; deeper trees are rarely socket homes.
pub const STALE_DEPTH: usize = 6;

/// What `--stale` found.
pub struct Stale {
    /// The stale files, and those that could not be judged (`unknown`).
    pub entries: Vec<Entry>,
    /// Files that answered a connect, though no socket in the tables read is bound to them:
    /// live in a network namespace that could not be read.
    pub live_unseen: Vec<(PathBuf, Option<u32>)>,
    /// Network namespaces seen whose sockets could not be read.
    pub unreadable_netns: usize,
    /// Directories below those given that could not be read (other users', when not
    /// root): their socket files were not judged.
    pub unreadable_dirs: Vec<PathBuf>,
}

/// Socket files under `dirs` that no socket is bound to. Symbolic links are not followed
/// below the directories given (a directory given as a link is followed, once).
pub fn stale(dirs: &[PathBuf], sel: &Select) -> anyhow::Result<Stale> {
    let tables = super::pick::tables(None)
        .map_err(|e| anyhow::Error::from(e).context("reading the kernel's unix sockets"))?;
    let bound_files: HashSet<(u64, u64)> = tables.socks.iter().filter_map(|s| s.vfs).collect();
    // Where a table has no file identities, a file whose path some socket there was bound
    // under is taken as live.
    let bound_names: HashSet<&[u8]> = tables
        .socks
        .iter()
        .enumerate()
        .filter(|(i, _)| tables.space_of(*i as u32).source == Source::ProcNetUnix)
        .filter_map(|(_, s)| match &s.name {
            Some(Name::Path(p)) => Some(p.as_slice()),
            _ => None,
        })
        .collect();
    // Every namespace seen was read through sock_diag: a file no socket in them is bound
    // to is stale even where a connect cannot be tried (no write permission on it).
    let complete =
        tables.unreadable == 0 && tables.spaces.iter().all(|s| s.source == Source::Netlink);
    let mut seen_dirs = HashSet::new();
    let mut found = Vec::new();
    let mut matched: HashSet<Vec<u8>> = HashSet::new();
    let mut unreadable_dirs = Vec::new();
    for dir in dirs {
        let real = match std::fs::canonicalize(dir) {
            Ok(real) => real,
            // One of the default directories that this machine has not.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(_) => {
                unreadable_dirs.push(dir.clone());
                continue;
            }
        };
        let mut seen = Seen {
            dirs: &mut seen_dirs,
            unreadable: &mut unreadable_dirs,
        };
        walk(&real, 0, &mut seen, &mut |path, m| {
            let name = path.as_os_str().as_bytes();
            let by_name = bound_names.contains(name);
            if by_name {
                matched.insert(name.to_vec());
            }
            if !(by_name || bound_files.contains(&(m.dev(), m.ino() & 0xffff_ffff))) {
                found.push((path.to_path_buf(), m.clone()));
            }
        });
    }
    // A file that refuses a connect has no listener, but may still have a socket bound to
    // it that is not listening yet. In a table read from /proc such a socket is known by
    // its name only, as its process gave it (relative, or the path in its own mount
    // namespace: a container's /shared/x for our /srv/shared/x): while one of those is
    // left that no file here was matched to, a refusing file is not called stale.
    let unmatched_bound = tables
        .socks
        .iter()
        .enumerate()
        .filter(|(i, _)| tables.space_of(*i as u32).source == Source::ProcNetUnix)
        .filter(|(_, s)| s.state == SockState::Unconnected && s.kind != Kind::Datagram)
        .any(|(_, s)| matches!(&s.name, Some(Name::Path(p)) if !matched.contains(p)));
    let mut judged = Vec::new();
    let mut live_unseen = Vec::new();
    for (path, m) in found {
        if !(sel.uids.is_empty() || sel.uids.contains(&m.uid())) {
            continue;
        }
        let name = Name::Path(path.as_os_str().as_bytes().to_vec()).display();
        if !sel.name_matches(&name) {
            continue;
        }
        let (state, reason) = match knock(&path) {
            Answer::Refuses if complete || !unmatched_bound => ("stale", None),
            Answer::Refuses => (
                "unknown",
                Some(
                    "it refuses a connect, but a socket that is bound and not listening in a \
                     network namespace read from /proc (not root) may be bound to it: that \
                     table names sockets as their processes did, without file identities"
                        .to_string(),
                ),
            ),
            Answer::Accepts(cred) => {
                live_unseen.push((path, cred.map(|c| c.pid)));
                continue;
            }
            Answer::Gone => continue,
            Answer::Unknown(_) if complete => ("stale", None),
            Answer::Unknown(e) => (
                "unknown",
                Some(format!(
                    "connecting to it: {e}; and some network namespace's table has no file \
                     identities (read from /proc: not root)"
                )),
            ),
        };
        judged.push((path, m, name, state, reason));
    }
    // A socket bound to a file after the tables were read (and not listening yet) refuses
    // the connect too: what would be called stale is looked for in fresh tables first.
    if judged.iter().any(|j| j.3 == "stale")
        && let Ok(again) = super::pick::tables(None)
    {
        let now: HashSet<(u64, u64)> = again.socks.iter().filter_map(|s| s.vfs).collect();
        judged.retain(|(_, m, _, state, _)| {
            *state != "stale" || !now.contains(&(m.dev(), m.ino() & 0xffff_ffff))
        });
    }
    let mut names = Names::default();
    let mut entries: Vec<Entry> = Vec::new();
    for (path, m, name, state, reason) in judged {
        let mut e = Entry {
            name,
            path: None,
            abstract_name: None,
            encoding: Encoding::Utf8,
            kind: None,
            state,
            reason,
            shadowed: None,
            mntns_pid: None,
            host_path: None,
            inode: None,
            conns: None,
            queue: None,
            backlog: None,
            processes: Vec::new(),
            uid: Some(m.uid()),
            user: Some(names.user(m.uid())),
            netns: None,
            netns_inode: None,
            container: None,
            mode: None,
            owner: None,
            group: None,
            peer_inode: None,
            peer_processes: Vec::new(),
            file: None,
            shadowed_path: None,
            by_path_here: false,
        };
        e.set_address(Address::Path, path.as_os_str().as_bytes());
        set_file_facts(&mut e, m.mode(), m.uid(), m.gid(), &mut names);
        entries.push(e);
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries.dedup_by(|a, b| a.name == b.name);
    Ok(Stale {
        entries,
        live_unseen,
        unreadable_netns: tables.unreadable,
        unreadable_dirs,
    })
}

/// What a walk has been through: the directories read, and those that could not be.
struct Seen<'a> {
    dirs: &'a mut HashSet<(u64, u64)>,
    unreadable: &'a mut Vec<PathBuf>,
}

fn walk(
    dir: &Path,
    depth: usize,
    seen: &mut Seen<'_>,
    found: &mut dyn FnMut(&Path, &std::fs::Metadata),
) {
    let Ok(m) = std::fs::metadata(dir) else {
        return;
    };
    if !seen.dirs.insert((m.dev(), m.ino())) {
        return;
    }
    // Unreadable directories (other users', when not root) are skipped, and told.
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(_) => {
            seen.unreadable.push(dir.to_path_buf());
            return;
        }
    };
    for entry in entries.flatten() {
        let Ok(ft) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        if ft.is_socket() {
            if let Ok(m) = entry.metadata() {
                found(&path, &m);
            }
        } else if ft.is_dir() && depth + 1 < STALE_DEPTH {
            walk(&path, depth + 1, seen, found);
        }
    }
}
