//! Moving bytes between two sockets for `relay`: small chunks through the thread's scratch
//! buffer, then splice(2) through a pipe once a direction is bulk, or a user-space
//! buffer where `--dump` must see the bytes; half-close (EOF one way becomes a write
//! shutdown on the other side while the other way keeps flowing); live byte meters for logs
//! and the idle timeout; a tap that shows every chunk to `--dump`; which chunks keep the
//! busy poll going (`crate::net::busypoll`: a ping-pong's, by default); a failure either
//! way passed on to both peers as an abort (the sockets in `side.rs`).
//!
//! Chosen per direction by measurement (docs/performance.md), every process on one CPU
//! (`bench/relay --only pinned`, where what a byte costs is what counts):
//! - every bulk direction splices, whichever kinds of socket it joins: splice from TCP and
//!   from a unix socket, into either, cost the relay 0.13-0.16 s of CPU per GiB where
//!   recv/send through a 256 KiB buffer cost 0.27-0.36 (TCP -> unix, both directions of
//!   bench/relay that take it), as the kernel moves page references where a buffer copies
//!   each byte in and out;
//! - what bounds TCP -> unix is not the splice but the unix socket's send buffer: at its
//!   default 208 KiB the relay fills it, waits for the reader and is woken again every
//!   208 KiB, two context switches each time on one CPU; a bulk direction into a unix
//!   socket therefore raises its SO_SNDBUF ([`super::side::UNIX_BULK_SNDBUF`]), which
//!   made that direction 1.4-1.7x faster pinned. Into TCP the send buffer autotunes and is
//!   left alone; SO_RCVLOWAT on the TCP source measured no gain (and would hold back the
//!   tail of a transfer the sender does not end);
//! - small chunks go by recv/send through one buffer per thread (see [`small_chunks`]).

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::net::{RecvFlags, SendFlags};
use rustix::pipe::PipeFlags;

use super::side::{Side, Spare};
use crate::net::busypoll::{BusyPoll, coarse_ms};
use crate::net::stream::Detached;

/// How a relay moves bytes between its two sockets: splice, every direction, unless
/// `--dump` needs the bytes in hand.
///
/// splice moves page references from one socket's queue into the other's where a buffer
/// copies every byte twice, so it costs about half the relay's CPU per GiB; from a unix
/// socket too, now that loopback TCP is unpaced ([`crate::net::connect::tcp_socket`]).
/// Figures in docs/performance.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Copier {
    /// splice(2) through a pipe: the bytes never enter user space.
    Splice,
    /// recv into our own buffer, then send: what `--dump` needs to see the bytes.
    Buffer,
}

/// Pipe size of a busy spliced direction, and the most one splice asks for: 1 MiB makes 16
/// times fewer splice calls than the default 64 KiB, for the same throughput. Pipe sizes
/// count against the user's fs.pipe-user-pages-soft (16,384 pages by default; past it new
/// pipes get 2 slots), which 1 MiB per direction would reach at 32 connections, so a
/// direction grows to this only once one splice moves half its default pipe.
pub const SPLICE_PIPE: usize = 1024 * 1024;

/// Largest buffer of a buffered direction, 256 KiB as [`crate::io::CHUNK`]: one recv(2)
/// of a unix socket returns at most what its writer's SO_SNDBUF let it queue (208 KiB by
/// default), so bigger buys nothing; 32 KiB to 1 MiB measured alike (docs/performance.md).
pub const RELAY_BUF: usize = 256 * 1024;

/// First buffer of a buffered direction, grown 4x (up to RELAY_BUF) whenever a read fills
/// it: an idle connection that moved a few bytes holds 16 KiB, not 256, at the price of
/// two smaller reads before a busy direction reaches RELAY_BUF (docs/performance.md).
pub const RELAY_BUF_START: usize = 16 * 1024;

/// A relayed connection's direction: `Up` from the client to the target, `Down` back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// Live counters of one relayed connection, shared by its two directions and the watchdog
/// that enforces an idle timeout. Atomics only because tokio tasks must be Send: it all
/// runs on one thread.
#[derive(Debug)]
pub struct Meter {
    started: Instant,
    up: AtomicU64,
    down: AtomicU64,
    /// When bytes last moved either way, in milliseconds of [`coarse_ms`] (cheap enough
    /// to read on every chunk, exact enough for an idle timeout).
    last: AtomicU64,
}

impl Default for Meter {
    fn default() -> Meter {
        Meter {
            started: Instant::now(),
            up: AtomicU64::new(0),
            down: AtomicU64::new(0),
            last: AtomicU64::new(coarse_ms()),
        }
    }
}

impl Meter {
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Bytes moved so far: (up, down).
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.up.load(Ordering::Relaxed),
            self.down.load(Ordering::Relaxed),
        )
    }

    pub fn add(&self, dir: Direction, n: usize) {
        let c = match dir {
            Direction::Up => &self.up,
            Direction::Down => &self.down,
        };
        c.fetch_add(n as u64, Ordering::Relaxed);
        self.last.store(coarse_ms(), Ordering::Relaxed);
    }

    /// How long no byte has moved either way.
    pub fn idle_for(&self) -> Duration {
        let last = self.last.load(Ordering::Relaxed);
        Duration::from_millis(coarse_ms().saturating_sub(last))
    }

    /// Resolves once no byte has moved for `limit`.
    pub async fn idle(&self, limit: Duration) {
        loop {
            let idle = self.idle_for();
            if idle >= limit {
                return;
            }
            tokio::time::sleep(limit - idle).await;
        }
    }
}

/// `relay --pass-fds`: told of control data the kernel cut (MSG_CTRUNC), by direction.
pub type CutLog<'a> = &'a (dyn Fn(Direction, String) + Sync);

/// What a tap sees of a direction.
#[derive(Debug, Clone, Copy)]
pub enum Seen<'a> {
    /// A chunk, before it is sent on.
    Data(&'a [u8]),
    /// The direction's source ended cleanly (passed on as a write shutdown).
    End,
    /// The direction's source failed (reset, gone): the peer that sends this way.
    SourceFailed,
    /// The direction's destination failed: the peer this way goes to.
    DestinationFailed,
}

/// Sees every chunk of a buffered copy, in order, before it is sent on, and how each
/// direction ends (`relay --dump`, `relay --pcap`).
pub type Tap<'a> = &'a (dyn Fn(Direction, Seen<'_>) + Sync);

/// `relay --pcap` on the splice path: takes exactly `n` bytes of a direction, duplicated
/// by tee(2) into `pipe`, into the capture (see [`crate::io::pcap::Flow::data_in_pipe`]).
/// Ends, failures and the chunks read into a buffer still go to the [`Tap`].
pub type PipeTap<'a> = &'a (dyn Fn(Direction, BorrowedFd<'_>, usize) + Sync);

/// The longest turn (an answer after a request, or the next request after an answer) that
/// counts as ping-pong. It is measured without polling too, the relay's own wakeup
/// included, hence well above the poll's window.
const QUICK_TURN: Duration = Duration::from_millis(1);

/// A chunk this large is bulk, never one side of a ping-pong.
const BULK_CHUNK: usize = 64 * 1024;

/// A direction sent a chunk of `n` bytes on: the busy poll (see [`BusyPoll`]) goes on
/// after it, if it polls after every chunk, or, adaptive, if the chunk is one side of a
/// ping-pong (the connection's last turn, from one direction to the other, took at most
/// [`QUICK_TURN`], and the chunk is not bulk): a bulk transfer one way never keeps the
/// relay polling.
fn moved(busy: Busy<'_>, dir: Direction, n: usize) {
    if let Some((busy, turns)) = busy
        && busy.may_poll()
    {
        let pingpong = turns.chunk(dir, n, QUICK_TURN);
        if pingpong || !busy.is_adaptive() {
            busy.moved();
        }
    }
}

/// The turns of one connection, for the adaptive poll: which way its last chunk went and
/// when. A chunk the other way within the limit after it is a quick turn (ping-pong).
#[derive(Default)]
pub struct Turns {
    /// Nanoseconds since `base` of the last chunk, shifted left once, the low bit its
    /// direction (1 = down); 0 before the first chunk.
    last: AtomicU64,
    base: std::sync::OnceLock<Instant>,
}

impl Turns {
    /// Records a chunk; whether it was a quick turn of a ping-pong.
    fn chunk(&self, dir: Direction, n: usize, limit: Duration) -> bool {
        let base = *self.base.get_or_init(Instant::now);
        let now = base.elapsed().as_nanos() as u64 + 1;
        let bit = u64::from(dir == Direction::Down);
        let prev = self.last.swap(now << 1 | bit, Ordering::Relaxed);
        prev != 0
            && prev & 1 != bit
            && n < BULK_CHUNK
            && now.saturating_sub(prev >> 1) <= limit.as_nanos() as u64
    }
}

/// How each direction of a relayed connection ended.
#[derive(Debug)]
pub struct Ends {
    pub up: io::Result<()>,
    pub down: io::Result<()>,
}

/// How a relayed connection ended: both directions ended (cleanly or not), or the idle
/// timeout closed it.
#[derive(Debug)]
pub enum Outcome {
    Ended(Ends),
    Idle,
}

/// Where a direction failed: reading its source (that peer is gone), writing its
/// destination (that one is), or in the relay itself (neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Read,
    Write,
    Relay,
}

/// A direction's failure, and where it happened.
struct Fault {
    at: At,
    err: io::Error,
}

impl Fault {
    fn read(err: io::Error) -> Fault {
        Fault { at: At::Read, err }
    }

    fn write(err: io::Error) -> Fault {
        Fault { at: At::Write, err }
    }
}

/// Relays between `client` and `target` until both directions have ended: EOF one way
/// becomes a write shutdown on the other side while the other way keeps flowing
/// (half-close). Every byte read is written, in order, before the direction ends.
///
/// A failure is an abort, and is passed on as one, never as a clean end: the peer that
/// failed (reset, gone) is read to its end, the other is no longer read, gets the bytes
/// already read for it, and then a reset (a TCP socket: SO_LINGER 0 once its send queue
/// is empty; a unix socket: closed with what it sent unread, which AF_UNIX reports to it
/// as ECONNRESET). `idle` closes a connection without a byte either way for that long
/// (cleanly). Both sockets close when the returned future ends; dropped before that (the
/// end of the grace period), it resets them.
pub async fn relay(
    client: Detached,
    target: Detached,
    mut spare: Spare,
    how: How<'_>,
    meter: &Meter,
) -> io::Result<Outcome> {
    let client = Side::new(client, spare.0[0].take())?;
    let target = Side::new(target, spare.0[1].take())?;
    let mut cut = ResetOnDrop([&client, &target], true);
    let fate = Fate::default();
    let turns = Turns::default();
    let busy = how.busy.map(|b| (b, &turns));
    let both = async {
        tokio::join!(
            one_way(&client, &target, Direction::Up, &how, busy, meter, &fate),
            one_way(&target, &client, Direction::Down, &how, busy, meter, &fate)
        )
    };
    let (up, down) = match how.idle {
        Some(limit) => tokio::select! {
            r = both => r,
            _ = meter.idle(limit) => {
                cut.1 = false;
                return Ok(Outcome::Idle);
            }
        },
        None => both.await,
    };
    if fate.aborted.load(Ordering::Relaxed) {
        // The peers still there get what was sent to them, then the reset.
        tokio::join!(client.drain(), target.drain());
    } else {
        cut.1 = false;
    }
    Ok(Outcome::Ended(Ends { up, down }))
}

/// What the two directions of a connection tell each other.
#[derive(Default)]
struct Fate {
    /// A direction failed: the connection ends in a reset (see [`relay`]).
    aborted: AtomicBool,
    /// A direction ended cleanly (its write shutdown passed on).
    one_ended: AtomicBool,
}

/// One direction, to its end; a failure aborts the connection (see [`relay`]).
async fn one_way(
    from: &Side,
    to: &Side,
    dir: Direction,
    how: &How<'_>,
    busy: Busy<'_>,
    meter: &Meter,
    fate: &Fate,
) -> io::Result<()> {
    let r = if let Some(cut) = how.pass_fds {
        let tap = how.tap.map(|t| move |data: &[u8]| t(dir, Seen::Data(data)));
        let around = super::fdpass::Around {
            buf: (RELAY_BUF_START, RELAY_BUF),
            moved: &|n| meter.add(dir, n),
            tap: tap.as_ref().map(|t| t as super::fdpass::ChunkTap),
            cut: &|words| cut(dir, words),
        };
        super::fdpass::one_way(from, to, around)
            .await
            .map_err(|f| match f {
                super::fdpass::Failed::Read(e) => Fault::read(e),
                super::fdpass::Failed::Write(e) => Fault::write(e),
            })
    } else if how.copier == Copier::Splice && (how.tap.is_none() || how.pipe_tap.is_some()) {
        splice_one_way(from, to, dir, meter, how.tap, how.pipe_tap, busy).await
    } else {
        buffer_one_way(from, to, dir, meter, how.tap, busy).await
    };
    match r {
        // The end of a peer that failed (its error taken by a write to it) is no clean
        // end: the abort passes it on, not a shutdown.
        Ok(()) if from.failed() => Ok(()),
        Ok(()) => {
            if let Some(tap) = how.tap {
                tap(dir, Seen::End);
            }
            // The second clean end: `to` has sent its EOF and closes right after this, and
            // the close passes ours on as the shutdown would (a system call a connection).
            if fate.one_ended.swap(true, Ordering::Relaxed) {
                return Ok(());
            }
            Ok(to.shutdown(rustix::net::Shutdown::Write)?)
        }
        // Stopped by the other direction's failure, which is the one to report.
        Err(f) if f.at == At::Read && from.stopping() => Ok(()),
        Err(f) => {
            fate.aborted.store(true, Ordering::Relaxed);
            if let Some(tap) = how.tap {
                match f.at {
                    At::Read => tap(dir, Seen::SourceFailed),
                    At::Write => tap(dir, Seen::DestinationFailed),
                    At::Relay => {}
                }
            }
            match f.at {
                At::Read => from.fail(),
                At::Write => to.fail(),
                At::Relay => {}
            }
            // The peer still there is read no more; one that failed is read to its end
            // (a TCP peer's bytes from before its reset are still queued).
            for side in [from, to] {
                if !side.failed() {
                    side.stop_reading();
                }
            }
            Err(told(f, dir))
        }
    }
}

/// A direction's failure as the log tells it: a peer's doing (a reset, a closed
/// connection) named with the peer that did it, not as the kernel's bare errno.
fn told(f: Fault, dir: Direction) -> io::Error {
    let (reader, writer) = match dir {
        Direction::Up => ("the client", "the target"),
        Direction::Down => ("the target", "the client"),
    };
    let who = match f.at {
        At::Read => reader,
        At::Write => writer,
        At::Relay => return f.err,
    };
    match crate::error::peer_words(&f.err) {
        Some(w) => io::Error::new(f.err.kind(), format!("{who} {w}")),
        None => f.err,
    }
}

/// The busy poll, if any, and the connection's turns it judges by.
type Busy<'a> = Option<(&'a BusyPoll, &'a Turns)>;

/// How a connection's bytes move: the copier, `--dump`'s tap, `--busy-poll`, and the
/// idle timeout.
pub struct How<'a> {
    pub copier: Copier,
    pub tap: Option<Tap<'a>>,
    /// The tap takes spliced bytes from a pipe too (`--pcap` without `--dump`): the
    /// direction stays on splice, its bytes duplicated by tee(2) for it.
    pub pipe_tap: Option<PipeTap<'a>>,
    pub busy: Option<&'a BusyPoll>,
    pub idle: Option<Duration>,
    /// `--pass-fds`: descriptors go on with the bytes (see `fdpass.rs`); told of cut
    /// control data.
    pub pass_fds: Option<CutLog<'a>>,
}

/// Resets the TCP sockets of a connection when it is dropped armed: a connection cut
/// before its end must not look complete to either peer.
struct ResetOnDrop<'a>([&'a Side; 2], bool);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        if self.1 {
            for side in self.0 {
                side.reset();
            }
        }
    }
}

/// The most a direction reads at once before it turns to splice, through the thread's
/// scratch buffer: a read that fills it is bulk.
pub const SMALL_CHUNK: usize = 16 * 1024;

thread_local! {
    /// Where the small chunks of every connection of this thread pass: read and sent on
    /// in one go, with no await between (what a send leaves goes into a buffer of the
    /// direction's own).
    static SCRATCH: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(vec![0; SMALL_CHUNK]);
}

/// The start of a spliced direction: chunks smaller than [`SMALL_CHUNK`] go by recv(2)
/// and send(2) through the thread's scratch buffer, which costs a request and its answer
/// two system calls each way where splice costs the same two plus a pipe per direction
/// (made, sized and closed), and moves one byte slower (docs/performance.md). The first
/// read that fills the buffer hands the direction to splice: true, or false once the
/// source ended.
async fn small_chunks(
    from: &Side,
    to: &Side,
    dir: Direction,
    meter: &Meter,
    tap: Option<Tap<'_>>,
    busy: Busy<'_>,
) -> Result<bool, Fault> {
    use rustix::net::{recv, send};
    let mut rest: Vec<u8> = Vec::new();
    loop {
        let mut refused: Option<io::Error> = None;
        let mut sent = 0;
        let n = from
            .read(
                |n| n < SMALL_CHUNK,
                |fd| {
                    SCRATCH.with_borrow_mut(|buf| {
                        let n = recv(fd, &mut buf[..], RecvFlags::empty())?.0;
                        if n > 0 {
                            if let Some(tap) = tap {
                                tap(dir, Seen::Data(&buf[..n]));
                            }
                            match send(to.raw(), &buf[..n], SendFlags::NOSIGNAL) {
                                Ok(m) => sent = m,
                                Err(rustix::io::Errno::AGAIN) => {}
                                Err(e) => refused = Some(e.into()),
                            }
                            rest.extend_from_slice(&buf[sent..n]);
                        }
                        Ok(n)
                    })
                },
            )
            .await
            .map_err(Fault::read)?;
        if n == 0 {
            return Ok(false);
        }
        if let Some(e) = refused {
            return Err(Fault::write(e));
        }
        meter.add(dir, sent);
        let mut done = 0;
        while done < rest.len() {
            let m = to
                .write(rest.len() - done, |fd| {
                    Ok(send(fd, &rest[done..], SendFlags::NOSIGNAL)?)
                })
                .await
                .map_err(Fault::write)?;
            done += m;
            meter.add(dir, m);
        }
        rest.clear();
        moved(busy, dir, n);
        if n == SMALL_CHUNK {
            return Ok(true);
        }
    }
}

/// One direction with splice(2): socket -> pipe -> socket, draining the pipe completely
/// before reading again, so a splice into it never fails for lack of room. The pipe is
/// created at the first byte: an idle connection holds none.
///
/// Short of descriptors or pipe pages for the pipe, the direction copies through a buffer
/// instead, which needs neither: a connection accepted is carried to its end.
///
/// With a [`PipeTap`] (`--pcap`), each read is duplicated by tee(2) into a second pipe
/// (page references, no copy) and handed to it before it is spliced on; small chunks and
/// the buffer fallback show theirs to `tap`.
async fn splice_one_way(
    from: &Side,
    to: &Side,
    dir: Direction,
    meter: &Meter,
    tap: Option<Tap<'_>>,
    pipe_tap: Option<PipeTap<'_>>,
    busy: Busy<'_>,
) -> Result<(), Fault> {
    use rustix::io::Errno;
    use rustix::pipe::{SpliceFlags, splice, tee};
    let flags = SpliceFlags::MOVE | SpliceFlags::NONBLOCK;
    if !small_chunks(from, to, dir, meter, tap, busy).await? {
        return Ok(());
    }
    let pipe = |flags| match rustix::pipe::pipe_with(flags) {
        Ok(pipe) => Ok(Some(pipe)),
        Err(Errno::MFILE | Errno::NFILE | Errno::NOMEM) => Ok(None),
        Err(e) => Err(Fault {
            at: At::Relay,
            err: e.into(),
        }),
    };
    let Some((pr, pw)) = pipe(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)? else {
        return buffer_one_way(from, to, dir, meter, tap, busy).await;
    };
    // The capture's pipe: blocking, as the capture file is (it always holds what the
    // capture is about to take).
    let copy = match pipe_tap {
        Some(t) => match pipe(PipeFlags::CLOEXEC)? {
            Some(p) => Some((t, p)),
            None => return buffer_one_way(from, to, dir, meter, tap, busy).await,
        },
        None => None,
    };
    let size = |pw: &OwnedFd| rustix::pipe::fcntl_getpipe_size(pw).unwrap_or(64 * 1024);
    let mut want = size(&pw);
    let mut grown = false;
    loop {
        // A splice into the pipe stops short when the socket has no more, or when the pipe
        // has no free slot (one per page or part of a page). Fewer bytes than slots prove
        // the former.
        let slots = want / 4096;
        let n = from
            .read(
                |n| n < slots,
                |fd| Ok(splice(fd, None, &pw, None, want, flags)?),
            )
            .await
            .map_err(Fault::read)?;
        if n == 0 {
            return Ok(());
        }
        let mut left = n;
        // Of the bytes in the pipe, how many at its front the capture has (tee(2)
        // duplicates from the front, as much as the capture's pipe has room for).
        let mut captured = 0;
        while left > 0 {
            if let Some((t, (cr, cw))) = &copy
                && captured == 0
            {
                captured = tee(&pr, cw, left, SpliceFlags::NONBLOCK).map_err(|e| Fault {
                    at: At::Relay,
                    err: e.into(),
                })?;
                if captured == 0 {
                    return Err(Fault {
                        at: At::Relay,
                        err: io::Error::other("tee(2) duplicated nothing of a full pipe"),
                    });
                }
                t(dir, cr.as_fd(), captured);
            }
            let once = if copy.is_some() { captured } else { left };
            let m = to
                .write(once, |fd| Ok(splice(&pr, None, fd, None, once, flags)?))
                .await
                .map_err(Fault::write)?;
            left -= m;
            captured = captured.saturating_sub(m);
            meter.add(dir, m);
        }
        moved(busy, dir, n);
        if n >= want / 2 && !grown {
            // Half the pipe at once: a busy direction. Best effort (fs.pipe-max-size, the
            // user's pipe pages).
            grown = true;
            let _ = rustix::pipe::fcntl_setpipe_size(&pw, SPLICE_PIPE);
            if let Some((_, (_, cw))) = &copy {
                let _ = rustix::pipe::fcntl_setpipe_size(cw, SPLICE_PIPE);
            }
            want = size(&pw);
            to.sending_bulk();
        }
    }
}

/// One direction through a user-space buffer (allocated at the first byte), shown to
/// `tap` before it is sent on.
async fn buffer_one_way(
    from: &Side,
    to: &Side,
    dir: Direction,
    meter: &Meter,
    tap: Option<Tap<'_>>,
    busy: Busy<'_>,
) -> Result<(), Fault> {
    use rustix::net::{recv, send};
    from.readable().await.map_err(Fault::read)?;
    let mut buf = vec![0u8; RELAY_BUF_START];
    loop {
        let len = buf.len();
        let n = from
            .read(
                |n| n < len,
                |fd| Ok(recv(fd, &mut buf[..], RecvFlags::empty())?.0),
            )
            .await
            .map_err(Fault::read)?;
        if n == 0 {
            return Ok(());
        }
        if let Some(tap) = tap {
            tap(dir, Seen::Data(&buf[..n]));
        }
        let mut sent = 0;
        while sent < n {
            let m = to
                .write(n - sent, |fd| {
                    Ok(send(fd, &buf[sent..n], SendFlags::NOSIGNAL)?)
                })
                .await
                .map_err(Fault::write)?;
            sent += m;
            meter.add(dir, m);
        }
        moved(busy, dir, n);
        if n == buf.len() && buf.len() < RELAY_BUF {
            buf = vec![0u8; (buf.len() * 4).min(RELAY_BUF)];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a chunk the other way soon after the last one is a turn of a ping-pong: not one
    /// the same way, nor one after a long pause, nor a bulk one.
    #[test]
    fn quick_turns_are_ping_pong() {
        let turns = Turns::default();
        let limit = Duration::from_secs(60);
        assert!(!turns.chunk(Direction::Up, 10, limit), "the first chunk");
        assert!(turns.chunk(Direction::Down, 10, limit), "an answer");
        assert!(
            !turns.chunk(Direction::Down, 10, limit),
            "the same way again"
        );
        assert!(turns.chunk(Direction::Up, 10, limit), "the next request");
        assert!(!turns.chunk(Direction::Down, BULK_CHUNK, limit), "bulk");
        // A pause longer than the limit (a loaded machine only makes it longer).
        std::thread::sleep(Duration::from_millis(2));
        assert!(
            !turns.chunk(Direction::Up, 10, Duration::from_millis(1)),
            "too slow a turn"
        );
    }
}
