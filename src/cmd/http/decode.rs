//! The response body as `udskit http` reads it: the frames as they come, or with
//! `--compressed` decoded by its Content-Encoding (gzip, deflate, br, zstd, also stacked)
//! as it streams, through async-compression, one bounded read at a time (a small body that
//! inflates to gigabytes never sits in memory whole). Bytes are counted as they come over
//! the wire, which is what curl reports as the download size.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use async_compression::tokio::bufread::{
    BrotliDecoder, DeflateDecoder, GzipDecoder, ZlibDecoder, ZstdDecoder,
};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Incoming};
use hyper::header::{CONTENT_ENCODING, HeaderMap};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncReadExt, BufReader, ReadBuf};
use tokio_util::io::StreamReader;

/// The codings --compressed asks for, in curl's words (Accept-Encoding).
pub const ACCEPTED: &str = "gzip, deflate, br, zstd";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    Gzip,
    /// HTTP's deflate is zlib-wrapped (RFC 9110); some servers send it raw, which curl
    /// accepts too: told apart by the zlib header ([`Inflate`]).
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

type Reader = Pin<Box<dyn AsyncBufRead + Send>>;

/// `deflate` as curl reads it: zlib-wrapped as the standard says, or raw deflate, told by
/// whether the first two bytes make a zlib header.
enum Inflate {
    Deciding(Option<Reader>),
    Zlib(ZlibDecoder<Reader>),
    Raw(DeflateDecoder<Reader>),
}

/// CMF and FLG of RFC 1950: method 8 with a window of at most 32 KiB, checksum of 31.
fn zlib_header(b: &[u8]) -> bool {
    match b {
        [cmf, flg, ..] => {
            cmf & 0x0f == 8 && cmf >> 4 <= 7 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0
        }
        // Too little to tell: the standard's form.
        _ => true,
    }
}

impl AsyncRead for Inflate {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if let Inflate::Deciding(slot) = me {
            let Some(reader) = slot.as_mut() else {
                return Poll::Ready(Err(io::Error::other("deflate reader lost")));
            };
            let zlib = match reader.as_mut().poll_fill_buf(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(head)) => zlib_header(head),
            };
            let Some(reader) = slot.take() else {
                return Poll::Ready(Err(io::Error::other("deflate reader lost")));
            };
            *me = if zlib {
                Inflate::Zlib(ZlibDecoder::new(reader))
            } else {
                Inflate::Raw(DeflateDecoder::new(reader))
            };
        }
        match me {
            Inflate::Zlib(d) => Pin::new(d).poll_read(cx, buf),
            Inflate::Raw(d) => Pin::new(d).poll_read(cx, buf),
            Inflate::Deciding(_) => Poll::Ready(Err(io::Error::other("deflate reader lost"))),
        }
    }
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
        let mut reader: Reader = Box::pin(StreamReader::new(frames));
        let mut codings = codings.iter().rev().peekable();
        let decoded = loop {
            let Some(c) = codings.next() else {
                unreachable!("codings is not empty")
            };
            let step: Pin<Box<dyn AsyncRead + Send>> = match c {
                // Every member of a gzip stream, every frame of a zstd one (RFC 1952 2.2,
                // RFC 8878 3): anything else after the first is an error, never dropped.
                Coding::Gzip => {
                    let mut d = GzipDecoder::new(reader);
                    d.multiple_members(true);
                    Box::pin(d)
                }
                Coding::Deflate => Box::pin(Inflate::Deciding(Some(reader))),
                Coding::Brotli => Box::pin(BrotliDecoder::new(reader)),
                Coding::Zstd => {
                    let mut d = ZstdDecoder::new(reader);
                    d.multiple_members(true);
                    Box::pin(d)
                }
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

    #[test]
    fn zlib_is_told_from_raw_deflate() {
        // zlib.compress(b"x") starts 78 9c; raw deflate of the same starts ab 00.
        assert!(zlib_header(b"\x78\x9c"));
        assert!(zlib_header(b"\x78\x01"));
        assert!(!zlib_header(b"\xab\x00"));
        assert!(!zlib_header(b"\x4b\xcc"));
    }
}
