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
pub(super) fn relay(dir: &Path, args: &[&str]) -> (Bg, u16) {
    let mut c = udskit();
    c.arg("relay").args(args);
    spawn_relay(c, dir)
}

/// [`relay`] with at most `nofile` descriptors (soft and hard limit, through prlimit).
fn relay_limited(dir: &Path, nofile: u32, args: &[&str]) -> (Bg, u16) {
    let mut c = Command::new("prlimit");
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8")
        .arg(format!("--nofile={nofile}:{nofile}"))
        .arg(env!("CARGO_BIN_EXE_udskit"))
        .args(["--color=never", "relay"])
        .args(args);
    spawn_relay(c, dir)
}

fn spawn_relay(c: Command, dir: &Path) -> (Bg, u16) {
    std::fs::create_dir_all(dir).unwrap();
    let mut bg = Bg::spawn(c, dir, "relay");
    let err = bg.wait_stderr("listening");
    let port = port_after(&err, "tcp:127.0.0.1:").unwrap_or(0);
    (bg, port)
}

/// A threaded python echo server on a unix socket (the real peer at the far end).
pub(super) fn python_echo(dir: &Path, sock: &Path) -> Bg {
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

pub(super) fn tcp(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

pub(super) fn round_trip(s: &mut (impl Read + Write), msg: &[u8]) {
    s.write_all(msg).unwrap();
    let mut back = vec![0; msg.len()];
    s.read_exact(&mut back).unwrap();
    assert_eq!(back, msg);
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
    for (name, args) in [
        ("poll", &["--busy-poll", "1s"][..]),
        ("plain", &["--busy-poll", "0"][..]),
    ] {
        let d = dir.path().join(name);
        let trace = dir.path().join(format!("{name}.trace"));
        // Only the main thread, so no other thread's calls interleave with its lines; one
        // worker (--threads 1), so that the connection is served on that thread.
        let mut c = udskit_traced(&["-e", "trace=epoll_wait,epoll_pwait,epoll_pwait2"], &trace);
        c.args(["relay", "--threads", "1"])
            .args(args)
            .args(["tcp:0", echo]);
        let (mut r, port) = spawn_relay(c, &d);
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
        if name == "plain" {
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

/// Options may stand anywhere, between LISTEN and TARGET too (`relay tcp:8080 --http
/// SOCK`), as with every other subcommand: LISTEN being optional must not change that.
#[test]
fn options_between_listen_and_target() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo_sock);
    let (mut r, port) = relay(
        dir.path(),
        &[
            "tcp:0",
            "--idle-timeout",
            "1m",
            "--threads",
            "1",
            echo_sock.to_str().unwrap(),
        ],
    );
    round_trip(&mut tcp(port), b"between");
    send_signal(r.pid(), 15);
    r.wait_exit(Duration::from_secs(20));
}

/// Without addresses relay names both; with one alone, it says it was read as TARGET.
#[test]
fn missing_addresses_are_named() {
    let none = run_with_input(ud(&["relay"]), b"", Duration::from_secs(10));
    assert_eq!(none.status.code(), Some(2), "{}", stderr_of(&none));
    assert!(
        stderr_of(&none).contains("relay takes LISTEN TARGET; neither was given"),
        "{}",
        stderr_of(&none)
    );
    let one = run_with_input(
        ud(&["relay", "/nowhere.sock"]),
        b"",
        Duration::from_secs(10),
    );
    assert_eq!(one.status.code(), Some(2), "{}", stderr_of(&one));
    assert!(
        stderr_of(&one).contains("only one address was given (unix:/nowhere.sock, read as TARGET)"),
        "{}",
        stderr_of(&one)
    );
}

/// A direction's small chunks go by recv/send through the thread's buffer, with no pipe
/// and no splice; one that reads 16 KiB at once turns to splice, and the unix socket it
/// goes into gets a larger send buffer (SO_SNDBUF; the TCP one back keeps autotuning).
/// Both byte-exact, both seen in strace's log of the relay.
#[test]
fn small_chunks_by_recv_and_send_bulk_by_splice() {
    if !have("python3") || !have("strace") {
        return;
    }
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo_sock);
    let echo = echo_sock.to_str().unwrap();
    let count = |trace: &Path, call: &str| {
        std::fs::read_to_string(trace)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with(&format!("{call}(")))
            .count()
    };
    for bulk in [false, true] {
        let d = dir.path().join(if bulk { "bulk" } else { "small" });
        let trace = d.join("relay.trace");
        std::fs::create_dir_all(&d).unwrap();
        let mut c = udskit_traced(
            &["-e", "trace=splice,recvfrom,sendto,pipe2,setsockopt"],
            &trace,
        );
        c
            // One worker: strace without -f follows the thread the connection is on.
            .args(["relay", "--threads", "1", "tcp:0", echo]);
        let (mut r, port) = spawn_relay(c, &d);
        let mut s = tcp(port);
        for i in 0..200 {
            round_trip(&mut s, &noise(i + 1, 1 + i as usize * 37 % 4000));
        }
        if bulk {
            // 2 MiB, in pieces that the buffers on the way hold while the client writes.
            for i in 0..32 {
                round_trip(&mut s, &noise(1000 + i, 64 << 10));
            }
        }
        drop(s);
        let children = format!("/proc/{0}/task/{0}/children", r.pid());
        let relay_pid: i32 = std::fs::read_to_string(children)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        send_signal(relay_pid, 15);
        r.wait_exit(Duration::from_secs(20));
        let (recvs, sends) = (count(&trace, "recvfrom"), count(&trace, "sendto"));
        let (splices, pipes) = (count(&trace, "splice"), count(&trace, "pipe2"));
        let sndbufs = std::fs::read_to_string(&trace)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("setsockopt(") && l.contains("SO_SNDBUF"))
            .count();
        assert!(recvs >= 400 && sends >= 400, "{recvs} recv, {sends} send");
        if bulk {
            assert!(splices > 0 && pipes > 0, "2 MiB each way never spliced");
            assert_eq!(
                sndbufs, 1,
                "the unix socket's send buffer, once, the TCP one's never"
            );
        } else {
            assert_eq!((splices, pipes), (0, 0), "small chunks went by splice");
            assert_eq!(sndbufs, 0, "a send buffer grown for small chunks");
        }
    }
}

/// Each socket of a relayed connection is registered with epoll once and removed once: a
/// client accepted bare and a unix target connected bare, never put on the reactor by
/// tokio first (which took 8 epoll_ctl calls a connection, now 4). strace counts them over
/// 40 connections, from a TCP and from a unix LISTEN, each byte-exact.
#[test]
fn each_socket_registered_with_epoll_once() {
    if !have("python3") || !have("strace") {
        return;
    }
    const CONNECTIONS: usize = 40;
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo_sock);
    for listen_tcp in [true, false] {
        let (calls, _) = traced_relay_calls(
            dir.path(),
            "epoll_ctl",
            listen_tcp,
            &echo_sock,
            |port, listen| {
                for i in 0..CONNECTIONS {
                    let msg = noise(i as u64 + 1, 1 + i * 331 % 3000);
                    if listen_tcp {
                        round_trip(&mut tcp(port), &msg);
                    } else {
                        let mut s = UnixStream::connect(listen).unwrap();
                        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                        round_trip(&mut s, &msg);
                    }
                }
            },
        );
        // 4 a connection, and a few for the relay itself (listener, signals, timers).
        assert!(
            (4 * CONNECTIONS..=4 * CONNECTIONS + 16).contains(&calls),
            "{calls} epoll_ctl for {CONNECTIONS} connections (listening on {})",
            if listen_tcp { "TCP" } else { "a unix socket" }
        );
    }
}

/// A one-worker relay to `target` under strace, tracing `call`, in a directory of its own
/// under `dir`, listening on TCP (port 0) or on a unix socket; `clients` makes the
/// connections (given the port, or the socket), then the relay is stopped (SIGTERM waits
/// for open connections, so every call they make is in) and the calls counted. Returns
/// the count and the trace.
fn traced_relay_calls(
    dir: &Path,
    call: &str,
    listen_tcp: bool,
    target: &Path,
    clients: impl FnOnce(u16, &Path),
) -> (usize, String) {
    let d = dir.join(if listen_tcp { "tcp" } else { "unix" });
    std::fs::create_dir_all(&d).unwrap();
    let trace = d.join("relay.trace");
    let listen = d.join("relay.sock");
    let mut c = udskit_traced(&["-e", &format!("trace={call}")], &trace);
    c
        // One worker: strace without -f follows the thread the connections are on.
        .args(["relay", "--threads", "1"])
        .arg(if listen_tcp {
            "tcp:0".into()
        } else {
            listen.clone()
        })
        .arg(target);
    let (r, port) = spawn_relay(c, &d);
    clients(port, &listen);
    stop_traced(r);
    let trace = std::fs::read_to_string(&trace).unwrap();
    let calls = trace
        .lines()
        .filter(|l| l.starts_with(&format!("{call}(")))
        .count();
    (calls, trace)
}

/// A clean close costs one shutdown(2) a connection: the first end is passed on by one,
/// the second by the close that follows it. Over 20 connections from a TCP and from a
/// unix LISTEN, each client half-closes and still reads its bytes back, then the EOF
/// (the echo server's, passed on by the close); strace counts the shutdowns (2 a
/// connection before).
#[test]
fn the_second_end_is_passed_on_by_the_close() {
    if !have("python3") || !have("strace") {
        return;
    }
    const CONNECTIONS: usize = 20;
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo_sock);
    for listen_tcp in [true, false] {
        let (calls, trace) = traced_relay_calls(
            dir.path(),
            "shutdown",
            listen_tcp,
            &echo_sock,
            |port, listen| {
                for i in 0..CONNECTIONS {
                    let msg = noise(i as u64 + 3, 1 + i * 211 % 3000);
                    let mut back = Vec::new();
                    if listen_tcp {
                        let mut s = tcp(port);
                        s.write_all(&msg).unwrap();
                        s.shutdown(std::net::Shutdown::Write).unwrap();
                        s.read_to_end(&mut back).unwrap();
                    } else {
                        let mut s = UnixStream::connect(listen).unwrap();
                        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                        s.write_all(&msg).unwrap();
                        s.shutdown(std::net::Shutdown::Write).unwrap();
                        s.read_to_end(&mut back).unwrap();
                    }
                    assert!(back == msg, "connection {i}: {} bytes back", back.len());
                }
            },
        );
        assert_eq!(
            calls, CONNECTIONS,
            "for {CONNECTIONS} connections:\n{trace}"
        );
    }
}

/// A unix client is named (its command read from /proc/PID/comm) once, at accept, when the
/// log shows its connection, and not at all under `-q`, which shows none: strace counts the
/// reads over 20 connections each way, and the close lines name the client's command.
#[test]
fn a_unix_client_is_named_once_and_only_when_shown() {
    if !have("python3") || !have("strace") {
        return;
    }
    const CONNECTIONS: usize = 20;
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo_sock);
    let me = std::fs::read_to_string("/proc/self/comm").unwrap();
    let me = me.trim_end();
    for quiet in [true, false] {
        let d = dir.path().join(if quiet { "quiet" } else { "shown" });
        std::fs::create_dir_all(&d).unwrap();
        let trace = d.join("relay.trace");
        let listen = d.join("relay.sock");
        let mut c = udskit_traced(&["-f", "-e", "trace=openat"], &trace);
        c.args(if quiet { &["-q"][..] } else { &[] })
            .arg("relay")
            .arg(&listen)
            .arg(&echo_sock);
        let r = Bg::spawn(c, &d, "relay");
        wait_until(Duration::from_secs(20), "the relay", || {
            UnixStream::connect(&listen).is_ok()
        });
        for i in 0..CONNECTIONS {
            let msg = noise(i as u64 + 7, 1 + i * 97 % 2000);
            let mut s = UnixStream::connect(&listen).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            round_trip(&mut s, &msg);
        }
        // The probe's connection and the 20: every close line is written before the relay
        // exits (SIGTERM waits for open connections).
        stop_traced(r);
        let trace = std::fs::read_to_string(&trace).unwrap();
        let reads = trace.lines().filter(|l| l.contains("/comm\"")).count();
        let log = std::fs::read_to_string(d.join("relay.stderr")).unwrap();
        if quiet {
            assert_eq!(reads, 0, "-q read client commands:\n{trace}");
        } else {
            assert_eq!(reads, CONNECTIONS + 1, "one read a connection:\n{trace}");
            let named = log
                .lines()
                .filter(|l| l.contains(&format!("({me}) uid")) && l.contains(": closed"))
                .count();
            assert!(named >= CONNECTIONS, "close lines naming {me}:\n{log}");
        }
    }
}

/// Far from its descriptor limit the relay sets no descriptor aside for a connection (2
/// fcntl, a dup3 and 2 close a connection before; about a fifth of a short connection's
/// system calls), and a unix side's write registration is duplicated only once a send
/// finds its buffer full. strace counts the duplicates over 40 short connections, each
/// byte-exact.
#[test]
fn far_from_the_limit_no_descriptor_is_set_aside() {
    if !have("python3") || !have("strace") {
        return;
    }
    const CONNECTIONS: usize = 40;
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo_sock);
    let trace = dir.path().join("relay.trace");
    let mut c = udskit_traced(&["-f", "-e", "trace=fcntl,dup,dup2,dup3"], &trace);
    c.args(["relay", "tcp:0"]).arg(&echo_sock);
    let (mut r, port) = spawn_relay(c, dir.path());
    for i in 0..CONNECTIONS {
        round_trip(&mut tcp(port), &noise(i as u64 + 1, 1 + i * 331 % 3000));
    }
    let children = format!("/proc/{0}/task/{0}/children", r.pid());
    let relay_pid: i32 = std::fs::read_to_string(children)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    send_signal(relay_pid, 15);
    r.wait_exit(Duration::from_secs(20));
    let text = std::fs::read_to_string(&trace).unwrap();
    let dups: Vec<_> = text
        .lines()
        .filter(|l| l.contains("F_DUPFD") || l.contains(" dup"))
        .collect();
    // The runtime and the standard library may make a few of their own at the start.
    assert!(
        dups.len() < CONNECTIONS / 4,
        "{} duplicates for {CONNECTIONS} connections:\n{}",
        dups.len(),
        dups.join("\n")
    );
}

/// A counter of the relay process from /proc/PID/FILE: the number after `key`.
fn proc_count(pid: i32, file: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {key} in /proc/{pid}/{file}"))
}

/// CPU time the process has used, in clock ticks (utime + stime of /proc/PID/stat).
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    // Fields 14 and 15 of stat(5), counted from the state (field 3).
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// The adaptive busy poll, on by default: a connection that ping-pongs arms it (the relay
/// then asks /proc/loadavg whether a CPU is free, a read(2)-family call that
/// /proc/PID/io's syscr counts; the relay makes no other), a bulk transfer one way never
/// does, and a relay holding an idle connection afterwards sleeps: its CPU time and its
/// voluntary context switches barely grow over a second (a poll that spun would use the
/// whole second of CPU). Every byte comes back.
#[test]
fn adaptive_poll_only_for_ping_pong_and_asleep_when_idle() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo_sock);
    let (r, port) = relay(
        &dir.path().join("r"),
        &["tcp:0", echo_sock.to_str().unwrap()],
    );
    let pid = r.pid();
    let reads = || proc_count(pid, "io", "syscr:");
    let mut s = tcp(port);
    round_trip(&mut s, b"warm up");
    let before = reads();
    for i in 0..2000 {
        round_trip(&mut s, &noise(i + 1, 1 + i as usize % 100));
    }
    let armed = reads() - before;
    assert!(armed > 0, "2000 round trips never armed the busy poll");

    // Idle: the connection stays open, nothing moves.
    std::thread::sleep(Duration::from_millis(200));
    let (cpu, sleeps, idle_reads) = (
        cpu_ticks(pid),
        proc_count(pid, "status", "voluntary_ctxt_switches:"),
        reads(),
    );
    std::thread::sleep(Duration::from_secs(1));
    let cpu = cpu_ticks(pid) - cpu;
    let sleeps = proc_count(pid, "status", "voluntary_ctxt_switches:") - sleeps;
    let idle_reads = reads() - idle_reads;
    assert!(
        cpu <= 10,
        "{cpu} ticks of CPU in a second with an idle connection"
    );
    assert!(
        sleeps <= 10,
        "{sleeps} wakeups in a second with an idle connection"
    );
    assert_eq!(idle_reads, 0, "the busy poll was armed with nothing moving");
    round_trip(&mut s, b"still there");
    drop(s);

    // Bulk one way: 32 MiB up to a sink that answers nothing until the end.
    let sink_sock = dir.path().join("sink.sock");
    let mut c = python(&format!(
        "import socket\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen()\n\
         while True:\n  c,_=s.accept()\n  n=0\n  while True:\n\
         \x20   b=c.recv(1<<20)\n    if not b: break\n    n+=len(b)\n\
         \x20 c.sendall(str(n).encode())\n  c.close()",
        sink_sock.to_str().unwrap()
    ));
    c.stdout(std::process::Stdio::null());
    let _sink = Bg::spawn(c, dir.path(), "sink");
    wait_for_socket(&sink_sock);
    let (bulk, bulk_port) = relay(
        &dir.path().join("bulk"),
        &["tcp:0", sink_sock.to_str().unwrap()],
    );
    let bulk_pid = bulk.pid();
    let before = proc_count(bulk_pid, "io", "syscr:");
    let mut s = tcp(bulk_port);
    let block = noise(7, 1 << 20);
    for _ in 0..32 {
        s.write_all(&block).unwrap();
    }
    s.shutdown(Shutdown::Write).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, (32u64 << 20).to_string());
    let bulk_reads = proc_count(bulk_pid, "io", "syscr:") - before;
    // One exchange at its end (the count after the bytes) may arm it once.
    assert!(
        bulk_reads <= 1,
        "a bulk upload armed the busy poll {bulk_reads} times"
    );
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
    // Long enough that a reader descheduled on a loaded machine is not taken for idle.
    let (mut r, port) = relay(
        dir.path(),
        &["--idle-timeout", "3s", "tcp:0", sock.to_str().unwrap()],
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
    many_through_relay(relay(dir, &args), conns);
}

/// `conns` clients at once, each sending its own megabyte and more through the relay to an
/// echo peer and checking every byte that comes back; then SIGTERM and the summary.
fn many_through_relay((mut r, port): (Bg, u16), conns: u64) {
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
    // Nothing there yet: the client is reset at once (its bytes went nowhere), the
    // reason names TARGET.
    let mut s = tcp(port);
    let mut buf = Vec::new();
    let started = Instant::now();
    let e = s.read_to_end(&mut buf).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
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
    // The hint of the failure is told once, after the first line it explains.
    let mut s = tcp(port);
    let _ = s.read_to_end(&mut buf);
    let log = r.wait_stderr("#2 ");
    let hint = "\nhint: is the server running? `udskit ls` lists the sockets that are listening\n";
    assert_eq!(log.matches(hint).count(), 1, "{log}");
    assert!(log.contains(&format!("no such file{hint}")), "{log}");
    // TARGET comes up: the same relay now gets new clients through.
    let _echo = python_echo(dir.path(), &sock);
    let mut s = tcp(port);
    round_trip(&mut s, b"back again");
    drop(s);
    let log = r.wait_stderr("#3 ");
    assert!(log.contains("upstream unreachable"), "{log}");
    assert_eq!(log.matches(hint).count(), 1, "{log}");
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

/// `--idle-timeout 0` is no limit (it closed every connection at once), and a 0 where it
/// would make no sense is refused before anything starts.
#[test]
fn a_zero_idle_timeout_is_none_and_a_zero_connect_timeout_is_refused() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &sock);
    let (_r, port) = relay(
        dir.path(),
        &["--idle-timeout", "0", "tcp:0", sock.to_str().unwrap()],
    );
    let mut s = tcp(port);
    round_trip(&mut s, b"ping");
    std::thread::sleep(Duration::from_millis(200));
    round_trip(&mut s, b"pong");
    for (args, option) in [
        (
            &["relay", "--connect-timeout", "0", "tcp:0", "x.sock"][..],
            "--connect-timeout",
        ),
        (
            &[
                "relay",
                "--reply-timeout",
                "0s",
                "udp:0",
                "unix-dgram:x.sock",
            ],
            "--reply-timeout",
        ),
        (
            &["sendto", "--reply", "--timeout", "0ms", "x.sock", "hi"],
            "--timeout",
        ),
    ] {
        let out = ud(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).contains(&format!("'{option} <DURATION>': must be longer than 0")),
            "{args:?}: {}",
            stderr_of(&out)
        );
    }
}

/// A dump file that cannot be written (a full disk: /dev/full) is given up with one
/// warning, and the traffic goes on.
#[test]
fn a_dump_file_that_fills_up_is_dropped_with_a_warning() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &sock);
    let args = ["--dump", "text", "--dump-file", "/dev/full", "tcp:0"];
    let (mut r, port) = relay(dir.path(), &[&args[..], &[sock.to_str().unwrap()]].concat());
    for _ in 0..2 {
        let mut s = tcp(port);
        round_trip(&mut s, b"hello\n");
        round_trip(&mut s, b"again\n");
    }
    let warning = "udskit: warning: writing the dump to /dev/full: No space left on device \
         (os error 28); dump stopped (the traffic goes on)";
    let err = r.wait_stderr(warning);
    assert_eq!(err.matches("dump stopped").count(), 1, "{err}");
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
            && log.contains("relay done: 1 connection, 0 with errors, 29 bytes up, 29 down"),
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
    // One listening socket per worker (--threads, SO_REUSEPORT), each on loopback only.
    assert!(!listening.is_empty(), "{table}");
    for l in &listening {
        assert!(l.contains(&want), "{l}");
    }
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
    // The client is told by a reset that its bytes went nowhere, never by a clean close.
    let e = s.read_to_end(&mut buf).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}");
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

/// Both peers of a connection through the relay, in one python process so that they can
/// wait for each other: `upstream-resets` (the server sends BODY, then aborts) and
/// `client-resets` (the client sends `hello`, then aborts). A TCP peer aborts with
/// SO_LINGER 0 once the relay has taken what it sent; a unix peer by closing with bytes
/// it has not read, the way AF_UNIX tells a peer ECONNRESET. `flood` keeps the client
/// sending until the relay stops reading it. Prints what the peer at the far end saw:
/// `bytes=N intact=B end=eof|reset|...`.
const RESET_PEERS: &str = r#"
import socket, sys, threading, struct, fcntl, termios, time, select
scenario, up_fam, cl_fam, flood, up_path = sys.argv[1:6]
BODY = bytes(range(256)) * 400
def q(s, op): return struct.unpack('i', fcntl.ioctl(s, op, b'\0\0\0\0'))[0]
def until(what, check):
    deadline = time.monotonic() + 20
    while not check():
        if time.monotonic() > deadline: sys.exit('timed out waiting for ' + what)
        time.sleep(0.002)
if up_fam == 'tcp':
    srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen()
    print('tcp:%d' % srv.getsockname()[1], flush=True)
else:
    srv = socket.socket(socket.AF_UNIX); srv.bind(up_path); srv.listen()
    print(up_path, flush=True)
at = sys.stdin.readline().strip()
def dial():
    if cl_fam == 'tcp':
        c = socket.create_connection(('127.0.0.1', int(at.split(':')[1])))
    else:
        c = socket.socket(socket.AF_UNIX); c.connect(at)
    c.settimeout(20)
    return c
def abort(s, fam):
    if fam == 'tcp':
        until('our bytes to be taken', lambda: q(s, termios.TIOCOUTQ) == 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
    s.close()
def read_to_end(s):
    got = bytearray()
    try:
        while True:
            b = s.recv(1 << 20)
            if not b: return got, 'eof'
            got += b
    except ConnectionResetError: return got, 'reset'
    except OSError as e: return got, type(e).__name__
def pour(s, byte, full):
    # Until the path through the relay is full: our send buffer full, and no room for a
    # second (a relay still moving bytes makes room at once; one that is stuck, waiting on
    # a peer that does not read, makes none). Then stop: a send after the abort would take
    # the error that our reader is to see.
    w = s.dup(); w.settimeout(0)
    try:
        while True:
            try: w.send(byte * 65536)
            except BlockingIOError:
                if not select.select([], [w], [], 1)[1]: break
    except OSError: pass
    full.set()
def exactly(s, n):
    got = b''
    while len(got) < n: got += s.recv(n - len(got))
    return got
ready = threading.Event()
seen = {}
if scenario == 'upstream-resets':
    def upstream():
        c, _ = srv.accept(); c.settimeout(20)
        exactly(c, 4)
        c.recv(1, socket.MSG_PEEK)
        c.sendall(BODY)
        ready.wait(20)
        abort(c, up_fam)
    threading.Thread(target=upstream).start()
    c = dial()
    c.sendall(b'GET\nx')
    if flood == '1':
        full = threading.Event()
        threading.Thread(target=pour, args=(c, b'y', full), daemon=True).start()
        full.wait(20)
    ready.set()
    got, end = read_to_end(c)
    print('bytes=%d intact=%s end=%s' % (len(got), bytes(got) == BODY[:len(got)], end), flush=True)
else:
    def upstream():
        c, _ = srv.accept(); c.settimeout(20)
        hello = exactly(c, 5)
        threading.Thread(target=pour, args=(c, b'z', full), daemon=True).start()
        got, end = read_to_end(c)
        seen['up'] = (hello + got, end)
    full = threading.Event()
    t = threading.Thread(target=upstream); t.start()
    c = dial()
    c.sendall(b'hello')
    full.wait(20)
    until('the upstream bytes', lambda: q(c, termios.FIONREAD) > 0)
    abort(c, cl_fam)
    t.join(30)
    got, end = seen['up']
    print('bytes=%d intact=%s end=%s' % (len(got), got == b'hello', end), flush=True)
"#;

/// Runs RESET_PEERS with the relay between its two peers; returns what it printed and the
/// relay's log.
fn reset_case(dir: &Path, scenario: &str, up: &str, client: &str, flood: bool) -> (String, String) {
    use std::io::BufRead;
    std::fs::create_dir_all(dir).unwrap();
    let up_path = dir.join("up.sock");
    let mut c = python(RESET_PEERS);
    c.args([scenario, up, client, if flood { "1" } else { "0" }])
        .arg(&up_path);
    let mut peers = Bg::spawn_piped(c, dir, "peers");
    let mut out = std::io::BufReader::new(peers.child.stdout.take().unwrap());
    let mut target = String::new();
    out.read_line(&mut target).unwrap();
    let front = dir.join("front.sock");
    let listen = match client {
        "tcp" => "tcp:0".to_string(),
        _ => front.to_str().unwrap().to_string(),
    };
    let (mut r, port) = relay(&dir.join("relay"), &[&listen, target.trim()]);
    let at = match client {
        "tcp" => format!("tcp:{port}"),
        _ => listen.clone(),
    };
    writeln!(peers.child.stdin.as_mut().unwrap(), "{at}").unwrap();
    let mut result = String::new();
    out.read_line(&mut result).unwrap();
    assert!(
        !result.is_empty(),
        "{scenario} {up} {client}: the peers printed nothing; their stderr:\n{}",
        peers.stderr()
    );
    let log = r.wait_stderr("#1 ");
    (result.trim().to_string(), log)
}

/// An upstream that sends its answer and then aborts: a TCP client sees every byte and
/// then ECONNRESET, never a clean end; a unix client sees ECONNRESET when it had sent
/// bytes the relay had not read yet, and the end of the stream otherwise (what AF_UNIX can
/// carry; README, relay). Against TCP and unix upstreams.
#[test]
fn upstream_reset_reaches_the_client_as_a_reset() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let body = 256 * 400;
    for up in ["tcp", "unix"] {
        for (client, flood, end) in [
            ("tcp", false, "reset"),
            ("tcp", true, "reset"),
            ("unix", true, "reset"),
            ("unix", false, "eof"),
        ] {
            let case = dir.path().join(format!("{up}-{client}-{flood}"));
            let (seen, log) = reset_case(&case, "upstream-resets", up, client, flood);
            assert_eq!(
                seen,
                format!("bytes={body} intact=True end={end}"),
                "upstream {up}, client {client}, flood {flood}; relay log:\n{log}"
            );
            assert!(log.contains(": error, "), "{log}");
            // The log names the peer that reset, never the kernel's bare errno.
            assert!(log.contains("the target reset the connection"), "{log}");
            assert!(!log.contains("os error"), "{log}");
        }
    }
}

/// A client that aborts: the upstream gets what it sent and then ECONNRESET, never a
/// clean end (a unix upstream too, since the relay stops reading what it sends).
#[test]
fn client_reset_reaches_the_upstream_as_a_reset() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    for up in ["tcp", "unix"] {
        for client in ["tcp", "unix"] {
            let case = dir.path().join(format!("{up}-{client}"));
            let (seen, log) = reset_case(&case, "client-resets", up, client, false);
            assert_eq!(
                seen, "bytes=5 intact=True end=reset",
                "upstream {up}, client {client}; relay log:\n{log}"
            );
            assert!(!log.contains("os error"), "{log}");
        }
    }
}

/// HTTP through the relay, the case that matters: a body cut short by the upstream's abort
/// makes curl fail (56, "Connection reset by peer"), never exit 0 with half a body.
#[test]
fn curl_sees_a_truncated_body_as_an_error() {
    if !have("python3") || !have("curl") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("http.sock");
    // Answers with a close-delimited body, then closes with the rest of the request unread:
    // an abort, which AF_UNIX reports to the relay as ECONNRESET.
    let mut c = python(&format!(
        "import socket\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen()\n\
         while True:\n  c,_=s.accept()\n  while len(c.recv(64,socket.MSG_PEEK))<20: pass\n\
         \x20 c.recv(4)\n  c.sendall(b'HTTP/1.1 200 OK\\r\\nConnection: close\\r\\n\\r\\n'+b'half'*1000)\n\
         \x20 c.close()",
        sock.to_str().unwrap()
    ));
    c.stdout(std::process::Stdio::null());
    let _server = Bg::spawn(c, dir.path(), "http");
    wait_for_socket(&sock);
    let (_r, port) = relay(dir.path(), &["tcp:0", sock.to_str().unwrap()]);
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .arg(format!("http://127.0.0.1:{port}/"))
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"half".repeat(1000));
    assert_eq!(out.status.code(), Some(56), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("reset"), "{}", stderr_of(&out));
}

/// A unix upstream whose accept queue is full for a while: the relay's connects wait for
/// room (EAGAIN is retried, as a blocking connect would wait) instead of closing the
/// clients, and --connect-timeout still bounds the wait.
#[test]
fn a_full_accept_queue_is_waited_for() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("slow.sock");
    // An echo server with a queue of one, which accepts only once told to.
    let c = python(&format!(
        "import socket,sys,threading\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen(1)\n\
         print('up',flush=True)\nsys.stdin.readline()\n\
         def echo(c):\n  while True:\n    b=c.recv(65536)\n    if not b: break\n    c.sendall(b)\n\
         while True:\n  c,_=s.accept()\n  threading.Thread(target=echo,args=(c,),daemon=True).start()",
        sock.to_str().unwrap()
    ));
    let mut server = Bg::spawn_piped(c, dir.path(), "slow");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    let (mut r, port) = relay(dir.path(), &["-v", "tcp:0", sock.to_str().unwrap()]);
    const N: u64 = 20;
    let clients: Vec<_> = (0..N)
        .map(|i| {
            let mut s = tcp(port);
            let msg = noise(i + 1, 1000);
            s.write_all(&msg).unwrap();
            (s, msg)
        })
        .collect();
    // Every client has been accepted, and its first connect to the upstream made (the
    // "connected" line comes right before it): all but two found the queue full.
    r.wait_stderr(&format!("#{N} 127.0.0.1:"));
    writeln!(server.child.stdin.as_mut().unwrap(), "go").unwrap();
    for (i, (mut s, msg)) in clients.into_iter().enumerate() {
        let mut back = vec![0; msg.len()];
        s.read_exact(&mut back)
            .unwrap_or_else(|e| panic!("client {i}: {e}; relay log:\n{}", r.stderr()));
        assert_eq!(back, msg);
    }
    assert!(!r.stderr().contains("unreachable"), "{}", r.stderr());

    // An upstream that never accepts: --connect-timeout ends the wait, and says why.
    let sock2 = dir.path().join("never.sock");
    let mut c = python(&format!(
        "import socket,time\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen(0)\n\
         time.sleep(60)",
        sock2.to_str().unwrap()
    ));
    c.stdout(std::process::Stdio::null());
    let _never = Bg::spawn(c, dir.path(), "never");
    wait_for_socket(&sock2);
    let (mut r2, port2) = relay(
        &dir.path().join("2"),
        &[
            "--connect-timeout",
            "300ms",
            "tcp:0",
            sock2.to_str().unwrap(),
        ],
    );
    let held: Vec<_> = (0..3).map(|_| tcp(port2)).collect();
    let log = r2.wait_stderr("timed out after 300ms (--connect-timeout)");
    assert!(log.contains("accept queue is full"), "{log}");
    drop(held);
}

/// Under a descriptor limit too small for every client held open: the relay says so once,
/// naming its limit and how to raise it, serves what fits, lets the others wait in the
/// accept queue, and serves them as descriptors come free. No client is told "upstream
/// unreachable" for the relay's own shortage.
#[test]
fn out_of_descriptors_is_told_once_and_clients_wait() {
    if !have("python3") || !have("prlimit") {
        return;
    }
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo_sock);
    let (mut r, port) = relay_limited(dir.path(), 48, &["tcp:0", echo_sock.to_str().unwrap()]);
    const N: u64 = 60;
    let mut clients: Vec<_> = (0..N)
        .map(|i| {
            let mut s = tcp(port);
            let msg = noise(i + 1, 100);
            s.write_all(&msg).unwrap();
            (s, msg, false)
        })
        .collect();
    r.wait_stderr("out of file descriptors");
    // The clients that fit were served while the others wait; close the served ones, and
    // the waiting ones get their turn.
    wait_until(
        Duration::from_secs(30),
        "every waiting client served",
        || {
            for (s, msg, done) in clients.iter_mut().filter(|c| !c.2) {
                s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
                let mut back = vec![0; msg.len()];
                match s.peek(&mut back) {
                    Ok(n) if n == msg.len() => {
                        s.read_exact(&mut back).unwrap();
                        assert_eq!(&back, msg);
                        s.shutdown(Shutdown::Both).unwrap();
                        *done = true;
                    }
                    Ok(0) => panic!("a client was closed unserved; relay log:\n{}", r.stderr()),
                    _ => {}
                }
            }
            clients.iter().all(|c| c.2)
        },
    );
    let log = r.wait_stderr(&format!("#{N} "));
    assert_eq!(log.matches("out of file descriptors").count(), 1, "{log}");
    assert!(
        log.contains("ulimit -n") && log.contains("--max-connections") && log.contains("48"),
        "{log}"
    );
    assert!(!log.contains("unreachable"), "{log}");
    assert!(!log.contains("accepting a client"), "{log}");
}

/// Short of descriptors while bytes flow: every connection accepted is carried through
/// (a direction that cannot have a pipe copies through a buffer), every byte checked.
#[test]
fn short_of_descriptors_every_byte_still_arrives() {
    if !have("python3") || !have("prlimit") {
        return;
    }
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo_sock);
    many_through_relay(
        relay_limited(
            &dir.path().join("r"),
            64,
            &["tcp:0", echo_sock.to_str().unwrap()],
        ),
        20,
    );
}

/// A connection accepted far from the limit (nothing set aside), then the limit lowered
/// below every descriptor the relay has open: its direction into the unix target, which fills
/// that socket while the target does not read, has no pipe and no descriptor for a write
/// registration, so it copies through a buffer and waits for room by polling; every byte
/// arrives once the target reads.
#[test]
fn a_limit_reached_mid_connection_still_carries_every_byte() {
    if !have("python3") || !have("prlimit") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("sink.sock");
    // Reads nothing until told to, then everything, and answers its length and sha256.
    let c = python(&format!(
        "import socket,sys,hashlib\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen(1)\n\
         print('up',flush=True)\nc,_=s.accept()\nprint('accepted',flush=True)\n\
         sys.stdin.readline()\nh=hashlib.sha256()\nn=0\n\
         while True:\n  b=c.recv(65536)\n  if not b: break\n  h.update(b)\n  n+=len(b)\n\
         c.sendall(('%d %s' % (n,h.hexdigest())).encode())\nc.close()",
        sock.to_str().unwrap()
    ));
    let mut sink = Bg::spawn_piped(c, dir.path(), "sink");
    let mut lines = std::io::BufReader::new(sink.child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut lines, &mut line).unwrap();
    let (r, port) = relay_limited(
        &dir.path().join("r"),
        1024,
        &["--threads", "1", "tcp:0", sock.to_str().unwrap()],
    );
    let mut client = tcp(port);
    client.write_all(b"x").unwrap();
    line.clear();
    std::io::BufRead::read_line(&mut lines, &mut line).unwrap();
    assert_eq!(line.trim(), "accepted");
    // prlimit's child: the relay itself.
    let relay_pid: i32 = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", r.pid()))
        .map(|s| s.trim().parse().unwrap_or(r.pid()))
        .unwrap_or(r.pid());
    // No new descriptor at all: every one below 3 is open (stdin, stdout, stderr).
    let st = Command::new("prlimit")
        .arg(format!("--pid={relay_pid}"))
        .arg("--nofile=3:3")
        .status()
        .unwrap();
    assert!(st.success());
    let msg = noise(7, 8 << 20);
    let mut all = b"x".to_vec();
    all.extend_from_slice(&msg);
    let want = format!("{} {}", all.len(), sha256(&all));
    let mut w = client.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        w.write_all(&msg).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    // Let the relay fill the target's socket before it is read (no harm if it has not).
    std::thread::sleep(Duration::from_millis(300));
    writeln!(sink.child.stdin.as_mut().unwrap(), "go").unwrap();
    writer.join().unwrap();
    let mut back = String::new();
    client.read_to_string(&mut back).unwrap();
    assert_eq!(back, want, "relay log:\n{}", r.stderr());
}

/// stderr a pipe that nobody reads: neither the log nor --dump stops the relay. Lines that
/// do not fit are dropped and counted; SIGTERM still ends it cleanly.
#[test]
fn a_stalled_stderr_never_stops_the_relay() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let echo_sock = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo_sock);
    let front = dir.path().join("front.sock");
    let mut c = udskit();
    c.args(["-v", "relay", "--dump", "hex"])
        .arg(&front)
        .arg(&echo_sock)
        .stderr(std::process::Stdio::piped());
    let mut r = Bg::adopt(c.spawn().unwrap());
    wait_for_socket(&front);
    // About 10 KB of dump and log per connection: a few fill the 64 KiB pipe, and then
    // whatever the relay queues for it.
    const N: usize = 300;
    for i in 0..N {
        let mut s = UnixStream::connect(&front).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        round_trip(&mut s, &noise(i as u64 + 1, 1000));
    }
    let mut err = r.child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    r.signal(15);
    assert_eq!(r.wait_exit(Duration::from_secs(10)).code(), Some(143));
    let log = reader.join().unwrap();
    assert!(log.contains("lines dropped"), "{log}");
    assert!(
        log.contains(&format!("relay done: {N} connections, 0 with errors")),
        "{log}"
    );
}

/// `relay X X` would connect to itself until descriptors run out: a usage error, under
/// any spelling of the same address.
#[test]
fn relay_to_itself_is_a_usage_error() {
    let dir = tempdir();
    // A port nobody else takes while the test runs: a relay that did not see the loop
    // would fail to bind it (exit 1), not refuse the arguments (exit 2).
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = held.local_addr().unwrap().port();
    let abs = dir.path().join("x.sock");
    let a = abs.to_str().unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("link")).unwrap();
    let name = format!("udskit-loop-{}", std::process::id());
    let cases = [
        (format!("tcp:{p}"), format!("tcp:127.0.0.1:{p}")),
        (format!("tcp:127.0.0.1:{p}"), format!("tcp:localhost:{p}")),
        // localhost is ::1 too, whatever /etc/hosts says (a connect tries both).
        (format!("tcp:[::1]:{p}"), format!("tcp:localhost:{p}")),
        (format!("tcp:0.0.0.0:{p}"), format!("tcp:{p}")),
        ("x.sock".into(), format!("unix:{a}")),
        (a.into(), "./x.sock".into()),
        (a.into(), format!("unix://{a}")),
        ("link/x.sock".into(), "x.sock".into()),
        (format!("@{name}"), format!("abstract:{name}")),
        (format!("unix:@{name}"), format!("@{name}")),
    ];
    for (listen, target) in cases {
        let mut c = ud(&["relay", &listen, &target]);
        c.current_dir(dir.path());
        let out = run_with_input(c, b"", Duration::from_secs(5));
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "relay {listen} {target}: {err}");
        assert!(
            err.contains("relays to itself"),
            "relay {listen} {target}: {err}"
        );
        assert!(!abs.exists(), "relay {listen} {target} left its socket");
    }
    drop(held);
}
