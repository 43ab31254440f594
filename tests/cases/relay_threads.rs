//! `udskit relay --threads N`: clients spread over the workers (told by the `worker` field
//! of each JSON log line, and the workers' threads seen in /proc/PID/task), ids unique,
//! the summary summed over the workers, --max-connections counted across them, the drain
//! on SIGTERM waiting for every worker's connections; datagram relays refuse N > 1.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::relay::{python_echo, relay, round_trip, tcp};
use crate::support::peers::have;
use crate::support::*;

/// The names of the process's threads (/proc/PID/task/*/comm).
fn thread_names(pid: i32) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect();
    names.sort();
    names
}

/// The JSON lines of a relay's stderr with `"event": event`.
fn events(log: &str, event: &str) -> Vec<Value> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event"] == event)
        .collect()
}

/// Connections per worker, from the close lines.
fn per_worker(closes: &[Value]) -> BTreeMap<u64, usize> {
    let mut by = BTreeMap::new();
    for c in closes {
        let w = c["worker"]
            .as_u64()
            .unwrap_or_else(|| panic!("no worker: {c}"));
        *by.entry(w).or_insert(0) += 1;
    }
    by
}

/// A client of LISTEN: a TCP port or a unix socket path.
enum To<'a> {
    Port(u16),
    Unix(&'a Path),
}

trait Client: Read + Write + Send {}
impl<T: Read + Write + Send> Client for T {}

fn client(to: &To) -> Box<dyn Client> {
    match to {
        To::Port(p) => Box::new(tcp(*p)),
        To::Unix(path) => {
            let s = UnixStream::connect(path).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            Box::new(s)
        }
    }
}

/// 64 clients held open at once through `--threads 2`, every byte checked; then the log
/// must show both workers serving, 64 distinct ids, and a summary summing every worker's
/// connections and bytes. Returns the connections per worker.
fn spread(unix: bool, extra: &[&str]) -> Option<BTreeMap<u64, usize>> {
    if !have("python3") {
        return None;
    }
    let dir = tempdir();
    let echo = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo);
    let front = dir.path().join("front.sock");
    let listen = match unix {
        true => front.to_str().unwrap().to_string(),
        false => "tcp:0".to_string(),
    };
    let args = [
        &["--threads", "2", "--json"],
        extra,
        &[&listen, echo.to_str().unwrap()],
    ]
    .concat();
    let (mut r, port) = relay(dir.path(), &args);
    wait_until(
        Duration::from_secs(10),
        "the second worker's thread",
        || thread_names(r.pid()).iter().any(|n| n == "relay-1"),
    );
    let to = match unix {
        true => To::Unix(&front),
        false => To::Port(port),
    };
    const N: usize = 64;
    let mut clients: Vec<_> = (0..N).map(|_| client(&to)).collect();
    let mut sent = 0;
    for (i, c) in clients.iter_mut().enumerate() {
        let msg = noise(i as u64 + 1, 1000 + i);
        round_trip(c, &msg);
        sent += msg.len();
    }
    drop(clients);
    wait_until(Duration::from_secs(20), "64 close lines", || {
        events(&r.stderr(), "close").len() == N
    });
    r.signal(15);
    r.wait_exit(Duration::from_secs(20));
    let log = r.stderr();
    let closes = events(&log, "close");
    let mut ids: Vec<u64> = closes.iter().map(|c| c["id"].as_u64().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, (1..=N as u64).collect::<Vec<_>>(), "{log}");
    let summary = &events(&log, "summary")[0];
    assert_eq!(summary["connections"], N, "{log}");
    assert_eq!(summary["bytes_up"], sent, "{log}");
    assert_eq!(summary["bytes_down"], sent, "{log}");
    assert_eq!(summary["errors"], 0, "{log}");
    Some(per_worker(&closes))
}

#[test]
fn threads_spread_tcp_clients_over_both_workers() {
    // SO_REUSEPORT: the kernel hashes each client's port; all 64 on one socket would be a
    // chance of 2^-63.
    if let Some(by) = spread(false, &[]) {
        assert_eq!(by.keys().copied().collect::<Vec<_>>(), [0, 1], "{by:?}");
    }
}

#[test]
fn threads_unix_listener_hands_clients_to_the_least_busy_worker() {
    // Every client stays open while the others come: the least busy worker alternates.
    if let Some(by) = spread(true, &[]) {
        assert_eq!(by, BTreeMap::from([(0, 32), (1, 32)]));
    }
}

/// The hidden --unix-accept shared (every worker accepting from the one socket, for
/// bench/relay): every client relayed whole, by one worker or the other.
#[test]
fn threads_unix_listener_shared_by_every_worker() {
    if let Some(by) = spread(true, &["--unix-accept", "shared"]) {
        assert_eq!(by.values().sum::<usize>(), 64, "{by:?}");
        assert!(by.keys().all(|w| *w < 2), "{by:?}");
    }
}

/// With a listener per worker the slots are still the process's: --max-connections 1 over
/// two workers relays one client at a time, whichever socket each came in by.
#[test]
fn threads_max_connections_counts_across_workers() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let echo = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo);
    let front = dir.path().join("front.sock");
    for listen in ["tcp:0", front.to_str().unwrap()] {
        let (r, port) = relay(
            dir.path(),
            &[
                "--threads",
                "2",
                "--max-connections",
                "1",
                listen,
                echo.to_str().unwrap(),
            ],
        );
        let to = match listen {
            "tcp:0" => To::Port(port),
            _ => To::Unix(&front),
        };
        const N: usize = 8;
        let clients: Vec<_> = (0..N)
            .map(|i| {
                let mut c = client(&to);
                c.write_all(&[b'a' + i as u8]).unwrap();
                c
            })
            .collect();
        // Each client's reader on a thread: whether it was answered is a flag.
        let answered: Vec<_> = (0..N)
            .map(|_| std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)))
            .collect();
        let mut readers = Vec::new();
        let mut writers = Vec::new();
        for (c, flag) in clients.into_iter().zip(&answered) {
            let flag = flag.clone();
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            writers.push(tx);
            readers.push(std::thread::spawn(move || {
                let mut c = c;
                let mut b = [0u8; 1];
                c.read_exact(&mut b).unwrap();
                flag.store(true, std::sync::atomic::Ordering::SeqCst);
                // Held open until the test lets it go.
                let _ = rx.recv();
                drop(c);
            }));
        }
        let count = || {
            answered
                .iter()
                .filter(|a| a.load(std::sync::atomic::Ordering::SeqCst))
                .count()
        };
        let mut released = [false; N];
        for round in 1..=N {
            wait_until(Duration::from_secs(20), "the next client served", || {
                count() == round
            });
            // The others still wait for the one slot (a short look, as in
            // relay::max_connections_queues_instead_of_resetting).
            std::thread::sleep(Duration::from_millis(200));
            assert_eq!(
                count(),
                round,
                "two clients relayed at once; {}",
                r.stderr()
            );
            let served = (0..N)
                .find(|&i| !released[i] && answered[i].load(std::sync::atomic::Ordering::SeqCst))
                .unwrap();
            released[served] = true;
            writers[served].send(()).unwrap();
        }
        for t in readers {
            t.join().unwrap();
        }
        drop(r);
    }
}

/// SIGTERM: every worker stops accepting (the socket file goes at once), the connections
/// open on each worker keep working through --grace, and the relay exits 143 once they
/// have ended, with a summary of all of them.
#[test]
fn threads_sigterm_drains_every_worker() {
    if !have("python3") {
        return;
    }
    let dir = tempdir();
    let echo = dir.path().join("echo.sock");
    let _echo = python_echo(dir.path(), &echo);
    for unix in [true, false] {
        let front = dir.path().join("front.sock");
        let listen = match unix {
            true => front.to_str().unwrap().to_string(),
            false => "tcp:0".to_string(),
        };
        let (mut r, port) = relay(
            dir.path(),
            &[
                "--threads",
                "2",
                "--json",
                "-v",
                "--grace",
                "30s",
                &listen,
                echo.to_str().unwrap(),
            ],
        );
        let to = match unix {
            true => To::Unix(&front),
            false => To::Port(port),
        };
        // Two on a unix LISTEN (handed one to each worker), 16 by TCP (hashed).
        let n = if unix { 2 } else { 16 };
        let mut clients: Vec<_> = (0..n).map(|_| client(&to)).collect();
        for c in clients.iter_mut() {
            round_trip(c, b"before");
        }
        wait_until(Duration::from_secs(10), "the open lines", || {
            events(&r.stderr(), "open").len() == n
        });
        let opens = events(&r.stderr(), "open");
        let workers: std::collections::BTreeSet<u64> = opens
            .iter()
            .map(|o| o["worker"].as_u64().unwrap())
            .collect();
        assert_eq!(workers.len(), 2, "{}", r.stderr());
        r.signal(15);
        if unix {
            wait_until(Duration::from_secs(10), "socket removal", || {
                !front.exists()
            });
        } else {
            // Every worker's listening socket gone from /proc/net/tcp (a connect to find
            // out could be accepted by a worker not yet stopped, and served).
            let mine = format!(":{port:04X} 00000000:0000 0A");
            wait_until(Duration::from_secs(10), "the port closed", || {
                !std::fs::read_to_string("/proc/net/tcp")
                    .unwrap()
                    .contains(&mine)
            });
        }
        for c in clients.iter_mut() {
            round_trip(c, b"during the grace period");
        }
        assert!(
            r.child.try_wait().unwrap().is_none(),
            "exited while clients were open"
        );
        drop(clients);
        let st = r.wait_exit(Duration::from_secs(20));
        assert_eq!(st.code(), Some(143), "{}", r.stderr());
        let log = r.stderr();
        let closes = events(&log, "close");
        assert_eq!(closes.len(), n, "{log}");
        assert!(closes.iter().all(|c| c["end"] == "closed"), "{log}");
        assert_eq!(events(&log, "summary")[0]["connections"], n, "{log}");
    }
}

#[test]
fn threads_one_runs_on_one_thread() {
    let dir = tempdir();
    let (r, _) = relay(
        dir.path(),
        &["--threads", "1", "tcp:0", "/nonexistent.sock"],
    );
    let names = thread_names(r.pid());
    assert!(!names.iter().any(|n| n.starts_with("relay-")), "{names:?}");
    drop(r);
    let (r, _) = relay(
        dir.path(),
        &["--threads", "3", "tcp:0", "/nonexistent.sock"],
    );
    // The workers' threads start right after the listening line.
    wait_until(Duration::from_secs(10), "the workers' threads", || {
        let names = thread_names(r.pid());
        ["relay-1", "relay-2"]
            .iter()
            .all(|w| names.iter().any(|n| n == w))
    });
}

#[test]
fn threads_refused_for_datagram_relays() {
    let dir = tempdir();
    let a = dir.path().join("a.sock");
    let out = ud(&[
        "relay",
        "--threads",
        "2",
        "--dgram",
        a.to_str().unwrap(),
        "/nonexistent.sock",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = stderr_of(&out);
    assert!(
        err.contains("--threads 2: a datagram relay") && err.contains("hint:"),
        "{err}"
    );
    assert!(!a.exists());
}

/// A port in use is refused with a socket per worker too, another relay's SO_REUSEPORT
/// group included (which a plain bind with SO_REUSEPORT would have joined): exit 1, the
/// hint, no panic.
#[test]
fn threads_port_in_use_is_refused() {
    let dir = tempdir();
    let (first, port) = relay(
        dir.path(),
        &["--threads", "2", "tcp:0", "/nonexistent.sock"],
    );
    let plain = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let other = plain.local_addr().unwrap().port();
    for p in [port, other] {
        let out = ud(&[
            "relay",
            "--threads",
            "2",
            &format!("tcp:{p}"),
            "/nonexistent.sock",
        ])
        .output()
        .unwrap();
        let err = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("in use") && err.contains("hint:") && !err.contains("panicked"),
            "{err}"
        );
    }
    drop(first);
}
