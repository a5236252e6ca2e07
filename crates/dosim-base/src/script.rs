//! The lines of an interleaving script, the format the engines' `tests/scripts/*.txt` share:
//! `--` comments, steps (`a: …`), resumptions (`a resumes:`), `sleep <ms>`, and expectation lines
//! indented by two spaces under the action they belong to. What a step says is each engine's own.

/// What one action line asks for, before its engine reads the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Raw<'a> {
    /// `who: text`, both untrimmed.
    Step { who: &'a str, text: &'a str },
    /// `who resumes:`, untrimmed.
    Resumes { who: &'a str },
    /// `sleep ms`.
    Sleep { ms: u64 },
}

/// One action with its expectation lines, as the engine's `expectation` writes them, and its
/// 1-based line number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line<A> {
    pub action: A,
    pub expected: Vec<String>,
    pub lineno: usize,
}

/// Reads a script's lines: skips blank lines and comments, hands each action line to `action` with
/// its 1-based line number, and gives each action the expectation lines under it as `expectation`
/// writes them. `step_form` says what a step looks like (`session: SQL`) in the error for a line
/// that is none of the forms; every error names its line.
pub fn parse<A>(
    script: &str,
    step_form: &str,
    expectation: fn(&str) -> String,
    mut action: impl FnMut(Raw<'_>, usize) -> Result<A, String>,
) -> Result<Vec<Line<A>>, String> {
    let mut out: Vec<Line<A>> = vec![];
    for (n, raw) in script.lines().enumerate() {
        let lineno = n + 1;
        if raw.trim().is_empty() || raw.trim_start().starts_with("--") {
            continue;
        }
        if raw.starts_with("  ") {
            let line = out
                .last_mut()
                .ok_or_else(|| format!("line {lineno}: expectation before any step"))?;
            line.expected.push(expectation(raw));
            continue;
        }
        let line = if let Some(ms) = raw.strip_prefix("sleep ") {
            let ms: u64 = ms
                .trim()
                .parse()
                .map_err(|_| format!("line {lineno}: sleep takes milliseconds, got {ms:?}"))?;
            Raw::Sleep { ms }
        } else if let Some(who) = raw.strip_suffix(" resumes:") {
            Raw::Resumes { who }
        } else {
            let (who, text) = raw
                .split_once(": ")
                .ok_or_else(|| format!("line {lineno}: expected `{step_form}`, got {raw:?}"))?;
            Raw::Step { who, text }
        };
        out.push(Line {
            action: action(line, lineno)?,
            expected: vec![],
            lineno,
        });
    }
    Ok(out)
}

/// Whether the script checks behaviour the reference server does not share: its first line says
/// `dosim-only`.
pub fn is_dosim_only(script: &str) -> bool {
    script
        .lines()
        .next()
        .is_some_and(|l| l.contains("dosim-only"))
}
