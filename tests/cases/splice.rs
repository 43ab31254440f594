//! The kernel's fast paths at the stream edges, each proven taken (strace shows sendfile or
//! splice) and byte-exact: a regular file on connect's or listen's stdin (sendfile, from its
//! offset on, to wherever it ends), the socket to a stdout pipe or file (splice), and the
//! rest of a big `http` body spliced past hyper; the ends around them kept: half-close,
//! /dev/null on stdin, a stdout closed early, a body cut off mid-way.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::peers::{have, python};
use crate::support::servers::Nginx;
use crate::support::*;

const T: Duration = Duration::from_secs(60);
const BIG: usize = 64 << 20;

/// `udskit ARGS` run by `strace -f -e trace=sendfile,splice -o LOG`.
fn traced(log: &Path, args: &[&str]) -> Command {
    let mut c = udskit_traced(&["-f", "-e", "trace=sendfile,splice"], log);
    c.args(args);
    c
}

/// The calls of `name` in strace's log that moved bytes (`= N`, N > 0).
fn moved(log: &Path, name: &str) -> usize {
    moved_where(log, name, "")
}

/// The calls in strace's log, one line each: a call that blocked, logged in two halves
/// (`PID name(args <unfinished ...>` and later `PID <... name resumed>) = N`), joined.
fn calls(log: &Path) -> Vec<String> {
    let log = std::fs::read_to_string(log).unwrap();
    let mut open = std::collections::HashMap::new();
    let mut calls = Vec::new();
    for line in log.lines() {
        let pid = line.split_whitespace().next().unwrap_or("").to_string();
        if let Some(start) = line.strip_suffix("<unfinished ...>") {
            open.insert(pid, start.to_string());
        } else if let Some((_, rest)) = line.split_once(" resumed>") {
            let start = open.remove(&pid).unwrap_or_default();
            calls.push(format!("{start}{rest}"));
        } else {
            calls.push(line.to_string());
        }
    }
    calls
}

/// [`moved`], of the calls whose line contains `with` too.
fn moved_where(log: &Path, name: &str, with: &str) -> usize {
    calls(log)
        .iter()
        .filter(|l| l.contains(&format!("{name}(")))
        .filter(|l| l.contains(with))
        .filter(|l| {
            l.rsplit_once("= ")
                .and_then(|(_, n)| n.split_whitespace().next()?.parse::<u64>().ok())
                .is_some_and(|n| n > 0)
        })
        .count()
}

/// A unix server on argv[1]: reads until EOF, then sends it all back and closes.
const PY_BACK_AFTER_EOF: &str = "import socket,sys\n\
s=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen()\n\
print('ready',file=sys.stderr,flush=True)\nc,_=s.accept()\nd=bytearray()\n\
while True:\n  b=c.recv(1<<20)\n  if not b: break\n  d+=b\n\
c.sendall(d)\nc.close()";

/// A unix server on argv[1]: answers `COUNT SHA256` of what it read until EOF.
const PY_HASHER: &str = "import socket,sys,hashlib\n\
s=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen()\n\
print('ready',file=sys.stderr,flush=True)\nc,_=s.accept()\nh=hashlib.sha256()\nn=0\n\
while True:\n  b=c.recv(1<<20)\n  if not b: break\n  h.update(b)\n  n+=len(b)\n\
c.sendall(('%d %s' % (n, h.hexdigest())).encode())\nc.close()";

fn server(dir: &Path, code: &str, args: &[&Path]) -> Bg {
    let mut c = python(code);
    c.args(args).stdout(Stdio::null());
    let mut bg = Bg::spawn(c, dir, "py");
    bg.wait_stderr("ready");
    bg
}

fn sha256_hex(data: &[u8]) -> String {
    sha256(data)
}

/// 64 MiB from a stdin file go by sendfile, and come back (after the half-close) by splice
/// into a stdout file, byte for byte.
#[test]
fn connect_file_to_file_both_ways_in_the_kernel() {
    if !have("python3") || !have("strace") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    let data = dir.path().join("data");
    std::fs::write(&data, random_bytes(BIG)).unwrap();
    let _py = server(dir.path(), PY_BACK_AFTER_EOF, &[&sock]);
    let log = dir.path().join("strace");
    let got = dir.path().join("got");
    let st = traced(&log, &["connect", sock.to_str().unwrap()])
        .stdin(File::open(&data).unwrap())
        .stdout(File::create(&got).unwrap())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", stderr_of(&st));
    assert_eq!(sha256_file(&got), sha256_file(&data));
    assert!(moved(&log, "sendfile") > 0, "no sendfile moved stdin");
    assert!(moved(&log, "splice") > 0, "no splice moved the answer");
}

/// A stdin pipe spliced up while the answer is spliced down into a stdout pipe, at once
/// (the server echoes as it reads).
#[test]
fn connect_pipe_to_pipe_both_ways_at_once() {
    if !have("python3") || !have("strace") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    let _py = server(
        dir.path(),
        "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen()\n\
         print('ready',file=sys.stderr,flush=True)\nc,_=s.accept()\n\
         while True:\n  b=c.recv(1<<20)\n  if not b: break\n  c.sendall(b)\nc.close()",
        &[&sock],
    );
    let log = dir.path().join("strace");
    let input = random_bytes(BIG);
    let out = run_with_input(
        traced(&log, &["connect", sock.to_str().unwrap()]),
        &input,
        T,
    );
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout.len(), input.len());
    assert_eq!(sha256_hex(&out.stdout), sha256_hex(&input));
    // Up from the stdin pipe (fd 0), and down into the stdout pipe (fd 1).
    assert!(
        moved_where(&log, "splice", "splice(0, NULL, ") > 0,
        "stdin not spliced"
    );
    assert!(
        moved_where(&log, "splice", ", NULL, 1, NULL, ") > 0,
        "stdout not spliced"
    );
}

/// A stdin file is sent from where its offset stands, as cat would read it.
#[test]
fn connect_sends_a_file_from_its_offset() {
    if !have("python3") || !have("strace") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    let bytes = random_bytes(3 << 20);
    let data = dir.path().join("data");
    std::fs::write(&data, &bytes).unwrap();
    let _py = server(dir.path(), PY_HASHER, &[&sock]);
    let mut f = File::open(&data).unwrap();
    let from = (1 << 20) + 17;
    f.seek(SeekFrom::Start(from as u64)).unwrap();
    let log = dir.path().join("strace");
    let out = traced(&log, &["connect", sock.to_str().unwrap()])
        .stdin(f)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let want = format!("{} {}", bytes.len() - from, sha256_hex(&bytes[from..]));
    assert_eq!(String::from_utf8_lossy(&out.stdout), want);
    assert!(moved(&log, "sendfile") > 0);
}

/// A file that ends mid-way (cut short while it is being sent): what it holds is sent,
/// then the half-close, as read(2) would have found it.
#[test]
fn connect_sends_a_file_cut_short_while_sending() {
    if !have("python3") || !have("strace") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    let go = dir.path().join("go");
    let bytes = random_bytes(BIG);
    let data = dir.path().join("data");
    std::fs::write(&data, &bytes).unwrap();
    // Reads nothing until `go` exists, once the first bytes are waiting: udskit is then
    // held by the socket's buffer (far less than CUT) when the file is cut.
    let mut py = python(
        "import socket,sys,os,time,hashlib,select\n\
         s=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen()\n\
         print('ready',file=sys.stderr,flush=True)\nc,_=s.accept()\n\
         select.select([c],[],[])\nprint('waiting',file=sys.stderr,flush=True)\n\
         while not os.path.exists(sys.argv[2]): time.sleep(0.01)\n\
         h=hashlib.sha256()\nn=0\n\
         while True:\n  b=c.recv(1<<20)\n  if not b: break\n  h.update(b)\n  n+=len(b)\n\
         c.sendall(('%d %s' % (n, h.hexdigest())).encode())\nc.close()",
    );
    py.arg(&sock).arg(&go).stdout(Stdio::null());
    let mut py = Bg::spawn(py, dir.path(), "py");
    py.wait_stderr("ready");
    let log = dir.path().join("strace");
    let mut c = traced(&log, &["connect", sock.to_str().unwrap()]);
    c.stdin(File::open(&data).unwrap()).stdout(Stdio::piped());
    let u = Bg::spawn(c, dir.path(), "udskit");
    py.wait_stderr("waiting");
    const CUT: usize = 16 << 20;
    File::options()
        .write(true)
        .open(&data)
        .unwrap()
        .set_len(CUT as u64)
        .unwrap();
    std::fs::write(&go, b"").unwrap();
    let (st, out) = u.finish(T);
    assert!(st.success());
    let want = format!("{CUT} {}", sha256_hex(&bytes[..CUT]));
    assert_eq!(String::from_utf8_lossy(&out), want);
    assert!(moved(&log, "sendfile") > 0);
}

/// /dev/null on stdin: nothing goes up, the half-close at once, the answer comes down.
#[test]
fn connect_with_dev_null_on_stdin_half_closes_at_once() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    let _py = server(dir.path(), PY_HASHER, &[&sock]);
    let out = ud(&["connect", sock.to_str().unwrap()])
        .stdin(File::open("/dev/null").unwrap())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("0 {}", sha256_hex(b""))
    );
}

/// A unix server on argv[1] that sends 64 MiB and closes, whatever becomes of them.
const PY_FLOOD: &str = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\n\
s.listen()\nprint('ready',file=sys.stderr,flush=True)\nc,_=s.accept()\nb=b'x'*(1<<20)\n\
try:\n  for i in range(64): c.sendall(b)\nexcept OSError: pass\nc.close()";

/// Reads `n` bytes of the child's stdout, closes it, and waits for the exit.
fn close_stdout_after(mut bg: Bg, n: usize) -> std::process::ExitStatus {
    let mut stdout = bg.child.stdout.take().unwrap();
    let mut buf = vec![0u8; n];
    stdout.read_exact(&mut buf).unwrap();
    drop(stdout);
    bg.wait_exit(T)
}

/// A stdout pipe whose reader goes away ends connect's splice cleanly: exit 0.
#[test]
fn connect_ends_cleanly_when_stdout_closes() {
    if !have("python3") || !have("strace") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("s.sock");
    let _py = server(dir.path(), PY_FLOOD, &[&sock]);
    let log = dir.path().join("strace");
    let mut c = traced(&log, &["connect", sock.to_str().unwrap()]);
    c.stdin(Stdio::null()).stdout(Stdio::piped());
    let u = Bg::spawn(c, dir.path(), "udskit");
    let st = close_stdout_after(u, 1 << 20);
    assert_eq!(st.code(), Some(0));
    assert!(moved(&log, "splice") > 0);
}

/// listen: a 64 MiB stdin file to the client by sendfile, the client's 64 MiB into a
/// stdout file by splice, both at once, byte for byte.
#[test]
fn listen_file_to_file_both_ways_in_the_kernel() {
    if !have("python3") || !have("strace") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("l.sock");
    let (up, down) = (dir.path().join("up"), dir.path().join("down"));
    std::fs::write(&up, random_bytes(BIG)).unwrap();
    std::fs::write(&down, random_bytes(BIG)).unwrap();
    let got = dir.path().join("got");
    let log = dir.path().join("strace");
    let mut c = traced(&log, &["listen", sock.to_str().unwrap()]);
    c.stdin(File::open(&up).unwrap())
        .stdout(File::create(&got).unwrap());
    let mut l = Bg::spawn(c, dir.path(), "listen");
    l.wait_stderr("listening on");
    // The client sends `down` while it reads what listen sends into `back`.
    let back = dir.path().join("back");
    let client = python(
        "import socket,sys,threading\nc=socket.socket(socket.AF_UNIX)\nc.connect(sys.argv[1])\n\
         def send():\n  with open(sys.argv[2],'rb') as f:\n    while True:\n      b=f.read(1<<20)\n\
         \x20     if not b: break\n      c.sendall(b)\n  c.shutdown(socket.SHUT_WR)\n\
         t=threading.Thread(target=send)\nt.start()\n\
         with open(sys.argv[3],'wb') as o:\n  while True:\n    b=c.recv(1<<20)\n    if not b: break\n\
         \x20   o.write(b)\nt.join()",
    )
    .arg(&sock)
    .arg(&down)
    .arg(&back)
    .status()
    .unwrap();
    assert!(client.success());
    assert!(l.wait_exit(T).success(), "{}", l.stderr());
    assert_eq!(sha256_file(&got), sha256_file(&down));
    assert_eq!(sha256_file(&back), sha256_file(&up));
    assert!(moved(&log, "sendfile") > 0, "no sendfile moved stdin");
    assert!(
        moved(&log, "splice") > 0,
        "no splice moved the client's bytes"
    );
}

/// listen with stdout a pipe: the client's 64 MiB by splice, byte for byte, while the
/// runtime sleeps (the socket off its epoll: a handful of epoll_wait in all, where the
/// build before was woken once per piece, 826 times) and a splice that finds the socket
/// empty costs one poll, no more.
#[test]
fn listen_to_a_pipe_splices_with_the_runtime_asleep() {
    if !have("python3") || !have("strace") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("l.sock");
    let down = dir.path().join("down");
    std::fs::write(&down, random_bytes(BIG)).unwrap();
    let log = dir.path().join("strace");
    let mut c = udskit_traced(
        &[
            "-f",
            "-e",
            "trace=splice,epoll_wait,epoll_pwait,epoll_pwait2,poll,ppoll",
        ],
        &log,
    );
    c.arg("listen")
        .arg(&sock)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut l = Bg::spawn(c, dir.path(), "listen");
    l.wait_stderr("listening on");
    let mut client = python(
        "import socket,sys\nc=socket.socket(socket.AF_UNIX)\nc.connect(sys.argv[1])\n\
         with open(sys.argv[2],'rb') as f:\n  while True:\n    b=f.read(1<<20)\n\
         \x20   if not b: break\n    c.sendall(b)\n\
         c.shutdown(socket.SHUT_WR)\nwhile c.recv(1<<16): pass",
    );
    client.arg(&sock).arg(&down);
    let mut client = Bg::spawn(client, dir.path(), "client");
    let (st, got) = l.finish(T);
    assert!(
        st.success(),
        "{}",
        std::fs::read_to_string(dir.path().join("listen.stderr")).unwrap_or_default()
    );
    assert!(client.wait_exit(T).success(), "{}", client.stderr());
    assert_eq!(got.len(), BIG);
    assert_eq!(sha256_hex(&got), sha256_file(&down));
    assert!(
        moved(&log, "splice") > 0,
        "no splice moved the client's bytes"
    );
    let calls = calls(&log);
    let count = |what: &dyn Fn(&str) -> bool| calls.iter().filter(|l| what(l)).count();
    let again = count(&|l| l.contains("splice(") && l.contains("EAGAIN"));
    let epolls = count(&|l| l.contains("epoll_"));
    let polls = count(&|l| l.contains("poll(") && !l.contains("epoll_"));
    assert!(
        epolls < 32,
        "{epolls} epoll_wait calls: the runtime was woken per piece"
    );
    assert!(
        polls <= again + 4,
        "{polls} polls for {again} splices that found nothing: more than one wait each"
    );
}

/// The bytes a splice put into listen's stdout pipe are there for its reader while listen
/// waits for the client's next ones: a client sends 2 bytes and waits; once every thread of
/// listen sleeps (the bytes taken off the socket), the test reads them. A splice waiting in
/// a blocking socket holds the pipe's lock, and this read never returned (the hang of
/// issue 18, one run in many, when the reader came late).
#[test]
fn listen_to_a_pipe_lets_a_late_reader_read() {
    use std::io::{BufRead, BufReader, Write};
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("l.sock");
    let mut l = ud(&["listen", sock.to_str().unwrap()]);
    l.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut l = Bg::spawn(l, dir.path(), "listen");
    let _stdin_kept_open = l.child.stdin.take();
    l.wait_stderr("listening on");
    let mut client = python(
        "import socket,sys\nc=socket.socket(socket.AF_UNIX)\nc.connect(sys.argv[1])\n\
         c.sendall(b'hi')\nprint('sent',flush=True)\nsys.stdin.read()\n\
         c.sendall(b'yo')\nc.close()",
    );
    client.arg(&sock);
    let mut client = Bg::spawn_piped(client, dir.path(), "client");
    let mut line = String::new();
    BufReader::new(client.child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "sent\n");
    // The client's send woke the thread that splices: asleep again, it has taken the bytes.
    let tasks = format!("/proc/{}/task", l.pid());
    wait_until(T, "every thread of listen asleep", || {
        std::fs::read_dir(&tasks).unwrap().all(|t| {
            let stat = std::fs::read_to_string(t.unwrap().path().join("stat")).unwrap_or_default();
            stat.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('S'))
        })
    });
    let mut out = l.child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut first = [0u8; 2];
        let _ = tx.send(out.read_exact(&mut first).map(|()| first.to_vec()));
        let mut rest = Vec::new();
        let _ = tx.send(out.read_to_end(&mut rest).map(|_| rest));
    });
    let first = rx
        .recv_timeout(T)
        .expect("the client's 2 bytes never left the pipe");
    assert_eq!(first.unwrap(), b"hi");
    client.child.stdin.take().unwrap().write_all(b"go").unwrap();
    assert!(client.wait_exit(T).success(), "{}", client.stderr());
    assert!(l.wait_exit(T).success(), "{}", l.stderr());
    assert_eq!(rx.recv_timeout(T).unwrap().unwrap(), b"yo");
}

/// listen's stdout pipe closed early: exit 0, the client not left hanging.
#[test]
fn listen_ends_cleanly_when_stdout_closes() {
    if !have("python3") || !have("strace") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("l.sock");
    let log = dir.path().join("strace");
    let mut c = traced(&log, &["listen", sock.to_str().unwrap()]);
    c.stdin(Stdio::null()).stdout(Stdio::piped());
    let mut l = Bg::spawn(c, dir.path(), "listen");
    l.wait_stderr("listening on");
    let mut client = python(
        "import socket,sys\nc=socket.socket(socket.AF_UNIX)\nc.connect(sys.argv[1])\n\
         b=b'x'*(1<<20)\ntry:\n  for i in range(64): c.sendall(b)\nexcept OSError: pass",
    );
    client.arg(&sock);
    let _client = Bg::spawn(client, dir.path(), "client");
    let st = close_stdout_after(l, 1 << 20);
    assert_eq!(st.code(), Some(0));
    assert!(moved(&log, "splice") > 0);
}

/// A 64 MiB body from nginx, to a pipe and with -o to a file: byte-exact, the rest past
/// hyper's buffer spliced, -w's size_download the whole body.
#[test]
fn http_big_body_spliced_to_a_pipe_and_a_file() {
    if !have("nginx") || !have("strace") {
        return;
    }
    let dir = tempdir();
    let ng = Nginx::start(dir.path());
    let bytes = random_bytes(BIG);
    std::fs::write(ng.www.join("big.bin"), &bytes).unwrap();
    let sock = ng.sock.to_str().unwrap();
    let log = dir.path().join("strace");
    let out = traced(&log, &["http", sock, "/big.bin"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(out.stdout.len(), BIG);
    assert_eq!(sha256_hex(&out.stdout), sha256_hex(&bytes));
    assert!(
        moved(&log, "splice") > 0,
        "the body was not spliced to stdout"
    );

    let file = dir.path().join("got.bin");
    let log = dir.path().join("strace-o");
    let out = traced(
        &log,
        &[
            "http",
            sock,
            "/big.bin",
            "-o",
            file.to_str().unwrap(),
            "-w",
            "%{size_download}",
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), BIG.to_string());
    assert_eq!(sha256_file(&file), sha256_hex(&bytes));
    assert!(
        moved(&log, "splice") > 0,
        "the body was not spliced to the file"
    );
}

/// A unix HTTP server on argv[1], one connection per request: `/cut` announces 64 MiB and
/// closes after 16; `/go` redirects to `/body`, 20 MiB that end with the connection (no
/// Content-Length).
const PY_HTTP: &str = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\n\
s.listen()\nprint('ready',file=sys.stderr,flush=True)\n\
while True:\n  c,_=s.accept()\n  r=b''\n\
\x20 while b'\\r\\n\\r\\n' not in r: r+=c.recv(4096)\n  path=r.split(b' ')[1]\n\
\x20 b=bytes(range(256))*4096\n\
\x20 try:\n\
\x20   if path==b'/cut':\n      c.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 67108864\\r\\n\\r\\n')\n\
\x20     for i in range(16): c.sendall(b)\n\
\x20   elif path==b'/go':\n      c.sendall(b'HTTP/1.1 302 Found\\r\\nLocation: /body\\r\\nContent-Length: 4\\r\\n\\r\\nmove')\n\
\x20   else:\n      c.sendall(b'HTTP/1.1 200 OK\\r\\nConnection: close\\r\\n\\r\\n')\n\
\x20     for i in range(20): c.sendall(b)\n\
\x20 except OSError: pass\n  c.close()";

/// A body cut off in the splice says so with the counts; a redirect chain (-L) ends in a
/// body that lasts until the connection closes, spliced and whole.
#[test]
fn http_spliced_body_cut_short_and_after_a_redirect() {
    if !have("python3") || !have("strace") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("h.sock");
    let _py = server(dir.path(), PY_HTTP, &[&sock]);
    let s = sock.to_str().unwrap();
    let log = dir.path().join("strace");
    let out = traced(&log, &["http", s, "/cut"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(out.stdout.len(), 16 << 20);
    assert!(
        stderr_of(&out).contains(
            "the server closed the connection in the middle of the body (16777216 of 67108864 bytes received)"
        ),
        "{}",
        stderr_of(&out)
    );
    assert!(moved(&log, "splice") > 0);

    let log = dir.path().join("strace-l");
    let out = traced(
        &log,
        &[
            "http",
            "-L",
            "-w",
            "%{size_download} %{num_redirects}",
            s,
            "/go",
        ],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let want: Vec<u8> = (0..20 * 4096).flat_map(|_| 0..=255u8).collect();
    let (body, report) = out.stdout.split_at(want.len());
    assert_eq!(sha256_hex(body), sha256_hex(&want));
    assert_eq!(String::from_utf8_lossy(report), format!("{} 1", want.len()));
    assert!(moved(&log, "splice") > 0);
}
