//! `udskit sendto ADDR [MESSAGE...]`: send datagrams to a unix datagram socket — the
//! message, all of stdin as one datagram, or one per line — and with `--reply` wait for the
//! answers on a temporary return address.

use std::convert::identity;
use std::time::Duration;

use anyhow::Context;
use bytes::{Bytes, BytesMut};

use crate::duration;
use crate::error::Fail;
use crate::io::capture;
use crate::io::stdio::{self, Writer};
use crate::net::addr::Addr;
use crate::net::bind::BindOpts;
use crate::net::dgram::{self, Dgram};
use crate::net::fds::{self, Outgoing};
use crate::shutdown::Shutdown;
use crate::term::{Ctx, escape};

/// Send datagrams to a unix datagram socket (syslog, NOTIFY_SOCKET, control sockets)
///
/// The MESSAGE words, joined by spaces, are sent as one datagram; without them all of stdin
/// is one datagram, or with --lines each line is one (its newline removed), for streams of
/// records. Data is sent byte for byte, never truncated: a datagram larger than the kernel
/// accepts is an error that gives both sizes.
///
/// --reply binds a temporary return address (a unique abstract name, so nothing is left on
/// disk; --bind chooses one), waits up to --timeout for one answer per datagram sent and
/// prints the answers; no answer is an error (exit 1).
///
/// --fd N and --send-file PATH pass descriptors with the datagram (SCM_RIGHTS, at most 253
/// in all): ours, open already (`3<FILE` in the shell), or PATH opened read-only. They go
/// with the one datagram (not with --lines); an empty MESSAGE ('') sends them alone.
///
/// Example:
///   udskit sendto "$NOTIFY_SOCKET" READY=1
///
///   udskit sendto /dev/log '<13>hello from udskit'
///
///   printf 'ping\nstatus\n' | udskit sendto --reply --lines --timeout 2s /run/ctl.sock
///
///   udskit sendto --send-file /etc/hostname /run/fd.sock ''
#[derive(clap::Args, Debug)]
#[command(
    verbatim_doc_comment,
    mut_arg("force", |a| a.requires("bind")),
    mut_arg("mode", |a| a.requires("bind"))
)]
pub struct Args {
    /// The receiving socket: PATH, @NAME or unix:///PATH
    #[arg(value_name = "ADDR")]
    pub addr: Addr,
    /// The datagram: these words joined by spaces (default: stdin)
    #[arg(
        value_name = "MESSAGE",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub message: Vec<String>,
    /// Send each line of stdin as one datagram, without its newline
    #[arg(short, long, conflicts_with = "message")]
    pub lines: bool,
    /// Wait for the answers on a temporary return address and print them
    #[arg(short, long)]
    pub reply: bool,
    /// Send from this address (PATH or @NAME; with --reply, answers arrive there)
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<Addr>,
    /// How long --reply waits for the answers (500ms, 10s, 2m)
    #[arg(long, value_name = "DURATION", value_parser = duration::positive, default_value = "5s", requires = "reply")]
    pub timeout: Duration,
    /// Print a newline after each answer (the default with --lines)
    #[arg(long, requires = "reply")]
    pub newline: bool,
    /// Pass our open descriptor N with the datagram (SCM_RIGHTS; repeatable), e.g. one the
    /// shell opened with `3<FILE`
    #[arg(long = "fd", value_name = "N", value_parser = fds::inherited, conflicts_with = "lines")]
    pub fds: Vec<fds::Inherited>,
    /// Open PATH read-only and pass it with the datagram (repeatable)
    #[arg(long, value_name = "PATH", conflicts_with = "lines")]
    pub send_file: Vec<std::path::PathBuf>,
    /// Capture every datagram sent (and answer received) into FILE as UDP packets (pcapng;
    /// - for stdout, unless --reply prints answers there)
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub bind_opts: BindOpts,
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    if !args.addr.is_unix() {
        return Err(Fail::usage(format!(
            "{}: datagrams need a unix address (PATH, @NAME or unix:///PATH)",
            escape(&args.addr.to_string())
        ))
        .into());
    }
    let passing = Outgoing::new(&args.fds, &args.send_file, "--fd")?;
    let pcap = match &args.pcap {
        Some(p) if args.reply && p.as_os_str() == "-" => {
            return Err(Fail::usage(
                "--pcap - writes the capture to stdout, where --reply prints the answers",
            )
            .hint("give --pcap a file")
            .into());
        }
        Some(p) => Some(capture::open(p, ctx)?),
        None => None,
    };
    let stop = Shutdown::install()?;
    let mut sock = match (&args.bind, args.reply) {
        (Some(b), _) => Dgram::bind(b, &args.bind_opts, ctx)?,
        (None, true) => Dgram::autobind()?,
        (None, false) => Dgram::unbound()?,
    };
    let limit = sock.grow_send_buffer();
    if args.reply {
        // Answers may come from another socket than the one we send to.
        sock.aim(&args.addr)?;
    } else {
        sock.connect(&args.addr)?;
    }
    if let Some(local) = &sock.local {
        ctx.debug(format!(
            "sending from {} to {}",
            escape(&local.to_string()),
            escape(&args.addr.to_string())
        ));
    }

    let capture = pcap
        .as_ref()
        .map(|p| capture::Sent::new(p, &sock, &args.addr, passing.borrowed().len()));
    let sent = tokio::select! {
        r = send(&args, &sock, limit, &passing, capture.as_ref()) => r?,
        _ = stop.stopped() => return Ok(()),
    };
    ctx.debug(format!(
        "{sent} datagram{} sent",
        if sent == 1 { "" } else { "s" }
    ));
    if !args.reply {
        return Ok(());
    }
    let newline = args.newline || args.lines;
    let (out, done) = Writer::spawn();
    let got = tokio::select! {
        r = replies(&sock, sent, args.timeout, newline, &out, ctx, capture.as_ref()) => r,
        _ = stop.stopped() => Ok(0),
    };
    drop(out);
    done.wait().await.context("writing stdout")?;
    let got = got?;
    if stop.is_stopping() || got == sent {
        return Ok(());
    }
    let whence = escape(&args.addr.to_string()).into_owned();
    let within = duration::show(args.timeout);
    let f = if got == 0 {
        Fail::new(1, format!("no answer from {whence} within {within}"))
    } else {
        Fail::new(
            1,
            format!("only {got} of {sent} answers from {whence} came within {within}"),
        )
    };
    Err(f
        .hint("the receiver may not answer datagrams, or answer slower; --timeout waits longer")
        .into())
}

/// Sends the message, stdin, or stdin's lines; returns the number of datagrams sent.
async fn send(
    args: &Args,
    sock: &Dgram,
    limit: usize,
    passing: &Outgoing,
    capture: Option<&capture::Sent<'_>>,
) -> anyhow::Result<usize> {
    let fail = |e: &std::io::Error, size| dgram::send_error(&args.addr, e, size, limit);
    // With --reply each wait for room in the receiver's queue is bounded by --timeout: a
    // receiver that reads nothing that long will not answer either.
    let room = args.reply.then_some(args.timeout);
    let captured = |data: &[u8]| {
        if let Some(c) = capture {
            c.sent(data);
        }
    };
    if !args.message.is_empty() {
        let msg = args.message.join(" ");
        check_size(&args.addr, msg.len(), limit)?;
        within(room, send_one(sock, msg.as_bytes(), passing), identity)
            .await
            .map_err(|e| fail(&e, msg.len()))?;
        captured(msg.as_bytes());
        return Ok(1);
    }
    let mut stdin = stdio::stdin();
    if !args.lines {
        let mut all = BytesMut::new();
        while let Some(chunk) = stdin.recv().await {
            let chunk = chunk.context("reading stdin")?;
            if all.len() + chunk.len() > limit {
                // Past the limit the rest is only counted, for the error's size.
                let size = rest_length(&mut stdin, all.len() + chunk.len(), false).await?;
                return Err(size.too_large(&args.addr, limit).into());
            }
            all.extend_from_slice(&chunk);
        }
        within(room, send_one(sock, &all, passing), identity)
            .await
            .map_err(|e| fail(&e, all.len()))?;
        captured(&all);
        return Ok(1);
    }
    // --lines: the lines of each stdin chunk go out together in sendmmsg batches; a line
    // cut by the chunk boundary waits in `partial` for the rest.
    let mut partial = BytesMut::new();
    let mut sent = 0;
    while let Some(chunk) = stdin.recv().await {
        let chunk: Bytes = chunk.context("reading stdin")?;
        let Some(last_nl) = chunk.iter().rposition(|&b| b == b'\n') else {
            partial.extend_from_slice(&chunk);
            if partial.len() > limit {
                let size = rest_length(&mut stdin, partial.len(), true).await?;
                return Err(size.too_large(&args.addr, limit).into());
            }
            continue;
        };
        let head = chunk.slice(..last_nl);
        let tail = chunk.slice(last_nl + 1..);
        let first_end = head.iter().position(|&b| b == b'\n').unwrap_or(head.len());
        partial.extend_from_slice(&head[..first_end]);
        let first = partial.split().freeze();
        let rest = if first_end < head.len() {
            &head[first_end + 1..]
        } else {
            &[][..]
        };
        let mut lines: Vec<&[u8]> = Vec::with_capacity(rest.len() / 32 + 1);
        lines.push(&first);
        if first_end < head.len() {
            lines.extend(rest.split(|&b| b == b'\n'));
        }
        if let Some(big) = lines.iter().find(|l| l.len() > limit) {
            return Err(dgram::too_large(&args.addr, big.len(), limit).into());
        }
        match within(room, sock.send_many(&lines), |e| (0, e)).await {
            Ok(()) => {
                sent += lines.len();
                lines.iter().for_each(|l| captured(l));
            }
            Err((n, e)) => return Err(fail(&e, lines[n].len()).into()),
        }
        partial.extend_from_slice(&tail);
    }
    if !partial.is_empty() {
        check_size(&args.addr, partial.len(), limit)?;
        within(room, sock.send(&partial), identity)
            .await
            .map_err(|e| fail(&e, partial.len()))?;
        captured(&partial);
        sent += 1;
    }
    Ok(sent)
}

/// `send`, or (made by `full`) the error of a receiver whose queue stayed full for `room`;
/// no bound without one.
async fn within<T, E>(
    room: Option<Duration>,
    send: impl Future<Output = Result<T, E>>,
    full: impl FnOnce(std::io::Error) -> E,
) -> Result<T, E> {
    let Some(limit) = room else {
        return send.await;
    };
    match tokio::time::timeout(limit, send).await {
        Ok(r) => r,
        Err(_) => Err(full(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "its queue stayed full for {} (--timeout): the receiver is not reading",
                duration::show(limit)
            ),
        ))),
    }
}

/// One datagram, with the descriptors to pass if there are any.
async fn send_one(sock: &Dgram, data: &[u8], passing: &Outgoing) -> std::io::Result<()> {
    if passing.is_empty() {
        sock.send(data).await
    } else {
        sock.send_fds(data, &passing.borrowed()).await
    }
}

/// The length of a datagram too long to send, of which `so_far` bytes were read: the rest
/// of stdin is read and dropped up to its end (or with `line`, the line's newline), so that
/// the error can give its real size, but no longer than COUNT_FOR and no further than
/// COUNT_MAX bytes in all: a stdin that never ends (`/dev/zero`, `yes`, `tail -f`) must
/// not keep us.
async fn rest_length(
    stdin: &mut tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    mut so_far: usize,
    line: bool,
) -> anyhow::Result<Length> {
    let counting = async {
        while so_far < COUNT_MAX {
            let Some(chunk) = stdin.recv().await else {
                return Ok(Length::Exactly(so_far));
            };
            let chunk = chunk.context("reading stdin")?;
            match chunk.iter().position(|&b| b == b'\n').filter(|_| line) {
                Some(i) => return Ok(Length::Exactly(so_far + i)),
                None => so_far += chunk.len(),
            }
        }
        Ok(Length::AtLeast(so_far))
    };
    match tokio::time::timeout(COUNT_FOR, counting).await {
        Ok(r) => r,
        Err(_) => Ok(Length::AtLeast(so_far)),
    }
}

/// How long [`rest_length`] counts, in time and in bytes.
const COUNT_FOR: Duration = Duration::from_secs(1);
const COUNT_MAX: usize = 256 << 20;

/// The size of a datagram too large to send, as far as it was counted.
enum Length {
    Exactly(usize),
    AtLeast(usize),
}

impl Length {
    fn too_large(self, to: &Addr, limit: usize) -> Fail {
        match self {
            Length::Exactly(n) => dgram::too_large(to, n, limit),
            Length::AtLeast(n) => dgram::too_large_unended(to, n, limit),
        }
    }
}

fn check_size(to: &Addr, size: usize, limit: usize) -> Result<(), Fail> {
    if size > limit {
        return Err(dgram::too_large(to, size, limit));
    }
    Ok(())
}

/// Prints answers as they come until `want` have come or `timeout` has passed since the
/// last datagram was sent; returns how many came.
async fn replies(
    sock: &Dgram,
    want: usize,
    timeout: Duration,
    newline: bool,
    out: &Writer,
    ctx: &Ctx,
    capture: Option<&capture::Sent<'_>>,
) -> anyhow::Result<usize> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buf = vec![0u8; dgram::RECV_BUFFER];
    let mut got = 0;
    while got < want {
        let mut guard = match tokio::time::timeout_at(deadline, sock.readable()).await {
            Ok(g) => g.context("waiting for the answer")?,
            Err(_) => break,
        };
        while got < want {
            let Some(r) = sock
                .try_recv(&mut guard, &mut buf, false)
                .context("receiving the answer")?
            else {
                break;
            };
            got += 1;
            if let Some(c) = capture {
                c.answer(&r, &buf[..r.stored]);
            }
            if r.truncated {
                ctx.warn(format!(
                    "an answer of {} bytes was cut to {} by the receive buffer",
                    r.size, r.stored
                ));
            }
            let mut chunk = BytesMut::with_capacity(r.stored + 1);
            chunk.extend_from_slice(&buf[..r.stored]);
            if newline {
                chunk.extend_from_slice(b"\n");
            }
            if out.write(chunk.freeze()).await.is_err() {
                return Ok(want);
            }
        }
    }
    Ok(got)
}
