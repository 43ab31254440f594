//! `udskit recvfrom ADDR`: a datagram server. Binds safely, prints every datagram as it
//! arrives (its exact bytes, JSON lines with sender and credentials, or a hex view), or
//! reflects each one to its sender with `--echo`.

use std::io::Write as _;
use std::os::fd::AsFd as _;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use bytes::Bytes;

use crate::error::Fail;
use crate::io::capture;
use crate::io::stdio::Writer;
use crate::net::activate::{self, InheritOpts, Need};
use crate::net::addr::Addr;
use crate::net::batch::RecvBatch;
use crate::net::bind::BindOpts;
use crate::net::busypoll::BusyPoll;
use crate::net::dgram::{self, Dgram, Received};
use crate::net::fds::{self, FdInfo};
use crate::shutdown::Shutdown;
use crate::term::hexdump::hexdump_row;
use crate::term::json::{base64, json_object, utc_timestamp};
use crate::term::{Ctx, escape, escape_bytes};

/// Receive datagrams on a unix socket and print them (a datagram server)
///
/// Binds a datagram socket at ADDR and writes each datagram to stdout as it arrives,
/// exactly its bytes; --newline adds a newline after each, --json prints one JSON object
/// per line (time, sender address or null, size, the sender's pid, uid and gid, and the data
/// as UTF-8 text or base64; a sender address that is not UTF-8 comes in base64 too),
/// --hexdump a hex view. --echo instead sends every datagram back
/// to its sender (when the sender is bound to an address). -v logs each datagram on stderr
/// with the sender's credentials.
///
/// Descriptors passed with a datagram (SCM_RIGHTS) are logged on stderr, one line each
/// (`datagram #1 from @x: fd: 5 regular file /etc/hostname`; a socket shows its family,
/// type and inode, a pipe its inode), listed under "fds" in --json (fd, kind, target,
/// inode, socket, size), then closed. Control data the kernel had to cut (MSG_CTRUNC, e.g.
/// at the open-file limit) is a warning, and "fds_cut": true in --json.
///
/// The receive buffer holds the largest datagram the kernel can carry, so a datagram is
/// never cut; should a larger one come, it is reported. An existing socket file at the path
/// is replaced only if nothing receives on it; it is removed on exit, SIGINT and SIGTERM.
///
/// A datagram socket systemd passes (ListenDatagram=) or --listen-fd N hands over is
/// served instead of binding ADDR, which may then be left out; its file is never removed.
/// READY=1 goes to NOTIFY_SOCKET once receiving.
///
/// Example:
///   udskit recvfrom --json --count 1 /tmp/log.sock
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// Where to receive: PATH, @NAME or unix:PATH (left out, the socket systemd or
    /// --listen-fd hands over)
    #[arg(value_name = "ADDR")]
    pub addr: Option<Addr>,
    /// Exit after N datagrams
    #[arg(short = 'n', long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Print a newline after each datagram
    #[arg(long, conflicts_with_all = ["json", "hexdump"])]
    pub newline: bool,
    /// One JSON object per datagram and line: time, sender, sender_encoding, size, pid, uid,
    /// gid, encoding, data (and fds when descriptors came with it)
    #[arg(long, conflicts_with = "hexdump")]
    pub json: bool,
    /// Print each datagram as a hex dump after a line naming its size and sender
    #[arg(long)]
    pub hexdump: bool,
    /// Send every datagram back to its sender (senders without an address get nothing)
    #[arg(long, conflicts_with_all = ["newline", "json", "hexdump"])]
    pub echo: bool,
    /// Capture every datagram (and --echo answer) into FILE as UDP packets (pcapng); with
    /// - the capture goes to stdout instead of the datagrams
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub bind: BindOpts,
    #[command(flatten)]
    pub inherit: InheritOpts,
}

/// Output is handed to the stdout thread in pieces of at least this much when datagrams
/// come faster than they are written: the same 256 KiB as stream I/O (io::CHUNK), and it
/// turns thousands of small datagrams into one write(2).
const FLUSH: usize = crate::io::CHUNK;

/// Bytes of each datagram shown in a `-v` log line.
const LOG_PREVIEW: usize = 64;

/// How long an echo waits for room in a sender's full queue before dropping the answer.
const ECHO_PATIENCE: Duration = Duration::from_secs(1);

/// Senders remembered as not reading their answers, at most (past it, forgotten at once).
const STALLED_MAX: usize = 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Raw {
        newline: bool,
    },
    Json,
    Hex,
    Echo,
    /// `--pcap -`: stdout is the capture, the datagrams go nowhere else.
    Captured,
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let source = activate::source(
        args.addr.as_ref(),
        &args.inherit,
        &args.bind,
        Need::UnixDatagram,
    )?;
    let local = source.addr().clone();
    if !local.is_unix() {
        return Err(Fail::usage(format!(
            "{}: datagrams need a unix address (PATH, @NAME or unix:PATH)",
            escape(&local.to_string())
        ))
        .into());
    }
    let format = match (args.json, args.hexdump, args.echo) {
        (true, _, _) => Action::Json,
        (_, true, _) => Action::Hex,
        (_, _, true) => Action::Echo,
        _ => Action::Raw {
            newline: args.newline,
        },
    };
    let to_stdout = args.pcap.as_ref().is_some_and(|p| p.as_os_str() == "-");
    let format = match format {
        Action::Raw { newline: false } if to_stdout => Action::Captured,
        Action::Echo => Action::Echo,
        _ if to_stdout => {
            return Err(Fail::usage(
                "--pcap - writes the capture to stdout, where --newline, --json and --hexdump print",
            )
            .hint("give --pcap a file")
            .into());
        }
        f => f,
    };
    let pcap = args
        .pcap
        .as_deref()
        .map(|p| capture::open(p, ctx))
        .transpose()?;
    let stop = Shutdown::install()?;
    let origin = source.origin();
    let sock = activate::dgram(source, &args.bind, ctx)?;
    let want_cred = format == Action::Json || ctx.verbose > 0 || pcap.is_some();
    if want_cred {
        sock.pass_credentials()
            .context("asking for the senders' credentials (SO_PASSCRED)")?;
    }
    let receiving = format!(
        "receiving on {} (datagram{})",
        escape(&local.to_string()),
        origin.unwrap_or_default()
    );
    ctx.info(&receiving);
    activate::ready(&receiving, ctx);
    let (out, done) = Writer::spawn();
    let capture = pcap.as_ref().map(|p| capture::Receiving::new(p, &local));
    let how = How {
        format,
        count: args.count,
        capture: capture.as_ref(),
    };
    // After each batch the thread polls for the next one instead of sleeping, while a CPU
    // is free: waking an idle CPU is dearer than receiving (docs/performance.md).
    let busy = BusyPoll::adaptive();
    let result = tokio::select! {
        r = receive(&sock, &how, &out, ctx, &stop, &busy) => r,
        () = busy.run() => unreachable!("the busy poll runs as long as the process"),
    };
    drop(out);
    drop(sock);
    let limit = if stop.is_stopping() {
        Duration::from_secs(1)
    } else {
        Duration::MAX
    };
    if let Ok(r) = tokio::time::timeout(limit, done.wait()).await {
        r.context("writing stdout")?;
    }
    let n = result?;
    ctx.debug(format!(
        "{n} datagram{} received",
        if n == 1 { "" } else { "s" }
    ));
    Ok(())
}

/// Receives until `count` datagrams came, a stop signal, or stdout closes. Each wake-up
/// drains the socket in `recvmmsg` batches until one comes back short (the queue is empty),
/// so a burst of datagrams costs a system call per batch and becomes one stdout write;
/// each batch keeps `busy` polling for the next.
/// A batch never takes more than `count` still allows: what is left queued is not lost to
/// a datagram nobody prints.
async fn receive(
    sock: &Dgram,
    how: &How<'_>,
    out: &Writer,
    ctx: &Ctx,
    stop: &Shutdown,
    busy: &BusyPoll,
) -> anyhow::Result<u64> {
    let (format, count) = (how.format, how.count);
    let mut batch = RecvBatch::new(dgram::RECV_BATCH, dgram::RECV_BUFFER, true);
    let mut pending: Vec<u8> = Vec::with_capacity(FLUSH * 2);
    let mut n = 0u64;
    let mut unanswerable_said = false;
    // Senders whose queue stayed full through ECHO_PATIENCE: their answers are tried once,
    // without waiting, until one goes through, so a sender that never reads costs the
    // others one wait, not one for each datagram it sends.
    let mut stalled: std::collections::HashSet<rustix::net::SocketAddrUnix> = Default::default();
    // Made once: a stdout whose reader left ends the wait for the next datagram, which
    // may never come (its 100 ms check of the pipe runs between datagrams, not per one).
    // Not under --echo, whose stdout holds no datagram (at most a capture, whose reader
    // going stops the capture alone).
    let gone = async {
        match format {
            Action::Echo => std::future::pending().await,
            _ => out.closed().await,
        }
    };
    tokio::pin!(gone);
    while count.is_none_or(|c| n < c) {
        let mut guard = tokio::select! {
            g = sock.readable() => g.context("waiting for datagrams")?,
            _ = stop.stopped() => break,
            _ = &mut gone => break,
        };
        loop {
            let want = count.map_or(dgram::RECV_BATCH, |c| {
                (c - n).min(dgram::RECV_BATCH as u64) as usize
            });
            if want == 0 {
                break;
            }
            let got = sock
                .try_recv_batch(&mut guard, &mut batch, want)
                .context("receiving a datagram")?;
            let mut grow_to = 0;
            for i in 0..got {
                n += 1;
                // Described, logged, then closed when `passed` drops at the end of this turn.
                let passed = batch.take_passed(i);
                let r = Received::of_batch(&batch, i, passed.cred);
                let from = r.from.as_ref().and_then(dgram::addr_of);
                let passed_info: Vec<FdInfo> = passed
                    .fds
                    .iter()
                    .map(|f| fds::describe(f.as_fd()))
                    .collect();
                for info in &passed_info {
                    ctx.info(format!("datagram #{n} from {}: {info}", sender_name(&from)));
                }
                if passed.cut {
                    ctx.warn(
                        passed.cut_message(&format!("datagram #{n} from {}", sender_name(&from))),
                    );
                }
                if r.truncated {
                    ctx.warn(format!(
                        "datagram #{n} from {} was {} bytes, more than the {}-byte receive buffer: only {} bytes arrived",
                        sender_name(&from),
                        r.size,
                        batch.slot_size(),
                        r.stored
                    ));
                    // The next one this large fits.
                    grow_to = grow_to.max(r.size);
                }
                let data = batch.data(i);
                if ctx.verbose > 0 {
                    let cred = r.cred.map(|c| format!(" ({c})")).unwrap_or_default();
                    let shown = &data[..r.stored.min(LOG_PREVIEW)];
                    let more = if r.stored > LOG_PREVIEW { "..." } else { "" };
                    ctx.debug(format!(
                        "datagram #{n}: {} bytes from {}{cred}: {}{more}",
                        r.size,
                        sender_name(&from),
                        escape_bytes(shown)
                    ));
                }
                if let Some(c) = how.capture {
                    c.received(n, &r, data, &passed_info);
                }
                match format {
                    Action::Raw { newline } => {
                        pending.extend_from_slice(data);
                        if newline {
                            pending.push(b'\n');
                        }
                    }
                    Action::Json => json_line(
                        &mut pending,
                        &r,
                        &from,
                        data,
                        (&passed_info, passed.cut),
                        ctx.color_stdout,
                    ),
                    Action::Hex => hex_view(&mut pending, n, &r, &from, data),
                    Action::Captured => {}
                    Action::Echo => match &r.from {
                        Some(to) => {
                            let was_stalled = stalled.contains(to);
                            let patience = if was_stalled {
                                Duration::ZERO
                            } else {
                                ECHO_PATIENCE
                            };
                            let sent = sock.send_to(data, to, patience).await;
                            match sent {
                                Ok(()) => {
                                    if let Some(c) = how.capture {
                                        c.echoed(n, &r, data);
                                    }
                                    if was_stalled {
                                        stalled.remove(to);
                                    }
                                }
                                Err(e)
                                    if rustix::io::Errno::from_io_error(&e)
                                        == Some(rustix::io::Errno::AGAIN) =>
                                {
                                    if was_stalled {
                                        ctx.debug(format_args!(
                                            "datagram #{n} not answered: {} still reads no answers",
                                            sender_name(&from)
                                        ));
                                    } else {
                                        if stalled.len() >= STALLED_MAX {
                                            stalled.clear();
                                        }
                                        stalled.insert(to.clone());
                                        ctx.warn(format!(
                                            "answering {}: its queue stayed full for {} (it \
                                             reads no answers): answers to it are dropped \
                                             until it takes one again",
                                            sender_name(&from),
                                            crate::duration::show(ECHO_PATIENCE)
                                        ));
                                    }
                                }
                                Err(e) => ctx.warn(format!(
                                    "answering {}: {}",
                                    sender_name(&from),
                                    answer_error(&e)
                                )),
                            }
                        }
                        None if !unanswerable_said => {
                            unanswerable_said = true;
                            ctx.info(format!(
                                "datagram #{n} not answered: its sender has no address (it must \
                                 bind one to get answers)"
                            ));
                        }
                        None => {}
                    },
                }
                if pending.len() >= FLUSH && !flush(&mut pending, out).await {
                    return Ok(n);
                }
            }
            batch.grow(grow_to);
            if got > 0 {
                busy.moved();
            }
            // Short: the queue is empty and the readiness cleared; wait for more.
            if got < want {
                break;
            }
        }
        drop(guard);
        if !flush(&mut pending, out).await {
            return Ok(n);
        }
    }
    flush(&mut pending, out).await;
    Ok(n)
}

/// What [`receive`] does with each datagram.
struct How<'a> {
    format: Action,
    count: Option<u64>,
    capture: Option<&'a capture::Receiving<'a>>,
}

/// Hands what is pending to the stdout thread; false once stdout is closed.
async fn flush(pending: &mut Vec<u8>, out: &Writer) -> bool {
    if pending.is_empty() {
        return true;
    }
    let chunk = Bytes::from(std::mem::replace(pending, Vec::with_capacity(FLUSH * 2)));
    out.write(chunk).await.is_ok()
}

/// The sender for a log line or the hex view: its bytes escaped, so that a name that is not
/// UTF-8 shows what it is (`\xff`) instead of U+FFFD, and one with a newline stays on its line.
fn sender_name(from: &Option<Addr>) -> String {
    match from {
        Some(a) => escape_bytes(&a.to_bytes()),
        None => "an unbound sender".to_string(),
    }
}

/// The sender for JSON: its address as text, or in base64 when its bytes are not UTF-8 (as
/// data is), with the encoding; both null for an unbound sender.
fn sender_json(from: &Option<Addr>) -> (serde_json::Value, serde_json::Value) {
    use serde_json::Value;
    let Some(a) = from else {
        return (Value::Null, Value::Null);
    };
    let bytes = a.to_bytes();
    match String::from_utf8(bytes) {
        Ok(s) => (Value::from(s), Value::from("utf-8")),
        Err(e) => (Value::from(base64(e.as_bytes())), Value::from("base64")),
    }
}

/// One JSON object and a newline: keys in a fixed order, colour only when `color`.
fn json_line(
    out: &mut Vec<u8>,
    r: &Received,
    from: &Option<Addr>,
    data: &[u8],
    (passed, cut): (&[FdInfo], bool),
    color: bool,
) {
    use serde_json::Value;
    let (encoding, text) = match std::str::from_utf8(data) {
        Ok(s) => ("utf-8", Value::from(s)),
        Err(_) => ("base64", Value::from(base64(data))),
    };
    let num = |v: Option<u32>| v.map_or(Value::Null, Value::from);
    let (sender, sender_encoding) = sender_json(from);
    let mut fields = vec![
        ("time", Value::from(utc_timestamp(SystemTime::now()))),
        ("sender", sender),
        ("sender_encoding", sender_encoding),
        ("size", Value::from(r.size)),
        ("pid", num(r.cred.map(|c| c.pid))),
        ("uid", num(r.cred.map(|c| c.uid))),
        ("gid", num(r.cred.map(|c| c.gid))),
        ("encoding", Value::from(encoding)),
        ("data", text),
    ];
    if r.truncated {
        fields.push(("truncated", Value::from(true)));
    }
    if !passed.is_empty() {
        fields.push((
            "fds",
            Value::Array(passed.iter().map(FdInfo::json).collect()),
        ));
    }
    if cut {
        fields.push(("fds_cut", Value::from(true)));
    }
    json_object(out, &fields, color);
    out.push(b'\n');
}

/// `datagram #N: SIZE bytes from SENDER`, then 16 bytes a line: offset, hex, printable text.
fn hex_view(out: &mut Vec<u8>, n: u64, r: &Received, from: &Option<Addr>, data: &[u8]) {
    let _ = writeln!(
        out,
        "datagram #{n}: {} bytes from {}",
        r.size,
        sender_name(from)
    );
    let mut text = String::with_capacity(data.len().div_ceil(16) * 80);
    for (i, row) in data.chunks(16).enumerate() {
        hexdump_row(&mut text, i * 16, row);
    }
    out.extend_from_slice(text.as_bytes());
}

/// Why an answer could not be sent, in words: a sender whose socket is gone (it exited
/// right after sending) is the usual case, and no errno.
fn answer_error(e: &std::io::Error) -> String {
    use rustix::io::Errno;
    match Errno::from_io_error(e) {
        Some(Errno::CONNREFUSED | Errno::NOENT | Errno::NOTCONN) => {
            "the sender's socket is gone (it was closed after sending)".into()
        }
        _ => e.to_string(),
    }
}
