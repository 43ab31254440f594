//! User and group names for ids, and ids for user names, through the C library's NSS
//! lookups (getpwuid_r and friends), so users from LDAP or SSSD get their names too.

use nix::unistd::{Gid, Group, Uid, User};

/// The user name of a uid, or the number when no user has it.
pub fn user_name(uid: u32) -> String {
    match User::from_uid(Uid::from_raw(uid)) {
        Ok(Some(u)) => u.name,
        _ => uid.to_string(),
    }
}

/// The group name of a gid, or the number when no group has it.
pub fn group_name(gid: u32) -> String {
    match Group::from_gid(Gid::from_raw(gid)) {
        Ok(Some(g)) => g.name,
        _ => gid.to_string(),
    }
}

/// The uid of a user name, or a number as is.
pub fn uid_of(user: &str) -> Option<u32> {
    if let Ok(n) = user.parse() {
        return Some(n);
    }
    User::from_name(user).ok().flatten().map(|u| u.uid.as_raw())
}

/// The gid of a group name, or a number as is.
pub fn gid_of(group: &str) -> Option<u32> {
    if let Ok(n) = group.parse() {
        return Some(n);
    }
    Group::from_name(group)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw())
}

#[cfg(test)]
mod tests {
    #[test]
    fn root_and_unknown_ids() {
        assert_eq!(super::user_name(0), "root");
        assert_eq!(super::group_name(0), "root");
        assert_eq!(super::user_name(4_000_000_000), "4000000000");
        assert_eq!(super::uid_of("root"), Some(0));
        assert_eq!(super::uid_of("4242"), Some(4242));
        assert_eq!(super::uid_of("no-such-user-here"), None);
        assert_eq!(super::gid_of("root"), Some(0));
        assert_eq!(super::gid_of("no-such-group-here"), None);
    }
}
