//! Where a path seen in another mount namespace is in ours: the mount it lies on there
//! (`/proc/PID/mountinfo`) and a mount of the same filesystem here whose root covers that
//! mount's root (`/proc/self/mountinfo`), as for a directory Docker bind-mounts into a
//! container. Checked against the socket file's identity before it is believed; unchecked,
//! for `ls PATTERN` to match a container's socket by its path on the host.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// One line of a mountinfo: the filesystem's device, the root of the mount within that
/// filesystem, and where it is mounted.
struct Mount {
    dev: Vec<u8>,
    root: Vec<u8>,
    point: Vec<u8>,
}

fn mounts(pid: &str) -> Vec<Mount> {
    let Ok(text) = std::fs::read(format!("/proc/{pid}/mountinfo")) else {
        return Vec::new();
    };
    text.split(|&b| b == b'\n')
        .filter_map(|line| {
            let mut f = line.split(|&b| b == b' ');
            let (_id, _parent) = (f.next()?, f.next()?);
            Some(Mount {
                dev: f.next()?.to_vec(),
                root: unescape(f.next()?),
                point: unescape(f.next()?),
            })
        })
        .collect()
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// `path` below `dir` (component-wise), as the rest after it ("" for `dir` itself).
fn below<'a>(path: &'a [u8], dir: &[u8]) -> Option<&'a [u8]> {
    if dir == b"/" {
        return Some(&path[1.min(path.len())..]);
    }
    let rest = path.strip_prefix(dir)?;
    match rest.first() {
        None => Some(rest),
        Some(b'/') => Some(&rest[1..]),
        _ => None,
    }
}

fn join(dir: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut p = dir.to_vec();
    if !rest.is_empty() {
        if p.last() != Some(&b'/') {
            p.push(b'/');
        }
        p.extend_from_slice(rest);
    }
    p
}

/// The mounts of another process's mount namespace beside ours, to say where its paths
/// are here.
pub struct Translator {
    theirs: Vec<Mount>,
    ours: Vec<Mount>,
}

impl Translator {
    /// For the mount namespace of process `pid` (`None` when its mountinfo is not ours
    /// to read).
    pub fn new(pid: u32) -> Option<Translator> {
        let theirs = mounts(&pid.to_string());
        (!theirs.is_empty()).then(|| Translator {
            theirs,
            ours: mounts("self"),
        })
    }

    /// The paths here that absolute `path` there may be, unchecked, the likeliest first:
    /// through the mount it lies on there (the deepest mount point above it, the last one
    /// mounted at that point: it hides the ones below) and each mount of that filesystem
    /// here whose root covers it.
    pub fn candidates(&self, path: &[u8]) -> Vec<Vec<u8>> {
        let Some((on, rest)) = self
            .theirs
            .iter()
            .filter_map(|m| below(path, &m.point).map(|r| (m, r)))
            .max_by_key(|(m, _)| m.point.len())
        else {
            return Vec::new();
        };
        let in_fs = join(&on.root, rest);
        self.ours
            .iter()
            .rev()
            .filter(|m| m.dev == on.dev)
            .filter_map(|m| Some(join(&m.point, below(&in_fs, &m.root)?)))
            .collect()
    }
}

/// Where absolute `path`, as process `pid` sees it, is in our mount namespace: the first
/// candidate that leads to the file `vfs` (dev, ino as sock_diag reports it) here.
pub fn path_here(pid: u32, path: &[u8], vfs: (u64, u64)) -> Option<PathBuf> {
    Translator::new(pid)?
        .candidates(path)
        .into_iter()
        .find(|here| {
            rustix::fs::lstat(OsStr::from_bytes(here))
                .is_ok_and(|st| st.st_dev == vfs.0 && (st.st_ino & 0xffff_ffff) == vfs.1)
        })
        .map(|here| PathBuf::from(OsStr::from_bytes(&here)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_below_mount_points() {
        assert_eq!(below(b"/shared/a.sock", b"/shared"), Some(&b"a.sock"[..]));
        assert_eq!(below(b"/shared", b"/shared"), Some(&b""[..]));
        assert_eq!(below(b"/sharedx/a", b"/shared"), None);
        assert_eq!(below(b"/a/b", b"/"), Some(&b"a/b"[..]));
        assert_eq!(join(b"/srv/x", b"a.sock"), b"/srv/x/a.sock");
        assert_eq!(join(b"/", b"a"), b"/a");
        assert_eq!(join(b"/srv", b""), b"/srv");
        assert_eq!(unescape(br"/a\040b"), b"/a b");
    }

    #[test]
    fn our_own_paths_map_to_themselves() {
        let dir = std::env::temp_dir().join(format!("udskit-mounts-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let _l = std::os::unix::net::UnixListener::bind(&dir).unwrap();
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(&dir).unwrap();
        let got = path_here(
            std::process::id(),
            dir.as_os_str().as_bytes(),
            (m.dev(), m.ino() & 0xffff_ffff),
        );
        let _ = std::fs::remove_file(&dir);
        assert_eq!(got.as_deref(), Some(dir.as_path()));
    }
}
