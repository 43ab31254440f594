//! `udskit listen ADDR`: a stream server. One client bridged to stdin/stdout (nc -lU), or
//! with `-k`, `--echo` or `--exec` many clients at once, each logged with its credentials.

use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::error::{FAILURE, Fail};
use crate::io::bridge;
use crate::io::capture;
use crate::io::ending::{Ending, Ends};
use crate::io::pcap::{Endpoint, Flow, Pcap, Sender};
use crate::io::stdio::Writer;
use crate::io::tapped::Tapped;
use crate::net::activate::{self, InheritOpts, Need};
use crate::net::addr::Addr;
use crate::net::bind::{self, BindOpts};
use crate::net::cred::Peer;
use crate::net::fds;
use crate::net::kind::Kind;
use crate::net::stream::{Stream, close_gently};
use crate::shutdown::Shutdown;
use crate::term::{Ctx, escape};

/// Stream server: accept clients and bridge, collect, echo or exec them
///
/// Without a mode option, one client is bridged to stdin/stdout (like nc -lU) and listen
/// exits when it is done; it stops listening once that client is accepted (the file goes
/// then), so a second client is refused instead of queued and reset. -k serves clients
/// concurrently and writes each one's bytes to stdout (never interleaved mid-chunk);
/// --echo sends every client its bytes back; --exec runs a command per client with the
/// connection as its stdin/stdout. --echo and --exec keep listening anyway, so -k beside
/// them (nc's habit) changes nothing. Every accepted client is logged on stderr with its
/// pid, uid, gid and command. A connection is closed without a reset: our side is shut
/// down and what the client still sends is drained (1s, 1 MiB at most), also after a
/// --exec command that never read it.
///
/// An existing socket file at the path is replaced only if nothing listens on it; a live
/// one is refused (naming its owner) unless --force, and anything that is not a socket is
/// never touched. The file is removed on exit, SIGINT and SIGTERM.
///
/// Socket activation: a socket systemd passes (LISTEN_FDS) or --listen-fd N hands over is
/// served instead of binding ADDR, which may then be left out (if given, it must be that
/// socket's address); its file is never removed. READY=1 goes to NOTIFY_SOCKET once
/// listening, for a socket bound here too.
///
/// --take-fds waits for each client's first bytes before serving it (before stdin is sent
/// to it, before CMD starts) and takes copies of the descriptors passed with them, leaving
/// the bytes to be read as usual: each is logged (`client #1: fd: 7 regular file
/// /etc/hostname`), and --exec gives them to CMD as fds 3, 4, ... with UDSKIT_FDS set to
/// their count (0 when none came). Descriptors passed later in the stream are not taken:
/// the kernel closes them when their bytes are read.
///
/// Example:
///   udskit listen --echo --mode 600 /tmp/echo.sock
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
#[group(id = "concurrent", multiple = true, args = ["keep_open", "echo", "exec"])]
pub struct Args {
    /// Where to listen: PATH, @NAME, unix:PATH or tcp:[HOST:]PORT (left out, the socket
    /// systemd or --listen-fd hands over)
    #[arg(value_name = "ADDR")]
    pub addr: Option<Addr>,
    /// Use a SOCK_SEQPACKET socket
    #[arg(long)]
    pub seqpacket: bool,
    /// Serve clients concurrently, each one's bytes to stdout (socat unix-listen:P,fork STDOUT)
    #[arg(short = 'k', long, alias = "fork")]
    pub keep_open: bool,
    /// Echo server: every client gets its bytes back
    #[arg(long, conflicts_with = "exec")]
    pub echo: bool,
    /// Run CMD (with sh -c) per client, the connection as its stdin/stdout and
    /// UDSKIT_PEER_PID, UDSKIT_PEER_UID, UDSKIT_PEER_GID (or UDSKIT_PEER_ADDR) in its env
    #[arg(long, value_name = "CMD")]
    pub exec: Option<String>,
    /// Serve at most N clients at a time; more wait in the accept queue
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), requires = "concurrent")]
    pub max_clients: Option<u32>,
    /// Exit after N clients have been served (with -k, --echo or --exec)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), requires = "concurrent")]
    pub count: Option<u64>,
    /// Take the descriptors each client passes with its first bytes (SCM_RIGHTS): log them,
    /// and with --exec hand them to CMD as fds 3.. (UDSKIT_FDS=count); waits for those bytes
    /// first (unix sockets)
    #[arg(long)]
    pub take_fds: bool,
    /// Capture every client into FILE (pcapng; - for stdout with --echo) as a TCP flow
    /// that Wireshark and tshark decode; bytes then move through user space (descriptors
    /// taken by --take-fds are logged, not captured)
    #[arg(long, value_name = "FILE", conflicts_with = "exec")]
    pub pcap: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub bind: BindOpts,
    #[command(flatten)]
    pub inherit: InheritOpts,
}

/// What each accepted client gets.
#[derive(Clone)]
enum Mode {
    Bridge,
    Collect(Writer),
    Echo,
    Exec(Arc<str>),
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let concurrent = args.keep_open || args.echo || args.exec.is_some();
    let kind = Kind::stream_or_seqpacket(args.seqpacket);
    let source = activate::source(
        args.addr.as_ref(),
        &args.inherit,
        &args.bind,
        Need::Stream(kind),
    )?;
    if args.take_fds && !source.addr().is_unix() {
        return Err(Fail::usage(format!(
            "{}: --take-fds needs a unix address (descriptors pass only over unix sockets)",
            escape(&source.addr().to_string())
        ))
        .into());
    }
    if !args.echo && args.pcap.as_ref().is_some_and(|p| p.as_os_str() == "-") {
        return Err(Fail::usage(
            "--pcap - writes the capture to stdout, which carries the clients' bytes",
        )
        .hint("give --pcap a file, or use it with --echo")
        .into());
    }
    let pcap = args
        .pcap
        .as_deref()
        .map(|p| capture::open(p, ctx))
        .transpose()?
        .map(Arc::new);
    let stop = Shutdown::install()?;
    let origin = source.origin();
    let server = activate::listen(source, kind, &args.bind, ctx).await?;
    let reach = bind::reach(&server.local).map(|r| format!("; {r}"));
    let listening = format!(
        "listening on {} ({}{}{})",
        escape(&server.local.to_string()),
        kind.name(),
        reach.unwrap_or_default(),
        origin.unwrap_or_default()
    );
    ctx.info(&listening);
    activate::ready(&listening, ctx);

    // Only the modes that write clients' bytes to stdout (bridge, -k alone) open it.
    let (stdout, stdout_done) = if args.exec.is_none() && !args.echo {
        Some(Writer::spawn())
    } else {
        None
    }
    .unzip();
    let mode = match (&args.exec, args.echo, &stdout) {
        (Some(cmd), _, _) => Mode::Exec(cmd.as_str().into()),
        (None, true, _) => Mode::Echo,
        (None, false, Some(out)) if args.keep_open => Mode::Collect(out.clone()),
        _ => Mode::Bridge,
    };
    let result = if concurrent {
        serve_many(server, mode, &args, pcap, ctx, &stop).await
    } else {
        serve_one(
            server,
            stdout.as_ref().expect("bridge mode has stdout"),
            args.take_fds,
            pcap.as_deref(),
            ctx,
            &stop,
        )
        .await
    };
    drop(stdout);
    if let Some(done) = stdout_done {
        done.finish(&stop).await.context("writing stdout")?;
    }
    result
}

/// One client bridged to stdin/stdout. The server stops listening (and its socket file
/// goes) as soon as that client is accepted, as a one-shot server: a second client is
/// refused at its connect, instead of waiting in the accept queue for a server that will
/// never serve it and being reset, its bytes lost, when listen exits.
async fn serve_one(
    server: bind::Server,
    out: &Writer,
    take_fds: bool,
    pcap: Option<&Pcap>,
    ctx: &Ctx,
    stop: &Shutdown,
) -> anyhow::Result<()> {
    let Some((conn, peer)) = server.listener.accept_or_stop(ctx, stop).await else {
        return Ok(());
    };
    // A client that raced into the queue with this one is reset by this close: the
    // kernel's only answer to a connection that is never accepted.
    let local = server.local.clone();
    drop(server);
    ctx.info(format_args!("client #1 connected: {peer}"));
    let started = Instant::now();
    if take_fds {
        tokio::select! {
            p = take(&conn, 1, ctx) => drop(p?),
            _ = stop.stopped() => return Ok(()),
        }
    }
    // Held past the bridge, so that the socket is closed gently (see `close_gently`).
    let keep = conn.as_fd().try_clone_to_owned()?;
    let flow = pcap.map(|p| flow_of(p, 1, &peer, &local));
    let t = match &flow {
        Some(flow) => {
            let conn = Tapped::new(conn, flow, Sender::Server);
            bridge::bridge_stdio_through(conn, out, Ends::default(), stop).await
        }
        None => bridge::bridge_stdio(conn, out, Ends::default(), stop).await,
    }
    .context("client #1")?;
    if !stop.is_stopping() {
        close_gently(keep).await;
    }
    if let Some(flow) = flow {
        flow.close(Sender::Server);
    }
    if let Some(words) = t.ending.words("client #1", t.up, t.down) {
        return Err(Fail::new(FAILURE, words).into());
    }
    ctx.info(format!(
        "client #1 closed: {} bytes received, {} sent, {:.3}s",
        t.down,
        t.up,
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Many clients at once. Once no more will be accepted (--count reached, a stop signal,
/// stdout gone with -k), the server stops listening at once, as in `serve_one`: later
/// clients are refused rather than queued and reset, while those accepted finish.
async fn serve_many(
    server: bind::Server,
    mode: Mode,
    args: &Args,
    pcap: Option<Arc<Pcap>>,
    ctx: &Ctx,
    stop: &Shutdown,
) -> anyhow::Result<()> {
    let local = Arc::new(server.local.clone());
    let slots = Arc::new(Semaphore::new(
        args.max_clients
            .map_or(Semaphore::MAX_PERMITS, |n| n as usize),
    ));
    let served = Arc::new(AtomicU64::new(0));
    let mut accepted = 0u64;
    // With -k, a reader of stdout that went away ends the server (exit 0): also while it
    // waits for the next client, and for clients that are connected but silent.
    let gone = CancellationToken::new();
    let watch = match &mode {
        Mode::Collect(out) => {
            let (out, gone) = (out.clone(), gone.clone());
            Some(tokio::spawn(async move {
                out.closed().await;
                gone.cancel();
            }))
        }
        _ => None,
    };
    // Its Writer handle must go before stdout can be drained and closed.
    let _abort_watch = AbortOnDrop(watch);
    let mut server = Some(server);
    while let Some(listening) = server.as_ref() {
        // With --max-clients, wait for a free slot before accepting: extra clients stay in
        // the kernel's accept queue instead of being reset.
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => p?,
            _ = stop.stopped() => break,
            _ = gone.cancelled() => break,
        };
        let accepted_one = tokio::select! {
            c = listening.listener.accept_or_stop(ctx, stop) => c,
            _ = gone.cancelled() => None,
        };
        let Some((conn, peer)) = accepted_one else {
            break;
        };
        accepted += 1;
        let id = accepted;
        if args.count.is_some_and(|n| accepted >= n) {
            // The last one: no client may queue behind it.
            server = None;
        }
        ctx.info(format_args!("client #{id} connected: {peer}"));
        let (mode, ctx, stop2, served) = (mode.clone(), ctx.clone(), stop.clone(), served.clone());
        let gone = gone.clone();
        let take_fds = args.take_fds;
        let (pcap, local) = (pcap.clone(), local.clone());
        stop.tracker.spawn(async move {
            let started = Instant::now();
            let passed = if take_fds {
                tokio::select! {
                    p = take(&conn, id, &ctx) => match p {
                        Ok(p) => Some(p),
                        Err(e) => {
                            ctx.warn(format!("client #{id}: {}", crate::error::chain_text(&e)));
                            drop(permit);
                            return;
                        }
                    },
                    _ = stop2.stopped() => return,
                }
            } else {
                None
            };
            let flow = pcap.as_deref().map(|p| flow_of(p, id, &peer, &local));
            let outcome =
                serve_client(conn, &peer, mode, passed, flow.as_ref(), &stop2, &gone).await;
            if let Some(flow) = flow {
                flow.close(Sender::Server);
            }
            match outcome {
                Ok(summary) => ctx.info(format!(
                    "client #{id} closed: {summary}, {:.3}s",
                    started.elapsed().as_secs_f64()
                )),
                Err(e) => ctx.warn(format!("client #{id}: {}", crate::error::chain_text(&e))),
            }
            served.fetch_add(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    drop(server.take());
    stop.tracker.close();
    // On a signal, clients get a moment to finish; then we exit and the kernel closes them.
    let grace = if stop.is_stopping() {
        Duration::from_secs(2)
    } else {
        Duration::MAX
    };
    let _ = tokio::time::timeout(grace, stop.tracker.wait()).await;
    ctx.debug(format!("{} clients served", served.load(Ordering::Relaxed)));
    Ok(())
}

/// Waits for client #`id`'s first bytes and takes the descriptors passed with them (see
/// --take-fds), each logged; a cut control message is a warning.
async fn take(conn: &Stream, id: u64, ctx: &Ctx) -> anyhow::Result<Vec<OwnedFd>> {
    let passed = fds::peek_first(conn)
        .await
        .with_context(|| format!("client #{id}: waiting for its first bytes (--take-fds)"))?;
    let Some(passed) = passed else {
        return Ok(Vec::new());
    };
    for f in &passed.fds {
        ctx.info(format!("client #{id}: {}", fds::describe(f.as_fd())));
    }
    if passed.cut {
        ctx.warn(passed.cut_message(&format!("client #{id}")));
    }
    Ok(passed.fds)
}

/// A client's failure in words: a reset or a broken pipe is told as what the client did.
fn told(e: std::io::Error) -> anyhow::Error {
    match Ending::of_peer(&e) {
        Some(Ending::Reset) => anyhow::anyhow!("reset the connection"),
        Some(_) => anyhow::anyhow!("closed the connection before taking all of its echo"),
        None => e.into(),
    }
}

/// Aborts the task when dropped (when serve_many returns, however it returns).
struct AbortOnDrop(Option<tokio::task::JoinHandle<()>>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(t) = &self.0 {
            t.abort();
        }
    }
}

/// Client `id`'s flow in the capture: the client is the flow's client, we its server.
fn flow_of<'a>(pcap: &'a Pcap, id: u64, peer: &Peer, local: &Addr) -> Flow<'a> {
    let port = match local {
        Addr::Tcp { port, .. } => *port,
        _ => 80,
    };
    let comment = format!(
        "udskit listen (pid {}) on {local}: client #{id} {peer}",
        std::process::id()
    );
    pcap.flow(id, Endpoint::client(id), Endpoint::server(port), &comment)
}

async fn serve_client(
    conn: Stream,
    peer: &Peer,
    mode: Mode,
    passed: Option<Vec<OwnedFd>>,
    flow: Option<&Flow<'_>>,
    stop: &Shutdown,
    stdout_gone: &CancellationToken,
) -> anyhow::Result<String> {
    let Some(flow) = flow else {
        return serve_plain(conn, peer, mode, passed, stop, stdout_gone).await;
    };
    // Only --exec hands descriptors on, and it takes no --pcap: these were logged, and
    // close here.
    drop(passed);
    let mut tapped = Tapped::new(conn, flow, Sender::Server);
    match mode {
        Mode::Collect(out) => {
            let n = tokio::select! {
                n = bridge::to_stdout(&mut tapped, &out) => n.map_err(told)?,
                _ = stop.stopped() => return Ok("stopped".into()),
                _ = stdout_gone.cancelled() => {
                    close_gently(tapped.into_inner().into_fd()?).await;
                    return Ok("stdout closed".into());
                }
            };
            Ok(format!("{n} bytes received"))
        }
        Mode::Echo => {
            let n = tokio::select! {
                n = crate::io::tapped::echo(&mut tapped) => n.map_err(told)?,
                _ = stop.stopped() => return Ok("stopped".into()),
            };
            Ok(format!("{n} bytes echoed"))
        }
        Mode::Exec(_) => unreachable!("--pcap conflicts with --exec"),
        Mode::Bridge => unreachable!("bridge mode serves one client"),
    }
}

async fn serve_plain(
    mut conn: Stream,
    peer: &Peer,
    mode: Mode,
    passed: Option<Vec<OwnedFd>>,
    stop: &Shutdown,
    stdout_gone: &CancellationToken,
) -> anyhow::Result<String> {
    match mode {
        Mode::Collect(out) => {
            let n = tokio::select! {
                n = bridge::to_stdout(&mut conn, &out) => n.map_err(told)?,
                _ = stop.stopped() => return Ok("stopped".into()),
                _ = stdout_gone.cancelled() => {
                    // Ours to end: the client is not reset for it.
                    close_gently(conn.into_fd()?).await;
                    return Ok("stdout closed".into());
                }
            };
            Ok(format!("{n} bytes received"))
        }
        Mode::Echo => {
            let n = tokio::select! {
                n = bridge::echo(&mut conn) => n.map_err(told)?,
                _ = stop.stopped() => return Ok("stopped".into()),
            };
            Ok(format!("{n} bytes echoed"))
        }
        Mode::Exec(cmd) => exec(conn, peer, &cmd, passed, stop).await,
        Mode::Bridge => unreachable!("bridge mode serves one client"),
    }
}

/// Runs `sh -c CMD` with the connection as its stdin and stdout (a blocking dup of it:
/// programs such as cat do not expect O_NONBLOCK) and the peer's identity in its env.
async fn exec(
    conn: Stream,
    peer: &Peer,
    cmd: &str,
    passed: Option<Vec<OwnedFd>>,
    stop: &Shutdown,
) -> anyhow::Result<String> {
    let fd: OwnedFd = conn.into_fd()?;
    rustix::io::ioctl_fionbio(&fd, false)?;
    // Our copy outlives the command: a command that exits without reading what the client
    // sent (`echo hi`) would otherwise close the connection with those bytes unread, and
    // the kernel would reset it, the client's complete answer turned into a failure. So
    // the client reads EOF when the command has exited (not when it closes its stdout).
    let keep = fd.try_clone()?;
    let mut command = tokio::process::Command::new("/bin/sh");
    command
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::from(fd.try_clone()?))
        .stdout(Stdio::from(fd));
    if let Some(c) = peer.cred {
        command
            .env("UDSKIT_PEER_PID", c.pid.to_string())
            .env("UDSKIT_PEER_UID", c.uid.to_string())
            .env("UDSKIT_PEER_GID", c.gid.to_string());
    }
    if let Some(a) = peer.addr {
        command.env("UDSKIT_PEER_ADDR", a.to_string());
    }
    // Kept until the command has started: the child gets its own copies at 3...
    let handed = match passed {
        Some(fds) => {
            command.env("UDSKIT_FDS", fds.len().to_string());
            let high = fds::hand_to_child(&mut command, fds)?;
            Some(high)
        }
        None => None,
    };
    let mut child = command
        .spawn()
        .with_context(|| format!("running {}", escape(cmd)))?;
    // The Command still holds copies of the connection: only `keep` stays.
    drop(command);
    drop(handed);
    let status = tokio::select! {
        s = child.wait() => s?,
        _ = stop.stopped() => {
            if let Some(pid) = child.id().and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            child.wait().await?
        }
    };
    if !stop.is_stopping() {
        close_gently(keep).await;
    }
    use std::os::unix::process::ExitStatusExt;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => format!("command exited with {code}"),
        (None, Some(sig)) => format!("command killed by signal {sig}"),
        _ => format!("command ended: {status}"),
    })
}
