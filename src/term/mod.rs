//! What reaches the user's terminal: the colour decision (made once, in [`Ctx::new`], and
//! passed explicitly to whatever draws) and diagnostics on stderr honouring `-q`/`-v`.
//! Beside it: escaping outside strings, tables and plain columns, hexdump rows, JSON.

pub mod columns;
pub mod escape;
pub mod hexdump;
pub mod json;
pub mod table;

use std::collections::VecDeque;
use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::{Condvar, Mutex, OnceLock};

use anstyle::{AnsiColor, Style};

pub use escape::{TerminalEscaper, escape, escape_bytes, escape_c1_in_json, escape_for_terminal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// Settings every subcommand receives: decided once from the global flags and environment.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Colour on stdout (data: JSON, tables).
    pub color_stdout: bool,
    /// Colour on stderr (diagnostics, errors).
    pub color_stderr: bool,
    pub stdout_is_tty: bool,
    pub quiet: bool,
    /// `http -s`: warnings are silenced too (curl's -s), not only diagnostics.
    pub silent: bool,
    pub verbose: u8,
}

impl Ctx {
    pub fn new(when: ColorWhen, quiet: bool, verbose: u8) -> Ctx {
        let stdout_is_tty = std::io::stdout().is_terminal();
        let env_allows = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        let decide = |tty: bool| match when {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => tty && env_allows,
        };
        Ctx {
            color_stdout: decide(stdout_is_tty),
            color_stderr: decide(std::io::stderr().is_terminal()),
            stdout_is_tty,
            quiet,
            silent: false,
            verbose,
        }
    }

    /// A diagnostic line on stderr (`udskit: ...`), silenced by `-q`. Every diagnostic is
    /// one line, escaped as a whole ([`escape`]): whatever outside string it carries (a
    /// peer's command, a path, a server's text) cannot end it and forge another. The line
    /// is made only when it is shown: `format_args!` defers what its parts cost (a peer's
    /// command read from /proc, for one) until then.
    pub fn info(&self, msg: impl fmt::Display) {
        if !self.quiet {
            diagnostic(msg);
        }
    }

    /// A line shown only with `-v`.
    pub fn debug(&self, msg: impl fmt::Display) {
        if self.verbose > 0 && !self.quiet {
            diagnostic(msg);
        }
    }

    /// A warning: shown even with `-q`, since it reports something the user must know
    /// (but not with `http -s`, which asks for silence as curl's does).
    pub fn warn(&self, msg: impl AsRef<str>) {
        self.warn_hinted(msg, None);
    }

    /// A [`warn`](Ctx::warn) with its `hint:` line(s) under it, written as one (no other
    /// thread's line comes between them).
    pub fn warn_hinted(&self, msg: impl AsRef<str>, hint: Option<&str>) {
        if self.silent {
            return;
        }
        let y = paint(WARNING, self.color_stderr);
        let mut text = format!("udskit: {y}warning{y:#}: {}\n", escape(msg.as_ref()));
        if let Some(h) = hint {
            text += &hint_lines(h, self.color_stderr);
        }
        stderr_line(text);
    }
}

/// `hint: ...` lines on stderr, one per line of `hint`, each escaped.
pub fn hint_lines(hint: &str, color: bool) -> String {
    let y = paint(WARNING, color);
    hint.lines()
        .map(|line| format!("{y}hint{y:#}: {}\n", escape(line)))
        .collect()
}

/// `udskit: MSG` on stderr, escaped to one line.
fn diagnostic(msg: impl fmt::Display) {
    stderr_line(format!("udskit: {}\n", escape(&msg.to_string())));
}

/// The labels of diagnostics on stderr: `error`, and `warning` and `hint`.
pub const ERROR: Style = AnsiColor::Red.on_default().bold();
pub const WARNING: Style = AnsiColor::Yellow.on_default().bold();

/// `style` when colour is on, else the empty style, which renders as nothing: the one place
/// that turns [`Ctx`]'s decision into escape sequences (`{style}text{style:#}`).
pub fn paint(style: Style, color: bool) -> Style {
    if color { style } else { Style::new() }
}

/// Writes one diagnostic line with a single write(2): unbuffered stderr would otherwise
/// write each formatted piece separately, and the output of other processes sharing the
/// terminal (a client's data, another server's log) could land in the middle of the line.
///
/// It never blocks the caller (a server's only thread): a stderr that can stall (a pipe, a
/// terminal, a socket) is written by a thread of its own, through a queue of at most
/// [`STDERR_QUEUE`] bytes. When a line does not fit, the oldest queued lines make room: the
/// newest (a server's closing summary above all) are what a reader who comes back wants,
/// and the count of those dropped is written where they are missing.
/// A regular file or /dev/null is written in place.
pub fn stderr_line(text: impl AsRef<[u8]>) {
    let text = text.as_ref();
    static IN_PLACE: OnceLock<bool> = OnceLock::new();
    if *IN_PLACE.get_or_init(|| never_stalls(rustix::stdio::stderr())) {
        let _ = std::io::stderr().lock().write_all(text);
        return;
    }
    let queue = stderr_queue();
    let mut q = queue.state.lock().unwrap_or_else(|e| e.into_inner());
    q.push(text, STDERR_QUEUE);
    queue.more.notify_one();
}

/// Waits, at most `limit`, until every queued diagnostic line has been written: before
/// exiting (a stderr that nobody reads must not hold the exit up for longer).
pub fn flush_stderr(limit: std::time::Duration) {
    let Some(queue) = QUEUE.get() else { return };
    let deadline = std::time::Instant::now() + limit;
    let mut q = queue.state.lock().unwrap_or_else(|e| e.into_inner());
    while !q.lines.is_empty() || q.dropped > 0 || q.writing {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return;
        }
        q = match queue.written.wait_timeout(q, left) {
            Ok((q, _)) => q,
            Err(e) => e.into_inner().0,
        };
    }
}

/// The most bytes of diagnostics waiting for a stalled stderr: a few thousand log lines, or
/// a few chunks of `relay --dump`; past it lines are dropped (and counted) rather than
/// held, so that memory stays bounded however long nobody reads.
pub const STDERR_QUEUE: usize = 256 * 1024;

struct Queue {
    state: Mutex<Pending>,
    more: Condvar,
    written: Condvar,
}

#[derive(Default)]
struct Pending {
    lines: VecDeque<Vec<u8>>,
    bytes: usize,
    /// Lines taken off the front to make room, not yet reported.
    dropped: u64,
    /// The writer holds a line it has taken off the queue.
    writing: bool,
}

impl Pending {
    /// Queues `text`, first dropping the oldest lines until it fits in `limit` bytes (a
    /// single line longer than `limit` is still queued whole, alone).
    fn push(&mut self, text: &[u8], limit: usize) {
        while self.bytes + text.len() > limit {
            let Some(old) = self.lines.pop_front() else {
                break;
            };
            self.bytes -= old.len();
            // One write may hold many lines (a `--dump` chunk): the count is of lines.
            self.dropped += old.iter().filter(|&&b| b == b'\n').count().max(1) as u64;
        }
        self.bytes += text.len();
        self.lines.push_back(text.to_vec());
    }

    /// What to write next: the notice of a gap, if lines were dropped before the oldest
    /// one still queued, else that line.
    fn next(&mut self) -> Option<Vec<u8>> {
        if self.dropped > 0 {
            let n = std::mem::take(&mut self.dropped);
            let s = if n == 1 { "" } else { "s" };
            return Some(
                format!("udskit: {n} line{s} dropped: stderr was not being read\n").into(),
            );
        }
        let line = self.lines.pop_front()?;
        self.bytes -= line.len();
        Some(line)
    }
}

static QUEUE: OnceLock<Queue> = OnceLock::new();

/// The queue, and its writer thread started on first use.
fn stderr_queue() -> &'static Queue {
    QUEUE.get_or_init(|| {
        let _ = std::thread::Builder::new()
            .name("stderr".into())
            .spawn(write_queued);
        Queue {
            state: Mutex::new(Pending::default()),
            more: Condvar::new(),
            written: Condvar::new(),
        }
    })
}

fn write_queued() {
    let queue = stderr_queue();
    let mut q = queue.state.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        match q.next() {
            Some(line) => {
                q.writing = true;
                drop(q);
                let _ = std::io::stderr().lock().write_all(&line);
                q = queue.state.lock().unwrap_or_else(|e| e.into_inner());
                q.writing = false;
            }
            None => {
                queue.written.notify_all();
                q = queue.more.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        }
    }
}

/// A regular file or a memory device (/dev/null, major 1): a write(2) to it completes
/// without waiting for anyone, so it can be made from the runtime thread (stderr here,
/// stdout in `io::stdio`, where the figures behind it are named).
pub fn never_stalls(fd: impl std::os::fd::AsFd) -> bool {
    use rustix::fs::FileType;
    rustix::fs::fstat(&fd).is_ok_and(|st| match FileType::from_raw_mode(st.st_mode) {
        FileType::RegularFile => true,
        FileType::CharacterDevice => rustix::fs::major(st.st_rdev) == 1,
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::Pending;

    fn drain(q: &mut Pending) -> Vec<String> {
        std::iter::from_fn(|| q.next())
            .map(|l| String::from_utf8(l).unwrap())
            .collect()
    }

    #[test]
    fn a_full_queue_drops_its_oldest_lines_and_says_where() {
        let mut q = Pending::default();
        q.push(b"a\nb\n", 8);
        q.push(b"c\n", 8);
        q.push(b"summary\n", 8);
        assert_eq!(q.bytes, 8);
        assert_eq!(
            drain(&mut q),
            [
                "udskit: 3 lines dropped: stderr was not being read\n",
                "summary\n"
            ]
        );
        assert_eq!(q.bytes, 0);
    }

    #[test]
    fn a_line_longer_than_the_queue_is_kept_whole() {
        let mut q = Pending::default();
        q.push(b"x\n", 4);
        q.push(b"0123456789\n", 4);
        assert_eq!(
            drain(&mut q),
            [
                "udskit: 1 line dropped: stderr was not being read\n",
                "0123456789\n"
            ]
        );
    }

    #[test]
    fn lines_that_fit_are_written_in_order_without_a_notice() {
        let mut q = Pending::default();
        q.push(b"1\n", 100);
        q.push(b"2\n", 100);
        assert_eq!(drain(&mut q), ["1\n", "2\n"]);
    }
}
