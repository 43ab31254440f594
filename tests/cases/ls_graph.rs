//! `udskit ls --graph` and `ls --watch`: a graph of a real setup (a `listen -k` server, two
//! clients, a relay with a client of its own) read by Graphviz and checked edge by edge in
//! Mermaid, labels that need escaping, and the watch piped (JSON events) and on a terminal
//! (script(1)), each change made by the test while it runs.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::support::*;

const LIMIT: Duration = Duration::from_secs(20);

fn json_of(dir: &str) -> Vec<Value> {
    let out = ud(&["ls", "--json", dir]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The listener at `path`, once it has `conns` accepted connections.
fn listener_with(dir: &str, path: &str, conns: u64) -> Value {
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let all = json_of(dir);
        if let Some(found) = all
            .iter()
            .find(|e| e["path"] == path && e["conns"] == conns)
        {
            return found.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {path} with {conns} connections in {all:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `udskit connect PATH`, its stdin held open by the test so that it stays connected.
fn client(path: &str, dir: &std::path::Path, name: &str) -> Bg {
    let mut c = ud(&["connect", path]);
    c.stdout(Stdio::null());
    Bg::spawn_piped(c, dir, name)
}

/// The text of an SVG's labels as it reads: Graphviz writes `-` as `&#45;`, and `&`, `"`,
/// `<`, `>` as entities.
fn svg_text(svg: &str) -> String {
    svg.replace("&#45;", "-")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn graph(args: &[&str]) -> String {
    let out = ud(&[&["ls", "--graph"], args].concat()).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn graph_of_a_server_its_clients_and_a_relay() {
    if !peers::have("python3") || !peers::have("dot") {
        return;
    }
    let dir = tempdir();
    let d = dir.path().to_str().unwrap().to_string();
    let s = format!("{d}/s.sock");
    let r = format!("{d}/r.sock");
    let mut server = ud(&["listen", "-k", &s]);
    server.stdout(Stdio::null());
    let server = Bg::spawn_piped(server, dir.path(), "server");
    wait_for_socket(std::path::Path::new(&s));
    let one = client(&s, dir.path(), "one");
    // A client with two connections, which the edge must count.
    let mut two = peers::python(
        "import socket,sys,time\ncs=[socket.socket(socket.AF_UNIX) for _ in range(2)]\n\
         for c in cs: c.connect(sys.argv[1])\nprint('ready',file=sys.stderr,flush=True)\ntime.sleep(120)",
    );
    two.arg(&s);
    let mut two = Bg::spawn_piped(two, dir.path(), "two");
    two.wait_stderr("ready");
    let relay = Bg::spawn(ud(&["relay", &r, &s]), dir.path(), "relay");
    wait_for_socket(std::path::Path::new(&r));
    let three = client(&r, dir.path(), "three");
    let si = listener_with(&d, &s, 4)["inode"].clone();
    let ri = listener_with(&d, &r, 1)["inode"].clone();

    let m = graph(&["mermaid", &d]);
    assert!(m.starts_with("flowchart LR\n"), "{m}");
    let (p1, p2, pr, p3, ps) = (one.pid(), two.pid(), relay.pid(), three.pid(), server.pid());
    for edge in [
        format!("  p{p1} -->|1 conn| s{si}\n"),
        format!("  p{p2} -->|2 conns| s{si}\n"),
        format!("  p{pr} -->|1 conn| s{si}\n"),
        format!("  p{p3} -->|1 conn| s{ri}\n"),
        format!("  p{ps} -.->|listens| s{si}\n"),
        format!("  p{pr} -.->|listens| s{ri}\n"),
        format!("  s{si}[\"{s}\"]\n"),
        format!("<br>pid {p2}\"])\n"),
    ] {
        assert!(m.contains(&edge), "no {edge:?} in:\n{m}");
    }
    assert_eq!(m.matches("-->").count(), 4, "{m}");

    // Graphviz reads the DOT text and draws every node.
    let dot = graph(&["dot", &d]);
    let out = run_with_input(
        {
            let mut c = Command::new("dot");
            c.arg("-Tsvg");
            c
        },
        dot.as_bytes(),
        LIMIT,
    );
    assert!(out.status.success(), "dot: {}\n{dot}", stderr_of(&out));
    let svg = svg_text(&String::from_utf8(out.stdout).unwrap());
    for node in [
        format!("<title>s{si}</title>"),
        format!("<title>s{ri}</title>"),
        format!(">{s}</text>"),
        format!(">{r}</text>"),
    ] {
        assert!(svg.contains(&node), "no {node} in the SVG of:\n{dot}");
    }
    for pid in [p1, p2, pr, p3, ps] {
        assert!(svg.contains(&format!("<title>p{pid}</title>")), "{dot}");
        assert!(svg.contains(&format!(">pid {pid}</text>")), "{dot}");
    }
    assert!(svg.contains(">2 conns</text>"), "{svg}");

    // ls's filters: -p keeps what touches that process; PATTERN picks listeners.
    let only_two = graph(&["mermaid", "-p", &p2.to_string(), &d]);
    assert!(
        only_two.contains(&format!("  p{p2} -->|2 conns| s{si}\n")),
        "{only_two}"
    );
    assert!(
        only_two.contains(&format!("  p{ps} -.->|listens| s{si}\n")),
        "{only_two}"
    );
    assert_eq!(only_two.matches("-->").count(), 1, "{only_two}");
    assert!(!only_two.contains(&format!("s{ri}")), "{only_two}");
    let relayed = graph(&["mermaid", &r]);
    assert!(
        relayed.contains(&format!("  p{p3} -->|1 conn| s{ri}\n")),
        "{relayed}"
    );
    assert!(!relayed.contains(&format!("s{si}")), "{relayed}");
    let by_command = graph(&["mermaid", "-c", "python", &d]);
    assert_eq!(by_command.matches("-->").count(), 1, "{by_command}");
}

#[test]
fn graph_labels_are_escaped_for_graphviz_and_mermaid() {
    if !peers::have("python3") || !peers::have("dot") {
        return;
    }
    let dir = tempdir();
    let d = dir.path().to_str().unwrap().to_string();
    // A quote, a backslash, a newline, `&`, `#`, `<` and a byte that is not UTF-8.
    let mut py = peers::python(
        "import os,socket,sys,time\nd=os.fsencode(sys.argv[1])\n\
         s=socket.socket(socket.AF_UNIX)\ns.bind(d+b'/we\"ird\\\\\\n&#<\\xff.sock')\ns.listen()\n\
         c=socket.socket(socket.AF_UNIX)\nc.connect(d+b'/we\"ird\\\\\\n&#<\\xff.sock')\na,_=s.accept()\n\
         print('ready',file=sys.stderr,flush=True)\ntime.sleep(120)",
    );
    py.arg(&d);
    let mut py = Bg::spawn_piped(py, dir.path(), "py");
    py.wait_stderr("ready");
    // As the listing shows it: `\` doubled, the newline as `\n`, the byte as `\xff`.
    let shown = format!("{d}/we\"ird\\\\\\n&#<\\xff.sock");
    let pid = py.pid();
    wait_until(LIMIT, "the connection drawn", || {
        graph(&["mermaid", &d]).contains(&format!("p{pid} -->|1 conn|"))
    });
    let dot = graph(&["dot", &d]);
    let out = run_with_input(
        {
            let mut c = Command::new("dot");
            c.arg("-Tsvg");
            c
        },
        dot.as_bytes(),
        LIMIT,
    );
    assert!(out.status.success(), "dot: {}\n{dot}", stderr_of(&out));
    let svg = svg_text(&String::from_utf8(out.stdout).unwrap());
    assert!(
        svg.contains(&format!(">{shown}</text>")),
        "{shown} not in:\n{svg}"
    );
    let m = graph(&["mermaid", &d]);
    let in_mermaid = shown
        .replace('&', "#amp;")
        .replace('#', "#35;")
        .replace("#35;amp;", "#amp;")
        .replace('"', "#quot;")
        .replace('<', "#lt;");
    assert!(
        m.contains(&format!("[\"{in_mermaid}\"]")),
        "{in_mermaid} not in:\n{m}"
    );
}

/// `ls --watch` piped, its JSON lines read as they come.
struct Watch {
    bg: Bg,
    lines: mpsc::Receiver<Value>,
}

impl Watch {
    fn start(args: &[&str], dir: &std::path::Path) -> Watch {
        let mut c = ud(&[&["ls", "--watch", "--interval", "50ms"], args].concat());
        c.stdout(Stdio::piped());
        let mut bg = Bg::spawn(c, dir, "watch");
        let out = bg.child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        Watch { bg, lines }
    }

    /// The next event, whatever it is.
    fn next(&self) -> Value {
        self.lines
            .recv_timeout(LIMIT)
            .unwrap_or_else(|_| panic!("no event; stderr:\n{}", self.bg.stderr()))
    }
}

#[test]
fn watch_piped_prints_one_json_object_per_change() {
    let dir = tempdir();
    let d = dir.path().to_str().unwrap().to_string();
    let old = format!("{d}/old.sock");
    let s = format!("{d}/s.sock");
    let mut c = ud(&["listen", "-k", &old]);
    c.stdout(Stdio::null());
    let _old = Bg::spawn_piped(c, dir.path(), "old");
    wait_for_socket(std::path::Path::new(&old));

    let w = Watch::start(&[&d], dir.path());
    // The sockets already there come first, as `listen` events.
    let first = w.next();
    assert_eq!(
        (&first["event"], &first["path"], &first["state"]),
        (
            &Value::from("listen"),
            &Value::from(old.as_str()),
            &Value::from("listen")
        ),
        "{first}"
    );
    let mut c = ud(&["listen", "-k", &s]);
    c.stdout(Stdio::null());
    let server = Bg::spawn_piped(c, dir.path(), "server");
    let up = w.next();
    assert_eq!(
        (&up["event"], &up["path"]),
        (&"listen".into(), &s.as_str().into()),
        "{up}"
    );
    assert_eq!(up["processes"][0]["pid"], server.pid());
    assert!(up["time"].as_str().unwrap().ends_with('Z'), "{up}");
    let one = client(&s, dir.path(), "one");
    let more = w.next();
    assert_eq!(
        (
            &more["event"],
            &more["path"],
            &more["old"],
            &more["new"],
            &more["conns"]
        ),
        (
            &"conns".into(),
            &s.as_str().into(),
            &0.into(),
            &1.into(),
            &1.into()
        ),
        "{more}"
    );
    drop(one);
    let fewer = w.next();
    assert_eq!(
        (&fewer["event"], &fewer["old"], &fewer["new"]),
        (&"conns".into(), &1.into(), &0.into()),
        "{fewer}"
    );
    drop(server);
    let gone = w.next();
    assert_eq!(
        (&gone["event"], &gone["path"]),
        (&"gone".into(), &s.as_str().into()),
        "{gone}"
    );

    // SIGTERM ends it as it ends every udskit that runs until stopped.
    let mut bg = w.bg;
    bg.signal(15);
    assert_eq!(bg.wait_exit(LIMIT).code(), Some(143), "{}", bg.stderr());

    // --changes-only: the sockets already there are left out; its reader going away ends
    // the watch at once, with exit 0, though nothing changes any more.
    let mut c = ud(&["ls", "--watch", "--interval", "50ms", "--changes-only", &d]);
    c.stdout(Stdio::piped());
    let mut bg = Bg::spawn(c, dir.path(), "closed");
    let out = bg.child.stdout.take().unwrap();
    // One line is read, then the pipe is closed (the thread ends, dropping it).
    let (tx, first) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    // Whether a new socket came before or after the first listing cannot be known from
    // here: new ones are made until one is reported, and it must be one of them.
    let mut made = Vec::new();
    let line = loop {
        let path = format!("{d}/new{}.sock", made.len());
        let mut c = ud(&["listen", "-k", &path]);
        c.stdout(Stdio::null());
        made.push((Bg::spawn_piped(c, dir.path(), "new"), path));
        match first.recv_timeout(Duration::from_millis(500)) {
            Ok(line) => break line,
            Err(_) => assert!(made.len() < 40, "no event; stderr:\n{}", bg.stderr()),
        }
    };
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert_eq!(v["event"], "listen", "{v}");
    assert!(made.iter().any(|(_, p)| v["path"] == p.as_str()), "{v}");
    assert_eq!(bg.wait_exit(LIMIT).code(), Some(0), "{}", bg.stderr());
}

#[test]
fn watch_on_a_terminal_marks_what_changed() {
    if !peers::have("script") {
        return;
    }
    let dir = tempdir();
    let d = dir.path().to_str().unwrap().to_string();
    let s = format!("{d}/s.sock");
    let cmd = format!(
        "{} --color=never ls --watch --interval 50ms {d}",
        env!("CARGO_BIN_EXE_udskit")
    );
    let mut c = Command::new("script");
    c.args(["-qfec", &cmd, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut tty = Bg::spawn(c, dir.path(), "script");
    let mut out = tty.child.stdout.take().unwrap();
    let seen = Arc::new(Mutex::new(String::new()));
    let into = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = out.read(&mut buf) {
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    // A row of the table whose first cell is `mark` and that shows `path` (and `also`).
    let row = |mark: char, also: &str| {
        let seen = seen.clone();
        let s = s.clone();
        let also = also.to_string();
        move || {
            seen.lock()
                .unwrap()
                .lines()
                .any(|l| l.trim_start().starts_with(mark) && l.contains(&s) && l.contains(&also))
        }
    };
    wait_until(LIMIT, "the first refresh", || {
        seen.lock().unwrap().contains("CONNS")
    });
    let mut c = ud(&["listen", "-k", &s]);
    c.stdout(Stdio::null());
    let server = Bg::spawn_piped(c, dir.path(), "server");
    wait_until(LIMIT, "a + row", row('+', "listen"));
    let one = client(&s, dir.path(), "one");
    wait_until(LIMIT, "a ~ row", row('~', "0→1"));
    drop(one);
    drop(server);
    wait_until(LIMIT, "a - row", row('-', "listen"));
    // A socket bound and not listening is in the table, as `ls` shows it (only the JSON
    // events wait for its listen).
    let bound = format!("{d}/bound.sock");
    let code = format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind({bound:?})\n\
         print('ready',file=sys.stderr,flush=True)\nsys.stdin.read()"
    );
    let mut c = Command::new("python3");
    c.args(["-c", &code]);
    let mut py = Bg::spawn_piped(c, dir.path(), "bound");
    py.wait_stderr("ready");
    wait_until(LIMIT, "a + row of a bound socket", || {
        seen.lock()
            .unwrap()
            .lines()
            .any(|l| l.trim_start().starts_with('+') && l.contains(&bound) && l.contains("bound"))
    });
    let text = seen.lock().unwrap().clone();
    assert!(text.contains("\x1b[H\x1b[2J"), "redrawn in place");
    tty.signal(15);
    tty.wait_exit(LIMIT);
}

#[test]
fn graph_as_another_user_counts_the_clients_it_cannot_see() {
    if !is_root() || !peers::have("runuser") {
        return;
    }
    let dir = tempdir();
    let d = dir.path().to_str().unwrap().to_string();
    let s = format!("{d}/s.sock");
    let mut server = ud(&["listen", "-k", &s]);
    server.stdout(Stdio::null());
    let _server = Bg::spawn_piped(server, dir.path(), "server");
    wait_for_socket(std::path::Path::new(&s));
    let _one = client(&s, dir.path(), "one");
    let si = listener_with(&d, &s, 1)["inode"].clone();
    // nobody must be able to reach the binary: a copy in a directory anyone can enter.
    let bin_dir = tempdir();
    open_dir_to_all(bin_dir.path());
    let bin = bin_dir.path().join("udskit");
    std::fs::copy(env!("CARGO_BIN_EXE_udskit"), &bin).unwrap();
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--"])
        .arg(&bin)
        .args(["--color=never", "ls", "--graph", "mermaid", &d])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let m = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(m.contains(&format!("  unseen -->|1 conn| s{si}\n")), "{m}");
    assert!(
        m.contains("  unseen([\"clients we could not see<br>(run as root)\"])\n"),
        "{m}"
    );
    assert!(!m.contains("listens"), "no server can be seen either: {m}");
    let err = stderr_of(&out);
    assert!(
        err.contains("could not be inspected") && err.contains("'clients we could not see'"),
        "{err}"
    );
}

#[test]
fn graph_and_watch_options_are_checked() {
    for (args, says) in [
        (
            &["ls", "--watch", "--interval", "0"][..],
            "'--interval <DURATION>': must be longer than 0",
        ),
        (&["ls", "--interval", "2s"][..], "--watch"),
        (
            &["ls", "--graph", "png"][..],
            "possible values: dot, mermaid",
        ),
        (
            &["ls", "--graph", "dot", "--json"][..],
            "cannot be used with",
        ),
        (&["ls", "--changes-only"][..], "--watch"),
    ] {
        let out = ud(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr_of(&out).contains(says),
            "{args:?}: {}",
            stderr_of(&out)
        );
    }
}
