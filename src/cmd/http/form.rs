//! `-F/--form`: a multipart/form-data body as curl writes it (`name=value`, `name=@FILE`
//! as a file part, `name=<FILE` as a text field read from a file, `;type=` and
//! `;filename=`), laid out as a body [`Spec`] whose files stream from disk.
//! Written here rather than taken from a crate: multer parses on the server side only and
//! reqwest's writer belongs to its own client, while curl's exact layout, its type table and
//! a Content-Length from the files' sizes fall out of laying the parts as body parts.

use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

use super::body::{Shape, Spec, Src};
use crate::error::Fail;
use crate::term::escape;

/// One `-F` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub content: Content,
    /// `;type=`, or for a file part the type curl guesses from its extension.
    pub content_type: Option<String>,
    /// The filename of a file part (`;filename=` or the path's last component).
    pub filename: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text(String),
    /// `name=<FILE`: a text field whose content is the file.
    TextFrom(Src),
    /// `name=@FILE`: a file part.
    File(Src),
}

fn bad(arg: &str, why: &str) -> Fail {
    Fail::usage(format!("-F '{}': {why}", escape(arg)))
        .hint("write -F name=value, -F name=@FILE (a file), -F 'name=<FILE' (its text); ';type=T' and ';filename=N' after a file")
}

/// The text of a word in double quotes up to its closing quote (`\"` and `\\` inside
/// stand for `"` and `\`), and what follows it.
fn quoted_word<'a>(arg: &str, q: &'a str) -> Result<(String, &'a str), Fail> {
    let mut word = String::new();
    let mut chars = q.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((word, &q[i + 1..])),
            '\\' => match chars.next() {
                Some((_, e @ ('"' | '\\'))) => word.push(e),
                Some((_, other)) => {
                    word.push('\\');
                    word.push(other);
                }
                None => word.push('\\'),
            },
            c => word.push(c),
        }
    }
    Err(bad(arg, "a quote is not closed"))
}

/// `;key=value` pairs after a value.
type Params<'a> = Vec<(&'a str, String)>;

/// A value that may be written in double quotes (`@"a;b.txt"`), then `;key=value` pairs.
fn split_params<'a>(arg: &str, s: &'a str) -> Result<(String, Params<'a>), Fail> {
    let (first, mut rest) = if let Some(q) = s.strip_prefix('"') {
        quoted_word(arg, q)?
    } else {
        match s.find(';') {
            Some(i) => (s[..i].to_string(), &s[i..]),
            None => (s.to_string(), ""),
        }
    };
    let mut params = Vec::new();
    while let Some(r) = rest.strip_prefix(';') {
        let (key, after) = r
            .split_once('=')
            .ok_or_else(|| bad(arg, "';' is not followed by type= or filename="))?;
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            quoted_word(arg, q)?
        } else {
            match after.find(';') {
                Some(i) => (after[..i].to_string(), &after[i..]),
                None => (after.to_string(), ""),
            }
        };
        params.push((key, value));
        rest = next;
    }
    if !rest.is_empty() {
        return Err(bad(arg, "unexpected text after a quoted value"));
    }
    Ok((first, params))
}

pub fn parse(arg: &str) -> Result<Field, Fail> {
    let (name, value) = arg
        .split_once('=')
        .ok_or_else(|| bad(arg, "no '=' after the name"))?;
    let (kind, value) = match value.as_bytes().first() {
        Some(b'@') => (Some('@'), &value[1..]),
        Some(b'<') => (Some('<'), &value[1..]),
        _ => (None, value),
    };
    // As curl reads it: a value in double quotes may hold ';' (a '\"' inside is a quote),
    // otherwise ';' starts type= or filename=.
    let (path, params) = split_params(arg, value)?;
    if kind.is_some() && path.is_empty() {
        return Err(bad(arg, "no file name"));
    }
    let mut content_type = None;
    let mut filename = None;
    for (k, v) in params {
        match k {
            "type" => content_type = Some(v),
            "filename" => filename = Some(v),
            other => {
                return Err(bad(
                    arg,
                    &format!("'{}' is not type or filename", escape(other)),
                ));
            }
        }
    }
    let Some(kind) = kind else {
        if filename.is_some() {
            return Err(bad(arg, "filename= is for a file part (name=@FILE)"));
        }
        return Ok(Field {
            name: name.to_string(),
            content: Content::Text(path),
            content_type,
            filename: None,
        });
    };
    let src = match path.as_str() {
        "-" => Src::Stdin,
        p => Src::File(PathBuf::from(p)),
    };
    if kind == '<' {
        return Ok(Field {
            name: name.to_string(),
            content: Content::TextFrom(src),
            content_type,
            filename,
        });
    }
    // curl names a part from stdin "-" and gives it no type; a file's type is guessed from
    // its extension.
    let guessed = match &src {
        Src::File(p) => Some(guess_type(p).to_string()),
        _ => None,
    };
    let filename = filename.or_else(|| {
        Some(match &src {
            Src::File(p) => p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.clone()),
            _ => "-".to_string(),
        })
    });
    Ok(Field {
        name: name.to_string(),
        content: Content::File(src),
        content_type: content_type.or(guessed),
        filename,
    })
}

/// curl's table (lib/mime.c), matched on the extension without regard to case.
fn guess_type(p: &Path) -> &'static str {
    let ext = p
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "gif" => "image/gif",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "txt" => "text/plain",
        "htm" | "html" => "text/html",
        "pdf" => "application/pdf",
        "xml" => "application/xml",
        _ => "application/octet-stream",
    }
}

/// A name or filename in a Content-Disposition: `"`, CR and LF percent-encoded, as curl
/// (and HTML5) writes them.
fn quoted(s: &str) -> String {
    s.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// curl's boundary: 24 dashes and 16 hex digits (64 random bits from std's hasher seed).
pub fn boundary() -> String {
    let r = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("{}{r:016x}", "-".repeat(24))
}

/// The body of `fields` with `boundary`.
pub fn spec(fields: &[Field], boundary: &str) -> Result<Spec, Fail> {
    let mut spec = Spec::default();
    for f in fields {
        let mut head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"",
            quoted(&f.name)
        );
        if let Some(n) = &f.filename {
            head += &format!("; filename=\"{}\"", quoted(n));
        }
        head += "\r\n";
        if let Some(t) = &f.content_type {
            if t.contains(['\r', '\n']) {
                return Err(Fail::usage(format!(
                    "-F {}: the type holds a line break",
                    escape(&f.name)
                )));
            }
            head += &format!("Content-Type: {t}\r\n");
        }
        head += "\r\n";
        spec.push_bytes(head);
        match &f.content {
            Content::Text(t) => spec.push_bytes(t.clone()),
            Content::TextFrom(src) | Content::File(src) => spec.push(src.clone(), Shape::Raw),
        }
        spec.push_bytes("\r\n");
    }
    spec.push_bytes(format!("--{boundary}--\r\n"));
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curls_forms() {
        assert!(parse("a=b;c").is_err());
        let f = parse(r#"a="b;c\"d""#).unwrap();
        assert_eq!(f.content, Content::Text(r#"b;c"d"#.into()));
        let f = parse("a=b;type=text/x").unwrap();
        assert_eq!(
            (f.content, f.content_type),
            (Content::Text("b".into()), Some("text/x".into()))
        );
        let f = parse("f=@dir/pic.PNG").unwrap();
        assert_eq!(f.content, Content::File(Src::File("dir/pic.PNG".into())));
        assert_eq!(f.filename.as_deref(), Some("pic.PNG"));
        assert_eq!(f.content_type.as_deref(), Some("image/png"));
        let f = parse(r#"f=@"a;b.txt";filename="x y";type=t/u"#).unwrap();
        assert_eq!(f.content, Content::File(Src::File("a;b.txt".into())));
        assert_eq!(f.filename.as_deref(), Some("x y"));
        assert_eq!(f.content_type.as_deref(), Some("t/u"));
        let f = parse("s=@-").unwrap();
        assert_eq!((f.filename.as_deref(), f.content_type), (Some("-"), None));
        let f = parse("t=<notes").unwrap();
        assert_eq!(f.content, Content::TextFrom(Src::File("notes".into())));
        assert_eq!((f.filename, f.content_type), (None, None));
        for bad in ["novalue", "f=@", "f=@x;size=3", r#"f=@"open"#] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(boundary().len(), 40);
        assert_eq!(quoted("a\"b\nc"), "a%22b%0Ac");
    }
}
