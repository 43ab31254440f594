//! `udskit relay LISTEN TARGET`: a concurrent proxy between any two stream addresses (TCP
//! to UDS, UDS to TCP, UDS to UDS, TCP to TCP) in one process, on `--threads` workers
//! (`workers.rs`), each a thread with its own current-thread runtime. Each client gets
//! its own connection to TARGET; bytes move with splice(2) (or through a buffer when
//! `--dump` shows them), half-close is passed on, and every connection is logged with its
//! peer, bytes each way, duration and how it ended.

mod accept;
mod answer;
mod body;
mod capture;
mod copy;
mod dgram;
mod dump;
mod fdpass;
mod framing;
mod guard;
mod itself;
mod proxy;
mod rules;
mod rulesfile;
mod side;
mod tls;
mod upstream;
mod workers;

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::duration;
use crate::error::Fail;
use crate::io::pcap::Pcap;
use crate::net::activate::{self, InheritOpts, Need, Source};
use crate::net::addr::Addr;
use crate::net::bind::{self, BindOpts};
use crate::net::busypoll::BusyPoll;
use crate::net::connect;
use crate::net::cred::Peer;
use crate::net::kind::Kind;
use crate::net::listener::Listener;
use crate::net::stream::{Detached, Stream};
use crate::net::tls::Endpoint;
use crate::shutdown::Shutdown;
use crate::term::json::{json_object, utc_timestamp};
use crate::term::{Ctx, escape};
use answer::Who;
use copy::{Copier, Direction, How, Meter, Outcome, Seen};
use dump::Dump;
use guard::Guard;
use rules::{Preset, Rule};
use serde_json::Value;
use side::Spare;

/// Relay connections between two stream addresses (TCP <-> UDS)
///
/// Every client that connects to LISTEN gets its own connection to TARGET, and bytes are
/// copied both ways until both directions have ended: the end of one direction is passed
/// on as a write shutdown while the other keeps flowing (half-close). Many connections
/// run at once in one process, on a worker thread per CPU (--threads). Bytes move with
/// splice(2) and never enter user space once a direction is bulk (small chunks go by
/// recv and send through one buffer; --dump, which shows every chunk, reads everything
/// through a buffer; --pcap, which captures every connection for Wireshark, keeps
/// splice and gives the capture a copy made by tee(2)).
///
/// Each connection is logged on stderr when it ends: its id, the peer (address, or pid,
/// uid and command for unix peers), bytes up (client to TARGET) and down, duration and
/// how it ended. When TARGET is down the client is closed at once and the reason logged;
/// the relay keeps serving. An abort on either side (a reset) is passed on to the other
/// as one, after the bytes sent before it, so that a truncated answer never looks
/// complete (README, relay, says what a unix peer can be told). On SIGINT/SIGTERM the relay stops accepting, removes its
/// socket file, gives open connections --grace to finish, and prints a summary.
///
/// --pass-fds forwards the descriptors (SCM_RIGHTS) that arrive with the bytes between
/// two unix stream sockets, closing each once it is sent on; the bytes then go through a
/// buffer instead of splice. With --pcap as well, the bytes are captured as usual; the
/// descriptors, which TCP cannot carry, are not in the capture.
///
/// A LISTEN of tcp:PORT binds 127.0.0.1 only; write tcp:0.0.0.0:PORT to serve all
/// interfaces.
///
/// LISTEN can be a socket systemd passes (LISTEN_FDS) or --listen-fd N hands over; left
/// out, it is that socket as bound (a datagram one makes a datagram relay), and its file
/// is never removed. READY=1 goes to NOTIFY_SOCKET once listening.
///
/// With a udp: side, or --dgram, the relay moves datagrams: unix sides are datagram
/// sockets, each datagram goes on whole as one, and every sender gets its own socket
/// toward TARGET so that answers come back to it (kept for --reply-timeout).
///
/// With --http the relay is a guard in front of an HTTP API such as docker.sock: it
/// parses each request and forwards only what --allow/--deny, --read-only, --preset and
/// --rules allow, checks what a container create asks for, and logs one line per request;
/// either side may be tls: (HTTPS clients, an HTTPS TARGET).
///
/// A tls:HOST:PORT LISTEN terminates TLS (--cert/--key, or --self-signed; --client-ca
/// for mutual TLS); a tls:HOST:PORT TARGET is reached over TLS, its certificate checked
/// against the system's CAs or --cacert (--insecure: unchecked). --proxy-protocol v1|v2
/// tells TARGET the real client; --accept-proxy-protocol reads it from each client.
///
/// Example:
///   udskit relay tcp:8080 /var/run/docker.sock
///   udskit relay tls:0.0.0.0:8443 /run/app.sock --cert cert.pem --key key.pem
///   udskit relay /run/guard.sock /var/run/docker.sock --http --preset docker-readonly
///   udskit relay udp:8125 /var/run/datadog/dsd.socket
#[derive(clap::Args, Debug)]
// Two plain positionals, the second optional, rather than clap's allow_missing_positional,
// which refuses an option between LISTEN and TARGET (`relay tcp:8080 --http SOCK`).
#[command(
    verbatim_doc_comment,
    override_usage = "udskit relay [OPTIONS] [LISTEN] <TARGET>"
)]
pub struct Args {
    /// Where clients connect: tcp:[HOST:]PORT, tls:[HOST:]PORT, PATH, @NAME; udp:[HOST:]PORT
    /// for datagrams (left out, the socket systemd or --listen-fd hands over: the one
    /// address given is then TARGET)
    #[arg(value_name = "LISTEN", id = "listen")]
    pub first: Option<Endpoint>,
    /// LISTEN as served, set first thing in `run`: as written, or the inherited socket's
    /// own address (TLS over it when LISTEN says tls:).
    #[arg(skip = Endpoint::Plain(Addr::Path(PathBuf::new())))]
    pub listen: Endpoint,
    /// Where each client is relayed to: PATH, @NAME, unix:///PATH, tcp:HOST:PORT or
    /// tls:HOST:PORT; udp:HOST:PORT for datagrams
    #[arg(value_name = "TARGET", id = "target")]
    pub second: Option<Endpoint>,
    /// TARGET, set first thing in `run` (the second address, or the only one).
    #[arg(skip = Endpoint::Plain(Addr::Path(PathBuf::new())))]
    pub target: Endpoint,
    /// Give up connecting to TARGET after DURATION (the client is closed); a unix TARGET
    /// whose accept queue is full is waited for until then
    #[arg(long, value_name = "DURATION", value_parser = duration::positive, default_value = "10s")]
    pub connect_timeout: Duration,
    /// Close a connection after DURATION without a byte either way (nginx's proxy_timeout);
    /// 0: no limit
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub idle_timeout: Option<Duration>,
    /// Relay at most N connections at a time; more wait in the accept queue (never reset)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Relay on N workers, each a thread with its own event loop: a TCP LISTEN gets a
    /// socket per worker (SO_REUSEPORT), a unix one's clients are handed to the least busy
    /// [default: the CPUs udskit may run on, at most 16; 1 for datagrams]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
    /// With --threads on a unix LISTEN, how the workers share it: one accepts and hands
    /// each client to the least busy, or each accepts from the one socket, all woken by
    /// every client (for measurements: bench/relay --only scale)
    #[arg(
        long,
        value_enum,
        value_name = "HOW",
        default_value = "handoff",
        hide = true
    )]
    pub unix_accept: workers::UnixAccept,
    /// On SIGINT/SIGTERM, give open connections DURATION to finish before closing them
    #[arg(long, value_name = "DURATION", value_parser = duration::parse, default_value = "5s")]
    pub grace: Duration,
    /// Log as JSON lines on stderr (one object per connection, and a summary; with
    /// --http, one per request too)
    #[arg(long, visible_alias = "log-json")]
    pub json: bool,
    /// Show every chunk each way, tagged `#ID >` (to TARGET) or `#ID <` (back), with its time
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub dump: Option<dump::DumpFormat>,
    /// Write the --dump output to PATH instead of stderr
    #[arg(long, value_name = "PATH", requires = "dump")]
    pub dump_file: Option<PathBuf>,
    /// Capture every connection into FILE (pcapng; - for stdout) as a TCP flow that
    /// Wireshark and tshark decode (HTTP, HTTP/2, ...); spliced bytes reach it by tee(2)
    /// and splice, their TCP checksum left 0; a tls: side's plaintext (stream relays only;
    /// descriptors passed by --pass-fds are not captured; with --http, the client's side of
    /// each connection, the guard's own answers included)
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// After every chunk, poll the sockets for DURATION (such as 50us) before sleeping,
    /// whatever the load; 0: never [default: 50us after the chunks of a connection that
    /// ping-pongs, while a CPU is free]
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub busy_poll: Option<Duration>,
    /// Forward the descriptors (SCM_RIGHTS) that arrive with the bytes, both ways, between a
    /// unix stream LISTEN and TARGET; each is closed here once sent on
    #[arg(long, conflicts_with = "http")]
    pub pass_fds: bool,
    /// How bytes move: splice or buffer (for measurements: bench/relay --copiers)
    #[arg(
        long,
        value_enum,
        value_name = "HOW",
        default_value = "splice",
        hide = true
    )]
    pub copier: Copier,
    /// Speak HTTP/1.1 with each client and forward only the requests the rules allow (a
    /// guard in front of docker.sock); the others get a 403 with a Docker-style JSON message
    #[arg(long, conflicts_with_all = ["dump", "busy_poll"])]
    pub http: bool,
    /// With --http, close a client that takes longer than DURATION to send a request head
    /// (from connecting, or from the first byte of a later head), answering 408 if it had
    /// begun one, or the body of a request the guard checks; 0 turns it off
    #[arg(long, value_name = "DURATION", value_parser = duration::parse, default_value = "30s", requires = "http")]
    pub header_timeout: Duration,
    /// With --http, forward requests of METHOD (GET, a list such as GET,POST, or *) whose
    /// path matches PATH-GLOB (* within a segment, ** across; /v1.NN/ optional); repeatable,
    /// and the first --allow or --deny that matches decides
    #[arg(long, value_name = "METHOD PATH-GLOB", requires = "http", value_parser = rules::parse_allow)]
    pub allow: Vec<Rule>,
    /// With --http, answer 403 to requests of METHOD whose path matches PATH-GLOB
    #[arg(long, value_name = "METHOD PATH-GLOB", requires = "http", value_parser = rules::parse_deny)]
    pub deny: Vec<Rule>,
    /// With --http, allow GET and HEAD only, and never the endpoints that read files or
    /// secrets (archive, export, attach/ws, images/get, secrets, configs, swarm)
    #[arg(long, requires = "http")]
    pub read_only: bool,
    /// With --http, allow what a known client needs (README lists each preset's rules)
    #[arg(long, value_enum, value_name = "NAME", requires = "http")]
    pub preset: Vec<Preset>,
    /// With --http, forward every request, and log those the rules would have denied
    #[arg(long, requires = "http")]
    pub dry_run: bool,
    /// With --http, also the rules of FILE (TOML, or YAML when named .yaml or .yml): rules
    /// for everyone and [[peer]] sections for clients by uid, user, gid or group (README,
    /// relay --http, shows one)
    #[arg(long, value_name = "FILE", requires = "http")]
    pub rules: Option<PathBuf>,
    /// With --http on a unix LISTEN, let in only clients of user UID (a number or a name;
    /// repeatable; as SO_PEERCRED tells): the others get a 403
    #[arg(long, value_name = "UID", requires = "http", value_parser = guard::parse_uid)]
    pub allow_uid: Vec<u32>,
    /// With --http on a unix LISTEN, let in only clients whose primary group is GID (a
    /// number or a name; repeatable); with --allow-uid, either lets a client in
    #[arg(long, value_name = "GID", requires = "http", value_parser = guard::parse_gid)]
    pub allow_gid: Vec<u32>,
    /// With --http, let a container create (or exec) ask for a privileged container, and
    /// lift confinement (SecurityOpt seccomp=unconfined, apparmor, label; /proc unmasked)
    #[arg(long, requires = "http")]
    pub allow_privileged: bool,
    /// With --http, let a create bind-mount host paths under PREFIX (repeatable); without
    /// it, no host path at all
    #[arg(long, value_name = "PREFIX", requires = "http", value_parser = body::parse_bind_prefix)]
    pub allow_bind: Vec<String>,
    /// With --http, let a create add capabilities (CapAdd, Capabilities, a service's
    /// CapabilityAdd)
    #[arg(long, requires = "http")]
    pub allow_cap_add: bool,
    /// With --http, let a create (or a build's networkmode) share the host's NAMESPACE
    /// (repeatable)
    #[arg(long, value_enum, value_name = "NAMESPACE", requires = "http")]
    pub allow_host_namespace: Vec<body::HostNamespace>,
    /// With --http, let a create give the container devices (Devices, DeviceRequests,
    /// DeviceCgroupRules)
    #[arg(long, requires = "http")]
    pub allow_devices: bool,
    /// Relay datagrams: unix LISTEN and TARGET are datagram sockets (implied by a udp: side)
    #[arg(long)]
    pub dgram: bool,
    /// For datagrams: keep a sender's own socket toward TARGET, and pass its answers back,
    /// until DURATION without a datagram either way [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = duration::positive)]
    pub reply_timeout: Option<Duration>,
    /// For datagrams: when a unix receiver's queue is full, wait for room, or drop the
    /// datagram and count it [default: wait]
    #[arg(long, value_enum, value_name = "WHAT")]
    pub on_full: Option<dgram::OnFull>,
    /// Send TARGET a PROXY protocol header naming the client before its bytes (HAProxy's
    /// send-proxy; nginx's `listen ... proxy_protocol` reads it); v2 carries unix
    /// addresses too (not with --http: README, relay --http, says why)
    #[arg(long, value_enum, value_name = "VERSION")]
    pub proxy_protocol: Option<proxy::Version>,
    /// Read a PROXY protocol header (v1 or v2) from each client before relaying it: the
    /// client logged, and sent on with --proxy-protocol, is the one it names; a client
    /// without a valid one is closed (with --http too: each request's log line names it)
    #[arg(long)]
    pub accept_proxy_protocol: bool,
    #[command(flatten)]
    pub tls_server: crate::net::tls::ServerOpts,
    #[command(flatten)]
    pub tls_client: crate::net::tls::ClientOpts,
    #[command(flatten)]
    pub bind: BindOpts,
    #[command(flatten)]
    pub inherit: InheritOpts,
}

/// What every connection task needs, shared.
struct RelayPlan {
    target: Addr,
    connect_timeout: Duration,
    idle_timeout: Option<Duration>,
    copier: Copier,
    dump: Option<Dump>,
    /// --pcap: the capture every connection is written to.
    pcap: Option<&'static Pcap>,
    /// LISTEN (its bound address) and TARGET as --pcap's comments name them: `tls:` where
    /// TLS is spoken.
    shown: [String; 2],
    /// --busy-poll: one per worker (each polls its own connections); empty without it.
    busy: Vec<BusyPoll>,
    log: Log,
    totals: Totals,
    /// --http: the rules requests are judged by.
    guard: Option<Guard>,
    /// --pass-fds: descriptors go on with the bytes.
    pass_fds: bool,
    /// Cancelled once a stop signal came: HTTP connections end after their request in
    /// flight, idle keep-alive ones at once.
    draining: CancellationToken,
    /// Cancelled when the grace period after a stop signal ends: the connections still
    /// open are closed.
    cut: CancellationToken,
    /// TLS on either side, if any.
    tls: tls::TlsPlan,
    /// --proxy-protocol: the header to send TARGET.
    proxy_send: Option<proxy::Version>,
    /// --accept-proxy-protocol.
    proxy_accept: bool,
    /// A unix LISTEN's address as sun_path bytes (a v2 header's destination).
    listen_unix: Vec<u8>,
}

/// How a connection ended.
enum End {
    /// Both directions reached their end.
    Closed,
    Idle(Duration),
    /// Still open when the --grace period after a stop signal ran out.
    Grace,
    /// TARGET could not be reached; the message names it, and the hint (if any) says what
    /// to look at.
    Upstream(String, Option<String>),
    /// A direction failed (reset, broken pipe); the message says which.
    Error(String),
}

impl End {
    fn word(&self) -> &'static str {
        match self {
            End::Closed => "closed",
            End::Idle(_) => "idle timeout",
            End::Grace => "closed at the end of the grace period",
            End::Upstream(..) => "upstream unreachable",
            End::Error(_) => "error",
        }
    }

    fn reason(&self) -> Option<String> {
        match self {
            End::Idle(d) => Some(format!("no traffic for {}", duration::show(*d))),
            End::Upstream(m, _) | End::Error(m) => Some(m.clone()),
            _ => None,
        }
    }

    fn from_outcome(outcome: std::io::Result<Outcome>, idle: Option<Duration>) -> End {
        let fail = |side: &str, e: std::io::Error| format!("{side}: {e}");
        let ends = match outcome {
            Ok(Outcome::Ended(ends)) => ends,
            Ok(Outcome::Idle) => return End::Idle(idle.unwrap_or_default()),
            Err(e) => return End::Error(format!("setting up the relay: {e}")),
        };
        match (ends.up, ends.down) {
            (Ok(()), Ok(())) => End::Closed,
            (Err(e), Ok(())) => End::Error(fail("client to target", e)),
            (Ok(()), Err(e)) => End::Error(fail("target to client", e)),
            (Err(u), Err(d)) => End::Error(format!(
                "{}; {}",
                fail("client to target", u),
                fail("target to client", d)
            )),
        }
    }
}

#[derive(Default)]
struct Totals {
    connections: AtomicU64,
    errors: AtomicU64,
    up: AtomicU64,
    down: AtomicU64,
}

/// Connection log lines: text through `Ctx`, or JSON lines; `-q` silences all but the
/// failures to reach TARGET (a warning: the user must know the upstream is down).
#[derive(Clone)]
struct Log {
    ctx: Ctx,
    json: bool,
    /// More than one worker: each connection's lines name the worker serving it.
    workers: bool,
    /// The hints already shown: each is told once, after the first line it explains.
    told: Arc<Mutex<HashSet<String>>>,
}

impl Log {
    fn line(&self, text: String, fields: Vec<(&str, Value)>, warn: bool) {
        self.line_hinted(text, fields, warn, None);
    }

    /// [`line`](Log::line) for a warning with a hint: in JSON a field of its object, as
    /// text a `hint:` line under the warning the first time this hint comes up.
    fn line_hinted(
        &self,
        text: String,
        mut fields: Vec<(&str, Value)>,
        warn: bool,
        hint: Option<&str>,
    ) {
        if self.json {
            if let Some(h) = hint {
                fields.push(("hint", h.into()));
            }
            if !self.ctx.quiet || warn {
                let now = utc_timestamp(std::time::SystemTime::now());
                let mut out = Vec::with_capacity(256);
                json_object(
                    &mut out,
                    &[&[("time", Value::from(now))], &fields[..]].concat(),
                    false,
                );
                out.push(b'\n');
                crate::term::stderr_line(out);
            }
        } else if warn {
            self.ctx
                .warn_hinted(text, hint.filter(|h| self.first_time(h)));
        } else {
            self.ctx.info(text);
        }
    }

    /// Whether `hint` is shown for the first time (it is marked as shown).
    fn first_time(&self, hint: &str) -> bool {
        self.told
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(hint.to_string())
    }

    fn listening(
        &self,
        local: &Endpoint,
        target: &Endpoint,
        guard: Option<&Guard>,
        origin: Option<&str>,
    ) -> String {
        let (l, t) = (local.to_string(), target.to_string());
        // A TLS listener's hint names its own scheme.
        let reach = bind::reach(local.addr()).map(|r| match local {
            Endpoint::Tls(_) => r.replace("tcp:", "tls:"),
            Endpoint::Plain(_) => r,
        });
        let shown = listen_note(reach.as_deref(), origin);
        let mode = match guard {
            None => String::new(),
            Some(g) => format!(
                " as an HTTP guard ({} rules{})",
                g.rules.len(),
                if g.dry_run { ", --dry-run" } else { "" }
            ),
        };
        let mut fields = vec![
            ("event", "listening".into()),
            ("listen", l.as_str().into()),
            ("target", t.as_str().into()),
        ];
        if let Some(r) = reach {
            fields.push(("reach", r.into()));
        }
        if let Some(o) = origin {
            fields.push(("inherited", o.into()));
        }
        if let Some(g) = guard {
            fields.extend([
                ("http", true.into()),
                ("rules", g.rules.len().into()),
                ("dry_run", g.dry_run.into()),
            ]);
        }
        let text = format!(
            "listening on {}{shown}, relaying to {}{mode}",
            escape(&l),
            escape(&t)
        );
        self.line(text.clone(), fields, false);
        text
    }

    /// Whether connections' lines are shown (opened with `-v`, closed without `-q`):
    /// their client is then named at accept.
    fn names_clients(&self) -> bool {
        !self.ctx.quiet
    }

    fn opened(&self, id: u64, worker: usize, who: &Who) {
        if self.ctx.verbose > 0 {
            let peer = who.text();
            let mut fields = vec![
                ("event", "open".into()),
                ("id", id.into()),
                ("peer", peer.into()),
            ];
            let on = match self.workers {
                true => {
                    fields.push(("worker", worker.into()));
                    format!(" (worker {worker})")
                }
                false => String::new(),
            };
            self.line(format!("#{id} {peer}: connected{on}"), fields, false);
        }
    }

    /// A connection's last line; `subject`, a TLS client certificate's.
    fn closed(
        &self,
        id: u64,
        worker: usize,
        who: &Who,
        subject: Option<&String>,
        meter: &Meter,
        end: &End,
    ) {
        let warn = matches!(end, End::Upstream(..));
        if !self.names_clients() && !warn {
            // Nothing would be shown: nothing is put together.
            return;
        }
        let peer = match subject {
            Some(s) => Cow::Owned(format!("{} [{}]", who.text(), escape(s))),
            None => Cow::Borrowed(who.text()),
        };
        let (up, down) = meter.bytes();
        let secs = meter.started().elapsed().as_secs_f64();
        let reason = end.reason();
        let text = format!(
            "#{id} {peer}: {}, {up} bytes up, {down} down, {secs:.3}s{}",
            end.word(),
            reason
                .as_deref()
                .map(|r| format!(": {}", escape(r)))
                .unwrap_or_default()
        );
        let mut fields = vec![
            ("event", "close".into()),
            ("id", id.into()),
            ("peer", peer.as_ref().into()),
        ];
        fields.extend_from_slice(who.fields());
        if let Some(s) = subject {
            fields.push(("peer_cert_subject", s.as_str().into()));
        }
        fields.extend([
            ("bytes_up", up.into()),
            ("bytes_down", down.into()),
            ("duration_s", ((secs * 1e6).round() / 1e6).into()),
            ("end", end.word().into()),
            ("reason", reason.into()),
        ]);
        if self.workers {
            fields.push(("worker", worker.into()));
        }
        let hint = match end {
            End::Upstream(_, h) => h.as_deref(),
            _ => None,
        };
        self.line_hinted(text, fields, warn, hint);
    }

    fn summary(&self, t: &Totals) {
        let (n, e, up, down) = (
            t.connections.load(Ordering::Relaxed),
            t.errors.load(Ordering::Relaxed),
            t.up.load(Ordering::Relaxed),
            t.down.load(Ordering::Relaxed),
        );
        self.line(
            format!(
                "relay done: {n} connection{}, {e} with errors, {up} bytes up, {down} down",
                if n == 1 { "" } else { "s" }
            ),
            vec![
                ("event", "summary".into()),
                ("connections", n.into()),
                ("errors", e.into()),
                ("bytes_up", up.into()),
                ("bytes_down", down.into()),
            ],
            false,
        );
    }
}

/// 1,000 relayed connections need 2,000 descriptors (4,000 more for their pipes while
/// bytes flow): lift the soft limit to the hard one, as servers do.
fn raise_fd_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    if lim.current < lim.maximum {
        lim.current = lim.maximum;
        let _ = setrlimit(Resource::Nofile, lim);
    }
}

/// The TLS sides the addresses and options ask for; options for a side that is not TLS
/// are a usage error.
fn tls_plan(args: &Args, ctx: &Ctx) -> anyhow::Result<tls::TlsPlan> {
    use crate::error::Fail;
    if args.tls_server.any() && !args.listen.is_tls() {
        return Err(Fail::usage(
            "--cert, --key, --self-signed and --client-ca are for a tls: LISTEN",
        )
        .into());
    }
    let client = &args.tls_client;
    if (client.cacert.is_some() || client.insecure) && !args.target.is_tls() {
        return Err(Fail::usage("--cacert and --insecure are for a tls: TARGET").into());
    }
    let down = match args.listen.host() {
        Some(host) => {
            if !args.tls_server.self_signed && args.tls_server.cert.is_none() {
                return Err(Fail::usage(format!(
                    "{}: a tls: LISTEN needs --cert FILE --key FILE, or --self-signed",
                    args.listen
                ))
                .into());
            }
            let (config, fingerprint) = args.tls_server.config(host)?;
            if let Some(fp) = fingerprint {
                let out = args
                    .tls_server
                    .self_signed_out
                    .as_ref()
                    .map(|p| format!(", written to {}", escape(&p.display().to_string())))
                    .unwrap_or_default();
                ctx.info(format!(
                    "self-signed certificate for {host}, SHA-256 fingerprint {fp}{out}"
                ));
            }
            Some(config)
        }
        None => None,
    };
    let up = match args.target.host() {
        Some(host) => Some((client.config()?, host.to_string(), args.target.to_string())),
        None => None,
    };
    Ok(tls::TlsPlan::new(down, up))
}

/// Where LISTEN's socket comes from (bound, or inherited: README, "Socket activation"),
/// with `args.listen` set to the address served; an inherited datagram socket makes a
/// datagram relay.
fn listen_source(args: &mut Args) -> anyhow::Result<Source> {
    // One address alone is TARGET; clap fills `first` before `second`.
    let (given, target) = match (args.first.take(), args.second.take()) {
        (Some(listen), Some(target)) => (Some(listen), target),
        (Some(target), None) | (None, Some(target)) => (None, target),
        (None, None) => {
            return Err(Fail::usage("relay takes LISTEN TARGET; neither was given")
                .hint("udskit relay tcp:8080 /run/app.sock puts a unix socket on a TCP port")
                .into());
        }
    };
    args.target = target;
    let given = given.as_ref();
    if given.is_none() && !activate::offered(&args.inherit) {
        return Err(Fail::usage(format!(
            "relay takes LISTEN TARGET; only one address was given ({}, read as TARGET)",
            escape(&args.target.to_string())
        ))
        .hint("LISTEN may be left out only for a socket systemd or --listen-fd hands over")
        .into());
    }
    let source = activate::source(
        given.map(Endpoint::addr),
        &args.inherit,
        &args.bind,
        Need::Relay,
    )?;
    args.listen = match given {
        Some(Endpoint::Tls(_)) => Endpoint::Tls(source.addr().clone()),
        _ => Endpoint::Plain(source.addr().clone()),
    };
    match source.inherited_kind() {
        Some(Kind::Datagram) => args.dgram = true,
        Some(_) if args.dgram => {
            return Err(Fail::usage(format!(
                "--dgram: the inherited socket at {} is a listening stream socket",
                escape(&args.listen.to_string())
            ))
            .into());
        }
        _ => {}
    }
    Ok(source)
}

pub async fn run(mut args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let source = listen_source(&mut args)?;
    if args.pass_fds {
        for a in [args.listen.addr(), args.target.addr()] {
            if !a.is_unix() {
                return Err(Fail::usage(format!(
                    "--pass-fds: {} is not a unix socket; descriptors pass only between unix sockets",
                    escape(&a.to_string())
                ))
                .into());
            }
        }
    }
    let tls = tls_plan(&args, ctx)?;
    if args.http && args.proxy_protocol.is_some() {
        return Err(Fail::usage(
            "--proxy-protocol cannot go with --http: the guard shares its connections to \
             TARGET among its clients (an idle one serves the next client's request), and a \
             PROXY header, sent once at the start of a connection, would name whichever \
             client opened it",
        )
        .hint("--accept-proxy-protocol does go with --http: the guard logs the client the header names")
        .into());
    }
    itself::refuse_loop(args.listen.addr(), args.target.addr()).await?;
    let datagrams = args.dgram || args.listen.addr().is_udp() || args.target.addr().is_udp();
    let threads = workers::count(&args, datagrams)?;
    if datagrams {
        raise_fd_limit();
        return dgram::run(args, source, ctx).await;
    }
    for (given, flag) in [
        (args.reply_timeout.is_some(), "--reply-timeout"),
        (args.on_full.is_some(), "--on-full"),
    ] {
        if given {
            return Err(crate::error::Fail::usage(format!(
                "{flag} is for datagram relays (a udp: side, or --dgram)"
            ))
            .into());
        }
    }
    let stop = Shutdown::install()?;
    raise_fd_limit();
    let rts = workers::runtimes(threads)?;
    let dump = args
        .dump
        .map(|f| Dump::open(f, args.dump_file.as_deref(), ctx))
        .transpose()?;
    // The capture lives as long as the relay (the guard's flows, owned by each client's
    // stream that hyper holds, must not borrow from anything shorter).
    let pcap = args
        .pcap
        .as_deref()
        .map(|p| crate::io::capture::open(p, ctx))
        .transpose()?
        .map(|p| &*Box::leak(Box::new(p)));
    let guard = guard::Guard::of(&args)?;
    // A TCP LISTEN we bind: a socket per worker (SO_REUSEPORT). A unix one, or any socket
    // handed over by systemd or --listen-fd: one socket, accepted by worker 0.
    let origin = source.inherited_from();
    let (listeners, local, file) = match &source {
        activate::Source::Bind(a @ Addr::Tcp { .. }) if threads > 1 => {
            let (group, local) = bind::bind_tcp_group(a, threads).await?;
            let group = group.into_iter().map(Listener::Tcp).collect::<Vec<_>>();
            (group, local, None)
        }
        _ => {
            let server = activate::listen(source, Kind::Stream, &args.bind, ctx).await?;
            let mut all = vec![server.listener];
            if threads > 1 && args.unix_accept == workers::UnixAccept::Shared {
                for _ in 1..threads {
                    all.push(workers::same_socket(&all[0])?);
                }
            }
            (all, server.local, server._guard)
        }
    };
    let local = match &args.listen {
        Endpoint::Tls(_) => Endpoint::Tls(local),
        Endpoint::Plain(_) => Endpoint::Plain(local),
    };
    let plan = Arc::new(RelayPlan {
        target: args.target.addr().clone(),
        connect_timeout: args.connect_timeout,
        idle_timeout: duration::limit(args.idle_timeout),
        // With --dump or --pcap, copy::relay reads through a buffer whatever this says.
        copier: args.copier,
        dump,
        pcap,
        shown: [local.to_string(), args.target.to_string()],
        // Adaptive by default (a poller per worker); --busy-poll 0 never polls.
        busy: match args.busy_poll {
            None => (0..threads).map(|_| BusyPoll::adaptive()).collect(),
            Some(d) if d.is_zero() => Vec::new(),
            Some(d) => (0..threads).map(|_| BusyPoll::new(d)).collect(),
        },
        log: Log {
            ctx: ctx.clone(),
            json: args.json,
            workers: threads > 1,
            told: Default::default(),
        },
        totals: Totals::default(),
        guard,
        pass_fds: args.pass_fds,
        draining: CancellationToken::new(),
        cut: CancellationToken::new(),
        tls,
        proxy_send: args.proxy_protocol,
        proxy_accept: args.accept_proxy_protocol,
        listen_unix: match local.addr() {
            Addr::Path(p) => p.as_os_str().as_encoded_bytes().to_vec(),
            Addr::Abstract(n) => [&[0u8][..], n].concat(),
            Addr::Tcp { .. } | Addr::Udp { .. } => Vec::new(),
        },
    });
    let listening =
        plan.log
            .listening(&local, &args.target, plan.guard.as_ref(), origin.as_deref());
    activate::ready(&listening, ctx);
    let grace = args.grace;
    workers::run(
        plan.clone(),
        stop,
        listeners,
        rts,
        args.max_connections,
        grace,
        file,
    )
    .await?;
    plan.log.summary(&plan.totals);
    Ok(())
}

/// One client: connect to TARGET, relay until both directions end (or the idle timeout,
/// or the end of the grace period), log how it went.
async fn serve(
    id: u64,
    worker: usize,
    client: Detached,
    spare: Spare,
    peer: &Peer,
    plan: Arc<RelayPlan>,
) {
    // From the accept: the time a PROXY header took (or timed out in) is the connection's.
    let meter = Arc::new(Meter::default());
    let mut client = Client::Bare(client);
    // --accept-proxy-protocol: the client is the one the header names.
    let accepted = match plan.proxy_accept {
        true => {
            let mut s = match client.into_stream() {
                Ok(s) => s,
                Err(e) => {
                    plan.log
                        .ctx
                        .warn(format!("connection #{id}: taking the client on: {e}"));
                    return;
                }
            };
            let header = proxy::read_header(&mut s, plan.connect_timeout).await;
            client = Client::Stream(s);
            Some(header)
        }
        false => None,
    };
    let proxied = match &accepted {
        Some(Ok(who)) => who.client(),
        _ => None,
    };
    let who = Arc::new(Who::new(id, peer, proxied));
    if plan.log.names_clients() || plan.pcap.is_some() {
        // Named now, while a unix client's command can still be read.
        who.text();
    }
    let hello = match plan.proxy_send {
        None => Vec::new(),
        Some(v) => {
            let source = match &accepted {
                Some(Ok(s)) => s.clone(),
                _ => match (client.tcp_local_addr(), peer.addr) {
                    (Some(local), Some(src)) => match local {
                        Ok(dst) => proxy::Source::Inet { src, dst },
                        Err(_) => proxy::Source::Unknown,
                    },
                    _ => proxy::Source::Unix {
                        src: Vec::new(),
                        dst: plan.listen_unix.clone(),
                    },
                },
            };
            proxy::header(v, &source)
        }
    };
    plan.log.opened(id, worker, &who);
    let subject = std::sync::OnceLock::new();
    // Each path is boxed: unboxed, the task a connection is spawned as is as large as its
    // largest path, and it is copied whole several times on its way to the runtime and
    // again when it ends; a box is allocated once, at its own path's size.
    let work = async {
        if let Some(Err(why)) = accepted {
            End::Error(why)
        } else if plan.guard.is_some() {
            drop(spare);
            let who = who.clone();
            match client.into_stream() {
                Err(e) => End::Error(format!("taking the client on: {e}")),
                // A tls: LISTEN: HTTP over the client's TLS (a tls: TARGET is upstream's).
                Ok(client) => match &plan.tls.down {
                    None => Box::pin(guard::serve(client, who, plan.clone(), meter.clone())).await,
                    Some(acceptor) => {
                        Box::pin(async {
                            match tls::accept(acceptor, client, plan.connect_timeout, &subject)
                                .await
                            {
                                Ok(s) => guard::serve(s, who, plan.clone(), meter.clone()).await,
                                Err(end) => end,
                            }
                        })
                        .await
                    }
                },
            }
        } else if plan.tls.any() {
            drop(spare);
            match client.into_stream() {
                Ok(client) => {
                    Box::pin(tls::relay(
                        id, client, &plan, &plan.tls, &meter, &subject, &hello, &who,
                    ))
                    .await
                }
                Err(e) => End::Error(format!("taking the client on: {e}")),
            }
        } else {
            match client.into_bare() {
                Ok(client) => {
                    Box::pin(connect_and_relay(
                        id, worker, client, spare, &who, &plan, &meter, &hello,
                    ))
                    .await
                }
                Err(e) => End::Error(format!("taking the client on: {e}")),
            }
        }
    };
    let end = tokio::select! {
        end = work => end,
        _ = plan.cut.cancelled() => End::Grace,
    };
    let t = &plan.totals;
    let (up, down) = meter.bytes();
    t.connections.fetch_add(1, Ordering::Relaxed);
    t.up.fetch_add(up, Ordering::Relaxed);
    t.down.fetch_add(down, Ordering::Relaxed);
    if matches!(end, End::Upstream(..) | End::Error(_)) {
        t.errors.fetch_add(1, Ordering::Relaxed);
    }
    plan.log
        .closed(id, worker, &who, subject.get(), &meter, &end);
}

/// A client as [`serve`] holds it: bare as accepted (the plain relay registers it with the
/// reactor once, for what it needs: see accept.rs), or a [`Stream`] on the reactor, which
/// a PROXY header's reader, TLS and the guard read from.
enum Client {
    Bare(Detached),
    Stream(Stream),
}

impl Client {
    fn into_stream(self) -> std::io::Result<Stream> {
        match self {
            Client::Bare(d) => d.attach(),
            Client::Stream(s) => Ok(s),
        }
    }

    fn into_bare(self) -> std::io::Result<Detached> {
        match self {
            Client::Bare(d) => Ok(d),
            Client::Stream(s) => s.detach(),
        }
    }

    /// A TCP client's local address (the relay's end).
    fn tcp_local_addr(&self) -> Option<std::io::Result<std::net::SocketAddr>> {
        match self {
            Client::Bare(Detached::Tcp(t)) => Some(t.local_addr()),
            Client::Stream(Stream::Tcp(t)) => Some(t.local_addr()),
            _ => None,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn connect_and_relay(
    id: u64,
    worker: usize,
    client: Detached,
    mut spare: Spare,
    who: &Who,
    plan: &RelayPlan,
    meter: &Meter,
    hello: &[u8],
) -> End {
    spare.target_fd();
    let target = match connect_bare(plan, hello).await {
        Ok(t) => t,
        Err(end) => {
            // The client's bytes go nowhere: a TCP client is told so by a reset, always. A
            // plain close sent a FIN first, which the client took for the end of an answer;
            // the reset its bytes drew from the closed socket then came after it had ended,
            // or not (a race it lost about one time in ten, exiting 0).
            if let Detached::Tcp(c) = &client {
                let _ = rustix::net::sockopt::set_socket_linger(c, Some(Duration::ZERO));
            }
            return end;
        }
    };
    let flow = plan
        .pcap
        .as_ref()
        .map(|p| capture::open(p, id, who.text(), plan));
    let tap = |dir: Direction, seen: Seen<'_>| {
        if let (Some(d), Seen::Data(data)) = (&plan.dump, seen) {
            d.chunk(id, dir, data);
        }
        if let Some(flow) = &flow {
            capture::seen(flow, dir, seen);
        }
    };
    let spliced = |dir: Direction, pipe: std::os::fd::BorrowedFd<'_>, n: usize| {
        if let Some(flow) = &flow {
            capture::spliced(flow, dir, pipe, n);
        }
    };
    let cut = |dir: Direction, words: String| {
        let way = match dir {
            Direction::Up => "from the client",
            Direction::Down => "from the target",
        };
        plan.log
            .ctx
            .warn(format!("connection #{id}: {words} ({way})"));
    };
    let how = How {
        copier: plan.copier,
        tap: (plan.dump.is_some() || flow.is_some()).then_some(&tap as copy::Tap),
        // --pcap alone keeps splice: the capture takes the bytes from a pipe (tee(2)).
        pipe_tap: (plan.dump.is_none() && flow.is_some()).then_some(&spliced as copy::PipeTap),
        busy: plan.busy.get(worker),
        idle: plan.idle_timeout,
        pass_fds: plan.pass_fds.then_some(&cut as copy::CutLog),
    };
    let outcome = copy::relay(client, target, spare, how, meter).await;
    if let (Some(flow), Ok(Outcome::Idle)) = (&flow, &outcome) {
        // The idle timeout closes both sockets cleanly.
        flow.fin(crate::io::pcap::Sender::Server);
        flow.fin(crate::io::pcap::Sender::Client);
    }
    End::from_outcome(outcome, plan.idle_timeout)
}

/// Connects to TARGET within --connect-timeout and sends it `hello` (a PROXY protocol
/// header, or nothing), or says how it failed.
async fn connect_target(plan: &RelayPlan, hello: &[u8]) -> Result<Stream, End> {
    let mut s = connect_only(plan).await?;
    if !hello.is_empty() {
        use tokio::io::AsyncWriteExt;
        s.write_all(hello).await.map_err(|e| {
            End::Upstream(
                format!("sending the PROXY protocol header to {}: {e}", plan.target),
                None,
            )
        })?;
    }
    Ok(s)
}

/// [`connect_target`] for the plain relay, whose sockets `copy::relay` registers itself: a
/// unix TARGET (with no PROXY header to send) connected bare, never registered with the
/// reactor until then (a TCP one is connected by tokio and taken off its reactor).
async fn connect_bare(plan: &RelayPlan, hello: &[u8]) -> Result<Detached, End> {
    if hello.is_empty() && plan.target.is_unix() {
        let target = &plan.target;
        return connect_with(plan, move || {
            std::future::ready(
                crate::net::unix::try_connect_unix(target, Kind::Stream)
                    .map(|fd| Detached::Unix(std::os::unix::net::UnixStream::from(fd))),
            )
        })
        .await;
    }
    let s = connect_target(plan, hello).await?;
    s.detach()
        .map_err(|e| End::Error(format!("connecting to {}: {e}", plan.target)))
}

async fn connect_only(plan: &RelayPlan) -> Result<Stream, End> {
    let target = &plan.target;
    connect_with(plan, move || connect::connect_once(target, Kind::Stream)).await
}

/// Connects to TARGET by `once` within --connect-timeout, or says how it failed.
async fn connect_with<T, F, Fut>(plan: &RelayPlan, once: F) -> Result<T, End>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = std::io::Result<T>>,
{
    // A unix TARGET whose accept queue is full answers EAGAIN: retried, as a blocking
    // connect would have waited for room, until --connect-timeout. So is the relay's own
    // shortage of descriptors: the one set aside for this socket can be taken by another
    // worker in the moment between its close and socket(2), and the client waits for one
    // to come free as the clients in the accept queue do, never told "unreachable".
    let again = |e: &std::io::Error| connect::is_busy(e) || connect::is_short_of_descriptors(e);
    // Why the last attempt was retried, for the words if time runs out: BUSY, or the errno
    // of a shortage (0 before any retry).
    const BUSY: i32 = -1;
    let last = std::sync::atomic::AtomicI32::new(0);
    let (last_ref, once) = (&last, &once);
    let attempt = move || async move {
        let r = once().await;
        if let Err(e) = &r
            && again(e)
        {
            let why = match connect::is_busy(e) {
                true => BUSY,
                false => e.raw_os_error().unwrap_or(0),
            };
            last_ref.store(why, Ordering::Relaxed);
        }
        r
    };
    let connecting = tokio::time::timeout(
        plan.connect_timeout,
        connect::retry_while(Some(plan.connect_timeout), again, attempt),
    );
    let shortage = |e: &std::io::Error| {
        crate::net::explain::descriptor_shortage(e)
            .map(|words| End::Error(format!("connecting to {}: {words}", plan.target)))
    };
    let timed_out = || {
        let why = last.load(Ordering::Relaxed);
        if why > 0
            && let Some(end) = shortage(&std::io::Error::from_raw_os_error(why))
        {
            return end;
        }
        End::Upstream(
            format!(
                "connecting to {}: timed out after {} (--connect-timeout){}",
                plan.target,
                duration::show(plan.connect_timeout),
                if why == BUSY {
                    ": the listener's accept queue is full"
                } else {
                    ""
                }
            ),
            None,
        )
    };
    match connecting.await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) if again(&e) => Err(timed_out()),
        Ok(Err(e)) => {
            if let Some(end) = shortage(&e) {
                // Our shortage, not the upstream's.
                return Err(end);
            }
            let fail = crate::net::explain::connect_error(&plan.target, Kind::Stream, &e, None);
            Err(End::Upstream(fail.message, fail.hint))
        }
        Err(_) => Err(timed_out()),
    }
}

/// ` (loopback only; inherited: descriptor 3)` for a "listening on" line: who can reach
/// the socket and where it came from, either or both; empty when neither is to be said.
fn listen_note(reach: Option<&str>, origin: Option<&str>) -> String {
    let origin = origin.map(|o| format!("inherited: {o}"));
    match (reach, origin) {
        (Some(r), Some(o)) => format!(" ({r}; {o})"),
        (Some(one), None) => format!(" ({one})"),
        (None, Some(one)) => format!(" ({one})"),
        (None, None) => String::new(),
    }
}
