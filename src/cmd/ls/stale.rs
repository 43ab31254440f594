//! `udskit ls --stale`: socket files under some directories that no socket is bound to —
//! the leftovers of a crash that make the next `bind` fail. A file is live when sock_diag
//! reports a socket bound to its (dev, ino); without sock_diag, when a socket was bound
//! under its path.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::listing::{Entry, Names, set_file_facts};
use super::select::Select;
use crate::linux::diag::{Name, Source};

/// How deep `--stale` looks below each directory: /run/user/UID/APP/NAME and
/// /run/docker/containerd/NAME are within 4; deeper trees are rarely socket homes.
pub const STALE_DEPTH: usize = 6;

/// Socket files under `dirs` that no socket is bound to. Symbolic links are not followed
/// below the directories given (a directory given as a link is followed, once).
pub fn stale(dirs: &[PathBuf], sel: &Select) -> anyhow::Result<Vec<Entry>> {
    let (socks, source) = crate::linux::diag::sockets()
        .map_err(|e| anyhow::Error::from(e).context("reading the kernel's unix sockets"))?;
    let bound_files: HashSet<(u64, u64)> = socks.iter().filter_map(|s| s.vfs).collect();
    // Without sock_diag only the names are known: a file whose path some socket was bound
    // under is taken as live.
    let bound_names: HashSet<&[u8]> = socks
        .iter()
        .filter_map(|s| match &s.name {
            Some(Name::Path(p)) => Some(p.as_slice()),
            _ => None,
        })
        .collect();
    let mut seen_dirs = HashSet::new();
    let mut found = Vec::new();
    for dir in dirs {
        let Ok(real) = std::fs::canonicalize(dir) else {
            continue;
        };
        walk(&real, 0, &mut seen_dirs, &mut |path, m| {
            let live = match source {
                Source::Netlink => bound_files.contains(&(m.dev(), m.ino() & 0xffff_ffff)),
                Source::ProcNetUnix => bound_names.contains(path.as_os_str().as_bytes()),
            };
            if !live {
                found.push((path.to_path_buf(), m.clone()));
            }
        });
    }
    let mut names = Names::default();
    let mut entries: Vec<Entry> = found
        .into_iter()
        .filter(|(_, m)| sel.uids.is_empty() || sel.uids.contains(&m.uid()))
        .map(|(path, m)| {
            let name = Name::Path(path.as_os_str().as_bytes().to_vec());
            let mut e = Entry {
                name: name.display(),
                path: Some(crate::term::escape_bytes(path.as_os_str().as_bytes())),
                abstract_name: None,
                kind: None,
                state: "stale",
                shadowed: None,
                inode: None,
                conns: None,
                queue: None,
                backlog: None,
                processes: Vec::new(),
                uid: Some(m.uid()),
                user: Some(names.user(m.uid())),
                mode: None,
                owner: None,
                group: None,
                peer_inode: None,
                peer_processes: Vec::new(),
                file: None,
            };
            set_file_facts(&mut e, m.mode(), m.uid(), m.gid(), &mut names);
            e
        })
        .filter(|e| sel.name_matches(&e.name))
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries.dedup_by(|a, b| a.name == b.name);
    Ok(entries)
}

fn walk(
    dir: &Path,
    depth: usize,
    seen: &mut HashSet<(u64, u64)>,
    found: &mut dyn FnMut(&Path, &std::fs::Metadata),
) {
    let Ok(m) = std::fs::metadata(dir) else {
        return;
    };
    if !seen.insert((m.dev(), m.ino())) {
        return;
    }
    // Unreadable directories (other users', when not root) are skipped.
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
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
