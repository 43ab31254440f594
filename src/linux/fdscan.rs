//! Which processes hold which sockets: one pass over every /proc/PID/fd, reading the
//! `socket:[INODE]` links relative to each opened fd directory. Direct reads rather than
//! the procfs crate, whose process and fd iterators took about twice as long for the same
//! scan (docs/performance.md).

use std::fs;
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicUsize, Ordering};

use rustix::fs::{Mode, OFlags, RawDir};
use rustix::io::Errno;

/// One open descriptor of a socket: which process holds it, under which number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Holder {
    pub pid: u32,
    pub fd: u32,
}

/// Who holds which socket, from one pass over /proc/PID/fd.
#[derive(Debug, Default)]
pub struct FdScan {
    /// (socket inode, descriptor), sorted: one flat allocation rather than a map holding a
    /// small vector per socket.
    pub sockets: Vec<(u64, Holder)>,
    /// Processes whose descriptors we may not read (other users', when not root).
    pub denied: usize,
}

/// Reads every selected process's fd table once: `readlinkat` on each entry relative to the
/// opened fd directory (no per-fd path walk, no stat), keeping `socket:[INODE]` links.
/// Direct reads rather than the procfs crate, whose `all_processes()`/`fd()` took about
/// twice as long at 10,000 sockets (docs/performance.md).
/// Processes that exit during the scan are skipped.
pub fn scan_socket_fds(select: &dyn Fn(u32) -> bool) -> FdScan {
    match FdWork::new(select) {
        Some(work) => FdScan::merge(vec![work.scan()]),
        None => FdScan::default(),
    }
}

/// One fd scan that several threads can share: each takes the next process not yet taken.
/// `udskit ls` lets its sock_diag thread join in once the dump is done. (Two threads
/// splitting the scan from the start, with the dump beside them, were slower than one on a
/// busy 2-core machine: joining only when the dump thread is idle anyway does not take a
/// core away from it.)
pub struct FdWork {
    pids: Vec<u32>,
    next: AtomicUsize,
    proc_dir: OwnedFd,
}

impl FdWork {
    /// The processes to read: every pid in /proc that `select` accepts.
    pub fn new(select: &dyn Fn(u32) -> bool) -> Option<FdWork> {
        let pids: Vec<u32> = fs::read_dir("/proc")
            .ok()?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&pid| select(pid))
            .collect();
        let proc_dir = rustix::fs::open(
            "/proc",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        Some(FdWork {
            pids,
            next: AtomicUsize::new(0),
            proc_dir,
        })
    }

    /// Reads processes until none is left; the part found by this thread, sorted (by each
    /// thread at the same time, so that the merge only interleaves sorted runs).
    pub fn scan(&self) -> FdScan {
        let mut scan = FdScan::default();
        let mut dents: Vec<u8> = Vec::with_capacity(DENTS_BUF);
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(&pid) = self.pids.get(i) else {
                scan.sockets.sort_unstable();
                return scan;
            };
            scan_pid(&self.proc_dir, pid, &mut dents, &mut scan);
        }
    }
}

impl FdScan {
    /// The parts found by the threads of one scan, as one sorted scan.
    pub fn merge(parts: Vec<FdScan>) -> FdScan {
        let mut parts = parts.into_iter();
        let mut all = parts.next().unwrap_or_default();
        for p in parts {
            all.sockets.extend(p.sockets);
            all.denied += p.denied;
        }
        // The stable sort finds the parts' sorted runs and merges them in one pass.
        all.sockets.sort();
        all
    }

    /// The descriptors that refer to socket `inode`, by pid and fd.
    pub fn holders(&self, inode: u64) -> impl Iterator<Item = Holder> + '_ {
        self.held(inode).iter().map(|(_, h)| *h)
    }

    /// The same as a slice of `sockets`, without collecting.
    pub fn held(&self, inode: u64) -> &[(u64, Holder)] {
        let start = self.sockets.partition_point(|(i, _)| *i < inode);
        let len = self.sockets[start..].partition_point(|(i, _)| *i == inode);
        &self.sockets[start..start + len]
    }
}

/// Getdents buffer for one fd directory: 64 KiB holds about 2,700 entries per call.
const DENTS_BUF: usize = 64 * 1024;

fn scan_pid(proc_dir: &OwnedFd, pid: u32, dents: &mut Vec<u8>, scan: &mut FdScan) {
    // A socket link is "socket:[INODE]": 64 bytes hold any; a longer link (a file path)
    // comes back truncated, which is as good as whole for telling it is not a socket.
    let mut link = [MaybeUninit::<u8>::uninit(); 64];
    let dir = match rustix::fs::openat(
        proc_dir,
        format!("{pid}/fd"),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(d) => d,
        Err(Errno::ACCESS) | Err(Errno::PERM) => {
            scan.denied += 1;
            return;
        }
        Err(_) => return, // gone, or a kernel thread without an fd table we can read
    };
    let mut entries = RawDir::new(&dir, dents.spare_capacity_mut());
    while let Some(Ok(entry)) = entries.next() {
        let Some(fd) = parse_u64(entry.file_name().to_bytes()) else {
            continue; // "." and ".."
        };
        let Ok((target, _)) = rustix::fs::readlinkat_raw(&dir, entry.file_name(), &mut link) else {
            continue; // closed meanwhile
        };
        if let Some(ino) = target
            .strip_prefix(b"socket:[")
            .and_then(|r| r.strip_suffix(b"]"))
            .and_then(parse_u64)
        {
            scan.sockets.push((ino, Holder { pid, fd: fd as u32 }));
        }
    }
}

fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_our_own_socket() {
        use std::os::fd::AsRawFd;
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        let me = std::process::id();
        let scan = super::scan_socket_fds(&|pid| pid == me);
        let ino = std::fs::metadata(format!("/proc/self/fd/{}", a.as_raw_fd()))
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            .unwrap();
        let holders: Vec<_> = scan.holders(ino).collect();
        assert_eq!(
            holders,
            &[super::Holder {
                pid: me,
                fd: a.as_raw_fd() as u32
            }]
        );
    }
}
