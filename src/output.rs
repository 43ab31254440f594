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
#[allow(dead_code)] // used by `recvfrom` and `relay --dump` (issues 3, 4)
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
