//! Reaching a socket: connecting once to any stream address (TCP tries every address a
//! name resolves to, `localhost` being both 127.0.0.1 and ::1), the retries of `--wait` and the bound of `--connect-timeout` with the
//! failure in words, and the loopback TCP socket that never paces.

use std::io;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use tokio::net::TcpSocket;

use crate::duration;
use crate::error::{FAILURE, Fail};
use crate::net::addr::Addr;
use crate::net::explain::{self, connect_error};
use crate::net::kind::Kind;
use crate::net::stream::Stream;
use crate::net::unix::try_connect_unix;
use crate::term::escape;

/// Whether an error means "not there yet": what `--wait` keeps retrying.
pub fn is_not_ready(err: &io::Error) -> bool {
    matches!(explain::errno(err), Some(Errno::NOENT | Errno::CONNREFUSED))
        || err.kind() == io::ErrorKind::WouldBlock
}

/// Whether an error means "there, but busy": a unix listener whose accept queue is full
/// (a non-blocking connect fails with EAGAIN where a blocking one would wait for room).
pub fn is_busy(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::WouldBlock
}

/// Whether an error means that udskit (EMFILE) or the system (ENFILE) is out of file
/// descriptors: ours to wait out, not the peer's doing.
pub fn is_short_of_descriptors(err: &io::Error) -> bool {
    matches!(explain::errno(err), Some(Errno::MFILE | Errno::NFILE))
}

/// Retries `attempt` while its error is one `again` accepts, until `wait` has passed
/// (backing off from 10 ms to 100 ms); `None` tries once. (`attempt` returns a future
/// rather than being an async closure, whose future a spawned task could not hold: rustc
/// cannot yet prove it `Send`.)
pub async fn retry_while<T, F, Fut>(
    wait: Option<Duration>,
    again: impl Fn(&io::Error) -> bool,
    mut attempt: F,
) -> io::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let deadline = wait.map(|w| Instant::now() + w);
    let mut pause = Duration::from_millis(10);
    loop {
        match attempt().await {
            // The last attempt is made at the deadline, so a timeout really waited `wait`.
            Err(e) if again(&e) && deadline.is_some_and(|d| Instant::now() < d) => {
                let left = deadline.map_or(pause, |d| d.saturating_duration_since(Instant::now()));
                tokio::time::sleep(pause.min(left)).await;
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// Connects to a stream address (unix stream/seqpacket or TCP), once.
pub async fn connect_once(addr: &Addr, kind: Kind) -> io::Result<Stream> {
    match addr {
        Addr::Tcp { host, port } => {
            let s = connect_tcp(host, *port).await?;
            let _ = s.set_nodelay(true);
            Ok(Stream::Tcp(s))
        }
        Addr::Udp { .. } => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{addr} is a UDP address: it carries datagrams, not a stream"),
        )),
        _ => Stream::from_unix_fd(try_connect_unix(addr, kind)?, kind),
    }
}

/// Connects to each address `host` resolves to, in order, until one accepts; when every
/// one fails, the error holds each address with its cause ([`explain::tried`]).
async fn connect_tcp(host: &str, port: u16) -> io::Result<tokio::net::TcpStream> {
    let mut failed = Vec::new();
    for at in resolve(host, port).await? {
        match async { tcp_socket(at.ip())?.connect(at).await }.await {
            Ok(s) => return Ok(s),
            Err(e) => failed.push((at, e)),
        }
    }
    Err(explain::tried(failed))
}

/// The addresses `host` resolves to, in the resolver's order. `localhost` and the names
/// under it are both loopback addresses whatever /etc/hosts says (RFC 6761, as curl does):
/// a hosts file that lists only 127.0.0.1 must not hide a server bound to [::1].
pub async fn resolve(host: &str, port: u16) -> io::Result<Vec<std::net::SocketAddr>> {
    let lower = host.to_ascii_lowercase();
    let local_name = lower == "localhost" || lower.ends_with(".localhost");
    let mut all: Vec<_> = match tokio::net::lookup_host((host, port)).await {
        Ok(found) => found.collect(),
        Err(_) if local_name => Vec::new(),
        Err(e) => return Err(e),
    };
    if local_name {
        use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
        for ip in [Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()] {
            let at = SocketAddr::new(ip, port);
            if !all.contains(&at) {
                all.push(at);
            }
        }
    }
    Ok(all)
}

/// Runs `f` on each address `host` resolves to until one succeeds, as std's and tokio's
/// TCP constructors do; the last failure otherwise. (For binding: a server binds what the
/// resolver says, and connecting has [`connect_tcp`].)
pub async fn first_address<T>(
    host: &str,
    port: u16,
    mut f: impl AsyncFnMut(std::net::SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for at in tokio::net::lookup_host((host, port)).await? {
        match f(at).await {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any address",
        )
    }))
}

/// A new TCP socket for `ip`, [`unpaced`] when `ip` is a loopback address. The
/// congestion control is chosen before the connection exists: a connection that started
/// under a pacing one keeps pacing after a switch (and a listener's choice is what its
/// accepted connections start with).
pub fn tcp_socket(ip: std::net::IpAddr) -> io::Result<TcpSocket> {
    let socket = if ip.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if ip.is_loopback() {
        unpaced(&socket);
    }
    Ok(socket)
}

/// Gives a loopback TCP socket the "reno" congestion control, which any user may choose,
/// in place of the system's default, which may pace its sends (bbr does): on loopback
/// there is no network to pace for, no loss and no queue, so congestion control never
/// acts, but bbr's pacing arms a timer as it sends, and on a virtual machine every timer
/// is a trip to the hypervisor (about a third of a relay's CPU). Chosen before connecting:
/// the kernel leaves a socket's pacing on once bbr has asked for it. Best effort: a kernel
/// without reno keeps its default (figures in docs/performance.md).
fn unpaced(socket: &TcpSocket) {
    let _ = rustix::net::sockopt::set_tcp_congestion(socket, "reno");
}

/// How long reaching a socket may take, for every subcommand that connects: `--wait` retries
/// while the socket is missing or refusing and bounds the whole, `--connect-timeout` bounds
/// each attempt. Either one ends a TCP connect that hangs (a host that drops the SYNs).
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct ConnectOpts {
    /// Keep trying for up to DURATION while the socket is missing or refusing (500ms, 10s, 2m)
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub wait: Option<Duration>,
    /// Give up a connection attempt that does not complete within DURATION; 0: no limit
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub connect_timeout: Option<Duration>,
    /// The option a timeout message names when `connect_timeout` came from another one
    /// (connect's `-w`, which bounds the connect too).
    #[arg(skip)]
    pub connect_timeout_from: Option<&'static str>,
}

impl ConnectOpts {
    /// `--connect-timeout` as a limit (0 is none).
    pub fn timeout(&self) -> Option<Duration> {
        duration::limit(self.connect_timeout)
    }
}

/// A socket that could not be reached: the message, and whether time ran out (http's
/// exit code 28) rather than the socket answering no.
#[derive(Debug)]
pub struct Unreached {
    pub fail: Fail,
    pub timed_out: bool,
}

impl From<Unreached> for Fail {
    fn from(u: Unreached) -> Fail {
        u.fail
    }
}

/// An attempt cut by `--connect-timeout` or by the end of `--wait`.
#[derive(Debug)]
struct OurTimeout;

impl std::fmt::Display for OurTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the connection attempt timed out")
    }
}

impl std::error::Error for OurTimeout {}

/// Connects, retrying for `--wait` while the socket is missing or refusing, or while an
/// attempt timed out; every attempt is bounded by `--connect-timeout` and by what is left
/// of `--wait`. The error names the address and the real cause, or the bound that ran out.
pub async fn connect(addr: &Addr, kind: Kind, opts: ConnectOpts) -> Result<Stream, Unreached> {
    let deadline = opts.wait.map(|w| Instant::now() + w);
    let timeout = opts.timeout();
    let attempt = || async move {
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let limit = match (timeout, left) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match limit {
            Some(l) => tokio::time::timeout(l, connect_once(addr, kind))
                .await
                .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, OurTimeout))),
            None => connect_once(addr, kind).await,
        }
    };
    // Only our own bound counts: the kernel's ETIMEDOUT (minutes of unanswered SYNs with
    // neither option given) is a cause to report, not "--wait ran out".
    let timed_out = |e: &io::Error| e.get_ref().is_some_and(|i| i.is::<OurTimeout>());
    let e = match retry_while(opts.wait, |e| timed_out(e) || is_not_ready(e), attempt).await {
        Ok(s) => return Ok(s),
        Err(e) => e,
    };
    if !timed_out(&e) {
        return Err(Unreached {
            fail: connect_error(addr, kind, &e, opts.wait),
            timed_out: false,
        });
    }
    let (bound, flag) = match (opts.wait, timeout) {
        (Some(w), _) if deadline.is_some_and(|d| Instant::now() >= d) => (w, "--wait"),
        (_, Some(t)) => (t, opts.connect_timeout_from.unwrap_or("--connect-timeout")),
        (w, None) => (w.unwrap_or_default(), "--wait"),
    };
    let fail = Fail::new(
        FAILURE,
        format!(
            "connecting to {}: no connection within {} ({flag})",
            escape(&addr.to_string()),
            duration::show(bound)
        ),
    );
    Err(Unreached {
        fail,
        timed_out: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// Both ends udskit makes of a loopback TCP connection, the one it connects and the one
    /// its listener accepts, are unpaced from their first byte.
    #[tokio::test]
    async fn loopback_tcp_is_unpaced_both_ways() {
        let (listener, local) = crate::net::bind::bind_tcp(&"tcp:127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let (connected, accepted) =
            tokio::join!(connect_once(&local, Kind::Stream), listener.accept());
        let connected = connected.unwrap();
        let (accepted, _) = accepted.unwrap();
        for fd in [connected.as_fd(), accepted.as_fd()] {
            assert_eq!(rustix::net::sockopt::tcp_congestion(fd).unwrap(), "reno");
        }
    }
}
