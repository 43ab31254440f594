//! `connect --pcap` and `listen --pcap`: a stream whose bytes each way, ends and resets
//! are written to a capture flow ([`super::pcap::Flow`]) as they pass: connect is the
//! flow's client, listen its server.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::pcap::{Flow, Sender};

/// `S` with every byte read (the peer's) and written (ours) shown to `flow`, where we
/// are `us`.
pub struct Tapped<'a, S> {
    inner: S,
    flow: &'a Flow<'a>,
    us: Sender,
    peer: Sender,
}

impl<'a, S> Tapped<'a, S> {
    pub fn new(inner: S, flow: &'a Flow<'a>, us: Sender) -> Tapped<'a, S> {
        let peer = match us {
            Sender::Client => Sender::Server,
            Sender::Server => Sender::Client,
        };
        Tapped {
            inner,
            flow,
            us,
            peer,
        }
    }

    pub fn into_inner(self) -> S {
        self.inner
    }

    /// A failed read or write: the peer reset the connection (or went away).
    fn failed(&self, e: &io::Error) {
        self.flow.reset(self.peer, Some(&format!("the peer: {e}")));
    }
}

/// `listen --echo --pcap`: every byte read is written back, then our write side is shut
/// down at the peer's EOF; returns the count.
pub async fn echo<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S) -> io::Result<u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    loop {
        let n = s.read(&mut buf).await?;
        if n == 0 {
            s.shutdown().await?;
            return Ok(total);
        }
        s.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tapped<'_, S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        match &r {
            Poll::Ready(Ok(())) if buf.filled().len() == before => self.flow.fin(self.peer),
            Poll::Ready(Ok(())) => self.flow.data(self.peer, &buf.filled()[before..]),
            Poll::Ready(Err(e)) => self.failed(e),
            Poll::Pending => {}
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tapped<'_, S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        match &r {
            Poll::Ready(Ok(n)) => self.flow.data(self.us, &buf[..*n]),
            Poll::Ready(Err(e)) => self.failed(e),
            Poll::Pending => {}
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_shutdown(cx);
        if let Poll::Ready(Ok(())) = &r {
            self.flow.fin(self.us);
        }
        r
    }
}

impl<S: AsFd> AsFd for Tapped<'_, S> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}
