//! What every integration test needs: the binary with a scrubbed environment, per-test temp
//! dirs, background children stopped by pid on drop, polling with a deadline, and real peers
//! (socat, python3, curl, ...) that are either present or reported loudly.
#![allow(dead_code)]

pub mod http;
pub mod peers;
pub mod pty;
pub mod servers;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// The built binary, with `--color=never`-friendly, scrubbed environment.
pub fn udskit() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_udskit"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("LANG", "C.UTF-8")
        .arg("--color=never");
    c
}

/// udskit under strace: `filter` is strace's own options (`-e trace=...`, `-f`), its log
/// goes to `trace`, quiet about attaching (`-qq`); udskit's arguments follow with `.args`.
pub fn udskit_traced(filter: &[&str], trace: &Path) -> Command {
    let u = udskit();
    let mut c = Command::new("strace");
    c.env_clear()
        .envs(u.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .arg("-qq")
        .args(filter)
        .arg("-o")
        .arg(trace)
        .arg(u.get_program())
        .args(u.get_args());
    c
}

/// A short temp dir under /tmp (socket paths must stay under 107 bytes).
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("udskit-t")
        .tempdir_in("/tmp")
        .expect("temp dir")
}

/// Polls `check` every 10 ms until it is true; panics with `what` after `limit`.
pub fn wait_until(limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits until the socket at `path` is ready for a client: the file is a socket and, for a
/// stream or seqpacket socket, it listens (a server binds, then listens: a connect in
/// between is refused). Read from /proc/net/unix, so that no connection is spent on it (a
/// one-client server would take the probe for its client).
pub fn wait_for_socket(path: &Path) {
    wait_until(
        Duration::from_secs(10),
        &format!("socket {}", path.display()),
        || {
            std::fs::symlink_metadata(path)
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
                && !bound_but_not_listening(path)
        },
    );
}

/// Waits until a socket file is at `path`, listening or not (for a test that acts in the
/// moment between a server's bind and its listen).
pub fn wait_for_socket_file(path: &Path) {
    wait_until(
        Duration::from_secs(10),
        &format!("socket file {}", path.display()),
        || {
            std::fs::symlink_metadata(path)
                .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
        },
    );
}

/// A stream or seqpacket socket is bound at `path` and does not listen yet (a socket
/// bound under another name, as a long path is, is not seen here and counts as ready).
fn bound_but_not_listening(path: &Path) -> bool {
    const ACCEPTCON: u32 = 1 << 16;
    let table = std::fs::read_to_string("/proc/net/unix").unwrap_or_default();
    let want = path.to_string_lossy();
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() >= 8
            && f[7] == want
            && matches!(f[4], "0001" | "0005")
            // Unconnected: an accepted connection shows its listener's path too.
            && f[5] == "01"
            && u32::from_str_radix(f[3], 16).is_ok_and(|flags| flags & ACCEPTCON == 0)
    })
}

/// Waits until the file exists (any type).
pub fn wait_for_path(path: &Path) {
    wait_until(
        Duration::from_secs(10),
        &format!("{}", path.display()),
        || path.exists(),
    );
}

/// A background process, stopped (TERM, then KILL) by its pid when dropped.
pub struct Bg {
    pub child: Child,
    stderr_path: Option<PathBuf>,
}

impl Bg {
    /// Spawns `cmd` with stderr captured into a file (readable while it runs).
    pub fn spawn(mut cmd: Command, dir: &Path, name: &str) -> Bg {
        let stderr_path = dir.join(format!("{name}.stderr"));
        let f = std::fs::File::create(&stderr_path).unwrap();
        cmd.stderr(f);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {name}: {e}"));
        Bg {
            child,
            stderr_path: Some(stderr_path),
        }
    }

    /// Spawns with stdin and stdout piped (take them from `child`).
    pub fn spawn_piped(mut cmd: Command, dir: &Path, name: &str) -> Bg {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        Bg::spawn(cmd, dir, name)
    }

    /// Takes charge of a child spawned by the caller (stderr its own business).
    pub fn adopt(child: Child) -> Bg {
        Bg {
            child,
            stderr_path: None,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// What it has written on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr_path
            .as_ref()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .unwrap_or_default()
    }

    /// Waits until stderr contains `needle`; panics (showing stderr) after 10 s or if it exits.
    pub fn wait_stderr(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.stderr();
            if s.contains(needle) {
                return s;
            }
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("exited ({st}) before printing {needle:?}; stderr:\n{s}");
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} on stderr after 10 s; stderr:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn signal(&self, sig: i32) {
        send_signal(self.pid(), sig);
    }

    /// Waits for exit with a deadline (panics showing stderr on timeout).
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "still running after {limit:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits for exit and returns all of stdout (which must be piped).
    pub fn finish(mut self, limit: Duration) -> (ExitStatus, Vec<u8>) {
        let mut out = Vec::new();
        let stdout = self.child.stdout.take();
        let reader = std::thread::spawn(move || {
            if let Some(mut s) = stdout {
                let _ = s.read_to_end(&mut out);
            }
            out
        });
        let st = self.wait_exit(limit);
        (st, reader.join().unwrap())
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            send_signal(self.pid(), 15);
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// kill(2) through the kill command, to keep the test crate free of libc.
pub fn send_signal(pid: i32, sig: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// Runs a command to completion with stdin bytes and a deadline; returns its output.
pub fn run_with_input(mut cmd: Command, input: &[u8], limit: Duration) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(&input);
    });
    let out = wait_output(child, limit);
    writer.join().unwrap();
    out
}

/// Runs `cmd` (its stdin as the caller set it) and collects its output; kills it and
/// panics after `limit`.
pub fn output_within(mut cmd: Command, limit: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    wait_output(cmd.spawn().expect("spawn"), limit)
}

/// Runs `cmd` with its stdout a pipe nobody reads (it fills and stays full) and collects
/// its stderr and exit; kills it and panics after `limit`.
pub fn output_with_stdout_unread(mut cmd: Command, limit: Duration) -> Output {
    let (unread, stdout) = std::io::pipe().unwrap();
    cmd.stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped());
    let out = wait_output(cmd.spawn().expect("spawn"), limit);
    drop(unread);
    out
}

fn wait_output(child: std::process::Child, limit: Duration) -> Output {
    let pid = child.id() as i32;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            send_signal(pid, 9);
            panic!("command did not finish within {limit:?}");
        }
    }
}

/// Random bytes (from /dev/urandom).
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut v)
        .unwrap();
    v
}

/// sha256 of bytes, through sha256sum (a checksum, as a user would compare).
/// The test's own base64 (Python's), to check ours against an independent one.
pub fn base64(data: &[u8]) -> String {
    let out = peers::python(&format!(
        "import base64;print(base64.b64encode(bytes.fromhex('{}')).decode(),end='')",
        data.iter().map(|b| format!("{b:02x}")).collect::<String>()
    ))
    .output()
    .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

pub fn sha256(data: &[u8]) -> String {
    let out = run_with_input(
        {
            let mut c = Command::new("sha256sum");
            c.arg("-");
            c
        },
        data,
        Duration::from_secs(30),
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// sha256 of a file's contents.
pub fn sha256_file(path: &Path) -> String {
    sha256(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
}

/// The permission bits of a file, as stat(2) shows them.
pub fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// (device, inode) of a file: tells "the same file" from "a new one at the same path".
pub fn identity(path: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).unwrap();
    (m.dev(), m.ino())
}

/// `udskit ARGS...` as a Command.
pub fn ud(args: &[&str]) -> Command {
    let mut c = udskit();
    c.args(args);
    c
}

/// `udskit --color=never ARGS` run as nobody (uid and gid 65534, no groups) through
/// setpriv, with only PATH in its environment.
pub fn as_nobody(args: &[&str]) -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_udskit"))
        .arg("--color=never")
        .args(args);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    c
}

/// Whether [`as_nobody`] can run here (root, setpriv, a binary uid 65534 may execute);
/// when not, the test is reported as skipped.
pub fn nobody_can_run_udskit() -> bool {
    let can = is_root()
        && peers::have("setpriv")
        && as_nobody(&["--version"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !can {
        peers::skipped("needs root, setpriv, and a binary uid 65534 can run");
    }
    can
}

/// True when the tests run as root (needed to act as another user through runuser).
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root {
        peers::skipped("not root (needed to run a client as another user)");
    }
    root
}

/// Lets other users reach sockets inside a (0700) temp dir.
pub fn open_dir_to_all(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A python3 that other users can run (a pyenv shim under /root is not one of them).
pub fn system_python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Deterministic pseudo-random bytes (xorshift), different for every seed.
pub fn noise(seed: u64, n: usize) -> Vec<u8> {
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

/// The port written right after the first `prefix` in `text` (such as `tcp:127.0.0.1:`
/// in a "listening on" line), or None.
pub fn port_after(text: &str, prefix: &str) -> Option<u16> {
    let rest = text.split(prefix).nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Stops the program that `strace` (a [`Bg`]) runs, with SIGTERM, and waits for strace:
/// strace passes no signal on, and killing it alone leaves its tracee running.
pub fn stop_traced(mut strace: Bg) {
    let children = format!("/proc/{0}/task/{0}/children", strace.pid());
    let traced: i32 = std::fs::read_to_string(children)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    send_signal(traced, 15);
    strace.wait_exit(Duration::from_secs(20));
}
