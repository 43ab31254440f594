//! The command line: global flags and one variant per subcommand, each holding the Args of
//! its own module (the doc comments are the help text, man pages and completions), and the
//! one match from the parsed command to its module's `run`.

use clap::{CommandFactory, Parser, Subcommand};

use crate::cmd::{connect, generate, grpc, http, listen, ls, recvfrom, relay, sendto};
use crate::term::{ColorWhen, Ctx};

/// The Swiss-army knife for Unix domain sockets
///
/// Stream servers and clients, HTTP and gRPC over a socket, a fast TCP/UDS relay and a
/// listing of who listens where, with one address grammar everywhere:
///
///   PATH, unix:PATH         a socket file (a bare argument is always a path)
///   @NAME, abstract:NAME    a Linux abstract name (no file on disk)
///   unix:///PATH            the DOCKER_HOST form
///   tcp:HOST:PORT, tcp:PORT TCP (a missing host means 127.0.0.1)
///
/// Exit codes: 0 ok, 1 failure, 2 usage error, 130/143/129 after SIGINT/SIGTERM/SIGHUP.
#[derive(Parser, Debug)]
#[command(
    name = "udskit",
    version,
    propagate_version = true,
    max_term_width = 100,
    verbatim_doc_comment
)]
pub struct Cli {
    /// When to use colour: auto (a terminal, without NO_COLOR or TERM=dumb), always, never
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        default_value = "auto",
        global = true
    )]
    pub color: ColorWhen,
    /// Print no diagnostics on stderr, only errors and warnings (for http: curl's -sS)
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print more diagnostics on stderr
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    Listen(listen::Args),
    Connect(connect::Args),
    Sendto(sendto::Args),
    Recvfrom(recvfrom::Args),
    // Boxed: its Args are several times the size of the others'.
    Http(Box<http::Args>),
    Grpc(grpc::Args),
    // Boxed too: with its TLS options, as large as http's.
    Relay(Box<relay::Args>),
    Ls(ls::Args),
    #[command(hide = true)]
    Generate(generate::Args),
}

impl Command {
    /// Runs the subcommand. Async ones get a current-thread runtime here; the rest run
    /// without one.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let inherit = match &self {
            Command::Listen(a) => Some(&a.inherit),
            Command::Recvfrom(a) => Some(&a.inherit),
            Command::Relay(a) => Some(&a.inherit),
            _ => None,
        };
        if let Some(opts) = inherit {
            // SAFETY: no thread has started yet: the runtime, stdin and stdout threads
            // all come after this.
            unsafe { crate::net::activate::take_environment(opts) };
        }
        match self {
            Command::Listen(args) => block_on(listen::run(args, ctx)),
            Command::Connect(args) => block_on(connect::run(args, ctx)),
            Command::Sendto(args) => block_on(sendto::run(args, ctx)),
            Command::Recvfrom(args) => block_on(recvfrom::run(args, ctx)),
            Command::Http(args) => block_on(http::run(*args, ctx)),
            Command::Grpc(args) => block_on(grpc::run(args, ctx)),
            Command::Relay(args) => block_on(relay::run(*args, ctx)),
            Command::Ls(args) => ls::run(args, ctx),
            Command::Generate(args) => generate::run(args, Cli::command()),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Both readings parse to what they say, and the global flag reaches the top.
    #[test]
    fn both_readings_parse() {
        let parse = |line: &str| {
            let words = line.split(' ').map(std::ffi::OsString::from);
            Cli::try_parse_from(crate::cmd::connect::read_args(words))
        };
        let cli = parse("udskit connect -q 1 S").unwrap();
        let Command::Connect(c) = &cli.command else {
            panic!()
        };
        assert!(!cli.quiet);
        assert_eq!(
            c.quit_after,
            Some(crate::io::ending::AfterStdin::For(
                std::time::Duration::from_secs(1)
            ))
        );
        for line in [
            "udskit connect -q S",
            "udskit -q connect S",
            "udskit connect --quiet S",
        ] {
            let cli = parse(line).unwrap();
            let Command::Connect(c) = &cli.command else {
                panic!()
            };
            assert!(cli.quiet, "{line}");
            assert_eq!(c.quit_after, None, "{line}");
        }
        let cli = parse("udskit listen -q S").unwrap();
        assert!(cli.quiet);
    }
}
