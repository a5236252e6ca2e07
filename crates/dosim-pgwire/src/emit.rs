//! Writing finished statements out: row descriptions, notices, data rows in the formats asked for, command tags.

use dosim_pg::{ColumnDesc, PgError, QueryResult, SqlType, Value};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::codec::Io;
use crate::types::encode_value;

/// How finished statements are written out.
pub(crate) enum Emit<'a> {
    /// Simple query: a `RowDescription` per row-returning statement, text values.
    Simple,
    /// Extended query: rows only, in the formats `Bind` asked for, typed as `Describe` said.
    Extended {
        columns: Option<&'a [ColumnDesc]>,
        formats: &'a [bool],
    },
    /// Extended query: results kept for the caller, which sends them in row-limited parts.
    Collect,
}

/// Writes one finished statement: its row description (simple query), notices, rows and command tag.
pub(crate) fn write_result<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Io<S>,
    r: &QueryResult,
    emit: &Emit<'_>,
) -> Result<(), PgError> {
    let (columns, formats): (&[ColumnDesc], &[bool]) = match emit {
        Emit::Simple => {
            if !r.columns.is_empty() {
                io.row_description(&r.columns, &[]);
            }
            (&r.columns, &[])
        }
        Emit::Extended { columns, formats } => (columns.unwrap_or(&r.columns), formats),
        Emit::Collect => (&r.columns, &[]),
    };
    for n in &r.notices {
        io.notice(n);
    }
    for row in &r.rows {
        write_row(io, row, columns, &r.columns, formats)?;
    }
    io.command_complete(&r.tag);
    Ok(())
}

/// Writes one `DataRow`, each value converted to its described column type (or the engine's, when undescribed) in its format.
pub(crate) fn write_row<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut Io<S>,
    row: &[Value],
    columns: &[ColumnDesc],
    engine_columns: &[ColumnDesc],
    formats: &[bool],
) -> Result<(), PgError> {
    let mut cells = Vec::with_capacity(row.len());
    for (i, v) in row.iter().enumerate() {
        let ty = columns
            .get(i)
            .or_else(|| engine_columns.get(i))
            .map(|c| c.ty)
            .or_else(|| v.sql_type())
            .unwrap_or(SqlType::Text);
        let binary = formats.get(i).copied().unwrap_or(false);
        cells.push(encode_value(v, ty, binary)?);
    }
    io.data_row(&cells);
    Ok(())
}
