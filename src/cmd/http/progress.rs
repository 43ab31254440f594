//! Progress drawn for people with indicatif: the download bar of `-o`/`-O` on stderr
//! (bytes, rate, percent when Content-Length is known) and the surface that docker's
//! progress board draws on. Neither lets indicatif find or write the terminal itself: the
//! decision is made once by the caller, and the drawing goes into a [`Screen`] whose bytes
//! reach stderr through udskit's one diagnostics queue (so a bar is cleared before an error
//! line, never torn by it) or stdout through the body's writer (in order with the body).

use std::fmt;
use std::io;
use std::os::fd::AsFd;
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

use crate::term::stderr_line;

/// How often a bar may redraw: often enough to look live, rarely enough that a fast
/// download spends nothing on it.
pub const HZ: u8 = 10;

/// Where a [`Screen`]'s drawing goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Straight into the diagnostics queue at every flush.
    Stderr,
    /// Held until the owner takes it ([`Screen::take`]) for stdout's writer.
    Stdout,
}

/// A terminal as indicatif draws on it: ANSI cursor moves written into a buffer.
#[derive(Clone)]
pub struct Screen {
    buf: Arc<Mutex<Vec<u8>>>,
    side: Side,
    width: u16,
    height: u16,
}

impl fmt::Debug for Screen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Screen({:?}, {} columns)", self.side, self.width)
    }
}

impl Screen {
    /// A screen the size of the terminal on `fd` (80x24 when it says nothing).
    pub fn new(side: Side, fd: impl AsFd) -> Screen {
        let size = rustix::termios::tcgetwinsize(fd).ok();
        let or = |n: Option<u16>, default| n.filter(|&n| n > 0).unwrap_or(default);
        Screen {
            buf: Arc::new(Mutex::new(Vec::new())),
            side,
            width: or(size.map(|w| w.ws_col), 80),
            height: or(size.map(|w| w.ws_row), 24),
        }
    }

    /// What was drawn since the last take.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.buf.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A cursor move of `n` (none at all for 0: `ESC [0A` moves one line on some terminals).
    fn moved(&self, n: usize, dir: char) -> io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        self.put(format!("\x1b[{n}{dir}").as_bytes())
    }

    fn put(&self, b: &[u8]) -> io::Result<()> {
        self.buf
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(())
    }

    pub fn target(&self) -> ProgressDrawTarget {
        ProgressDrawTarget::term_like_with_hz(Box::new(self.clone()), HZ)
    }
}

impl TermLike for Screen {
    fn width(&self) -> u16 {
        self.width
    }

    fn height(&self) -> u16 {
        self.height
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.moved(n, 'A')
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.moved(n, 'B')
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.moved(n, 'C')
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.moved(n, 'D')
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.put(s.as_bytes())?;
        self.put(b"\n")
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.put(s.as_bytes())
    }

    fn clear_line(&self) -> io::Result<()> {
        self.put(b"\r\x1b[2K")
    }

    fn flush(&self) -> io::Result<()> {
        if self.side == Side::Stderr {
            let drawn = self.take();
            if !drawn.is_empty() {
                stderr_line(drawn);
            }
        }
        Ok(())
    }
}

/// The bar of a download to a file, on stderr.
pub struct Download {
    bar: ProgressBar,
}

impl Download {
    /// A bar for a body of `length` bytes (as sent, before any decoding), or a counter
    /// with a spinner when the length is unknown.
    pub fn new(length: Option<u64>) -> Download {
        let screen = Screen::new(Side::Stderr, rustix::stdio::stderr());
        let (bar, template) = match length {
            Some(n) => (
                ProgressBar::with_draw_target(Some(n), screen.target()),
                "{bytes:>10} of {total_bytes:<10} {binary_bytes_per_sec:>12} {percent:>3}% [{wide_bar}] {eta}",
            ),
            None => (
                ProgressBar::with_draw_target(None, screen.target()),
                "{bytes:>10} {binary_bytes_per_sec:>12} {spinner} {elapsed}",
            ),
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        Download { bar }
    }

    /// Bytes received so far.
    pub fn set(&self, received: u64) {
        self.bar.set_position(received);
    }

    /// The whole body is in: the bar's last state stays, as curl's meter does, on a line
    /// of its own.
    pub fn done(&self) {
        self.bar.finish();
        stderr_line("\n");
    }
}

/// A bar not [`done`](Download::done) goes when dropped: the body broke off, and the error
/// line that follows must not share a line with it.
impl Drop for Download {
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}
