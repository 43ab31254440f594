//! Plain aligned columns for awk, as tables are printed when stdout is not a terminal: every
//! column but the last is free of whitespace (spaces inside a cell become `\x20`) and padded
//! with spaces, and the last one is the rest of the line. Made for long listings: cell by
//! cell, by two threads, written out in blocks. Hand-written: table crates draw for people
//! (comfy-table does that on a terminal), none writes awk's whitespace-free columns.

use std::borrow::Cow;

/// Plain columns for awk (see [`crate::term::table::Table`]) computed cell by cell,
/// `cell(row, column)`, so that a long listing need not be held as a table first, and
/// written to `out` line by line.
/// Each cell is asked for once and kept in one flat buffer until the widths are known:
/// formatting every cell twice (once for the widths, once for the output) with a padding
/// written char by char was the largest user-space cost left on `udskit ls`'s critical
/// path. That buffer is sized from its first rows, and the lines go out through a small
/// one: growing both buffers to the size of the listing, each doubling a fresh copy, cost
/// fresh page faults at every doubling (figures in docs/performance.md).
/// `out` gets blocks of whole lines.
pub fn plain_columns<'a>(
    header: &[&str],
    right: &[usize],
    rows: usize,
    cell: impl Fn(usize, usize) -> Cow<'a, str> + Sync,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let cols = header.len();
    let last = cols.saturating_sub(1);
    let cells = |range| Cells::of(range, header, &cell);
    // A long listing's cells are made by two threads, half of the rows each: nothing else
    // is left to run beside them by now (figures in docs/performance.md).
    let parts = if rows >= SPLIT_MIN {
        let (second, first) =
            crate::thread::beside(|| cells(rows / 2..rows), || cells(0..rows / 2));
        vec![first, second]
    } else {
        vec![cells(0..rows)]
    };
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for part in &parts {
        for (w, p) in widths.iter_mut().zip(&part.widths) {
            *w = (*w).max(*p);
        }
    }
    // Lines are put together in a buffer written out whenever it holds OUT_BUF: directly,
    // not through a BufWriter, which copied each line a second time.
    let mut buf = String::with_capacity(OUT_BUF + 4096);
    let mut put = |cells: &mut dyn Iterator<Item = &str>| -> std::io::Result<()> {
        let start = buf.len();
        for (i, text) in cells.enumerate() {
            let pad = widths[i].saturating_sub(width(text));
            if i == last {
                buf.push_str(text);
            } else if right.contains(&i) {
                spaces(&mut buf, pad);
                buf.push_str(text);
                buf.push_str("  ");
            } else {
                buf.push_str(text);
                spaces(&mut buf, pad + 2);
            }
        }
        buf.truncate(start + buf[start..].trim_end().len());
        buf.push('\n');
        if buf.len() >= OUT_BUF {
            out.write_all(buf.as_bytes())?;
            buf.clear();
        }
        Ok(())
    };
    put(&mut header.iter().copied())?;
    for part in &parts {
        let mut begin = 0;
        for row in part.lens.chunks(cols.max(1)) {
            put(&mut row.iter().map(|&len| {
                let text = &part.texts[begin..begin + len as usize];
                begin += len as usize;
                text
            }))?;
        }
    }
    out.write_all(buf.as_bytes())
}

/// Plain columns go out in blocks of this size rather than as one string of the whole
/// listing (1 MB at 10,000 sockets, about 250 page faults to build).
const OUT_BUF: usize = 64 * 1024;

/// Tables from this many rows on have their cells made by two threads: fewer are not
/// worth starting a thread for.
const SPLIT_MIN: usize = 2000;

/// The cells of some rows of a plain table, in one buffer, and the widths they need.
struct Cells {
    texts: String,
    /// Each cell's length; one cell of 4 GiB is beyond any listing.
    lens: Vec<u32>,
    widths: Vec<usize>,
}

impl Cells {
    fn of<'a>(
        rows: std::ops::Range<usize>,
        header: &[&str],
        cell: &impl Fn(usize, usize) -> Cow<'a, str>,
    ) -> Cells {
        /// Rows looked at before the buffer for all cells is sized.
        const SAMPLE: usize = 64;
        let cols = header.len();
        let last = cols.saturating_sub(1);
        let n = rows.len();
        let mut c = Cells {
            texts: String::new(),
            lens: Vec::with_capacity(n * cols),
            widths: vec![0; cols],
        };
        for (i, r) in rows.enumerate() {
            if i == SAMPLE {
                c.texts
                    .reserve(c.texts.len() / SAMPLE * (n - SAMPLE) * 9 / 8);
            }
            for (col, w) in c.widths.iter_mut().enumerate() {
                let text = cell(r, col);
                let text = awk_cell(last, col, &text);
                if col < last {
                    *w = (*w).max(width(&text));
                }
                c.texts.push_str(&text);
                c.lens.push(text.len() as u32);
            }
        }
        c
    }
}

fn spaces(out: &mut String, mut n: usize) {
    const BLANK: &str = "                                ";
    while n > 0 {
        let k = n.min(BLANK.len());
        out.push_str(&BLANK[..k]);
        n -= k;
    }
}

/// Characters in a cell (its length when ASCII, the usual case: counting chars one by one
/// for every cell, twice, was 2% of `udskit ls` at 10,000 rows).
fn width(text: &str) -> usize {
    if text.is_ascii() {
        text.len()
    } else {
        text.chars().count()
    }
}

/// A cell of a plain table: whitespace (rare) becomes `\x20` in every column but the last;
/// other cells are borrowed as they are.
fn awk_cell(last: usize, i: usize, text: &str) -> Cow<'_, str> {
    // Bytes first: only ASCII whitespace or a non-ASCII byte can make a whitespace char.
    let maybe = |b: u8| b == b' ' || (b'\t'..=b'\r').contains(&b) || b >= 0x80;
    if i < last && text.bytes().any(maybe) && text.contains(char::is_whitespace) {
        Cow::Owned(
            text.chars()
                .map(|c| {
                    if c.is_whitespace() {
                        format!("\\x{:02x}", c as u32)
                    } else {
                        c.to_string()
                    }
                })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}
