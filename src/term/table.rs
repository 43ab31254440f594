//! Tables of text cells: drawn with comfy-table on a terminal, plain columns for awk when
//! piped (see columns.rs).

use std::borrow::Cow;

use crate::term::Ctx;

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
        let _ = crate::term::columns::plain_columns(
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
