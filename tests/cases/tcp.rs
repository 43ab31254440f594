//! TCP addresses: `tcp:localhost:PORT` reaches a server on either loopback address, a
//! failure names every address tried, and a server's log line says who can reach it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::time::Duration;

use crate::support::*;

const T: Duration = Duration::from_secs(30);

/// An echo server on `[::1]` only, on a thread of this test (None where the host has no
/// IPv6 loopback, which binding it tells). Serves `clients` connections, then ends.
fn ipv6_only_echo(clients: usize) -> Option<(u16, std::thread::JoinHandle<()>)> {
    let Ok(l) = TcpListener::bind("[::1]:0") else {
        crate::support::peers::skipped("::1 cannot be bound here");
        return None;
    };
    let port = l.local_addr().unwrap().port();
    let serve = std::thread::spawn(move || {
        for _ in 0..clients {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).unwrap();
            s.write_all(&buf).unwrap();
        }
    });
    Some((port, serve))
}

/// A port nothing listens on, on 127.0.0.1 (just released) nor, in all likelihood, on ::1.
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn tcp_localhost_reaches_a_server_on_ipv6_loopback_only() {
    let Some((port, serve)) = ipv6_only_echo(1) else {
        return;
    };
    let out = run_with_input(
        ud(&["connect", &format!("tcp:localhost:{port}")]),
        b"over ::1",
        T,
    );
    assert_eq!(out.stdout, b"over ::1", "{}", stderr_of(&out));
    assert!(out.status.success(), "{}", stderr_of(&out));
    serve.join().unwrap();
}

#[test]
fn relay_upstream_tcp_localhost_reaches_ipv6_loopback() {
    let Some((port, serve)) = ipv6_only_echo(1) else {
        return;
    };
    let dir = tempdir();
    let front = dir.path().join("front.sock");
    let mut r = ud(&["relay"]);
    r.arg(&front)
        .arg(format!("tcp:localhost:{port}"))
        .stdout(Stdio::null());
    let mut relay = Bg::spawn(r, dir.path(), "relay");
    relay.wait_stderr("relaying to");
    let out = run_with_input(ud(&["connect", front.to_str().unwrap()]), b"relayed", T);
    assert_eq!(
        out.stdout,
        b"relayed",
        "{}\n{}",
        stderr_of(&out),
        relay.stderr()
    );
    serve.join().unwrap();
}

#[test]
fn a_failed_tcp_connect_names_every_address_tried() {
    let port = closed_port();
    let out = run_with_input(ud(&["connect", &format!("tcp:localhost:{port}")]), b"", T);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    let head = format!(
        "udskit: error: connecting to tcp:localhost:{port}: connection refused: nothing is \
         listening there (tried 127.0.0.1:{port}"
    );
    assert!(err.starts_with(&head), "{err}");
    assert!(err.contains(&format!("[::1]:{port}")), "{err}");
    // One address: no list.
    let out = run_with_input(ud(&["connect", &format!("tcp:127.0.0.1:{port}")]), b"", T);
    assert_eq!(
        stderr_of(&out),
        format!(
            "udskit: error: connecting to tcp:127.0.0.1:{port}: connection refused: nothing \
             is listening there\n"
        )
    );
    // http keeps curl's exit code 7 for it.
    let out = ud(&["http", &format!("tcp:localhost:{port}"), "/"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("(tried 127.0.0.1:"),
        "{}",
        stderr_of(&out)
    );
}

/// The port in a "listening on tcp:127.0.0.1:PORT" line.
fn port_in(log: &str) -> u16 {
    port_after(log, "listening on tcp:127.0.0.1:").unwrap_or_else(|| panic!("{log}"))
}

#[test]
fn loopback_servers_say_where_they_listen_and_that_it_is_loopback_only() {
    let dir = tempdir();
    // A name is told as the address bound.
    let mut l = ud(&["listen", "--echo", "tcp:localhost:0"]);
    l.stdout(Stdio::null());
    let mut listen = Bg::spawn(l, dir.path(), "listen");
    let log = listen.wait_stderr(" (stream");
    let port = port_in(&log);
    assert!(
        log.contains(&format!(
            "udskit: listening on tcp:127.0.0.1:{port} (stream; loopback only; \
             tcp:0.0.0.0:{port} for every interface)\n"
        )),
        "{log}"
    );
    let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    c.write_all(b"x").unwrap();
    let mut b = [0];
    c.read_exact(&mut b).unwrap();
    // A relay on tcp:PORT.
    let mut r = ud(&["relay", "tcp:0"]);
    r.arg(dir.path().join("nowhere.sock")).stdout(Stdio::null());
    let mut relay = Bg::spawn(r, dir.path(), "relay");
    let log = relay.wait_stderr("relaying to");
    let port = port_in(&log);
    assert!(
        log.contains(&format!(
            "udskit: listening on tcp:127.0.0.1:{port} (loopback only; tcp:0.0.0.0:{port} for \
             every interface), relaying to unix:{}/nowhere.sock\n",
            dir.path().display()
        )),
        "{log}"
    );
    // Every interface is said as such; a unix socket gets no such words.
    let mut r = ud(&["relay", "tcp:0.0.0.0:0"]);
    r.arg(dir.path().join("nowhere.sock")).stdout(Stdio::null());
    let mut all = Bg::spawn(r, dir.path(), "all");
    let log = all.wait_stderr("relaying to");
    assert!(log.contains(" (every interface), relaying to"), "{log}");
    let mut u = ud(&["listen", "--echo"]);
    u.arg(dir.path().join("u.sock")).stdout(Stdio::null());
    let mut unix = Bg::spawn(u, dir.path(), "unix");
    let log = unix.wait_stderr("listening on");
    assert!(log.ends_with("/u.sock (stream)\n"), "{log}");
}
