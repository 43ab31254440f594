//! A small shell-style glob matcher for `udskit ls PATTERN`: a whole dependency (globset,
//! glob) for `*`, `?` and `[...]` over one string per socket would weigh more than it gives.

/// Shell-style glob over the whole name: `*` any run (including `/`), `?` one character,
/// `[abc]`, `[a-z]`, `[!x]` one of a set.
pub fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        match pat.get(p) {
            Some(b'*') => {
                star = Some((p, i));
                p += 1;
                continue;
            }
            Some(b'?') => {
                p += 1;
                i += 1;
                continue;
            }
            Some(b'[') => match class(&pat[p..], s[i]) {
                Some((true, len)) => {
                    p += len;
                    i += 1;
                    continue;
                }
                // Without a closing bracket, `[` is itself.
                None if s[i] == b'[' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                _ => {}
            },
            Some(&c) if c == s[i] => {
                p += 1;
                i += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, si)) => {
                p = sp + 1;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class at the start of `pat`; returns (matched, class length).
fn class(pat: &[u8], c: u8) -> Option<(bool, usize)> {
    let mut j = 1;
    let negate = matches!(pat.get(1), Some(b'!' | b'^'));
    if negate {
        j += 1;
    }
    let mut matched = false;
    let mut first = true;
    while let Some(&b) = pat.get(j) {
        if b == b']' && !first {
            return Some((matched != negate, j + 1));
        }
        first = false;
        if pat.get(j + 1) == Some(&b'-') && pat.get(j + 2).is_some_and(|&e| e != b']') {
            matched |= (b..=pat[j + 2]).contains(&c);
            j += 3;
        } else {
            matched |= b == c;
            j += 1;
        }
    }
    None // no closing bracket: not a class
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn globs() {
        assert!(glob(b"*.sock", b"/tmp/a.sock"));
        assert!(!glob(b"*.sock", b"/tmp/a.socket"));
        assert!(glob(b"/run/*/x", b"/run/a/b/x"));
        assert!(glob(b"@foo?", b"@foo1"));
        assert!(glob(b"[ab]*", b"b.sock"));
        assert!(!glob(b"[!ab]*", b"b.sock"));
        assert!(glob(b"x[0-9]", b"x7"));
        assert!(!glob(b"x[0-9]", b"xa"));
        assert!(glob(b"*", b""));
        assert!(!glob(b"a", b""));
        assert!(glob(b"a[b*", b"a[bc"));
    }
}
