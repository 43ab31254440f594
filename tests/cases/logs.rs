//! Outside strings in log lines: a peer's command name, which any process sets for itself
//! with prctl(PR_SET_NAME), reaches the stderr logs of `listen`, `relay` and `recvfrom -v`
//! escaped, so that a newline in it cannot forge a line of its own.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::support::peers::{have, python};
use crate::support::*;

const T: Duration = Duration::from_secs(30);

/// The command name the hostile peers give themselves: 15 bytes, all that comm holds.
const FORGED: &str = "\nudskit: forged";

/// A Python peer that renames itself to argv[2], then connects a stream socket to argv[1]
/// (or sends one datagram there with argv[3] == "dgram"), says so on stdout, and stays alive
/// (so that its name can be read) until its stdin closes.
const PY_FORGER: &str = r#"
import ctypes, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(15, sys.argv[2].encode(), 0, 0, 0) != 0:
    sys.exit("prctl: errno %d" % ctypes.get_errno())
if sys.argv[3] == "dgram":
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(b"hi", sys.argv[1])
else:
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(b"hi")
print("sent", flush=True)
sys.stdin.read()
"#;

fn forger(target: &Path, dgram: bool, dir: &Path) -> Bg {
    let mut c = python(PY_FORGER);
    c.arg(target)
        .arg(FORGED)
        .arg(if dgram { "dgram" } else { "stream" });
    Bg::spawn_piped(c, dir, "forger")
}

/// No line of `log` is the forged one, and the name shows escaped where it belongs.
fn assert_not_forged(log: &str) {
    assert!(
        !log.lines().any(|l| l.starts_with("udskit: forged")),
        "a forged line:\n{log}"
    );
    assert!(log.contains("(\\nudskit: forged)"), "{log}");
}

#[test]
fn listen_logs_a_forged_command_escaped() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("l.sock");
    let mut l = ud(&["listen", "-k", "--count", "1"]);
    l.arg(&sock).stdin(Stdio::null()).stdout(Stdio::null());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    server.wait_stderr("udskit: listening on");
    let mut peer = forger(&sock, false, dir.path());
    server.wait_stderr("client #1 connected");
    drop(peer.child.stdin.take());
    assert!(peer.wait_exit(T).success(), "{}", peer.stderr());
    assert_eq!(server.wait_exit(T).code(), Some(0), "{}", server.stderr());
    assert_not_forged(&server.stderr());
}

#[test]
fn recvfrom_verbose_logs_a_forged_command_escaped() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    let mut r = ud(&["-v", "recvfrom", "-n", "1"]);
    r.arg(&sock).stdout(Stdio::null());
    let mut server = Bg::spawn(r, dir.path(), "recvfrom");
    server.wait_stderr("receiving on");
    let mut peer = forger(&sock, true, dir.path());
    let st = server.wait_exit(T);
    drop(peer.child.stdin.take());
    assert!(peer.wait_exit(T).success(), "{}", peer.stderr());
    assert!(st.success(), "{}", server.stderr());
    let log = server.stderr();
    assert!(log.contains("datagram #1: 2 bytes from"), "{log}");
    assert_not_forged(&log);
}

#[test]
fn relay_logs_a_forged_command_escaped() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (front, back) = (dir.path().join("front.sock"), dir.path().join("back.sock"));
    let mut echo = ud(&["listen", "--echo"]);
    echo.arg(&back).stdout(Stdio::null());
    let mut echo = Bg::spawn(echo, dir.path(), "echo");
    echo.wait_stderr("udskit: listening on");
    let mut r = ud(&["-v", "relay"]);
    r.arg(&front).arg(&back).stdout(Stdio::null());
    let mut relay = Bg::spawn(r, dir.path(), "relay");
    relay.wait_stderr("relaying to");
    let mut peer = forger(&front, false, dir.path());
    relay.wait_stderr(": connected");
    drop(peer.child.stdin.take());
    assert!(peer.wait_exit(T).success(), "{}", peer.stderr());
    relay.wait_stderr("bytes up");
    relay.signal(15);
    relay.wait_exit(T);
    assert_not_forged(&relay.stderr());
}
