//! curl's data options for `udskit http`: `-d/--data` (`@FILE` with CR and LF stripped),
//! `--data-binary` (byte-exact), `--data-raw` (no `@` meaning) and `--data-urlencode` (its
//! five forms), joined with `&` in the order given, into one body [`Spec`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::body::{Shape, Spec, Src, urlencode};
use crate::error::Fail;
use crate::term::escape;

/// Which of curl's data options an argument came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Data,
    Binary,
    Raw,
    UrlEncode,
}

/// One data argument and its place on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataArg {
    pub kind: Kind,
    pub text: String,
    /// The order of parsing: clap keeps one list per option, curl joins them all in the
    /// order they were written, and clap parses arguments in that order.
    seq: usize,
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

fn tagged(kind: Kind, s: &str) -> Result<DataArg, String> {
    Ok(DataArg {
        kind,
        text: s.to_string(),
        seq: SEQ.fetch_add(1, Ordering::Relaxed),
    })
}

/// clap value parsers, one per option.
pub fn data(s: &str) -> Result<DataArg, String> {
    tagged(Kind::Data, s)
}
pub fn binary(s: &str) -> Result<DataArg, String> {
    tagged(Kind::Binary, s)
}
pub fn raw(s: &str) -> Result<DataArg, String> {
    tagged(Kind::Raw, s)
}
pub fn url_encode(s: &str) -> Result<DataArg, String> {
    tagged(Kind::UrlEncode, s)
}

/// `@-` or `@FILE` as a source.
fn at(path: &str) -> Src {
    match path {
        "-" => Src::Stdin,
        p => Src::File(PathBuf::from(p)),
    }
}

/// All data arguments, in command-line order, as one body joined with `&`.
pub fn spec(lists: &[&[DataArg]]) -> Result<Spec, Fail> {
    let mut args: Vec<&DataArg> = lists.iter().flat_map(|l| l.iter()).collect();
    args.sort_by_key(|a| a.seq);
    let mut spec = Spec::default();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            spec.push_bytes("&");
        }
        let s = a.text.as_str();
        match a.kind {
            Kind::Data => match s.strip_prefix('@') {
                Some(p) => spec.push(at(p), Shape::StripNewlines),
                None => spec.push_bytes(s.to_string()),
            },
            Kind::Binary => match s.strip_prefix('@') {
                Some(p) => spec.push(at(p), Shape::Raw),
                None => spec.push_bytes(s.to_string()),
            },
            Kind::Raw => spec.push_bytes(s.to_string()),
            Kind::UrlEncode => {
                // curl looks for '=' first, then '@': `name=content`, `=content`,
                // `name@file`, `@file`; with neither, all of it is content.
                let (name, sep, rest) = match s.find('=').or_else(|| s.find('@')) {
                    Some(i) => (&s[..i], s.as_bytes()[i], &s[i + 1..]),
                    None => ("", b'=', s),
                };
                if !name.is_empty() {
                    spec.push_bytes(format!("{name}="));
                }
                if sep == b'@' {
                    if rest.is_empty() {
                        return Err(Fail::usage(format!(
                            "--data-urlencode '{}': no file name after '@'",
                            escape(s)
                        )));
                    }
                    spec.push(at(rest), Shape::UrlEncode);
                } else {
                    spec.push_bytes(urlencode(rest.as_bytes()));
                }
            }
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn inline(spec: &Spec) -> Vec<u8> {
        spec.parts
            .iter()
            .flat_map(|(s, _)| match s {
                Src::Bytes(b) => b.to_vec(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn joined_in_command_line_order() {
        let a = data("a=1").unwrap();
        let b = url_encode("n=e f").unwrap();
        let c = raw("@x").unwrap();
        let d = url_encode("=c d&").unwrap();
        let e = url_encode("plain text").unwrap();
        let s = spec(&[&[a], &[b, d, e], &[c]]).unwrap();
        assert_eq!(inline(&s), b"a=1&n=e+f&@x&c+d%26&plain+text");
    }

    #[test]
    fn files_keep_their_shape() {
        let s = spec(&[&[data("@f").unwrap(), binary("@-").unwrap()]]).unwrap();
        assert_eq!(
            s.parts,
            vec![
                (Src::File("f".into()), Shape::StripNewlines),
                (Src::Bytes(Bytes::from_static(b"&")), Shape::Raw),
                (Src::Stdin, Shape::Raw),
            ]
        );
        let s = spec(&[&[url_encode("m@f").unwrap()]]).unwrap();
        assert_eq!(
            s.parts,
            vec![
                (Src::Bytes(Bytes::from_static(b"m=")), Shape::Raw),
                (Src::File("f".into()), Shape::UrlEncode),
            ]
        );
        assert!(spec(&[&[url_encode("m@").unwrap()]]).is_err());
    }
}
