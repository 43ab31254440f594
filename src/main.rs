//! udskit: parse, decide colour, run the subcommand, map the result to an exit code.
//!
//! The layout, top to bottom (imports only go down; docs/architecture.md has the whole
//! story and the data path of each subcommand):
//!
//! - `cli.rs`: the command line, global flags and the dispatch to a subcommand.
//! - `cmd/`: one module per subcommand, owning its `Args` and `run`; `cmd/http/`,
//!   `cmd/relay/` and `cmd/ls/` are folders holding their private pieces.
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

#[global_allocator]
static ALLOCATOR: allocator::PageAligned = allocator::PageAligned;

fn main() {
    allocator::tune();
    let cli = cli::Cli::parse();
    let ctx = term::Ctx::new(cli.color, cli.quiet, cli.verbose);
    let code = match cli.command.run(&ctx) {
        Ok(()) => shutdown::exit_code().unwrap_or(error::OK),
        Err(e) => error::report(&e, ctx.color_stderr),
    };
    // Diagnostics still queued for a stalled stderr get a moment, not a hold on the exit.
    term::flush_stderr(std::time::Duration::from_secs(1));
    // Exit without unwinding the stdio threads: a read blocked on a terminal never returns.
    std::process::exit(code);
}
