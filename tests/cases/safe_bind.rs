//! Safe bind under attack and under races, for every server subcommand: `--mode` applied
//! without a path lookup (no chmod that a symlink could redirect), special mode bits
//! refused, two servers racing over one stale socket (exactly one wins), and the socket
//! file removed on every way out, SIGHUP included.
//!
//! strace drives the races deterministically: its fault injection holds one process inside
//! a system call (`delay_enter`/`delay_exit`) while the test acts; the verdicts never
//! depend on how long anything took.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::listen::{PY_HOLDER, PY_STALE};
use crate::support::peers::have;
use crate::support::*;

const T: Duration = Duration::from_secs(30);

fn make_stale(sock: &Path) {
    let st = Command::new(system_python())
        .arg("-c")
        .arg(PY_STALE)
        .arg(sock)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(sock.exists(), "no stale socket at {}", sock.display());
}

/// `udskit ARGS` run by `strace -f -o LOG STRACE_ARGS`, with udskit's own stderr captured.
/// Stopping strace would leave its tracee running, so `Traced` signals the tracee itself,
/// found as strace's child.
struct Traced {
    strace: Bg,
    log: PathBuf,
}

impl Traced {
    fn spawn(dir: &Path, name: &str, strace_args: &[&str], args: &[&str]) -> Traced {
        let log = dir.join(format!("{name}.strace"));
        let filter = [&["-f", "-e", "signal=none"], strace_args].concat();
        let mut c = udskit_traced(&filter, &log);
        c.args(args).stdin(Stdio::null()).stdout(Stdio::null());
        Traced {
            strace: Bg::spawn(c, dir, name),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the strace log contains `needle` (a system call has been entered).
    fn wait_log(&mut self, needle: &str) {
        wait_until(T, &format!("{needle:?} in the strace log"), || {
            if let Ok(Some(st)) = self.strace.child.try_wait() {
                panic!(
                    "strace exited ({st}) before {needle:?}; stderr:\n{}\nlog:\n{}",
                    self.strace.stderr(),
                    self.log()
                );
            }
            self.log().contains(needle)
        });
    }

    /// The traced udskit (strace's only child).
    fn tracee(&self) -> Option<i32> {
        let pid = self.strace.pid();
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .ok()?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    fn signal_tracee(&self, sig: i32) {
        if let Some(pid) = self.tracee() {
            send_signal(pid, sig);
        }
    }
}

impl Drop for Traced {
    fn drop(&mut self) {
        if let Ok(None) = self.strace.child.try_wait() {
            self.signal_tracee(9);
        }
    }
}

/// Sends `msg` through an echo server at `sock` and reads it back.
fn echoes(sock: &Path, msg: &[u8]) -> bool {
    let Ok(mut c) = UnixStream::connect(sock) else {
        return false;
    };
    c.set_read_timeout(Some(T)).unwrap();
    if c.write_all(msg).is_err() {
        return false;
    }
    let _ = c.shutdown(std::net::Shutdown::Write);
    let mut back = Vec::new();
    let _ = c.read_to_end(&mut back);
    back == msg
}

/// The mode is in place from the moment bind(2) creates the file: nothing is chmod-ed by
/// path afterwards, where a symlink put in the socket's place would redirect it.
/// (strace 6.1 does not know fchmodat2 by name; udskit uses no chmod call at all.)
#[test]
fn mode_is_applied_by_bind_itself_never_by_a_chmod() {
    if !have("strace") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("m.sock");
    let mut t = Traced::spawn(
        dir.path(),
        "listen",
        &[
            "-e",
            "trace=chmod,fchmod,fchmodat,chown,lchown,fchown,fchownat",
        ],
        &["listen", "--echo", "--mode", "640", sock.to_str().unwrap()],
    );
    t.strace.wait_stderr("udskit: listening on");
    assert_eq!(mode_of(&sock), 0o640);
    assert!(echoes(&sock, b"hello"));
    t.signal_tracee(15);
    assert_eq!(t.strace.wait_exit(T).code(), Some(143));
    let log = t.log();
    // Any of them (fchmodat too, which is how chmod reaches the kernel on arm64).
    assert!(
        !log.contains("chmod") && !log.contains("chown"),
        "a chmod or chown after bind:\n{log}"
    );
    assert!(!sock.exists());
}

/// The attack itself: between bind and the moment the mode is applied, another user renames
/// the fresh socket away and puts a symlink to a private file in its place. The private
/// file keeps its mode, and udskit, finding its socket gone from the path, stops instead of
/// serving where nobody can reach it, and leaves the symlink alone.
#[test]
fn symlink_swapped_in_after_bind_redirects_nothing() {
    if !have("strace") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    let private = dir.path().join("private");
    std::fs::write(&private, "root only").unwrap();
    std::fs::set_permissions(
        &private,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let mut t = Traced::spawn(
        dir.path(),
        "listen",
        // Holds udskit for 2 s right after its bind(2) returns.
        &["-e", "trace=bind", "-e", "inject=bind:delay_exit=2000000"],
        &["listen", "--echo", "--mode", "666", sock.to_str().unwrap()],
    );
    t.wait_log("bind(");
    wait_for_socket_file(&sock);
    std::fs::rename(&sock, dir.path().join("moved.sock")).unwrap();
    std::os::unix::fs::symlink(&private, &sock).unwrap();
    wait_until(T, "udskit to listen or exit", || settled(&mut t.strace));
    assert_eq!(
        mode_of(&private),
        0o600,
        "the symlink's target was chmod-ed"
    );
    let st = t.strace.wait_exit(T);
    let err = t.strace.stderr();
    assert_eq!(std::fs::read_to_string(&private).unwrap(), "root only");
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "udskit: error: binding unix:{0}: {0} was replaced right after bind\n\
             hint: another process renamed or replaced the new socket file; someone else can \
             write in that directory\n",
            sock.display()
        )),
        "{err}"
    );
    assert!(
        std::fs::symlink_metadata(&sock).is_ok_and(|m| m.file_type().is_symlink()),
        "the symlink was removed"
    );
}

/// The file removed at exit is the one the kernel says our socket is bound to: another
/// socket file renamed over ours right after bind (a path stat would take it for ours, and
/// remove it at exit) makes udskit stop and leave it alone.
#[test]
fn socket_file_swapped_in_after_bind_is_not_taken_for_ours() {
    if !have("strace") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    let other = dir.path().join("other.sock");
    make_stale(&other);
    let mut t = Traced::spawn(
        dir.path(),
        "listen",
        &["-e", "trace=bind", "-e", "inject=bind:delay_exit=2000000"],
        &["listen", "--echo", sock.to_str().unwrap()],
    );
    t.wait_log("bind(");
    wait_for_socket_file(&sock);
    std::fs::rename(&sock, dir.path().join("moved.sock")).unwrap();
    std::fs::rename(&other, &sock).unwrap();
    let swapped = identity(&sock);
    wait_until(T, "udskit to listen or exit", || settled(&mut t.strace));
    let st = t.strace.child.try_wait().unwrap();
    let err = t.strace.stderr();
    assert_eq!(st.and_then(|s| s.code()), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "udskit: error: binding unix:{0}: {0} was replaced right after bind",
            sock.display()
        )),
        "{err}"
    );
    assert_eq!(
        identity(&sock),
        swapped,
        "the swapped-in socket file was removed"
    );
}

#[test]
fn mode_with_special_bits_is_a_usage_error() {
    let dir = tempdir();
    for mode in ["4755", "2770", "1777", "07777", "10000"] {
        let mut c = ud(&["listen", "--mode", mode, "x.sock"]);
        c.current_dir(dir.path());
        let out = run_with_input(c, b"", T);
        assert_eq!(out.status.code(), Some(2), "--mode {mode}");
        let err = stderr_of(&out);
        assert!(
            err.contains(&format!(
                "'{mode}' is not a socket file mode: give permission bits 0 to 777 \
                 (setuid, setgid and sticky mean nothing on a socket)"
            )),
            "--mode {mode}: {err}"
        );
        assert!(!dir.path().join("x.sock").exists());
    }
}

/// Only the inode judged stale is ever unlinked: udskit is held right after the connect
/// that found the socket dead while a live socket (a process that takes no lock) is
/// renamed over the path. udskit must leave that live socket alone.
#[test]
fn socket_swapped_in_after_the_stale_verdict_is_not_unlinked() {
    if !have("strace") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    make_stale(&sock);
    let live = dir.path().join("live.sock");
    let mut py = Command::new(system_python());
    py.arg("-c").arg(PY_HOLDER).arg(&live).stdout(Stdio::null());
    let mut py = Bg::spawn(py, dir.path(), "holder");
    py.wait_stderr("ready");
    let mut t = Traced::spawn(
        dir.path(),
        "listen",
        // Holds udskit for 2 s after its probe connect(2) was refused.
        &[
            "-e",
            "trace=connect",
            "-e",
            "inject=connect:delay_exit=2000000",
        ],
        &["listen", "--echo", sock.to_str().unwrap()],
    );
    t.wait_log("s.sock\"");
    std::fs::rename(&live, &sock).unwrap();
    let swapped = identity(&sock);
    wait_until(T, "udskit to listen or exit", || settled(&mut t.strace));
    assert_eq!(
        std::fs::symlink_metadata(&sock)
            .map(|m| {
                use std::os::unix::fs::MetadataExt;
                (m.dev(), m.ino())
            })
            .ok(),
        Some(swapped),
        "the live socket swapped in was unlinked; udskit:\n{}",
        t.strace.stderr()
    );
    let st = t.strace.wait_exit(T);
    let err = t.strace.stderr();
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "udskit: error: binding unix:{0}: {0} was replaced while udskit was checking it",
            sock.display()
        )),
        "{err}"
    );
    // Still the Python listener's socket, reachable at the path.
    assert!(UnixStream::connect(&sock).is_ok());
    drop(py);
}

/// Waits until `bg` has either exited or printed "listening on".
fn settled(bg: &mut Bg) -> bool {
    bg.child.try_wait().unwrap().is_some() || bg.stderr().contains("udskit: listening on")
}

/// Of two servers started on one path, exactly one listens and is reachable there; the
/// other exits 1 saying the socket is in use.
fn exactly_one_won(a: &mut Bg, b: &mut Bg, sock: &Path) {
    wait_until(T, "both servers to listen or exit", || {
        settled(a) && settled(b)
    });
    let (ea, eb) = (a.child.try_wait().unwrap(), b.child.try_wait().unwrap());
    let (winner, loser, lost) = match (ea, eb) {
        (None, Some(st)) => (&*a, &*b, st),
        (Some(st), None) => (&*b, &*a, st),
        _ => panic!(
            "not exactly one winner: {ea:?} / {eb:?}\nfirst:\n{}\nsecond:\n{}",
            a.stderr(),
            b.stderr()
        ),
    };
    assert_eq!(lost.code(), Some(1), "{}", loser.stderr());
    assert!(
        loser.stderr().contains(&format!(
            "udskit: error: binding unix:{0}: {0} is in use",
            sock.display()
        )),
        "{}",
        loser.stderr()
    );
    assert!(
        echoes(sock, b"who is there"),
        "the winner is not reachable at the path; winner:\n{}",
        winner.stderr()
    );
}

/// The first server is held inside its unlink of the stale socket while a second one
/// starts: without a lock both judge the socket stale, and the slower unlink deletes the
/// socket the faster one had just bound.
#[test]
fn two_servers_over_a_stale_socket_one_delayed_in_unlink() {
    if !have("strace") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("race.sock");
    make_stale(&sock);
    let path = sock.to_str().unwrap();
    let mut first = Traced::spawn(
        dir.path(),
        "first",
        &[
            "-e",
            "trace=unlink,unlinkat",
            "-e",
            "inject=unlink,unlinkat:delay_enter=500000",
        ],
        &["listen", "--echo", path],
    );
    // `unlink("/tmp/.../race.sock"` or `unlinkat(3, "race.sock"`: entered, and held there.
    first.wait_log("race.sock\"");
    let mut c = ud(&["listen", "--echo"]);
    c.arg(&sock).stdin(Stdio::null()).stdout(Stdio::null());
    let mut second = Bg::spawn(c, dir.path(), "second");
    exactly_one_won(&mut first.strace, &mut second, &sock);
    second.signal(15);
    first.signal_tracee(15);
    second.wait_exit(T);
    first.strace.wait_exit(T);
    assert!(!sock.exists(), "the winner left its socket file behind");
}

/// The same race without any help: two servers started together, 20 times.
#[test]
fn two_servers_started_together_over_a_stale_socket() {
    let dir = tempdir();
    let sock = dir.path().join("race.sock");
    for round in 0..20 {
        make_stale(&sock);
        let spawn = |name: &str| {
            let mut c = ud(&["listen", "--echo"]);
            c.arg(&sock).stdin(Stdio::null()).stdout(Stdio::null());
            Bg::spawn(c, dir.path(), &format!("{name}{round}"))
        };
        let (mut a, mut b) = (spawn("a"), spawn("b"));
        exactly_one_won(&mut a, &mut b, &sock);
        a.signal(15);
        b.signal(15);
        a.wait_exit(T);
        b.wait_exit(T);
        assert!(!sock.exists(), "round {round}: socket file left behind");
    }
}

/// SIGHUP (the terminal went away) is a clean stop like SIGTERM: exit 128+1, file removed.
#[test]
fn sighup_stops_listen_and_relay_cleanly() {
    let dir = tempdir();
    let sock = dir.path().join("h.sock");
    let mut c = ud(&["listen", "-k"]);
    c.arg(&sock).stdin(Stdio::null()).stdout(Stdio::null());
    let mut listen = Bg::spawn(c, dir.path(), "listen");
    listen.wait_stderr("udskit: listening on");
    if disposition(std::process::id() as i32, 1).0 {
        // Run under nohup: the children inherit SIGHUP ignored, and udskit leaves it so
        // (shutdown.rs), which is what is checked here; SIGTERM then stops it cleanly.
        eprintln!("note: SIGHUP is ignored here (nohup): checking that udskit keeps it so");
        assert_eq!(disposition(listen.pid(), 1), (true, false));
        listen.signal(15);
        assert_eq!(listen.wait_exit(T).code(), Some(143), "{}", listen.stderr());
        return;
    }
    listen.signal(1);
    assert_eq!(listen.wait_exit(T).code(), Some(129), "{}", listen.stderr());
    assert!(!sock.exists(), "listen left its socket file after SIGHUP");

    let front = dir.path().join("front.sock");
    let mut c = ud(&["relay"]);
    c.arg(&front).arg(dir.path().join("nothing.sock"));
    let mut relay = Bg::spawn(c, dir.path(), "relay");
    relay.wait_stderr("udskit: listening on");
    relay.signal(1);
    assert_eq!(relay.wait_exit(T).code(), Some(129), "{}", relay.stderr());
    assert!(!front.exists(), "relay left its socket file after SIGHUP");
}

/// The disposition of `sig` in /proc/PID/status: (ignored, caught).
fn disposition(pid: i32, sig: u32) -> (bool, bool) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let mask = |key: &str| {
        let hex = status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("no {key} in:\n{status}"));
        u64::from_str_radix(hex.trim(), 16).unwrap() & (1 << (sig - 1)) != 0
    };
    (mask("SigIgn:"), mask("SigCgt:"))
}

/// Under `nohup` (SIGHUP ignored when udskit starts) a hangup is no stop: the user asked
/// for the server to outlive the terminal. SIGHUP stays ignored, and SIGTERM still stops it.
#[test]
fn sighup_ignored_by_nohup_stays_ignored() {
    if !have("nohup") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("n.sock");
    let mut c = Command::new("nohup");
    c.arg(env!("CARGO_BIN_EXE_udskit"))
        .args(["--color=never", "listen", "-k"])
        .arg(&sock)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // nohup execs udskit: the pid is udskit's.
    let mut listen = Bg::spawn(c, dir.path(), "listen");
    listen.wait_stderr("udskit: listening on");
    assert_eq!(
        disposition(listen.pid(), 1),
        (true, false),
        "SIGHUP is caught"
    );
    listen.signal(1);
    listen.signal(15);
    assert_eq!(listen.wait_exit(T).code(), Some(143), "{}", listen.stderr());
    assert!(!sock.exists());
}

/// The directory lock binds udskit processes only, and only for a moment: a process that
/// holds it (flock(1) here) is waited for a few seconds, then the bind goes on without it,
/// with a warning, instead of every bind in a shared directory stalling behind it.
#[test]
fn a_directory_lock_held_by_someone_else_delays_but_never_blocks() {
    if !have("flock") {
        return;
    }
    let dir = tempdir();
    let mut c = Command::new("flock");
    // --no-fork: the pid we stop is the one holding the lock (no orphan left holding it).
    c.args(["--exclusive", "--no-fork"])
        .arg(dir.path())
        .args(["sh", "-c", "echo locked >&2; exec sleep 120"])
        .stdout(Stdio::null());
    let mut holder = Bg::spawn(c, dir.path(), "flock");
    holder.wait_stderr("locked");
    let sock = dir.path().join("l.sock");
    let mut c = ud(&["listen", "--echo"]);
    c.arg(&sock).stdin(Stdio::null()).stdout(Stdio::null());
    let mut server = Bg::spawn(c, dir.path(), "listen");
    let err = server.wait_stderr("udskit: listening on");
    assert!(
        err.contains(&format!(
            "udskit: warning: binding without the lock on directory {}: another process has \
             held it for 5s",
            dir.path().display()
        )),
        "{err}"
    );
    assert!(echoes(&sock, b"still served"));
}

/// A server run as nobody over a root's dead socket it may not connect to, or may not
/// remove (a sticky directory, a directory it may not write): each refused with what is
/// in the way and who we are, and the file left as it was.
#[test]
fn a_socket_file_we_may_not_probe_or_remove_is_left_alone_and_explained() {
    if !nobody_can_run_udskit() {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let (sticky, closed) = (dir.path().join("sticky"), dir.path().join("closed"));
    for (d, mode) in [(dir.path(), 0o755), (&sticky, 0o1777), (&closed, 0o755)] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let cases = [
        (
            sticky.join("unprobed.sock"),
            0o755,
            "is a socket file udskit may not connect to, so it cannot tell whether a server \
             listens there\nhint: ",
            "connecting needs write permission on it. You are uid 65534 (nobody), groups \
             65534 (nogroup). No socket of this network namespace is bound to it, but one in \
             another (a container sharing the directory) could be, and a live socket is never \
             taken over: if it is stale, root can remove it; or choose another path\n",
        ),
        (
            sticky.join("sticky.sock"),
            0o777,
            ": Operation not permitted (os error 1)\nhint: ",
            "is sticky (drwxrwxrwt, owned by root): only the file's owner (root), the \
             directory's owner or root may remove a file in it. You are uid 65534 (nobody), \
             groups 65534 (nogroup); choose another path\n",
        ),
        (
            closed.join("closed.sock"),
            0o777,
            ": Permission denied (os error 13)\nhint: ",
            "removing a file needs write permission on its directory; ",
        ),
    ];
    for (sock, mode, head, tail) in cases {
        make_stale(&sock);
        std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(mode)).unwrap();
        let before = identity(&sock);
        for sub in ["listen", "relay"] {
            let mut args = vec![sub, sock.to_str().unwrap()];
            if sub == "relay" {
                args.push("tcp:127.0.0.1:9");
            }
            let out = run_with_input(as_nobody(&args), b"", T);
            let err = stderr_of(&out);
            assert_eq!(
                out.status.code(),
                Some(1),
                "{sub} {}: {err}",
                sock.display()
            );
            assert!(
                err.starts_with(&format!("udskit: error: binding unix:{}", sock.display()))
                    && err.contains(head)
                    && err.contains(tail),
                "{sub}: {err}"
            );
            assert_eq!(identity(&sock), before, "{sub} touched {}", sock.display());
        }
    }
}

/// A path that cannot hold a socket is named with its real cause: a file where a directory
/// should be (for a server and a client alike), a directory that does not exist, a proc
/// filesystem; the file in the way is left as it was.
#[test]
fn a_path_that_cannot_hold_a_socket_says_why() {
    let dir = tempdir();
    let file = dir.path().join("afile");
    std::fs::write(&file, b"kept").unwrap();
    let not_dir = format!(
        "{} is not a directory (it is a regular file)",
        file.display()
    );
    let missing = dir.path().join("missing");
    let cases = [
        (vec!["listen", "afile/x.sock"], "binding", not_dir.clone()),
        (
            vec!["listen", "afile/deeper/x.sock"],
            "binding",
            not_dir.clone(),
        ),
        (
            vec!["connect", "afile/x.sock"],
            "connecting to",
            not_dir.clone(),
        ),
        (
            vec!["listen", "missing/x.sock"],
            "binding",
            format!("the directory {} does not exist", missing.display()),
        ),
    ];
    for (args, doing, why) in cases {
        let path = dir.path().join(args[1]);
        let mut args = args.clone();
        let shown = path.to_str().unwrap();
        args[1] = shown;
        let out = run_with_input(ud(&args), b"", T);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr_of(&out));
        assert_eq!(
            stderr_of(&out),
            format!("udskit: error: {doing} unix:{shown}: {why}\n"),
            "{args:?}"
        );
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"kept");
    let out = run_with_input(ud(&["listen", "/proc/udskit-test.sock"]), b"", T);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(
        stderr_of(&out),
        "udskit: error: binding unix:/proc/udskit-test.sock: a proc filesystem holds no socket \
         files\nhint: choose a directory on an ordinary filesystem, such as /run or /tmp\n"
    );
}

/// A TCP port below net.ipv4.ip_unprivileged_port_start, bound by nobody: the hint says why
/// and what to do.
#[test]
fn a_privileged_port_says_what_it_needs() {
    if !nobody_can_run_udskit() {
        return;
    }
    let first: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    if first < 2 {
        return;
    }
    let port = format!("tcp:127.0.0.1:{}", first - 1);
    for args in [vec!["listen", &port], vec!["relay", &port, "x.sock"]] {
        let out = run_with_input(as_nobody(&args), b"", T);
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(
            err,
            format!(
                "udskit: error: binding {port}: Permission denied (os error 13)\nhint: ports \
                 below {first} (net.ipv4.ip_unprivileged_port_start) need root or \
                 CAP_NET_BIND_SERVICE; choose one from {first} up, such as tcp:8080\n"
            ),
            "{args:?}"
        );
    }
}
