//! The command line: global flags and one variant per subcommand, each holding the Args of
//! its own module. The doc comments are the help text, man pages and completions.

use clap::{Parser, Subcommand};

use crate::cmd::{connect, generate, http, listen, ls, recvfrom, relay, sendto};
use crate::term::ColorWhen;

/// The Swiss-army knife for Unix domain sockets
///
/// Stream servers and clients, HTTP over a socket, a fast TCP/UDS relay and a listing of who
/// listens where, with one address grammar everywhere:
///
///   PATH, unix:PATH         a socket file (a bare argument is always a path)
///   @NAME, abstract:NAME    a Linux abstract name (no file on disk)
///   unix:///PATH            the DOCKER_HOST form
///   tcp:HOST:PORT, tcp:PORT TCP (a missing host means 127.0.0.1)
///
/// Exit codes: 0 ok, 1 failure, 2 usage error, 130/143 after SIGINT/SIGTERM.
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
    /// Print no diagnostics on stderr, only errors and warnings
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
    Http(http::Args),
    Relay(relay::Args),
    Ls(ls::Args),
    #[command(hide = true)]
    Generate(generate::Args),
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
