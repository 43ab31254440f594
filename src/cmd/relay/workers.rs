//! `--threads N`: the relay on N workers, each a thread with its own current-thread
//! runtime, so that no task ever waits for a lock held on another core and every
//! connection stays on the thread that accepted it.
//!
//! A TCP LISTEN is N sockets on one port (SO_REUSEPORT, bound in `net::bind`): the kernel
//! spreads clients over them and each worker accepts its own. A unix socket has no
//! SO_REUSEPORT, and the same socket in every worker's epoll wakes all of them for each
//! client (tokio's epoll cannot take EPOLLEXCLUSIVE); so one worker accepts and hands
//! each client to the worker with the fewest open connections, by a channel
//! (docs/performance.md, "relay on more than one core"; the hidden `--unix-accept
//! shared` keeps the other way for bench/relay to compare).
//!
//! Shared by all: the plan (totals are atomics, summed as they go), the connection ids,
//! the --max-connections slots and the stop and grace tokens. Worker 0 is the thread the
//! relay started on; it also watches the signals and prints the summary.

use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::side::Spare;
use super::{Args, RelayPlan, accept, serve};
use crate::error::Fail;
use crate::net::cred::Peer;
use crate::net::listener::Listener;
use crate::net::stream::Detached;
use crate::shutdown::{FileGuard, Shutdown};

/// The most workers the relay starts by itself: past 16 a relay's clients rarely keep
/// more cores busy than the peers they talk to leave free, each worker is a thread, an
/// epoll and (for TCP) a listening socket held whether busy or not, and a unix LISTEN's
/// one accepting worker has to keep up with all the others. `--threads` goes past it.
pub const DEFAULT_CAP: usize = 16;

/// How many workers: `--threads`, else the cores this process may run on
/// (sched_getaffinity, and a cgroup's CPU quota, as `available_parallelism` reads them),
/// at most [`DEFAULT_CAP`] and at most --max-connections. A datagram relay runs on one:
/// `--threads` above 1 is refused there.
pub fn count(args: &Args, datagrams: bool) -> anyhow::Result<usize> {
    match args.threads {
        Some(n) if n > 1 && datagrams => Err(Fail::usage(format!(
            "--threads {n}: a datagram relay (a udp: side, or --dgram) runs on one thread: \
             one socket on LISTEN, with its table of senders"
        ))
        .hint("leave --threads out, or give --threads 1")
        .into()),
        Some(n) => Ok(n as usize),
        None if datagrams => Ok(1),
        None => {
            let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
            let most = args.max_connections.map_or(usize::MAX, |n| n as usize);
            Ok(cores.min(DEFAULT_CAP).min(most).max(1))
        }
    }
}

/// How the workers share a unix LISTEN (a hidden option, for measurements).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum UnixAccept {
    /// Worker 0 accepts and hands each client to the least busy worker.
    Handoff,
    /// Every worker accepts from the one socket (in its own epoll: all are woken).
    Shared,
}

/// Another listener on the same unix socket (a duplicate descriptor), for a worker.
pub fn same_socket(l: &Listener) -> anyhow::Result<Listener> {
    use std::os::fd::AsFd;
    let fd = rustix::io::fcntl_dupfd_cloexec(l.as_fd(), 0)?;
    let kind = match l {
        Listener::SeqPacket(_) => crate::net::kind::Kind::SeqPacket,
        _ => crate::net::kind::Kind::Stream,
    };
    Ok(Listener::from_unix_fd(fd, kind)?)
}

/// What every worker shares.
struct Pool {
    plan: Arc<RelayPlan>,
    stop: Shutdown,
    slots: Arc<Semaphore>,
    next_id: AtomicU64,
    /// Open connections, by worker: a handed-off client goes to the least busy.
    open: Vec<AtomicUsize>,
    /// Where the search for the least busy starts, so that ties take turns.
    turn: AtomicUsize,
    /// Descriptors are the process's: one shortage for every worker's acceptor.
    shortage: Arc<std::sync::Mutex<accept::Shortage>>,
    /// Open connections below which none sets descriptors aside ([`accept::room`]).
    room: usize,
}

/// A client accepted by one worker for another.
struct Job {
    id: u64,
    client: Detached,
    peer: Peer,
    spare: Spare,
    permit: OwnedSemaphorePermit,
    ended: Arc<Notify>,
}

/// What a worker thread serves: its own listening socket, or the clients handed to it.
enum Source {
    Listen(accept::Incoming),
    Jobs(UnboundedReceiver<Job>),
}

/// The runtimes of workers 1.. (worker 0 runs on the thread the relay started on), made
/// before anything is bound: a relay that listens has all its descriptors.
pub fn runtimes(threads: usize) -> anyhow::Result<Vec<Rt>> {
    (1..threads)
        .map(|_| {
            Ok(Rt(Some(
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?,
            )))
        })
        .collect()
}

/// A worker's runtime not started yet. Dropped unused (the relay failed to bind, say) on
/// the relay's own runtime, where a runtime must not be dropped blocking: shut down in the
/// background then.
pub struct Rt(Option<tokio::runtime::Runtime>);

impl Drop for Rt {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Serves `listeners` (one per worker, or one for all) on workers 0 and `rts` until a stop
/// signal, then drains: accepting stops everywhere, `guard` removes the socket file, open
/// connections get `grace` to end.
pub async fn run(
    plan: Arc<RelayPlan>,
    stop: Shutdown,
    listeners: Vec<Listener>,
    rts: Vec<Rt>,
    max_connections: Option<u32>,
    grace: Duration,
    guard: Option<FileGuard>,
) -> anyhow::Result<()> {
    let threads = rts.len() + 1;
    let pool = Arc::new(Pool {
        plan,
        stop,
        slots: Arc::new(Semaphore::new(
            max_connections.map_or(Semaphore::MAX_PERMITS, |n| n as usize),
        )),
        next_id: AtomicU64::new(0),
        open: (0..threads).map(|_| AtomicUsize::new(0)).collect(),
        turn: AtomicUsize::new(0),
        shortage: Default::default(),
        // The runtimes and the listeners are open by now: the count leaves them out.
        room: accept::room(),
    });
    let handoff = threads > 1 && listeners.len() == 1;
    let mut listeners = listeners.into_iter();
    let Some(mine) = listeners.next() else {
        unreachable!("no listener")
    };
    let mine = accept::Incoming::new(mine)?;
    let mut hands = Vec::new();
    let mut threads_started = Vec::new();
    for (rt, w) in rts.into_iter().zip(1..) {
        let Some(runtime) = rt.0.as_ref() else {
            unreachable!("a runtime started twice")
        };
        let source = match listeners.next() {
            Some(l) => Source::Listen(move_to(l, runtime)?),
            None => {
                let (tx, rx) = unbounded_channel();
                hands.push(tx);
                Source::Jobs(rx)
            }
        };
        let (accepting, stopped) = tokio::sync::oneshot::channel::<()>();
        let pool = pool.clone();
        let thread = std::thread::Builder::new()
            .name(format!("relay-{w}"))
            .spawn(move || {
                let mut rt = rt;
                let Some(rt) = rt.0.take() else {
                    unreachable!("a runtime started twice")
                };
                rt.block_on(async move {
                    pool.busy_poll(w);
                    match source {
                        Source::Listen(l) => pool.accept_loop(w, &l, &[]).await,
                        Source::Jobs(rx) => pool.receive(w, rx).await,
                    }
                    let _ = accepting.send(());
                    pool.stop.tracker.wait().await;
                })
            })?;
        threads_started.push((thread, stopped));
    }
    debug_assert!(!handoff || hands.len() == threads - 1);
    pool.busy_poll(0);
    pool.accept_loop(0, &mine, &hands).await;
    // Stop accepting at once: clients now get "refused" and the socket file goes.
    drop(mine);
    drop(guard);
    drop(hands);
    let mut joins = Vec::new();
    for (thread, stopped) in threads_started {
        // Every worker has stopped accepting (or handing out) before the drain begins.
        let _ = stopped.await;
        joins.push(thread);
    }
    let stop = &pool.stop;
    pool.plan.draining.cancel();
    stop.tracker.close();
    if tokio::time::timeout(grace, stop.tracker.wait())
        .await
        .is_err()
    {
        pool.plan.cut.cancel();
        stop.tracker.wait().await;
    }
    for thread in joins {
        if thread.join().is_err() {
            anyhow::bail!("a relay worker thread panicked");
        }
    }
    Ok(())
}

/// A listener bound on this thread, registered with `rt`'s reactor instead.
fn move_to(l: Listener, rt: &tokio::runtime::Runtime) -> anyhow::Result<accept::Incoming> {
    let _in = rt.enter();
    Ok(accept::Incoming::new(l)?)
}

impl Pool {
    /// --busy-poll: each worker polls for its own connections.
    fn busy_poll(&self, w: usize) {
        if self.plan.busy.get(w).is_some() {
            let plan = self.plan.clone();
            tokio::spawn(async move {
                if let Some(busy) = plan.busy.get(w) {
                    busy.run().await;
                }
            });
        }
    }

    /// Accepts on `listener` until a stop signal; each client is served here, or, with
    /// `hands` (one per other worker), by the least busy worker.
    async fn accept_loop(
        self: &Arc<Self>,
        w: usize,
        listener: &accept::Incoming,
        hands: &[UnboundedSender<Job>],
    ) {
        let plan = &self.plan;
        let mut acceptor = accept::Acceptor::new(
            listener,
            plan.target.is_unix(),
            plan.guard.is_none(),
            &self.open,
            self.room,
            &plan.log,
            w,
            self.shortage.clone(),
        );
        // With one acceptor, a slot (--max-connections) is taken before accepting: extra
        // clients wait in the kernel's accept queue instead of being reset. With a socket
        // per worker, a slot held while waiting on one socket would keep a client waiting
        // on another: each worker then accepts first and waits for a slot after, holding
        // at most one client that way.
        let slot_first = self.open.len() == 1 || !hands.is_empty();
        loop {
            let mut permit = None;
            if slot_first {
                permit = match self.slot().await {
                    Some(p) => Some(p),
                    None => break,
                };
            }
            let Some((client, peer, spare)) = acceptor.next(&self.stop).await else {
                break;
            };
            let permit = match permit {
                Some(p) => p,
                None => match self.slot().await {
                    Some(p) => p,
                    None => break,
                },
            };
            let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
            let ended = acceptor.ended.clone();
            let to = if hands.is_empty() {
                w
            } else {
                self.least_busy()
            };
            self.open[to].fetch_add(1, Ordering::Relaxed);
            let job = Job {
                id,
                client,
                peer,
                spare,
                permit,
                ended,
            };
            if to == w {
                self.start(w, job);
                continue;
            }
            // The client is bare (not on this worker's reactor): it moves as it is.
            if let Err(e) = hands[to - 1].send(job) {
                // That worker is gone (it panicked): serve the client here.
                self.open[to].fetch_sub(1, Ordering::Relaxed);
                self.open[w].fetch_add(1, Ordering::Relaxed);
                self.start(w, e.0);
            }
        }
    }

    /// A --max-connections slot, or None once a stop signal came.
    async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        tokio::select! {
            p = self.slots.clone().acquire_owned() => p.ok(),
            _ = self.stop.stopped() => None,
        }
    }

    /// The worker with the fewest open connections (ties take turns).
    fn least_busy(&self) -> usize {
        let n = self.open.len();
        let start = self.turn.fetch_add(1, Ordering::Relaxed) % n;
        (0..n)
            .map(|i| (start + i) % n)
            .min_by_key(|&w| self.open[w].load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    /// Serves the clients handed to worker `w` until the acceptor stops.
    async fn receive(self: &Arc<Self>, w: usize, mut rx: UnboundedReceiver<Job>) {
        while let Some(job) = rx.recv().await {
            self.start(w, job);
        }
    }

    /// Connection `id` served on this worker (`w`), tracked for the drain.
    fn start(self: &Arc<Self>, w: usize, job: Job) {
        let Job {
            id,
            client,
            peer,
            spare,
            permit,
            ended,
        } = job;
        let pool = self.clone();
        self.stop.tracker.spawn(async move {
            serve(id, w, client, spare, &peer, pool.plan.clone()).await;
            pool.open[w].fetch_sub(1, Ordering::Relaxed);
            drop(permit);
            ended.notify_one();
        });
    }
}
