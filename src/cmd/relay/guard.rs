//! `relay --http`: the guard. Each client connection is served by hyper's HTTP/1.1 server;
//! every request is judged by the rules (`rules.rs`) and either answered by udskit itself
//! (403 with a Docker-style JSON message, 400 for what must not reach the upstream) or
//! forwarded on the connection's own connection to TARGET (hyper's client, kept alive,
//! opened at the first request forwarded). Bodies stream both ways frame by frame, so
//! `/events` and `logs?follow=1` arrive live and uploads are never held (only an answer
//! of known length up to 16 KiB is read whole first, to leave in one write); a 101 answer
//! turns both connections into the two-way copy. One log line per request (`answer.rs`).

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Either;
use hyper::body::Body;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST, HeaderValue, UPGRADE};
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::{RwLock, RwLockReadGuard};
use tokio_util::sync::CancellationToken;

use super::answer::{Decision, Logged, Record, Who, own_answer};
use super::body::{
    Allowances, BODY_LIMIT, Checked, Lookup, Refusal, aliased_container, build_query,
    duplicate_key, lookups, renamed, swarm_objects,
};
use super::copy::Meter;
use super::framing::{Flags, HEAD_LIMIT, Watched};
use super::rules::{RoutePath, RuleSet, Scope, Verdict};
use super::upstream::{self, Lease, Pool};
use super::{Args, End, RelayPlan};

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
    /// --header-timeout: how long a client may take to send a request head.
    pub header_timeout: Option<Duration>,
    /// The idle connections to TARGET, shared by every client.
    pool: Arc<Pool>,
    /// hyper's server settings, made once for every client connection.
    server: hyper::server::conn::http1::Builder,
}

pub fn parse_uid(s: &str) -> Result<u32, String> {
    crate::linux::users::uid_of(s).ok_or_else(|| format!("no user is called {s:?}"))
}

pub fn parse_gid(s: &str) -> Result<u32, String> {
    crate::linux::users::gid_of(s).ok_or_else(|| format!("no group is called {s:?}"))
}

impl Guard {
    /// The guard of `--http`, from its flags and rules file.
    pub fn of(args: &Args) -> anyhow::Result<Option<Guard>> {
        if !args.http {
            return Ok(None);
        }
        let mut rules = RuleSet::new(&args.allow, &args.deny, args.read_only, &args.preset);
        let mut peer_scoped = !args.allow_uid.is_empty() || !args.allow_gid.is_empty();
        if let Some(file) = &args.rules {
            let (scoped, everyone) = super::rulesfile::load(file)?;
            peer_scoped |= !scoped.is_empty();
            rules = rules.with_file(scoped, everyone);
        }
        if peer_scoped && !args.listen.addr().is_unix() {
            return Err(crate::error::Fail::usage(format!(
                "rules for clients by uid or gid need a unix LISTEN (a TCP client has no \
             credentials to check); {} is not one",
                args.listen
            ))
            .into());
        }
        let admit = (!args.allow_uid.is_empty() || !args.allow_gid.is_empty()).then(|| Scope {
            uids: args.allow_uid.clone(),
            gids: args.allow_gid.clone(),
        });
        let mut server = hyper::server::conn::http1::Builder::new();
        server.max_buf_size(HEAD_LIMIT);
        Ok(Some(Guard {
            rules,
            admit,
            pool: Arc::default(),
            server,
            header_timeout: crate::duration::limit(Some(args.header_timeout)),
            dry_run: args.dry_run,
            allow: Allowances {
                privileged: args.allow_privileged,
                cap_add: args.allow_cap_add,
                devices: args.allow_devices,
                binds: args.allow_bind.clone(),
                namespaces: args.allow_host_namespace.clone(),
            },
        }))
    }
}

/// One client connection.
struct Conn {
    who: Arc<Who>,
    plan: Arc<RelayPlan>,
    flags: Arc<Flags>,
    /// Requests handed over by hyper so far.
    served: std::sync::atomic::AtomicUsize,
    /// Set by the request answered 101: both sides' upgrades and its log record.
    tunnel: std::sync::Mutex<Option<Tunnel>>,
}

struct Tunnel {
    client: OnUpgrade,
    upstream: OnUpgrade,
    record: Record,
    /// The connection to TARGET the tunnel runs on, never given back to the pool.
    _lease: Lease,
}

impl Conn {
    /// A request's record. Under -q its line is never written, and the words it would
    /// hold are not copied.
    fn record(&self, req: &Request<Incoming>) -> Record {
        let words = !self.plan.log.ctx.quiet;
        Record {
            log: self.plan.log.clone(),
            who: self.who.clone(),
            method: match words {
                true => req.method().as_str().to_string(),
                false => String::new(),
            },
            target: match (words, req.uri().path_and_query()) {
                (false, _) => String::new(),
                (true, Some(p)) => p.as_str().to_string(),
                (true, None) => req.uri().to_string(),
            },
            started: Instant::now(),
            status: 0,
            decision: Decision::Allow,
            rule: String::new(),
            bytes: 0,
            tunnel: None,
            reason: None,
            in_flight: {
                self.flags.in_flight.fetch_add(1, Ordering::Relaxed);
                self.flags.in_flight.clone()
            },
            cut: self.plan.cut.clone(),
        }
    }

    async fn handle(
        self: Arc<Self>,
        mut req: Request<Incoming>,
    ) -> Result<Response<Logged>, Infallible> {
        let guard = self.plan.guard.as_ref().expect("serving HTTP with a guard");
        // A standard method's clone is no allocation.
        let method = req.method().clone();
        let method = method.as_str();
        let mut rec = self.record(&req);
        let refuse = |rec: Record, why: &str, close: bool| Ok(refused(rec, method, why, close));
        // NAMES, held from a request's lookups until TARGET has answered it.
        let mut reading = None;
        let mut _renaming = None;
        if let Some(admit) = &guard.admit
            && !admit.covers(self.who.cred())
        {
            rec.status = 403;
            rec.decision = Decision::Deny;
            rec.rule = "--allow-uid/--allow-gid".into();
            let who = match self.who.cred() {
                Some(c) => format!("uid {} gid {}", c.uid, c.gid),
                None => "a client without credentials".into(),
            };
            let msg = format!(
                "udskit: {method} {} denied: {who} is not let in (rule: --allow-uid/--allow-gid)",
                req.uri().path()
            );
            drain(req).await;
            return Ok(own_answer(StatusCode::FORBIDDEN, &msg, rec, false));
        }
        // This request's number on the connection (hyper hands them over in order).
        let number = self.served.fetch_add(1, Ordering::Relaxed) + 1;
        let conflict_at = self.flags.conflict_at.load(Ordering::Relaxed);
        if conflict_at != 0 && number >= conflict_at {
            return refuse(
                rec,
                "it has both Content-Length and Transfer-Encoding (a request smuggling attempt)",
                true,
            );
        }
        let path = match RoutePath::new(req.uri().path()) {
            Ok(p) => p,
            Err(why) => {
                drain(req).await;
                return refuse(rec, &why, false);
            }
        };
        // dockerd takes `parent/alias` (a legacy link's) for the container it links to: a
        // path the rules' `*` and the body checks would not see as a container's.
        if aliased_container(method, path.route()) {
            rec.status = 403;
            rec.decision = Decision::Deny;
            rec.rule = "the guard's path checks".into();
            let msg = format!(
                "udskit: {method} {} denied: a container named with a `/` (by way of another's \
                 link alias) is not judged by the guard; name it by its own name or id (rule: \
                 the guard's path checks)",
                req.uri().path()
            );
            drain(req).await;
            return Ok(own_answer(StatusCode::FORBIDDEN, &msg, rec, false));
        }
        let Verdict { allow, rule } = guard.rules.decide(method, &path, self.who.cred());
        if !self.plan.log.ctx.quiet {
            rec.rule = rule.to_string();
        }
        rec.decision = match (allow, guard.dry_run) {
            (true, _) => Decision::Allow,
            (false, true) => Decision::WouldDeny,
            (false, false) => Decision::Deny,
        };
        if rec.decision == Decision::Deny {
            rec.status = 403;
            let msg = format!(
                "udskit: {method} {} denied (rule: {rule})",
                req.uri().path()
            );
            drain(req).await;
            return Ok(own_answer(StatusCode::FORBIDDEN, &msg, rec, false));
        }
        // A rename of a container in the host's network (which every container joined to
        // container:NEWNAME would join at its next start), and what a build's query asks of
        // the host, judged as a create's body would be.
        let route = path.route();
        let prejudged = if let Some(name) = renamed(method, route) {
            // Renames wait for the creates being judged, and these for them (NAMES).
            _renaming = Some(NAMES.write().await);
            let host = req.headers().get(HOST).cloned();
            let todo = guard.allow.rename_lookups(name);
            let judged = self.looked_up(guard, todo, host).await;
            let judged = judged.map_err(|e| match e {
                // (Not the lookups' limit, which no flag lifts.)
                Unjudged::Denied(r) if !r.flag.is_empty() => Unjudged::Denied(Refusal {
                    why: format!(
                        "renaming {name} is not allowed: it is in the host's network \
                         namespace, which every container joined to container:NEWNAME would \
                         join when it starts"
                    ),
                    ..r
                }),
                e => e,
            });
            Some(("rename check", judged))
        } else {
            let form = || req.headers().get_all(CONTENT_TYPE).iter().any(maybe_form);
            match build_query(method, route, req.uri().query(), form) {
                Ok(asked) if asked.is_empty() => None,
                Err(r) => Some(("query check", Err(Unjudged::Denied(r)))),
                Ok(asked) => {
                    // NAMES only for the lookups: dockerd answers a build after its whole
                    // upload, and joins container:X at each step anyway (a rename that
                    // would lead X to the host's network is refused, above).
                    let mut lookups_only = None;
                    let mut judged = Ok(());
                    for value in &asked {
                        let host = req.headers().get(HOST).cloned();
                        let what = Checked::ContainerCreate;
                        judged = self
                            .judge(guard, what, value, host, &mut lookups_only)
                            .await;
                        if judged.is_err() {
                            break;
                        }
                    }
                    Some(("query check", judged))
                }
            }
        };
        if let Some((check, judged)) = prejudged {
            rec = match verdict(guard, rec, method, req.uri().path(), check, judged) {
                Ok(rec) => rec,
                Err(answer) => {
                    drain(req).await;
                    return Ok(*answer);
                }
            };
        }
        let client_up = req
            .headers()
            .contains_key(UPGRADE)
            .then(|| hyper::upgrade::on(&mut req));
        let req = match Checked::of(method, path.route()) {
            None => req.map(Either::Left),
            Some(what) => {
                let (parts, body) = req.into_parts();
                let collect = http_body_util::BodyExt::collect(http_body_util::Limited::new(
                    body, BODY_LIMIT,
                ));
                // A body held back holds the connection no longer than a head may.
                let collected = match guard.header_timeout {
                    None => collect.await,
                    Some(limit) => match tokio::time::timeout(limit, collect).await {
                        Ok(c) => c,
                        Err(_) => {
                            rec.status = 408;
                            rec.decision = Decision::Refuse;
                            rec.rule = "--header-timeout".into();
                            let msg = format!(
                                "udskit: {method} {} refused: its body did not come within {} \
                                 (--header-timeout)",
                                parts.uri.path(),
                                crate::duration::show(limit)
                            );
                            return Ok(own_answer(StatusCode::REQUEST_TIMEOUT, &msg, rec, true));
                        }
                    },
                };
                let bytes = match collected {
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
                // A start without a body (every client since API 1.24) has nothing to check.
                if what == Checked::Start && bytes.trim_ascii().is_empty() {
                    let body = Either::Right(http_body_util::Full::new(bytes));
                    return self
                        .forward(Request::from_parts(parts, body), rec, client_up)
                        .await;
                }
                let value: serde_json::Value = match serde_json::from_slice(&bytes) {
                    Ok(v) => v,
                    Err(e) => return refuse(rec, &format!("its body is not JSON: {e}"), false),
                };
                if let Some(key) = duplicate_key(&bytes) {
                    let why = format!(
                        "its body gives the key {key} twice in one object (in one case or two: \
                         dockerd would take both)"
                    );
                    return refuse(rec, &why, false);
                }
                let host = parts.headers.get(HOST).cloned();
                let judged = self.judge(guard, what, &value, host, &mut reading).await;
                let uri = parts.uri.path();
                rec = match verdict(guard, rec, method, uri, "body check", judged) {
                    Ok(rec) => rec,
                    Err(answer) => return Ok(*answer),
                };
                // Forwarded as it came, byte for byte.
                Request::from_parts(parts, Either::Right(http_body_util::Full::new(bytes)))
            }
        };
        self.forward(req, rec, client_up).await
    }

    /// Sends an allowed request on to TARGET and its answer back (a 101 becomes the
    /// connection's tunnel).
    async fn forward(
        &self,
        req: Request<Either<Incoming, http_body_util::Full<Bytes>>>,
        mut rec: Record,
        client_up: Option<OnUpgrade>,
    ) -> Result<Response<Logged>, Infallible> {
        let guard = self.plan.guard.as_ref().expect("serving HTTP with a guard");
        match upstream::forward(&self.plan, &guard.pool, req).await {
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
            Ok((mut resp, lease)) => {
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
                            _lease: lease,
                        });
                    }
                    return Ok(resp.map(|_| Logged::own(Bytes::new(), None)));
                }
                if resp
                    .body()
                    .size_hint()
                    .exact()
                    .is_some_and(|n| n > 0 && n <= WHOLE_LIMIT)
                {
                    return Ok(whole(resp, rec, lease).await);
                }
                Ok(resp.map(|b| Logged::upstream(b, rec, lease)))
            }
        }
    }
}

/// The longest answer of known length read whole before its head goes to the client.
/// hyper's server sends the head as soon as it has it and the body when TARGET's
/// connection task hands it over, two writes (and two segments to the client) for a
/// `/_ping`; read first, head and body leave in one. A body this short cannot be a stream
/// that must arrive live: streams (`/events`, `logs?follow=1`) are chunked or end at EOF.
const WHOLE_LIMIT: u64 = 16 * 1024;

/// A short answer of known length, read to its end and sent as one: its connection to
/// TARGET back in the pool first. TARGET cutting it short is a 502 with the reason.
async fn whole(resp: Response<Incoming>, mut rec: Record, mut lease: Lease) -> Response<Logged> {
    let (parts, body) = resp.into_parts();
    match http_body_util::BodyExt::collect(body).await {
        Ok(c) => {
            lease.give_back();
            Response::from_parts(parts, Logged::own(c.to_bytes(), Some(rec)))
        }
        Err(e) => {
            let why = format!("reading the answer: {e}");
            rec.status = 502;
            rec.reason = Some(why.clone());
            own_answer(
                StatusCode::BAD_GATEWAY,
                &format!("udskit: {why}"),
                rec,
                false,
            )
        }
    }
}

/// Serves one client connection until it ends; a 101 answer makes it the two-way copy.
pub async fn serve<S>(client: S, who: Arc<Who>, plan: Arc<RelayPlan>, meter: Arc<Meter>) -> End
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let flags = Arc::new(Flags::default());
    let guard = plan.guard.as_ref().expect("serving HTTP with a guard");
    let flow = plan
        .pcap
        .map(|p| super::capture::open(p, who.id, who.text(), &plan));
    let io = TokioIo::new(
        Watched::new(client, meter.clone(), flags.clone(), guard.header_timeout).capture(flow),
    );
    let idle = plan.idle_timeout;
    let conn = Arc::new(Conn {
        who,
        plan,
        flags,
        served: Default::default(),
        tunnel: std::sync::Mutex::new(None),
    });
    let svc = {
        let conn = conn.clone();
        hyper::service::service_fn(move |req| conn.clone().handle(req))
    };
    // No half_close: a client's EOF ends its connection (and its upstream one) at once, so
    // a client gone from a quiet stream (/events) does not hold it open until the next
    // event; a client that shuts down its sending side right after a request gets no answer.
    let draining = worker_draining(&conn.plan);
    let guard = conn.plan.guard.as_ref().expect("serving HTTP with a guard");
    let connection = guard.server.serve_connection(io, svc).with_upgrades();
    let served = async move {
        let mut served = std::pin::pin!(connection);
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
        Some(_) if conn.flags.refused.get().is_some() => {
            let why = conn.flags.refused.get().copied();
            return End::Error(why.map(|w| w.words()).unwrap_or_default());
        }
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
        _lease,
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

thread_local! {
    /// This worker's child of the plan's drain token, and the plan it is of.
    static DRAINING: std::cell::Cell<Option<(usize, &'static CancellationToken)>> =
        const { std::cell::Cell::new(None) };
}

/// The drain token as this worker's connections wait on it: a child of the plan's, made
/// once per worker thread (and kept for the life of the process). A token's waiters are a
/// list under a lock that each client connection joined and left, taking that lock again
/// to clone and drop its handle and at every wakeup to read the state: with one token for
/// every worker both threads took the same lock several times per request; a child per
/// worker keeps the lock on its own core, and a reference takes no handle.
fn worker_draining(plan: &Arc<RelayPlan>) -> &'static CancellationToken {
    let of = Arc::as_ptr(plan) as usize;
    match DRAINING.get() {
        Some((p, token)) if p == of => token,
        _ => {
            let token: &'static CancellationToken =
                Box::leak(Box::new(plan.draining.child_token()));
            DRAINING.set(Some((of, token)));
            token
        }
    }
}

/// Why a body (or what a query asks) was not let through.
enum Unjudged {
    /// What it takes is not allowed.
    Denied(Refusal),
    /// It names a container, volume or network by something that is not a name.
    NotAName(String),
    /// TARGET did not answer a lookup in a way the guard could judge.
    Unanswered(String),
}

/// The most lookups one create may cost (each container whose namespace is shared in turn,
/// each of VolumesFrom and each volume among their mounts); a create needing more is
/// refused rather than judged in part.
const LOOKUPS_MAX: usize = 32;

/// The largest answer to a lookup the guard reads (a container's inspect JSON, with all
/// its labels and environment, is rarely over a few tens of KiB).
const LOOKUP_LIMIT: usize = 4 * BODY_LIMIT;

impl Conn {
    /// Looks up on TARGET, one after the other, what a create takes from other containers,
    /// and what that leads to, judging each (`Allowances::looked_up`). A name TARGET does
    /// not know (404) is judged by `Allowances::not_found` (most are left for TARGET to
    /// refuse the create with).
    async fn looked_up(
        &self,
        guard: &Guard,
        mut todo: Vec<Lookup>,
        host: Option<HeaderValue>,
    ) -> Result<(), Unjudged> {
        let mut done = 0;
        while let Some(lookup) = todo.pop() {
            done += 1;
            if done > LOOKUPS_MAX {
                return Err(Unjudged::Denied(Refusal {
                    why: format!(
                        "it takes more from other containers than the {LOOKUPS_MAX} lookups \
                         the guard makes to check a request"
                    ),
                    // No flag allows it.
                    flag: String::new(),
                }));
            }
            let path = lookup.path().map_err(Unjudged::NotAName)?;
            let unanswered =
                |why: String| Unjudged::Unanswered(format!("looking up {path}: {why}"));
            // HTTP/1.1 wants a Host (dockerd answers 400 without one): the client's, else
            // the one the docker CLI sends.
            let req = Request::get(path.as_str())
                .header(
                    HOST,
                    host.clone().unwrap_or(HeaderValue::from_static("docker")),
                )
                .body(Either::Right(http_body_util::Full::new(Bytes::new())))
                .map_err(|e| unanswered(e.to_string()))?;
            let (resp, mut lease) = upstream::forward(&self.plan, &guard.pool, req)
                .await
                .map_err(unanswered)?;
            let status = resp.status();
            let body = http_body_util::BodyExt::collect(http_body_util::Limited::new(
                resp.into_body(),
                LOOKUP_LIMIT,
            ))
            .await
            .map_err(|e| unanswered(e.to_string()))?
            .to_bytes();
            lease.give_back();
            if status == StatusCode::NOT_FOUND {
                guard.allow.not_found(&lookup).map_err(Unjudged::Denied)?;
                continue;
            }
            if status != StatusCode::OK {
                return Err(unanswered(format!("TARGET answered {status}")));
            }
            let found: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| unanswered(format!("the answer is not JSON: {e}")))?;
            todo.extend(
                guard
                    .allow
                    .looked_up(&lookup, &found)
                    .map_err(Unjudged::Denied)?,
            );
        }
        Ok(())
    }
}

impl Conn {
    /// Judges `value`, a body of kind `what` (or what a query asks, put as one): the body
    /// checks, swarm objects a service reads, then what it takes from other containers
    /// and volumes, looked up (with [`NAMES`] taken into `names` for that, for the caller
    /// to hold until TARGET has answered).
    async fn judge(
        &self,
        guard: &Guard,
        what: Checked,
        value: &serde_json::Value,
        host: Option<HeaderValue>,
        names: &mut Option<RwLockReadGuard<'static, ()>>,
    ) -> Result<(), Unjudged> {
        guard.allow.check(what, value).map_err(Unjudged::Denied)?;
        // A service handed swarm secrets or configs reads them out: only a client the
        // rules let read them may.
        if what == Checked::Service {
            for kind in swarm_objects(value) {
                let route = RoutePath::new(&format!("/{kind}")).expect("a canonical path");
                if !guard.rules.decide("GET", &route, self.who.cred()).allow {
                    return Err(Unjudged::Denied(Refusal {
                        why: format!(
                            "a service given swarm {kind} reads them; the rules do not let \
                             this client read /{kind}"
                        ),
                        flag: format!("--allow 'GET /{kind}'"),
                    }));
                }
            }
        }
        let todo = lookups(what, value);
        if !todo.is_empty() && names.is_none() {
            *names = Some(NAMES.read().await);
        }
        self.looked_up(guard, todo, host).await
    }
}

/// Taken to read while a request's lookups are judged and until TARGET has answered it,
/// and to write for a rename: through this guard, no rename changes what a name means
/// between the lookup that judged it and dockerd's use of it (a rename loop swapping a
/// harmless container with one that binds a host path got creates past the lookups).
static NAMES: RwLock<()> = RwLock::const_new(());

/// The record of a request that `judged` let through (under --dry-run, one it would have
/// denied), or the answer udskit gives it: a 403 naming the check (`check`: "body check")
/// and the flag that would allow it, a 400 for a name that is not one, a 502 for a lookup
/// TARGET did not answer.
fn verdict(
    guard: &Guard,
    mut rec: Record,
    method: &str,
    path: &str,
    check: &str,
    judged: Result<(), Unjudged>,
) -> Result<Record, Box<Response<Logged>>> {
    let r = match judged {
        Ok(()) => return Ok(rec),
        Err(Unjudged::Denied(r)) => r,
        Err(Unjudged::NotAName(why)) => return Err(Box::new(refused(rec, method, &why, false))),
        Err(Unjudged::Unanswered(why)) => {
            rec.status = 502;
            rec.decision = Decision::Refuse;
            rec.rule = check.into();
            rec.reason = Some(why.clone());
            let msg = format!("udskit: {method} {path} refused: {why}");
            return Err(Box::new(own_answer(
                StatusCode::BAD_GATEWAY,
                &msg,
                rec,
                false,
            )));
        }
    };
    rec.rule = match r.flag.as_str() {
        "" => check.to_string(),
        flag => format!("{check}, without {flag}"),
    };
    rec.reason = Some(r.why);
    if guard.dry_run {
        rec.decision = Decision::WouldDeny;
        return Ok(rec);
    }
    rec.status = 403;
    rec.decision = Decision::Deny;
    let why = rec.reason.as_deref().unwrap_or_default();
    let msg = format!("udskit: {method} {path} denied: {why} (rule: {})", rec.rule);
    Err(Box::new(own_answer(
        StatusCode::FORBIDDEN,
        &msg,
        rec,
        false,
    )))
}

/// udskit's `400` for a request that must not reach TARGET (`close`: and the end of
/// the connection after it).
fn refused(mut rec: Record, method: &str, why: &str, close: bool) -> Response<Logged> {
    rec.status = 400;
    rec.decision = Decision::Refuse;
    rec.rule = "the guard's HTTP checks".into();
    rec.reason = Some(why.to_string());
    let msg = format!("udskit: {method} request refused: {why}");
    own_answer(StatusCode::BAD_REQUEST, &msg, rec, close)
}

/// Whether a Content-Type may be a form Go's net/http reads parameters from (urlencoded,
/// or multipart/form-data); Go lowercases it by Unicode's rules (`İ` to i), so a value
/// that is not plain ASCII is taken for one.
fn maybe_form(t: &HeaderValue) -> bool {
    let Ok(t) = t.to_str() else {
        return true;
    };
    let media = t.split(';').next().unwrap_or("").trim();
    ["application/x-www-form-urlencoded", "multipart/form-data"]
        .iter()
        .any(|f| media.eq_ignore_ascii_case(f))
}

/// Reads and drops the body of a request answered without it (up to DRAIN_BYTES, for up
/// to DRAIN_TIME): hyper ends a connection whose request body was left unread, and a
/// client still sending it (the docker CLI writes a create's body after its head) would
/// get a broken pipe instead of the answer.
async fn drain(req: Request<Incoming>) {
    use crate::net::stream::{DRAIN_BYTES, DRAIN_TIME};
    let body = http_body_util::Limited::new(req.into_body(), DRAIN_BYTES);
    let _ = tokio::time::timeout(DRAIN_TIME, http_body_util::BodyExt::collect(body)).await;
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
                std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::ConnectionReset
                    // A TLS client that closed its connection without a close_notify.
                    | std::io::ErrorKind::UnexpectedEof
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_go_may_read_a_form_from() {
        for t in [
            &b"application/x-www-form-urlencoded"[..],
            b"Multipart/Form-Data; boundary=x",
            b" application/x-www-form-urlencoded ; charset=utf-8",
            b"application/x-www-form-urlencoded; x=\xff",
            b"appl\xc4\xb0cation/x-www-form-urlencoded",
        ] {
            let v = HeaderValue::from_bytes(t).unwrap();
            assert!(maybe_form(&v), "{t:?}");
        }
        for t in [
            "application/x-tar",
            "application/octet-stream",
            "text/plain",
            "multipart/mixed",
        ] {
            assert!(!maybe_form(&HeaderValue::from_static(t)), "{t}");
        }
    }
}
