//! Uncorrelated subqueries: taken out of their statement, run first as PostgreSQL's InitPlans run, and their results put back in their place.

use std::ops::ControlFlow;
use std::sync::Arc;

use sqlparser::ast::{
    Expr, InTarget, OnConflictAction, OnInsert, Query, SelectItem, SetExpr, Statement,
};

use super::Current;
use crate::engine::{Engine, Step};
use crate::error::{sqlstate, PgError};
use crate::value::Value;
use crate::SessionId;

/// A statement waiting for one of its subqueries; the subquery's place holds a marker until its result replaces it.
#[derive(Debug)]
pub(crate) struct Subquery {
    pub(super) outer: Statement,
    pub(super) kind: SubKind,
    pub(super) inner: Current,
}

#[derive(Debug)]
pub(super) enum SubKind {
    /// An `INSERT … SELECT`'s rows, which become its VALUES.
    InsertRows,
    Scalar,
    In {
        needle: Box<Expr>,
        negated: bool,
    },
    Exists {
        negated: bool,
    },
}

const SUBQUERY_MARKER: &str = "$subquery";

fn is_marker(e: &Expr) -> bool {
    matches!(e, Expr::Value(v) if matches!(&v.value, sqlparser::ast::Value::Placeholder(p) if p == SUBQUERY_MARKER))
}

/// Visits an expression tree, parents first, until `f` returns true.
pub(super) fn walk_mut(e: &mut Expr, f: &mut dyn FnMut(&mut Expr) -> bool) -> bool {
    if f(e) {
        return true;
    }
    match e {
        Expr::BinaryOp { left, right, .. } => walk_mut(left, f) || walk_mut(right, f),
        Expr::UnaryOp { expr, .. }
        | Expr::Nested(expr)
        | Expr::Cast { expr, .. }
        | Expr::IsNull(expr)
        | Expr::IsNotNull(expr)
        | Expr::IsTrue(expr)
        | Expr::IsFalse(expr)
        | Expr::IsNotTrue(expr)
        | Expr::IsNotFalse(expr) => walk_mut(expr, f),
        Expr::IsDistinctFrom(a, b) | Expr::IsNotDistinctFrom(a, b) => {
            walk_mut(a, f) || walk_mut(b, f)
        }
        Expr::In { expr, target, .. } => {
            walk_mut(expr, f)
                || match target {
                    InTarget::List(list) => list.iter_mut().any(|x| walk_mut(x, f)),
                    _ => false,
                }
        }
        Expr::Between {
            expr, low, high, ..
        } => walk_mut(expr, f) || walk_mut(low, f) || walk_mut(high, f),
        Expr::Like { expr, pattern, .. } => walk_mut(expr, f) || walk_mut(pattern, f),
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => {
            operand.as_deref_mut().is_some_and(|o| walk_mut(o, f))
                || conditions
                    .iter_mut()
                    .any(|c| walk_mut(&mut c.condition, f) || walk_mut(&mut c.result, f))
                || else_result.as_deref_mut().is_some_and(|x| walk_mut(x, f))
        }
        Expr::Function(func) => match &mut func.args {
            sqlparser::ast::FunctionArguments::List(list) => {
                list.args.iter_mut().any(|a| match a {
                    sqlparser::ast::FunctionArg::Unnamed(
                        sqlparser::ast::FunctionArgExpr::Expr(x),
                    ) => walk_mut(x, f),
                    _ => false,
                })
            }
            _ => false,
        },
        _ => false,
    }
}

/// The expressions of a statement that may hold subqueries: select lists, WHERE, HAVING, SET values, VALUES rows.
fn statement_exprs_mut(stmt: &mut Statement) -> Vec<&mut Expr> {
    let mut out: Vec<&mut Expr> = vec![];
    match stmt {
        Statement::Query(q) => {
            if let SetExpr::Select(sel) = q.body.as_mut() {
                for item in &mut sel.projection {
                    if let SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } =
                        item
                    {
                        out.push(e);
                    }
                }
                out.extend(sel.selection.as_mut());
                out.extend(sel.having.as_mut());
            }
        }
        Statement::Update(up) => {
            for a in &mut up.assignments {
                out.push(&mut a.value);
            }
            out.extend(up.selection.as_mut());
        }
        Statement::Delete(del) => out.extend(del.selection.as_mut()),
        Statement::Insert(ins) => {
            if let Some(source) = ins.source.as_mut() {
                if let SetExpr::Values(values) = source.body.as_mut() {
                    for row in &mut values.rows {
                        out.extend(row.content.iter_mut());
                    }
                }
            }
            if let Some(OnInsert::OnConflict(oc)) = ins.on.as_mut() {
                if let OnConflictAction::DoUpdate(du) = &mut oc.action {
                    for a in &mut du.assignments {
                        out.push(&mut a.value);
                    }
                    out.extend(du.selection.as_mut());
                }
            }
        }
        _ => {}
    }
    out
}

/// Whether a statement may hold a subquery that [`take_insert_query`] or [`take_subquery`] would
/// take out: an `INSERT` from a query, or a subquery anywhere in its expressions. A statement for
/// which this is false is run as parsed, without a copy of its own.
pub(super) fn may_hold_subquery(stmt: &Statement) -> bool {
    if let Statement::Insert(ins) = stmt {
        if ins
            .source
            .as_ref()
            .is_some_and(|source| !matches!(source.body.as_ref(), SetExpr::Values(_)))
        {
            return true;
        }
    }
    sqlparser::ast::visit_expressions(stmt, |e| match e {
        Expr::Subquery(_)
        | Expr::Exists { .. }
        | Expr::In {
            target: InTarget::Subquery(_),
            ..
        } => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// Takes an `INSERT … SELECT`'s query out, leaving an empty VALUES list until its rows come back.
pub(super) fn take_insert_query(stmt: &mut Statement) -> Option<Query> {
    let Statement::Insert(ins) = stmt else {
        return None;
    };
    let source = ins.source.as_mut()?;
    if matches!(source.body.as_ref(), SetExpr::Values(_)) {
        return None;
    }
    let query = source.as_ref().clone();
    *source.body = SetExpr::Values(sqlparser::ast::Values {
        explicit_row: false,
        value_keyword: true,
        rows: vec![],
    });
    source.order_by = None;
    source.limit_clause = None;
    source.locks = vec![];
    source.with = None;
    Some(query)
}

/// Takes the first subquery out of a statement, leaving a marker in its place.
pub(super) fn take_subquery(stmt: &mut Statement) -> Option<(Query, SubKind)> {
    let mut found: Option<(Query, SubKind)> = None;
    for e in statement_exprs_mut(stmt) {
        if found.is_some() {
            break;
        }
        walk_mut(e, &mut |node| {
            let marker = || {
                Expr::Value(sqlparser::ast::Value::Placeholder(SUBQUERY_MARKER.to_string()).into())
            };
            let taken = match node {
                Expr::Subquery(q) => Some((q.as_ref().clone(), SubKind::Scalar)),
                Expr::Exists { subquery, negated } => Some((
                    subquery.as_ref().clone(),
                    SubKind::Exists { negated: *negated },
                )),
                Expr::In {
                    expr,
                    target: InTarget::Subquery(q),
                    negated,
                    ..
                } => Some((
                    q.as_ref().clone(),
                    SubKind::In {
                        needle: expr.clone(),
                        negated: *negated,
                    },
                )),
                _ => None,
            };
            match taken {
                Some(t) => {
                    *node = marker();
                    found = Some(t);
                    true
                }
                None => false,
            }
        });
    }
    found
}

impl Engine {
    /// Runs an uncorrelated subquery before its statement, as PostgreSQL's InitPlans run, then puts its result in the statement's place of it.
    pub(super) fn step_subquery(
        &mut self,
        session: SessionId,
        sub: Subquery,
        params: &mut Vec<Value>,
        now: crate::SimTime,
    ) -> Result<Step, PgError> {
        let Subquery {
            mut outer,
            kind,
            inner,
        } = sub;
        let result = match self.step(session, inner, params, now) {
            Step::Done(result) => result,
            Step::Blocked(inner, wait) => {
                return Ok(Step::Blocked(
                    Current::Sub(Box::new(Subquery { outer, kind, inner })),
                    wait,
                ))
            }
            // A column the subquery cannot resolve most likely belongs to the outer query.
            Step::Error(e)
                if e.sqlstate == sqlstate::UNDEFINED_COLUMN
                    || e.message.starts_with("missing FROM-clause entry") =>
            {
                return Err(PgError::new(
                    sqlstate::FEATURE_NOT_SUPPORTED,
                    "correlated subqueries are not supported",
                )
                .with_detail(e.message)
                .with_hint("dosim runs a subquery once, before its statement, as PostgreSQL runs an uncorrelated one."))
            }
            Step::Error(e) => return Err(e),
        };
        if let SubKind::InsertRows = kind {
            let mut rows = vec![];
            for row in result.rows {
                let exprs: Vec<Expr> = row
                    .into_iter()
                    .map(|v| {
                        params.push(v);
                        Expr::Value(
                            sqlparser::ast::Value::Placeholder(format!("$s{}", params.len()))
                                .into(),
                        )
                    })
                    .collect();
                rows.push(sqlparser::ast::Parens {
                    opening_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                    content: exprs,
                    closing_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                });
            }
            let Statement::Insert(ins) = &mut outer else {
                unreachable!("InsertRows comes from an INSERT")
            };
            let source = ins.source.as_mut().expect("taken from this source");
            *source.body = SetExpr::Values(sqlparser::ast::Values {
                explicit_row: false,
                value_keyword: true,
                rows,
            });
            return self.start(session, Arc::new(outer), params, now);
        }
        if result.columns.len() != 1 {
            match kind {
                SubKind::InsertRows => unreachable!("handled above"),
                SubKind::Exists { .. } => {}
                SubKind::In { .. } => {
                    return Err(PgError::new(
                        sqlstate::SYNTAX_ERROR,
                        "subquery has too many columns",
                    ))
                }
                SubKind::Scalar => {
                    return Err(PgError::new(
                        sqlstate::SYNTAX_ERROR,
                        "subquery must return only one column",
                    ))
                }
            }
        }
        let mut placeholder = |v: Value| {
            params.push(v);
            Expr::Value(sqlparser::ast::Value::Placeholder(format!("$s{}", params.len())).into())
        };
        let replacement = match kind {
            SubKind::InsertRows => unreachable!("handled above"),
            SubKind::Scalar => {
                if result.rows.len() > 1 {
                    return Err(PgError::new(
                        sqlstate::CARDINALITY_VIOLATION,
                        "more than one row returned by a subquery used as an expression",
                    ));
                }
                let v = result
                    .rows
                    .into_iter()
                    .next()
                    .and_then(|r| r.into_iter().next())
                    .unwrap_or(Value::Null);
                placeholder(v)
            }
            SubKind::Exists { negated } => Expr::Value(
                sqlparser::ast::Value::Boolean(result.rows.is_empty() == negated).into(),
            ),
            SubKind::In { needle, negated } => {
                if result.rows.is_empty() {
                    Expr::Value(sqlparser::ast::Value::Boolean(negated).into())
                } else {
                    let list = result
                        .rows
                        .into_iter()
                        .map(|r| placeholder(r.into_iter().next().unwrap_or(Value::Null)))
                        .collect();
                    Expr::In {
                        expr: needle,
                        target: InTarget::List(list),
                        negated,
                        global: false,
                    }
                }
            }
        };
        let mut replacement = Some(replacement);
        for e in statement_exprs_mut(&mut outer) {
            walk_mut(e, &mut |node| {
                if is_marker(node) {
                    if let Some(r) = replacement.take() {
                        *node = r;
                    }
                    return true;
                }
                false
            });
        }
        self.start(session, Arc::new(outer), params, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every statement a subquery is taken out of is one that gets a copy of its own; the others
    /// run as parsed.
    #[test]
    fn only_statements_with_subqueries_to_take_out_are_copied() {
        let cases = [
            (
                "SELECT balance FROM accounts WHERE id = $1 FOR UPDATE",
                false,
            ),
            (
                "UPDATE accounts SET balance = balance + $1 WHERE id = $2",
                false,
            ),
            (
                "INSERT INTO t (a) VALUES (1), (2) ON CONFLICT (a) DO NOTHING",
                false,
            ),
            ("DELETE FROM t WHERE a IN (1, 2)", false),
            ("SELECT * FROM (SELECT 1) AS s", false),
            ("INSERT INTO t (a) SELECT a FROM u", true),
            ("SELECT (SELECT max(a) FROM u)", true),
            ("DELETE FROM t WHERE a IN (SELECT a FROM u)", true),
            (
                "UPDATE t SET a = 1 WHERE NOT EXISTS (SELECT 1 FROM u)",
                true,
            ),
            ("UPDATE t SET a = (SELECT 2) + 1 WHERE a = 1", true),
        ];
        for (sql, holds) in cases {
            let stmt = crate::exec::parse(sql).expect(sql).remove(0);
            assert_eq!(may_hold_subquery(&stmt), holds, "{sql}");
            let mut copy = (*stmt).clone();
            let taken =
                take_insert_query(&mut copy).is_some() || take_subquery(&mut copy).is_some();
            assert_eq!(taken, holds, "{sql}");
        }
    }
}
