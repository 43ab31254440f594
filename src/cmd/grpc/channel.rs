//! The HTTP/2 connection under `udskit grpc`: our own connected stream (any address of the
//! grammar, `--wait`, `--connect-timeout`) with the h2 crate's client on it, handed to tonic
//! as the service its calls go through; an answer that is not gRPC, or a peer that does not
//! speak HTTP/2, becomes an error that says so instead of tonic's guess at a status.
//!
//! h2 directly rather than through hyper (as `http --http2` does): hyper sets no budget for
//! the small DATA frames h2 holds for a slow reader, and h2's default closes the connection
//! (ENHANCE_YOUR_CALM) once about a hundred small messages wait for one, which a server
//! stream piped to a slow stdout reaches within seconds; only h2's builder can raise it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use h2::client::SendRequest;
use h2::{RecvStream, SendStream};
use http::{HeaderMap, Request, Response, Uri};
use http_body::Frame;

use crate::error::{FAILURE, Fail};
use crate::net::addr::Addr;
use crate::net::connect::{self, ConnectOpts};
use crate::net::kind::Kind;
use crate::net::stream::Stream;
use crate::term::escape;

/// The HTTP/2 flow-control window, per stream and for the connection: what a server may
/// send ahead of our reading. h2's default of 64 KiB lets a stream move one window per
/// round trip; 1 MiB keeps a 10 MiB message or a fast stream flowing, and bounds what a
/// slow stdout leaves waiting in memory.
const WINDOW: u32 = 1024 * 1024;

/// h2's budget for small DATA frames held unread: each one below 256 bytes costs
/// 256 - its size. Enough for a whole window of the smallest well-formed gRPC frames (5
/// bytes: a message's prefix), so flow control, not the budget, holds a fast server back
/// from a slow reader (about 20 MiB of frames in the worst case); a server dribbling
/// smaller ones still meets the limit.
const SMALL_FRAME_BUDGET: usize = 256 * (WINDOW as usize / 5);

/// Connects to `addr`; the error names the socket and the real cause (exit 1, as grpcurl's
/// "Failed to dial target host").
pub async fn connect(addr: &Addr, opts: ConnectOpts) -> Result<Stream, Fail> {
    connect::connect(addr, Kind::Stream, opts)
        .await
        .map_err(Fail::from)
}

/// A failure below gRPC: the connection, HTTP/2, or an answer that is not gRPC. tonic
/// turns it into a status whose source is this, so that it can be told from a status the
/// server sent.
#[derive(Debug, Clone)]
pub struct Transport {
    pub message: String,
    pub hint: Option<&'static str>,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Transport {}

const NOT_H2_HINT: &str =
    "is this a gRPC server? `udskit http --http2 SOCKET /` shows how it answers HTTP/2";

impl Transport {
    fn from_h2(e: &h2::Error, conn: &Mutex<Option<String>>) -> Transport {
        // The connection task's own error says more ("frame with invalid size") than the
        // request's ("connection closed").
        let conn = conn.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let cause = conn.unwrap_or_else(|| chain(e));
        let broken = |r: Option<h2::Reason>| {
            matches!(
                r,
                Some(h2::Reason::PROTOCOL_ERROR | h2::Reason::FRAME_SIZE_ERROR)
            )
        };
        let not_h2 = (broken(e.reason()) && !e.is_remote())
            || cause.contains("frame with invalid size")
            || cause.contains("connection closed")
            || cause.contains("unexpected end of file")
            || cause.contains("broken pipe")
            || cause.contains("reset by peer");
        Transport {
            message: if not_h2 {
                format!("the peer does not speak gRPC's HTTP/2 (h2c): {cause}")
            } else {
                format!("the HTTP/2 connection failed: {cause}")
            },
            hint: not_h2.then_some(NOT_H2_HINT),
        }
    }

    /// The failure as the user sees it, `what` naming the call.
    pub fn fail(&self, what: &str) -> Fail {
        let f = Fail::new(FAILURE, format!("{what}: {}", self.message));
        match self.hint {
            Some(h) => f.hint(h),
            None => f,
        }
    }
}

/// An error with its sources, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        let c_text = c.to_string();
        if !s.contains(&c_text) {
            s.push_str(": ");
            s.push_str(&c_text);
        }
        src = c.source();
    }
    s
}

/// The h2c connection, as the tower service tonic's `Grpc` calls through. Cheap to clone:
/// every call is a new HTTP/2 stream on the one connection.
#[derive(Clone)]
pub struct Channel {
    tx: SendRequest<Bytes>,
    /// Why the connection task ended, once it has.
    conn_error: Arc<Mutex<Option<String>>>,
    pub origin: Uri,
    /// The largest answer message taken (`--max-msg-sz`); a larger one fails at its
    /// 5-byte prefix, before its bytes are held.
    pub max_message: usize,
    /// The length a larger one announced, once one has (0 before): tonic's error for it
    /// reads as a server's would (a tonic server sends the same words for our request).
    oversized: Arc<AtomicU64>,
}

impl Channel {
    /// The length of the answer message past `max_message` that ended the call, if one did.
    pub fn oversized(&self) -> Option<u64> {
        Some(self.oversized.load(Ordering::Relaxed)).filter(|&n| n > 0)
    }
}

/// The HTTP/2 handshake on `stream` (prior knowledge, as gRPC speaks it in clear), the
/// connection driven by a task of its own; `authority` becomes every call's `:authority`.
pub async fn handshake(
    stream: Stream,
    authority: &str,
    max_message: usize,
) -> Result<Channel, Fail> {
    let origin: Uri = format!("http://{authority}").parse().map_err(|_| {
        Fail::usage(format!(
            "--authority '{}': not a host[:port]",
            escape(authority)
        ))
    })?;
    let conn_error = Arc::new(Mutex::new(None));
    let (tx, conn) = h2::client::Builder::new()
        .initial_window_size(WINDOW)
        .initial_connection_window_size(WINDOW)
        .data_frame_budget(SMALL_FRAME_BUDGET)
        .handshake::<_, Bytes>(stream)
        .await
        .map_err(|e| {
            Fail::new(
                FAILURE,
                format!("the HTTP/2 handshake failed: {}", chain(&e)),
            )
        })?;
    let slot = conn_error.clone();
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            *slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(chain(&e));
        }
    });
    Ok(Channel {
        tx,
        conn_error,
        origin,
        max_message,
        oversized: Arc::default(),
    })
}

impl tower_service::Service<Request<tonic::body::Body>> for Channel {
    type Response = Response<RecvBody>;
    type Error = Transport;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Transport>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Transport>> {
        self.tx
            .poll_ready(cx)
            .map_err(|e| Transport::from_h2(&e, &self.conn_error))
    }

    fn call(&mut self, req: Request<tonic::body::Body>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let sent = self.tx.send_request(Request::from_parts(parts, ()), false);
        let conn_error = self.conn_error.clone();
        let (max_message, oversized) = (self.max_message, self.oversized.clone());
        Box::pin(async move {
            let (answer, send) = sent.map_err(|e| Transport::from_h2(&e, &conn_error))?;
            tokio::spawn(send_body(body, send));
            let resp = answer
                .await
                .map_err(|e| Transport::from_h2(&e, &conn_error))?;
            if let Some(t) = not_grpc(resp.status(), resp.headers()) {
                return Err(t);
            }
            let (parts, recv) = resp.into_parts();
            Ok(Response::from_parts(
                parts,
                RecvBody {
                    recv,
                    data_done: false,
                    done: false,
                    framing: Framing::default(),
                    max_message,
                    oversized,
                },
            ))
        })
    }
}

/// The request body onto its stream as the peer's window allows; the end of the stream
/// when the body ends, a reset when it fails (our stdin could not be read).
async fn send_body(mut body: tonic::body::Body, mut send: SendStream<Bytes>) {
    use http_body_util::BodyExt as _;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            send.send_reset(h2::Reason::CANCEL);
            return;
        };
        match frame.into_data() {
            Ok(mut data) => {
                while !data.is_empty() {
                    send.reserve_capacity(data.len());
                    let room = std::future::poll_fn(|cx| send.poll_capacity(cx)).await;
                    let Some(Ok(room)) = room else { return };
                    let piece = data.split_to(room.min(data.len()));
                    if send.send_data(piece, false).is_err() {
                        return;
                    }
                }
            }
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    let _ = send.send_trailers(trailers);
                    return;
                }
            }
        }
    }
    let _ = send.send_data(Bytes::new(), true);
}

/// An answer's body for tonic: the stream's data, its window given back as each piece is
/// taken (so a reader that stops reading stops the server), then its trailers, unless the
/// data ended inside a message: tonic would take the trailers (`grpc-status: 0`) for a
/// clean end and drop the cut message without a word; without them it reports the cut.
pub struct RecvBody {
    recv: RecvStream,
    data_done: bool,
    done: bool,
    framing: Framing,
    max_message: usize,
    oversized: Arc<AtomicU64>,
}

/// Where the data is in gRPC's framing: bytes of a 5-byte message prefix read, and of the
/// message it announced still to come.
#[derive(Default)]
struct Framing {
    prefix: [u8; 5],
    have: usize,
    left: usize,
    /// The longest message a prefix announced.
    longest: usize,
}

impl Framing {
    fn advance(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.left > 0 {
                let n = self.left.min(data.len());
                self.left -= n;
                data = &data[n..];
                continue;
            }
            let n = (5 - self.have).min(data.len());
            self.prefix[self.have..self.have + n].copy_from_slice(&data[..n]);
            self.have += n;
            data = &data[n..];
            if self.have == 5 {
                let len = [
                    self.prefix[1],
                    self.prefix[2],
                    self.prefix[3],
                    self.prefix[4],
                ];
                self.left = u32::from_be_bytes(len) as usize;
                self.longest = self.longest.max(self.left);
                self.have = 0;
            }
        }
    }

    /// The data stopped inside a message (or its prefix).
    fn cut(&self) -> bool {
        self.have > 0 || self.left > 0
    }
}

impl http_body::Body for RecvBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        if !self.data_done {
            match ready!(self.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    self.framing.advance(&data);
                    if self.framing.longest > self.max_message {
                        let n = self.framing.longest as u64;
                        self.oversized.store(n, Ordering::Relaxed);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => self.data_done = true,
            }
        }
        if self.framing.cut() {
            self.done = true;
            return Poll::Ready(None);
        }
        let trailers = ready!(self.recv.poll_trailers(cx));
        self.done = true;
        Poll::Ready(match trailers {
            Ok(Some(t)) => Some(Ok(Frame::trailers(t))),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        })
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

/// An answer that cannot be gRPC's: a status other than 200, or a content type other than
/// application/grpc (an HTTP/2 web server answering a POST it does not know).
fn not_grpc(status: http::StatusCode, headers: &HeaderMap) -> Option<Transport> {
    let ct = headers
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let grpc = ct.as_deref().is_some_and(|c| {
        c == "application/grpc"
            || c.starts_with("application/grpc+")
            || c.starts_with("application/grpc;")
    });
    if status == http::StatusCode::OK && grpc {
        return None;
    }
    let ct = match ct {
        Some(c) => format!("content-type {c}"),
        None => "no content-type".to_string(),
    };
    Some(Transport {
        message: format!("the server is not gRPC: it answered HTTP {status} with {ct}"),
        hint: Some("is SOCKET the gRPC server's socket, and the method's name right?"),
    })
}

/// The transport failure behind a status made by tonic (not sent by the server), if any.
pub fn transport_of(status: &tonic::Status) -> Option<Transport> {
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(status);
    while let Some(e) = src {
        if let Some(t) = e.downcast_ref::<Transport>() {
            return Some(t.clone());
        }
        if let Some(h) = e.downcast_ref::<h2::Error>() {
            return Some(Transport {
                message: format!("the HTTP/2 connection failed: {}", chain(h)),
                hint: None,
            });
        }
        src = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_tells_a_cut_message() {
        let mut f = Framing::default();
        // Two whole messages (3 bytes, then empty) in pieces that split the prefix.
        for piece in [
            &b"\x00\x00\x00"[..],
            b"\x00\x03ab",
            b"c\x00\x00\x00\x00\x00",
        ] {
            f.advance(piece);
        }
        assert!(!f.cut());
        // A prefix announcing 100 bytes, 4 of them sent.
        f.advance(b"\x00\x00\x00\x00\x64abcd");
        assert!(f.cut());
        let mut half_prefix = Framing::default();
        half_prefix.advance(b"\x00\x00");
        assert!(half_prefix.cut());
    }
}
