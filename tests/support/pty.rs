//! Running udskit with stdout, stderr or both on a pseudo-terminal (python3's pty module),
//! the other stream piped, to see what a user at a terminal sees: bars, live boards, the
//! newline after an open line.

use std::path::Path;
use std::process::Command;

/// Which of udskit's streams is the terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    Stdout,
    Stderr,
    Both,
}

/// What came out: the terminal's bytes (its CRLFs made LF again) and the piped stream.
pub struct PtyRun {
    pub code: Option<i32>,
    pub pty: String,
    pub piped: Vec<u8>,
}

const RUNNER: &str = r#"
import os, pty, subprocess, sys, threading, fcntl, termios, struct
on, pty_path, pipe_path, *cmd = sys.argv[1:]
m, s = pty.openpty()
fcntl.ioctl(s, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
tty_out = on in ("stdout", "both")
tty_err = on in ("stderr", "both")
p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                     stdout=s if tty_out else subprocess.PIPE,
                     stderr=s if tty_err else subprocess.PIPE)
os.close(s)
got = bytearray()
def drain():
    while True:
        try:
            d = os.read(m, 65536)
        except OSError:
            return
        if not d:
            return
        got.extend(d)
t = threading.Thread(target=drain)
t.start()
out, err = p.communicate(timeout=60)
t.join(timeout=10)
open(pty_path, "wb").write(bytes(got))
open(pipe_path, "wb").write((out or b"") + (err or b""))
sys.exit(p.returncode if p.returncode >= 0 else 128 - p.returncode)
"#;

/// `udskit --color=never ARGS` in `dir` with `on` a terminal 120 columns wide.
pub fn udskit_on_pty(on: On, args: &[&str], dir: &Path) -> PtyRun {
    let (pty_path, pipe_path) = (dir.join(".pty.out"), dir.join(".pipe.out"));
    let which = match on {
        On::Stdout => "stdout",
        On::Stderr => "stderr",
        On::Both => "both",
    };
    let out = Command::new("python3")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("LANG", "C.UTF-8")
        .env("TERM", "xterm")
        .current_dir(dir)
        .arg("-c")
        .arg(RUNNER)
        .arg(which)
        .arg(&pty_path)
        .arg(&pipe_path)
        .arg(env!("CARGO_BIN_EXE_udskit"))
        .arg("--color=never")
        .args(args)
        .output()
        .expect("python3 runs the pty");
    assert!(
        out.stderr.is_empty(),
        "pty runner: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pty = std::fs::read(&pty_path).unwrap_or_default();
    PtyRun {
        code: out.status.code(),
        pty: String::from_utf8_lossy(&pty).replace("\r\n", "\n"),
        piped: std::fs::read(&pipe_path).unwrap_or_default(),
    }
}
