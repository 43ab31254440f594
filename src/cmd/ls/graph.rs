//! `udskit ls --graph dot|mermaid`: who talks to whom over unix sockets, drawn from the
//! listing's rows. Listening sockets and processes are the nodes; each server process has an
//! edge to the listener it holds, each client process one to the listener it reached,
//! labelled with its number of connections. Clients are found from the accepted side, as
//! `ls -a --peers` shows them: an accepted connection carries its listener's file (or
//! abstract name), and its peer is the client's socket, whose holders the fd scan knows.
//! A connected datagram socket's peer is the bound socket it sends to.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::listing::Entry;
use super::select::Select;

/// The language of `--graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Graphviz DOT (`| dot -Tsvg > ipc.svg`)
    Dot,
    /// A Mermaid flowchart, for a README or an issue
    Mermaid,
}

/// One end of a connection edge: a process, or a client socket that no process we could
/// read holds (another user's, without root; or one in flight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Client {
    Process(u32),
    Unseen,
}

/// A listening (or bound datagram) socket drawn as a node.
#[derive(Debug)]
pub struct Listener {
    /// The socket's inode: unique on the machine, across network namespaces too.
    pub inode: u32,
    /// The address as the listing shows it (already escaped to one line of text).
    pub name: String,
    pub kind: &'static str,
    pub shadowed: bool,
}

/// What is drawn: nodes in a stable order (listeners in the listing's order, processes by
/// pid), edges by their ends.
#[derive(Debug, Default)]
pub struct Graph {
    pub listeners: Vec<Listener>,
    pub processes: BTreeMap<u32, Option<Arc<str>>>,
    /// (server pid, listener inode).
    pub serves: BTreeSet<(u32, u32)>,
    /// (client, listener inode) -> open connections.
    pub conns: BTreeMap<(Client, u32), u32>,
}

/// What ties an accepted connection (or a datagram client) to its listener: its file, or
/// its name. An abstract name holds within one network namespace only (a client reaches
/// the listener of its own namespace, and the accepted socket is made there), so its
/// namespace is part of the key; a path is the same one from every namespace (an accepted
/// socket is made in the client's). Node ids need nothing more: socket inodes and pids, as
/// the fd scan sees them, are unique machine-wide.
#[derive(Debug, PartialEq, Eq, Hash)]
enum Key<'a> {
    File(u64, u64),
    Name(&'a str, &'static str, Option<&'a str>),
}

fn key(e: &Entry) -> Option<Key<'_>> {
    match (e.file, e.name.as_str()) {
        (Some((dev, ino)), _) => Some(Key::File(dev, ino)),
        (None, "") => None,
        (None, name) => {
            let netns = e.abstract_name.as_ref().and(e.netns.as_deref());
            Some(Key::Name(name, e.kind.unwrap_or(""), netns))
        }
    }
}

fn is_listener(e: &Entry) -> bool {
    e.state == "listen" || e.state == "bound"
}

/// The filters of `ls`, read for a graph: PATTERN and `-t` choose listeners; `-c`, `-p`
/// and `-u` keep what touches a matching process (or a listener one of them holds, or
/// one the user owns), and each shown listener keeps its servers.
struct Filter<'a> {
    sel: &'a Select,
    comms: FxHashMap<u32, Option<Arc<str>>>,
    uids: FxHashMap<u32, Option<u32>>,
}

impl Filter<'_> {
    fn by_process(&self) -> bool {
        self.sel.by_process() || !self.sel.uids.is_empty()
    }

    /// What the listener's own row says passes: its type, its name, its namespace.
    fn address_ok(&self, e: &Entry) -> bool {
        (self.sel.kinds.is_empty() || self.sel.kinds.iter().any(|k| Some(k.name()) == e.kind))
            && self.sel.name_matches(&e.name)
            && self.sel.spaces.as_ref().is_none_or(|spaces| {
                spaces
                    .iter()
                    .any(|n| e.netns.as_deref() == Some(n.label().as_str()))
            })
    }

    fn process_ok(&mut self, pid: u32) -> bool {
        let Filter { sel, comms, uids } = self;
        (!sel.by_process() || sel.process_matches(pid, comms))
            && (sel.uids.is_empty()
                || uids
                    .entry(pid)
                    .or_insert_with(|| crate::linux::process::ids(pid).map(|(u, _)| u))
                    .is_some_and(|u| sel.uids.contains(&u)))
    }

    fn listener_ok(&mut self, e: &Entry) -> bool {
        let Filter { sel, comms, .. } = self;
        (!sel.by_process()
            || e.processes
                .iter()
                .any(|o| sel.process_matches(o.pid, comms)))
            && (sel.uids.is_empty() || e.uid.is_some_and(|u| sel.uids.contains(&u)))
    }
}

/// The graph of `entries`: every socket of the machine's table with its holders and, for
/// connected ones, the holders of the other end (`ls -a --peers`).
pub fn build(entries: &[Entry], sel: &Select) -> Graph {
    let mut f = Filter {
        sel,
        comms: FxHashMap::default(),
        uids: FxHashMap::default(),
    };
    let mut by_key: HashMap<Key, usize> = HashMap::new();
    let mut by_inode: HashMap<u32, usize> = HashMap::new();
    let listeners: Vec<&Entry> = entries.iter().filter(|e| is_listener(e)).collect();
    for (i, e) in listeners.iter().enumerate() {
        if let Some(k) = key(e) {
            by_key.insert(k, i);
        }
        if let Some(inode) = e.inode {
            by_inode.insert(inode, i);
        }
    }
    // Open connections per (client, listener index), before any filter.
    let mut found: BTreeMap<(Client, usize), u32> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.state == "connected") {
        if e.kind == Some("datagram") {
            // A datagram client: its own holders send to the bound socket at its peer.
            let Some(&l) = e.peer_inode.and_then(|p| by_inode.get(&p)) else {
                continue;
            };
            if e.processes.is_empty() {
                *found.entry((Client::Unseen, l)).or_default() += 1;
            }
            for o in &e.processes {
                *found.entry((Client::Process(o.pid), l)).or_default() += 1;
            }
        } else if let Some(&l) = key(e).and_then(|k| by_key.get(&k))
            && listeners[l].state == "listen"
        {
            // An accepted connection: the client holds its peer.
            if e.peer_processes.is_empty() {
                *found.entry((Client::Unseen, l)).or_default() += 1;
            }
            for o in &e.peer_processes {
                *found.entry((Client::Process(o.pid), l)).or_default() += 1;
            }
        }
    }
    // A listener the filters pick by itself, with all its clients; the others are shown
    // only for the connections of a process they pick.
    let picked: Vec<bool> = listeners
        .iter()
        .map(|l| f.address_ok(l) && (!f.by_process() || f.listener_ok(l)))
        .collect();
    let mut shown = picked.clone();
    let mut g = Graph::default();
    let mut command_of: FxHashMap<u32, Option<Arc<str>>> = FxHashMap::default();
    for e in entries {
        for o in e.processes.iter().chain(&e.peer_processes) {
            command_of.entry(o.pid).or_insert_with(|| o.command.clone());
        }
    }
    for ((client, l), n) in found {
        let keep = f.address_ok(listeners[l])
            && (picked[l] || matches!(client, Client::Process(pid) if f.process_ok(pid)));
        if keep {
            shown[l] = true;
            g.conns.insert((client, listeners[l].inode.unwrap_or(0)), n);
        }
    }
    for (i, l) in listeners.iter().enumerate().filter(|(i, _)| shown[*i]) {
        let inode = l.inode.unwrap_or(0);
        g.listeners.push(Listener {
            inode,
            name: if l.name.is_empty() {
                "(unnamed)".into()
            } else {
                l.name.clone()
            },
            kind: l.kind.unwrap_or("?"),
            shadowed: l.shadowed == Some(true),
        });
        for o in &listeners[i].processes {
            g.serves.insert((o.pid, inode));
        }
    }
    let pids = g
        .serves
        .iter()
        .map(|(pid, _)| *pid)
        .chain(g.conns.keys().filter_map(|(c, _)| match c {
            Client::Process(pid) => Some(*pid),
            Client::Unseen => None,
        }));
    for pid in pids.collect::<Vec<_>>() {
        let command = command_of.get(&pid).cloned().flatten();
        g.processes.insert(pid, command);
    }
    g
}

/// One node's label, as lines of plain text.
fn listener_lines(l: &Listener) -> Vec<String> {
    let mut lines = vec![l.name.clone()];
    let mut notes = Vec::new();
    if l.kind != "stream" {
        notes.push(l.kind);
    }
    if l.shadowed {
        notes.push("shadowed");
    }
    if !notes.is_empty() {
        lines.push(format!("({})", notes.join(", ")));
    }
    lines
}

fn process_lines(pid: u32, command: &Option<Arc<str>>) -> Vec<String> {
    vec![
        crate::term::escape(command.as_deref().unwrap_or("?")).into_owned(),
        format!("pid {pid}"),
    ]
}

const UNSEEN_LABEL: [&str; 2] = ["clients we could not see", "(run as root)"];

fn client_id(c: Client) -> String {
    match c {
        Client::Process(pid) => format!("p{pid}"),
        Client::Unseen => "unseen".to_string(),
    }
}

fn has_unseen(g: &Graph) -> bool {
    g.conns.keys().any(|(c, _)| *c == Client::Unseen)
}

fn connections(n: u32) -> String {
    if n == 1 {
        "1 conn".into()
    } else {
        format!("{n} conns")
    }
}

impl Graph {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Dot => self.dot(),
            Format::Mermaid => self.mermaid(),
        }
    }

    /// Graphviz: clients on the left, listeners in the middle, their servers on the right
    /// (the serving edge points at the listener but is laid out the other way round).
    fn dot(&self) -> String {
        let label = |lines: &[String]| {
            lines
                .iter()
                .map(|l| dot_escape(l))
                .collect::<Vec<_>>()
                .join("\\n")
        };
        let mut out = String::from(
            "digraph udskit {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=11];\n  \
             edge [fontname=\"Helvetica\", fontsize=10];\n",
        );
        for l in &self.listeners {
            let _ = writeln!(
                out,
                "  \"s{}\" [shape=box, style=\"rounded{}\", label=\"{}\"];",
                l.inode,
                if l.shadowed { ",dashed" } else { "" },
                label(&listener_lines(l))
            );
        }
        for (pid, command) in &self.processes {
            let _ = writeln!(
                out,
                "  \"p{pid}\" [shape=ellipse, label=\"{}\"];",
                label(&process_lines(*pid, command))
            );
        }
        if has_unseen(self) {
            let lines = UNSEEN_LABEL.map(String::from);
            let _ = writeln!(
                out,
                "  \"unseen\" [shape=ellipse, style=dashed, label=\"{}\"];",
                label(&lines)
            );
        }
        for ((client, inode), n) in &self.conns {
            let _ = writeln!(
                out,
                "  \"{}\" -> \"s{inode}\" [label=\"{}\"];",
                client_id(*client),
                connections(*n)
            );
        }
        for (pid, inode) in &self.serves {
            let _ = writeln!(
                out,
                "  \"s{inode}\" -> \"p{pid}\" [dir=back, style=dashed, label=\"listens\"];"
            );
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid: a left-to-right flowchart; each server's dotted edge points at its listener.
    fn mermaid(&self) -> String {
        let label = |lines: &[String]| {
            lines
                .iter()
                .map(|l| mermaid_escape(l))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let mut out = String::from("flowchart LR\n");
        for l in &self.listeners {
            let _ = writeln!(out, "  s{}[\"{}\"]", l.inode, label(&listener_lines(l)));
        }
        for (pid, command) in &self.processes {
            let _ = writeln!(
                out,
                "  p{pid}([\"{}\"])",
                label(&process_lines(*pid, command))
            );
        }
        if has_unseen(self) {
            let lines = UNSEEN_LABEL.map(String::from);
            let _ = writeln!(out, "  unseen([\"{}\"])", label(&lines));
        }
        for ((client, inode), n) in &self.conns {
            let _ = writeln!(
                out,
                "  {} -->|{}| s{inode}",
                client_id(*client),
                connections(*n)
            );
        }
        for (pid, inode) in &self.serves {
            let _ = writeln!(out, "  p{pid} -.->|listens| s{inode}");
        }
        out
    }
}

/// Text for inside a DOT double-quoted label: `"` and `\` escaped (Graphviz reads `\n`,
/// `\l`, `\N` in labels), `&` as `&amp;` (Graphviz decodes HTML entities in every label),
/// and a control character written out as the `\u{..}` text that stands for it.
pub fn dot_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '&' => out.push_str("&amp;"),
            c if c.is_control() => {
                for e in c.escape_default() {
                    if e == '\\' {
                        out.push_str("\\\\");
                    } else {
                        out.push(e);
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Text for inside a Mermaid `"..."` label: the characters Mermaid or the HTML it renders
/// to would read as syntax become entity codes (`#quot;`, `#35;`, `#lt;` ...), and a
/// control character is written out as the `\u{..}` text that stands for it.
pub fn mermaid_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '&' => out.push_str("#amp;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '`' => out.push_str("#96;"),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::ls::listing::Owner;

    fn owner(pid: u32, command: &str) -> Owner {
        Owner {
            pid,
            command: Some(command.into()),
            fds: vec![3],
        }
    }

    fn entry(name: &str, state: &'static str, inode: u32, file: Option<(u64, u64)>) -> Entry {
        Entry {
            name: name.into(),
            abstract_name: name.strip_prefix('@').map(String::from),
            netns: Some("host".into()),
            kind: Some("stream"),
            state,
            shadowed: Some(false),
            inode: Some(inode),
            uid: Some(0),
            file,
            ..Entry::default()
        }
    }

    /// A server (pid 10) on /s with two connections from pid 20 and one from a client
    /// nobody visible holds, an abstract listener (pid 11) with one from pid 20, and a
    /// second, shadowed listener on /s (pid 12) with one from pid 21.
    fn rows() -> Vec<Entry> {
        let mut l = entry("/s", "listen", 1, Some((1, 100)));
        l.processes = vec![owner(10, "srv")];
        let mut old = entry("/s", "listen", 2, Some((1, 99)));
        old.processes = vec![owner(12, "old")];
        old.shadowed = Some(true);
        let mut a = entry("@abs", "listen", 3, None);
        a.processes = vec![owner(11, "abs")];
        let accepted = |inode, file: Option<(u64, u64)>, peer: Option<Owner>| {
            let mut e = entry(
                if file.is_some() { "/s" } else { "@abs" },
                "connected",
                inode,
                file,
            );
            e.processes = vec![owner(99, "ignored")];
            e.peer_inode = Some(inode + 1000);
            e.peer_processes = peer.into_iter().collect();
            e
        };
        vec![
            l,
            old,
            a,
            accepted(4, Some((1, 100)), Some(owner(20, "cli"))),
            accepted(5, Some((1, 100)), Some(owner(20, "cli"))),
            accepted(6, Some((1, 100)), None),
            accepted(7, Some((1, 99)), Some(owner(21, "other"))),
            accepted(8, None, Some(owner(20, "cli"))),
        ]
    }

    #[test]
    fn connections_are_counted_per_client_and_listener() {
        let g = build(&rows(), &Select::default());
        assert_eq!(g.listeners.len(), 3);
        let want: BTreeMap<(Client, u32), u32> = [
            ((Client::Process(20), 1), 2),
            ((Client::Unseen, 1), 1),
            ((Client::Process(21), 2), 1),
            ((Client::Process(20), 3), 1),
        ]
        .into();
        assert_eq!(g.conns, want);
        assert_eq!(g.serves, [(10, 1), (11, 3), (12, 2)].into());
        assert_eq!(
            g.processes.keys().copied().collect::<Vec<_>>(),
            [10, 11, 12, 20, 21]
        );
        let m = g.render(Format::Mermaid);
        assert!(m.starts_with("flowchart LR\n"), "{m}");
        assert!(m.contains("  p20 -->|2 conns| s1\n"), "{m}");
        assert!(m.contains("  unseen -->|1 conn| s1\n"), "{m}");
        assert!(m.contains("  p10 -.->|listens| s1\n"), "{m}");
        assert!(m.contains("  s2[\"/s<br>(shadowed)\"]\n"), "{m}");
        let d = g.render(Format::Dot);
        assert!(
            d.contains("  \"p20\" -> \"s1\" [label=\"2 conns\"];\n"),
            "{d}"
        );
        assert!(
            d.contains("  \"p12\" [shape=ellipse, label=\"old\\npid 12\"];\n"),
            "{d}"
        );
    }

    #[test]
    fn a_datagram_client_is_connected_to_the_bound_socket_it_sends_to() {
        let mut server = entry("/d", "bound", 9, Some((1, 7)));
        server.kind = Some("datagram");
        server.processes = vec![owner(13, "logd")];
        let mut client = entry("", "connected", 10, None);
        client.kind = Some("datagram");
        client.peer_inode = Some(9);
        client.processes = vec![owner(22, "app"), owner(23, "app")];
        let mut other = entry("", "connected", 11, None);
        other.kind = Some("datagram");
        other.peer_inode = Some(12); // a socketpair's other end: no listener
        other.processes = vec![owner(24, "pair")];
        let g = build(&[server, client, other], &Select::default());
        let want: BTreeMap<(Client, u32), u32> =
            [((Client::Process(22), 9), 1), ((Client::Process(23), 9), 1)].into();
        assert_eq!(g.conns, want);
        assert!(
            g.render(Format::Mermaid)
                .contains("  s9[\"/d<br>(datagram)\"]\n")
        );
    }

    #[test]
    fn an_abstract_name_is_one_per_namespace() {
        let in_ns = |mut e: Entry, ns: &str| {
            e.netns = Some(ns.into());
            e
        };
        let listener = |inode, pid, ns| {
            let mut l = in_ns(entry("@dup", "listen", inode, None), ns);
            l.processes = vec![owner(pid, "srv")];
            l
        };
        let accepted = |inode, client, ns| {
            let mut e = in_ns(entry("@dup", "connected", inode, None), ns);
            e.peer_processes = vec![owner(client, "cli")];
            e
        };
        let rows = vec![
            listener(30, 40, "host"),
            listener(31, 41, "4026532"),
            accepted(32, 50, "host"),
            accepted(33, 51, "4026532"),
            accepted(34, 51, "4026532"),
        ];
        let g = build(&rows, &Select::default());
        let want: BTreeMap<(Client, u32), u32> = [
            ((Client::Process(50), 30), 1),
            ((Client::Process(51), 31), 2),
        ]
        .into();
        assert_eq!(g.conns, want);
        // --netns picks the listeners of that namespace (with clients from anywhere).
        let sel = Select {
            spaces: Some(vec![crate::linux::netns::NetNs {
                inode: Some(4026532),
                pids: vec![41],
                ours: false,
            }]),
            ..Select::default()
        };
        let g = build(&rows, &sel);
        assert_eq!(
            g.listeners.iter().map(|l| l.inode).collect::<Vec<_>>(),
            [31]
        );
        assert_eq!(g.conns.len(), 1);
    }

    #[test]
    fn filters_keep_what_touches_the_matching_processes() {
        let sel = Select {
            pids: vec![21],
            ..Select::default()
        };
        let g = build(&rows(), &sel);
        // pid 21's connection, its listener, and that listener's server.
        assert_eq!(g.listeners.iter().map(|l| l.inode).collect::<Vec<_>>(), [2]);
        assert_eq!(g.conns.len(), 1);
        assert_eq!(g.serves, [(12, 2)].into());
        let sel = Select {
            pids: vec![10],
            ..Select::default()
        };
        let g = build(&rows(), &sel);
        // pid 10's listener with all its clients.
        assert_eq!(g.listeners.iter().map(|l| l.inode).collect::<Vec<_>>(), [1]);
        assert_eq!(g.conns.len(), 2);
        let sel = Select {
            pattern: Some(super::super::select::parse_name_filter("@*").unwrap()),
            ..Select::default()
        };
        let g = build(&rows(), &sel);
        assert_eq!(g.listeners.iter().map(|l| l.inode).collect::<Vec<_>>(), [3]);
        assert_eq!(g.processes.keys().copied().collect::<Vec<_>>(), [11, 20]);
    }

    #[test]
    fn labels_are_escaped_for_each_language() {
        let name = "/t/a\"b\\c&#35;<x>`\u{1b}é\\xff";
        assert_eq!(
            dot_escape(name),
            "/t/a\\\"b\\\\c&amp;#35;<x>`\\\\u{1b}é\\\\xff"
        );
        assert_eq!(
            mermaid_escape(name),
            "/t/a#quot;b\\c#amp;#35;35;#lt;x#gt;#96;\\u{1b}é\\xff"
        );
    }
}
