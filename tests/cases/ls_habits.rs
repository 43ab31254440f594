//! `udskit ls` for hands trained on ss and lsof: their flags work or are answered with the
//! udskit spelling, `--pids` is lsof's `-t`, and a filter that matches nothing exits 1.

use std::path::Path;
use std::process::{Output, Stdio};

use crate::support::peers::have;
use crate::support::*;

/// `udskit listen -k` servers on `names` in one temp dir, whose name (the token) is in
/// every address, so that a PATTERN of it selects exactly them.
struct Servers {
    dir: tempfile::TempDir,
    token: String,
    bg: Vec<Bg>,
}

fn servers(names: &[&str]) -> Servers {
    let dir = tempdir();
    let token = dir
        .path()
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let bg = names
        .iter()
        .map(|n| {
            let mut c = ud(&["listen", "-k"]);
            c.arg(dir.path().join(n)).stdout(Stdio::null());
            let mut b = Bg::spawn(c, dir.path(), n);
            b.wait_stderr("listening on");
            b
        })
        .collect();
    Servers { dir, token, bg }
}

fn ls(args: &[&str]) -> Output {
    udskit().arg("ls").args(args).output().unwrap()
}

fn out(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn a_filter_that_matches_nothing_exits_1_and_says_so_unless_quiet() {
    let s = servers(&["a.sock"]);
    let t = s.token.as_str();
    let found = ls(&[t]);
    assert_eq!(found.status.code(), Some(0), "{}", stderr_of(&found));
    assert_eq!(out(&found).lines().count(), 2, "{}", out(&found));

    let none = format!("{t}-none");
    let o = ls(&[&none]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr_of(&o), format!("udskit: no socket matches {none}\n"));
    assert_eq!(out(&o).lines().count(), 1, "the header alone: {}", out(&o));
    let o = udskit().args(["-q", "ls", &none]).output().unwrap();
    assert_eq!((o.status.code(), stderr_of(&o)), (Some(1), String::new()));

    // Every filter counts, each named as written.
    let o = ls(&["--json", t, "-c", "no-such-command", "-t", "seqpacket"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(out(&o), "[]\n");
    assert_eq!(
        stderr_of(&o),
        format!("udskit: no socket matches {t} -c no-such-command -t seqpacket\n")
    );
    let o = ls(&[t, "-u", "nobody"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));
    let o = ls(&[t, "-p", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));

    // --stale with nothing stale and no filter is a clean bill: exit 0.
    let o = ls(&["--stale", s.dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
}

#[test]
fn an_empty_machine_without_a_filter_exits_0() {
    // A fresh network namespace has no unix sockets at all (the kernel's table is per
    // namespace), and in a fresh pid namespace with its own /proc ls sees no process in
    // another network namespace to enter: the listing is empty and that is no failure.
    if !have("unshare") || !is_root() {
        return;
    }
    let mut c = std::process::Command::new("unshare");
    c.args(["-n", "-p", "-f", "--mount-proc"])
        .arg(env!("CARGO_BIN_EXE_udskit"))
        .args(["--color=never", "ls", "--json"]);
    let o = c.output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    assert_eq!(out(&o), "[]\n");
    assert_eq!(stderr_of(&o), "");
}

#[test]
fn pids_prints_each_holding_process_once_as_lsof_t() {
    let s = servers(&["a.sock", "b.sock"]);
    let t = s.token.as_str();
    let mut want: Vec<u32> = s.bg.iter().map(|b| b.pid() as u32).collect();
    want.sort_unstable();
    let want: String = want.iter().map(|p| format!("{p}\n")).collect();
    let o = ls(&["--pids", t]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    assert_eq!(out(&o), want);
    // A server with a client: its listener and the accepted connection are one pid.
    let first = s.dir.path().join("a.sock");
    let mut client = ud(&["connect"]);
    client
        .arg(&first)
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    let _client = Bg::spawn(client, s.dir.path(), "client");
    let pid = s.bg[0].pid().to_string();
    wait_until(
        std::time::Duration::from_secs(10),
        "the accepted client",
        || {
            out(&ls(&["-a", "-p", &pid])).lines().any(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                f[1] == "connected" && f[3] == pid && l.ends_with("/a.sock")
            })
        },
    );
    let o = ls(&["-a", "--pids", "-p", &pid]);
    assert_eq!(out(&o), format!("{pid}\n"));
    // Nothing to kill: no output, exit 1, so `kill $(...)` is not run blind.
    let o = ls(&["--pids", &format!("{t}-none")]);
    assert_eq!((o.status.code(), out(&o)), (Some(1), String::new()));
    assert_eq!(
        stderr_of(&o),
        format!("udskit: no process matches {t}-none\n")
    );
    let o = ls(&["--pids", "--json"]);
    assert_eq!(o.status.code(), Some(2));
    // Used as lsof -t is.
    let killed = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "kill $({} --color=never ls --pids {})",
            env!("CARGO_BIN_EXE_udskit"),
            Path::new(&first).display()
        ))
        .status()
        .unwrap();
    assert!(killed.success());
    let mut bg = s.bg;
    assert!(
        !bg[0]
            .wait_exit(std::time::Duration::from_secs(10))
            .success()
    );
}

#[test]
fn ss_and_lsof_flags_work_or_name_the_udskit_spelling() {
    let s = servers(&["a.sock"]);
    let t = s.token.as_str();
    let plain = out(&ls(&[t]));
    // -x (ss), -U (lsof), -n (both): unix sockets only, nothing to resolve: the same.
    for habit in [&["-x"][..], &["-U"], &["-xn"], &["-x", "-U", "-n"]] {
        let o = ls(&[habit, &[t]].concat());
        assert_eq!(o.status.code(), Some(0), "{habit:?}: {}", stderr_of(&o));
        assert_eq!(out(&o), plain, "{habit:?}");
    }
    // ss -a / -l: all sockets / listening, which udskit's -a and default are.
    let o = ls(&["-xa", t]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr_of(&o));
    let o = ls(&["-xl", t]);
    assert!(out(&o).lines().next().unwrap().contains("INODE"));
    // ss -p: "show processes", always on; udskit's -p takes a PID as lsof's does.
    for args in [&["-xlp"][..], &["-p", "docker"]] {
        let o = ls(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr_of(&o);
        assert!(
            err.contains(
                "\nhint: ss's -p (show processes) is always on in udskit ls: leave it out; -p \
                 PID selects the sockets of one process, as lsof's -p does\n\nFor more"
            ),
            "{args:?}: {err}"
        );
    }
    // lsof -t: terse pids, which is --pids; -t takes a TYPE.
    for args in [&["-t"][..], &["-tU"]] {
        let o = ls(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = stderr_of(&o);
        assert!(
            err.contains("hint: lsof's -t (pids only) is --pids in udskit ls"),
            "{args:?}: {err}"
        );
    }
    // Other mistakes get no such hint.
    let o = ls(&["-u"]);
    assert!(!stderr_of(&o).contains("hint:"), "{}", stderr_of(&o));
}
