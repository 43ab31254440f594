//! The request side of `udskit http`: the TARGET grammar (a path or a full `http://` URL,
//! percent-encoded where a URI needs it, so docker filters can be typed as plain JSON), the
//! curl-style `-H` forms, and request bodies (`-d`/`--json` with inline data, `@FILE` or
//! `@-`) that stream from a reading thread instead of being read whole.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{HeaderName, HeaderValue};
use tokio::sync::mpsc;

use crate::error::{FAILURE, Fail};
use crate::term::escape;

/// Where the request goes: the Host header (or `:authority`) and the origin-form target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub authority: String,
    pub path: String,
}

/// The Host a bare `/path` gets: there is no host on a socket, servers just want one.
pub const DEFAULT_HOST: &str = "localhost";

pub fn parse_target(s: &str) -> Result<Target, Fail> {
    let lower = s.to_ascii_lowercase();
    let (authority, path) = if lower.starts_with("http://") {
        let rest = &s["http://".len()..];
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (auth, path) = rest.split_at(end);
        if auth.contains('@') {
            return Err(Fail::usage(format!(
                "'{}': user names in the URL are not supported; send an Authorization header with -H",
                escape(s)
            )));
        }
        let auth = if auth.is_empty() { DEFAULT_HOST } else { auth };
        if auth.parse::<hyper::http::uri::Authority>().is_err() {
            return Err(Fail::usage(format!(
                "'{}': '{}' is not a host name",
                escape(s),
                escape(auth)
            )));
        }
        let path = match path.chars().next() {
            None => "/".to_string(),
            Some('?') => format!("/{path}"),
            Some(_) => path.to_string(),
        };
        (auth.to_string(), path)
    } else if lower.starts_with("https://") {
        return Err(Fail::usage(format!(
            "'{}': https is not spoken here: udskit http sends plain HTTP over the socket",
            escape(s)
        ))
        .hint("write the target as /path or http://host/path"));
    } else if s.starts_with('/') || s == "*" {
        (DEFAULT_HOST.to_string(), s.to_string())
    } else if s.starts_with('?') {
        (DEFAULT_HOST.to_string(), format!("/{s}"))
    } else {
        return Err(Fail::usage(format!(
            "'{}' is not a target: write /path?query or http://host/path",
            escape(s)
        ))
        .hint(format!("did you mean /{}?", escape(s))));
    };
    let path = encode(&path);
    if path.parse::<hyper::Uri>().is_err() {
        return Err(Fail::usage(format!(
            "'{}' is not a valid target",
            escape(s)
        )));
    }
    Ok(Target { authority, path })
}

/// Percent-encodes what a URI cannot hold as is (spaces, quotes, braces, brackets, non-ASCII,
/// `#`, a `%` not followed by two hex digits) and leaves everything else, including valid
/// `%XX` escapes, untouched: `/containers/json?filters={"status":["running"]}` just works.
fn encode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in b.iter().enumerate() {
        let keep = match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => true,
            b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' => true,
            b'+' | b',' | b';' | b'=' | b':' | b'@' | b'/' | b'?' => true,
            b'%' => b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit(),
            _ => false,
        };
        if keep {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// One `-H` argument, in curl's forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderArg {
    /// `Name: value`
    Set(HeaderName, HeaderValue),
    /// `Name:` removes a header udskit would send by default.
    Remove(HeaderName),
}

pub fn parse_header(s: &str) -> Result<HeaderArg, Fail> {
    let bad = |why: &str| {
        Fail::usage(format!("-H '{}': {why}", escape(s))).hint(
            "write -H 'Name: value'; 'Name:' removes a default header, 'Name;' sends it empty",
        )
    };
    let (name, value, empty) = match (s.find(':'), s.find(';')) {
        (Some(c), semi) if semi.is_none_or(|p| p > c) => (&s[..c], s[c + 1..].trim(), false),
        (_, Some(p)) if s[p + 1..].trim().is_empty() => (&s[..p], "", true),
        _ => return Err(bad("no ':' between the name and the value")),
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| bad("not a valid header name"))?;
    if value.is_empty() && !empty {
        return Ok(HeaderArg::Remove(name));
    }
    let value =
        HeaderValue::from_str(value).map_err(|_| bad("the value holds control characters"))?;
    Ok(HeaderArg::Set(name, value))
}

/// A `-d`/`--json` argument: the data itself, `@FILE` or `@-` (stdin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    Inline(Bytes),
    File(PathBuf),
    Stdin,
}

impl Data {
    pub fn parse(s: &str) -> Data {
        match s.strip_prefix('@') {
            Some("-") => Data::Stdin,
            Some(path) => Data::File(PathBuf::from(path)),
            None => Data::Inline(Bytes::copy_from_slice(s.as_bytes())),
        }
    }
}

/// A request body: nothing, bytes at hand, or chunks from a reading thread (a file or stdin),
/// so that an image tarball of any size goes out without being held in memory.
pub enum ReqBody {
    Empty,
    Full(Option<Bytes>),
    Chunks {
        rx: mpsc::Receiver<io::Result<Bytes>>,
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
    /// Opens the body of `data`; its size when known (Content-Length), else it goes chunked.
    pub fn open(data: &Data) -> anyhow::Result<ReqBody> {
        Ok(match data {
            Data::Inline(b) => ReqBody::Full(Some(b.clone())),
            Data::File(p) => {
                let shown = escape(&p.display().to_string()).into_owned();
                let f = File::open(p).map_err(|e| {
                    anyhow::Error::from(e).context(format!("reading the body from {shown}"))
                })?;
                let meta = f.metadata()?;
                if meta.is_dir() {
                    return Err(Fail::new(
                        FAILURE,
                        format!("reading the body from {shown}: it is a directory"),
                    )
                    .into());
                }
                let size = meta.is_file().then_some(meta.len());
                ReqBody::Chunks {
                    rx: crate::io::stdio::read_chunks(f),
                    size,
                    sent: 0,
                    from: format!("the body from {shown}"),
                    length_of: "it had when opened",
                }
            }
            Data::Stdin => ReqBody::Chunks {
                size: stdin_size(),
                rx: crate::io::stdio::stdin(),
                sent: 0,
                from: "the body from stdin".into(),
                length_of: "it had when opened",
            },
        })
    }

    /// A body of unknown size sent with the length `n` the user declared.
    pub fn declared(self, n: u64) -> ReqBody {
        match self {
            ReqBody::Chunks { rx, from, .. } => ReqBody::Chunks {
                rx,
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
            ReqBody::Chunks { size, .. } => *size,
        }
    }
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

impl Body for ReqBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            ReqBody::Empty => Poll::Ready(None),
            ReqBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            ReqBody::Chunks {
                rx,
                size,
                sent,
                from,
                length_of,
            } => {
                let chunk = std::task::ready!(rx.poll_recv(cx));
                // A body that does not end where its Content-Length says would be read by
                // the server cut, or as the start of another request: stop it here.
                let wrong = |msg: String| Poll::Ready(Some(Err(io::Error::other(msg))));
                match (chunk, *size) {
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
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Empty => true,
            ReqBody::Full(b) => b.is_none(),
            ReqBody::Chunks { .. } => false,
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

    fn t(s: &str) -> (String, String) {
        let t = parse_target(s).unwrap();
        (t.authority, t.path)
    }

    #[test]
    fn targets() {
        assert_eq!(t("/version"), ("localhost".into(), "/version".into()));
        assert_eq!(t("?a=1"), ("localhost".into(), "/?a=1".into()));
        assert_eq!(
            t("http://docker/v1.41/info"),
            ("docker".into(), "/v1.41/info".into())
        );
        assert_eq!(t("http://h:8080"), ("h:8080".into(), "/".into()));
        assert_eq!(t("HTTP://h?x"), ("h".into(), "/?x".into()));
        assert_eq!(t("http:///x"), ("localhost".into(), "/x".into()));
        assert_eq!(
            t(r#"/containers/json?filters={"status":["running"]}"#).1,
            "/containers/json?filters=%7B%22status%22:%5B%22running%22%5D%7D"
        );
        assert_eq!(t("/a b/%41%zz#f").1, "/a%20b/%41%25zz%23f");
        assert_eq!(t("/é").1, "/%C3%A9");
        for bad in ["version", "https://x/", "http://u@h/", "http://a b/"] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers() {
        let set = |n: &str, v: &str| {
            HeaderArg::Set(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            )
        };
        assert_eq!(parse_header("X-A: 1").unwrap(), (set("x-a", "1")));
        assert_eq!(parse_header("X-A:b: c").unwrap(), (set("x-a", "b: c")));
        assert_eq!(parse_header("X-A: a;b").unwrap(), (set("x-a", "a;b")));
        assert_eq!(
            parse_header("Accept:").unwrap(),
            (HeaderArg::Remove("accept".parse().unwrap()))
        );
        assert_eq!(parse_header("X-E;").unwrap(), (set("x-e", "")));
        assert!(parse_header("nocolon").is_err());
        assert!(parse_header("bad name: v").is_err());
    }

    #[test]
    fn data_forms() {
        assert_eq!(Data::parse("@-"), Data::Stdin);
        assert_eq!(Data::parse("@f.json"), Data::File("f.json".into()));
        assert_eq!(Data::parse("a=1"), Data::Inline(Bytes::from_static(b"a=1")));
    }
}
