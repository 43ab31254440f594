//! Finding the top-level JSON values in a body that arrives in pieces, in one linear pass:
//! a single document is complete at its last byte, while NDJSON, docker's `/events` and
//! pull progress (concatenated values under `application/json`) yield each value as soon as
//! its closing byte arrives, so they can be shown formatted while the stream goes on.
//! Hand-written: serde_json's StreamDeserializer wants each value whole, so a value that
//! arrives in many pieces would be parsed again from its start with every piece.

use std::ops::Range;

/// The input is not a sequence of JSON values.
#[derive(Debug, PartialEq, Eq)]
pub struct NotJson;

#[derive(Default)]
pub struct Splitter {
    /// Bytes not yet handed out: the value in progress, and after `scan`, unscanned input.
    buf: Vec<u8>,
    scan: usize,
    /// Where the value in progress starts in `buf`.
    start: Option<usize>,
    depth: u32,
    in_str: bool,
    escaped: bool,
    /// Inside a top-level number, `true`, `false` or `null` (ends at whitespace or a delimiter).
    bare: bool,
}

fn is_space(b: u8) -> bool {
    // 0x1e (RS) prefixes each value of a JSON text sequence (RFC 7464).
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x1e)
}

impl Splitter {
    /// Adds a piece of the body and calls `value` with each value it completes.
    pub fn push(&mut self, data: &[u8], mut value: impl FnMut(&[u8])) -> Result<(), NotJson> {
        self.buf.extend_from_slice(data);
        let mut done = Vec::new();
        let result = self.scan_values(&mut done);
        // Values completed before a byte that is not JSON are still handed out.
        self.hand_out(done, &mut value);
        result
    }

    /// The end of the body: a pending number or literal is complete now. An unfinished value
    /// is an error; its bytes stay available through [`Splitter::take_rest`].
    pub fn finish(&mut self, mut value: impl FnMut(&[u8])) -> Result<(), NotJson> {
        if self.bare
            && let Some(s) = self.start
        {
            let end = self.buf.len();
            self.bare = false;
            self.start = None;
            self.hand_out(std::iter::once(s..end).collect(), &mut value);
        }
        if self.start.is_some() {
            Err(NotJson)
        } else {
            Ok(())
        }
    }

    /// Bytes of the value in progress (what a caller bounds to keep memory flat).
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start.unwrap_or(self.buf.len())
    }

    /// Everything received and not yet handed out as a value, leaving the splitter empty.
    pub fn take_rest(&mut self) -> Vec<u8> {
        let from = self.start.unwrap_or(self.scan).min(self.buf.len());
        let rest = self.buf.split_off(from);
        *self = Splitter::default();
        rest
    }

    fn hand_out(&mut self, done: Vec<Range<usize>>, value: &mut impl FnMut(&[u8])) {
        for r in &done {
            value(&self.buf[r.clone()]);
        }
        // Drop what was handed out (and the whitespace around it).
        let keep_from = self.start.unwrap_or(self.scan);
        self.buf.drain(..keep_from);
        self.scan -= keep_from;
        if let Some(s) = &mut self.start {
            *s = 0;
        }
    }

    fn scan_values(&mut self, done: &mut Vec<Range<usize>>) -> Result<(), NotJson> {
        let mut i = self.scan;
        while i < self.buf.len() {
            let b = self.buf[i];
            if self.in_str {
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_str = false;
                    if self.depth == 0 {
                        done.push(self.start.take().unwrap_or(i)..i + 1);
                    }
                }
                i += 1;
                continue;
            }
            if self.bare {
                if is_space(b) || matches!(b, b'{' | b'[' | b'"' | b'}' | b']' | b',') {
                    self.bare = false;
                    done.push(self.start.take().unwrap_or(i)..i);
                    // The delimiter itself is looked at again below.
                } else {
                    i += 1;
                    continue;
                }
            }
            match b {
                b if is_space(b) => {}
                b'"' => {
                    self.start.get_or_insert(i);
                    self.in_str = true;
                }
                b'{' | b'[' => {
                    self.start.get_or_insert(i);
                    self.depth += 1;
                }
                b'}' | b']' => {
                    if self.depth == 0 {
                        self.scan = i;
                        return Err(NotJson);
                    }
                    self.depth -= 1;
                    if self.depth == 0 {
                        done.push(self.start.take().unwrap_or(i)..i + 1);
                    }
                }
                _ if self.depth > 0 => {}
                b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                    self.start = Some(i);
                    self.bare = true;
                }
                _ => {
                    self.scan = i;
                    return Err(NotJson);
                }
            }
            i += 1;
        }
        self.scan = i;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(pieces: &[&str]) -> (Vec<String>, Result<(), NotJson>) {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        for p in pieces {
            if let Err(e) = s.push(p.as_bytes(), |v| {
                out.push(String::from_utf8(v.to_vec()).unwrap())
            }) {
                return (out, Err(e));
            }
        }
        let r = s.finish(|v| out.push(String::from_utf8(v.to_vec()).unwrap()));
        (out, r)
    }

    #[test]
    fn one_document_in_pieces() {
        let (v, r) = split(&[r#"{"a": [1, "x}"#, r#"\"]"], "b"#, r#"": {}}"#]);
        assert_eq!(v, vec![r#"{"a": [1, "x}\"]"], "b": {}}"#]);
        assert_eq!(r, Ok(()));
    }

    #[test]
    fn streams_yield_each_value_when_it_closes() {
        let mut s = Splitter::default();
        let mut out = Vec::new();
        s.push(b"{\"seq\":1}\n{\"se", |v| out.push(v.to_vec()))
            .unwrap();
        assert_eq!(out, vec![b"{\"seq\":1}".to_vec()]);
        assert_eq!(s.pending(), 4);
        s.push(b"q\":2}{\"seq\":3}", |v| out.push(v.to_vec()))
            .unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(s.finish(|_| ()), Ok(()));
    }

    #[test]
    fn scalars_and_sequences() {
        assert_eq!(
            split(&["1", "2 true\n\"s\" null"]).0,
            vec!["12", "true", "\"s\"", "null"]
        );
        assert_eq!(split(&["\x1e{}\n\x1e[]\n"]).0, vec!["{}", "[]"]);
        assert_eq!(split(&["-1.5e3"]).0, vec!["-1.5e3"]);
    }

    #[test]
    fn not_json() {
        assert_eq!(split(&["<html>"]).1, Err(NotJson));
        assert_eq!(split(&["{} x"]).1, Err(NotJson));
        assert_eq!(split(&["]"]).1, Err(NotJson));
        let (v, r) = split(&["{\"a\":1}{\"b\""]);
        assert_eq!((v.len(), r), (1, Err(NotJson)));
        let mut s = Splitter::default();
        s.push(b"{\"a\":1} {\"b\"", |_| ()).unwrap();
        assert_eq!(s.take_rest(), b"{\"b\"");
        let mut got = Vec::new();
        s.push(b"[1] oops", |v| got.push(v.to_vec())).unwrap_err();
        assert_eq!(got, vec![b"[1]".to_vec()]);
        assert_eq!(s.take_rest(), b"oops");
    }
}
