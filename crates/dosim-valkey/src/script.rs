//! The interleaving-script format of `tests/scripts/*.txt`, read by the engine's own runner and by the differential suite against a real server.
//!
//! ```text
//! -- a comment
//! a: SET lock "token 1" NX PX 100     a step: client `a` sends one command, arguments split at spaces, "…" quotes one
//!   +OK                               its reply in `Reply`'s one-line form,
//!   blocked                           or that it blocks (a blocking pop on empty lists).
//! b resumes:                          client `b`'s blocked command was answered, by the step before or by its timeout;
//!   ["q", "x"]                        the answer, in the same form.
//! sleep 1100                          time passes, in milliseconds.
//! ```
//!
//! Expectation lines are indented by two spaces and belong to the action above them, compared with trailing white space trimmed; a script whose first line says `dosim-only` checks behaviour the reference server does not share.

use dosim_base::script::Raw;

/// What a script line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Client `client` sends a command.
    Step { client: String, args: Vec<Vec<u8>> },
    /// Client `client`'s blocked command has been answered.
    Resumes { client: String },
    /// Time passes.
    Sleep { ms: u64 },
}

/// One action with its expectation lines and its 1-based line number.
pub type Line = dosim_base::script::Line<Action>;

pub use dosim_base::script::is_dosim_only;

/// Splits a command line into arguments: spaces separate, double quotes group, and inside quotes `\"`, `\\`, `\n`, `\r`, `\t` and `\xNN` escape.
pub fn split_args(line: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else {
            return Ok(args);
        };
        let mut arg = Vec::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("unterminated quotes".to_string()),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some('n') => arg.push(b'\n'),
                        Some('r') => arg.push(b'\r'),
                        Some('t') => arg.push(b'\t'),
                        Some('x') => {
                            let hex: String = chars.by_ref().take(2).collect();
                            let byte = u8::from_str_radix(&hex, 16)
                                .map_err(|_| format!("bad escape \\x{hex}"))?;
                            arg.push(byte);
                        }
                        Some(c) => {
                            let mut buf = [0; 4];
                            arg.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        None => return Err("unterminated quotes".to_string()),
                    },
                    Some(c) => {
                        let mut buf = [0; 4];
                        arg.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                let mut buf = [0; 4];
                arg.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                chars.next();
            }
        }
        args.push(arg);
    }
}

/// Parses a script; a malformed line is an error naming its line number.
pub fn parse(script: &str) -> Result<Vec<Line>, String> {
    dosim_base::script::parse(script, "client: COMMAND", expectation, |raw, lineno| {
        Ok(match raw {
            Raw::Step { who, text } => {
                let args = split_args(text).map_err(|e| format!("line {lineno}: {e}"))?;
                if args.is_empty() {
                    return Err(format!("line {lineno}: empty command"));
                }
                Action::Step {
                    client: who.trim().to_string(),
                    args,
                }
            }
            Raw::Resumes { who } => Action::Resumes {
                client: who.trim().to_string(),
            },
            Raw::Sleep { ms } => Action::Sleep { ms },
        })
    })
}

/// An expectation line as compared: without the indent and trailing white space.
fn expectation(line: &str) -> String {
    line.trim().to_string()
}
