//! `udskit connect ADDR`: stdin/stdout bridged to a stream socket, binary-safe, with
//! half-close, `--wait` for scripts that race a server's start, and the ways it ends once
//! stdin has: `-q/--quit-after`, `-w/--idle-timeout` and the default for a server that
//! answers and keeps the connection open.

use std::time::Duration;

mod habits;
mod quit;
mod tls;

pub use habits::nc_hint;
pub use quit::{misplaced_hint, read_args};

use crate::duration;
use crate::error::{FAILURE, Fail};
use crate::io::bridge;
use crate::io::capture;
use crate::io::ending::{AfterStdin, Ending, Ends};
use crate::io::pcap::{self, Sender};
use crate::io::tapped::Tapped;
use crate::net::addr::Addr;
use crate::net::connect;
use crate::net::fds::{self, Outgoing};
use crate::net::kind::Kind;
use crate::net::tls::Endpoint;
use crate::shutdown::Shutdown;
use crate::term::{Ctx, escape};

/// How long a server that has answered may stay quiet, after stdin's end, before the
/// connection is closed by default. Long enough for the gaps inside one answer of a local
/// server (a response written in pieces, a chunked body), short enough that a script
/// against a keep-alive server does not notice; the wait for the first byte is not
/// bounded at all, so a server that computes for minutes is never cut before answering.
pub const QUIET_AFTER_ANSWER: Duration = Duration::from_secs(1);

/// Bridge stdin/stdout to a socket (like nc -U)
///
/// Everything read from stdin goes to the socket and everything the socket sends goes to
/// stdout, byte for byte. At the end of stdin our write side is shut down and the answer is
/// still read until the server closes (or see below), so one-shot requests work. A failure
/// names the real cause: no such file, refused (a stale socket), permission denied (with
/// the file's mode and owner), not a socket, or the wrong socket type. --wait retries while
/// the socket is missing or refusing; it and --connect-timeout bound every attempt, so a
/// TCP connect to a host that drops packets ends too.
///
/// After stdin's end, by default: the answer is waited for as long as it takes (a slow
/// server is never cut before its first byte), and once the server has answered, a server
/// that keeps the connection open (HTTP keep-alive) is left after 1s without data, with
/// everything it sent on stdout. Waiting for the close alone (OpenBSD nc) hangs a script
/// on a keep-alive server; a fixed wait after stdin's end (socat's 0.5s) cuts a server that
/// computes longer than that. -q 0 leaves at stdin's end, -q never waits for the server
/// to close (a stream that pauses longer than 1s), -w ends any silence.
///
/// -q is --quit-after when a DURATION (or `never`) follows it, and the global --quiet
/// otherwise: `udskit connect -q 1 S` quits after 1s, `udskit connect -q S` and
/// `udskit -q connect S` are quiet.
///
/// A server that resets the connection, or closes it before taking all of stdin, is an
/// error (exit 1) naming what happened and the bytes each way; what it sent is on stdout.
///
/// --send-fd N and --send-file PATH pass descriptors (SCM_RIGHTS, at most 253): ours
/// (`3<FILE` in the shell) or PATH opened read-only. They go with the first bytes read
/// from stdin; if stdin is empty, alone with one NUL byte (a stream cannot carry
/// descriptors without a byte).
///
/// Example:
///   printf 'GET /version HTTP/1.1\r\nHost: docker\r\n\r\n' | udskit connect /var/run/docker.sock
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The socket: PATH, @NAME, unix:///PATH, tcp:HOST:PORT or tls:HOST:PORT
    #[arg(value_name = "ADDR")]
    pub addr: Endpoint,
    /// Use a SOCK_SEQPACKET socket (each stdin read is sent as one record)
    #[arg(long)]
    pub seqpacket: bool,
    /// After stdin's end, quit within DURATION even if the server still sends (nc -q,
    /// socat -t); `never`: wait for the server to close [default: 1s of quiet once it answered]
    #[arg(short = 'q', long, visible_alias = "quit", value_name = "DURATION", value_parser = quit::parse_quit_after)]
    pub quit_after: Option<AfterStdin>,
    /// Close the connection after DURATION without data either way; also bounds the connect
    /// (nc -w); 0: no limit
    #[arg(short = 'w', long, value_name = "DURATION", value_parser = duration::parse)]
    pub idle_timeout: Option<Duration>,
    /// Print no diagnostics on stderr, only errors and warnings (also `udskit -q connect`)
    #[arg(long)]
    pub quiet: bool,
    /// Pass our open descriptor N to the server with the first bytes of stdin (SCM_RIGHTS;
    /// repeatable; unix sockets)
    #[arg(long, value_name = "N", value_parser = fds::inherited)]
    pub send_fd: Vec<fds::Inherited>,
    /// Open PATH read-only and pass it with the first bytes of stdin (repeatable)
    #[arg(long, value_name = "PATH")]
    pub send_file: Vec<std::path::PathBuf>,
    /// Capture the connection into FILE (pcapng) as a TCP flow that Wireshark and tshark
    /// decode (a tls: connection's plaintext); bytes then move through user space
    /// (descriptors passed are not captured)
    #[arg(long, value_name = "FILE", value_parser = pcap_file)]
    pub pcap: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub connect: connect::ConnectOpts,
    #[command(flatten)]
    pub tls: crate::net::tls::ClientOpts,
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let stop = Shutdown::install()?;
    let kind = Kind::stream_or_seqpacket(args.seqpacket);
    if args.addr.addr().is_udp() {
        return Err(Fail::usage(format!(
            "{}: a UDP address carries datagrams, not a stream (relay takes it)",
            args.addr
        ))
        .into());
    }
    if (args.tls.cacert.is_some() || args.tls.insecure) && !args.addr.is_tls() {
        return Err(Fail::usage("--cacert and --insecure are for a tls: address").into());
    }
    let idle = duration::limit(args.idle_timeout);
    if args.addr.is_tls() && (args.quit_after.is_some() || idle.is_some()) {
        return Err(Fail::usage(
            "-q/--quit-after and -w/--idle-timeout do not apply to a tls: address: it is read \
             until the server closes",
        )
        .into());
    }
    if args.seqpacket && !args.addr.addr().is_unix() {
        return Err(Fail::usage(format!("{}: --seqpacket needs a unix address", args.addr)).into());
    }
    let passing = Outgoing::new(&args.send_fd, &args.send_file, "--send-fd")?;
    if !passing.is_empty() && !args.addr.addr().is_unix() {
        return Err(Fail::usage(format!(
            "{}: descriptors pass only over unix sockets (PATH, @NAME or unix:///PATH)",
            escape(&args.addr.to_string())
        ))
        .into());
    }
    let mut opts = args.connect;
    // nc's -w bounds the connect too, unless --connect-timeout says otherwise.
    if opts.connect_timeout.is_none() && idle.is_some() {
        opts.connect_timeout = idle;
        opts.connect_timeout_from = Some("--idle-timeout");
    }
    let conn = tokio::select! {
        c = connect::connect(args.addr.addr(), kind, opts) => c.map_err(Fail::from)?,
        _ = stop.stopped() => return Ok(()),
    };
    let addr = escape(&args.addr.to_string()).into_owned();
    match conn.peer_cred() {
        Some(c) => ctx.debug(format!("connected to {addr} ({c})")),
        None => ctx.debug(format!("connected to {addr}")),
    }
    let ends = Ends {
        after_stdin: args
            .quit_after
            .unwrap_or(AfterStdin::Answered(QUIET_AFTER_ANSWER)),
        idle,
    };
    let pcap = args
        .pcap
        .as_deref()
        .map(|p| capture::open(p, ctx))
        .transpose()?;
    let (out, done) = crate::io::stdio::Writer::spawn();
    let flow = pcap.as_ref().map(|pcap| {
        let comment = format!(
            "udskit connect (pid {}) to {addr}{}",
            std::process::id(),
            conn.peer_cred()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default()
        );
        let port = match args.addr.addr() {
            Addr::Tcp { port, .. } => *port,
            _ => 80,
        };
        pcap.flow(
            1,
            pcap::Endpoint::client(1),
            pcap::Endpoint::server(port),
            &comment,
        )
    });
    if let Some(host) = args.addr.host() {
        let bound = opts.timeout().unwrap_or(tls::HANDSHAKE);
        let t = tls::bridge(conn, host, &args.tls, bound, &out, &stop, flow.as_ref()).await;
        drop(out);
        done.finish(&stop)
            .await
            .map_err(|e| anyhow::Error::from(e).context("writing stdout"))?;
        let (up, down) = t.map_err(|e| e.context(format!("talking to {addr}")))?;
        ctx.debug(format!("closed: {up} bytes sent, {down} received"));
        return Ok(());
    }
    // --send-fd: stdin's first chunk goes with the descriptors, before the bridge.
    let mut first_len = 0u64;
    let started = if passing.is_empty() {
        None
    } else {
        let mut stdin = crate::io::stdio::stdin();
        let Some(first) = pass_first(&conn, &mut stdin, passing, &stop, ctx, &addr).await? else {
            return Ok(());
        };
        if let Some(flow) = &flow {
            flow.data(Sender::Client, &first);
        }
        first_len = first.len() as u64;
        Some(stdin)
    };
    let t = match (&flow, started) {
        (None, None) => bridge::bridge_stdio(conn, &out, ends, &stop).await,
        (None, Some(mut stdin)) => {
            bridge::bridge_stdin_chunks(conn, &mut stdin, &out, ends, &stop).await
        }
        (Some(flow), started) => {
            let mut stdin = started.unwrap_or_else(crate::io::stdio::stdin);
            let conn = Tapped::new(conn, flow, Sender::Client);
            let t = bridge::bridge_stdin_chunks(conn, &mut stdin, &out, ends, &stop).await;
            flow.close(Sender::Client);
            t
        }
    }
    .map(|mut t| {
        t.up += first_len;
        t
    });
    drop(out);
    done.finish(&stop)
        .await
        .map_err(|e| anyhow::Error::from(e).context("writing stdout"))?;
    let t = t.map_err(|e| anyhow::Error::from(e).context(format!("talking to {addr}")))?;
    let words = t.ending.words("the server", t.up, t.down);
    match (t.ending, words) {
        (end, Some(w)) if end.is_failure() => {
            let fail = Fail::new(FAILURE, w);
            let fail = match end {
                Ending::Reset => fail.hint(crate::net::explain::RESET_HINT),
                _ => fail,
            };
            return Err(anyhow::Error::from(fail).context(format!("talking to {addr}")));
        }
        (Ending::QuitAfter(_), Some(w)) => ctx.debug(w),
        (_, Some(w)) => ctx.info(w),
        (_, None) => {}
    }
    ctx.debug(format!("closed: {} bytes sent, {} received", t.up, t.down));
    Ok(())
}

/// `--send-fd`: reads stdin's first chunk (one NUL byte if stdin is empty) and sends it
/// with the descriptors, which are closed here once the kernel holds them for the server;
/// returns that chunk, or None on a stop signal.
async fn pass_first(
    conn: &crate::net::stream::Stream,
    stdin: &mut tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
    passing: Outgoing,
    stop: &Shutdown,
    ctx: &Ctx,
    addr: &str,
) -> anyhow::Result<Option<bytes::Bytes>> {
    let first = tokio::select! {
        c = stdin.recv() => c,
        _ = stop.stopped() => return Ok(None),
    };
    let first = match first {
        Some(Ok(b)) => b,
        Some(Err(e)) => return Err(anyhow::Error::from(e).context("reading stdin")),
        None => bytes::Bytes::from_static(b"\0"),
    };
    let fds = passing.borrowed();
    // A server that does not read holds this send: a stop signal ends it, as it ends the
    // plain copy.
    tokio::select! {
        sent = fds::send_on_stream(conn, &first, &fds) => sent.map_err(|e| {
            anyhow::Error::from(e).context(format!("passing descriptors to {addr}"))
        })?,
        _ = stop.stopped() => return Ok(None),
    }
    ctx.debug(format!(
        "{} descriptor{} passed with the first {} byte{}",
        fds.len(),
        if fds.len() == 1 { "" } else { "s" },
        first.len(),
        if first.len() == 1 { "" } else { "s" }
    ));
    drop(fds);
    // Ours are closed now that the kernel holds them for the server.
    drop(passing);
    Ok(Some(first))
}

/// `--pcap FILE`: not `-`, stdout being the connection's bytes.
fn pcap_file(s: &str) -> Result<std::path::PathBuf, String> {
    if s == "-" {
        return Err("stdout carries the connection's bytes: give a file".into());
    }
    Ok(s.into())
}
