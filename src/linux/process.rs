//! Small facts about a process from /proc: its command name and its effective ids.

use std::fs;

/// The command name of a process (`/proc/PID/comm`), if it still exists and we may see it.
pub fn comm(pid: u32) -> Option<String> {
    let bytes = fs::read(format!("/proc/{pid}/comm")).ok()?;
    // The kernel adds one newline; a name may end in one of its own.
    let name = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    Some(String::from_utf8_lossy(name).into_owned())
}

/// The effective uid and gid of a process (`Uid:`/`Gid:` in /proc/PID/status).
pub fn ids(pid: u32) -> Option<(u32, u32)> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |key: &str| -> Option<u32> {
        let line = s.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(2)?.parse().ok()
    };
    Some((field("Uid:")?, field("Gid:")?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn our_own_process() {
        assert!(super::comm(std::process::id()).is_some());
        assert_eq!(
            super::ids(std::process::id()).map(|(u, _)| u),
            Some(rustix::process::geteuid().as_raw())
        );
    }
}
