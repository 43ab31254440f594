//! What `udskit ls` lists: types, states, processes, users and the address pattern, as the
//! command line asked for them.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::linux::container::Container;
use crate::linux::netns::NetNs;
use crate::net::kind::Kind;

/// What to list.
#[derive(Debug, Default)]
pub struct Select {
    pub all: bool,
    pub peers: bool,
    pub kinds: Vec<Kind>,
    pub commands: Vec<String>,
    pub pids: Vec<u32>,
    pub uids: Vec<u32>,
    pub pattern: Option<NameFilter>,
    /// Mode, owner and group of each socket file are wanted (`-l`, `--json`); without them
    /// shadow detection can read a directory once instead of stat-ing each file in it.
    pub file_facts: bool,
    /// The network namespaces to read (`--netns`); `None`: every one seen.
    pub spaces: Option<Vec<NetNs>>,
}

impl Select {
    pub fn by_process(&self) -> bool {
        !self.commands.is_empty() || !self.pids.is_empty()
    }

    /// Whether the fd scan needs to read this process: with -c/-p only the matching ones
    /// (their command names are cheap to read, their fd tables are not), unless `--peers`
    /// must find the other ends everywhere.
    pub fn wants_process(&self, pid: u32) -> bool {
        if !self.by_process() || self.peers {
            return true;
        }
        self.process_matches(pid, &mut FxHashMap::default())
    }

    pub fn process_matches(&self, pid: u32, comms: &mut FxHashMap<u32, Option<Arc<str>>>) -> bool {
        if self.pids.contains(&pid) {
            return true;
        }
        !self.commands.is_empty()
            && comms
                .entry(pid)
                .or_insert_with(|| command(pid))
                .as_deref()
                .is_some_and(|c| self.commands.iter().any(|n| c.starts_with(n.as_str())))
    }

    pub fn name_matches(&self, shown: &str) -> bool {
        match &self.pattern {
            None => true,
            Some(NameFilter::Glob(g)) => g.matches(shown),
            Some(NameFilter::Substring(s)) => shown.contains(s.as_str()),
        }
    }
}

/// A process's command name as it is (the JSON's); the table and graph escape it.
pub fn command(pid: u32) -> Option<Arc<str>> {
    crate::linux::process::comm(pid).map(Into::into)
}

/// `ls PATTERN`: a substring of the address as shown, or a shell-style glob over the whole
/// of it when it holds `*`, `?` or `[` (`*` crosses `/`, `?` is one character).
#[derive(Debug, Clone)]
pub enum NameFilter {
    Glob(glob::Pattern),
    Substring(String),
}

/// The clap value parser of PATTERN: a glob that does not compile is a usage error.
pub fn parse_name_filter(s: &str) -> Result<NameFilter, String> {
    if !s.contains(['*', '?', '[']) {
        return Ok(NameFilter::Substring(s.to_string()));
    }
    glob::Pattern::new(s).map(NameFilter::Glob).map_err(|e| {
        format!(
            "not a valid glob: {} at character {} (write [[] for a literal [)",
            e.msg,
            e.pos + 1
        )
    })
}

/// `--netns NS`: which network namespace to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetnsArg {
    /// `host`: ours.
    Host,
    /// The namespace's inode, as the NETNS column shows it.
    Inode(u64),
    /// `pid:N`: the namespace process N is in.
    Pid(u32),
    /// A container's name, or a prefix of its id.
    Container(String),
}

impl std::fmt::Display for NetnsArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetnsArg::Host => f.write_str("host"),
            NetnsArg::Inode(i) => write!(f, "{i}"),
            NetnsArg::Pid(p) => write!(f, "pid:{p}"),
            NetnsArg::Container(c) => f.write_str(&crate::term::escape(c)),
        }
    }
}

/// The clap value parser of `--netns`.
pub fn parse_netns(s: &str) -> Result<NetnsArg, String> {
    if s == "host" {
        return Ok(NetnsArg::Host);
    }
    if let Some(pid) = s.strip_prefix("pid:") {
        return pid
            .parse()
            .map(NetnsArg::Pid)
            .map_err(|_| format!("'pid:{pid}' needs a process id, e.g. pid:1234"));
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map(NetnsArg::Inode)
            .map_err(|_| format!("'{s}' is too big for a namespace inode"));
    }
    if s.is_empty() {
        return Err(
            "give host, a namespace inode, pid:PID, or a container's name or id prefix".into(),
        );
    }
    Ok(NetnsArg::Container(s.to_string()))
}

impl NetnsArg {
    /// Whether namespace `ns` (in container `c`, if any) is the one this names.
    pub fn matches(&self, ns: &NetNs, c: Option<&Container>) -> bool {
        match self {
            NetnsArg::Host => ns.ours,
            NetnsArg::Inode(i) => ns.inode == Some(*i),
            NetnsArg::Pid(p) => ns.pids.contains(p),
            NetnsArg::Container(want) => c.is_some_and(|c| {
                c.name.as_deref() == Some(want.as_str())
                    || (want.bytes().all(|b| b.is_ascii_hexdigit()) && c.id.starts_with(want))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, name: &str) -> bool {
        let sel = Select {
            pattern: Some(parse_name_filter(pattern).unwrap()),
            ..Select::default()
        };
        sel.name_matches(name)
    }

    #[test]
    fn globs_match_characters_and_substrings_match_anywhere() {
        assert!(matches("*.sock", "/tmp/a.sock"));
        assert!(!matches("*.sock", "/tmp/a.socket"));
        assert!(matches("/run/*/x", "/run/a/b/x"));
        assert!(matches("@foo?", "@foo1"));
        assert!(matches("a?b", "aéb"));
        assert!(matches("[ab]*", "b.sock"));
        assert!(!matches("[!ab]*", "b.sock"));
        assert!(matches("x[0-9]", "x7"));
        assert!(!matches("x[0-9]", "xa"));
        assert!(matches("*", ""));
        assert!(matches("a[[]b*", "a[bc"));
        assert!(matches("docker", "/run/docker.sock"));
        assert!(!matches("docker", "/run/containerd.sock"));
        assert!(parse_name_filter("a[b*").is_err());
    }

    #[test]
    fn netns_forms() {
        assert_eq!(parse_netns("host"), Ok(NetnsArg::Host));
        assert_eq!(parse_netns("4026532281"), Ok(NetnsArg::Inode(4026532281)));
        assert_eq!(parse_netns("pid:42"), Ok(NetnsArg::Pid(42)));
        assert!(parse_netns("pid:x").is_err());
        assert!(parse_netns("").is_err());
        assert_eq!(
            parse_netns("3f4e1c"),
            Ok(NetnsArg::Container("3f4e1c".into()))
        );
        let ns = NetNs {
            inode: Some(7),
            pids: vec![10, 11],
            ours: false,
        };
        let c = Container {
            runtime: "docker",
            id: "3f4e1c0a".into(),
            name: Some("web".into()),
        };
        assert!(NetnsArg::Container("3f4e".into()).matches(&ns, Some(&c)));
        assert!(NetnsArg::Container("web".into()).matches(&ns, Some(&c)));
        assert!(!NetnsArg::Container("we".into()).matches(&ns, Some(&c)));
        assert!(NetnsArg::Pid(11).matches(&ns, None));
        assert!(NetnsArg::Inode(7).matches(&ns, None));
        assert!(!NetnsArg::Host.matches(&ns, None));
    }
}
