//! `udskit connect ADDR`: stdin/stdout bridged to a stream socket, binary-safe, with
//! half-close, and `--wait` for scripts that race a server's start.

use crate::error::Fail;
use crate::io::bridge;
use crate::net::addr::Addr;
use crate::net::connect;
use crate::net::kind::Kind;
use crate::shutdown::Shutdown;
use crate::term::{Ctx, escape};

/// Bridge stdin/stdout to a socket (like nc -U)
///
/// Everything read from stdin goes to the socket and everything the socket sends goes to
/// stdout, byte for byte. At the end of stdin our write side is shut down and the answer is
/// still read until the server closes, so one-shot requests work. A failure names the real
/// cause: no such file, refused (a stale socket), permission denied (with the file's mode
/// and owner), not a socket, or the wrong socket type. --wait retries while the socket is
/// missing or refusing; it and --connect-timeout bound every attempt, so a TCP connect to a
/// host that drops packets ends too.
///
/// Example:
///   printf 'GET /version HTTP/1.0\r\n\r\n' | udskit connect /var/run/docker.sock
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The socket: PATH, @NAME, unix:///PATH or tcp:HOST:PORT
    #[arg(value_name = "ADDR")]
    pub addr: Addr,
    /// Use a SOCK_SEQPACKET socket (each stdin read is sent as one record)
    #[arg(long)]
    pub seqpacket: bool,
    #[command(flatten)]
    pub connect: connect::ConnectOpts,
}

pub async fn run(args: Args, ctx: &Ctx) -> anyhow::Result<()> {
    let stop = Shutdown::install()?;
    let kind = Kind::stream_or_seqpacket(args.seqpacket);
    if args.seqpacket && !args.addr.is_unix() {
        return Err(Fail::usage(format!("{}: --seqpacket needs a unix address", args.addr)).into());
    }
    let conn = tokio::select! {
        c = connect::connect(&args.addr, kind, args.connect) => c.map_err(Fail::from)?,
        _ = stop.stopped() => return Ok(()),
    };
    match conn.peer_cred() {
        Some(c) => ctx.debug(format!(
            "connected to {} ({c})",
            escape(&args.addr.to_string())
        )),
        None => ctx.debug(format!("connected to {}", escape(&args.addr.to_string()))),
    }
    let (out, done) = crate::io::stdio::Writer::spawn();
    let t = bridge::bridge_stdio(conn, &out, &stop).await;
    drop(out);
    done.finish(&stop)
        .await
        .map_err(|e| anyhow::Error::from(e).context("writing stdout"))?;
    let t = t.map_err(|e| {
        anyhow::Error::from(e).context(format!("talking to {}", escape(&args.addr.to_string())))
    })?;
    ctx.debug(format!("closed: {} bytes sent, {} received", t.up, t.down));
    Ok(())
}
