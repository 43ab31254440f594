//! `udskit sendto` and `udskit recvfrom`: against socat and Python both ways, abstract
//! names, --reply against a request/response server, --json field by field, --lines
//! boundaries, the error messages, safe bind, SIGTERM cleanup and a maximal datagram.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::peers::{have, python};
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(20);

fn cmd(args: &[&str]) -> Command {
    let mut c = udskit();
    c.args(args);
    c
}

fn run(args: &[&str], input: &[u8]) -> std::process::Output {
    run_with_input(cmd(args), input, LIMIT)
}

/// A Python receiver bound at `addr` (a path, or "\0name" for an abstract name) that prints
/// each of `count` datagrams as a hex line, and "ready" on stderr once bound.
fn py_receiver(addr: &str, count: usize) -> Command {
    python(&format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind({addr:?})\nprint('ready',file=sys.stderr,flush=True)\nfor _ in range({count}):\n  print(s.recv(1<<23).hex(),flush=True)"
    ))
}

/// Starts `c` in the background with stdout piped and waits for `ready` on its stderr.
fn start(c: Command, dir: &Path, name: &str, ready: &str) -> Bg {
    let mut c = c;
    c.stdout(Stdio::piped());
    let mut bg = Bg::spawn(c, dir, name);
    bg.wait_stderr(ready);
    bg
}

fn hex_lines(out: &[u8]) -> Vec<Vec<u8>> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| {
            (0..l.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap())
                .collect()
        })
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn sendto_python_receiver_gets_exact_bytes_and_line_boundaries() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    // 1 binary datagram from stdin, 1 from MESSAGE words, then 4 + 30000 lines.
    // Its output goes to a file: a pipe nobody reads yet would stall it, and so the senders.
    let out_path = dir.path().join("py.out");
    let mut py = py_receiver(s(&sock), 2 + 4 + 30_000);
    py.stdout(std::fs::File::create(&out_path).unwrap());
    let mut rx = Bg::spawn(py, dir.path(), "py");
    rx.wait_stderr("ready");
    let binary: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let out = run(&["sendto", s(&sock)], &binary);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = run(&["sendto", s(&sock), "hello", "datagram", "world"], b"");
    assert!(out.status.success(), "{}", stderr_of(&out));
    // Lines long enough to cross the 256 KiB stdin chunks many times; no final newline.
    let mut lines = b"a\nbb\n\nccc\n".to_vec();
    for i in 0..30_000 {
        lines.extend_from_slice(format!("{i:05} {}", "z".repeat(i % 97)).as_bytes());
        if i != 29_999 {
            lines.push(b'\n');
        }
    }
    let out = run(&["sendto", "--lines", s(&sock)], &lines);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(rx.wait_exit(LIMIT).success());
    let got = hex_lines(&std::fs::read(&out_path).unwrap());
    assert_eq!(got.len(), 30_006);
    assert!(got[0] == binary, "binary datagram differs");
    assert_eq!(got[1], b"hello datagram world");
    assert_eq!(
        &got[2..6],
        &[b"a".to_vec(), b"bb".to_vec(), vec![], b"ccc".to_vec()]
    );
    for (i, d) in got[6..].iter().enumerate() {
        assert_eq!(
            d,
            format!("{i:05} {}", "z".repeat(i % 97)).as_bytes(),
            "line {i}"
        );
    }
}

#[test]
fn sendto_socat_receiver_and_abstract_names() {
    if !have("socat") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("socat.sock");
    let mut c = Command::new("socat");
    c.arg("-u").arg(format!("UNIX-RECV:{}", s(&sock))).arg("-");
    c.stdout(Stdio::piped());
    let socat = Bg::spawn(c, dir.path(), "socat");
    wait_for_socket(&sock);
    let out = run(&["sendto", s(&sock), "to socat"], b"");
    assert!(out.status.success(), "{}", stderr_of(&out));
    // socat writes as it receives and never exits by itself: read its first 8 bytes (with a
    // deadline), then stop it.
    let mut socat = socat;
    let mut stdout = socat.child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut got = vec![0u8; 8];
        let _ = tx.send(std::io::Read::read_exact(&mut stdout, &mut got).map(|_| got));
    });
    let got = rx
        .recv_timeout(LIMIT)
        .expect("socat printed nothing")
        .unwrap();
    assert_eq!(got, b"to socat");
    drop(socat);

    // An abstract name, as in NOTIFY_SOCKET: python binds "\0name", udskit sends to @name.
    let name = format!("udskit-test-{}", std::process::id());
    let rx = start(
        py_receiver(&format!("\0{name}"), 1),
        dir.path(),
        "py",
        "ready",
    );
    let out = run(&["sendto", &format!("@{name}"), "READY=1"], b"");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (_, stdout) = rx.finish(LIMIT);
    assert_eq!(hex_lines(&stdout), vec![b"READY=1".to_vec()]);
}

/// recvfrom --json's output: one JSON object per line.
fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn recvfrom_gets_socat_python_and_udskit_datagrams_exactly() {
    if !have("socat") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    let rx = start(
        cmd(&["recvfrom", "--count", "3", s(&sock)]),
        dir.path(),
        "recv",
        "receiving on",
    );
    let mut c = Command::new("socat");
    c.arg("-u")
        .arg("-")
        .arg(format!("UNIX-SENDTO:{}", s(&sock)));
    let out = run_with_input(c, b"socat\xff|", LIMIT);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = python(&format!(
        "import socket\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.sendto(b'py\\x00|',{:?})",
        s(&sock)
    ))
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let out = run(&["sendto", s(&sock)], b"udskit\n");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (st, stdout) = rx.finish(LIMIT);
    assert_eq!(st.code(), Some(0));
    assert_eq!(stdout, b"socat\xff|py\x00|udskit\n");
    assert!(!sock.exists(), "socket file left after --count");
}

#[test]
fn recvfrom_json_reports_sender_credentials_and_encoding() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    let client = dir.path().join("client.sock");
    let rx = start(
        cmd(&["recvfrom", "--json", "-n", "2", s(&sock)]),
        dir.path(),
        "recv",
        "receiving on",
    );
    // A bound Python sender with a binary payload; it reports its own pid, uid and gid.
    let out = python(&format!(
        "import socket,os\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind({:?})\ns.sendto(bytes(range(256))+b'\\xff\\xfe',{:?})\nprint(os.getpid(),os.getuid(),os.getgid())",
        s(&client),
        s(&sock)
    ))
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let ids: Vec<u64> = String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    let out = run(&["sendto", s(&sock), "héllo \"json\""], b"");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (st, stdout) = rx.finish(LIMIT);
    assert!(st.success());
    let objs = json_lines(&stdout);
    assert_eq!(objs.len(), 2, "{}", String::from_utf8_lossy(&stdout));
    let a = &objs[0];
    assert_eq!(a["sender"], format!("unix:{}", s(&client)));
    assert_eq!(a["sender_encoding"], "utf-8");
    assert_eq!(a["size"], 258);
    assert_eq!(a["encoding"], "base64");
    let mut payload: Vec<u8> = (0..=255u8).collect();
    payload.extend_from_slice(b"\xff\xfe");
    assert_eq!(a["data"], base64(&payload));
    assert_eq!(a["pid"], ids[0]);
    assert_eq!(a["uid"], ids[1]);
    assert_eq!(a["gid"], ids[2]);
    let time = a["time"].as_str().unwrap();
    assert!(
        time.len() == 27 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{time}"
    );
    let b = &objs[1];
    assert_eq!(b["sender"], serde_json::Value::Null);
    assert_eq!(b["sender_encoding"], serde_json::Value::Null);
    assert_eq!(b["size"], "héllo \"json\"".len());
    assert_eq!(b["encoding"], "utf-8");
    assert_eq!(b["data"], "héllo \"json\"");
    assert!(b["pid"].as_u64().unwrap() > 0);
}

/// Sender addresses that are not UTF-8 (any bytes but NUL make a path, any bytes at all an
/// abstract name) come out in base64, as data does, never garbled; `-v` shows them escaped.
#[test]
fn recvfrom_json_keeps_senders_that_are_not_utf8() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    let rx = start(
        cmd(&["-v", "recvfrom", "--json", "-n", "2", s(&sock)]),
        dir.path(),
        "recv",
        "receiving on",
    );
    let out = python(&format!(
        "import os,socket,sys\n\
         d=os.fsencode(sys.argv[1])\n\
         a=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\na.bind(d+b'/\\xff\\xfe.sock')\na.sendto(b'one',sys.argv[2])\n\
         b=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\nb.bind(b'\\0udskit-\\xff\\n{}')\nb.sendto(b'two',sys.argv[2])",
        std::process::id()
    ))
    .arg(dir.path())
    .arg(&sock)
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (st, stdout) = rx.finish(LIMIT);
    assert!(st.success());
    let text = String::from_utf8_lossy(&stdout);
    let objs = json_lines(&stdout);
    assert_eq!(objs.len(), 2, "{text}");
    let mut path_form = b"unix:".to_vec();
    path_form.extend_from_slice(s(dir.path()).as_bytes());
    path_form.extend_from_slice(b"/\xff\xfe.sock");
    assert_eq!(objs[0]["sender"], base64(&path_form), "{text}");
    assert_eq!(objs[0]["sender_encoding"], "base64");
    assert_eq!(objs[0]["data"], "one");
    let mut abstract_form = b"@udskit-\xff\n".to_vec();
    abstract_form.extend_from_slice(std::process::id().to_string().as_bytes());
    assert_eq!(objs[1]["sender"], base64(&abstract_form), "{text}");
    assert_eq!(objs[1]["sender_encoding"], "base64");
    let log = std::fs::read_to_string(dir.path().join("recv.stderr")).unwrap();
    assert!(log.contains("/\\xff\\xfe.sock (pid "), "{log}");
    assert!(
        log.contains(&format!(
            "bytes from @udskit-\\xff\\n{} (pid ",
            std::process::id()
        )),
        "{log}"
    );
}

#[test]
fn recvfrom_hexdump_newline_and_abstract() {
    let dir = tempdir();
    let name = format!("@udskit-hex-{}", std::process::id());
    let rx = start(
        cmd(&["-v", "recvfrom", "--hexdump", "-n", "1", &name]),
        dir.path(),
        "recv",
        "receiving on",
    );
    let out = run(
        &["sendto", "--bind", &format!("{name}-client"), &name],
        b"0123456789abcdef\x00\x01!",
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (_, stdout) = rx.finish(LIMIT);
    // -v names the sender and its credentials, the data escaped.
    let log = std::fs::read_to_string(dir.path().join("recv.stderr")).unwrap();
    let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
    assert!(
        log.contains(&format!(
            "udskit: datagram #1: 19 bytes from {name}-client (pid "
        )),
        "{log}"
    );
    assert!(
        log.contains(&format!(" uid {} gid ", uid.trim()))
            && log.contains("): 0123456789abcdef\\u{0}\\u{1}!\n"),
        "{log}"
    );
    assert_eq!(
        String::from_utf8(stdout).unwrap(),
        format!(
            "datagram #1: 19 bytes from {name}-client\n\
             00000000  30 31 32 33 34 35 36 37  38 39 61 62 63 64 65 66  |0123456789abcdef|\n\
             00000010  00 01 21                                          |..!|\n"
        )
    );
    let rx = start(
        cmd(&["recvfrom", "--newline", "-n", "2", &name]),
        dir.path(),
        "recv2",
        "receiving on",
    );
    let out = run(&["sendto", "--lines", &name], b"one\ntwo\n");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(rx.finish(LIMIT).1, b"one\ntwo\n");
}

/// A request/response server: answers every datagram with it upper-cased.
fn py_upper_server(path: &str) -> Command {
    python(&format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind({path:?})\nprint('ready',file=sys.stderr,flush=True)\nwhile True:\n  d,a=s.recvfrom(65536)\n  s.sendto(d.upper(),a)"
    ))
}

#[test]
fn reply_from_python_server() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("srv.sock");
    let _srv = start(py_upper_server(s(&sock)), dir.path(), "py", "ready");
    let out = run(&["sendto", "--reply", s(&sock), "status", "please"], b"");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"STATUS PLEASE");
    let out = run(&["sendto", "--reply", "--lines", s(&sock)], b"a\nb\nc\n");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"A\nB\nC\n");
    // A chosen return path: bound safely and removed afterwards.
    let back = dir.path().join("back.sock");
    let out = run(
        &[
            "sendto",
            "-r",
            "--bind",
            s(&back),
            "--newline",
            s(&sock),
            "x",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"X\n");
    assert!(!back.exists(), "return socket left behind");
    // The temporary return address is an abstract name: nothing new in the directory.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".stderr"))
        .collect();
    assert_eq!(names, vec!["srv.sock"]);
}

#[test]
fn reply_may_come_from_another_socket() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("in.sock");
    // Receives on one socket and answers from another (unbound) one.
    let _srv = start(
        python(&format!(
            "import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind({:?})\no=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\nprint('ready',file=sys.stderr,flush=True)\nwhile True:\n  d,a=s.recvfrom(65536)\n  o.sendto(d[::-1],a)",
            s(&sock)
        )),
        dir.path(),
        "py",
        "ready",
    );
    let out = run(&["sendto", "--reply", s(&sock), "olleh"], b"");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"hello");
}

#[test]
fn reply_timeout_is_an_error() {
    let dir = tempdir();
    let sock = dir.path().join("mute.sock");
    let _rx = start(
        cmd(&["recvfrom", s(&sock)]),
        dir.path(),
        "recv",
        "receiving on",
    );
    let out = run(
        &[
            "sendto",
            "--reply",
            "--timeout",
            "300ms",
            s(&sock),
            "hello?",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        format!(
            "udskit: error: no answer from unix:{} within 300ms\nhint: the receiver may not answer datagrams, or answer slower; --timeout waits longer\n",
            s(&sock)
        )
    );
}

#[test]
fn echo_answers_bound_senders() {
    if !have("python3") || !have("socat") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("echo.sock");
    let _echo = start(
        cmd(&["recvfrom", "--echo", s(&sock)]),
        dir.path(),
        "echo",
        "receiving on",
    );
    let out = python(&format!(
        "import socket\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind('\\0udskit-echo-client-{}')\ns.settimeout(10)\ns.sendto(b'ping\\x00',{:?})\nprint(s.recv(100).hex())",
        std::process::id(),
        s(&sock)
    ))
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "70696e6700");
    // socat's datagram client gets its answer only when bound (the same rule).
    let back = dir.path().join("socat-back.sock");
    let mut c = Command::new("socat");
    c.arg("-t2")
        .arg("-")
        .arg(format!("UNIX-SENDTO:{},bind={}", s(&sock), s(&back)));
    let out = run_with_input(c, b"via socat", LIMIT);
    assert_eq!(out.stdout, b"via socat", "{}", stderr_of(&out));
}

/// A sender that never reads its answers fills its queue: recvfrom --echo waits for it
/// once (1 s), warns once, and from then on drops its answers at once, so the next sender
/// is answered (each of its datagrams had cost a second's wait before: 40 of them kept
/// every other sender waiting 40 s).
#[test]
fn echo_to_a_sender_that_never_reads_holds_up_nobody() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("echo.sock");
    let echo = start(
        cmd(&["recvfrom", "--echo", s(&sock)]),
        dir.path(),
        "echo",
        "receiving on",
    );
    let mut deaf = python(&format!(
        "import socket,sys,time\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n\
         s.bind('\\0udskit-deaf-{}')\nfor i in range(40): s.sendto(b'x'*100,{:?})\n\
         print('sent',file=sys.stderr,flush=True)\ntime.sleep(60)",
        std::process::id(),
        s(&sock)
    ));
    deaf.stdout(Stdio::null());
    let mut deaf = Bg::spawn(deaf, dir.path(), "deaf");
    deaf.wait_stderr("sent");
    let out = run(
        &[
            "sendto",
            "--reply",
            "--timeout",
            "10s",
            s(&sock),
            "still there?",
        ],
        b"",
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"still there?");
    let err = echo.stderr();
    assert_eq!(
        err.matches("its queue stayed full for 1s").count(),
        1,
        "{err}"
    );
}

fn expected_limit() -> usize {
    let wmem: usize = std::fs::read_to_string("/proc/sys/net/core/wmem_max")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (2 * wmem - 32).min(4 * 1024 * 1024 + 17 * 4096 - 320)
}

#[test]
fn oversize_wrong_type_missing_and_stale_targets() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    let _rx = start(
        cmd(&["recvfrom", s(&sock)]),
        dir.path(),
        "recv",
        "receiving on",
    );
    let out = run(&["sendto", s(&sock)], &vec![7u8; 5_000_000]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        format!(
            "udskit: error: sending to unix:{}: the datagram is 5000000 bytes; the kernel accepts at most {} bytes in one datagram here\n\
             hint: udskit never truncates a datagram; send less at once (--lines sends one datagram per line)\n",
            s(&sock),
            expected_limit()
        )
    );

    // --lines: a line too long is reported with its whole size.
    let mut lines = b"fine\n".to_vec();
    lines.extend(std::iter::repeat_n(b'a', 6_000_000));
    lines.extend_from_slice(b"\nafter\n");
    let out = run(&["sendto", "--lines", s(&sock)], &lines);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr_of(&out).starts_with(&format!(
            "udskit: error: sending to unix:{}: the datagram is 6000000 bytes; the kernel accepts at most {} bytes",
            s(&sock),
            expected_limit()
        )),
        "{}",
        stderr_of(&out)
    );

    let stream = dir.path().join("stream.sock");
    let _py = start(
        python(&format!(
            "import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen()\nprint('ready',file=sys.stderr,flush=True)\ntime.sleep(60)",
            s(&stream)
        )),
        dir.path(),
        "py",
        "ready",
    );
    let out = run(&["sendto", s(&stream), "x"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        format!(
            "udskit: error: sending to unix:{}: not a datagram socket: it is a stream socket\n\
             hint: use `udskit connect` for stream sockets (add --seqpacket for SOCK_SEQPACKET)\n",
            s(&stream)
        )
    );

    let out = run(&["sendto", s(&dir.path().join("none.sock")), "x"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        format!(
            "udskit: error: sending to unix:{}/none.sock: no such file\n\
             hint: is the server running? `udskit ls` lists the sockets that are listening\n",
            s(dir.path())
        )
    );

    let stale = dir.path().join("stale.sock");
    let out = python(&format!(
        "import socket\nsocket.socket(socket.AF_UNIX,socket.SOCK_DGRAM).bind({:?})",
        s(&stale)
    ))
    .output()
    .unwrap();
    assert!(out.status.success());
    let out = run(&["sendto", s(&stale), "x"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        format!(
            "udskit: error: sending to unix:{0}: connection refused: nothing receives on this socket file\n\
             hint: {0} is a stale socket: the server that created it is gone; restart the server (udskit servers replace a dead socket)\n",
            s(&stale)
        )
    );

    let out = run(&["sendto", "tcp:9", "x"], b"");
    assert_eq!(out.status.code(), Some(2));
    // --force and --mode are about the --bind address.
    let out = run(&["sendto", "--force", s(&stale), "x"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("--bind <ADDR>"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn recvfrom_safe_bind_and_sigterm_cleanup() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    // A stale datagram socket is replaced, and said so.
    python(&format!(
        "import socket\nsocket.socket(socket.AF_UNIX,socket.SOCK_DGRAM).bind({:?})",
        s(&sock)
    ))
    .status()
    .unwrap();
    assert!(sock.exists());
    let mut rx = start(
        cmd(&["recvfrom", s(&sock)]),
        dir.path(),
        "recv",
        "receiving on",
    );
    assert!(rx.stderr().contains(&format!(
        "udskit: removed stale socket {} (nothing was listening on it)\n",
        s(&sock)
    )));
    // A live one is refused, naming its owner.
    let out = udskit().args(["recvfrom", s(&sock)]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.starts_with(&format!(
            "udskit: error: binding unix:{0}: {0} is in use by pid {1} (udskit) uid ",
            s(&sock),
            rx.pid()
        )),
        "{err}"
    );
    // Not a socket: never deleted.
    let file = dir.path().join("file");
    std::fs::write(&file, b"keep").unwrap();
    let out = udskit().args(["recvfrom", s(&file)]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&file).unwrap(), b"keep");
    // SIGTERM: exit 143, the file removed.
    rx.signal(15);
    assert_eq!(rx.wait_exit(LIMIT).code(), Some(143));
    assert!(!sock.exists(), "socket file left behind after SIGTERM");
}

#[test]
fn maximal_datagram_arrives_whole() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("big.sock");
    let rx = start(
        cmd(&["recvfrom", "-n", "1", s(&sock)]),
        dir.path(),
        "recv",
        "receiving on",
    );
    // The largest datagram this kernel takes from a sender with the biggest send buffer.
    // ENOBUFS is the kernel short of memory for one skb of that size (a loaded machine):
    // tried again, a bounded number of times.
    let data_path = dir.path().join("sent");
    let out = python(&format!(
        "import socket,os,errno,time\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.setsockopt(socket.SOL_SOCKET,socket.SO_SNDBUF,1<<30)\nn={}\nd=os.urandom(n)\nfor i in range(100):\n    try:\n        s.sendto(d,{:?})\n        break\n    except OSError as e:\n        if e.errno!=errno.ENOBUFS or i==99: raise\n        time.sleep(0.05)\nopen({:?},'wb').write(d)",
        expected_limit(),
        s(&sock),
        s(&data_path)
    ))
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (st, stdout) = rx.finish(LIMIT);
    assert!(st.success());
    let sent = std::fs::read(&data_path).unwrap();
    assert_eq!(stdout.len(), sent.len());
    assert_eq!(sha256(&stdout), sha256(&sent));
}

#[test]
fn long_paths_work_both_ways() {
    let dir = tempdir();
    // Longer than the 107 bytes a socket address holds.
    let deep = dir.path().join("d".repeat(60)).join("e".repeat(40));
    std::fs::create_dir_all(&deep).unwrap();
    let sock = deep.join("long-receiver.sock");
    assert!(s(&sock).len() > 107);
    let rx = start(
        cmd(&["recvfrom", "-n", "1", s(&sock)]),
        dir.path(),
        "recv",
        "receiving on",
    );
    let out = run(&["sendto", s(&sock), "far away"], b"");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(rx.finish(LIMIT).1, b"far away");
    assert!(!sock.exists());
}

#[test]
fn permission_denied_names_mode_and_owner() {
    let dir = tempdir();
    let sock = dir.path().join("p.sock");
    // As another user (nobody): root may write to any socket.
    if !nobody_can_run_udskit() {
        return;
    }
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let _rx = start(
        cmd(&["recvfrom", "--mode", "600", s(&sock)]),
        dir.path(),
        "recv",
        "receiving on",
    );
    let out = run_with_input(as_nobody(&["sendto", s(&sock), "hi"]), b"", LIMIT);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr_of(&out),
        format!(
            "udskit: error: sending to unix:{0}: permission denied\n\
             hint: {0} is srw------- (mode 600) owned by root:root; connecting needs write permission on it. You are uid 65534 (nobody), groups 65534 (nogroup)\n",
            s(&sock)
        )
    );
}

/// A reader of recvfrom's stdout that goes away ends recvfrom (exit 0, its socket file
/// removed) without another datagram to write.
#[test]
fn recvfrom_ends_when_its_reader_goes_away() {
    let dir = tempdir();
    let sock = dir.path().join("gone.sock");
    let mut rx = start(
        cmd(&["recvfrom", s(&sock)]),
        dir.path(),
        "recv",
        "receiving on",
    );
    assert!(run(&["sendto", s(&sock), "one"], b"").status.success());
    let mut stdout = rx.child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    assert_eq!(&first, b"o");
    drop(stdout);
    assert_eq!(rx.wait_exit(LIMIT).code(), Some(0), "{}", rx.stderr());
    assert!(!sock.exists());
}

/// A datagram too large from a stdin that does not end (/dev/zero; a pipe kept open) is
/// refused once it has been counted for a while, not read for ever.
#[test]
fn sendto_refuses_an_endless_stdin() {
    let dir = tempdir();
    let sock = dir.path().join("endless.sock");
    let _rx = start(
        cmd(&["recvfrom", s(&sock)]),
        dir.path(),
        "recv",
        "receiving on",
    );
    for lines in [false, true] {
        let mut c = cmd(&["sendto", s(&sock)]);
        if lines {
            c.arg("--lines");
        }
        c.stdin(std::fs::File::open("/dev/zero").unwrap());
        let out = output_within(c, LIMIT);
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains("bytes (stdin did not end); the kernel accepts at most"),
            "{}",
            stderr_of(&out)
        );
    }
    // Over the limit, and then nothing more while the pipe stays open.
    let (reader, mut writer) = std::io::pipe().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut writer, &vec![b'x'; 5_000_000]);
        writer
    });
    let mut c = cmd(&["sendto", s(&sock)]);
    c.stdin(reader);
    let out = output_within(c, LIMIT);
    drop(feeder.join().unwrap());
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("the datagram is at least 5000000 bytes (stdin did not end)"),
        "{}",
        stderr_of(&out)
    );
}

/// `sendto --reply --timeout` bounds the wait for room in a receiver's full queue too: a
/// receiver that reads nothing is an error after --timeout, not a hang.
#[test]
fn sendto_reply_to_a_full_queue_ends_after_the_timeout() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("full.sock");
    let _deaf = start(
        python(&format!(
            "import socket,sys,time\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind({:?})\nprint('ready',file=sys.stderr,flush=True)\ntime.sleep(120)",
            s(&sock)
        )),
        dir.path(),
        "deaf",
        "ready",
    );
    // Its queue (net.unix.max_dgram_qlen, 10 by default; at most 1000 here) fills up.
    let filler = python(&format!(
        "import socket\nc=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\nc.connect({:?})\nc.setblocking(False)\n\
         try:\n  for _ in range(1000): c.send(b'x')\nexcept BlockingIOError: pass",
        s(&sock)
    ))
    .status()
    .unwrap();
    assert!(filler.success());
    let out = run(
        &["sendto", "--reply", "--timeout", "1s", s(&sock), "hello"],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(
        stderr_of(&out).lines().next().unwrap(),
        format!(
            "udskit: error: sending to unix:{}: its queue stayed full for 1s (--timeout): the receiver is not reading",
            s(&sock)
        )
    );
}
