//! The busy poll of a current-thread runtime: after activity, the thread keeps polling
//! its sockets for a short window instead of sleeping (`relay`'s connections, `recvfrom`'s
//! datagrams), while a CPU is free; and its one-shot form for a thread about to sleep
//! until its peer catches up (connect's mover, its socket full; a datagram sender, its
//! receiver's queue full).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long the adaptive poll goes on after the last activity: 50 µs measured best among
/// 20, 50 and 200 for the relay (docs/performance.md).
const ADAPTIVE_WINDOW: Duration = Duration::from_micros(50);

/// How often a poll looks again whether it takes a CPU from anyone.
const CPU_RECHECK: Duration = Duration::from_millis(1);

/// Busy polling: after activity (a chunk the relay moved, a batch of datagrams `recvfrom`
/// took), the thread polls its sockets for a while instead of sleeping, so that what
/// comes next (the answer to a request the relay passed on, the next datagrams) is picked
/// up without the thread being woken for it.
///
/// A round trip through any relay costs four wakeups where the direct one costs two (the
/// relay is woken by the request and by the answer); its system calls are already as few
/// as socat's and nginx's, and on a virtual machine waking an idle CPU is the dearest part
/// (about 30 µs on the 2-CPU machines of docs/performance.md, where a 1-byte round trip
/// between two processes takes 60 µs on two CPUs and 4 µs on one). A datagram receiver
/// that drains its queue and sleeps is woken for every few datagrams in the same way.
///
/// By default it is adaptive ([`BusyPoll::adaptive`]): it polls only after activity its
/// user judges worth it (the relay: a chunk of a connection that ping-pongs, never bulk),
/// and only while no runnable task waits for a CPU (/proc/loadavg's count of running tasks
/// at most the online CPUs, looked at once a millisecond while polling; never when the
/// process may run on one CPU only). Idleness or a busy machine never keeps it polling.
/// `relay --busy-poll DURATION` polls after every chunk, whatever the load
/// (`--busy-poll 0`: never).
pub struct BusyPoll {
    window: Duration,
    adaptive: bool,
    /// Activity so far (chunks moved by every connection, batches received): a poll that
    /// sees it change goes on.
    moved: AtomicU64,
    moving: tokio::sync::Notify,
    /// The adaptive poll's view of the CPUs.
    cpus: std::sync::Mutex<CpuView>,
    /// Adaptive, on one CPU: it never polls, and activity wakes nothing.
    never: bool,
    /// The last look at the CPUs: its [`coarse_ms`] shifted left once, the low bit set if
    /// a CPU was free. Activity before the coarse clock's next tick (1 to 4 ms, by the
    /// kernel's HZ) after a look that found none wakes nothing: on a busy machine the poll
    /// would only look again and go back to sleep.
    looked: AtomicU64,
}

impl BusyPoll {
    /// Polls after every chunk (`--busy-poll DURATION`).
    pub fn new(window: Duration) -> BusyPoll {
        BusyPoll::with(window, false)
    }

    /// Polls after activity while a CPU is free (the default).
    pub fn adaptive() -> BusyPoll {
        BusyPoll::with(ADAPTIVE_WINDOW, true)
    }

    fn with(window: Duration, adaptive: bool) -> BusyPoll {
        let cpus = CpuView::new();
        BusyPoll {
            window,
            adaptive,
            never: adaptive && cpus.alone,
            looked: AtomicU64::new(0),
            moved: AtomicU64::new(0),
            moving: tokio::sync::Notify::new(),
            cpus: std::sync::Mutex::new(cpus),
        }
    }

    /// Whether it polls only while a CPU is free (and its user tells only the activity
    /// worth polling after).
    pub fn is_adaptive(&self) -> bool {
        self.adaptive
    }

    /// Whether activity now can start a poll: not when adaptive on one CPU, nor within the
    /// tick of a look that found no CPU free. Cheap (no clock source read, no lock), for
    /// the callers to ask before they judge what they moved.
    pub fn may_poll(&self) -> bool {
        if !self.adaptive {
            return true;
        }
        if self.never {
            return false;
        }
        let looked = self.looked.load(Ordering::Relaxed);
        looked & 1 == 1 || coarse_ms() != looked >> 1
    }

    /// Activity: the poll goes on for its window from now (called on the runtime's
    /// thread, so no wakeup costs a system call).
    pub fn moved(&self) {
        self.moved.fetch_add(1, Ordering::Relaxed);
        if self.may_poll() {
            self.moving.notify_one();
        }
    }

    /// Whether polling now takes a CPU from nobody (always, unless adaptive).
    fn affordable(&self) -> bool {
        if !self.adaptive {
            return true;
        }
        let free = self.cpus.lock().is_ok_and(|mut c| c.free());
        self.looked
            .store(coarse_ms() << 1 | u64::from(free), Ordering::Relaxed);
        free
    }

    /// Runs beside the connections for the life of the relay: once a chunk has moved, it
    /// yields again and again until `window` has passed without another. While a task
    /// yields, the runtime does not sleep: between turns it asks the kernel for ready
    /// sockets with a zero timeout (epoll_wait(2) with timeout 0).
    pub async fn run(&self) {
        loop {
            self.moving.notified().await;
            if !self.affordable() {
                continue;
            }
            let mut seen = self.moved.load(Ordering::Relaxed);
            let mut until = Instant::now() + self.window;
            let mut checked = Instant::now();
            loop {
                let now = Instant::now();
                if now >= until {
                    break;
                }
                if now.duration_since(checked) >= CPU_RECHECK {
                    checked = now;
                    if !self.affordable() {
                        break;
                    }
                }
                tokio::task::yield_now().await;
                let moved = self.moved.load(Ordering::Relaxed);
                if moved != seen {
                    seen = moved;
                    until = Instant::now() + self.window;
                }
            }
        }
    }
}

/// Retries `op` while it says EAGAIN, without sleeping, for up to [`ADAPTIVE_WINDOW`] and
/// only while a CPU is free (as the adaptive poll judges it); what it said at last, or None
/// if it would still block. For a thread that would otherwise sleep until its peer catches
/// up (a socket full or empty for a moment mid-transfer, a receiver's datagram queue
/// full): the peer usually does within microseconds, and a sleep costs the wakeup of an
/// idle CPU, which is most of the time a transfer waits on a virtual machine.
pub fn retry_briefly<T>(
    mut op: impl FnMut() -> rustix::io::Result<T>,
) -> Option<rustix::io::Result<T>> {
    thread_local! {
        static CPUS: std::cell::RefCell<Option<CpuView>> = const { std::cell::RefCell::new(None) };
    }
    let free = || CPUS.with_borrow_mut(|c| c.get_or_insert_with(CpuView::new).free());
    let until = Instant::now() + ADAPTIVE_WINDOW;
    if !free() {
        return None;
    }
    loop {
        match op() {
            Err(rustix::io::Errno::AGAIN) => {}
            r => return Some(r),
        }
        if Instant::now() >= until || !free() {
            return None;
        }
        std::hint::spin_loop();
    }
}

/// CLOCK_MONOTONIC_COARSE in milliseconds: the time of the last tick, read from the vDSO
/// without the clock source (4 ns a read on the machines of docs/performance.md, where
/// CLOCK_MONOTONIC costs 17), for what is judged per chunk (the relay's idle timeout,
/// [`BusyPoll::may_poll`]).
pub fn coarse_ms() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec; CLOCK_MONOTONIC_COARSE exists since 2.6.32.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut t) };
    t.tv_sec as u64 * 1000 + t.tv_nsec as u64 / 1_000_000
}

/// [`retry_briefly`] with poll(2) and a zero timeout: whether one of `fds` became ready
/// (the stdio movers' waits).
pub fn poll_briefly(fds: &mut [rustix::event::PollFd<'_>]) -> bool {
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let ready = || match rustix::event::poll(fds, Some(&zero)) {
        Ok(n) if n > 0 => Ok(()),
        Ok(_) => Err(rustix::io::Errno::AGAIN),
        Err(e) => Err(e),
    };
    matches!(retry_briefly(ready), Some(Ok(())))
}

/// Whether a CPU is free for the adaptive poll: the running tasks that /proc/loadavg counts
/// (this one among them) against the online CPUs, read again at most once per
/// [`CPU_RECHECK`] through a descriptor kept open (pread at 0 makes the kernel write the
/// line anew).
struct CpuView {
    loadavg: Option<std::fs::File>,
    online: usize,
    /// The relay may run on one CPU only (taskset): polling there takes it from its peers.
    alone: bool,
    at: Option<Instant>,
    free: bool,
}

impl CpuView {
    fn new() -> CpuView {
        let online = std::fs::read_to_string("/sys/devices/system/cpu/online")
            .ok()
            .and_then(|s| count_cpus(s.trim()))
            .unwrap_or(1);
        let alone = std::thread::available_parallelism().map_or(true, |n| n.get() < 2);
        CpuView {
            loadavg: std::fs::File::open("/proc/loadavg").ok(),
            online,
            alone,
            at: None,
            free: false,
        }
    }

    fn free(&mut self) -> bool {
        if self.alone {
            return false;
        }
        if let Some(at) = self.at
            && at.elapsed() < CPU_RECHECK
        {
            return self.free;
        }
        self.at = Some(Instant::now());
        self.free = match &self.loadavg {
            Some(f) => running(f).is_some_and(|r| r <= self.online),
            None => false,
        };
        self.free
    }
}

/// The tasks running now, from /proc/loadavg ("0.52 0.58 0.59 2/301 12345": 2).
fn running(f: &std::fs::File) -> Option<usize> {
    use std::os::unix::fs::FileExt;
    let mut buf = [0u8; 128];
    let n = f.read_at(&mut buf, 0).ok()?;
    let line = std::str::from_utf8(&buf[..n]).ok()?;
    let field = line.split_ascii_whitespace().nth(3)?;
    field.split('/').next()?.parse().ok()
}

/// The CPUs in a list such as "0-3,8,10-11" (/sys/devices/system/cpu/online).
fn count_cpus(list: &str) -> Option<usize> {
    let mut n = 0;
    for part in list.split(',') {
        n += match part.split_once('-') {
            Some((a, b)) => b.parse::<usize>().ok()?.checked_sub(a.parse().ok()?)? + 1,
            None => {
                part.parse::<usize>().ok()?;
                1
            }
        };
    }
    (n > 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_are_counted() {
        assert_eq!(count_cpus("0"), Some(1));
        assert_eq!(count_cpus("0-1"), Some(2));
        assert_eq!(count_cpus("0-3,8,10-11"), Some(7));
        assert_eq!(count_cpus("3-1"), None);
        assert_eq!(count_cpus("x"), None);
        assert_eq!(count_cpus(""), None);
    }

    /// A look that found no CPU free keeps activity from waking the poll until the coarse
    /// clock ticks; one that found a CPU free, or an old one, does not.
    #[test]
    fn activity_after_a_look_at_busy_cpus_wakes_nothing_until_the_next_tick() {
        let mut poll = BusyPoll::adaptive();
        poll.never = false;
        let look = |at: u64, free: bool| {
            poll.looked
                .store(at << 1 | u64::from(free), Ordering::Relaxed)
        };
        // The look and the check most likely share a tick; where the clock ticked between
        // them, the poll may be woken, which the assertion allows.
        let now = loop {
            let a = coarse_ms();
            let b = coarse_ms();
            if a == b {
                break a;
            }
        };
        look(now, false);
        let busy = poll.may_poll();
        let again = coarse_ms() == now;
        assert!(
            !busy || !again,
            "a busy look in this tick lets activity poll"
        );
        look(now, true);
        assert!(poll.may_poll());
        look(now.saturating_sub(10), false);
        assert!(poll.may_poll(), "an old look does not hold the poll back");
        poll.never = true;
        look(now.saturating_sub(10), true);
        assert!(!poll.may_poll(), "adaptive on one CPU never polls");
        assert!(BusyPoll::new(Duration::from_micros(50)).may_poll());
    }
}
