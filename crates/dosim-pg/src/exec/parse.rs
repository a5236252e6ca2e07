//! Parsing a query string with sqlparser's PostgreSQL dialect, and PostgreSQL's wording for its syntax errors.

use sqlparser::ast::Statement;
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::{Parser, ParserError};

use crate::error::{sqlstate, PgError};

/// How deep sqlparser may nest; deeper input is refused rather than overflowing the stack.
const RECURSION_LIMIT: usize = 50;

pub(crate) fn parse(sql: &str) -> Result<Vec<Statement>, PgError> {
    let dialect = PostgreSqlDialect {};
    Parser::new(&dialect)
        .with_recursion_limit(RECURSION_LIMIT)
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| syntax_error(&e))
}

/// Turns sqlparser's message into PostgreSQL's `syntax error at or near "…"` where it names the token.
fn syntax_error(e: &ParserError) -> PgError {
    let text = match e {
        ParserError::TokenizerError(t) | ParserError::ParserError(t) => t.clone(),
        ParserError::RecursionLimitExceeded => {
            return PgError::new("54001", "stack depth limit exceeded")
        }
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
