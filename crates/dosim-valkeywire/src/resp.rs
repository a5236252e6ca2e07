//! Requests off the wire (RESP arrays of bulk strings, framed by `redis-protocol`, or inline commands) and replies onto it, in RESP2 or RESP3.
//!
//! Replies are written here rather than through `redis-protocol`'s encoder because RESP2 needs a null array (`*-1`) its frames cannot express, and RESP3 maps must keep the engine's order.

use redis_protocol::resp2::decode::decode_range;
use redis_protocol::resp2::types::RangeFrame;

use dosim_valkey::Reply;

/// The longest inline command line, as Valkey's `PROTO_INLINE_MAX_SIZE`.
const INLINE_BYTES_MAX: usize = 64 << 10;

/// What the front of the buffer holds.
#[derive(Debug, PartialEq)]
pub(crate) enum Request {
    /// Not a whole request yet.
    Incomplete,
    /// A command (maybe empty, which is skipped) and the bytes it took.
    Command(Vec<Vec<u8>>, usize),
}

/// A malformed request: Valkey replies the error and closes the connection.
#[derive(Debug, PartialEq)]
pub(crate) struct ProtocolError(pub(crate) String);

pub(crate) fn decode(buf: &[u8], request_bytes_max: usize) -> Result<Request, ProtocolError> {
    let Some(&first) = buf.first() else {
        return Ok(Request::Incomplete);
    };
    if first != b'*' {
        return decode_inline(buf);
    }
    match decode_range(buf) {
        Ok(Some((frame, used))) => {
            let items = match frame {
                RangeFrame::Array(items) => items,
                RangeFrame::Null => return Ok(Request::Command(Vec::new(), used)),
                _ => return Err(ProtocolError("invalid multibulk length".to_string())),
            };
            let mut args = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    RangeFrame::BulkString((start, end)) => args.push(buf[start..end].to_vec()),
                    other => {
                        let got = match other {
                            RangeFrame::SimpleString(_) => '+',
                            RangeFrame::Error(_) => '-',
                            RangeFrame::Integer(_) => ':',
                            RangeFrame::Array(_) => '*',
                            _ => '$',
                        };
                        return Err(ProtocolError(format!("expected '$', got '{got}'")));
                    }
                }
            }
            Ok(Request::Command(args, used))
        }
        Ok(None) if buf.len() > request_bytes_max => {
            Err(ProtocolError("invalid bulk length".to_string()))
        }
        Ok(None) => Ok(Request::Incomplete),
        Err(_) => Err(ProtocolError("invalid multibulk length".to_string())),
    }
}

/// An inline command: one line, arguments split at spaces, as `telnet` users send them.
fn decode_inline(buf: &[u8]) -> Result<Request, ProtocolError> {
    let Some(end) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > INLINE_BYTES_MAX {
            return Err(ProtocolError("too big inline request".to_string()));
        }
        return Ok(Request::Incomplete);
    };
    let line = buf[..end].strip_suffix(b"\r").unwrap_or(&buf[..end]);
    let args = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|a| !a.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    Ok(Request::Command(args, end + 1))
}

/// Appends a reply in RESP2 (`resp3` false) or RESP3.
pub(crate) fn encode(reply: &Reply, resp3: bool, out: &mut Vec<u8>) {
    match reply {
        Reply::Status(s) => line(out, b'+', s.as_bytes()),
        Reply::Error(e) => {
            let clean: Vec<u8> = e
                .bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                .collect();
            line(out, b'-', &clean);
        }
        Reply::Int(n) => line(out, b':', n.to_string().as_bytes()),
        Reply::Bulk(b) => {
            line(out, b'$', b.len().to_string().as_bytes());
            out.extend_from_slice(b);
            out.extend_from_slice(b"\r\n");
        }
        Reply::Nil if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
        Reply::NilArray if resp3 => out.extend_from_slice(b"_\r\n"),
        Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
        Reply::Array(items) => {
            line(out, b'*', items.len().to_string().as_bytes());
            for item in items {
                encode(item, resp3, out);
            }
        }
        Reply::Set(items) => {
            line(
                out,
                if resp3 { b'~' } else { b'*' },
                items.len().to_string().as_bytes(),
            );
            for item in items {
                encode(item, resp3, out);
            }
        }
        Reply::Double(v) if resp3 => line(out, b',', Reply::fmt_double(*v).as_bytes()),
        Reply::Double(v) => encode(&Reply::Bulk(Reply::fmt_double(*v).into_bytes()), false, out),
        Reply::Pairs(pairs) => {
            let n = if resp3 { pairs.len() } else { pairs.len() * 2 };
            line(out, b'*', n.to_string().as_bytes());
            for (member, score) in pairs {
                if resp3 {
                    out.extend_from_slice(b"*2\r\n");
                }
                encode(member, resp3, out);
                encode(score, resp3, out);
            }
        }
        Reply::Map(pairs) => {
            if resp3 {
                line(out, b'%', pairs.len().to_string().as_bytes());
            } else {
                line(out, b'*', (pairs.len() * 2).to_string().as_bytes());
            }
            for (k, v) in pairs {
                encode(k, resp3, out);
                encode(v, resp3, out);
            }
        }
    }
}

fn line(out: &mut Vec<u8>, kind: u8, body: &[u8]) {
    out.push(kind);
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
}
