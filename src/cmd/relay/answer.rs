//! The guard's answers on their way to the client: a response body counted frame by
//! frame (`Logged`), the one log line of each request, written when its answer has been
//! sent or dropped so that it holds the bytes and time of a streamed answer too
//! (`Record`), and udskit's own answers with the Docker-style JSON message.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::Value;

use super::Log;
use super::upstream::Lease;
use crate::net::cred::{Cred, Peer};
use crate::term::escape;

/// Who is on a connection, as every log line of it names them: `127.0.0.1:5555`, `pid
/// 1234 (curl) uid 0 gid 0`, `10.0.0.7:4711 (via ...)` behind a PROXY header; and a unix
/// client's credentials as `--log-json` fields. Put together when first asked for: the
/// relay asks at accept when its log shows connections (the client's command can still be
/// read from /proc then), and under `-q` nothing may ask at all.
pub struct Who {
    pub id: u64,
    peer: Peer,
    /// The client a PROXY header named.
    proxied: Option<String>,
    named: OnceLock<(String, Vec<(&'static str, Value)>)>,
}

impl Who {
    pub fn new(id: u64, peer: &Peer, proxied: Option<String>) -> Who {
        Who {
            id,
            peer: peer.clone(),
            proxied,
            named: OnceLock::new(),
        }
    }

    /// SO_PEERCRED of a unix client: the only identity the rules trust.
    pub fn cred(&self) -> Option<&Cred> {
        self.peer.cred.as_ref()
    }

    /// The client as the log names it.
    pub fn text(&self) -> &str {
        &self.named().0
    }

    /// The client's credentials (and the client a PROXY header named) as JSON fields.
    pub fn fields(&self) -> &[(&'static str, Value)] {
        &self.named().1
    }

    fn named(&self) -> &(String, Vec<(&'static str, Value)>) {
        self.named.get_or_init(|| {
            // The command is read once, for the text and the fields.
            let command = self.peer.cred.and_then(|c| c.command());
            let shown = self.peer.with_command(command.as_deref()).to_string();
            let mut text = escape(&shown).into_owned();
            let mut fields: Vec<(&'static str, Value)> = match self.peer.cred {
                Some(c) => vec![
                    ("peer_pid", c.pid.into()),
                    ("peer_uid", c.uid.into()),
                    ("peer_gid", c.gid.into()),
                    ("peer_command", command.into()),
                ],
                None => Vec::new(),
            };
            if let Some(c) = &self.proxied {
                text = format!("{} (via {text})", escape(c));
                fields.push(("proxied_client", c.as_str().into()));
            }
            (text, fields)
        })
    }
}

/// How the guard decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    /// --dry-run: forwarded, but the rules would have denied it.
    WouldDeny,
    /// Refused before the rules: malformed, or a smuggling attempt.
    Refuse,
}

impl Decision {
    fn word(self) -> &'static str {
        match self {
            Decision::Allow => "allowed",
            Decision::Deny => "denied",
            Decision::WouldDeny => "would be denied (--dry-run)",
            Decision::Refuse => "refused",
        }
    }
}

/// One request's log line, written when its answer has been sent (or the connection
/// dropped it), so that it holds the bytes and time of a streamed answer too.
pub struct Record {
    pub log: Log,
    pub who: Arc<Who>,
    pub method: String,
    pub target: String,
    pub started: Instant,
    pub status: u16,
    pub decision: Decision,
    pub rule: String,
    /// Body bytes sent to the client.
    pub bytes: u64,
    /// After a 101: bytes up and down through the tunnel.
    pub tunnel: Option<(u64, u64)>,
    pub reason: Option<String>,
    /// The connection's count of requests being answered, this one among them until the
    /// record goes.
    pub in_flight: Arc<AtomicUsize>,
    /// The relay's end of --grace: an answer cut then was not left by the client.
    pub cut: tokio_util::sync::CancellationToken,
}

impl Drop for Record {
    fn drop(&mut self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        // Request lines are info: -q silences them, and then nothing is put together.
        if self.log.ctx.quiet {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64();
        let who = &self.who;
        // One of the two forms is written: the other is not put together.
        if self.log.json {
            self.log.line(String::new(), self.fields(secs), false);
            return;
        }
        let amount = match self.tunnel {
            Some((up, down)) => format!("tunnel {up} bytes up, {down} down"),
            None => format!("{} bytes", self.bytes),
        };
        let text = format!(
            "#{} {}: {} {} {}, {amount}, {secs:.3}s, {} (rule: {}){}",
            who.id,
            who.text(),
            escape(&self.method),
            escape(&self.target),
            self.status,
            self.decision.word(),
            escape(&self.rule),
            self.reason
                .as_deref()
                .map(|r| format!(": {}", escape(r)))
                .unwrap_or_default()
        );
        self.log.line(text, Vec::new(), false);
    }
}

impl Record {
    /// The request's `--log-json` object, after `secs` seconds.
    fn fields(&self, secs: f64) -> Vec<(&'static str, Value)> {
        let who = &self.who;
        let mut fields: Vec<(&str, Value)> = vec![
            ("event", "request".into()),
            ("id", who.id.into()),
            ("peer", who.text().into()),
        ];
        fields.extend_from_slice(who.fields());
        fields.extend([
            ("method", self.method.clone().into()),
            ("target", self.target.clone().into()),
            ("status", self.status.into()),
            ("bytes", self.bytes.into()),
        ]);
        if let Some((up, down)) = self.tunnel {
            fields.extend([("tunnel_up", up.into()), ("tunnel_down", down.into())]);
        }
        fields.extend([
            ("duration_s", ((secs * 1e6).round() / 1e6).into()),
            (
                "decision",
                match self.decision {
                    Decision::Allow => "allow",
                    Decision::Deny => "deny",
                    Decision::WouldDeny => "would-deny",
                    Decision::Refuse => "refuse",
                }
                .into(),
            ),
            ("rule", self.rule.clone().into()),
            ("reason", self.reason.clone().into()),
        ]);
        fields
    }
}

/// A response body on its way to the client, counted; its record is logged once it ends.
pub struct Logged {
    body: Option<Incoming>,
    own: Option<Bytes>,
    record: Option<Record>,
    /// The connection to TARGET the body comes on, given back once it has all been read.
    lease: Option<Lease>,
}

impl Logged {
    pub fn upstream(body: Incoming, record: Record, mut lease: Lease) -> Logged {
        // hyper does not read a body that is empty from the start (HEAD, 204, 304,
        // Content-Length: 0): the exchange is already over.
        if body.is_end_stream() {
            lease.give_back();
        }
        Logged {
            body: Some(body),
            own: None,
            record: Some(record),
            lease: Some(lease),
        }
    }

    pub fn own(bytes: Bytes, record: Option<Record>) -> Logged {
        let mut l = Logged {
            body: None,
            own: Some(bytes),
            record,
            lease: None,
        };
        if let (Some(r), Some(b)) = (l.record.as_mut(), l.own.as_ref()) {
            r.bytes = b.len() as u64;
        }
        l
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        // hyper stops reading a body once it says it has ended, without asking for the
        // end: the exchange is over all the same.
        if let (Some(lease), Some(body)) = (self.lease.as_mut(), self.body.as_ref())
            && body.is_end_stream()
        {
            lease.give_back();
        }
        if let Some(rec) = self.record.as_mut()
            && self.body.as_ref().is_some_and(|b| !b.is_end_stream())
            && rec.reason.is_none()
        {
            rec.reason = Some(match rec.cut.is_cancelled() {
                true => "cut at the end of the grace period".into(),
                false => "the client left before the answer ended".into(),
            });
        }
    }
}

impl Body for Logged {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let me = self.get_mut();
        let Some(body) = me.body.as_mut() else {
            let own = me.own.take().map(|b| Ok(Frame::data(b)));
            if own.is_none() {
                me.record = None;
            }
            return Poll::Ready(own);
        };
        let r = Pin::new(&mut *body).poll_frame(cx);
        match &r {
            Poll::Ready(Some(Ok(f))) => {
                if let (Some(d), Some(rec)) = (f.data_ref(), me.record.as_mut()) {
                    rec.bytes += d.len() as u64;
                }
                if body.is_end_stream()
                    && let Some(lease) = me.lease.as_mut()
                {
                    lease.give_back();
                }
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(rec) = me.record.as_mut() {
                    rec.reason = Some(format!("answer cut: {e}"));
                }
            }
            Poll::Ready(None) => {
                me.record = None;
                if let Some(lease) = me.lease.as_mut() {
                    lease.give_back();
                }
            }
            Poll::Pending => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        match &self.body {
            Some(b) => b.is_end_stream(),
            None => self.own.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.body, &self.own) {
            (Some(b), _) => b.size_hint(),
            (None, Some(o)) => SizeHint::with_exact(o.len() as u64),
            (None, None) => SizeHint::with_exact(0),
        }
    }
}

/// An answer of udskit's own, with the JSON body the docker CLI prints as the message.
pub fn own_answer(
    status: StatusCode,
    message: &str,
    record: Record,
    close: bool,
) -> Response<Logged> {
    let body = format!("{}\n", serde_json::json!({ "message": message }));
    let mut resp = Response::new(Logged::own(Bytes::from(body), Some(record)));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if close {
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

/// An answer of udskit's own as raw HTTP/1.1 bytes, for a client refused before hyper
/// parsed its head: the same JSON message, and the connection closed after it.
pub fn raw_answer(status: StatusCode, message: &str) -> Vec<u8> {
    let body = format!("{}\n", serde_json::json!({ "message": message }));
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        status.as_str(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    )
    .into_bytes()
}
