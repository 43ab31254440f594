//! Input of any kind ends in an error message and exit code 1 or 2 (7 for `http`, curl's
//! "could not connect"), never a panic (101) or a hang: address garbage, bytes that are not
//! UTF-8 (argv cannot hold a NUL byte, so these are the closest thing), 10,000-character
//! addresses and paths, for every subcommand.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

use crate::support::*;

/// Each run must end well within this; a hang fails the test (run_with_input's deadline).
const LIMIT: Duration = Duration::from_secs(20);

/// Addresses that must not work anywhere: they do not parse, cannot be bound, or lead
/// nowhere.
fn bad_addresses(dir: &std::path::Path) -> Vec<OsString> {
    let long = "a".repeat(10_000);
    let mut v: Vec<OsString> = [
        "",
        "unix:",
        "unix://",
        "abstract:",
        "@",
        "tcp:",
        "tcp::",
        "tcp:[::1",
        "tcp:[::1]",
        "tcp:[]:1",
        "tcp:x:y",
        "tcp:-1",
        "tcp:localhost:99999",
        "tcp:\u{1b}[31m:1",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    for bytes in [
        &b"/tmp/\xff\xfe.sock"[..],
        b"unix:\xc3\x28",
        b"@\xff",
        b"abstract:\x80",
        b"tcp:\xff:1",
    ] {
        v.push(OsStr::from_bytes(bytes).to_owned());
    }
    // 10,000 characters: a relative file name, an abstract name, a TCP host, and a path
    // of 10,000 characters through directories that do not exist.
    v.push(long.clone().into());
    v.push(format!("@{long}").into());
    v.push(format!("unix:{long}").into());
    v.push(format!("tcp:{long}:80").into());
    v.push(format!("tcp:{long}").into());
    let mut path = dir.as_os_str().to_owned();
    while path.len() < 10_000 {
        path.push("/ddddddddd");
    }
    v.push(path);
    v
}

/// Runs `udskit ARGS` (stdin empty) and checks the outcome is one of `codes` with a
/// `udskit: error:` line and no panic.
fn refused(args: &[&OsStr], codes: &[i32], dir: &std::path::Path) {
    let mut c = udskit();
    c.args(args).current_dir(dir);
    let out = run_with_input(c, b"", LIMIT);
    let err = stderr_of(&out);
    let shown: Vec<String> = args
        .iter()
        .map(|a| {
            let s = a.to_string_lossy();
            if s.len() > 60 {
                let head: String = s.chars().take(60).collect();
                format!("{head}... ({} bytes)", a.len())
            } else {
                format!("{s:?}")
            }
        })
        .collect();
    assert!(
        !err.contains("panicked"),
        "udskit {shown:?} panicked:\n{err}"
    );
    let code = out.status.code();
    assert!(
        code.is_some_and(|c| codes.contains(&c)),
        "udskit {shown:?}: exit {code:?}, want one of {codes:?}; stderr:\n{err}"
    );
    assert!(
        err.lines().any(|l| l.starts_with("udskit: error: ")),
        "udskit {shown:?}: no `udskit: error:` line; stderr:\n{err}"
    );
}

#[test]
fn bad_addresses_are_refused_by_every_subcommand() {
    let dir = tempdir();
    let d = dir.path();
    let nothing = d.join("nothing.sock");
    let nothing = nothing.as_os_str();
    let o = OsStr::new;
    for a in bad_addresses(d) {
        let a = a.as_os_str();
        refused(&[o("listen"), a], &[1, 2], d);
        refused(&[o("listen"), o("--echo"), a], &[1, 2], d);
        refused(&[o("connect"), a], &[1, 2], d);
        refused(&[o("connect"), o("--wait"), o("100ms"), a], &[1, 2], d);
        refused(&[o("sendto"), a, o("message")], &[1, 2], d);
        refused(&[o("sendto"), o("--bind"), a, nothing, o("m")], &[1, 2], d);
        refused(&[o("recvfrom"), a], &[1, 2], d);
        refused(&[o("relay"), a, nothing], &[1, 2], d);
        refused(&[o("http"), a, o("/")], &[1, 2, 7], d);
    }
}

/// The other arguments: HTTP targets, methods, headers and bodies, durations, modes and
/// the filters of `ls`.
#[test]
fn bad_arguments_besides_addresses_are_refused() {
    let dir = tempdir();
    let d = dir.path();
    let nothing = d.join("nothing.sock");
    let nothing = nothing.as_os_str();
    let long = "a".repeat(10_000);
    let long = OsStr::new(&long);
    let utf8 = OsStr::from_bytes(b"x\xff\xfey");
    let o = OsStr::new;
    for target in [o("http://[/"), o("http://"), o("ftp://x/"), long, utf8] {
        refused(&[o("http"), nothing, target], &[1, 2, 7], d);
        refused(&[o("http"), nothing, o("GET"), target], &[1, 2, 7], d);
    }
    for opt in ["-H", "-X", "-d", "--max-time", "--connect-timeout"] {
        for v in [long, utf8, o("")] {
            refused(&[o("http"), nothing, o(opt), v, o("/")], &[1, 2, 7], d);
        }
    }
    for v in [long, utf8, o("1e400"), o("-1"), o("NaN"), o("inf")] {
        refused(&[o("connect"), o("--wait"), v, nothing], &[1, 2], d);
        refused(&[o("listen"), o("--mode"), v, nothing], &[2], d);
    }
    for opt in ["-p", "-u", "-c"] {
        refused(&[o("ls"), o(opt), utf8], &[1, 2], d);
    }
    refused(&[o("ls"), o("-p"), long], &[1, 2], d);
    refused(&[o("ls"), o("-u"), long], &[1, 2], d);
    refused(&[o("ls"), utf8], &[1, 2], d);
    refused(&[o("ls"), o("[[[")], &[2], d);
}

/// A PATTERN or a command name that matches nothing, however long or odd, lists nothing,
/// does not panic, and exits 1 as lsof does, its line on stderr escaped.
#[test]
fn ls_patterns_of_any_size_list_nothing() {
    let dir = tempdir();
    let long = "z".repeat(10_000);
    for args in [
        vec![long.as_str()],
        vec!["-c", long.as_str()],
        vec!["-a", "--json", "no such socket"],
        vec!["\u{1b}]0;title\u{7}"],
    ] {
        let mut c = udskit();
        c.arg("ls").args(&args).current_dir(dir.path());
        let out = run_with_input(c, b"", LIMIT);
        let err = stderr_of(&out);
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.starts_with("udskit: no socket matches "), "{err}");
        assert!(!err.contains('\u{1b}') && err.lines().count() == 1, "{err}");
    }
}

/// A usage error keeps clap's lines (error, tip, usage), each prefixed output line a real
/// one, while an argument quoted in it has its newline escaped and cannot forge a line.
#[test]
fn usage_errors_keep_their_lines_and_escape_the_arguments() {
    let dir = tempdir();
    let mut c = udskit();
    c.args(["listen", "--mode", "1000", "x.sock"])
        .current_dir(dir.path());
    let out = run_with_input(c, b"", LIMIT);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_of(&out),
        "udskit: error: invalid value '1000' for '--mode <OCTAL>': '1000' is not a socket file \
         mode: give permission bits 0 to 777 (setuid, setgid and sticky mean nothing on a \
         socket)\n\nFor more information, try '--help'.\n"
    );
    let mut c = udskit();
    c.args(["listen", "--mode", "7\nudskit: error: forged", "x.sock"])
        .current_dir(dir.path());
    let out = run_with_input(c, b"", LIMIT);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.starts_with("udskit: error: invalid value '7\\nudskit: error: forged' for '--mode"),
        "{err}"
    );
    assert_eq!(
        err.lines().filter(|l| l.contains("forged")).count(),
        1,
        "{err}"
    );
    assert!(
        err.ends_with("\nFor more information, try '--help'.\n"),
        "{err}"
    );
}
