//! `connect tls:HOST:PORT`: stdin to a TLS server and its answer to stdout, like
//! `openssl s_client -quiet`: at stdin's end a close_notify and a write shutdown, then the
//! answer is read until the server closes. `--pcap` captures the plaintext.

use std::io;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::io::pcap::{Flow, Sender};
use crate::io::stdio::Writer;
use crate::net::stream::Stream;
use crate::net::tls;
use crate::shutdown::Shutdown;

/// Bounds the handshake when --connect-timeout does not: a server that accepts and never
/// answers must not hang connect.
pub const HANDSHAKE: Duration = Duration::from_secs(10);

/// The handshake over `conn`, then stdin and stdout bridged through it, the plaintext into
/// `flow` if given; returns the bytes sent and received.
pub async fn bridge(
    conn: Stream,
    host: &str,
    opts: &tls::ClientOpts,
    bound: Duration,
    out: &Writer,
    stop: &Shutdown,
    flow: Option<&Flow<'_>>,
) -> anyhow::Result<(u64, u64)> {
    let config = opts.config()?;
    let s = match tokio::time::timeout(bound, tls::connect(config, host, conn)).await {
        Err(_) => anyhow::bail!(
            "TLS handshake: no answer within {}",
            crate::duration::show(bound)
        ),
        Ok(r) => r?,
    };
    let (mut rd, mut wr) = tokio::io::split(s);
    let mut input = crate::io::stdio::stdin();
    let up = async {
        let mut n = 0u64;
        while let Some(chunk) = input.recv().await {
            let chunk = chunk?;
            wr.write_all(&chunk).await?;
            if let Some(flow) = flow {
                flow.data(Sender::Client, &chunk);
            }
            n += chunk.len() as u64;
        }
        wr.shutdown().await?;
        if let Some(flow) = flow {
            flow.fin(Sender::Client);
        }
        Ok::<_, io::Error>(n)
    };
    let down = async {
        let mut n = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let got = match rd.read(&mut buf).await {
                // A server that closes without a close_notify has still ended its answer.
                Ok(0) => None,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => None,
                Err(e) => {
                    if let Some(flow) = flow {
                        flow.reset(Sender::Server, Some(&format!("reading: {e}")));
                    }
                    return Err(e);
                }
                Ok(got) => Some(got),
            };
            let Some(got) = got else {
                if let Some(flow) = flow {
                    flow.fin(Sender::Server);
                }
                return Ok::<_, io::Error>(n);
            };
            if let Some(flow) = flow {
                flow.data(Sender::Server, &buf[..got]);
            }
            n += got as u64;
            out.write(Bytes::copy_from_slice(&buf[..got])).await?;
        }
    };
    tokio::pin!(up, down);
    let mut sent = None;
    loop {
        tokio::select! {
            r = &mut up, if sent.is_none() => sent = Some(r?),
            r = &mut down => return Ok((sent.unwrap_or(0), r?)),
            _ = stop.stopped() => return Ok((sent.unwrap_or(0), 0)),
        }
    }
}
