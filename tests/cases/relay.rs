//! `udskit relay`: real HTTP through nginx both ways, many concurrent connections with
//! every byte checked, half-close, upstream down then up, idle timeout, --dump, --json,
//! --max-connections, SIGTERM drain with socket removal, loopback by default.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::peers::{have, python};
use crate::support::servers;
use crate::support::*;

/// Starts `udskit relay ARGS...` and waits for its "listening" line; returns the
/// relay and, for a TCP listener, its port.
fn relay(dir: &Path, args: &[&str]) -> (Bg, u16) {
    let mut c = udskit();
    c.arg("relay").args(args);
    start_relay(dir, c)
}

/// Starts `c`, a relay, and returns it with its TCP port once it logs that it listens.
fn start_relay(dir: &Path, c: Command) -> (Bg, u16) {
    std::fs::create_dir_all(dir).unwrap();
    let mut bg = Bg::spawn(c, dir, "relay");
    let err = bg.wait_stderr("listening");
    let port = err
        .split("tcp:127.0.0.1:")
        .nth(1)
        .map(|rest| {
            rest.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
                .parse()
                .unwrap()
        })
        .unwrap_or(0);
    (bg, port)
}

/// A threaded python echo server on a unix socket (the real peer at the far end).
fn python_echo(dir: &Path, sock: &Path) -> Bg {
    let mut c = python(&format!(
        "import socketserver\n\
         class H(socketserver.BaseRequestHandler):\n\
         \x20 def handle(self):\n\
         \x20   while True:\n\
         \x20     b=self.request.recv(65536)\n\
         \x20     if not b: break\n\
         \x20     self.request.sendall(b)\n\
         class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):\n\
         \x20 daemon_threads=True\n\
         \x20 request_queue_size=512\n\
         S({:?}, H).serve_forever()",
        sock.to_str().unwrap()
    ));
    c.stdout(std::process::Stdio::null());
    let bg = Bg::spawn(c, dir, "echo");
    // The file appears at bind(), a moment before listen(): wait until it accepts.
    wait_until(Duration::from_secs(10), "the echo server", || {
        UnixStream::connect(sock).is_ok()
    });
    bg
}

fn tcp(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

fn round_trip(s: &mut (impl Read + Write), msg: &[u8]) {
    s.write_all(msg).unwrap();
    let mut back = vec![0; msg.len()];
    s.read_exact(&mut back).unwrap();
    assert_eq!(back, msg);
}

/// Deterministic pseudo-random bytes (xorshift), different for every seed.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

#[test]
fn curl_to_nginx_tcp_to_uds_and_uds_to_tcp() {
    if !have("nginx") || !have("curl") {
        return;
    }
    let dir = tempdir();
    let big = random_bytes(3 << 20);
    let nginx = servers::Nginx::start(dir.path());
    std::fs::write(nginx.www.join("big.bin"), &big).unwrap();
    let ngx_sock = &nginx.sock;
    // TCP -> UDS: a TCP port in front of nginx's socket.
    let (mut front, port) = relay(dir.path(), &["tcp:0", ngx_sock.to_str().unwrap()]);
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .arg(format!("http://127.0.0.1:{port}/hello"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"Hello from nginx over a unix socket\n");
    // UDS -> TCP: a socket in front of that port, used with curl --unix-socket.
    let back_sock = dir.path().join("back.sock");
    let (_back, _) = relay(
        dir.path().join("b").as_path(),
        &[back_sock.to_str().unwrap(), &format!("tcp:{port}")],
    );
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--unix-socket"])
        .arg(&back_sock)
        .arg("http://localhost/big.bin")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(sha256(&out.stdout), sha256(&big));
    let log = front.wait_stderr("#2 ");
    assert!(
        log.contains("#1 127.0.0.1:") && log.contains(": closed, "),
        "{log}"
    );
    let line = log.lines().find(|l| l.contains("#2 ")).unwrap();
    let down: usize = line
        .split(", ")
        .find_map(|f| f.strip_suffix(" down"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(down > big.len(), "{line}");
}

#[test]
fn hundred_concurrent_connections_every_byte_checked() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo_sock);
    // The default (splice both ways), then the buffer that --dump reads through.
    many_through(dir.path(), &echo_sock, &[], 128);
    many_through(
        &dir.path().join("b"),
        &echo_sock,
        &["--copier", "buffer"],
        32,
    );
}

/// Small messages one at a time, in both families' hands: after a short read the relay
/// waits for the next readiness edge instead of reading again until EAGAIN, so a missed
/// edge would stall a round trip here (sizes cross the 256 bytes below which a splice
/// counts as short).
#[test]
fn small_messages_back_and_forth_never_stall() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo_sock);
    // A TCP port in front of the echo socket, and a socket in front of that port.
    let (_front, port) = relay(
        &dir.path().join("a"),
        &["tcp:0", echo_sock.to_str().unwrap()],
    );
    let back = dir.path().join("back.sock");
    let (_back, _) = relay(
        &dir.path().join("b"),
        &[back.to_str().unwrap(), &format!("tcp:{port}")],
    );
    let mut s = UnixStream::connect(&back).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    for i in 0..2000 {
        round_trip(&mut s, &noise(i + 1, 1 + i as usize % 700));
    }
}

/// How many times the relay's runtime thread has gone to sleep (its voluntary context
/// switches).
/// The waits for events the relay's thread made that could put it to sleep: epoll calls
/// with a timeout other than 0, from strace's log of the main thread (the runtime's).
/// Counting calls, not sleeps, keeps the verdict independent of the machine's load: a
/// busy machine may hand the relay an event before it would have slept.
fn blocking_waits(trace: &Path) -> usize {
    let log = std::fs::read_to_string(trace).unwrap();
    log.lines()
        .filter(|l| l.starts_with("epoll_wait(") || l.starts_with("epoll_pwait"))
        .filter(|&l| {
            // `epoll_wait(EPFD, EVENTS, MAX, TIMEOUT)   = N`, padded before `=` when nothing
            // was ready; the pwait forms add a sigmask after TIMEOUT.
            let args = l.rfind(") ").map_or(l, |end| &l[..end]);
            let timeout = args
                .rsplit(", ")
                .nth(usize::from(l.starts_with("epoll_pwait")));
            timeout.is_some_and(|t| t.trim() != "0" && !t.starts_with("{tv_sec=0, tv_nsec=0}"))
        })
        .count()
}

/// With --busy-poll, the next message of a conversation finds the relay polling (epoll
/// with timeout 0) instead of waiting in epoll to be woken, where without it the relay
/// waits at least once per round trip (here for the client's next message). Every byte
/// still comes back.
#[test]
fn busy_poll_answers_without_sleeping() {
    if !have("python3") || !have("strace") {
        return;
    }
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo_sock);
    let echo = echo_sock.to_str().unwrap();
    for (name, args) in [("poll", &["--busy-poll", "1s"][..]), ("plain", &[][..])] {
        let d = dir.path().join(name);
        let trace = dir.path().join(format!("{name}.trace"));
        // Only the main thread, so no other thread's calls interleave with its lines.
        let u = udskit();
        let mut c = Command::new("strace");
        c.env_clear()
            .envs(u.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .args([
                "-qq",
                "-e",
                "trace=epoll_wait,epoll_pwait,epoll_pwait2",
                "-o",
            ])
            .arg(&trace)
            .arg(u.get_program())
            .args(u.get_args())
            .arg("relay")
            .args(args)
            .args(["tcp:0", echo]);
        let (mut r, port) = start_relay(&d, c);
        let mut s = tcp(port);
        round_trip(&mut s, b"warm up");
        for i in 0..500 {
            round_trip(&mut s, &noise(i + 1, 1 + i as usize % 100));
        }
        drop(s);
        // strace passes no signal on: stop the relay itself, strace's one child, and strace
        // ends with it, its log written out.
        let children = format!("/proc/{0}/task/{0}/children", r.pid());
        let relay_pid: i32 = std::fs::read_to_string(children)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        send_signal(relay_pid, 15);
        r.wait_exit(Duration::from_secs(20));
        let waits = blocking_waits(&trace);
        if args.is_empty() {
            assert!(
                waits >= 500,
                "only {waits} blocking waits in 500 round trips"
            );
        } else {
            assert!(
                waits < 50,
                "{waits} blocking waits in 500 round trips with --busy-poll"
            );
        }
    }
}

/// 64 MiB from a unix socket arrive byte-exact on TCP; a client that stops reading stalls
/// its connection until the idle timeout ends it.
#[test]
fn bulk_direction_byte_exact_then_ended_by_the_idle_timeout() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("src.sock");
    // Each client gets 64 MiB of the bytes 0..=255 over and over.
    let mut c = python(&format!(
        "import socket\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen()\n\
         block=bytes(range(256))*4096\nwhile True:\n  c,_=s.accept()\n  try:\n\
         \x20   for _ in range(64): c.sendall(block)\n  except OSError: pass\n  c.close()",
        sock.to_str().unwrap()
    ));
    c.stdout(std::process::Stdio::null());
    let _src = Bg::spawn(c, dir.path(), "source");
    wait_for_socket(&sock);
    let (mut r, port) = relay(
        dir.path(),
        &["--idle-timeout", "500ms", "tcp:0", sock.to_str().unwrap()],
    );
    let mut s = tcp(port);
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0usize;
    loop {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        for (i, &b) in buf[..n].iter().enumerate() {
            assert_eq!(b, ((total + i) % 256) as u8, "byte {}", total + i);
        }
        total += n;
    }
    assert_eq!(total, 64 << 20);
    // A client that stops reading: the buffers on the way fill up, nothing moves.
    let mut s = tcp(port);
    s.read_exact(&mut buf[..4096]).unwrap();
    let log = r.wait_stderr("#2 ");
    assert!(log.contains("idle timeout"), "{log}");
}

fn many_through(dir: &Path, echo_sock: &Path, extra: &[&str], conns: u64) {
    let mut args = extra.to_vec();
    args.extend(["tcp:0", echo_sock.to_str().unwrap()]);
    let (mut r, port) = relay(dir, &args);
    let n_conns = conns;
    const SIZE: usize = 1 << 20;
    let clients: Vec<_> = (0..n_conns)
        .map(|i| {
            std::thread::spawn(move || {
                let data = noise(i + 1, SIZE + i as usize * 1000);
                let mut s = tcp(port);
                let mut w = s.try_clone().unwrap();
                let sent = data.clone();
                let writer = std::thread::spawn(move || {
                    for chunk in sent.chunks(48 * 1024 + 7) {
                        w.write_all(chunk).unwrap();
                    }
                    w.shutdown(Shutdown::Write).unwrap();
                });
                let mut back = Vec::new();
                s.read_to_end(&mut back).unwrap();
                writer.join().unwrap();
                assert!(back == data, "connection {i}: echoed bytes differ");
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    r.signal(15);
    assert_eq!(r.wait_exit(Duration::from_secs(10)).code(), Some(143));
    let log = r.stderr();
    let total: u64 = (0..n_conns).map(|i| SIZE as u64 + i * 1000).sum();
    assert!(
        log.contains(&format!(
            "relay done: {n_conns} connections, 0 with errors, {total} bytes up, {total} down"
        )),
        "{log}"
    );
}

#[test]
fn half_close_passes_both_ways() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    let got = dir.path().join("got");
    // Says hello and shuts down its write side, then reads to EOF and records the count.
    let mut server = python(&format!(
        "import socket\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen()\nc,_=s.accept()\n\
         c.sendall(b'hello')\nc.shutdown(socket.SHUT_WR)\nn=0\nwhile True:\n  b=c.recv(65536)\n  if not b: break\n  n+=len(b)\n\
         open({:?}+'.tmp','w').write(str(n))\nimport os\nos.rename({:?}+'.tmp',{:?})",
        sock.to_str().unwrap(),
        got.to_str().unwrap(),
        got.to_str().unwrap(),
        got.to_str().unwrap()
    ));
    server.stdout(std::process::Stdio::null());
    let _server = Bg::spawn(server, dir.path(), "py");
    wait_for_socket(&sock);
    let (_r, port) = relay(dir.path(), &["tcp:0", sock.to_str().unwrap()]);
    let mut s = tcp(port);
    // The server's EOF arrives while our direction is still open...
    let mut hello = Vec::new();
    s.read_to_end(&mut hello).unwrap();
    assert_eq!(hello, b"hello");
    // ...and what we send afterwards still gets through, up to our own EOF.
    s.write_all(&vec![7u8; 100_000]).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    wait_for_path(&got);
    assert_eq!(std::fs::read_to_string(&got).unwrap(), "100000");

    // And the other way round: connect's stdin EOF reaches a server that answers after it.
    let sock2 = dir.path().join("r.sock");
    let mut rev = python(&format!(
        "import socket\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen()\nc,_=s.accept()\nd=b''\n\
         while True:\n  b=c.recv(65536)\n  if not b: break\n  d+=b\nc.sendall(d[::-1])\nc.close()",
        sock2.to_str().unwrap()
    ));
    rev.stdout(std::process::Stdio::null());
    let _rev = Bg::spawn(rev, dir.path(), "rev");
    wait_for_socket(&sock2);
    let (_r2, port2) = relay(
        dir.path().join("x").as_path(),
        &["tcp:0", sock2.to_str().unwrap()],
    );
    let out = run_with_input(
        {
            let mut c = udskit();
            c.arg("connect").arg(format!("tcp:{port2}"));
            c
        },
        b"hello world",
        Duration::from_secs(10),
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"dlrow olleh");
}

#[test]
fn upstream_down_then_up() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("later.sock");
    let (mut r, port) = relay(dir.path(), &["tcp:0", sock.to_str().unwrap()]);
    // Nothing there yet: the client is closed at once, the reason names TARGET.
    let mut s = tcp(port);
    let mut buf = Vec::new();
    let started = Instant::now();
    s.read_to_end(&mut buf).unwrap();
    assert!(buf.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    let log = r.wait_stderr("upstream unreachable");
    assert!(
        log.contains(&format!(
            "connecting to unix:{}: no such file",
            sock.display()
        )),
        "{log}"
    );
    // TARGET comes up: the same relay now gets new clients through.
    let _echo = python_echo(dir.path(), &sock);
    let mut s = tcp(port);
    round_trip(&mut s, b"back again");
    drop(s);
    let log = r.wait_stderr("#2 ");
    assert!(log.contains("upstream unreachable"), "{log}");
    r.wait_stderr(": closed, 10 bytes up, 10 down");
    assert!(r.child.try_wait().unwrap().is_none(), "relay exited");
}

#[test]
fn idle_timeout_closes_quiet_connections() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &sock);
    let (mut r, port) = relay(
        dir.path(),
        &["--idle-timeout", "300ms", "tcp:0", sock.to_str().unwrap()],
    );
    let mut s = tcp(port);
    let t = Instant::now();
    round_trip(&mut s, b"ping");
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "closed after {:?}",
        t.elapsed()
    );
    let log = r.wait_stderr("idle timeout");
    assert!(
        log.contains("idle timeout, 4 bytes up, 4 down") && log.contains("no traffic for 300ms"),
        "{log}"
    );
}

#[test]
fn dump_text_to_file_and_hex_to_stderr_and_json_logs() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &sock);
    let dump = dir.path().join("dump.txt");
    let (_r, port) = relay(
        dir.path(),
        &[
            "--dump",
            "text",
            "--dump-file",
            dump.to_str().unwrap(),
            "tcp:0",
            sock.to_str().unwrap(),
        ],
    );
    let mut s = tcp(port);
    round_trip(&mut s, b"hello\r\nworld\n");
    drop(s);
    wait_until(Duration::from_secs(10), "the dump", || {
        std::fs::read_to_string(&dump).is_ok_and(|d| d.contains("#1 < world"))
    });
    let d = std::fs::read_to_string(&dump).unwrap();
    let lines: Vec<&str> = d.lines().collect();
    assert!(
        lines[0].starts_with("#1 > 20") && lines[0].ends_with("Z 13 bytes"),
        "{d}"
    );
    assert_eq!(lines[1..3], ["#1 > hello\\r\\n", "#1 > world\\n"], "{d}");
    assert!(
        lines[3].starts_with("#1 < ") && lines[3].ends_with(" 13 bytes"),
        "{d}"
    );
    assert_eq!(lines[4..6], ["#1 < hello\\r\\n", "#1 < world\\n"], "{d}");

    let dir2 = tempdir();
    let (mut r2, port2) = relay(
        dir2.path(),
        &["--dump", "hex", "--json", "tcp:0", sock.to_str().unwrap()],
    );
    let mut s = tcp(port2);
    round_trip(&mut s, b"\x00\x01binary\xff");
    drop(s);
    let err = r2.wait_stderr("\"event\":\"close\"");
    assert!(
        err.contains(
            "#1 > 00000000  00 01 62 69 6e 61 72 79  ff                       |..binary.|"
        ),
        "{err}"
    );
    assert!(err.contains("#1 < 00000000  00 01 62"), "{err}");
    let close = err
        .lines()
        .find(|l| l.contains("\"event\":\"close\""))
        .unwrap();
    assert!(
        close.starts_with("{\"time\":\"20") && close.ends_with('}'),
        "{close}"
    );
    assert!(
        close.contains("\"id\":1,\"peer\":\"127.0.0.1:")
            && close.contains("\"bytes_up\":9,\"bytes_down\":9,")
            && close.contains("\"end\":\"closed\",\"reason\":null"),
        "{close}"
    );
}

#[test]
fn max_connections_queues_instead_of_resetting() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &sock);
    let (mut r, port) = relay(
        dir.path(),
        &["--max-connections", "1", "tcp:0", sock.to_str().unwrap()],
    );
    let mut first = tcp(port);
    round_trip(&mut first, b"one");
    // The second client's connect succeeds (it waits in the backlog), but nothing is
    // relayed while the first holds the only slot.
    let mut second = tcp(port);
    second.write_all(b"two").unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 3];
    let e = loop {
        match second.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => break r,
        }
    };
    assert!(
        e.as_ref().is_err_and(|e| matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        )),
        "the second client was served while the first held the only slot: {e:?}; relay log:\n{}",
        r.stderr()
    );
    drop(first);
    second
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    second.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"two");
    drop(second);
    let log = r.wait_stderr("#2 ");
    assert!(!log.contains("error"), "{log}");
}

#[test]
fn sigterm_drains_then_removes_the_socket() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo_sock);
    let front = dir.path().join("front.sock");
    let (mut r, _) = relay(
        dir.path(),
        &[
            "--grace",
            "20s",
            front.to_str().unwrap(),
            echo_sock.to_str().unwrap(),
        ],
    );
    let mut c = UnixStream::connect(&front).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    round_trip(&mut c, b"before");
    r.signal(15);
    // Stops accepting at once (the file goes), but the open connection keeps working.
    wait_until(Duration::from_secs(10), "socket removal", || {
        !front.exists()
    });
    round_trip(&mut c, b"during the grace period");
    assert!(
        r.child.try_wait().unwrap().is_none(),
        "exited while a client was open"
    );
    drop(c);
    assert_eq!(r.wait_exit(Duration::from_secs(10)).code(), Some(143));
    let log = r.stderr();
    // A unix peer is named by its credentials.
    let me = std::process::id();
    assert!(log.contains(&format!("#1 pid {me} (")), "{log}");
    assert!(
        log.contains(": closed, 29 bytes up, 29 down")
            && log.contains("relay done: 1 connections, 0 with errors, 29 bytes up, 29 down"),
        "{log}"
    );

    // A client that stays open is closed when the grace period ends.
    let front2 = dir.path().join("front2.sock");
    let (mut r2, _) = relay(
        dir.path().join("2").as_path(),
        &[
            "--grace",
            "200ms",
            front2.to_str().unwrap(),
            echo_sock.to_str().unwrap(),
        ],
    );
    let mut c = UnixStream::connect(&front2).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    round_trip(&mut c, b"x");
    r2.signal(2);
    assert_eq!(r2.wait_exit(Duration::from_secs(10)).code(), Some(130));
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert!(!front2.exists());
    assert!(
        r2.stderr()
            .contains("closed at the end of the grace period"),
        "{}",
        r2.stderr()
    );
}

#[test]
fn default_bind_is_loopback() {
    let dir = tempdir();
    let (_r, port) = relay(dir.path(), &["tcp:0", "/nonexistent.sock"]);
    assert!(port > 0);
    // /proc/net/tcp lists the listening socket (state 0A) bound to 127.0.0.1 only.
    let want = format!("0100007F:{port:04X}");
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let listening: Vec<&str> = table
        .lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1].ends_with(&format!(":{port:04X}")) && f[3] == "0A"
        })
        .collect();
    assert_eq!(listening.len(), 1, "{table}");
    assert!(listening[0].contains(&want), "{}", listening[0]);
    let v6 = std::fs::read_to_string("/proc/net/tcp6").unwrap_or_default();
    assert!(
        !v6.lines().any(|l| l
            .split_whitespace()
            .nth(1)
            .is_some_and(|a| a.ends_with(&format!(":{port:04X}")))),
        "also bound on IPv6: {v6}"
    );
}

#[test]
fn connect_timeout_names_the_target() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    // A TCP listener that never accepts, its queue filled: further SYNs are dropped, so a
    // connect to it hangs until our timeout.
    let mut c = python(
        "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\n\
         print(s.getsockname()[1],flush=True)\ntime.sleep(60)",
    );
    c.stdout(std::process::Stdio::piped());
    let mut server = Bg::spawn(c, dir.path(), "py");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let _fill: Vec<_> = (0..3)
        .filter_map(|_| TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok())
        .collect();
    let (mut r, rport) = relay(
        dir.path(),
        &[
            "--connect-timeout",
            "300ms",
            "tcp:0",
            &format!("tcp:{port}"),
        ],
    );
    let mut s = tcp(rport);
    let t = Instant::now();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    let log = r.wait_stderr("upstream unreachable");
    assert!(
        log.contains(&format!(
            "connecting to tcp:127.0.0.1:{port}: timed out after 300ms (--connect-timeout)"
        )),
        "{log}"
    );
}
