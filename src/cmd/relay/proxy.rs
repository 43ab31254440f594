//! The PROXY protocol (HAProxy's "The PROXY protocol", versions 1 and 2): the header
//! `--proxy-protocol v1|v2` sends the upstream first, naming the real client, and the one
//! `--accept-proxy-protocol` reads from each client before relaying it. Written by hand:
//! both formats are a few fixed fields, and reading must take exactly the header's bytes
//! from the socket so that the rest can still be spliced.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::net::stream::Stream;

/// Which header to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Version {
    /// The text header: `PROXY TCP4 SRC DST SPORT DPORT\r\n` (unix clients: `PROXY UNKNOWN`)
    V1,
    /// The binary header, which carries unix addresses too
    V2,
}

/// Who a connection is from and to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Inet {
        src: SocketAddr,
        dst: SocketAddr,
    },
    /// Unix socket addresses as sun_path bytes (empty: unnamed).
    Unix {
        src: Vec<u8>,
        dst: Vec<u8>,
    },
    /// A header that names nobody (v1 UNKNOWN, v2 LOCAL or an unsupported family).
    Unknown,
}

impl Source {
    /// The client as the log shows it, if the header names one.
    pub fn client(&self) -> Option<String> {
        match self {
            Source::Inet { src, .. } => Some(src.to_string()),
            Source::Unix { src, .. } if !src.is_empty() => {
                Some(format!("unix:{}", String::from_utf8_lossy(src)))
            }
            _ => None,
        }
    }
}

/// The v2 signature (spec section 2.2).
const SIG: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// The header for `source` (spec 2.1 and 2.2; v2 is always the PROXY command, stream).
pub fn header(version: Version, source: &Source) -> Vec<u8> {
    match version {
        Version::V1 => match source {
            Source::Inet { src, dst } => {
                let fam = if src.is_ipv4() && dst.is_ipv4() {
                    "TCP4"
                } else {
                    "TCP6"
                };
                let ip = |a: &SocketAddr| match (fam, a.ip()) {
                    ("TCP6", IpAddr::V4(v4)) => v4.to_ipv6_mapped().to_string(),
                    (_, ip) => ip.to_string(),
                };
                format!(
                    "PROXY {fam} {} {} {} {}\r\n",
                    ip(src),
                    ip(dst),
                    src.port(),
                    dst.port()
                )
                .into_bytes()
            }
            _ => b"PROXY UNKNOWN\r\n".to_vec(),
        },
        Version::V2 => {
            let mut h = SIG.to_vec();
            let (fam, body): (u8, Vec<u8>) = match source {
                Source::Inet { src, dst } => match (src.ip(), dst.ip()) {
                    (IpAddr::V4(s), IpAddr::V4(d)) => {
                        let mut b = [s.octets(), d.octets()].concat();
                        b.extend(src.port().to_be_bytes());
                        b.extend(dst.port().to_be_bytes());
                        (0x11, b)
                    }
                    (s, d) => {
                        let six = |ip: IpAddr| match ip {
                            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
                            IpAddr::V6(v6) => v6.octets(),
                        };
                        let mut b = [six(s), six(d)].concat();
                        b.extend(src.port().to_be_bytes());
                        b.extend(dst.port().to_be_bytes());
                        (0x21, b)
                    }
                },
                Source::Unix { src, dst } => {
                    let mut b = vec![0u8; 216];
                    let n = src.len().min(108);
                    b[..n].copy_from_slice(&src[..n]);
                    let n = dst.len().min(108);
                    b[108..108 + n].copy_from_slice(&dst[..n]);
                    (0x31, b)
                }
                Source::Unknown => (0x00, Vec::new()),
            };
            // Version 2, PROXY (0x21); LOCAL (0x20) when there is nobody to name.
            h.push(if fam == 0 { 0x20 } else { 0x21 });
            h.push(fam);
            h.extend((body.len() as u16).to_be_bytes());
            h.extend(body);
            h
        }
    }
}

/// Reads the header a client must send first, taking exactly its bytes; an error says what
/// was wrong with it. Bounded by `limit`.
pub async fn read_header(client: &mut Stream, limit: Duration) -> Result<Source, String> {
    match tokio::time::timeout(limit, read(client)).await {
        Err(_) => Err(format!(
            "no PROXY protocol header within {}",
            crate::duration::show(limit)
        )),
        Ok(r) => r,
    }
}

async fn read(c: &mut Stream) -> Result<Source, String> {
    let io = |e: std::io::Error| format!("reading the PROXY protocol header: {e}");
    let mut start = [0u8; 5];
    c.read_exact(&mut start).await.map_err(io)?;
    if &start == b"PROXY" {
        // v1: at most 107 bytes, ending in CRLF (spec 2.1).
        let mut line = start.to_vec();
        while !line.ends_with(b"\r\n") {
            if line.len() >= 107 {
                return Err("malformed PROXY v1 header: no CRLF within 107 bytes".into());
            }
            line.push(c.read_u8().await.map_err(io)?);
        }
        return parse_v1(&line[..line.len() - 2]);
    }
    if start != SIG[..5] {
        return Err(format!(
            "no PROXY protocol header: the client began with {:?}",
            String::from_utf8_lossy(&start)
        ));
    }
    let mut rest = [0u8; 11];
    c.read_exact(&mut rest).await.map_err(io)?;
    if rest[..7] != SIG[5..] {
        return Err("malformed PROXY v2 header: bad signature".into());
    }
    let (ver_cmd, fam) = (rest[7], rest[8]);
    let len = u16::from_be_bytes([rest[9], rest[10]]) as usize;
    let mut body = vec![0u8; len];
    c.read_exact(&mut body).await.map_err(io)?;
    if ver_cmd >> 4 != 2 {
        return Err(format!(
            "malformed PROXY v2 header: version {}",
            ver_cmd >> 4
        ));
    }
    parse_v2(ver_cmd & 0x0f, fam, &body)
}

fn parse_v1(line: &[u8]) -> Result<Source, String> {
    let bad = || {
        format!(
            "malformed PROXY v1 header {:?}",
            String::from_utf8_lossy(line)
        )
    };
    let text = std::str::from_utf8(line).map_err(|_| bad())?;
    let f: Vec<&str> = text.split(' ').collect();
    match f.as_slice() {
        ["PROXY", "UNKNOWN", ..] => Ok(Source::Unknown),
        ["PROXY", fam @ ("TCP4" | "TCP6"), s, d, sp, dp] => {
            let ip = |t: &str| t.parse::<IpAddr>().map_err(|_| bad());
            // Decimal digits without a leading zero (spec 2.1), which u16's parser allows,
            // as it allows a `+`.
            let port = |t: &str| {
                let plain =
                    t.bytes().all(|b| b.is_ascii_digit()) && (t == "0" || !t.starts_with('0'));
                plain
                    .then(|| t.parse::<u16>().ok())
                    .flatten()
                    .ok_or_else(bad)
            };
            let (s, d) = (ip(s)?, ip(d)?);
            let v4 = *fam == "TCP4";
            if [s, d].iter().any(|a| a.is_ipv4() != v4) {
                return Err(bad());
            }
            Ok(Source::Inet {
                src: SocketAddr::new(s, port(sp)?),
                dst: SocketAddr::new(d, port(dp)?),
            })
        }
        _ => Err(bad()),
    }
}

fn parse_v2(cmd: u8, fam: u8, b: &[u8]) -> Result<Source, String> {
    let short = || {
        format!(
            "malformed PROXY v2 header: {} address bytes for family {fam:#04x}",
            b.len()
        )
    };
    match cmd {
        0 => return Ok(Source::Unknown),
        1 => {}
        c => return Err(format!("malformed PROXY v2 header: command {c}")),
    }
    // The low half is the transport: a stream (1), or none with no address (0x00).
    if fam != 0 && fam & 0x0f != 1 {
        return Err(format!(
            "malformed PROXY v2 header: family {fam:#04x} is not a stream's (a TCP or unix \
             stream connection is 0x11, 0x21 or 0x31)"
        ));
    }
    let addresses = match fam >> 4 {
        1 => 12,
        2 => 36,
        3 => 216,
        _ => 0,
    };
    // What follows the addresses is TLVs (spec 2.2.7), each whole.
    let mut tlvs = b.get(addresses..).unwrap_or_default();
    while !tlvs.is_empty() {
        let len = match tlvs {
            [_, hi, lo, ..] => u16::from_be_bytes([*hi, *lo]) as usize,
            _ => usize::MAX,
        };
        let Some(rest) = tlvs.get(3usize.saturating_add(len)..) else {
            return Err("malformed PROXY v2 header: a TLV runs past the header's end".into());
        };
        tlvs = rest;
    }
    let port = |at: usize| u16::from_be_bytes([b[at], b[at + 1]]);
    match fam >> 4 {
        1 if b.len() >= 12 => {
            let ip = |at: usize| IpAddr::from(<[u8; 4]>::try_from(&b[at..at + 4]).unwrap());
            Ok(Source::Inet {
                src: SocketAddr::new(ip(0), port(8)),
                dst: SocketAddr::new(ip(4), port(10)),
            })
        }
        2 if b.len() >= 36 => {
            let ip = |at: usize| IpAddr::from(<[u8; 16]>::try_from(&b[at..at + 16]).unwrap());
            Ok(Source::Inet {
                src: SocketAddr::new(ip(0), port(32)),
                dst: SocketAddr::new(ip(16), port(34)),
            })
        }
        3 if b.len() >= 216 => {
            let path = |p: &[u8]| p.split(|&c| c == 0).next().unwrap_or_default().to_vec();
            Ok(Source::Unix {
                src: path(&b[..108]),
                dst: path(&b[108..216]),
            })
        }
        0 => Ok(Source::Unknown),
        1..=3 => Err(short()),
        _ => Err(format!(
            "malformed PROXY v2 header: address family {fam:#04x}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_read_back() {
        let inet = Source::Inet {
            src: "192.0.2.1:5000".parse().unwrap(),
            dst: "127.0.0.1:80".parse().unwrap(),
        };
        assert_eq!(
            header(Version::V1, &inet),
            b"PROXY TCP4 192.0.2.1 127.0.0.1 5000 80\r\n"
        );
        let v1 = header(Version::V1, &inet);
        assert_eq!(parse_v1(&v1[..v1.len() - 2]).unwrap(), inet);
        let v2 = header(Version::V2, &inet);
        assert_eq!(&v2[..12], SIG);
        assert_eq!(parse_v2(v2[12] & 0xf, v2[13], &v2[16..]).unwrap(), inet);
        let unix = Source::Unix {
            src: b"/tmp/c.sock".to_vec(),
            dst: b"/tmp/s.sock".to_vec(),
        };
        let v2 = header(Version::V2, &unix);
        assert_eq!(v2.len(), 16 + 216);
        assert_eq!(parse_v2(v2[12] & 0xf, v2[13], &v2[16..]).unwrap(), unix);
        assert!(parse_v1(b"PROXY TCP4 1.2.3.4").is_err());
        assert!(parse_v1(b"PROXY TCP4 ::1 ::1 1 2").is_err());
        for bad in [
            &b"PROXY TCP6 192.0.2.7 ::1 5 80"[..],
            b"PROXY TCP6 ::1 192.0.2.7 5 80",
            b"PROXY TCP4 192.0.2.7 127.0.0.1 +5 80",
            b"PROXY TCP4 192.0.2.7 127.0.0.1 5 080",
            b"PROXY TCP4 192.0.2.7 127.0.0.1 5 65536",
        ] {
            assert!(parse_v1(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        assert!(parse_v1(b"PROXY TCP6 ::1 ::2 0 80").is_ok());
        // v2: a datagram family, a TLV cut short, a TLV whose length runs past the end.
        let v2 = header(Version::V2, &inet);
        let addr = &v2[16..];
        assert!(parse_v2(1, 0x12, addr).is_err());
        assert!(parse_v2(1, 0x10, addr).is_err());
        for tail in [&[0x04u8, 0x00][..], &[0x04, 0xff, 0xff, 1, 2]] {
            let body = [addr, tail].concat();
            assert!(parse_v2(1, 0x11, &body).is_err(), "{tail:?}");
        }
        // Whole TLVs (an empty one, then an ALPN) are let through.
        let body = [addr, &[0x03, 0, 0], &[0x01, 0, 2, b'h', b'2']].concat();
        assert_eq!(parse_v2(1, 0x11, &body).unwrap(), inet);
    }
}
