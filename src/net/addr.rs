//! The one address grammar every subcommand accepts (README, "Addresses"):
//! filesystem paths, Linux abstract names, the DOCKER_HOST `unix:///` form, TCP and UDP
//! (UDP only where datagrams make sense: `relay`).
//! `Display` prints the canonical form, which parses back to the same address.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Longest abstract name: `sun_path` holds 108 bytes and the first is the NUL marker.
pub const MAX_ABSTRACT: usize = 107;

/// What every "address does not parse" error ends with.
pub const FORMS: &str = "accepted forms: PATH, unix:PATH, @NAME, abstract:NAME, unix:@NAME, \
     unix:///PATH, tcp:HOST:PORT, tcp:PORT, tcp:[IPV6]:PORT, udp:HOST:PORT, udp:PORT \
     (relay; a unix side is a datagram socket with --dgram or beside udp:)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    /// A socket file. Any length: long paths are reached through `/proc/self/fd` (see socket.rs).
    Path(PathBuf),
    /// A name in the Linux abstract namespace, without the leading NUL.
    Abstract(Vec<u8>),
    /// TCP; `host` is a name or an IP literal (IPv6 without brackets).
    Tcp { host: String, port: u16 },
    /// UDP, written like TCP; datagrams only (`relay`).
    Udp { host: String, port: u16 },
}

impl Addr {
    pub fn is_unix(&self) -> bool {
        !matches!(self, Addr::Tcp { .. } | Addr::Udp { .. })
    }

    pub fn is_udp(&self) -> bool {
        matches!(self, Addr::Udp { .. })
    }

    /// The canonical form that `Display` prints, as the bytes it stands for: a path or an
    /// abstract name that is not UTF-8 keeps its bytes here, where `Display` shows U+FFFD.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Addr::Path(p) => {
                let raw = p.as_os_str().as_encoded_bytes();
                let prefix: &[u8] = if raw.first() == Some(&b'@') {
                    b"unix:./"
                } else {
                    b"unix:"
                };
                [prefix, raw].concat()
            }
            Addr::Abstract(name) => [b"@", name.as_slice()].concat(),
            Addr::Tcp { .. } | Addr::Udp { .. } => self.to_string().into_bytes(),
        }
    }

    /// For a path written bare that reads as a TCP port or HOST:PORT (`8080`, `:8080`,
    /// `localhost:8080`, `[::1]:8080`), the tcp: spelling the user most likely meant. A
    /// server refuses to create such a file (`./8080` says "yes, a file"); a client that
    /// finds no such file says this in its hint.
    pub fn tcp_lookalike(&self) -> Option<String> {
        let Addr::Path(p) = self else { return None };
        let s = p.to_str()?;
        let (host, port) = match s.rsplit_once(':') {
            Some((host, port)) => (host, port),
            None => ("", s),
        };
        let port_like =
            !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit());
        let host_like = host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b));
        (port_like && host_like).then(|| match host {
            "" => format!("tcp:{port}"),
            h => format!("tcp:{h}:{port}"),
        })
    }

    /// The socket file behind this address, if it has one.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            Addr::Path(p) => Some(p),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n  {FORMS}", self.0)
    }
}

impl std::error::Error for ParseError {}

fn err<T>(msg: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(msg.into()))
}

fn abstract_name(name: &str, written: &str) -> Result<Addr, ParseError> {
    if name.is_empty() {
        return err(format!("'{written}' has an empty abstract name"));
    }
    if name.len() > MAX_ABSTRACT {
        return err(format!(
            "the abstract name is {} bytes; the kernel allows at most {MAX_ABSTRACT}",
            name.len()
        ));
    }
    Ok(Addr::Abstract(name.as_bytes().to_vec()))
}

/// socat's address keywords, and the udskit prefix that takes each one's place:
/// `UNIX-CONNECT:P` is `unix:P`, `TCP-LISTEN:PORT` is `tcp:PORT`. Matched without regard to
/// case, like socat.
const SOCAT: &[(&str, &str)] = &[
    ("unix-connect", "unix:"),
    ("unix-listen", "unix:"),
    ("unix-client", "unix:"),
    ("unix-sendto", "unix:"),
    ("unix-recvfrom", "unix:"),
    ("unix-recv", "unix:"),
    ("unix", "unix:"),
    ("abstract-connect", "@"),
    ("abstract-listen", "@"),
    ("abstract-client", "@"),
    ("abstract-sendto", "@"),
    ("abstract-recvfrom", "@"),
    ("abstract-recv", "@"),
    ("abstract", "@"),
    ("tcp-listen", "tcp:"),
    ("tcp4-listen", "tcp:"),
    ("tcp6-listen", "tcp:[::1]:"),
    ("tcp-connect", "tcp:"),
    ("tcp4-connect", "tcp:"),
    ("tcp6-connect", "tcp:"),
    ("tcp", "tcp:"),
    ("tcp4", "tcp:"),
    ("tcp6", "tcp:"),
    ("udp-sendto", "udp:"),
    ("udp-recvfrom", "udp:"),
    ("udp-recv", "udp:"),
    ("udp-listen", "udp:"),
    ("udp-connect", "udp:"),
    ("udp", "udp:"),
    ("udp4", "udp:"),
];

/// An argument written in socat's address language: answered with the udskit spelling
/// (socat's `,options` left out) instead of being taken for a file of that name.
fn socat_spelling(s: &str) -> Option<ParseError> {
    let (keyword, rest) = s.split_once(':')?;
    let keyword = keyword.to_ascii_lowercase();
    let rest = rest.split(',').next().unwrap_or_default();
    if keyword.starts_with("openssl") || keyword == "ssl" {
        return Some(ParseError(format!(
            "'{s}' is socat's spelling: udskit writes tls:{rest} (relay and connect take it)"
        )));
    }
    let (_, prefix) = SOCAT.iter().find(|(k, _)| *k == keyword)?;
    let file = if s.contains('/') {
        String::new()
    } else {
        format!(" (for a file named so, write ./{s})")
    };
    Some(ParseError(format!(
        "'{s}' is socat's spelling: udskit writes {prefix}{rest}{file}"
    )))
}

fn path(p: &str, written: &str) -> Result<Addr, ParseError> {
    if p.is_empty() {
        return err(format!("'{written}' has an empty path"));
    }
    Ok(Addr::Path(PathBuf::from(p)))
}

/// The TCP address of `rest` (what follows `tcp:` or `tls:`); `written` is the whole
/// argument, for the error.
pub fn tcp_address(rest: &str, written: &str) -> Result<Addr, ParseError> {
    let (host, port) = host_port(rest, written, "tcp")?;
    Ok(Addr::Tcp { host, port })
}

/// `HOST:PORT`, `PORT` or `[IPV6]:PORT` after `tcp:` or `udp:` (`proto`).
fn host_port(rest: &str, written: &str, proto: &str) -> Result<(String, u16), ParseError> {
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let Some((host, port)) = v6.split_once("]:") else {
            return err(format!(
                "'{written}': an IPv6 address is written {proto}:[ADDR]:PORT"
            ));
        };
        (host, port)
    } else {
        match rest.rsplit_once(':') {
            Some((host, _)) if host.contains(':') => {
                return err(format!(
                    "'{written}': put an IPv6 address in brackets, {proto}:[ADDR]:PORT"
                ));
            }
            Some((host, port)) => (host, port),
            None => ("127.0.0.1", rest),
        }
    };
    if host.is_empty() {
        return err(format!(
            "'{written}' has an empty host ({proto}:PORT means 127.0.0.1)"
        ));
    }
    let port = port.parse::<u16>().map_err(|_| {
        ParseError(format!(
            "'{written}': '{port}' is not a port number (0-65535)"
        ))
    })?;
    Ok((host.to_string(), port))
}

impl FromStr for Addr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return err("empty address");
        }
        if let Some(rest) = s.strip_prefix("unix://") {
            // DOCKER_HOST form: unix:///var/run/docker.sock
            return path(rest, s);
        }
        if let Some(rest) = s.strip_prefix("unix:") {
            return match rest.strip_prefix('@') {
                Some(name) => abstract_name(name, s),
                None => path(rest, s),
            };
        }
        if let Some(name) = s.strip_prefix("abstract:") {
            return abstract_name(name, s);
        }
        if let Some(name) = s.strip_prefix('@') {
            return abstract_name(name, s);
        }
        if let Some(rest) = s.strip_prefix("tcp:") {
            let (host, port) = host_port(rest, s, "tcp")?;
            return Ok(Addr::Tcp { host, port });
        }
        if let Some(rest) = s.strip_prefix("udp:") {
            let (host, port) = host_port(rest, s, "udp")?;
            return Ok(Addr::Udp { host, port });
        }
        if s.starts_with("tls:") {
            return err(format!(
                "'{s}' is a TLS address: relay and connect take tls:HOST:PORT, this command does not"
            ));
        }
        if let Some(e) = socat_spelling(s) {
            return Err(e);
        }
        // Otherwise a bare argument is always a path, even `foo:80`.
        path(s, s)
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // `unix:@x` would read back as an abstract name
            Addr::Path(p) if p.as_os_str().as_encoded_bytes().first() == Some(&b'@') => {
                write!(f, "unix:./{}", p.display())
            }
            Addr::Path(p) => write!(f, "unix:{}", p.display()),
            Addr::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
            Addr::Tcp { host, port } if host.contains(':') => write!(f, "tcp:[{host}]:{port}"),
            Addr::Tcp { host, port } => write!(f, "tcp:{host}:{port}"),
            Addr::Udp { host, port } if host.contains(':') => write!(f, "udp:[{host}]:{port}"),
            Addr::Udp { host, port } => write!(f, "udp:{host}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Addr {
        s.parse().unwrap()
    }

    #[test]
    fn paths() {
        assert_eq!(p("/tmp/a.sock"), Addr::Path("/tmp/a.sock".into()));
        assert_eq!(p("rel.sock"), Addr::Path("rel.sock".into()));
        assert_eq!(p("foo:80"), Addr::Path("foo:80".into()));
        assert_eq!(p("unix:/tmp/a.sock"), Addr::Path("/tmp/a.sock".into()));
        assert_eq!(p("unix:rel"), Addr::Path("rel".into()));
        assert_eq!(
            p("unix:///var/run/docker.sock"),
            Addr::Path("/var/run/docker.sock".into())
        );
        assert_eq!(p("./@x"), Addr::Path("./@x".into()));
    }

    #[test]
    fn abstract_names() {
        assert_eq!(p("@name"), Addr::Abstract(b"name".to_vec()));
        assert_eq!(p("abstract:name"), Addr::Abstract(b"name".to_vec()));
        assert_eq!(p("unix:@name"), Addr::Abstract(b"name".to_vec()));
        assert_eq!(p("@a/b c"), Addr::Abstract(b"a/b c".to_vec()));
        let longest = "x".repeat(MAX_ABSTRACT);
        assert_eq!(
            p(&format!("@{longest}")),
            Addr::Abstract(longest.into_bytes())
        );
    }

    #[test]
    fn tcp_forms() {
        let t = |h: &str, port| Addr::Tcp {
            host: h.into(),
            port,
        };
        assert_eq!(p("tcp:8080"), t("127.0.0.1", 8080));
        assert_eq!(p("tcp:0"), t("127.0.0.1", 0));
        assert_eq!(p("tcp:localhost:80"), t("localhost", 80));
        assert_eq!(p("tcp:0.0.0.0:80"), t("0.0.0.0", 80));
        assert_eq!(p("tcp:[::1]:9"), t("::1", 9));
        let u = |h: &str, port| Addr::Udp {
            host: h.into(),
            port,
        };
        assert_eq!(p("udp:8125"), u("127.0.0.1", 8125));
        assert_eq!(p("udp:0.0.0.0:53"), u("0.0.0.0", 53));
        assert_eq!(p("udp:[::1]:9"), u("::1", 9));
        assert!(!p("udp:1").is_unix() && p("udp:1").is_udp());
    }

    #[test]
    fn socat_spellings_are_answered_with_ours() {
        for (socat, ours) in [
            ("UNIX-CONNECT:/tmp/a.sock", "unix:/tmp/a.sock"),
            ("UNIX-LISTEN:/tmp/a.sock,fork,mode=600", "unix:/tmp/a.sock"),
            ("UNIX:/tmp/a.sock", "unix:/tmp/a.sock"),
            ("ABSTRACT-CONNECT:name", "@name"),
            ("TCP:127.0.0.1:80", "tcp:127.0.0.1:80"),
            ("TCP4:localhost:80", "tcp:localhost:80"),
            ("TCP-LISTEN:9999,reuseaddr,fork", "tcp:9999"),
        ] {
            let e = socat.parse::<Addr>().unwrap_err().to_string();
            assert!(
                e.contains(&format!("udskit writes {ours}")),
                "{socat} -> {e}"
            );
        }
        let e = "UDP-RECVFROM:1234,fork"
            .parse::<Addr>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("udskit writes udp:1234"), "{e}");
        let e = "OPENSSL:h:443,verify=1"
            .parse::<Addr>()
            .unwrap_err()
            .to_string();
        assert!(e.contains("udskit writes tls:h:443"), "{e}");
        // A path that merely has a colon stays a path, and ./ makes anything one.
        assert_eq!(p("foo:80"), Addr::Path("foo:80".into()));
        assert_eq!(p("./TCP:1.2.3.4:80"), Addr::Path("./TCP:1.2.3.4:80".into()));
    }

    #[test]
    fn port_lookalikes_have_a_tcp_spelling() {
        for (bare, tcp) in [
            ("8080", "tcp:8080"),
            (":8080", "tcp:8080"),
            ("localhost:8080", "tcp:localhost:8080"),
            ("10.0.0.1:80", "tcp:10.0.0.1:80"),
            ("[::1]:8080", "tcp:[::1]:8080"),
        ] {
            assert_eq!(p(bare).tcp_lookalike().as_deref(), Some(tcp), "{bare}");
        }
        for path in ["./8080", "a.sock", "foo:bar", "/run/8080", "123456", "x:"] {
            assert_eq!(p(path).tcp_lookalike(), None, "{path}");
        }
    }

    #[test]
    fn errors_teach_the_grammar() {
        for bad in [
            "",
            "@",
            "unix:",
            "abstract:",
            "unix:@",
            "unix://",
            "tcp:",
            "tcp:x:",
            "tcp:70000",
            "tcp:h:port",
            "tcp:::1:80",
            "tcp:[::1]80",
            "tcp::80",
            "udp:",
            "udp:70000",
            "udp::1:80",
        ] {
            let e = bad.parse::<Addr>().unwrap_err().to_string();
            assert!(e.contains(FORMS), "{bad:?} -> {e}");
        }
        let long = format!("@{}", "y".repeat(MAX_ABSTRACT + 1));
        assert!(
            long.parse::<Addr>()
                .unwrap_err()
                .to_string()
                .contains("at most 107")
        );
        assert!(
            "tcp:99999"
                .parse::<Addr>()
                .unwrap_err()
                .to_string()
                .contains("not a port")
        );
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "/tmp/a.sock",
            "foo:80",
            "unix:///x",
            "@n",
            "abstract:n",
            "unix:@n",
            "tcp:1",
            "tcp:h:2",
            "tcp:[::1]:3",
            "udp:7",
            "udp:[::1]:8",
            "./@x",
            "rel",
        ] {
            let a = p(s);
            assert_eq!(p(&a.to_string()), a, "{s} displayed as {a}");
        }
        assert_eq!(p("/a").to_string(), "unix:/a");
        assert_eq!(p("tcp:5").to_string(), "tcp:127.0.0.1:5");
        assert_eq!(p("tcp:[::1]:3").to_string(), "tcp:[::1]:3");
        let at = Addr::Path("@rel".into());
        assert_eq!(p(&at.to_string()), Addr::Path("./@rel".into()));
        for s in ["/tmp/a.sock", "@n", "tcp:[::1]:3", "./@x"] {
            assert_eq!(p(s).to_bytes(), p(s).to_string().into_bytes());
        }
        use std::os::unix::ffi::OsStrExt;
        let raw = Addr::Path(std::ffi::OsStr::from_bytes(b"/t/\xff").into());
        assert_eq!(raw.to_bytes(), b"unix:/t/\xff");
        assert_eq!(Addr::Abstract(b"\xfe\n".to_vec()).to_bytes(), b"@\xfe\n");
    }
}
