//! Valkey's glob patterns for `KEYS` and `SCAN … MATCH` (`util.c`, `stringmatchlen`): `*`, `?`, `[abc]`, `[^a-z]`, `\x`.

/// Whether `text` matches `pattern`;
pub fn matches(pattern: &[u8], text: &[u8]) -> bool {
    // Recursion depth is bounded by the pattern's length, which the command's argument limit bounds.
    match_at(pattern, text, 0)
}

/// Nested `*`s past this depth stop matching, as Valkey's own guard against exponential patterns does.
const NESTING_MAX: usize = 1000;

fn match_at(mut p: &[u8], mut s: &[u8], nesting: usize) -> bool {
    if nesting > NESTING_MAX {
        return false;
    }
    while let Some(&c) = p.first() {
        match c {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for start in 0..=s.len() {
                    if match_at(&p[1..], &s[start..], nesting + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
                p = &p[1..];
            }
            b'[' => {
                let Some(&ch) = s.first() else {
                    return false;
                };
                p = &p[1..];
                let not = p.first() == Some(&b'^');
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    match p {
                        [] => break,
                        [b'\\', x, ..] => {
                            matched |= *x == ch;
                            p = &p[2..];
                        }
                        [b']', ..] => break,
                        [a, b'-', b, ..] if *b != b']' => {
                            let (lo, hi) = if a <= b { (*a, *b) } else { (*b, *a) };
                            matched |= lo <= ch && ch <= hi;
                            p = &p[3..];
                        }
                        [x, ..] => {
                            matched |= *x == ch;
                            p = &p[1..];
                        }
                    }
                }
                if !p.is_empty() {
                    p = &p[1..];
                }
                if matched == not {
                    return false;
                }
                s = &s[1..];
            }
            b'\\' if p.len() >= 2 => {
                if s.first() != Some(&p[1]) {
                    return false;
                }
                s = &s[1..];
                p = &p[2..];
            }
            _ => {
                if s.first() != Some(&c) {
                    return false;
                }
                s = &s[1..];
                p = &p[1..];
            }
        }
    }
    s.is_empty()
}
