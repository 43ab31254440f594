//! What `udskit ls` lists: types, states, processes, users and the address pattern, as the
//! command line asked for them.

use std::sync::Arc;

use rustc_hash::FxHashMap;

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

/// A process's command name, escaped for the terminal.
pub fn command(pid: u32) -> Option<Arc<str>> {
    crate::linux::process::comm(pid).map(|c| crate::term::escape(&c).into())
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
}
