//! The HTTP/2 connection under `udskit grpc`: our own connected stream (any address of the
//! grammar, `--wait`, `--connect-timeout`) with hyper's h2c client on it, handed to tonic
//! as the service its calls go through; an answer that is not gRPC, or a peer that does not
//! speak HTTP/2, becomes an error that says so instead of tonic's guess at a status.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

use crate::error::{FAILURE, Fail};
use crate::net::addr::Addr;
use crate::net::connect::{self, ConnectOpts};
use crate::net::kind::Kind;
use crate::net::stream::Stream;
use crate::term::escape;

/// The HTTP/2 flow-control window, per stream and for the connection: hyper's default of
/// 64 KiB lets a server stream only one window per round trip; 8 MiB keeps a fast stream
/// (or a 10 MiB message) flowing, for memory a slow reader never fills.
const WINDOW: u32 = 8 * 1024 * 1024;

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
    fn from_hyper(e: &hyper::Error, conn: &Mutex<Option<String>>) -> Transport {
        // The connection task's own error says more ("frame with invalid size") than the
        // request's ("connection closed").
        let conn = conn.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let cause = conn.unwrap_or_else(|| chain(e));
        let not_h2 = e.is_parse()
            || cause.contains("frame")
            || cause.contains("PROTOCOL_ERROR")
            || cause.contains("preface")
            || e.is_incomplete_message()
            || cause.contains("connection closed");
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
    tx: http2::SendRequest<tonic::body::Body>,
    /// Why the connection task ended, once it has.
    conn_error: Arc<Mutex<Option<String>>>,
    pub origin: Uri,
}

/// The HTTP/2 handshake on `stream` (prior knowledge, as gRPC speaks it in clear), the
/// connection driven by a task of its own; `authority` becomes every call's `:authority`.
pub async fn handshake(stream: Stream, authority: &str) -> Result<Channel, Fail> {
    let origin: Uri = format!("http://{authority}").parse().map_err(|_| {
        Fail::usage(format!(
            "--authority '{}': not a host[:port]",
            escape(authority)
        ))
    })?;
    let conn_error = Arc::new(Mutex::new(None));
    let (tx, conn) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .initial_stream_window_size(WINDOW)
        .initial_connection_window_size(WINDOW)
        .max_frame_size(1 << 20)
        .handshake(TokioIo::new(stream))
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
    })
}

impl tower_service::Service<Request<tonic::body::Body>> for Channel {
    type Response = Response<Incoming>;
    type Error = Transport;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Transport>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Transport>> {
        self.tx
            .poll_ready(cx)
            .map_err(|e| Transport::from_hyper(&e, &self.conn_error))
    }

    fn call(&mut self, req: Request<tonic::body::Body>) -> Self::Future {
        let sent = self.tx.send_request(req);
        let conn_error = self.conn_error.clone();
        Box::pin(async move {
            let resp = sent
                .await
                .map_err(|e| Transport::from_hyper(&e, &conn_error))?;
            not_grpc(&resp).map_or(Ok(resp), Err)
        })
    }
}

/// An answer that cannot be gRPC's: a status other than 200, or a content type other than
/// application/grpc (an HTTP/2 web server answering a POST it does not know).
fn not_grpc(resp: &Response<Incoming>) -> Option<Transport> {
    let ct = resp
        .headers()
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let grpc = ct.as_deref().is_some_and(|c| {
        c == "application/grpc"
            || c.starts_with("application/grpc+")
            || c.starts_with("application/grpc;")
    });
    if resp.status() == http::StatusCode::OK && grpc {
        return None;
    }
    let ct = match ct {
        Some(c) => format!("content-type {c}"),
        None => "no content-type".to_string(),
    };
    Some(Transport {
        message: format!(
            "the server is not gRPC: it answered HTTP {} with {ct}",
            resp.status()
        ),
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
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            return Some(Transport {
                message: format!("the HTTP/2 connection failed: {}", chain(h)),
                hint: None,
            });
        }
        src = e.source();
    }
    None
}
