//! `udskit relay` for datagrams: UDP -> unix, unix -> UDP, unix -> unix, UDP -> UDP with
//! socat, Python and logger as the real peers; request/response with two senders each
//! getting its own answers; a megabyte unix datagram whole; a datagram too large for the
//! way on, counted and logged; --on-full drop counting what it drops, --on-full wait
//! losing nothing. Every test counts what was sent against what arrived.

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::peers::{have, python};
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(20);

/// Starts `udskit relay ARGS...`, waits for its "listening" line; returns it and, for a
/// udp: LISTEN, the port it bound.
fn relay(dir: &Path, args: &[&str]) -> (Bg, u16) {
    let mut c = udskit();
    c.arg("relay").args(args);
    let mut bg = Bg::spawn(c, dir, "relay");
    let err = bg.wait_stderr("listening");
    let port = port_after(&err, "listening on udp:127.0.0.1:").unwrap_or(0);
    (bg, port)
}

/// Stops the relay with SIGTERM and returns its stderr (summary included).
fn stop(mut r: Bg) -> String {
    r.signal(15);
    assert_eq!(r.wait_exit(LIMIT).code(), Some(143), "{}", r.stderr());
    r.stderr()
}

/// The number written before `words` in the summary line (`17 datagrams up`).
fn count(summary: &str, words: &str) -> u64 {
    let line = summary
        .lines()
        .find(|l| l.contains("relay done:"))
        .unwrap_or_else(|| panic!("no summary in:\n{summary}"));
    let before = line
        .split(words)
        .next()
        .filter(|b| b.len() < line.len())
        .unwrap_or_else(|| panic!("no {words:?} in {line}"));
    before
        .rsplit(|c: char| !c.is_ascii_digit())
        .find(|w| !w.is_empty())
        .unwrap()
        .parse()
        .unwrap()
}

/// Starts `c` (stdout piped) and waits for `ready` on its stderr.
fn start(mut c: Command, dir: &Path, name: &str, ready: &str) -> Bg {
    c.stdout(Stdio::piped());
    let mut bg = Bg::spawn(c, dir, name);
    bg.wait_stderr(ready);
    bg
}

/// A Python UDP receiver on 127.0.0.1:0 that prints `port N` on stderr, then the hex of
/// each of `n` datagrams, one a line (with `echo`, sends each back instead); returns it
/// and its port.
fn py_udp_receiver(dir: &Path, n: usize, echo: bool) -> (Bg, u16) {
    let handle = if echo {
        "s.sendto(d,a)"
    } else {
        "print(d.hex(),flush=True)"
    };
    let c = python(&format!(
        "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
         s.bind(('127.0.0.1',0))\nprint('port',s.getsockname()[1],file=sys.stderr,flush=True)\n\
         for _ in range({n}):\n  d,a=s.recvfrom(1<<17)\n  {handle}"
    ));
    let bg = start(c, dir, "udp-peer", "port ");
    let port = bg
        .stderr()
        .split("port ")
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (bg, port)
}

/// A Python unix datagram receiver at `path` printing the hex of each of `n` datagrams.
fn py_unix_receiver(dir: &Path, path: &Path, n: usize) -> Bg {
    let c = python(&format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind({:?})\n\
         print('ready',file=sys.stderr,flush=True)\n\
         for _ in range({n}):\n  print(s.recv(1<<23).hex(),flush=True)",
        path.to_str().unwrap()
    ));
    start(c, dir, "unix-peer", "ready")
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
fn udp_to_unix_request_response_two_senders_each_get_their_own_answers() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let app = dir.path().join("app.sock");
    // A request/response server that answers each sender at its address.
    let c = python(&format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind({:?})\n\
         print('ready',file=sys.stderr,flush=True)\n\
         while True:\n  d,a=s.recvfrom(1<<16)\n  s.sendto(b're:'+d,a)",
        s(&app)
    ));
    let _app = start(c, dir.path(), "app", "ready");
    let (r, port) = relay(dir.path(), &["udp:0", s(&app)]);
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    for x in [&a, &b] {
        x.set_read_timeout(Some(LIMIT)).unwrap();
        x.connect(("127.0.0.1", port)).unwrap();
    }
    let n = 50;
    for i in 0..n {
        a.send(format!("A-{i}").as_bytes()).unwrap();
        b.send(format!("B-{i}").as_bytes()).unwrap();
    }
    for (sock, tag) in [(&a, "A"), (&b, "B")] {
        let mut got = BTreeSet::new();
        let mut buf = [0u8; 100];
        for _ in 0..n {
            let k = sock.recv(&mut buf).unwrap();
            got.insert(String::from_utf8_lossy(&buf[..k]).into_owned());
        }
        let want: BTreeSet<String> = (0..n).map(|i| format!("re:{tag}-{i}")).collect();
        assert_eq!(got, want, "sender {tag}");
    }
    let err = stop(r);
    assert_eq!(count(&err, "senders"), 2, "{err}");
    assert_eq!(count(&err, "datagrams up"), 2 * n, "{err}");
    assert_eq!(count(&err, "down"), 2 * n, "{err}");
    assert_eq!(count(&err, "errors"), 0, "{err}");
}

#[test]
fn socat_udp_sendto_through_the_relay_to_socat_unix_recv() {
    if !have("socat") {
        return;
    }
    let dir = tempdir();
    let out = dir.path().join("out.sock");
    let got = dir.path().join("got");
    let mut recv = Command::new("socat");
    recv.args([
        "-u",
        &format!("UNIX-RECV:{}", s(&out)),
        &format!("CREATE:{}", s(&got)),
    ]);
    let _recv = Bg::spawn(recv, dir.path(), "socat-recv");
    wait_for_socket(&out);
    let (r, port) = relay(dir.path(), &["udp:0", s(&out)]);
    let mut want = String::new();
    for i in 0..20 {
        let line = format!("datagram {i}\n");
        let mut c = Command::new("socat");
        c.args(["-u", "-", &format!("UDP-SENDTO:127.0.0.1:{port}")]);
        let o = run_with_input(c, line.as_bytes(), LIMIT);
        assert!(o.status.success(), "{}", stderr_of(&o));
        want.push_str(&line);
        // Sent one after another, they arrive in order.
        wait_until(LIMIT, "the datagram at socat", || {
            std::fs::read_to_string(&got).unwrap_or_default() == want
        });
    }
    let err = stop(r);
    assert_eq!(count(&err, "datagrams up"), 20, "{err}");
    assert_eq!(count(&err, "too large"), 0, "{err}");
}

#[test]
fn unix_to_udp_socat_unix_sendto_and_the_largest_udp_datagram_arrive_whole() {
    if !have("socat") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let (peer, port) = py_udp_receiver(dir.path(), 11, false);
    let front = dir.path().join("in.sock");
    let (r, _) = relay(
        dir.path(),
        &["--dgram", s(&front), &format!("udp:127.0.0.1:{port}")],
    );
    let mut sent = Vec::new();
    for i in 0..10u64 {
        let data = noise(i, 1000 + i as usize);
        let mut c = Command::new("socat");
        c.args(["-u", "-", &format!("UNIX-SENDTO:{}", s(&front))]);
        let o = run_with_input(c, &data, LIMIT);
        assert!(o.status.success(), "{}", stderr_of(&o));
        sent.push(data);
    }
    // The most an IPv4 UDP datagram carries: 65,535 less 28 bytes of headers.
    let big = noise(99, 65507);
    UnixDatagram::unbound()
        .unwrap()
        .send_to(&big, &front)
        .unwrap();
    sent.push(big);
    let (_, out) = peer.finish(LIMIT);
    assert_eq!(hex_lines(&out), sent);
    let err = stop(r);
    assert_eq!(count(&err, "datagrams up"), 11, "{err}");
    assert_eq!(count(&err, "too large"), 0, "{err}");
    assert!(
        !front.exists(),
        "the relay's socket file is removed on exit"
    );
}

#[test]
fn logger_through_a_unix_to_unix_tap() {
    if !have("logger") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let back = dir.path().join("log.sock");
    let front = dir.path().join("dev-log");
    let n = 10;
    let peer = py_unix_receiver(dir.path(), &back, n);
    let (r, _) = relay(dir.path(), &["--dgram", s(&front), s(&back)]);
    for i in 0..n {
        let o = Command::new("logger")
            .args([
                "--socket-errors=on",
                "-u",
                s(&front),
                &format!("tap message {i}"),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr_of(&o));
    }
    let (_, out) = peer.finish(LIMIT);
    let got = hex_lines(&out);
    assert_eq!(got.len(), n);
    for (i, d) in got.iter().enumerate() {
        let text = String::from_utf8_lossy(d);
        assert!(text.ends_with(&format!("tap message {i}")), "{text}");
    }
    let err = stop(r);
    assert_eq!(count(&err, "datagrams up"), n as u64, "{err}");
    // logger sends from an unbound socket: one way, and no answer is attempted.
    assert_eq!(count(&err, "down"), 0, "{err}");
    assert_eq!(count(&err, "errors"), 0, "{err}");
}

#[test]
fn unix_to_unix_a_bound_python_sender_gets_its_answers() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let app = dir.path().join("app.sock");
    let front = dir.path().join("front.sock");
    let c = python(&format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind({:?})\n\
         print('ready',file=sys.stderr,flush=True)\n\
         while True:\n  d,a=s.recvfrom(1<<16)\n  s.sendto(d[::-1],a)",
        s(&app)
    ));
    let _app = start(c, dir.path(), "app", "ready");
    let (r, _) = relay(dir.path(), &["--dgram", s(&front), s(&app)]);
    let client = python(&format!(
        "import socket\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind({:?})\n\
         s.settimeout(20)\nfor i in range(30):\n  s.sendto(b'ping-%d' % i,{:?})\n  \
         print(s.recv(100).decode(),flush=True)",
        s(&dir.path().join("client.sock")),
        s(&front)
    ));
    let o = run_with_input(client, b"", LIMIT);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let want: String = (0..30)
        .map(|i| {
            format!(
                "{}\n",
                format!("ping-{i}").chars().rev().collect::<String>()
            )
        })
        .collect();
    assert_eq!(String::from_utf8_lossy(&o.stdout), want);
    let err = stop(r);
    // One sender is told in the singular.
    assert!(err.contains("relay done: 1 sender, "), "{err}");
    assert_eq!(count(&err, "sender,"), 1, "{err}");
    assert_eq!(count(&err, "datagrams up"), 30, "{err}");
    assert_eq!(count(&err, "down"), 30, "{err}");
}

#[test]
fn udp_to_udp_python_echo() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let n = 100;
    let (_peer, port) = py_udp_receiver(dir.path(), n, true);
    let (r, front) = relay(dir.path(), &["udp:0", &format!("udp:127.0.0.1:{port}")]);
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c.connect(("127.0.0.1", front)).unwrap();
    let mut got = BTreeSet::new();
    let mut buf = vec![0u8; 2048];
    for i in 0..n {
        let data = noise(i as u64, 1 + i * 10);
        c.send(&data).unwrap();
        let k = c.recv(&mut buf).unwrap();
        assert_eq!(&buf[..k], &data[..], "datagram {i}");
        got.insert(i);
    }
    assert_eq!(got.len(), n);
    let err = stop(r);
    assert_eq!(count(&err, "datagrams up"), n as u64, "{err}");
    assert_eq!(count(&err, "down"), n as u64, "{err}");
}

#[test]
fn a_datagram_too_large_for_udp_is_logged_counted_and_never_cut() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (peer, port) = py_udp_receiver(dir.path(), 1, false);
    let front = dir.path().join("in.sock");
    let (r, _) = relay(
        dir.path(),
        &["--dgram", s(&front), &format!("udp:127.0.0.1:{port}")],
    );
    let c = UnixDatagram::unbound().unwrap();
    c.send_to(&noise(1, 100_000), &front).unwrap();
    c.send_to(b"small", &front).unwrap();
    // Only the small one arrives, whole: the big one was not cut down to fit.
    let (_, out) = peer.finish(LIMIT);
    assert_eq!(hex_lines(&out), vec![b"small".to_vec()]);
    let err = stop(r);
    assert!(
        err.contains("a datagram of 100000 bytes is too large for udp:127.0.0.1:"),
        "{err}"
    );
    assert!(err.contains("dropped, never split"), "{err}");
    assert_eq!(count(&err, "too large"), 1, "{err}");
    assert_eq!(count(&err, "datagrams up"), 1, "{err}");
}

/// A Python receiver at `path` that reads nothing until the file `go` appears, then
/// up to `total` datagrams (giving up after 2 s without one), and prints
/// how many it got.
fn py_late_receiver(dir: &Path, path: &Path, go: &Path, total: usize) -> Bg {
    let c = python(&format!(
        "import socket,sys,os,time\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n\
         s.bind({:?})\nprint('ready',file=sys.stderr,flush=True)\n\
         while not os.path.exists({:?}): time.sleep(0.01)\n\
         n=0\ns.settimeout(2)\n\
         while n<{total}:\n  try: s.recv(1<<16)\n  except OSError: break\n  n+=1\nprint(n,flush=True)",
        s(path),
        s(go)
    ));
    start(c, dir, "late", "ready")
}

/// The Recv-Q that ss shows for the unix socket bound at `path` (0: nothing queued).
fn queued(path: &Path) -> Option<u64> {
    let o = Command::new("ss").args(["-xna"]).output().ok()?;
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    text.lines()
        .find(|l| l.split_whitespace().any(|w| w == s(path)))
        .and_then(|l| l.split_whitespace().nth(2)?.parse().ok())
}

#[test]
fn on_full_drop_counts_every_datagram_it_drops() {
    if !have("python3") || !have("ss") {
        return;
    }
    let dir = tempdir();
    let back = dir.path().join("slow.sock");
    let go = dir.path().join("go");
    let front = dir.path().join("in.sock");
    let total = 300;
    let peer = py_late_receiver(dir.path(), &back, &go, total);
    let (r, _) = relay(
        dir.path(),
        &["--dgram", "--on-full", "drop", s(&front), s(&back)],
    );
    // A blocking sender: the relay's own queue makes it wait, so all reach the relay.
    let c = UnixDatagram::unbound().unwrap();
    for i in 0..total {
        c.send_to(format!("d{i}").as_bytes(), &front).unwrap();
    }
    wait_until(LIMIT, "the relay to read every datagram", || {
        queued(&front) == Some(0)
    });
    let err = stop(r);
    let (up, dropped) = (count(&err, "datagrams up"), count(&err, "dropped"));
    assert!(dropped > 0, "{err}");
    assert_eq!(up + dropped, total as u64, "{err}");
    assert!(
        err.contains("queue is full: dropping datagrams (--on-full drop)"),
        "{err}"
    );
    std::fs::write(&go, "").unwrap();
    let (_, out) = peer.finish(LIMIT);
    assert_eq!(
        String::from_utf8_lossy(&out).trim(),
        up.to_string(),
        "{err}"
    );
}

#[test]
fn on_full_wait_loses_nothing() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let back = dir.path().join("slow.sock");
    let go = dir.path().join("go");
    let front = dir.path().join("in.sock");
    let total = 300;
    let peer = py_late_receiver(dir.path(), &back, &go, total);
    let (r, _) = relay(dir.path(), &["--dgram", s(&front), s(&back)]);
    let sender = {
        let front = front.clone();
        std::thread::spawn(move || {
            let c = UnixDatagram::unbound().unwrap();
            for i in 0..total {
                c.send_to(format!("d{i}").as_bytes(), &front).unwrap();
            }
        })
    };
    std::fs::write(&go, "").unwrap();
    let (_, out) = peer.finish(LIMIT);
    sender.join().unwrap();
    assert_eq!(String::from_utf8_lossy(&out).trim(), total.to_string());
    let err = stop(r);
    assert_eq!(count(&err, "datagrams up"), total as u64, "{err}");
    assert_eq!(count(&err, "dropped"), 0, "{err}");
}

#[test]
fn datagram_flags_and_addresses_are_checked() {
    let dir = tempdir();
    for (args, want) in [
        (
            vec!["udp:0", "tcp:1"],
            "a datagram relay takes udp:HOST:PORT or a unix datagram socket",
        ),
        (
            vec!["tcp:0", "/nonexistent/x", "--reply-timeout", "5s"],
            "--reply-timeout is for datagram relays",
        ),
        (
            vec!["udp:0", "/x.sock", "--http"],
            "--http is for stream relays",
        ),
    ] {
        let o = udskit()
            .arg("relay")
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr_of(&o));
        assert!(stderr_of(&o).contains(want), "{args:?}: {}", stderr_of(&o));
    }
    let o = udskit().args(["connect", "udp:9"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains("carries datagrams, not a stream"));
}

#[test]
fn a_sender_socket_expires_after_the_reply_timeout_and_a_new_one_serves_it() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_peer, port) = py_udp_receiver(dir.path(), 2, true);
    let (r, front) = relay(
        dir.path(),
        &[
            "-v",
            "--reply-timeout",
            "200ms",
            "udp:0",
            &format!("udp:127.0.0.1:{port}"),
        ],
    );
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(LIMIT)).unwrap();
    c.connect(("127.0.0.1", front)).unwrap();
    let mut buf = [0u8; 16];
    c.send(b"one").unwrap();
    let k = c.recv(&mut buf).unwrap();
    assert_eq!(&buf[..k], b"one");
    wait_until(LIMIT, "the sender's socket to expire", || {
        r.stderr()
            .contains("no datagram for 200ms, 1 datagrams up (3 bytes), 1 down")
    });
    // The same sender again: a new socket toward TARGET, and its answer still comes back.
    c.send(b"two").unwrap();
    let k = c.recv(&mut buf).unwrap();
    assert_eq!(&buf[..k], b"two");
    let err = stop(r);
    assert_eq!(err.matches("new sender").count(), 2, "{err}");
    assert_eq!(count(&err, "senders"), 2, "{err}");
    assert_eq!(count(&err, "down"), 2, "{err}");
}

#[test]
fn a_relay_waiting_for_a_full_receiver_still_stops_on_sigterm() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let back = dir.path().join("never.sock");
    let front = dir.path().join("in.sock");
    // A receiver that never reads: its queue fills and the relay waits (--on-full wait).
    let _peer = py_late_receiver(dir.path(), &back, &dir.path().join("never"), 1);
    let (r, _) = relay(dir.path(), &["--dgram", s(&front), s(&back)]);
    let c = UnixDatagram::unbound().unwrap();
    c.set_nonblocking(true).unwrap();
    let mut sent = 0u64;
    wait_until(
        LIMIT,
        "the relay's own queue to fill behind the full receiver",
        || match c.send_to(b"x", &front) {
            Ok(_) => {
                sent += 1;
                false
            }
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
        },
    );
    let err = stop(r);
    let (up, dropped) = (count(&err, "datagrams up"), count(&err, "dropped"));
    assert_eq!(dropped, 0, "{err}");
    assert!(up > 0 && up < sent, "{up} of {sent}: {err}");
    assert!(!front.exists());
}

#[test]
fn unix_to_unix_a_megabyte_datagram_arrives_whole() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let back = dir.path().join("back.sock");
    let front = dir.path().join("front.sock");
    let peer = py_unix_receiver(dir.path(), &back, 1);
    let (r, _) = relay(dir.path(), &["--dgram", s(&front), s(&back)]);
    let data = noise(7, 1_000_000);
    // A datagram must fit in its sender's buffer: raise ours as a big sender would.
    let sender = python(&format!(
        "import socket,sys\nc=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n\
         c.setsockopt(socket.SOL_SOCKET,socket.SO_SNDBUF,1<<21)\n\
         c.sendto(sys.stdin.buffer.read(),{:?})",
        s(&front)
    ));
    let o = run_with_input(sender, &data, LIMIT);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let (_, out) = peer.finish(LIMIT);
    let got = hex_lines(&out);
    assert_eq!(got.len(), 1);
    assert_eq!(sha256(&got[0]), sha256(&data));
    let err = stop(r);
    assert_eq!(count(&err, "datagrams up"), 1, "{err}");
    assert!(err.contains("(1000000 bytes)"), "{err}");
}

#[test]
fn unix_to_udp_answers_from_a_socat_udp_recvfrom_echo_come_back() {
    if !have("socat") || !have("python3") || !have("ss") {
        return;
    }
    let dir = tempdir();
    // socat takes a port number: one the kernel just gave out, free again.
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut echo = Command::new("socat");
    echo.args([&format!("UDP-RECVFROM:{port},bind=127.0.0.1,fork"), "PIPE"]);
    let _echo = Bg::spawn(echo, dir.path(), "socat-echo");
    wait_until(LIMIT, "socat to bind its port", || {
        Command::new("ss")
            .args(["-ulnH"])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(":{port} ")))
    });
    let front = dir.path().join("front.sock");
    let (r, _) = relay(
        dir.path(),
        &["--dgram", s(&front), &format!("udp:127.0.0.1:{port}")],
    );
    let client = python(&format!(
        "import socket\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind({:?})\n\
         s.settimeout(20)\nfor i in range(20):\n  s.sendto(b'q-%d' % i,{:?})\n  \
         print(s.recv(100).decode(),flush=True)",
        s(&dir.path().join("client.sock")),
        s(&front)
    ));
    let o = run_with_input(client, b"", LIMIT);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let want: String = (0..20).map(|i| format!("q-{i}\n")).collect();
    assert_eq!(String::from_utf8_lossy(&o.stdout), want);
    let err = stop(r);
    assert_eq!(count(&err, "datagrams up"), 20, "{err}");
    assert_eq!(count(&err, "down"), 20, "{err}");
}

/// A sender costs a socket toward TARGET, and a new source port costs a sender nothing:
/// out of descriptors, the sender quiet the longest gives its socket up for the new one,
/// so that a flood never locks new senders out (every one of 100 gets its answer under a
/// limit of 64 descriptors that the relay cannot raise).
#[test]
fn out_of_descriptors_the_quietest_sender_makes_room_for_a_new_one() {
    if !have("python3") || !have("prlimit") {
        return;
    }
    let dir = tempdir();
    let app = dir.path().join("app.sock");
    let c = python(&format!(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind({:?})\n\
         print('ready',file=sys.stderr,flush=True)\n\
         while True:\n  d,a=s.recvfrom(1<<16)\n  s.sendto(b're:'+d,a)",
        s(&app)
    ));
    let _app = start(c, dir.path(), "app", "ready");
    let mut c = Command::new("prlimit");
    c.args([
        "--nofile=64:64",
        env!("CARGO_BIN_EXE_udskit"),
        "relay",
        "udp:0",
        s(&app),
    ]);
    let mut r = Bg::spawn(c, dir.path(), "relay");
    let err = r.wait_stderr("listening");
    let port = port_after(&err, "listening on udp:127.0.0.1:").unwrap();
    let mut senders = Vec::new();
    for i in 0..100 {
        let x = UdpSocket::bind("127.0.0.1:0").unwrap();
        x.set_read_timeout(Some(LIMIT)).unwrap();
        x.connect(("127.0.0.1", port)).unwrap();
        x.send(format!("{i}").as_bytes()).unwrap();
        let mut buf = [0u8; 100];
        let k = x
            .recv(&mut buf)
            .unwrap_or_else(|e| panic!("sender {i}: {e}"));
        assert_eq!(&buf[..k], format!("re:{i}").as_bytes());
        senders.push(x);
    }
    let err = stop(r);
    assert_eq!(count(&err, "senders"), 100, "{err}");
    assert_eq!(count(&err, "errors"), 0, "{err}");
    assert!(count(&err, "senders' sockets given up") > 0, "{err}");
    assert!(
        err.contains("given up for a new sender (out of descriptors)"),
        "{err}"
    );
}
