//! Unit tests: binary numerics both ways, parameter counting, and describing statements against a real engine.

use dosim_pg::{Engine, EngineConfig, Numeric, SimTime, SqlType};

use crate::describe::describe;
use crate::types::{decode_numeric, encode_numeric};

#[track_caller]
fn check_numeric(text: &str, expect_hex: &str) {
    let n = Numeric::parse(text).expect("valid numeric");
    let bytes = encode_numeric(n);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, expect_hex.replace(' ', ""), "encoding of {text}");
    let back = decode_numeric(&bytes).expect("decodes");
    assert_eq!(back.to_string(), n.to_string(), "round trip of {text}");
}

#[test]
fn numerics_in_postgres_binary_format() {
    // ndigits, weight, sign, dscale, then base-10000 digits, as PostgreSQL's numeric_send writes them.
    check_numeric("0", "0000 0000 0000 0000");
    check_numeric("0.00", "0000 0000 0000 0002");
    check_numeric("1", "0001 0000 0000 0000 0001");
    check_numeric("15.50", "0002 0000 0000 0002 000f 1388");
    check_numeric("-12345.678", "0003 0001 4000 0003 0001 0929 1a7c");
    check_numeric("0.0001", "0001 ffff 0000 0004 0001");
    check_numeric("0.00000001", "0001 fffe 0000 0008 0001");
    check_numeric("10000", "0001 0001 0000 0000 0001");
}

#[test]
fn malformed_binary_numerics_are_refused() {
    for raw in [
        &[][..],
        &[0, 1, 0, 0, 0, 0, 0, 0][..], // one digit promised, none sent
        &[0, 1, 0, 0, 0, 0, 0, 0, 0x27, 0x10][..], // digit 10000 is out of base
        &[0, 0, 0, 0, 0xc0, 0, 0, 0][..], // NaN
    ] {
        assert!(decode_numeric(raw).is_none(), "{raw:?}");
    }
}

#[track_caller]
fn check_count(sql: &str, expect: usize) {
    assert_eq!(dosim_pg::placeholders_max(sql), expect, "{sql}");
}

#[test]
fn parameters_are_counted_by_their_highest_number() {
    check_count("SELECT 1", 0);
    check_count("SELECT $1, $2", 2);
    check_count("SELECT $3", 3);
    check_count("SELECT '$1', \"$2\" FROM t WHERE a = $1", 1);
    check_count("SELECT 1 -- $4", 0);
}

/// Describes `sql` on an engine that has the test table, and renders the parameter types and columns.
#[track_caller]
fn check_describe(sql: &str, expect: &str) {
    let mut engine = Engine::new(EngineConfig::default());
    let s = engine.connect("defaultdb").expect("connects");
    let setup = "CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, \
                 balance numeric(12, 2), active boolean, n integer, created timestamptz)";
    assert!(matches!(
        engine.execute(s, setup, &[], SimTime::ZERO),
        dosim_pg::Outcome::Done(_)
    ));
    let got = match describe(&mut engine, "defaultdb", sql, &[], SimTime::ZERO) {
        Ok(d) => {
            let params: Vec<&str> = d
                .params
                .iter()
                .map(|t| t.map_or("?", SqlType::name))
                .collect();
            let columns = match d.columns {
                None => "no data".to_string(),
                Some(cols) => cols
                    .iter()
                    .map(|c| format!("{} {}", c.name, c.ty.name()))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            format!("({}) -> {columns}", params.join(", "))
        }
        Err(e) => format!("ERROR {}: {}", e.sqlstate, e.message),
    };
    assert_eq!(got, expect, "{sql}");
    // Describing leaves no session behind and holds no lock.
    engine.disconnect(s);
    assert_eq!(engine.next_deadline(), None);
}

#[test]
fn describe_infers_parameters_and_columns() {
    check_describe(
        "SELECT id, owner FROM accounts WHERE id = $1",
        "(bigint) -> id bigint, owner text",
    );
    check_describe(
        "SELECT balance + $1 AS b FROM accounts WHERE owner LIKE $2 AND active = $3 LIMIT $4",
        "(numeric, text, boolean, bigint) -> b numeric",
    );
    check_describe(
        "INSERT INTO accounts (id, owner, balance, n) VALUES ($1, $2, $3, $4)",
        "(bigint, text, numeric, integer) -> no data",
    );
    check_describe(
        "INSERT INTO accounts VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, created",
        "(bigint, text, numeric, boolean, integer, timestamp with time zone) -> id bigint, created timestamp with time zone",
    );
    check_describe(
        "UPDATE accounts a SET balance = a.balance - $1 WHERE a.id IN ($2, $3) RETURNING a.balance",
        "(numeric, bigint, bigint) -> balance numeric",
    );
    check_describe(
        "DELETE FROM accounts WHERE created < now() - $1",
        "(interval) -> no data",
    );
    check_describe(
        "SELECT * FROM accounts WHERE id = $1 FOR UPDATE",
        "(bigint) -> id bigint, owner text, balance numeric, active boolean, n integer, created timestamp with time zone",
    );
    check_describe("SELECT count(*) FROM accounts", "() -> count bigint");
    check_describe(
        "SELECT pg_advisory_lock($1)",
        "(bigint) -> pg_advisory_lock void",
    );
    check_describe(
        "SELECT pg_try_advisory_lock($1, $2)",
        "(integer, integer) -> pg_try_advisory_lock boolean",
    );
    check_describe("SELECT $1::integer + 1", "(integer) -> ?column? integer");
    check_describe("BEGIN", "() -> no data");
    check_describe(
        "SHOW transaction_isolation",
        "() -> transaction_isolation text",
    );
    check_describe(
        "SELECT nope FROM accounts",
        "ERROR 42703: column \"nope\" does not exist",
    );
    check_describe(
        "SELECT * FROM missing WHERE id = $1",
        "ERROR 42P01: relation \"missing\" does not exist",
    );
    check_describe("SELEC 1", "ERROR 42601: syntax error at or near \"SELEC\"");
    check_describe(
        "SELECT 1; SELECT 2",
        "ERROR 42601: cannot insert multiple commands into a prepared statement",
    );
}

#[track_caller]
fn check_scram(password: &str, client_final: &str, expect: &str) {
    use base64::Engine as _;
    let salt = base64::engine::general_purpose::STANDARD
        .decode("W22ZaJ0SNY7soEsUEjb6gQ==")
        .expect("base64");
    let exchange = crate::scram::server_first(
        "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
        "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        salt,
        crate::scram::ITERATIONS,
    )
    .expect("client-first parses");
    assert_eq!(
        exchange.server_first_message(),
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    );
    let got = match exchange.server_final(client_final, password) {
        Ok(Some(v)) => v,
        Ok(None) => "wrong password".to_string(),
        Err(e) => format!("ERROR {}: {}", e.sqlstate, e.message),
    };
    assert_eq!(got, expect);
}

#[test]
fn scram_sha_256_follows_rfc_7677() {
    // RFC 7677, section 3: user "user", password "pencil".
    let final_message = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    check_scram(
        "pencil",
        final_message,
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
    );
    check_scram("crayon", final_message, "wrong password");
    check_scram(
        "pencil",
        "c=biws,r=someoneelse,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "ERROR 08P01: malformed SCRAM message",
    );
    check_scram(
        "pencil",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        "ERROR 08P01: malformed SCRAM message",
    );
}

/// Decodes a bound parameter and renders it as `Type(text)` or the error.
#[track_caller]
fn check_param(oid: u32, binary: bool, raw: &[u8], expect: &str) {
    let ty = crate::types::type_of_oid(oid);
    let got = match crate::types::decode_param(oid, ty, binary, raw) {
        Ok(v) => format!(
            "{}({})",
            v.sql_type().map_or("null", SqlType::name),
            v.to_text().unwrap_or_default()
        ),
        Err(e) => format!("ERROR {}: {}", e.sqlstate, e.message),
    };
    assert_eq!(got, expect);
}

#[test]
fn parameters_decode_from_text_and_binary() {
    check_param(23, false, b"42", "integer(42)");
    check_param(
        23,
        false,
        b"4x",
        "ERROR 22P02: invalid input syntax for type integer: \"4x\"",
    );
    check_param(20, true, &(-7i64).to_be_bytes(), "bigint(-7)");
    check_param(
        20,
        true,
        &[0, 1],
        "ERROR 22P03: incorrect binary data format in bind parameter of type bigint",
    );
    check_param(21, true, &5i16.to_be_bytes(), "integer(5)");
    check_param(16, true, &[1], "boolean(t)");
    check_param(25, true, "héllo".as_bytes(), "text(héllo)");
    check_param(
        25,
        true,
        &[0xff],
        "ERROR 22021: invalid byte sequence for encoding \"UTF8\"",
    );
    check_param(701, true, &2.5f64.to_be_bytes(), "numeric(2.5)");
    check_param(
        701,
        true,
        &f64::NAN.to_be_bytes(),
        "ERROR 0A000: NaN and infinite parameters are not supported",
    );
    // 2026-01-01 00:00:05 UTC is 820_540_805 s after PostgreSQL's epoch.
    check_param(
        1184,
        true,
        &820_540_805_000_000i64.to_be_bytes(),
        "timestamp with time zone(2026-01-01 00:00:05+00)",
    );
    check_param(
        1184,
        false,
        b"2026-01-01 00:00:05+00",
        "timestamp with time zone(2026-01-01 00:00:05+00)",
    );
    let mut interval = 1_000_000i64.to_be_bytes().to_vec();
    interval.extend(1i32.to_be_bytes());
    interval.extend(0i32.to_be_bytes());
    check_param(1186, true, &interval, "interval(1 day 00:00:01)");
    check_param(
        2950,
        true,
        &[0x11; 16],
        "uuid(11111111-1111-1111-1111-111111111111)",
    );
    check_param(
        600,
        true,
        &[0; 16],
        "ERROR 0A000: binary parameters of type OID 600 are not supported",
    );
    check_param(
        1700,
        true,
        &[0, 1, 0, 0, 0, 0, 0, 2, 0, 15],
        "numeric(15.00)",
    );
}

#[track_caller]
fn check_result(value: dosim_pg::Value, ty: SqlType, expect_hex: &str) {
    let got = match crate::types::encode_value(&value, ty, true) {
        Ok(Some(bytes)) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
        Ok(None) => "NULL".to_string(),
        Err(e) => format!("ERROR {}: {}", e.sqlstate, e.message),
    };
    let expect = if expect_hex.starts_with("ERROR") {
        expect_hex.to_string()
    } else {
        expect_hex.replace(' ', "")
    };
    assert_eq!(got, expect);
}

#[test]
fn results_encode_in_binary_as_described() {
    use dosim_pg::Value;
    check_result(Value::Int4(7), SqlType::Int4, "0000 0007");
    // A value of another type than the described column is converted first, so the bytes match RowDescription.
    check_result(Value::Int4(7), SqlType::Int8, "0000 0000 0000 0007");
    check_result(Value::Null, SqlType::Int8, "NULL");
    check_result(Value::Bool(false), SqlType::Bool, "00");
    check_result(Value::Text("ab".into()), SqlType::Text, "6162");
    check_result(
        Value::Timestamptz(946_684_800_000_001),
        SqlType::Timestamptz,
        "0000 0000 0000 0001",
    );
    check_result(Value::Void, SqlType::Void, "");
    check_result(
        Value::Text("x".into()),
        SqlType::Int4,
        "ERROR 22P02: invalid input syntax for type integer: \"x\"",
    );
}

/// A statement's one-line form folds every run of whitespace to one space and, when it is
/// longer than asked, keeps one character less and an ellipsis: exactly the limit.
#[test]
fn a_statement_on_one_line_is_folded_and_cut_to_its_limit() {
    use crate::observe::one_line;
    assert_eq!(one_line("  SELECT\n\t1,   2  ", 20), "SELECT 1, 2");
    assert_eq!(one_line("SELECT 1", 8), "SELECT 1");
    assert_eq!(one_line("SELECT 12", 8), "SELECT …");
    assert_eq!(one_line("SELECT   12", 7), "SELECT…");
    assert_eq!(one_line("ab cd", 2), "a…");
    assert_eq!(one_line("ééé ééé", 5), "ééé …");
    assert_eq!(one_line("x", 0), "…");
    assert_eq!(one_line(" \n ", 0), "");
    assert_eq!(one_line("", 3), "");
}
