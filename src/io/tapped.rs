//! `connect --pcap`: a stream whose bytes each way, ends and resets are written to a
//! capture flow ([`super::pcap::Flow`]) as they pass: we are the flow's client, the peer
//! its server.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::pcap::{Flow, Sender};

/// `S` with every byte read (the server's) and written (ours) shown to `flow`.
pub struct Tapped<'a, S> {
    inner: S,
    flow: &'a Flow<'a>,
}

impl<'a, S> Tapped<'a, S> {
    pub fn new(inner: S, flow: &'a Flow<'a>) -> Tapped<'a, S> {
        Tapped { inner, flow }
    }
}

/// A failed read or write: the peer reset the connection (or went away).
fn failed(flow: &Flow<'_>, e: &io::Error) {
    flow.reset(Sender::Server, Some(&format!("the peer: {e}")));
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
            Poll::Ready(Ok(())) if buf.filled().len() == before => self.flow.fin(Sender::Server),
            Poll::Ready(Ok(())) => self.flow.data(Sender::Server, &buf.filled()[before..]),
            Poll::Ready(Err(e)) => failed(self.flow, e),
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
            Poll::Ready(Ok(n)) => self.flow.data(Sender::Client, &buf[..*n]),
            Poll::Ready(Err(e)) => failed(self.flow, e),
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
            self.flow.fin(Sender::Client);
        }
        r
    }
}

impl<S: AsFd> AsFd for Tapped<'_, S> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}
