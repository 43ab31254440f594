//! One match from the parsed command to its module's `run`. Async subcommands get a
//! current-thread runtime here; the rest run without one.

pub mod connect;
pub mod generate;
pub mod http;
pub mod listen;
pub mod ls;
pub mod recvfrom;
pub mod relay;
pub mod sendto;

use crate::cli::Command;
use crate::term::Ctx;

pub fn run(command: Command, ctx: &Ctx) -> anyhow::Result<()> {
    match command {
        Command::Listen(args) => block_on(listen::run(args, ctx)),
        Command::Connect(args) => block_on(connect::run(args, ctx)),
        Command::Sendto(args) => block_on(sendto::run(args, ctx)),
        Command::Recvfrom(args) => block_on(recvfrom::run(args, ctx)),
        Command::Http(args) => block_on(http::run(args, ctx)),
        Command::Relay(args) => block_on(relay::run(args, ctx)),
        Command::Ls(args) => ls::run(args, ctx),
        Command::Generate(args) => generate::run(args),
    }
}

/// Runs an async subcommand on a current-thread runtime: one core moves our bytes faster
/// than the peers can on these 2-core machines, and it keeps tasks free of locks.
fn block_on<F: Future<Output = anyhow::Result<()>>>(f: F) -> anyhow::Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(f)
}
