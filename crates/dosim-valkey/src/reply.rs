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
    /// A set (`SMEMBERS`, `SINTER`): `~` in RESP3, an array in RESP2.
    Set(Vec<Reply>),
    /// A score: `,` in RESP3, a bulk string in RESP2, formatted as Valkey 8 formats doubles.
    Double(f64),
    /// Members with their scores (`ZRANGE … WITHSCORES`): two-element arrays in RESP3, one flat array in RESP2.
    Pairs(Vec<(Reply, Reply)>),
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

    /// A double as Valkey 8 writes it (`fpconv_dtoa`, the shortest form that reads back the same): `inf`, `-inf`, `1.5`, `3`.
    pub fn fmt_double(v: f64) -> String {
        if v == f64::INFINITY {
            "inf".to_string()
        } else if v == f64::NEG_INFINITY {
            "-inf".to_string()
        } else {
            format!("{v}")
        }
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
///
/// Sets, doubles and scored pairs read as RESP2 shows them (an array, a quoted string, one flat array), so a script of expected replies holds for the engine and for a reference server spoken to in RESP2 alike.
impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Status(s) => write!(f, "+{s}"),
            Reply::Error(e) => write!(f, "-{e}"),
            Reply::Int(n) => write!(f, ":{n}"),
            Reply::Bulk(b) => write_quoted(f, b),
            Reply::Nil => f.write_str("nil"),
            Reply::NilArray => f.write_str("*nil"),
            Reply::Array(items) | Reply::Set(items) => write_list(f, items.iter()),
            Reply::Double(v) => write_quoted(f, Reply::fmt_double(*v).as_bytes()),
            Reply::Pairs(pairs) => write_list(f, pairs.iter().flat_map(|(m, s)| [m, s])),
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

fn write_list<'a>(f: &mut impl fmt::Write, items: impl Iterator<Item = &'a Reply>) -> fmt::Result {
    f.write_str("[")?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str("]")
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
