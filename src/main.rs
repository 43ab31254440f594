//! udskit: parse, decide colour, run the subcommand, map the result to an exit code.

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
    // Exit without unwinding the stdio threads: a read blocked on a terminal never returns.
    std::process::exit(code);
}
