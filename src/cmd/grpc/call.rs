//! `call SERVICE/METHOD`: the request messages parsed from JSON (one, or a stream of them
//! read as they arrive), the call on its own HTTP/2 stream, each answer printed as it comes
//! (pretty and coloured on a terminal, one object per line when piped), headers and
//! trailers with `-v`, and the status at the end.

use std::path::PathBuf;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use colored_json::ColoredFormatter;
use http::uri::PathAndQuery;
use prost_reflect::{DeserializeOptions, DynamicMessage, MessageDescriptor, SerializeOptions};
use serde_json::ser::{CompactFormatter, PrettyFormatter};
use tokio::sync::mpsc;
use tonic::client::Grpc;
use tonic::metadata::MetadataMap;

use super::channel::Channel;
use super::codec::DynamicCodec;
use super::schema::Schema;
use super::status;
use crate::error::{FAILURE, Fail};
use crate::io::stdio::Writer;
use crate::shutdown::Shutdown;
use crate::term::{Ctx, escape, stderr_line};

/// Request messages queued ahead of the call: a few, so that a fast stdin does not pile up
/// in memory when the server reads slowly (HTTP/2 flow control holds the rest back).
const QUEUED: usize = 16;

/// Answers gathered into one write to stdout: 64 KiB takes a few hundred small messages in
/// one write(2) (and one wakeup of the stdout thread) instead of one each, for a delay a
/// person never sees (a batch ends as soon as no answer is waiting).
const BATCH: usize = 64 * 1024;

/// Room kept in the reused buffer beyond a batch: the message that ends a batch goes in
/// whole, so most batches never grow it.
const SLACK: usize = 4 * 1024;

/// A `-d` argument: JSON itself, `@FILE` or `@-` (stdin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    Inline(String),
    File(PathBuf),
    Stdin,
}

impl Data {
    pub fn parse(s: &str) -> Data {
        match s.strip_prefix('@') {
            Some("-") => Data::Stdin,
            Some(path) => Data::File(PathBuf::from(path)),
            None => Data::Inline(s.to_string()),
        }
    }
}

/// One call and how it is made.
pub struct Call {
    pub channel: Channel,
    pub metadata: MetadataMap,
    /// Sent as grpc-timeout: what is left of --max-time.
    pub timeout: Option<Duration>,
    pub emit_defaults: bool,
    /// "udskit.test.Echo/Unary on /run/x.sock", for messages.
    pub what: String,
}

impl Call {
    pub async fn run(
        &self,
        schema: &mut Schema,
        method: &str,
        data: Option<Data>,
        out: &Writer,
        ctx: &Ctx,
        stop: &Shutdown,
    ) -> anyhow::Result<()> {
        let method = method.trim_start_matches('.');
        let (svc, name) = method
            .rsplit_once('/')
            .or_else(|| method.rsplit_once('.'))
            .ok_or_else(|| {
                Fail::usage(format!("'{}': not SERVICE/METHOD", escape(method)))
                    .hint("write call package.Service/Method")
            })?;
        schema.load(svc).await?;
        let service = schema.pool.get_service_by_name(svc).ok_or_else(|| {
            Fail::new(
                FAILURE,
                format!("{}: the schema has no service {}", self.what, escape(svc)),
            )
            .hint("`udskit grpc SOCKET list` shows the services")
        })?;
        let m = service
            .methods()
            .find(|m| m.name() == name)
            .ok_or_else(|| {
                Fail::new(
                    FAILURE,
                    format!(
                        "{}: {} has no method {}",
                        self.what,
                        escape(svc),
                        escape(name)
                    ),
                )
                .hint(format!(
                    "`udskit grpc SOCKET list {}` shows its methods",
                    escape(svc)
                ))
            })?;
        let path: PathAndQuery = format!("/{}/{}", service.full_name(), m.name())
            .parse()
            .map_err(|_| Fail::usage(format!("'{}': not a method name", escape(method))))?;
        let input = m.input();
        let (tx, rx) = mpsc::channel(QUEUED);
        // A single request is parsed before the call starts, so that a malformed one never
        // reaches the server as a cancelled call.
        let feed = if m.is_client_streaming() {
            Some(feed(
                data.unwrap_or(Data::Stdin),
                input,
                tx,
                self.what.clone(),
            ))
        } else {
            let msg = one(data, &input, &self.what).await?;
            let _ = tx.send(msg).await;
            drop(tx);
            None
        };

        let mut request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
        *request.metadata_mut() = self.metadata.clone();
        if let Some(t) = self.timeout {
            request.set_timeout(t);
        }
        verbose(
            ctx,
            "> ",
            &[
                format!(":path {path}"),
                format!(
                    ":authority {}",
                    self.channel.origin.authority().map_or("", |a| a.as_str())
                ),
            ],
            request.metadata(),
        );
        let view = View {
            pretty: ctx.stdout_is_tty,
            color: ctx.color_stdout,
            options: SerializeOptions::new().skip_default_fields(!self.emit_defaults),
        };
        let mut grpc = Grpc::with_origin(self.channel.clone(), self.channel.origin.clone())
            .max_decoding_message_size(self.channel.max_message)
            .max_encoding_message_size(usize::MAX);
        let codec = DynamicCodec { output: m.output() };
        let what = &self.what;
        let channel = &self.channel;
        // A unary or client-streaming call has exactly one answer (grpc-go calls an OK
        // without one a cardinality violation, INTERNAL).
        let one_answer = !m.is_server_streaming();
        let mut answers = 0u64;
        let answer = async move {
            grpc.ready().await.map_err(|t| t.fail(what))?;
            let resp = grpc.streaming(request, path, codec).await.map_err(|s| {
                verbose(ctx, "< ", &[], s.metadata());
                status::answer_fail(&s, what, channel)
            })?;
            verbose(ctx, "< ", &[], resp.metadata());
            let mut stream = resp.into_inner();
            // One buffer for the whole stream: a batch is split off it for the stdout
            // thread, and once that thread has written and dropped it, `reserve` takes the
            // same memory back instead of allocating (the buffer stays at one batch and a
            // little, however long the stream).
            let mut pending = BytesMut::with_capacity(BATCH + SLACK);
            // Answers that have already arrived are written together: one write for many
            // small messages, and each at once when the next has not come yet.
            let flush = async |pending: &mut BytesMut| -> anyhow::Result<bool> {
                if pending.is_empty() {
                    return Ok(true);
                }
                let batch = pending.split().freeze();
                let shown = tokio::select! {
                    r = out.write(batch) => r,
                    _ = stop.stopped() => return Ok(false),
                };
                pending.reserve(BATCH + SLACK);
                match shown {
                    Ok(()) => Ok(true),
                    // The reader went away: nothing more will be shown.
                    Err(e) if crate::error::is_broken_pipe(&e) => Ok(false),
                    Err(e) => Err(e.into()),
                }
            };
            loop {
                let waiting = !pending.is_empty();
                let next = tokio::select! {
                    biased;
                    n = stream.message() => Some(n),
                    () = std::future::ready(()), if waiting => None,
                    _ = stop.stopped() => return Ok(()),
                };
                match next {
                    None => {
                        if !flush(&mut pending).await? {
                            return Ok(());
                        }
                    }
                    Some(Ok(Some(msg))) => {
                        answers += 1;
                        view.render(&msg, &mut pending);
                        if pending.len() >= BATCH && !flush(&mut pending).await? {
                            return Ok(());
                        }
                    }
                    Some(Ok(None)) => {
                        if !flush(&mut pending).await? {
                            return Ok(());
                        }
                        if one_answer && answers != 1 {
                            let sent = match answers {
                                0 => "no answer".to_string(),
                                n => format!("{n} answers"),
                            };
                            return Err(Fail::new(
                                status::exit_code(tonic::Code::Internal),
                                format!(
                                    "{what}: the server ended the call with OK but sent \
                                     {sent} (the method answers one message)"
                                ),
                            )
                            .into());
                        }
                        break;
                    }
                    Some(Err(s)) => {
                        flush(&mut pending).await?;
                        verbose(ctx, "< ", &[], s.metadata());
                        return Err(status::answer_fail(&s, what, channel));
                    }
                }
            }
            if let Ok(Some(trailers)) = stream.trailers().await {
                verbose(ctx, "< ", &["trailers".to_string()], &trailers);
            }
            anyhow::Ok(())
        };
        tokio::pin!(answer);
        let Some(feed) = feed else {
            return answer.await;
        };
        tokio::pin!(feed);
        let mut fed = false;
        loop {
            tokio::select! {
                r = &mut feed, if !fed => {
                    let sent = r?;
                    ctx.debug(format!("sent {sent} request message{}", if sent == 1 { "" } else { "s" }));
                    fed = true;
                }
                r = &mut answer => return r,
            }
        }
    }
}

/// `-v`: lines of a head on stderr after `prefix`, then the metadata.
fn verbose(ctx: &Ctx, prefix: &str, first: &[String], md: &MetadataMap) {
    if ctx.verbose == 0 || ctx.quiet {
        return;
    }
    let mut s = String::new();
    for line in first {
        s.push_str(&format!("{prefix}{}\n", escape(line)));
    }
    for (name, value) in md.clone().into_headers().iter() {
        s.push_str(&format!(
            "{prefix}{}: {}\n",
            name.as_str(),
            escape(&String::from_utf8_lossy(value.as_bytes()))
        ));
    }
    s.push_str(prefix.trim_end());
    s.push('\n');
    stderr_line(s);
}

/// How answers are shown.
struct View {
    pretty: bool,
    color: bool,
    options: SerializeOptions,
}

impl View {
    /// `msg` as JSON and a newline, onto `text`.
    fn render(&self, msg: &DynamicMessage, text: &mut BytesMut) {
        let start = text.len();
        let mut sink = (&mut *text).writer();
        let indent = || PrettyFormatter::with_indent(b"  ");
        let r = match (self.pretty, self.color) {
            (true, true) => msg.serialize_with_options(
                &mut serde_json::Serializer::with_formatter(
                    &mut sink,
                    ColoredFormatter::new(indent()),
                ),
                &self.options,
            ),
            (true, false) => msg.serialize_with_options(
                &mut serde_json::Serializer::with_formatter(&mut sink, indent()),
                &self.options,
            ),
            (false, _) => msg.serialize_with_options(
                &mut serde_json::Serializer::with_formatter(&mut sink, CompactFormatter),
                &self.options,
            ),
        };
        if let Err(e) = r {
            text.truncate(start);
            let e = serde_json::Value::from(e.to_string());
            text.extend_from_slice(format!("{{\"error\": {e}}}").as_bytes());
        }
        // On a terminal the C1 controls JSON leaves as they are (U+009B is CSI) are
        // escaped too.
        if self.pretty
            && let std::borrow::Cow::Owned(shown) = crate::term::escape_c1_in_json(&text[start..])
        {
            text.truncate(start);
            text.extend_from_slice(&shown);
        }
        text.put_u8(b'\n');
    }
}

/// `msg` parsed as `desc` from JSON text; `at` says where it came from.
fn parse(text: &str, desc: &MessageDescriptor, at: &str) -> Result<DynamicMessage, Fail> {
    let mut de = serde_json::Deserializer::from_str(text);
    DynamicMessage::deserialize_with_options(desc.clone(), &mut de, &DeserializeOptions::new())
        .and_then(|m| de.end().map(|()| m))
        .map_err(|e| {
            Fail::new(
                FAILURE,
                format!("{at}: not a {} in JSON: {e}", desc.full_name()),
            )
        })
}

/// The one request of a unary or server-streaming method: all of -d (empty: the message
/// with every field at its default).
async fn one(
    data: Option<Data>,
    desc: &MessageDescriptor,
    what: &str,
) -> anyhow::Result<DynamicMessage> {
    let (text, at) = match data {
        None => return Ok(DynamicMessage::new(desc.clone())),
        Some(Data::Inline(s)) => (s, format!("{what}: -d")),
        Some(Data::File(p)) => {
            let shown = escape(&p.display().to_string()).into_owned();
            let text = std::fs::read_to_string(&p)
                .map_err(|e| Fail::new(FAILURE, format!("reading {shown}: {e}")))?;
            (text, format!("{what}: {shown}"))
        }
        Some(Data::Stdin) => {
            let mut rx = crate::io::stdio::stdin();
            let mut all = Vec::new();
            while let Some(chunk) = rx.recv().await {
                all.extend_from_slice(
                    &chunk.map_err(|e| Fail::new(FAILURE, format!("reading stdin: {e}")))?,
                );
            }
            let text = String::from_utf8(all)
                .map_err(|_| Fail::new(FAILURE, format!("{what}: stdin is not UTF-8 text")))?;
            (text, format!("{what}: stdin"))
        }
    };
    if text.trim().is_empty() {
        return Ok(DynamicMessage::new(desc.clone()));
    }
    Ok(parse(&text, desc, &at)?)
}

/// The requests of a client-streaming or bidirectional method into `tx`: -d or a file as
/// JSON values one after the other, stdin line by line as lines arrive (a blank line is
/// skipped). The count sent, once the input ends.
async fn feed(
    data: Data,
    desc: MessageDescriptor,
    tx: mpsc::Sender<DynamicMessage>,
    what: String,
) -> anyhow::Result<u64> {
    let mut sent = 0;
    let text = match data {
        Data::Inline(s) => s,
        Data::File(p) => {
            let shown = escape(&p.display().to_string()).into_owned();
            std::fs::read_to_string(&p)
                .map_err(|e| Fail::new(FAILURE, format!("reading {shown}: {e}")))?
        }
        Data::Stdin => {
            let mut rx = crate::io::stdio::stdin();
            let mut held: Vec<u8> = Vec::new();
            let mut line = 0u64;
            loop {
                let chunk = match rx.recv().await {
                    Some(c) => c.map_err(|e| Fail::new(FAILURE, format!("reading stdin: {e}")))?,
                    None => Bytes::new(),
                };
                let end = chunk.is_empty();
                held.extend_from_slice(&chunk);
                let mut start = 0;
                while let Some(n) = held[start..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map(|n| start + n)
                    .or((end && start < held.len()).then_some(held.len()))
                {
                    line += 1;
                    let text = std::str::from_utf8(&held[start..n]).map_err(|_| {
                        Fail::new(
                            FAILURE,
                            format!("{what}: stdin line {line} is not UTF-8 text"),
                        )
                    })?;
                    start = (n + 1).min(held.len());
                    if text.trim().is_empty() {
                        continue;
                    }
                    let msg = parse(text, &desc, &format!("{what}: stdin line {line}"))?;
                    if tx.send(msg).await.is_err() {
                        return Ok(sent);
                    }
                    sent += 1;
                }
                held.drain(..start);
                if end {
                    return Ok(sent);
                }
            }
        }
    };
    let values =
        serde_json::Deserializer::from_str(&text).into_iter::<&serde_json::value::RawValue>();
    for (i, v) in values.enumerate() {
        let v = v.map_err(|e| Fail::new(FAILURE, format!("{what}: -d: request {}: {e}", i + 1)))?;
        let msg = parse(v.get(), &desc, &format!("{what}: -d: request {}", i + 1))?;
        if tx.send(msg).await.is_err() {
            break;
        }
        sent += 1;
    }
    Ok(sent)
}
