//! A relayed connection with TLS on either side (`tls:` LISTEN, TARGET or both): the
//! handshakes, bounded by --connect-timeout and told in words when they fail, then bytes
//! copied through rustls both ways with half-close (a close_notify, then a write shutdown),
//! metered for the log and the idle timeout, and shown to --dump as plaintext. splice
//! cannot help here: every byte is decrypted or encrypted in user space.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use rustls::{ClientConfig, ServerConfig};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::copy::{Direction, Meter};
use super::dump::Dump;
use super::{End, RelayPlan};
use crate::duration;
use crate::net::stream::Stream;
use crate::net::tls;

/// The TLS sides of a relay.
pub struct TlsPlan {
    /// A tls: LISTEN: the clients' handshakes.
    pub down: Option<tokio_rustls::TlsAcceptor>,
    /// A tls: TARGET: its configuration, the host it is checked against, and the target
    /// as the log names it.
    pub up: Option<(Arc<ClientConfig>, String, String)>,
}

impl TlsPlan {
    pub fn new(
        down: Option<Arc<ServerConfig>>,
        up: Option<(Arc<ClientConfig>, String, String)>,
    ) -> Self {
        TlsPlan {
            down: down.map(tokio_rustls::TlsAcceptor::from),
            up,
        }
    }

    pub fn any(&self) -> bool {
        self.down.is_some() || self.up.is_some()
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// One TLS-relayed client: its handshake (the certificate subject of a mutual-TLS client
/// goes in `subject`), the target's connection and handshake, then the copy.
pub async fn relay(
    id: u64,
    client: Stream,
    plan: &RelayPlan,
    tlsp: &TlsPlan,
    meter: &Meter,
    subject: &OnceLock<String>,
    hello: &[u8],
) -> End {
    let bound = plan.connect_timeout;
    let timed_out = |what: &str| {
        End::Error(format!(
            "TLS handshake with {what}: no answer within {} (--connect-timeout)",
            duration::show(bound)
        ))
    };
    let client: Box<dyn Io> = match &tlsp.down {
        Some(acceptor) => match tokio::time::timeout(bound, acceptor.accept(client)).await {
            Err(_) => return timed_out("the client"),
            Ok(Err(e)) => return End::Error(format!("client {}", tls::handshake_error(&e))),
            Ok(Ok(s)) => {
                if let Some(who) = tls::client_subject(s.get_ref().1) {
                    let _ = subject.set(who);
                }
                Box::new(s)
            }
        },
        None => Box::new(client),
    };
    let target = match super::connect_target(plan, hello).await {
        Ok(t) => t,
        Err(end) => return end,
    };
    let target: Box<dyn Io> = match &tlsp.up {
        Some((config, host, shown)) => {
            match tokio::time::timeout(bound, tls::connect(config.clone(), host, target)).await {
                Err(_) => return timed_out(shown),
                Ok(Err(e)) => return End::Upstream(format!("connecting to {shown}: {e}")),
                Ok(Ok(s)) => Box::new(s),
            }
        }
        None => Box::new(target),
    };
    let dump = plan.dump.as_ref();
    let mut client = Metered {
        inner: client,
        dir: Direction::Up,
        meter,
        dump,
        id,
    };
    let mut target = Metered {
        inner: target,
        dir: Direction::Down,
        meter,
        dump,
        id,
    };
    let copy = tokio::io::copy_bidirectional(&mut client, &mut target);
    let result = match plan.idle_timeout {
        Some(limit) => tokio::select! {
            r = copy => r,
            _ = meter.idle(limit) => return End::Idle(limit),
        },
        None => copy.await,
    };
    match result {
        Ok(_) => End::Closed,
        Err(e) => End::Error(e.to_string()),
    }
}

/// A side of the connection whose reads are counted (and dumped) as bytes of `dir`.
struct Metered<'a> {
    inner: Box<dyn Io>,
    dir: Direction,
    meter: &'a Meter,
    dump: Option<&'a Dump>,
    id: u64,
}

impl AsyncRead for Metered<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            // A peer that closes its TCP connection without a close_notify ends its
            // direction like a FIN (as curl and socat take it), not as a failure.
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(())),
            Poll::Ready(Ok(())) => {
                let got = &buf.filled()[before..];
                if !got.is_empty() {
                    this.meter.add(this.dir, got.len());
                    if let Some(d) = this.dump {
                        d.chunk(this.id, this.dir, got);
                    }
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl AsyncWrite for Metered<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
