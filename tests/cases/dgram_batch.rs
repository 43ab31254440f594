//! Datagrams in batches: `recvfrom` and the datagram relay take what is queued with
//! `recvmmsg` (and the relay sends each sender's run on with `sendmmsg`), which strace
//! shows; a burst many batches long arrives whole, once each, in order, byte for byte.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::peers::{have, python};
use crate::support::*;

const LIMIT: Duration = Duration::from_secs(60);

/// More datagrams than one batch (32) by far: with the kernel's default queue of 10 per
/// receiver the burst spans a hundred batches and more.
const BURST: usize = 1500;

/// Datagram `i` of a burst: its number and length, then bytes of every value, 0 to 1499
/// bytes of them (so some are empty after the header and none alike).
fn datagram(i: usize) -> Vec<u8> {
    let len = (i * 37) % 1500;
    let mut d = Vec::with_capacity(8 + len);
    d.extend_from_slice(&(i as u32).to_be_bytes());
    d.extend_from_slice(&(len as u32).to_be_bytes());
    d.extend((0..len).map(|k| ((i * 7 + k * 13) % 256) as u8));
    d
}

/// The same datagrams made by Python: sent to `to` from `from` (bound) or unbound.
fn py_sender(to: &Path, from: Option<&Path>) -> Command {
    let bind = from
        .map(|f| format!("s.bind({:?})\n", f.to_str().unwrap()))
        .unwrap_or_default();
    // Made first, then sent back to back: the queue fills while the receiver works.
    python(&format!(
        "import socket,struct\n\
         s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\n{bind}\
         ds=[struct.pack('>II',i,(i*37)%1500)+bytes((i*7+k*13)%256 for k in range((i*37)%1500)) \
         for i in range({BURST})]\n\
         for d in ds:\n  s.sendto(d,{:?})\n",
        to.to_str().unwrap()
    ))
}

/// `udskit ARGS` under `strace -f`, tracing the datagram receives and sends.
struct Traced {
    strace: Bg,
    log: PathBuf,
}

impl Traced {
    /// Its stdout goes to the file `out` (a pipe nobody reads until the end would fill and
    /// hold the burst up).
    fn spawn(dir: &Path, name: &str, args: &[&str], out: &Path) -> Traced {
        let log = dir.join(format!("{name}.strace"));
        let filter = [
            "-f",
            "-e",
            "signal=none",
            "-e",
            "trace=recvmmsg,recvmsg,recvfrom,sendmmsg,sendmsg,sendto",
        ];
        let mut c = udskit_traced(&filter, &log);
        c.args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(out).unwrap());
        Traced {
            strace: Bg::spawn(c, dir, name),
            log,
        }
    }

    /// The traced udskit (strace's only child), for a signal.
    fn tracee(&self) -> i32 {
        let pid = self.strace.pid();
        let mut found = 0;
        wait_until(Duration::from_secs(10), "strace's child", || {
            found = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default()
                .split_whitespace()
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            found != 0
        });
        found
    }
}

/// What each completed call of `syscall` in the strace `log` returned (`= 11`), errors
/// (-1) included.
fn returns(log: &Path, syscall: &str) -> Vec<i64> {
    let log = std::fs::read_to_string(log).unwrap_or_default();
    let (call, resumed) = (format!("{syscall}("), format!("<... {syscall} resumed>"));
    log.lines()
        .filter(|l| l.contains(&call) || l.contains(&resumed))
        .filter_map(|l| l.rsplit_once(") = "))
        .filter_map(|(_, r)| r.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Checks that `returns` (of recvmmsg or sendmmsg) moved exactly BURST datagrams, several
/// at a time.
fn batched(returns: &[i64], what: &str) {
    let moved: i64 = returns.iter().filter(|&&n| n > 0).sum();
    assert_eq!(moved, BURST as i64, "{what}: {returns:?}");
    assert!(
        returns.iter().any(|&n| n > 1),
        "{what}: never more than one datagram a call: {returns:?}"
    );
}

#[test]
fn recvfrom_takes_a_burst_in_recvmmsg_batches_every_datagram_once_in_order() {
    if !have("strace") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let sock = dir.path().join("r.sock");
    let count = BURST.to_string();
    let printed = dir.path().join("stdout");
    let rx = Traced::spawn(
        dir.path(),
        "recvfrom",
        &["recvfrom", "--count", &count, sock.to_str().unwrap()],
        &printed,
    );
    wait_for_socket(&sock);
    let out = py_sender(&sock, None).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let log = rx.log.clone();
    let mut strace = rx.strace;
    assert_eq!(
        strace.wait_exit(LIMIT).code(),
        Some(0),
        "{}",
        strace.stderr()
    );
    let stdout = std::fs::read(&printed).unwrap();
    let expected: Vec<u8> = (0..BURST).flat_map(datagram).collect();
    assert!(
        stdout == expected,
        "stdout differs: {} bytes, {} expected",
        stdout.len(),
        expected.len()
    );
    batched(&returns(&log, "recvmmsg"), "recvmmsg");
    // No datagram came by a single receive (safe bind's sock_diag answers, netlink
    // messages, are the only other receives).
    let text = std::fs::read_to_string(&log).unwrap();
    let single: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("recvmsg(") || l.contains("recvfrom("))
        .filter(|l| !l.contains("nlmsg_") && !l.contains("= -1"))
        .collect();
    assert!(single.is_empty(), "single receives: {single:?}");
}

#[test]
fn dgram_relay_moves_a_burst_by_recvmmsg_and_sendmmsg_every_datagram_once_in_order() {
    if !have("strace") || !have("python3") {
        return;
    }
    let dir = tempdir();
    let (listen, target, client) = (
        dir.path().join("in.sock"),
        dir.path().join("out.sock"),
        dir.path().join("client.sock"),
    );
    // The receiver: every datagram as its length and bytes, into a file.
    let got_file = dir.path().join("got");
    let rx = python(&format!(
        "import socket,sys,struct\n\
         s=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind({:?})\n\
         print('ready',file=sys.stderr,flush=True)\nf=open({:?},'wb')\n\
         for _ in range({BURST}):\n  d=s.recv(1<<16)\n  \
         f.write(struct.pack('>I',len(d))+d)\nf.close()\n",
        target.to_str().unwrap(),
        got_file.to_str().unwrap()
    ));
    let mut rx = Bg::spawn(rx, dir.path(), "receiver");
    rx.wait_stderr("ready");
    let relay = Traced::spawn(
        dir.path(),
        "relay",
        &[
            "relay",
            "--dgram",
            listen.to_str().unwrap(),
            target.to_str().unwrap(),
        ],
        &dir.path().join("relay.stdout"),
    );
    wait_for_socket(&listen);
    let out = py_sender(&listen, Some(&client)).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(rx.wait_exit(LIMIT).code(), Some(0), "{}", rx.stderr());
    let got = std::fs::read(&got_file).unwrap();
    let expected: Vec<u8> = (0..BURST)
        .flat_map(|i| {
            let d = datagram(i);
            let mut framed = (d.len() as u32).to_be_bytes().to_vec();
            framed.extend(d);
            framed
        })
        .collect();
    assert!(
        got == expected,
        "the receiver got {} bytes, {} expected",
        got.len(),
        expected.len()
    );
    send_signal(relay.tracee(), 15);
    let log = relay.log.clone();
    let mut strace = relay.strace;
    strace.wait_exit(LIMIT);
    batched(&returns(&log, "recvmmsg"), "recvmmsg on LISTEN");
    batched(&returns(&log, "sendmmsg"), "sendmmsg toward TARGET");
}
