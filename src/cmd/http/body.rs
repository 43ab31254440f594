//! Request bodies of `udskit http`, as curl builds them: a body is a list of parts sent one
//! after the other (inline bytes, a file, stdin), each file or stdin passed through as is,
//! with CR and LF stripped (`-d @FILE`) or URL-encoded (`--data-urlencode @FILE`). Files
//! and stdin stream from a reading thread, never read whole; a body whose parts all have a
//! known size gets a Content-Length (a transformed file is read once first to count it).
//! A [`Spec`] can be opened again, which is how a 307/308 redirect sends the body twice.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::mpsc;

use crate::error::{FAILURE, Fail};
use crate::term::escape;

/// How the bytes of a file or stdin are changed on their way into the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Byte for byte.
    Raw,
    /// CR and LF left out, as curl's `-d @FILE` does.
    StripNewlines,
    /// Encoded as curl's `--data-urlencode` does: letters, digits and `-._~` kept, space
    /// as `+`, everything else `%XX`.
    UrlEncode,
}

impl Shape {
    fn apply(self, b: &Bytes) -> Bytes {
        match self {
            Shape::Raw => b.clone(),
            // memchr finds the line ends (most chunks of a file have few or none, and are
            // passed on without a copy) far faster than a loop over every byte.
            Shape::StripNewlines if memchr::memchr2(b'\r', b'\n', b).is_none() => b.clone(),
            Shape::StripNewlines => {
                let mut out = Vec::with_capacity(b.len());
                let mut from = 0;
                for i in memchr::memchr2_iter(b'\r', b'\n', b) {
                    out.extend_from_slice(&b[from..i]);
                    from = i + 1;
                }
                out.extend_from_slice(&b[from..]);
                out.into()
            }
            Shape::UrlEncode => urlencode(b).into_bytes().into(),
        }
    }

    /// How many bytes `b` becomes.
    fn len(self, b: &[u8]) -> u64 {
        match self {
            Shape::Raw => b.len() as u64,
            Shape::StripNewlines => {
                (b.len() - memchr::memchr2_iter(b'\r', b'\n', b).count()) as u64
            }
            Shape::UrlEncode => b
                .iter()
                .map(|&c| if unreserved(c) || c == b' ' { 1 } else { 3 })
                .sum(),
        }
    }
}

fn unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~')
}

/// curl's `--data-urlencode` encoding (space as `+`, as curl 7.88 sends it).
pub fn urlencode(b: &[u8]) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b' ');
    percent_encoding::percent_encode(b, SET)
        .to_string()
        .replace(' ', "+")
}

/// Where the bytes of one part come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Src {
    Bytes(Bytes),
    File(PathBuf),
    Stdin,
}

/// A request body to be opened: its parts, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    pub parts: Vec<(Src, Shape)>,
}

impl Spec {
    pub fn push_bytes(&mut self, b: impl Into<Bytes>) {
        self.parts.push((Src::Bytes(b.into()), Shape::Raw));
    }

    pub fn push(&mut self, src: Src, shape: Shape) {
        match src {
            Src::Bytes(b) => self.push_bytes(shape.apply(&b)),
            other => self.parts.push((other, shape)),
        }
    }

    pub fn reads_stdin(&self) -> bool {
        self.parts.iter().any(|(s, _)| *s == Src::Stdin)
    }

    /// The one file or stdin the body is made of, when it is nothing else, byte for byte.
    pub fn only_raw_source(&self) -> bool {
        matches!(
            self.parts.as_slice(),
            [(Src::File(_) | Src::Stdin, Shape::Raw)]
        )
    }

    /// The whole body in memory, for `-G`, which puts it in the URL.
    pub fn read_all(&self) -> Result<Vec<u8>, Fail> {
        let mut out = Vec::new();
        for (src, shape) in &self.parts {
            let raw = match src {
                Src::Bytes(b) => b.to_vec(),
                Src::File(p) => std::fs::read(p)
                    .map_err(|e| Fail::new(FAILURE, format!("reading {}: {e}", shown(p))))?,
                Src::Stdin => {
                    let mut v = Vec::new();
                    io::stdin()
                        .lock()
                        .read_to_end(&mut v)
                        .map_err(|e| Fail::new(FAILURE, format!("reading stdin: {e}")))?;
                    v
                }
            };
            out.extend_from_slice(&shape.apply(&Bytes::from(raw)));
        }
        Ok(out)
    }

    /// Opens every file (a missing one fails here, before anything is sent) and sizes the
    /// body: known when every part's size is.
    pub fn open(&self) -> anyhow::Result<ReqBody> {
        if let [(Src::Bytes(b), _)] = self.parts.as_slice() {
            return Ok(ReqBody::Full(Some(b.clone())));
        }
        if self.parts.is_empty() {
            return Ok(ReqBody::Empty);
        }
        let mut queue = std::collections::VecDeque::new();
        let mut size = Some(0u64);
        let mut add = |n: Option<u64>| size = size.zip(n).map(|(a, b)| a + b);
        for (src, shape) in &self.parts {
            match src {
                Src::Bytes(b) => {
                    add(Some(b.len() as u64));
                    queue.push_back(Open::Bytes(b.clone()));
                }
                Src::File(p) => {
                    let (f, n) = open_file(p, *shape)?;
                    add(n);
                    queue.push_back(Open::File(f, *shape));
                }
                Src::Stdin => {
                    add(if *shape == Shape::Raw {
                        stdin_size()
                    } else {
                        None
                    });
                    queue.push_back(Open::Stdin(*shape));
                }
            }
        }
        let from = match self.parts.as_slice() {
            [(Src::File(p), _)] => format!("the body from {}", shown(p)),
            [(Src::Stdin, _)] => "the body from stdin".into(),
            _ => "the body".into(),
        };
        Ok(ReqBody::Parts {
            queue,
            current: None,
            size,
            sent: 0,
            from,
            length_of: "it had when opened",
        })
    }
}

fn shown(p: &Path) -> String {
    escape(&p.display().to_string()).into_owned()
}

/// Opens a body file; its size after `shape` when it is a regular file (a shape that
/// changes the length costs one read through the file to count).
fn open_file(p: &Path, shape: Shape) -> anyhow::Result<(File, Option<u64>)> {
    let ctx = || format!("reading the body from {}", shown(p));
    let f = File::open(p).map_err(|e| anyhow::Error::from(e).context(ctx()))?;
    let meta = f.metadata()?;
    if meta.is_dir() {
        return Err(Fail::new(FAILURE, format!("{}: it is a directory", ctx())).into());
    }
    if !meta.is_file() {
        return Ok((f, None));
    }
    if shape == Shape::Raw {
        return Ok((f, Some(meta.len())));
    }
    let mut counted = 0;
    let mut buf = vec![0; crate::io::CHUNK];
    let mut r = &f;
    loop {
        match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => counted += shape.len(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(anyhow::Error::from(e).context(ctx())),
        }
    }
    // The counted file is read again from its start, as it is sent.
    let f = File::open(p).map_err(|e| anyhow::Error::from(e).context(ctx()))?;
    Ok((f, Some(counted)))
}

/// The bytes left in stdin when it is a regular file (`< image.tar`): then the request can
/// carry a Content-Length, as some servers require.
fn stdin_size() -> Option<u64> {
    let fd = rustix::stdio::stdin();
    let st = rustix::fs::fstat(fd).ok()?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return None;
    }
    let pos = rustix::fs::seek(fd, rustix::fs::SeekFrom::Current(0)).ok()?;
    (st.st_size as u64).checked_sub(pos)
}

/// A part whose file is open and not yet read.
pub enum Open {
    Bytes(Bytes),
    File(File, Shape),
    Stdin(Shape),
}

/// A request body: nothing, bytes at hand, or parts whose files and stdin stream from a
/// reading thread each, so that an image tarball of any size goes out without being held
/// in memory.
pub enum ReqBody {
    Empty,
    Full(Option<Bytes>),
    Parts {
        queue: std::collections::VecDeque<Open>,
        current: Option<(mpsc::Receiver<io::Result<Bytes>>, Shape)>,
        /// The Content-Length sent, when known: the chunks are held to it.
        size: Option<u64>,
        sent: u64,
        /// What the body is and where its length comes from, for the error when the
        /// chunks do not match it: "the body from stdin", "of -H Content-Length".
        from: String,
        length_of: &'static str,
    },
}

impl ReqBody {
    /// A body of unknown size sent with the length `n` the user declared.
    pub fn declared(self, n: u64) -> ReqBody {
        match self {
            ReqBody::Parts {
                queue,
                current,
                from,
                ..
            } => ReqBody::Parts {
                queue,
                current,
                size: Some(n),
                sent: 0,
                from,
                length_of: "of -H Content-Length",
            },
            other => other,
        }
    }

    /// The Content-Length this body will have, when it is known before sending.
    pub fn size(&self) -> Option<u64> {
        match self {
            ReqBody::Empty => Some(0),
            ReqBody::Full(b) => Some(b.as_ref().map_or(0, |b| b.len() as u64)),
            ReqBody::Parts { size, .. } => *size,
        }
    }
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let (queue, current, size, sent, from, length_of) = match self.get_mut() {
            ReqBody::Empty => return Poll::Ready(None),
            ReqBody::Full(b) => return Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ReqBody::Parts {
                queue,
                current,
                size,
                sent,
                from,
                length_of,
            } => (queue, current, size, sent, from, length_of),
        };
        loop {
            let chunk = match current {
                Some((rx, shape)) => match std::task::ready!(rx.poll_recv(cx)) {
                    Some(Ok(b)) if *shape == Shape::Raw => Some(Ok(b)),
                    Some(Ok(b)) => Some(Ok(shape.apply(&b))),
                    Some(Err(e)) => Some(Err(e)),
                    None => {
                        *current = None;
                        continue;
                    }
                },
                None => match queue.pop_front() {
                    Some(Open::Bytes(b)) => Some(Ok(b)),
                    Some(Open::File(f, shape)) => {
                        *current = Some((crate::io::stdio::read_chunks(f), shape));
                        continue;
                    }
                    Some(Open::Stdin(shape)) => {
                        *current = Some((crate::io::stdio::stdin(), shape));
                        continue;
                    }
                    None => None,
                },
            };
            // A body that does not end where its Content-Length says would be read by
            // the server cut, or as the start of another request: stop it here.
            let wrong = |msg: String| Poll::Ready(Some(Err(io::Error::other(msg))));
            return match (chunk, *size) {
                (Some(Ok(b)), _) if b.is_empty() => continue,
                (Some(Ok(b)), Some(n)) if *sent + b.len() as u64 > n => {
                    wrong(format!("{from} is longer than the {n} bytes {length_of}"))
                }
                (None, Some(n)) if *sent < n => wrong(format!(
                    "{from} ended after {sent} of the {n} bytes {length_of}"
                )),
                (Some(Ok(b)), _) => {
                    *sent += b.len() as u64;
                    Poll::Ready(Some(Ok(Frame::data(b))))
                }
                (Some(Err(e)), _) => Poll::Ready(Some(Err(e))),
                (None, _) => Poll::Ready(None),
            };
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Empty => true,
            ReqBody::Full(b) => b.is_none(),
            ReqBody::Parts { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self.size() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_agree_with_their_lengths() {
        let sample = Bytes::from_static(b"\na b&c=d\r\n\xc3\xa9~-._*+\r");
        for shape in [Shape::Raw, Shape::StripNewlines, Shape::UrlEncode] {
            assert_eq!(shape.apply(&sample).len() as u64, shape.len(&sample));
        }
        assert_eq!(
            urlencode("k !*()'-._~+/:?é%".as_bytes()),
            "k+%21%2A%28%29%27-._~%2B%2F%3A%3F%C3%A9%25"
        );
        let lines = Bytes::from_static(b"l1\r\nl2\nx");
        assert_eq!(&Shape::StripNewlines.apply(&lines)[..], b"l1l2x");
    }
}
