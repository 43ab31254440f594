//! After a `101 Switching Protocols` answer to `http --upgrade`: the connection becomes a
//! raw two-way stream bridged to stdin/stdout with half-close (docker attach and exec
//! start), the way down going through the same renderer as a body, so docker's frames of
//! a non-TTY container are split onto stdout and stderr.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::Context as _;
use bytes::{Bytes, BytesMut};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use super::render::Render;
use super::tap::Tapped;
use crate::duration::MaxTime;
use crate::io::bridge;
use crate::io::stdio::{self, Writer};
use crate::net::stream::Stream;
use crate::shutdown::Shutdown;
use crate::term::Ctx;

/// Our socket again, with the bytes the server sent right after its 101 (already read by
/// hyper) served first.
struct Switched {
    early: Bytes,
    inner: Stream,
}

impl AsyncRead for Switched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        if !me.early.is_empty() {
            let n = me.early.len().min(buf.remaining());
            buf.put_slice(&me.early.split_to(n));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut me.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Switched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl AsFd for Switched {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

/// Bridges the switched connection to stdin/stdout until both sides are done (or a stop
/// signal, or stdout closes).
pub async fn bridge(
    on: OnUpgrade,
    mut render: Render,
    out: &Writer,
    (stop, clock): (&Shutdown, &MaxTime),
    ctx: &Ctx,
) -> anyhow::Result<()> {
    let upgraded = on.await.context("switching protocols")?;
    let parts = upgraded
        .downcast::<TokioIo<Tapped<Stream>>>()
        .map_err(|_| anyhow::anyhow!("switching protocols: the connection changed type"))?;
    let conn = Switched {
        early: parts.read_buf,
        inner: parts.io.into_inner().into_inner(),
    };
    ctx.debug("switched protocols: stdin and stdout are bridged to the connection");
    let mut stdin = stdio::stdin();
    let down = async |rd: &mut tokio::io::ReadHalf<Switched>| -> io::Result<u64> {
        let mut total = 0;
        let mut buf = BytesMut::with_capacity(crate::io::CHUNK);
        loop {
            buf.reserve(crate::io::CHUNK);
            let n = rd.read_buf(&mut buf).await?;
            if n == 0 {
                return Ok(total);
            }
            total += n as u64;
            if !render
                .push(buf.split().freeze())
                .await
                .map_err(io::Error::other)?
            {
                return Ok(total);
            }
        }
    };
    let t = bridge::bridge_with(conn, &mut stdin, down, || out.is_closed(), stop).await;
    let finished = render.finish_or_stop(ctx, stop, clock).await;
    let t = t.context("on the upgraded connection")?;
    // A reset is a failure; a server that stops reading our stdin (a container that
    // exited) ends the session as before.
    if t.ending == bridge::Ending::Reset
        && let Some(words) = t.ending.words("the server", t.up, t.down)
    {
        anyhow::bail!("on the upgraded connection: {words}");
    }
    ctx.debug(format!("closed: {} bytes sent, {} received", t.up, t.down));
    finished
}
