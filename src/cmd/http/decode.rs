//! The response body as `udskit http` reads it: the frames as they come, or with
//! `--compressed` decoded by its Content-Encoding (gzip, deflate, br, zstd, also stacked)
//! as it streams, through async-compression, one bounded read at a time (a small body that
//! inflates to gigabytes never sits in memory whole). Bytes are counted as they come over
//! the wire, which is what curl reports as the download size.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::header::{CONTENT_ENCODING, HeaderMap};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt, BufReader};
use tokio_util::io::StreamReader;

/// The codings --compressed asks for, in curl's words (Accept-Encoding).
pub const ACCEPTED: &str = "gzip, deflate, br, zstd";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    /// HTTP's deflate is zlib-wrapped (RFC 9110).
    Deflate,
    Brotli,
    Zstd,
}

/// The codings of Content-Encoding in the order the server applied them; Err with the
/// name of one that cannot be decoded.
pub fn codings(headers: &HeaderMap) -> Result<Vec<Coding>, String> {
    let mut out = Vec::new();
    for v in headers.get_all(CONTENT_ENCODING) {
        for name in String::from_utf8_lossy(v.as_bytes()).split(',') {
            let name = name.trim().to_ascii_lowercase();
            out.push(match name.as_str() {
                "" | "identity" => continue,
                "gzip" | "x-gzip" => Coding::Gzip,
                "deflate" => Coding::Deflate,
                "br" => Coding::Brotli,
                "zstd" => Coding::Zstd,
                _ => return Err(name),
            });
        }
    }
    Ok(out)
}

/// A body read failed: on the wire (hyper's error), or while decoding it.
pub enum ReadError {
    Wire(hyper::Error),
    Decode(io::Error),
}

/// Bytes of the body, frame by frame or decoded.
pub struct BodySource {
    kind: Kind,
    wire: Arc<AtomicU64>,
}

enum Kind {
    Plain(Incoming),
    Decoded {
        reader: Pin<Box<dyn AsyncRead + Send>>,
        buf: BytesMut,
    },
}

impl BodySource {
    /// The body as it came, or decoded from `codings` (last applied, first undone). An empty
    /// body (HEAD, 204, 304) is never decoded: there is nothing to decode.
    pub fn new(body: Incoming, codings: &[Coding]) -> BodySource {
        let wire = Arc::new(AtomicU64::new(0));
        if codings.is_empty() || body.is_end_stream() {
            return BodySource {
                kind: Kind::Plain(body),
                wire,
            };
        }
        let count = wire.clone();
        let frames = body
            .map_frame(move |f| {
                if let Some(d) = f.data_ref() {
                    count.fetch_add(d.len() as u64, Ordering::Relaxed);
                }
                f
            })
            .map_err(io::Error::other)
            .into_data_stream();
        let mut reader: Pin<Box<dyn AsyncBufRead + Send>> = Box::pin(StreamReader::new(frames));
        let mut codings = codings.iter().rev().peekable();
        let decoded = loop {
            let Some(c) = codings.next() else {
                unreachable!("codings is not empty")
            };
            let step: Pin<Box<dyn AsyncRead + Send>> = match c {
                Coding::Gzip => Box::pin(GzipDecoder::new(reader)),
                Coding::Deflate => Box::pin(ZlibDecoder::new(reader)),
                Coding::Brotli => Box::pin(BrotliDecoder::new(reader)),
                Coding::Zstd => Box::pin(ZstdDecoder::new(reader)),
            };
            if codings.peek().is_none() {
                break step;
            }
            reader = Box::pin(BufReader::with_capacity(crate::io::CHUNK, step));
        };
        BodySource {
            kind: Kind::Decoded {
                reader: decoded,
                buf: BytesMut::new(),
            },
            wire,
        }
    }

    /// Body bytes received so far, before any decoding.
    pub fn wire(&self) -> u64 {
        self.wire.load(Ordering::Relaxed)
    }

    /// The next piece of the body; None at its end.
    pub async fn next(&mut self) -> Option<Result<Bytes, ReadError>> {
        match &mut self.kind {
            Kind::Plain(body) => loop {
                match body.frame().await? {
                    Err(e) => return Some(Err(ReadError::Wire(e))),
                    Ok(f) => {
                        if let Ok(data) = f.into_data() {
                            self.wire.fetch_add(data.len() as u64, Ordering::Relaxed);
                            return Some(Ok(data));
                        }
                    }
                }
            },
            // One read of at most CHUNK decoded bytes at a time: memory stays bounded
            // whatever the ratio of the coding.
            Kind::Decoded { reader, buf } => {
                buf.reserve(crate::io::CHUNK);
                let mut limited = reader.as_mut().take(crate::io::CHUNK as u64);
                match limited.read_buf(buf).await {
                    Ok(0) => None,
                    Ok(_) => Some(Ok(buf.split().freeze())),
                    // A wire error comes through the decoder wrapped in an io::Error.
                    Err(e) if e.get_ref().is_some_and(|i| i.is::<hyper::Error>()) => {
                        let kind = e.kind();
                        Some(Err(
                            match e.into_inner().map(|i| i.downcast::<hyper::Error>()) {
                                Some(Ok(h)) => ReadError::Wire(*h),
                                _ => ReadError::Decode(io::Error::from(kind)),
                            },
                        ))
                    }
                    Err(e) => Some(Err(ReadError::Decode(e))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_encoding_lists() {
        let mut h = HeaderMap::new();
        assert_eq!(codings(&h), Ok(vec![]));
        h.append(CONTENT_ENCODING, "gzip, BR".parse().unwrap());
        h.append(CONTENT_ENCODING, "identity".parse().unwrap());
        assert_eq!(codings(&h), Ok(vec![Coding::Gzip, Coding::Brotli]));
        h.append(CONTENT_ENCODING, "compress".parse().unwrap());
        assert_eq!(codings(&h), Err("compress".to_string()));
    }
}
