//! Parsing a query string with sqlparser's PostgreSQL dialect, and PostgreSQL's wording for its syntax errors.
//!
//! Depth: sqlparser's recursion limit bounds nesting through parentheses, subqueries and prefix
//! operators, but a chain of infix operators (`1+1+…`, `a=1 OR a=2 OR …`, `'a'||'a'||…`) is built by a
//! loop, so its depth is bounded only by the query's length. The walks over expressions (evaluation,
//! types, rewrites, sqlparser's own clone and display) recurse, so a query string that has more than a
//! few infix operators runs on a thread of its own whose stack grows with the operator count
//! ([`stack_for`]), and an expression nested deeper than [`EXPR_DEPTH_MAX`] is refused with PostgreSQL's
//! `54001 stack depth limit exceeded`. Both figures are counted, never measured, so a seed replays alike.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::sync::Arc;

use sqlparser::ast::{Expr, Statement, Visit, Visitor};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, Tokenizer};

use crate::error::{sqlstate, PgError};

/// How deep sqlparser may nest; deeper input is refused rather than overflowing the stack.
const RECURSION_LIMIT: usize = 50;

/// How deep an expression may nest, counting every operator of a chain: `1+1+…` with 4,000 terms is
/// refused. PostgreSQL's bound is its 2 MB `max_stack_depth`, which such chains stay within.
pub const EXPR_DEPTH_MAX: usize = 4000;

/// Query strings with at most this many infix operators run on the caller's stack.
const OPERATORS_ON_CALLER_STACK: usize = 16;

/// Stack for a query string run on a thread of its own: a base, a little per operator token (sqlparser's
/// drop and display of a chain, which may be longer than [`EXPR_DEPTH_MAX`] before it is refused), and a
/// frame of evaluation per level of depth up to the limit. Debug builds' frames are the larger ones.
const STACK_BASE: usize = 8 << 20;
const STACK_PER_TOKEN: usize = 512;
const STACK_PER_LEVEL: usize = 48 << 10;

/// PostgreSQL's error when an expression nests too deep, with its hint.
pub fn stack_depth_exceeded() -> PgError {
    PgError::new(sqlstate::STACK_DEPTH_EXCEEDED, "stack depth limit exceeded").with_hint(
        "Increase the configuration parameter \"max_stack_depth\" (currently 2048kB), after ensuring the platform's stack depth limit is adequate.",
    )
}

/// The highest `$n` a query string may use: PostgreSQL's protocol counts parameters in an `int16`.
pub const PLACEHOLDER_MAX: usize = 65_535;

/// The stack a query string needs beyond the caller's, in bytes; 0 when it may run on the caller's stack.
///
/// Counts the tokens that may be infix operators: a bound on how deep a chain of them can nest.
pub fn stack_for(sql: &str) -> usize {
    counted(sql).stack
}

/// The highest placeholder (`$n`, at most [`PLACEHOLDER_MAX`]) a query string uses, 0 for none or
/// when it does not tokenize: how many parameters a prepared statement takes.
pub fn placeholders_max(sql: &str) -> usize {
    counted(sql).placeholders
}

/// What one pass of the tokenizer tells of a query string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counted {
    stack: usize,
    placeholders: usize,
}

fn counted(sql: &str) -> Counted {
    if let Some(counted) = remembered(sql, |entry| Some(entry.counted)) {
        return counted;
    }
    let counted = count(sql);
    remember(sql, |entry| entry.counted = counted, counted);
    counted
}

fn count(sql: &str) -> Counted {
    let dialect = PostgreSqlDialect {};
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        // The parser reports the tokenizer's error without building anything.
        return Counted::default();
    };
    let placeholders = tokens
        .iter()
        .filter_map(|t| match t {
            Token::Placeholder(p) => p.strip_prefix('$')?.parse::<usize>().ok(),
            _ => None,
        })
        .filter(|n| *n <= PLACEHOLDER_MAX)
        .max()
        .unwrap_or(0);
    let operators = tokens.iter().filter(|t| maybe_infix(t)).count();
    let stack = if operators <= OPERATORS_ON_CALLER_STACK {
        0
    } else {
        STACK_BASE
            .saturating_add(tokens.len().saturating_mul(STACK_PER_TOKEN))
            .saturating_add(
                operators
                    .min(EXPR_DEPTH_MAX + 1)
                    .saturating_mul(STACK_PER_LEVEL),
            )
    };
    Counted {
        stack,
        placeholders,
    }
}

/// Whether a token may join two expressions (or follow one, as `IS NULL` and `::type` do).
fn maybe_infix(t: &Token) -> bool {
    match t {
        Token::Whitespace(_)
        | Token::Comma
        | Token::SemiColon
        | Token::LParen
        | Token::RParen
        | Token::Number(..)
        | Token::Char(_)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::DollarQuotedString(_)
        | Token::EscapedStringLiteral(_)
        | Token::NationalStringLiteral(_)
        | Token::HexStringLiteral(_)
        | Token::Placeholder(_)
        | Token::EOF => false,
        Token::Word(w) => w.quote_style.is_none(),
        _ => true,
    }
}

/// Runs `f` on a thread with `stack` bytes of stack, or on the caller's when `stack` is 0.
///
/// The thread is joined before this returns; a panic on it resumes on the caller.
pub fn on_stack<R: Send>(stack: usize, f: impl FnOnce() -> R + Send) -> R {
    if stack == 0 {
        return f();
    }
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("dosim-pg-deep".into())
            .stack_size(stack)
            .spawn_scoped(scope, f)
            .expect("spawning a thread for a deep query string");
        match handle.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Parses a query string and refuses expressions deeper than [`EXPR_DEPTH_MAX`].
///
/// The statements are shared: a string parsed before gives the same trees again, which the engine
/// reads in place (a syntax tree is kilobytes in dozens of allocations; cloning one for each run
/// of a statement cost two thirds as much as running it).
///
/// Run it on the stack [`stack_for`] names: a refused statement is dropped here, and its drop recurses.
pub fn parse(sql: &str) -> Result<Vec<Arc<Statement>>, PgError> {
    if let Some(parsed) = remembered(sql, |entry| entry.parsed.clone()) {
        return parsed;
    }
    let parsed = parse_now(sql);
    // Only a string that runs on the caller's stack is kept: a deep one is parsed on a thread
    // of its own, and dropping its copy here would recurse on this one.
    if let Some(counted) = remembered(sql, |entry| Some(entry.counted)) {
        if counted.stack == 0 {
            remember(sql, |entry| entry.parsed = Some(parsed.clone()), counted);
        }
    }
    parsed
}

fn parse_now(sql: &str) -> Result<Vec<Arc<Statement>>, PgError> {
    let dialect = PostgreSqlDialect {};
    let statements = Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| syntax_error(&e))?;
    let mut depth = Depth { now: 0 };
    if statements.visit(&mut depth).is_break() {
        return Err(stack_depth_exceeded());
    }
    Ok(statements.into_iter().map(Arc::new).collect())
}

/// The longest query string remembered, and how many are, and how many bytes of text they may
/// hold together, per thread (a statement's syntax tree is some tens of times its text).
const REMEMBERED_SQL_BYTES_MAX: usize = 4096;
const REMEMBERED_MAX: usize = 512;
const REMEMBERED_BYTES_MAX: usize = 256 * 1024;

/// What this thread has learnt of each short query string: parsing is a pure function of the
/// text, and clients send the same few statements again and again (every seed of a scenario
/// sends the same ones), so a string is tokenized and parsed once and its statements shared
/// after. Tokenizing and parsing were a sixth of a SQL scenario's seed.
#[derive(Default)]
struct Remembered {
    counted: Counted,
    parsed: Option<Result<Vec<Arc<Statement>>, PgError>>,
}

/// The remembered strings, and the bytes of their text.
#[derive(Default)]
struct Table {
    by_sql: BTreeMap<Box<str>, Remembered>,
    bytes: usize,
}

thread_local! {
    static REMEMBERED: RefCell<Table> = RefCell::new(Table::default());
}

fn remembered<T>(sql: &str, read: impl FnOnce(&Remembered) -> Option<T>) -> Option<T> {
    REMEMBERED.with_borrow(|table| table.by_sql.get(sql).and_then(read))
}

/// Writes what was learnt of `sql` (which tokenizes to `counted`), making room by forgetting
/// everything when the table is full.
fn remember(sql: &str, write: impl FnOnce(&mut Remembered), counted: Counted) {
    if sql.len() > REMEMBERED_SQL_BYTES_MAX {
        return;
    }
    REMEMBERED.with_borrow_mut(|table| {
        if !table.by_sql.contains_key(sql) {
            if table.by_sql.len() >= REMEMBERED_MAX
                || table.bytes + sql.len() > REMEMBERED_BYTES_MAX
            {
                *table = Table::default();
            }
            table.bytes += sql.len();
        }
        let entry = table
            .by_sql
            .entry(sql.into())
            .or_insert_with(|| Remembered {
                counted,
                parsed: None,
            });
        write(entry);
    });
}

/// Counts expression nesting while sqlparser's visitor walks a statement; breaks past the limit, so the
/// walk itself recurses at most that deep.
struct Depth {
    now: usize,
}

impl Visitor for Depth {
    type Break = ();

    fn pre_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        self.now += 1;
        if self.now > EXPR_DEPTH_MAX {
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, _expr: &Expr) -> ControlFlow<()> {
        self.now -= 1;
        ControlFlow::Continue(())
    }
}

/// Turns sqlparser's message into PostgreSQL's `syntax error at or near "…"` where it names the token.
fn syntax_error(e: &ParserError) -> PgError {
    let text = match e {
        ParserError::TokenizerError(t) | ParserError::ParserError(t) => t.clone(),
        ParserError::RecursionLimitExceeded => return stack_depth_exceeded(),
    };
    let near = text.split_once("found: ").map(|(_, rest)| {
        rest.split(" at Line")
            .next()
            .unwrap_or(rest)
            .trim()
            .to_string()
    });
    match near {
        Some(tok) if tok == "EOF" => {
            PgError::new(sqlstate::SYNTAX_ERROR, "syntax error at end of input")
        }
        Some(tok) => PgError::new(
            sqlstate::SYNTAX_ERROR,
            format!("syntax error at or near \"{tok}\""),
        ),
        None => PgError::new(sqlstate::SYNTAX_ERROR, format!("syntax error: {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A remembered string answers as a fresh parse would, statements and errors alike, also
    /// after the table has filled and been forgotten.
    #[test]
    fn a_query_string_parsed_again_gives_what_it_gave_the_first_time() {
        let cases = [
            "SELECT balance FROM accounts WHERE id = $1",
            "UPDATE accounts SET balance = balance + 1 WHERE id = 2",
            "SELEC 1",
            "SELECT (",
        ];
        let fresh: Vec<_> = cases
            .iter()
            .map(|sql| (count(sql), parse_now(sql)))
            .collect();
        for round in 0..3 {
            for (sql, (counted, parsed)) in cases.iter().zip(&fresh) {
                assert_eq!(stack_for(sql), counted.stack, "{sql}");
                assert_eq!(placeholders_max(sql), counted.placeholders, "{sql}");
                assert_eq!(parse(sql), *parsed, "{sql} (round {round})");
            }
            // Enough other strings to fill the table, so the next round starts over.
            for n in 0..=REMEMBERED_MAX {
                let sql = format!("SELECT {n}");
                assert_eq!(stack_for(&sql), 0);
                assert!(parse(&sql).is_ok());
            }
        }
        assert_eq!(
            parse("SELEC 1").unwrap_err().message,
            "syntax error at or near \"SELEC\""
        );
        let remembered = REMEMBERED.with_borrow(|table| table.by_sql.len());
        assert!(remembered <= REMEMBERED_MAX, "{remembered}");
    }

    /// A prepared statement takes as many parameters as its highest placeholder says, up to
    /// the protocol's bound; placeholders inside literals and comments do not count.
    #[test]
    fn placeholders_are_counted_to_the_highest_one_used() {
        assert_eq!(placeholders_max("SELECT $2, $1"), 2);
        assert_eq!(placeholders_max("SELECT '$9', $1 -- $8"), 1);
        assert_eq!(placeholders_max("SELECT $70000"), 0);
        assert_eq!(placeholders_max("SELECT 'unterminated"), 0);
        let long = format!("SELECT $3, '{}'", "z".repeat(REMEMBERED_SQL_BYTES_MAX));
        assert_eq!(placeholders_max(&long), 3);
    }

    /// A string too long to remember is parsed every time and never kept.
    #[test]
    fn a_long_query_string_is_not_remembered() {
        let sql = format!("SELECT '{}'", "x".repeat(REMEMBERED_SQL_BYTES_MAX));
        assert_eq!(stack_for(&sql), 0);
        assert!(parse(&sql).is_ok());
        assert!(REMEMBERED.with_borrow(|table| !table.by_sql.contains_key(sql.as_str())));
    }

    /// Long strings fill the table by their bytes before its count: it never holds more text
    /// than its bound, and still answers.
    #[test]
    fn the_table_holds_at_most_its_bytes_of_text() {
        for n in 0..2 * REMEMBERED_BYTES_MAX / REMEMBERED_SQL_BYTES_MAX {
            let sql = format!(
                "SELECT {n}, '{}'",
                "y".repeat(REMEMBERED_SQL_BYTES_MAX - 20)
            );
            assert_eq!(stack_for(&sql), 0);
            assert!(parse(&sql).is_ok());
            let bytes = REMEMBERED.with_borrow(|table| table.bytes);
            assert!(bytes <= REMEMBERED_BYTES_MAX, "{bytes}");
            assert!(REMEMBERED.with_borrow(|table| table.by_sql.contains_key(sql.as_str())));
        }
    }
}
