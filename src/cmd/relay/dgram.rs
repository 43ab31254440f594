//! `relay` for datagrams: UDP or a unix datagram socket on either side. One datagram in is
//! one datagram out, whole (one too large for the way on is logged and counted, never cut:
//! receives ask the kernel for the real size with MSG_TRUNC). Every sender with an address
//! gets its own socket toward TARGET (an autobound abstract name on unix, a port of its own
//! on UDP), so the answers TARGET sends to that socket go back to that sender; it is kept
//! until --reply-timeout passes without a datagram either way. Senders without an address
//! (`logger`, an unbound client) share one socket, one way. A full unix receiver is waited
//! for or its datagrams dropped and counted (--on-full); the counts close the run.

use std::collections::HashMap;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::io::Errno;
use rustix::net::{RecvAncillaryBuffer, RecvFlags, ReturnFlags, SocketAddrUnix};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::{Args, Log};
use crate::duration;
use crate::error::Fail;
use crate::net::activate::{self, Source};
use crate::net::addr::Addr;
use crate::net::batch::RecvBatch;
use crate::net::bind;
use crate::net::dgram::{self as udgram, Dgram, RECV_BATCH, RECV_BUFFER};
use crate::net::kind::Kind;
use crate::shutdown::Shutdown;
use crate::term::{Ctx, escape};

/// What to do with a datagram for a unix receiver whose queue is full.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFull {
    /// Wait until the receiver has room (the relay's other traffic waits too)
    Wait,
    /// Drop the datagram and count it (as a UDP network would)
    Drop,
}

/// A UDP payload is at most 65,527 bytes (IPv6; 65,507 on IPv4), so a 64 KiB buffer holds
/// any; MSG_TRUNC would still report a bigger one.
const UDP_BUFFER: usize = 64 * 1024;

/// UDP datagrams one `recvmmsg` on LISTEN takes: a UDP socket queues up to its receive
/// buffer (hundreds of small datagrams), and 64 slots of [`UDP_BUFFER`] are 4 MiB of
/// address space, touched a page per small datagram.
const UDP_BATCH: usize = 64;

/// The --reply-timeout when none is given: long enough for a slow answer, short enough
/// that a relay with many short-lived senders does not hoard descriptors.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A datagram socket of either family.
enum Sock {
    Udp(UdpSocket),
    Unix(Dgram),
}

/// Who sent a datagram to LISTEN: where its answers go.
#[derive(Clone, Hash, PartialEq, Eq)]
enum Sender {
    Udp(SocketAddr),
    Unix(SocketAddrUnix),
}

impl Sender {
    fn show(&self) -> String {
        match self {
            Sender::Udp(a) => format!("udp:{a}"),
            Sender::Unix(a) => udgram::addr_of(a)
                .map(|a| escape(&a.to_string()).into_owned())
                .unwrap_or_else(|| "an unnamed sender".into()),
        }
    }
}

/// One answer received from TARGET: its real size, and whether it was cut.
struct Got {
    size: usize,
    truncated: bool,
}

fn recv_udp(s: &UdpSocket, buf: &mut [u8]) -> io::Result<Got> {
    let msg = rustix::net::recvmsg(
        s,
        &mut [IoSliceMut::new(buf)],
        &mut RecvAncillaryBuffer::default(),
        RecvFlags::TRUNC | RecvFlags::DONTWAIT,
    )?;
    Ok(Got {
        size: msg.bytes,
        truncated: msg.flags.contains(ReturnFlags::TRUNC),
    })
}

impl Sock {
    fn buffer(&self) -> usize {
        match self {
            Sock::Udp(_) => UDP_BUFFER,
            Sock::Unix(_) => RECV_BUFFER,
        }
    }

    async fn recv(&self, buf: &mut [u8]) -> io::Result<Got> {
        match self {
            Sock::Udp(s) => s.async_io(Interest::READABLE, || recv_udp(s, buf)).await,
            Sock::Unix(d) => {
                let r = d.recv(buf).await?;
                Ok(Got {
                    size: r.size,
                    truncated: r.truncated,
                })
            }
        }
    }

    /// Room for a batch of datagrams received on this socket (no control data: descriptors
    /// sent to a relay are closed by the kernel, as they always were).
    fn batch(&self) -> RecvBatch {
        match self {
            Sock::Udp(_) => RecvBatch::new(UDP_BATCH, UDP_BUFFER, false),
            Sock::Unix(_) => RecvBatch::new(RECV_BATCH, RECV_BUFFER, false),
        }
    }

    /// Waits for datagrams and receives as many as are queued (up to the batch's
    /// capacity) with one `recvmmsg`.
    async fn recv_batch(&self, batch: &mut RecvBatch) -> io::Result<usize> {
        let max = batch.capacity();
        match self {
            Sock::Udp(s) => {
                use std::os::fd::AsFd;
                s.async_io(Interest::READABLE, || {
                    batch.recv(s.as_fd(), max, 0).map_err(Into::into)
                })
                .await
            }
            Sock::Unix(d) => loop {
                let mut guard = d.readable().await?;
                let n = d.try_recv_batch(&mut guard, batch, max)?;
                if n > 0 {
                    return Ok(n);
                }
            },
        }
    }

    /// Who sent datagram `i` of a batch received on this socket (None: no address).
    fn sender(&self, batch: &RecvBatch, i: usize) -> Option<Sender> {
        let a = batch.from(i)?;
        match self {
            Sock::Udp(_) => SocketAddr::try_from(a).ok().map(Sender::Udp),
            Sock::Unix(_) => SocketAddrUnix::try_from(a)
                .ok()
                .filter(|a| !a.is_unnamed())
                .map(Sender::Unix),
        }
    }

    /// Sends the first of `msgs` (up to [`SEND_BATCH`]) with one `sendmmsg` on a connected
    /// socket: how many went (at least one), or the error of the first. With `wait`, a full
    /// receiver is waited for; without, it is WouldBlock.
    async fn send_batch(&self, msgs: &[&[u8]], wait: bool) -> io::Result<usize> {
        match self {
            Sock::Unix(d) => d.send_batch(msgs, wait).await,
            Sock::Udp(s) => {
                use std::os::fd::AsFd;
                let op = || crate::net::dgram::send_mmsg(s.as_fd(), msgs, None).map_err(Into::into);
                if wait {
                    s.async_io(Interest::WRITABLE, op).await
                } else {
                    s.try_io(Interest::WRITABLE, op)
                }
            }
        }
    }

    /// Answers a sender from LISTEN's socket; a full unix sender is waited for up to
    /// `patience`.
    async fn send_to(&self, data: &[u8], to: &Sender, patience: Duration) -> io::Result<()> {
        match (self, to) {
            (Sock::Udp(s), Sender::Udp(a)) => s.send_to(data, a).await.map(|_| ()),
            (Sock::Unix(d), Sender::Unix(a)) => d.send_to(data, a, patience).await,
            _ => unreachable!("a sender's address is of its socket's family"),
        }
    }
}

/// A sender's own socket toward TARGET, and what went through it.
struct Upstream {
    id: u64,
    peer: String,
    sock: Sock,
    up: AtomicU64,
    up_bytes: AtomicU64,
    down: AtomicU64,
    down_bytes: AtomicU64,
}

/// The table of senders and their sockets: an entry is touched on every datagram either
/// way, under the lock, and removed by its own reply task, under the lock, only when it
/// is still idle; so a datagram never goes out on a socket whose answers nobody reads.
struct Entry {
    up: Arc<Upstream>,
    last: Instant,
    /// Fired when its socket is given up for a new sender's (out of descriptors).
    evicted: CancellationToken,
}

#[derive(Default)]
struct Counts {
    senders: AtomicU64,
    up: AtomicU64,
    up_bytes: AtomicU64,
    down: AtomicU64,
    down_bytes: AtomicU64,
    /// Dropped because a unix receiver's queue was full (--on-full drop).
    full: AtomicU64,
    /// Larger than the way on can carry in one datagram.
    oversize: AtomicU64,
    errors: AtomicU64,
    /// Senders whose socket was given up for a new sender's (out of descriptors).
    evicted: AtomicU64,
}

struct Plan {
    listen: Arc<Sock>,
    target: Addr,
    /// TARGET's address, resolved once, for a UDP TARGET.
    target_udp: Option<SocketAddr>,
    reply_timeout: Duration,
    on_full: OnFull,
    log: Log,
    counts: Counts,
    table: Mutex<HashMap<Sender, Entry>>,
    /// Set once a drop for a full receiver has been logged: the next ones are counted only.
    told_full: std::sync::atomic::AtomicBool,
    /// The stop signal: ends a wait for room, and the reply tasks.
    stop: CancellationToken,
}

/// Whether opening a socket failed for want of descriptors (ours or the system's).
fn is_short(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|c| c.downcast_ref::<io::Error>())
        .any(crate::net::connect::is_short_of_descriptors)
}

fn shown(a: &Addr) -> String {
    escape(&a.to_string()).into_owned()
}

/// The flags a datagram relay has no use for, when given.
fn stream_only(args: &Args) -> Option<&'static str> {
    [
        (args.http, "--http"),
        (args.dump.is_some(), "--dump"),
        (args.pcap.is_some(), "--pcap"),
        (args.busy_poll.is_some(), "--busy-poll"),
        (args.idle_timeout.is_some(), "--idle-timeout"),
        (args.max_connections.is_some(), "--max-connections"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

async fn resolve_udp(host: &str, port: u16) -> anyhow::Result<SocketAddr> {
    let mut all = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| anyhow::anyhow!("resolving {host}: {e}"))?;
    all.next()
        .ok_or_else(|| anyhow::anyhow!("resolving {host}: no address"))
}

async fn bind_listen(args: &Args, source: Source, ctx: &Ctx) -> anyhow::Result<(Sock, Addr)> {
    if let Source::Inherited(i) = source {
        if i.kind != Kind::Datagram {
            return Err(Fail::usage(format!(
                "{} is a listening stream socket; a datagram relay takes a unix datagram or \
                 UDP socket",
                i.from
            ))
            .into());
        }
        let local = i.local.clone();
        let sock = match local {
            Addr::Udp { .. } => Sock::Udp(UdpSocket::from_std(std::net::UdpSocket::from(i.fd))?),
            _ => Sock::Unix(activate::dgram(Source::Inherited(i), &args.bind, ctx)?),
        };
        return Ok((sock, local));
    }
    match args.listen.addr() {
        Addr::Udp { host, port } => {
            let what = format!("binding {}", shown(args.listen.addr()));
            let at = resolve_udp(host, *port)
                .await
                .map_err(|e| Fail::new(1, format!("{what}: {e}")))?;
            let s = UdpSocket::bind(at).await.map_err(|e| {
                let f = Fail::new(1, format!("{what}: {e}"));
                if e.kind() == io::ErrorKind::AddrInUse {
                    f.hint("another process uses that port; `ss -ulnp` shows which")
                } else {
                    f
                }
            })?;
            let local = s.local_addr()?;
            let addr = Addr::Udp {
                host: local.ip().to_string(),
                port: local.port(),
            };
            Ok((Sock::Udp(s), addr))
        }
        Addr::Tcp { .. } => Err(tcp_side(args.listen.addr())),
        unix => {
            let d = Dgram::bind(unix, &args.bind, ctx)?;
            let local = d.local.clone().unwrap_or_else(|| unix.clone());
            Ok((Sock::Unix(d), local))
        }
    }
}

fn tcp_side(a: &Addr) -> anyhow::Error {
    Fail::usage(format!(
        "{}: a datagram relay takes udp:HOST:PORT or a unix datagram socket (PATH, @NAME), \
         not TCP",
        shown(a)
    ))
    .into()
}

pub async fn run(args: Args, source: Source, ctx: &Ctx) -> anyhow::Result<()> {
    if let Some(flag) = stream_only(&args) {
        return Err(Fail::usage(format!(
            "{flag} is for stream relays; this one relays datagrams (a udp: side, or --dgram)"
        ))
        .into());
    }
    let target_udp = match args.target.addr() {
        Addr::Udp { host, port } => Some(resolve_udp(host, *port).await.map_err(|e| {
            Fail::new(1, format!("relaying to {}: {e}", shown(args.target.addr())))
        })?),
        Addr::Tcp { .. } => return Err(tcp_side(args.target.addr())),
        _ => None,
    };
    let stop = Shutdown::install()?;
    let origin = source.inherited_from();
    let (listen, local) = bind_listen(&args, source, ctx).await?;
    let plan = Arc::new(Plan {
        listen: Arc::new(listen),
        target: args.target.addr().clone(),
        target_udp,
        reply_timeout: args.reply_timeout.unwrap_or(REPLY_TIMEOUT),
        on_full: args.on_full.unwrap_or(OnFull::Wait),
        log: Log {
            ctx: ctx.clone(),
            json: args.json,
            workers: false,
            told: Default::default(),
        },
        counts: Counts::default(),
        table: Mutex::new(HashMap::new()),
        told_full: Default::default(),
        stop: stop.token.clone(),
    });
    plan.listening(&local, origin.as_deref());
    activate::ready(
        &format!(
            "listening on {local}{}, relaying datagrams to {}",
            super::listen_note(None, origin.as_deref()),
            plan.target
        ),
        ctx,
    );
    let mut batch = plan.listen.batch();
    let mut anonymous: Option<Arc<Upstream>> = None;
    let mut next_id = 0u64;
    loop {
        let got = tokio::select! {
            g = plan.listen.recv_batch(&mut batch) => g,
            _ = stop.stopped() => break,
        };
        let got = match got {
            Ok(g) => g,
            Err(e) => {
                plan.counts.errors.fetch_add(1, Relaxed);
                plan.warn(format!("receiving on {}: {e}", shown(&local)), "error");
                // A failing socket must not spin the loop.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // The batch in runs of datagrams from one sender: each run goes out on that
        // sender's socket in one sendmmsg, in the order it came.
        let mut i = 0;
        while i < got {
            let from = plan.listen.sender(&batch, i);
            let who = from
                .as_ref()
                .map_or_else(|| "an unnamed sender".to_string(), Sender::show);
            if batch.truncated(i) {
                plan.counts.oversize.fetch_add(1, Relaxed);
                plan.warn(
                    format!(
                        "{who}: a datagram of {} bytes is larger than the {} bytes udskit \
                         receives on {}; dropped, never truncated",
                        batch.size(i),
                        batch.slot_size(),
                        shown(&local)
                    ),
                    "oversize",
                );
                i += 1;
                continue;
            }
            let mut end = i + 1;
            while end < got && !batch.truncated(end) && plan.listen.sender(&batch, end) == from {
                end += 1;
            }
            let run: Vec<&[u8]> = (i..end).map(|k| batch.data(k)).collect();
            i = end;
            let up = match &from {
                Some(from) => plan.upstream_for(from, &who, &mut next_id, &stop).await,
                None => match &anonymous {
                    Some(u) => Ok(u.clone()),
                    None => {
                        next_id += 1;
                        let u = plan.open(next_id, who.clone(), false).await;
                        if let Ok(u) = &u {
                            anonymous = Some(u.clone());
                            plan.counts.senders.fetch_add(1, Relaxed);
                            plan.opened(u, "one way: no address to answer");
                        }
                        u
                    }
                },
            };
            let up = match up {
                Ok(u) => u,
                Err(e) => {
                    plan.counts.errors.fetch_add(run.len() as u64, Relaxed);
                    let what = if run.len() == 1 {
                        "datagram dropped".to_string()
                    } else {
                        format!("{} datagrams dropped", run.len())
                    };
                    plan.warn(format!("{who}: {e}; {what}"), "upstream_unreachable");
                    continue;
                }
            };
            if plan.forward(&up, &run).await.is_err() {
                // The socket is broken (TARGET gone or replaced): a new datagram from
                // this sender opens a new one.
                if let Some(from) = &from {
                    let mut t = plan.table.lock().unwrap_or_else(|p| p.into_inner());
                    if t.get(from).is_some_and(|e| e.up.id == up.id) {
                        t.remove(from);
                    }
                } else {
                    anonymous = None;
                }
            }
        }
    }
    stop.tracker.close();
    stop.tracker.wait().await;
    plan.summary();
    // LISTEN's socket file goes with the last reference to it, here.
    drop(plan);
    Ok(())
}

impl Plan {
    fn warn(&self, text: String, event: &str) {
        self.log.line(
            text.clone(),
            vec![("event", event.into()), ("message", text.into())],
            true,
        );
    }

    fn listening(&self, local: &Addr, origin: Option<&str>) {
        let (l, t) = (local.to_string(), self.target.to_string());
        let reach = bind::reach(&match local {
            Addr::Udp { host, port } => Addr::Tcp {
                host: host.clone(),
                port: *port,
            },
            other => other.clone(),
        })
        .map(|r| r.replace("tcp:", "udp:"));
        let on_full = match self.on_full {
            OnFull::Wait => "wait",
            OnFull::Drop => "drop",
        };
        let text = format!(
            "listening on {}{}, relaying datagrams to {} (a full receiver: {on_full}; answers \
             for {} after each datagram)",
            escape(&l),
            super::listen_note(reach.as_deref(), origin),
            escape(&t),
            duration::show(self.reply_timeout)
        );
        let mut fields = vec![
            ("event", "listening".into()),
            ("listen", l.as_str().into()),
            ("target", t.as_str().into()),
            ("datagrams", true.into()),
            ("on_full", on_full.into()),
            ("reply_timeout_s", self.reply_timeout.as_secs_f64().into()),
        ];
        if let Some(r) = reach {
            fields.push(("reach", r.into()));
        }
        if let Some(o) = origin {
            fields.push(("inherited", o.into()));
        }
        self.log.line(text, fields, false);
    }

    fn opened(&self, up: &Upstream, how: &str) {
        if self.log.ctx.verbose > 0 {
            self.log.line(
                format!("#{} {}: new sender, {how}", up.id, up.peer),
                vec![
                    ("event", "open".into()),
                    ("id", up.id.into()),
                    ("peer", up.peer.as_str().into()),
                ],
                false,
            );
        }
    }

    /// Its socket toward TARGET is closed (`why`: after no datagram for --reply-timeout,
    /// or given up for a new sender).
    fn closed(&self, up: &Upstream, why: &str) {
        let (n, b, m, d) = (
            up.up.load(Relaxed),
            up.up_bytes.load(Relaxed),
            up.down.load(Relaxed),
            up.down_bytes.load(Relaxed),
        );
        let end = if why.starts_with("no datagram") {
            "reply timeout"
        } else {
            "evicted"
        };
        self.log.line(
            format!(
                "#{} {}: {why}, {n} datagrams up ({b} bytes), {m} down ({d} bytes)",
                up.id, up.peer
            ),
            vec![
                ("event", "close".into()),
                ("id", up.id.into()),
                ("peer", up.peer.as_str().into()),
                ("datagrams_up", n.into()),
                ("bytes_up", b.into()),
                ("datagrams_down", m.into()),
                ("bytes_down", d.into()),
                ("end", end.into()),
            ],
            false,
        );
    }

    fn summary(&self) {
        let c = &self.counts;
        let v: Vec<u64> = [
            &c.senders,
            &c.up,
            &c.up_bytes,
            &c.down,
            &c.down_bytes,
            &c.full,
            &c.oversize,
            &c.errors,
            &c.evicted,
        ]
        .iter()
        .map(|a| a.load(Relaxed))
        .collect();
        self.log.line(
            format!(
                "relay done: {} sender{}, {} datagrams up ({} bytes), {} down ({} bytes), \
                 {} dropped (receiver full), {} too large, {} errors{}",
                v[0],
                if v[0] == 1 { "" } else { "s" },
                v[1],
                v[2],
                v[3],
                v[4],
                v[5],
                v[6],
                v[7],
                if v[8] > 0 {
                    format!(", {} senders' sockets given up for new ones", v[8])
                } else {
                    String::new()
                }
            ),
            vec![
                ("event", "summary".into()),
                ("senders", v[0].into()),
                ("datagrams_up", v[1].into()),
                ("bytes_up", v[2].into()),
                ("datagrams_down", v[3].into()),
                ("bytes_down", v[4].into()),
                ("dropped_full", v[5].into()),
                ("too_large", v[6].into()),
                ("errors", v[7].into()),
                ("evicted", v[8].into()),
            ],
            false,
        );
    }

    /// A socket toward TARGET: for a sender with an address, bound (so answers come back
    /// to it); for the unnamed ones, unbound.
    async fn open(&self, id: u64, peer: String, bound: bool) -> anyhow::Result<Arc<Upstream>> {
        let sock = match self.target_udp {
            Some(at) => {
                let any: SocketAddr = if at.is_ipv4() {
                    (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let s = UdpSocket::bind(any).await?;
                s.connect(at)
                    .await
                    .map_err(|e| anyhow::anyhow!("connecting to {}: {e}", shown(&self.target)))?;
                Sock::Udp(s)
            }
            None => {
                let d = if bound {
                    Dgram::autobind()?
                } else {
                    Dgram::unbound()?
                };
                d.connect(&self.target)?;
                d.grow_send_buffer();
                Sock::Unix(d)
            }
        };
        Ok(Arc::new(Upstream {
            id,
            peer,
            sock,
            up: AtomicU64::new(0),
            up_bytes: AtomicU64::new(0),
            down: AtomicU64::new(0),
            down_bytes: AtomicU64::new(0),
        }))
    }

    /// The sender's own socket toward TARGET, opened (with its reply task) on its first
    /// datagram; touched, so that it lives --reply-timeout from now.
    async fn upstream_for(
        self: &Arc<Self>,
        from: &Sender,
        who: &str,
        next_id: &mut u64,
        stop: &Shutdown,
    ) -> anyhow::Result<Arc<Upstream>> {
        {
            let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = t.get_mut(from) {
                e.last = Instant::now();
                return Ok(e.up.clone());
            }
        }
        *next_id += 1;
        let up = match self.open(*next_id, who.to_string(), true).await {
            // Out of descriptors (senders are cheap to make: a new source port each): the
            // sender quiet the longest gives its socket up for this one, so that a flood
            // of senders never locks new ones out until --reply-timeout.
            Err(e) if is_short(&e) && self.evict_quietest() => {
                // Its reply task, woken, drops the last hold on its socket.
                tokio::task::yield_now().await;
                self.open(*next_id, who.to_string(), true).await?
            }
            r => r?,
        };
        self.counts.senders.fetch_add(1, Relaxed);
        self.opened(&up, "its own socket toward TARGET");
        let evicted = CancellationToken::new();
        self.table.lock().unwrap_or_else(|p| p.into_inner()).insert(
            from.clone(),
            Entry {
                up: up.clone(),
                last: Instant::now(),
                evicted: evicted.clone(),
            },
        );
        let (plan, from, task_up) = (self.clone(), from.clone(), up.clone());
        stop.tracker
            .spawn(async move { plan.replies(from, task_up, evicted).await });
        Ok(up)
    }

    /// Ends the sender quiet the longest (its socket closed once its reply task has seen
    /// it, at once): whether there was one.
    fn evict_quietest(&self) -> bool {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let Some(oldest) = t.iter().min_by_key(|(_, e)| e.last).map(|(k, _)| k.clone()) else {
            return false;
        };
        let Some(e) = t.remove(&oldest) else {
            return false;
        };
        drop(t);
        self.counts.evicted.fetch_add(1, Relaxed);
        e.evicted.cancel();
        true
    }

    /// Sends a run of datagrams on, in order, as many per `sendmmsg` as TARGET takes; Err
    /// when the socket should be given up (the datagrams not sent yet are dropped with it;
    /// the next one from this sender opens a new socket).
    async fn forward(&self, up: &Upstream, msgs: &[&[u8]]) -> Result<(), ()> {
        let wait = self.on_full == OnFull::Wait;
        let mut rest = msgs;
        while !rest.is_empty() {
            let sent = tokio::select! {
                r = up.sock.send_batch(rest, wait) => r,
                // A wait for room ends with the relay.
                _ = self.stop.cancelled() => return Ok(()),
            };
            match sent {
                Ok(n) => {
                    let bytes: u64 = rest[..n].iter().map(|m| m.len() as u64).sum();
                    up.up.fetch_add(n as u64, Relaxed);
                    up.up_bytes.fetch_add(bytes, Relaxed);
                    self.counts.up.fetch_add(n as u64, Relaxed);
                    self.counts.up_bytes.fetch_add(bytes, Relaxed);
                    rest = &rest[n..];
                }
                Err(e) => {
                    // The first of `rest` was refused: counted, and the next ones tried.
                    self.failed_send(&up.peer, &shown(&self.target), rest[0].len(), &e);
                    match e.raw_os_error().map(Errno::from_raw_os_error) {
                        Some(Errno::AGAIN | Errno::MSGSIZE | Errno::NOBUFS) => rest = &rest[1..],
                        _ => return Err(()),
                    }
                }
            }
        }
        Ok(())
    }

    /// Counts and logs a datagram that could not be sent to `to`.
    fn failed_send(&self, peer: &str, to: &str, size: usize, e: &io::Error) {
        match e.raw_os_error().map(Errno::from_raw_os_error) {
            Some(Errno::AGAIN) => {
                self.counts.full.fetch_add(1, Relaxed);
                if !self.told_full.swap(true, Relaxed) {
                    self.warn(
                        format!(
                            "{to}'s queue is full: dropping datagrams (--on-full drop); the \
                             summary counts them"
                        ),
                        "dropping",
                    );
                }
            }
            Some(Errno::MSGSIZE | Errno::NOBUFS) => {
                self.counts.oversize.fetch_add(1, Relaxed);
                self.warn(
                    format!(
                        "{peer}: a datagram of {size} bytes is too large for {to} ({}); \
                         dropped, never split",
                        e.to_string().split(" (os error").next().unwrap_or_default()
                    ),
                    "oversize",
                );
            }
            _ => {
                self.counts.errors.fetch_add(1, Relaxed);
                self.warn(
                    format!("{peer}: sending to {to}: {e}; datagram dropped"),
                    "error",
                );
            }
        }
    }

    /// A sender's answers: what TARGET sends to its socket goes back to it from LISTEN,
    /// until --reply-timeout passes without a datagram either way.
    async fn replies(self: Arc<Self>, from: Sender, up: Arc<Upstream>, evicted: CancellationToken) {
        let mut buf = vec![0u8; up.sock.buffer()];
        let patience = match self.on_full {
            OnFull::Wait => self.reply_timeout,
            OnFull::Drop => Duration::ZERO,
        };
        loop {
            let deadline = {
                let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
                match t.get(&from) {
                    Some(e) if e.up.id == up.id => e.last + self.reply_timeout,
                    _ => return,
                }
            };
            let got = tokio::select! {
                g = up.sock.recv(&mut buf) => g,
                _ = tokio::time::sleep_until(deadline) => {
                    let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
                    let idle = t
                        .get(&from)
                        .is_some_and(|e| e.up.id == up.id && e.last + self.reply_timeout <= Instant::now());
                    if idle {
                        t.remove(&from);
                        drop(t);
                        let idle = format!("no datagram for {}", duration::show(self.reply_timeout));
                        self.closed(&up, &idle);
                        return;
                    }
                    continue;
                }
                _ = self.stop.cancelled() => return,
                _ = evicted.cancelled() => {
                    self.closed(&up, "given up for a new sender (out of descriptors)");
                    return;
                }
            };
            let got = match got {
                Ok(g) => g,
                Err(e) => {
                    // ECONNREFUSED on UDP: an earlier datagram found no one at TARGET.
                    self.counts.errors.fetch_add(1, Relaxed);
                    self.warn(
                        format!(
                            "{}: receiving answers from {}: {e}",
                            up.peer,
                            shown(&self.target)
                        ),
                        "error",
                    );
                    if e.raw_os_error() == Some(Errno::CONNREFUSED.raw_os_error()) {
                        continue;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            if let Some(e) = self
                .table
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_mut(&from)
            {
                e.last = Instant::now();
            }
            if got.truncated {
                self.counts.oversize.fetch_add(1, Relaxed);
                self.warn(
                    format!(
                        "{}: an answer of {} bytes from {} is larger than the {} bytes udskit \
                         receives; dropped, never truncated",
                        up.peer,
                        got.size,
                        shown(&self.target),
                        buf.len()
                    ),
                    "oversize",
                );
                continue;
            }
            let data = &buf[..got.size];
            let sent = tokio::select! {
                r = self.listen.send_to(data, &from, patience) => r,
                _ = self.stop.cancelled() => return,
            };
            match sent {
                Ok(()) => {
                    up.down.fetch_add(1, Relaxed);
                    up.down_bytes.fetch_add(data.len() as u64, Relaxed);
                    self.counts.down.fetch_add(1, Relaxed);
                    self.counts.down_bytes.fetch_add(data.len() as u64, Relaxed);
                }
                Err(e) => self.failed_send(&up.peer, &up.peer, data.len(), &e),
            }
        }
    }
}
