//! SIGINT/SIGTERM/SIGHUP for every async subcommand: the first signal cancels a token that
//! servers watch (stop accepting, drain, clean up, exit 128 + the signal: 130, 143, 129); a
//! second one exits at once, after removing the socket files we own. SIGHUP (the terminal
//! or the ssh session went away) is a stop like SIGTERM: left to its default action it
//! would kill us with our socket files still on disk; one ignored when we start (nohup)
//! stays ignored. Open tasks are tracked so that a drain can wait for them.
//! The socket files we created are registered here, so that every way out removes them,
//! and only while the path still leads to the file we created.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The signal that stopped us (0: none yet).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

#[derive(Clone)]
pub struct Shutdown {
    pub token: CancellationToken,
    pub tracker: TaskTracker,
}

impl Shutdown {
    /// Installs the signal handlers. Must run inside the runtime; from then on SIGINT,
    /// SIGTERM and SIGHUP no longer kill the process, so every subcommand must watch `token`.
    pub fn install() -> anyhow::Result<Shutdown> {
        let token = CancellationToken::new();
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        // Under nohup SIGHUP is ignored on purpose (outlive the terminal): left so.
        let mut hup = if ignored(libc::SIGHUP) {
            None
        } else {
            Some(signal(SignalKind::hangup())?)
        };
        let t = token.clone();
        tokio::spawn(async move {
            let mut seen = 0;
            loop {
                let signo = tokio::select! {
                    _ = int.recv() => libc::SIGINT,
                    _ = term.recv() => libc::SIGTERM,
                    _ = recv_if_watched(&mut hup) => libc::SIGHUP,
                };
                seen += 1;
                if seen == 1 {
                    RECEIVED.store(signo, Ordering::SeqCst);
                    t.cancel();
                } else {
                    remove_owned_files();
                    std::process::exit(128 + signo);
                }
            }
        });
        Ok(Shutdown {
            token,
            tracker: TaskTracker::new(),
        })
    }

    pub fn is_stopping(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves when a stop was asked for.
    pub async fn stopped(&self) {
        self.token.cancelled().await
    }
}

/// Whether `signo` was set to be ignored when we started: the handler tokio installs
/// would replace that choice of the parent's.
fn ignored(signo: i32) -> bool {
    // SAFETY: all-zero bytes are a valid sigaction, a struct of plain data.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: with a null new action, sigaction only writes the current one into `old`.
    let rc = unsafe { libc::sigaction(signo, std::ptr::null(), &mut old) };
    rc == 0 && old.sa_sigaction == libc::SIG_IGN
}

/// The next delivery of a signal we watch; never, for one we leave alone.
async fn recv_if_watched(s: &mut Option<Signal>) {
    match s {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// 128 + the signal that stopped us cleanly, if one did (130, 143 or 129, README "Exit
/// codes").
pub fn exit_code() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signo => Some(128 + signo),
    }
}

/// Socket files this process created and has not removed yet: (path, dev, ino). The second
/// signal's hard exit removes them too.
static OWNED: Mutex<Vec<(PathBuf, u64, u64)>> = Mutex::new(Vec::new());

/// Removes the socket file on drop, only if the path still leads to the file we created.
#[derive(Debug)]
pub struct FileGuard {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl FileGuard {
    /// Guards the file just created at `path`, whose inode is (`dev`, `ino`).
    pub fn new(path: PathBuf, dev: u64, ino: u64) -> FileGuard {
        OWNED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((path.clone(), dev, ino));
        FileGuard { path, dev, ino }
    }
}

impl Drop for FileGuard {
    fn drop(&mut self) {
        remove_if_ours(&self.path, self.dev, self.ino);
        OWNED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(p, d, i)| !(p == &self.path && *d == self.dev && *i == self.ino));
    }
}

fn remove_if_ours(path: &Path, dev: u64, ino: u64) {
    if let Ok(m) = std::fs::symlink_metadata(path)
        && m.dev() == dev
        && m.ino() == ino
    {
        let _ = std::fs::remove_file(path);
    }
}

/// For the hard exit on a second signal, when destructors will not run.
fn remove_owned_files() {
    for (p, d, i) in OWNED.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        remove_if_ours(p, *d, *i);
    }
}
