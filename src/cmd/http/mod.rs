//! `udskit http SOCKET [METHOD] TARGET`: curl-style HTTP/1.1 (or h2c) over a socket on
//! hyper's client connection, with curl's exit codes, bodies streamed both ways, and the
//! Docker Engine's specialities: `Upgrade: tcp` turned into a two-way stream on
//! stdin/stdout, and its multiplexed stdout/stderr frames split apart.

mod body;
mod data;
mod decode;
mod demux;
mod docker;
mod exchange;
mod form;
mod head;
mod jsonstream;
mod output;
mod place;
mod progress;
mod redirect;
mod render;
mod report;
mod request;
mod tap;
mod upgrade;
mod writeout;
mod ws;
mod wsmessage;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode, Version};

use crate::duration::{self, MaxTime};
use crate::error::{FAILURE, Fail, HTTP_ERROR, TIMEOUT};
use crate::io::stdio::Writer;
use crate::net::addr::Addr;
use crate::shutdown::Shutdown;
use crate::term::{Ctx, escape};
use body::{ReqBody, Spec};
use data::DataArg;
use render::{Demux, Render, View};
use report::Record;
use request::{HeaderArg, Target};

/// HTTP over a unix socket, like curl --unix-socket (Docker API, uvicorn, nginx)
///
/// TARGET is /path?query or a full http://host/path URL, whose host becomes the Host header
/// (default localhost); characters a URL cannot hold are percent-encoded for you. METHOD is
/// GET, or POST when there is a body. The body streams to stdout as it arrives: unchanged
/// when piped; on a terminal JSON (also newline-delimited, value by value) is pretty-printed
/// and coloured and a binary body is not dumped. Docker's multiplexed logs and attach streams
/// are split onto stdout and stderr. With --upgrade, a 101 answer turns the connection into
/// a two-way stream on stdin/stdout (docker attach and exec). With --ws, a WebSocket
/// session: stdin lines up as messages, messages down to stdout, the close code the exit
/// code.
///
/// The socket is the SOCKET argument, else --unix-socket PATH or --abstract-unix-socket NAME
/// (as curl's), else an http+unix://%2Fpath%2Fto.sock/path TARGET, else DOCKER_HOST
/// (unix:///PATH or tcp://HOST:PORT). Of two arguments the first is a METHOD only when it is
/// a method name in upper case (GET, POST, ...) or the socket is named by an option or the
/// TARGET; a socket file named GET is written ./GET. A curl line runs as it is written:
/// `curl --unix-socket S URL ...` becomes `udskit http --unix-socket S URL ...`.
///
/// Docker's progress streams (pull, push, build) are drawn as a live line per layer on a
/// terminal and left as JSON when piped; an error in one is an error (exit 1) either way,
/// unless --raw. With -o or -O, a progress bar on stderr when it is a terminal.
///
/// Exit codes as curl's: 7 could not connect, 22 status >= 400 with --fail, 28 timeout,
/// 47 more redirects than --max-redirs, 61 an answer --compressed cannot decode, 65 a body
/// from stdin to be sent again (307/308); 1 for a broken answer (not HTTP, or cut off: what
/// arrived is kept) or a progress stream that reported an error.
///
/// Example:
///   udskit http /var/run/docker.sock /version
///   udskit http "$DOCKER_HOST" '/containers/json?all=1&filters={"status":["exited"]}'
///   udskit http /tmp/app.sock POST /items --json '{"name": "x"}'
///   udskit http --unix-socket /var/run/docker.sock -fL http://localhost/v1.41/info
///   DOCKER_HOST=unix:///var/run/docker.sock udskit http /version
///   udskit http -fsS -o /dev/null -w '%{http_code} %{time_total}\n' /tmp/app.sock /health
///   udskit http --ws --binary /var/run/docker.sock "/containers/$ID/attach/ws?stream=1&stdin=1&stdout=1"
#[derive(clap::Args, Debug)]
#[command(
    override_usage = "udskit http [OPTIONS] [SOCKET] [METHOD] <TARGET>",
    verbatim_doc_comment
)]
pub struct Args {
    /// [SOCKET] [METHOD] TARGET: the socket (PATH, @NAME, unix:///PATH, tcp:HOST:PORT,
    /// tcp://HOST:PORT), a method (GET, POST, ...) and /path?query or http://host/path
    #[arg(value_name = "TARGET", num_args = 1..=3, required = true)]
    pub request: Vec<String>,
    /// The socket file, as curl's option: TARGET is then a URL or a path, and no SOCKET
    /// argument is given
    #[arg(long, value_name = "PATH", conflicts_with = "abstract_unix_socket")]
    pub unix_socket: Option<PathBuf>,
    /// A socket in the Linux abstract namespace, as curl's option (NAME without the '@')
    #[arg(long, value_name = "NAME")]
    pub abstract_unix_socket: Option<String>,
    /// The method (as curl -X; a METHOD argument does the same)
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub method: Option<String>,
    /// A request header, 'Name: value' (repeatable); 'Name:' drops a default one
    #[arg(short = 'H', long = "header", value_name = "HEADER")]
    pub headers: Vec<String>,
    /// Send DATA as the body (a form, as curl's); POST unless a method is given. @FILE or
    /// @- (stdin) read it with CR and LF left out, as curl does (--data-binary keeps them).
    /// Several -d/--data-* are joined with '&' in order
    #[arg(short = 'd', long, value_name = "DATA", value_parser = data::data)]
    pub data: Vec<DataArg>,
    /// Send DATA, @FILE or @- byte for byte; a file or stdin goes as
    /// application/octet-stream
    #[arg(long, value_name = "DATA", value_parser = data::binary)]
    pub data_binary: Vec<DataArg>,
    /// Send DATA as it is written, '@' included
    #[arg(long, value_name = "DATA", value_parser = data::raw)]
    pub data_raw: Vec<DataArg>,
    /// Send DATA URL-encoded, in curl's forms: content, =content, name=content, @FILE,
    /// name@FILE (the name is sent as it is)
    #[arg(long, value_name = "DATA", value_parser = data::url_encode)]
    pub data_urlencode: Vec<DataArg>,
    /// Put the -d/--data-* data in the URL's query and send a GET (HEAD with -I)
    #[arg(short = 'G', long, conflicts_with_all = ["json", "form", "upload_file"])]
    pub get: bool,
    /// Send DATA, @FILE or @- as a JSON body (sets Content-Type and Accept)
    #[arg(
        long,
        value_name = "DATA",
        conflicts_with_all = ["data", "data_binary", "data_raw", "data_urlencode", "form", "upload_file"]
    )]
    pub json: Option<String>,
    /// A multipart/form-data field (repeatable), as curl's: name=value, name=@FILE (a file,
    /// streamed; ;type=T and ;filename=N may follow), 'name=<FILE' (a text field from a file)
    #[arg(
        short = 'F',
        long,
        value_name = "NAME=CONTENT",
        conflicts_with_all = ["data", "data_binary", "data_raw", "data_urlencode", "upload_file"]
    )]
    pub form: Vec<String>,
    /// PUT FILE (or - for stdin) as the body, streamed; a TARGET ending in '/' gets the
    /// file's name appended, as curl does
    #[arg(
        short = 'T',
        long,
        value_name = "FILE",
        conflicts_with_all = ["data", "data_binary", "data_raw", "data_urlencode"]
    )]
    pub upload_file: Option<PathBuf>,
    /// Basic authentication (Authorization: Basic); a -H Authorization wins. udskit never
    /// prompts: give the password too
    #[arg(short = 'u', long, value_name = "USER:PASSWORD")]
    pub user: Option<String>,
    /// Follow redirects (3xx with a Location) on the same socket, as curl: 301/302 turn a
    /// POST into a GET, 303 anything but HEAD, 307/308 keep the method and the body
    #[arg(short = 'L', long)]
    pub location: bool,
    /// At most N redirects with -L (-1: no limit); one more is exit 47, as curl's
    #[arg(
        long,
        value_name = "N",
        default_value_t = 50,
        allow_negative_numbers = true,
        value_parser = clap::value_parser!(i64).range(-1..)
    )]
    pub max_redirs: i64,
    /// The User-Agent header [default: udskit/VERSION]
    #[arg(short = 'A', long, value_name = "NAME")]
    pub user_agent: Option<String>,
    /// Speak HTTP/2 without TLS from the first byte (h2c prior knowledge, as gRPC servers do)
    #[arg(long)]
    pub http2: bool,
    /// HTTP/1.1, the default (accepted for curl's sake)
    #[arg(long = "http1.1", conflicts_with = "http2")]
    pub http1_1: bool,
    /// Accepted for curl's sake, and meaningless here: plain HTTP on a socket has no TLS
    #[arg(short = 'k', long)]
    pub insecure: bool,
    /// Accepted for curl's sake: bodies always stream, nothing is buffered
    #[arg(short = 'N', long)]
    pub no_buffer: bool,
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
    /// Give up the whole request after DURATION (exit 28; what arrived is kept); 0: no limit
    #[arg(short, long, value_name = "DURATION", value_parser = duration::parse)]
    pub max_time: Option<Duration>,
    #[command(flatten)]
    pub connect: crate::net::connect::ConnectOpts,
    /// Ask to switch protocols (Connection: Upgrade, Upgrade: PROTOCOL, e.g. tcp); a 101
    /// answer bridges the connection to stdin/stdout with half-close
    #[arg(long, value_name = "PROTOCOL", conflicts_with = "http2")]
    pub upgrade: Option<String>,
    /// Speak WebSocket on TARGET: each stdin line is sent as a text message, each message
    /// received is written to stdout (text and a newline, binary as it is); the server's
    /// close code is printed on stderr and is the exit code: 1000 (or none) exit 0, 4000+N
    /// exit N (N up to 255), any other exit 1. Stdin's end sends a close (1000) and waits
    /// up to 5s for the server's (not with --no-close)
    #[arg(
        long,
        conflicts_with_all = [
            "upgrade", "http2", "data", "data_binary", "data_raw", "data_urlencode", "json",
            "form", "upload_file", "get", "head", "include", "output", "remote_name",
            "location", "write_out", "dump_header", "compressed", "demux", "pretty", "raw",
        ]
    )]
    pub ws: bool,
    /// With --ws: each stdin read is sent as one binary message (bytes unchanged)
    #[arg(long, requires = "ws")]
    pub binary: bool,
    /// With --ws: each message received as one JSON object on a line: type (text or
    /// binary), size, encoding (utf-8, or base64 for binary), data; and a last
    /// {"type":"close","code":C,"reason":R}
    #[arg(long, requires = "ws")]
    pub ws_json: bool,
    /// With --ws: stdin's end sends no close frame; the session lasts until the server
    /// closes (a server that only pushes, with stdin at its end or /dev/null)
    #[arg(long, requires = "ws")]
    pub no_close: bool,
    /// With --ws: ask for the subprotocol PROTOCOL (Sec-WebSocket-Protocol; repeatable, in
    /// order of preference)
    #[arg(long, value_name = "PROTOCOL", requires = "ws")]
    pub subprotocol: Vec<String>,
    /// Split docker's multiplexed frames onto stdout and stderr (automatic when the answer
    /// is marked or recognisably multiplexed)
    #[arg(long, conflicts_with = "raw")]
    pub demux: bool,
    /// Format the body as on a terminal even when piped (JSON pretty-printed)
    #[arg(long, conflicts_with = "raw")]
    pub pretty: bool,
    /// Send the path as given: `.` and `..` segments are otherwise resolved first
    /// (`/a/../b` is sent as `/b`), as curl does
    #[arg(long)]
    pub path_as_is: bool,
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
    socket: Addr,
    method: Method,
    /// TARGET as given (`-w %{url}`).
    given: String,
    target: Target,
    headers: Vec<HeaderArg>,
    /// The body to send, opened for each request (a 307/308 sends it again).
    body: Option<Spec>,
    /// The Content-Type sent with the body unless -H gives one.
    content_type: Option<String>,
    json: bool,
    /// Authorization from -u or the URL's user:password.
    auth: Option<HeaderValue>,
    /// Print the head before the body (-i, -I, HEAD).
    include: bool,
    /// A Content-Length given with -H: the -H text and the length.
    user_length: Option<(String, u64)>,
}

/// One request of a chain of redirects: what changes from one to the next.
struct Hop {
    method: Method,
    target: Target,
    body: Option<Spec>,
    /// Still the host asked for: credentials go to it only, as curl sends them.
    same_host: bool,
}

fn plan(args: &Args) -> Result<RequestPlan, Fail> {
    let place = place::resolve(
        &args.request,
        place::Sources {
            unix_socket: args.unix_socket.as_deref(),
            abstract_socket: args.abstract_unix_socket.as_deref(),
            docker_host: std::env::var("DOCKER_HOST").ok(),
        },
    )?;
    if place.socket.is_udp() {
        return Err(Fail::usage(format!(
            "{}: a UDP address carries datagrams; http speaks HTTP/1.1 or h2c over a stream \
             socket",
            escape(&place.socket.to_string())
        ))
        .hint(
            "for a server on that port over TCP write tcp:HOST:PORT; for a unix socket, its \
             PATH or @NAME",
        ));
    }
    let (positional_method, target) = (place.method.as_ref(), &place.target);
    if positional_method.is_none() && place::KNOWN.contains(&target.as_str()) {
        return Err(Fail::usage(format!("the TARGET is missing after {target}"))
            .hint(format!("write udskit http SOCKET {target} /path")));
    }
    let parse_method = |m: &str| {
        let m = match place::KNOWN.iter().find(|k| k.eq_ignore_ascii_case(m)) {
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
    let (mut target, userinfo) = request::parse_target(target)?;
    if !args.path_as_is {
        target.path = request::without_dot_segments(&target.path);
    }

    // The body: -d/--data-* joined in order, --json, -F or -T (clap keeps them apart).
    let data_lists: [&[DataArg]; 4] = [
        &args.data,
        &args.data_binary,
        &args.data_raw,
        &args.data_urlencode,
    ];
    let has_data = data_lists.iter().any(|l| !l.is_empty());
    let (mut body, mut content_type) = if has_data {
        let spec = data::spec(&data_lists)?;
        let ct = if spec.only_raw_source() {
            // A file or stdin byte for byte is not a form: curl's form type on a tarball
            // makes docker parse it as one ("invalid semicolon separator").
            "application/octet-stream"
        } else {
            "application/x-www-form-urlencoded"
        };
        (Some(spec), Some(ct.to_string()))
    } else if let Some(j) = &args.json {
        let mut spec = Spec::default();
        match j.strip_prefix('@') {
            Some("-") => spec.push(body::Src::Stdin, body::Shape::Raw),
            Some(p) => spec.push(body::Src::File(p.into()), body::Shape::Raw),
            None => spec.push_bytes(j.clone()),
        }
        (Some(spec), Some("application/json".to_string()))
    } else if !args.form.is_empty() {
        let fields = args
            .form
            .iter()
            .map(|f| form::parse(f))
            .collect::<Result<Vec<_>, _>>()?;
        let boundary = form::boundary();
        (
            Some(form::spec(&fields, &boundary)?),
            Some(format!("multipart/form-data; boundary={boundary}")),
        )
    } else if let Some(file) = &args.upload_file {
        let mut spec = Spec::default();
        if file.as_os_str() == "-" {
            spec.push(body::Src::Stdin, body::Shape::Raw);
        } else {
            spec.push(body::Src::File(file.clone()), body::Shape::Raw);
            target = upload_target(target, file);
        }
        (Some(spec), None)
    } else {
        (None, None)
    };
    if let Some(spec) = &body {
        let stdins = spec
            .parts
            .iter()
            .filter(|(s, _)| *s == body::Src::Stdin)
            .count();
        if stdins > 1 {
            return Err(Fail::usage(
                "stdin (@-) is read for the body more than once",
            ));
        }
    }
    // -G: the data goes into the query instead.
    if args.get {
        if let Some(spec) = body.take() {
            let query = String::from_utf8_lossy(&spec.read_all()?).into_owned();
            let sep = if target.path.contains('?') { '&' } else { '?' };
            let with = format!("http://{}{}{sep}{query}", target.authority, target.path);
            target = request::parse_target(&with)?.0;
        }
        content_type = None;
    }
    let method = match (method, args.head, &body) {
        (Some(m), true, _) if m != Method::HEAD => {
            return Err(Fail::usage(format!("-I sends HEAD, not {m}")));
        }
        (Some(m), _, _) => m,
        (None, true, _) => Method::HEAD,
        (None, false, _) if args.upload_file.is_some() => Method::PUT,
        (None, false, Some(_)) => Method::POST,
        (None, false, None) => Method::GET,
    };
    if args.upgrade.is_some() && body.as_ref().is_some_and(Spec::reads_stdin) {
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
    let credentials = match (&args.user, userinfo) {
        (Some(u), _) if !u.contains(':') => {
            return Err(Fail::usage(format!(
                "-u '{}': no password: udskit never prompts for one",
                escape(u)
            ))
            .hint(format!("write -u {}:PASSWORD", escape(u))));
        }
        (Some(u), _) => Some(u.clone()),
        (None, u) => u,
    };
    let auth = match credentials {
        Some(c) => {
            use base64::Engine as _;
            let v = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(c.as_bytes())
            );
            Some(HeaderValue::from_str(&v).map_err(|_| Fail::usage("-u: not a valid header"))?)
        }
        None => None,
    };
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
        socket: place.socket,
        given: place.target.clone(),
        include: args.include || method == Method::HEAD,
        method,
        target,
        headers,
        body,
        content_type,
        json: args.json.is_some(),
        auth,
        user_length,
    })
}

/// curl's -T: a target ending in '/' gets the file's name, percent-encoded, before the query.
fn upload_target(target: Target, file: &std::path::Path) -> Target {
    let (path, query) = match target.path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target.path.as_str(), None),
    };
    let Some(name) = file.file_name().filter(|_| path.ends_with('/')) else {
        return target;
    };
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    let name = percent_encoding::percent_encode(name.as_encoded_bytes(), SET);
    let path = match query {
        Some(q) => format!("{path}{name}?{q}"),
        None => format!("{path}{name}"),
    };
    Target {
        authority: target.authority,
        path,
    }
}

impl RequestPlan {
    /// Holds the body to a Content-Length given with -H. One that disagrees with a body whose
    /// size is known is a usage error (a server would read a cut body, or take the rest for
    /// a next request); a body from a pipe, whose size cannot be known first, is sent with
    /// it and must end at exactly that many bytes.
    fn hold_to_user_length(&self, body: ReqBody, hop: &Hop) -> Result<ReqBody, Fail> {
        let Some((raw, n)) = &self.user_length else {
            return Ok(body);
        };
        let bad = |why: String| Fail::usage(format!("-H '{}': {why}", escape(raw)));
        match body.size() {
            Some(size) if size == *n => Ok(body),
            Some(_) if hop.body.is_none() => Err(bad("no body is sent (-d, --json)".into())),
            Some(size) => Err(bad(format!(
                "the body is {size} bytes; leave Content-Length out, udskit sends the right one"
            ))),
            None => Ok(body.declared(*n)),
        }
    }

    /// The request headers in the order they go out: defaults, then -H in order (replacing
    /// a default of the same name, `Name:` removing one).
    fn header_map(
        &self,
        args: &Args,
        hop: &Hop,
        body_size: Option<u64>,
    ) -> Result<HeaderMap, Fail> {
        let mut h = HeaderMap::new();
        let value = |s: &str, what: &str| {
            HeaderValue::from_str(s).map_err(|_| {
                Fail::usage(format!("{what} '{}' holds control characters", escape(s)))
            })
        };
        if !args.http2 {
            h.insert(header::HOST, value(&hop.target.authority, "the host")?);
        }
        if let Some(a) = self.auth.as_ref().filter(|_| hop.same_host) {
            h.insert(header::AUTHORIZATION, a.clone());
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
        match body_size {
            Some(n)
                if hop.body.is_some()
                    || matches!(hop.method, Method::POST | Method::PUT | Method::PATCH) =>
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
        if let Some(ct) = self.content_type.as_ref().filter(|_| hop.body.is_some()) {
            h.insert(header::CONTENT_TYPE, value(ct, "the content type")?);
        }
        if let Some(p) = &args.upgrade {
            h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            h.insert(header::UPGRADE, value(p, "--upgrade")?);
        }
        let mut replaced = Vec::new();
        for arg in &self.headers {
            match arg {
                // Credentials do not follow a redirect to another host (curl neither), nor
                // does the length of a body the redirect dropped.
                HeaderArg::Set(name, _)
                    if (!hop.same_host
                        && (name == header::AUTHORIZATION || name == header::COOKIE))
                        || (hop.body.is_none()
                            && self.body.is_some()
                            && (name == header::CONTENT_LENGTH
                                || name == header::CONTENT_TYPE)) => {}
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

/// The request a followed redirect (the `redirects`th) leads to, or why there is none:
/// more than --max-redirs, a Location udskit cannot follow, a body from stdin to send again.
fn next_hop(
    args: &Args,
    plan: &RequestPlan,
    mut hop: Hop,
    status: StatusCode,
    location: &str,
    redirects: i64,
    what: &str,
) -> Result<Hop, Fail> {
    if args.max_redirs >= 0 && redirects > args.max_redirs {
        return Err(Fail::new(
            redirect::TOO_MANY,
            format!(
                "{what}: the server redirected again after {} redirect{} (--max-redirs {})",
                redirects - 1,
                if redirects == 2 { "" } else { "s" },
                args.max_redirs
            ),
        ));
    }
    let next = redirect::follow(&hop.target, location).map_err(|f| Fail {
        message: format!("{what}: {}", f.message),
        ..f
    })?;
    let (method, keep_body) = redirect::next_method(status, &hop.method);
    let body = if keep_body { hop.body.take() } else { None };
    if body.as_ref().is_some_and(Spec::reads_stdin) {
        return Err(Fail::new(
            redirect::NO_REWIND,
            format!(
                "{what}: the server answered {} to {}, which means sending the body again, and a body from stdin cannot be read twice",
                head::status_text(status),
                escape(location)
            ),
        )
        .hint("save it to a file and send that (--data-binary @FILE), or send it to the new location"));
    }
    Ok(Hop {
        same_host: hop.same_host && next.authority == plan.target.authority,
        method,
        target: next,
        body,
    })
}

/// A head as it came (the tap's copy), else as hyper parsed it (h2).
fn seen_heads(
    seen: Option<&std::sync::Arc<std::sync::Mutex<tap::Heads>>>,
    parts: &hyper::http::response::Parts,
    view: &View,
) -> Vec<u8> {
    seen.and_then(|h| {
        let h = h.lock().unwrap_or_else(|e| e.into_inner());
        h.complete().map(<[u8]>::to_vec)
    })
    .unwrap_or_else(|| {
        let raw = View {
            pretty: false,
            ..*view
        };
        head::head_bytes(parts, &raw).to_vec()
    })
}

/// The head `-i` shows: piped, as it came off the wire (`heads`: header names in the case
/// the server wrote them, 1xx heads before it, as curl -i shows them); on a terminal,
/// coloured from the parsed head.
fn included(heads: &[u8], parts: &hyper::http::response::Parts, view: &View) -> bytes::Bytes {
    match view.pretty {
        true => head::head_bytes(parts, view),
        false => bytes::Bytes::copy_from_slice(heads),
    }
}

/// With -v, what curl's options that change nothing here mean, said once.
/// Whether the rest of a body may be spliced from the socket to the output (the output a
/// pipe, a regular file or /dev/null): not decoded, HTTP/1.1 read through the tap, and
/// framed by Content-Length or by the connection's end; a chunked body stays with hyper,
/// which takes its framing apart.
fn fast_path(
    plain: bool,
    headers: &hyper::HeaderMap,
    announced: Option<u64>,
    socket: exchange::Socket,
    heads: exchange::HeadsSeen,
    out: Option<std::os::fd::OwnedFd>,
) -> Option<exchange::Fast> {
    if !plain || headers.contains_key(header::TRANSFER_ENCODING) {
        return None;
    }
    let length = match headers.get(header::CONTENT_LENGTH) {
        Some(_) => Some(announced?),
        None => None,
    };
    let out = out?;
    Some(exchange::Fast {
        sink: crate::io::splice::sink_of(&out)?,
        socket: socket?,
        heads: heads?,
        out,
        length,
    })
}

fn curl_notes(args: &Args, ctx: &Ctx) {
    if args.insecure {
        ctx.debug("-k/--insecure has no effect: the request is plain HTTP on the socket, there is no certificate to check");
    }
    if args.no_buffer {
        ctx.debug("-N/--no-buffer: bodies stream as they arrive anyway");
    }
    if args.http1_1 {
        ctx.debug("--http1.1: HTTP/1.1 is the default");
    }
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let plan = plan(&args)?;
    curl_notes(&args, ctx);
    let format = match &args.write_out {
        Some(f) => Some(writeout::Format::load(
            f,
            plan.body.as_ref().is_some_and(Spec::reads_stdin) || args.upgrade.is_some(),
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
    if args.ws {
        return run_ws(&args, &plan, ctx, &stop).await;
    }
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

/// `--ws`: the WebSocket session in place of a request.
async fn run_ws(args: &Args, plan: &RequestPlan, ctx: &Ctx, stop: &Shutdown) -> anyhow::Result<()> {
    if plan.method != Method::GET {
        return Err(Fail::usage(format!(
            "--ws opens a WebSocket with a GET, not {}",
            plan.method
        ))
        .into());
    }
    let ua = args
        .user_agent
        .clone()
        .unwrap_or_else(|| concat!("udskit/", env!("CARGO_PKG_VERSION")).to_string());
    let user_agent = HeaderValue::from_str(&ua).map_err(|_| {
        Fail::usage(format!(
            "--user-agent '{}' holds control characters",
            escape(&ua)
        ))
    })?;
    let session = ws::Session {
        socket: &plan.socket,
        connect: args.connect,
        authority: &plan.target.authority,
        path: &plan.target.path,
        headers: &plan.headers,
        user_agent,
        auth: plan.auth.clone(),
        subprotocols: &args.subprotocol,
        binary: args.binary,
        no_close: args.no_close,
        json: args.ws_json,
        fail: args.fail,
        max_time: args.max_time,
    };
    let result = ws::run(session, ctx, stop).await;
    // -s: the exit code tells, the message is not shown (-sS shows it), as for a request.
    match result {
        Err(e) if args.silent && !args.show_error => {
            Err(crate::error::Reported(crate::error::exit_code(&e)).into())
        }
        r => r,
    }
}

async fn transfer(
    args: &Args,
    plan: &RequestPlan,
    output: Option<&std::path::Path>,
    ctx: &Ctx,
    stop: &Shutdown,
    record: &mut Record,
) -> anyhow::Result<()> {
    let clock = MaxTime::new(args.max_time);
    let mut hop = Hop {
        method: plan.method.clone(),
        target: plan.target.clone(),
        body: plan.body.clone(),
        same_host: true,
    };
    // A missing @FILE or an unwritable -o fails before anything is sent.
    let mut first_body = Some(match &hop.body {
        Some(spec) => spec.open()?,
        None => ReqBody::Empty,
    });
    // -o FILE: written beside FILE and renamed over it at the very end, on success only.
    // A copy of the output's descriptor, for splicing a body there past the Writer.
    let mut out_fd = None;
    let (out, out_done, replacing) = match output {
        Some(p) => {
            let (f, pending) = crate::io::outfile::create(p)?;
            out_fd = std::os::fd::AsFd::as_fd(&f).try_clone_to_owned().ok();
            let (out, done) = Writer::spawn_to(f);
            (out, done, pending)
        }
        None => {
            let (out, done) = Writer::spawn();
            record.tail = Some(out.tail());
            if !ctx.stdout_is_tty {
                out_fd = rustix::stdio::stdout().try_clone_to_owned().ok();
            }
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
    let version = if args.http2 {
        Version::HTTP_2
    } else {
        Version::HTTP_11
    };
    let socket = escape(&plan.socket.to_string()).into_owned();

    // One request, then one more for each redirect followed with -L.
    let mut redirects = 0i64;
    let (what, resp) = loop {
        let what = format!("{} {} on {socket}", hop.method, escape(&hop.target.path));
        let body = match first_body.take() {
            Some(b) => b,
            None => match &hop.body {
                Some(spec) => spec.open()?,
                None => ReqBody::Empty,
            },
        };
        let body = plan.hold_to_user_length(body, &hop)?;
        let headers = plan.header_map(args, &hop, body.size())?;
        let stream = tokio::select! {
            s = exchange::connect(&plan.socket, args.connect) => s?,
            _ = clock.expired() => return Err(Fail::new(TIMEOUT, clock.missed(&what, "no connection")).into()),
            _ = stop.stopped() => return Ok(()),
        };
        if let Some(c) = stream.peer_cred() {
            ctx.debug(format!("connected to {socket} ({c})"));
        }
        let uri = if args.http2 {
            format!("http://{}{}", hop.target.authority, hop.target.path)
        } else {
            hop.target.path.clone()
        };
        head::verbose_head(
            ctx,
            "> ",
            &format!(
                "{} {} {}",
                hop.method,
                hop.target.path,
                head::version_name(version)
            ),
            &headers,
            !args.http2,
        );
        let mut req = Request::builder()
            .method(hop.method.clone())
            .uri(uri)
            .version(version)
            .body(body)
            .map_err(|e| Fail::usage(format!("{what}: {e}")))?;
        *req.headers_mut() = headers;

        let (sender, resp, heads_seen, socket) = tokio::select! {
            r = exchange::send(stream, req, args.http2) => r.map_err(|e| exchange::send_error(&e, &what))?,
            _ = clock.expired() => return Err(Fail::new(TIMEOUT, clock.missed(&what, "no answer")).into()),
            _ = stop.stopped() => return Ok(()),
        };
        let location = resp
            .headers()
            .get(header::LOCATION)
            .filter(|_| args.location && redirect::is_redirect(resp.status()))
            .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
        let Some(location) = location else {
            break (what, (sender, resp, heads_seen, socket));
        };
        // A redirect followed: its head is shown as curl -iL and -v show it, its body is
        // not read, and the next request goes to the same socket on a new connection.
        let (parts, _) = resp.into_parts();
        drop(sender);
        let heads = seen_heads(heads_seen.as_ref(), &parts, &view);
        record.size_header += heads.len() as u64;
        head::verbose_head(ctx, "< ", &head::status_line(&parts), &parts.headers, false);
        if let Some(to) = &args.dump_header {
            output::dump_heads(to, &heads, output.is_none().then_some(&out), redirects > 0).await?;
        }
        if plan.include && !out.is_closed() {
            let _ = out.write(included(&heads, &parts, &view)).await;
        }
        redirects += 1;
        let here = format!("http://{}{}", hop.target.authority, hop.target.path);
        let method = hop.method.to_string();
        match next_hop(args, plan, hop, parts.status, &location, redirects, &what) {
            Ok(next) => {
                hop = next;
                record.num_redirects = redirects as u64;
            }
            Err(fail) => {
                // -w tells of the answer not followed, as curl's does.
                record.status = Some(parts.status);
                record.headers = Some(parts.headers.clone());
                record.effective = Some((method, here));
                // The heads shown so far reach stdout before the error, as curl's do.
                drop(out);
                let _ = clock.before(out_done.finish(stop), Ok(())).await;
                return Err(fail.into());
            }
        }
        ctx.debug(format!(
            "following {} to {} http://{}{}",
            parts.status.as_u16(),
            hop.method,
            hop.target.authority,
            hop.target.path
        ));
    };
    let (_sender, mut resp, heads_seen, socket) = resp;
    let status = resp.status();
    let switching = status == StatusCode::SWITCHING_PROTOCOLS && args.upgrade.is_some();
    let on_upgrade = switching.then(|| hyper::upgrade::on(&mut resp));
    let (parts, body) = resp.into_parts();
    let heads = seen_heads(heads_seen.as_ref(), &parts, &view);
    record.status = Some(status);
    record.headers = Some(parts.headers.clone());
    record.size_header += heads.len() as u64;
    record.effective = Some((
        hop.method.to_string(),
        format!("http://{}{}", hop.target.authority, hop.target.path),
    ));
    head::verbose_head(ctx, "< ", &head::status_line(&parts), &parts.headers, false);
    if let Some(to) = &args.dump_header {
        output::dump_heads(to, &heads, output.is_none().then_some(&out), redirects > 0).await?;
    }
    if plan.include && !out.is_closed() {
        let _ = out.write(included(&heads, &parts, &view)).await;
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
                r = upgrade::bridge(on, render, &out, (stop, &clock), ctx) => r.with_context(|| what.clone()),
                _ = clock.expired() => Err(Fail::new(TIMEOUT, clock.missed(&what, "the upgraded stream did not end")).into()),
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
            let fast = fast_path(
                codings.is_empty() && !hyper::body::Body::is_end_stream(&body),
                &parts.headers,
                announced,
                socket,
                heads_seen.clone(),
                out_fd,
            );
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
                fast,
            )
            .await
        }
    };
    drop(out);
    // After a stop signal the writer gets a second to drain, and none past --max-time,
    // not for ever: the chunks queued for a stdout nobody reads would otherwise keep a
    // stopped or timed-out request alive.
    let written = clock.before(out_done.finish(stop), Ok(())).await;
    let written = written.with_context(|| match (output, replacing.as_ref()) {
        (_, Some(held)) if let Some(doing) = held.holding() => doing,
        (Some(p), _) => format!("writing {}", escape(&p.display().to_string())),
        (None, _) => "writing stdout".to_string(),
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
