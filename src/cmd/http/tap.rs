//! The response heads as they came off the wire, for `-D` (written as received, CRLF and
//! header case kept) and `-w %{size_header}`: hyper hands out parsed names only, lower-cased,
//! so the connection is read through a tap that copies the bytes up to the end of the final
//! head (1xx heads included, as curl counts and dumps them), then only counts the body bytes
//! hyper reads after it; it can hold hyper's reads where they are, so that the rest of a
//! body is spliced from the socket (see exchange.rs) after the part hyper already buffered.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A server's heads beyond this are not recorded (hyper refuses heads far smaller: its
/// buffer limit is about 400 KiB): the tap then gives up and -D falls back to the parsed head.
const HEADS_MAX: usize = 1 << 20;

/// What the tap saw: the bytes of every head, once the final one is complete.
#[derive(Default, Debug)]
pub struct Heads {
    bytes: Vec<u8>,
    /// Where the head being read starts in `bytes`.
    start: usize,
    done: bool,
    overflow: bool,
    /// Bytes read after the final head (the body, as far as hyper has read it).
    body_read: u64,
    /// Reads are held: hyper's are answered Pending from here on.
    held: bool,
}

impl Heads {
    /// The heads up to and with the final one's blank line, if they were seen whole.
    pub fn complete(&self) -> Option<&[u8]> {
        (self.done && !self.overflow).then_some(&self.bytes[..])
    }

    /// Holds the connection's reads where they are, and says how many bytes after the final
    /// head have been read (hyper has them, delivered or buffered); None (and nothing held)
    /// when the heads were not seen whole.
    pub fn hold(&mut self) -> Option<u64> {
        if !self.done || self.overflow {
            return None;
        }
        self.held = true;
        Some(self.body_read)
    }

    /// Takes in bytes read from the connection and counts those after the final head.
    fn read(&mut self, data: &[u8]) {
        if self.done {
            self.body_read += data.len() as u64;
        } else if !self.overflow {
            self.body_read += self.feed(data) as u64;
        }
    }

    /// Takes in bytes read from the connection; returns how many of them came after the
    /// final head (0 until it is complete).
    fn feed(&mut self, mut data: &[u8]) -> usize {
        while !self.done && !self.overflow && !data.is_empty() {
            let from = self.bytes.len().saturating_sub(3).max(self.start);
            let Some(n) = HEADS_MAX.checked_sub(self.bytes.len()).filter(|&n| n > 0) else {
                self.overflow = true;
                return 0;
            };
            let take = data.len().min(n);
            self.bytes.extend_from_slice(&data[..take]);
            let Some(end) = head_end(&self.bytes[from..]).map(|e| from + e) else {
                data = &data[take..];
                continue;
            };
            // The bytes after this head's end belong to the body or the next head.
            let extra = self.bytes.len() - end;
            self.bytes.truncate(end);
            data = &data[take - extra..];
            if informational(&self.bytes[self.start..end]) {
                self.start = end;
            } else {
                self.done = true;
            }
        }
        if self.done { data.len() } else { 0 }
    }
}

/// The offset just past the blank line ending a head (CRLF CRLF, or a bare LF LF, which
/// hyper accepts too).
fn head_end(b: &[u8]) -> Option<usize> {
    (0..b.len()).find_map(|i| {
        if b[i..].starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if b[i..].starts_with(b"\n\n") {
            Some(i + 2)
        } else if b[i..].starts_with(b"\n\r\n") {
            Some(i + 3)
        } else {
            None
        }
    })
}

/// A 1xx head other than 101 (after which the connection is no longer HTTP): another head
/// follows it.
fn informational(head: &[u8]) -> bool {
    let code = head.split(|&b| b == b' ').nth(1).unwrap_or_default();
    code.len() == 3 && code[0] == b'1' && code != b"101"
}

/// A connection read through the tap.
pub struct Tapped<S> {
    inner: S,
    heads: Arc<Mutex<Heads>>,
}

impl<S> Tapped<S> {
    pub fn new(inner: S) -> (Tapped<S>, Arc<Mutex<Heads>>) {
        let heads = Arc::new(Mutex::new(Heads::default()));
        let t = Tapped {
            inner,
            heads: heads.clone(),
        };
        (t, heads)
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tapped<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        // Held across the read, so that a hold counts exactly what hyper was given.
        let mut heads = me.heads.lock().unwrap_or_else(|e| e.into_inner());
        if heads.held {
            // Never woken: the rest of the body is read by the splice.
            return Poll::Pending;
        }
        let before = buf.filled().len();
        let r = Pin::new(&mut me.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) {
            heads.read(&buf.filled()[before..]);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tapped<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, b: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, b)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fed(pieces: &[&[u8]]) -> Heads {
        let mut h = Heads::default();
        for p in pieces {
            h.feed(p);
        }
        h
    }

    #[test]
    fn heads_end_at_the_final_blank_line_across_reads() {
        let h = fed(&[b"HTTP/1.1 200 OK\r\nA: b\r", b"\n\r", b"\nbody bytes"]);
        assert_eq!(h.complete(), Some(&b"HTTP/1.1 200 OK\r\nA: b\r\n\r\n"[..]));
        let h = fed(&[b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nx"]);
        assert_eq!(
            h.complete(),
            Some(&b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"[..])
        );
        let h = fed(&[b"HTTP/1.1 101 UPGRADED\r\n\r\n\x01\x00"]);
        assert_eq!(h.complete(), Some(&b"HTTP/1.1 101 UPGRADED\r\n\r\n"[..]));
        assert_eq!(fed(&[b"HTTP/1.1 200 OK\r\n"]).complete(), None);
        let mut h = Heads::default();
        h.read(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n");
        assert_eq!(h.hold(), None, "not held before the final head is whole");
        h.read(b"\r\n0123");
        h.read(b"456");
        assert_eq!(h.hold(), Some(7));
        assert_eq!(
            fed(&[b"HTTP/1.0 200 OK\nA: b\n\nbody"])
                .complete()
                .map(<[u8]>::len),
            Some(22)
        );
    }
}
