//! `relay --http`: the guard. Each client connection is served by hyper's HTTP/1.1 server;
//! every request is judged by the rules (`rules.rs`) and either answered by udskit itself
//! (403 with a Docker-style JSON message, 400 for what must not reach the upstream) or
//! forwarded on the connection's own connection to TARGET (hyper's client, kept alive,
//! opened at the first request forwarded). Bodies stream both ways frame by frame, so
//! `/events` and `logs?follow=1` arrive live and uploads are never held; a 101 answer
//! turns both connections into the two-way copy. One log line per request.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Either;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue, UPGRADE};
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::body::{Allowances, BODY_LIMIT, Checked};
use super::copy::Meter;
use super::framing::{Flags, HEAD_LIMIT, Watched};
use super::rules::{RoutePath, RuleSet, Scope, Verdict};
use super::{End, Log, RelayPlan};
use crate::net::connect;
use crate::net::kind::Kind;
use crate::net::stream::Stream;
use crate::term::escape;

/// What `--http` and its rules make of the relay.
#[derive(Debug)]
pub struct Guard {
    pub rules: RuleSet,
    /// Forward everything; log what the rules would have denied.
    pub dry_run: bool,
    /// What the body checks let through.
    pub allow: Allowances,
    /// --allow-uid/--allow-gid: the only clients let in.
    pub admit: Option<Scope>,
}

type ReqBody = Either<Incoming, http_body_util::Full<Bytes>>;
type Upstream = hyper::client::conn::http1::SendRequest<ReqBody>;

/// Who is on a connection, as every log line of it names them.
pub struct Who {
    pub id: u64,
    pub peer: String,
    pub cred: Vec<(&'static str, Value)>,
    /// SO_PEERCRED of a unix client: the only identity the rules trust.
    pub cred_raw: Option<crate::net::cred::Cred>,
}

/// One client connection.
struct Conn {
    who: Arc<Who>,
    plan: Arc<RelayPlan>,
    upstream: tokio::sync::Mutex<Option<Upstream>>,
    flags: Arc<Flags>,
    /// Set by the request answered 101: both sides' upgrades and its log record.
    tunnel: std::sync::Mutex<Option<Tunnel>>,
}

struct Tunnel {
    client: OnUpgrade,
    upstream: OnUpgrade,
    record: Record,
}

/// How the guard decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
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
struct Record {
    log: Log,
    who: Arc<Who>,
    method: String,
    target: String,
    started: Instant,
    status: u16,
    decision: Decision,
    rule: String,
    /// Body bytes sent to the client.
    bytes: u64,
    /// After a 101: bytes up and down through the tunnel.
    tunnel: Option<(u64, u64)>,
    reason: Option<String>,
}

impl Drop for Record {
    fn drop(&mut self) {
        // Request lines are info: -q silences them, and then nothing is put together.
        if self.log.ctx.quiet {
            return;
        }
        let secs = self.started.elapsed().as_secs_f64();
        let who = &self.who;
        let amount = match self.tunnel {
            Some((up, down)) => format!("tunnel {up} bytes up, {down} down"),
            None => format!("{} bytes", self.bytes),
        };
        let text = format!(
            "#{} {}: {} {} {}, {amount}, {secs:.3}s, {} (rule: {}){}",
            who.id,
            who.peer,
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
        let mut fields: Vec<(&str, Value)> = vec![
            ("event", "request".into()),
            ("id", who.id.into()),
            ("peer", who.peer.clone().into()),
        ];
        fields.extend_from_slice(&who.cred);
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
        self.log.line(text, fields, false);
    }
}

/// A response body on its way to the client, counted; its record is logged once it ends.
struct Logged {
    body: Option<Incoming>,
    own: Option<Bytes>,
    record: Option<Record>,
}

impl Logged {
    fn upstream(body: Incoming, record: Record) -> Logged {
        Logged {
            body: Some(body),
            own: None,
            record: Some(record),
        }
    }

    fn own(bytes: Bytes, record: Option<Record>) -> Logged {
        let mut l = Logged {
            body: None,
            own: Some(bytes),
            record,
        };
        if let (Some(r), Some(b)) = (l.record.as_mut(), l.own.as_ref()) {
            r.bytes = b.len() as u64;
        }
        l
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        if let Some(rec) = self.record.as_mut()
            && self.body.as_ref().is_some_and(|b| !b.is_end_stream())
            && rec.reason.is_none()
        {
            rec.reason = Some("the client left before the answer ended".into());
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
        let r = Pin::new(body).poll_frame(cx);
        match &r {
            Poll::Ready(Some(Ok(f))) => {
                if let (Some(d), Some(rec)) = (f.data_ref(), me.record.as_mut()) {
                    rec.bytes += d.len() as u64;
                }
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(rec) = me.record.as_mut() {
                    rec.reason = Some(format!("answer cut: {e}"));
                }
            }
            Poll::Ready(None) => me.record = None,
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
fn own_answer(status: StatusCode, message: &str, record: Record, close: bool) -> Response<Logged> {
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

impl Conn {
    fn record(&self, method: &str, target: &str) -> Record {
        Record {
            log: self.plan.log.clone(),
            who: self.who.clone(),
            method: method.to_string(),
            target: target.to_string(),
            started: Instant::now(),
            status: 0,
            decision: Decision::Allow,
            rule: String::new(),
            bytes: 0,
            tunnel: None,
            reason: None,
        }
    }

    async fn handle(
        self: Arc<Self>,
        mut req: Request<Incoming>,
    ) -> Result<Response<Logged>, Infallible> {
        let guard = self.plan.guard.as_ref().expect("serving HTTP with a guard");
        let method = req.method().as_str().to_string();
        let target = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().to_string(), |p| p.as_str().to_string());
        let mut rec = self.record(&method, &target);
        let refuse = |mut rec: Record, why: &str, close: bool| {
            rec.status = 400;
            rec.decision = Decision::Refuse;
            rec.rule = "the guard's HTTP checks".into();
            rec.reason = Some(why.to_string());
            let msg = format!("udskit: {method} request refused: {why}");
            Ok(own_answer(StatusCode::BAD_REQUEST, &msg, rec, close))
        };
        if let Some(admit) = &guard.admit
            && !admit.covers(self.who.cred_raw.as_ref())
        {
            rec.status = 403;
            rec.decision = Decision::Deny;
            rec.rule = "--allow-uid/--allow-gid".into();
            let who = match &self.who.cred_raw {
                Some(c) => format!("uid {} gid {}", c.uid, c.gid),
                None => "a client without credentials".into(),
            };
            let msg = format!(
                "udskit: {method} {} denied: {who} is not let in (rule: --allow-uid/--allow-gid)",
                req.uri().path()
            );
            return Ok(own_answer(StatusCode::FORBIDDEN, &msg, rec, false));
        }
        if self.flags.conflict.load(Ordering::Relaxed) {
            return refuse(
                rec,
                "it has both Content-Length and Transfer-Encoding (a request smuggling attempt)",
                true,
            );
        }
        let path = match RoutePath::new(req.uri().path()) {
            Ok(p) => p,
            Err(why) => return refuse(rec, &why, false),
        };
        let Verdict { allow, rule } =
            guard
                .rules
                .decide(&method, &path, self.who.cred_raw.as_ref());
        rec.rule = rule;
        rec.decision = match (allow, guard.dry_run) {
            (true, _) => Decision::Allow,
            (false, true) => Decision::WouldDeny,
            (false, false) => Decision::Deny,
        };
        if rec.decision == Decision::Deny {
            rec.status = 403;
            let msg = format!(
                "udskit: {method} {} denied (rule: {})",
                req.uri().path(),
                rec.rule
            );
            return Ok(own_answer(StatusCode::FORBIDDEN, &msg, rec, false));
        }
        let client_up = req
            .headers()
            .contains_key(UPGRADE)
            .then(|| hyper::upgrade::on(&mut req));
        let req = match Checked::of(&method, path.route()) {
            None => req.map(Either::Left),
            Some(what) => {
                let (parts, body) = req.into_parts();
                let bytes = match http_body_util::BodyExt::collect(http_body_util::Limited::new(
                    body, BODY_LIMIT,
                ))
                .await
                {
                    Ok(c) => c.to_bytes(),
                    Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                        rec.status = 413;
                        rec.decision = Decision::Refuse;
                        rec.rule = "the guard's body limit".into();
                        let msg = format!(
                            "udskit: {method} {} refused: its body is larger than the {} KiB the guard reads to check it",
                            parts.uri.path(),
                            BODY_LIMIT / 1024
                        );
                        return Ok(own_answer(StatusCode::PAYLOAD_TOO_LARGE, &msg, rec, true));
                    }
                    Err(e) => return refuse(rec, &format!("reading its body: {e}"), true),
                };
                let value: serde_json::Value = match serde_json::from_slice(&bytes) {
                    Ok(v) => v,
                    Err(e) => return refuse(rec, &format!("its body is not JSON: {e}"), false),
                };
                if let Err(r) = guard.allow.check(what, &value) {
                    rec.rule = format!("body check, without {}", r.flag);
                    if !guard.dry_run {
                        rec.status = 403;
                        rec.decision = Decision::Deny;
                        rec.reason = Some(r.why.clone());
                        let msg = format!(
                            "udskit: {method} {} denied: {} (rule: {})",
                            parts.uri.path(),
                            r.why,
                            rec.rule
                        );
                        return Ok(own_answer(StatusCode::FORBIDDEN, &msg, rec, false));
                    }
                    rec.decision = Decision::WouldDeny;
                    rec.reason = Some(r.why);
                }
                // Forwarded as it came, byte for byte.
                Request::from_parts(parts, Either::Right(http_body_util::Full::new(bytes)))
            }
        };
        match self.forward(req).await {
            Err(why) => {
                rec.status = 502;
                rec.reason = Some(why.clone());
                Ok(own_answer(
                    StatusCode::BAD_GATEWAY,
                    &format!("udskit: {why}"),
                    rec,
                    false,
                ))
            }
            Ok(mut resp) => {
                rec.status = resp.status().as_u16();
                if resp.status() == StatusCode::SWITCHING_PROTOCOLS
                    && let Some(client) = client_up
                {
                    // From here the client's bytes are the tunnel's, not HTTP.
                    self.flags.off.store(true, Ordering::Relaxed);
                    let upstream = hyper::upgrade::on(&mut resp);
                    if let Ok(mut t) = self.tunnel.lock() {
                        *t = Some(Tunnel {
                            client,
                            upstream,
                            record: rec,
                        });
                    }
                    return Ok(resp.map(|_| Logged::own(Bytes::new(), None)));
                }
                Ok(resp.map(|b| Logged::upstream(b, rec)))
            }
        }
    }

    /// Sends a request on this connection's connection to TARGET (made now if there is
    /// none yet, or the last one was closed).
    async fn forward(&self, req: Request<ReqBody>) -> Result<Response<Incoming>, String> {
        let mut slot = self.upstream.lock().await;
        let usable = match slot.as_mut() {
            Some(s) if !s.is_closed() => s.ready().await.is_ok(),
            _ => false,
        };
        if !usable {
            *slot = Some(self.connect().await?);
        }
        let sender = slot.as_mut().expect("connected just now");
        let target = &self.plan.target;
        sender
            .ready()
            .await
            .map_err(|e| format!("{}: {e}", escape(&target.to_string())))?;
        sender
            .send_request(req)
            .await
            .map_err(|e| format!("forwarding to {}: {e}", escape(&target.to_string())))
    }

    async fn connect(&self) -> Result<Upstream, String> {
        let plan = &self.plan;
        let target = &plan.target;
        let attempt = || connect::connect_once(target, Kind::Stream);
        let connecting = tokio::time::timeout(
            plan.connect_timeout,
            connect::retry_while(Some(plan.connect_timeout), connect::is_busy, attempt),
        );
        let stream = match connecting.await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let fail = crate::net::explain::connect_error(target, Kind::Stream, &e, None);
                plan.log.ctx.warn(&fail.message);
                return Err(fail.message);
            }
            Err(_) => {
                let msg = format!(
                    "connecting to {}: timed out after {} (--connect-timeout)",
                    escape(&target.to_string()),
                    crate::duration::show(plan.connect_timeout)
                );
                plan.log.ctx.warn(&msg);
                return Err(msg);
            }
        };
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("talking to {}: {e}", escape(&target.to_string())))?;
        tokio::spawn(async move {
            let _ = conn.with_upgrades().await;
        });
        Ok(sender)
    }
}

/// Serves one client connection until it ends; a 101 answer makes it the two-way copy.
pub async fn serve(client: Stream, who: Arc<Who>, plan: Arc<RelayPlan>, meter: Arc<Meter>) -> End {
    let flags = Arc::new(Flags::default());
    let io = TokioIo::new(Watched::new(client, meter.clone(), flags.clone()));
    let idle = plan.idle_timeout;
    let conn = Arc::new(Conn {
        who,
        plan,
        upstream: tokio::sync::Mutex::new(None),
        flags,
        tunnel: std::sync::Mutex::new(None),
    });
    let svc = {
        let conn = conn.clone();
        hyper::service::service_fn(move |req| conn.clone().handle(req))
    };
    // No half_close: a client's EOF ends its connection (and its upstream one) at once, so
    // a client gone from a quiet stream (/events) does not hold it open until the next
    // event; a client that shuts down its sending side right after a request gets no answer.
    let draining = conn.plan.draining.clone();
    let served = async move {
        let mut served = std::pin::pin!(
            hyper::server::conn::http1::Builder::new()
                .max_buf_size(HEAD_LIMIT)
                .serve_connection(io, svc)
                .with_upgrades()
        );
        tokio::select! {
            r = served.as_mut() => r,
            _ = draining.cancelled() => {
                // A stop signal: the request in flight is answered, then the connection
                // ends (an idle keep-alive client's at once), within --grace.
                served.as_mut().graceful_shutdown();
                served.await
            }
        }
    };
    let served = until_idle(served, &meter, idle).await;
    let end = match served {
        None => return End::Idle(idle.unwrap_or_default()),
        Some(Ok(())) => End::Closed,
        Some(Err(e)) if e.is_parse() || e.is_parse_too_large() => {
            End::Error(format!("the client sent malformed HTTP: {e}"))
        }
        // Clients such as the docker CLI hang up once they have what they wanted, before
        // an answer streamed (events, wait) ends; the request's line tells.
        Some(Err(e)) if client_left(&e) => End::Closed,
        Some(Err(e)) => End::Error(format!("client: {e}")),
    };
    let tunnel = conn.tunnel.lock().ok().and_then(|mut t| t.take());
    let Some(Tunnel {
        client,
        upstream,
        mut record,
    }) = tunnel
    else {
        return end;
    };
    let copy = async {
        let (c, u) = tokio::join!(client, upstream);
        let (mut c, mut u) = (
            TokioIo::new(c.map_err(|e| format!("client upgrade: {e}"))?),
            TokioIo::new(u.map_err(|e| format!("upstream upgrade: {e}"))?),
        );
        tokio::io::copy_bidirectional(&mut c, &mut u)
            .await
            .map_err(|e| format!("tunnel: {e}"))
    };
    match until_idle(copy, &meter, idle).await {
        None => End::Idle(idle.unwrap_or_default()),
        Some(Ok(bytes)) => {
            record.tunnel = Some(bytes);
            End::Closed
        }
        Some(Err(e)) => {
            record.reason = Some(e.clone());
            End::Error(e)
        }
    }
}

/// Whether hyper's error is only the client hanging up.
fn client_left(e: &hyper::Error) -> bool {
    if e.is_incomplete_message() || e.is_canceled() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            );
        }
        source = s.source();
    }
    false
}

/// `fut`, or None once no byte has moved for `idle`.
async fn until_idle<T>(
    fut: impl Future<Output = T>,
    meter: &Meter,
    idle: Option<Duration>,
) -> Option<T> {
    match idle {
        Some(limit) => tokio::select! {
            r = fut => Some(r),
            _ = meter.idle(limit) => None,
        },
        None => Some(fut.await),
    }
}
