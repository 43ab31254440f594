//! The request side of `udskit http`: the TARGET grammar (a path or a full `http://` URL,
//! percent-encoded where a URI needs it, so docker filters can be typed as plain JSON; a
//! `user:password@` in it as curl takes it) and the curl-style `-H` forms.

use hyper::header::{HeaderName, HeaderValue};

use crate::error::Fail;
use crate::term::escape;

/// Where the request goes: the Host header (or `:authority`) and the origin-form target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub authority: String,
    pub path: String,
}

/// The Host a bare `/path` gets: there is no host on a socket, servers just want one.
pub const DEFAULT_HOST: &str = "localhost";

/// The TARGET and the `user:password` written in its URL, if any.
pub fn parse_target(s: &str) -> Result<(Target, Option<String>), Fail> {
    if joins_a_socket(s) {
        return Err(unix_url(s));
    }
    // A fragment names a place in the answer, for the client alone: curl does not send it.
    let s = s.split_once('#').map_or(s, |(before, _)| before);
    let lower = s.to_ascii_lowercase();
    let mut userinfo = None;
    let (authority, path) = if lower.starts_with("http://") {
        let rest = &s["http://".len()..];
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (mut auth, path) = rest.split_at(end);
        if let Some((user, host)) = auth.rsplit_once('@') {
            let decoded = percent_encoding::percent_decode_str(user).decode_utf8_lossy();
            if !decoded.contains(':') {
                return Err(Fail::usage(format!(
                    "'{}': a user in the URL needs its password, user:password@host",
                    escape(s)
                ))
                .hint("udskit never prompts for a password: write -u USER:PASSWORD"));
            }
            userinfo = Some(decoded.into_owned());
            auth = host;
        }
        let auth = if auth.is_empty() { DEFAULT_HOST } else { auth };
        if auth.parse::<hyper::http::uri::Authority>().is_err() {
            return Err(Fail::usage(format!(
                "'{}': '{}' is not a host name",
                escape(s),
                escape(auth)
            )));
        }
        let path = match path.chars().next() {
            None => "/".to_string(),
            Some('?') => format!("/{path}"),
            Some(_) => path.to_string(),
        };
        (auth.to_string(), path)
    } else if lower.starts_with("https://") {
        return Err(Fail::usage(format!(
            "'{}': https is not spoken here: udskit http sends plain HTTP over the socket",
            escape(s)
        ))
        .hint("write the target as /path or http://host/path"));
    } else if s.starts_with('/') || s == "*" {
        (DEFAULT_HOST.to_string(), s.to_string())
    } else if s.starts_with('?') {
        (DEFAULT_HOST.to_string(), format!("/{s}"))
    } else {
        return Err(Fail::usage(format!(
            "'{}' is not a target: write /path?query or http://host/path",
            escape(s)
        ))
        .hint(format!("did you mean /{}?", escape(s))));
    };
    let path = encode(&path);
    if path.parse::<hyper::Uri>().is_err() {
        return Err(Fail::usage(format!(
            "'{}' is not a valid target",
            escape(s)
        )));
    }
    Ok((Target { authority, path }, userinfo))
}

/// The path of a `/path?query` target with its `.` and `..` segments resolved as RFC 3986
/// (5.2.4) resolves them, as curl does unless `--path-as-is`: `/a/./b/../c` is `/a/c`, and
/// no `..` climbs above `/`. The query is kept as it is.
pub fn without_dot_segments(target: &str) -> String {
    let (path, query) = match target.find('?') {
        Some(i) => target.split_at(i),
        None => (target, ""),
    };
    if !path.split('/').any(|seg| seg == "." || seg == "..") {
        return target.to_string();
    }
    let mut input = path;
    let mut out = String::with_capacity(path.len());
    let drop_last = |out: &mut String| out.truncate(out.rfind('/').unwrap_or(0));
    while !input.is_empty() {
        if let Some(rest) = input
            .strip_prefix("../")
            .or_else(|| input.strip_prefix("./"))
        {
            input = rest;
        } else if input.starts_with("/./") || input == "/." {
            input = &input[2..];
            if input.is_empty() {
                input = "/";
            }
        } else if input.starts_with("/../") || input == "/.." {
            input = &input[3..];
            if input.is_empty() {
                input = "/";
            }
            drop_last(&mut out);
        } else if input == "." || input == ".." {
            input = "";
        } else {
            let end = input[1..].find('/').map_or(input.len(), |i| i + 1);
            out.push_str(&input[..end]);
            input = &input[end..];
        }
    }
    format!("{out}{query}")
}

/// Whether `s` is `unix:///var/run/docker.sock:/info` or `http://unix:/var/run/docker.sock:/info`
/// (a user before the host too): the socket and the path in one string split at a colon,
/// which a socket path may hold too.
pub fn joins_a_socket(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    lower.starts_with("unix:")
        || lower.strip_prefix("http://").is_some_and(|rest| {
            let auth = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
            auth.rsplit('@').next().unwrap_or(auth).starts_with("unix:")
        })
}

/// The usage error of a TARGET that [`joins_a_socket`].
pub fn unix_url(s: &str) -> Fail {
    Fail::usage(format!(
        "'{}': a socket and a path joined by ':' cannot be told apart (a path may hold ':')",
        escape(s)
    ))
    .hint("give the socket and the path apart: udskit http /var/run/docker.sock /info, or http+unix://%2Fvar%2Frun%2Fdocker.sock/info")
}

/// Percent-encodes what a URI cannot hold as is (spaces, quotes, braces, brackets, non-ASCII,
/// `#`, a `%` not followed by two hex digits) and leaves everything else, including valid
/// `%XX` escapes, untouched: `/containers/json?filters={"status":["running"]}` just works.
fn encode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in b.iter().enumerate() {
        let keep = match c {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' => true,
            b'-' | b'.' | b'_' | b'~' | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' => true,
            b'+' | b',' | b';' | b'=' | b':' | b'@' | b'/' | b'?' => true,
            b'%' => b.len() > i + 2 && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit(),
            _ => false,
        };
        if keep {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// One `-H` argument, in curl's forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderArg {
    /// `Name: value`
    Set(HeaderName, HeaderValue),
    /// `Name:` removes a header udskit would send by default.
    Remove(HeaderName),
}

pub fn parse_header(s: &str) -> Result<HeaderArg, Fail> {
    let bad = |why: &str| {
        Fail::usage(format!("-H '{}': {why}", escape(s))).hint(
            "write -H 'Name: value'; 'Name:' removes a default header, 'Name;' sends it empty",
        )
    };
    let (name, value, empty) = match (s.find(':'), s.find(';')) {
        (Some(c), semi) if semi.is_none_or(|p| p > c) => (&s[..c], s[c + 1..].trim(), false),
        (_, Some(p)) if s[p + 1..].trim().is_empty() => (&s[..p], "", true),
        _ => return Err(bad("no ':' between the name and the value")),
    };
    let name = HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| bad("not a valid header name"))?;
    if value.is_empty() && !empty {
        return Ok(HeaderArg::Remove(name));
    }
    let value =
        HeaderValue::from_str(value).map_err(|_| bad("the value holds control characters"))?;
    Ok(HeaderArg::Set(name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3986's examples (5.4) of the paths, and what curl sends for them.
    #[test]
    fn dot_segments_are_resolved_as_curl_resolves_them() {
        for (given, sent) in [
            ("/a/b/c/./../../g", "/a/g"),
            ("/mid/content=5/../6", "/mid/6"),
            ("/a/./b/../c", "/a/c"),
            ("/../../x", "/x"),
            ("/a/..", "/"),
            ("/a/.", "/a/"),
            ("/.", "/"),
            ("/a/b/../", "/a/"),
            ("/a/../b?path=/x/../y", "/b?path=/x/../y"),
            ("/a/.hidden/..b/c", "/a/.hidden/..b/c"),
            ("/containers/json", "/containers/json"),
            ("/", "/"),
        ] {
            assert_eq!(without_dot_segments(given), sent, "{given}");
        }
    }

    fn t(s: &str) -> (String, String) {
        let t = parse_target(s).unwrap().0;
        (t.authority, t.path)
    }

    #[test]
    fn targets() {
        assert_eq!(t("/version"), ("localhost".into(), "/version".into()));
        assert_eq!(t("?a=1"), ("localhost".into(), "/?a=1".into()));
        assert_eq!(
            t("http://docker/v1.41/info"),
            ("docker".into(), "/v1.41/info".into())
        );
        assert_eq!(t("http://h:8080"), ("h:8080".into(), "/".into()));
        assert_eq!(t("HTTP://h?x"), ("h".into(), "/?x".into()));
        assert_eq!(t("http:///x"), ("localhost".into(), "/x".into()));
        assert_eq!(
            t(r#"/containers/json?filters={"status":["running"]}"#).1,
            "/containers/json?filters=%7B%22status%22:%5B%22running%22%5D%7D"
        );
        assert_eq!(t("/a b/%41%zz%23f").1, "/a%20b/%41%25zz%23f");
        // The fragment stays with the client, as curl keeps it.
        assert_eq!(t("/a/b?q=1#frag").1, "/a/b?q=1");
        assert_eq!(t("http://h/x#y"), ("h".into(), "/x".into()));
        assert_eq!(t("http://h#y"), ("h".into(), "/".into()));
        assert_eq!(t("/é").1, "/%C3%A9");
        assert_eq!(
            parse_target("http://u%40x:p:w@h/").unwrap().1.as_deref(),
            Some("u@x:p:w")
        );
        for bad in [
            "version",
            "https://x/",
            "http://u@h/",
            "http://a b/",
            "unix:///var/run/docker.sock:/info",
            "http://unix:/var/run/docker.sock:/info",
        ] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn headers() {
        let set = |n: &str, v: &str| {
            HeaderArg::Set(
                HeaderName::from_bytes(n.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            )
        };
        assert_eq!(parse_header("X-A: 1").unwrap(), (set("x-a", "1")));
        assert_eq!(parse_header("X-A:b: c").unwrap(), (set("x-a", "b: c")));
        assert_eq!(parse_header("X-A: a;b").unwrap(), (set("x-a", "a;b")));
        assert_eq!(
            parse_header("Accept:").unwrap(),
            (HeaderArg::Remove("accept".parse().unwrap()))
        );
        assert_eq!(parse_header("X-E;").unwrap(), (set("x-e", "")));
        assert!(parse_header("nocolon").is_err());
        assert!(parse_header("bad name: v").is_err());
    }
}
