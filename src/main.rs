//! udskit: parse, decide colour, run the subcommand, map the result to an exit code.
//!
//! The layout, top to bottom (imports only go down; docs/architecture.md has the whole
//! story and the data path of each subcommand):
//!
//! - `cli.rs`: the command line, global flags and the dispatch to a subcommand.
//! - `cmd/`: one module per subcommand, owning its `Args` and `run`; `cmd/http/`,
//!   `cmd/grpc/`, `cmd/relay/`, `cmd/ls/` and `cmd/connect/` are folders holding their private pieces
//!   (connect's reads its `-q` before clap does).
//! - `io/`: stdin and the output writers, and the stdio <-> socket bridge with half-close.
//! - `net/`: the address grammar, socket kinds and peer credentials, safe bind,
//!   connecting and `--wait`, the failure explanations, stream, listener and datagram types.
//! - `linux/`: what the kernel tells, synchronously: sock_diag and /proc/net/unix, the fd
//!   scan, process facts, user and group names.
//! - `term/`: the colour decision, escaping, tables and plain columns, hexdump, JSON.
//! - The vocabulary under all of them: `error.rs` (exit codes, hints), `shutdown.rs`
//!   (signals, and the socket files removed on every way out), `duration.rs` (DURATION),
//!   `thread.rs` (work beside this thread), `net/addr.rs` and `net/kind.rs`.

mod allocator;
mod cli;
mod cmd;
mod duration;
mod error;
mod io;
mod linux;
mod net;
mod shutdown;
mod term;
mod thread;

use clap::Parser;
use clap::error::ErrorKind;

#[cfg(feature = "page-aligned-alloc")]
#[global_allocator]
static ALLOCATOR: allocator::PageAligned = allocator::PageAligned;

fn main() {
    allocator::tune();
    let code = match cli::Cli::try_parse_from(cmd::connect::read_args(std::env::args_os())) {
        Err(e) => refused(e),
        Ok(cli) => {
            let ctx = term::Ctx::new(cli.color, cli.quiet, cli.verbose);
            match cli.command.run(&ctx) {
                Ok(()) => shutdown::exit_code().unwrap_or(error::OK),
                Err(e) => error::report(&e, ctx.color_stderr),
            }
        }
    };
    // Diagnostics still queued for a stalled stderr get a moment, not a hold on the exit.
    term::flush_stderr(std::time::Duration::from_secs(1));
    // Exit without unwinding the stdio threads: a read blocked on a terminal never returns.
    std::process::exit(code);
}

/// A command line clap refused: reported as every other error is, `udskit: error: ...` on
/// stderr, exit 2. Help and --version are no errors and print as clap prints them. The
/// colour decision comes from the command line that failed to parse, so this report is plain.
fn refused(e: clap::Error) -> i32 {
    if !e.use_stderr() || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        e.exit();
    }
    let mut text = refused_text(&e);
    let args = cmd::connect::read_args(std::env::args_os());
    let cli = <cli::Cli as clap::CommandFactory>::command();
    if let Some(hint) = cmd::connect::misplaced_hint(&args, e.kind(), &cli) {
        // clap's tip would point at --quiet, which is not what was meant.
        let mut kept = String::new();
        for l in text.lines() {
            let blank_again = l.trim().is_empty() && kept.ends_with("\n\n");
            if l.contains("a similar argument exists: '--quiet'") || blank_again {
                continue;
            }
            // clap's usage line names the argument it suggested, too.
            match l.strip_prefix("Usage: ") {
                Some(u) if u.contains(" --quiet ") => {
                    kept += &format!("Usage: {}\n", u.replacen(" --quiet ", " [OPTIONS] ", 1));
                }
                _ => kept += &format!("{l}\n"),
            }
        }
        text = kept;
        text += &format!("hint: {hint}\n");
    }
    if let Some(h) = cmd::connect::nc_hint(&e, &args, &cli) {
        text = with_hint(&text, &h);
    }
    if let Some(h) = cmd::ls::habit_hint(&e) {
        text = with_hint(&text, h);
    }
    term::stderr_line(format!("udskit: {text}"));
    e.exit_code()
}

/// Clap's report with `hint` beside the error, before its closing "For more information" line.
fn with_hint(text: &str, hint: &str) -> String {
    let at = text.find("\n\nFor more").map_or(text.len(), |i| i + 1);
    format!("{}hint: {hint}\n{}", &text[..at], &text[at..])
}

/// The report keeps clap's lines (the error, a tip, the usage), but an argument quoted in
/// it is an outside string whose newline could forge a line of its own. So the command line
/// is parsed again with each argument escaped, and that error, made of the same lines, is
/// shown; escaping the whole text instead would turn clap's own line breaks into `\n`.
fn refused_text(e: &clap::Error) -> String {
    let escaped = cmd::connect::read_args(std::env::args_os())
        .into_iter()
        .map(|a| match a.to_str() {
            Some(s) => std::ffi::OsString::from(term::escape(s).into_owned()),
            None => a,
        });
    match cli::Cli::try_parse_from(escaped) {
        Err(again) if again.kind() == e.kind() => again
            .render()
            .to_string()
            .lines()
            .map(|l| format!("{}\n", term::escape(l)))
            .collect(),
        // Escaping changed the verdict (it should not): one escaped line, as a last resort.
        _ => format!("{}\n", term::escape(e.render().to_string().trim_end())),
    }
}
