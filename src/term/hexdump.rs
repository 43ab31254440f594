//! `hexdump -C` rows, for `relay --dump hex`.

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
