//! The command line: global flags and one variant per subcommand, each holding the Args of
//! its own module (the doc comments are the help text, man pages and completions), and the
//! one match from the parsed command to its module's `run`.

use std::ffi::OsString;

use clap::{CommandFactory, Parser, Subcommand};

use crate::cmd::{connect, generate, http, listen, ls, recvfrom, relay, sendto};
use crate::term::{ColorWhen, Ctx};

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

impl Command {
    /// Runs the subcommand. Async ones get a current-thread runtime here; the rest run
    /// without one.
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self {
            Command::Listen(args) => block_on(listen::run(args, ctx)),
            Command::Connect(args) => block_on(connect::run(args, ctx)),
            Command::Sendto(args) => block_on(sendto::run(args, ctx)),
            Command::Recvfrom(args) => block_on(recvfrom::run(args, ctx)),
            Command::Http(args) => block_on(http::run(args, ctx)),
            Command::Relay(args) => block_on(relay::run(args, ctx)),
            Command::Ls(args) => ls::run(args, ctx),
            Command::Generate(args) => generate::run(args, Cli::command()),
        }
    }
}

/// The command line as clap is to read it. After `connect`, `-q` is nc's `-q DURATION`
/// (`--quit-after`) when a DURATION or `never` follows it, and the global `-q/--quiet`
/// otherwise, which clap alone cannot tell apart: such a `-q` is spelt `--quiet` here.
/// In a cluster (`-vq`, `-qv`) the same rule holds for its `q`.
pub fn args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    // Where the subcommand is: the first word that is no option (or --color's value).
    let mut i = 1;
    while let Some(a) = args.get(i).and_then(|a| a.to_str()) {
        match a {
            "--" => return args,
            "--color" => i += 2,
            _ if a.starts_with('-') => i += 1,
            _ => break,
        }
    }
    if args.get(i).is_none_or(|a| a != "connect") {
        return args;
    }
    i += 1;
    // connect's options that take a value, so that no value is read as an option.
    const TAKES_VALUE: [&str; 5] = [
        "--color",
        "--wait",
        "--connect-timeout",
        "--quit-after",
        "--idle-timeout",
    ];
    while i < args.len() {
        let Some(a) = args[i].to_str().map(str::to_owned) else {
            i += 1;
            continue;
        };
        if a == "--" {
            break;
        }
        if TAKES_VALUE.contains(&a.as_str()) {
            i += 2;
            continue;
        }
        if a.starts_with("--") || !a.starts_with('-') {
            i += 1;
            continue;
        }
        // A cluster of short options: flags, until one that takes a value (the rest of the
        // cluster, or the next word).
        let cluster = &a[1..];
        let flags: String = cluster
            .chars()
            .take_while(|c| !matches!(c, 'q' | 'w'))
            .collect();
        let rest = &cluster[flags.len()..];
        let Some(value) = rest.strip_prefix('q') else {
            // `-w`'s value is the next word when the cluster ends with it.
            i += if rest == "w" { 2 } else { 1 };
            continue;
        };
        let value = value.strip_prefix('=').unwrap_or(value);
        let quit = if value.is_empty() {
            args.get(i + 1)
                .and_then(|v| v.to_str())
                .is_some_and(connect::is_quit_value)
        } else {
            connect::is_quit_value(value)
        };
        if quit {
            i += if value.is_empty() { 2 } else { 1 };
            continue;
        }
        let mut words = Vec::new();
        if !flags.is_empty() {
            words.push(OsString::from(format!("-{flags}")));
        }
        words.push(OsString::from("--quiet"));
        if !value.is_empty() {
            words.push(OsString::from(format!("-{value}")));
        }
        let n = words.len();
        args.splice(i..=i, words);
        i += n;
    }
    args
}

/// A hint for the mistakes the two meanings of `-q` invite, where clap alone would say
/// something beside the point: nc's `-q DURATION` written before the subcommand (clap
/// takes the DURATION for a subcommand), or connect's `--quit-after`/`--idle-timeout`
/// given to another subcommand (clap suggests `--quiet`).
pub fn q_hint(args: &[OsString], kind: clap::error::ErrorKind) -> Option<String> {
    use clap::error::ErrorKind;
    let words: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    let sub = words
        .iter()
        .position(|w| !w.starts_with('-') && Command::has_subcommand(w));
    match kind {
        ErrorKind::InvalidSubcommand => {
            let q = words.iter().position(|w| *w == "-q")?;
            let value = words.get(q + 1)?;
            (sub.is_none_or(|s| q < s) && connect::is_quit_value(value)).then(|| {
                format!(
                    "-q before the subcommand is --quiet; for nc's -q write it after connect: \
                     `udskit connect -q {value} ADDR`"
                )
            })
        }
        ErrorKind::UnknownArgument => {
            let name = sub.map(|s| words[s])?;
            let connect_only = words.iter().take_while(|w| **w != "--").find(|w| {
                ["--quit-after", "--quit", "--idle-timeout"]
                    .iter()
                    .any(|o| **w == *o || w.starts_with(&format!("{o}=")))
            })?;
            let option = connect_only.split('=').next()?;
            (name != "connect").then(|| {
                format!("{option} is an option of `udskit connect`, not of `udskit {name}`")
            })
        }
        _ => None,
    }
}

impl Command {
    fn has_subcommand(name: &str) -> bool {
        Cli::command().find_subcommand(name).is_some()
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

    fn read(line: &str) -> String {
        let words = line.split(' ').map(OsString::from);
        let read = args(words);
        let read: Vec<_> = read.iter().map(|a| a.to_str().unwrap()).collect();
        read.join(" ")
    }

    /// `-q` after connect: quit-after before a DURATION or `never`, quiet otherwise.
    #[test]
    fn q_after_connect_is_quit_after_before_a_duration() {
        for (line, want) in [
            ("udskit connect -q 1 S", "udskit connect -q 1 S"),
            ("udskit connect -q 0.5 S", "udskit connect -q 0.5 S"),
            ("udskit connect -q never S", "udskit connect -q never S"),
            ("udskit connect -q1s S", "udskit connect -q1s S"),
            ("udskit connect -q=2 S", "udskit connect -q=2 S"),
            ("udskit connect -q 1x S", "udskit connect -q 1x S"),
            ("udskit connect -q S", "udskit connect --quiet S"),
            (
                "udskit connect -q /tmp/s.sock",
                "udskit connect --quiet /tmp/s.sock",
            ),
            ("udskit connect S -q", "udskit connect S --quiet"),
            ("udskit connect -vq S", "udskit connect -v --quiet S"),
            ("udskit connect -vq 3 S", "udskit connect -vq 3 S"),
            ("udskit connect -qv S", "udskit connect --quiet -v S"),
            ("udskit connect -w 5 -q S", "udskit connect -w 5 --quiet S"),
            ("udskit connect --wait -q S", "udskit connect --wait -q S"),
            ("udskit connect -- -q", "udskit connect -- -q"),
            ("udskit -q connect S", "udskit -q connect S"),
            (
                "udskit --color never connect -q S",
                "udskit --color never connect --quiet S",
            ),
            ("udskit listen -q S", "udskit listen -q S"),
            ("udskit http -q S /", "udskit http -q S /"),
        ] {
            assert_eq!(read(line), want, "{line}");
        }
    }

    /// Both readings parse to what they say, and the global flag reaches the top.
    #[test]
    fn both_readings_parse() {
        let parse = |line: &str| Cli::try_parse_from(args(line.split(' ').map(OsString::from)));
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

    /// The mistakes the two meanings of -q invite get a hint that says what was meant.
    #[test]
    fn misplaced_quit_after_gets_a_hint() {
        use clap::error::ErrorKind;
        let hint = |line: &str| {
            let words = args(line.split(' ').map(OsString::from));
            let kind = Cli::try_parse_from(&words).unwrap_err().kind();
            q_hint(&words, kind)
        };
        assert_eq!(
            hint("udskit -q 1 connect S").as_deref(),
            Some(
                "-q before the subcommand is --quiet; for nc's -q write it after connect: `udskit connect -q 1 ADDR`"
            )
        );
        assert_eq!(
            hint("udskit listen --quit-after 1 S").as_deref(),
            Some("--quit-after is an option of `udskit connect`, not of `udskit listen`")
        );
        assert_eq!(
            hint("udskit http --idle-timeout=1 S /").as_deref(),
            Some("--idle-timeout is an option of `udskit connect`, not of `udskit http`")
        );
        assert_eq!(hint("udskit listen --bogus S"), None);
        assert_eq!(hint("udskit bogus S"), None);
        let _ = ErrorKind::UnknownArgument;
    }
}
