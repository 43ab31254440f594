//! `udskit ls [PATTERN]`: who listens where. The listing itself is built in listing.rs;
//! this module holds the options, turns them into a selection, and prints a table or JSON.

mod graph;
mod listing;
mod pick;
mod select;
mod shadow;
mod stale;
mod watch;

use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;

use crate::error::Fail;
use crate::net::kind::Kind;
use crate::term::Ctx;
use crate::term::table::{Table, Tone};
use listing::{Entry, Owner};
use select::{NameFilter, NetnsArg, Select, parse_name_filter, parse_netns};

/// List listening unix sockets: path, type, state, processes, user, connections
///
/// Lists the unix sockets that serve: stream and seqpacket sockets that listen (or are bound
/// and about to), and bound datagram sockets. Abstract names are shown as @NAME; a path
/// that itself starts with @ is shown as ./@NAME. A listener whose path now leads to
/// another file or to nothing is marked "(shadowed)": clients connecting to that path no
/// longer reach it. One whose path leads to it only in the mount namespace of the process
/// holding it (a container, unshare -m) is marked "(mntns:PID)" instead.
///
/// Every network namespace a process is seen in is listed (NETNS: host for ours, else the
/// namespace's inode; CONTAINER: a Docker or podman container's name or short id). As root
/// udskit enters each one to ask sock_diag there; otherwise it reads their /proc/PID/net/unix
/// (without the socket files' identities: no shadowing, mode or queue for those rows).
/// --netns picks namespaces.
///
/// --stale never lists a live socket: a file that no socket in the namespaces read is
/// bound to is connected to once, as safe bind does; it is stale if that is refused, and
/// "unknown" (with the reason in --json) if no connect could be made.
///
/// PATTERN selects by address: a substring, or a glob when it holds *, ? or [ (matched
/// against the whole address as shown, e.g. '@*' for abstract names).
///
/// On a terminal the listing is a table; piped, it is plain columns for awk (PATH last:
/// it may contain spaces). Without root, sockets of other users' processes are listed
/// without their pid and command, and one line on stderr says how many were hidden.
///
/// A PATTERN or filter (-c, -p, -u, -t) that matches nothing exits 1, as lsof does, with
/// a line on stderr unless -q; without a filter an empty listing exits 0.
///
/// ss and lsof habits: ss's -l (listening) is what ls lists anyway, and -l here adds
/// columns; -a is ss's -a; ss's -p (show processes) is always on, and -p PID selects a
/// process as lsof's -p does; lsof's -t (pids only) is --pids; -x, -U and -n are
/// accepted and change nothing (only unix sockets, no host names to resolve).
///
/// --graph dot|mermaid draws who connects to which listener (the filters keep what touches
/// the processes and listeners they pick). --watch takes the listing again every
/// --interval: on a terminal the table is redrawn with + (appeared), - (went away) and ~
/// (connections changed) marks; piped, each change is one JSON object on a line (event
/// listen, gone or conns), the sockets already there first unless --changes-only.
///
/// Example:
///   udskit ls -l /run
///   udskit ls --graph dot | dot -Tsvg > ipc.svg
///   udskit ls --watch /run/app.sock | grep -m1 '"event":"listen"'
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Only addresses containing PATTERN (a glob if it holds *, ? or [)
    #[arg(value_name = "PATTERN", value_parser = parse_name_filter)]
    pub pattern: Option<NameFilter>,
    /// Add inode, descriptor numbers, accept queue, socket file mode and owner:group
    #[arg(short, long)]
    pub long: bool,
    /// All unix sockets: also connected and unnamed ones
    #[arg(short, long)]
    pub all: bool,
    /// With -a: show the process at the other end of each connected socket
    #[arg(long, requires = "all")]
    pub peers: bool,
    /// Only sockets held by a process whose command name starts with NAME (repeatable)
    #[arg(short, long = "command", value_name = "NAME")]
    pub command: Vec<String>,
    /// Only sockets held by process PID (repeatable)
    #[arg(short, long, value_name = "PID")]
    pub pid: Vec<u32>,
    /// Only sockets owned by USER (a name or uid; repeatable)
    #[arg(short, long, value_name = "USER")]
    pub user: Vec<String>,
    /// Only sockets of this type (repeatable)
    #[arg(short = 't', long = "type", value_name = "TYPE", value_enum)]
    pub kind: Vec<TypeArg>,
    /// Instead: socket files under DIR (default /tmp /run /var/run) that no socket is bound to
    #[arg(long, value_name = "DIR", num_args = 0.., conflicts_with_all = ["all", "peers", "command", "pid", "kind"])]
    pub stale: Option<Vec<PathBuf>>,
    /// Print a JSON array (keys listed in the README) instead of a table
    #[arg(long)]
    pub json: bool,
    /// Instead: draw who connects to which listener, as Graphviz DOT or a Mermaid flowchart
    #[arg(long, value_name = "FORMAT", value_enum, conflicts_with_all = ["stale", "json", "long", "all", "peers", "watch"])]
    pub graph: Option<graph::Format>,
    /// Take the listing again every --interval: a table redrawn in place, or JSON events when piped (or with --json)
    #[arg(long, conflicts_with = "stale")]
    pub watch: bool,
    /// With --watch: the time between two listings (a DURATION, e.g. 500ms)
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = crate::duration::positive, requires = "watch")]
    pub interval: std::time::Duration,
    /// With --watch: report changes only, not the sockets already there at the start
    #[arg(long, requires = "watch")]
    pub changes_only: bool,
    /// Print only the pids holding the listed sockets, one per line (lsof's -t)
    #[arg(long, conflicts_with_all = ["json", "stale", "graph", "watch"])]
    pub pids: bool,
    /// Unix sockets only, which is all ls lists (ss's -x; also -U, lsof's, and -n)
    #[arg(short = 'x', short_aliases = ['U', 'n'], overrides_with = "unix")]
    pub unix: bool,
    /// Only network namespace NS: host, its inode, pid:PID, a container name or id prefix (repeatable)
    #[arg(long, value_name = "NS", value_parser = parse_netns, conflicts_with = "stale")]
    pub netns: Vec<NetnsArg>,
}

/// For a command line clap refused, the ss or lsof habit behind it, in words naming the
/// udskit spelling: `ls -xlp` (ss's -p shows processes; here -p takes a PID) and `ls -t`
/// (lsof's terse pids; here -t takes a TYPE).
pub fn habit_hint(e: &clap::Error) -> Option<&'static str> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    // A value missing or refused; the options are ls's alone.
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(arg)) = e.get(ContextKind::InvalidArg) else {
        return None;
    };
    if arg == "--pid <PID>" {
        Some(
            "ss's -p (show processes) is always on in udskit ls: leave it out; -p PID selects \
             the sockets of one process, as lsof's -p does",
        )
    } else if arg == "--type <TYPE>" {
        Some(
            "lsof's -t (pids only) is --pids in udskit ls, as in `kill $(udskit ls --pids \
             PATTERN)`; -t TYPE selects stream, seqpacket or datagram sockets",
        )
    } else {
        None
    }
}

/// What the command line selects by, as written (empty: no filter), for the line that
/// says nothing matched.
fn filters(args: &Args) -> Vec<String> {
    let mut f = Vec::new();
    if let Some(p) = &args.pattern {
        f.push(match p {
            NameFilter::Glob(g) => g.as_str().to_string(),
            NameFilter::Substring(s) => s.clone(),
        });
    }
    f.extend(args.command.iter().map(|c| format!("-c {c}")));
    f.extend(args.pid.iter().map(|p| format!("-p {p}")));
    f.extend(args.user.iter().map(|u| format!("-u {u}")));
    f.extend(args.kind.iter().map(|k| format!("-t {}", k.name())));
    f
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TypeArg {
    Stream,
    Seqpacket,
    #[value(alias = "dgram")]
    Datagram,
}

impl TypeArg {
    fn name(self) -> &'static str {
        match self {
            TypeArg::Stream => "stream",
            TypeArg::Seqpacket => "seqpacket",
            TypeArg::Datagram => "datagram",
        }
    }
}

pub fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let uids = args
        .user
        .iter()
        .map(|u| {
            crate::linux::users::uid_of(u)
                .ok_or_else(|| Fail::usage(format!("no such user: {}", crate::term::escape(u))))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let sel = Select {
        all: args.all,
        peers: args.peers,
        kinds: args
            .kind
            .iter()
            .map(|k| match k {
                TypeArg::Stream => Kind::Stream,
                TypeArg::Seqpacket => Kind::SeqPacket,
                TypeArg::Datagram => Kind::Datagram,
            })
            .collect(),
        commands: args.command.clone(),
        pids: args.pid.clone(),
        uids,
        pattern: args.pattern.clone(),
        file_facts: args.long || args.json || (args.watch && !ctx.stdout_is_tty),
        spaces: chosen_netns(&args.netns)?,
    };
    if let Some(format) = args.graph {
        return draw(format, &sel, ctx);
    }
    if args.watch {
        let plan = watch::Plan {
            interval: args.interval,
            events: args.json || !ctx.stdout_is_tty,
            changes_only: args.changes_only,
        };
        return watch::run(&args, &sel, plan, ctx);
    }
    // Other namespaces read from /proc (not root): their sockets have no file identity, so
    // PATTERN cannot match a container's socket by where its file is here.
    let mut unentered = false;
    let entries = match &args.stale {
        Some(dirs) => {
            let dirs = if dirs.is_empty() {
                ["/tmp", "/run", "/var/run"].map(PathBuf::from).to_vec()
            } else {
                for d in dirs {
                    let why = match std::fs::metadata(d) {
                        Ok(m) if m.is_dir() => continue,
                        Ok(_) => "is not a directory".to_string(),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            "does not exist".to_string()
                        }
                        Err(e) => format!("cannot be looked at: {e}"),
                    };
                    let shown = crate::term::escape(&d.display().to_string()).into_owned();
                    return Err(Fail::new(1, format!("--stale: {shown} {why}")).into());
                }
                dirs.clone()
            };
            let found = stale::stale(&dirs, &sel)?;
            for (path, pid) in &found.live_unseen {
                let by = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
                ctx.debug(format!(
                    "{} is live{by}: it accepts a connect, though no socket udskit could read is \
                     bound to it",
                    crate::term::escape(&path.display().to_string())
                ));
            }
            let unknown = found
                .entries
                .iter()
                .filter(|e| e.state == "unknown")
                .count();
            if unknown > 0 {
                ctx.info(format!(
                    "{unknown} socket files could not be judged (no connect was possible): \
                     listed as unknown, --json gives the reason"
                ));
            }
            unreadable_note(found.unreadable_netns, ctx);
            if let Some(first) = found.unreadable_dirs.first() {
                let others = match found.unreadable_dirs.len() - 1 {
                    0 => String::new(),
                    n => format!(" and {n} more"),
                };
                ctx.info(format!(
                    "{}{others} could not be read (permission denied): the socket files there \
                     were not judged; run as root to see them",
                    crate::term::escape(&first.display().to_string())
                ));
            }
            found.entries
        }
        None => {
            let l = listing::collect(&sel)?;
            if l.source == crate::linux::diag::Source::ProcNetUnix {
                ctx.debug(
                    "sock_diag is unavailable: read /proc/net/unix (no shadow detection, accept \
                     queues or peers)",
                );
            }
            unreadable_note(l.unreadable_netns, ctx);
            unentered = l.unentered_netns > 0;
            if l.unentered_netns > 0 {
                ctx.debug(format!(
                    "{} other network namespaces were read from /proc (not root: they cannot be \
                     entered): their sockets show no shadowing, mode or accept queue",
                    l.unentered_netns
                ));
            }
            if l.denied > 0 {
                ctx.info(format!(
                    "{} processes could not be inspected (permission denied): their sockets show no pid or command; run as root to see them",
                    l.denied
                ));
            }
            l.entries
        }
    };
    let mut stdout = std::io::stdout().lock();
    let pids = args.pids.then(|| {
        let mut p: Vec<u32> = entries
            .iter()
            .flat_map(|e| e.processes.iter().map(|o| o.pid))
            .collect();
        p.sort_unstable();
        p.dedup();
        p
    });
    let listed = pids.as_ref().map_or(entries.len(), Vec::len);
    let written = if let Some(pids) = &pids {
        let text: String = pids.iter().map(|p| format!("{p}\n")).collect();
        stdout.write_all(text.as_bytes())
    } else if args.json {
        let mut s = if ctx.stdout_is_tty {
            serde_json::to_string_pretty(&entries)?
        } else {
            serde_json::to_string(&entries)?
        };
        s.push('\n');
        stdout.write_all(s.as_bytes())
    } else if ctx.stdout_is_tty {
        stdout.write_all(table(&entries, &args, ctx).as_bytes())
    } else {
        plain(&entries, &args, &mut stdout)
    };
    // The process exits right after: freeing thousands of entries one by one is wasted time.
    std::mem::forget(entries);
    if let Err(e) = written
        && !crate::error::is_broken_pipe(&e)
    {
        return Err(anyhow::Error::from(e).context("writing stdout"));
    }
    let filters = filters(&args);
    if listed == 0 && !filters.is_empty() {
        let what = if args.pids { "no process" } else { "no socket" };
        ctx.info(format!("{what} matches {}", filters.join(" ")));
        if unentered && args.pattern.is_some() && !ctx.quiet {
            crate::term::stderr_line(crate::term::hint_lines(
                "a socket of another network namespace matches PATTERN by its name there; by \
                 where its file is here (a container's bind mount) only when udskit runs as root",
                ctx.color_stderr,
            ));
        }
        return Err(crate::error::Reported(crate::error::FAILURE).into());
    }
    Ok(())
}

/// `--graph`: every socket and both ends of each connection are listed (`-a --peers`), the
/// graph made of them, and the filters of `sel` applied to the graph.
fn draw(format: graph::Format, sel: &Select, ctx: &Ctx) -> anyhow::Result<()> {
    let everything = Select {
        all: true,
        peers: true,
        ..Select::default()
    };
    let l = listing::collect(&everything)?;
    if l.source == crate::linux::diag::Source::ProcNetUnix {
        ctx.warn(
            "sock_diag is unavailable: /proc/net/unix names no peers, so no connection can be drawn",
        );
    }
    if l.denied > 0 {
        ctx.info(format!(
            "{} processes could not be inspected (permission denied): they are not drawn, and a client among them is one of the 'clients we could not see'; run as root to see them",
            l.denied
        ));
    }
    let text = graph::build(&l.entries, sel).render(format);
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Err(e) if !crate::error::is_broken_pipe(&e) => {
            Err(anyhow::Error::from(e).context("writing stdout"))
        }
        _ => Ok(()),
    }
}

/// The namespaces `--netns` names (`None` without it: every one), each of them required
/// to name one.
fn chosen_netns(wanted: &[NetnsArg]) -> anyhow::Result<Option<Vec<crate::linux::netns::NetNs>>> {
    if wanted.is_empty() {
        return Ok(None);
    }
    let all = crate::linux::netns::namespaces();
    let containers: Vec<_> = all
        .iter()
        .map(|ns| (!ns.ours).then(|| ns.container()).flatten())
        .collect();
    let mut chosen = Vec::new();
    for w in wanted {
        let mut any = false;
        for (ns, c) in all.iter().zip(&containers) {
            if w.matches(ns, c.as_ref()) {
                any = true;
                if !chosen
                    .iter()
                    .any(|n: &crate::linux::netns::NetNs| n.pids == ns.pids)
                {
                    chosen.push(ns.clone());
                }
            }
        }
        if !any {
            let hint = if rustix::process::geteuid().is_root() {
                "udskit ls shows each namespace in its NETNS and CONTAINER columns"
            } else {
                "udskit ls shows each namespace in its NETNS and CONTAINER columns; other \
                 users' processes (and their namespaces) are seen only as root"
            };
            return Err(
                Fail::new(1, format!("--netns {w}: no network namespace matches"))
                    .hint(hint)
                    .into(),
            );
        }
    }
    // Ours first, as every listing has it.
    chosen.sort_by_key(|n| !n.ours);
    Ok(Some(chosen))
}

fn unreadable_note(n: usize, ctx: &Ctx) {
    if n > 0 {
        ctx.info(format!(
            "{n} network namespaces could not be read (/proc denied it): their sockets are \
             not listed"
        ));
    }
}

fn or_dash<T: ToString>(v: Option<T>) -> Cow<'static, str> {
    v.map_or(Cow::Borrowed("-"), |v| Cow::Owned(v.to_string()))
}

/// One value per process (borrowed when there is one process, the usual case), "-" for none.
fn joined<'a>(owners: &'a [Owner], f: impl Fn(&'a Owner) -> Cow<'a, str>) -> Cow<'a, str> {
    match owners {
        [] => Cow::Borrowed("-"),
        [one] => f(one),
        many => {
            let mut parts: Vec<Cow<str>> = many.iter().map(f).collect();
            parts.dedup();
            Cow::Owned(parts.join(","))
        }
    }
}

/// The columns of the listing, in order.
#[derive(Debug, Clone, Copy)]
enum Col {
    Type,
    State,
    Conns,
    Queue,
    Pid,
    Command,
    Fd,
    User,
    Netns,
    Container,
    Inode,
    Mode,
    Owner,
    Peer,
    Path,
}

impl Col {
    fn header(self) -> &'static str {
        match self {
            Col::Type => "TYPE",
            Col::State => "STATE",
            Col::Conns => "CONNS",
            Col::Queue => "QUEUE",
            Col::Pid => "PID",
            Col::Command => "COMMAND",
            Col::Fd => "FD",
            Col::User => "USER",
            Col::Netns => "NETNS",
            Col::Container => "CONTAINER",
            Col::Inode => "INODE",
            Col::Mode => "MODE",
            Col::Owner => "OWNER",
            Col::Peer => "PEER",
            Col::Path => "PATH",
        }
    }

    /// What this column shows for one entry, and how it stands out.
    fn cell(self, e: &Entry) -> (Cow<'_, str>, Tone) {
        fn plain(c: Cow<'_, str>) -> (Cow<'_, str>, Tone) {
            (c, Tone::Plain)
        }
        let dash = || Cow::Borrowed("-");
        match self {
            Col::Type => plain(e.kind.map_or(dash(), Cow::Borrowed)),
            Col::State => match (e.state, e.shadowed, e.mntns_pid) {
                ("stale" | "unknown", _, _) => (e.state.into(), Tone::Warn),
                (s, Some(true), _) => (format!("{s}(shadowed)").into(), Tone::Bad),
                (s, _, Some(pid)) => (format!("{s}(mntns:{pid})").into(), Tone::Good),
                (s, None, _) if e.reason.is_some() => {
                    (format!("{s}(shadowed?)").into(), Tone::Warn)
                }
                ("listen" | "bound", _, _) => (e.state.into(), Tone::Good),
                (s, _, _) => plain(s.into()),
            },
            Col::Conns => plain(or_dash(e.conns)),
            Col::Queue => plain(
                e.queue
                    .zip(e.backlog)
                    .map_or(dash(), |(q, b)| format!("{q}/{b}").into()),
            ),
            Col::Pid => plain(joined(&e.processes, |o| o.pid.to_string().into())),
            Col::Command => plain(joined(&e.processes, |o| {
                crate::term::escape(o.command.as_deref().unwrap_or("?"))
            })),
            Col::Fd => plain(joined(&e.processes, |o| {
                o.fds
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
                    .into()
            })),
            Col::User => plain(e.user.as_deref().map_or(dash(), Cow::Borrowed)),
            Col::Netns => plain(e.netns.as_deref().map_or(dash(), Cow::Borrowed)),
            Col::Container => plain(
                e.container
                    .as_deref()
                    .map_or(dash(), |c| Cow::Borrowed(c.shown())),
            ),
            Col::Inode => plain(or_dash(e.inode)),
            Col::Mode => plain(e.mode.as_deref().map_or(dash(), |m| mode_letters(m).into())),
            Col::Owner => plain(
                e.owner
                    .as_ref()
                    .zip(e.group.as_ref())
                    .map_or(dash(), |(o, g)| format!("{o}:{g}").into()),
            ),
            Col::Peer => plain(if e.peer_processes.is_empty() {
                e.peer_inode.map_or(dash(), |i| format!("inode:{i}").into())
            } else {
                joined(&e.peer_processes, |o| {
                    let command = o.command.as_deref().unwrap_or("?");
                    format!("{}/{}", o.pid, crate::term::escape(command)).into()
                })
            }),
            Col::Path if e.name.is_empty() => plain(dash()),
            Col::Path => plain(Cow::Borrowed(e.name.as_str())),
        }
    }
}

fn columns(args: &Args) -> Vec<Col> {
    let mut cols = vec![Col::Type, Col::State, Col::Conns];
    if args.long {
        cols.push(Col::Queue);
    }
    cols.extend([Col::Pid, Col::Command]);
    if args.long {
        cols.push(Col::Fd);
    }
    cols.extend([Col::User, Col::Netns, Col::Container]);
    if args.long {
        cols.extend([Col::Inode, Col::Mode, Col::Owner]);
    }
    if args.peers {
        cols.push(Col::Peer);
    }
    cols.push(Col::Path);
    cols
}

const RIGHT: [usize; 1] = [2]; // CONNS

/// The listing as plain columns, computed cell by cell, without holding a table of 10,000
/// rows in memory (its page faults and allocations were a tenth of the run time at 10,000
/// sockets).
fn plain(entries: &[Entry], args: &Args, out: &mut dyn Write) -> std::io::Result<()> {
    let cols = columns(args);
    let header: Vec<&'static str> = cols.iter().map(|c| c.header()).collect();
    crate::term::columns::plain_columns(
        &header,
        &RIGHT,
        entries.len(),
        |r, c| cols[c].cell(&entries[r]).0,
        out,
    )
}

/// The listing as a table, for a terminal.
fn table(entries: &[Entry], args: &Args, ctx: &Ctx) -> String {
    let cols = columns(args);
    let mut t = Table::new(cols.iter().map(|c| c.header()).collect());
    t.right = RIGHT.to_vec();
    t.rows = entries
        .iter()
        .map(|e| cols.iter().map(|c| c.cell(e)).collect())
        .collect();
    t.render(ctx)
}

/// `srwxr-x---` from the "0750" of an entry.
fn mode_letters(octal: &str) -> String {
    crate::net::explain::mode_string(u32::from_str_radix(octal, 8).unwrap_or(0))
}
