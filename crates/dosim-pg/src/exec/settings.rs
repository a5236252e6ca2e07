//! SET and SHOW: the settings the engine models (timeouts, isolation) and the ones drivers send that change nothing here.

use sqlparser::ast::{ContextModifier, Expr, Set, TransactionMode};

use super::txn::{isolation_of, isolation_settable};
use super::{result, result_with_notice};
use crate::engine::{Engine, Step};
use crate::error::{sqlstate, PgError};
use crate::eval::{object_name, unsupported};
use crate::value::{SqlType, Value};
use crate::{ColumnDesc, Isolation, QueryResult, SessionId};

fn parse_isolation_text(text: &str) -> Option<Isolation> {
    match text.trim().to_ascii_lowercase().as_str() {
        "read uncommitted" | "read committed" => Some(Isolation::ReadCommitted),
        "repeatable read" => Some(Isolation::RepeatableRead),
        "serializable" => Some(Isolation::Serializable),
        _ => None,
    }
}

/// Parses a time setting as PostgreSQL does: a bare number is milliseconds; units `us`, `ms`, `s`, `min`, `h`, `d`.
fn parse_duration_ms(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1000,
        "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

fn format_duration_ms(ms: u64) -> String {
    match ms {
        0 => "0".to_string(),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}min", ms / 60_000),
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ => format!("{ms}ms"),
    }
}

fn invalid_setting(name: &str, text: &str) -> PgError {
    PgError::new(
        sqlstate::INVALID_PARAMETER_VALUE,
        format!("invalid value for parameter \"{name}\": \"{text}\""),
    )
}

/// Sets one setting in a set of settings, checking its value as PostgreSQL does.
fn apply_setting(
    settings: &mut crate::engine::Settings,
    name: &str,
    text: &str,
    default_isolation: Isolation,
) -> Result<(), PgError> {
    let is_default = text.eq_ignore_ascii_case("default");
    match name {
        "lock_timeout" | "statement_timeout" => {
            let ms = if is_default {
                0
            } else {
                parse_duration_ms(text).ok_or_else(|| invalid_setting(name, text))?
            };
            if name == "lock_timeout" {
                settings.lock_timeout_ms = ms;
            } else {
                settings.statement_timeout_ms = ms;
            }
        }
        "default_transaction_isolation" => {
            settings.default_isolation = if is_default {
                default_isolation
            } else {
                parse_isolation_text(text).ok_or_else(|| invalid_setting(name, text))?
            };
        }
        "deadlock_timeout" | "server_version" | "server_encoding" => {
            return Err(PgError::new(
                "42501",
                format!("permission denied to set parameter \"{name}\""),
            ))
        }
        _ if PASSIVE_SETTINGS.iter().any(|(n, _)| *n == name) => {
            settings.other.insert(name.to_string(), text.to_string());
        }
        _ => {
            return Err(PgError::new(
                sqlstate::UNDEFINED_OBJECT,
                format!("unrecognized configuration parameter \"{name}\""),
            ))
        }
    }
    Ok(())
}

/// Settings drivers send that change nothing this engine models; SET accepts them and SHOW returns them.
const PASSIVE_SETTINGS: &[(&str, &str)] = &[
    ("application_name", ""),
    ("client_encoding", "UTF8"),
    ("client_min_messages", "notice"),
    ("datestyle", "ISO, MDY"),
    ("extra_float_digits", "1"),
    ("intervalstyle", "postgres"),
    ("search_path", "\"$user\", public"),
    ("standard_conforming_strings", "on"),
    ("timezone", "UTC"),
    ("idle_in_transaction_session_timeout", "0"),
    ("server_version", crate::eval::SERVER_VERSION),
    ("server_encoding", "UTF8"),
];

fn set_value_text(e: &Expr) -> Result<String, PgError> {
    Ok(match e {
        Expr::Value(v) => match &v.value {
            sqlparser::ast::Value::SingleQuotedString(s) => s.clone(),
            sqlparser::ast::Value::Number(n, _) => n.clone(),
            sqlparser::ast::Value::Boolean(b) => if *b { "on" } else { "off" }.to_string(),
            other => other.to_string(),
        },
        Expr::Identifier(i) => i.value.clone(),
        Expr::UnaryOp { op, expr } => format!("{op}{}", set_value_text(expr)?),
        other => other.to_string(),
    })
}

impl Engine {
    pub(super) fn set(&mut self, session: SessionId, set: &Set) -> Result<Step, PgError> {
        match set {
            Set::SetTransaction {
                modes,
                snapshot,
                session: session_scope,
            } => {
                if snapshot.is_some() {
                    return Err(unsupported("SET TRANSACTION SNAPSHOT statements"));
                }
                if *session_scope {
                    for mode in modes {
                        if let TransactionMode::IsolationLevel(level) = mode {
                            let iso = isolation_of(level)?;
                            self.sessions
                                .get_mut(&session)
                                .expect("exists")
                                .settings
                                .default_isolation = iso;
                        }
                    }
                    return Ok(result("SET"));
                }
                let explicit = self.tx_ref(session).explicit;
                if !explicit {
                    return Ok(result_with_notice(
                        "SET",
                        Engine::warning(
                            sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                            "SET TRANSACTION can only be used in transaction blocks",
                        ),
                    ));
                }
                self.apply_modes(session, modes)?;
                Ok(result("SET"))
            }
            Set::SingleAssignment {
                scope,
                variable,
                values,
                ..
            } => {
                let local = matches!(scope, Some(ContextModifier::Local));
                let name = object_name(variable);
                let text = match values.as_slice() {
                    [e] => set_value_text(e)?,
                    _ => return Err(unsupported("list values in SET")),
                };
                let explicit = self.tx_ref(session).explicit;
                if local && !explicit {
                    return Ok(result_with_notice(
                        "SET",
                        Engine::warning(
                            sqlstate::NO_ACTIVE_SQL_TRANSACTION,
                            "SET LOCAL can only be used in transaction blocks",
                        ),
                    ));
                }
                self.set_variable(session, &name, &text, local)?;
                Ok(result("SET"))
            }
            Set::SetTimeZone { value, .. } => {
                let text = set_value_text(value)?;
                self.set_variable(session, "timezone", &text, false)?;
                Ok(result("SET"))
            }
            _ => Err(unsupported("SET statements of this form")),
        }
    }

    /// Applies `SET [LOCAL] name = text`. Settings are transactional, as in PostgreSQL: a rollback restores them, and LOCAL ones end with the transaction.
    fn set_variable(
        &mut self,
        session: SessionId,
        name: &str,
        text: &str,
        local: bool,
    ) -> Result<(), PgError> {
        if name == "transaction_isolation" {
            let iso = parse_isolation_text(text).ok_or_else(|| invalid_setting(name, text))?;
            let tx = self.tx_mut(session);
            isolation_settable(tx)?;
            if tx.explicit {
                tx.isolation = iso;
            }
            return Ok(());
        }
        let default_isolation = self.config.default_isolation;
        let s = self.sessions.get_mut(&session).expect("exists");
        if local {
            if let Some(tx) = s.tx.as_mut() {
                tx.settings_at_commit
                    .get_or_insert_with(|| s.settings.clone());
            }
        } else if let Some(at_commit) = s.tx.as_mut().and_then(|t| t.settings_at_commit.as_mut()) {
            apply_setting(at_commit, name, text, default_isolation)?;
        }
        apply_setting(&mut s.settings, name, text, default_isolation)
    }

    pub(super) fn show(&mut self, session: SessionId, name: &str) -> Result<Step, PgError> {
        let s = &self.sessions[&session];
        let iso_name = |i: Isolation| i.name().to_string();
        let value = match name {
            "transaction_isolation" | "transaction isolation level" => iso_name(
                s.tx.as_ref()
                    .map(|t| t.isolation)
                    .unwrap_or(s.settings.default_isolation),
            ),
            "default_transaction_isolation" => iso_name(s.settings.default_isolation),
            "transaction_read_only" => if s.tx.as_ref().is_some_and(|t| t.read_only) {
                "on"
            } else {
                "off"
            }
            .to_string(),
            "lock_timeout" => format_duration_ms(s.settings.lock_timeout_ms),
            "statement_timeout" => format_duration_ms(s.settings.statement_timeout_ms),
            "deadlock_timeout" => format_duration_ms(self.config.deadlock_timeout_ms),
            other => match s.settings.other.get(other) {
                Some(v) => v.clone(),
                None => match PASSIVE_SETTINGS.iter().find(|(n, _)| *n == other) {
                    Some((_, v)) => v.to_string(),
                    None => {
                        return Err(PgError::new(
                            sqlstate::UNDEFINED_OBJECT,
                            format!("unrecognized configuration parameter \"{other}\""),
                        ))
                    }
                },
            },
        };
        let column = if name == "transaction isolation level" {
            "transaction_isolation"
        } else {
            name
        };
        Ok(Step::Done(Box::new(QueryResult {
            tag: "SHOW".to_string(),
            columns: vec![ColumnDesc {
                name: column.to_string(),
                ty: SqlType::Text,
            }],
            rows: vec![vec![Value::Text(value)]],
            notices: vec![],
        })))
    }
}
