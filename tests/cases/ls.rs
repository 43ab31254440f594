//! `udskit ls`: every kind of socket a Python fixture makes (tests/fixtures/ls_sockets.py),
//! the JSON keys field by field, every filter, the table, `--stale`, an unprivileged run,
//! agreement with `ss -xl`; and safe bind's sock_diag lookup (it must not connect).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::support::servers::Dockerd;
use crate::support::*;

/// The fixture's sockets, alive while this lives. `token` (the temp dir's name) is in
/// every address it made, so a PATTERN of it selects exactly them.
struct Fixture {
    dir: tempfile::TempDir,
    token: String,
    py: Bg,
}

impl Fixture {
    fn start() -> Option<Fixture> {
        if !peers::have("python3") {
            return None;
        }
        let dir = tempdir();
        let token = dir
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ls_sockets.py");
        let mut c = Command::new("python3");
        c.arg(script).arg(dir.path()).arg(&token);
        let mut py = Bg::spawn_piped(c, dir.path(), "fixture");
        py.wait_stderr("ready");
        Some(Fixture { dir, token, py })
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn pid(&self) -> u64 {
        self.py.pid() as u64
    }
}

fn ls(args: &[&str]) -> Output {
    let out = udskit().arg("ls").args(args).output().unwrap();
    assert!(out.status.success(), "ls {args:?}: {}", stderr_of(&out));
    out
}

fn json(args: &[&str]) -> Vec<Value> {
    let out = udskit().args(["ls", "--json"]).args(args).output().unwrap();
    let v = serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("a JSON array");
    // A filter that matched nothing exits 1 (tests/cases/ls_habits.rs).
    let code = if v.is_empty() && !stderr_of(&out).is_empty() {
        1
    } else {
        0
    };
    assert_eq!(
        out.status.code(),
        Some(code),
        "ls {args:?}: {}",
        stderr_of(&out)
    );
    v
}

fn names(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_string())
        .collect()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn json_describes_every_kind_of_socket() {
    let Some(f) = Fixture::start() else { return };
    let all = json(&[&f.token]);
    let by = |name: &str| -> Vec<&Value> { all.iter().filter(|e| e["name"] == name).collect() };
    let pid = f.pid();

    let s = by(&f.path("s.sock"));
    assert_eq!(s.len(), 1, "{all:#?}");
    let s = s[0];
    assert_eq!(s["type"], "stream");
    assert_eq!(s["state"], "listen");
    assert_eq!(
        s["conns"], 1,
        "one accepted client (the waiting one is not accepted yet)"
    );
    assert_eq!(s["queue"], 1);
    assert_eq!(s["backlog"], 16);
    assert_eq!(s["mode"], "0640");
    assert_eq!(s["owner"], "root");
    assert_eq!(s["shadowed"], false);
    assert_eq!(s["path"], f.path("s.sock").as_str());
    assert_eq!(s["abstract"], Value::Null);
    assert_eq!(s["processes"][0]["pid"], pid);
    assert_eq!(s["processes"][0]["command"], "udskt-fix");
    assert_eq!(s["processes"].as_array().unwrap().len(), 1);
    assert_eq!(s["user"], "root");
    assert!(s["inode"].as_u64().unwrap() > 0);

    let d = by(&f.path("d.sock"))[0];
    assert_eq!(
        (&d["type"], &d["state"], &d["conns"]),
        (&"datagram".into(), &"bound".into(), &Value::Null)
    );
    assert_eq!(d["processes"][0]["pid"], pid);

    let q = by(&f.path("q.sock"))[0];
    assert_eq!(
        (&q["type"], &q["state"], &q["conns"]),
        (&"seqpacket".into(), &"listen".into(), &0.into())
    );
    assert_eq!(q["mode"].as_str().unwrap().len(), 4);

    let a = by(&format!("@{}-abs", f.token))[0];
    assert_eq!(a["abstract"], format!("{}-abs", f.token).as_str());
    assert_eq!(
        (&a["path"], &a["mode"], &a["shadowed"]),
        (&Value::Null, &Value::Null, &Value::Null)
    );
    assert_eq!(a["processes"][0]["pid"], pid);

    // A relative path starting with '@' must not read as an abstract name.
    let r = by(&format!("./@{}.rel", f.token))[0];
    assert_eq!(r["path"], format!("@{}.rel", f.token).as_str());
    assert_eq!(r["abstract"], Value::Null);

    // The stale file is no socket's: not in the listing.
    assert!(by(&f.path("stale.sock")).is_empty());

    // Two listeners on shadow.sock: the older one's file was replaced.
    let mut shadow: Vec<_> = by(&f.path("shadow.sock"))
        .iter()
        .map(|e| e["shadowed"].clone())
        .collect();
    shadow.sort_by_key(|v| v.as_bool());
    assert_eq!(shadow, [Value::Bool(false), Value::Bool(true)]);
    let gone = by(&f.path("gone.sock"))[0];
    assert_eq!(
        (&gone["shadowed"], &gone["mode"]),
        (&Value::Bool(true), &Value::Null)
    );
    let b = by(&f.path("b.sock"))[0];
    assert_eq!(
        (&b["type"], &b["state"], &b["conns"]),
        (&"stream".into(), &"bound".into(), &Value::Null)
    );
    assert_eq!(all.len(), 9, "{:?}", names(&all));
}

#[test]
fn filters_select_by_type_process_user_and_pattern() {
    let Some(f) = Fixture::start() else { return };
    let t = f.token.as_str();
    let count = |args: &[&str]| json(&[&[t], args].concat()).len();
    assert_eq!(count(&[]), 9);
    assert_eq!(names(&json(&[t, "-t", "seqpacket"])), [f.path("q.sock")]);
    assert_eq!(names(&json(&[t, "--type", "dgram"])), [f.path("d.sock")]);
    assert_eq!(count(&["-t", "stream"]), 7);
    assert_eq!(count(&["-t", "stream", "-t", "datagram"]), 8);
    assert_eq!(
        count(&["-c", "udskt"]),
        9,
        "-c is a prefix of the command name"
    );
    assert_eq!(count(&["-c", "udskt-fix", "-c", "nothing-like-it"]), 9);
    assert_eq!(count(&["--command", "nothing-like-it"]), 0);
    let pid = f.pid().to_string();
    assert_eq!(count(&["-p", &pid]), 9);
    assert_eq!(count(&["--pid", "1"]), 0);
    assert_eq!(count(&["-u", "root"]), 9);
    assert_eq!(count(&["-u", "0"]), 9);
    assert_eq!(count(&["--user", "nobody"]), 0);
    // Globs match the whole address; a substring anywhere.
    let glob = format!("/tmp/{t}/[sq].sock");
    assert_eq!(names(&json(&[&glob])), [f.path("q.sock"), f.path("s.sock")]);
    assert_eq!(names(&json(&[&format!("@{t}*")])), [format!("@{t}-abs")]);
    assert_eq!(json(&[&format!("{t}/sha")]).len(), 2);
    assert_eq!(json(&["*no-such-socket-anywhere*"]).len(), 0);
    let bad = udskit()
        .args(["ls", "-u", "no-such-user-here"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr_of(&bad).contains("no such user: no-such-user-here"));
    let bad = udskit().args(["ls", "--peers"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2), "--peers needs -a");
}

#[test]
fn all_and_peers_show_connections_and_who_is_at_the_other_end() {
    let Some(f) = Fixture::start() else { return };
    let pid = f.pid().to_string();
    let mine = json(&["-a", "--peers", "-p", &pid]);
    // The listeners, the accepted connection (named like its listener) and the two unnamed
    // clients (the waiting one's server end is in the queue, held by no process yet).
    let connected: Vec<_> = mine.iter().filter(|e| e["state"] == "connected").collect();
    assert_eq!(connected.len(), 3, "{mine:#?}");
    let accepted = connected
        .iter()
        .find(|e| e["name"] == f.path("s.sock").as_str())
        .unwrap();
    let client = connected
        .iter()
        .find(|e| e["name"] == "" && e["inode"] == accepted["peer_inode"])
        .unwrap();
    assert_eq!(accepted["peer_inode"], client["inode"]);
    assert_eq!(client["peer_inode"], accepted["inode"]);
    assert_eq!(accepted["peer_processes"][0]["pid"], f.pid());
    assert_eq!(accepted["conns"], Value::Null);
    // Without -a only the servers.
    assert!(
        json(&["-p", &pid])
            .iter()
            .all(|e| e["state"] == "listen" || e["state"] == "bound")
    );
    // The table's PEER column names pid/command.
    let out = stdout(&ls(&["-a", "--peers", "-p", &pid]));
    let row = out
        .lines()
        .find(|l| l.contains("connected") && l.ends_with("s.sock"))
        .unwrap();
    assert!(row.contains(&format!("{pid}/udskt-fix")), "{out}");
}

#[test]
fn plain_table_for_awk_and_drawn_table_on_a_terminal() {
    let Some(f) = Fixture::start() else { return };
    let pid = f.pid().to_string();
    let out = stdout(&ls(&[&f.token]));
    let mut lines = out.lines();
    let header: Vec<_> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "TYPE",
            "STATE",
            "CONNS",
            "PID",
            "COMMAND",
            "USER",
            "NETNS",
            "CONTAINER",
            "PATH"
        ]
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.len(), 9, "{out}");
    let s_sock = f.path("s.sock");
    assert!(
        rows.contains(&vec![
            "stream",
            "listen",
            "1",
            &pid,
            "udskt-fix",
            "root",
            "host",
            "-",
            &s_sock
        ]),
        "{out}"
    );
    assert!(rows.contains(&vec![
        "datagram",
        "bound",
        "-",
        &pid,
        "udskt-fix",
        "root",
        "host",
        "-",
        &f.path("d.sock")
    ]));
    assert!(rows.contains(&vec![
        "stream",
        "listen(shadowed)",
        "0",
        &pid,
        "udskt-fix",
        "root",
        "host",
        "-",
        &f.path("gone.sock")
    ]));
    let rel = format!("./@{}.rel", f.token);
    assert!(
        rows.iter().any(|r| r.last() == Some(&rel.as_str())),
        "{out}"
    );

    let long = stdout(&ls(&["-l", &s_sock]));
    let header: Vec<_> = long.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "TYPE",
            "STATE",
            "CONNS",
            "QUEUE",
            "PID",
            "COMMAND",
            "FD",
            "USER",
            "NETNS",
            "CONTAINER",
            "INODE",
            "MODE",
            "OWNER",
            "PATH"
        ]
    );
    let row: Vec<_> = long.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        (row[2], row[3], row[11], row[12], row[13]),
        ("1", "1/16", "srw-r-----", "root:root", s_sock.as_str())
    );

    // On a terminal (script(1) gives it one): comfy-table, coloured with --color=always.
    if !peers::have("script") {
        return;
    }
    let cmd = format!(
        "{} --color=always ls {}",
        env!("CARGO_BIN_EXE_udskit"),
        f.token
    );
    let tty = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&tty.stdout);
    assert!(
        text.contains('─') && text.contains("\x1b[") && text.contains("listen(shadowed)"),
        "{text}"
    );
    assert!(text.contains(&s_sock));
}

/// `--json` carries addresses and command names as they are (a newline in a path is a
/// newline, base64 with `encoding` when a path is not UTF-8), where the table escapes them.
#[test]
fn json_carries_addresses_and_commands_as_they_are() {
    if !peers::have("python3") {
        return;
    }
    let dir = tempdir();
    let d = dir.path().to_str().unwrap();
    let tok = dir.path().file_name().unwrap().to_str().unwrap();
    let code = "import os,socket,sys\nd=os.fsencode(sys.argv[1])\n\
         open('/proc/self/comm','w').write('ev\\nil\\x1b')\nkeep=[]\n\
         def l(a):\n    s=socket.socket(socket.AF_UNIX)\n    s.bind(a)\n    s.listen(1)\n    keep.append(s)\n\
         l(d+b'/a\\nb\\x1b[31m.sock')\nl(d+b'/\\xff.sock')\nl(b'\\0'+os.fsencode(sys.argv[2])+b'-\\x01abs')\n\
         st=socket.socket(socket.AF_UNIX)\nst.bind(d+b'/st\\n.sock')\nst.close()\n\
         print('ready',file=sys.stderr,flush=True)\nsys.stdin.read()";
    let mut c = peers::python(code);
    c.args([d, tok]);
    let mut py = Bg::spawn_piped(c, dir.path(), "py");
    py.wait_stderr("ready");

    let all = json(&[tok]);
    assert_eq!(all.len(), 3, "{all:#?}");
    let by = |name: &str| {
        all.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("{name}: {all:#?}"))
    };
    let text = by(&format!("{d}/a\\nb\\u{{1b}}[31m.sock"));
    assert_eq!(
        (&text["path"], &text["encoding"]),
        (&format!("{d}/a\nb\x1b[31m.sock").into(), &"utf-8".into())
    );
    assert_eq!(text["processes"][0]["command"], "ev\nil\x1b");
    let binary = by(&format!("{d}/\\xff.sock"));
    let mut raw = d.as_bytes().to_vec();
    raw.extend(b"/\xff.sock");
    assert_eq!(
        (&binary["path"], &binary["encoding"]),
        (&base64(&raw).into(), &"base64".into())
    );
    let abs = by(&format!("@{tok}-\\u{{1}}abs"));
    assert_eq!(abs["abstract"], format!("{tok}-\x01abs").as_str());

    // The table keeps each row on its line, nothing in it a terminal would act on.
    let table = stdout(&ls(&["--color", "never", tok]));
    assert!(
        !table.contains('\x1b') && !table.contains('\x01'),
        "{table:?}"
    );
    assert_eq!(table.lines().count(), 4, "{table}");
    assert!(table.contains(" ev\\nil\\u{1b} "), "{table}");

    let stale = json(&["--stale", d]);
    assert_eq!(stale.len(), 1, "{stale:#?}");
    assert_eq!(
        (&stale[0]["name"], &stale[0]["path"]),
        (
            &format!("{d}/st\\n.sock").into(),
            &format!("{d}/st\n.sock").into()
        )
    );
}

#[test]
fn stale_finds_socket_files_nothing_is_bound_to() {
    let Some(f) = Fixture::start() else { return };
    let dir = f.dir.path().to_str().unwrap();
    let found = json(&["--stale", dir]);
    assert_eq!(names(&found), [f.path("stale.sock")]);
    assert_eq!(
        (&found[0]["state"], &found[0]["type"]),
        (&"stale".into(), &Value::Null)
    );
    assert_eq!(found[0]["owner"], "root");
    let out = stdout(&ls(&["--stale", dir]));
    assert!(
        out.lines().nth(1).unwrap().split_whitespace().eq([
            "-",
            "stale",
            "-",
            "-",
            "-",
            "root",
            "-",
            "-",
            &f.path("stale.sock")
        ]),
        "{out}"
    );
    // Symbolic links are not followed below the directories given.
    let other = tempdir();
    std::os::unix::fs::symlink(f.dir.path(), other.path().join("link")).unwrap();
    assert!(json(&["--stale", other.path().to_str().unwrap()]).is_empty());
    let missing = udskit()
        .args(["ls", "--stale", "/no/such/dir"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr_of(&missing).contains("--stale: /no/such/dir does not exist"));
    let file = udskit()
        .args(["ls", "--stale", &f.path("stale.sock")])
        .output()
        .unwrap();
    assert_eq!(file.status.code(), Some(1));
    assert!(stderr_of(&file).contains("stale.sock is not a directory"));
    // The defaults (/tmp among them) find it too.
    assert!(names(&json(&["--stale", "--", &f.token])).contains(&f.path("stale.sock")));
}

#[test]
fn unprivileged_user_sees_sockets_and_is_told_what_it_could_not_see() {
    let Some(f) = Fixture::start() else { return };
    let Some(nobody) = AsNobody::new() else {
        return;
    };
    let out = nobody.output(&["--json", &f.token]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let entries: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(entries.len(), 9, "every socket is listed: {entries:#?}");
    assert!(
        entries
            .iter()
            .all(|e| e["processes"] == Value::Array(vec![]) && e["user"] == "root")
    );
    let err = stderr_of(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("processes could not be inspected (permission denied)")
            && err.contains("run as root"),
        "{err}"
    );
    // --stale says which directories it could not look into.
    let dir = tempdir();
    open_dir_to_all(dir.path());
    let closed = dir.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&closed, std::fs::Permissions::from_mode(0o700)).unwrap();
    let out = nobody.output(&["--stale", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("{} could not be read", closed.display())),
        "{err}"
    );
    let out = nobody.output(&["--stale", closed.join("x").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("x cannot be looked at: Permission denied"),
        "{}",
        stderr_of(&out)
    );
}

/// Listening addresses in `ss -xlH` (the 5th column; paths with spaces are skipped).
fn ss_listening() -> HashSet<String> {
    let out = Command::new("ss").args(["-xlH"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<_> = l.split_whitespace().collect();
            (f.len() == 8 && f[4] != "*").then(|| f[4].to_string())
        })
        .collect()
}

#[test]
fn every_listening_path_ss_reports_is_listed() {
    let Some(f) = Fixture::start() else { return };
    if !peers::have("ss") {
        return;
    }
    // Other tests bind and close sockets meanwhile: compare what ss saw both before and after.
    let before = ss_listening();
    let ours: HashSet<String> = names(&json(&[])).into_iter().collect();
    let after = ss_listening();
    let stable: Vec<_> = before.intersection(&after).collect();
    assert!(stable.iter().any(|a| a.contains(&f.token)));
    for addr in stable {
        // ss prints a relative path starting with '@' like an abstract name; we do not.
        assert!(
            ours.contains(addr) || ours.contains(&format!("./{addr}")),
            "{addr} missing from udskit ls"
        );
    }
}

#[test]
fn a_second_listen_does_not_steal_the_single_client_of_the_first() {
    let dir = tempdir();
    let sock = dir.path().join("one.sock");
    let mut l = udskit();
    l.arg("listen").arg(&sock);
    let mut first = Bg::spawn_piped(l, dir.path(), "first");
    first.wait_stderr("listening on");
    let second = udskit().arg("listen").arg(&sock).output().unwrap();
    assert_eq!(second.status.code(), Some(1));
    let msg = stderr_of(&second);
    assert!(
        msg.contains(&format!(
            "is in use by pid {} (udskit) uid 0 gid 0",
            first.pid()
        )),
        "{msg}"
    );
    // The first listener is still waiting for its one client: it gets this one's bytes.
    assert!(
        first.child.try_wait().unwrap().is_none(),
        "{}",
        first.stderr()
    );
    drop(first.child.stdin.take());
    let out = run_with_input(
        {
            let mut c = udskit();
            c.arg("connect").arg(&sock);
            c
        },
        b"still here\n",
        Duration::from_secs(10),
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (st, got) = first.finish(Duration::from_secs(10));
    assert!(st.success());
    assert_eq!(got, b"still here\n");
}

#[test]
fn bind_names_the_owner_of_a_datagram_socket_and_still_clears_stale_ones() {
    if !peers::have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("dg.sock");
    let code = format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind({:?})\nprint('ready',file=sys.stderr,flush=True)\nsys.stdin.read()",
        sock.to_str().unwrap()
    );
    let mut py = Bg::spawn_piped(peers::python(&code), dir.path(), "py");
    py.wait_stderr("ready");
    let out = udskit()
        .args(["listen", "--echo"])
        .arg(&sock)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains(&format!("is in use by pid {} (python3)", py.pid())),
        "{}",
        stderr_of(&out)
    );
    drop(py);
    // Its file is left behind, stale: the next bind removes it.
    assert!(sock.exists());
    let mut l = udskit();
    l.args(["listen", "--echo"]).arg(&sock);
    let mut server = Bg::spawn(l, dir.path(), "listen");
    let err = server.wait_stderr("listening on");
    assert!(err.contains("removed stale socket"), "{err}");
}

#[test]
fn shadowed_listeners_are_found_in_big_directories_too() {
    // 20 listeners in one directory: the table (no -l, no --json) reads the directory once
    // instead of stat-ing each file; the answer must be the same.
    if !peers::have("python3") {
        return;
    }
    let dir = tempdir();
    let d = dir.path().to_str().unwrap();
    let code = format!(
        "import os,socket,sys\nd={d:?}\nkeep=[]\n\
         def l(p):\n    s=socket.socket(socket.AF_UNIX)\n    s.bind(os.path.join(d,p))\n    s.listen(1)\n    keep.append(s)\n\
         for i in range(20): l(f'n{{i}}.sock')\n\
         os.unlink(os.path.join(d,'n3.sock'))\nl('n3.sock')\n\
         os.unlink(os.path.join(d,'n7.sock'))\n\
         print('ready',file=sys.stderr,flush=True)\nsys.stdin.read()"
    );
    let mut py = Bg::spawn_piped(peers::python(&code), dir.path(), "py");
    py.wait_stderr("ready");
    let shadowed = |args: &[&str]| -> Vec<String> {
        let out = stdout(&ls(&[args, &[d]].concat()));
        let mut v: Vec<String> = out
            .lines()
            .filter(|l| l.contains("(shadowed)"))
            .map(|l| l.rsplit(' ').next().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let expected = [format!("{d}/n3.sock"), format!("{d}/n7.sock")];
    assert_eq!(shadowed(&[]), expected);
    assert_eq!(shadowed(&["-l"]), expected);
    let listed = stdout(&ls(&[d])).lines().count() - 1;
    assert_eq!(listed, 21);
}

/// Python code for a stream server on `path` that says `ready` on stderr and then lives
/// until its stdin closes.
fn py_listener(path: &str) -> String {
    format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind({path:?})\ns.listen(4)\n\
         print('ready',file=sys.stderr,flush=True)\nsys.stdin.read()"
    )
}

/// The inode of process `pid`'s network namespace.
fn netns_of(pid: i32) -> u64 {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let link = link.to_str().unwrap();
    link.trim_start_matches("net:[")
        .trim_end_matches(']')
        .parse()
        .unwrap()
}

/// Root with `unshare`: the namespace tests' requirements (skipped otherwise, a failure
/// with UDSKIT_REQUIRE_PEERS=1).
fn can_unshare() -> bool {
    if !is_root() {
        if std::env::var_os("UDSKIT_REQUIRE_PEERS").is_some_and(|v| v == "1") {
            panic!("the namespace tests need root, and UDSKIT_REQUIRE_PEERS=1");
        }
        eprintln!("\n!!! not root: the namespace tests did NOT run !!!\n");
        return false;
    }
    peers::have("unshare") && peers::have("python3") && peers::have("mount")
}

/// A server in its own network namespace, one in its own mount namespace (a tmpfs over
/// `m/`, so its path is not there in ours), and a stale file beside them.
struct Namespaced {
    dir: tempfile::TempDir,
    token: String,
    net: Bg,
    mnt: Bg,
}

impl Namespaced {
    fn start() -> Option<Namespaced> {
        if !can_unshare() {
            return None;
        }
        let dir = tempdir();
        open_dir_to_all(dir.path());
        let token = dir
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let d = dir.path().to_str().unwrap().to_string();
        let mut c = Command::new("unshare");
        c.args([
            "-n",
            system_python(),
            "-c",
            &py_listener(&format!("{d}/net.sock")),
        ]);
        let mut net = Bg::spawn_piped(c, dir.path(), "net");
        net.wait_stderr("ready");
        std::fs::create_dir(dir.path().join("m")).unwrap();
        let mut c = Command::new("unshare");
        c.args([
            "-m",
            "sh",
            "-c",
            &format!(
                "mount -t tmpfs udskit-test {d}/m && exec {} -c \"$0\"",
                system_python()
            ),
            &py_listener(&format!("{d}/m/mnt.sock")),
        ]);
        let mut mnt = Bg::spawn_piped(c, dir.path(), "mnt");
        mnt.wait_stderr("ready");
        let code = format!(
            "import os,socket\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\nos.chmod({:?},0o777)",
            format!("{d}/stale.sock"),
            format!("{d}/stale.sock")
        );
        assert!(peers::python(&code).status().unwrap().success());
        Some(Namespaced {
            dir,
            token,
            net,
            mnt,
        })
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }
}

#[test]
fn listeners_in_other_network_and_mount_namespaces_are_listed_as_what_they_are() {
    let Some(n) = Namespaced::start() else { return };
    let all = json(&[&n.token]);
    let by = |name: &str| -> &Value {
        let found: Vec<&Value> = all.iter().filter(|e| e["name"] == name).collect();
        assert_eq!(found.len(), 1, "{name}: {all:#?}");
        found[0]
    };
    let net = by(&n.path("net.sock"));
    let inode = netns_of(n.net.pid());
    assert_eq!(net["state"], "listen");
    assert_eq!(net["netns"], inode.to_string().as_str());
    assert_eq!(net["netns_inode"], inode);
    assert_ne!(net["netns"], "host");
    assert_eq!(net["container"], Value::Null);
    assert_eq!(net["processes"][0]["pid"], n.net.pid());
    assert_eq!(
        (&net["shadowed"], &net["mntns_pid"]),
        (&Value::Bool(false), &Value::Null)
    );
    let mnt = by(&n.path("m/mnt.sock"));
    assert_eq!(mnt["state"], "listen");
    assert_eq!(mnt["netns"], "host");
    assert_eq!(mnt["shadowed"], false, "not shadowed: {mnt:#}");
    assert_eq!(mnt["mntns_pid"], n.mnt.pid());
    assert_eq!(
        mnt["host_path"],
        Value::Null,
        "its tmpfs is not mounted here"
    );
    assert_eq!(mnt["mode"].as_str().map(str::len), Some(4), "{mnt:#}");
    assert_eq!(all.len(), 2, "the stale file is no listener: {all:#?}");

    // The table names the namespace and the mount namespace's process.
    let out = stdout(&ls(&[&n.token]));
    let row = |path: &str| -> Vec<String> {
        out.lines()
            .find(|l| l.ends_with(path))
            .unwrap_or_else(|| panic!("{path} in {out}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    let net_row = row(&n.path("net.sock"));
    assert_eq!(net_row[1], "listen");
    assert_eq!(net_row[6], inode.to_string(), "{out}");
    let mnt_row = row(&n.path("m/mnt.sock"));
    assert_eq!(
        mnt_row[1],
        format!("listen(mntns:{})", n.mnt.pid()),
        "{out}"
    );
    assert_eq!(mnt_row[6], "host");

    // --netns picks one namespace, however it is named.
    let pid = format!("pid:{}", n.net.pid());
    for ns in [pid.as_str(), &inode.to_string()] {
        assert_eq!(
            names(&json(&["--netns", ns, &n.token])),
            [n.path("net.sock")],
            "--netns {ns}"
        );
    }
    assert_eq!(
        names(&json(&["--netns", "host", &n.token])),
        [n.path("m/mnt.sock")]
    );
    let both = json(&["--netns", "host", "--netns", &pid, &n.token]);
    assert_eq!(both.len(), 2);
    let none = udskit()
        .args(["ls", "--netns", "no-such-container"])
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(1));
    assert!(
        stderr_of(&none).contains("--netns no-such-container: no network namespace matches"),
        "{}",
        stderr_of(&none)
    );
    let bad = udskit().args(["ls", "--netns", "pid:x"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));

    // --stale: only the stale file, never a live socket of another namespace.
    let stale = json(&["--stale", n.dir.path().to_str().unwrap()]);
    assert_eq!(names(&stale), [n.path("stale.sock")], "{stale:#?}");
    assert_eq!(stale[0]["state"], "stale");

    // Safe bind judges with the same code: the other namespace's socket is in use, by its
    // pid; the stale file is replaced.
    let out = udskit()
        .args(["listen", "--echo", &n.path("net.sock")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains(&format!("is in use by pid {}", n.net.pid())),
        "{}",
        stderr_of(&out)
    );
    let mut l = udskit();
    l.args(["listen", "--echo", &n.path("stale.sock")]);
    let mut server = Bg::spawn(l, n.dir.path(), "listen");
    assert!(
        server
            .wait_stderr("listening on")
            .contains("removed stale socket")
    );
}

/// `udskit ls --json ARGS` as nobody (runuser), from a copy of the binary that nobody may
/// run; the listing parsed.
struct AsNobody {
    _dir: tempfile::TempDir,
    bin: PathBuf,
}

impl AsNobody {
    fn new() -> Option<AsNobody> {
        if !peers::have("runuser") {
            return None;
        }
        let dir = tempdir();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.path().join("udskit");
        std::fs::copy(env!("CARGO_BIN_EXE_udskit"), &bin).unwrap();
        Some(AsNobody { _dir: dir, bin })
    }

    /// `udskit ls ARGS` run as nobody.
    fn output(&self, args: &[&str]) -> Output {
        Command::new("runuser")
            .args(["-u", "nobody", "--"])
            .arg(&self.bin)
            .args(["--color=never", "ls"])
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .unwrap()
    }

    fn ls(&self, args: &[&str]) -> Vec<Value> {
        let out = self.output(&[&["--json"], args].concat());
        assert!(out.status.success(), "{}", stderr_of(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

#[test]
fn without_root_other_namespaces_are_read_from_proc_and_nothing_live_is_called_stale() {
    let Some(n) = Namespaced::start() else { return };
    let Some(nobody) = AsNobody::new() else {
        return;
    };
    let as_nobody = |args: &[&str]| nobody.ls(args);
    let all = as_nobody(&[&n.token]);
    let net = all
        .iter()
        .find(|e| e["name"] == n.path("net.sock").as_str())
        .unwrap_or_else(|| panic!("the other namespace's listener: {all:#?}"));
    assert_eq!(net["state"], "listen");
    // nobody may not read root's namespace links: the namespace is named by a process in it.
    assert_eq!(net["netns"], format!("pid:{}", n.net.pid()).as_str());
    // The mount namespace of root's process cannot be looked into: not called shadowed.
    let mnt = all
        .iter()
        .find(|e| e["name"] == n.path("m/mnt.sock").as_str())
        .unwrap();
    assert_eq!(mnt["shadowed"], Value::Null, "{mnt:#}");
    assert!(
        mnt["reason"]
            .as_str()
            .unwrap()
            .contains("could not be looked into")
    );
    // A PATTERN that matches nothing says what it could not match by without root.
    let out = nobody.output(&[&format!("{}-nothing", n.token)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).contains("hint: a socket of another network namespace matches PATTERN"),
        "{}",
        stderr_of(&out)
    );

    // The stale file (mode 777) is stale; a stale file nobody may connect to is unknown,
    // with the reason; the other namespace's live socket is neither.
    let locked = n.path("locked.sock");
    let code = format!("import socket\ns=socket.socket(socket.AF_UNIX)\ns.bind({locked:?})");
    assert!(peers::python(&code).status().unwrap().success());
    let stale = as_nobody(&["--stale", n.dir.path().to_str().unwrap()]);
    let states: Vec<(String, String)> = stale
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [
            (locked.clone(), "unknown".to_string()),
            (n.path("stale.sock"), "stale".to_string())
        ],
        "{stale:#?}"
    );
    assert!(
        stale[0]["reason"]
            .as_str()
            .unwrap()
            .contains("Permission denied"),
        "{stale:#?}"
    );
}

#[test]
fn without_root_a_name_from_proc_is_read_whole_and_a_bound_socket_never_called_stale() {
    if !can_unshare() {
        return;
    }
    let Some(nobody) = AsNobody::new() else {
        return;
    };
    let dir = tempdir();
    open_dir_to_all(dir.path());
    let d = dir.path().to_str().unwrap();
    // In another network namespace: a listener whose path holds a newline, and a socket
    // bound (not listening) under a relative name, which /proc/net/unix shows as given.
    let newline = format!("{d}/nl\nx.sock");
    let code = format!(
        "import os,socket,sys\nos.chdir({d:?})\nl=socket.socket(socket.AF_UNIX)\nl.bind({newline:?})\n\
         l.listen(4)\nb=socket.socket(socket.AF_UNIX)\nb.bind('rel.sock')\n\
         os.chmod('rel.sock',0o777)\nprint('ready',file=sys.stderr,flush=True)\nsys.stdin.read()"
    );
    let mut c = Command::new("unshare");
    c.args(["-n", system_python(), "-c", &code]);
    let mut server = Bg::spawn_piped(c, dir.path(), "ns");
    server.wait_stderr("ready");
    let all = nobody.ls(&[d]);
    let paths: Vec<&str> = all.iter().filter_map(|e| e["path"].as_str()).collect();
    assert!(paths.contains(&newline.as_str()), "{all:#?}");
    // rel.sock refuses a connect (bound, not listening), and its socket, in a table with
    // no file identities, is named "rel.sock": it may be that file, so it is not stale.
    let stale = nobody.ls(&["--stale", d]);
    let rel = stale
        .iter()
        .find(|e| e["name"] == format!("{d}/rel.sock").as_str())
        .unwrap_or_else(|| panic!("{stale:#?}"));
    assert_eq!(rel["state"], "unknown", "{rel:#}");
    assert!(
        rel["reason"]
            .as_str()
            .unwrap()
            .contains("bound and not listening"),
        "{rel:#}"
    );
}

#[test]
fn a_container_listening_on_a_bind_mounted_directory_is_live_and_named() {
    if !can_unshare() || !peers::have("dockerd") || !peers::have("curl") {
        return;
    }
    let dir = tempdir();
    let docker = Dockerd::start(dir.path());
    let s = docker.sock.to_str().unwrap();
    let api = |args: &[&str], input: &[u8]| -> Value {
        let mut c = udskit();
        c.args(["http", "-f", s]).args(args);
        let out = run_with_input(c, input, Duration::from_secs(60));
        assert!(out.status.success(), "http {args:?}: {}", stderr_of(&out));
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    };
    // An image imported offline: a static busybox and mount points for the host's /usr
    // (the python3 that serves), the merged-/usr links beside them.
    let rootfs = dir.path().join("rootfs");
    for d in ["bin", "usr", "shared", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d)).unwrap();
    }
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox-static");
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh")).unwrap();
    for l in ["lib", "lib64"] {
        std::os::unix::fs::symlink(format!("usr/{l}"), rootfs.join(l)).unwrap();
    }
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    assert!(tar.status.success());
    let mut c = udskit();
    c.args(["http", "-f", s, "-H", "Content-Type: application/x-tar"])
        .args([
            "/images/create?fromSrc=-&repo=udskit/ns&tag=t",
            "--data-binary",
            "@-",
        ]);
    let out = run_with_input(c, &tar.stdout, Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr_of(&out));

    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    let name = format!("ls-{}", dir.path().file_name().unwrap().to_str().unwrap());
    let spec = serde_json::json!({
        "Image": "udskit/ns:t",
        "Cmd": ["/usr/bin/python3", "-c",
            "import socket,time\ns=socket.socket(socket.AF_UNIX)\ns.bind('/shared/svc.sock')\ns.listen(4)\ntime.sleep(600)"],
        "HostConfig": {
            "NetworkMode": "none",
            "Binds": [format!("{}:/shared", shared.display()), "/usr:/usr:ro".to_string()],
        },
    });
    let id = api(
        &[
            "POST",
            &format!("/containers/create?name={name}"),
            "--json",
            &spec.to_string(),
        ],
        b"",
    )["Id"]
        .as_str()
        .unwrap()
        .to_string();
    api(&["POST", &format!("/containers/{id}/start")], b"");
    let sock = shared.join("svc.sock");
    wait_for_socket(&sock);
    // The file exists from bind(2) on; listen(2) follows.
    wait_until(Duration::from_secs(20), "the container's listener", || {
        json(&["--netns", &id[..12], "svc.sock"])
            .iter()
            .any(|e| e["state"] == "listen")
    });
    let pid = api(&[&format!("/containers/{id}/json")], b"")["State"]["Pid"]
        .as_i64()
        .unwrap() as i32;
    // A stale file beside it, left by a server that is gone.
    let stale = shared.join("old.sock");
    let code = format!(
        "import socket\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})",
        stale.to_str().unwrap()
    );
    assert!(peers::python(&code).status().unwrap().success());

    // The listing names the container; its path is the one bound inside it, which leads to
    // the socket in the container's mount namespace.
    let found: Vec<Value> = json(&["--netns", &id[..12], "svc.sock"]);
    assert_eq!(found.len(), 1, "{found:#?}");
    let e = &found[0];
    assert_eq!(e["name"], "/shared/svc.sock");
    assert_eq!(e["state"], "listen");
    assert_eq!(e["netns"], netns_of(pid).to_string().as_str());
    assert_eq!(e["container"]["runtime"], "docker");
    assert_eq!(e["container"]["id"], id.as_str());
    assert_eq!(e["container"]["name"], name.as_str());
    assert_eq!(e["processes"][0]["pid"], pid);
    assert_eq!(e["mntns_pid"], pid);
    assert_eq!(e["shadowed"], false);
    assert_eq!(e["host_path"], sock.to_str().unwrap());
    // PATTERN finds it by its path on the host too (the bind mount's source).
    let by_host = json(&[shared.to_str().unwrap()]);
    assert_eq!(names(&by_host), ["/shared/svc.sock"], "{by_host:#?}");
    assert_eq!(by_host[0]["host_path"], sock.to_str().unwrap());
    assert!(json(&[&format!("{}/nothing-here", shared.display())]).is_empty());
    // By name too, and in the table's NETNS and CONTAINER columns.
    assert_eq!(json(&["--netns", &name]).len(), 1);
    let out = stdout(&ls(&["--netns", &name]));
    let row: Vec<&str> = out.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        (row[1], row[6], row[7]),
        (
            format!("listen(mntns:{pid})").as_str(),
            netns_of(pid).to_string().as_str(),
            name.as_str()
        ),
        "{out}"
    );

    // --stale on the host's side of the bind mount: the stale file, not the live socket.
    let st = json(&["--stale", shared.to_str().unwrap()]);
    assert_eq!(names(&st), [stale.to_str().unwrap()], "{st:#?}");
    let _ = api(&["POST", &format!("/containers/{id}/kill")], b"");
}

/// A listener of ours in a network namespace of its own (`unshare -n`), its command name
/// set to `comm`.
fn netns_listener(dir: &Path, path: &str, comm: &str) -> Bg {
    let code = format!(
        "open('/proc/self/comm','w').write({comm:?})\n{}",
        py_listener(path)
    );
    let mut c = Command::new("unshare");
    c.args(["-n", system_python(), "-c", &code]);
    let mut bg = Bg::spawn_piped(c, dir, comm);
    bg.wait_stderr("ready");
    bg
}

/// The setns(2) calls of one `udskit ARGS`, counted in strace's log, and its output.
fn setns_of(dir: &Path, args: &[&str]) -> (usize, Output) {
    let log = dir.join("strace.log");
    let mut c = udskit_traced(&["-f", "-e", "trace=setns"], &log);
    c.args(args);
    let out = c.output().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    (text.lines().filter(|l| l.contains("setns(")).count(), out)
}

#[test]
fn with_c_or_p_only_the_namespaces_of_matching_processes_are_entered() {
    if !can_unshare() || !peers::have("strace") {
        return;
    }
    let dir = tempdir();
    open_dir_to_all(dir.path());
    let d = dir.path().to_str().unwrap();
    let tag = std::process::id() % 100_000;
    let (name_a, name_b) = (format!("udsns{tag}a"), format!("udsns{tag}b"));
    let a = netns_listener(dir.path(), &format!("{d}/a.sock"), &name_a);
    let b = netns_listener(dir.path(), &format!("{d}/b.sock"), &name_b);
    assert_ne!(netns_of(a.pid()), netns_of(b.pid()));

    // Without a process filter every namespace is entered: both of these at least.
    let (all, out) = setns_of(dir.path(), &["ls", d]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(all >= 2, "{all} setns for two namespaces of our own");
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listed.contains("a.sock") && listed.contains("b.sock"),
        "{listed}"
    );

    // -c: only a's namespace; -p: only b's. Each still lists its socket, with its namespace.
    let (entered, out) = setns_of(dir.path(), &["ls", "-c", &name_a, "--json"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(entered, 1, "-c {name_a}: {}", stderr_of(&out));
    let found: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(names(&found), [format!("{d}/a.sock")]);
    assert_eq!(found[0]["netns_inode"], netns_of(a.pid()));
    let pid = b.pid().to_string();
    let (entered, out) = setns_of(dir.path(), &["ls", "-p", &pid]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(entered, 1, "-p {pid}");
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listed.contains("b.sock") && !listed.contains("a.sock"),
        "{listed}"
    );
}

#[test]
fn a_listener_s_connections_are_counted_from_every_namespace_whatever_is_read() {
    if !can_unshare() {
        return;
    }
    let dir = tempdir();
    let d = dir.path().to_str().unwrap();
    let path = format!("{d}/srv.sock");
    let comm = format!("udscn{}", std::process::id() % 100_000);
    // A server in a namespace of its own, which accepts and holds its clients.
    let code = format!(
        "import socket,sys\nopen('/proc/self/comm','w').write({comm:?})\n\
         s=socket.socket(socket.AF_UNIX)\ns.bind({path:?})\ns.listen(8)\n\
         print('ready',file=sys.stderr,flush=True)\nheld=[]\n\
         while True: held.append(s.accept())"
    );
    let mut c = Command::new("unshare");
    c.args(["-n", system_python(), "-c", &code]);
    let mut server = Bg::spawn_piped(c, dir.path(), "server");
    server.wait_stderr("ready");
    // Its clients: one in another namespace (a container sharing the directory), one here.
    let client = format!(
        "import socket,sys\nc=socket.socket(socket.AF_UNIX)\nc.connect({path:?})\n\
         print('ready',file=sys.stderr,flush=True)\nsys.stdin.read()"
    );
    let mut c = Command::new("unshare");
    c.args(["-n", system_python(), "-c", &client]);
    let mut elsewhere = Bg::spawn_piped(c, dir.path(), "client elsewhere");
    elsewhere.wait_stderr("ready");
    let mut c = Command::new(system_python());
    c.args(["-c", &client]);
    let mut here = Bg::spawn_piped(c, dir.path(), "client here");
    here.wait_stderr("ready");
    assert_ne!(netns_of(elsewhere.pid()), netns_of(server.pid()));

    let conns = |args: &[&str]| -> Value {
        let found = json(args);
        assert_eq!(names(&found), [path.as_str()], "{args:?}: {found:#?}");
        found[0]["conns"].clone()
    };
    wait_until(Duration::from_secs(10), "both clients accepted", || {
        conns(&[d]) == 2
    });
    // Reading the server's namespace alone (it holds a socket of another): the same count.
    let ns = netns_of(server.pid()).to_string();
    let pid = server.pid().to_string();
    assert_eq!(conns(&[d, "--netns", &ns]), 2);
    assert_eq!(conns(&["-c", &comm]), 2);
    assert_eq!(conns(&["-p", &pid]), 2);
}

/// A cgroup directory of ours that the process moved into it leaves with: removed once
/// the process is gone.
struct Cgroup(Vec<PathBuf>);

impl Cgroup {
    /// `parent/scope` under the first cgroup hierarchy that lets us make it, or None.
    fn make(parent: &str, scope: &str) -> Option<Cgroup> {
        for root in [
            "/sys/fs/cgroup/pids",
            "/sys/fs/cgroup/systemd",
            "/sys/fs/cgroup/unified",
            "/sys/fs/cgroup",
        ] {
            let outer = Path::new(root).join(parent);
            let inner = outer.join(scope);
            if std::fs::create_dir_all(&inner).is_ok() && inner.join("cgroup.procs").exists() {
                return Some(Cgroup(vec![inner, outer]));
            }
            let _ = std::fs::remove_dir(&inner);
            let _ = std::fs::remove_dir(&outer);
        }
        None
    }

    fn enter(&self, pid: i32) {
        std::fs::write(self.0[0].join("cgroup.procs"), pid.to_string()).unwrap();
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for d in &self.0 {
            // Busy until the kernel has let go of the process that was in it.
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::fs::remove_dir(d).is_err() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

#[test]
fn a_podman_container_is_named_from_podman_storage() {
    if !can_unshare() {
        return;
    }
    let dir = tempdir();
    open_dir_to_all(dir.path());
    let d = dir.path().to_str().unwrap();
    let token = dir.path().file_name().unwrap().to_str().unwrap();
    let id: String = sha256(format!("{d}-{}", std::process::id()).as_bytes());
    assert_eq!(id.len(), 64);
    let Some(cgroup) = Cgroup::make(
        &format!("udskit-test-{token}.slice"),
        &format!("libpod-{id}.scope"),
    ) else {
        eprintln!("\n!!! no cgroup hierarchy writable here: the podman test did NOT run !!!\n");
        return;
    };
    // What podman keeps of its containers, as root's storage lays it out.
    let storage = dir.path().join("storage");
    std::fs::create_dir_all(storage.join("overlay-containers")).unwrap();
    let other = "0".repeat(64);
    std::fs::write(
        storage.join("overlay-containers/containers.json"),
        serde_json::json!([
            {"id": other, "names": ["someone-else"], "image": "i", "layer": "l"},
            {"id": id, "names": ["udskit-web"], "image": "i", "layer": "l",
             "metadata": "{\"image-name\":\"docker.io/library/python:3\"}"},
        ])
        .to_string(),
    )
    .unwrap();
    let server = netns_listener(dir.path(), &format!("{d}/web.sock"), "udspodweb");
    cgroup.enter(server.pid());

    let found = || -> Vec<Value> {
        let mut c = udskit();
        c.env("UDSKIT_PODMAN_STORAGE", &storage)
            .args(["ls", "--json", token]);
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let all = found();
    assert_eq!(names(&all), [format!("{d}/web.sock")], "{all:#?}");
    let c = &all[0]["container"];
    assert_eq!(c["runtime"], "podman", "{all:#?}");
    assert_eq!(c["id"], id.as_str());
    assert_eq!(c["name"], "udskit-web");
    // The table shows the name, and --netns takes it.
    let mut t = udskit();
    t.env("UDSKIT_PODMAN_STORAGE", &storage)
        .args(["ls", "--netns", "udskit-web", token]);
    let out = t.output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let row = text
        .lines()
        .find(|l| l.ends_with("web.sock"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(row.split_whitespace().any(|w| w == "udskit-web"), "{text}");

    // Without its storage entry, the short id.
    std::fs::write(storage.join("overlay-containers/containers.json"), "[]").unwrap();
    let all = found();
    assert_eq!(all[0]["container"]["name"], Value::Null, "{all:#?}");
    assert_eq!(all[0]["container"]["runtime"], "podman");
    drop(server);
}
