//! `--http`: the guard's connections to TARGET, shared by the clients of each worker. A
//! request takes an idle connection from the pool (or opens one) and gives it back once
//! its answer has been read to the end, so that a client that closes its connection
//! after each request (`Connection: close`) costs no connect and no hyper client
//! handshake toward TARGET:
//! dockerd and nginx keep a connection open whatever the client asked for, the client's
//! `Connection: close` being for the guard, not for TARGET (a hop-by-hop header). hyper's
//! client writes each request anew with its own framing, so one client's bytes cannot
//! run into another's request on a shared connection.
//!
//! Idle connections are kept by worker (`--threads`): a connection's hyper task runs on
//! the runtime of the worker that opened it, so a request sent on it from another worker
//! costs a cross-thread wakeup each way (an eventfd write, and the other core's cache);
//! taking only the calling worker's own connections took the guard's eventfd writes from
//! 0.67-1.2 per request to under 0.02 under wrk -c64 to nginx's /hello (docs/performance.md).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper::header::CONNECTION;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use super::RelayPlan;
use crate::net::connect;
use crate::net::kind::Kind;
use crate::term::escape;

pub type ReqBody = Either<Incoming, Full<Bytes>>;
pub type Sender = hyper::client::conn::http1::SendRequest<ReqBody>;

/// The most idle connections to TARGET kept between requests: more than the requests a
/// docker client, Traefik or a CI job has in flight at once (and than bench/relay's 64),
/// each costing one descriptor and a few KiB; past it the oldest is closed. Per worker.
const POOL_IDLE: usize = 64;

/// Idle connections to TARGET, newest last, by the worker thread whose runtime drives them.
#[derive(Debug, Default)]
pub struct Pool {
    idle: Mutex<HashMap<ThreadId, Vec<Sender>>>,
}

impl Pool {
    fn take(&self) -> Option<Sender> {
        let me = std::thread::current().id();
        self.idle.lock().ok()?.get_mut(&me)?.pop()
    }

    /// Keeps `sender` for the next request of this worker: a lease is given back on the
    /// thread its request was forwarded from, the one that opened the connection.
    fn put(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let me = std::thread::current().id();
        if let Ok(mut idle) = self.idle.lock() {
            let mine = idle.entry(me).or_default();
            if mine.len() >= POOL_IDLE {
                mine.remove(0);
            }
            mine.push(sender);
        }
    }

    #[cfg(test)]
    fn idle(&self) -> usize {
        self.idle
            .lock()
            .map(|i| i.values().map(Vec::len).sum())
            .unwrap_or(0)
    }
}

/// A connection to TARGET lent to one exchange: back to the pool once its answer was read
/// to the end ([`Lease::give_back`]), closed if dropped before (an answer cut short, a
/// client gone from a stream, a tunnel that ended).
pub struct Lease {
    sender: Option<Sender>,
    pool: Arc<Pool>,
}

impl Lease {
    pub fn give_back(&mut self) {
        if let Some(s) = self.sender.take() {
            self.pool.put(s);
        }
    }
}

/// The client's `Connection: close` ends its own connection, not the one to TARGET: left
/// out, so that TARGET keeps the connection for the next request. Any other connection
/// option (`Upgrade`, a header to drop) goes on as sent.
fn for_target(req: &mut Request<ReqBody>) {
    let values = req.headers().get_all(CONNECTION);
    let only_close = values.iter().next().is_some()
        && values.iter().all(|v| {
            v.as_bytes()
                .split(|&b| b == b',')
                .all(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
        });
    if only_close {
        req.headers_mut().remove(CONNECTION);
    }
}

/// Sends `req` to TARGET on an idle connection of the pool, or on a new one; a pooled
/// connection found closed (TARGET hung up while it was idle) before the request went out
/// is passed over for the next.
pub async fn forward(
    plan: &RelayPlan,
    pool: &Arc<Pool>,
    mut req: Request<ReqBody>,
) -> Result<(Response<Incoming>, Lease), String> {
    for_target(&mut req);
    let target = || escape(&plan.target.to_string()).into_owned();
    loop {
        let (mut sender, reused) = match pool.take() {
            Some(s) => (s, true),
            None => (connect(plan).await?, false),
        };
        if let Err(e) = sender.ready().await {
            if reused {
                continue;
            }
            return Err(format!("{}: {e}", target()));
        }
        match sender.try_send_request(req).await {
            Ok(resp) => {
                let lease = Lease {
                    sender: Some(sender),
                    pool: pool.clone(),
                };
                return Ok((resp, lease));
            }
            Err(mut e) => match e.take_message() {
                Some(again) if reused => req = again,
                _ => return Err(format!("forwarding to {}: {}", target(), e.error())),
            },
        }
    }
}

/// A new connection to TARGET, within --connect-timeout, with hyper's client on it.
async fn connect(plan: &RelayPlan) -> Result<Sender, String> {
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
            let hint = fail.hint.as_deref().filter(|h| plan.log.first_time(h));
            plan.log.ctx.warn_hinted(&fail.message, hint);
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
    match &plan.tls.up {
        None => client_over(stream, target).await,
        // A tls: TARGET: HTTP over TLS, its handshake within --connect-timeout too.
        Some((config, host, shown)) => {
            let handshake = crate::net::tls::connect(config.clone(), host, stream);
            match tokio::time::timeout(plan.connect_timeout, handshake).await {
                Ok(Ok(tls)) => client_over(tls, target).await,
                Ok(Err(e)) => {
                    let msg = format!("connecting to {}: {e}", escape(shown));
                    plan.log.ctx.warn(&msg);
                    Err(msg)
                }
                Err(_) => {
                    let msg = format!(
                        "TLS handshake with {}: no answer within {} (--connect-timeout)",
                        escape(shown),
                        crate::duration::show(plan.connect_timeout)
                    );
                    plan.log.ctx.warn(&msg);
                    Err(msg)
                }
            }
        }
    }
}

/// hyper's client on a new connection to TARGET, its task spawned.
async fn client_over<IO>(io: IO, target: &crate::net::addr::Addr) -> Result<Sender, String>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("talking to {}: {e}", escape(&target.to_string())))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(values: &[&str]) -> Request<ReqBody> {
        let mut b = Request::builder().uri("/_ping");
        for v in values {
            b = b.header(CONNECTION, *v);
        }
        b.body(Either::Right(Full::new(Bytes::new()))).unwrap()
    }

    fn sent(values: &[&str]) -> Vec<String> {
        let mut r = req(values);
        for_target(&mut r);
        r.headers()
            .get_all(CONNECTION)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn only_a_plain_close_is_left_out() {
        assert!(sent(&["close"]).is_empty());
        assert!(sent(&["Close"]).is_empty());
        assert!(sent(&["close", " close "]).is_empty());
        assert_eq!(sent(&["Upgrade"]), ["Upgrade"]);
        assert_eq!(sent(&["close, X-Secret"]), ["close, X-Secret"]);
        assert!(sent(&[]).is_empty());
    }

    /// A connection to a live peer, with its hyper task on this thread's runtime.
    async fn live() -> (Sender, tokio::net::UnixStream) {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake::<_, ReqBody>(TokioIo::new(a))
            .await
            .unwrap();
        tokio::spawn(conn);
        (sender, b)
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_worker_takes_only_the_connections_it_opened() {
        let pool = Arc::new(Pool::default());
        let (sender, _peer) = live().await;
        pool.put(sender);
        assert_eq!(pool.idle(), 1);
        // Another worker's thread finds none of this one's, and opens its own.
        let other = pool.clone();
        let taken = std::thread::spawn(move || other.take().is_some())
            .join()
            .unwrap();
        assert!(!taken);
        assert!(pool.take().is_some());
        assert_eq!(pool.idle(), 0);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_closed_connection_is_not_kept() {
        let pool = Pool::default();
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        drop(b);
        let (sender, conn) = hyper::client::conn::http1::Builder::new()
            .handshake::<_, ReqBody>(TokioIo::new(a))
            .await
            .unwrap();
        let _ = conn.await;
        assert!(sender.is_closed());
        pool.put(sender);
        assert_eq!(pool.idle(), 0);
    }
}
