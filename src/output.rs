//! What reaches the user's terminal: the colour decision (made once, in [`Ctx::new`], and
//! passed explicitly to whatever draws), diagnostics on stderr honouring `-q`/`-v`, and the
//! escaping of outside strings (paths, peer commands, server text) before they are printed.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

/// Settings every subcommand receives: decided once from the global flags and environment.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Colour on stdout (data: JSON, tables).
    pub color_stdout: bool,
    /// Colour on stderr (diagnostics, errors).
    pub color_stderr: bool,
    pub stdout_is_tty: bool,
    pub quiet: bool,
    pub verbose: u8,
}

impl Ctx {
    pub fn new(when: ColorWhen, quiet: bool, verbose: u8) -> Ctx {
        let stdout_is_tty = std::io::stdout().is_terminal();
        let env_allows = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::env::var_os("TERM").is_none_or(|t| t != "dumb");
        let decide = |tty: bool| match when {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => tty && env_allows,
        };
        Ctx {
            color_stdout: decide(stdout_is_tty),
            color_stderr: decide(std::io::stderr().is_terminal()),
            stdout_is_tty,
            quiet,
            verbose,
        }
    }

    /// A diagnostic line on stderr (`udskit: ...`), silenced by `-q`.
    pub fn info(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            stderr_line(format!("udskit: {}\n", msg.as_ref()));
        }
    }

    /// A line shown only with `-v`.
    pub fn debug(&self, msg: impl AsRef<str>) {
        if self.verbose > 0 && !self.quiet {
            stderr_line(format!("udskit: {}\n", msg.as_ref()));
        }
    }

    /// A warning: shown even with `-q`, since it reports something the user must know.
    pub fn warn(&self, msg: impl AsRef<str>) {
        let (y, r) = if self.color_stderr {
            ("\x1b[1;33m", "\x1b[0m")
        } else {
            ("", "")
        };
        stderr_line(format!("udskit: {y}warning{r}: {}\n", msg.as_ref()));
    }
}

/// Writes one diagnostic line with a single write(2): unbuffered stderr would otherwise
/// write each formatted piece separately, and the output of other processes sharing the
/// terminal (a client's data, another server's log) could land in the middle of the line.
pub fn stderr_line(text: impl AsRef<[u8]>) {
    let _ = std::io::stderr().lock().write_all(text.as_ref());
}

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

/// Standard base64 with padding (RFC 4648), for binary data inside JSON.
pub fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for group in data.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= group.len() {
                out.push(ABC[(n >> shift) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `2026-11-21T08:52:33.123456Z`: RFC 3339 in UTC with microseconds.
pub fn utc_timestamp(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// Writes one JSON object with its keys in the given order (serde_json escapes the values),
/// coloured like jq when `color`: keys blue, strings green, null grey.
pub fn json_object(out: &mut Vec<u8>, fields: &[(&str, serde_json::Value)], color: bool) {
    let paint = |out: &mut Vec<u8>, code: &str, text: &str| {
        if color {
            out.extend_from_slice(format!("\x1b[{code}m{text}\x1b[0m").as_bytes());
        } else {
            out.extend_from_slice(text.as_bytes());
        }
    };
    out.push(b'{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        paint(out, "34;1", &serde_json::Value::from(*key).to_string());
        out.push(b':');
        let text = value.to_string();
        match value {
            serde_json::Value::String(_) => paint(out, "32", &text),
            serde_json::Value::Null => paint(out, "90", &text),
            _ => out.extend_from_slice(text.as_bytes()),
        }
    }
    out.push(b'}');
}

/// One `hexdump -C` row: offset, 16 bytes in hex (a gap after 8), the printable text.
/// `00000010  50 51                                             |PQ|`
pub fn hexdump_row(out: &mut String, offset: usize, row: &[u8]) {
    use std::fmt::Write;
    let _ = write!(out, "{offset:08x} ");
    for col in 0..16 {
        if col == 8 {
            out.push(' ');
        }
        match row.get(col) {
            Some(b) => {
                let _ = write!(out, " {b:02x}");
            }
            None => out.push_str("   "),
        }
    }
    out.push_str("  |");
    out.extend(row.iter().map(|&b| {
        if b.is_ascii_graphic() || b == b' ' {
            b as char
        } else {
            '.'
        }
    }));
    out.push_str("|\n");
}

/// How a table cell stands out when colour is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Good,
    Warn,
    Bad,
}

/// A table of text cells: drawn with comfy-table on a terminal (coloured per [`Ctx`]), or as
/// plain columns aligned with spaces when piped, for awk: every column but the last is free
/// of whitespace (spaces inside a cell become `\x20`), and the last one is the rest of the line.
#[derive(Debug, Clone)]
pub struct Table<'a> {
    pub header: Vec<&'static str>,
    /// Cells borrow from the data they show where they can: a listing of 10,000 rows
    /// would otherwise copy every string once more.
    pub rows: Vec<Vec<(Cow<'a, str>, Tone)>>,
    /// Columns aligned to the right (numbers).
    pub right: Vec<usize>,
}

impl<'a> Table<'a> {
    pub fn new(header: Vec<&'static str>) -> Table<'a> {
        Table {
            header,
            rows: Vec::new(),
            right: Vec::new(),
        }
    }

    /// Renders for stdout as `ctx` decided: a drawn table on a terminal, plain when piped.
    pub fn render(&self, ctx: &Ctx) -> String {
        if ctx.stdout_is_tty {
            self.drawn(ctx.color_stdout)
        } else {
            self.plain()
        }
    }

    pub fn drawn(&self, color: bool) -> String {
        use comfy_table::{Attribute, Cell, CellAlignment, Color, ContentArrangement};
        let mut t = comfy_table::Table::new();
        // The decision is ours (Ctx), not the library's own terminal detection.
        t.force_no_tty();
        if color {
            t.enforce_styling();
        }
        t.load_style(comfy_table::presets::UTF8_HORIZONTAL_ONLY)
            .set_content_arrangement(ContentArrangement::Disabled);
        t.set_header(self.header.iter().map(|h| {
            let c = Cell::new(h);
            if color {
                c.add_attribute(Attribute::Bold)
            } else {
                c
            }
        }));
        for row in &self.rows {
            t.add_row(row.iter().enumerate().map(|(i, (text, tone))| {
                let mut c = Cell::new(text.as_ref());
                if self.right.contains(&i) {
                    c = c.set_alignment(CellAlignment::Right);
                }
                match (color, tone) {
                    (true, Tone::Good) => c.fg(Color::Green),
                    (true, Tone::Warn) => c.fg(Color::Yellow),
                    (true, Tone::Bad) => c.fg(Color::Red).add_attribute(Attribute::Bold),
                    _ => c,
                }
            }));
        }
        let mut out = t.to_string();
        out.push('\n');
        out
    }

    pub fn plain(&self) -> String {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = crate::columns::plain_columns(
            &self.header,
            &self.right,
            self.rows.len(),
            |r, c| Cow::Borrowed(self.rows[r][c].0.as_ref()),
            &mut out,
        );
        String::from_utf8(out).unwrap_or_default()
    }
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

    #[test]
    fn json_objects_keep_key_order_and_colour_only_when_asked() {
        let fields = [
            ("b", serde_json::Value::from("x\"y")),
            ("a", serde_json::Value::Null),
            ("n", serde_json::Value::from(3)),
        ];
        let mut plain = Vec::new();
        json_object(&mut plain, &fields, false);
        assert_eq!(plain, br#"{"b":"x\"y","a":null,"n":3}"#);
        let mut painted = Vec::new();
        json_object(&mut painted, &fields, true);
        assert_eq!(
            String::from_utf8(painted).unwrap(),
            "{\x1b[34;1m\"b\"\x1b[0m:\x1b[32m\"x\\\"y\"\x1b[0m,\x1b[34;1m\"a\"\x1b[0m:\x1b[90mnull\x1b[0m,\x1b[34;1m\"n\"\x1b[0m:3}"
        );
    }

    #[test]
    fn base64_and_timestamps() {
        for (raw, b64) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
        ] {
            assert_eq!(base64(raw.as_bytes()), b64);
        }
        assert_eq!(base64(&[0xff, 0xfe, 0x00]), "//4A");
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_795_683_153_123_456);
        assert_eq!(utc_timestamp(t), "2026-11-26T08:52:33.123456Z");
        assert_eq!(
            utc_timestamp(std::time::UNIX_EPOCH),
            "1970-01-01T00:00:00.000000Z"
        );
        let leap = std::time::UNIX_EPOCH + std::time::Duration::from_secs(951_782_400);
        assert_eq!(utc_timestamp(leap), "2000-02-29T00:00:00.000000Z");
    }

    #[test]
    fn plain_tables_split_on_whitespace() {
        let mut t = Table::new(vec!["N", "CMD", "PATH"]);
        t.right = vec![0];
        t.rows.push(vec![
            ("7".into(), Tone::Plain),
            ("tmux: server".into(), Tone::Good),
            ("/tmp/a b".into(), Tone::Plain),
        ]);
        t.rows.push(vec![
            ("10".into(), Tone::Plain),
            ("x".into(), Tone::Plain),
            ("/c".into(), Tone::Plain),
        ]);
        assert_eq!(
            t.plain(),
            " N  CMD              PATH\n 7  tmux:\\x20server  /tmp/a b\n10  x                /c\n"
        );
        let drawn = t.drawn(true);
        assert!(
            drawn.contains("\x1b[") && drawn.contains("tmux: server"),
            "{drawn}"
        );
        assert!(!t.drawn(false).contains('\x1b'));
    }
}
