//! Reading tables: one table's visible versions that satisfy WHERE, by index lookup where the condition allows, and joins by nested loops.

use sqlparser::ast::Expr;

use super::select::{JoinKind, SelectPlan, Source, JOIN_ROWS_MAX};
use super::{budget, flow_to_step_err, Env};
use crate::engine::{Engine, Snapshot, Table, Tx};
use crate::error::{sqlstate, PgError};
use crate::eval::{check_names, eval_condition, ident_name, ColumnInfo, Qual, RowScope};
use crate::value::{SqlType, Value};

/// The tuple versions a `WHERE` can match when it requires `column = constant` on a one-column unique index, or `None` to scan them all.
fn indexed_lookup(table: &Table, cond: &Expr, params: &[Value]) -> Option<Vec<usize>> {
    let (column, constant) = equality_on_column(cond)?;
    let col = table.column_index(&column)?;
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
    pub(super) fn scan(
        &mut self,
        env: Env,
        table_name: &str,
        alias: Option<&str>,
        selection: Option<&Expr>,
        snap: &Snapshot,
    ) -> Result<Vec<usize>, PgError> {
        let tx = self.tx_ref(env.session).clone();
        let db = self.db_name(env.session);
        self.ssi_note(&tx, &db, table_name, false)?;
        let table = self.table_ref(env.session, table_name)?;
        let infos = table.infos();
        let scope = RowScope::table(table_name, alias, &infos);
        if let Some(cond) = selection {
            check_names(cond, env.params, Some(scope))?;
        }
        // `key = constant` on a one-column unique index visits only the versions holding that key, as an index scan would; WHERE is still checked in full.
        let candidates: Vec<usize> =
            match selection.and_then(|c| indexed_lookup(table, c, env.params)) {
                Some(found) => found,
                None => (0..table.tuples.len()).collect(),
            };
        let mut out = vec![];
        for i in candidates {
            budget::charge(1)?;
            let t = &table.tuples[i];
            if !self.visible(t, snap) {
                continue;
            }
            let keep = match selection {
                None => true,
                Some(cond) => {
                    let mut ctx = env.row_ctx(scope, &t.data);
                    eval_condition(cond, &mut ctx, "WHERE").map_err(flow_to_step_err)?
                }
            };
            if keep {
                out.push(i);
            }
        }
        Ok(out)
    }

    /// Builds a join's rows by nested loops over each table's visible rows, then applies WHERE.
    pub(super) fn join_rows(
        &mut self,
        env: Env,
        plan: &SelectPlan,
        snap: &Snapshot,
        tx: &Tx,
    ) -> Result<Source, PgError> {
        let db = self.db_name(env.session);
        let mut infos: Vec<ColumnInfo> = vec![];
        let mut quals: Vec<Qual> = vec![];
        let mut rows: Vec<Vec<Value>> = vec![vec![]];
        for item in &plan.joins {
            self.ssi_note(tx, &db, &item.table, false)?;
            let table = self.table_ref(env.session, &item.table)?;
            let right: Vec<Vec<Value>> = table
                .tuples
                .iter()
                .filter(|t| self.visible(t, snap))
                .map(|t| t.data.clone())
                .collect();
            let width = table.columns.len();
            infos.extend(table.infos());
            quals.extend((0..width).map(|_| Qual {
                table: item.table.clone(),
                alias: item.alias.clone(),
            }));
            let scope = RowScope {
                table: &item.table,
                alias: item.alias.as_deref(),
                columns: &infos,
                quals: &quals,
            };
            if let Some(on) = &item.on {
                check_names(on, env.params, Some(scope))?;
            }
            let mut next = vec![];
            for left in &rows {
                let mut matched = false;
                for r in &right {
                    budget::charge(1)?;
                    let mut combined = left.clone();
                    combined.extend(r.iter().cloned());
                    let pass = match &item.on {
                        None => true,
                        Some(on) => {
                            let mut ctx = env.ctx(Some(scope), Some(&combined));
                            eval_condition(on, &mut ctx, "JOIN/ON").map_err(flow_to_step_err)?
                        }
                    };
                    if pass {
                        matched = true;
                        next.push(combined);
                        if next.len() > JOIN_ROWS_MAX {
                            return Err(PgError::new(
                                sqlstate::PROGRAM_LIMIT_EXCEEDED,
                                format!(
                                    "the join builds more than {JOIN_ROWS_MAX} rows, dosim's limit"
                                ),
                            ));
                        }
                    }
                }
                if !matched && item.kind == JoinKind::Left {
                    let mut padded = left.clone();
                    padded.extend((0..width).map(|_| Value::Null));
                    next.push(padded);
                }
            }
            rows = next;
        }
        let scope = RowScope {
            table: "",
            alias: None,
            columns: &infos,
            quals: &quals,
        };
        let mut data = vec![];
        if let Some(cond) = &plan.select.selection {
            check_names(cond, env.params, Some(scope))?;
        }
        for row in rows {
            let keep = match &plan.select.selection {
                None => true,
                Some(cond) => {
                    let mut ctx = env.ctx(Some(scope), Some(&row));
                    eval_condition(cond, &mut ctx, "WHERE").map_err(flow_to_step_err)?
                }
            };
            if keep {
                data.push(row);
            }
        }
        Ok(Source::Joined { infos, quals, data })
    }
}
