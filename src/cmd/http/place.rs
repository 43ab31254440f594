//! Where a request of `udskit http` goes: the positional grammar `[SOCKET] [METHOD] TARGET`
//! and the other ways to name the socket (`--unix-socket`, `--abstract-unix-socket`, an
//! `http+unix://` TARGET, `DOCKER_HOST`), told apart by one fixed rule:
//!
//! - With the socket named by an option or by an `http+unix://` TARGET, the positionals
//!   are `[METHOD] TARGET`.
//! - Otherwise three positionals are `SOCKET METHOD TARGET`, one is `TARGET`, and of two
//!   the first is a METHOD only when it is a method name in upper case (`GET`, `POST`, ...);
//!   then the socket comes from `DOCKER_HOST`. A method name in lower case is refused
//!   rather than guessed (`./get` is a socket file named so).
//! - A SOCKET argument always wins over `DOCKER_HOST`.

use std::os::unix::ffi::OsStringExt;
use std::path::Path;

use crate::error::Fail;
use crate::net::addr::Addr;
use crate::term::escape;

/// The methods told apart from a SOCKET by name.
pub const KNOWN: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE",
];

/// Every way to give the socket, for the error when there is none.
const WAYS: &str = "give the socket as the first argument (udskit http /var/run/docker.sock /version), \
     with --unix-socket PATH or --abstract-unix-socket NAME, in an http+unix://%2Fpath%2Fto.sock/path TARGET, \
     or set DOCKER_HOST (unix:///PATH or tcp://HOST:PORT)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub socket: Addr,
    pub method: Option<String>,
    /// The TARGET as `parse_target` takes it (an `http+unix://` one made `/path`).
    pub target: String,
}

/// The socket options and environment `resolve` looks at.
pub struct Sources<'a> {
    pub unix_socket: Option<&'a Path>,
    pub abstract_socket: Option<&'a str>,
    /// The value of DOCKER_HOST, if set.
    pub docker_host: Option<String>,
}

/// A SOCKET argument or DOCKER_HOST: the address grammar, plus docker's `tcp://HOST:PORT`.
pub fn parse_socket(s: &str) -> Result<Addr, String> {
    if let Some(rest) = s.strip_prefix("tcp://") {
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        return format!("tcp:{rest}")
            .parse::<Addr>()
            .map_err(|e| e.to_string());
    }
    for scheme in ["ssh://", "fd://", "npipe://", "http://", "https://"] {
        if s.starts_with(scheme) {
            return Err(format!(
                "'{}': a {scheme} socket is not spoken here: udskit reaches unix:///PATH and tcp://HOST:PORT",
                escape(s)
            ));
        }
    }
    s.parse::<Addr>().map_err(|e| e.to_string())
}

/// An `http+unix://ENCODED-SOCKET/path` TARGET (requests-unixsocket, httpie-unix-socket):
/// the socket and the `/path?query`.
fn http_unix(target: &str) -> Option<Result<(Addr, String), Fail>> {
    let rest = target
        .get(..12)
        .filter(|p| p.eq_ignore_ascii_case("http+unix://"))
        .map(|_| &target[12..])?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (host, path) = rest.split_at(end);
    let decoded = percent_encoding::percent_decode_str(host).collect::<Vec<u8>>();
    if decoded.is_empty() {
        return Some(Err(Fail::usage(format!(
            "'{}': no socket after http+unix://",
            escape(target)
        ))
        .hint(
            "the socket path is percent-encoded: http+unix://%2Fvar%2Frun%2Fdocker.sock/info",
        )));
    }
    let socket = match decoded.strip_prefix(b"@") {
        Some(name) => Addr::Abstract(name.to_vec()),
        None => Addr::Path(std::ffi::OsString::from_vec(decoded).into()),
    };
    let path = match path.chars().next() {
        None => "/".to_string(),
        Some('?') => format!("/{path}"),
        Some(_) => path.to_string(),
    };
    Some(Ok((socket, path)))
}

fn twice(first: &str, second: &str) -> Fail {
    Fail::usage(format!(
        "the socket is given twice: {first} and {}",
        escape(second)
    ))
    .hint("give it once: as the first argument, with --unix-socket, or in an http+unix:// TARGET")
}

pub fn resolve(positionals: &[String], src: Sources) -> Result<Place, Fail> {
    let flag = match (src.unix_socket, src.abstract_socket) {
        (Some(p), _) if p.as_os_str().is_empty() => {
            return Err(Fail::usage("--unix-socket is given an empty path"));
        }
        (Some(p), _) => Some((
            Addr::Path(p.to_path_buf()),
            format!("--unix-socket {}", escape(&p.display().to_string())),
        )),
        (None, Some(n)) => Some((
            // Through the grammar for its checks (empty, longer than the kernel allows).
            format!("@{n}")
                .parse::<Addr>()
                .map_err(|e| Fail::usage(format!("--abstract-unix-socket: {e}")))?,
            format!("--abstract-unix-socket {}", escape(n)),
        )),
        (None, None) => None,
    };
    let last = positionals.last().expect("clap requires a TARGET");
    let from_url = http_unix(last).transpose()?;
    let elsewhere = match (flag, from_url) {
        (Some((_, f)), Some(_)) => return Err(twice(&f, last)),
        (Some((a, f)), None) => Some((a, f, None)),
        (None, Some((a, path))) => Some((a, escape(last).into_owned(), Some(path))),
        (None, None) => None,
    };
    let (socket_arg, method, target) = match (positionals, &elsewhere) {
        ([s, m, t], None) => (Some(s), Some(m), t),
        ([s, _, _], Some((_, f, _))) => return Err(twice(f, s)),
        ([m, t], Some((_, f, _))) => {
            if m.contains("://") {
                return Err(Fail::usage(format!(
                    "two URLs, '{}' and '{}': udskit http sends one request",
                    escape(m),
                    escape(t)
                ))
                .hint("run it once for each URL"));
            }
            if hyper::Method::from_bytes(m.as_bytes()).is_err() {
                return Err(twice(f, m));
            }
            (None, Some(m), t)
        }
        ([a, t], None) if KNOWN.contains(&a.as_str()) => (None, Some(a), t),
        ([a, _], None) if KNOWN.iter().any(|k| k.eq_ignore_ascii_case(a)) => {
            let upper = a.to_ascii_uppercase();
            return Err(Fail::usage(format!(
                "'{}': a METHOD is written in upper case, and a socket file of that name as ./{}",
                escape(a),
                escape(a)
            ))
            .hint(format!(
                "udskit http SOCKET {upper} TARGET, or udskit http ./{} TARGET",
                escape(a)
            )));
        }
        ([s, t], None) => (Some(s), None, t),
        ([t], _) => (None, None, t),
        _ => unreachable!("clap takes one to three"),
    };
    let (socket, target) = match (socket_arg, elsewhere) {
        (Some(s), _) if s.is_empty() => {
            return Err(Fail::usage("the SOCKET argument is empty").hint(
                "was it \"$DOCKER_HOST\" with DOCKER_HOST unset? set DOCKER_HOST=unix:///PATH, or give the socket's path",
            ));
        }
        (Some(s), _) => (
            parse_socket(s).map_err(|e| Fail::usage(format!("SOCKET {e}")))?,
            target.clone(),
        ),
        (None, Some((a, _, path))) => (a, path.unwrap_or_else(|| target.clone())),
        (None, None) => match src.docker_host.filter(|d| !d.is_empty()) {
            Some(d) => (
                parse_socket(&d).map_err(|e| Fail::usage(format!("DOCKER_HOST {e}")))?,
                target.clone(),
            ),
            // The socket is there, in a form that cannot be read: say why, not "no socket".
            None if super::request::joins_a_socket(target) => {
                return Err(super::request::unix_url(target));
            }
            None => {
                let why = match method {
                    Some(m) => format!(
                        "no socket: {} is read as the METHOD, and neither a SOCKET, --unix-socket nor DOCKER_HOST is given",
                        escape(m)
                    ),
                    None => "no socket to send the request to".to_string(),
                };
                let is_socket = std::fs::metadata(target)
                    .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()));
                let hint = match method {
                    Some(m) => format!(
                        "{WAYS}\nfor a socket file named {}, write ./{}",
                        escape(m),
                        escape(m)
                    ),
                    // `udskit http /run/app.sock`: the path was read as the TARGET.
                    None if is_socket => format!(
                        "{} is a socket, read here as the TARGET: write udskit http {} /path",
                        escape(target),
                        escape(target)
                    ),
                    None => WAYS.to_string(),
                };
                return Err(Fail::usage(why).hint(hint));
            }
        },
    };
    Ok(Place {
        socket,
        method: method.cloned(),
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(args: &[&str], docker: Option<&str>) -> Result<Place, Fail> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        resolve(
            &v,
            Sources {
                unix_socket: None,
                abstract_socket: None,
                docker_host: docker.map(str::to_string),
            },
        )
    }

    fn flag(args: &[&str]) -> Result<Place, Fail> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        resolve(
            &v,
            Sources {
                unix_socket: Some(Path::new("/s")),
                abstract_socket: None,
                docker_host: Some("unix:///d".into()),
            },
        )
    }

    fn place(socket: &str, method: Option<&str>, target: &str) -> Place {
        Place {
            socket: socket.parse().unwrap(),
            method: method.map(str::to_string),
            target: target.into(),
        }
    }

    #[test]
    fn the_rule() {
        let d = Some("unix:///d.sock");
        assert_eq!(r(&["/s", "/v"], d).unwrap(), place("/s", None, "/v"));
        assert_eq!(
            r(&["/s", "POST", "/v"], d).unwrap(),
            place("/s", Some("POST"), "/v")
        );
        assert_eq!(
            r(&["POST", "/v"], d).unwrap(),
            place("/d.sock", Some("POST"), "/v")
        );
        assert_eq!(r(&["/v"], d).unwrap(), place("/d.sock", None, "/v"));
        assert_eq!(
            r(&["/v"], Some("tcp://127.0.0.1:2375")).unwrap().socket,
            "tcp:127.0.0.1:2375".parse().unwrap()
        );
        assert!(r(&["/v"], None).unwrap_err().message.contains("no socket"));
        assert!(r(&["/v"], Some("")).is_err());
        let e = r(&["GET", "/v"], None).unwrap_err();
        assert!(e.hint.unwrap().contains("./GET"));
        assert!(
            r(&["get", "/v"], d)
                .unwrap_err()
                .message
                .contains("upper case")
        );
        assert!(
            r(&["", "/v"], d)
                .unwrap_err()
                .hint
                .unwrap()
                .contains("DOCKER_HOST")
        );
        assert_eq!(flag(&["/v"]).unwrap(), place("/s", None, "/v"));
        assert_eq!(
            flag(&["purge", "/v"]).unwrap(),
            place("/s", Some("purge"), "/v")
        );
        assert!(
            flag(&["/t.sock", "/v"])
                .unwrap_err()
                .message
                .contains("twice")
        );
        assert!(flag(&["/t", "GET", "/v"]).is_err());
        assert!(
            flag(&["http://h/a", "http://h/b"])
                .unwrap_err()
                .message
                .contains("two URLs")
        );
        assert_eq!(
            r(&["http+unix://%2Fvar%2Frun%2Fdocker.sock/info?a=1"], None).unwrap(),
            place("/var/run/docker.sock", None, "/info?a=1")
        );
        assert_eq!(
            r(&["DELETE", "HTTP+UNIX://%40app"], None).unwrap(),
            place("@app", Some("DELETE"), "/")
        );
        assert!(r(&["/s", "http+unix://%2Fx/"], None).is_err());
        assert!(flag(&["http+unix://%2Fx/"]).is_err());
    }
}
