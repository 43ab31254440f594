//! `udskit connect`: byte-exact bridging, half-close, --wait, and every error message.

use std::time::Duration;

use crate::support::peers::{have, python};
use crate::support::*;

#[test]
fn half_close_gets_the_whole_answer() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    // A server that reads until EOF, then answers with what it got, reversed.
    let mut server = python(&format!(
        "import socket\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\ns.listen()\nc,_=s.accept()\nd=b''\nwhile True:\n  b=c.recv(65536)\n  if not b: break\n  d+=b\nc.sendall(d[::-1])\nc.close()",
        sock.to_str().unwrap()
    ));
    server.stdout(std::process::Stdio::null());
    let _server = Bg::spawn(server, dir.path(), "py");
    wait_for_socket(&sock);
    let out = run_with_input(
        {
            let mut c = udskit();
            c.arg("connect").arg(&sock);
            c
        },
        b"hello world",
        Duration::from_secs(10),
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"dlrow olleh");
}

#[test]
fn missing_socket_is_named() {
    let dir = tempdir();
    let out = udskit()
        .arg("connect")
        .arg(dir.path().join("nope.sock"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("nope.sock: no such file"), "{err}");
}
