//! Escaping outside strings (paths, peer commands, server text) before they reach a
//! terminal or a log line, so that none can move the cursor, change colours or forge lines.

use std::borrow::Cow;

/// Escapes control characters (and nothing else) so that an outside string cannot move
/// the cursor, change colours or forge lines on the user's terminal.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_terminal_controls() {
        assert_eq!(escape("plain /tmp/a.sock"), "plain /tmp/a.sock");
        assert_eq!(escape("a\x1b[31mb\rc\nd"), "a\\u{1b}[31mb\\rc\nd");
        assert_eq!(escape_bytes(b"ok \xff\n\x1b\\"), "ok \\xff\\n\\u{1b}\\\\");
        assert_eq!(escape_bytes("é".as_bytes()), "é");
    }
}
