//! Errors and exit codes in one place (README, "Exit codes"). Everything is an
//! `anyhow::Error`; a [`Fail`] somewhere in its chain carries a non-default exit code
//! and a `hint:` line. [`report`] prints `udskit: error: ...` and picks the code.

use std::fmt;

pub const OK: i32 = 0;
pub const FAILURE: i32 = 1;
pub const USAGE: i32 = 2;
/// curl's codes, kept by `http` so that scripts ported from curl keep working.
pub const COULD_NOT_CONNECT: i32 = 7;
pub const HTTP_ERROR: i32 = 22;
pub const TIMEOUT: i32 = 28;
/// `http --compressed`: an answer whose Content-Encoding cannot be decoded.
pub const BAD_CONTENT_ENCODING: i32 = 61;

/// An error that knows its exit code and, where one helps, a hint for the user.
#[derive(Debug)]
pub struct Fail {
    pub code: i32,
    pub message: String,
    pub hint: Option<String>,
}

impl Fail {
    pub fn new(code: i32, message: impl Into<String>) -> Fail {
        Fail {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// A validation failure after parsing: exit 2.
    pub fn usage(message: impl Into<String>) -> Fail {
        Fail::new(USAGE, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Fail {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

/// An error the subcommand has dealt with itself (reported in its own order, silenced as
/// `http -s` silences it, or an `ls` whose filter matched nothing, exit 1 as lsof's): only
/// its exit code is left, and [`report`] prints nothing.
#[derive(Debug)]
pub struct Reported(pub i32);

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit {}", self.0)
    }
}

impl std::error::Error for Reported {}

/// The exit code an error maps to: the first [`Fail`] (or [`Reported`]) in its chain
/// decides, else 1.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    err.chain()
        .find_map(|e| {
            e.downcast_ref::<Fail>()
                .map(|f| f.code)
                .or_else(|| e.downcast_ref::<Reported>().map(|r| r.0))
        })
        .unwrap_or(FAILURE)
}

/// What a peer did, for the kernel's errors that are its doing, with the peer as the
/// subject left to the caller ("the server", "the client", "the target"): `reset the
/// connection`. `None` for any other error, and for ours (an error carrying a message).
pub fn peer_words(err: &std::io::Error) -> Option<&'static str> {
    use rustix::io::Errno;
    Some(match Errno::from_io_error(err)? {
        Errno::CONNRESET => "reset the connection",
        Errno::PIPE => "had closed the connection (nothing more can be sent to it)",
        Errno::NOTCONN => "is gone: the connection was reset",
        Errno::CONNABORTED => "aborted the connection",
        Errno::TIMEDOUT => "stopped answering: the connection timed out",
        _ => return None,
    })
}

/// An error's chain as `{:#}` shows it, with the kernel's words for a peer's doing
/// (`Connection reset by peer (os error 104)`) replaced by [`peer_words`] about the peer.
pub fn chain_text(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in err.chain() {
        match e.downcast_ref::<std::io::Error>().and_then(peer_words) {
            Some(w) => {
                parts.push(format!("the peer {w}"));
                // The io::Error's own source repeats it.
                break;
            }
            None => parts.push(e.to_string()),
        }
    }
    parts.join(": ")
}

/// Prints the error (and its hints) on stderr and returns its exit code; an error already
/// [`Reported`] is not printed again.
pub fn report(err: &anyhow::Error, color: bool) -> i32 {
    if let Some(r) = err.downcast_ref::<Reported>() {
        return r.0;
    }
    let red = crate::term::paint(crate::term::ERROR, color);
    let mut text = format!(
        "udskit: {red}error{red:#}: {}\n",
        crate::term::escape(&chain_text(err))
    );
    for fail in err.chain().filter_map(|e| e.downcast_ref::<Fail>()) {
        if let Some(hint) = &fail.hint {
            text += &crate::term::hint_lines(hint, color);
        }
    }
    crate::term::stderr_line(text);
    exit_code(err)
}

/// True for the errors that mean "the reader went away": a closed stdout is not a failure.
pub fn is_broken_pipe(err: &std::io::Error) -> bool {
    err.kind() == std::io::ErrorKind::BrokenPipe
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn code_comes_from_the_fail_in_the_chain() {
        let e: anyhow::Error = Fail::new(TIMEOUT, "timed out").into();
        let e = e.context("fetching /version");
        assert_eq!(exit_code(&e), TIMEOUT);
        assert_eq!(format!("{e:#}"), "fetching /version: timed out");
        let plain: Result<(), std::io::Error> = Err(std::io::Error::other("boom"));
        assert_eq!(exit_code(&plain.context("x").unwrap_err()), FAILURE);
    }

    /// A peer's doing reaches the user in words, never as `os error 104`.
    #[test]
    fn peer_errors_are_told_in_words() {
        let reset: Result<(), std::io::Error> = Err(std::io::Error::from_raw_os_error(104));
        let e = reset.context("talking to @x").unwrap_err();
        assert_eq!(
            chain_text(&e),
            "talking to @x: the peer reset the connection"
        );
        let gone: Result<(), std::io::Error> = Err(std::io::Error::from_raw_os_error(107));
        let e = gone.context("sending").unwrap_err();
        assert_eq!(
            chain_text(&e),
            "sending: the peer is gone: the connection was reset"
        );
        let other: Result<(), std::io::Error> = Err(std::io::Error::from_raw_os_error(5));
        let e = other.context("reading").unwrap_err();
        assert_eq!(chain_text(&e), format!("{e:#}"));
    }
}
