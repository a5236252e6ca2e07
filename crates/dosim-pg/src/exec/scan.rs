//! Reading a table: the visible versions that satisfy WHERE, by index lookup where the condition allows.

use sqlparser::ast::Expr;

use super::flow_to_step_err;
use crate::engine::{unix_us, Engine, Snapshot, Table};
use crate::error::PgError;
use crate::eval::{check_names, eval_condition, ident_name, Ctx, RowScope};
use crate::value::{SqlType, Value};
use crate::SessionId;

/// The tuple versions a `WHERE` can match when it requires `column = constant` on a one-column unique index, or `None` to scan them all.
fn indexed_lookup(table: &Table, cond: &Expr, params: &[Value]) -> Option<Vec<usize>> {
    let (column, constant) = equality_on_column(cond)?;
    let col = table.columns.iter().position(|c| c.info.name == column)?;
    let ui = table.uniques.iter().position(|u| u.columns == [col])?;
    let value = match constant {
        Expr::Value(v) => match &v.value {
            // A number against a text column is PostgreSQL's `text = integer` error, which the full scan raises.
            sqlparser::ast::Value::Number(_, _) if table.columns[col].info.ty == SqlType::Text => {
                return None
            }
            sqlparser::ast::Value::Number(n, _) => Value::Text(n.clone()),
            sqlparser::ast::Value::SingleQuotedString(s) => Value::Text(s.clone()),
            sqlparser::ast::Value::Placeholder(p) => {
                let n: usize = p
                    .strip_prefix("$s")
                    .or_else(|| p.strip_prefix('$'))?
                    .parse()
                    .ok()?;
                params.get(n.checked_sub(1)?)?.clone()
            }
            _ => return None,
        },
        _ => return None,
    };
    // Anything that does not convert cleanly takes the full scan, which raises PostgreSQL's error.
    let typed = value.coerce(table.columns[col].info.ty).ok()?;
    if typed.is_null() {
        return None;
    }
    let mut row = vec![Value::Null; table.columns.len()];
    row[col] = typed;
    let key = table.unique_key(ui, &row)?;
    Some(table.unique_keys.get(&key).cloned().unwrap_or_default())
}

/// `column = constant` (either way round), alone or as one side of an AND chain.
fn equality_on_column(cond: &Expr) -> Option<(String, &Expr)> {
    match cond {
        Expr::Nested(inner) => equality_on_column(inner),
        Expr::BinaryOp {
            left,
            op: sqlparser::ast::BinaryOperator::And,
            right,
        } => equality_on_column(left).or_else(|| equality_on_column(right)),
        Expr::BinaryOp {
            left,
            op: sqlparser::ast::BinaryOperator::Eq,
            right,
        } => {
            let column = |e: &Expr| match e {
                Expr::Identifier(i) => Some(ident_name(i)),
                Expr::CompoundIdentifier(parts) if parts.len() == 2 => Some(ident_name(&parts[1])),
                _ => None,
            };
            let constant = |e: &Expr| matches!(e, Expr::Value(_));
            match (column(left), column(right)) {
                (Some(c), None) if constant(right) => Some((c, right.as_ref())),
                (None, Some(c)) if constant(left) => Some((c, left.as_ref())),
                _ => None,
            }
        }
        _ => None,
    }
}

impl Engine {
    /// The visible rows of a table that satisfy WHERE, in storage order.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn scan(
        &mut self,
        session: SessionId,
        table_name: &str,
        alias: Option<&str>,
        selection: Option<&Expr>,
        snap: &Snapshot,
        params: &[Value],
        now: crate::SimTime,
    ) -> Result<Vec<usize>, PgError> {
        let tx = self.tx_ref(session).clone();
        let db = self.db_name(session);
        self.ssi_note(&tx, &db, table_name, false)?;
        let table = self.table_ref(session, table_name)?;
        let infos = table.infos();
        if let Some(cond) = selection {
            check_names(
                cond,
                params,
                Some(RowScope {
                    table: table_name,
                    alias,
                    columns: &infos,
                    quals: &[],
                }),
            )?;
        }
        // `key = constant` on a one-column unique index visits only the versions holding that key, as an index scan would; WHERE is still checked in full.
        let candidates: Vec<usize> = match selection.and_then(|c| indexed_lookup(table, c, params))
        {
            Some(found) => found,
            None => (0..table.tuples.len()).collect(),
        };
        let mut out = vec![];
        for i in candidates {
            let t = &table.tuples[i];
            if !self.visible(t, snap) {
                continue;
            }
            let keep = match selection {
                None => true,
                Some(cond) => {
                    let mut ctx = Ctx {
                        params,
                        now_us: tx.start_us,
                        clock_us: unix_us(now),
                        scope: Some(RowScope {
                            table: table_name,
                            alias,
                            columns: &infos,
                            quals: &[],
                        }),
                        row: Some(&t.data),
                        excluded: None,
                        aggregates: None,
                        hook: None,
                    };
                    eval_condition(cond, &mut ctx, "WHERE").map_err(flow_to_step_err)?
                }
            };
            if keep {
                out.push(i);
            }
        }
        Ok(out)
    }
}
