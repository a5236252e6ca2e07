//! Unit tests of the statement recorder: protocol messages in both directions, and the operations they record.

use super::Sniffer;
use crate::history::{OpResult, Recorder};

/// Which way a message goes.
enum Way {
    Front(Vec<u8>),
    Back(Vec<u8>),
}

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn cstr(text: &str) -> Vec<u8> {
    let mut out = text.as_bytes().to_vec();
    out.push(0);
    out
}

fn startup() -> Way {
    let mut body = 196_608u32.to_be_bytes().to_vec();
    body.extend(cstr("user"));
    body.extend(cstr("doadmin"));
    body.push(0);
    let mut out = (body.len() as u32 + 4).to_be_bytes().to_vec();
    out.extend(body);
    Way::Front(out)
}

fn query(sql: &str) -> Way {
    Way::Front(message(b'Q', &cstr(sql)))
}

fn parse(name: &str, sql: &str) -> Way {
    let mut body = cstr(name);
    body.extend(cstr(sql));
    body.extend(0i16.to_be_bytes());
    Way::Front(message(b'P', &body))
}

fn describe_statement(name: &str) -> Way {
    let mut body = vec![b'S'];
    body.extend(cstr(name));
    Way::Front(message(b'D', &body))
}

/// A `Bind` of statement `name` with binary parameters and binary results.
fn bind(name: &str, params: &[Option<Vec<u8>>]) -> Way {
    let mut body = cstr("");
    body.extend(cstr(name));
    body.extend(1i16.to_be_bytes());
    body.extend(1i16.to_be_bytes());
    body.extend((params.len() as i16).to_be_bytes());
    for param in params {
        match param {
            Some(bytes) => {
                body.extend((bytes.len() as i32).to_be_bytes());
                body.extend(bytes);
            }
            None => body.extend((-1i32).to_be_bytes()),
        }
    }
    body.extend(1i16.to_be_bytes());
    body.extend(1i16.to_be_bytes());
    Way::Front(message(b'B', &body))
}

fn execute() -> Way {
    let mut body = cstr("");
    body.extend(0i32.to_be_bytes());
    Way::Front(message(b'E', &body))
}

fn sync() -> Way {
    Way::Front(message(b'S', &[]))
}

fn parse_complete() -> Way {
    Way::Back(message(b'1', &[]))
}

fn parameter_types(types: &[u32]) -> Way {
    let mut body = (types.len() as i16).to_be_bytes().to_vec();
    for ty in types {
        body.extend(ty.to_be_bytes());
    }
    Way::Back(message(b't', &body))
}

fn row_description(types: &[u32]) -> Way {
    let mut body = (types.len() as i16).to_be_bytes().to_vec();
    for ty in types {
        body.extend(cstr("c"));
        body.extend([0u8; 6]);
        body.extend(ty.to_be_bytes());
        body.extend([0u8; 6]);
        body.extend(0i16.to_be_bytes());
    }
    Way::Back(message(b'T', &body))
}

fn no_data() -> Way {
    Way::Back(message(b'n', &[]))
}

fn bind_complete() -> Way {
    Way::Back(message(b'2', &[]))
}

fn data_row(values: &[Option<Vec<u8>>]) -> Way {
    let mut body = (values.len() as i16).to_be_bytes().to_vec();
    for value in values {
        match value {
            Some(bytes) => {
                body.extend((bytes.len() as i32).to_be_bytes());
                body.extend(bytes);
            }
            None => body.extend((-1i32).to_be_bytes()),
        }
    }
    Way::Back(message(b'D', &body))
}

fn complete(tag: &str) -> Way {
    Way::Back(message(b'C', &cstr(tag)))
}

fn error(code: &str, text: &str) -> Way {
    let mut body = vec![b'S'];
    body.extend(cstr("ERROR"));
    body.push(b'C');
    body.extend(cstr(code));
    body.push(b'M');
    body.extend(cstr(text));
    body.push(0);
    Way::Back(message(b'E', &body))
}

fn ready() -> Way {
    Way::Back(message(b'Z', b"I"))
}

fn int4(n: i32) -> Option<Vec<u8>> {
    Some(n.to_be_bytes().to_vec())
}

fn int8(n: i64) -> Option<Vec<u8>> {
    Some(n.to_be_bytes().to_vec())
}

fn text(t: &str) -> Option<Vec<u8>> {
    Some(t.as_bytes().to_vec())
}

/// Feeds the exchange to a recorder, cut into pieces of `chunk` bytes per direction, and checks each operation's line: `target [request] → response`.
#[track_caller]
fn check(exchange: Vec<Way>, expect: &[&str]) {
    for chunk in [1, 3, usize::MAX] {
        let recorder = Recorder::default();
        let mut sniffer = Sniffer::new(
            "pod-0".to_owned(),
            recorder.clone(),
            (Default::default(), 0),
        );
        for way in &exchange {
            match way {
                Way::Front(bytes) => bytes
                    .chunks(chunk.min(bytes.len().max(1)))
                    .for_each(|piece| sniffer.frontend(piece)),
                Way::Back(bytes) => bytes
                    .chunks(chunk.min(bytes.len().max(1)))
                    .for_each(|piece| sniffer.backend(piece)),
            }
        }
        let lines: Vec<String> = recorder
            .snapshot()
            .ops
            .iter()
            .map(|op| {
                assert_eq!((op.actor.as_str(), op.method.as_str()), ("pod-0", "SQL"));
                let request = op
                    .request
                    .as_deref()
                    .map_or(String::new(), |r| format!(" {r}"));
                let result = match &op.result {
                    OpResult::Answered => op.response.clone().unwrap_or_default(),
                    other => format!("{other:?}"),
                };
                format!("{}{request} → {result}", op.target)
            })
            .collect();
        assert_eq!(lines, expect, "pieces of {chunk} bytes");
    }
}

#[test]
fn simple_queries() {
    check(
        vec![
            startup(),
            ready(),
            query("BEGIN"),
            complete("BEGIN"),
            ready(),
        ],
        &["BEGIN → BEGIN"],
    );
    // Several statements in one string are one operation; text-format rows are shown as sent.
    check(
        vec![
            startup(),
            query("CREATE TABLE t (id int);\n  SELECT   1"),
            complete("CREATE TABLE"),
            row_description(&[23]),
            data_row(&[text("1")]),
            complete("SELECT 1"),
            ready(),
        ],
        &["CREATE TABLE t (id int); SELECT 1 → CREATE TABLE; SELECT 1: (1)"],
    );
    check(
        vec![
            startup(),
            query("UPDATE t SET x = 1; SELECT nope"),
            complete("UPDATE 0"),
            error("42703", "column \"nope\" does not exist"),
            ready(),
        ],
        &["UPDATE t SET x = 1; SELECT nope → UPDATE 0; ERROR 42703: column \"nope\" does not exist"],
    );
    // A statement the run ended before answering stays unfinished.
    check(
        vec![startup(), query("SELECT pg_advisory_lock(1)")],
        &["SELECT pg_advisory_lock(1) → Unfinished"],
    );
}

#[test]
fn extended_queries() {
    // tokio-postgres prepares, then binds with binary parameters and results.
    let prepare = |sql: &str, params: &[u32], columns: Option<&[u32]>| {
        let mut out = vec![
            parse("s0", sql),
            describe_statement("s0"),
            sync(),
            parse_complete(),
            parameter_types(params),
        ];
        out.push(match columns {
            Some(columns) => row_description(columns),
            None => no_data(),
        });
        out.push(ready());
        out
    };
    let mut exchange = vec![startup()];
    exchange.extend(prepare(
        "SELECT balance FROM accounts WHERE id = $1",
        &[23],
        Some(&[20]),
    ));
    exchange.extend([
        bind("s0", &[int4(1)]),
        execute(),
        sync(),
        bind_complete(),
        data_row(&[int8(100)]),
        complete("SELECT 1"),
        ready(),
    ]);
    exchange.extend(prepare(
        "UPDATE accounts SET balance = $1, note = $3 WHERE id = $2",
        &[20, 23, 25],
        None,
    ));
    exchange.extend([
        bind("s0", &[int8(90), int4(1), None]),
        execute(),
        sync(),
        bind_complete(),
        complete("UPDATE 1"),
        ready(),
    ]);
    exchange.extend(prepare(
        "UPDATE doctors SET on_call = $1 WHERE name = $2",
        &[16, 25],
        None,
    ));
    exchange.extend([
        bind("s0", &[Some(vec![0]), text("bob")]),
        execute(),
        sync(),
        bind_complete(),
        error(
            "40001",
            "could not serialize access due to concurrent update",
        ),
        ready(),
    ]);
    check(
        exchange,
        &[
            "SELECT balance FROM accounts WHERE id = $1 (1) → SELECT 1: (100)",
            "UPDATE accounts SET balance = $1, note = $3 WHERE id = $2 (90, 1, NULL) → UPDATE 1",
            "UPDATE doctors SET on_call = $1 WHERE name = $2 (f, 'bob') → ERROR 40001: could not serialize access due to concurrent update",
        ],
    );
    // A statement refused when prepared never runs; it is recorded with the error the client saw.
    check(
        vec![
            startup(),
            parse("s1", "SELECT * FROM missing"),
            describe_statement("s1"),
            sync(),
            error("42P01", "relation \"missing\" does not exist"),
            ready(),
        ],
        &["SELECT * FROM missing → ERROR 42P01: relation \"missing\" does not exist"],
    );
    // More rows than shown end with an ellipsis.
    let mut exchange = vec![startup()];
    exchange.extend(prepare("SELECT id FROM t", &[], Some(&[23])));
    exchange.extend([bind("s0", &[]), execute(), sync(), bind_complete()]);
    exchange.extend((1..=5).map(|n| data_row(&[int4(n)])));
    exchange.extend([complete("SELECT 5"), ready()]);
    check(exchange, &["SELECT id FROM t → SELECT 5: (1) (2) (3) …"]);
}

#[test]
fn malformed_or_huge_messages_stop_the_recording_without_panicking() {
    // A length below four is no message; the recorder gives up on the connection.
    check(
        vec![
            startup(),
            Way::Front(vec![b'Q', 0, 0, 0, 1]),
            query("SELECT 1"),
        ],
        &[],
    );
    // A body that lies about its fields records what it can.
    check(
        vec![
            startup(),
            Way::Front(message(b'B', &[0xff])),
            execute(),
            sync(),
            complete("SELECT 0"),
            ready(),
        ],
        &[" → SELECT 0"],
    );
}

#[test]
fn binary_numerics_read_as_their_text() {
    // (ndigits, weight, sign, dscale, base-10000 digits) and the text PostgreSQL prints.
    let cases: &[(i16, u16, u16, &[u16], &str)] = &[
        (0, 0, 2, &[123, 4500], "123.45"),
        (-1, 0x4000, 3, &[10], "-0.001"),
        (1, 0, 0, &[1], "10000"),
        (0, 0, 0, &[], "0"),
        (0, 0, 1, &[], "0.0"),
        (1, 0, 0, &[12, 3456], "123456"),
        (0, 0xC000, 0, &[], "NaN"),
    ];
    for (weight, sign, dscale, digits, text) in cases {
        let mut raw = Vec::new();
        raw.extend((digits.len() as u16).to_be_bytes());
        raw.extend(weight.to_be_bytes());
        raw.extend(sign.to_be_bytes());
        raw.extend(dscale.to_be_bytes());
        for digit in *digits {
            raw.extend(digit.to_be_bytes());
        }
        assert_eq!(
            super::numeric_text(&raw).as_deref(),
            Some(*text),
            "{digits:?}"
        );
    }
    assert_eq!(super::numeric_text(&[0, 1]), None, "a truncated numeric");
}
