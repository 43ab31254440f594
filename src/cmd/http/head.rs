//! The response head of `udskit http` as the user sees it: the status line and headers,
//! on stdout with `-i` (byte-exact when piped, as curl -i) or on stderr with `-v` (the
//! request's too), and a status put in words for messages.

use anstyle::AnsiColor;
use bytes::{Bytes, BytesMut};
use hyper::header::HeaderMap;
use hyper::http::response::Parts;
use hyper::{StatusCode, Version};

use super::render::View;
use crate::term::{Ctx, escape, paint, stderr_line};

pub fn version_name(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

/// `HTTP/1.1 200 OK`, with the reason phrase the server sent (docker's `101 UPGRADED`).
pub fn status_line(parts: &Parts) -> String {
    let reason = match parts.extensions.get::<hyper::ext::ReasonPhrase>() {
        Some(r) => String::from_utf8_lossy(r.as_bytes()).into_owned(),
        None => parts.status.canonical_reason().unwrap_or("").to_string(),
    };
    format!(
        "{} {} {reason}",
        version_name(parts.version),
        parts.status.as_str()
    )
    .trim_end()
    .to_string()
}

/// A status with its reason for messages: `404 Not Found`.
pub fn status_text(status: StatusCode) -> String {
    format!(
        "{} {}",
        status.as_str(),
        status.canonical_reason().unwrap_or("")
    )
    .trim_end()
    .to_string()
}

/// The head as `-i` puts it before the body: byte-exact with CRLF when raw (as curl -i),
/// escaped, LF-terminated and optionally coloured for people.
pub fn head_bytes(parts: &Parts, view: &View) -> Bytes {
    let mut b = BytesMut::new();
    if !view.pretty {
        b.extend_from_slice(status_line(parts).as_bytes());
        b.extend_from_slice(b"\r\n");
        for (name, value) in &parts.headers {
            b.extend_from_slice(name.as_str().as_bytes());
            b.extend_from_slice(b": ");
            b.extend_from_slice(value.as_bytes());
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"\r\n");
        return b.freeze();
    }
    let status_colour = match parts.status.as_u16() {
        100..=299 => AnsiColor::Green,
        300..=399 => AnsiColor::Yellow,
        _ => AnsiColor::Red,
    };
    let status = paint(status_colour.on_default().bold(), view.color);
    let name = paint(AnsiColor::Cyan.on_default(), view.color);
    let mut s = format!("{status}{}{status:#}\n", escape(&status_line(parts)));
    for (n, value) in &parts.headers {
        s.push_str(&format!(
            "{name}{}{name:#}: {}\n",
            n.as_str(),
            escape(&String::from_utf8_lossy(value.as_bytes()))
        ));
    }
    s.push('\n');
    Bytes::from(s)
}

/// `Content-Type` for `content-type`: how HTTP/1.1 request headers go out (hyper's
/// title_case_headers), so `-v` shows what is on the wire.
pub fn title_case(name: &str) -> String {
    let mut up = true;
    name.chars()
        .map(|c| {
            let out = if up { c.to_ascii_uppercase() } else { c };
            up = c == '-';
            out
        })
        .collect()
}

/// `-v`: the head on stderr, each line after `prefix` (`> ` request, `< ` response); names
/// title-cased when `title` (an HTTP/1.1 request).
pub fn verbose_head(ctx: &Ctx, prefix: &str, first: &str, headers: &HeaderMap, title: bool) {
    if ctx.verbose == 0 || ctx.quiet {
        return;
    }
    let mut s = format!("{prefix}{}\n", escape(first));
    for (name, value) in headers {
        let name = if title {
            title_case(name.as_str())
        } else {
            name.as_str().to_string()
        };
        s.push_str(&format!(
            "{prefix}{name}: {}\n",
            escape(&String::from_utf8_lossy(value.as_bytes()))
        ));
    }
    s.push_str(prefix.trim_end());
    s.push('\n');
    stderr_line(s);
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_header_names_are_title_cased() {
        assert_eq!(super::title_case("content-type"), "Content-Type");
        assert_eq!(super::title_case("x-api-key"), "X-Api-Key");
    }
}
