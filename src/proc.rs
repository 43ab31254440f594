//! Small facts about processes and users read from /proc and /etc: a pid's command name,
//! user and group names for ids (no NSS: the files are what a local socket's owner uses),
//! and the type and holder of a bound unix socket (/proc/net/unix, /proc/PID/fd).

use std::fs;
use std::os::unix::ffi::OsStrExt;

use crate::addr::Addr;
use crate::stream::{Cred, Kind};

/// The command name of a process (`/proc/PID/comm`), if it still exists and we may see it.
pub fn comm(pid: u32) -> Option<String> {
    let s = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(s.trim_end_matches('\n').to_string())
}

fn name_in(file: &str, id: u32) -> Option<String> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        f.next()?;
        (f.next()?.parse::<u32>().ok()? == id).then(|| name.to_string())
    })
}

/// The user name of a uid, or the number when /etc/passwd has none.
pub fn user_name(uid: u32) -> String {
    name_in("/etc/passwd", uid).unwrap_or_else(|| uid.to_string())
}

/// The group name of a gid, or the number when /etc/group has none.
pub fn group_name(gid: u32) -> String {
    name_in("/etc/group", gid).unwrap_or_else(|| gid.to_string())
}

/// The type of the socket bound at `addr`, from /proc/net/unix (which lists every bound
/// unix socket with its type), without connecting to it: a probe connection would be
/// accepted by a stream server as a client.
pub fn bound_kind(addr: &Addr) -> Option<Kind> {
    unix_table_entry(addr).and_then(|(kind, _)| kind)
}

/// The type and socket inode of the socket bound at `addr`, from /proc/net/unix.
fn unix_table_entry(addr: &Addr) -> Option<(Option<Kind>, u64)> {
    let wanted: Vec<Vec<u8>> = match addr {
        Addr::Abstract(name) => vec![[b"@".as_slice(), name].concat()],
        Addr::Path(p) => {
            let mut v = vec![p.as_os_str().as_bytes().to_vec()];
            if let Ok(c) = std::fs::canonicalize(p) {
                v.push(c.as_os_str().as_bytes().to_vec());
            }
            v
        }
        Addr::Tcp { .. } => return None,
    };
    let table = std::fs::read("/proc/net/unix").ok()?;
    // Num RefCount Protocol Flags Type St Inode Path: a path may hold spaces, so it is
    // everything after the seventh field.
    table.split(|&b| b == b'\n').skip(1).find_map(|line| {
        let mut rest = line;
        let mut fields = Vec::with_capacity(7);
        for _ in 0..7 {
            let start = rest.iter().position(|&b| b != b' ')?;
            rest = &rest[start..];
            let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = &rest[end..];
        }
        let path = rest.strip_prefix(b" ")?;
        if !wanted.iter().any(|w| w.as_slice() == path) {
            return None;
        }
        let kind = match fields[4] {
            b"0001" => Some(Kind::Stream),
            b"0002" => Some(Kind::Datagram),
            b"0005" => Some(Kind::SeqPacket),
            _ => None,
        };
        let inode = std::str::from_utf8(fields[6]).ok()?.parse().ok()?;
        Some((kind, inode))
    })
}

/// The process holding the socket bound at `addr`, found through /proc/*/fd: for datagram
/// sockets, whose owner SO_PEERCRED does not tell. Only processes we may inspect are seen.
pub fn socket_owner(addr: &Addr) -> Option<Cred> {
    let (_, inode) = unix_table_entry(addr)?;
    let target = format!("socket:[{inode}]");
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    let pid = pids.into_iter().find(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.filter_map(Result::ok).any(|fd| {
                std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str())
            })
        })
    })?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let id = |key: &str| -> Option<u32> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    };
    Some(Cred {
        pid,
        uid: id("Uid:")?,
        gid: id("Gid:")?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn root_and_self() {
        assert_eq!(super::user_name(0), "root");
        assert_eq!(super::user_name(4_000_000_000), "4000000000");
        assert!(super::comm(std::process::id()).is_some());
    }
}
