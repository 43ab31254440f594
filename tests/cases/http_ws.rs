//! `udskit http --ws` against real WebSocket servers: uvicorn with `websockets` serving
//! tests/fixtures/ws_app.py (echo, server push, close codes, the handshake's headers), and
//! nginx as a server that does not speak WebSocket.
//!
//! The server answers a close frame at once, before it echoes what was still queued: the
//! echo tests keep stdin open until their answers have arrived, then end it.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::process::{ChildStdin, Output};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::peers::{have, have_python_modules};
use crate::support::pty::{On, udskit_on_pty};
use crate::support::servers::{Nginx, Uvicorn};
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(60);

fn ws_here() -> bool {
    have("python3") && have_python_modules(&["uvicorn", "starlette", "websockets"])
}

/// `udskit http --ws ARGS...` with `input` on stdin, to its end.
fn ws<S: AsRef<OsStr>>(args: &[S], input: &[u8]) -> Output {
    let mut c = udskit();
    c.args(["http", "--ws"]).args(args);
    run_with_input(c, input, LIMIT)
}

/// A session left running: its stdin to write to, its stdout's bytes as they come.
struct Live {
    bg: Bg,
    stdin: Option<ChildStdin>,
    out: mpsc::Receiver<Vec<u8>>,
    got: Vec<u8>,
}

impl Live {
    fn start<S: AsRef<OsStr>>(dir: &std::path::Path, args: &[S]) -> Live {
        let mut c = udskit();
        c.args(["http", "--ws"]).args(args);
        let mut bg = Bg::spawn_piped(c, dir, "udskit-ws");
        let stdin = bg.child.stdin.take();
        let mut stdout = bg.child.stdout.take().unwrap();
        let (tx, out) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        Live {
            bg,
            stdin,
            out,
            got: Vec::new(),
        }
    }

    fn send(&mut self, data: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(data).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits until stdout has given at least `n` bytes in all; returns them all.
    fn wait_for(&mut self, n: usize) -> &[u8] {
        let deadline = std::time::Instant::now() + LIMIT;
        while self.got.len() < n {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.out.recv_timeout(left) {
                Ok(piece) => self.got.extend_from_slice(&piece),
                Err(_) => panic!(
                    "{} of {n} bytes on stdout; stderr:\n{}",
                    self.got.len(),
                    self.bg.stderr()
                ),
            }
        }
        &self.got
    }

    /// Ends stdin and waits for the exit: its code and stderr.
    fn end(mut self) -> (Option<i32>, String) {
        drop(self.stdin.take());
        let st = self.bg.wait_exit(LIMIT);
        (st.code(), self.bg.stderr())
    }
}

#[test]
fn ws_echo_sends_each_line_as_a_text_message() {
    if !ws_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start_ws(dir.path());
    let mut s = Live::start(dir.path(), &[app.sock.as_os_str(), OsStr::new("/echo")]);
    s.send(b"hello\n");
    assert_eq!(s.wait_for(6), b"hello\n");
    // A line split across writes is one message; an empty line is an empty message.
    s.send("wö".as_bytes());
    s.send(b"rld\n\nlast\n");
    assert_eq!(s.wait_for(19), "hello\nwörld\n\nlast\n".as_bytes());
    let (code, err) = s.end();
    assert_eq!(code, Some(0), "stderr:\n{err}");
    assert!(
        err.contains("the server closed the connection with code 1000 (normal)"),
        "{err}"
    );
}

#[test]
fn ws_binary_round_trip_is_byte_exact() {
    if !ws_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start_ws(dir.path());
    // Far more than the sockets buffer: the echo stalls unless we read while we send.
    let data = random_bytes(24 * 1024 * 1024 + 17);
    let mut s = Live::start(
        dir.path(),
        &[
            OsStr::new("--binary"),
            app.sock.as_os_str(),
            OsStr::new("/echo"),
        ],
    );
    s.send(&data);
    let got = s.wait_for(data.len()).to_vec();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the echoed bytes differ");
    let (code, err) = s.end();
    assert_eq!(code, Some(0), "stderr:\n{err}");
}

#[test]
fn ws_server_push_text_binary_and_close_reason() {
    if !ws_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start_ws(dir.path());
    let sock = app.sock.to_str().unwrap();
    // --no-close: stdin at its end does not close a session that only receives.
    let out = ws(&["--no-close", sock, "/push?n=3"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let mut want = b"push 1 of 3\npush 2 of 3\npush 3 of 3\n".to_vec();
    want.extend(0..=255u8);
    assert_eq!(out.stdout, want);
    assert!(
        stderr_of(&out).contains("closed the connection with code 1000 (normal): done"),
        "{}",
        stderr_of(&out)
    );

    // A message past tungstenite's limits (a 16 MiB frame; 64 MiB a message) ends the
    // session rather than being held.
    let out = ws(
        &["--no-close", sock, &format!("/push?n=1&size={}", 17 << 20)],
        b"",
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"");
    assert!(
        stderr_of(&out).ends_with(
            ": receiving: the server sent a frame of 17825792 bytes, more than the 16777216 \
             udskit takes; the session was ended rather than hold it\n"
        ),
        "{}",
        stderr_of(&out)
    );

    // --ws-json: one object per message, the close last.
    let out = ws(&["--no-close", "--ws-json", sock, "/push?n=1"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    let lines: Vec<serde_json::Value> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(
        lines[0],
        serde_json::json!({"type": "text", "size": 11, "encoding": "utf-8", "data": "push 1 of 1"})
    );
    assert_eq!(lines[1]["type"], "binary");
    assert_eq!(lines[1]["size"], 256);
    assert_eq!(lines[1]["encoding"], "base64");
    assert_eq!(
        lines[1]["data"].as_str().unwrap(),
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w=="
    );
    assert_eq!(
        lines[2],
        serde_json::json!({"type": "close", "code": 1000, "reason": "done"})
    );
}

/// On a terminal a message's controls are made visible (C0 and C1 alike), as a body's are:
/// a server cannot set the title or clear the screen.
#[test]
fn ws_messages_cannot_drive_the_terminal() {
    if !ws_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start_ws(dir.path());
    let target = "/push?n=1&text=%1B]0;PWNED%07%C2%9B2J";
    let t = udskit_on_pty(
        On::Stdout,
        &["http", "--ws", app.sock.to_str().unwrap(), target],
        dir.path(),
    );
    assert_eq!(t.code, Some(0), "{}", t.pty);
    assert!(
        t.pty.contains("\\u{1b}]0;PWNED\\u{7}\\u{9b}2J\n"),
        "{:?}",
        t.pty
    );
    assert!(
        !t.pty.contains('\x1b') && !t.pty.contains('\u{9b}'),
        "{:?}",
        t.pty
    );
}

#[test]
fn ws_pings_are_answered_through_a_slow_push() {
    if !ws_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start_ws(dir.path());
    // uvicorn pings every 0.5 s and drops a client silent for 1 s: the pushes 1.2 s apart
    // arrive only if each ping got its pong.
    let out = ws(
        &[
            "--no-close",
            app.sock.to_str().unwrap(),
            "/push?n=4&interval=1.2",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert!(
        out.stdout
            .starts_with(b"push 1 of 4\npush 2 of 4\npush 3 of 4\npush 4 of 4\n"),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn ws_close_codes_become_exit_codes() {
    if !ws_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start_ws(dir.path());
    let sock = app.sock.to_str().unwrap();
    for (path, code, words) in [
        (
            "/close?code=1000&reason=bye",
            0,
            "with code 1000 (normal): bye",
        ),
        (
            "/close?code=1011&reason=oops",
            1,
            "error: WebSocket /close?code=1011&reason=oops on unix:",
        ),
        (
            "/close?code=1011&reason=oops",
            1,
            "with code 1011 (internal error): oops",
        ),
        ("/close?code=1008", 1, "with code 1008 (policy violation)"),
        ("/close?code=4003&reason=job", 3, "with code 4003: job"),
        ("/close?code=4000", 0, "with code 4000"),
    ] {
        let out = ws(&["--no-close", sock, path], b"");
        assert_eq!(out.status.code(), Some(code), "{path}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains(words),
            "{path}: {}",
            stderr_of(&out)
        );
    }
    // -s: the exit code alone; -sS: the message too.
    let out = ws(&["-s", "--no-close", sock, "/close?code=1011"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr_of(&out), "");
    let out = ws(&["-sS", "--no-close", sock, "/close?code=1011"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("code 1011"), "{}", stderr_of(&out));
    // A close asked for by the client's message, mid-session.
    let mut s = Live::start(dir.path(), &[sock, "/echo"]);
    s.send(b"before\n");
    assert_eq!(s.wait_for(7), b"before\n");
    s.send(b"close 4042 enough\n");
    let st = s.bg.wait_exit(LIMIT);
    assert_eq!(st.code(), Some(42), "{}", s.bg.stderr());
    assert!(
        s.bg.stderr().contains("code 4042: enough"),
        "{}",
        s.bg.stderr()
    );
}

#[test]
fn ws_headers_subprotocol_and_close_on_stdin_end() {
    if !ws_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start_ws(dir.path());
    let mut s = Live::start(
        dir.path(),
        &[
            "-H",
            "X-Token: abc",
            "-H",
            "User-Agent:",
            "--subprotocol",
            "chat",
            "--subprotocol",
            "v2",
            app.sock.to_str().unwrap(),
            "http://example.test/headers",
        ],
    );
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        let n = line.len() + 1;
        line = s.wait_for(n).to_vec();
    }
    let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
    assert_eq!(v["headers"]["x-token"], "abc");
    assert_eq!(v["headers"]["host"], "example.test");
    assert!(v["headers"].get("user-agent").is_none(), "{v}");
    assert_eq!(v["subprotocols"], serde_json::json!(["chat", "v2"]));
    // The server waits for our close: stdin's end sends it (1000), the server answers.
    let (code, err) = s.end();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("code 1000 (normal)"), "{err}");
}

#[test]
fn ws_refused_by_a_server_that_does_not_switch() {
    if !ws_here() || !have("nginx") {
        return;
    }
    let dir = tempdir();
    let ng = Nginx::start(dir.path());
    std::fs::write(ng.www.join("page.txt"), b"plain\n").unwrap();
    let out = ws(&[ng.sock.to_str().unwrap(), "/page.txt"], b"");
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("error: WebSocket /page.txt on unix:")
            && stderr_of(&out)
                .contains("the server did not switch to WebSocket: it answered 200 OK"),
        "{}",
        stderr_of(&out)
    );
    assert!(stderr_of(&out).contains("hint: "), "{}", stderr_of(&out));
    assert!(out.stdout.is_empty());

    // A WebSocket server without that endpoint: its 403, exit 22 with --fail.
    let app = Uvicorn::start_ws(dir.path());
    let out = ws(&["-f", app.sock.to_str().unwrap(), "/nowhere"], b"");
    assert_eq!(out.status.code(), Some(22), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("it answered 403 Forbidden"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn ws_usage_errors() {
    let out = ws(&["-X", "POST", "/tmp/none.sock", "/echo"], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("--ws opens a WebSocket with a GET"));
    let mut c = udskit();
    c.args(["http", "--binary", "/tmp/none.sock", "/echo"]);
    let out = run_with_input(c, b"", LIMIT);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let out = ws(&["-d", "x", "/tmp/none.sock", "/echo"], b"");
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}

#[test]
fn ws_docker_attach_ws_on_a_running_container() {
    if !have("dockerd") || !have("tar") {
        return;
    }
    if !is_root() {
        crate::support::peers::skipped("not root (dockerd needs it)");
        assert!(std::env::var_os("UDSKIT_REQUIRE_PEERS").is_none_or(|v| v != "1"));
        return;
    }
    let dir = tempdir();
    let docker = crate::support::servers::Dockerd::start(dir.path());
    let s = docker.sock.to_str().unwrap();
    let http = |args: &[&str], input: &[u8]| {
        let mut c = udskit();
        c.arg("http").args(args);
        let out = run_with_input(c, input, LIMIT);
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
        out.stdout
    };
    // An image imported offline: a static busybox, sent as a tar on stdin.
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox-static");
    for applet in ["sh", "cat", "echo"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    let tar = std::process::Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    assert!(tar.status.success());
    http(
        &[
            s,
            "-H",
            "Content-Type: application/x-tar",
            "/images/create?fromSrc=-&repo=udskit/bb&tag=t",
            "--data-binary",
            "@-",
        ],
        &tar.stdout,
    );
    let run = |spec: &str| {
        let out = http(&[s, "POST", "/containers/create", "--json", spec], b"");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let id = v["Id"].as_str().unwrap().to_string();
        http(&[s, "-f", "POST", &format!("/containers/{id}/start")], b"");
        id
    };

    // cat in a running container: our bytes in binary messages through its stdin and back,
    // exact; stdin's end closes (1000) and ends cat.
    let id = run(
        r#"{"Image":"udskit/bb:t","Cmd":["cat"],"OpenStdin":true,"StdinOnce":true,"HostConfig":{"NetworkMode":"none"}}"#,
    );
    let attach = format!("/containers/{id}/attach/ws?stream=1&stdin=1&stdout=1");
    let mut live = Live::start(dir.path(), &["--binary", s, &attach]);
    live.send(b"hello through attach/ws\n");
    assert_eq!(live.wait_for(24), b"hello through attach/ws\n");
    let data = random_bytes(200_000);
    live.send(&data);
    let got = live.wait_for(24 + data.len())[24..].to_vec();
    assert!(got == data, "the bytes through cat differ");
    let (code, err) = live.end();
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("code 1000 (normal)"), "{err}");
    let waited = http(&[s, "POST", &format!("/containers/{id}/wait")], b"");
    assert!(String::from_utf8_lossy(&waited).contains(r#""StatusCode":0"#));

    // A container that ends by itself: the Engine closes (1000) while our stdin is open.
    let id = run(
        r#"{"Image":"udskit/bb:t","Cmd":["sh","-c","read x; echo got $x"],"OpenStdin":true,"HostConfig":{"NetworkMode":"none"}}"#,
    );
    let attach = format!("/containers/{id}/attach/ws?stream=1&stdin=1&stdout=1");
    let mut live = Live::start(dir.path(), &["--binary", s, &attach]);
    live.send(b"one\n");
    assert_eq!(live.wait_for(8), b"got one\n");
    let st = live.bg.wait_exit(LIMIT);
    assert_eq!(st.code(), Some(0), "{}", live.bg.stderr());
}

#[test]
fn ws_sigterm_closes_the_session_cleanly() {
    if !ws_here() {
        return;
    }
    let dir = tempdir();
    let app = Uvicorn::start_ws(dir.path());
    // The server waits for our close, stdin stays open: only the signal ends it.
    let mut s = Live::start(dir.path(), &[app.sock.to_str().unwrap(), "/headers"]);
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        let n = line.len() + 1;
        line = s.wait_for(n).to_vec();
    }
    s.bg.signal(15);
    let st = s.bg.wait_exit(LIMIT);
    assert_eq!(st.code(), Some(143), "{}", s.bg.stderr());
}
