//! How a bridge between stdio and a socket ends: the limits a user sets on it (connect's
//! `-q` and `-w`, and connect's default once stdin has ended), the activity they are
//! measured against, and the ways it can end, each told as what happened: a reset or a peer
//! that stopped reading is named as such, never as a bare errno.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::io::Errno;

use crate::duration;

/// What may end a bridge besides both directions reaching their end.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ends {
    pub after_stdin: AfterStdin,
    /// No byte either way for this long ends the connection (nc's `-w`).
    pub idle: Option<Duration>,
}

/// What happens once stdin has ended and our write side is shut down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AfterStdin {
    /// Read until the peer closes, however long that takes.
    #[default]
    Forever,
    /// Quit this long after stdin's end at the latest (nc's `-q`, socat's `-t`).
    For(Duration),
    /// Wait for the peer's answer as long as it takes; once it has answered (sent a byte
    /// after our last one), end when it has been quiet this long after stdin's end.
    Answered(Duration),
}

/// How a bridge ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Ending {
    /// Both directions ended (or a stop signal, or stdout closed).
    #[default]
    Done,
    /// The peer reset the connection (ECONNRESET, or ENOTCONN once it is gone).
    Reset,
    /// The peer closed the connection while we still had input for it (EPIPE).
    StoppedReading,
    /// `-q DURATION` ran out after stdin's end.
    QuitAfter(Duration),
    /// connect's default: the peer answered, then kept the connection open, quiet.
    Quiet(Duration),
    /// `-w DURATION`: no byte either way for that long.
    Idle(Duration),
}

impl Ending {
    /// The peer's part in an error from a socket read, write or shutdown, if the error is
    /// its doing. Only the kernel's own errors count: stdin's errors carry a message of
    /// ours and are never taken for the peer's.
    pub fn of_peer(e: &io::Error) -> Option<Ending> {
        match Errno::from_io_error(e)? {
            Errno::CONNRESET | Errno::NOTCONN => Some(Ending::Reset),
            Errno::PIPE => Some(Ending::StoppedReading),
            _ => None,
        }
    }

    /// Whether the ending is a failure of the connection (exit 1), not one of ours.
    pub fn is_failure(&self) -> bool {
        matches!(self, Ending::Reset | Ending::StoppedReading)
    }

    /// The ending in words, with `peer` ("the server", "client #3") as its subject and the
    /// byte counts; `None` for an ending that needs none.
    pub fn words(&self, peer: &str, up: u64, down: u64) -> Option<String> {
        let sent = |n: u64| match n {
            0 => "nothing".to_string(),
            1 => "1 byte".to_string(),
            n => format!("{n} bytes"),
        };
        let theirs = if down == 0 {
            format!("{peer} had sent nothing")
        } else {
            format!("{peer} had sent {}, which are on stdout", sent(down))
        };
        let counts = format!("{theirs}; we had sent {}", sent(up));
        Some(match self {
            Ending::Done => return None,
            Ending::Reset => format!("{peer} reset the connection ({counts})"),
            // "all" when some was taken, "any" when none was: never "before taking all of
            // our input (...; we had sent nothing)".
            Ending::StoppedReading => {
                let how_much = if up == 0 { "any" } else { "all" };
                format!(
                    "{peer} closed the connection before taking {how_much} of our input ({counts})"
                )
            }
            Ending::QuitAfter(d) => format!(
                "closed the connection {} after the end of stdin (--quit-after)",
                duration::show(*d)
            ),
            Ending::Quiet(d) => format!(
                "{peer} answered and kept the connection open: closed it after {} without data \
                 (the default after stdin's end; -q DURATION or -q never to choose)",
                duration::show(*d)
            ),
            Ending::Idle(d) => format!(
                "closed the connection: nothing either way for {} (--idle-timeout)",
                duration::show(*d)
            ),
        })
    }
}

/// The bridge's activity, counted where the bytes move (the runtime, or the thread that
/// splices stdin): the limits in [`Ends`] are measured against it.
#[derive(Debug)]
pub struct Meter {
    base: Instant,
    up: AtomicU64,
    down: AtomicU64,
    /// Nanoseconds since `base` of the last byte either way, and of the last one received.
    last_any: AtomicU64,
    last_down: AtomicU64,
    /// The peer sent something after our last bytes.
    answered: AtomicBool,
}

impl Default for Meter {
    fn default() -> Meter {
        Meter {
            base: Instant::now(),
            up: AtomicU64::new(0),
            down: AtomicU64::new(0),
            last_any: AtomicU64::new(0),
            last_down: AtomicU64::new(0),
            answered: AtomicBool::new(false),
        }
    }
}

impl Meter {
    fn now(&self) -> u64 {
        self.base.elapsed().as_nanos() as u64
    }

    fn at(&self, nanos: u64) -> Instant {
        self.base + Duration::from_nanos(nanos)
    }

    /// `n` bytes went to the peer.
    pub fn sent(&self, n: usize) {
        self.up.fetch_add(n as u64, Ordering::Relaxed);
        self.answered.store(false, Ordering::Relaxed);
        self.last_any.store(self.now(), Ordering::Relaxed);
    }

    /// `n` bytes came from the peer.
    pub fn received(&self, n: usize) {
        let now = self.now();
        self.down.fetch_add(n as u64, Ordering::Relaxed);
        self.answered.store(true, Ordering::Relaxed);
        self.last_any.store(now, Ordering::Relaxed);
        self.last_down.store(now, Ordering::Relaxed);
    }

    pub fn up(&self) -> u64 {
        self.up.load(Ordering::Relaxed)
    }

    pub fn down(&self) -> u64 {
        self.down.load(Ordering::Relaxed)
    }
}

/// When the bridge must look at its limits again.
pub(crate) enum Wake {
    /// No limit can run out: nothing to wait for.
    Never,
    /// The earliest limit runs out then, with this ending (activity may postpone it).
    At(Instant, Ending),
    /// A limit may start to run later (the peer has not answered yet): look again soon.
    Soon,
}

/// How often a limit that is not running yet is looked at: it starts with the peer's
/// first byte after ours, a tenth of a second late at most, which no limit of a second or
/// so notices.
pub(crate) const LOOK_AGAIN: Duration = Duration::from_millis(100);

impl Ends {
    /// The earliest limit, given the activity so far and when stdin ended.
    pub(crate) fn wake(&self, m: &Meter, stdin_ended: Option<Instant>) -> Wake {
        let mut first: Option<(Instant, Ending)> = None;
        let mut keep = |at: Instant, e: Ending| {
            if first.is_none_or(|(f, _)| at < f) {
                first = Some((at, e));
            }
        };
        if let Some(w) = self.idle {
            keep(
                m.at(m.last_any.load(Ordering::Relaxed)) + w,
                Ending::Idle(w),
            );
        }
        let mut soon = false;
        if let Some(eof) = stdin_ended {
            match self.after_stdin {
                AfterStdin::Forever => {}
                AfterStdin::For(d) => keep(eof + d, Ending::QuitAfter(d)),
                AfterStdin::Answered(d) if m.answered.load(Ordering::Relaxed) => {
                    let last = m.at(m.last_down.load(Ordering::Relaxed));
                    keep(last.max(eof) + d, Ending::Quiet(d));
                }
                AfterStdin::Answered(_) => soon = true,
            }
        }
        match first {
            Some((at, e)) if !soon || at <= Instant::now() + LOOK_AGAIN => Wake::At(at, e),
            _ if soon => Wake::Soon,
            _ => Wake::Never,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_errors_are_told_from_ours() {
        let os = |e: Errno| io::Error::from_raw_os_error(e.raw_os_error());
        assert_eq!(Ending::of_peer(&os(Errno::CONNRESET)), Some(Ending::Reset));
        assert_eq!(Ending::of_peer(&os(Errno::NOTCONN)), Some(Ending::Reset));
        assert_eq!(
            Ending::of_peer(&os(Errno::PIPE)),
            Some(Ending::StoppedReading)
        );
        assert_eq!(Ending::of_peer(&os(Errno::IO)), None);
        // A stdin error keeps its kind but is ours, not the peer's.
        let stdin = io::Error::new(io::ErrorKind::ConnectionReset, "reading stdin: reset");
        assert_eq!(Ending::of_peer(&stdin), None);
    }

    #[test]
    fn words_name_the_peer_and_the_counts() {
        assert_eq!(
            Ending::Reset.words("the server", 2, 0).unwrap(),
            "the server reset the connection (the server had sent nothing; we had sent 2 bytes)"
        );
        assert_eq!(
            Ending::StoppedReading.words("the server", 1, 12).unwrap(),
            "the server closed the connection before taking all of our input (the server had \
             sent 12 bytes, which are on stdout; we had sent 1 byte)"
        );
        assert_eq!(
            Ending::StoppedReading.words("client #2", 0, 0).unwrap(),
            "client #2 closed the connection before taking any of our input (client #2 had \
             sent nothing; we had sent nothing)"
        );
        assert_eq!(Ending::Done.words("the server", 1, 1), None);
    }

    #[test]
    fn the_default_waits_for_an_answer_then_for_quiet() {
        let m = Meter::default();
        let q = Duration::from_secs(1);
        let ends = Ends {
            after_stdin: AfterStdin::Answered(q),
            idle: None,
        };
        assert!(matches!(ends.wake(&m, None), Wake::Never));
        let eof = Instant::now();
        assert!(matches!(ends.wake(&m, Some(eof)), Wake::Soon));
        m.received(5);
        match ends.wake(&m, Some(eof)) {
            Wake::At(at, Ending::Quiet(d)) => {
                assert_eq!(d, q);
                assert!(at >= eof + q);
            }
            _ => panic!("armed once answered"),
        }
        m.sent(1);
        assert!(matches!(ends.wake(&m, Some(eof)), Wake::Soon));
    }
}
