//! `relay --dump`: every chunk a relay moves, tagged with its connection id, direction and
//! time, as escaped text or a hex dump (socat's `-v`/`-x`, but readable under many
//! connections at once: every line starts with `#ID >` or `#ID <`).

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;

use super::copy::Direction;
use crate::term::json::utc_timestamp;
use crate::term::{Ctx, escape, escape_bytes};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DumpFormat {
    /// Printable text as is; control bytes, `\` and invalid UTF-8 escaped; one line per line
    Text,
    /// Offsets, 16 bytes in hex and their ASCII per line
    Hex,
}

/// Where dumped chunks go; one `write_all` per chunk, so chunks never interleave. On
/// stderr they go the way of every diagnostic line ([`crate::term::stderr_line`]), which
/// never blocks the relay when nobody reads.
pub struct Dump {
    format: DumpFormat,
    /// The dump file (None once a write to it failed), and its name for the warning.
    out: Option<(Mutex<Option<std::fs::File>>, String)>,
    ctx: Ctx,
}

impl Dump {
    /// A dump to `file` (created or truncated), else to stderr.
    pub fn open(format: DumpFormat, file: Option<&Path>, ctx: &Ctx) -> anyhow::Result<Dump> {
        let out = match file {
            Some(p) => {
                let name = escape(&p.display().to_string()).into_owned();
                let f = std::fs::File::create(p)
                    .with_context(|| format!("opening the dump file {name}"))?;
                Some((Mutex::new(Some(f)), name))
            }
            None => None,
        };
        Ok(Dump {
            format,
            out,
            ctx: ctx.clone(),
        })
    }

    /// Writes one chunk of connection `id` going `dir`. A dump file that cannot be written
    /// (a full disk) is given up with one warning: it must never break the traffic it
    /// watches.
    pub fn chunk(&self, id: u64, dir: Direction, data: &[u8]) {
        let text = render(
            self.format,
            id,
            dir,
            &utc_timestamp(std::time::SystemTime::now()),
            data,
        );
        match &self.out {
            Some((file, name)) => {
                let mut out = file.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(f) = out.as_mut()
                    && let Err(e) = f.write_all(text.as_bytes())
                {
                    *out = None;
                    self.ctx.warn(format!(
                        "writing the dump to {name}: {e}; dump stopped (the traffic goes on)"
                    ));
                }
            }
            None => crate::term::stderr_line(text),
        }
    }
}

/// `>`: client to target; `<`: target to client (as socat marks them).
fn arrow(dir: Direction) -> char {
    match dir {
        Direction::Up => '>',
        Direction::Down => '<',
    }
}

fn render(format: DumpFormat, id: u64, dir: Direction, time: &str, data: &[u8]) -> String {
    let tag = format!("#{id} {}", arrow(dir));
    let mut s = format!("{tag} {time} {} bytes\n", data.len());
    match format {
        DumpFormat::Text => {
            for line in data.split_inclusive(|&b| b == b'\n') {
                let _ = writeln!(s, "{tag} {}", escape_bytes(line));
            }
        }
        DumpFormat::Hex => {
            for (i, row) in data.chunks(16).enumerate() {
                let _ = write!(s, "{tag} ");
                crate::term::hexdump::hexdump_row(&mut s, i * 16, row);
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_are_tagged_and_escaped() {
        let t = "2026-01-01T00:00:00.000000Z";
        assert_eq!(
            render(
                DumpFormat::Text,
                3,
                Direction::Up,
                t,
                b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
            ),
            format!(
                "#3 > {t} 27 bytes\n#3 > GET / HTTP/1.1\\r\\n\n#3 > Host: x\\r\\n\n#3 > \\r\\n\n"
            )
        );
        assert_eq!(
            render(DumpFormat::Text, 12, Direction::Down, t, b"ok\x1b\xff"),
            format!("#12 < {t} 4 bytes\n#12 < ok\\u{{1b}}\\xff\n")
        );
    }

    #[test]
    fn hex_rows() {
        let t = "T";
        let data: Vec<u8> = (0x40..0x52).collect();
        assert_eq!(
            render(DumpFormat::Hex, 1, Direction::Down, t, &data),
            "#1 < T 18 bytes\n\
             #1 < 00000000  40 41 42 43 44 45 46 47  48 49 4a 4b 4c 4d 4e 4f  |@ABCDEFGHIJKLMNO|\n\
             #1 < 00000010  50 51                                             |PQ|\n"
        );
    }
}
