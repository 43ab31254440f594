//! `udskit listen`: the four modes against real clients (socat, Python, udskit connect),
//! safe bind, permissions, signals, abstract names, credentials, limits and seqpacket.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::peers::{have, python};
use crate::support::*;

const T: Duration = Duration::from_secs(30);

/// A Python listener that holds `argv[1]` live (listening) and says "ready" on stderr.
pub const PY_HOLDER: &str = "import socket,sys,time\n\
s=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen()\n\
print('ready',file=sys.stderr,flush=True)\ntime.sleep(120)";

/// Binds `argv[1]` and exits without unlinking it: a stale socket file.
pub const PY_STALE: &str =
    "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])";

fn listen_bg(args: &[&str], sock: &Path, dir: &Path, name: &str) -> Bg {
    let mut c = ud(&["listen"]);
    c.args(args)
        .arg(sock)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut bg = Bg::spawn(c, dir, name);
    bg.wait_stderr("udskit: listening on");
    bg
}

fn holder(sock: &Path, dir: &Path) -> Bg {
    let mut c = python(PY_HOLDER);
    c.arg(sock).stdout(Stdio::null());
    let mut bg = Bg::spawn(c, dir, "holder");
    bg.wait_stderr("ready");
    bg
}

fn echo_once(sock: &Path, data: &[u8]) -> Vec<u8> {
    let mut c = ud(&["connect"]);
    c.arg(sock);
    let out = run_with_input(c, data, T);
    assert!(out.status.success(), "{}", stderr_of(&out));
    out.stdout
}

#[test]
fn echo_round_trip_with_connect() {
    let dir = tempdir();
    let sock = dir.path().join("e.sock");
    let mut server = listen_bg(&["--echo"], &sock, dir.path(), "listen");
    // 10 MB through connect's stdin pipe (the splice path) and back through its stdout.
    let data = random_bytes(10 << 20);
    assert_eq!(
        sha256(&echo_once(&sock, &data)),
        sha256(&data),
        "echoed bytes differ"
    );
    server.signal(15);
    assert_eq!(server.wait_exit(Duration::from_secs(10)).code(), Some(143));
    assert!(!sock.exists(), "socket file left behind after SIGTERM");
}

/// socat as the client, 10 MB each way, checked by sha256: socat -> listen's stdout, and
/// listen's stdin -> socat.
#[test]
fn socat_client_10mb_both_directions() {
    if !have("socat") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    let data = dir.path().join("data");
    std::fs::write(&data, random_bytes(10 << 20)).unwrap();
    let want = sha256_file(&data);

    // socat -> listen
    let got = dir.path().join("got1");
    let mut l = ud(&["listen"]);
    l.arg(&sock)
        .stdin(Stdio::null())
        .stdout(File::create(&got).unwrap());
    let mut server = Bg::spawn(l, dir.path(), "listen1");
    server.wait_stderr("udskit: listening on");
    let st = Command::new("socat")
        .arg("-u")
        .arg(format!("OPEN:{}", data.display()))
        .arg(format!("UNIX-CONNECT:{}", sock.display()))
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(server.wait_exit(T).code(), Some(0), "{}", server.stderr());
    assert_eq!(sha256_file(&got), want, "socat -> listen");
    assert!(!sock.exists());

    // listen -> socat
    let got = dir.path().join("got2");
    let mut l = ud(&["listen"]);
    l.arg(&sock)
        .stdin(File::open(&data).unwrap())
        .stdout(Stdio::null());
    let mut server = Bg::spawn(l, dir.path(), "listen2");
    server.wait_stderr("udskit: listening on");
    let st = Command::new("socat")
        .arg("-u")
        .arg(format!("UNIX-CONNECT:{}", sock.display()))
        .arg(format!("CREATE:{}", got.display()))
        .status()
        .unwrap();
    assert!(st.success());
    assert_eq!(server.wait_exit(T).code(), Some(0), "{}", server.stderr());
    assert_eq!(sha256_file(&got), want, "listen -> socat");
}

/// Default mode, half-close: the client sends its request and shuts down its write side;
/// what arrives on listen's stdin only afterwards still reaches the client.
#[test]
fn default_mode_half_close_with_python_client() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("h.sock");
    let mut l = ud(&["listen"]);
    l.arg(&sock);
    let mut server = Bg::spawn_piped(l, dir.path(), "listen");
    server.wait_stderr("udskit: listening on");
    let mut client = python(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n\
         s.sendall(b'request\\x00\\xff')\ns.shutdown(socket.SHUT_WR)\nd=b''\n\
         while True:\n  b=s.recv(65536)\n  if not b: break\n  d+=b\nsys.stdout.buffer.write(d)",
    );
    client.arg(&sock).stdout(Stdio::piped());
    let client = Bg::spawn(client, dir.path(), "client");
    let mut got = [0u8; 9];
    server
        .child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut got)
        .unwrap();
    assert_eq!(&got, b"request\x00\xff");
    let mut stdin = server.child.stdin.take().unwrap();
    stdin.write_all(b"answer after the client's EOF").unwrap();
    drop(stdin);
    let (st, answer) = client.finish(T);
    assert!(st.success());
    assert_eq!(answer, b"answer after the client's EOF");
    assert_eq!(server.wait_exit(T).code(), Some(0), "{}", server.stderr());
    let err = server.stderr();
    assert!(err.contains("client #1 connected: pid "), "{err}");
    assert!(err.contains("(python3) uid 0 gid 0"), "{err}");
    assert!(err.contains("9 bytes received, 29 sent"), "{err}");
}

/// Default mode: the client closes while listen's stdin stays open (a terminal, or a pipe
/// nobody writes to): listen must not wait for its stdin, it exits 0. (A client that only
/// half-closes is still waiting for our answer: that case is the half-close test above.)
#[test]
fn default_mode_exits_when_client_closes_while_stdin_stays_open() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("o.sock");
    let mut l = ud(&["listen"]);
    l.arg(&sock);
    let mut server = Bg::spawn_piped(l, dir.path(), "listen");
    server.wait_stderr("udskit: listening on");
    let _stdin_kept_open = server.child.stdin.take();
    let st = python(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n\
         s.sendall(b'bye\\n')\ns.close()",
    )
    .arg(&sock)
    .status()
    .unwrap();
    assert!(st.success());
    let (st, out) = server.finish(Duration::from_secs(10));
    assert_eq!(st.code(), Some(0));
    assert_eq!(out, b"bye\n");
}

/// Every byte value, NUL and 0xff included, both ways through listen and connect.
#[test]
fn binary_bytes_pass_unchanged() {
    let dir = tempdir();
    let sock = dir.path().join("b.sock");
    let bytes: Vec<u8> = (0..=255u8).cycle().take(256 * 64).collect();
    let input = dir.path().join("in");
    std::fs::write(&input, bytes.iter().rev().copied().collect::<Vec<_>>()).unwrap();
    let mut l = ud(&["listen"]);
    l.arg(&sock)
        .stdin(File::open(&input).unwrap())
        .stdout(Stdio::piped());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    server.wait_stderr("udskit: listening on");
    let back = echo_once(&sock, &bytes);
    let (st, got) = server.finish(T);
    assert_eq!(st.code(), Some(0));
    assert!(got == bytes, "client -> listen stdout changed bytes");
    assert!(
        back == std::fs::read(&input).unwrap(),
        "listen stdin -> client"
    );
}

/// Python client code for -k: argv[2] clients at once, each sending argv[3] records of
/// `c<ID> <SEQ> <payload>\n`, one send per record (payload derived from id and seq).
const PY_RECORDS: &str = r#"
import socket, sys, threading
path, n, recs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def payload(i, q):
    return bytes([97 + (i * 7 + q) % 26]) * ((i * 131 + q * 17) % 3000 + 1)
go = threading.Barrier(n)
def client(i):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    go.wait()
    for q in range(recs):
        s.sendall(b'c%02d %05d ' % (i, q) + payload(i, q) + b'\n')
    s.close()
ts = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
"#;

/// -k with 50 concurrent clients. Each record is one write of the client, so it reaches us
/// in one read and must come out of stdout whole: a line that does not parse, carries a
/// wrong payload, or comes out of order betrays bytes of two clients interleaved mid-chunk
/// (or lost, or duplicated).
#[test]
fn keep_open_50_clients_never_interleave() {
    if !have("python3") {
        return;
    }
    let (n, recs) = (50usize, 100usize);
    let dir = tempdir();
    let sock = dir.path().join("k.sock");
    let mut l = ud(&["listen", "-k", "--count", &n.to_string()]);
    l.arg(&sock).stdin(Stdio::null()).stdout(Stdio::piped());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    server.wait_stderr("udskit: listening on");
    let mut clients = python(PY_RECORDS);
    clients.arg(&sock).arg(n.to_string()).arg(recs.to_string());
    let mut clients = Bg::spawn(clients, dir.path(), "clients");
    // Read stdout while the clients run: a full pipe would stall them all.
    let (st, out) = server.finish(T);
    assert_eq!(st.code(), Some(0), "listen failed");
    assert!(clients.wait_exit(T).success(), "{}", clients.stderr());
    let mut next: BTreeMap<usize, usize> = BTreeMap::new();
    let mut lines = 0;
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let (id, seq) = parse_record(line).unwrap_or_else(|| {
            panic!(
                "interleaved or corrupt record: {:.80}",
                String::from_utf8_lossy(line)
            )
        });
        let e = next.entry(id).or_default();
        assert_eq!(*e, seq, "client {id}: record {seq} out of order");
        *e += 1;
        lines += 1;
    }
    assert_eq!(lines, n * recs);
    assert!(next.values().all(|&v| v == recs));
    assert_eq!(next.len(), n);
}

/// `c<ID> <SEQ> <payload>` with the payload PY_RECORDS derives from id and seq, or None.
fn parse_record(line: &[u8]) -> Option<(usize, usize)> {
    let mut f = line.splitn(3, |&b| b == b' ');
    let id: usize = std::str::from_utf8(f.next()?.strip_prefix(b"c")?)
        .ok()?
        .parse()
        .ok()?;
    let seq: usize = std::str::from_utf8(f.next()?).ok()?.parse().ok()?;
    let payload = f.next()?;
    let want_byte = b'a' + ((id * 7 + seq) % 26) as u8;
    (payload.len() == (id * 131 + seq * 17) % 3000 + 1 && payload.iter().all(|&b| b == want_byte))
        .then_some((id, seq))
}

/// --echo with 50 concurrent Python clients, each sending 256 KiB of random bytes (while
/// reading, from another thread) and checking every byte that comes back.
#[test]
fn echo_50_concurrent_clients_every_byte() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("e.sock");
    let mut server = listen_bg(&["--echo", "--count", "50"], &sock, dir.path(), "listen");
    let st = python(
        r#"
import os, socket, sys, threading
bad = []
def client(i):
    data = os.urandom(256 * 1024)
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    def send():
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    t = threading.Thread(target=send)
    t.start()
    got = bytearray()
    while True:
        b = s.recv(1 << 16)
        if not b: break
        got += b
    t.join()
    if bytes(got) != data: bad.append(i)
ts = [threading.Thread(target=client, args=(i,)) for i in range(50)]
for t in ts: t.start()
for t in ts: t.join()
sys.exit('clients with wrong echo: %s' % bad if bad else 0)
"#,
    )
    .arg(&sock)
    .status()
    .unwrap();
    assert!(st.success());
    assert_eq!(server.wait_exit(T).code(), Some(0), "{}", server.stderr());
    assert_eq!(server.stderr().matches("262144 bytes echoed").count(), 50);
    assert!(!sock.exists());
}

#[test]
fn stale_socket_is_replaced_with_a_message() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("stale.sock");
    assert!(python(PY_STALE).arg(&sock).status().unwrap().success());
    let mut server = listen_bg(&["--echo"], &sock, dir.path(), "listen");
    let err = server.stderr();
    assert!(
        err.contains(&format!(
            "udskit: removed stale socket {} (nothing was listening on it)",
            sock.display()
        )),
        "{err}"
    );
    let mut c = ud(&["connect"]);
    c.arg(&sock);
    let out = run_with_input(c, b"fresh", T);
    assert!(
        out.status.success(),
        "{}\nserver: {:?}\n{}\nls: {:?}",
        stderr_of(&out),
        server.child.try_wait(),
        server.stderr(),
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect::<Vec<_>>()
    );
    assert_eq!(out.stdout, b"fresh");
    server.signal(15);
    server.wait_exit(T);
}

#[test]
fn live_socket_is_refused_naming_pid_and_command() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("live.sock");
    let py = holder(&sock, dir.path());
    let before = identity(&sock);
    let out = ud(&["listen", "--echo"]).arg(&sock).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    let want = format!(
        "udskit: error: binding unix:{0}: {0} is in use by pid {1} (python3) uid 0 gid 0\n\
         hint: a live socket is never taken over; stop that server, choose another path, or pass --force to replace it\n",
        sock.display(),
        py.pid()
    );
    assert_eq!(err, want);
    assert_eq!(identity(&sock), before, "the live socket was touched");
}

#[test]
fn force_replaces_a_live_socket() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("live.sock");
    let py = holder(&sock, dir.path());
    let before = identity(&sock);
    let mut server = listen_bg(&["--echo", "--force"], &sock, dir.path(), "listen");
    let err = server.stderr();
    assert!(
        err.contains(&format!(
            "udskit: warning: --force: replaced live socket {} in use by pid {} (python3)",
            sock.display(),
            py.pid()
        )),
        "{err}"
    );
    assert_ne!(identity(&sock), before);
    assert_eq!(echo_once(&sock, b"mine now"), b"mine now");
    server.signal(15);
    assert_eq!(server.wait_exit(T).code(), Some(143));
}

#[test]
fn regular_file_is_never_deleted() {
    let dir = tempdir();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "precious").unwrap();
    for extra in [&[][..], &["--force"][..]] {
        let out = ud(&["listen", "--echo"])
            .args(extra)
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr_of(&out).starts_with(&format!(
                "udskit: error: binding unix:{0}: {0} exists and is not a socket (it is a regular file)\n\
                 hint: udskit never deletes a file that is not a socket",
                file.display()
            )),
            "{}",
            stderr_of(&out)
        );
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "precious");
    }
}

/// --mode: the bits stat shows. They are in place before any client can connect: bind(2)
/// creates the file with exactly them (under the umask 0777 & !mode), and only then does
/// listen(2) run. A watcher stat-ing the path as fast as it can while the server starts
/// must therefore only ever see the requested mode, never the umask default.
#[test]
fn mode_bits_are_set_before_clients_can_connect() {
    let dir = tempdir();
    for (mode, bits) in [("600", 0o600), ("660", 0o660), ("0640", 0o640)] {
        let sock = dir.path().join(format!("m{mode}.sock"));
        let watch = {
            let sock = sock.clone();
            std::thread::spawn(move || {
                let mut seen = std::collections::BTreeSet::new();
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline {
                    if std::fs::symlink_metadata(&sock).is_ok() {
                        seen.insert(mode_of(&sock));
                        if seen.len() > 1 || seen.contains(&bits) {
                            break;
                        }
                    }
                }
                seen
            })
        };
        let mut server = listen_bg(&["--echo", "--mode", mode], &sock, dir.path(), "listen");
        let seen = watch.join().unwrap();
        assert!(
            seen.iter().all(|&m| m == bits),
            "--mode {mode}: saw modes {:?}",
            seen.iter().map(|m| format!("{m:o}")).collect::<Vec<_>>()
        );
        assert_eq!(mode_of(&sock), bits, "--mode {mode}");
        server.signal(15);
        server.wait_exit(T);
    }
    let out = ud(&["listen", "--mode", "999", "x.sock"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("'999' is not an octal mode"));
}

/// Without --mode the file gets what the umask allows, as for any socket.
/// `udskit listen --echo SOCK` started by sh after `setup` (a umask, a ulimit), running.
fn echo_after(dir: &Path, setup: &str, sock: &Path) -> Bg {
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(format!(
            "{setup}; exec {} --color=never listen --echo \"$0\"",
            env!("CARGO_BIN_EXE_udskit")
        ))
        .arg(sock)
        .stdout(Stdio::null());
    let mut server = Bg::spawn(c, dir, "listen");
    server.wait_stderr("udskit: listening on");
    server
}

#[test]
fn default_mode_follows_umask() {
    let dir = tempdir();
    let sock = dir.path().join("u.sock");
    let _server = echo_after(dir.path(), "umask 027", &sock);
    assert_eq!(mode_of(&sock), 0o750);
}

#[test]
fn sigint_while_waiting_exits_130_and_removes_the_file() {
    let dir = tempdir();
    let sock = dir.path().join("i.sock");
    let mut server = listen_bg(&[], &sock, dir.path(), "listen");
    server.signal(2);
    assert_eq!(server.wait_exit(T).code(), Some(130));
    assert!(!sock.exists(), "socket file left behind after SIGINT");
}

/// A stdout nobody reads (the pipe is full) must not keep a stopped server alive.
#[test]
fn sigterm_with_blocked_stdout_exits_143() {
    let dir = tempdir();
    let sock = dir.path().join("t.sock");
    let mut l = ud(&["listen", "-k"]);
    l.arg(&sock).stdin(Stdio::null()).stdout(Stdio::piped());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    server.wait_stderr("udskit: listening on");
    let mut c = ud(&["connect"]);
    c.arg(&sock)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut client = c.spawn().unwrap();
    let mut cin = client.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![7u8; 1 << 20];
        // Stops when the client is gone (EPIPE); 64 MiB is far more than the pipes hold.
        for _ in 0..64 {
            if cin.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    server.wait_stderr("client #1 connected");
    server.signal(15);
    let started = Instant::now();
    assert_eq!(server.wait_exit(Duration::from_secs(10)).code(), Some(143));
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(!sock.exists());
    let _ = client.kill();
    let _ = client.wait();
    writer.join().unwrap();
}

/// On exit the file is removed only if it is still the one we created.
#[test]
fn file_replaced_under_us_is_not_removed() {
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    let mut server = listen_bg(&["-k"], &sock, dir.path(), "listen");
    std::fs::remove_file(&sock).unwrap();
    std::fs::write(&sock, "someone else's").unwrap();
    server.signal(15);
    assert_eq!(server.wait_exit(T).code(), Some(143));
    assert_eq!(std::fs::read_to_string(&sock).unwrap(), "someone else's");
}

#[test]
fn abstract_name_with_python_client() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let name = format!("udskit-test-{}", std::process::id());
    let mut l = ud(&["listen", "--echo", "--count", "1"]);
    l.arg(format!("@{name}")).stdout(Stdio::null());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    let err = server.wait_stderr("udskit: listening on");
    assert!(
        err.contains(&format!("listening on @{name} (stream)")),
        "{err}"
    );
    let out = python(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect('\\0'+sys.argv[1])\n\
         s.sendall(b'abstract\\n')\ns.shutdown(socket.SHUT_WR)\nprint(s.recv(100).decode(),end='')",
    )
    .arg(&name)
    .output()
    .unwrap();
    assert_eq!(out.stdout, b"abstract\n", "{}", stderr_of(&out));
    assert_eq!(server.wait_exit(T).code(), Some(0));
}

/// TCP: port 0 reports the chosen port; connect reaches it.
#[test]
fn tcp_echo_on_port_zero() {
    let dir = tempdir();
    let mut l = ud(&["listen", "--echo", "--count", "1", "tcp:0"]);
    l.stdout(Stdio::null());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    let err = server.wait_stderr(" (stream; loopback only");
    let port = err
        .split("listening on tcp:127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("{err}"));
    let out = run_with_input(ud(&["connect", &format!("tcp:{port}")]), b"over tcp", T);
    assert_eq!(out.stdout, b"over tcp", "{}", stderr_of(&out));
    assert_eq!(server.wait_exit(T).code(), Some(0));
    assert!(server.stderr().contains("client #1 connected: 127.0.0.1:"));
}

/// --exec: the peer's pid/uid/gid as the kernel reports them (the client runs as nobody,
/// so they differ from ours), the command's output reaching the client, its input coming
/// from the client.
#[test]
fn exec_sees_peer_credentials() {
    if !have("python3") || !have("runuser") || !is_root() {
        return;
    }
    let dir = tempdir();
    open_dir_to_all(dir.path());
    let sock = dir.path().join("x.sock");
    let mut server = listen_bg(
        &[
            "--exec",
            "printf '%s %s %s\\n' \"$UDSKIT_PEER_PID\" \"$UDSKIT_PEER_UID\" \"$UDSKIT_PEER_GID\"; tr a-z A-Z",
            "--count",
            "1",
            "--mode",
            "666",
        ],
        &sock,
        dir.path(),
        "listen",
    );
    let out = Command::new("runuser")
        .args(["-u", "nobody", "--", system_python(), "-c"])
        .arg(
            "import os,socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n\
             s.sendall(b'from the client')\ns.shutdown(socket.SHUT_WR)\nd=b''\n\
             while True:\n  b=s.recv(65536)\n  if not b: break\n  d+=b\n\
             print(os.getpid(),os.getuid(),os.getgid())\nsys.stdout.flush()\nsys.stdout.buffer.write(d)",
        )
        .arg(&sock)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].ends_with(" 65534 65534"), "{text}");
    assert_eq!(lines[1], lines[0], "the command saw other credentials");
    assert_eq!(lines[2], "FROM THE CLIENT");
    assert_eq!(server.wait_exit(T).code(), Some(0), "{}", server.stderr());
    let err = server.stderr();
    let pid = lines[0].split(' ').next().unwrap();
    assert!(
        err.contains(&format!(
            "client #1 connected: pid {pid} (python3) uid 65534 gid 65534"
        )),
        "{err}"
    );
    assert!(
        err.contains("client #1 closed: command exited with 0"),
        "{err}"
    );
}

/// --max-clients 1: a second client waits in the backlog (connected, not served, never
/// reset) and is served as soon as the first one leaves; --count 2 then ends the server.
#[test]
fn max_clients_keeps_extra_clients_waiting() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("m.sock");
    let mut server = listen_bg(
        &["--echo", "--max-clients", "1", "--count", "2"],
        &sock,
        dir.path(),
        "listen",
    );
    let out = python(
        "import socket,sys\n\
         def conn():\n  s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); return s\n\
         a=conn(); a.sendall(b'a'); assert a.recv(1)==b'a'\n\
         b=conn(); b.sendall(b'b'); b.settimeout(0.5)\n\
         try:\n  b.recv(1); sys.exit('second client served beyond --max-clients')\n\
         except socket.timeout: pass\n\
         a.close(); b.settimeout(10); assert b.recv(1)==b'b'\n\
         b.shutdown(socket.SHUT_WR); assert b.recv(1)==b''\nprint('ok')",
    )
    .arg(&sock)
    .output()
    .unwrap();
    assert_eq!(out.stdout, b"ok\n", "{}", stderr_of(&out));
    assert_eq!(server.wait_exit(T).code(), Some(0));
    let err = server.stderr();
    let closed1 = err.find("client #1 closed").expect(&err);
    let conn2 = err.find("client #2 connected").expect(&err);
    assert!(
        closed1 < conn2,
        "client 2 accepted while client 1 was served:\n{err}"
    );
}

/// -k --count 3 with udskit clients one after another: stdout is their bytes in order.
#[test]
fn keep_open_count_exits_after_n_clients() {
    let dir = tempdir();
    let sock = dir.path().join("c.sock");
    let mut l = ud(&["listen", "-k", "--count", "3"]);
    l.arg(&sock).stdin(Stdio::null()).stdout(Stdio::piped());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    server.wait_stderr("udskit: listening on");
    for word in ["one ", "two ", "three"] {
        echo_once(&sock, word.as_bytes());
        server.wait_stderr(&format!("{} bytes received", word.len()));
    }
    let (st, out) = server.finish(T);
    assert_eq!(st.code(), Some(0));
    assert_eq!(out, b"one two three");
    assert!(!sock.exists());
    let out = ud(&["listen", "--count", "1", "x.sock"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<--keep-open|--echo|--exec <CMD>>"));
}

/// A unix client's command (/proc/PID/comm) is read for the "connected" line it shows, once
/// a client, and never under -q, where nothing shows it (strace counts the reads).
#[test]
fn a_client_is_named_only_when_its_line_is_shown() {
    if !have("strace") {
        return;
    }
    const CLIENTS: usize = 5;
    let dir = tempdir();
    let me = std::fs::read_to_string("/proc/self/comm").unwrap();
    let me = me.trim_end();
    for quiet in [true, false] {
        let name = if quiet { "quiet" } else { "shown" };
        let sock = dir.path().join(format!("{name}.sock"));
        let trace = dir.path().join(format!("{name}.trace"));
        let mut c = udskit_traced(&["-f", "-e", "trace=openat"], &trace);
        c.args(if quiet { &["-q"][..] } else { &[] })
            .args(["listen", "--echo", "--count", &CLIENTS.to_string()])
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let mut server = Bg::spawn(c, dir.path(), name);
        wait_for_socket(&sock);
        for i in 0..CLIENTS {
            let msg = noise(i as u64 + 3, 1 + i * 211);
            let mut s = std::os::unix::net::UnixStream::connect(&sock).unwrap();
            s.set_read_timeout(Some(T)).unwrap();
            s.write_all(&msg).unwrap();
            let mut back = vec![0; msg.len()];
            s.read_exact(&mut back).unwrap();
            assert_eq!(back, msg);
        }
        assert!(server.wait_exit(T).success(), "{}", server.stderr());
        let trace = std::fs::read_to_string(&trace).unwrap();
        let reads = trace.lines().filter(|l| l.contains("/comm\"")).count();
        if quiet {
            assert_eq!(reads, 0, "-q read client commands:\n{trace}");
        } else {
            assert_eq!(reads, CLIENTS, "one read a client:\n{trace}");
            let log = server.stderr();
            let named = log
                .lines()
                .filter(|l| l.contains("connected: pid") && l.contains(&format!("({me}) uid")))
                .count();
            assert_eq!(named, CLIENTS, "connected lines naming {me}:\n{log}");
        }
    }
}

/// nc's and socat's habits: `-k` beside `--echo` or `--exec` is accepted and changes
/// nothing (both keep listening anyway), and socat's `fork` spelled as a flag is `-k`, not
/// a typo of `--force`.
#[test]
fn keep_open_beside_echo_or_exec_and_fork_for_keep_open() {
    let dir = tempdir();
    for (name, args) in [
        ("echo", &["-k", "--echo"][..]),
        ("exec", &["-k", "--exec", "cat"][..]),
    ] {
        let sock = dir.path().join(format!("{name}.sock"));
        let mut server = listen_bg(args, &sock, dir.path(), name);
        for word in ["one", "two"] {
            assert_eq!(echo_once(&sock, word.as_bytes()), word.as_bytes(), "{name}");
        }
        server.signal(15);
        assert_eq!(server.wait_exit(T).code(), Some(143), "{name}");
    }
    let sock = dir.path().join("fork.sock");
    let mut l = ud(&["listen", "--fork", "--count", "2"]);
    l.arg(&sock).stdin(Stdio::null()).stdout(Stdio::piped());
    let mut server = Bg::spawn(l, dir.path(), "fork");
    server.wait_stderr("udskit: listening on");
    for word in ["a", "b"] {
        echo_once(&sock, word.as_bytes());
        server.wait_stderr(&format!("client #{} closed", word.as_bytes()[0] - b'a' + 1));
    }
    let (st, out) = server.finish(T);
    assert_eq!(st.code(), Some(0));
    assert_eq!(out, b"ab");
}

/// `listen 8080` and socat's spellings make no socket file named after them: each is
/// refused (exit 2) with the udskit form, and `./8080` is still a file when one is meant.
#[test]
fn port_lookalikes_and_socat_spellings_are_refused_with_our_form() {
    let dir = tempdir();
    for (arg, says) in [
        ("8080", "for TCP write tcp:8080"),
        ("localhost:8080", "for TCP write tcp:localhost:8080"),
        ("UNIX-LISTEN:x.sock,fork", "udskit writes unix:x.sock"),
        ("TCP-LISTEN:8080,fork", "udskit writes tcp:8080"),
    ] {
        let out = ud(&["listen", arg])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{arg}: {}", stderr_of(&out));
        assert!(stderr_of(&out).contains(says), "{arg}: {}", stderr_of(&out));
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "a file was made"
    );
    let mut l = ud(&["listen", "--echo", "./8080"]);
    l.current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut server = Bg::spawn(l, dir.path(), "dot");
    server.wait_stderr("udskit: listening on");
    assert_eq!(echo_once(&dir.path().join("8080"), b"file"), b"file");
}

/// SOCK_SEQPACKET: record boundaries survive the echo (Python client).
#[test]
fn seqpacket_echo_keeps_records() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("q.sock");
    let mut server = listen_bg(
        &["--seqpacket", "--echo", "--count", "1"],
        &sock,
        dir.path(),
        "listen",
    );
    assert!(server.stderr().contains("(seqpacket)"));
    let out = python(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_SEQPACKET)\n\
         s.connect(sys.argv[1])\n\
         for m in [b'one', b'two\\x00', b'x'*70000]: s.send(m)\n\
         print([len(s.recv(1<<20)) for _ in range(3)])",
    )
    .arg(&sock)
    .output()
    .unwrap();
    assert_eq!(out.stdout, b"[3, 4, 70000]\n", "{}", stderr_of(&out));
    server.wait_exit(T);
}

/// `listen -k | head -c 10`: the reader going away ends the server with 0, also while it
/// waits for the next client and while a connected client stays silent.
#[test]
fn closed_stdout_exits_0() {
    // 100 kB fit in the pipe: the reader's exit is noticed while idle; 3 MB do not: the
    // next write fails with EPIPE.
    for size in [100_000, 3_000_000] {
        let dir = tempdir();
        let sock = dir.path().join("p.sock");
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(format!(
                "set -o pipefail; {} --color=never listen -k \"$0\" | head -c 10",
                env!("CARGO_BIN_EXE_udskit")
            ))
            .arg(&sock)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let mut pipeline = Bg::spawn(c, dir.path(), "pipeline");
        pipeline.wait_stderr("udskit: listening on");
        // A client that stays connected and silent must not keep the server alive either.
        let _idle = {
            let mut idle = ud(&["connect"]);
            idle.arg(&sock).stdin(Stdio::piped()).stdout(Stdio::null());
            Bg::spawn(idle, dir.path(), "idle")
        };
        pipeline.wait_stderr("client #1 connected");
        let mut client = ud(&["connect"]);
        client.arg(&sock);
        // The client may see its peer go away mid-send: either exit is fine here.
        run_with_input(client, &vec![b'z'; size], T);
        let (st, got) = pipeline.finish(T);
        assert_eq!(got, b"zzzzzzzzzz");
        assert_eq!(st.code(), Some(0), "listen's exit code through pipefail");
        assert!(!sock.exists());
    }
}

/// Errors on one client never end the listener: a client that goes away without reading
/// its echo (EPIPE/ECONNRESET on our side), and accept failing with EMFILE under a low fd
/// limit (backed off, logged, recovered from once the clients leave).
#[test]
fn client_errors_and_accept_errors_do_not_end_the_server() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    let mut server = echo_after(dir.path(), "ulimit -n 20", &sock);
    let out = python(
        "import socket,sys\n\
         def conn():\n  s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); return s\n\
         r=conn()\n\
         r.setblocking(False)\n\
         try:\n  r.sendall(b'x'*(4<<20))\nexcept BlockingIOError: pass\n\
         r.close()\n\
         held=[conn() for _ in range(40)]\nprint('held',flush=True)",
    )
    .arg(&sock)
    .output()
    .unwrap();
    assert_eq!(out.stdout, b"held\n", "{}", stderr_of(&out));
    server.wait_stderr("accepting a client: Too many open files");
    assert!(server.stderr().contains("udskit: warning: client #1: "));
    // The held clients are gone now (python exited): the server serves again.
    let mut c = ud(&["connect", "--wait", "5s"]);
    c.arg(&sock);
    let out = run_with_input(c, b"still here", T);
    assert_eq!(out.stdout, b"still here", "{}", stderr_of(&out));
    assert!(server.child.try_wait().unwrap().is_none());
}

/// --exec over TCP: the peer's address in UDSKIT_PEER_ADDR, no unix credentials.
#[test]
fn exec_over_tcp_gets_the_peer_address() {
    let dir = tempdir();
    let mut l = ud(&[
        "listen",
        "--count",
        "1",
        "--exec",
        "echo \"${UDSKIT_PEER_ADDR}|${UDSKIT_PEER_PID:-none}\"",
        "tcp:0",
    ]);
    l.stdout(Stdio::null());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    let err = server.wait_stderr(" (stream; loopback only");
    let port = err
        .split("listening on tcp:127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("{err}"))
        .to_string();
    let out = run_with_input(ud(&["connect", &format!("tcp:{port}")]), b"", T);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        text.starts_with("127.0.0.1:") && text.ends_with("|none\n"),
        "{text:?} {}",
        stderr_of(&out)
    );
    assert_eq!(server.wait_exit(T).code(), Some(0));
}

/// The resident memory of a running process, from /proc/PID/status.
fn rss_bytes(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in:\n{status}"));
    kb * 1024
}

/// --echo holds memory for the bytes in flight only: 1,000 clients that each had a few
/// bytes echoed and then sit idle leave the server well under 64 MiB (a read buffer per
/// client would be 256 MiB).
#[test]
fn echo_idle_clients_hold_no_buffers() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("idle.sock");
    let mut server = echo_after(dir.path(), "ulimit -n 4096", &sock);
    let mut clients = python(
        r#"
import resource, socket, sys
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
cs = []
for i in range(1000):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.sendall(b'ping %d' % i)
    cs.append(s)
for i, s in enumerate(cs):
    want, got = b'ping %d' % i, b''
    while len(got) < len(want):
        b = s.recv(64)
        if not b:
            sys.exit('client %d: closed' % i)
        got += b
    if got != want:
        sys.exit('client %d: echoed %r' % (i, got))
print('idle', flush=True)
sys.stdin.read()
"#,
    );
    clients.arg(&sock);
    let mut clients = Bg::spawn_piped(clients, dir.path(), "clients");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(clients.child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line, "idle\n", "{}", clients.stderr());
    server.wait_stderr("client #1000 connected");
    let rss = rss_bytes(server.pid());
    assert!(
        rss < 64 << 20,
        "{} MiB resident for 1,000 idle clients",
        rss >> 20
    );
    drop(clients.child.stdin.take());
    assert!(clients.wait_exit(T).success(), "{}", clients.stderr());
    server.signal(15);
    assert_eq!(server.wait_exit(T).code(), Some(143));
}

/// A python client for the closing tests: connects to `unix PATH` or `tcp PORT`, sends
/// ARGV[3] bytes of zeros (or `line` for one line), shuts down its write side unless told
/// `keep`, and reads to the end: prints `ok` and what it read (repr), or `reset`.
const PY_CLIENT: &str = r#"
import socket,sys
fam,where,what=sys.argv[1:4]
keep=len(sys.argv)>4 and sys.argv[4]=='keep'
if fam=='unix':
    s=socket.socket(socket.AF_UNIX); s.connect(where)
else:
    s=socket.create_connection(('127.0.0.1',int(where)))
s.sendall(b'first\n' if what=='line' else bytes(int(what)))
if not keep: s.shutdown(socket.SHUT_WR)
print('connected',file=sys.stderr,flush=True)
d=b''
try:
    while True:
        b=s.recv(65536)
        if not b: break
        d+=b
    print('ok',repr(d),flush=True)
except ConnectionResetError:
    print('reset',repr(d),flush=True)
"#;

/// `--exec 'echo hi'` answers without reading what the client sent. Closing the
/// connection with those bytes unread made the kernel reset it (a unix client's next read
/// failed with ECONNRESET, a TCP client got a RST), so a client with a complete answer saw
/// a failure. Now listen shuts down its side and drains the input before closing: every
/// client reads `hi` and a clean end, on unix sockets and TCP, python's and ours.
#[test]
fn exec_that_reads_nothing_answers_without_a_reset() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("hi.sock");
    let _unix = listen_bg(&["--exec", "echo hi"], &sock, dir.path(), "unix");
    let mut c = ud(&["listen", "--exec", "echo hi", "tcp:0"]);
    c.stdin(Stdio::null()).stdout(Stdio::null());
    let mut tcp = Bg::spawn(c, dir.path(), "tcp");
    let log = tcp.wait_stderr("udskit: listening on");
    let port = log
        .split("tcp:127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .to_string();
    let sock_arg = sock.display().to_string();
    for (fam, at) in [("unix", sock_arg.as_str()), ("tcp", port.as_str())] {
        for _ in 0..10 {
            let out = python(PY_CLIENT)
                .args([fam, at, "100000"])
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                "ok b'hi\\n'\n",
                "{fam}: {}",
                stderr_of(&out)
            );
        }
    }
    for addr in [sock_arg, format!("tcp:{port}")] {
        let out = run_with_input(
            {
                let mut c = ud(&["connect"]);
                c.arg(&addr);
                c
            },
            &[0u8; 100_000],
            T,
        );
        assert_eq!(out.status.code(), Some(0), "{addr}: {}", stderr_of(&out));
        assert_eq!(out.stdout, b"hi\n");
    }
}

/// One-client listen: a second client that came while the first is served was accepted
/// by the kernel into the queue, waited for a server that would never serve it, and was
/// reset when listen exited, its bytes lost. Now listen stops listening once it has its
/// client: the second is refused at its connect (the socket file is gone; a TCP port is
/// closed), and the first still gets its whole answer and a clean end.
#[test]
fn one_client_listen_refuses_a_second_and_serves_the_first_whole() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    for fam in ["unix", "tcp"] {
        let sock = dir.path().join("one.sock");
        let addr = if fam == "unix" {
            sock.display().to_string()
        } else {
            "tcp:0".to_string()
        };
        let mut l = ud(&["listen"]);
        l.arg(&addr);
        let mut server = Bg::spawn_piped(l, dir.path(), &format!("listen-{fam}"));
        let log = server.wait_stderr("udskit: listening on");
        let (at, second) = match fam {
            "unix" => (addr.clone(), addr.clone()),
            _ => {
                let port = log
                    .split("tcp:127.0.0.1:")
                    .nth(1)
                    .and_then(|s| s.split(' ').next())
                    .unwrap()
                    .to_string();
                (port.clone(), format!("tcp:{port}"))
            }
        };
        let mut first = python(PY_CLIENT);
        first.args([fam, &at, "line"]).stdout(Stdio::piped());
        let first = Bg::spawn(first, dir.path(), &format!("first-{fam}"));
        server.wait_stderr("client #1 connected");
        let out = run_with_input(
            {
                let mut c = ud(&["connect"]);
                c.arg(&second);
                c
            },
            b"second\n",
            T,
        );
        assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
        let want = match fam {
            "unix" => format!("connecting to unix:{}: no such file", sock.display()),
            _ => "connection refused: nothing is listening there".to_string(),
        };
        assert!(stderr_of(&out).contains(&want), "{}", stderr_of(&out));
        let mut stdin = server.child.stdin.take().unwrap();
        stdin.write_all(b"the answer\n").unwrap();
        drop(stdin);
        let (st, got) = first.finish(T);
        assert!(st.success());
        assert_eq!(String::from_utf8_lossy(&got), "ok b'the answer\\n'\n");
        let (st, out) = server.finish(T);
        assert_eq!(st.code(), Some(0));
        assert_eq!(out, b"first\n");
    }
}

/// One-client listen, a client that resets: named as what it did (exit 1), what it sent
/// on stdout, never a bare `os error 104`.
#[test]
fn one_client_reset_by_the_client_is_named() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let mut l = ud(&["listen", "tcp:0"]);
    l.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut server = Bg::spawn(l, dir.path(), "listen");
    let _stdin_kept_open = server.child.stdin.take();
    let log = server.wait_stderr("udskit: listening on");
    let port = log
        .split("tcp:127.0.0.1:")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .to_string();
    let st = python(
        "import socket,struct,sys\ns=socket.create_connection(('127.0.0.1',int(sys.argv[1])))\n\
         s.sendall(b'hi')\nsys.stdin.read()\n\
         s.setsockopt(socket.SOL_SOCKET,socket.SO_LINGER,struct.pack('ii',1,0))\ns.close()",
    )
    .arg(&port)
    .stdin(Stdio::piped())
    .spawn()
    .unwrap();
    let mut client = Bg::adopt(st);
    // The reset comes once listen has the bytes on its stdout.
    let mut got = [0u8; 2];
    server
        .child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut got)
        .unwrap();
    assert_eq!(&got, b"hi");
    drop(client.child.stdin.take());
    assert!(client.wait_exit(T).success());
    assert_eq!(server.wait_exit(T).code(), Some(1));
    let err = server.stderr();
    assert!(
        err.contains(
            "udskit: error: client #1 reset the connection (client #1 had sent 2 bytes, \
             which are on stdout; we had sent nothing)"
        ),
        "{err}"
    );
    assert!(!err.contains("os error"), "{err}");
}

/// `--count N`: once the N-th client is accepted the server stops listening, so a client
/// that comes while the last ones are served is refused, not queued and reset at exit;
/// the client being served still gets all of its echo.
#[test]
fn count_reached_refuses_later_clients() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("count.sock");
    let mut server = listen_bg(&["--echo", "--count", "1"], &sock, dir.path(), "listen");
    let mut first = python(
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\n\
         s.sendall(b'first\\n')\nsys.stdin.read()\ns.shutdown(socket.SHUT_WR)\nd=b''\n\
         while True:\n  b=s.recv(65536)\n  if not b: break\n  d+=b\nprint(repr(d))",
    );
    first
        .arg(&sock)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut first = Bg::spawn(first, dir.path(), "first");
    server.wait_stderr("client #1 connected");
    let out = run_with_input(
        {
            let mut c = ud(&["connect"]);
            c.arg(&sock);
            c
        },
        b"second\n",
        T,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains(&format!(
            "connecting to unix:{}: no such file",
            sock.display()
        )),
        "{}",
        stderr_of(&out)
    );
    drop(first.child.stdin.take());
    let (st, got) = first.finish(T);
    assert!(st.success());
    assert_eq!(String::from_utf8_lossy(&got), "b'first\\n'\n");
    assert_eq!(server.wait_exit(T).code(), Some(0), "{}", server.stderr());
}
