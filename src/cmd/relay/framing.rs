//! The guard's view of the raw bytes a client sends, framed request by request as hyper
//! frames them, for the one thing hyper hides: a request carrying both Content-Length and
//! Transfer-Encoding (the classic smuggling attempt). hyper follows RFC 9112 and drops the
//! Content-Length, which is safe for hyper but leaves the guard unable to refuse the
//! request; dockerd accepts such a request, so the guard refuses it with a 400 instead.
//! Also the client's bytes each way, for the connection's log line and --idle-timeout, and
//! the two refusals that must come before hyper parses a head: a head past `HEAD_LIMIT`
//! (answered 400, as any request the guard cannot take, with the Docker-style JSON
//! message saying the limit; hyper's own answer would have no body) and a
//! head that takes longer than --header-timeout to arrive (a slowloris client sending it
//! byte by byte), answered 408. Either way the answer is written, the write side shut,
//! what the client still sends read and dropped for a moment (as `close_gently` does),
//! and hyper then reads the end of the connection: it never sees the head.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::answer::raw_answer;
use super::copy::{Direction, Meter};
use crate::io::pcap::{Flow, Sender};
use crate::net::stream::{DRAIN_BYTES, DRAIN_TIME};

/// The longest request head the guard accepts (hyper's read buffer, which the guard never
/// lets a head fill): Docker's largest header, X-Registry-Config, carries
/// a few credentials in base64 and stays far below; a larger cap costs memory per client.
pub const HEAD_LIMIT: usize = 64 * 1024;

/// The most header fields in a head: hyper's own limit (the guard answers more with a 400).
const MAX_FIELDS: usize = 100;

/// The longest chunk-size or trailer line tracked (hyper refuses far shorter ones).
const LINE_LIMIT: usize = 4096;

/// How the guard ended a client's connection itself, before hyper read a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A head larger than `HEAD_LIMIT`: 400.
    TooLarge,
    /// A head of more than `MAX_FIELDS` fields: 400.
    TooManyFields,
    /// A head begun but not complete within --header-timeout: 408.
    SlowHead(Duration),
    /// No request at all within --header-timeout of connecting: closed without an answer.
    NoRequest(Duration),
}

impl Refusal {
    /// The answer the client gets, if any.
    fn answer(self) -> Option<Vec<u8>> {
        let (status, why) = match self {
            Refusal::TooLarge => (
                StatusCode::BAD_REQUEST,
                format!(
                    "its head is larger than the {} KiB the guard reads",
                    HEAD_LIMIT / 1024
                ),
            ),
            Refusal::TooManyFields => (
                StatusCode::BAD_REQUEST,
                format!("its head has more than {MAX_FIELDS} header fields"),
            ),
            Refusal::SlowHead(d) => (
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "its head did not arrive within {} (--header-timeout)",
                    crate::duration::show(d)
                ),
            ),
            Refusal::NoRequest(_) => return None,
        };
        Some(raw_answer(
            status,
            &format!("udskit: request refused: {why}"),
        ))
    }

    /// The words of the connection's log line.
    pub fn words(self) -> String {
        match self {
            Refusal::TooLarge => format!(
                "the client sent a request head larger than {} KiB (answered 400)",
                HEAD_LIMIT / 1024
            ),
            Refusal::TooManyFields => format!(
                "the client sent a request head of more than {MAX_FIELDS} header fields (answered 400)"
            ),
            Refusal::SlowHead(d) => format!(
                "the client took longer than {} to send a request head (--header-timeout; answered 408)",
                crate::duration::show(d)
            ),
            Refusal::NoRequest(d) => format!(
                "the client sent no request within {} of connecting (--header-timeout)",
                crate::duration::show(d)
            ),
        }
    }
}

/// What the framing found, shared with the request handler.
#[derive(Debug, Default)]
pub struct Flags {
    /// Request heads seen whole, counted from 1.
    pub heads: AtomicUsize,
    /// The number of the first head that held both Content-Length and Transfer-Encoding
    /// (0: none): that request and those after it are refused, the ones before it (ahead
    /// of it in a pipeline) are not.
    pub conflict_at: AtomicUsize,
    /// The connection became a tunnel (101): its bytes are no longer HTTP.
    pub off: AtomicBool,
    /// Requests being answered (counted by the handler): no head is being waited for, so
    /// --header-timeout does not run, and the guard writes no answer of its own.
    pub in_flight: Arc<AtomicUsize>,
    /// Set when the guard ended the connection itself.
    pub refused: OnceLock<Refusal>,
}

#[derive(Debug)]
enum State {
    /// Reading a request head (the bytes so far).
    Head,
    /// A body of a known number of bytes left.
    Fixed(u64),
    /// A chunked body: the chunk-size line so far.
    ChunkSize,
    /// Chunk data left, then its CRLF.
    ChunkData(u64),
    /// The CRLF after chunk data: skipped up to its LF.
    ChunkEnd,
    /// Trailer lines after the last chunk, until an empty line.
    Trailers,
    /// Not HTTP any more, or not worth following (hyper refuses what follows).
    Off,
}

/// What [`Framing::head`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    /// A whole head, this many bytes long.
    Complete(usize),
    /// Not all of it yet.
    Partial,
    /// None to follow: refused, or not HTTP that hyper would take.
    Stopped,
}

/// Follows request framing on the bytes read from a client.
#[derive(Debug)]
struct Framing {
    state: State,
    buf: Vec<u8>,
    flags: Arc<Flags>,
    /// A whole head has been read on this connection.
    seen_head: bool,
    /// What a head just read is refused for, before hyper sees it.
    refusal: Option<Refusal>,
}

impl Framing {
    fn feed(&mut self, data: &[u8]) {
        let mut data = data;
        while !data.is_empty() {
            if self.flags.off.load(Ordering::Relaxed) {
                self.state = State::Off;
            }
            match self.state {
                State::Off => return,
                State::Head => {
                    // A head that came whole in one read (the usual case) is parsed where
                    // it lies; only one cut across reads is put together in `buf`.
                    let before = self.buf.len();
                    let parsed = if before == 0 {
                        self.head(data)
                    } else {
                        let mut whole = std::mem::take(&mut self.buf);
                        whole.extend_from_slice(data);
                        let parsed = self.head(&whole);
                        if parsed == Head::Partial {
                            self.buf = whole;
                        }
                        parsed
                    };
                    match parsed {
                        // The head ends in this read: it had not ended in `buf`.
                        Head::Complete(n) => data = &data[n - before..],
                        Head::Partial if before == 0 => {
                            self.buf.extend_from_slice(data);
                            return;
                        }
                        Head::Partial | Head::Stopped => return,
                    }
                }
                State::Fixed(n) => {
                    let take = n.min(data.len() as u64);
                    data = &data[take as usize..];
                    self.state = if take == n {
                        self.next_head()
                    } else {
                        State::Fixed(n - take)
                    };
                }
                State::ChunkData(n) => {
                    let take = n.min(data.len() as u64);
                    data = &data[take as usize..];
                    self.state = if take == n {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(n - take)
                    };
                }
                State::ChunkEnd => match data.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        data = &data[i + 1..];
                        self.state = State::ChunkSize;
                    }
                    None => data = &[],
                },
                State::ChunkSize | State::Trailers => {
                    let Some(i) = data.iter().position(|&b| b == b'\n') else {
                        self.buf.extend_from_slice(data);
                        if self.buf.len() > LINE_LIMIT {
                            self.stop();
                        }
                        return;
                    };
                    self.buf.extend_from_slice(&data[..=i]);
                    data = &data[i + 1..];
                    let line = std::mem::take(&mut self.buf);
                    self.line(&line);
                }
            }
        }
    }

    /// Whether `head` (the bytes of a head so far, what follows it perhaps) holds a whole
    /// request head, and how long it is.
    fn head(&mut self, head: &[u8]) -> Head {
        let mut headers = [httparse::EMPTY_HEADER; MAX_FIELDS];
        let mut req = httparse::Request::new(&mut headers);
        let n = match req.parse(head) {
            // Whole in one read, and still past the limit.
            Ok(httparse::Status::Complete(n)) if n > HEAD_LIMIT => {
                self.refusal = Some(Refusal::TooLarge);
                self.stop();
                return Head::Stopped;
            }
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                // hyper gives up once its buffer holds this much of a head: the guard
                // sees the bytes first, in the read that brings them.
                if head.len() >= HEAD_LIMIT {
                    self.refusal = Some(Refusal::TooLarge);
                    self.stop();
                    return Head::Stopped;
                }
                return Head::Partial;
            }
            Err(httparse::Error::TooManyHeaders) => {
                self.refusal = Some(Refusal::TooManyFields);
                self.stop();
                return Head::Stopped;
            }
            // hyper refuses it too (400): nothing follows that it would read.
            Err(_) => {
                self.stop();
                return Head::Stopped;
            }
        };
        self.seen_head = true;
        let number = self.flags.heads.fetch_add(1, Ordering::Relaxed) + 1;
        let has = |name: &str| {
            req.headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case(name))
        };
        let (cl, te) = (has("content-length"), has("transfer-encoding"));
        if cl && te {
            self.flags.conflict_at.store(number, Ordering::Relaxed);
            self.stop();
            return Head::Stopped;
        }
        let length = req
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("content-length"))
            .and_then(|h| {
                std::str::from_utf8(h.value)
                    .ok()?
                    .trim()
                    .parse::<u64>()
                    .ok()
            });
        self.state = if te {
            State::ChunkSize
        } else {
            match length {
                Some(n) if n > 0 => State::Fixed(n),
                _ => State::Head,
            }
        };
        Head::Complete(n)
    }

    fn line(&mut self, line: &[u8]) {
        match self.state {
            State::ChunkSize => {
                let hex = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
                let size = std::str::from_utf8(&line[..hex])
                    .ok()
                    .and_then(|h| u64::from_str_radix(h, 16).ok());
                self.state = match size {
                    Some(0) => State::Trailers,
                    Some(n) => State::ChunkData(n),
                    // No digits, or too many: hyper refuses the body.
                    None => State::Off,
                };
            }
            State::Trailers if line == b"\r\n" || line == b"\n" => {
                self.state = self.next_head();
            }
            _ => {}
        }
    }

    fn next_head(&mut self) -> State {
        self.buf = Vec::new();
        State::Head
    }

    fn stop(&mut self) {
        self.state = State::Off;
        self.buf = Vec::new();
    }

    /// Whether a head is awaited: the first one (from the start of the connection), or
    /// one whose first bytes have come.
    fn awaiting_head(&self) -> bool {
        matches!(self.state, State::Head) && (!self.seen_head || !self.buf.is_empty())
    }

    fn new(flags: Arc<Flags>) -> Framing {
        Framing {
            state: State::Head,
            buf: Vec::new(),
            flags,
            seen_head: false,
            refusal: None,
        }
    }
}

/// The end of a connection the guard refused itself.
enum Ending {
    /// Writing the answer (`sent` bytes of it so far).
    Answering {
        bytes: Vec<u8>,
        sent: usize,
    },
    ShuttingDown,
    /// Reading what the client still sends, bounded by the timer and `DRAIN_BYTES`.
    Draining {
        taken: usize,
    },
    /// hyper reads the end of the connection.
    Done,
}

/// A client's stream, its bytes metered and framed on the way in.
pub struct Watched<S> {
    inner: S,
    framing: Framing,
    meter: Arc<Meter>,
    /// --header-timeout (None: off).
    head_timeout: Option<Duration>,
    /// Running while a head is awaited (or, once refused, while draining).
    timer: Option<Pin<Box<Sleep>>>,
    ending: Option<Ending>,
    /// --pcap: the client's side of the connection, as it sent and received it (a tunnel
    /// after a 101 included: hyper's upgrade goes on through this stream).
    capture: Option<Flow<'static>>,
}

impl<S> Watched<S> {
    pub fn new(
        inner: S,
        meter: Arc<Meter>,
        flags: Arc<Flags>,
        head_timeout: Option<Duration>,
    ) -> Watched<S> {
        Watched {
            inner,
            framing: Framing::new(flags),
            meter,
            head_timeout,
            timer: None,
            ending: None,
            capture: None,
        }
    }

    /// Captures the client's bytes both ways into `flow` (--pcap).
    pub fn capture(mut self, flow: Option<Flow<'static>>) -> Watched<S> {
        self.capture = flow;
        self
    }

    fn captured(&self, from: Sender, data: &[u8]) {
        if let Some(f) = &self.capture {
            f.data(from, data);
        }
    }

    fn captured_end(&self, from: Sender) {
        if let Some(f) = &self.capture {
            f.fin(from);
        }
    }

    /// Starts the head timer when a head is awaited, stops it otherwise.
    fn time_head(&mut self) {
        let awaited = self.framing.awaiting_head()
            && self.framing.flags.in_flight.load(Ordering::Relaxed) == 0;
        match (awaited, self.head_timeout) {
            (true, Some(limit)) => {
                if self.timer.is_none() {
                    self.timer = Some(Box::pin(tokio::time::sleep(limit)));
                }
            }
            _ => self.timer = None,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Watched<S> {
    fn refuse(&mut self, why: Refusal, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.framing.stop();
        let _ = self.framing.flags.refused.set(why);
        // An answer of hyper's in flight is not interrupted by one of ours.
        let quiet = self.framing.flags.in_flight.load(Ordering::Relaxed) > 0;
        self.ending = Some(match why.answer() {
            Some(bytes) if !quiet => Ending::Answering { bytes, sent: 0 },
            _ => Ending::ShuttingDown,
        });
        self.poll_end(cx)
    }

    /// Moves a refused connection on to its end; Ready once hyper may read EOF.
    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let Some(ending) = self.ending.as_mut() else {
                return Poll::Ready(Ok(()));
            };
            match ending {
                Ending::Answering { bytes, sent } => {
                    match Pin::new(&mut self.inner).poll_write(cx, &bytes[*sent..]) {
                        Poll::Ready(Ok(n)) if n > 0 => {
                            self.meter.add(Direction::Down, n);
                            if let Some(f) = &self.capture {
                                f.data(Sender::Server, &bytes[*sent..*sent + n]);
                            }
                            *sent += n;
                            if *sent == bytes.len() {
                                self.ending = Some(Ending::ShuttingDown);
                            }
                        }
                        Poll::Ready(_) => self.ending = Some(Ending::Done),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Ending::ShuttingDown => {
                    if Pin::new(&mut self.inner).poll_shutdown(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.captured_end(Sender::Server);
                    self.timer = Some(Box::pin(tokio::time::sleep(DRAIN_TIME)));
                    self.ending = Some(Ending::Draining { taken: 0 });
                }
                Ending::Draining { taken } => {
                    let mut scratch = [0u8; 16 * 1024];
                    let mut rb = ReadBuf::new(&mut scratch);
                    match Pin::new(&mut self.inner).poll_read(cx, &mut rb) {
                        Poll::Ready(Ok(())) if !rb.filled().is_empty() => {
                            if let Some(f) = &self.capture {
                                f.data(Sender::Client, rb.filled());
                            }
                            *taken += rb.filled().len();
                            if *taken >= DRAIN_BYTES {
                                self.ending = Some(Ending::Done);
                            }
                        }
                        Poll::Ready(_) => self.ending = Some(Ending::Done),
                        Poll::Pending => {
                            let spent = self
                                .timer
                                .as_mut()
                                .is_none_or(|t| t.as_mut().poll(cx).is_ready());
                            if !spent {
                                return Poll::Pending;
                            }
                            self.ending = Some(Ending::Done);
                        }
                    }
                }
                Ending::Done => {
                    self.timer = None;
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if me.ending.is_some() {
            return me.poll_end(cx);
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut me.inner).poll_read(cx, buf);
        match r {
            Poll::Ready(Ok(())) => {
                let new = &buf.filled()[before..];
                if new.is_empty() && buf.remaining() > 0 {
                    me.captured_end(Sender::Client);
                }
                if !new.is_empty() {
                    me.captured(Sender::Client, new);
                    me.meter.add(Direction::Up, new.len());
                    me.framing.feed(new);
                    if let Some(why) = me.framing.refusal.take() {
                        // hyper never sees these bytes.
                        buf.set_filled(before);
                        return me.refuse(why, cx);
                    }
                }
                me.time_head();
                Poll::Ready(Ok(()))
            }
            Poll::Pending => {
                me.time_head();
                if let (Some(t), Some(limit)) = (me.timer.as_mut(), me.head_timeout)
                    && t.as_mut().poll(cx).is_ready()
                {
                    let why = match me.framing.buf.is_empty() {
                        true => Refusal::NoRequest(limit),
                        false => Refusal::SlowHead(limit),
                    };
                    return me.refuse(why, cx);
                }
                Poll::Pending
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.inner).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = r {
            me.meter.add(Direction::Down, n);
            me.captured(Sender::Server, &data[..n]);
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            me.meter.add(Direction::Down, n);
            if me.capture.is_some() {
                let mut left = n;
                for b in bufs {
                    let take = left.min(b.len());
                    me.captured(Sender::Server, &b[..take]);
                    left -= take;
                    if left == 0 {
                        break;
                    }
                }
            }
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let r = Pin::new(&mut me.inner).poll_shutdown(cx);
        if r.is_ready() {
            me.captured_end(Sender::Server);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framing() -> (Framing, Arc<Flags>) {
        let flags = Arc::new(Flags::default());
        (Framing::new(flags.clone()), flags)
    }

    fn conflict_after(pieces: &[&[u8]]) -> bool {
        let (mut f, flags) = framing();
        for p in pieces {
            f.feed(p);
        }
        flags.conflict_at.load(Ordering::Relaxed) != 0
    }

    const SMUGGLE: &[u8] =
        b"POST /x HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";

    #[test]
    fn both_lengths_are_caught_in_any_cut() {
        assert!(conflict_after(&[SMUGGLE]));
        for cut in 1..SMUGGLE.len() {
            assert!(conflict_after(&[&SMUGGLE[..cut], &SMUGGLE[cut..]]), "{cut}");
        }
    }

    #[test]
    fn after_bodies_and_pipelining() {
        let fixed = b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        let chunked =
            b"POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX: y\r\n\r\n";
        let get = b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
        let all = [&fixed[..], chunked, get, SMUGGLE].concat();
        assert!(conflict_after(&[&all]));
        for cut in 1..all.len() {
            assert!(conflict_after(&[&all[..cut], &all[cut..]]), "{cut}");
        }
        // A body that merely contains the words is no conflict.
        let body = b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let head = format!("PUT /d HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len());
        assert!(!conflict_after(&[head.as_bytes(), body, get]));
        assert!(!conflict_after(&[&[&fixed[..], chunked, get].concat()]));
    }
}
