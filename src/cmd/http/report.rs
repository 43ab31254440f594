//! The end of a request, in curl's order: the failure reported (or kept quiet by `-s`),
//! then `-w`'s report, and on a terminal a line the body left open ended before the shell's
//! prompt (xh's habit; piped, the bytes stay exact).

use std::time::Instant;

use hyper::StatusCode;
use hyper::header::HeaderMap;

use super::writeout::{self, Format};
use crate::error::{OK, Reported};
use crate::io::stdio::Tail;
use crate::term::{Ctx, escape};

/// What the transfer told, for `-w` and the end of the output.
#[derive(Default)]
pub struct Record {
    pub status: Option<StatusCode>,
    pub headers: Option<HeaderMap>,
    pub size_header: u64,
    pub size_download: u64,
    /// Redirects followed with -L.
    pub num_redirects: u64,
    /// The method and URL of the last request, when one was sent (-L may have changed them).
    pub effective: Option<(String, String)>,
    /// The last byte shown on stdout, when stdout is where the body went.
    pub tail: Option<Tail>,
}

/// What the end needs from the command line and the plan.
pub struct Ending {
    /// Not `-s`, or `-sS`.
    pub show_error: bool,
    pub format: Option<Format>,
    pub started: Instant,
    pub method: String,
    pub url: String,
    pub url_effective: String,
}

/// Reports the outcome; a failure comes back [`Reported`], with its exit code only.
pub fn end(
    result: anyhow::Result<()>,
    mut record: Record,
    ending: Ending,
    ctx: &Ctx,
) -> anyhow::Result<()> {
    let stdout_tty = ctx.stdout_is_tty;
    let mut tail = record.tail.as_ref().and_then(Tail::last);
    // A line the body left open is ended before anything else is written (an error line,
    // the shell's prompt), on a terminal only: piped, the bytes stay exact.
    let end_line = |tail: &mut Option<u8>| {
        if stdout_tty && tail.is_some_and(|b| b != b'\n') {
            let _ = crate::io::stdio::write_all(rustix::stdio::stdout(), b"\n");
            *tail = Some(b'\n');
        }
    };
    let code = match &result {
        Ok(()) => OK,
        Err(e) => {
            end_line(&mut tail);
            if ending.show_error {
                crate::error::report(e, ctx.color_stderr);
            }
            crate::error::exit_code(e)
        }
    };
    if let Some(format) = ending.format {
        let facts = writeout::Facts {
            status: record.status,
            headers: record.headers.take(),
            time_total: ending.started.elapsed(),
            size_download: record.size_download,
            size_header: record.size_header,
            exitcode: code,
            errormsg: match &result {
                Ok(()) => String::new(),
                Err(e) => format!("{e:#}"),
            },
            num_redirects: record.num_redirects,
            method: record
                .effective
                .as_ref()
                .map_or(ending.method, |(m, _)| m.clone()),
            url: ending.url,
            url_effective: record
                .effective
                .take()
                .map_or(ending.url_effective, |(_, u)| u),
        };
        let (parts, unknown) = format.render(&facts);
        for name in unknown {
            // Shown even with -s, as curl shows it: the format itself is wrong.
            crate::term::stderr_line(format!(
                "udskit: warning: unknown --write-out variable: '{}'\n",
                escape(&name)
            ));
        }
        for (dest, text) in parts {
            match dest {
                writeout::Dest::Stdout => {
                    let _ = crate::io::stdio::write_all(rustix::stdio::stdout(), &text);
                    tail = text.last().copied().or(tail);
                }
                writeout::Dest::Stderr => crate::term::stderr_line(text),
            }
        }
    }
    end_line(&mut tail);
    match result {
        Ok(()) => Ok(()),
        Err(_) => Err(Reported(code).into()),
    }
}
