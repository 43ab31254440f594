//! The messages of `udskit http --ws` as the user sees them: stdin cut into text messages
//! (a line each) or binary ones (a read each), and each message received written for
//! stdout, as it is or as one `--ws-json` object.

use bytes::{Bytes, BytesMut};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use crate::error::{FAILURE, Fail};
use crate::term::json::{base64, json_object};

/// Stdin's pieces, cut into the messages they make.
pub struct Lines {
    binary: bool,
    pending: BytesMut,
    /// Lines sent so far (for an error about one).
    count: u64,
}

impl Lines {
    pub fn new(binary: bool) -> Lines {
        Lines {
            binary,
            pending: BytesMut::new(),
            count: 0,
        }
    }

    /// The messages `piece` completes (`None`: stdin's end, the last line without its
    /// newline).
    pub fn cut(&mut self, piece: Option<Bytes>) -> Result<Vec<Message>, Fail> {
        if self.binary {
            return Ok(piece.map(Message::Binary).into_iter().collect());
        }
        let mut lines = Vec::new();
        match piece {
            Some(p) => {
                self.pending.extend_from_slice(&p);
                while let Some(i) = memchr::memchr(b'\n', &self.pending) {
                    let line = self.pending.split_to(i + 1);
                    lines.push(line.freeze().slice(..i));
                }
            }
            None if !self.pending.is_empty() => lines.push(self.pending.split().freeze()),
            None => {}
        }
        lines
            .into_iter()
            .map(|l| {
                self.count += 1;
                let text = String::from_utf8(l.to_vec()).map_err(|_| {
                    Fail::new(
                        FAILURE,
                        format!("reading stdin: line {} is not UTF-8 text", self.count),
                    )
                    .hint("--binary sends stdin as binary messages")
                })?;
                Ok(Message::text(text))
            })
            .collect()
    }
}

/// A message for stdout: the text and a newline, the binary bytes raw, or a JSON line; on a
/// terminal (`tty`) the controls of text and binary alike made visible, as a body's are.
pub fn shown(msg: &Message, json: bool, color: bool, tty: bool) -> Option<Bytes> {
    use serde_json::Value;
    let (kind, data): (&str, &[u8]) = match msg {
        Message::Text(t) => ("text", t.as_bytes()),
        Message::Binary(b) => ("binary", b),
        _ => return None,
    };
    if !json {
        return Some(match msg {
            Message::Text(_) => {
                let data = match tty {
                    true => crate::term::escape_for_terminal(data),
                    false => std::borrow::Cow::Borrowed(data),
                };
                let mut v = Vec::with_capacity(data.len() + 1);
                v.extend_from_slice(&data);
                v.push(b'\n');
                Bytes::from(v)
            }
            Message::Binary(b) if !tty => b.clone(),
            Message::Binary(b) => Bytes::from(crate::term::escape_for_terminal(b).into_owned()),
            _ => unreachable!("text and binary only"),
        });
    }
    let (encoding, value) = match msg {
        Message::Text(t) => ("utf-8", Value::from(t.as_str())),
        _ => ("base64", Value::from(base64(data))),
    };
    let mut out = Vec::new();
    json_object(
        &mut out,
        &[
            ("type", Value::from(kind)),
            ("size", Value::from(data.len())),
            ("encoding", Value::from(encoding)),
            ("data", value),
        ],
        color,
    );
    out.push(b'\n');
    Some(Bytes::from(out))
}

/// The close frame as a --ws-json line.
pub fn close_json(frame: Option<&CloseFrame>, color: bool) -> Bytes {
    use serde_json::Value;
    let mut out = Vec::new();
    json_object(
        &mut out,
        &[
            ("type", Value::from("close")),
            (
                "code",
                frame.map_or(Value::Null, |f| Value::from(u16::from(f.code))),
            ),
            (
                "reason",
                frame.map_or(Value::Null, |f| Value::from(f.reason.as_str())),
            ),
        ],
        color,
    );
    out.push(b'\n');
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_is_cut_into_lines_across_pieces() {
        let mut l = Lines::new(false);
        assert!(l.cut(Some(Bytes::from_static(b"ab"))).unwrap().is_empty());
        let m = l.cut(Some(Bytes::from_static(b"c\n\nd"))).unwrap();
        assert_eq!(m, vec![Message::text("abc"), Message::text("")]);
        assert_eq!(l.cut(None).unwrap(), vec![Message::text("d")]);
        assert!(l.cut(Some(Bytes::from_static(b"\xff\n"))).is_err());
    }
}
