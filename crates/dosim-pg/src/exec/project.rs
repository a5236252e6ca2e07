//! Select lists and ORDER BY: result columns, their values per row, and sorting.

use std::cmp::Ordering;

use sqlparser::ast::{Expr, OrderByKind, SelectItem};

use super::select::SelectPlan;
use super::{flow_to_step_err, Env};
use crate::engine::Table;
use crate::error::{sqlstate, PgError};
use crate::eval::{
    eval, ident_name, object_name, output_name, sql_compare, static_type, unsupported, Ctx, Res,
    RowScope,
};
use crate::value::{SqlType, Value};
use crate::ColumnDesc;

pub(super) struct Projection {
    pub(super) columns: Vec<ColumnDesc>,
    /// `None` stands for a wildcard's column at that index.
    pub(super) exprs: Vec<ProjItem>,
}

pub(super) enum ProjItem {
    Column(usize),
    Expr(Box<Expr>),
}

pub(super) fn projection(
    items: &[SelectItem],
    scope: Option<&RowScope>,
) -> Result<Projection, PgError> {
    let mut columns = vec![];
    let mut exprs = vec![];
    for item in items {
        match item {
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                let Some(scope) = scope else {
                    return Err(PgError::new(
                        sqlstate::SYNTAX_ERROR,
                        "SELECT * with no tables specified is not valid",
                    ));
                };
                // In a join, `t.*` keeps to the columns of the FROM item `t` names.
                let only = match item {
                    SelectItem::QualifiedWildcard(
                        sqlparser::ast::SelectItemQualifiedWildcardKind::ObjectName(name),
                        _,
                    ) if !scope.quals.is_empty() => {
                        let q = object_name(name);
                        if !scope.quals.iter().any(|x| x.answers_to(&q)) {
                            return Err(PgError::new(
                                sqlstate::UNDEFINED_TABLE,
                                format!("missing FROM-clause entry for table \"{q}\""),
                            ));
                        }
                        Some(q)
                    }
                    _ => None,
                };
                for (i, c) in scope.columns.iter().enumerate() {
                    if let Some(q) = &only {
                        if !scope.quals[i].answers_to(q) {
                            continue;
                        }
                    }
                    columns.push(ColumnDesc {
                        name: c.name.clone(),
                        ty: c.ty,
                    });
                    exprs.push(ProjItem::Column(i));
                }
            }
            SelectItem::UnnamedExpr(e) => {
                columns.push(ColumnDesc {
                    name: output_name(e),
                    ty: static_type(e, scope),
                });
                exprs.push(ProjItem::Expr(Box::new(e.clone())));
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                columns.push(ColumnDesc {
                    name: ident_name(alias),
                    ty: static_type(expr, scope),
                });
                exprs.push(ProjItem::Expr(Box::new(expr.clone())));
            }
            SelectItem::ExprWithAliases { .. } => return Err(unsupported("multiple aliases")),
        }
    }
    Ok(Projection { columns, exprs })
}

pub(super) fn project(p: &Projection, ctx: &mut Ctx) -> Res<Vec<Value>> {
    let mut out = Vec::with_capacity(p.exprs.len());
    for item in &p.exprs {
        out.push(match item {
            ProjItem::Column(i) => ctx.row.map(|r| r[*i].clone()).unwrap_or(Value::Null),
            ProjItem::Expr(e) => eval(e, ctx)?,
        });
    }
    Ok(out)
}

/// Where a column's static type is unknown (`text`, e.g. a parameter or a subquery's result), the values tell.
pub(super) fn refine_types(columns: &mut [ColumnDesc], rows: &[Vec<Value>]) {
    for (i, c) in columns.iter_mut().enumerate() {
        if c.ty != SqlType::Text {
            continue;
        }
        if let Some(t) = rows
            .iter()
            .filter_map(|r| r.get(i).and_then(Value::sql_type))
            .next()
        {
            c.ty = t;
        }
    }
}

/// Sorts rows by ORDER BY, evaluating the keys on each row; stable, so ties keep their order.
pub(super) fn order_data(
    env: Env,
    plan: &SelectPlan,
    scope: RowScope,
    data: Vec<Vec<Value>>,
) -> Result<Vec<Vec<Value>>, PgError> {
    let Some(order_by) = &plan.query.order_by else {
        return Ok(data);
    };
    let OrderByKind::Expressions(keys) = &order_by.kind else {
        return Err(unsupported("ORDER BY ALL clauses"));
    };
    let proj = projection_exprs(&plan.select.projection, &scope)?;
    let exprs: Vec<Expr> = keys
        .iter()
        .map(|k| resolve_order_expr(&k.expr, &proj))
        .collect::<Result<_, _>>()?;
    let mut keyed = vec![];
    for row in data {
        let mut ctx = env.row_ctx(scope, &row);
        let mut key = vec![];
        for e in &exprs {
            key.push(eval(e, &mut ctx).map_err(flow_to_step_err)?);
        }
        keyed.push((key, row));
    }
    sort_keyed(&mut keyed, keys)?;
    Ok(keyed.into_iter().map(|(_, r)| r).collect())
}

/// Sorts a table's row indexes by ORDER BY; the sort is stable, so ties keep storage order.
///
/// Unlike [`order_data`], it resolves the keys row by row, so that a key naming no select-list position fails only once a row is sorted.
pub(super) fn order_rows(
    env: Env,
    plan: &SelectPlan,
    scope: RowScope,
    table: &Table,
    rows: Vec<usize>,
) -> Result<Vec<usize>, PgError> {
    let Some(order_by) = &plan.query.order_by else {
        return Ok(rows);
    };
    let OrderByKind::Expressions(keys) = &order_by.kind else {
        return Err(unsupported("ORDER BY ALL clauses"));
    };
    let proj = projection_exprs(&plan.select.projection, &scope)?;
    let mut keyed: Vec<(Vec<Value>, usize)> = vec![];
    for idx in rows {
        let mut ctx = env.row_ctx(scope, &table.tuples[idx].data);
        let mut key = vec![];
        for k in keys {
            let expr = resolve_order_expr(&k.expr, &proj)?;
            key.push(eval(&expr, &mut ctx).map_err(flow_to_step_err)?);
        }
        keyed.push((key, idx));
    }
    sort_keyed(&mut keyed, keys)?;
    Ok(keyed.into_iter().map(|(_, i)| i).collect())
}

/// A grouping key's text: equal values give equal text (numerics without trailing zeros), NULL its own.
pub(super) fn group_text(v: &Value) -> String {
    match v {
        Value::Null => "\u{0}null".to_string(),
        other => crate::engine::key_text(other),
    }
}

/// Sorts by precomputed ORDER BY keys: ASC/DESC, NULLS FIRST/LAST (NULLs sort as larger than any value by default); stable.
pub(super) fn sort_keyed<T>(
    keyed: &mut [(Vec<Value>, T)],
    keys: &[sqlparser::ast::OrderByExpr],
) -> Result<(), PgError> {
    let mut err = None;
    keyed.sort_by(|(a, _), (b, _)| {
        for (i, k) in keys.iter().enumerate() {
            let desc = matches!(k.options.sort, Some(sqlparser::ast::OrderBySort::Desc));
            let nulls_first = k.options.nulls_first.unwrap_or(desc);
            let ord = match (a[i].is_null(), b[i].is_null()) {
                (true, true) => Ordering::Equal,
                (true, false) if nulls_first => Ordering::Less,
                (true, false) => Ordering::Greater,
                (false, true) if nulls_first => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => match sql_compare(a[i].clone(), b[i].clone(), "<") {
                    Ok(Some(o)) if desc => o.reverse(),
                    Ok(Some(o)) => o,
                    Ok(None) => Ordering::Equal,
                    Err(e) => {
                        err.get_or_insert(e);
                        Ordering::Equal
                    }
                },
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
    match err {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Select-list aliases and positions, which ORDER BY may name.
pub(super) fn projection_exprs(
    items: &[SelectItem],
    scope: &RowScope,
) -> Result<Vec<(Option<String>, Expr)>, PgError> {
    let mut out = vec![];
    for item in items {
        match item {
            SelectItem::UnnamedExpr(e) => out.push((None, e.clone())),
            SelectItem::ExprWithAlias { expr, alias } => {
                out.push((Some(ident_name(alias)), expr.clone()))
            }
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                for (i, c) in scope.columns.iter().enumerate() {
                    let column = sqlparser::ast::Ident::new(c.name.clone());
                    // A joined column is qualified, so that ORDER BY 1 is never ambiguous.
                    let expr = match scope.quals.get(i) {
                        Some(q) => Expr::CompoundIdentifier(vec![
                            sqlparser::ast::Ident::new(
                                q.alias.clone().unwrap_or_else(|| q.table.clone()),
                            ),
                            column,
                        ]),
                        None => Expr::Identifier(column),
                    };
                    out.push((None, expr));
                }
            }
            _ => return Err(unsupported("multiple aliases")),
        }
    }
    Ok(out)
}

pub(super) fn resolve_order_expr(
    expr: &Expr,
    proj: &[(Option<String>, Expr)],
) -> Result<Expr, PgError> {
    match expr {
        Expr::Value(v) => {
            if let sqlparser::ast::Value::Number(n, _) = &v.value {
                let pos: usize = n.parse().unwrap_or(0);
                return proj
                    .get(pos.wrapping_sub(1))
                    .map(|(_, e)| e.clone())
                    .ok_or_else(|| {
                        PgError::new(
                            "42P10",
                            format!("ORDER BY position {n} is not in select list"),
                        )
                    });
            }
            Ok(expr.clone())
        }
        Expr::Identifier(i) => {
            let name = ident_name(i);
            Ok(proj
                .iter()
                .find(|(alias, _)| alias.as_deref() == Some(name.as_str()))
                .map(|(_, e)| e.clone())
                .unwrap_or_else(|| expr.clone()))
        }
        _ => Ok(expr.clone()),
    }
}
