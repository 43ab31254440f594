//! Socket activation: `listen`, `relay` and `recvfrom` serving on a socket systemd passes
//! (`systemd-socket-activate`, with `--fdname` and `--datagram`) or that a parent hands
//! over with `--listen-fd N` (a socket Python binds itself), the socket's kind checked,
//! READY=1 received on NOTIFY_SOCKET by a Python datagram socket (a path and the abstract
//! `@` form), the socket file left in place at exit, and nothing of it inherited by
//! `--exec`'s command.

use std::io::{Read, Write};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::peers::{have, python};
use crate::support::*;

const T: Duration = Duration::from_secs(30);

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A Python datagram socket bound at `at` (a path, or `@NAME` for an abstract name) that
/// prints the first message it receives on stdout and exits.
fn notify_receiver(at: &str, dir: &Path) -> Bg {
    let mut c = python(
        "import socket,sys\n\
         a=sys.argv[1]\n\
         s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n\
         s.bind('\\0'+a[1:] if a.startswith('@') else a)\n\
         s.settimeout(25)\n\
         print('bound',file=sys.stderr,flush=True)\n\
         sys.stdout.write(s.recv(4096).decode())\n",
    );
    c.arg(at);
    let mut bg = Bg::spawn_piped(c, dir, "notify");
    bg.wait_stderr("bound");
    bg
}

/// `systemd-socket-activate ARGS... udskit --color=never UDSKIT_ARGS...`, its stderr (and
/// udskit's, which it execs into, keeping the pid) captured; waits until it listens.
fn activated(sa_args: &[&str], udskit_args: &[&str], dir: &Path, name: &str) -> Bg {
    let mut c = Command::new("systemd-socket-activate");
    c.args(sa_args)
        .arg(env!("CARGO_BIN_EXE_udskit"))
        .arg("--color=never")
        .args(udskit_args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null());
    let mut bg = Bg::spawn_piped(c, dir, name);
    bg.wait_stderr("Listening on");
    bg
}

fn echo_through(sock: &Path, data: &[u8]) -> Vec<u8> {
    let mut c = UnixStream::connect(sock).unwrap();
    c.set_read_timeout(Some(T)).unwrap();
    c.write_all(data).unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    c.read_to_end(&mut back).unwrap();
    back
}

fn is_socket(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
}

#[test]
fn listen_serves_the_socket_systemd_passes_says_ready_and_leaves_its_file() {
    if !have("systemd-socket-activate") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("echo.sock");
    let name = format!("@udskit-notify-{}", std::process::id());
    let notify = notify_receiver(&name, dir.path());
    let mut sa = activated(
        &["-l", s(&sock), "-E", &format!("NOTIFY_SOCKET={name}")],
        &["listen", "--echo"],
        dir.path(),
        "sa",
    );
    let data = noise(16, 100_000);
    assert_eq!(echo_through(&sock, &data), data);
    let (st, said) = notify.finish(T);
    assert!(st.success());
    let said = String::from_utf8(said).unwrap();
    assert!(said.starts_with("READY=1\n"), "{said}");
    assert!(
        said.contains(&format!(
            "STATUS=listening on unix:{} (stream; inherited: systemd socket",
            s(&sock)
        )),
        "{said}"
    );
    sa.signal(15);
    let st = sa.wait_exit(T);
    assert_eq!(st.code(), Some(143), "{}", sa.stderr());
    assert!(
        sa.stderr().contains("listening on unix:")
            && sa.stderr().contains("inherited: systemd socket"),
        "{}",
        sa.stderr()
    );
    // Not ours: systemd made it, and it stays for the next activation.
    assert!(is_socket(&sock), "the inherited socket file was removed");
}

#[test]
fn recvfrom_serves_a_datagram_socket_systemd_passes() {
    if !have("systemd-socket-activate") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("log.sock");
    let notify_at = dir.path().join("notify");
    let notify = notify_receiver(s(&notify_at), dir.path());
    let sa = activated(
        &[
            "--datagram",
            "-l",
            s(&sock),
            "-E",
            &format!("NOTIFY_SOCKET={}", s(&notify_at)),
        ],
        &["recvfrom", "--count", "3"],
        dir.path(),
        "sa",
    );
    let c = UnixDatagram::unbound().unwrap();
    for d in [&b"one"[..], b"\x00two\xff", b"three"] {
        c.send_to(d, &sock).unwrap();
    }
    let (st, said) = notify.finish(T);
    assert!(st.success());
    let said = String::from_utf8(said).unwrap();
    assert!(said.starts_with("READY=1\n"), "{said}");
    assert!(said.contains("STATUS=receiving on unix:"), "{said}");
    let stderr_path = dir.path().join("sa.stderr");
    let (st, out) = sa.finish(T);
    let err = std::fs::read_to_string(stderr_path).unwrap();
    assert!(st.success(), "{err}");
    assert_eq!(out, b"one\x00two\xffthree");
    assert!(is_socket(&sock), "the inherited socket file was removed");
}

#[test]
fn several_sockets_are_chosen_by_name_or_by_address_never_guessed() {
    if !have("systemd-socket-activate") {
        return;
    }
    let dir = tempdir();
    let (a, b) = (dir.path().join("a.sock"), dir.path().join("b.sock"));
    let sa_args = ["-l", s(&a), "-l", s(&b), "--fdname=first:second"];
    // By name.
    let mut by_name = activated(
        &sa_args,
        &["listen", "--echo", "--listen-fd", "second"],
        dir.path(),
        "by-name",
    );
    assert_eq!(echo_through(&b, b"by name"), b"by name");
    assert!(
        by_name
            .stderr()
            .contains("inherited: systemd socket \"second\" (fd 4)"),
        "{}",
        by_name.stderr()
    );
    by_name.signal(15);
    by_name.wait_exit(T);
    // By the address argument, which must be one of them.
    let mut by_address = activated(
        &sa_args,
        &["listen", "--echo", s(&b)],
        dir.path(),
        "by-addr",
    );
    assert_eq!(echo_through(&b, b"by address"), b"by address");
    by_address.signal(15);
    by_address.wait_exit(T);
    // Neither: a usage error that lists what was passed.
    for (args, words) in [
        (
            vec!["listen", "--echo"],
            format!(
                "systemd passed 2 sockets: \"first\" (fd 3, unix:{}), \"second\" (fd 4, unix:{})",
                s(&a),
                s(&b)
            ),
        ),
        (
            vec!["listen", "--echo", "/nowhere.sock"],
            "none bound to unix:/nowhere.sock".to_string(),
        ),
        (
            vec!["listen", "--echo", "--listen-fd", "third"],
            "systemd passed no socket of that name".to_string(),
        ),
    ] {
        let mut sa = activated(&sa_args, &args, dir.path(), "refused");
        // systemd-socket-activate starts its command at the first connection.
        let _knock = UnixStream::connect(&a).unwrap();
        let st = sa.wait_exit(T);
        let err = sa.stderr();
        assert_eq!(st.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(&words), "{args:?}: {err}");
        assert!(err.contains("hint:") || args.len() == 4, "{args:?}: {err}");
    }
}

#[test]
fn relay_takes_a_passed_socket_and_an_inherited_datagram_socket_makes_a_datagram_relay() {
    if !have("systemd-socket-activate") || !have("python3") {
        return;
    }
    let dir = tempdir();
    // Stream: LISTEN left out, TARGET an echo server.
    let echo = dir.path().join("echo.sock");
    let mut c = ud(&["listen", "--echo"]);
    c.arg(&echo).stdin(Stdio::null()).stdout(Stdio::null());
    let _echo = Bg::spawn(c, dir.path(), "echo");
    wait_for_socket(&echo);
    let front = dir.path().join("front.sock");
    let name = format!("@udskit-relay-notify-{}", std::process::id());
    let notify = notify_receiver(&name, dir.path());
    let mut relay = activated(
        &["-l", s(&front), "-E", &format!("NOTIFY_SOCKET={name}")],
        &["relay", s(&echo)],
        dir.path(),
        "relay",
    );
    let data = noise(17, 300_000);
    assert_eq!(echo_through(&front, &data), data);
    let (_, said) = notify.finish(T);
    let said = String::from_utf8(said).unwrap();
    assert!(
        said.contains(&format!(
            "READY=1\nSTATUS=listening on unix:{} (inherited: systemd socket",
            s(&front)
        )) && said.contains(&format!("), relaying to unix:{}", s(&echo))),
        "{said}"
    );
    relay.signal(15);
    assert_eq!(relay.wait_exit(T).code(), Some(143), "{}", relay.stderr());
    assert!(is_socket(&front));

    // Datagrams: systemd's datagram socket toward a unix datagram receiver.
    let sink_path = dir.path().join("sink.sock");
    let sink = UnixDatagram::bind(&sink_path).unwrap();
    sink.set_read_timeout(Some(T)).unwrap();
    let dfront = dir.path().join("dfront.sock");
    let mut drelay = activated(
        &["--datagram", "-l", s(&dfront)],
        &["relay", s(&sink_path)],
        dir.path(),
        "drelay",
    );
    let c = UnixDatagram::unbound().unwrap();
    let sent: Vec<Vec<u8>> = (0..5u64).map(|i| noise(i, 1000 + i as usize)).collect();
    for d in &sent {
        c.send_to(d, &dfront).unwrap();
    }
    let mut buf = vec![0u8; 4096];
    for d in &sent {
        let n = sink.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], &d[..]);
    }
    drelay.signal(15);
    drelay.wait_exit(T);
    assert!(
        drelay.stderr().contains(&format!(
            "listening on unix:{} (inherited: systemd socket",
            s(&dfront)
        )) && drelay.stderr().contains("relaying datagrams to"),
        "{}",
        drelay.stderr()
    );
    assert!(is_socket(&dfront));
}

/// Python binds a socket of `kind` at `path` (a unix path, or `tcp` for 127.0.0.1:0) and
/// hands it to `udskit ARGS --listen-fd 5`; for `stream` it connects through it to check
/// an echo, then stops udskit (`listening` listens too, and waits for udskit to exit;
/// `unlistened` and `dgram` do not listen). It prints `exit CODE`, whether the file is
/// still there, and udskit's stderr.
const PY_HAND_OVER: &str = r#"
import os, socket, subprocess, sys, time
kind, path, args = sys.argv[1], sys.argv[2], sys.argv[3:]
fam = socket.AF_INET if path == "tcp" else socket.AF_UNIX
ty = socket.SOCK_DGRAM if kind == "dgram" else socket.SOCK_STREAM
s = socket.socket(fam, ty)
s.bind(("127.0.0.1", 0) if path == "tcp" else path)
if kind in ("stream", "listening"):
    s.listen()
os.dup2(s.fileno(), 5)
p = subprocess.Popen(args + ["--listen-fd", "5"], pass_fds=[5], stderr=subprocess.PIPE,
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
os.close(5)
if kind == "stream":
    deadline = time.time() + 20
    while True:
        try:
            c = socket.socket(fam, socket.SOCK_STREAM)
            c.settimeout(20)
            c.connect(s.getsockname())
            break
        except ConnectionRefusedError:
            if time.time() > deadline:
                raise
            time.sleep(0.01)
    c.sendall(b"handed over")
    c.shutdown(socket.SHUT_WR)
    got = b""
    while True:
        d = c.recv(100)
        if not d:
            break
        got += d
    print("echo", got.decode())
    p.terminate()
try:
    err = p.communicate(timeout=20)[1].decode()
except subprocess.TimeoutExpired:
    p.kill()
    err = p.communicate()[1].decode()
print("exit", p.returncode)
print("file", os.path.exists(path))
sys.stdout.write(err)
"#;

fn hand_over(kind: &str, path: &str, args: &[&str]) -> String {
    let mut c = python(PY_HAND_OVER);
    c.arg(kind)
        .arg(path)
        .arg(env!("CARGO_BIN_EXE_udskit"))
        .arg("--color=never");
    c.args(args);
    let o = run_with_input(c, b"", Duration::from_secs(60));
    assert!(o.status.success(), "{}", stderr_of(&o));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn listen_fd_serves_a_socket_the_parent_bound_and_never_removes_it() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("parent.sock");
    let out = hand_over("stream", s(&sock), &["listen", "--echo"]);
    assert!(
        out.contains("echo handed over\nexit 143\nfile True\n"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "listening on unix:{} (stream; inherited: descriptor 5)",
            s(&sock)
        )),
        "{out}"
    );
    // Over TCP, through relay, with the address given and checked against the socket's.
    let echo = dir.path().join("echo.sock");
    let mut c = ud(&["listen", "--echo"]);
    c.arg(&echo).stdin(Stdio::null()).stdout(Stdio::null());
    let _echo = Bg::spawn(c, dir.path(), "echo");
    wait_for_socket(&echo);
    let out = hand_over("stream", "tcp", &["relay", s(&echo)]);
    assert!(out.contains("echo handed over\n"), "{out}");
    assert!(out.contains("listening on tcp:127.0.0.1:"), "{out}");
    let out = hand_over("listening", "tcp", &["relay", "tcp:127.0.0.1:1", s(&echo)]);
    assert!(out.lines().any(|l| l == "exit 2"), "{out}");
    assert!(
        out.contains("udskit: error: descriptor 5 is bound to tcp:127.0.0.1:"),
        "{out}"
    );
    assert!(out.contains(", not tcp:127.0.0.1:1\n"), "{out}");
}

#[test]
fn an_inherited_socket_of_the_wrong_kind_is_a_usage_error() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    for (kind, path, args, words) in [
        (
            "dgram",
            p("d1.sock"),
            vec!["listen"],
            "descriptor 5 is a unix datagram socket; this subcommand takes a listening unix \
             or TCP stream socket\nhint: recvfrom (or relay) serves a datagram socket",
        ),
        (
            "unlistened",
            p("u.sock"),
            vec!["listen", "--echo"],
            "descriptor 5 is a unix stream socket that does not listen\nhint: pass a socket \
             after listen(2)",
        ),
        (
            "listening",
            p("s.sock"),
            vec!["recvfrom"],
            "descriptor 5 is a unix stream socket; this subcommand takes a unix datagram socket",
        ),
        (
            "listening",
            p("q.sock"),
            vec!["listen", "--seqpacket"],
            "descriptor 5 is a unix stream socket; this subcommand takes a listening unix \
             seqpacket socket\nhint: leave out --seqpacket to serve a stream socket",
        ),
        (
            "dgram",
            "tcp".to_string(),
            vec!["recvfrom"],
            "descriptor 5 is an IPv4 datagram socket; this subcommand takes a unix datagram socket",
        ),
        (
            "dgram",
            p("d2.sock"),
            vec!["recvfrom", "--mode", "600"],
            "--mode and --force are for a socket udskit binds",
        ),
    ] {
        let out = hand_over(kind, &path, &args);
        assert!(out.lines().any(|l| l == "exit 2"), "{args:?}: {out}");
        assert!(
            out.contains(&format!("udskit: error: {words}")),
            "{args:?}: {out}"
        );
    }
    // Not a socket, and not open.
    let file = dir.path().join("plain");
    std::fs::write(&file, "x").unwrap();
    let o = run_with_input(
        {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!(
                    "exec {} --color=never listen --listen-fd 7 7<{}",
                    env!("CARGO_BIN_EXE_udskit"),
                    s(&file)
                ))
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default());
            c
        },
        b"",
        T,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr_of(&o)
            .contains("udskit: error: descriptor 7 is not a socket (it is a regular file)"),
        "{}",
        stderr_of(&o)
    );
    let o = run_with_input(ud(&["listen", "--listen-fd", "9"]), b"", T);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr_of(&o).contains("--listen-fd 9: descriptor 9 is not open"),
        "{}",
        stderr_of(&o)
    );
    let o = run_with_input(ud(&["recvfrom"]), b"", T);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr_of(&o).contains("no address to serve on"),
        "{}",
        stderr_of(&o)
    );
    // relay with one address and nothing handed over: TARGET alone is not enough.
    let o = run_with_input(ud(&["relay", "tcp:0"]), b"", T);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr_of(&o).contains(
            "relay takes LISTEN TARGET; only one address was given (tcp:127.0.0.1:0, read as \
             TARGET)\nhint: LISTEN may be left out only"
        ),
        "{}",
        stderr_of(&o)
    );
}

#[test]
fn a_listen_fds_that_cannot_be_taken_is_told_why() {
    if !have("python3") {
        return;
    }
    // LISTEN_FDS for this very process (sh execs into udskit, keeping its pid), unreadable.
    for (fds, words) in [
        ("abc", "LISTEN_FDS=abc is not a number of descriptors"),
        (
            "3",
            "LISTEN_FDS=3 names descriptors 3 to 5, and not all of them are open",
        ),
    ] {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!(
                "LISTEN_PID=$$ LISTEN_FDS={fds} exec {} --color=never relay tcp:127.0.0.1:1",
                env!("CARGO_BIN_EXE_udskit")
            ))
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID");
        let o = run_with_input(c, b"", T);
        assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));
        assert!(
            stderr_of(&o).contains(&format!("udskit: error: {words}\n")),
            "{}",
            stderr_of(&o)
        );
    }
    // Passed to another pid (a wrapper that forked): the socket is still open here, and
    // binding its address says whose it is and why it was not taken.
    let dir = tempdir();
    let sock = dir.path().join("passed.sock");
    let mut c = python(
        "import os,socket,sys\n\
         s=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(4)\n\
         fd=s.detach()\n\
         if fd!=3: os.dup2(fd,3); os.close(fd)\n\
         os.set_inheritable(3,True)\n\
         env=dict(os.environ,LISTEN_FDS='1',LISTEN_PID='1')\n\
         os.execve(sys.argv[2],sys.argv[2:],env)\n",
    );
    c.arg(&sock).arg(env!("CARGO_BIN_EXE_udskit")).args([
        "--color=never",
        "relay",
        s(&sock),
        "tcp:127.0.0.1:1",
    ]);
    let o = run_with_input(c, b"", T);
    assert_eq!(o.status.code(), Some(1), "{}", stderr_of(&o));
    let err = stderr_of(&o);
    assert!(
        err.contains("is in use by this process itself (a descriptor it was started with)\n")
            && err.contains("hint: LISTEN_FDS=1 is for pid 1, not for this process"),
        "{err}"
    );
    assert!(is_socket(&sock), "the socket file is left as it was");
}

#[test]
fn ready_is_sent_for_a_socket_udskit_binds_too() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("bound.sock");
    let notify_at = dir.path().join("notify");
    let notify = notify_receiver(s(&notify_at), dir.path());
    let mut c = ud(&["listen", "--echo"]);
    c.arg(&sock)
        .env("NOTIFY_SOCKET", &notify_at)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut server = Bg::spawn(c, dir.path(), "server");
    let (st, said) = notify.finish(T);
    assert!(st.success());
    assert_eq!(
        String::from_utf8(said).unwrap(),
        format!("READY=1\nSTATUS=listening on unix:{} (stream)\n", s(&sock))
    );
    server.signal(15);
    server.wait_exit(T);
    // Bound by us, so removed by us.
    assert!(!sock.exists());
}

#[test]
fn exec_commands_inherit_neither_the_variables_nor_the_socket() {
    if !have("systemd-socket-activate") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("exec.sock");
    let mut sa = activated(
        &["-l", s(&sock), "-E", "NOTIFY_SOCKET=@udskit-nobody-listens"],
        &[
            "listen",
            "--exec",
            "env | grep -E '^(LISTEN_|NOTIFY_SOCKET)'; [ -e /dev/fd/3 ] && echo fd 3 open; echo done",
        ],
        dir.path(),
        "sa",
    );
    assert_eq!(echo_through(&sock, b""), b"done\n");
    sa.signal(15);
    sa.wait_exit(T);
}

/// A UDP socket handed to relay (LISTEN left out) makes a UDP -> unix datagram relay, each
/// datagram whole.
#[test]
fn relay_takes_an_inherited_udp_socket() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sink = dir.path().join("sink.sock");
    let mut c = python(
        r#"
import os, socket, subprocess, sys, time
sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sink.bind(sys.argv[1])
sink.settimeout(20)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
os.dup2(u.fileno(), 5)
p = subprocess.Popen(sys.argv[2:] + [sys.argv[1], "--listen-fd", "5"], pass_fds=[5],
                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
os.close(5)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sent = [bytes([i]) * (100 + i * 997) for i in range(10)]
for d in sent:
    c.sendto(d, u.getsockname())
got = [sink.recv(65536) for _ in sent]
print("same", got == sent)
p.terminate()
err = p.communicate(timeout=20)[1].decode()
print("exit", p.returncode)
sys.stdout.write(err)
"#,
    );
    c.arg(&sink)
        .arg(env!("CARGO_BIN_EXE_udskit"))
        .arg("--color=never")
        .arg("relay");
    let o = run_with_input(c, b"", Duration::from_secs(60));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", stderr_of(&o));
    assert!(out.contains("same True\nexit 143\n"), "{out}");
    assert!(out.contains("listening on udp:127.0.0.1:"), "{out}");
    assert!(
        out.contains("for every interface; inherited: descriptor 5)"),
        "{out}"
    );
    assert!(out.contains("relaying datagrams to unix:"), "{out}");
}
