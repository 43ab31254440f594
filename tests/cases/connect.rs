//! `udskit connect`: byte-exact bridging against socat, Python and udskit, half-close,
//! --wait, abstract names, long paths, seqpacket, signals, and every error message.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::listen::{PY_HOLDER, PY_STALE};
use crate::support::peers::{have, python, unaccepting_tcp_listener};
use crate::support::*;

const T: Duration = Duration::from_secs(30);

fn connect(addr: impl AsRef<std::ffi::OsStr>, extra: &[&str], input: &[u8]) -> Output {
    let mut c = ud(&["connect"]);
    c.args(extra).arg(addr);
    run_with_input(c, input, T)
}

fn err_is(out: &Output, want: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(out));
    assert_eq!(stderr_of(out), want);
}

#[test]
fn half_close_gets_the_whole_answer() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    // A server that reads until EOF, then answers with what it got, reversed.
    let mut server = python(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen()\n\
         print('ready',file=sys.stderr,flush=True)\nc,_=s.accept()\nd=b''\n\
         while True:\n  b=c.recv(65536)\n  if not b: break\n  d+=b\nc.sendall(d[::-1])\nc.close()",
    );
    server.arg(&sock).stdout(Stdio::null());
    let mut server = Bg::spawn(server, dir.path(), "py");
    server.wait_stderr("ready");
    let out = connect(&sock, &[], b"hello world");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"dlrow olleh");
}

/// 10 MB each way against socat listeners, compared by sha256.
#[test]
fn socat_listener_10mb_both_directions() {
    if !have("socat") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    let data = dir.path().join("data");
    std::fs::write(&data, random_bytes(10 << 20)).unwrap();
    let want = sha256_file(&data);

    // connect -> socat
    let got = dir.path().join("got1");
    let mut s = Command::new("socat");
    s.arg("-u")
        .arg(format!("UNIX-LISTEN:{}", sock.display()))
        .arg(format!("CREATE:{}", got.display()));
    let mut socat = Bg::spawn(s, dir.path(), "socat1");
    wait_for_socket(&sock);
    let st = ud(&["connect", "--wait", "5s"])
        .arg(&sock)
        .stdin(File::open(&data).unwrap())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    assert!(socat.wait_exit(T).success());
    assert_eq!(sha256_file(&got), want, "connect -> socat");

    // socat -> connect
    let _ = std::fs::remove_file(&sock);
    let got = dir.path().join("got2");
    let mut s = Command::new("socat");
    s.arg("-u")
        .arg(format!("OPEN:{}", data.display()))
        .arg(format!("UNIX-LISTEN:{}", sock.display()));
    let mut socat = Bg::spawn(s, dir.path(), "socat2");
    wait_for_socket(&sock);
    let st = ud(&["connect", "--wait", "5s"])
        .arg(&sock)
        .stdin(Stdio::null())
        .stdout(File::create(&got).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    assert!(socat.wait_exit(T).success());
    assert_eq!(sha256_file(&got), want, "socat -> connect");
}

/// udskit on both ends, 10 MB each way at once (listen's stdin to connect's stdout and
/// connect's stdin to listen's stdout), compared by sha256.
#[test]
fn udskit_to_udskit_10mb_both_directions() {
    let dir = tempdir();
    let sock = dir.path().join("u.sock");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::write(&a, random_bytes(10 << 20)).unwrap();
    std::fs::write(&b, random_bytes(10 << 20)).unwrap();
    let (a_got, b_got) = (dir.path().join("a.got"), dir.path().join("b.got"));
    let mut l = ud(&["listen"]);
    l.arg(&sock)
        .stdin(File::open(&a).unwrap())
        .stdout(File::create(&b_got).unwrap());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    server.wait_stderr("udskit: listening on");
    let st = ud(&["connect"])
        .arg(&sock)
        .stdin(File::open(&b).unwrap())
        .stdout(File::create(&a_got).unwrap())
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(server.wait_exit(T).code(), Some(0), "{}", server.stderr());
    assert_eq!(sha256_file(&a_got), sha256_file(&a), "listen -> connect");
    assert_eq!(sha256_file(&b_got), sha256_file(&b), "connect -> listen");
}

#[test]
fn missing_socket_and_directory_are_named() {
    let dir = tempdir();
    let sock = dir.path().join("nope.sock");
    err_is(
        &connect(&sock, &[], b""),
        &format!(
            "udskit: error: connecting to unix:{}: no such file\n\
             hint: is the server running? `udskit ls` lists the sockets that are listening\n",
            sock.display()
        ),
    );
    let deep = dir.path().join("no/such/dir/s.sock");
    err_is(
        &connect(&deep, &[], b""),
        &format!(
            "udskit: error: connecting to unix:{}: no such file or directory: {} does not exist\n",
            deep.display(),
            deep.parent().unwrap().display()
        ),
    );
    let out = connect("localhost:80", &[], b"");
    assert!(
        stderr_of(&out)
            .contains("hint: a bare argument is a socket path; for TCP write tcp:localhost:80"),
        "{}",
        stderr_of(&out)
    );
}

#[test]
fn stale_socket_is_connection_refused() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("stale.sock");
    assert!(python(PY_STALE).arg(&sock).status().unwrap().success());
    let p = sock.display();
    err_is(
        &connect(&sock, &[], b""),
        &format!(
            "udskit: error: connecting to unix:{p}: connection refused: nothing is listening on this socket file\n\
             hint: {p} is a stale socket: the server that created it is gone; restart the server (udskit servers replace a dead socket)\n"
        ),
    );
}

/// A socket bound and not listening yet (a server between bind and listen) refuses too,
/// but is no stale one: the hint says it is still bound, never that its server is gone.
#[test]
fn bound_but_not_listening_is_not_called_stale() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("early.sock");
    let mut early = python(&format!(
        "import socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.bind({:?})\n\
         print('bound',file=sys.stderr,flush=True)\ntime.sleep(60)",
        sock.to_str().unwrap()
    ));
    early.stdout(Stdio::null());
    let mut early = Bg::spawn(early, dir.path(), "early");
    early.wait_stderr("bound");
    let p = sock.display();
    err_is(
        &connect(&sock, &[], b""),
        &format!(
            "udskit: error: connecting to unix:{p}: connection refused: nothing is listening on this socket file\n\
             hint: a socket is still bound to {p}, but it does not listen: its server has not called listen(2) yet (try again, or --wait) or stopped listening; `udskit ls -a` shows who holds it\n"
        ),
    );
}

/// A root-owned 0600 socket, and a client running as nobody: the message shows the mode,
/// the owner, and who we are. A closed directory on the way is named too.
#[test]
fn permission_denied_shows_mode_owner_and_our_ids() {
    if !have("runuser") || !is_root() {
        return;
    }
    let dir = tempdir();
    open_dir_to_all(dir.path());
    let sock = dir.path().join("root.sock");
    let mut server = Bg::spawn(
        {
            let mut c = ud(&["listen", "-k", "--mode", "600"]);
            c.arg(&sock).stdout(Stdio::null());
            c
        },
        dir.path(),
        "listen",
    );
    server.wait_stderr("udskit: listening on");
    let as_nobody = |path: &Path| {
        let mut c = Command::new("/usr/sbin/runuser");
        c.args([
            "-u",
            "nobody",
            "--",
            env!("CARGO_BIN_EXE_udskit"),
            "--color=never",
        ])
        .arg("connect")
        .arg(path)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        run_with_input(c, b"", T)
    };
    let p = sock.display();
    err_is(
        &as_nobody(&sock),
        &format!(
            "udskit: error: connecting to unix:{p}: permission denied\n\
             hint: {p} is srw------- (mode 600) owned by root:root; connecting needs write permission on it. \
             You are uid 65534 (nobody), groups 65534 (nogroup)\n"
        ),
    );
    let closed = dir.path().join("closed");
    std::fs::create_dir(&closed).unwrap();
    std::fs::set_permissions(&closed, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let inner = closed.join("s.sock");
    err_is(
        &as_nobody(&inner),
        &format!(
            "udskit: error: connecting to unix:{}: permission denied\n\
             hint: the directory {} is drwx------ owned by root:root and does not let you through (search permission is missing). \
             You are uid 65534 (nobody), groups 65534 (nogroup)\n",
            inner.display(),
            closed.display()
        ),
    );
}

#[test]
fn regular_file_is_not_a_socket() {
    let dir = tempdir();
    let file = dir.path().join("file.txt");
    std::fs::write(&file, "x").unwrap();
    err_is(
        &connect(&file, &[], b""),
        &format!(
            "udskit: error: connecting to unix:{}: not a socket (it is a regular file)\n",
            file.display()
        ),
    );
}

/// A stream connect to a datagram socket, and a seqpacket connect to a stream listener.
#[test]
fn wrong_socket_type_is_named() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let dgram = dir.path().join("d.sock");
    let mut py = python(
        "import socket,sys,time\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n\
         s.bind(sys.argv[1])\nprint('ready',file=sys.stderr,flush=True)\ntime.sleep(120)",
    );
    py.arg(&dgram);
    let mut py = Bg::spawn(py, dir.path(), "dgram");
    py.wait_stderr("ready");
    err_is(
        &connect(&dgram, &[], b""),
        &format!(
            "udskit: error: connecting to unix:{}: not a stream socket: it is a datagram socket\n\
             hint: for a datagram socket use `udskit sendto`\n",
            dgram.display()
        ),
    );
    let stream = dir.path().join("s.sock");
    let mut h = python(PY_HOLDER);
    h.arg(&stream);
    let mut h = Bg::spawn(h, dir.path(), "holder");
    h.wait_stderr("ready");
    err_is(
        &connect(&stream, &["--seqpacket"], b""),
        &format!(
            "udskit: error: connecting to unix:{}: not a seqpacket socket: it is a stream socket\n\
             hint: leave out --seqpacket for a stream socket\n",
            stream.display()
        ),
    );
}

/// `connect --wait` started before the listener exists: it connects once the listener is up.
#[test]
fn wait_races_a_late_listener() {
    let dir = tempdir();
    let sock = dir.path().join("late.sock");
    let mut c = ud(&["connect", "--wait", "10s"]);
    c.arg(&sock);
    let mut client = Bg::spawn_piped(c, dir.path(), "connect");
    assert!(!sock.exists());
    let mut stdin = client.child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"ping").unwrap();
    drop(stdin);
    assert!(
        client.child.try_wait().unwrap().is_none(),
        "connect gave up before the listener started"
    );
    let _server = {
        let mut l = ud(&["listen", "--echo", "--count", "1"]);
        l.arg(&sock).stdout(Stdio::null());
        Bg::spawn(l, dir.path(), "listen")
    };
    let (st, out) = client.finish(T);
    assert!(st.success());
    assert_eq!(out, b"ping");
}

#[test]
fn wait_times_out_naming_the_cause() {
    let dir = tempdir();
    let sock = dir.path().join("never.sock");
    let started = Instant::now();
    let out = connect(&sock, &["--wait", "300ms"], b"");
    assert!(started.elapsed() >= Duration::from_millis(300));
    err_is(
        &out,
        &format!(
            "udskit: error: connecting to unix:{}: no such file (still, after waiting 300ms)\n\
             hint: is the server running? `udskit ls` lists the sockets that are listening\n",
            sock.display()
        ),
    );
    if !have("python3") {
        return;
    }
    assert!(python(PY_STALE).arg(&sock).status().unwrap().success());
    let out = connect(&sock, &["--wait", "0.2"], b"");
    assert!(
        stderr_of(&out).starts_with(&format!(
            "udskit: error: connecting to unix:{}: connection refused: nothing is listening on this socket file (still, after waiting 200ms)\n",
            sock.display()
        )),
        "{}",
        stderr_of(&out)
    );
}

/// A TCP connect that hangs (SYNs dropped by a full accept queue) ends when --wait or
/// --connect-timeout says, with a message naming which one: never a hang.
#[test]
fn wait_and_connect_timeout_bound_a_hanging_tcp_connect() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_full, port) = unaccepting_tcp_listener(dir.path());
    let addr = format!("tcp:{port}");
    let within = |what: &str| {
        format!("udskit: error: connecting to tcp:127.0.0.1:{port}: no connection within {what}\n")
    };
    err_is(
        &connect(&addr, &["--wait", "1s"], b""),
        &within("1s (--wait)"),
    );
    err_is(
        &connect(&addr, &["--connect-timeout", "300ms"], b""),
        &within("300ms (--connect-timeout)"),
    );
    // Attempts that time out are retried while --wait lasts.
    err_is(
        &connect(&addr, &["--wait", "1s", "--connect-timeout", "200ms"], b""),
        &within("1s (--wait)"),
    );
}

/// Abstract names both ways with Python ("\0name"), and the message when nothing is bound.
#[test]
fn abstract_names_with_python() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let name = format!("udskit-connect-{}", std::process::id());
    let mut py = python(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind('\\0'+sys.argv[1])\ns.listen()\n\
         print('ready',file=sys.stderr,flush=True)\nc,_=s.accept()\nc.sendall(c.recv(100).upper())\nc.close()",
    );
    py.arg(&name);
    let mut py = Bg::spawn(py, dir.path(), "py");
    py.wait_stderr("ready");
    let out = connect(format!("@{name}"), &[], b"abstract");
    assert_eq!(out.stdout, b"ABSTRACT", "{}", stderr_of(&out));
    let out = connect(format!("abstract:{name}-none"), &[], b"");
    err_is(
        &out,
        &format!(
            "udskit: error: connecting to @{name}-none: connection refused: nothing is bound to this abstract name\n"
        ),
    );
}

/// A path longer than sun_path's 107 bytes works for listen and connect (through
/// /proc/self/fd/N/NAME); a file name too long even for that fails clearly, never truncated.
#[test]
fn long_paths_work_or_fail_clearly() {
    let dir = tempdir();
    let deep = dir.path().join("d".repeat(60)).join("e".repeat(60));
    std::fs::create_dir_all(&deep).unwrap();
    let sock = deep.join("long.sock");
    assert!(sock.as_os_str().len() > 107);
    let mut l = ud(&["listen", "--echo", "--count", "1"]);
    l.arg(&sock).stdout(Stdio::null());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    server.wait_stderr("udskit: listening on");
    assert!(std::os::unix::fs::FileTypeExt::is_socket(
        &std::fs::symlink_metadata(&sock).unwrap().file_type()
    ));
    let out = connect(&sock, &[], b"through /proc/self/fd");
    assert_eq!(out.stdout, b"through /proc/self/fd", "{}", stderr_of(&out));
    assert_eq!(server.wait_exit(T).code(), Some(0));
    assert!(!sock.exists(), "long-path socket left behind");

    let too_long = deep.join("n".repeat(100));
    let n = too_long.as_os_str().len();
    for (sub, verb) in [("listen", "binding"), ("connect", "connecting to")] {
        let out = run_with_input(
            {
                let mut c = ud(&[sub]);
                c.arg(&too_long);
                c
            },
            b"",
            T,
        );
        err_is(
            &out,
            &format!(
                "udskit: error: {verb} unix:{}: the path is {n} bytes, more than a unix socket address holds even through /proc/self/fd\n\
                 hint: a socket path can be at most 107 bytes, or its file name about 90 bytes inside a longer directory path; use a shorter name\n",
                too_long.display()
            ),
        );
    }
    assert!(!too_long.exists());
}

/// --seqpacket against a Python SOCK_SEQPACKET server: stdin arrives as a record, the
/// server's records come out on stdout.
#[test]
fn seqpacket_with_python_server() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("q.sock");
    let mut py = python(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_SEQPACKET)\ns.bind(sys.argv[1])\n\
         s.listen()\nprint('ready',file=sys.stderr,flush=True)\nc,_=s.accept()\nm=c.recv(1000)\n\
         c.send(b'got %d bytes: ' % len(m))\nc.send(m)\nassert c.recv(10)==b''\nc.close()",
    );
    py.arg(&sock);
    let mut py = Bg::spawn(py, dir.path(), "py");
    py.wait_stderr("ready");
    let out = connect(&sock, &["--seqpacket"], b"record\x00\xff");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"got 8 bytes: record\x00\xff");
    assert!(py.wait_exit(T).success(), "{}", py.stderr());
}

/// An empty SOCK_SEQPACKET record reads as 0 bytes, as the end does: it is skipped, not
/// taken for the end, also when the server has closed right after it and a record is left.
#[test]
fn seqpacket_empty_records_are_not_the_end() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("q.sock");
    let mut py = python(
        "import socket,sys,time
s=socket.socket(socket.AF_UNIX,socket.SOCK_SEQPACKET)
\
         s.bind(sys.argv[1])
s.listen()
print('ready',file=sys.stderr,flush=True)
\
         c,_=s.accept()
for m in [b'one', b'', b'two']: c.send(m)
time.sleep(0.3)
\
         for m in [b'', b'three', b'', b'', b'four']: c.send(m)
c.close()",
    );
    py.arg(&sock);
    let mut py = Bg::spawn(py, dir.path(), "py");
    py.wait_stderr("ready");
    let out = connect(&sock, &["--seqpacket", "-q", "never"], b"");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "onetwothreefour");
}

/// `connect ... | head -c 10`: the reader going away is not an error.
#[test]
fn closed_stdout_exits_0() {
    let dir = tempdir();
    let sock = dir.path().join("c.sock");
    let mut l = ud(&["listen", "--echo"]);
    l.arg(&sock).stdout(Stdio::null());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    server.wait_stderr("udskit: listening on");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "head -c 20000000 /dev/zero | {} --color=never connect \"$0\" | head -c 10 | wc -c; echo \"connect exited ${{PIPESTATUS[1]}}\"",
            env!("CARGO_BIN_EXE_udskit")
        ))
        .arg(&sock)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "10\nconnect exited 0\n",
        "{}",
        stderr_of(&out)
    );
}

/// The server closes while our stdin stays open (a terminal nobody types into, here a
/// pty from script(1) and a plain pipe): connect must exit 0 with the answer.
#[test]
fn exits_when_server_closes_while_stdin_stays_open() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("t.sock");
    let mut py = python(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen()\n\
         print('ready',file=sys.stderr,flush=True)\n\
         for _ in range(2):\n  c,_=s.accept()\n  c.sendall(b'bye\\n')\n  c.close()",
    );
    py.arg(&sock);
    let mut py = Bg::spawn(py, dir.path(), "py");
    py.wait_stderr("ready");

    let mut c = ud(&["connect"]);
    c.arg(&sock);
    let mut client = Bg::spawn_piped(c, dir.path(), "pipe");
    let _stdin_kept_open = client.child.stdin.take();
    let (st, out) = client.finish(Duration::from_secs(10));
    assert_eq!(st.code(), Some(0));
    assert_eq!(out, b"bye\n");

    if !have("script") {
        return;
    }
    let mut c = Command::new("script");
    c.arg("-qec")
        .arg(format!(
            "{} --color=never connect {}",
            env!("CARGO_BIN_EXE_udskit"),
            sock.display()
        ))
        .arg("/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut tty = Bg::spawn(c, dir.path(), "tty");
    let _keep = tty.child.stdin.take();
    let (st, out) = tty.finish(Duration::from_secs(10));
    assert!(st.success());
    assert_eq!(String::from_utf8_lossy(&out).trim_end(), "bye");
}

/// SIGTERM while stdout is blocked (nobody reads it): exit 143 promptly.
#[test]
fn sigterm_with_blocked_stdout_exits_143() {
    let dir = tempdir();
    let sock = dir.path().join("b.sock");
    let big = dir.path().join("big");
    std::fs::write(&big, vec![1u8; 8 << 20]).unwrap();
    let mut l = ud(&["listen"]);
    l.arg(&sock)
        .stdin(File::open(&big).unwrap())
        .stdout(Stdio::null());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    server.wait_stderr("udskit: listening on");
    let mut c = ud(&["connect"]);
    c.arg(&sock);
    let mut client = Bg::spawn_piped(c, dir.path(), "connect");
    let _stdin = client.child.stdin.take();
    let _stdout_never_read = client.child.stdout.take();
    server.wait_stderr("client #1 connected");
    // Give the pipes time to fill: the bridge then sits blocked on stdout.
    wait_until(Duration::from_secs(10), "connect's stdout to fill", || {
        std::fs::read_to_string(format!("/proc/{}/status", client.pid()))
            .is_ok_and(|s| s.contains("State:\tS"))
    });
    client.signal(15);
    let started = Instant::now();
    assert_eq!(client.wait_exit(Duration::from_secs(10)).code(), Some(143));
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// Stdin and stdout pipes left in O_NONBLOCK mode by whoever shares them (EAGAIN must mean
/// "wait", not an error), with 4 MiB echoed through a reader that starts late.
#[test]
fn nonblocking_stdio_pipes() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("n.sock");
    let mut l = ud(&["listen", "--echo", "--count", "1"]);
    l.arg(&sock).stdout(Stdio::null());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    server.wait_stderr("udskit: listening on");
    let out = python(
        r#"
import os, subprocess, sys, threading, time
data = os.urandom(4 << 20)
ir, iw = os.pipe(); orr, ow = os.pipe()
os.set_blocking(ir, False); os.set_blocking(ow, False)
p = subprocess.Popen([sys.argv[1], '--color=never', 'connect', sys.argv[2]], stdin=ir, stdout=ow)
os.close(ir); os.close(ow)
def feed():
    for i in range(0, len(data), 100000):
        os.write(iw, data[i:i + 100000])
        time.sleep(0.001)
    os.close(iw)
threading.Thread(target=feed).start()
time.sleep(0.3)  # let connect's stdout pipe fill up first
got = bytearray()
while True:
    b = os.read(orr, 1 << 16)
    if not b: break
    got += b
print(p.wait(), got == data)
"#,
    )
    .arg(env!("CARGO_BIN_EXE_udskit"))
    .arg(&sock)
    .output()
    .unwrap();
    assert_eq!(out.stdout, b"0 True\n", "{}", stderr_of(&out));
    assert_eq!(server.wait_exit(T).code(), Some(0));
}

/// True once `pid` has a handler for `sig` (SigCgt in /proc): signals sent earlier would
/// meet the default action instead of our clean stop.
fn catches(pid: i32, sig: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("SigCgt:"))?;
            u64::from_str_radix(line.split_whitespace().nth(1)?, 16).ok()
        })
        .is_some_and(|mask| mask & (1 << (sig - 1)) != 0)
}

/// SIGTERM while `--wait` is still retrying: a clean stop, exit 143.
#[test]
fn sigterm_during_wait_exits_143() {
    let dir = tempdir();
    let mut c = ud(&["connect", "--wait", "60s"]);
    c.arg(dir.path().join("never.sock"))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut client = Bg::spawn(c, dir.path(), "connect");
    wait_until(Duration::from_secs(10), "connect's SIGTERM handler", || {
        catches(client.pid(), 15)
    });
    client.signal(15);
    assert_eq!(client.wait_exit(Duration::from_secs(10)).code(), Some(143));
}

/// A scripted server (python): `python3 -c PY_SCENES unix PATH SCENE` or `tcp 0 SCENE`,
/// `ready` (or `port N`) on stderr once it listens; every client gets its own thread:
/// - `keepalive` reads a request to its blank line, answers in two pieces 0.3 s apart and
///   keeps the connection open (HTTP/1.1 keep-alive);
/// - `slow` the same, but first computes for 1.5 s, longer than connect's default quiet;
/// - `pause` answers `part1`, pauses 3 s (three times the default quiet: under load, 1.5 s
///   was once too little), sends `part2` and closes;
/// - `silent` reads and never answers, the connection open;
/// - `fin` closes at once, before reading anything;
/// - `reset12` sends 12 bytes and resets the connection (SO_LINGER 0) once they are taken;
/// - `bye` reads one line, answers `bye`, and closes with the rest unread.
const PY_SCENES: &str = r#"
import socket,sys,time,threading,struct,os
fam,where,scene=sys.argv[1:4]
if fam=='unix':
    s=socket.socket(socket.AF_UNIX); s.bind(where)
else:
    s=socket.socket(); s.bind(('127.0.0.1',0))
s.listen(64)
print('ready' if fam=='unix' else 'port %d'%s.getsockname()[1],file=sys.stderr,flush=True)
ANSWER=b'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n'
def request(c):
    d=b''
    while b'\r\n\r\n' not in d:
        b=c.recv(4096)
        if not b: break
        d+=b
def serve(c):
    if scene in ('keepalive','slow'):
        request(c)
        if scene=='slow': time.sleep(1.5)
        c.sendall(ANSWER); time.sleep(0.3); c.sendall(b'hello'); time.sleep(60)
    elif scene=='pause':
        request(c); c.sendall(b'part1\n'); time.sleep(3); c.sendall(b'part2\n'); c.close()
    elif scene=='silent':
        request(c); time.sleep(60)
    elif scene=='fin':
        c.close()
    elif scene=='reset12':
        c.sendall(b'twelve bytes'); time.sleep(0.3)
        c.setsockopt(socket.SOL_SOCKET,socket.SO_LINGER,struct.pack('ii',1,0)); c.close()
    elif scene=='bye':
        d=b''
        while b'\n' not in d:
            b=c.recv(1)
            if not b: break
            d+=b
        c.sendall(b'bye\n'); c.close()
    elif scene=='shutrd':
        c.shutdown(socket.SHUT_RD); c.sendall(b'bye\n'); time.sleep(60)
while True:
    c,_=s.accept()
    threading.Thread(target=serve,args=(c,),daemon=True).start()
"#;

/// Starts a [`PY_SCENES`] server on a unix socket in `dir`; returns it and the socket.
fn scene_unix(dir: &Path, scene: &str) -> (Bg, std::path::PathBuf) {
    let sock = dir.join(format!("{scene}.sock"));
    let mut c = python(PY_SCENES);
    c.arg("unix").arg(&sock).arg(scene).stdout(Stdio::null());
    let mut bg = Bg::spawn(c, dir, scene);
    bg.wait_stderr("ready");
    (bg, sock)
}

/// [`scene_unix`] on a TCP port of 127.0.0.1; returns it and `tcp:PORT`.
fn scene_tcp(dir: &Path, scene: &str) -> (Bg, String) {
    let mut c = python(PY_SCENES);
    c.args(["tcp", "0", scene]).stdout(Stdio::null());
    let mut bg = Bg::spawn(c, dir, &format!("{scene}-tcp"));
    let err = bg.wait_stderr("\n");
    let port = err.trim().strip_prefix("port ").unwrap().to_string();
    (bg, format!("tcp:{port}"))
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
const WHOLE_ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/// The default after stdin's end, one side: a keep-alive server that answers and keeps
/// the connection open is left once it has been quiet, with its whole answer (sent in two
/// pieces) on stdout, exit 0, and the ending named on stderr.
#[test]
fn keep_alive_server_is_left_after_its_whole_answer() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_server, sock) = scene_unix(dir.path(), "keepalive");
    let out = connect(&sock, &[], REQUEST);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(out.stdout, WHOLE_ANSWER);
    assert_eq!(
        stderr_of(&out),
        "udskit: the server answered and kept the connection open: closed it after 1s \
         without data (the default after stdin's end; -q DURATION or -q never to choose)\n"
    );
    // The global -q silences the notice, before or after `connect`.
    for args in [&["-q"][..], &["--quiet"]] {
        let out = connect(&sock, args, REQUEST);
        assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
        assert_eq!(out.stdout, WHOLE_ANSWER);
        assert_eq!(stderr_of(&out), "", "{args:?}");
    }
    let mut c = ud(&["-q", "connect"]);
    c.arg(&sock);
    let out = run_with_input(c, REQUEST, T);
    assert_eq!(out.stdout, WHOLE_ANSWER);
    assert_eq!(stderr_of(&out), "");
}

/// The default, the other side: a server that computes for longer than the default quiet
/// before its first byte is waited for, and its whole answer arrives.
#[test]
fn slow_server_is_not_cut_before_its_first_byte() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_server, sock) = scene_unix(dir.path(), "slow");
    let out = connect(&sock, &[], REQUEST);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(out.stdout, WHOLE_ANSWER);
}

/// `-q DURATION` is nc's -q: at most that long after stdin's end, answer or not (`-q 0`
/// leaves at once: the slow server's answer never comes); `-q never` waits for the server
/// to close, through a pause longer than the default quiet, which the default cuts.
#[test]
fn quit_after_bounds_the_wait_and_never_waits_for_the_close() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_slow, slow) = scene_unix(dir.path(), "slow");
    for args in [
        &["-q", "0"][..],
        &["--quit-after", "0"],
        &["--quit=0"],
        &["-q0"],
    ] {
        let out = connect(&slow, args, REQUEST);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr_of(&out));
        assert_eq!(out.stdout, b"", "{args:?}");
        assert_eq!(stderr_of(&out), "", "{args:?}");
    }
    let (_pause, pause) = scene_unix(dir.path(), "pause");
    let out = connect(&pause, &["-q", "never"], REQUEST);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"part1\npart2\n");
    assert_eq!(stderr_of(&out), "");
    let out = connect(&pause, &[], REQUEST);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"part1\n");
    // A value that is no DURATION after -q reads as one anyway when it starts like a
    // number, so the mistake is named instead of taken for a socket path.
    let out = connect(&pause, &["-q", "1x"], REQUEST);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("'1x' is not a duration")
            && stderr_of(&out).contains("write --quiet or `udskit -q connect`"),
        "{}",
        stderr_of(&out)
    );
}

/// `-w` is nc's -w: a connection silent both ways that long is closed (exit 0, named on
/// stderr), and the connect itself is bounded by it.
#[test]
fn idle_timeout_ends_silence_and_bounds_the_connect() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_server, sock) = scene_unix(dir.path(), "silent");
    let out = connect(&sock, &["-w", "300ms"], REQUEST);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(out.stdout, b"");
    assert_eq!(
        stderr_of(&out),
        "udskit: closed the connection: nothing either way for 300ms (--idle-timeout)\n"
    );
    let (_full, port) = unaccepting_tcp_listener(dir.path());
    let out = connect(format!("tcp:{port}"), &["--idle-timeout", "300ms"], b"");
    err_is(
        &out,
        &format!(
            "udskit: error: connecting to tcp:127.0.0.1:{port}: no connection within 300ms \
             (--idle-timeout)\n"
        ),
    );
}

/// `-w 0` is no limit, as curl's `-m 0` is (it closed the connection at once).
#[test]
fn idle_timeout_zero_is_no_limit() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_server, sock) = scene_unix(dir.path(), "slow");
    let out = connect(&sock, &["-w", "0"], REQUEST);
    assert_eq!(out.status.code(), Some(0), "{}", stderr_of(&out));
    assert_eq!(out.stdout, WHOLE_ANSWER, "{}", stderr_of(&out));
}

/// The known bug: through a relay whose target is down, `echo x | connect` printed a raw
/// `Transport endpoint is not connected (os error 107)` and exited 1, or exited 0 about
/// one run in ten. The relay's close sent a FIN before the reset its bytes drew, so the
/// ending depended on which syscall of ours the kernel told (the shutdown after the reset
/// answers ENOTCONN). Now the relay resets, and connect keeps a reset reported to either
/// direction: every run says so and exits 1.
#[test]
fn relay_with_its_target_down_is_a_reset_every_time() {
    let dir = tempdir();
    let mut c = ud(&["relay", "tcp:0"]);
    c.arg(dir.path().join("dead.sock"));
    let mut relay = Bg::spawn(c, dir.path(), "relay");
    let log = relay.wait_stderr("relaying to");
    let port = log
        .split("tcp:127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .unwrap()
        .to_string();
    for i in 0..50 {
        let out = connect(format!("tcp:{port}"), &[], b"x\n");
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "run {i}: {err}");
        assert!(
            err.contains("the server reset the connection") && !err.contains("os error"),
            "run {i}: {err}"
        );
        assert!(err.contains("hint: a server resets a connection"), "{err}");
        assert_eq!(out.stdout, b"");
    }
}

/// A server that closes before reading what we sent (its FIN first, then the reset our
/// bytes draw): the reset may come after both directions ended, and is waited for.
#[test]
fn server_closing_without_reading_is_a_reset_every_time() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_server, addr) = scene_tcp(dir.path(), "fin");
    for i in 0..20 {
        let out = connect(&addr, &[], b"x\n");
        assert_eq!(out.status.code(), Some(1), "run {i}: {}", stderr_of(&out));
        assert!(
            stderr_of(&out).starts_with(&format!(
                "udskit: error: talking to {}: the server reset the connection",
                addr.replace("tcp:", "tcp:127.0.0.1:")
            )),
            "run {i}: {}",
            stderr_of(&out)
        );
    }
}

/// A server that has closed (its FIN here) before our first bytes, our stdin still open
/// after them: the reset those bytes draw comes while stdin is still being read, and is
/// the ending, exit 1 (connect left with exit 0, its bytes unaccounted for, when the reset
/// came after the FIN and stdin had not ended; the kernel reports that order as EPIPE).
#[test]
fn bytes_after_the_servers_close_are_an_error_with_stdin_still_open() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let mut server = Bg::spawn(
        python(
            "import socket,sys,time\n\
             s=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(8)\n\
             print('port %d'%s.getsockname()[1],file=sys.stderr,flush=True)\n\
             c,_=s.accept(); c.close()\n\
             print('closed',file=sys.stderr,flush=True)\n\
             time.sleep(60)\n",
        ),
        dir.path(),
        "server",
    );
    let port = server
        .wait_stderr("\n")
        .trim()
        .strip_prefix("port ")
        .unwrap()
        .to_string();
    let mut c = ud(&["connect"]);
    c.arg(format!("tcp:127.0.0.1:{port}"));
    let mut client = Bg::spawn_piped(c, dir.path(), "client");
    server.wait_stderr("closed");
    let mut stdin = client.child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"x\n").unwrap();
    let (st, out) = client.finish(T);
    drop(stdin);
    let err = std::fs::read_to_string(dir.path().join("client.stderr")).unwrap();
    assert_eq!(st.code(), Some(1), "{err}");
    assert_eq!(out, b"");
    assert!(
        err.starts_with(&format!(
            "udskit: error: talking to tcp:127.0.0.1:{port}: the server closed the connection \
             before taking all of our input (the server had sent nothing; we had sent 2 bytes)"
        )),
        "{err}"
    );
}

/// A reset after an answer: what was sent is on stdout, and the error names the counts.
#[test]
fn reset_after_an_answer_keeps_the_answer_and_names_the_counts() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_server, addr) = scene_tcp(dir.path(), "reset12");
    let mut c = ud(&["connect"]);
    c.arg(&addr);
    let mut client = Bg::spawn_piped(c, dir.path(), "client");
    let _stdin_kept_open = client.child.stdin.take();
    let (st, out) = client.finish(T);
    assert_eq!(st.code(), Some(1));
    assert_eq!(out, b"twelve bytes");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("client.stderr")).unwrap(),
        format!(
            "udskit: error: talking to {}: the server reset the connection (the server had \
             sent 12 bytes, which are on stdout; we had sent nothing)\n\
             hint: a server resets a connection when it exits or closes without reading what \
             it was sent; a relay or proxy does when its own target is down\n",
            addr.replace("tcp:", "tcp:127.0.0.1:")
        )
    );
}

/// A unix server that answers one line and closes with the rest of a large input unread:
/// its answer is on stdout, and the error says it did not take all of ours.
#[test]
fn server_that_stops_reading_is_named_with_its_answer_on_stdout() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_server, sock) = scene_unix(dir.path(), "bye");
    let mut input = b"hello\n".to_vec();
    input.extend(random_bytes(8 << 20));
    let out = connect(&sock, &[], &input);
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(out.stdout, b"bye\n");
    let said = |what: &str| {
        err.starts_with(&format!(
            "udskit: error: talking to unix:{}: the server {what} (the server had sent 4 bytes, \
             which are on stdout; we had sent ",
            sock.display()
        ))
    };
    assert!(
        said("closed the connection before taking all of our input")
            || said("reset the connection"),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
}

/// A unix server that shuts down its reading side at once (shutdown(SHUT_RD)), answers
/// and keeps the connection open: the input it never took is an error, exit 1, from a
/// pipe (splice) and from a file (sendfile) on stdin, not the quiet end of a keep-alive
/// answer (exit 0, most of stdin silently unsent, before).
#[test]
fn server_that_shuts_its_reading_side_is_an_error() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_server, sock) = scene_unix(dir.path(), "shutrd");
    let input = random_bytes(4 << 20);
    let file = dir.path().join("input");
    std::fs::write(&file, &input).unwrap();
    let from_pipe = connect(&sock, &[], &input);
    let mut c = ud(&["connect"]);
    c.arg(&sock).stdin(std::fs::File::open(&file).unwrap());
    let from_file = output_within(c, T);
    for out in [from_pipe, from_file] {
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(out.stdout, b"bye\n");
        // "any" when it took nothing (it shut its reading side at once), "all" otherwise.
        let ended = |how_much: &str| {
            err.starts_with(&format!(
                "udskit: error: talking to unix:{}: the server closed the connection before \
                 taking {how_much} of our input (the server had sent 4 bytes, which are on \
                 stdout; we had sent ",
                sock.display()
            ))
        };
        assert!(ended("any") || ended("all"), "{err}");
    }
}

/// nc's flags that udskit has no letter for are refused (exit 2) with a hint naming udskit's
/// way: -l is `listen`, -U is not needed, -u is sendto/recvfrom, -e/-c is listen's --exec.
#[test]
fn nc_flags_get_a_hint() {
    for (args, hint) in [
        (
            &["-lU", "/tmp/x.sock"][..],
            "nc's -l is `udskit listen ADDR`",
        ),
        (&["-lk", "8080"], "nc's -l is `udskit listen ADDR`"),
        (
            &["listen", "-l", "x.sock"],
            "nc's -l is the subcommand itself here",
        ),
        (&["connect", "-U", "x.sock"], "nc's -U is not needed"),
        (
            &["connect", "-uU", "x.sock"],
            "nc's -u (datagrams) is `udskit sendto ADDR DATA`",
        ),
        (
            &["sendto", "-u", "x.sock", "hi"],
            "nc's -u is not needed: sendto and recvfrom",
        ),
        (
            &["listen", "-e", "cat", "x.sock"],
            "`udskit listen ADDR --exec 'CMD'`",
        ),
        (
            &["listen", "-k", "-c", "cat", "x.sock"],
            "`udskit listen ADDR --exec 'CMD'`",
        ),
        (
            &["connect", "-e", "cat", "x.sock"],
            "nc's -e/-c is the server's",
        ),
    ] {
        let out = ud(args).output().unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with("udskit: error: unexpected argument '-"),
            "{args:?}: {err}"
        );
        assert!(
            err.contains("\nhint: nc's -") && err.contains(hint),
            "{args:?}: {err}"
        );
    }
    // Not an nc flag, or not under nc's subcommands (curl's -e, grpcurl's -unix): no hint.
    for args in [
        &["connect", "-Z", "x.sock"][..],
        &["http", "-e", "x", "x.sock", "/"],
        &["grpc", "-unix", "x.sock", "list"],
    ] {
        let out = ud(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            !stderr_of(&out).contains("nc's"),
            "{args:?}: {}",
            stderr_of(&out)
        );
    }
}

/// The two meanings of -q, where a user can trip: nc's `-q 1` before the subcommand, or
/// connect's options given to another subcommand. clap alone took the DURATION for a
/// subcommand, or suggested --quiet; the report says what was meant instead.
#[test]
fn misplaced_quit_after_is_pointed_to_connect() {
    let out = ud(&["-q", "1", "connect", "S"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).ends_with(
            "hint: -q before the subcommand is --quiet; for nc's -q write it after connect: \
             `udskit connect -q 1 ADDR`\n"
        ),
        "{}",
        stderr_of(&out)
    );
    let out = ud(&["listen", "--quit-after", "1", "S"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_of(&out),
        "udskit: error: unexpected argument '--quit-after' found\n\nUsage: udskit listen \
         [OPTIONS] [ADDR]\n\nFor more information, try '--help'.\n\
         hint: --quit-after is an option of `udskit connect`, not of `udskit listen`\n"
    );
    // Within connect, a near miss of --quit-after is pointed at it (or its alias --quit).
    let out = ud(&["connect", "--quit-afte", "1", "S"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("tip: a similar argument exists: '--quit-after'"),
        "{}",
        stderr_of(&out)
    );
}
