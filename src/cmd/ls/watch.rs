//! `udskit ls --watch`: the listing taken again every `--interval`, compared with the one
//! before. On a terminal the table is redrawn in place, each socket that appeared, went away
//! or changed its connection count marked; piped (or with `--json`), each change is one
//! JSON object on a line of its own, flushed at once, for a script to wait on. A closed
//! stdout ends the watch with exit 0, SIGINT/SIGTERM with 130/143.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, SystemTime};

use super::listing::{Entry, collect};
use super::select::Select;
use super::{Args, Col, RIGHT, columns};
use crate::term::Ctx;
use crate::term::table::{Table, Tone};

/// How the watch reports.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub interval: Duration,
    /// JSON events (piped, or `--json`) rather than a table redrawn in place.
    pub events: bool,
    /// Leave out the sockets already there at the start (`--changes-only`).
    pub changes_only: bool,
}

/// The sockets of one refresh, by inode. Socket inodes are unique machine-wide, also across
/// network namespaces, so they stay the key when the rows name their namespace.
type Snapshot = BTreeMap<u32, Entry>;

/// For `events`, a stream or seqpacket socket bound but not listening yet is left out: it
/// refuses connections, and a server is in that state only between its bind and its
/// listen. A script waiting for the socket must hear of it once a connect can succeed. The
/// table shows it, as `ls` does.
fn snapshot(entries: Vec<Entry>, events: bool) -> Snapshot {
    entries
        .into_iter()
        .filter(|e| !(events && e.state == "bound" && e.kind != Some("datagram")))
        .filter_map(|e| Some((e.inode?, e)))
        .collect()
}

/// What happened to one socket between two refreshes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Appeared,
    Gone,
    Conns(Option<u32>),
}

/// The changes from `before` to `now`, in the listing's order (gone ones where they were).
fn changes<'a>(before: &'a Snapshot, now: &'a Snapshot) -> Vec<(&'a Entry, Change)> {
    let mut out = Vec::new();
    for (inode, e) in now {
        match before.get(inode) {
            None => out.push((e, Change::Appeared)),
            Some(old) if old.conns != e.conns => out.push((e, Change::Conns(old.conns))),
            Some(_) => {}
        }
    }
    for (inode, e) in before {
        if !now.contains_key(inode) {
            out.push((e, Change::Gone));
        }
    }
    out.sort_by(|a, b| (a.0.name.as_str(), a.0.inode).cmp(&(b.0.name.as_str(), b.0.inode)));
    out
}

/// One JSON line: `event` and `time` first, then (for `conns`) the counts before and now,
/// then the row's fields as `ls --json` has them.
fn event_line(e: &Entry, change: Change, time: &str) -> anyhow::Result<String> {
    let row = serde_json::to_string(e)?;
    let fields = row.strip_prefix('{').unwrap_or(&row);
    let head = match change {
        Change::Appeared => r#"{"event":"listen""#.to_string(),
        Change::Gone => r#"{"event":"gone""#.to_string(),
        Change::Conns(old) => format!(
            r#"{{"event":"conns","old":{},"new":{}"#,
            serde_json::to_string(&old)?,
            serde_json::to_string(&e.conns)?
        ),
    };
    Ok(format!(r#"{head},"time":"{time}",{fields}"#))
}

pub fn run(args: &Args, sel: &Select, plan: Plan, ctx: &Ctx) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(watch(args, sel, plan, ctx))
}

async fn watch(args: &Args, sel: &Select, plan: Plan, ctx: &Ctx) -> anyhow::Result<()> {
    let shutdown = crate::shutdown::Shutdown::install()?;
    let closed = StdoutClosed::new();
    let mut before: Option<Snapshot> = None;
    loop {
        let listing = collect(sel)?;
        if before.is_none() && listing.denied > 0 {
            ctx.info(format!(
                "{} processes could not be inspected (permission denied): their sockets show no pid or command; run as root to see them",
                listing.denied
            ));
        }
        let now = snapshot(listing.entries, plan.events);
        let shown = if plan.events {
            events(before.as_ref(), &now, plan)
        } else {
            Ok(redraw(before.as_ref(), &now, args, plan, ctx))
        };
        let written = shown.and_then(|text| {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(())
        });
        match written {
            Ok(()) => {}
            Err(e)
                if e.downcast_ref::<std::io::Error>()
                    .is_some_and(crate::error::is_broken_pipe) =>
            {
                return Ok(());
            }
            Err(e) => return Err(e.context("writing stdout")),
        }
        before = Some(now);
        tokio::select! {
            _ = tokio::time::sleep(plan.interval) => {}
            _ = shutdown.stopped() => return Ok(()),
            _ = closed.wait() => return Ok(()),
        }
    }
}

/// The JSON lines of one refresh: every socket as `listen` the first time (unless
/// `--changes-only`), the changes after that.
fn events(before: Option<&Snapshot>, now: &Snapshot, plan: Plan) -> anyhow::Result<String> {
    let empty = Snapshot::new();
    let changed = match before {
        None if plan.changes_only => return Ok(String::new()),
        None => changes(&empty, now),
        Some(before) => changes(before, now),
    };
    let time = crate::term::json::utc_timestamp(SystemTime::now());
    let mut out = String::new();
    for (e, change) in changed {
        out.push_str(&event_line(e, change, &time)?);
        out.push('\n');
    }
    Ok(out)
}

/// Clears the terminal and draws the table again, with a column of marks: `+` appeared,
/// `-` went away (shown this once), `~` connections changed (CONNS shows `old→new`).
fn redraw(before: Option<&Snapshot>, now: &Snapshot, args: &Args, plan: Plan, ctx: &Ctx) -> String {
    let changed: BTreeMap<u32, Change> = match before {
        Some(before) => changes(before, now)
            .into_iter()
            .filter_map(|(e, c)| Some((e.inode?, c)))
            .collect(),
        None => BTreeMap::new(),
    };
    let mut rows: Vec<&Entry> = now.values().collect();
    if let Some(before) = before {
        rows.extend(before.values().filter(|e| {
            e.inode
                .is_some_and(|i| changed.get(&i) == Some(&Change::Gone))
        }));
    }
    rows.sort_by(|a, b| (a.name.as_str(), a.inode).cmp(&(b.name.as_str(), b.inode)));
    let cols = columns(args);
    let mut header = vec![""];
    header.extend(cols.iter().map(|c| c.header()));
    let mut t = Table::new(header);
    t.right = RIGHT.iter().map(|c| c + 1).collect();
    t.rows = rows
        .iter()
        .map(|e| {
            let change = e.inode.and_then(|i| changed.get(&i)).copied();
            let mark = match change {
                None => (Cow::Borrowed(" "), Tone::Plain),
                Some(Change::Appeared) => (Cow::Borrowed("+"), Tone::Good),
                Some(Change::Gone) => (Cow::Borrowed("-"), Tone::Bad),
                Some(Change::Conns(_)) => (Cow::Borrowed("~"), Tone::Warn),
            };
            let mut row = vec![mark];
            row.extend(cols.iter().map(|c| match (c, change) {
                (Col::Conns, Some(Change::Conns(old))) => (
                    Cow::Owned(format!(
                        "{}→{}",
                        old.map_or("-".into(), |n| n.to_string()),
                        e.conns.map_or("-".into(), |n| n.to_string())
                    )),
                    Tone::Warn,
                ),
                _ => c.cell(e),
            }));
            row
        })
        .collect();
    let time = crate::term::json::utc_timestamp(SystemTime::now());
    let time = time.split('.').next().unwrap_or(&time);
    format!(
        "\x1b[H\x1b[2J\x1b[3Jevery {}, {}Z: {} (+ appeared, - went away, ~ connections changed)\n{}",
        crate::duration::show(plan.interval),
        time,
        match now.len() {
            1 => "1 socket".to_string(),
            n => format!("{n} sockets"),
        },
        t.drawn(ctx.color_stdout)
    )
}

/// Tells when the reader of stdout has gone (a pipe whose other end closed reports an
/// error condition to epoll), so that a watch with nothing to print still ends when
/// `head -1` or `grep -m1` has what it wanted. Where stdout cannot be watched (a file, a
/// terminal) it never fires: a write error ends the watch there.
struct StdoutClosed(Option<tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>>);

impl StdoutClosed {
    fn new() -> StdoutClosed {
        use std::io::IsTerminal;
        use std::os::fd::AsFd;
        let out = std::io::stdout();
        if out.is_terminal() {
            return StdoutClosed(None);
        }
        let Ok(fd) = out.as_fd().try_clone_to_owned() else {
            return StdoutClosed(None);
        };
        // SAFETY: the AsyncFd owns this descriptor (a copy of stdout's): it stays open and
        // refers to the same file description for as long as the AsyncFd lives.
        let registered = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::ERROR)
        };
        StdoutClosed(registered.ok())
    }

    async fn wait(&self) {
        match &self.0 {
            Some(fd) => loop {
                match fd.ready(tokio::io::Interest::ERROR).await {
                    Ok(guard) if guard.ready().is_error() => return,
                    Ok(mut guard) => guard.clear_ready(),
                    Err(_) => std::future::pending().await,
                }
            },
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, inode: u32, conns: Option<u32>) -> Entry {
        Entry {
            name: name.into(),
            path: Some(name.into()),
            kind: Some("stream"),
            state: "listen",
            shadowed: Some(false),
            inode: Some(inode),
            conns,
            uid: Some(0),
            ..Entry::default()
        }
    }

    #[test]
    fn changes_between_refreshes_become_json_events() {
        let before = snapshot(vec![entry("/a", 1, Some(0)), entry("/b", 2, Some(1))], true);
        let now = snapshot(vec![entry("/b", 2, Some(3)), entry("/c", 3, Some(0))], true);
        let got = changes(&before, &now);
        let got: Vec<_> = got.iter().map(|(e, c)| (e.inode.unwrap(), *c)).collect();
        assert_eq!(
            got,
            [
                (1, Change::Gone),
                (2, Change::Conns(Some(1))),
                (3, Change::Appeared)
            ]
        );
        let line = event_line(&now[&2], Change::Conns(Some(1)), "T").unwrap();
        assert!(
            line.starts_with(
                r#"{"event":"conns","old":1,"new":3,"time":"T","name":"/b","path":"/b","#
            ),
            "{line}"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["conns"], 3);
        let plan = Plan {
            interval: Duration::from_secs(1),
            events: true,
            changes_only: true,
        };
        assert_eq!(events(None, &now, plan).unwrap(), "");
        let first = events(
            None,
            &now,
            Plan {
                changes_only: false,
                ..plan
            },
        )
        .unwrap();
        assert_eq!(first.lines().count(), 2);
        assert!(first.starts_with(r#"{"event":"listen","time":"#), "{first}");
    }
}
