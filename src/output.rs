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
#[allow(dead_code)] // stdout colour: used by `http`, `ls` and `recvfrom --json` (issues 3, 5, 6)
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
            let _ = writeln!(std::io::stderr().lock(), "udskit: {}", msg.as_ref());
        }
    }

    /// A line shown only with `-v`.
    pub fn debug(&self, msg: impl AsRef<str>) {
        if self.verbose > 0 && !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "udskit: {}", msg.as_ref());
        }
    }

    /// A warning: shown even with `-q`, since it reports something the user must know.
    pub fn warn(&self, msg: impl AsRef<str>) {
        let (y, r) = if self.color_stderr {
            ("\x1b[1;33m", "\x1b[0m")
        } else {
            ("", "")
        };
        let _ = writeln!(
            std::io::stderr().lock(),
            "udskit: {y}warning{r}: {}",
            msg.as_ref()
        );
    }
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

/// A JSON string literal (quotes included) for hand-written JSON lines: escapes quotes,
/// backslashes and control characters, so outside strings cannot break the line.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The current time in UTC as RFC 3339 with microseconds: `2026-11-21T08:52:34.123456Z`.
pub fn utc_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
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
        now.subsec_micros()
    )
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
    fn json_strings_and_time() {
        assert_eq!(json_str("a\"b\\c\nd\u{1b}é"), r#""a\"b\\c\nd\u001bé""#);
        let t = utc_now();
        assert_eq!(t.len(), "2026-11-21T08:52:34.123456Z".len(), "{t}");
        assert!(
            t.starts_with("20") && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{t}"
        );
    }
}
