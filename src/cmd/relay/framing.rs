//! The guard's view of the raw bytes a client sends, framed request by request as hyper
//! frames them, for the one thing hyper hides: a request carrying both Content-Length and
//! Transfer-Encoding (the classic smuggling attempt). hyper follows RFC 9112 and drops the
//! Content-Length, which is safe for hyper but leaves the guard unable to refuse the
//! request; dockerd accepts such a request, so the guard refuses it with a 400 instead.
//! Also the client's bytes each way, for the connection's log line and --idle-timeout.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::copy::{Direction, Meter};

/// The longest request head the guard accepts (hyper's read buffer, hence also its 431
/// "Request Header Fields Too Large"): Docker's largest header, X-Registry-Config, carries
/// a few credentials in base64 and stays far below; a larger cap costs memory per client.
pub const HEAD_LIMIT: usize = 64 * 1024;

/// The longest chunk-size or trailer line tracked (hyper refuses far shorter ones).
const LINE_LIMIT: usize = 4096;

/// What the framing found, shared with the request handler.
#[derive(Debug, Default)]
pub struct Flags {
    /// A request head held both Content-Length and Transfer-Encoding.
    pub conflict: AtomicBool,
    /// The connection became a tunnel (101): its bytes are no longer HTTP.
    pub off: AtomicBool,
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

/// Follows request framing on the bytes read from a client.
#[derive(Debug)]
struct Framing {
    state: State,
    buf: Vec<u8>,
    flags: Arc<Flags>,
}

impl Framing {
    fn feed(&mut self, data: &[u8]) {
        // What followed a complete head in the same read, fed again in the new state.
        let mut tail: Vec<u8>;
        let mut data = data;
        while !data.is_empty() {
            if self.flags.off.load(Ordering::Relaxed) {
                self.state = State::Off;
            }
            match self.state {
                State::Off => return,
                State::Head => {
                    self.buf.extend_from_slice(data);
                    match self.head() {
                        Some(rest) => {
                            tail = rest;
                            data = &tail;
                        }
                        None => return,
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

    /// Whether a request head is complete in `buf`: if so, the bytes that followed it.
    fn head(&mut self) -> Option<Vec<u8>> {
        let mut headers = [httparse::EMPTY_HEADER; 128];
        let mut req = httparse::Request::new(&mut headers);
        let n = match req.parse(&self.buf) {
            Ok(httparse::Status::Complete(n)) => n,
            Ok(httparse::Status::Partial) => {
                if self.buf.len() > HEAD_LIMIT {
                    self.stop();
                }
                return None;
            }
            // hyper refuses it too (400): nothing follows that it would read.
            Err(_) => {
                self.stop();
                return None;
            }
        };
        let has = |name: &str| {
            req.headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case(name))
        };
        let (cl, te) = (has("content-length"), has("transfer-encoding"));
        if cl && te {
            self.flags.conflict.store(true, Ordering::Relaxed);
            self.stop();
            return None;
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
        let tail = self.buf.split_off(n);
        self.buf = Vec::new();
        Some(tail)
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
}

/// A client's stream, its bytes metered and framed on the way in.
pub struct Watched<S> {
    inner: S,
    framing: Framing,
    meter: Arc<Meter>,
}

impl<S> Watched<S> {
    pub fn new(inner: S, meter: Arc<Meter>, flags: Arc<Flags>) -> Watched<S> {
        Watched {
            inner,
            framing: Framing {
                state: State::Head,
                buf: Vec::new(),
                flags,
            },
            meter,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut me.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                me.meter.add(Direction::Up, new.len());
                me.framing.feed(new);
            }
        }
        r
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
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framing() -> (Framing, Arc<Flags>) {
        let flags = Arc::new(Flags::default());
        (
            Framing {
                state: State::Head,
                buf: Vec::new(),
                flags: flags.clone(),
            },
            flags,
        )
    }

    fn conflict_after(pieces: &[&[u8]]) -> bool {
        let (mut f, flags) = framing();
        for p in pieces {
            f.feed(p);
        }
        flags.conflict.load(Ordering::Relaxed)
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
