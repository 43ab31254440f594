//! Real peers the tests talk to. A peer the machine lacks is reported loudly and the test
//! returns early; with UDSKIT_REQUIRE_PEERS=1 (set by .ci/run) a missing peer fails the test.

use std::process::{Command, Stdio};

/// True if `program` can run here; otherwise prints a loud notice (or panics when peers
/// are required) and returns false so the test can return early.
pub fn have(program: &str) -> bool {
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    missing_unless(ok, program)
}

/// True if python3 can import every module named.
pub fn have_python_modules(modules: &[&str]) -> bool {
    let ok = Command::new("python3")
        .arg("-c")
        .arg(format!("import {}", modules.join(", ")))
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    missing_unless(ok, &format!("python3 modules {}", modules.join(", ")))
}

fn missing_unless(ok: bool, what: &str) -> bool {
    if !ok {
        if std::env::var_os("UDSKIT_REQUIRE_PEERS").is_some_and(|v| v == "1") {
            panic!("peer {what} is missing and UDSKIT_REQUIRE_PEERS=1");
        }
        eprintln!(
            "\n!!! PEER MISSING: {what} — this test did NOT run. Install it (see .ci/run) !!!\n"
        );
    }
    ok
}

/// A python3 command running `code` (the simplest honest socket peer).
pub fn python(code: &str) -> Command {
    let mut c = Command::new("python3");
    c.arg("-c").arg(code);
    c
}

/// A TCP listener on 127.0.0.1 whose accept queue is full (listen(0), filled, never
/// accepted): the kernel drops further SYNs, so a connect to it hangs, as one to a host that
/// drops packets does (unix connects never hang). Returns it (stopped by pid on drop) and
/// its port.
pub fn unaccepting_tcp_listener(dir: &std::path::Path) -> (super::Bg, u16) {
    let mut c = python(
        "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen(0)\ncs=[]\nfor i in range(3):\n  c=socket.socket()\n  c.settimeout(0.3)\n  try: c.connect(s.getsockname())\n  except OSError: pass\n  cs.append(c)\nprint('port', s.getsockname()[1], file=sys.stderr, flush=True)\ntime.sleep(120)",
    );
    c.stdout(Stdio::null());
    let mut full = super::Bg::spawn(c, dir, "full");
    let err = full.wait_stderr("\n");
    let port = err.trim().strip_prefix("port ").unwrap().parse().unwrap();
    (full, port)
}
