//! Escaping outside strings (paths, peer commands, server text) before they reach a
//! terminal or a log line, so that none can move the cursor, change colours or forge lines.

use std::borrow::Cow;

/// Whether `c` must not reach a log line as it is: a control character (newline and tab
/// included: a peer that names itself `x\nudskit: ...` would otherwise write a line of its
/// own into our log) or a Unicode line or paragraph separator, which some log viewers break
/// lines at.
fn breaks_a_line(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Escapes every control character (`\n`, `\t`, `\u{1b}`) and line separator, and
/// nothing else, so that an outside string stays on its line and cannot move the cursor or
/// change colours. The one function for every diagnostic and log line ([`crate::term::Ctx`]
/// applies it to each whole line). Backslashes are kept as they are, which makes it
/// idempotent: a part escaped where it was written passes unchanged through the escaping
/// of its whole line. (A body shown on a terminal keeps its newlines: see http's renderer.)
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(breaks_a_line) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if breaks_a_line(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Escapes arbitrary bytes for one line of text: printable ASCII and valid UTF-8 as is,
/// everything else (including newlines) as `\n`, `\xNN`, `\u{..}`.
pub fn escape_bytes(bytes: &[u8]) -> String {
    // The common case, printable ASCII without a backslash, is copied as it is.
    if bytes
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\')
    {
        // ASCII is UTF-8: no lossy decoding (its chunk iterator was 1% of `udskit ls`).
        return std::str::from_utf8(bytes).unwrap_or_default().to_owned();
    }
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() || c == '\\' {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// The control character that starts `b[i..]`, as `(its length in bytes, its code)`: a C0
/// control or DEL (with `c0`: tab, newline and carriage return are left), or a C1 control
/// U+0080..U+009F in UTF-8 (C2 80..9F), which xterm and VTE act on as ESC sequences (U+009B
/// is CSI).
fn control_at(b: &[u8], i: usize, c0: bool) -> Option<(usize, u8)> {
    match b[i] {
        c if c0 && ((c < 0x20 && !matches!(c, b'\t' | b'\n' | b'\r')) || c == 0x7f) => Some((1, c)),
        0xc2 => b
            .get(i + 1)
            .filter(|c| (0x80..=0x9f).contains(*c))
            .map(|&c| (2, c)),
        _ => None,
    }
}

/// `b` with each control [`control_at`] finds written by `write`; borrowed when it has none.
fn rewritten(b: &[u8], c0: bool, write: impl Fn(u8) -> String) -> Cow<'_, [u8]> {
    if !(0..b.len()).any(|i| control_at(b, i, c0).is_some()) {
        return Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len() + 16);
    let mut i = 0;
    while i < b.len() {
        match control_at(b, i, c0) {
            Some((len, code)) => {
                out.extend_from_slice(write(code).as_bytes());
                i += len;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// JSON text with its C1 controls written as `\u00XX` escapes, for a terminal: JSON
/// escapes C0 itself, and leaves U+0080..U+009F as they are.
pub fn escape_c1_in_json(b: &[u8]) -> Cow<'_, [u8]> {
    rewritten(b, false, |c| format!("\\u{c:04x}"))
}

/// Control characters (but tab, newline, carriage return) made visible as `\u{..}`, so
/// that bytes for a terminal (a body, a message, an answer) cannot drive it: C0, DEL and
/// C1 alike. Other bytes, valid UTF-8 or not, pass as they are.
pub fn escape_for_terminal(b: &[u8]) -> Cow<'_, [u8]> {
    rewritten(b, true, |c| format!("\\u{{{c:x}}}"))
}

/// [`escape_for_terminal`] over a stream that arrives in pieces: a C1 control cut between
/// two pieces (C2 ending one, 80..9F starting the next) is escaped as one, the C2 kept
/// back until the next piece or the end.
#[derive(Default)]
pub struct TerminalEscaper {
    held: bool,
}

impl TerminalEscaper {
    /// `piece` escaped; borrowed (a prefix of it) when nothing had to change.
    pub fn push<'a>(&mut self, piece: &'a [u8]) -> Cow<'a, [u8]> {
        let held = std::mem::replace(&mut self.held, piece.last() == Some(&0xc2));
        let body = if self.held {
            &piece[..piece.len() - 1]
        } else {
            piece
        };
        if !held {
            return escape_for_terminal(body);
        }
        let mut joined = Vec::with_capacity(body.len() + 1);
        joined.push(0xc2);
        joined.extend_from_slice(body);
        Cow::Owned(escape_for_terminal(&joined).into_owned())
    }

    /// The end of the stream: the byte kept back, if any (no control after all).
    pub fn finish(&mut self) -> &'static [u8] {
        if std::mem::take(&mut self.held) {
            b"\xc2"
        } else {
            b""
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A C1 control cut between pieces is escaped as a whole one is; a C2 that ends the
    /// stream, or that no control follows, passes as it is.
    #[test]
    fn a_c1_control_cut_between_pieces_is_escaped() {
        let whole = |pieces: &[&[u8]]| {
            let mut e = TerminalEscaper::default();
            let mut out = Vec::new();
            for p in pieces {
                out.extend_from_slice(&e.push(p));
            }
            out.extend_from_slice(e.finish());
            out
        };
        assert_eq!(whole(&[b"a\xc2", b"\x9b2Jb"]), b"a\\u{9b}2Jb");
        assert_eq!(whole(&[b"a\xc2", b"\xc2", b"\x85"]), b"a\xc2\\u{85}");
        assert_eq!(whole(&[b"caf\xc3", b"\xa9 \xc2"]), b"caf\xc3\xa9 \xc2");
        assert_eq!(whole(&[b"\xc2", b"\xa9"]), "©".as_bytes());
        assert!(matches!(
            TerminalEscaper::default().push(b"plain"),
            Cow::Borrowed(b"plain")
        ));
    }

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(escape("plain /tmp/a.sock"), "plain /tmp/a.sock");
        assert_eq!(escape("a\x1b[31mb\rc\nd\te"), "a\\u{1b}[31mb\\rc\\nd\\te");
        assert_eq!(
            escape("pid 7 (\nudskit: forged)"),
            "pid 7 (\\nudskit: forged)"
        );
        assert_eq!(escape("a\u{2028}b\u{85}"), "a\\u{2028}b\\u{85}");
        // Idempotent: an escaped part inside an escaped line is not escaped twice.
        let once = escape("x\ny\\z").into_owned();
        assert_eq!(escape(&once), once);
        assert_eq!(escape_bytes(b"ok \xff\n\x1b\\"), "ok \\xff\\n\\u{1b}\\\\");
        assert_eq!(escape_bytes("é".as_bytes()), "é");
        assert_eq!(
            &*escape_for_terminal("a\x1b[2Jb\r\n\t \u{9b}31m é\u{85}".as_bytes()),
            "a\\u{1b}[2Jb\r\n\t \\u{9b}31m é\\u{85}".as_bytes()
        );
        assert_eq!(&*escape_for_terminal(b"\xff\xc2"), b"\xff\xc2");
        assert_eq!(
            &*escape_c1_in_json("{\"a\":\"\u{9b}2J\x1b\"}".as_bytes()),
            "{\"a\":\"\\u009b2J\x1b\"}".as_bytes()
        );
    }
}
