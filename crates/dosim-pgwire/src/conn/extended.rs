//! The extended query protocol: `Parse`, `Bind`, `Describe`, `Execute` and `Close`, with the
//! prepared statements and portals a connection keeps.

use std::collections::{BTreeMap, VecDeque};
use std::io;

use dosim_pg::{ColumnDesc, PgError, SqlType, Value};
use tokio::io::{AsyncRead, AsyncWrite};

use super::Conn;
use crate::codec::{malformed, Body, Io};
use crate::describe::describe;
use crate::emit::{write_result, write_row, Emit};
use crate::types::{decode_param, type_of_oid};

/// The OID a parameter with no known type is described as; tokio-postgres then binds strings to it.
const TEXT_OID: u32 = 25;

pub(super) struct Prepared {
    pub(super) sql: String,
    /// The OIDs `ParameterDescription` reports: the client's declared ones, else the inferred ones.
    pub(super) param_oids: Vec<u32>,
    pub(super) param_types: Vec<Option<SqlType>>,
    pub(super) columns: Option<Vec<ColumnDesc>>,
}

pub(super) struct Portal {
    pub(super) sql: String,
    pub(super) params: Vec<Value>,
    pub(super) columns: Option<Vec<ColumnDesc>>,
    /// Each result column's format, true for binary.
    pub(super) formats: Vec<bool>,
    /// The rows an `Execute` with a row limit left for the next one, once the statement has run.
    pub(super) remaining: Option<Remaining>,
}

pub(super) struct Remaining {
    pub(super) rows: VecDeque<Vec<Value>>,
    pub(super) columns: Vec<ColumnDesc>,
    pub(super) tag: String,
}

impl Conn {
    pub(super) fn parse<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        body: &[u8],
    ) -> Result<(), PgError> {
        let mut b = Body::new(body);
        let name = b.cstr()?.to_string();
        let sql = b.cstr()?.to_string();
        // Counts are unsigned 16-bit on the wire, as PostgreSQL reads them, so 65 535 parameters fit.
        let n = b.i16()? as u16;
        let mut declared_oids = Vec::with_capacity(n as usize);
        for _ in 0..n {
            declared_oids.push(b.i32()? as u32);
        }
        let prepared = self.prepare(name, sql.clone(), declared_oids);
        self.complete_or_refuse(io, prepared, b'1', &sql)
    }

    /// Describes a statement and keeps it under `name`.
    fn prepare(
        &mut self,
        name: String,
        sql: String,
        declared_oids: Vec<u32>,
    ) -> Result<(), PgError> {
        let prepared_max = self.cluster.config().prepared_max;
        let taken = || {
            PgError::new(
                "42P05",
                format!("prepared statement \"{name}\" already exists"),
            )
        };
        check_room(
            &self.prepared,
            &name,
            prepared_max,
            taken,
            "prepared statements",
        )?;
        let mut declared = Vec::with_capacity(declared_oids.len());
        for oid in &declared_oids {
            declared.push(match *oid {
                0 => None,
                oid => Some(type_of_oid(oid).ok_or_else(|| {
                    PgError::new("42704", format!("type with OID {oid} is not supported"))
                })?),
            });
        }
        let database = self.database.clone();
        let desc = self
            .cluster
            .with_engine_mut(|e, now| describe(e, &database, &sql, &declared, now))?;
        let param_oids = desc
            .params
            .iter()
            .enumerate()
            .map(|(i, t)| match declared_oids.get(i) {
                Some(oid) if *oid != 0 => *oid,
                _ => t.map(SqlType::oid).unwrap_or(TEXT_OID),
            })
            .collect();
        self.prepared.insert(
            name,
            Prepared {
                sql,
                param_oids,
                param_types: desc.params,
                columns: desc.columns,
            },
        );
        Ok(())
    }

    pub(super) fn bind<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        body: &[u8],
    ) -> Result<(), PgError> {
        let mut b = Body::new(body);
        let portal_name = b.cstr()?.to_string();
        let statement_name = b.cstr()?.to_string();
        let stmt = self
            .prepared
            .get(&statement_name)
            .ok_or_else(|| no_statement(&statement_name))?;
        let sql = stmt.sql.clone();
        let bound = self.bind_portal(portal_name, &statement_name, &mut b);
        self.complete_or_refuse(io, bound, b'2', &sql)
    }

    /// Answers a `Parse` or `Bind` that succeeded with its completion message (`complete`), or tells the observer its statement was refused.
    fn complete_or_refuse<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        result: Result<(), PgError>,
        complete: u8,
        sql: &str,
    ) -> Result<(), PgError> {
        match &result {
            Ok(()) => io.empty(complete),
            Err(e) => self.refused(sql, e),
        }
        result
    }

    /// Binds parameters and result formats to a prepared statement and keeps the portal under `portal_name`.
    fn bind_portal(
        &mut self,
        portal_name: String,
        statement_name: &str,
        b: &mut Body<'_>,
    ) -> Result<(), PgError> {
        let stmt = self
            .prepared
            .get(statement_name)
            .ok_or_else(|| no_statement(statement_name))?;
        let formats = format_codes(b)?;
        let n = b.i16()? as u16 as usize;
        if n != stmt.param_oids.len() {
            return Err(PgError::new(
                "08P01",
                format!(
                    "bind message supplies {n} parameters, but prepared statement \"{statement_name}\" requires {}",
                    stmt.param_oids.len()
                ),
            ));
        }
        if formats.len() > 1 && formats.len() != n {
            return Err(PgError::new(
                "08P01",
                format!(
                    "bind message has {} parameter formats but {n} parameters",
                    formats.len()
                ),
            ));
        }
        let mut params = Vec::with_capacity(n);
        for i in 0..n {
            let len = b.i32()?;
            if len < -1 {
                return Err(malformed());
            }
            let binary = match formats.as_slice() {
                [] => false,
                [one] => *one,
                many => many[i],
            };
            params.push(if len == -1 {
                Value::Null
            } else {
                let raw = b.bytes(len as usize)?;
                decode_param(stmt.param_oids[i], stmt.param_types[i], binary, raw)?
            });
        }
        let result_formats = format_codes(b)?;
        let n_columns = stmt.columns.as_ref().map_or(0, Vec::len);
        let formats = match result_formats.as_slice() {
            [] => vec![false; n_columns],
            [one] => vec![*one; n_columns],
            many if many.len() == n_columns => many.to_vec(),
            many => {
                return Err(PgError::new(
                    "08P01",
                    format!(
                        "bind message has {} result formats but query has {n_columns} columns",
                        many.len()
                    ),
                ))
            }
        };
        let prepared_max = self.cluster.config().prepared_max;
        let taken = || PgError::new("42P03", format!("cursor \"{portal_name}\" already exists"));
        check_room(&self.portals, &portal_name, prepared_max, taken, "portals")?;
        let portal = Portal {
            sql: stmt.sql.clone(),
            params,
            columns: stmt.columns.clone(),
            formats,
            remaining: None,
        };
        self.portals.insert(portal_name, portal);
        Ok(())
    }

    pub(super) fn describe<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        body: &[u8],
    ) -> Result<(), PgError> {
        let (kind, name) = kind_and_name(body)?;
        match kind {
            b'S' => {
                let stmt = self.prepared.get(name).ok_or_else(|| no_statement(name))?;
                io.msg(b't', |out| {
                    out.extend_from_slice(&(stmt.param_oids.len() as u16).to_be_bytes());
                    for oid in &stmt.param_oids {
                        out.extend_from_slice(&oid.to_be_bytes());
                    }
                });
                match &stmt.columns {
                    Some(columns) => io.row_description(columns, &[]),
                    None => io.empty(b'n'),
                }
            }
            b'P' => {
                let portal = self.portals.get(name).ok_or_else(|| no_portal(name))?;
                match &portal.columns {
                    Some(columns) => io.row_description(columns, &portal.formats),
                    None => io.empty(b'n'),
                }
            }
            _ => return Err(malformed()),
        }
        Ok(())
    }

    pub(super) async fn execute<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        body: &[u8],
    ) -> io::Result<Result<(), PgError>> {
        let mut b = Body::new(body);
        let name = match b.cstr() {
            Ok(n) => n.to_string(),
            Err(e) => return Ok(Err(e)),
        };
        let max_rows = match b.i32() {
            Ok(n) if b.at_end() => n.max(0) as usize,
            _ => return Ok(Err(malformed())),
        };
        let Some(mut portal) = self.portals.remove(&name) else {
            return Ok(Err(no_portal(&name)));
        };
        if portal.remaining.is_none() {
            // The statement runs whole at the first Execute; a row limit only paces how its rows go out.
            let mut results = vec![];
            match self
                .run_statement(
                    io,
                    &portal.sql,
                    &portal.params,
                    &Emit::Collect,
                    &mut results,
                )
                .await?
            {
                Ok(_) => {}
                Err(e) => return Ok(Err(e)),
            }
            let Some(last) = results.pop() else {
                io.empty(b'I');
                return Ok(Ok(()));
            };
            // A prepared statement holds one statement, so `results` is empty now; written all the same.
            let emit = Emit::Extended {
                columns: portal.columns.as_deref(),
                formats: &portal.formats,
            };
            for r in &results {
                if let Err(e) = write_result(io, r, &emit) {
                    return Ok(Err(e));
                }
            }
            for n in &last.notices {
                io.notice(n);
            }
            // A table dropped and created again between Parse and Execute can change the columns; PostgreSQL refuses to send rows that no longer match the description.
            if portal
                .columns
                .as_ref()
                .is_some_and(|c| c.len() != last.columns.len())
            {
                return Ok(Err(PgError::new(
                    "0A000",
                    "cached plan must not change result type",
                )));
            }
            portal.remaining = Some(Remaining {
                rows: last.rows.into(),
                columns: last.columns,
                tag: last.tag,
            });
        }
        let remaining = portal.remaining.as_mut().expect("set above");
        let take = if max_rows == 0 {
            remaining.rows.len()
        } else {
            max_rows.min(remaining.rows.len())
        };
        let columns = portal.columns.as_deref().unwrap_or(&remaining.columns);
        for row in remaining.rows.drain(..take) {
            if let Err(e) = write_row(io, &row, columns, &remaining.columns, &portal.formats) {
                return Ok(Err(e));
            }
            io.maybe_flush().await?;
        }
        // As in PostgreSQL, a fetch that filled its limit suspends the portal even when no row is left.
        if max_rows > 0 && take == max_rows {
            io.empty(b's');
        } else if remaining.tag.starts_with("SELECT ") {
            // PostgreSQL counts the rows of this fetch in a SELECT's tag; a finished portal fetches none.
            io.command_complete(&format!("SELECT {take}"));
        } else {
            io.command_complete(&remaining.tag);
        }
        // The portal stays until Close, or until its transaction ends at a Sync outside a transaction block, as in PostgreSQL.
        self.portals.insert(name, portal);
        Ok(Ok(()))
    }

    pub(super) fn close<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut Io<S>,
        body: &[u8],
    ) -> Result<(), PgError> {
        let (kind, name) = kind_and_name(body)?;
        match kind {
            b'S' => {
                self.prepared.remove(name);
            }
            b'P' => {
                self.portals.remove(name);
            }
            _ => return Err(malformed()),
        }
        io.empty(b'3');
        Ok(())
    }
}

/// A Describe's or a Close's body: `S` (a statement) or `P` (a portal), and its name.
fn kind_and_name(body: &[u8]) -> Result<(u8, &str), PgError> {
    let mut b = Body::new(body);
    Ok((b.u8()?, b.cstr()?))
}

fn no_statement(name: &str) -> PgError {
    if name.is_empty() {
        PgError::new("26000", "unnamed prepared statement does not exist")
    } else {
        PgError::new(
            "26000",
            format!("prepared statement \"{name}\" does not exist"),
        )
    }
}

fn no_portal(name: &str) -> PgError {
    PgError::new("34000", format!("portal \"{name}\" does not exist"))
}

/// A list of format codes: 0 for text, 1 for binary.
fn format_codes(b: &mut Body<'_>) -> Result<Vec<bool>, PgError> {
    let n = b.i16()? as u16;
    (0..n)
        .map(|_| match b.i16()? {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(PgError::new(
                "08P01",
                format!("unsupported format code: {other}"),
            )),
        })
        .collect()
}

/// Refuses to keep a named statement or portal under a name already taken (`taken`) or past the
/// connection's limit of `max` of them; the unnamed one always has room.
fn check_room<T>(
    kept: &BTreeMap<String, T>,
    name: &str,
    max: usize,
    taken: impl FnOnce() -> PgError,
    what: &str,
) -> Result<(), PgError> {
    if name.is_empty() {
        return Ok(());
    }
    if kept.contains_key(name) {
        return Err(taken());
    }
    if kept.len() >= max {
        return Err(PgError::new(
            "54000",
            format!("too many {what}: dosim keeps at most {max} per connection"),
        ));
    }
    Ok(())
}
