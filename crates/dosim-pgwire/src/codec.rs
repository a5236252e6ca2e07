//! Protocol v3 framing: reading startup packets and tagged messages from a stream, and building backend messages.

use std::io;

use dosim_pg::{ColumnDesc, Notice, PgError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// PostgreSQL's limit on a startup packet, `MAX_STARTUP_PACKET_LENGTH`.
const STARTUP_BYTES_MAX: usize = 10_000;
/// The most one read takes from the stream.
const READ_BYTES: usize = 8192;
/// Output is flushed once this much is buffered, so a large result does not sit in memory whole.
const FLUSH_BYTES: usize = 64 << 10;

/// A client's stream with a read buffer and a write buffer.
pub(crate) struct Io<S> {
    stream: S,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
}

/// Why reading a message failed in a way the client caused.
pub(crate) enum ReadError {
    /// The stream ended or failed.
    Io(io::Error),
    /// The frame is malformed or too large; PostgreSQL closes the connection with a FATAL `08P01`.
    Protocol(String),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Io<S> {
    pub(crate) fn new(stream: S) -> Io<S> {
        Io {
            stream,
            rbuf: Vec::new(),
            wbuf: Vec::new(),
        }
    }

    /// The stream, once nothing is buffered either way.
    pub(crate) fn into_inner(self) -> S {
        self.stream
    }

    /// Bytes read and not yet consumed.
    pub(crate) fn buffered(&self) -> usize {
        self.rbuf.len()
    }

    /// Reads more bytes into the buffer; 0 means the peer closed its side.
    ///
    /// At most [`READ_BYTES`] a call, read straight into the buffer's spare room: no chunk to
    /// zero and copy (an 8 KiB `memset` per read was 4% of a SQL seed's instructions).
    pub(crate) async fn read_more(&mut self) -> io::Result<usize> {
        self.rbuf.reserve(READ_BYTES);
        (&mut self.stream)
            .take(READ_BYTES as u64)
            .read_buf(&mut self.rbuf)
            .await
    }

    async fn fill(&mut self, n: usize) -> Result<bool, ReadError> {
        while self.rbuf.len() < n {
            if self.read_more().await? == 0 {
                if self.rbuf.is_empty() {
                    return Ok(false);
                }
                return Err(ReadError::Io(io::ErrorKind::UnexpectedEof.into()));
            }
        }
        Ok(true)
    }

    /// An untagged startup-phase packet (startup, SSL request, cancel), without its length; `None` at a clean end of stream.
    pub(crate) async fn read_startup(&mut self) -> Result<Option<Vec<u8>>, ReadError> {
        if !self.fill(4).await? {
            return Ok(None);
        }
        let len = i32::from_be_bytes(self.rbuf[0..4].try_into().expect("four bytes")) as i64;
        if !(8..=STARTUP_BYTES_MAX as i64).contains(&len) {
            return Err(ReadError::Protocol(
                "invalid length of startup packet".into(),
            ));
        }
        let len = len as usize;
        if !self.fill(len).await? {
            return Ok(None);
        }
        let body = self.rbuf[4..len].to_vec();
        self.rbuf.drain(..len);
        Ok(Some(body))
    }

    /// A tagged message: its type byte and body; `None` at a clean end of stream.
    pub(crate) async fn read_message(
        &mut self,
        bytes_max: usize,
    ) -> Result<Option<(u8, Vec<u8>)>, ReadError> {
        if !self.fill(5).await? {
            return Ok(None);
        }
        let tag = self.rbuf[0];
        let len = i32::from_be_bytes(self.rbuf[1..5].try_into().expect("four bytes")) as i64;
        if len < 4 || len as u64 > bytes_max as u64 {
            return Err(ReadError::Protocol(format!(
                "invalid message length {len} for message type \"{}\"",
                tag as char
            )));
        }
        let total = 1 + len as usize;
        if !self.fill(total).await? {
            return Err(ReadError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        let body = self.rbuf[5..total].to_vec();
        self.rbuf.drain(..total);
        Ok(Some((tag, body)))
    }

    pub(crate) fn write_raw(&mut self, bytes: &[u8]) {
        self.wbuf.extend_from_slice(bytes);
    }

    /// Appends one backend message: its tag, its length, and the body `f` writes.
    pub(crate) fn msg(&mut self, tag: u8, f: impl FnOnce(&mut Vec<u8>)) {
        self.wbuf.push(tag);
        let at = self.wbuf.len();
        self.wbuf.extend_from_slice(&[0; 4]);
        f(&mut self.wbuf);
        let len = (self.wbuf.len() - at) as i32;
        self.wbuf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }

    pub(crate) async fn flush(&mut self) -> io::Result<()> {
        if !self.wbuf.is_empty() {
            self.stream.write_all(&self.wbuf).await?;
            self.wbuf.clear();
        }
        self.stream.flush().await
    }

    /// Flushes only when enough output has piled up.
    pub(crate) async fn maybe_flush(&mut self) -> io::Result<()> {
        if self.wbuf.len() >= FLUSH_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    pub(crate) fn auth_request(&mut self, code: i32) {
        self.msg(b'R', |b| b.extend_from_slice(&code.to_be_bytes()));
    }

    pub(crate) fn parameter_status(&mut self, name: &str, value: &str) {
        self.msg(b'S', |b| {
            cstr(b, name);
            cstr(b, value);
        });
    }

    pub(crate) fn ready_for_query(&mut self, status: u8) {
        self.msg(b'Z', |b| b.push(status));
    }

    /// An `ErrorResponse` (`fatal` for errors that end the connection).
    pub(crate) fn error(&mut self, e: &PgError, fatal: bool) {
        let severity = if fatal { "FATAL" } else { e.severity() };
        self.msg(b'E', |b| {
            fields(b, severity, e.sqlstate, &e.message);
            if let Some(d) = &e.detail {
                b.push(b'D');
                cstr(b, d);
            }
            if let Some(h) = &e.hint {
                b.push(b'H');
                cstr(b, h);
            }
            b.push(0);
        });
    }

    pub(crate) fn notice(&mut self, n: &Notice) {
        self.msg(b'N', |b| {
            fields(b, n.severity, n.sqlstate, &n.message);
            b.push(0);
        });
    }

    /// A `RowDescription`; `formats` holds each column's format code (0 text, 1 binary).
    pub(crate) fn row_description(&mut self, columns: &[ColumnDesc], formats: &[bool]) {
        self.msg(b'T', |b| {
            b.extend_from_slice(&(columns.len() as i16).to_be_bytes());
            for (i, c) in columns.iter().enumerate() {
                cstr(b, &c.name);
                b.extend_from_slice(&0i32.to_be_bytes()); // table OID
                b.extend_from_slice(&0i16.to_be_bytes()); // column number
                b.extend_from_slice(&c.ty.oid().to_be_bytes());
                b.extend_from_slice(&type_len(c.ty.oid()).to_be_bytes());
                b.extend_from_slice(&typmod(c.ty).to_be_bytes());
                let binary = formats.get(i).copied().unwrap_or(false);
                b.extend_from_slice(&(binary as i16).to_be_bytes());
            }
        });
    }

    pub(crate) fn data_row(&mut self, cells: &[Option<Vec<u8>>]) {
        self.msg(b'D', |b| {
            b.extend_from_slice(&(cells.len() as i16).to_be_bytes());
            for c in cells {
                match c {
                    None => b.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(v) => {
                        b.extend_from_slice(&(v.len() as i32).to_be_bytes());
                        b.extend_from_slice(v);
                    }
                }
            }
        });
    }

    pub(crate) fn command_complete(&mut self, tag: &str) {
        self.msg(b'C', |b| cstr(b, tag));
    }

    pub(crate) fn empty(&mut self, tag: u8) {
        self.msg(tag, |_| {});
    }
}

fn fields(b: &mut Vec<u8>, severity: &str, code: &str, message: &str) {
    b.push(b'S');
    cstr(b, severity);
    b.push(b'V');
    cstr(b, severity);
    b.push(b'C');
    cstr(b, code);
    b.push(b'M');
    cstr(b, message);
}

pub(crate) fn cstr(b: &mut Vec<u8>, s: &str) {
    // A NUL inside a string would end the field early; PostgreSQL's strings never hold one.
    b.extend(s.bytes().filter(|c| *c != 0));
    b.push(0);
}

/// `pg_type.typlen`: fixed sizes for fixed-width types, -1 for variable ones.
fn type_len(oid: u32) -> i16 {
    match oid {
        16 => 1,
        23 => 4,
        20 | 1184 => 8,
        1186 | 2950 => 16,
        2278 => 4,
        _ => -1,
    }
}

/// The column's type modifier: `numeric(p, s)` encodes as `((p << 16) | s) + 4`, as PostgreSQL's does.
fn typmod(ty: dosim_pg::SqlType) -> i32 {
    match ty {
        dosim_pg::SqlType::Numeric(Some((p, s))) => (((p << 16) | s) + 4) as i32,
        _ => -1,
    }
}

/// A cursor over a frontend message's body.
pub(crate) struct Body<'a> {
    buf: &'a [u8],
    pos: usize,
}

pub(crate) fn malformed() -> PgError {
    PgError::new("08P01", "invalid message format")
}

impl<'a> Body<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Body<'a> {
        Body { buf, pos: 0 }
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], PgError> {
        let end = self.pos.checked_add(n).ok_or_else(malformed)?;
        let out = self.buf.get(self.pos..end).ok_or_else(malformed)?;
        self.pos = end;
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, PgError> {
        Ok(self.bytes(1)?[0])
    }

    pub(crate) fn i16(&mut self) -> Result<i16, PgError> {
        Ok(i16::from_be_bytes(
            self.bytes(2)?.try_into().expect("two bytes"),
        ))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, PgError> {
        Ok(i32::from_be_bytes(
            self.bytes(4)?.try_into().expect("four bytes"),
        ))
    }

    /// A NUL-terminated UTF-8 string.
    pub(crate) fn cstr(&mut self) -> Result<&'a str, PgError> {
        let rest = self.buf.get(self.pos..).ok_or_else(malformed)?;
        let nul = rest.iter().position(|c| *c == 0).ok_or_else(malformed)?;
        let s = std::str::from_utf8(&rest[..nul])
            .map_err(|_| PgError::new("22021", "invalid byte sequence for encoding \"UTF8\""))?;
        self.pos += nul + 1;
        Ok(s)
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }
}
