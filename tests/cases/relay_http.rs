//! `udskit relay --http`, the guard: rules, presets, its own 403 and 400 answers, streams
//! and upgrades through it, against a recording python upstream (which tells whether a
//! request reached it at all) and against a real Docker Engine driven by the docker CLI.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::support::peers::{have, python};
use crate::support::servers::Dockerd;
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(60);

/// A guard on DIR/NAME.sock in front of `upstream`; stderr holds its log.
fn guard(dir: &Path, name: &str, upstream: &Path, args: &[&str]) -> (Bg, PathBuf) {
    let sock = dir.join(format!("{name}.sock"));
    let mut c = udskit();
    c.arg("relay")
        .arg(&sock)
        .arg(upstream)
        .arg("--http")
        .args(args);
    c.stdout(Stdio::null());
    let mut bg = Bg::spawn(c, dir, name);
    // The file appears at bind(), a moment before listen(): the log line comes after both.
    bg.wait_stderr("listening");
    (bg, sock)
}

/// An HTTP upstream in python that appends every byte it receives to DIR/upstream.log
/// (and `[conn]` per connection), and answers `200 ok` to each request head it reads.
/// A request that carries a chunked body is answered once its first chunk arrived, while
/// the rest may still be on the way.
fn recording_upstream(dir: &Path) -> (Bg, PathBuf, PathBuf) {
    let sock = dir.join("up.sock");
    let log = dir.join("upstream.log");
    let code = r#"
import socket, sys, threading
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(16)
def note(b):
    with open(log, 'ab') as f:
        f.write(b)
def serve(c):
    buf = b''
    while True:
        d = c.recv(65536)
        if not d:
            break
        note(d)
        buf += d
        while b'\r\n\r\n' in buf:
            head, buf = buf.split(b'\r\n\r\n', 1)
            c.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok')
    c.close()
while True:
    c, _ = s.accept()
    note(b'[conn]\n')
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;
    let mut c = python(code);
    c.arg(&sock).arg(&log).stdout(Stdio::null());
    let bg = Bg::spawn(c, dir, "upstream");
    wait_for_socket(&sock);
    (bg, sock, log)
}

fn upstream_saw(log: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(log).unwrap_or_default()).into_owned()
}

/// Sends raw bytes to the guard (from a thread, as the guard may answer and close before
/// it has read them all) and returns its whole answer, up to the guard's close. (A shut
/// down write side would end the connection before the answer, as hyper serves it.)
fn raw_exchange(sock: &Path, bytes: Vec<u8>) -> String {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&bytes);
    });
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    writer.join().unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

fn status_of(answer: &str) -> &str {
    answer.split(' ').nth(1).unwrap_or("")
}

/// The JSON message of one of the guard's own answers.
fn message_of(answer: &str) -> String {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    let v: serde_json::Value =
        serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {answer:?}"));
    v["message"].as_str().unwrap().to_string()
}

#[test]
fn malformed_requests_get_400_and_never_reach_upstream() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_up, up, log) = recording_upstream(dir.path());
    let (g, sock) = guard(dir.path(), "g", &up, &[]);

    let smuggle = b"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /secrets HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    let answer = raw_exchange(&sock, smuggle);
    assert_eq!(status_of(&answer), "400", "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert_eq!(
        message_of(&answer),
        "udskit: POST request refused: it has both Content-Length and Transfer-Encoding (a request smuggling attempt)"
    );
    // The same, with the Transfer-Encoding first and the head cut in two reads.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.write_all(b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConte")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let answer = raw_exchange_on(s, b"nt-Length: 3\r\n\r\n0\r\n\r\n".to_vec());
    assert_eq!(status_of(&answer), "400", "{answer}");

    // An innocent request ahead of the smuggling one in a pipeline is answered; the
    // smuggling one is refused.
    let pipeline = b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\nPOST /y HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec();
    let answer = raw_exchange(&sock, pipeline);
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.contains("HTTP/1.1 400 Bad Request\r\n")
            && answer.contains("udskit: POST request refused: it has both Content-Length"),
        "{answer}"
    );

    let answer = raw_exchange(&sock, b"garbage\r\n\r\n".to_vec());
    assert_eq!(status_of(&answer), "400", "{answer}");

    // A 1 MiB head: refused by the guard with a 400 before hyper parses it, with the JSON
    // message saying the limit, and never forwarded (checked below).
    let mut big = b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    big.extend(std::iter::repeat_n(b'a', 1 << 20));
    big.extend_from_slice(b"\r\n\r\n");
    let answer = raw_exchange(&sock, big);
    assert_eq!(status_of(&answer), "400", "{answer}");
    assert!(answer.contains("connection: close"), "{answer}");
    assert_eq!(
        message_of(&answer),
        "udskit: request refused: its head is larger than the 64 KiB the guard reads"
    );
    // A head just past the limit, which one read brings whole (the guard's check had
    // looked only at heads still incomplete): the same 400.
    let mut past = b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-A: ".to_vec();
    past.extend(std::iter::repeat_n(b'a', 70_000));
    past.extend_from_slice(b"\r\n\r\n");
    let answer = raw_exchange(&sock, past);
    assert_eq!(status_of(&answer), "400", "{answer}");
    assert_eq!(
        message_of(&answer),
        "udskit: request refused: its head is larger than the 64 KiB the guard reads"
    );
    // So is a head of more fields than hyper takes.
    let mut many = b"GET /_ping HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..120 {
        many.extend_from_slice(format!("X-F{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    let answer = raw_exchange(&sock, many);
    assert_eq!(status_of(&answer), "400", "{answer}");
    assert_eq!(
        message_of(&answer),
        "udskit: request refused: its head has more than 100 header fields"
    );

    for path in [
        "/containers/json/../x/archive",
        "/containers//json",
        "/containers/%2e%2e/json",
    ] {
        let answer = raw_exchange(
            &sock,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes(),
        );
        assert_eq!(status_of(&answer), "400", "{path}: {answer}");
        assert!(
            message_of(&answer).contains("not in canonical form"),
            "{answer}"
        );
    }

    // The pipeline's innocent request only.
    assert_eq!(
        upstream_saw(&log),
        "[conn]\nGET /_ping HTTP/1.1\r\nhost: x\r\n\r\n",
        "the upstream saw a refused request"
    );
    // A sound request does reach it, on the same guard.
    let answer = raw_exchange(
        &sock,
        b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
    );
    assert_eq!(status_of(&answer), "200", "{answer}");
    assert!(answer.ends_with("\r\n\r\nok"), "{answer}");
    assert!(upstream_saw(&log).contains("[conn]\nGET /_ping HTTP/1.1\r\n"));
    let err = g.stderr();
    assert!(
        err.contains("the client sent malformed HTTP: invalid HTTP method parsed"),
        "{err}"
    );
    assert!(
        err.contains(": the client sent a request head larger than 64 KiB (answered 400)"),
        "{err}"
    );
}

#[test]
fn a_denied_request_whose_body_comes_late_still_gets_its_403() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_up, up, log) = recording_upstream(dir.path());
    let (_g, sock) = guard(dir.path(), "g", &up, &["--read-only"]);
    // The head first, its body a moment later (as the docker CLI may write a create):
    // the guard reads the body it refuses, so the connection stays and the client,
    // still writing, gets the answer rather than a broken pipe.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.write_all(b"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 13\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    s.write_all(b"{\"Image\":\"x\"}").unwrap();
    let answer = raw_exchange_on(
        s,
        b"DELETE /containers/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            .to_vec(),
    );
    assert_eq!(
        answer.matches("HTTP/1.1 403 Forbidden").count(),
        2,
        "{answer}"
    );
    assert!(
        answer.contains(
            "udskit: POST /containers/create denied (rule: none matched, denied by default)"
        ) && answer.contains("udskit: DELETE /containers/x denied"),
        "{answer}"
    );
    assert_eq!(upstream_saw(&log), "", "the upstream saw a denied request");
}

#[test]
fn header_timeout_ends_a_slow_head_with_408() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_up, up, log) = recording_upstream(dir.path());
    let (mut g, sock) = guard(dir.path(), "g", &up, &["--header-timeout", "1s"]);

    // A slowloris client: a head sent a byte at a time, never finished.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let mut w = s.try_clone().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
            if w.write_all(b"a").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    let answer = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(status_of(&answer), "408", "{answer}");
    assert_eq!(
        message_of(&answer),
        "udskit: request refused: its head did not arrive within 1s (--header-timeout)"
    );

    // A client that never sends a request is closed without an answer.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let mut out = Vec::new();
    assert_eq!(s.read_to_end(&mut out).unwrap(), 0, "{out:?}");

    // An idle keep-alive client is not waiting on a head: it stays (--idle-timeout's job).
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let mut one = || {
        s.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 256];
        while !got.ends_with(b"ok") {
            let n = s.read(&mut b).unwrap();
            assert!(n > 0, "the guard closed a keep-alive client");
            got.extend_from_slice(&b[..n]);
        }
        String::from_utf8_lossy(&got).into_owned()
    };
    assert_eq!(status_of(&one()), "200");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(status_of(&one()), "200");

    // A create whose body is held back: its wait is bounded the same way.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.write_all(
        b"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"Ima",
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let answer = String::from_utf8_lossy(&out).into_owned();
    assert_eq!(status_of(&answer), "408", "{answer}");
    assert_eq!(
        message_of(&answer),
        "udskit: POST /containers/create refused: its body did not come within 1s (--header-timeout)"
    );

    let saw = upstream_saw(&log);
    assert!(!saw.contains("X-Slow") && !saw.contains("Ima"), "{saw}");
    let err = g.wait_stderr("within 1s of connecting");
    assert!(
        err.contains(
            "the client took longer than 1s to send a request head (--header-timeout; answered 408)"
        ),
        "{err}"
    );
}

#[test]
fn connection_close_clients_share_one_connection_to_target() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_up, up, log) = recording_upstream(dir.path());
    // One worker: each worker keeps its own connections to TARGET.
    let (_g, sock) = guard(dir.path(), "g", &up, &["--threads", "1"]);
    for _ in 0..5 {
        let answer = raw_exchange(
            &sock,
            b"GET /_ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        );
        assert_eq!(status_of(&answer), "200", "{answer}");
        assert!(answer.ends_with("\r\n\r\nok"), "{answer}");
    }
    // One connection to the upstream carried all five, without the client's close.
    let saw = upstream_saw(&log);
    assert_eq!(saw.matches("[conn]").count(), 1, "{saw}");
    assert_eq!(saw.matches("GET /_ping HTTP/1.1\r\n").count(), 5, "{saw}");
    assert!(
        !saw.to_ascii_lowercase().contains("connection: close"),
        "{saw}"
    );
}

/// A short answer of known length reaches the client in one write, head and body together
/// (the guard reads it whole first), byte for byte; strace shows the guard's writes.
#[test]
fn a_short_answer_leaves_in_one_write() {
    if !have("python3") || !have("strace") {
        return;
    }
    let dir = tempdir();
    let (_up, up, _log) = recording_upstream(dir.path());
    let sock = dir.path().join("g.sock");
    let trace = dir.path().join("g.strace");
    let filter = ["-f", "-s", "4096", "-e", "signal=none"];
    let mut c = udskit_traced(
        &[&filter[..], &["-e", "trace=write,writev,sendto,sendmsg"]].concat(),
        &trace,
    );
    c.args(["relay", "--threads", "1"])
        .arg(&sock)
        .arg(&up)
        .arg("--http")
        .stdout(Stdio::null());
    let mut g = Bg::spawn(c, dir.path(), "g");
    g.wait_stderr("listening");
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        s.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let start = got.len();
        let mut buf = [0u8; 4096];
        while !got[start..].ends_with(b"\r\n\r\nok") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "{}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
    }
    let got = String::from_utf8_lossy(&got).into_owned();
    assert_eq!(got.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{got}");
    assert!(got.contains("content-length: 2\r\n"), "{got}");
    drop(s);
    // strace logs a call as it returns, a moment after the bytes could be read.
    let mut log = String::new();
    wait_until(LIMIT, "strace's log of the three answers", || {
        log = std::fs::read_to_string(&trace).unwrap_or_default();
        log.matches("HTTP/1.1 200 OK").count() >= 3
    });
    stop_traced(g);
    let log = std::fs::read_to_string(&trace).unwrap();
    let heads: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("HTTP/1.1 200 OK"))
        .collect();
    assert_eq!(heads.len(), 3, "{log}");
    for l in &heads {
        assert!(
            l.contains("\\r\\n\\r\\nok\"") || l.contains("=\"ok\""),
            "{l}"
        );
    }
    // No write of the body alone.
    assert!(
        !log.lines().any(|l| l.contains("[{iov_base=\"ok\", iov_len=2}], 1)")
            || l.contains(", \"ok\", 2)")),
        "{log}"
    );
}

/// Like [`raw_exchange`], on a connection already open.
fn raw_exchange_on(mut s: UnixStream, rest: Vec<u8>) -> String {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = s.write_all(&rest);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn rules_first_match_wins_and_log_lines() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_up, up, log) = recording_upstream(dir.path());
    let (mut g, sock) = guard(
        dir.path(),
        "g",
        &up,
        &[
            "--deny",
            "POST /containers/*/kill",
            "--allow",
            "GET,POST /containers/**",
            "--allow",
            "GET /_ping",
            "--log-json",
        ],
    );
    let get = |method: &str, path: &str| {
        raw_exchange(
            &sock,
            format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes(),
        )
    };
    let answer = get("POST", "/v1.41/containers/abc/kill");
    assert_eq!(status_of(&answer), "403", "{answer}");
    assert!(
        answer.contains("content-type: application/json"),
        "{answer}"
    );
    assert_eq!(
        message_of(&answer),
        "udskit: POST /v1.41/containers/abc/kill denied (rule: --deny 'POST /containers/*/kill')"
    );
    let answer = get("DELETE", "/containers/abc");
    assert_eq!(
        message_of(&answer),
        "udskit: DELETE /containers/abc denied (rule: none matched, denied by default)"
    );
    // A percent-encoded segment is judged decoded, as dockerd routes it.
    assert_eq!(status_of(&get("POST", "/containers/abc/%6bill")), "403");
    assert_eq!(upstream_saw(&log), "");
    assert_eq!(
        status_of(&get("POST", "/v1.41/containers/abc/start")),
        "200"
    );
    assert_eq!(status_of(&get("HEAD", "/_ping")), "200");
    let saw = upstream_saw(&log);
    assert!(
        saw.contains("POST /v1.41/containers/abc/start HTTP/1.1\r\n"),
        "{saw}"
    );
    assert!(saw.contains("HEAD /_ping HTTP/1.1\r\n"), "{saw}");
    assert!(!saw.contains("kill") && !saw.contains("DELETE"), "{saw}");

    let err = g.wait_stderr("\"HEAD\"");
    let requests: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "request")
        .collect();
    assert_eq!(requests.len(), 5, "{err}");
    let kill = &requests[0];
    assert_eq!(kill["method"], "POST");
    assert_eq!(kill["target"], "/v1.41/containers/abc/kill");
    assert_eq!(kill["status"], 403);
    assert_eq!(kill["decision"], "deny");
    assert_eq!(kill["rule"], "--deny 'POST /containers/*/kill'");
    assert_eq!(kill["peer_pid"], std::process::id());
    assert!(kill["id"].as_u64().unwrap() >= 1);
    let start = &requests[3];
    assert_eq!(start["status"], 200);
    assert_eq!(start["bytes"], 2);
    assert_eq!(start["decision"], "allow");
    assert_eq!(start["rule"], "--allow 'GET,POST /containers/**'");
}

#[test]
fn dry_run_forwards_and_says_what_it_would_deny() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_up, up, log) = recording_upstream(dir.path());
    let (mut g, sock) = guard(dir.path(), "g", &up, &["--read-only", "--dry-run"]);
    let answer = raw_exchange(
        &sock,
        b"DELETE /v1.41/containers/abc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
    );
    assert_eq!(status_of(&answer), "200", "{answer}");
    assert!(upstream_saw(&log).contains("DELETE /v1.41/containers/abc HTTP/1.1"));
    let err = g.wait_stderr("DELETE");
    assert!(
        err.contains("DELETE /v1.41/containers/abc 200, 2 bytes,")
            && err.contains("would be denied (--dry-run) (rule: none matched, denied by default)"),
        "{err}"
    );
}

#[test]
fn create_bodies_checked_and_forwarded_byte_for_byte() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_up, up, log) = recording_upstream(dir.path());
    let (_g, sock) = guard(
        dir.path(),
        "g",
        &up,
        &[
            "--allow",
            "POST /containers/create",
            "--allow-bind",
            "/srv/data",
        ],
    );
    let post = |body: &[u8], chunked: bool| {
        let mut req = b"POST /v1.41/containers/create HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n".to_vec();
        if chunked {
            req.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for piece in body.chunks(7) {
                req.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                req.extend_from_slice(piece);
                req.extend_from_slice(b"\r\n");
            }
            req.extend_from_slice(b"0\r\n\r\n");
        } else {
            req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            req.extend_from_slice(body);
        }
        raw_exchange(&sock, req)
    };
    // Go reads field names without regard to case, and the top-level copy of HostConfig.
    for (body, why) in [
        (
            &br#"{"Image":"x","hostconfig":{"PRIVILEGED":true}}"#[..],
            "privileged containers are not allowed",
        ),
        (
            br#"{"Image":"x","Privileged":true}"#,
            "privileged containers are not allowed",
        ),
        (
            br#"{"HostConfig":{"Binds":["/srv/database:/x"]}}"#,
            "bind mounts of /srv/database from the host are not allowed",
        ),
        (
            br#"{"HostConfig":{"CapAdd":["SYS_ADMIN"]}}"#,
            "added capabilities are not allowed",
        ),
        (
            br#"{"HostConfig":{"PidMode":"host"}}"#,
            "the host's pid namespace is not allowed",
        ),
    ] {
        let answer = post(body, true);
        assert_eq!(status_of(&answer), "403", "{answer}");
        assert!(message_of(&answer).contains(why), "{answer}");
    }
    let answer = post(b"not json", false);
    assert_eq!(status_of(&answer), "400", "{answer}");
    let mut big = br#"{"Image":"x","Labels":{"a":""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', 1 << 20));
    big.extend_from_slice(br#""}}"#);
    let answer = post(&big, false);
    assert_eq!(status_of(&answer), "413", "{answer}");
    assert!(
        message_of(&answer).contains("larger than the 1024 KiB"),
        "{answer}"
    );
    assert_eq!(upstream_saw(&log), "");

    // Allowed: forwarded unchanged, odd spacing, key order and escapes kept.
    let body = br#"{ "Image" : "x",  "Env":["A=\u00e9"], "HostConfig":{"Binds":["/srv/data/sub:/d:ro"]} }"#;
    let answer = post(body, false);
    assert_eq!(status_of(&answer), "200", "{answer}");
    let saw = upstream_saw(&log);
    assert!(saw.ends_with(std::str::from_utf8(body).unwrap()), "{saw}");
}

#[test]
fn chunked_upload_streams_through() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_up, up, log) = recording_upstream(dir.path());
    let (_g, sock) = guard(dir.path(), "g", &up, &["--allow", "POST /images/load"]);
    let mut s = UnixStream::connect(&sock).unwrap();
    s.write_all(
        b"POST /images/load HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nfirst!\r\n",
    )
    .unwrap();
    // The first chunk reaches the upstream while the rest is not sent yet: nothing holds
    // the body back until it is whole.
    wait_until(Duration::from_secs(20), "the first chunk upstream", || {
        upstream_saw(&log).contains("first!")
    });
    let answer = raw_exchange_on(
        s,
        b"4\r\nrest\r\n0\r\n\r\nGET /_ping HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(),
    );
    assert_eq!(status_of(&answer), "200", "{answer}");
    wait_until(Duration::from_secs(20), "the rest upstream", || {
        upstream_saw(&log).contains("rest\r\n0\r\n\r\n")
    });
}

#[test]
fn rule_syntax_is_a_usage_error() {
    for (args, needle) in [
        (&["--allow", "GET"][..], "is not METHOD PATH-GLOB"),
        (&["--allow", "GET containers"][..], "must start with /"),
        (&["--deny", "G3T /x"][..], "is not an HTTP method"),
        (&["--allow", "GET /x["][..], "the path glob"),
    ] {
        let out = ud(&["relay", "/tmp/udskit-never.sock", "/tmp/up.sock", "--http"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr_of(&out).contains(needle),
            "{args:?}: {}",
            stderr_of(&out)
        );
    }
    // Rules without --http would mean nothing.
    let out = ud(&[
        "relay",
        "/tmp/udskit-never.sock",
        "/tmp/up.sock",
        "--read-only",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--http"), "{}", stderr_of(&out));
}

/// The docker CLI, talking to `sock`, its config in `dir`.
fn docker(dir: &Path, sock: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut c = Command::new("docker");
    c.env("DOCKER_CONFIG", dir.join("docker-config"))
        .arg("-H")
        .arg(format!("unix://{}", sock.display()))
        .args(args);
    run_with_input(c, input, LIMIT)
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}, stdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        stderr_of(out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn denied(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr_of(out)
}

/// Everything Docker on one dockerd (its start is the slow part): the docker CLI through
/// guards with different rules.
#[test]
fn docker_cli_through_the_guard() {
    if !have("dockerd") || !have("docker") || !have("tar") {
        return;
    }
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
    if !root {
        eprintln!("\n!!! dockerd needs root: docker_cli_through_the_guard did NOT run !!!\n");
        assert!(std::env::var_os("UDSKIT_REQUIRE_PEERS").is_none_or(|v| v != "1"));
        return;
    }
    let dir = tempdir();
    let d = dir.path();
    let engine = Dockerd::start(d);
    let direct = engine.sock.clone();

    // An image imported offline (straight to dockerd): a static busybox.
    let rootfs = d.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox")).expect("busybox-static");
    for applet in ["sh", "cat", "echo", "sleep"] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet)).unwrap();
    }
    let tar = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["-cf", "-", "."])
        .output()
        .unwrap();
    assert!(tar.status.success());
    ok(&docker(
        d,
        &direct,
        &["import", "-", "udskit/bb:t"],
        &tar.stdout,
    ));
    ok(&docker(
        d,
        &direct,
        &[
            "run",
            "-d",
            "--name",
            "sl",
            "--network",
            "none",
            "udskit/bb:t",
            "sleep",
            "1000",
        ],
        b"",
    ));

    // docker-readonly: what the CLI reads works, a run is refused with our message.
    let (mut ro, ro_sock) = guard(d, "ro", &direct, &["--preset", "docker-readonly"]);
    let v = ok(&docker(d, &ro_sock, &["version"], b""));
    assert!(
        v.contains("Server:") && v.contains("1.41 (minimum version"),
        "{v}"
    );
    let ps = ok(&docker(d, &ro_sock, &["ps", "--format", "{{.Names}}"], b""));
    assert_eq!(ps, "sl\n");
    let images = ok(&docker(
        d,
        &ro_sock,
        &["images", "--format", "{{.Repository}}:{{.Tag}}"],
        b"",
    ));
    assert_eq!(images, "udskit/bb:t\n");
    let err = denied(&docker(
        d,
        &ro_sock,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "udskit/bb:t",
            "echo",
            "hi",
        ],
        b"",
    ));
    assert!(
        err.contains(
            "Error response from daemon: udskit: POST /v1.41/containers/create denied (rule: none matched, denied by default)"
        ),
        "{err}"
    );
    // Events stream live: a volume made before `docker events` starts shows first (the
    // stream is open), one made while it runs shows at once.
    ok(&docker(
        d,
        &direct,
        &["volume", "create", "udskit-before"],
        b"",
    ));
    let mut c = Command::new("docker");
    c.env("DOCKER_CONFIG", d.join("docker-config"))
        .arg("-H")
        .arg(format!("unix://{}", ro_sock.display()))
        .args([
            "events",
            "--since",
            "10m",
            "--filter",
            "type=volume",
            "--format",
            "{{.Action}} {{.Actor.ID}}",
        ])
        .stdout(Stdio::piped());
    let mut events = Bg::spawn(c, d, "events");
    let mut stdout = events.child.stdout.take().unwrap();
    let mut line = || {
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while !seen.ends_with(b"\n") {
            assert_eq!(stdout.read(&mut byte).unwrap(), 1, "events ended");
            seen.push(byte[0]);
        }
        String::from_utf8(seen).unwrap()
    };
    assert_eq!(line(), "create udskit-before\n");
    ok(&docker(
        d,
        &direct,
        &["volume", "create", "udskit-during"],
        b"",
    ));
    assert_eq!(line(), "create udskit-during\n");
    drop(events);
    let log = ro.wait_stderr("GET /v1.41/events");
    assert!(
        log.contains("HEAD /_ping 200, 0 bytes,")
            && log.contains("allowed (rule: --preset docker-readonly: allow GET /**)"),
        "{log}"
    );

    // --read-only: docker cp out of a container reads its files, refused.
    let (_ro2, ro2_sock) = guard(d, "ro2", &direct, &["--read-only"]);
    let copy = d.join("copied");
    let err = denied(&docker(
        d,
        &ro2_sock,
        &["cp", "sl:/bin/busybox", copy.to_str().unwrap()],
        b"",
    ));
    assert!(
        err.contains("udskit: GET /v1.41/containers/sl/archive denied (rule: --read-only: deny * /containers/**/archive)"),
        "{err}"
    );
    assert!(!copy.exists());
    // ...which the same CLI does straight to dockerd (so the refusal is the guard's).
    ok(&docker(
        d,
        &direct,
        &["cp", "sl:/bin/busybox", copy.to_str().unwrap()],
        b"",
    ));
    assert_eq!(sha256_file(&copy), sha256_file(Path::new("/bin/busybox")));

    // Rules that allow running: output streamed through the attach upgrade, exec -i.
    let shared = d.join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("f"), "from the host\n").unwrap();
    let (mut rw, rw_sock) = guard(
        d,
        "rw",
        &direct,
        &[
            "--allow-bind",
            shared.to_str().unwrap(),
            "--allow",
            "POST /containers/**",
            "--allow",
            "POST /exec/*/start",
            "--preset",
            "docker-readonly",
        ],
    );
    let out = ok(&docker(
        d,
        &rw_sock,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "udskit/bb:t",
            "echo",
            "hi",
        ],
        b"",
    ));
    assert_eq!(out, "hi\n");
    let out = ok(&docker(
        d,
        &rw_sock,
        &["exec", "-i", "sl", "cat"],
        b"hello through the guard\n",
    ));
    assert_eq!(out, "hello through the guard\n");
    // What a create asks for is checked, under a preset that allows creating containers
    // (watchtower) and under rules that allow running them: privileged, a bind of /.
    let (_wt, wt_sock) = guard(d, "wt", &direct, &["--preset", "watchtower"]);
    for sock in [&wt_sock, &rw_sock] {
        let err = denied(&docker(
            d,
            sock,
            &[
                "run",
                "--rm",
                "--privileged",
                "--network",
                "none",
                "udskit/bb:t",
                "true",
            ],
            b"",
        ));
        assert!(
            err.contains("Error response from daemon: udskit: POST /v1.41/containers/create denied: privileged containers are not allowed (rule: body check, without --allow-privileged)"),
            "{err}"
        );
        let err = denied(&docker(
            d,
            sock,
            &[
                "run",
                "--rm",
                "-v",
                "/:/host",
                "--network",
                "none",
                "udskit/bb:t",
                "true",
            ],
            b"",
        ));
        assert!(
            err.contains("denied: bind mounts of / from the host are not allowed (rule: body check, without --allow-bind /)"),
            "{err}"
        );
    }
    // A bind under --allow-bind goes through, its body forwarded as it came.
    let volume = format!("{}:/s:ro", shared.display());
    let out = ok(&docker(
        d,
        &rw_sock,
        &[
            "run",
            "--rm",
            "-v",
            &volume,
            "--network",
            "none",
            "udskit/bb:t",
            "cat",
            "/s/f",
        ],
        b"",
    ));
    assert_eq!(out, "from the host\n");
    let log = rw.wait_stderr("/start 101");
    assert!(
        log.contains("POST /v1.41/containers/create 201,")
            && log.contains("allowed (rule: --allow 'POST /containers/**')")
            && log.contains("tunnel 24 bytes up, 32 down"),
        "{log}"
    );

    // --preset portainer: what Portainer does with containers, images, volumes, networks
    // and its exec console works; a container's files and the rest of the API do not.
    let (mut pt, pt_sock) = guard(d, "pt", &direct, &["--preset", "portainer"]);
    let ps = ok(&docker(d, &pt_sock, &["ps", "--format", "{{.Names}}"], b""));
    assert_eq!(ps, "sl\n");
    ok(&docker(
        d,
        &pt_sock,
        &["volume", "create", "udskit-pt"],
        b"",
    ));
    let vols = ok(&docker(d, &pt_sock, &["volume", "ls", "-q"], b""));
    assert!(vols.lines().any(|v| v == "udskit-pt"), "{vols}");
    ok(&docker(d, &pt_sock, &["volume", "rm", "udskit-pt"], b""));
    let nets = ok(&docker(
        d,
        &pt_sock,
        &["network", "ls", "--format", "{{.Name}}"],
        b"",
    ));
    assert!(nets.lines().any(|n| n == "none"), "{nets}");
    let out = ok(&docker(
        d,
        &pt_sock,
        &["exec", "-i", "sl", "cat"],
        b"a portainer console\n",
    ));
    assert_eq!(out, "a portainer console\n");
    let out = ok(&docker(
        d,
        &pt_sock,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "udskit/bb:t",
            "echo",
            "deployed",
        ],
        b"",
    ));
    assert_eq!(out, "deployed\n");
    let info = ok(&docker(
        d,
        &pt_sock,
        &["info", "--format", "{{.Containers}}"],
        b"",
    ));
    assert_eq!(info.trim(), "1", "{info}");
    let err = denied(&docker(
        d,
        &pt_sock,
        &["cp", "sl:/bin/busybox", d.join("pt-copy").to_str().unwrap()],
        b"",
    ));
    assert!(
        err.contains("udskit: GET /v1.41/containers/sl/archive denied (rule: --preset portainer: deny * /containers/**/archive)"),
        "{err}"
    );
    let err = denied(&docker(d, &pt_sock, &["system", "df"], b""));
    assert!(
        err.contains("udskit: GET /v1.41/system/df denied (rule: none matched, denied by default)"),
        "{err}"
    );
    let err = denied(&docker(
        d,
        &pt_sock,
        &[
            "run",
            "--rm",
            "--privileged",
            "--network",
            "none",
            "udskit/bb:t",
            "true",
        ],
        b"",
    ));
    assert!(
        err.contains("privileged containers are not allowed"),
        "{err}"
    );
    let err = denied(&docker(
        d,
        &pt_sock,
        &[
            "run",
            "--rm",
            "--security-opt",
            "systempaths=unconfined",
            "--network",
            "none",
            "udskit/bb:t",
            "true",
        ],
        b"",
    ));
    assert!(
        err.contains("denied: MaskedPaths without /proc/asound is not allowed"),
        "{err}"
    );
    // Nor a host path or namespace by way of something else, made straight on dockerd: a
    // volume whose driver options bind `shared`, a container binding it, one holding that
    // volume, one in the host's network namespace. Each is looked up and judged.
    let device = format!("device={}", shared.display());
    let bind_opts = ["--opt", "type=none", "--opt", "o=bind", "--opt", &device];
    let err = denied(&docker(
        d,
        &pt_sock,
        &[&["volume", "create"][..], &bind_opts, &["udskit-host"]].concat(),
        b"",
    ));
    let shared_s = shared.display();
    assert!(
        err.contains(&format!("udskit: POST /v1.41/volumes/create denied: bind mounts of {shared_s} from the host are not allowed (rule: body check, without --allow-bind {shared_s})")),
        "{err}"
    );
    ok(&docker(
        d,
        &direct,
        &[&["volume", "create"][..], &bind_opts, &["udskit-bound"]].concat(),
        b"",
    ));
    for (name, how) in [
        ("binder", &volume),
        ("holder", &"udskit-bound:/v".to_string()),
    ] {
        ok(&docker(
            d,
            &direct,
            &[
                "create",
                "--name",
                name,
                "--network",
                "none",
                "-v",
                how,
                "udskit/bb:t",
                "true",
            ],
            b"",
        ));
    }
    ok(&docker(
        d,
        &direct,
        &[
            "run",
            "-d",
            "--name",
            "hostnet",
            "--network",
            "host",
            "udskit/bb:t",
            "sleep",
            "1000",
        ],
        b"",
    ));
    let run = |how: &[&str]| {
        let args = [&["run", "--rm"][..], how, &["udskit/bb:t", "echo", "ran"]].concat();
        docker(d, &pt_sock, &args, b"")
    };
    for (how, why) in [
        (
            &["--network", "none", "--volumes-from", "binder"][..],
            format!(
                "bind mounts of {shared_s} from the host are not allowed (by way of container binder)"
            ),
        ),
        (
            &["--network", "none", "--volumes-from", "holder:ro"],
            format!(
                "bind mounts of {shared_s} from the host are not allowed (volume udskit-bound)"
            ),
        ),
        (
            &["--network", "none", "-v", "udskit-bound:/v"],
            format!(
                "bind mounts of {shared_s} from the host are not allowed (volume udskit-bound)"
            ),
        ),
        (
            &["--network", "container:hostnet"],
            "the host's network namespace is not allowed (by way of container hostnet)".to_string(),
        ),
        // Its processes' /proc/PID/root reach its mounts.
        (
            &["--network", "none", "--pid", "container:binder"],
            format!(
                "bind mounts of {shared_s} from the host are not allowed (by way of container binder)"
            ),
        ),
        (
            &["--network", "none", "--security-opt", "seccomp=unconfined"],
            r#"the security option "seccomp=unconfined" is not allowed"#.to_string(),
        ),
    ] {
        let err = denied(&run(how));
        assert!(err.contains(&format!("denied: {why}")), "{how:?}: {err}");
    }
    // What is looked up and harmless goes through: a plain container's volumes, a new
    // named volume, another container's network namespace that is not the host's.
    for how in [
        &["--network", "none", "--volumes-from", "sl"][..],
        &["--network", "none", "-v", "udskit-fresh:/f"],
        &["--network", "container:sl"],
        &["--network", "none", "--security-opt", "no-new-privileges"],
    ] {
        assert_eq!(ok(&run(how)), "ran\n", "{how:?}");
    }
    // A build's steps run in the network its query names: the host's is refused, another
    // container's looked up, as a create's would be (the classic builder, without BuildKit).
    let (mut bd, bd_sock) = guard(
        d,
        "bd",
        &direct,
        &["--allow", "POST /build", "--preset", "docker-readonly"],
    );
    let context = d.join("context");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), "FROM udskit/bb:t\nRUN true\n").unwrap();
    let build = |network: &str| {
        let mut c = Command::new("docker");
        c.env("DOCKER_CONFIG", d.join("docker-config"))
            .env("DOCKER_BUILDKIT", "0")
            .arg("-H")
            .arg(format!("unix://{}", bd_sock.display()))
            .args(["build", "-q", "--network", network])
            .arg(&context);
        run_with_input(c, b"", LIMIT)
    };
    for (network, why) in [
        (
            "host",
            "udskit: POST /v1.41/build denied: the host's network namespace is not allowed (rule: query check, without --allow-host-namespace network)",
        ),
        (
            "container:hostnet",
            "the host's network namespace is not allowed (by way of container hostnet)",
        ),
    ] {
        let err = denied(&build(network));
        assert!(err.contains(why), "{network}: {err}");
    }
    assert!(ok(&build("none")).starts_with("sha256:"));
    // Nor in a body, which dockerd reads parameters from beside the query (after a
    // context of up to 4 KiB): any form, or a Content-Type Go might take for one.
    for content_type in [
        &b"multipart/form-data; boundary=XyZ"[..],
        b"application/x-www-form-urlencoded",
        b"application/x-www-form-urlencoded; x=\xff",
    ] {
        let mut req = b"POST /v1.41/build HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Length: 0\r\nContent-Type: ".to_vec();
        req.extend_from_slice(content_type);
        req.extend_from_slice(b"\r\n\r\n");
        let answer = raw_exchange(&bd_sock, req);
        assert_eq!(status_of(&answer), "403", "{answer}");
        assert!(
            message_of(&answer).contains("a build's parameters in a form body"),
            "{answer}"
        );
    }
    let log = bd.wait_stderr("networkmode=none");
    assert!(
        log.contains("denied (rule: query check, without --allow-host-namespace network)"),
        "{log}"
    );
    // What the audit got past the guard (all of it reaching dockerd before): a start with
    // the HostConfig of API 1.23, a key twice (Go merges both), a mount's type in two cases,
    // overlay's host directories, a proc volume (the host's), a container named by way of
    // a link alias.
    ok(&docker(
        d,
        &direct,
        &[
            "create",
            "--name",
            "st",
            "--network",
            "none",
            "udskit/bb:t",
            "echo",
            "started",
        ],
        b"",
    ));
    let post_to = |sock: &Path, path: &str, body: &str| {
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        raw_exchange(sock, req.into_bytes())
    };
    let post = |path: &str, body: &str| post_to(&pt_sock, path, body);
    // A service on the host's network by its ID (dockerd finds a network by ID, or an ID's
    // prefix): looked up, and refused before dockerd sees it (no swarm needed).
    let host_net = ok(&docker(
        d,
        &direct,
        &["network", "inspect", "host", "--format", "{{.ID}}"],
        b"",
    ));
    let host_net = &host_net.trim()[..12];
    let service = format!(
        r#"{{"Name":"s","TaskTemplate":{{"ContainerSpec":{{"Image":"udskit/bb:t"}},"Networks":[{{"Target":"{host_net}"}}]}}}}"#
    );
    let host_by_id =
        format!("the host's network namespace is not allowed (by way of network {host_net})");
    for (path, body, status, why) in [
        (
            "/v1.41/services/create",
            service.as_str(),
            "403",
            host_by_id.as_str(),
        ),
        // dockerd keeps container:NAME as a name, joined at each start: a name of no
        // container now, and a rename of one in the host's network, would lead there.
        (
            "/v1.41/containers/create",
            r#"{"Image":"udskit/bb:t","HostConfig":{"NetworkMode":"container:nothere"}}"#,
            "403",
            "container:nothere names no container",
        ),
        (
            "/v1.41/containers/hostnet/rename?name=agent",
            "",
            "403",
            "renaming hostnet is not allowed: it is in the host's network namespace",
        ),
        (
            "/v1.41/containers/binder/rename?name=binder2",
            "",
            "204",
            "",
        ),
        (
            "/v1.23/containers/st/start",
            r#"{"Binds":["/:/host"]}"#,
            "403",
            "bind mounts of / from the host are not allowed",
        ),
        (
            "/v1.41/containers/create",
            r#"{"Image":"udskit/bb:t","HostConfig":{"Privileged":true},"HostConfig":{"NetworkMode":"none"}}"#,
            "400",
            r#"its body gives the key "HostConfig" twice in one object"#,
        ),
        (
            "/v1.41/containers/create",
            r#"{"Image":"udskit/bb:t","HostConfig":{"NetworkMode":"none","Mounts":[{"Type":"tmpfs","type":"bind","Source":"/","Target":"/host"}]}}"#,
            "400",
            r#"its body gives the key "type" twice in one object"#,
        ),
        (
            "/v1.41/volumes/create",
            r#"{"Name":"vov","DriverOpts":{"type":"overlay","device":"overlay","o":"lowerdir=/etc,upperdir=/tmp/u,workdir=/tmp/w"}}"#,
            "403",
            "bind mounts of /etc from the host are not allowed",
        ),
        (
            "/v1.41/volumes/create",
            r#"{"Name":"vp","DriverOpts":{"type":"proc","device":"proc"}}"#,
            "403",
            r#"volumes of type "proc" are not allowed (a kernel filesystem dockerd mounts is the host's)"#,
        ),
        (
            "/v1.23/containers/sl/copy",
            r#"{"Resource":"/bin/busybox"}"#,
            "403",
            "denied (rule: --preset portainer: deny * /containers/**/copy)",
        ),
        (
            "/v1.41/containers/sl/alias/kill",
            "",
            "403",
            "a container named with a `/` (by way of another's link alias) is not judged",
        ),
    ] {
        let answer = post(path, body);
        assert_eq!(status_of(&answer), status, "{path} {body}: {answer}");
        assert!(
            why.is_empty() || message_of(&answer).contains(why),
            "{path} {body}: {answer}"
        );
    }
    // Renames through the guard wait for the creates it is judging, and these for them: a
    // loop swapping a harmless container's name with binder's (which binds `shared`) gets
    // no create past the lookups (the audit's, without the wait: 17 of 100). So with the
    // host's network allowed, where a rename has nothing else to be judged by.
    let (_pn, pn_sock) = guard(
        d,
        "pn",
        &direct,
        &["--preset", "portainer", "--allow-host-namespace", "network"],
    );
    ok(&docker(
        d,
        &direct,
        &[
            "create",
            "--name",
            "plain",
            "--network",
            "none",
            "udskit/bb:t",
            "true",
        ],
        b"",
    ));
    let rename = |from: &str, to: &str| {
        let path = format!("/v1.41/containers/{from}/rename?name={to}");
        let answer = post_to(&pn_sock, &path, "");
        assert_eq!(status_of(&answer), "204", "{from} -> {to}: {answer}");
    };
    let swapping = std::sync::atomic::AtomicBool::new(true);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            // Bounded, and ended by the creates' side (even when it fails).
            for _ in 0..500 {
                if !swapping.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                rename("plain", "swap");
                rename("binder2", "plain");
                rename("swap", "binder2");
            }
        });
        let body = r#"{"Image":"udskit/bb:t","Cmd":["true"],"HostConfig":{"NetworkMode":"none","VolumesFrom":["plain"]}}"#;
        struct Stop<'a>(&'a std::sync::atomic::AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(false, std::sync::atomic::Ordering::Relaxed);
            }
        }
        let _stop = Stop(&swapping);
        let (mut made, mut refused) = (0, 0);
        for _ in 0..40 {
            let answer = post_to(&pn_sock, "/v1.41/containers/create", body);
            match status_of(&answer) {
                "201" => {
                    made += 1;
                    let id: serde_json::Value =
                        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap().trim())
                            .unwrap();
                    let id = id["Id"].as_str().unwrap();
                    let format = "{{range .Mounts}}{{.Source}} {{end}}";
                    let mounts = ok(&docker(d, &direct, &["inspect", "-f", format, id], b""));
                    assert!(
                        !mounts.contains(&*shared.to_string_lossy()),
                        "a create got {mounts} by way of a rename"
                    );
                }
                "403" => refused += 1,
                _ => {}
            }
        }
        assert!(made > 0 && refused > 0, "{made} made, {refused} refused");
    });
    // A start as every client since API 1.24 sends it, without a body, goes through.
    ok(&docker(d, &pt_sock, &["start", "st"], b""));
    let log = pt.wait_stderr("GET /v1.41/system/df 403");
    assert!(
        log.contains("allowed (rule: --preset portainer: allow * /exec/**)"),
        "{log}"
    );
    drop(engine);
}

/// `udskit http` run as `nobody` (setpriv) or as ourselves (root).
fn http_as(nobody: bool, args: &[&str]) -> Output {
    let c = if nobody {
        as_nobody(&[&["http"], args].concat())
    } else {
        let mut c = Command::new(env!("CARGO_BIN_EXE_udskit"));
        c.arg("--color=never").arg("http").args(args);
        c
    };
    run_with_input(c, b"", LIMIT)
}

#[test]
fn rules_from_a_yaml_file() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_up, up, log) = recording_upstream(dir.path());
    let rules = dir.path().join("rules.yaml");
    std::fs::write(
        &rules,
        "# everyone may ping\nrules:\n  - allow GET /_ping\npeer:\n  - uid: [0]   # root\n    rules: ['allow POST /containers/create']\n  - user: nobody\n    preset: [traefik]\n",
    )
    .unwrap();
    let (mut g, sock) = guard(dir.path(), "g", &up, &["--rules", rules.to_str().unwrap()]);
    let s = sock.to_str().unwrap();
    let http = |args: &[&str]| {
        let mut c = udskit();
        c.arg("http").arg(s).args(args);
        run_with_input(c, b"", LIMIT)
    };
    assert_eq!(http(&["/_ping"]).stdout, b"ok");
    let out = http(&[
        "POST",
        "/v1.41/containers/create",
        "--json",
        r#"{"Image":"x"}"#,
    ]);
    assert_eq!(out.stdout, b"ok", "{}", stderr_of(&out));
    let out = http(&["DELETE", "/v1.41/containers/abc"]);
    let msg: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr_of(&out)));
    assert_eq!(
        msg["message"],
        "udskit: DELETE /v1.41/containers/abc denied (rule: none matched, denied by default)"
    );
    let saw = upstream_saw(&log);
    assert!(saw.contains("POST /v1.41/containers/create"), "{saw}");
    assert!(!saw.contains("DELETE"), "{saw}");
    let err = g.wait_stderr("POST /v1.41/containers/create 200");
    assert!(
        err.contains("rules.yaml [peer uid 0]: allow POST /containers/create"),
        "{err}"
    );

    // A YAML file with a mistake: a usage error naming the line and the format assumed.
    std::fs::write(&rules, "rules:\n  - allow GET /_ping\n peer: [\n").unwrap();
    let out = ud(&["relay", "/tmp/udskit-never.sock", s, "--http", "--rules"])
        .arg(&rules)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("(read as YAML, for its name)"), "{err}");
    assert!(err.contains("line 3"), "{err}");
}

#[test]
fn rules_by_peer_uid_from_so_peercred() {
    if !have("python3") || !nobody_can_run_udskit() {
        return;
    }
    let dir = tempdir();
    open_dir_to_all(dir.path());
    let (_up, up, log) = recording_upstream(dir.path());
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "# everyone may ping\nrules = ['allow GET /_ping']\n\n[[peer]]\nuser = 'root'\nrules = ['allow POST /containers/create']\n",
    )
    .unwrap();
    let (_g, sock) = guard(
        dir.path(),
        "g",
        &up,
        &["--rules", rules.to_str().unwrap(), "--mode", "666"],
    );
    let s = sock.to_str().unwrap();
    let create = [
        s,
        "POST",
        "/v1.41/containers/create",
        "--json",
        r#"{"Image":"x"}"#,
    ];
    let out = http_as(false, &create);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "ok",
        "{}",
        stderr_of(&out)
    );
    let out = http_as(true, &create);
    let msg: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stderr_of(&out)));
    assert_eq!(
        msg["message"],
        "udskit: POST /v1.41/containers/create denied (rule: none matched, denied by default)"
    );
    assert_eq!(http_as(true, &[s, "/_ping"]).stdout, b"ok");
    let saw = upstream_saw(&log);
    assert_eq!(
        saw.matches("POST /v1.41/containers/create").count(),
        1,
        "{saw}"
    );

    // --allow-uid: nobody is not let in at all.
    let (_g2, sock2) = guard(
        dir.path(),
        "g2",
        &up,
        &["--allow-uid", "root", "--mode", "666"],
    );
    let s2 = sock2.to_str().unwrap();
    assert_eq!(http_as(false, &[s2, "/_ping"]).stdout, b"ok");
    let out = http_as(true, &[s2, "/_ping"]);
    let msg: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        msg["message"],
        "udskit: GET /_ping denied: uid 65534 gid 65534 is not let in (rule: --allow-uid/--allow-gid)"
    );
    // A TCP client has no credentials to check.
    let out = ud(&["relay", "tcp:0", s, "--http", "--allow-uid", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("need a unix LISTEN"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn idle_timeout_closes_a_quiet_keep_alive_client() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_up, up, _log) = recording_upstream(dir.path());
    let (mut g, sock) = guard(dir.path(), "g", &up, &["--idle-timeout", "200ms"]);
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // The answer, then nothing more: the guard closes the connection once it is idle.
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out);
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("\r\n\r\nok"),
        "{out}"
    );
    let err = g.wait_stderr("idle timeout");
    assert!(
        err.contains("idle timeout, ") && err.contains(": no traffic for 200ms"),
        "{err}"
    );
}

#[test]
fn stop_signal_ends_idle_keep_alive_clients_at_once() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_up, up, _log) = recording_upstream(dir.path());
    let (mut g, sock) = guard(dir.path(), "g", &up, &["--grace", "120s"]);
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"ok") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
    }
    g.wait_stderr("GET /_ping 200");
    g.signal(15);
    // The idle keep-alive client is closed at once, not at the end of --grace.
    assert_eq!(g.wait_exit(Duration::from_secs(30)).code(), Some(143));
    assert_eq!(s.read(&mut buf).unwrap(), 0);
    let err = g.stderr();
    assert!(
        err.contains("relay done: 1 connection, 0 with errors"),
        "{err}"
    );
    assert!(!err.contains("grace period"), "{err}");
}

#[test]
fn an_answer_still_streaming_at_the_end_of_grace_is_logged_as_cut() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    // An upstream whose answer never ends (an /events stream).
    let up = dir.path().join("up.sock");
    let mut c = crate::support::peers::python(
        "import socket,sys,threading,time\n\
         s=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(8)\n\
         print('ready',file=sys.stderr,flush=True)\n\
         def h(c):\n\
         \x20   c.recv(65536)\n\
         \x20   c.sendall(b'HTTP/1.1 200 OK\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n')\n\
         \x20   try:\n\
         \x20       while True: c.sendall(b'6\\r\\nevent\\n\\r\\n'); time.sleep(0.05)\n\
         \x20   except OSError: pass\n\
         while True:\n\
         \x20   c,_=s.accept(); threading.Thread(target=h,args=(c,),daemon=True).start()\n",
    );
    c.arg(&up);
    let mut upstream = Bg::spawn_piped(c, dir.path(), "upstream");
    upstream.wait_stderr("ready");
    let (mut g, sock) = guard(dir.path(), "g", &up, &["--grace", "300ms"]);
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("event") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the stream began");
        got.extend_from_slice(&buf[..n]);
    }
    g.signal(15);
    assert_eq!(g.wait_exit(Duration::from_secs(30)).code(), Some(143));
    let err = g.stderr();
    assert!(
        err.contains("GET /events 200") && err.contains(": cut at the end of the grace period\n"),
        "{err}"
    );
    assert!(!err.contains("the client left"), "{err}");
    assert!(
        err.contains("relay done: 1 connection, 0 with errors"),
        "{err}"
    );
}
