//! The interleaving script format of `crates/dosim-pg/tests/scripts/`, parsed as `crates/dosim-pg/tests/scripts.rs` parses it.

/// What a script line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Session `session` sends `sql`.
    Step { session: String, sql: String },
    /// Session `session`'s waiting statement has finished.
    Resumes { session: String },
    /// Time passes.
    Sleep { ms: u64 },
}

/// One action with its expectation lines (normalized) and its 1-based line number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub action: Action,
    pub expected: Vec<String>,
    pub lineno: usize,
}

/// The longest `sleep` a script may ask for, so that a typo cannot stall the suite.
pub const SLEEP_MS_MAX: u64 = 10_000;

/// Whether the script checks behaviour PostgreSQL does not share: its first line says `dosim-only`.
pub fn is_dosim_only(script: &str) -> bool {
    script
        .lines()
        .next()
        .is_some_and(|l| l.contains("dosim-only"))
}

/// Collapses runs of white space, so that empty values (`void`) compare as `| |`.
pub fn normalize(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Parses a script; a malformed line is an error naming its line number.
pub fn parse(script: &str) -> Result<Vec<Line>, String> {
    let mut out: Vec<Line> = vec![];
    for (n, raw) in script.lines().enumerate() {
        let lineno = n + 1;
        if raw.trim().is_empty() || raw.trim_start().starts_with("--") {
            continue;
        }
        if raw.starts_with("  ") {
            let last = out
                .last_mut()
                .ok_or_else(|| format!("line {lineno}: expectation before any step"))?;
            last.expected.push(normalize(raw));
            continue;
        }
        let action = if let Some(ms) = raw.strip_prefix("sleep ") {
            let ms: u64 = ms
                .trim()
                .parse()
                .map_err(|_| format!("line {lineno}: sleep takes milliseconds, got {ms:?}"))?;
            if ms > SLEEP_MS_MAX {
                return Err(format!(
                    "line {lineno}: sleep {ms} is longer than {SLEEP_MS_MAX} ms"
                ));
            }
            Action::Sleep { ms }
        } else if let Some(session) = raw.strip_suffix(" resumes:") {
            Action::Resumes {
                session: session.trim().to_string(),
            }
        } else {
            let (session, sql) = raw
                .split_once(": ")
                .ok_or_else(|| format!("line {lineno}: expected `session: SQL`, got {raw:?}"))?;
            Action::Step {
                session: session.trim().to_string(),
                sql: sql.trim().to_string(),
            }
        };
        out.push(Line {
            action,
            expected: vec![],
            lineno,
        });
    }
    Ok(out)
}
