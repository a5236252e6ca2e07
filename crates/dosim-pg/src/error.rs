//! PostgreSQL errors: a SQLSTATE, PostgreSQL's exact message, and the optional detail and hint.

use std::fmt;

/// An error as PostgreSQL reports it in an `ErrorResponse`.
///
/// `sqlstate` and `message` are what clients match on, so both are PostgreSQL's exact text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgError {
    /// The five-character SQLSTATE code, e.g. `40001`.
    pub sqlstate: &'static str,
    /// The primary message, e.g. `could not serialize access due to concurrent update`.
    pub message: String,
    /// The `DETAIL` field, when PostgreSQL sends one.
    pub detail: Option<String>,
    /// The `HINT` field, when PostgreSQL sends one.
    pub hint: Option<String>,
}

impl PgError {
    /// An error with a SQLSTATE and a message, no detail and no hint.
    pub fn new(sqlstate: &'static str, message: impl Into<String>) -> PgError {
        PgError {
            sqlstate,
            message: message.into(),
            detail: None,
            hint: None,
        }
    }

    /// The same error with a `DETAIL` field.
    pub fn with_detail(mut self, detail: impl Into<String>) -> PgError {
        self.detail = Some(detail.into());
        self
    }

    /// The same error with a `HINT` field.
    pub fn with_hint(mut self, hint: impl Into<String>) -> PgError {
        self.hint = Some(hint.into());
        self
    }

    /// `ERROR` for every error this engine raises; `FATAL` and `PANIC` belong to the wire layer.
    pub fn severity(&self) -> &'static str {
        "ERROR"
    }
}

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ERROR: {} (SQLSTATE {})", self.message, self.sqlstate)
    }
}

impl std::error::Error for PgError {}

/// SQLSTATE codes this engine raises, named as in PostgreSQL's `errcodes.txt`.
pub mod sqlstate {
    pub const FEATURE_NOT_SUPPORTED: &str = "0A000";
    pub const CARDINALITY_VIOLATION: &str = "21000";
    pub const NUMERIC_VALUE_OUT_OF_RANGE: &str = "22003";
    pub const INVALID_DATETIME_FORMAT: &str = "22007";
    pub const DATETIME_FIELD_OVERFLOW: &str = "22008";
    pub const DIVISION_BY_ZERO: &str = "22012";
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    pub const NOT_NULL_VIOLATION: &str = "23502";
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const ACTIVE_SQL_TRANSACTION: &str = "25001";
    pub const NO_ACTIVE_SQL_TRANSACTION: &str = "25P01";
    pub const IN_FAILED_SQL_TRANSACTION: &str = "25P02";
    pub const INVALID_SAVEPOINT_SPECIFICATION: &str = "3B001";
    pub const SERIALIZATION_FAILURE: &str = "40001";
    pub const DEADLOCK_DETECTED: &str = "40P01";
    pub const SYNTAX_ERROR: &str = "42601";
    pub const GROUPING_ERROR: &str = "42803";
    pub const DATATYPE_MISMATCH: &str = "42804";
    pub const UNDEFINED_COLUMN: &str = "42703";
    pub const UNDEFINED_FUNCTION: &str = "42883";
    pub const UNDEFINED_TABLE: &str = "42P01";
    pub const DUPLICATE_TABLE: &str = "42P07";
    pub const DUPLICATE_COLUMN: &str = "42701";
    pub const INVALID_COLUMN_REFERENCE: &str = "42P10";
    pub const UNDEFINED_OBJECT: &str = "42704";
    pub const INVALID_TABLE_DEFINITION: &str = "42P16";
    pub const PROGRAM_LIMIT_EXCEEDED: &str = "54000";
    pub const OUT_OF_MEMORY: &str = "53200";
    pub const STACK_DEPTH_EXCEEDED: &str = "54001";
    pub const LOCK_NOT_AVAILABLE: &str = "55P03";
    pub const QUERY_CANCELED: &str = "57014";
    pub const UNDEFINED_PARAMETER: &str = "42P02";
}
