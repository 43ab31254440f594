//! `-w/--write-out FORMAT`: curl's report after the transfer, also after a failure. The
//! format is parsed as curl 7.88 parses it: `%{name}` variables, `%header{name}`, `%%`, and
//! the escapes `\n`, `\r`, `\t` (any other backslash and `%` stay as they are);
//! `%{stderr}` and `%{stdout}` switch where the following text goes.

use std::time::Duration;

use hyper::StatusCode;
use hyper::header::{CONTENT_TYPE, HeaderMap};

use crate::error::Fail;
use crate::term::escape;

/// One piece of a parsed format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(Vec<u8>),
    Var(String),
    Header(String),
}

/// Where a piece of the report goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    Stdout,
    Stderr,
}

#[derive(Debug)]
pub struct Format {
    pieces: Vec<Piece>,
}

/// What the report can tell about the transfer.
#[derive(Debug, Default)]
pub struct Facts {
    pub status: Option<StatusCode>,
    pub headers: Option<HeaderMap>,
    pub time_total: Duration,
    /// Body bytes as they came over the wire (before --compressed decoding, as curl counts).
    pub size_download: u64,
    pub size_header: u64,
    pub num_redirects: u64,
    pub exitcode: i32,
    pub errormsg: String,
    pub method: String,
    /// TARGET as given, and the whole URL it stands for.
    pub url: String,
    pub url_effective: String,
}

/// The variables udskit knows, for the help text and for the unknown-variable warning.
const KNOWN: [&str; 16] = [
    "content_type",
    "errormsg",
    "exitcode",
    "header_json",
    "http_code",
    "method",
    "num_headers",
    "num_redirects",
    "response_code",
    "size_download",
    "size_header",
    "stderr",
    "stdout",
    "time_total",
    "url",
    "url_effective",
];

impl Format {
    /// FORMAT, `@FILE` or `@-` (stdin, unless the request body or an upgrade takes it).
    pub fn load(arg: &str, stdin_taken: bool) -> Result<Format, Fail> {
        let text = match arg.strip_prefix('@') {
            None => arg.as_bytes().to_vec(),
            Some("-") if stdin_taken => {
                return Err(Fail::usage(
                    "-w @- cannot read stdin: the request body (@-) or --upgrade takes it",
                ));
            }
            Some("-") => {
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)
                    .map_err(|e| Fail::usage(format!("reading -w @- (stdin): {e}")))?;
                v
            }
            Some(path) => std::fs::read(path).map_err(|e| {
                Fail::usage(format!("reading -w @{}: {e}", escape(path)))
                    .hint("-w @FILE reads the format from FILE; -w 'TEXT' is the format itself")
            })?,
        };
        Ok(Format::parse(&text))
    }

    fn parse(mut s: &[u8]) -> Format {
        let mut pieces = Vec::new();
        let mut text = Vec::new();
        let braced = |rest: &[u8]| {
            rest.iter()
                .position(|&b| b == b'}')
                .map(|end| (String::from_utf8_lossy(&rest[..end]).into_owned(), end + 1))
        };
        while let Some((&c, rest)) = s.split_first() {
            match c {
                b'%' if rest.starts_with(b"%") => {
                    text.push(b'%');
                    s = &rest[1..];
                }
                b'%' if rest.starts_with(b"{") => match braced(&rest[1..]) {
                    Some((name, used)) => {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                        pieces.push(Piece::Var(name));
                        s = &rest[1 + used..];
                    }
                    None => {
                        text.extend_from_slice(b"%{");
                        s = &rest[1..];
                    }
                },
                b'%' if rest.starts_with(b"header{") => match braced(&rest[7..]) {
                    Some((name, used)) => {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                        pieces.push(Piece::Header(name));
                        s = &rest[7 + used..];
                    }
                    None => {
                        text.extend_from_slice(b"%header{");
                        s = &rest[7..];
                    }
                },
                b'\\' if !rest.is_empty() => {
                    match rest[0] {
                        b'n' => text.push(b'\n'),
                        b'r' => text.push(b'\r'),
                        b't' => text.push(b'\t'),
                        other => text.extend_from_slice(&[b'\\', other]),
                    }
                    s = &rest[1..];
                }
                _ => {
                    text.push(c);
                    s = rest;
                }
            }
        }
        pieces.push(Piece::Text(text));
        pieces.retain(|p| p != &Piece::Text(Vec::new()));
        Format { pieces }
    }

    /// The report: pieces of text with where each goes, and the names of unknown variables
    /// (curl warns about each and goes on).
    pub fn render(&self, f: &Facts) -> (Vec<(Dest, Vec<u8>)>, Vec<String>) {
        let mut out: Vec<(Dest, Vec<u8>)> = Vec::new();
        let mut unknown = Vec::new();
        let mut dest = Dest::Stdout;
        let mut put = |dest: Dest, b: &[u8]| match out.last_mut() {
            Some((d, v)) if *d == dest => v.extend_from_slice(b),
            _ => out.push((dest, b.to_vec())),
        };
        for p in &self.pieces {
            match p {
                Piece::Text(t) => put(dest, t),
                Piece::Header(name) => {
                    if let Some(v) = f.headers.as_ref().and_then(|h| h.get(name.as_str())) {
                        put(dest, v.as_bytes());
                    }
                }
                Piece::Var(name) => match name.as_str() {
                    "stdout" => dest = Dest::Stdout,
                    "stderr" => dest = Dest::Stderr,
                    v => match value(v, f) {
                        Some(text) => put(dest, text.as_bytes()),
                        None => unknown.push(name.clone()),
                    },
                },
            }
        }
        (out, unknown)
    }
}

/// A variable's text, formatted as curl formats it; None for an unknown name.
fn value(name: &str, f: &Facts) -> Option<String> {
    let headers = f.headers.as_ref();
    Some(match name {
        "http_code" | "response_code" => format!("{:03}", f.status.map_or(0, |s| s.as_u16())),
        "time_total" => {
            let t = f.time_total;
            format!("{}.{:06}", t.as_secs(), t.subsec_micros())
        }
        "size_download" => f.size_download.to_string(),
        "size_header" => f.size_header.to_string(),
        "content_type" => headers
            .and_then(|h| h.get(CONTENT_TYPE))
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default(),
        "exitcode" => f.exitcode.to_string(),
        "num_redirects" => f.num_redirects.to_string(),
        "errormsg" => f.errormsg.clone(),
        "method" => f.method.clone(),
        "url" => f.url.clone(),
        "url_effective" => f.url_effective.clone(),
        "num_headers" => headers.map_or(0, HeaderMap::len).to_string(),
        "header_json" => header_json(headers),
        _ => return None,
    })
}

/// curl's `%{header_json}`: names lower-cased, in the order they first came, each with the
/// array of its values, one name a line.
fn header_json(headers: Option<&HeaderMap>) -> String {
    let Some(h) = headers else {
        return "{}".to_string();
    };
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string());
    let fields: Vec<String> = h
        .keys()
        .map(|name| {
            let values: Vec<String> = h
                .get_all(name)
                .iter()
                .map(|v| quote(&String::from_utf8_lossy(v.as_bytes())))
                .collect();
            format!("{}:[{}]", quote(name.as_str()), values.join(","))
        })
        .collect();
    format!("{{{}\n}}", fields.join(",\n"))
}

/// The variables' names, for the help text.
pub fn known() -> String {
    KNOWN.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(fmt: &str, f: &Facts) -> (String, Vec<String>) {
        let (parts, unknown) = Format::parse(fmt.as_bytes()).render(f);
        let text = parts
            .iter()
            .map(|(d, b)| {
                let b = String::from_utf8_lossy(b);
                match d {
                    Dest::Stdout => b.into_owned(),
                    Dest::Stderr => format!("<err>{b}</err>"),
                }
            })
            .collect();
        (text, unknown)
    }

    #[test]
    fn formats_as_curl_does() {
        let mut h = HeaderMap::new();
        h.append("content-type", "text/plain".parse().unwrap());
        h.append("x-multi", "a".parse().unwrap());
        h.append("x-multi", "b".parse().unwrap());
        let f = Facts {
            status: Some(StatusCode::OK),
            headers: Some(h),
            time_total: Duration::from_micros(1_002_003),
            size_download: 5,
            method: "GET".into(),
            ..Facts::default()
        };
        assert_eq!(
            report("%{http_code} %{time_total} %{size_download}\\n", &f).0,
            "200 1.002003 5\n"
        );
        assert_eq!(
            report("%header{X-Multi}|%header{nope}|%%|\\t|\\\\|\\q|%x %", &f).0,
            "a||%|\t|\\\\|\\q|%x %"
        );
        assert_eq!(
            report("%{header_json}", &f).0,
            "{\"content-type\":[\"text/plain\"],\n\"x-multi\":[\"a\",\"b\"]\n}"
        );
        assert_eq!(report("a%{stderr}b%{stdout}c", &f).0, "a<err>b</err>c");
        let (text, unknown) = report("%{foo}-%{]\\n%{method}-%{", &f);
        assert_eq!(text, "--%{");
        assert_eq!(unknown, ["foo", "]\\n%{method"]);
        let none = Facts::default();
        assert_eq!(report("%{http_code}%{num_headers}", &none).0, "0000");
    }
}
