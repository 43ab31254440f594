//! `udskit listen`: the four modes, safe bind, permissions, signals.

use std::time::Duration;

use crate::support::*;

#[test]
fn echo_round_trip_with_connect() {
    let dir = tempdir();
    let sock = dir.path().join("e.sock");
    let mut l = udskit();
    l.args(["listen", "--echo"]).arg(&sock);
    let mut server = Bg::spawn(l, dir.path(), "listen");
    server.wait_stderr("listening on");
    let data = random_bytes(1 << 20);
    let out = run_with_input(
        {
            let mut c = udskit();
            c.arg("connect").arg(&sock);
            c
        },
        &data,
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(out.stdout == data, "echoed bytes differ");
    server.signal(15);
    assert_eq!(server.wait_exit(Duration::from_secs(10)).code(), Some(143));
    assert!(!sock.exists(), "socket file left behind after SIGTERM");
}
