//! Descriptors over unix sockets (SCM_RIGHTS): `sendto --fd/--send-file` read by Python's
//! `socket.recv_fds`, `recvfrom` describing what Python's `socket.send_fds` passes (file,
//! pipe, socket) in its log and --json and closing it, and MSG_CTRUNC at the open-file limit.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::peers::{have, python};
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(20);

fn s(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn sendto_fd_and_send_file_reach_python_recv_fds() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    let a = dir.path().join("a.txt");
    let b = dir.path().join("b.bin");
    std::fs::write(&a, b"first file\n").unwrap();
    let binary = random_bytes(5000);
    std::fs::write(&b, &binary).unwrap();
    // Prints the datagram, then each descriptor's whole content in hex.
    let mut py = python(&format!(
        "import socket,sys,os\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind({:?})\n\
         print('ready',file=sys.stderr,flush=True)\n\
         msg,fds,flags,addr=socket.recv_fds(s,4096,10)\nprint(msg.hex())\nprint(len(fds))\n\
         for f in fds:\n  os.lseek(f,0,0)\n  print(os.read(f,1<<20).hex())\n",
        s(&sock)
    ));
    py.stdout(Stdio::piped());
    let mut rx = Bg::spawn(py, dir.path(), "py");
    rx.wait_stderr("ready");
    let mut c = udskit();
    c.args([
        "sendto",
        "--fd",
        "0",
        "--send-file",
        s(&b),
        s(&sock),
        "with",
        "fds",
    ]);
    c.stdin(std::fs::File::open(&a).unwrap());
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (st, stdout) = rx.finish(LIMIT);
    assert!(st.success());
    let text = String::from_utf8(stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(lines[0], hex(b"with fds"));
    assert_eq!(lines[1], "2");
    assert_eq!(lines[2], hex(b"first file\n"));
    assert_eq!(lines[3], hex(&binary));
}

#[test]
fn sendto_refuses_a_closed_descriptor_and_a_missing_file() {
    let dir = tempdir();
    let sock = dir.path().join("none.sock");
    let out = udskit()
        .args(["sendto", "--fd", "77", s(&sock), "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("udskit: error: --fd 77: not an open descriptor"),
        "{}",
        stderr_of(&out)
    );
    let missing = dir.path().join("missing");
    let out = udskit()
        .args(["sendto", "--send-file", s(&missing), s(&sock), "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("to pass it (--send-file): No such file"),
        "{}",
        stderr_of(&out)
    );
}

/// A low number the shell left closed (`--fd 3` without `3<FILE`) is refused too, although
/// by the time the datagram goes udskit has descriptors of its own there (the runtime's
/// epoll and eventfd, a socket), which it passed in its place before: sendto and connect
/// --send-fd exit 2 for each of 3 to 8, and the receiver gets nothing.
#[test]
fn a_low_closed_number_is_refused_not_filled_by_our_own() {
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    let got = dir.path().join("got");
    let mut rx = udskit();
    rx.arg("recvfrom").arg(&sock);
    rx.stdout(std::fs::File::create(&got).unwrap());
    let mut rx = Bg::spawn(rx, dir.path(), "recvfrom");
    rx.wait_stderr("receiving on");
    // Closed in a shell first: the test harness may hand down descriptors of its own.
    let closed = |args: &[&str]| {
        let u = udskit();
        let mut c = Command::new("sh");
        c.env_clear()
            .envs(u.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .arg("-c")
            .arg(r#"exec 3>&- 4>&- 5>&- 6>&- 7>&- 8>&-; echo x | exec "$0" "$@""#)
            .arg(u.get_program())
            .args(u.get_args())
            .args(args);
        c.output().unwrap()
    };
    for n in 3..=8 {
        let n = n.to_string();
        for (flag, sub) in [("--fd", "sendto"), ("--send-fd", "connect")] {
            let out =
                closed(&[sub, flag, &n, s(&sock), "x"][..if sub == "sendto" { 5 } else { 4 }]);
            assert_eq!(
                out.status.code(),
                Some(2),
                "{sub} {flag} {n}: {}",
                stderr_of(&out)
            );
            let want = format!("udskit: error: {flag} {n}: not an open descriptor");
            assert!(stderr_of(&out).contains(&want), "{}", stderr_of(&out));
        }
    }
    // One datagram that does arrive, after every refused one would have.
    let out = closed(&["sendto", s(&sock), "last"]);
    assert!(out.status.success(), "{}", stderr_of(&out));
    wait_until(LIMIT, "the last datagram", || {
        std::fs::read(&got).unwrap_or_default().ends_with(b"last")
    });
    assert_eq!(std::fs::read(&got).unwrap(), b"last");
    let log = rx.stderr();
    assert!(!log.contains("fd:"), "{log}");
}

/// Python sends a regular file, a pipe's read end and one end of a socket pair; recvfrom
/// must show all three, then close them: Python sees the pipe broken (EPIPE) and the socket
/// pair's other end at EOF while recvfrom is still running.
#[test]
fn recvfrom_shows_python_send_fds_and_closes_them() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    let file = dir.path().join("passed.txt");
    std::fs::write(&file, b"hello").unwrap();
    let mut c = udskit();
    c.args(["recvfrom", "--json", s(&sock)]);
    c.stdout(Stdio::piped());
    let mut rx = Bg::spawn(c, dir.path(), "recvfrom");
    wait_for_socket(&sock);
    let py = python(&format!(
        "import socket,os,time,signal\nsignal.signal(signal.SIGPIPE,signal.SIG_DFL)\n\
         s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\nf=os.open({:?},os.O_RDONLY)\n\
         r,w=os.pipe()\na,b=socket.socketpair()\n\
         s.connect({:?})\nsocket.send_fds(s,[b'three'],[f,r,b.fileno()])\n\
         os.close(f);os.close(r);b.close()\nsignal.signal(signal.SIGPIPE,signal.SIG_IGN)\n\
         deadline=time.time()+15\nbroken=False\n\
         while time.time()<deadline and not broken:\n\
         \x20 try:\n    os.write(w,b'x')\n    time.sleep(0.01)\n\
         \x20 except BrokenPipeError:\n    broken=True\n\
         a.settimeout(15)\nprint('pipe closed' if broken else 'pipe open')\n\
         print('socket eof' if a.recv(1)==b'' else 'socket data')\n",
        s(&file),
        s(&sock)
    ));
    let out = run_with_input(py, b"", LIMIT);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "pipe closed\nsocket eof\n",
        "recvfrom kept a passed descriptor open; its stderr:\n{}",
        rx.stderr()
    );
    let log = rx.wait_stderr("pipe inode");
    assert!(log.contains(&format!("regular file {}", s(&file))), "{log}");
    assert!(log.contains("socket unix stream inode"), "{log}");
    rx.signal(15);
    let (_, stdout) = rx.finish(LIMIT);
    let line: serde_json::Value =
        serde_json::from_slice(stdout.split(|&b| b == b'\n').next().unwrap()).unwrap();
    assert_eq!(line["data"], "three");
    let fds = line["fds"].as_array().unwrap();
    assert_eq!(fds.len(), 3);
    assert_eq!(fds[0]["kind"], "regular file");
    assert_eq!(fds[0]["target"], s(&file));
    assert_eq!(fds[0]["size"], 5);
    assert_eq!(fds[1]["kind"], "pipe");
    assert!(fds[1]["target"].as_str().unwrap().starts_with("pipe:["));
    assert_eq!(fds[2]["kind"], "socket");
    assert_eq!(fds[2]["socket"], "unix stream");
    assert!(line.get("fds_cut").is_none());
}

/// At its open-file limit recvfrom cannot take all of 40 descriptors: the kernel cuts the
/// control data (MSG_CTRUNC) and recvfrom says so, in the log and in --json.
#[test]
fn recvfrom_reports_descriptors_lost_at_the_open_file_limit() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_udskit"));
    let mut c = Command::new("sh");
    c.args([
        "-c",
        &format!(
            "ulimit -n 32 && exec {} --color=never recvfrom --json -n 1 {}",
            bin.display(),
            s(&sock)
        ),
    ]);
    c.stdout(Stdio::piped());
    let mut rx = Bg::spawn(c, dir.path(), "recvfrom");
    wait_for_socket(&sock);
    let py = python(&format!(
        "import socket,os\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n\
         fds=[os.open('/dev/null',os.O_RDONLY) for _ in range(40)]\n\
         s.connect({:?})\nsocket.send_fds(s,[b'many'],fds)\n",
        s(&sock)
    ));
    let out = run_with_input(py, b"", LIMIT);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let log = rx.wait_stderr("MSG_CTRUNC");
    assert!(log.contains("our open-file limit is 32"), "{log}");
    let (st, stdout) = rx.finish(LIMIT);
    assert!(st.success());
    let line: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(line["fds_cut"], true, "{log}");
    let got = line["fds"].as_array().map_or(0, Vec::len);
    assert!(got < 40, "{got} of 40 arrived at a limit of 32");
}

/// A Python stream server that takes one client, prints the first message's bytes (hex),
/// the count of descriptors with it and each one's content (hex), then the hex of all the
/// bytes that followed until EOF.
pub(super) fn py_stream_server(sock: &std::path::Path) -> Command {
    python(&format!(
        "import socket,sys,os\nl=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM)\nl.bind({:?})\nl.listen()\n\
         print('ready',file=sys.stderr,flush=True)\nc,_=l.accept()\n\
         msg,fds,flags,addr=socket.recv_fds(c,1<<16,10)\nprint(msg.hex())\nprint(len(fds))\n\
         for f in fds:\n  os.lseek(f,0,0)\n  print(os.read(f,1<<20).hex())\n\
         rest=b''\nwhile True:\n  d=c.recv(1<<16)\n  if not d: break\n  rest+=d\nprint(rest.hex())\n",
        s(sock)
    ))
}

pub(super) fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn connect_passes_descriptors_with_the_first_bytes_or_one_nul_byte() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let file = dir.path().join("f.txt");
    std::fs::write(&file, b"passed over a stream\n").unwrap();
    for (input, first) in [
        (&b"hello server\n"[..], &b"hello server\n"[..]),
        (b"", b"\0"),
    ] {
        let sock = dir.path().join("s.sock");
        let _ = std::fs::remove_file(&sock);
        let mut py = py_stream_server(&sock);
        py.stdout(Stdio::piped());
        let mut srv = Bg::spawn(py, dir.path(), "py");
        srv.wait_stderr("ready");
        let mut c = udskit();
        c.args(["connect", "--send-file", s(&file), s(&sock)]);
        let out = run_with_input(c, input, LIMIT);
        assert!(out.status.success(), "{}", stderr_of(&out));
        let (st, stdout) = srv.finish(LIMIT);
        assert!(st.success());
        let text = String::from_utf8(stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], hex(first));
        assert_eq!(lines[1], "1");
        assert_eq!(lines[2], hex(b"passed over a stream\n"));
        assert_eq!(lines[3], "");
    }
}

#[test]
fn connect_send_fd_needs_a_unix_socket() {
    let out = udskit()
        .args(["connect", "--send-fd", "0", "tcp:127.0.0.1:9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("descriptors pass only over unix sockets"),
        "{}",
        stderr_of(&out)
    );
}

/// Python passes a file and a pipe with its request; `listen --take-fds --exec` logs them
/// and the command finds them at 3 and 4, UDSKIT_FDS=2, and the request still on stdin.
#[test]
fn listen_take_fds_hands_python_descriptors_to_exec() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("l.sock");
    let file = dir.path().join("f.txt");
    std::fs::write(&file, b"from the file\n").unwrap();
    let mut l = udskit();
    l.args([
        "listen",
        "--take-fds",
        "--count",
        "1",
        "--exec",
        "head -c 3; echo; echo \"n=$UDSKIT_FDS\"; cat <&3; cat <&4",
        s(&sock),
    ]);
    let mut srv = Bg::spawn(l, dir.path(), "listen");
    wait_for_socket(&sock);
    let py = python(&format!(
        "import socket,os,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM)\ns.connect({:?})\n\
         f=os.open({:?},os.O_RDONLY)\nr,w=os.pipe()\nsocket.send_fds(s,[b'req'],[f,r])\n\
         os.close(f);os.close(r)\nos.write(w,b'through the pipe\\n');os.close(w)\n\
         s.shutdown(socket.SHUT_WR)\nout=b''\nwhile True:\n  d=s.recv(4096)\n  if not d: break\n  out+=d\n\
         sys.stdout.write(out.decode())\n",
        s(&sock),
        s(&file)
    ));
    let out = run_with_input(py, b"", LIMIT);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "req\nn=2\nfrom the file\nthrough the pipe\n",
        "listen's stderr:\n{}",
        srv.stderr()
    );
    let log = srv.wait_stderr("command exited with 0");
    assert!(log.contains("client #1: fd: "), "{log}");
    assert!(log.contains(&format!("regular file {}", s(&file))), "{log}");
    assert!(log.contains("pipe inode"), "{log}");
    assert_eq!(srv.wait_exit(LIMIT).code(), Some(0));
}

/// `listen -k --take-fds` logs what comes with the first bytes and still writes every byte.
#[test]
fn listen_take_fds_logs_and_keeps_the_bytes() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("l.sock");
    let mut l = udskit();
    l.args(["listen", "-k", "--take-fds", "--count", "1", s(&sock)]);
    l.stdout(Stdio::piped());
    let mut srv = Bg::spawn(l, dir.path(), "listen");
    wait_for_socket(&sock);
    let py = python(&format!(
        "import socket\ns=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM)\ns.connect({:?})\n\
         a,b=socket.socketpair(socket.AF_UNIX,socket.SOCK_DGRAM)\n\
         socket.send_fds(s,[b'first '],[a.fileno()])\ns.sendall(b'and the rest')\ns.close()\n",
        s(&sock)
    ));
    let out = run_with_input(py, b"", LIMIT);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let log = srv.wait_stderr("socket unix dgram inode");
    assert!(log.contains("client #1: fd: "), "{log}");
    let (st, stdout) = srv.finish(LIMIT);
    assert!(st.success());
    assert_eq!(stdout, b"first and the rest");
}

/// A descriptor on a client's first bytes ends the kernel's read there with the rest
/// queued behind it: `listen` must read on (it once waited for an event that never came,
/// while the client, sending without blocking, waited for room).
#[test]
fn listen_reads_on_past_bytes_that_carried_a_descriptor() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("l.sock");
    let mut l = udskit();
    l.args(["listen", "-k", "--count", "1", s(&sock)]);
    l.stdout(Stdio::piped());
    let srv = Bg::spawn(l, dir.path(), "listen");
    wait_for_socket(&sock);
    let py = python(&format!(
        "import os,select,socket,sys,time\ns=socket.socket(socket.AF_UNIX)\ns.connect({:?})\n\
         s.setblocking(False)\nf=os.open('/etc/hostname',os.O_RDONLY)\n\
         data=bytes(range(256))*4000\nsent=socket.send_fds(s,[data],[f])\n\
         p=select.poll()\np.register(s,select.POLLOUT)\ndeadline=time.time()+15\n\
         while sent<len(data) and time.time()<deadline:\n\
         \x20 if p.poll(200):\n\
         \x20   try: sent+=s.send(data[sent:])\n\
         \x20   except BlockingIOError: pass\n\
         s.close()\nsys.exit(0 if sent==len(data) else 'stalled at %d' % sent)\n",
        s(&sock)
    ));
    let out = run_with_input(py, b"", Duration::from_secs(60));
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (st, stdout) = srv.finish(LIMIT);
    assert!(st.success());
    assert_eq!(stdout.len(), 1_024_000);
    assert!(
        stdout
            .chunks(256)
            .all(|c| c == (0..=255u8).collect::<Vec<_>>())
    );
}

/// A first read of stdin larger than one seqpacket record the kernel takes is split, with
/// the descriptor on the first record, as a plain `connect --seqpacket` splits it.
#[test]
fn connect_seqpacket_passes_a_descriptor_with_a_large_first_read() {
    let dir = tempdir();
    let sock = dir.path().join("q.sock");
    let mut l = udskit();
    l.args(["listen", "--seqpacket", "-k", "--count", "1", s(&sock)]);
    l.stdout(Stdio::piped());
    let srv = Bg::spawn(l, dir.path(), "listen");
    wait_for_socket(&sock);
    let data = random_bytes(1_000_000);
    let mut c = udskit();
    c.args([
        "connect",
        "--seqpacket",
        "--send-file",
        "/etc/hostname",
        s(&sock),
    ]);
    let out = run_with_input(c, &data, LIMIT);
    assert!(out.status.success(), "{}", stderr_of(&out));
    let (st, stdout) = srv.finish(LIMIT);
    assert!(st.success());
    assert!(stdout == data, "{} bytes of {}", stdout.len(), data.len());
}

/// A server that never reads holds the send of the first bytes and their descriptors: a
/// stop signal still ends `connect` at once (143), as it ends the plain copy.
#[test]
fn a_stop_signal_ends_connect_while_its_descriptors_wait_for_room() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("n.sock");
    let mut py = python(&format!(
        "import socket,sys,time\nl=socket.socket(socket.AF_UNIX)\nl.bind({:?})\nl.listen(4)\n\
         s,_=l.accept()\nprint('accepted',file=sys.stderr,flush=True)\ntime.sleep(60)\n",
        s(&sock)
    ));
    py.stdin(Stdio::null());
    let mut server = Bg::spawn_piped(py, dir.path(), "server");
    wait_for_socket(&sock);
    let big = dir.path().join("big.bin");
    std::fs::write(&big, random_bytes(4_000_000)).unwrap();
    let mut c = udskit();
    c.args(["connect", "--send-file", "/etc/hostname", s(&sock)])
        .stdin(std::fs::File::open(&big).unwrap())
        .stdout(Stdio::null());
    let mut client = Bg::spawn(c, dir.path(), "connect");
    server.wait_stderr("accepted");
    client.signal(15);
    assert_eq!(client.wait_exit(LIMIT).code(), Some(143));
}

/// Descriptors may come on an empty seqpacket record: `--take-fds` takes them, it does not
/// take the record for the client's end.
#[test]
fn take_fds_takes_descriptors_sent_on_an_empty_seqpacket_record() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("q.sock");
    let mut l = udskit();
    l.args(["listen", "--seqpacket", "--take-fds", "--count", "1"])
        .args(["--exec", "echo fds=$UDSKIT_FDS", s(&sock)]);
    let srv = Bg::spawn(l, dir.path(), "listen");
    wait_for_socket(&sock);
    let py = python(&format!(
        "import os,socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_SEQPACKET)\n\
         s.connect({:?})\nf=os.open('/etc/hostname',os.O_RDONLY)\n\
         socket.send_fds(s,[b''],[f])\nsys.stdout.write(s.recv(100).decode())\n",
        s(&sock)
    ));
    let out = run_with_input(py, b"", LIMIT);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "fds=1\n");
    let (st, _) = srv.finish(LIMIT);
    assert!(st.success());
}

fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

/// Through `relay --pass-fds`: 10,000 descriptors from a Python client reach the Python
/// server (the first one, a file, read there), one comes back the other way, and the
/// relay holds no more descriptors afterwards than before.
#[test]
fn relay_pass_fds_forwards_both_ways_and_leaks_none_after_10000() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let listen = dir.path().join("r.sock");
    let target = dir.path().join("t.sock");
    let up_file = dir.path().join("up.txt");
    let down_file = dir.path().join("down.txt");
    std::fs::write(&up_file, b"read by the server\n").unwrap();
    std::fs::write(&down_file, b"read by the client\n").unwrap();
    let mut r = udskit();
    r.args(["relay", "--pass-fds", s(&listen), s(&target)]);
    let mut relay = Bg::spawn(r, dir.path(), "relay");
    wait_for_socket(&listen);
    relay.wait_stderr("listening");
    // The workers start and their acceptor sets its descriptors aside right after the
    // listening line: counted once the count has stopped moving.
    let mut before = open_fds(relay.pid());
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let now = open_fds(relay.pid());
        if now == before {
            break;
        }
        before = now;
    }
    let py = python(&format!(
        "import socket,os,threading,sys\nN=10000\n\
         l=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM)\nl.bind({target:?})\nl.listen()\n\
         res={{}}\n\
         def serve():\n  c,_=l.accept()\n  n=0\n  first=None\n\
         \x20 while n<N:\n    msg,fds,fl,_=socket.recv_fds(c,65536,253)\n    if not msg: break\n\
         \x20   for f in fds:\n      if first is None:\n        first=os.read(f,100)\n      os.close(f)\n    n+=len(fds)\n\
         \x20 res['n']=n;res['first']=first\n  back=os.open({down:?},os.O_RDONLY)\n\
         \x20 socket.send_fds(c,[b'done'],[back])\n  os.close(back)\n  c.recv(1)\n  c.close()\n\
         t=threading.Thread(target=serve);t.start()\n\
         s=socket.socket(socket.AF_UNIX,socket.SOCK_STREAM)\ns.connect({listen:?})\n\
         f=os.open({up:?},os.O_RDONLY)\nfor i in range(N):\n  socket.send_fds(s,[b'x'],[f])\n\
         msg,fds,fl,_=socket.recv_fds(s,100,10)\n\
         print('server got',res.get('n'),res.get('first'))\nprint('client got',msg,len(fds),os.read(fds[0],100))\n\
         print('open',len(os.listdir('/proc/{pid}/fd')),flush=True)\n\
         s.close();t.join()\n",
        target = s(&target),
        listen = s(&listen),
        up = s(&up_file),
        down = s(&down_file),
        pid = relay.pid(),
    ));
    let out = run_with_input(py, b"", Duration::from_secs(120));
    assert!(
        out.status.success(),
        "{}\nrelay: {}",
        stderr_of(&out),
        relay.stderr()
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0], "server got 10000 b'read by the server\\n'",
        "{text}"
    );
    assert_eq!(
        lines[1], "client got b'done' 1 b'read by the client\\n'",
        "{text}"
    );
    // While the connection was open after 10,000 passes: what one connection holds (its
    // two sockets, the descriptors set aside for their write registrations), a handful.
    let during: usize = lines[2].strip_prefix("open ").unwrap().parse().unwrap();
    assert!(
        during <= before + 8,
        "the relay held {during} descriptors after 10,000 passes, {before} before"
    );
    relay.wait_stderr(": closed, 10000 bytes up, 4 down");
    let pid = relay.pid();
    let listing = || {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + LIMIT;
    while open_fds(pid) > before {
        assert!(
            std::time::Instant::now() < deadline,
            "the relay still holds {} descriptors, {before} before: {:?}",
            open_fds(pid),
            listing()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!relay.stderr().contains("warning"), "{}", relay.stderr());
}

#[test]
fn relay_pass_fds_needs_unix_sockets() {
    let out = udskit()
        .args(["relay", "--pass-fds", "tcp:0", "/tmp/none.sock"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("--pass-fds: tcp:127.0.0.1:0 is not a unix socket"),
        "{}",
        stderr_of(&out)
    );
}
