//! `--pcap FILE`: the capture read back by Debian's tshark: HTTP through `relay` to
//! uvicorn decoded as HTTP, h2c to nginx as HTTP/2, 10 MiB each way reassembled byte-exact, a half-close and a
//! reset seen as FIN and RST, datagrams of sendto and recvfrom as UDP, descriptors
//! passed (connect, relay, listen, datagrams) while the bytes are captured.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use super::relay::python_echo;
use crate::support::peers::{have, python, skipped};
use crate::support::servers;
use crate::support::*;

/// tshark, or a skip (a failure under UDSKIT_REQUIRE_PEERS=1).
fn tshark() -> bool {
    if have("tshark") {
        return true;
    }
    skipped("tshark is not installed");
    false
}

/// `tshark -r FILE ARGS...`, which must succeed.
fn tshark_read(file: &Path, args: &[&str]) -> String {
    let out: Output = Command::new("tshark")
        .env("HOME", file.parent().unwrap())
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "tshark: {}", stderr_of(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// `tshark -r FILE OPTIONS... -T fields -e FIELD...`: the fields of each packet, tab
/// separated (unless OPTIONS say otherwise), one line per packet.
fn tshark_fields(file: &Path, options: &[&str], fields: &[&str]) -> String {
    let mut args = options.to_vec();
    args.extend(["-T", "fields"]);
    for f in fields {
        args.extend(["-e", f]);
    }
    tshark_read(file, &args)
}

/// `curl -sS --max-time 20 --unix-socket SOCK ARGS...`, which must succeed.
fn curl(sock: &Path, args: &[&str]) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--unix-socket"])
        .arg(sock)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

/// `udskit relay LISTEN TARGET --pcap FILE`, once listening.
fn relay_pcap(dir: &Path, listen: &Path, target: &str, pcap: &Path) -> Bg {
    let mut c = udskit();
    c.arg("relay")
        .arg(listen)
        .arg(target)
        .arg("--pcap")
        .arg(pcap);
    let mut bg = Bg::spawn(c, dir, "relay");
    bg.wait_stderr("listening");
    bg
}

#[test]
fn http_through_relay_decodes_as_http() {
    if !tshark() || !have("curl") {
        return;
    }
    let dir = tempdir();
    let app = servers::Uvicorn::start(dir.path());
    let (sock, pcap) = (
        dir.path().join("front.sock"),
        dir.path().join("http.pcapng"),
    );
    let mut relay = relay_pcap(dir.path(), &sock, app.sock.to_str().unwrap(), &pcap);
    for path in ["/status/201", "/headers"] {
        curl(&sock, &[&format!("http://localhost{path}")]);
    }
    relay.wait_stderr("#2 ");
    let fields = tshark_fields(
        &pcap,
        &["-Y", "http"],
        &["tcp.stream", "http.request.uri", "http.response.code"],
    );
    let lines: Vec<&str> = fields.lines().collect();
    assert_eq!(
        lines,
        ["0\t/status/201\t", "0\t\t201", "1\t/headers\t", "1\t\t200"],
        "{fields}"
    );
    // The first packet of each flow says who the client was.
    let comments = tshark_fields(&pcap, &["-Y", "frame.comment"], &["frame.comment"]);
    let first = comments.lines().next().unwrap_or_default();
    assert!(
        first.contains("connection #1: client pid ") && first.contains("(curl)"),
        "{comments}"
    );
    assert!(first.contains(app.sock.to_str().unwrap()), "{comments}");
}

#[test]
fn guard_capture_decodes_as_http_with_its_own_answers() {
    if !tshark() || !have("curl") {
        return;
    }
    let dir = tempdir();
    let app = servers::Uvicorn::start(dir.path());
    let (sock, pcap) = (
        dir.path().join("guard.sock"),
        dir.path().join("guard.pcapng"),
    );
    let mut c = udskit();
    c.arg("relay")
        .arg(&sock)
        .arg(&app.sock)
        .args(["--http", "--read-only", "--pcap"])
        .arg(&pcap);
    let mut guard = Bg::spawn(c, dir.path(), "guard");
    guard.wait_stderr("listening");
    // Two requests on one connection (an allowed GET, then one the guard denies), then
    // a GET on another.
    let s = sock.to_str().unwrap();
    curl(
        &sock,
        &[
            "http://localhost/status/201",
            "--next",
            "-sS",
            "--max-time",
            "20",
            "-X",
            "POST",
            "--unix-socket",
            s,
            "http://localhost/data",
        ],
    );
    curl(&sock, &["http://localhost/headers"]);
    guard.wait_stderr("#2 ");
    let fields = tshark_fields(
        &pcap,
        &["-Y", "http"],
        &[
            "tcp.stream",
            "http.request.method",
            "http.request.uri",
            "http.response.code",
        ],
    );
    let lines: Vec<&str> = fields.lines().collect();
    assert_eq!(
        lines,
        [
            "0\tGET\t/status/201\t",
            "0\t\t\t201",
            "0\tPOST\t/data\t",
            "0\t\t\t403",
            "1\tGET\t/headers\t",
            "1\t\t\t200"
        ],
        "{fields}"
    );
    // The guard's own answer is in the capture as the client got it, and each flow ends
    // with both FINs, no reset.
    let bodies = tshark_fields(
        &pcap,
        &["-Y", "http.response.code == 403"],
        &["http.file_data"],
    );
    assert!(
        bodies.contains("denied (rule: none matched, denied by default)"),
        "{bodies}"
    );
    let resets = tshark_read(&pcap, &["-Y", "tcp.flags.reset == 1"]);
    assert_eq!(resets, "", "{resets}");
    let comments = tshark_fields(&pcap, &["-Y", "frame.comment"], &["frame.comment"]);
    let first = comments.lines().next().unwrap_or_default();
    assert!(
        first.contains("connection #1: client pid ") && first.contains("(curl)"),
        "{comments}"
    );
}

#[test]
fn h2c_through_relay_decodes_as_http2() {
    if !tshark() || !have("curl") || !have("nginx") {
        return;
    }
    let dir = tempdir();
    let nginx = servers::Nginx::start(dir.path());
    let (sock, pcap) = (dir.path().join("front.sock"), dir.path().join("h2.pcapng"));
    let mut relay = relay_pcap(dir.path(), &sock, nginx.h2_sock.to_str().unwrap(), &pcap);
    curl(
        &sock,
        &["--http2-prior-knowledge", "http://localhost/hello"],
    );
    relay.wait_stderr("#1 ");
    let fields = tshark_fields(
        &pcap,
        &["-Y", "http2.headers.path || http2.headers.status"],
        &["http2.headers.path", "http2.headers.status"],
    );
    let lines: Vec<&str> = fields.lines().collect();
    assert_eq!(lines, ["/hello\t", "\t200"], "{fields}");
}

/// `udskit relay --threads 1 LISTEN TARGET --pcap FILE` under strace (its tee and
/// splice calls into `trace`), once listening.
fn traced_relay_pcap(dir: &Path, listen: &Path, target: &str, pcap: &Path, trace: &Path) -> Bg {
    let mut c = udskit_traced(&["-e", "trace=tee,splice"], trace);
    // One worker: strace without -f follows the thread the connection is on.
    c.args(["relay", "--threads", "1"])
        .arg(listen)
        .arg(target)
        .arg("--pcap")
        .arg(pcap);
    let mut bg = Bg::spawn(c, dir, "relay");
    bg.wait_stderr("listening");
    bg
}

/// The completed calls of `call` in strace's `trace`.
fn calls(trace: &Path, call: &str) -> Vec<String> {
    std::fs::read_to_string(trace)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(&format!("{call}(")) && !l.contains("<unfinished"))
        .map(str::to_owned)
        .collect()
}

/// 10 MiB each way through a relay with --pcap: the bulk stays on splice (tee(2) gives
/// the capture its copy, spliced into the file), and the capture reassembles byte-exact.
#[test]
fn ten_mib_each_way_reassemble_byte_exact() {
    if !tshark() {
        return;
    }
    let traced = have("strace");
    if !traced {
        skipped("strace is not installed");
    }
    let dir = tempdir();
    let target = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &target);
    let (sock, pcap) = (dir.path().join("front.sock"), dir.path().join("big.pcapng"));
    let trace = dir.path().join("relay.trace");
    let target_s = target.to_str().unwrap();
    let relay = if traced {
        traced_relay_pcap(dir.path(), &sock, target_s, &pcap, &trace)
    } else {
        relay_pcap(dir.path(), &sock, target_s, &pcap)
    };
    let data = noise(17, 10 << 20);
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let sent = data.clone();
    let writer = std::thread::spawn(move || {
        w.write_all(&sent).unwrap();
        w.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    assert_eq!(back.len(), data.len());
    let mut relay = relay;
    relay.wait_stderr("#1 ");
    if traced {
        stop_traced(relay);
        // tee(2) from the relay's pipe into the capture's, and splice(2) out of the
        // capture's pipe into the file: most of the 20 MiB never entered user space.
        let tees = calls(&trace, "tee");
        let teed: usize = tees
            .iter()
            .filter_map(|l| l.rsplit("= ").next()?.trim().parse::<usize>().ok())
            .sum();
        assert!(teed > 16 << 20, "{} tee calls, {teed} bytes", tees.len());
        assert!(!calls(&trace, "splice").is_empty());
    } else {
        drop(relay);
    }
    let (up, down) = follow(&pcap);
    let want = sha256(&data);
    assert_eq!(sha256(&up), want, "client to target");
    assert_eq!(sha256(&down), want, "target to client");
    // Cut into segments an IPv4 packet can hold.
    let lens = tshark_fields(&pcap, &[], &["tcp.len"]);
    let max = lens.lines().filter_map(|l| l.parse::<usize>().ok()).max();
    assert_eq!(max, Some(65_495));
    // Every IPv4 checksum right, as tshark checks them when asked (status 1: good); the
    // TCP checksum right where the relay had the bytes in hand (the handshake, the first
    // small chunks), 0 ("not computed") on the spliced bulk, whose bytes it never reads.
    let status = tshark_fields(
        &pcap,
        &[
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
        ],
        &[
            "ip.checksum.status",
            "tcp.checksum.status",
            "tcp.checksum",
            "tcp.len",
        ],
    );
    assert!(status.lines().count() > 300, "{status}");
    let (mut good_data, mut zero) = (0, 0);
    for line in status.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f[0], "1", "IPv4 checksum not good: {line}");
        let len: usize = f[3].parse().unwrap();
        if f[1] == "1" {
            good_data += usize::from(len > 0);
        } else {
            assert!(f[2] == "0x0000" && len > 0, "TCP checksum not good: {line}");
            zero += 1;
        }
    }
    assert!(good_data > 0, "no chunk in hand summed: {status}");
    assert!(zero > 300, "{zero} segments spliced");
}

/// The first TCP stream of `pcap` reassembled by tshark: (client's bytes, server's).
fn follow(pcap: &Path) -> (Vec<u8>, Vec<u8>) {
    follow_stream(pcap, 0)
}

/// TCP stream `n` of `pcap` reassembled by tshark: (client's bytes, server's).
fn follow_stream(pcap: &Path, n: usize) -> (Vec<u8>, Vec<u8>) {
    // follow,tcp,raw: the client's bytes in hex, the server's indented by a tab.
    let follow = tshark_read(pcap, &["-q", "-z", &format!("follow,tcp,raw,{n}")]);
    let (mut up, mut down) = (String::new(), String::new());
    for line in follow.lines() {
        let (to, hex) = match line.strip_prefix('\t') {
            Some(h) => (&mut down, h),
            None => (&mut up, line),
        };
        if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            to.push_str(hex);
        }
    }
    let unhex = |h: &str| -> Vec<u8> {
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    };
    (unhex(&up), unhex(&down))
}

#[test]
fn connect_captures_its_connection() {
    if !tshark() {
        return;
    }
    let dir = tempdir();
    let target = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &target);
    let pcap = dir.path().join("connect.pcapng");
    let data = noise(5, 3 << 20);
    let mut c = udskit();
    c.arg("connect")
        .arg(&target)
        .args(["-q", "never", "--pcap"])
        .arg(&pcap);
    let out = run_with_input(c, &data, Duration::from_secs(30));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(sha256(&out.stdout), sha256(&data));
    let (up, down) = follow(&pcap);
    assert_eq!(sha256(&up), sha256(&data), "sent");
    assert_eq!(sha256(&down), sha256(&data), "received");
    let flags = tshark_fields(
        &pcap,
        &["-Y", "tcp.flags.fin==1 || tcp.flags.reset==1"],
        &["tcp.dstport", "tcp.flags.str"],
    );
    let ends: Vec<&str> = flags.lines().collect();
    assert_eq!(ends, ["80\t·······A···F", "10001\t·······A···F"], "{flags}");
    let comment = tshark_fields(&pcap, &["-Y", "frame.comment"], &["frame.comment"]);
    assert!(
        comment.contains("udskit connect (pid ") && comment.contains("(python3)"),
        "{comment}"
    );
    let out = udskit()
        .arg("connect")
        .arg(&target)
        .args(["--pcap", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}

/// A python TCP server on 127.0.0.1: "reset" gets a reset (SO_LINGER 0); anything else
/// is read to its end (the client's half-close), then answered "pong" and closed.
fn tcp_server(dir: &Path) -> (Bg, u16) {
    let port_file = dir.join("port");
    let mut c = python(&format!(
        "import socket, struct\n\
         s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(8)\n\
         open({:?}, 'w').write(str(s.getsockname()[1]))\n\
         while True:\n\
         \x20 c, _ = s.accept()\n\
         \x20 b = c.recv(100)\n\
         \x20 if b == b'reset':\n\
         \x20   c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))\n\
         \x20   c.close(); continue\n\
         \x20 while True:\n\
         \x20   m = c.recv(100)\n\
         \x20   if not m: break\n\
         \x20 c.sendall(b'pong'); c.close()\n",
        port_file.to_str().unwrap()
    ));
    c.stdout(std::process::Stdio::null());
    let bg = Bg::spawn(c, dir, "tcp");
    let mut port = 0;
    wait_until(Duration::from_secs(10), "the tcp server", || {
        port = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        port != 0
    });
    (bg, port)
}

#[test]
fn half_close_and_reset_are_fin_and_rst() {
    if !tshark() {
        return;
    }
    let dir = tempdir();
    let (_server, port) = tcp_server(dir.path());
    let (sock, pcap) = (
        dir.path().join("front.sock"),
        dir.path().join("ends.pcapng"),
    );
    let mut relay = relay_pcap(dir.path(), &sock, &format!("tcp:127.0.0.1:{port}"), &pcap);
    // Half-close: the client's FIN, then the server's answer, then its FIN.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"ping").unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    s.read_to_end(&mut answer).unwrap();
    assert_eq!(answer, b"pong");
    relay.wait_stderr("#1 ");
    // Reset: the server's RST.
    let mut s = UnixStream::connect(&sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(b"reset").unwrap();
    let _ = s.read_to_end(&mut Vec::new());
    relay.wait_stderr("#2 ");
    let rows = tshark_fields(
        &pcap,
        &["-E", "separator=,"],
        &["tcp.stream", "tcp.srcport", "tcp.flags.str", "tcp.len"],
    );
    let server = port.to_string();
    let flow = |n: &str| -> Vec<(bool, String, usize)> {
        rows.lines()
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f[0] == n)
            .map(|f| {
                let flags: String = f[2].chars().filter(|c| c.is_ascii_alphabetic()).collect();
                (f[1] == server, flags, f[3].parse().unwrap())
            })
            .collect()
    };
    let first = flow("0");
    let seq: Vec<(bool, &str, usize)> =
        first.iter().map(|(s, f, n)| (*s, f.as_str(), *n)).collect();
    assert_eq!(
        seq,
        [
            (false, "S", 0),
            (true, "AS", 0),
            (false, "A", 0),
            (false, "AP", 4),
            (false, "AF", 0),
            (true, "AP", 4),
            (true, "AF", 0),
        ],
        "{rows}"
    );
    let second = flow("1");
    let last = second.last().unwrap();
    assert!(last.0 && last.1.contains('R'), "{rows}");
    assert!(
        !second.iter().any(|(_, f, _)| f.contains('F')),
        "a reset flow has no FIN: {rows}"
    );
}

#[test]
fn datagrams_of_sendto_and_recvfrom_are_udp() {
    if !tshark() {
        return;
    }
    let dir = tempdir();
    let (rsock, ssock) = (dir.path().join("r.sock"), dir.path().join("s.sock"));
    let (rpcap, spcap) = (dir.path().join("r.pcapng"), dir.path().join("s.pcapng"));
    let mut c = udskit();
    c.arg("recvfrom")
        .arg(&rsock)
        .args(["--echo", "--count", "3", "--pcap"])
        .arg(&rpcap);
    let mut recv = Bg::spawn(c, dir.path(), "recvfrom");
    wait_for_socket(&rsock);
    let binary: &[u8] = b"\x00\xffbin\n";
    let mut c = udskit();
    c.arg("sendto")
        .args(["--reply", "--lines", "--bind"])
        .arg(&ssock)
        .arg(&rsock)
        .arg("--pcap")
        .arg(&spcap);
    let out = run_with_input(c, b"one\ntwo\n", Duration::from_secs(20));
    assert!(out.status.success(), "{}", stderr_of(&out));
    // An unbound sender, binary bytes: in the capture, not answered.
    let mut c = udskit();
    c.arg("sendto").arg(&rsock);
    let out = run_with_input(c, binary, Duration::from_secs(20));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(recv.wait_exit(Duration::from_secs(20)).success());
    let fields = |f: &Path| {
        tshark_fields(
            f,
            &["-E", "separator=|"],
            &["ip.src", "udp.dstport", "udp.payload", "frame.comment"],
        )
    };
    let got = fields(&rpcap);
    let rows: Vec<Vec<&str>> = got.lines().map(|l| l.split('|').collect()).collect();
    let payloads: Vec<&str> = rows.iter().map(|r| r[2]).collect();
    assert_eq!(
        payloads,
        ["6f6e65", "6f6e65", "74776f", "74776f", "00ff62696e0a"],
        "{got}"
    );
    // Received, echoed back, received...; the bound sender and the unbound one apart.
    assert_eq!(rows[0][1], "9", "{got}");
    assert_ne!(rows[1][1], "9", "{got}");
    assert_ne!(rows[0][0], rows[4][0], "{got}");
    assert!(
        rows[0][3].contains(&format!("from unix:{}", ssock.display()))
            && rows[0][3].contains("(udskit)"),
        "{got}"
    );
    assert!(rows[4][3].contains("from an unbound socket"), "{got}");
    // sendto's own capture: two sent, two answers from the receiver's end.
    let got = fields(&spcap);
    let rows: Vec<Vec<&str>> = got.lines().map(|l| l.split('|').collect()).collect();
    let seen: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[0], r[1], r[2])).collect();
    let us = rows[0][0];
    assert_eq!(
        seen,
        [
            (us, "9", "6f6e65"),
            (us, "9", "74776f"),
            ("10.0.0.1", rows[2][1], "6f6e65"),
            ("10.0.0.1", rows[3][1], "74776f"),
        ],
        "{got}"
    );
}

#[test]
fn pcap_to_stdout_where_stdout_is_data_is_refused() {
    let dir = tempdir();
    let out = udskit()
        .arg("recvfrom")
        .arg(dir.path().join("r.sock"))
        .args(["--json", "--pcap", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("--pcap - writes the capture to stdout"));
    let out = udskit()
        .arg("sendto")
        .arg(dir.path().join("r.sock"))
        .args(["--reply", "--pcap", "-", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}

#[test]
fn listen_captures_each_client() {
    if !tshark() {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("echo.sock");
    let pcap = dir.path().join("listen.pcapng");
    let mut c = udskit();
    c.arg("listen")
        .arg(&sock)
        .args(["--echo", "--count", "2", "--pcap"])
        .arg(&pcap);
    let mut server = Bg::spawn(c, dir.path(), "listen");
    wait_for_socket(&sock);
    for msg in [&b"first\n"[..], b"second\n"] {
        let mut c = udskit();
        c.arg("connect").arg(&sock).args(["-q", "never"]);
        let out = run_with_input(c, msg, Duration::from_secs(20));
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert_eq!(out.stdout, msg);
    }
    assert!(server.wait_exit(Duration::from_secs(20)).success());
    let (up, down) = follow(&pcap);
    assert_eq!(
        (up.as_slice(), down.as_slice()),
        (&b"first\n"[..], &b"first\n"[..])
    );
    let rows = tshark_fields(
        &pcap,
        &[],
        &[
            "tcp.stream",
            "tcp.srcport",
            "tcp.flags.str",
            "frame.comment",
        ],
    );
    let second: Vec<&str> = rows.lines().filter(|l| l.starts_with("1\t")).collect();
    assert!(
        second[0].contains("client #2 pid ") && second[0].contains("(udskit)"),
        "{rows}"
    );
    // The client's FIN, then ours; never a reset.
    let fins: Vec<&str> = second
        .iter()
        .filter(|l| l.split('\t').nth(2).unwrap().contains('F'))
        .map(|l| l.split('\t').nth(1).unwrap())
        .collect();
    assert_eq!(fins, ["10002", "80"], "{rows}");
    assert!(
        rows.lines()
            .all(|l| !l.split('\t').nth(2).unwrap().contains('R')),
        "{rows}"
    );
    let out = udskit()
        .arg("listen")
        .arg(dir.path().join("other.sock"))
        .args(["--pcap", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
}

#[test]
fn pcap_to_a_terminal_is_refused() {
    use crate::support::pty::{On, udskit_on_pty};
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    let t = udskit_on_pty(
        On::Stdout,
        &["recvfrom", sock.to_str().unwrap(), "--pcap", "-"],
        dir.path(),
    );
    assert_eq!(t.code, Some(2), "{}", t.pty);
    let err = String::from_utf8_lossy(&t.piped);
    assert!(err.contains("binary capture to the terminal"), "{err}");
}

#[test]
fn a_capture_reader_gone_is_warned_and_the_traffic_goes_on() {
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    let mut c = udskit();
    c.arg("recvfrom")
        .arg(&sock)
        .args(["--echo", "--count", "3", "--pcap", "-"]);
    let mut recv = Bg::spawn_piped(c, dir.path(), "recvfrom");
    wait_for_socket(&sock);
    // The reader takes the headers and goes.
    let mut head = [0u8; 4];
    recv.child
        .stdout
        .take()
        .unwrap()
        .read_exact(&mut head)
        .unwrap();
    assert_eq!(head, [0x0a, 0x0d, 0x0d, 0x0a], "a pcapng section header");
    for i in 0..3 {
        let msg = format!("datagram {i}");
        let mut c = udskit();
        c.args(["sendto", "--reply", "--timeout", "10s"])
            .arg(&sock)
            .arg(&msg);
        let out = run_with_input(c, b"", Duration::from_secs(20));
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert_eq!(out.stdout, msg.as_bytes());
    }
    assert!(recv.wait_exit(Duration::from_secs(20)).success());
    let err = recv.stderr();
    assert_eq!(err.matches("capture stopped").count(), 1, "{err}");
    assert!(
        err.contains("writing the capture to -: Broken pipe"),
        "{err}"
    );
}

/// A reader that stops reading (a paused Wireshark): its pipe fills, the capture waits a
/// moment for room, then stops with one warning; the traffic never waits on it for good.
#[test]
fn a_capture_reader_that_stops_reading_stops_the_capture_not_the_traffic() {
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let mut echo = udskit();
    echo.args(["listen", "--echo", "-k"]).arg(&echo_sock);
    let mut echo = Bg::spawn(echo, dir.path(), "echo");
    echo.wait_stderr("listening on");
    let sock = dir.path().join("r.sock");
    let mut c = udskit();
    c.args(["relay", "--pcap", "-"]).arg(&sock).arg(&echo_sock);
    // Its stdout is a pipe that nobody reads.
    let mut relay = Bg::spawn_piped(c, dir.path(), "relay");
    relay.wait_stderr("listening on");
    let data: Vec<u8> = (0..2 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
    for input in [&data[..], b"after"] {
        let mut c = udskit();
        c.args(["connect", "-q"]).arg(&sock);
        let out = run_with_input(c, input, Duration::from_secs(30));
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert!(out.stdout == input, "{} bytes back", out.stdout.len());
    }
    let err = relay.wait_stderr("capture stopped");
    assert!(
        err.contains("writing the capture to -: its reader has not read for 1s; capture stopped (the traffic goes on)"),
        "{err}"
    );
}

/// The disk under the capture fills up (a 1 MiB tmpfs mounted in a mount namespace of the
/// relay's own) while spliced bytes are being written: the capture stops with one warning,
/// and this connection and the next ones go on, byte-exact (the bytes left in the
/// capture's pipe were counted wrong, and the relay waited forever to read them).
#[test]
fn a_full_disk_stops_the_capture_and_the_traffic_goes_on() {
    if !is_root() {
        return skipped("not root (a small tmpfs is mounted)");
    }
    if !have("unshare") {
        return;
    }
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let mut echo = udskit();
    echo.args(["listen", "--echo", "-k"]).arg(&echo_sock);
    let mut echo = Bg::spawn(echo, dir.path(), "echo");
    echo.wait_stderr("listening on");
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let sock = dir.path().join("r.sock");
    let u = udskit();
    let mut c = Command::new("unshare");
    c.env_clear()
        .envs(u.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .args(["-m", "sh", "-c"])
        .arg(r#"mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@""#)
        .arg(&small)
        .arg(u.get_program())
        .args(u.get_args())
        .arg("relay")
        .arg(&sock)
        .arg(&echo_sock)
        .arg("--pcap")
        .arg(small.join("cap.pcap"));
    let mut relay = Bg::spawn(c, dir.path(), "relay");
    relay.wait_stderr("listening");
    let data = random_bytes(4 << 20);
    for _ in 0..3 {
        let mut c = udskit();
        c.arg("connect").arg(&sock);
        let out = run_with_input(c, &data, Duration::from_secs(60));
        assert!(out.status.success(), "{}", stderr_of(&out));
        assert!(out.stdout == data, "{} bytes back", out.stdout.len());
    }
    let err = relay.stderr();
    assert_eq!(err.matches("capture stopped").count(), 1, "{err}");
    assert!(err.contains("No space left on device"), "{err}");
}

/// `--pcap` beside descriptor passing: connect --send-file, relay --pass-fds, listen
/// --take-fds and recvfrom each pass (or take) the descriptors and capture the bytes.
#[test]
fn descriptors_pass_while_the_bytes_are_captured() {
    if !tshark() || !have("python3") {
        return;
    }
    let dir = tempdir();
    let file = dir.path().join("f.txt");
    std::fs::write(&file, b"passed over a stream\n").unwrap();

    // connect --send-file --pcap: the first chunk carries the descriptor and is captured.
    let sock = dir.path().join("s.sock");
    let pcap = dir.path().join("connect.pcapng");
    let mut py = super::fds::py_stream_server(&sock);
    py.stdout(std::process::Stdio::piped());
    let mut srv = Bg::spawn(py, dir.path(), "py");
    srv.wait_stderr("ready");
    let mut c = udskit();
    c.arg("connect")
        .arg("--send-file")
        .arg(&file)
        .arg("--pcap")
        .arg(&pcap)
        .arg(&sock);
    let out = run_with_input(c, b"hello server\n", Duration::from_secs(20));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (st, stdout) = srv.finish(Duration::from_secs(20));
    assert!(st.success());
    let text = String::from_utf8(stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            super::fds::hex(b"hello server\n").as_str(),
            "1",
            super::fds::hex(b"passed over a stream\n").as_str(),
            ""
        ]
    );
    let (up, down) = follow(&pcap);
    assert_eq!(
        (up.as_slice(), down.as_slice()),
        (&b"hello server\n"[..], &b""[..])
    );

    // relay --pass-fds --pcap: three descriptors up, one down, the bytes in the flow.
    let listen = dir.path().join("r.sock");
    let target = dir.path().join("t.sock");
    let pcap = dir.path().join("relay.pcapng");
    let mut r = udskit();
    r.arg("relay")
        .arg("--pass-fds")
        .arg("--pcap")
        .arg(&pcap)
        .arg(&listen)
        .arg(&target);
    let mut relay = Bg::spawn(r, dir.path(), "relay");
    wait_for_socket(&listen);
    let py = python(&format!(
        "import socket,os,threading\n\
         l=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM)\nl.bind({target:?})\nl.listen()\n\
         res={{}}\n\
         def serve():\n  c,_=l.accept()\n  got=b''\n  n=0\n  first=None\n\
         \x20 while len(got)<3:\n    msg,fds,fl,_=socket.recv_fds(c,65536,10)\n    if not msg: break\n\
         \x20   got+=msg\n    for f in fds:\n      if first is None:\n        first=os.read(f,100)\n      os.close(f)\n    n+=len(fds)\n\
         \x20 res['n']=n;res['first']=first\n  back=os.open({file:?},os.O_RDONLY)\n\
         \x20 socket.send_fds(c,[b'done'],[back])\n  os.close(back)\n  c.recv(1)\n  c.close()\n\
         t=threading.Thread(target=serve);t.start()\n\
         s=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM)\ns.connect({listen:?})\n\
         f=os.open({file:?},os.O_RDONLY)\nfor i in range(3):\n  socket.send_fds(s,[b'x'],[f])\n\
         msg,fds,fl,_=socket.recv_fds(s,100,10)\n\
         s.shutdown(socket.SHUT_WR);t.join()\n\
         print('server got',res['n'],res['first'])\nprint('client got',msg,len(fds),os.read(fds[0],100))\n",
        target = target.to_str().unwrap(),
        listen = listen.to_str().unwrap(),
        file = file.to_str().unwrap(),
    ));
    let out = run_with_input(py, b"", Duration::from_secs(30));
    assert!(
        out.status.success(),
        "{}\nrelay: {}",
        stderr_of(&out),
        relay.stderr()
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "server got 3 b'passed over a stream\\n'",
            "client got b'done' 1 b'passed over a stream\\n'"
        ],
        "{text}"
    );
    relay.wait_stderr(": closed, 3 bytes up, 4 down");
    let (up, down) = follow(&pcap);
    assert_eq!(
        (up.as_slice(), down.as_slice()),
        (&b"xxx"[..], &b"done"[..])
    );
    assert!(!relay.stderr().contains("warning"), "{}", relay.stderr());
    drop(relay);

    // listen --take-fds --pcap: the descriptor logged, the bytes captured.
    let sock = dir.path().join("l.sock");
    let pcap = dir.path().join("listen.pcapng");
    let mut l = udskit();
    l.args(["listen", "-k", "--take-fds", "--count", "1", "--pcap"])
        .arg(&pcap)
        .arg(&sock)
        .stdout(std::process::Stdio::null());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    wait_for_socket(&sock);
    let mut c = udskit();
    c.arg("connect").arg("--send-file").arg(&file).arg(&sock);
    let out = run_with_input(c, b"hi there\n", Duration::from_secs(20));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(server.wait_exit(Duration::from_secs(20)).success());
    assert!(
        server.stderr().contains("client #1: fd: ") && server.stderr().contains("f.txt"),
        "{}",
        server.stderr()
    );
    let (up, _) = follow(&pcap);
    assert_eq!(up, b"hi there\n");

    // recvfrom --pcap: the descriptor named in the packet's comment.
    let sock = dir.path().join("d.sock");
    let pcap = dir.path().join("dgram.pcapng");
    let mut r = udskit();
    r.args(["recvfrom", "--count", "1", "--pcap"])
        .arg(&pcap)
        .arg(&sock)
        .stdout(std::process::Stdio::null());
    let mut rx = Bg::spawn(r, dir.path(), "recvfrom");
    rx.wait_stderr("receiving on");
    let mut c = udskit();
    c.arg("sendto")
        .arg("--send-file")
        .arg(&file)
        .args(["--pcap"])
        .arg(dir.path().join("sent.pcapng"))
        .arg(&sock)
        .arg("with a file");
    let out = run_with_input(c, b"", Duration::from_secs(20));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(rx.wait_exit(Duration::from_secs(20)).success());
    let comment = tshark_fields(&pcap, &[], &["frame.comment"]);
    assert!(
        comment.contains("; passed fd: ") && comment.contains("regular file"),
        "{comment}"
    );
    let sent = tshark_fields(&dir.path().join("sent.pcapng"), &[], &["frame.comment"]);
    assert!(sent.contains("; 1 descriptor passed with it"), "{sent}");
}

#[test]
fn a_datagram_relay_refuses_pcap() {
    let dir = tempdir();
    let out = udskit()
        .args(["relay", "--dgram", "--pcap"])
        .arg(dir.path().join("c.pcapng"))
        .arg(dir.path().join("a.sock"))
        .arg(dir.path().join("b.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("--pcap"), "{}", stderr_of(&out));
}

/// A tls: side is captured as its plaintext: `relay tls:... --self-signed --pcap` in
/// front of an echo server, `connect tls:... --insecure --pcap` through it; both captures
/// reassemble to the bytes sent, byte-exact, each direction ended by a FIN.
#[test]
fn a_tls_side_is_captured_as_plaintext() {
    if !tshark() {
        return;
    }
    let dir = tempdir();
    let target = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &target);
    let (relay_cap, connect_cap) = (dir.path().join("r.pcapng"), dir.path().join("c.pcapng"));
    let mut c = udskit();
    c.args(["relay", "tls:127.0.0.1:0", "--self-signed", "--pcap"])
        .arg(&relay_cap)
        .arg(&target);
    let mut relay = Bg::spawn(c, dir.path(), "relay");
    let err = relay.wait_stderr("listening on");
    let port = port_after(&err, "tls:127.0.0.1:").unwrap_or_else(|| panic!("no port in {err}"));
    let data = noise(23, 1 << 20);
    let mut c = udskit();
    c.args(["connect", "--insecure", "--pcap"])
        .arg(&connect_cap)
        .arg(format!("tls:127.0.0.1:{port}"));
    let out = run_with_input(c, &data, Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(sha256(&out.stdout), sha256(&data));
    relay.wait_stderr("#1 ");
    for cap in [&relay_cap, &connect_cap] {
        let (up, down) = follow(cap);
        assert_eq!(sha256(&up), sha256(&data), "sent, in {}", cap.display());
        assert_eq!(
            sha256(&down),
            sha256(&data),
            "received, in {}",
            cap.display()
        );
        let fins = tshark_fields(
            cap,
            &["-Y", "tcp.flags.fin==1 || tcp.flags.reset==1"],
            &["tcp.flags.str"],
        );
        assert_eq!(
            fins.lines().collect::<Vec<_>>(),
            ["·······A···F", "·······A···F"],
            "{fins}"
        );
    }
    // The relay's SYN names its TLS listener as such, with the port it was given.
    let comments = tshark_fields(&relay_cap, &["-Y", "frame.comment"], &["frame.comment"]);
    assert!(
        comments.contains(&format!(" on tls:127.0.0.1:{port}, target unix:")),
        "{comments}"
    );
}

/// `relay --pcap -` piped into tshark while two connections move 4 MiB each way at once:
/// tshark reads the stream as it comes (and copies it to a file), and both flows
/// reassemble byte-exact: the packets of the two never interleave inside one another.
#[test]
fn pcap_to_a_pipe_keeps_two_connections_whole() {
    if !tshark() {
        return;
    }
    let dir = tempdir();
    let target = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &target);
    let (sock, copy) = (
        dir.path().join("front.sock"),
        dir.path().join("copy.pcapng"),
    );
    let mut c = udskit();
    c.arg("relay")
        .arg(&sock)
        .arg(&target)
        .args(["--threads", "2", "--pcap", "-"])
        .stdout(std::process::Stdio::piped());
    let mut relay = Bg::spawn(c, dir.path(), "relay");
    let stdout = relay.child.stdout.take().unwrap();
    let mut t = Command::new("tshark");
    t.env("HOME", dir.path())
        .args(["-r", "-", "-w"])
        .arg(&copy)
        .stdin(stdout);
    let mut shark = Bg::spawn(t, dir.path(), "tshark");
    relay.wait_stderr("listening");
    let datas: Vec<Vec<u8>> = (0..2).map(|i| noise(40 + i, 4 << 20)).collect();
    let clients: Vec<_> = datas
        .iter()
        .cloned()
        .map(|data| {
            let mut s = UnixStream::connect(&sock).unwrap();
            std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut w = s.try_clone().unwrap();
                let writer = std::thread::spawn(move || {
                    w.write_all(&data).unwrap();
                    w.shutdown(std::net::Shutdown::Write).unwrap();
                });
                let mut back = Vec::new();
                s.read_to_end(&mut back).unwrap();
                writer.join().unwrap();
                back
            })
        })
        .collect();
    for (c, data) in clients.into_iter().zip(&datas) {
        assert!(c.join().unwrap() == *data, "echoed bytes differ");
    }
    wait_until(Duration::from_secs(20), "both connections logged", || {
        let err = relay.stderr();
        err.contains("#1 ") && err.contains("#2 ")
    });
    relay.signal(15);
    assert_eq!(relay.wait_exit(Duration::from_secs(20)).code(), Some(143));
    let st = shark.wait_exit(Duration::from_secs(60));
    assert!(st.success(), "tshark: {}", shark.stderr());
    let mut want: Vec<String> = datas.iter().map(|d| sha256(d)).collect();
    let mut got = Vec::new();
    for n in 0..2 {
        let (up, down) = follow_stream(&copy, n);
        assert_eq!(sha256(&up), sha256(&down), "stream {n}: echo differs");
        got.push(sha256(&up));
    }
    want.sort();
    got.sort();
    assert_eq!(got, want);
}
