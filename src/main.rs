//! udskit: parse, decide colour, run the subcommand, map the result to an exit code.

mod addr;
mod allocator;
mod cli;
mod cmd;
mod columns;
mod copy;
mod demux;
mod dgram;
mod diag;
mod dump;
mod duration;
mod error;
mod exchange;
mod glob;
mod idhash;
mod jsonstream;
mod listing;
mod output;
mod par;
mod pick;
mod proc;
mod pump;
mod reach;
mod request;
mod response;
mod shadow;
mod shutdown;
mod socket;
mod stale;
mod stdio;
mod stream;
mod upgrade;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: allocator::PageAligned = allocator::PageAligned;

fn main() {
    allocator::tune();
    let cli = cli::Cli::parse();
    let ctx = output::Ctx::new(cli.color, cli.quiet, cli.verbose);
    let code = match cmd::run(cli.command, &ctx) {
        Ok(()) => shutdown::exit_code().unwrap_or(error::OK),
        Err(e) => error::report(&e, ctx.color_stderr),
    };
    // Exit without unwinding the stdio threads: a read blocked on a terminal never returns.
    std::process::exit(code);
}
