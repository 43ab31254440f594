//! Backpressure and stops in the middle of a transfer. A consumer that reads slowly must
//! hold udskit's memory flat while a peer sends 128 MiB as fast as it can: relay (splice
//! and buffer copiers), connect and http each stay under 32 MiB of VmRSS, sampled every few
//! MiB, with every byte checked. And SIGTERM during a transfer (listen receiving an upload,
//! relay relaying, http -o mid-body) exits 143 and leaves nothing on disk: the socket files
//! gone, no temporary file, -o's FILE as it was, the temp dir as it was before the start;
//! so does SIGTERM to connect and http stuck behind a stdout pipe nobody reads.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::support::peers::{have, python};
use crate::support::servers::Nginx;
use crate::support::*;

/// What the fast peer sends in each backpressure test.
const TOTAL: usize = 128 << 20;
/// The peak resident memory allowed to udskit while TOTAL passes through it slowly: its
/// own baseline (about 9 MiB for the debug build) and a few buffers of 256 KiB, with room
/// to spare; a copy that queued what the slow reader has not taken yet would pass it.
const RSS_LIMIT: u64 = 32 << 20;
/// The slow reader: reads of READ bytes with PAUSE after each (about 50 MB/s, far below
/// what the peers and udskit move), so the queues fill up and stay full. Load, not
/// synchronisation: nothing waits for anything by sleeping.
const READ: usize = 32 << 10;
const PAUSE: Duration = Duration::from_micros(500);
/// udskit's VmRSS is sampled each time this many more bytes have been read.
const SAMPLE_EVERY: usize = 4 << 20;
/// Length of the byte pattern the peers repeat: no power of two, so a chunk lost, doubled
/// or swapped anywhere on the way (pipes, socket buffers and reads all come in powers of
/// two) shows up as a mismatch.
const PERIOD: usize = 1_000_003;
/// The longest a whole slow read may take before the test gives up on it.
const READ_LIMIT: Duration = Duration::from_secs(120);
const EXIT_LIMIT: Duration = Duration::from_secs(20);

/// The pattern, also written to DIR/pattern.bin for the Python peers.
fn pattern(dir: &Path) -> (Vec<u8>, PathBuf) {
    let p = noise(1, PERIOD);
    let path = dir.join("pattern.bin");
    std::fs::write(&path, &p).unwrap();
    (p, path)
}

/// Checks that `data`, found at `offset` of the stream, is the pattern repeated.
fn check_pattern(pat: &[u8], offset: usize, data: &[u8]) -> Result<(), String> {
    let (mut at, mut rest) = (offset, data);
    while !rest.is_empty() {
        let off = at % pat.len();
        let n = rest.len().min(pat.len() - off);
        if rest[..n] != pat[off..off + n] {
            let i = (0..n).find(|&i| rest[i] != pat[off + i]).unwrap_or(0);
            return Err(format!("byte {} differs from the pattern", at + i));
        }
        at += n;
        rest = &rest[n..];
    }
    Ok(())
}

/// A Python server on `sock` that sends each client `total` bytes of the pattern in
/// `argv[2]` and closes; with a head (HTTP), it first reads the request and sends the head.
/// With a pause, it sends 256 KiB at a time with that pause after each (a transfer that is
/// still going when the test stops udskit), otherwise as fast as it can.
const PY_SOURCE: &str = r#"
import socket, sys, time
sock, pat, total, pause, head = sys.argv[1], open(sys.argv[2], 'rb').read(), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5].encode()
s = socket.socket(socket.AF_UNIX)
s.bind(sock)
s.listen()
print('ready', file=sys.stderr, flush=True)
m = memoryview(pat)
step = 256 * 1024 if pause else len(pat)
while True:
    c, _ = s.accept()
    try:
        if head:
            c.recv(65536)
            c.sendall(head)
        sent = 0
        while sent < total:
            off = sent % len(pat)
            n = min(step, len(pat) - off, total - sent)
            c.sendall(m[off:off + n])
            sent += n
            if pause:
                time.sleep(pause)
    except OSError:
        pass
    c.close()
"#;

fn source(dir: &Path, sock: &Path, pat: &Path, total: usize, pause: f64, head: &str) -> Bg {
    let mut c = python(PY_SOURCE);
    c.arg(sock)
        .arg(pat)
        .arg(total.to_string())
        .arg(pause.to_string())
        .arg(head)
        .stdout(Stdio::null());
    let mut bg = Bg::spawn(c, dir, "source");
    bg.wait_stderr("ready");
    bg
}

/// The resident memory of a process, from /proc/PID/status; None once it has exited (a
/// zombie has no VmRSS line).
fn vm_rss(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// How a slow read went.
struct Reading {
    total: usize,
    /// udskit's VmRSS: at the first bytes, then every SAMPLE_EVERY bytes, then at EOF.
    samples: Vec<u64>,
    /// Reads that filled the whole buffer: bytes were waiting, the reader is the bottleneck.
    full: usize,
    reads: usize,
    /// The first thing that went wrong: a read error, or the sink's complaint.
    error: Option<String>,
}

impl Reading {
    fn peak(&self) -> u64 {
        self.samples.iter().copied().max().unwrap_or(0)
    }

    /// The figure for logs and failure messages.
    fn figure(&self) -> String {
        format!(
            "peak VmRSS {:.1} MiB (first sample {:.1} MiB, {} samples), {} bytes read, \
             {} of {} reads full",
            mib(self.peak()),
            mib(self.samples.first().copied().unwrap_or(0)),
            self.samples.len(),
            self.total,
            self.full,
            self.reads
        )
    }
}

/// Sees each chunk read and the offset it was read at; an Err stops the read.
type Sink = Box<dyn FnMut(usize, &[u8]) -> Result<(), String> + Send>;

/// What the slow reader does besides reading: check each chunk, and SIGTERM udskit once
/// this many bytes have been read.
struct Plan {
    sink: Sink,
    stop_after: Option<usize>,
}

/// Reads `src` to EOF (or TOTAL bytes and one more, which is too many) slowly, handing
/// each chunk and its offset to the sink and sampling the VmRSS of `pid` as it goes. Runs
/// on a thread of its own, so that a udskit that stalls fails the test after READ_LIMIT
/// instead of hanging it (the Bg guard then stops udskit, which ends the read).
fn read_slowly<R: Read + Send + 'static>(mut src: R, pid: i32, mut plan: Plan) -> Reading {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut r = Reading {
            total: 0,
            samples: Vec::new(),
            error: None,
            full: 0,
            reads: 0,
        };
        let mut buf = vec![0u8; READ];
        let mut next_sample = 0;
        while r.total <= TOTAL {
            let n = match src.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    r.error = Some(format!("reading after {} bytes: {e}", r.total));
                    break;
                }
            };
            if let Err(e) = (plan.sink)(r.total, &buf[..n]) {
                r.error = Some(e);
                break;
            }
            r.total += n;
            r.reads += 1;
            r.full += usize::from(n == READ);
            if r.total >= next_sample {
                next_sample += SAMPLE_EVERY;
                r.samples.extend(vm_rss(pid));
            }
            if plan.stop_after.is_some_and(|at| r.total >= at) {
                plan.stop_after = None;
                send_signal(pid, 15);
            }
            std::thread::sleep(PAUSE);
        }
        r.samples.extend(vm_rss(pid));
        let _ = tx.send(r);
    });
    rx.recv_timeout(READ_LIMIT)
        .unwrap_or_else(|_| panic!("the slow read did not end within {READ_LIMIT:?}"))
}

fn checking(pat: Vec<u8>) -> Plan {
    Plan {
        sink: Box::new(move |at, data| check_pattern(&pat, at, data)),
        stop_after: None,
    }
}

/// Asserts that all of TOTAL arrived intact, with udskit's peak VmRSS under RSS_LIMIT, and
/// prints the figure (`--nocapture` shows it).
fn assert_flat(what: &str, r: &Reading, stderr: &str) {
    eprintln!("backpressure figure: {what}: {}", r.figure());
    assert!(
        r.error.is_none() && r.total == TOTAL,
        "{what}: {:?}, {} of {TOTAL} bytes; {}; udskit's stderr:\n{stderr}",
        r.error,
        r.total,
        r.figure()
    );
    assert!(
        r.peak() < RSS_LIMIT,
        "{what}: peak VmRSS {:.1} MiB, over the {} MiB allowed; {}",
        mib(r.peak()),
        RSS_LIMIT >> 20,
        r.figure()
    );
}

/// Starts `udskit relay ARGS...` (its stderr in DIR/NAME.stderr) and waits until it
/// listens; returns it and its TCP port (0 for a unix LISTEN).
fn relay(dir: &Path, name: &str, args: &[&str]) -> (Bg, u16) {
    let mut c = udskit();
    c.arg("relay").args(args).stdout(Stdio::null());
    let mut bg = Bg::spawn(c, dir, name);
    let err = bg.wait_stderr("listening");
    let port = port_after(&err, "tcp:127.0.0.1:").unwrap_or(0);
    (bg, port)
}

/// Every path under `dir`, relative to it, directories included.
fn listing(dir: &Path) -> BTreeSet<PathBuf> {
    fn walk(root: &Path, at: &Path, out: &mut BTreeSet<PathBuf>) {
        for e in std::fs::read_dir(at).unwrap() {
            let path = e.unwrap().path();
            out.insert(path.strip_prefix(root).unwrap().to_path_buf());
            if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                walk(root, &path, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// Asserts that `dir` holds what it held `before` udskit started, plus the files the test
/// itself created since (`ours`, such as udskit's captured stderr), and nothing else.
fn assert_as_before(what: &str, dir: &Path, before: &BTreeSet<PathBuf>, ours: &[&str]) {
    let mut want = before.clone();
    want.extend(ours.iter().map(PathBuf::from));
    let now = listing(dir);
    let added: Vec<_> = now.difference(&want).collect();
    let gone: Vec<_> = want.difference(&now).collect();
    assert!(
        added.is_empty() && gone.is_empty(),
        "{what}: left in {}: {added:?}; gone: {gone:?}",
        dir.display()
    );
}

/// relay: 128 MiB from a unix socket to a TCP client that reads slowly, with the default
/// copier (splice) and through a buffer (`--copier buffer`, what --dump uses).
#[test]
fn relay_to_a_slow_reader_stays_flat() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (pat, pat_path) = pattern(dir.path());
    let sock = dir.path().join("src.sock");
    let _src = source(dir.path(), &sock, &pat_path, TOTAL, 0.0, "");
    for (name, extra) in [("splice", &[][..]), ("buffer", &["--copier", "buffer"][..])] {
        let mut args = extra.to_vec();
        args.extend(["tcp:0", sock.to_str().unwrap()]);
        let (mut r, port) = relay(dir.path(), name, &args);
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let reading = read_slowly(s, r.pid(), checking(pat.clone()));
        assert_flat(&format!("relay ({name})"), &reading, &r.stderr());
        let log = r.wait_stderr("#1 ");
        assert!(
            log.contains(&format!(": closed, 0 bytes up, {TOTAL} down")),
            "{log}"
        );
    }
}

/// connect: 128 MiB from a unix socket to a stdout pipe read slowly; exit 0 at the end.
#[test]
fn connect_to_a_slow_stdout_stays_flat() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (pat, pat_path) = pattern(dir.path());
    let sock = dir.path().join("src.sock");
    let _src = source(dir.path(), &sock, &pat_path, TOTAL, 0.0, "");
    let mut c = ud(&["connect"]);
    c.arg(&sock).stdin(Stdio::null()).stdout(Stdio::piped());
    let mut bg = Bg::spawn(c, dir.path(), "connect");
    let out = bg.child.stdout.take().unwrap();
    let reading = read_slowly(out, bg.pid(), checking(pat));
    assert_flat("connect", &reading, &bg.stderr());
    assert_eq!(bg.wait_exit(EXIT_LIMIT).code(), Some(0), "{}", bg.stderr());
}

/// http: nginx sends a 128 MiB file (sparse, with the pattern at every 8 MiB) to a stdout
/// pipe read slowly; the body's size and sha256 are the file's, exit 0.
#[test]
fn http_to_a_slow_stdout_stays_flat() {
    if !have("nginx") {
        return;
    }
    let dir = tempdir();
    let ng = Nginx::start(dir.path());
    let big = ng.www.join("big");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(TOTAL as u64).unwrap();
    let marks = noise(1, 64 << 10);
    for k in 0..TOTAL / (8 << 20) {
        std::os::unix::fs::FileExt::write_all_at(&f, &marks, (k * (8 << 20) + k) as u64).unwrap();
    }
    drop(f);
    let sha_of = |c: &mut Command| {
        let out = c.stdout(Stdio::piped()).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        String::from_utf8(out.stdout).unwrap()[..64].to_string()
    };
    let want = sha_of(Command::new("sha256sum").arg(&big));
    // The body goes on to sha256sum as it is read, never held whole.
    let mut sum = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_sum = sum.stdin.take().unwrap();
    let plan = Plan {
        sink: Box::new(move |_, data| to_sum.write_all(data).map_err(|e| e.to_string())),
        stop_after: None,
    };
    let mut c = ud(&["http"]);
    c.arg(&ng.sock)
        .arg("/big")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut bg = Bg::spawn(c, dir.path(), "http");
    let out = bg.child.stdout.take().unwrap();
    let reading = read_slowly(out, bg.pid(), plan);
    assert_flat("http", &reading, &bg.stderr());
    assert_eq!(bg.wait_exit(EXIT_LIMIT).code(), Some(0), "{}", bg.stderr());
    let got = String::from_utf8(sum.wait_with_output().unwrap().stdout).unwrap();
    assert_eq!(got[..64], want, "sha256 of the body");
}

/// listen, receiving an upload into a file: SIGTERM mid-upload exits 143, the socket file
/// goes, the bytes written are the upload's first bytes, and nothing else is left.
#[test]
fn sigterm_during_an_upload_to_listen_leaves_nothing() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (pat, pat_path) = pattern(dir.path());
    let sock = dir.path().join("up.sock");
    let got = dir.path().join("upload.out");
    let out = std::fs::File::create(&got).unwrap();
    let before = listing(dir.path());
    let mut c = ud(&["listen"]);
    c.arg(&sock).stdin(Stdio::null()).stdout(out);
    let mut server = Bg::spawn(c, dir.path(), "listen");
    server.wait_stderr("udskit: listening on");
    // Up to 512 MiB, 256 KiB at a time with a short pause: still going when stopped.
    let mut client = python(
        r#"
import socket, sys, time
pat, total = open(sys.argv[2], 'rb').read(), int(sys.argv[3])
c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[1])
m, sent = memoryview(pat), 0
try:
    while sent < total:
        off = sent % len(pat)
        n = min(256 * 1024, len(pat) - off, total - sent)
        c.sendall(m[off:off + n])
        sent += n
        time.sleep(0.002)
except OSError as e:
    print('cut after', sent, e, file=sys.stderr, flush=True)
    sys.exit(0)
print('sent all', sent, file=sys.stderr, flush=True)
"#,
    );
    client
        .arg(&sock)
        .arg(&pat_path)
        .arg((512usize << 20).to_string())
        .stdout(Stdio::null());
    let mut client = Bg::spawn(client, dir.path(), "client");
    wait_until(Duration::from_secs(20), "16 MiB of the upload", || {
        std::fs::metadata(&got).is_ok_and(|m| m.len() >= 16 << 20)
    });
    server.signal(15);
    assert_eq!(
        server.wait_exit(EXIT_LIMIT).code(),
        Some(143),
        "{}",
        server.stderr()
    );
    assert!(!sock.exists(), "{} left behind", sock.display());
    assert!(
        client.wait_exit(EXIT_LIMIT).success(),
        "{}",
        client.stderr()
    );
    assert!(client.stderr().contains("cut after"), "{}", client.stderr());
    let data = std::fs::read(&got).unwrap();
    check_pattern(&pat, 0, &data).unwrap();
    assert_as_before(
        "listen",
        dir.path(),
        &before,
        &["listen.stderr", "client.stderr"],
    );
}

/// relay on a unix socket, in the middle of relaying to a slow reader: SIGTERM removes the
/// socket file at once, the connection is closed when --grace ends, exit 143; the client
/// got an intact first part, and nothing is left.
#[test]
fn sigterm_during_a_relayed_transfer_leaves_nothing() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (pat, pat_path) = pattern(dir.path());
    let sock = dir.path().join("src.sock");
    let _src = source(dir.path(), &sock, &pat_path, TOTAL, 0.0, "");
    let front = dir.path().join("front.sock");
    let before = listing(dir.path());
    let (mut r, _) = relay(
        dir.path(),
        "relay",
        &[
            "--grace",
            "300ms",
            front.to_str().unwrap(),
            sock.to_str().unwrap(),
        ],
    );
    let s = UnixStream::connect(&front).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut plan = checking(pat);
    plan.stop_after = Some(8 << 20);
    let reading = read_slowly(s, r.pid(), plan);
    assert_eq!(r.wait_exit(EXIT_LIMIT).code(), Some(143), "{}", r.stderr());
    assert!(
        reading.error.is_none() && reading.total < TOTAL,
        "{:?} after {} bytes: not cut by the stop; {}",
        reading.error,
        reading.total,
        r.stderr()
    );
    let log = r.stderr();
    assert!(
        log.contains("closed at the end of the grace period"),
        "{log}"
    );
    assert!(!front.exists(), "{} left behind", front.display());
    assert_as_before("relay", dir.path(), &before, &["relay.stderr"]);
}

/// http -o FILE, in the middle of the body: SIGTERM exits 143, FILE keeps its old
/// contents, the temporary file beside it is gone, and nothing else is left.
#[test]
fn sigterm_during_http_output_leaves_the_old_file() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (_, pat_path) = pattern(dir.path());
    let sock = dir.path().join("web.sock");
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {TOTAL}\r\n\r\n");
    let _src = source(dir.path(), &sock, &pat_path, TOTAL, 0.002, &head);
    let saved = dir.path().join("saved.bin");
    std::fs::write(&saved, b"old contents").unwrap();
    let before = listing(dir.path());
    let temp = |min: u64| {
        std::fs::read_dir(dir.path()).unwrap().any(|e| {
            let e = e.unwrap();
            e.file_name()
                .to_string_lossy()
                .starts_with(".saved.bin.udskit-")
                && e.metadata().is_ok_and(|m| m.len() >= min)
        })
    };
    let mut c = ud(&["http"]);
    c.arg(&sock)
        .args(["-o", saved.to_str().unwrap(), "/"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut bg = Bg::spawn(c, dir.path(), "http");
    wait_until(
        Duration::from_secs(20),
        "8 MiB of the body in the temporary file",
        || temp(8 << 20),
    );
    assert_eq!(std::fs::read(&saved).unwrap(), b"old contents");
    bg.signal(15);
    assert_eq!(
        bg.wait_exit(EXIT_LIMIT).code(),
        Some(143),
        "{}",
        bg.stderr()
    );
    assert_eq!(std::fs::read(&saved).unwrap(), b"old contents");
    assert!(!temp(0), "the temporary file is left");
    assert_as_before("http -o", dir.path(), &before, &["http.stderr"]);
}

/// connect and http with a stdout pipe that stops being read in the middle of 128 MiB:
/// udskit waits for the reader (flat, as above) until SIGTERM, which must end it with 143
/// all the same, however full the pipe (http used to wait for the reader for ever).
#[test]
fn sigterm_with_a_stdout_nobody_reads_exits_143() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let (pat, pat_path) = pattern(dir.path());
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {TOTAL}\r\n\r\n");
    for (name, head) in [("connect", ""), ("http", head.as_str())] {
        let sock = dir.path().join(format!("{name}.sock"));
        let _src = source(dir.path(), &sock, &pat_path, TOTAL, 0.0, head);
        let mut c = ud(&[name]);
        c.arg(&sock);
        if name == "http" {
            c.arg("/");
        }
        c.stdin(Stdio::null()).stdout(Stdio::piped());
        let mut bg = Bg::spawn(c, dir.path(), name);
        // The first 4 MiB, checked; then the pipe is kept open and never read again.
        let mut out = bg.child.stdout.take().unwrap();
        let mut first = vec![0u8; 4 << 20];
        out.read_exact(&mut first).unwrap();
        check_pattern(&pat, 0, &first).unwrap();
        wait_until(
            EXIT_LIMIT,
            "a thread of udskit blocked writing the pipe",
            || blocked_on_pipe(bg.pid()),
        );
        bg.signal(15);
        assert_eq!(
            bg.wait_exit(EXIT_LIMIT).code(),
            Some(143),
            "{name}: {}",
            bg.stderr()
        );
        drop(out);
    }
}

/// True when a thread of `pid` sleeps in a write or splice to a full pipe (its wchan, as ps shows),
/// so the signal finds udskit stuck behind the pipe and not between two writes that still
/// fit. A kernel that hides wchan (all "0") cannot tell: then true at once, and the test
/// is only as sharp as the pipe is full by then.
fn blocked_on_pipe(pid: i32) -> bool {
    let wchans: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("wchan")).ok())
        .collect();
    // A write waits in pipe_write; a splice into the pipe (connect and http move the bytes
    // in the kernel) in pipe_wait_writable.
    wchans.iter().all(|w| w.trim() == "0")
        || wchans
            .iter()
            .any(|w| w.ends_with("pipe_write") || w.ends_with("pipe_wait_writable"))
}
