//! What reaches the user's terminal: the colour decision (made once, in [`Ctx::new`], and
//! passed explicitly to whatever draws) and diagnostics on stderr honouring `-q`/`-v`.
//! Beside it: escaping outside strings, tables and plain columns, hexdump rows, JSON.

pub mod columns;
pub mod escape;
pub mod hexdump;
pub mod json;
pub mod table;

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};

pub use escape::{escape, escape_bytes};

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

    /// A diagnostic line on stderr (`udskit: ...`), silenced by `-q`. Every diagnostic is
    /// one line, escaped as a whole ([`escape`]): whatever outside string it carries (a
    /// peer's command, a path, a server's text) cannot end it and forge another.
    pub fn info(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            stderr_line(format!("udskit: {}\n", escape(msg.as_ref())));
        }
    }

    /// A line shown only with `-v`.
    pub fn debug(&self, msg: impl AsRef<str>) {
        if self.verbose > 0 && !self.quiet {
            stderr_line(format!("udskit: {}\n", escape(msg.as_ref())));
        }
    }

    /// A warning: shown even with `-q`, since it reports something the user must know.
    pub fn warn(&self, msg: impl AsRef<str>) {
        let y = paint(WARNING, self.color_stderr);
        stderr_line(format!(
            "udskit: {y}warning{y:#}: {}\n",
            escape(msg.as_ref())
        ));
    }
}

/// The labels of diagnostics on stderr: `error`, and `warning` and `hint`.
pub const ERROR: Style = AnsiColor::Red.on_default().bold();
pub const WARNING: Style = AnsiColor::Yellow.on_default().bold();

/// `style` when colour is on, else the empty style, which renders as nothing: the one place
/// that turns [`Ctx`]'s decision into escape sequences (`{style}text{style:#}`).
pub fn paint(style: Style, color: bool) -> Style {
    if color { style } else { Style::new() }
}

/// Writes one diagnostic line with a single write(2): unbuffered stderr would otherwise
/// write each formatted piece separately, and the output of other processes sharing the
/// terminal (a client's data, another server's log) could land in the middle of the line.
pub fn stderr_line(text: impl AsRef<[u8]>) {
    let _ = std::io::stderr().lock().write_all(text.as_ref());
}
