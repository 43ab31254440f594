//! `udskit http --ws`: a WebSocket client on the connected socket (tokio-tungstenite's
//! handshake and framing over our own stream, so every address of the grammar works).
//! Stdin lines go out as text messages (`--binary`: each stdin read one binary message),
//! messages that arrive go to stdout (text and a newline, binary raw, or one JSON object
//! each with `--ws-json`); pings are answered, and the server's close frame is printed on
//! stderr and decides the exit code ([`exit_for`]).

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use hyper::header::{self, HeaderName, HeaderValue};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::exchange;
use super::head;
use super::request::HeaderArg;
use super::wsmessage::{Lines, close_json, shown};
use crate::duration::MaxTime;
use crate::error::{FAILURE, Fail, HTTP_ERROR, TIMEOUT};
use crate::io::stdio::{self, Writer};
use crate::net::stream::Stream;
use crate::shutdown::Shutdown;
use crate::term::{Ctx, escape};

/// How long, after our close frame at stdin's end, the server gets to answer
/// with its own: a server still sending what it had queued finishes well within it, and
/// one that never answers does not hang a script for longer.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// What the session needs from the command line.
pub struct Session<'a> {
    pub socket: &'a crate::net::addr::Addr,
    pub connect: crate::net::connect::ConnectOpts,
    pub authority: &'a str,
    pub path: &'a str,
    pub headers: &'a [HeaderArg],
    pub user_agent: HeaderValue,
    pub auth: Option<HeaderValue>,
    pub subprotocols: &'a [String],
    pub binary: bool,
    pub no_close: bool,
    pub json: bool,
    pub fail: bool,
    pub max_time: Option<Duration>,
}

/// The exit code a close frame from the server turns into: 0 for 1000 (normal) or a close
/// without a code; 4000 + N (the range left to applications) is exit N for N up to 255, so
/// a server can hand a status through; any other code is exit 1.
pub fn exit_for(code: Option<u16>) -> i32 {
    match code {
        None | Some(1000) => 0,
        Some(c @ 4000..=4255) => i32::from(c - 4000),
        Some(_) => FAILURE,
    }
}

/// A close code with its name from RFC 6455 where it has one.
fn close_words(frame: Option<&CloseFrame>) -> String {
    let Some(f) = frame else {
        return "without a code".to_string();
    };
    let code = u16::from(f.code);
    let name = match code {
        1000 => " (normal)",
        1001 => " (going away)",
        1002 => " (protocol error)",
        1003 => " (unsupported data)",
        1007 => " (invalid data)",
        1008 => " (policy violation)",
        1009 => " (message too big)",
        1010 => " (extension required)",
        1011 => " (internal error)",
        1012 => " (service restart)",
        1013 => " (try again later)",
        _ => "",
    };
    let reason = if f.reason.is_empty() {
        String::new()
    } else {
        format!(": {}", escape(f.reason.as_str()))
    };
    format!("with code {code}{name}{reason}")
}

/// The handshake request: GET TARGET with the upgrade headers, Host from TARGET,
/// User-Agent, Authorization, --subprotocol, then -H (which can set or drop any of them).
fn request(s: &Session<'_>, what: &str) -> Result<hyper::Request<()>, Fail> {
    let mut req = format!("ws://{}{}", s.authority, s.path)
        .into_client_request()
        .map_err(|e| Fail::usage(format!("{what}: {e}")))?;
    let h = req.headers_mut();
    h.insert(header::USER_AGENT, s.user_agent.clone());
    if let Some(a) = &s.auth {
        h.insert(header::AUTHORIZATION, a.clone());
    }
    if !s.subprotocols.is_empty() {
        let list = s.subprotocols.join(", ");
        let v = HeaderValue::from_str(&list).map_err(|_| {
            Fail::usage(format!(
                "--subprotocol '{}' is not a header value",
                escape(&list)
            ))
        })?;
        h.insert(header::SEC_WEBSOCKET_PROTOCOL, v);
    }
    let mut replaced: Vec<HeaderName> = Vec::new();
    for arg in s.headers {
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
    Ok(req)
}

/// Why the handshake failed, in words: an answer that is not a switch (its status, exit 22
/// with --fail when >= 400), or the connection's own error.
fn handshake_error(e: WsError, what: &str, fail: bool) -> Fail {
    match e {
        WsError::Http(resp) => {
            let status = resp.status();
            let code = if fail && status.as_u16() >= 400 {
                HTTP_ERROR
            } else {
                FAILURE
            };
            Fail::new(
                code,
                format!(
                    "{what}: the server did not switch to WebSocket: it answered {}",
                    head::status_text(status)
                ),
            )
            .hint("is this a WebSocket endpoint? without --ws, `udskit http` shows the answer")
        }
        WsError::Protocol(p) => Fail::new(FAILURE, format!("{what}: the handshake failed: {p}")),
        WsError::Io(io) => {
            let cause = crate::error::peer_words(&io)
                .map(|w| format!("the server {w}"))
                .unwrap_or_else(|| io.to_string());
            Fail::new(FAILURE, format!("{what}: during the handshake: {cause}"))
        }
        e => Fail::new(FAILURE, format!("{what}: the handshake failed: {e}")),
    }
}

/// Connects, shakes hands and runs the session until the close handshake ends it.
pub async fn run(s: Session<'_>, ctx: &Ctx, stop: &Shutdown) -> anyhow::Result<()> {
    let clock = MaxTime::new(s.max_time);
    let socket = escape(&s.socket.to_string()).into_owned();
    let what = format!("WebSocket {} on {socket}", escape(s.path));
    let req = request(&s, &what)?;
    let stream = tokio::select! {
        r = exchange::connect(s.socket, s.connect) => r?,
        _ = clock.expired() => return Err(Fail::new(TIMEOUT, clock.missed(&what, "no connection")).into()),
        _ = stop.stopped() => return Ok(()),
    };
    if let Some(c) = stream.peer_cred() {
        ctx.debug(format!("connected to {socket} ({c})"));
    }
    head::verbose_head(
        ctx,
        "> ",
        &format!("GET {} HTTP/1.1", s.path),
        req.headers(),
        false,
    );
    let (ws, resp) = tokio::select! {
        r = tokio_tungstenite::client_async_with_config(req, stream, Some(limits())) => r.map_err(|e| handshake_error(e, &what, s.fail))?,
        _ = clock.expired() => return Err(Fail::new(TIMEOUT, clock.missed(&what, "no answer to the handshake")).into()),
        _ = stop.stopped() => return Ok(()),
    };
    head::verbose_head(
        ctx,
        "< ",
        &format!("HTTP/1.1 {}", head::status_text(resp.status())),
        resp.headers(),
        false,
    );
    let (out, out_done) = Writer::spawn();
    let result = tokio::select! {
        r = session(ws, &s, &out, ctx, stop, &what) => r,
        _ = clock.expired() => Err(Fail::new(TIMEOUT, clock.missed(&what, "the session did not end")).into()),
    };
    drop(out);
    let written = clock.before(out_done.finish(stop), Ok(())).await;
    let code = result?;
    if !stop.is_stopping() {
        written.map_err(|e| anyhow::anyhow!("writing stdout: {e}"))?;
    }
    code
}

/// How the messages down ended.
enum Down {
    /// The server's close frame (None: one without a code).
    Closed(Option<CloseFrame>),
    /// Nobody reads stdout any more.
    StdoutGone,
}

/// The messages both ways until the close handshake; the exit code it leads to. Up and
/// down run side by side, so a server that stops reading while its answers wait for us
/// (an echo of a big upload) is always read from.
async fn session(
    ws: WebSocketStream<Stream>,
    s: &Session<'_>,
    out: &Writer,
    ctx: &Ctx,
    stop: &Shutdown,
    what: &str,
) -> anyhow::Result<anyhow::Result<()>> {
    let (mut sink, mut stream) = ws.split();
    let mut sent = 0u64;
    let mut received = 0u64;
    let ended = {
        let up = async {
            let mut stdin = stdio::stdin();
            let mut lines = Lines::new(s.binary);
            loop {
                let piece = match stdin.recv().await {
                    Some(Ok(b)) => Some(b),
                    Some(Err(e)) => {
                        return Err(anyhow::Error::new(e).context("reading stdin"));
                    }
                    None => None,
                };
                let end = piece.is_none();
                for m in lines.cut(piece)? {
                    sink.send(m)
                        .await
                        .map_err(|e| cut_off(e, what, "sending a message"))?;
                    sent += 1;
                }
                if end {
                    break;
                }
            }
            if s.no_close {
                ctx.debug(format!(
                    "stdin ended after {sent} messages (--no-close: not closing)"
                ));
                return Ok(false);
            }
            ctx.debug(format!("stdin ended after {sent} messages: closing (1000)"));
            let frame = CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            };
            sink.send(Message::Close(Some(frame)))
                .await
                .map_err(|e| cut_off(e, what, "sending the close frame"))?;
            Ok(true)
        };
        let down = async {
            loop {
                let msg = match stream.next().await {
                    Some(Ok(msg)) => msg,
                    Some(Err(
                        WsError::ConnectionClosed
                        | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake),
                    ))
                    | None => return Err(no_close(what, received)),
                    Some(Err(e)) => return Err(cut_off(e, what, "receiving").into()),
                };
                match msg {
                    Message::Close(frame) => return Ok(Down::Closed(frame)),
                    Message::Ping(_) => ctx.debug("ping from the server (answered)"),
                    Message::Pong(_) | Message::Frame(_) => {}
                    Message::Text(_) | Message::Binary(_) => {
                        received += 1;
                        if let Some(b) = shown(&msg, s.json, ctx.color_stdout, ctx.stdout_is_tty)
                            && (out.write(b).await.is_err() || out.is_closed())
                        {
                            return Ok(Down::StdoutGone);
                        }
                    }
                }
            }
        };
        tokio::pin!(up, down);
        let mut up_done = false;
        // Set once our close frame is out: the server has until then to answer it.
        let mut closing: Option<tokio::time::Instant> = None;
        loop {
            let deadline = async {
                match closing {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = &mut up, if !up_done => {
                    up_done = true;
                    if r? {
                        closing = Some(tokio::time::Instant::now() + CLOSE_WAIT);
                    }
                }
                r = &mut down => break Some(r?),
                _ = deadline => {
                    return Err(Fail::new(
                        FAILURE,
                        format!(
                            "{what}: the server did not answer our close frame within {}",
                            crate::duration::show(CLOSE_WAIT)
                        ),
                    )
                    .into());
                }
                _ = stop.stopped() => break None,
            }
        }
    };
    ctx.debug(format!("{sent} messages sent, {received} received"));
    let mut ws = sink
        .reunite(stream)
        .map_err(|_| anyhow::anyhow!("{what}: the connection's halves do not match"))?;
    let closed = |code| CloseFrame {
        code,
        reason: "".into(),
    };
    let (last, frame) = match ended {
        None => (Some(closed(CloseCode::Away)), None),
        Some(Down::StdoutGone) => (Some(closed(CloseCode::Normal)), None),
        Some(Down::Closed(frame)) => (None, Some(frame)),
    };
    // The last frame out, bounded: ours, or tungstenite's answer to the server's close.
    let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(last)).await;
    let Some(frame) = frame else {
        return Ok(Ok(()));
    };
    if s.json {
        let _ = out
            .write(close_json(frame.as_ref(), ctx.color_stdout))
            .await;
    }
    let words = format!(
        "{what}: the server closed the connection {}",
        close_words(frame.as_ref())
    );
    let code = exit_for(frame.as_ref().map(|f| u16::from(f.code)));
    Ok(if code == 0 {
        ctx.info(&words);
        Ok(())
    } else {
        Err(Fail::new(code, words).into())
    })
}

/// The connection ended without the server's close frame.
fn no_close(what: &str, received: u64) -> anyhow::Error {
    Fail::new(
        FAILURE,
        format!(
            "{what}: the server closed the connection without a close frame ({received} messages received)"
        ),
    )
    .into()
}

/// The largest frame and message taken from the server (tungstenite's defaults, named so
/// that an error can say which was passed).
const FRAME_MAX: usize = 16 << 20;
const MESSAGE_MAX: usize = 64 << 20;

fn limits() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_frame_size(Some(FRAME_MAX))
        .max_message_size(Some(MESSAGE_MAX))
}

/// A failed send or receive, with the peer's part named.
fn cut_off(e: WsError, what: &str, doing: &str) -> Fail {
    let cause = match &e {
        WsError::Io(io) => crate::error::peer_words(io)
            .map(|w| format!("the server {w}"))
            .unwrap_or_else(|| io.to_string()),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => {
            "the server closed the connection without a close frame".to_string()
        }
        WsError::Capacity(CapacityError::MessageTooLong { size, max_size }) => format!(
            "the server sent a {} of {size} bytes, more than the {max_size} udskit takes; \
             the session was ended rather than hold it",
            if *max_size == FRAME_MAX {
                "frame"
            } else {
                "message"
            }
        ),
        e => e.to_string(),
    };
    Fail::new(FAILURE, format!("{what}: {doing}: {cause}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_map_to_exit_codes() {
        assert_eq!(exit_for(None), 0);
        assert_eq!(exit_for(Some(1000)), 0);
        assert_eq!(exit_for(Some(1001)), 1);
        assert_eq!(exit_for(Some(1011)), 1);
        assert_eq!(exit_for(Some(4003)), 3);
        assert_eq!(exit_for(Some(4255)), 255);
        assert_eq!(exit_for(Some(4256)), 1);
    }
}
