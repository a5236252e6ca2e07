//! A command's reply as data, before a protocol version gives it bytes, and its one-line text form for tests and histories.

use std::fmt;

/// A reply, in RESP3's terms; the wire writes each in RESP2 or RESP3 as the client asked with `HELLO`.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`.
    Status(String),
    /// `-ERR …`, the code (`ERR`, `WRONGTYPE`, `EXECABORT`) first.
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    /// A missing value: `$-1` in RESP2, `_` in RESP3.
    Nil,
    /// A missing array (an aborted `EXEC`, a timed-out blocking pop): `*-1` in RESP2, `_` in RESP3.
    NilArray,
    Array(Vec<Reply>),
    /// A map in RESP3 (`HGETALL`, `HELLO`), a flat array of keys and values in RESP2.
    Map(Vec<(Reply, Reply)>),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Status("OK".to_string())
    }

    /// An error whose text starts with its code: `Reply::err("ERR syntax error")`.
    pub fn err(text: impl Into<String>) -> Reply {
        Reply::Error(text.into())
    }

    pub fn bulk(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply::Bulk(bytes.into())
    }

    /// A bulk string, or nil.
    pub fn bulk_or_nil(bytes: Option<&[u8]>) -> Reply {
        bytes.map_or(Reply::Nil, |b| Reply::Bulk(b.to_vec()))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Writes the one-line form into `out`.
    pub fn fmt_into(&self, out: &mut impl fmt::Write) -> fmt::Result {
        write!(out, "{self}")
    }
}

/// `+OK`, `-ERR syntax error`, `:1`, `"value"`, `nil`, `*nil`, `[:1, "a"]`, `{"f": "v"}`: one line, bytes outside printable ASCII escaped as `\xNN`.
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Status(s) => write!(f, "+{s}"),
            Reply::Error(e) => write!(f, "-{e}"),
            Reply::Int(n) => write!(f, ":{n}"),
            Reply::Bulk(b) => write_quoted(f, b),
            Reply::Nil => f.write_str("nil"),
            Reply::NilArray => f.write_str("*nil"),
            Reply::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Reply::Map(pairs) => {
                f.write_str("{")?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// Writes bytes in double quotes, escaping quotes, backslashes and non-printable bytes.
pub fn write_quoted(f: &mut impl fmt::Write, bytes: &[u8]) -> fmt::Result {
    f.write_char('"')?;
    for &b in bytes {
        match b {
            b'"' => f.write_str("\\\"")?,
            b'\\' => f.write_str("\\\\")?,
            b'\n' => f.write_str("\\n")?,
            b'\r' => f.write_str("\\r")?,
            b'\t' => f.write_str("\\t")?,
            0x20..=0x7e => f.write_char(b as char)?,
            _ => write!(f, "\\x{b:02x}")?,
        }
    }
    f.write_char('"')
}
