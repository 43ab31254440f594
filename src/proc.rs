//! Small facts about processes and users read from /proc and /etc: a pid's command name,
//! and user and group names for ids (no NSS: the files are what a local socket's owner uses).

use std::fs;

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

#[cfg(test)]
mod tests {
    #[test]
    fn root_and_self() {
        assert_eq!(super::user_name(0), "root");
        assert_eq!(super::user_name(4_000_000_000), "4000000000");
        assert!(super::comm(std::process::id()).is_some());
    }
}
