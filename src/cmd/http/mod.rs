//! `udskit http SOCKET [METHOD] TARGET`: curl-style HTTP/1.1 (or h2c) over a socket on
//! hyper's client connection, with curl's exit codes, bodies streamed both ways, and the
//! Docker Engine's specialities: `Upgrade: tcp` turned into a two-way stream on
//! stdin/stdout, and its multiplexed stdout/stderr frames split apart.

mod decode;
mod demux;
mod docker;
mod exchange;
mod head;
mod jsonstream;
mod output;
mod progress;
mod render;
mod report;
mod request;
mod tap;
mod upgrade;
mod writeout;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode, Version};

use crate::duration;
use crate::error::{FAILURE, Fail, HTTP_ERROR};
use crate::io::stdio::Writer;
use crate::net::addr::Addr;
use crate::shutdown::Shutdown;
use crate::term::{Ctx, escape};
use exchange::Clock;
use render::{Demux, Render, View};
use report::Record;
use request::{Data, HeaderArg, ReqBody, Target};

/// HTTP over a unix socket, like curl --unix-socket (Docker API, uvicorn, nginx)
///
/// TARGET is /path?query or a full http://host/path URL, whose host becomes the Host header
/// (default localhost); characters a URL cannot hold are percent-encoded for you. METHOD is
/// GET, or POST when there is a body. The body streams to stdout as it arrives: unchanged
/// when piped; on a terminal JSON (also newline-delimited, value by value) is pretty-printed
/// and coloured and a binary body is not dumped. Docker's multiplexed logs and attach streams
/// are split onto stdout and stderr. With --upgrade, a 101 answer turns the connection into
/// a two-way stream on stdin/stdout (docker attach and exec).
///
/// Docker's progress streams (pull, push, build) are drawn as a live line per layer on a
/// terminal and left as JSON when piped; an error in one is an error (exit 1) either way,
/// unless --raw. With -o or -O, a progress bar on stderr when it is a terminal.
///
/// Exit codes as curl's: 7 could not connect, 22 status >= 400 with --fail, 28 timeout,
/// 61 an answer --compressed cannot decode; 1 for a broken answer (not HTTP, or cut off:
/// what arrived is kept) or a progress stream that reported an error.
///
/// Example:
///   udskit http /var/run/docker.sock /version
///   udskit http "$DOCKER_HOST" '/containers/json?all=1&filters={"status":["exited"]}'
///   udskit http /tmp/app.sock POST /items --json '{"name": "x"}'
///   udskit http -fsS -o /dev/null -w '%{http_code} %{time_total}\n' /tmp/app.sock /health
#[derive(clap::Args, Debug)]
#[command(
    override_usage = "udskit http [OPTIONS] <SOCKET> [METHOD] <TARGET>",
    verbatim_doc_comment
)]
pub struct Args {
    /// The socket: PATH, @NAME, unix:///PATH (as in DOCKER_HOST) or tcp:HOST:PORT
    #[arg(value_name = "SOCKET")]
    pub socket: Addr,
    /// [METHOD] TARGET: an optional method (GET, POST, ...) and /path?query or http://host/path
    #[arg(value_name = "TARGET", num_args = 1..=2, required = true)]
    pub request: Vec<String>,
    /// The method (as curl -X; a METHOD argument does the same)
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub method: Option<String>,
    /// A request header, 'Name: value' (repeatable); 'Name:' drops a default one
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Send DATA, @FILE or @- (stdin) as the body, byte for byte; POST unless a method is
    /// given. DATA goes as a form (as curl's), a file or stdin as application/octet-stream
    #[arg(short = 'd', long, value_name = "DATA", conflicts_with = "json")]
    pub data: Option<String>,
    /// Send DATA, @FILE or @- as a JSON body (sets Content-Type and Accept)
    #[arg(long, value_name = "DATA")]
    pub json: Option<String>,
    /// The User-Agent header [default: udskit/VERSION]
    #[arg(short = 'A', long, value_name = "NAME")]
    pub user_agent: Option<String>,
    /// Speak HTTP/2 without TLS from the first byte (h2c prior knowledge, as gRPC servers do)
    #[arg(long)]
    pub http2: bool,
    /// Print the status line and headers before the body
    #[arg(short, long)]
    pub include: bool,
    /// HEAD request: print the status line and headers only
    #[arg(short = 'I', long)]
    pub head: bool,
    /// Write the body to FILE instead of stdout (bytes unchanged); FILE is replaced only
    /// once the whole answer has arrived, and left as it was on any failure
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 22 when the status is 400 or more (the body is still shown)
    #[arg(short, long)]
    pub fail: bool,
    /// Give up the whole request after DURATION (exit 28; what arrived is kept)
    #[arg(short, long, value_name = "DURATION", value_parser = duration::parse)]
    pub max_time: Option<Duration>,
    #[command(flatten)]
    pub connect: crate::net::connect::ConnectOpts,
    /// Ask to switch protocols (Connection: Upgrade, Upgrade: PROTOCOL, e.g. tcp); a 101
    /// answer bridges the connection to stdin/stdout with half-close
    #[arg(long, value_name = "PROTOCOL", conflicts_with = "http2")]
    pub upgrade: Option<String>,
    /// Split docker's multiplexed frames onto stdout and stderr (automatic when the answer
    /// is marked or recognisably multiplexed)
    #[arg(long, conflicts_with = "raw")]
    pub demux: bool,
    /// Format the body as on a terminal even when piped (JSON pretty-printed)
    #[arg(long, conflicts_with = "raw")]
    pub pretty: bool,
    /// The body's bytes unchanged even on a terminal (no formatting, no demultiplexing,
    /// docker progress left as JSON and not read for errors)
    #[arg(long)]
    pub raw: bool,

    // curl's response-side habits: -s, -S, -w, -D, --compressed, -O.
    /// No progress bar, no diagnostics, no warnings and no error message, as curl -s (the
    /// exit code still tells; -v still shows the exchange). -q alone is -sS: errors and
    /// warnings shown, nothing else
    #[arg(short, long)]
    pub silent: bool,
    /// With -s, print the error message when the request fails anyway (curl -sS)
    #[arg(short = 'S', long)]
    pub show_error: bool,
    /// After the transfer (also a failed one) print FORMAT, @FILE or @- on stdout, as
    /// curl -w: %{http_code} ... %{stderr} switches to stderr, %header{NAME}, \n \t \r, %%
    #[arg(short = 'w', long, value_name = "FORMAT", long_help = write_out_help())]
    pub write_out: Option<String>,
    /// Write the status line and headers, as received (CRLF), to FILE; - is stdout, before
    /// the body
    #[arg(short = 'D', long, value_name = "FILE")]
    pub dump_header: Option<PathBuf>,
    /// Ask for a compressed answer (Accept-Encoding: gzip, deflate, br, zstd) and decode it
    /// as it streams; -o and the terminal get the decoded bytes (exit 61 when it cannot be
    /// decoded). Without it the body stays as sent
    #[arg(long)]
    pub compressed: bool,
    /// Write the body to the file named by the last segment of TARGET's path, in the
    /// current directory, as -o does (curl -O)
    #[arg(short = 'O', long, conflicts_with = "output")]
    pub remote_name: bool,
}

fn write_out_help() -> String {
    format!(
        "After the transfer (also a failed one) print FORMAT, @FILE or @- on stdout, as curl -w.\n\
         Variables: %{{NAME}} for NAME in {}; %{{stderr}} and %{{stdout}} switch where the rest \
         goes; %header{{NAME}} is a response header. \\n \\t \\r and %% as in curl; an unknown \
         variable is warned about. time_total is in seconds (6 decimals); size_download counts \
         the body as sent (before --compressed decoding); http_code is 000 without an answer.\n\
         Example: -w '%{{http_code}} %{{time_total}}\\n'",
        writeout::known()
    )
}

/// The request, validated: everything a usage error can be about is checked here.
struct RequestPlan {
    method: Method,
    /// TARGET as given (`-w %{url}`).
    given: String,
    target: Target,
    headers: Vec<HeaderArg>,
    data: Option<Data>,
    json: bool,
    /// Print the head before the body (-i, -I, HEAD).
    include: bool,
    /// A Content-Length given with -H: the -H text and the length.
    user_length: Option<(String, u64)>,
}

fn plan(args: &Args) -> Result<RequestPlan, Fail> {
    let (positional_method, target) = match args.request.as_slice() {
        [t] => (None, t),
        [m, t] => (Some(m), t),
        _ => unreachable!("clap takes one or two"),
    };
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
    ];
    if positional_method.is_none() && KNOWN.contains(&target.as_str()) {
        return Err(Fail::usage(format!("the TARGET is missing after {target}"))
            .hint(format!("write udskit http SOCKET {target} /path")));
    }
    let parse_method = |m: &str| {
        let m = match KNOWN.iter().find(|k| k.eq_ignore_ascii_case(m)) {
            Some(k) => k.to_string(),
            None => m.to_string(),
        };
        Method::from_bytes(m.as_bytes())
            .map_err(|_| Fail::usage(format!("'{}' is not an HTTP method", escape(&m))))
    };
    let method = match (positional_method, &args.method) {
        (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b) => {
            return Err(Fail::usage(format!(
                "two methods: {} and -X {}",
                escape(a),
                escape(b)
            )));
        }
        (Some(m), _) | (None, Some(m)) => Some(parse_method(m)?),
        (None, None) => None,
    };
    let (data, json) = match (&args.data, &args.json) {
        (Some(d), _) => (Some(Data::parse(d)), false),
        (None, Some(j)) => (Some(Data::parse(j)), true),
        (None, None) => (None, false),
    };
    let method = match (method, args.head, &data) {
        (Some(m), true, _) if m != Method::HEAD => {
            return Err(Fail::usage(format!("-I sends HEAD, not {m}")));
        }
        (Some(m), _, _) => m,
        (None, true, _) => Method::HEAD,
        (None, false, Some(_)) => Method::POST,
        (None, false, None) => Method::GET,
    };
    if args.upgrade.is_some() && data == Some(Data::Stdin) {
        return Err(Fail::usage(
            "--upgrade bridges stdin to the upgraded connection: it cannot also be the body (@-)",
        ));
    }
    if let Some(p) = &args.upgrade
        && HeaderValue::from_str(p).is_err()
    {
        return Err(Fail::usage(format!(
            "--upgrade '{}': not a protocol name",
            escape(p)
        )));
    }
    let headers = args
        .headers
        .iter()
        .map(|h| request::parse_header(h))
        .collect::<Result<Vec<_>, _>>()?;
    let mut user_length = None;
    for (raw, h) in args.headers.iter().zip(&headers) {
        if let HeaderArg::Set(name, value) = h
            && name == header::CONTENT_LENGTH
        {
            if user_length.is_some() {
                return Err(Fail::usage("Content-Length is given twice (-H)"));
            }
            let n = value
                .to_str()
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| {
                    Fail::usage(format!("-H '{}': not a number of bytes", escape(raw)))
                })?;
            user_length = Some((raw.clone(), n));
        }
    }
    Ok(RequestPlan {
        given: target.clone(),
        include: args.include || method == Method::HEAD,
        method,
        target: request::parse_target(target)?,
        headers,
        data,
        json,
        user_length,
    })
}

impl RequestPlan {
    /// Holds the body to a Content-Length given with -H. One that disagrees with a body whose
    /// size is known is a usage error (a server would read a cut body, or take the rest for
    /// a next request); a body from a pipe, whose size cannot be known first, is sent with
    /// it and must end at exactly that many bytes.
    fn hold_to_user_length(&self, body: ReqBody) -> Result<ReqBody, Fail> {
        let Some((raw, n)) = &self.user_length else {
            return Ok(body);
        };
        let bad = |why: String| Fail::usage(format!("-H '{}': {why}", escape(raw)));
        match body.size() {
            Some(size) if size == *n => Ok(body),
            Some(_) if self.data.is_none() => Err(bad("no body is sent (-d, --json)".into())),
            Some(size) => Err(bad(format!(
                "the body is {size} bytes; leave Content-Length out, udskit sends the right one"
            ))),
            None => Ok(body.declared(*n)),
        }
    }

    /// The request headers in the order they go out: defaults, then -H in order (replacing
    /// a default of the same name, `Name:` removing one).
    fn header_map(&self, args: &Args, body_size: Option<u64>) -> Result<HeaderMap, Fail> {
        let mut h = HeaderMap::new();
        let value = |s: &str, what: &str| {
            HeaderValue::from_str(s).map_err(|_| {
                Fail::usage(format!("{what} '{}' holds control characters", escape(s)))
            })
        };
        if !args.http2 {
            h.insert(header::HOST, value(&self.target.authority, "the host")?);
        }
        let ua = args
            .user_agent
            .clone()
            .unwrap_or_else(|| concat!("udskit/", env!("CARGO_PKG_VERSION")).to_string());
        h.insert(header::USER_AGENT, value(&ua, "--user-agent")?);
        let accept = if self.json { "application/json" } else { "*/*" };
        h.insert(header::ACCEPT, HeaderValue::from_static(accept));
        if args.compressed {
            h.insert(
                header::ACCEPT_ENCODING,
                HeaderValue::from_static(decode::ACCEPTED),
            );
        }
        // Inline -d data is a form, as curl sends it. A file or stdin is not: curl's form
        // type on a tarball makes docker parse it as a form ("invalid semicolon separator").
        let ct = match (&self.data, self.json) {
            (None, _) => None,
            (Some(_), true) => Some("application/json"),
            (Some(Data::Inline(_)), false) => Some("application/x-www-form-urlencoded"),
            (Some(_), false) => Some("application/octet-stream"),
        };
        if let Some(ct) = ct {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        match body_size {
            Some(n)
                if self.data.is_some()
                    || matches!(self.method, Method::POST | Method::PUT | Method::PATCH) =>
            {
                h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
            }
            None if !args.http2 => {
                h.insert(
                    header::TRANSFER_ENCODING,
                    HeaderValue::from_static("chunked"),
                );
            }
            _ => {}
        }
        if let Some(p) = &args.upgrade {
            h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            h.insert(header::UPGRADE, value(p, "--upgrade")?);
        }
        let mut replaced = Vec::new();
        for arg in &self.headers {
            match arg {
                HeaderArg::Set(name, v) => {
                    if !replaced.contains(name) {
                        h.remove(name);
                        replaced.push(name.clone());
                    }
                    h.append(name.clone(), v.clone());
                }
                HeaderArg::Remove(name) => {
                    h.remove(name);
                }
            }
        }
        Ok(h)
    }
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let plan = plan(&args)?;
    let format = match &args.write_out {
        Some(f) => Some(writeout::Format::load(
            f,
            plan.data == Some(Data::Stdin) || args.upgrade.is_some(),
        )?),
        None => None,
    };
    let output = match args.remote_name {
        true => Some(output::remote_name(&plan.target.path)?),
        false => args.output.clone(),
    };
    // -s: curl's silence; -q already hides diagnostics, -s hides warnings and errors too.
    // `-sv` still shows the exchange, as curl's does.
    let ctx = &Ctx {
        quiet: ctx.quiet || (args.silent && ctx.verbose == 0),
        silent: ctx.silent || args.silent,
        ..ctx.clone()
    };
    let stop = Shutdown::install()?;
    let mut record = Record::default();
    let result = transfer(&args, &plan, output.as_deref(), ctx, &stop, &mut record).await;
    if stop.is_stopping() {
        return result;
    }
    let ending = report::Ending {
        show_error: !args.silent || args.show_error,
        format,
        started,
        method: plan.method.to_string(),
        url: plan.given.clone(),
        url_effective: format!("http://{}{}", plan.target.authority, plan.target.path),
    };
    report::end(result, record, ending, ctx)
}

async fn transfer(
    args: &Args,
    plan: &RequestPlan,
    output: Option<&std::path::Path>,
    ctx: &Ctx,
    stop: &Shutdown,
    record: &mut Record,
) -> anyhow::Result<()> {
    let clock = Clock::new(args.max_time);
    let what = format!(
        "{} {} on {}",
        plan.method,
        escape(&plan.target.path),
        escape(&args.socket.to_string())
    );
    // A missing @FILE or an unwritable -o fails before anything is sent.
    let body = match &plan.data {
        Some(d) => ReqBody::open(d)?,
        None => ReqBody::Empty,
    };
    let body = plan.hold_to_user_length(body)?;
    let headers = plan.header_map(args, body.size())?;
    // -o FILE: written beside FILE and renamed over it at the very end, on success only.
    let (out, out_done, replacing) = match output {
        Some(p) => {
            let (f, pending) = crate::io::outfile::create(p)?;
            let (out, done) = Writer::spawn_to(f);
            (out, done, pending)
        }
        None => {
            let (out, done) = Writer::spawn();
            record.tail = Some(out.tail());
            (out, done, None)
        }
    };
    let to_terminal = output.is_none() && ctx.stdout_is_tty;
    let pretty = !args.raw && (args.pretty || to_terminal);
    let view = View {
        pretty,
        color: pretty && output.is_none() && ctx.color_stdout,
        guard: to_terminal && !args.raw,
        demux: match (args.demux, args.raw) {
            (true, _) => Demux::Always,
            (_, true) => Demux::Never,
            _ => Demux::Auto,
        },
        progress: to_terminal && !args.raw,
        sniff: !args.raw,
    };

    let stream = tokio::select! {
        s = exchange::connect(&args.socket, args.connect) => s?,
        _ = clock.expired() => return Err(clock.fail(&what, "no connection").into()),
        _ = stop.stopped() => return Ok(()),
    };
    if let Some(c) = stream.peer_cred() {
        ctx.debug(format!(
            "connected to {} ({c})",
            escape(&args.socket.to_string())
        ));
    }
    let version = if args.http2 {
        Version::HTTP_2
    } else {
        Version::HTTP_11
    };
    let uri = if args.http2 {
        format!("http://{}{}", plan.target.authority, plan.target.path)
    } else {
        plan.target.path.clone()
    };
    head::verbose_head(
        ctx,
        "> ",
        &format!(
            "{} {} {}",
            plan.method,
            plan.target.path,
            head::version_name(version)
        ),
        &headers,
        !args.http2,
    );
    let mut req = Request::builder()
        .method(plan.method.clone())
        .uri(uri)
        .version(version)
        .body(body)
        .map_err(|e| Fail::usage(format!("{what}: {e}")))?;
    *req.headers_mut() = headers;

    let (_sender, mut resp, heads_seen) = tokio::select! {
        r = exchange::send(stream, req, args.http2) => r.map_err(|e| exchange::send_error(&e, &what))?,
        _ = clock.expired() => return Err(clock.fail(&what, "no answer").into()),
        _ = stop.stopped() => return Ok(()),
    };
    let status = resp.status();
    let switching = status == StatusCode::SWITCHING_PROTOCOLS && args.upgrade.is_some();
    let on_upgrade = switching.then(|| hyper::upgrade::on(&mut resp));
    let (parts, body) = resp.into_parts();
    // The heads as they came (the tap's copy), else as hyper parsed them (h2).
    let heads = heads_seen
        .as_ref()
        .and_then(|h| {
            let h = h.lock().unwrap_or_else(|e| e.into_inner());
            h.complete().map(<[u8]>::to_vec)
        })
        .unwrap_or_else(|| {
            let raw = View {
                pretty: false,
                ..view
            };
            head::head_bytes(&parts, &raw).to_vec()
        });
    record.status = Some(status);
    record.headers = Some(parts.headers.clone());
    record.size_header = heads.len() as u64;
    head::verbose_head(ctx, "< ", &head::status_line(&parts), &parts.headers, false);
    if let Some(to) = &args.dump_header {
        output::dump_heads(to, &heads, output.is_none().then_some(&out)).await?;
    }
    if plan.include && !out.is_closed() {
        let _ = out.write(head::head_bytes(&parts, &view)).await;
    }
    if status == StatusCode::SWITCHING_PROTOCOLS && on_upgrade.is_none() {
        let to = parts
            .headers
            .get(header::UPGRADE)
            .map(|p| format!(" (to {})", String::from_utf8_lossy(p.as_bytes())))
            .unwrap_or_default();
        return Err(Fail::new(
            FAILURE,
            format!(
                "{what}: the server answered 101 Switching Protocols{}, but no protocol switch was asked for",
                escape(&to)
            ),
        )
        .hint("--upgrade PROTOCOL asks for one and bridges the switched connection to stdin/stdout")
        .into());
    }

    let result = match on_upgrade {
        Some(on) => {
            // An interactive stream: bytes as they come (a TTY container draws with escapes),
            // docker frames split apart.
            let up_view = View {
                pretty: false,
                guard: false,
                progress: false,
                ..view
            };
            let render = Render::new(up_view, &parts.headers, out.clone());
            tokio::select! {
                r = upgrade::bridge(on, render, &out, stop, ctx) => r.with_context(|| what.clone()),
                _ = clock.expired() => Err(clock.fail(&what, "the upgraded stream did not end").into()),
            }
        }
        None => {
            let codings = if args.compressed {
                decode::codings(&parts.headers).map_err(|name| {
                    Fail::new(
                        crate::error::BAD_CONTENT_ENCODING,
                        format!(
                            "{what}: the answer is encoded as '{}', which udskit cannot decode (--compressed)",
                            escape(&name)
                        ),
                    )
                })?
            } else {
                Vec::new()
            };
            let announced = hyper::body::Body::size_hint(&body).exact();
            let source = decode::BodySource::new(body, &codings);
            // The bar of a download to a file, on a terminal's stderr, unless -s or -q.
            let bar = (output.is_some()
                && !ctx.quiet
                && !args.silent
                && plan.method != Method::HEAD
                && std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .then(|| progress::Download::new(announced));
            let render = Render::new(view, &parts.headers, out.clone());
            exchange::stream_body(
                source,
                announced,
                render,
                bar.as_ref(),
                &clock,
                stop,
                &what,
                ctx,
                &mut record.size_download,
            )
            .await
        }
    };
    drop(out);
    // After a stop signal the writer gets a second to drain, not for ever: the chunks
    // queued for a stdout nobody reads would otherwise keep a stopped request alive.
    let written = out_done.finish(stop).await.with_context(|| match output {
        Some(p) => format!("writing {}", escape(&p.display().to_string())),
        None => "writing stdout".to_string(),
    });
    result?;
    written?;
    if args.fail && status.as_u16() >= 400 {
        return Err(Fail::new(
            HTTP_ERROR,
            format!("{what}: the server answered {}", head::status_text(status)),
        )
        .into());
    }
    if let Some(p) = &args.upgrade
        && status != StatusCode::SWITCHING_PROTOCOLS
    {
        return Err(Fail::new(
            FAILURE,
            format!(
                "{what}: the server did not switch to {}: it answered {}",
                escape(p),
                head::status_text(status)
            ),
        )
        .into());
    }
    // A stop signal ends the body early without an error: what came is not the whole answer.
    if let Some(p) = replacing
        && !stop.is_stopping()
    {
        p.commit()?;
    }
    Ok(())
}
