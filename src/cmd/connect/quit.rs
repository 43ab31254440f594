//! The two readings of `-q` on connect's command line: nc's `-q DURATION`
//! (`--quit-after`) when a DURATION or `never` follows it, the global `-q/--quiet`
//! otherwise, which clap alone cannot tell apart; and the hints for the mistakes that
//! invites, where clap's own tip would point at `--quiet`.

use std::ffi::OsString;

use crate::duration;
use crate::io::ending::AfterStdin;

/// `-q`'s value: a DURATION or `never`.
pub(super) fn parse_quit_after(s: &str) -> Result<AfterStdin, String> {
    if s == "never" {
        return Ok(AfterStdin::Forever);
    }
    duration::parse(s).map(AfterStdin::For).map_err(|e| {
        format!(
            "{e}, or never; -q before an ADDR means quiet: write --quiet or `udskit -q connect`"
        )
    })
}

/// Whether `s` is read as `-q`'s value: a DURATION, `never`, or a word that starts like a
/// number (so that `-q 1x` says "not a duration" rather than looking for a socket `1x`).
fn is_quit_value(s: &str) -> bool {
    s == "never" || s.starts_with(|c: char| c.is_ascii_digit() || c == '.')
}

/// The command line as clap is to read it. After `connect`, `-q` is nc's `-q DURATION`
/// (`--quit-after`) when a DURATION or `never` follows it, and the global `-q/--quiet`
/// otherwise, which clap alone cannot tell apart: such a `-q` is spelt `--quiet` here.
/// In a cluster (`-vq`, `-qv`) the same rule holds for its `q`.
pub fn read_args(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
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
    const TAKES_VALUE: [&str; 6] = [
        "--color",
        "--wait",
        "--connect-timeout",
        "--quit-after",
        "--quit",
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
                .is_some_and(is_quit_value)
        } else {
            is_quit_value(value)
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
pub fn misplaced_hint(
    args: &[OsString],
    kind: clap::error::ErrorKind,
    cli: &clap::Command,
) -> Option<String> {
    use clap::error::ErrorKind;
    let words: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
    let sub = words
        .iter()
        .position(|w| !w.starts_with('-') && cli.find_subcommand(w).is_some());
    match kind {
        ErrorKind::InvalidSubcommand => {
            let q = words.iter().position(|w| *w == "-q")?;
            let value = words.get(q + 1)?;
            (sub.is_none_or(|s| q < s) && is_quit_value(value)).then(|| {
                format!(
                    "-q before the subcommand is --quiet; for nc's -q write it after connect: \
                     `udskit connect -q {value} ADDR`"
                )
            })
        }
        ErrorKind::UnknownArgument => {
            let name = sub.map(|s| words[s])?;
            let misplaced = words.iter().take_while(|w| **w != "--").find(|w| {
                ["--quit-after", "--quit", "--idle-timeout"]
                    .iter()
                    .any(|o| **w == *o || w.starts_with(&format!("{o}=")))
            })?;
            let option = misplaced.split('=').next()?;
            // Every subcommand that has it (relay has --idle-timeout too).
            let long = option.trim_start_matches("--");
            let owners: Vec<&str> = cli
                .get_subcommands()
                .filter(|c| {
                    c.get_arguments().any(|a| {
                        a.get_long() == Some(long)
                            || a.get_all_aliases().is_some_and(|v| v.contains(&long))
                    })
                })
                .map(|c| c.get_name())
                .collect();
            // Where the subcommand has it, clap's error is about another argument.
            (!owners.is_empty() && !owners.contains(&name)).then(|| {
                let owners: Vec<String> = owners.iter().map(|o| format!("`udskit {o}`")).collect();
                format!(
                    "{option} is an option of {}, not of `udskit {name}`",
                    owners.join(" and ")
                )
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::{CommandFactory, Parser};

    fn read(line: &str) -> String {
        let words = line.split(' ').map(OsString::from);
        let read = read_args(words);
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
            ("udskit connect --quit -q S", "udskit connect --quit -q S"),
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

    /// The mistakes the two meanings of -q invite get a hint that says what was meant.
    #[test]
    fn misplaced_quit_after_gets_a_hint() {
        let hint = |line: &str| {
            let words = read_args(line.split(' ').map(OsString::from));
            let kind = Cli::try_parse_from(&words).unwrap_err().kind();
            misplaced_hint(&words, kind, &Cli::command())
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
            Some(
                "--idle-timeout is an option of `udskit connect` and `udskit relay`, not of `udskit http`"
            )
        );
        assert_eq!(
            hint("udskit ls --quit 1").as_deref(),
            Some("--quit is an option of `udskit connect`, not of `udskit ls`")
        );
        assert_eq!(hint("udskit listen --bogus S"), None);
        assert_eq!(hint("udskit relay --bogus --idle-timeout 1 S T"), None);
        assert_eq!(hint("udskit bogus S"), None);
    }
}
