//! The body of an HTTP response on its way to the user, piece by piece as it arrives:
//! unchanged when piped; on a terminal JSON (one document or a stream of them)
//! pretty-printed and coloured, text with its control characters escaped, binary held back
//! with a note; docker's multiplexed frames split onto stdout and stderr.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};
use colored_json::{ColorMode, ColoredFormatter};
use hyper::header::{CONTENT_TYPE, HeaderMap};
use serde_json::ser::PrettyFormatter;

use super::demux::{self, Demuxer, Out};
use super::docker::{self, Board, Sniffer};
use super::jsonstream::Splitter;
use crate::error::{FAILURE, Fail};
use crate::io::stdio::{Writer, WriterDone};
use crate::shutdown::Shutdown;
use crate::term::{Ctx, TerminalEscaper, escape, escape_for_terminal};

/// The largest single JSON value held for formatting: its text and its coloured, indented
/// form (about 3x) are in memory at once, and the RSS goal is 32 MiB for any body, which a
/// coloured 4 MiB value stays under (docs/performance.md). A larger value is shown as
/// it arrives, unformatted.
const JSON_HOLD_MAX: usize = 4 * 1024 * 1024;

/// When docker frames are split onto stdout and stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Demux {
    /// When the Content-Type says so, or a docker raw stream starts with a frame header.
    Auto,
    Always,
    Never,
}

/// How the body is shown: decided once from the flags and whether stdout is a terminal.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// Format for people: JSON pretty-printed, control characters in text escaped.
    pub pretty: bool,
    pub color: bool,
    /// Stdout is a terminal: binary bodies are held back.
    pub guard: bool,
    pub demux: Demux,
    /// Docker's progress streams are drawn as live bars (stdout a terminal, no --raw).
    pub progress: bool,
    /// A docker progress stream left as JSON is still read for its error (not with --raw).
    pub sniff: bool,
}

/// What the headers say the body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declared {
    Json,
    Text,
    Multiplexed,
    /// Docker's raw stream, or no type from a docker-like API: frames or raw bytes.
    MaybeMultiplexed,
    Other,
    Unknown,
}

fn declared(headers: &HeaderMap) -> (Declared, String) {
    let ct = headers
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase());
    let Some(ct) = ct else {
        // Docker before API 1.42 sends container logs without any Content-Type.
        let kind = if headers.contains_key("api-version") {
            Declared::MaybeMultiplexed
        } else {
            Declared::Unknown
        };
        return (kind, String::new());
    };
    let essence = ct.split(';').next().unwrap_or("").trim().to_string();
    let kind = match essence.as_str() {
        "application/vnd.docker.multiplexed-stream" => Declared::Multiplexed,
        "application/vnd.docker.raw-stream" => Declared::MaybeMultiplexed,
        e if e.ends_with("/json")
            || e.ends_with("+json")
            || e.ends_with("ndjson")
            || e.ends_with("jsonl")
            || e.ends_with("json-seq")
            || e == "application/x-json-stream" =>
        {
            Declared::Json
        }
        e if e.starts_with("text/")
            || e.ends_with("xml")
            || e.ends_with("javascript")
            || e.ends_with("x-www-form-urlencoded")
            || e.ends_with("yaml") =>
        {
            Declared::Text
        }
        _ => Declared::Other,
    };
    (kind, essence)
}

/// NUL bytes or invalid UTF-8 (not just a sequence cut at the end of the sample).
fn looks_binary(sample: &[u8]) -> bool {
    sample.contains(&0)
        || match std::str::from_utf8(sample) {
            Ok(_) => false,
            Err(e) => e.error_len().is_some(),
        }
}

enum BodyShape {
    /// Waiting for enough bytes to tell docker frames from a raw stream.
    Undecided(BytesMut),
    Raw,
    /// Text for a terminal, escaped piece by piece.
    Text(TerminalEscaper),
    Json(Splitter),
    Binary,
    Demux(Demuxer),
}

/// A body on its way to the user. Feed it with [`Render::push`] as pieces arrive.
pub struct Render {
    view: View,
    declared: Declared,
    content_type: String,
    /// Content-Length, when the server sent one.
    length: Option<u64>,
    out: Writer,
    err: Option<(Writer, WriterDone)>,
    state: BodyShape,
    /// A JSON value outgrew JSON_HOLD_MAX: the rest went out unformatted.
    too_big: bool,
    /// A docker-like API (Api-Version header) answered JSON: it may be a progress stream.
    docker: bool,
    /// What the first JSON value said: a docker progress stream or not (None before it).
    progress: Option<bool>,
    /// The live board of a progress stream drawn on the terminal.
    board: Option<Board>,
    /// A progress stream passed through unchanged, read for its error.
    sniffer: Option<Sniffer>,
    /// The error a progress stream reported.
    stream_error: Option<String>,
}

impl Render {
    pub fn new(view: View, headers: &HeaderMap, out: Writer) -> Render {
        let (declared, content_type) = declared(headers);
        let length = headers
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let docker = declared == Declared::Json && headers.contains_key("api-version");
        Render {
            docker,
            progress: None,
            board: None,
            sniffer: None,
            stream_error: None,
            view,
            declared,
            content_type,
            length,
            out,
            err: None,
            state: BodyShape::Undecided(BytesMut::new()),
            too_big: false,
        }
    }

    /// Shows a piece of the body. Ok(false) when nothing more will be shown (stdout closed,
    /// or a binary body held back): reading can stop.
    pub async fn push(&mut self, chunk: Bytes) -> anyhow::Result<bool> {
        if let BodyShape::Undecided(held) = &mut self.state {
            held.extend_from_slice(&chunk);
            if held.len() < demux::HEADER {
                return Ok(true);
            }
            let held = std::mem::take(held).freeze();
            self.decide(&held);
            return self.show(held).await;
        }
        self.show(chunk).await
    }

    /// Whether the rest of the body is shown exactly as it comes (decided, not formatted,
    /// split or read for a docker error): it may then be spliced past us.
    pub fn raw(&self) -> bool {
        matches!(self.state, BodyShape::Raw) && self.sniffer.is_none() && self.err.is_none()
    }

    /// Waits until everything shown so far is written to the output.
    pub async fn flush(&self) -> std::io::Result<()> {
        self.out.flush().await
    }

    /// [`finish`](Self::finish), but once a stop signal has come only for a second more, as
    /// stdout's writer gets ([`WriterDone::finish`]), and not past --max-time: what is left
    /// to show can be as stuck behind a pipe nobody reads as the body was, and must not hold
    /// up the exit.
    pub async fn finish_or_stop(
        self,
        ctx: &Ctx,
        stop: &Shutdown,
        clock: &crate::duration::MaxTime,
    ) -> anyhow::Result<()> {
        // What can be written at once is, even when --max-time has run out; no more.
        let finish = clock.before(self.finish(ctx), Ok(()));
        tokio::select! {
            r = finish => r,
            _ = async {
                stop.stopped().await;
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            } => Ok(()),
        }
    }

    /// The end of the body: flushes what is held, and says whether the stream was whole.
    async fn finish(mut self, ctx: &Ctx) -> anyhow::Result<()> {
        if let BodyShape::Undecided(held) = &mut self.state {
            let held = std::mem::take(held).freeze();
            self.decide(&held);
            self.show(held).await?;
        }
        let mut result = Ok(());
        match &mut self.state {
            BodyShape::Json(split) => {
                let mut text = Vec::new();
                let mut show = Shower::new(
                    self.view,
                    self.docker,
                    &mut self.progress,
                    &mut self.board,
                    &mut self.stream_error,
                );
                let whole = split.finish(|v| show.value(v, &mut text));
                if whole.is_err() {
                    text.extend_from_slice(&escape_for_terminal(&split.take_rest()));
                }
                if let Some(board) = &mut self.board {
                    board.finish();
                    text.extend_from_slice(&board.take());
                }
                self.write(Out::Stdout, text.into()).await?;
            }
            BodyShape::Text(e) => {
                let rest = e.finish();
                if !rest.is_empty() {
                    self.write(Out::Stdout, Bytes::from_static(rest)).await?;
                }
            }
            BodyShape::Raw => {
                if let Some(s) = &mut self.sniffer {
                    s.finish();
                    self.stream_error = self.stream_error.take().or(s.error.take());
                }
            }
            BodyShape::Demux(d) => {
                result = d
                    .finish()
                    .map_err(|e| anyhow::anyhow!("demultiplexing the body: {e}"));
            }
            BodyShape::Binary => {
                let size = match self.length {
                    Some(n) => format!("{n} bytes"),
                    None => "length unknown".to_string(),
                };
                let ct = if self.content_type.is_empty() {
                    String::new()
                } else {
                    format!(", {}", escape(&self.content_type))
                };
                ctx.warn(format!(
                    "binary body not shown on a terminal ({size}{ct}); save it with -o FILE or pipe it, or show it anyway with --raw"
                ));
            }
            _ => {}
        }
        if self.too_big {
            ctx.info(format!(
                "a JSON value larger than {} MiB is shown as it came, unformatted",
                JSON_HOLD_MAX >> 20
            ));
        }
        drop(self.out);
        if let Some((err, done)) = self.err.take() {
            drop(err);
            done.wait().await?;
        }
        if let Some(e) = self.stream_error.take() {
            return Err(Fail::new(
                FAILURE,
                format!("the progress stream reported an error: {e}"),
            )
            .into());
        }
        result
    }

    fn decide(&mut self, head: &[u8]) {
        let v = self.view;
        let frames = match (v.demux, self.declared) {
            (Demux::Always, _) | (Demux::Auto, Declared::Multiplexed) => true,
            (Demux::Auto, Declared::MaybeMultiplexed) => demux::looks_multiplexed(head),
            _ => false,
        };
        let first = head.iter().find(|b| !b.is_ascii_whitespace());
        self.state = if frames {
            BodyShape::Demux(Demuxer::default())
        } else if !v.pretty {
            if self.docker && v.sniff {
                self.sniffer = Some(Sniffer::default());
            }
            BodyShape::Raw
        } else if self.declared == Declared::Json
            || (self.declared == Declared::Unknown && matches!(first, Some(b'{' | b'[')))
        {
            BodyShape::Json(Splitter::default())
        } else if looks_binary(head) {
            if v.guard {
                BodyShape::Binary
            } else {
                BodyShape::Raw
            }
        } else {
            BodyShape::Text(TerminalEscaper::default())
        };
    }

    async fn show(&mut self, chunk: Bytes) -> anyhow::Result<bool> {
        match &mut self.state {
            BodyShape::Raw | BodyShape::Undecided(_) => {
                if let Some(s) = &mut self.sniffer {
                    s.push(&chunk);
                }
                self.write(Out::Stdout, chunk).await
            }
            BodyShape::Text(e) => {
                let shown = match e.push(&chunk) {
                    Cow::Borrowed(b) => chunk.slice(..b.len()),
                    Cow::Owned(v) => v.into(),
                };
                self.write(Out::Stdout, shown).await
            }
            // Nothing of it will be shown: stop reading (a docker image export can be GiBs).
            BodyShape::Binary => Ok(false),
            BodyShape::Json(split) => {
                if split.pending() + chunk.len() > JSON_HOLD_MAX {
                    let mut text = split.take_rest();
                    text.extend_from_slice(&chunk);
                    self.too_big = true;
                    let mut e = TerminalEscaper::default();
                    let shown = e.push(&text).into_owned();
                    self.state = BodyShape::Text(e);
                    return self.write(Out::Stdout, shown.into()).await;
                }
                let mut text = Vec::new();
                let mut show = Shower::new(
                    self.view,
                    self.docker,
                    &mut self.progress,
                    &mut self.board,
                    &mut self.stream_error,
                );
                if split.push(&chunk, |v| show.value(v, &mut text)).is_err() {
                    let mut e = TerminalEscaper::default();
                    text.extend_from_slice(&e.push(&split.take_rest()));
                    self.state = BodyShape::Text(e);
                }
                if let Some(board) = &self.board {
                    text.extend_from_slice(&board.take());
                }
                self.write(Out::Stdout, text.into()).await
            }
            BodyShape::Demux(d) => {
                let parts = d
                    .push(chunk)
                    .map_err(|e| anyhow::anyhow!("demultiplexing the body: {e}"))?;
                for (to, payload) in parts {
                    if !self.write(to, payload).await? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        }
    }

    /// One JSON value, pretty and coloured as the view says; kept as sent if it does not
    /// parse. Transcoded token by token (no tree of the document is built), so the memory
    /// it takes is the text in and the text out.
    fn format_value(view: &View, value: &[u8], text: &mut Vec<u8>) {
        let start = text.len();
        let mode = if view.color {
            ColorMode::On
        } else {
            ColorMode::Off
        };
        let mut de = serde_json::Deserializer::from_slice(value);
        let formatted = if mode.use_color() {
            let f = ColoredFormatter::new(PrettyFormatter::with_indent(b"  "));
            let mut ser = serde_json::Serializer::with_formatter(&mut *text, f);
            serde_transcode::transcode(&mut de, &mut ser).is_ok()
        } else {
            let mut ser = serde_json::Serializer::with_formatter(
                &mut *text,
                PrettyFormatter::with_indent(b"  "),
            );
            serde_transcode::transcode(&mut de, &mut ser).is_ok()
        };
        if !formatted || de.end().is_err() {
            text.truncate(start);
            text.extend_from_slice(&escape_for_terminal(value));
        }
        text.push(b'\n');
    }

    async fn write(&mut self, to: Out, chunk: Bytes) -> anyhow::Result<bool> {
        if chunk.is_empty() {
            return Ok(true);
        }
        let target = match to {
            Out::Stdout => &self.out,
            Out::Stderr => &self.err.get_or_insert_with(Writer::spawn_stderr).0,
        };
        match target.write(chunk).await {
            Ok(()) => Ok(true),
            // Our stderr closed: the container's stderr has nowhere to go, stdout still does.
            Err(_) if to == Out::Stderr => Ok(true),
            Err(e) if crate::error::is_broken_pipe(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// Shows the JSON values of a body one by one: formatted, or drawn on the board once the
/// first value of a docker API's answer turned out to be progress.
struct Shower<'a> {
    view: View,
    docker: bool,
    progress: &'a mut Option<bool>,
    board: &'a mut Option<Board>,
    error: &'a mut Option<String>,
}

impl<'a> Shower<'a> {
    fn new(
        view: View,
        docker: bool,
        progress: &'a mut Option<bool>,
        board: &'a mut Option<Board>,
        error: &'a mut Option<String>,
    ) -> Shower<'a> {
        Shower {
            view,
            docker,
            progress,
            board,
            error,
        }
    }

    fn value(&mut self, v: &[u8], text: &mut Vec<u8>) {
        let progress = *self
            .progress
            .get_or_insert_with(|| self.docker && docker::is_progress(v));
        if progress {
            if self.error.is_none() {
                *self.error = docker::error_in(v);
            }
            if self.view.progress {
                self.board.get_or_insert_with(Board::default).show(v);
                return;
            }
        }
        Render::format_value(&self.view, v, text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_decisions() {
        assert!(looks_binary(b"\x00\x01"));
        assert!(looks_binary(b"ok \xff more"));
        assert!(!looks_binary("caf\u{e9}".as_bytes()));
        assert!(
            !looks_binary(&"caf\u{e9}".as_bytes()[..4]),
            "a sequence cut at the end"
        );
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert_eq!(declared(&h).0, Declared::Json);
        h.insert(CONTENT_TYPE, "application/x-ndjson".parse().unwrap());
        assert_eq!(declared(&h).0, Declared::Json);
        h.insert(
            CONTENT_TYPE,
            "application/vnd.docker.multiplexed-stream".parse().unwrap(),
        );
        assert_eq!(declared(&h).0, Declared::Multiplexed);
        h.remove(CONTENT_TYPE);
        assert_eq!(declared(&h).0, Declared::Unknown);
        h.insert("api-version", "1.41".parse().unwrap());
        assert_eq!(declared(&h).0, Declared::MaybeMultiplexed);
    }
}
