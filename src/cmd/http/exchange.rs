//! One HTTP exchange over a socket for `udskit http`: connecting with curl's exit codes
//! (7 could not connect, 28 timeout), the hyper handshake and request, the --max-time clock,
//! and the response body streamed to the renderer, with errors that say what went wrong
//! (not HTTP, closed without an answer, cut off in the middle of the body). A body shown
//! unchanged whose length is known or ends with the connection leaves hyper once hyper's
//! buffer is given out: the rest is spliced from the socket to the output (io/splice.rs).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::body::ReqBody;
use super::decode::{BodySource, ReadError};
use super::progress::Download;
use super::render::Render;
use super::tap::{Heads, Tapped};
use crate::duration::MaxTime;
use crate::error::{BAD_CONTENT_ENCODING, COULD_NOT_CONNECT, FAILURE, Fail, TIMEOUT};
use crate::io::splice::{self, Failed, Sink, Stop};
use crate::net::addr::Addr;
use crate::net::connect;
use crate::net::kind::Kind;
use crate::net::stream::Stream;
use crate::shutdown::Shutdown;
use crate::term::Ctx;

/// The time ran out before the body's end had come.
fn unended(clock: &MaxTime, what: &str, received: u64) -> Fail {
    let doing = format!("the body did not end ({received} bytes received)");
    Fail::new(TIMEOUT, clock.missed(what, &doing))
}

/// The time ran out while the output was not taking the body (a reader that stopped).
fn unwritten(clock: &MaxTime, what: &str, received: u64) -> Fail {
    let doing = format!(
        "the body was not written out ({received} bytes received; the output stopped taking it)"
    );
    Fail::new(TIMEOUT, clock.missed(what, &doing))
}

/// Holds the request sender alive while the response body streams.
#[expect(dead_code, reason = "held for its Drop only")]
pub enum Sender {
    H1(hyper::client::conn::http1::SendRequest<ReqBody>),
    H2(hyper::client::conn::http2::SendRequest<ReqBody>),
}

/// The response heads as received, recorded by the tap (HTTP/1.1 only: h2 heads are
/// binary frames).
pub type HeadsSeen = Option<Arc<Mutex<Heads>>>;

/// A copy of the socket of an HTTP/1.1 exchange, for splicing the rest of a body from it.
pub type Socket = Option<OwnedFd>;

/// The handshake (HTTP/1.1, or h2c with prior knowledge) and the request; the connection is
/// driven by a task of its own, with upgrades allowed. An HTTP/1.1 connection is read
/// through [`Tapped`], which keeps the heads as they came; over a unix stream or TCP a copy
/// of its socket comes back too.
pub async fn send(
    stream: Stream,
    req: Request<ReqBody>,
    http2: bool,
) -> Result<(Sender, Response<Incoming>, HeadsSeen, Socket), hyper::Error> {
    if http2 {
        let io = TokioIo::new(stream);
        let (mut tx, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
        tokio::spawn(conn);
        let resp = tx.send_request(req).await?;
        Ok((Sender::H2(tx), resp, None, None))
    } else {
        let socket = match &stream {
            Stream::Unix(_) | Stream::Tcp(_) => stream.as_fd().try_clone_to_owned().ok(),
            Stream::SeqPacket(_) => None,
        };
        let (tapped, heads) = Tapped::new(stream);
        let io = TokioIo::new(tapped);
        let (mut tx, conn) = hyper::client::conn::http1::Builder::new()
            .title_case_headers(true)
            // Reads of io::CHUNK (256 KiB) instead of hyper's adaptive 8 KiB start: a big
            // body goes in far fewer reads, for a buffer a small answer never fills; 64 KiB
            // and 512 KiB were no better (figures in docs/performance.md).
            .read_buf_exact_size(Some(crate::io::CHUNK))
            // hyper's default is 100 header lines, fewer than curl takes (it has no count,
            // only its size limit); a head is bounded by the 256 KiB read above anyway.
            .max_headers(MAX_HEADERS)
            .handshake(io)
            .await?;
        tokio::spawn(conn.with_upgrades());
        let resp = tx.send_request(req).await?;
        Ok((Sender::H1(tx), resp, Some(heads), socket))
    }
}

/// Header lines an answer's head may have (a response of HTTP/1.1; h2 has its own limit).
const MAX_HEADERS: usize = 8192;

/// Connects (retrying for --wait, each attempt bounded by --connect-timeout and the rest of
/// --wait); a failure names the socket and the real cause, with curl's exit code 7, or 28
/// when time ran out.
pub async fn connect(addr: &Addr, opts: connect::ConnectOpts) -> Result<Stream, Fail> {
    connect::connect(addr, Kind::Stream, opts)
        .await
        .map_err(|u| Fail {
            code: if u.timed_out {
                TIMEOUT
            } else {
                COULD_NOT_CONNECT
            },
            ..u.fail
        })
}

/// A failed request/response exchange, in words: not HTTP, closed without an answer, or
/// the connection's own error.
pub fn send_error(e: &hyper::Error, what: &str) -> Fail {
    if e.is_parse() || e.is_parse_status() {
        Fail::new(
            FAILURE,
            format!("{what}: the answer is not valid HTTP: {}", cause(e)),
        )
        .hint("is this an HTTP server? `udskit connect` shows the raw bytes it sends")
    } else if e.is_incomplete_message() {
        Fail::new(
            FAILURE,
            format!("{what}: the server closed the connection without answering"),
        )
    } else {
        Fail::new(FAILURE, format!("{what}: {}", cause(e)))
    }
}

/// A hyper error with its sources, `error writing a body: reading stdin: ...`.
fn cause(e: &hyper::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        // A reset or a closed connection is named as the server's doing.
        match c
            .downcast_ref::<std::io::Error>()
            .and_then(crate::error::peer_words)
        {
            Some(w) => {
                s.push_str("the server ");
                s.push_str(w);
                break;
            }
            None => s.push_str(&c.to_string()),
        }
        src = c.source();
    }
    s
}

/// A body with less than this left when it could leave hyper stays with hyper: the thread
/// and the pipe of a splice cost more than copying so little (a small GET must stay as
/// cheap as it was).
const SPLICE_AFTER: u64 = 1 << 20;

/// The way around hyper for the rest of a body: the exchange's socket and heads, the output
/// (stdout, or -o's file) as splice takes it, and the body's length (None: until the
/// connection closes).
pub struct Fast {
    pub socket: OwnedFd,
    pub heads: Arc<Mutex<super::tap::Heads>>,
    pub out: OwnedFd,
    pub sink: Sink,
    pub length: Option<u64>,
}

/// Streams the response body into `render` as pieces arrive (decoded, with --compressed),
/// until the end, --max-time, a stop signal or a closed stdout, moving the download bar if
/// there is one. A cut-off body keeps what arrived and is an error. With `fast`, once
/// `render` shows the body unchanged, hyper's reads are held, what it has buffered is taken
/// from it, and the rest is spliced from the socket to the output.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site, each piece its own concern"
)]
pub async fn stream_body(
    mut body: BodySource,
    announced: Option<u64>,
    mut render: Render,
    bar: Option<&Download>,
    clock: &MaxTime,
    stop: &Shutdown,
    what: &str,
    ctx: &Ctx,
    wire: &mut u64,
    mut fast: Option<Fast>,
) -> anyhow::Result<()> {
    // Body bytes hyper had read when its reads were held.
    let mut held: Option<u64> = None;
    let mut spliced = 0u64;
    let outcome: anyhow::Result<()> = loop {
        if held.is_none()
            && let Some(f) = &fast
            && render.raw()
        {
            if f.length.is_some_and(|n| n < body.wire() + SPLICE_AFTER) {
                fast = None;
                continue;
            }
            let hold = f.heads.lock().unwrap_or_else(|e| e.into_inner()).hold();
            match hold {
                Some(n) => held = Some(n),
                None => fast = None,
            }
        }
        if let (Some(n), Some(f)) = (held, &fast)
            && body.wire() >= n
        {
            break splice_rest(f, n, &render, bar, clock, stop, what, &mut spliced).await;
        }
        let piece = tokio::select! {
            f = body.next() => f,
            _ = clock.expired() => break Err(unended(clock, what, body.wire()).into()),
            _ = stop.stopped() => break Ok(()),
        };
        if let Some(bar) = bar {
            bar.set(body.wire());
        }
        match piece {
            None => {
                if let Some(bar) = bar {
                    bar.done();
                }
                break Ok(());
            }
            Some(Ok(data)) => {
                // A push waits while stdout's queue is full, for as long as a reader
                // that stopped reading likes: a stop signal must end it all the same,
                // or SIGTERM would leave us hanging on a full pipe.
                let shown = tokio::select! {
                    r = render.push(data) => r?,
                    _ = clock.expired() => break Err(unwritten(clock, what, body.wire()).into()),
                    _ = stop.stopped() => break Ok(()),
                };
                if !shown {
                    break Ok(());
                }
            }
            Some(Err(ReadError::Decode(e))) => {
                let got = body.wire();
                break Err(Fail::new(
                    BAD_CONTENT_ENCODING,
                    format!("{what}: decoding the body (--compressed, {got} bytes received): {e}"),
                )
                .into());
            }
            Some(Err(ReadError::Wire(e))) => {
                let got = body.wire();
                let of = announced.map(|n| format!(" of {n}")).unwrap_or_default();
                let cut = e.is_incomplete_message()
                    || std::error::Error::source(&e)
                        .and_then(|s| s.downcast_ref::<io::Error>())
                        .is_some_and(|io| io.kind() == io::ErrorKind::UnexpectedEof);
                let msg = if cut {
                    format!(
                        "{what}: the server closed the connection in the middle of the body ({got}{of} bytes received)"
                    )
                } else {
                    format!(
                        "{what}: reading the body ({got}{of} bytes received): {}",
                        cause(&e)
                    )
                };
                break Err(Fail::new(FAILURE, msg).into());
            }
        }
    };
    *wire = body.wire() + spliced;
    // What arrived is shown even when the body was cut off.
    let finished = render.finish_or_stop(ctx, stop, clock).await;
    outcome?;
    finished.with_context(|| what.to_string())
}

/// The rest of a body after the `given` bytes hyper read: everything queued for the output
/// is written first, then a thread splices from the socket (up to the length, or to the
/// connection's end), counting into `spliced`, the bar moved every 100 ms.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site, the pieces of stream_body's state"
)]
async fn splice_rest(
    fast: &Fast,
    given: u64,
    render: &Render,
    bar: Option<&Download>,
    clock: &MaxTime,
    stop: &Shutdown,
    what: &str,
    spliced: &mut u64,
) -> anyhow::Result<()> {
    let flushed = tokio::select! {
        r = render.flush() => r,
        _ = clock.expired() => return Err(unwritten(clock, what, given).into()),
    };
    if flushed.is_err() {
        // The output is gone: nothing more is shown.
        return Ok(());
    }
    let limit = fast.length.map(|n| n.saturating_sub(given));
    let count = Arc::new(AtomicU64::new(0));
    let (tx, rx) = tokio::sync::oneshot::channel();
    let (socket, out) = (fast.socket.try_clone()?, fast.out.try_clone()?);
    let (sink, counted) = (fast.sink, count.clone());
    std::thread::spawn(move || {
        let moved = splice::socket_into(socket.as_fd(), out.as_fd(), sink, limit, &|n| {
            counted.fetch_add(n as u64, Ordering::Relaxed);
        });
        let _ = tx.send(moved);
    });
    tokio::pin!(rx);
    let got = |count: &AtomicU64| given + count.load(Ordering::Relaxed);
    let moved = loop {
        tokio::select! {
            r = &mut rx => break r,
            _ = tokio::time::sleep(Duration::from_millis(100)), if bar.is_some() => {
                if let Some(bar) = bar {
                    bar.set(got(&count));
                }
            }
            _ = clock.expired() => {
                *spliced = count.load(Ordering::Relaxed);
                return Err(unended(clock, what, got(&count)).into());
            }
            _ = stop.stopped() => {
                *spliced = count.load(Ordering::Relaxed);
                return Ok(());
            }
        }
    };
    *spliced = count.load(Ordering::Relaxed);
    let got = got(&count);
    let of = fast.length.map(|n| format!(" of {n}")).unwrap_or_default();
    match moved {
        // A thread that could not report: as good as a failed read.
        Err(_) => Err(Fail::new(FAILURE, format!("{what}: reading the body ({got}{of} bytes received)")).into()),
        Ok(Ok((_, Stop::Eof))) if limit.is_some() => Err(Fail::new(
            FAILURE,
            format!("{what}: the server closed the connection in the middle of the body ({got}{of} bytes received)"),
        )
        .into()),
        Ok(Ok(_)) => {
            if let Some(bar) = bar {
                bar.set(got);
                bar.done();
            }
            Ok(())
        }
        Ok(Err(Failed::Reading(e))) => {
            let cause = match crate::error::peer_words(&e) {
                Some(w) => format!("the server {w}"),
                None => e.to_string(),
            };
            Err(Fail::new(FAILURE, format!("{what}: reading the body ({got}{of} bytes received): {cause}")).into())
        }
        Ok(Err(Failed::Writing(e))) => Err(Fail::new(
            FAILURE,
            format!("{what}: writing the body ({got}{of} bytes received): {e}"),
        )
        .into()),
    }
}
