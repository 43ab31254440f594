//! Real peers the tests talk to. A peer the machine lacks is reported loudly (past
//! libtest's capture, at once and in a summary at the end) and the test returns early;
//! with UDSKIT_REQUIRE_PEERS=1 (set by .ci/run) a missing peer fails the test.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Mutex, Once};

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
        skipped(&format!("peer {what} is missing"));
    }
    ok
}

/// The tests that did not run (or not all of their checks), each with the reason.
static SKIPPED: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Says that the running test did not run all it checks, and why (`peer socat is
/// missing`, `not root`): at once, and again in the summary written when the test process
/// ends, after libtest's "test result" line. Both go to the process's own stderr: libtest
/// captures only what print!/eprint! write, and shows it only for a test that fails,
/// while a skipped test passes, so an eprintln! would be hidden from a plain `cargo test`.
pub fn skipped(why: &str) {
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let _ = std::io::stderr().write_all(
        format!("\n!!! {why}: {test} did NOT run all it checks (see .ci/run) !!!\n").as_bytes(),
    );
    let mut all = SKIPPED.lock().unwrap_or_else(|p| p.into_inner());
    all.push((why.to_string(), test));
    static AT_EXIT: Once = Once::new();
    AT_EXIT.call_once(|| {
        unsafe extern "C" {
            fn atexit(f: extern "C" fn()) -> std::ffi::c_int;
        }
        // SAFETY: atexit(3) takes a function of no arguments, which `summary` is; it runs
        // once, on the main thread, as the process exits.
        unsafe {
            atexit(summary);
        }
    });
}

/// The summary of [`skipped`], grouped by reason (never panics: it runs inside exit(3)).
extern "C" fn summary() {
    let all = SKIPPED.lock().unwrap_or_else(|p| p.into_inner());
    let mut by_why: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (why, test) in all.iter() {
        by_why.entry(why).or_default().push(test);
    }
    let mut text = format!(
        "\n!!! {} test(s) passed without running all they check; install what they need \
         (.ci/run does), or set UDSKIT_REQUIRE_PEERS=1 to make a missing peer a failure:\n",
        all.len()
    );
    for (why, tests) in by_why {
        text += &format!("!!!   {why}: {}\n", tests.join(", "));
    }
    let _ = std::io::stderr().write_all(text.as_bytes());
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
