//! Whether a listener's path still leads to it (or was taken over or removed: shadowed),
//! and the socket file's mode and owner: a stat per listener through its opened parent
//! directory, or one read of a directory that holds many listeners.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::linux::diag::{Name, Sock};

/// Directories holding at least this many listeners are read once (getdents) rather than
/// stat-ing each socket file: at 10,000 listeners the one read costs about a fifth of the
/// stats (docs/performance.md).
const DIR_READ_MIN: usize = 16;

/// Shadow detection for big directories, the indices of the listeners found unmoved: one
/// whose file is still the socket entry of that name, same inode and device as sock_diag
/// reports, is not shadowed. Anything else is left for `file_facts` to confirm with a stat
/// (so a filesystem whose `d_ino` differs from `st_ino`, such as some overlayfs setups,
/// costs a stat rather than a wrong answer).
///
/// The listeners are grouped by directory, each the same as the previous one's or looked
/// up, and each directory's entries are then looked up by inode in a list sorted by it,
/// which holds what the check needs: a map holding a vector per inode, under SipHash, was
/// dearer, and going from the list back to each socket for its device and name missed the
/// cache (figures in docs/performance.md).
pub fn unmoved_in_big_dirs<'a>(socks: impl ExactSizeIterator<Item = &'a Sock>) -> Vec<usize> {
    use rustix::fs::{FileType, Mode, OFlags, RawDir};
    // Directories, and the sockets' files in all of them in one vector sized once (grown by
    // doubling, per directory, it copied as it grew): (directory, socket file
    // inode, device, file name, index), sorted by directory and inode below.
    let mut dirs: Vec<&[u8]> = Vec::new();
    let mut files: Vec<(u32, u32, u64, &[u8], usize)> = Vec::with_capacity(socks.len());
    let mut dir_index: HashMap<&[u8], u32> = HashMap::new();
    let mut last: Option<(&[u8], u32)> = None;
    for (i, s) in socks.enumerate() {
        if let (Some(Name::Path(p)), Some((dev, ino))) = (&s.name, s.vfs)
            && p.first() == Some(&b'/')
            && let Some(slash) = p.iter().rposition(|&b| b == b'/')
        {
            let dir: &[u8] = if slash == 0 { b"/" } else { &p[..slash] };
            let d = match last {
                Some((l, d)) if l == dir => d,
                _ => *dir_index.entry(dir).or_insert_with(|| {
                    dirs.push(dir);
                    dirs.len() as u32 - 1
                }),
            };
            last = Some((dir, d));
            // sock_diag reports a 32-bit inode number.
            files.push((d, ino as u32, dev, &p[slash + 1..], i));
        }
    }
    files.sort_unstable_by_key(|f| (f.0, f.1));
    // An upper bound again: the pages it does not fill are never touched.
    let mut same = Vec::with_capacity(files.len());
    let mut buf = Vec::with_capacity(DENTS_BUF);
    for files in files
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|f| f.len() >= DIR_READ_MIN)
    {
        let Ok(fd) = rustix::fs::open(
            std::ffi::OsStr::from_bytes(dirs[files[0].0 as usize]),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) else {
            continue;
        };
        let Ok(dev) = rustix::fs::fstat(&fd).map(|m| m.st_dev) else {
            continue;
        };
        let mut entries = RawDir::new(&fd, buf.spare_capacity_mut());
        while let Some(Ok(e)) = entries.next() {
            if e.file_type() != FileType::Socket {
                continue;
            }
            let ino = (e.ino() & 0xffff_ffff) as u32;
            let name = e.file_name().to_bytes();
            let from = files.partition_point(|f| f.1 < ino);
            for &(_, _, file_dev, file, i) in files[from..].iter().take_while(|f| f.1 == ino) {
                if file_dev == dev && file == name {
                    same.push(i);
                }
            }
        }
    }
    same
}

/// Getdents buffer for a big directory: 64 KiB holds about 1,500 entries of socket names
/// like `name-1234.sock` per call, a third of the calls of rustix's `Dir`, which grows to
/// 24 KiB (docs/performance.md).
const DENTS_BUF: usize = 64 * 1024;

/// Opened parent directories of the listeners: a stat relative to the directory looks up
/// one name instead of walking the whole path again.
#[derive(Default)]
pub struct DirCache {
    open: HashMap<PathBuf, Option<std::os::fd::OwnedFd>>,
}

/// More directories than this are stat-ed through their full paths: each open one holds a
/// descriptor, and the soft limit is often 1024.
const DIR_CACHE_MAX: usize = 256;

impl DirCache {
    fn lstat(&mut self, path: &Path) -> rustix::io::Result<rustix::fs::Stat> {
        use rustix::fs::{AtFlags, Mode, OFlags};
        if let (Some(dir), Some(name)) = (path.parent(), path.file_name())
            && (self.open.len() < DIR_CACHE_MAX || self.open.contains_key(dir))
        {
            let fd = self.open.entry(dir.to_path_buf()).or_insert_with(|| {
                rustix::fs::open(
                    dir,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .ok()
            });
            if let Some(fd) = fd {
                return rustix::fs::statat(&*fd, name, AtFlags::SYMLINK_NOFOLLOW);
            }
        }
        rustix::fs::lstat(path)
    }
}

/// What the socket's path leads to now.
#[derive(Default)]
pub struct Facts {
    /// The path leads to another file or to nothing (None: could not tell).
    pub shadowed: Option<bool>,
    /// Mode, uid and gid of the socket file, when the path still leads to it.
    pub file: Option<(u32, u32, u32)>,
}

/// Whether the path still leads to this socket's file, and the file's mode and owner.
/// Relative names (relative to the binder's directory at bind time) and names bound through
/// `/proc/self/...` cannot be looked up from here: their facts stay unknown.
pub fn file_facts(s: &Sock, dirs: &mut DirCache) -> Facts {
    let Some(path) = s.name.as_ref().and_then(Name::path) else {
        return Facts::default();
    };
    if !path.is_absolute()
        || path.starts_with("/proc/self")
        || path.starts_with("/proc/thread-self")
    {
        return Facts::default();
    }
    match dirs.lstat(path) {
        Ok(m) => {
            let same = s
                .vfs
                .map(|(d, i)| m.st_dev == d && (m.st_ino & 0xffff_ffff) == i);
            let is_socket =
                rustix::fs::FileType::from_raw_mode(m.st_mode) == rustix::fs::FileType::Socket;
            Facts {
                shadowed: same.map(|same| !same),
                file: (same != Some(false) && is_socket).then_some((m.st_mode, m.st_uid, m.st_gid)),
            }
        }
        Err(rustix::io::Errno::NOENT) if s.vfs.is_some() => Facts {
            shadowed: Some(true),
            file: None,
        },
        Err(_) => Facts::default(),
    }
}

/// Where a path that leads elsewhere here leads for a process holding the socket.
pub enum SeenFrom {
    /// To the socket's file: mode, uid and gid.
    There(u32, u32, u32),
    /// Elsewhere there too.
    Elsewhere,
    /// Its root may not be looked into (another user's process, when not root).
    Denied,
}

/// Whether `path` leads to the file `vfs` (dev, ino as sock_diag reports it) in the mount
/// namespace and root of process `pid`, looked up through `/proc/PID/root`.
pub fn seen_from(pid: u32, path: &[u8], vfs: (u64, u64)) -> SeenFrom {
    use rustix::io::Errno;
    if path.first() != Some(&b'/') {
        return SeenFrom::Elsewhere;
    }
    let mut full = format!("/proc/{pid}/root").into_bytes();
    full.extend_from_slice(path);
    match rustix::fs::lstat(std::ffi::OsStr::from_bytes(&full)) {
        Ok(m) if m.st_dev == vfs.0 && (m.st_ino & 0xffff_ffff) == vfs.1 => {
            SeenFrom::There(m.st_mode, m.st_uid, m.st_gid)
        }
        Err(Errno::ACCESS | Errno::PERM) => SeenFrom::Denied,
        _ => SeenFrom::Elsewhere,
    }
}
