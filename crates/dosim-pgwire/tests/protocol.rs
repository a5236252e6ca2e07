//! The protocol byte by byte: hand-built frontend messages, including malformed ones, and every backend message the server answers with.

use dosim_pg::{Engine, EngineConfig};
use dosim_pgwire::{serve_listener, PasswordAuth, PgCluster, WireConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One frontend message: its type byte and body.
type Msg = (u8, Vec<u8>);

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn query(sql: &str) -> Msg {
    (b'Q', cstr(sql))
}

fn parse(name: &str, sql: &str, oids: &[u32]) -> Msg {
    let mut b = cstr(name);
    b.extend(cstr(sql));
    b.extend((oids.len() as i16).to_be_bytes());
    for o in oids {
        b.extend(o.to_be_bytes());
    }
    (b'P', b)
}

/// A Bind with text parameters (`None` for NULL) and one result format code for all columns.
fn bind(portal: &str, statement: &str, params: &[Option<&str>], binary_results: bool) -> Msg {
    let mut b = cstr(portal);
    b.extend(cstr(statement));
    b.extend(0i16.to_be_bytes());
    b.extend((params.len() as i16).to_be_bytes());
    for p in params {
        match p {
            None => b.extend((-1i32).to_be_bytes()),
            Some(v) => {
                b.extend((v.len() as i32).to_be_bytes());
                b.extend(v.as_bytes());
            }
        }
    }
    b.extend(1i16.to_be_bytes());
    b.extend((binary_results as i16).to_be_bytes());
    (b'B', b)
}

fn describe(kind: u8, name: &str) -> Msg {
    let mut b = vec![kind];
    b.extend(cstr(name));
    (b'D', b)
}

fn execute(portal: &str) -> Msg {
    execute_limit(portal, 0)
}

fn execute_limit(portal: &str, max_rows: i32) -> Msg {
    let mut b = cstr(portal);
    b.extend(max_rows.to_be_bytes());
    (b'E', b)
}

fn sync() -> Msg {
    (b'S', vec![])
}

async fn connect(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connects");
    let mut body = 196_608i32.to_be_bytes().to_vec();
    for kv in ["user", "doadmin", "database", "defaultdb", ""] {
        body.extend(cstr(kv));
    }
    let mut packet = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    packet.extend(body);
    s.write_all(&packet).await.expect("sends startup");
    let mut transcript = vec![];
    loop {
        let (tag, body) = recv(&mut s).await.expect("startup answers");
        if tag == b'R' && body == 3i32.to_be_bytes() {
            let mut p = vec![b'p'];
            p.extend((4 + 7i32).to_be_bytes());
            p.extend(cstr("secret"));
            s.write_all(&p).await.expect("sends password");
        }
        transcript.push(tag);
        if tag == b'Z' {
            break;
        }
    }
    assert_eq!(transcript.first(), Some(&b'R'));
    s
}

async fn recv(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let tag = s.read_u8().await.ok()?;
    let len = s.read_i32().await.ok()?;
    let mut body = vec![0; len as usize - 4];
    s.read_exact(&mut body).await.ok()?;
    Some((tag, body))
}

/// Renders a backend message the way the tests spell it.
fn render(tag: u8, body: &[u8]) -> String {
    let fields = |body: &[u8]| {
        let mut out = String::new();
        for f in body.split(|c| *c == 0).filter(|f| !f.is_empty()) {
            let (code, text) = (f[0], String::from_utf8_lossy(&f[1..]));
            if matches!(code, b'S' | b'C' | b'M' | b'D') {
                out.push_str(&format!(" {}", text));
            }
        }
        out
    };
    let strings = |body: &[u8]| -> Vec<String> {
        body.split(|c| *c == 0)
            .map(|s| String::from_utf8_lossy(s).to_string())
            .collect()
    };
    match tag {
        b'1' => "ParseComplete".into(),
        b'2' => "BindComplete".into(),
        b'3' => "CloseComplete".into(),
        b'n' => "NoData".into(),
        b'I' => "EmptyQueryResponse".into(),
        b's' => "PortalSuspended".into(),
        b'Z' => format!("ReadyForQuery {}", body[0] as char),
        b'C' => format!("CommandComplete {}", strings(body)[0]),
        b'E' => format!("Error{}", fields(body)),
        b'N' => format!("Notice{}", fields(body)),
        b't' => {
            let n = i16::from_be_bytes([body[0], body[1]]) as usize;
            let oids: Vec<String> = (0..n)
                .map(|i| {
                    u32::from_be_bytes(body[2 + 4 * i..6 + 4 * i].try_into().expect("oid"))
                        .to_string()
                })
                .collect();
            format!("ParameterDescription {}", oids.join(" "))
        }
        b'T' => {
            let n = i16::from_be_bytes([body[0], body[1]]) as usize;
            let mut at = 2;
            let mut cols = vec![];
            for _ in 0..n {
                let end = at + body[at..].iter().position(|c| *c == 0).expect("name");
                let name = String::from_utf8_lossy(&body[at..end]).to_string();
                at = end + 1;
                let oid = u32::from_be_bytes(body[at + 6..at + 10].try_into().expect("oid"));
                let format = i16::from_be_bytes([body[at + 16], body[at + 17]]);
                cols.push(format!("{name}:{oid}:{format}"));
                at += 18;
            }
            format!("RowDescription {}", cols.join(" "))
        }
        b'D' => {
            let n = i16::from_be_bytes([body[0], body[1]]) as usize;
            let mut at = 2;
            let mut cells = vec![];
            for _ in 0..n {
                let len = i32::from_be_bytes(body[at..at + 4].try_into().expect("len"));
                at += 4;
                if len < 0 {
                    cells.push("NULL".to_string());
                } else {
                    let v = &body[at..at + len as usize];
                    at += len as usize;
                    cells.push(match std::str::from_utf8(v) {
                        Ok(t) if t.bytes().all(|c| c.is_ascii_graphic() || c == b' ') => t.into(),
                        _ => format!(
                            "0x{}",
                            v.iter().map(|b| format!("{b:02x}")).collect::<String>()
                        ),
                    });
                }
            }
            format!("DataRow {}", cells.join(" | "))
        }
        other => format!("message {}", other as char),
    }
}

/// Sends raw bytes after startup and compares every backend message up to the last `ReadyForQuery` expected, or to the connection's end.
#[track_caller]
fn check(setup: &[&str], send: Vec<u8>, expect: &[&str]) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let got = runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let port = listener.local_addr().expect("bound").port();
        let cluster = PgCluster::new(
            Engine::new(EngineConfig::default()),
            WireConfig {
                password_auth: PasswordAuth::Cleartext,
                message_bytes_max: 1 << 16,
                ..WireConfig::default()
            },
        );
        cluster.set_user("doadmin", "secret");
        tokio::spawn(serve_listener(listener, cluster));
        let mut s = connect(port).await;
        for sql in setup {
            s.write_all(&frame(&[query(sql)])).await.expect("sends");
            loop {
                let (tag, body) = recv(&mut s).await.expect("setup answers");
                assert_ne!(tag, b'E', "setup failed: {}", render(tag, &body));
                if tag == b'Z' {
                    break;
                }
            }
        }
        s.write_all(&send).await.expect("sends");
        let n_ready = expect
            .iter()
            .filter(|e| e.starts_with("ReadyForQuery"))
            .count();
        let mut got = vec![];
        let mut ready = 0;
        while ready < n_ready || n_ready == 0 {
            let Some((tag, body)) = recv(&mut s).await else {
                got.push("closed".to_string());
                break;
            };
            ready += (tag == b'Z') as usize;
            got.push(render(tag, &body));
        }
        got
    });
    assert_eq!(got, expect);
}

fn frame(msgs: &[Msg]) -> Vec<u8> {
    let mut out = vec![];
    for (tag, body) in msgs {
        out.push(*tag);
        out.extend(((body.len() + 4) as i32).to_be_bytes());
        out.extend(body);
    }
    out
}

const TABLE: &str = "CREATE TABLE t (id bigint PRIMARY KEY, name text, n integer)";

#[test]
fn extended_query_round_trip() {
    check(
        &[TABLE],
        frame(&[
            parse(
                "ins",
                "INSERT INTO t VALUES ($1, $2, $3) RETURNING id, n",
                &[],
            ),
            describe(b'S', "ins"),
            bind("", "ins", &[Some("7"), Some("ann"), None], true),
            describe(b'P', ""),
            execute(""),
            parse("", "SELECT name, n FROM t WHERE id = $1", &[]),
            bind("", "", &[Some("7")], false),
            execute(""),
            sync(),
        ]),
        &[
            "ParseComplete",
            "ParameterDescription 20 25 23",
            "RowDescription id:20:0 n:23:0",
            "BindComplete",
            "RowDescription id:20:1 n:23:1",
            "DataRow 0x0000000000000007 | NULL",
            "CommandComplete INSERT 0 1",
            "ParseComplete",
            "BindComplete",
            "DataRow ann | NULL",
            "CommandComplete SELECT 1",
            "ReadyForQuery I",
        ],
    );
}

#[test]
fn errors_skip_to_sync_and_the_next_batch_runs() {
    check(
        &[TABLE],
        frame(&[
            parse("", "SELECT 1 / $1", &[23]),
            bind("", "", &[Some("0")], false),
            execute(""),
            parse("", "SELECT 2", &[]),
            bind("", "", &[], false),
            execute(""),
            sync(),
            parse("", "SELECT 3 AS three", &[]),
            bind("", "", &[], false),
            execute(""),
            sync(),
        ]),
        &[
            "ParseComplete",
            "BindComplete",
            "Error ERROR 22012 division by zero",
            "ReadyForQuery I",
            "ParseComplete",
            "BindComplete",
            "DataRow 3",
            "CommandComplete SELECT 1",
            "ReadyForQuery I",
        ],
    );
}

#[test]
fn bad_extended_messages_get_postgres_errors() {
    let one = |msgs: Vec<Msg>, expect: &str| {
        let mut all = msgs;
        all.push(sync());
        check(&[TABLE], frame(&all), &[expect, "ReadyForQuery I"]);
    };
    one(
        vec![bind("", "nope", &[], false)],
        "Error ERROR 26000 prepared statement \"nope\" does not exist",
    );
    one(
        vec![execute("nope")],
        "Error ERROR 34000 portal \"nope\" does not exist",
    );
    check(
        &[TABLE],
        frame(&[
            parse("", "SELECT * FROM t WHERE id = $1", &[]),
            bind("", "", &[Some("abc")], false),
            sync(),
        ]),
        &[
            "ParseComplete",
            "Error ERROR 22P02 invalid input syntax for type bigint: \"abc\"",
            "ReadyForQuery I",
        ],
    );
    check(
        &[TABLE],
        frame(&[
            parse("s", "SELECT 1", &[]),
            parse("s", "SELECT 2", &[]),
            sync(),
        ]),
        &[
            "ParseComplete",
            "Error ERROR 42P05 prepared statement \"s\" already exists",
            "ReadyForQuery I",
        ],
    );
    check(
        &[TABLE],
        frame(&[parse("", "SELECT * FROM missing", &[]), sync()]),
        &[
            "Error ERROR 42P01 relation \"missing\" does not exist",
            "ReadyForQuery I",
        ],
    );
}

#[test]
fn parameter_count_mismatch() {
    check(
        &[TABLE],
        frame(&[
            parse("", "SELECT * FROM t WHERE id = $1", &[]),
            bind("", "", &[], false),
            sync(),
        ]),
        &[
            "ParseComplete",
            "Error ERROR 08P01 bind message supplies 0 parameters, but prepared statement \"\" requires 1",
            "ReadyForQuery I",
        ],
    );
}

#[test]
fn simple_query_edges() {
    check(
        &[],
        frame(&[query("")]),
        &["EmptyQueryResponse", "ReadyForQuery I"],
    );
    check(
        &[TABLE],
        frame(&[query(
            "BEGIN; INSERT INTO t VALUES (1, 'a', 1); SELECT nope FROM t",
        )]),
        &[
            "CommandComplete BEGIN",
            "CommandComplete INSERT 0 1",
            "Error ERROR 42703 column \"nope\" does not exist",
            "ReadyForQuery E",
        ],
    );
    check(
        &[],
        frame(&[query("COMMIT")]),
        &[
            "Notice WARNING 25P01 there is no transaction in progress",
            "CommandComplete COMMIT",
            "ReadyForQuery I",
        ],
    );
}

#[test]
fn malformed_frames_close_the_connection() {
    check(
        &[],
        frame(&[(b'y', vec![])]),
        &[
            "Error FATAL 08P01 invalid frontend message type 121",
            "closed",
        ],
    );
    let mut huge = vec![b'Q'];
    huge.extend((1i32 << 20).to_be_bytes());
    check(
        &[],
        huge,
        &[
            "Error FATAL 08P01 invalid message length 1048576 for message type \"Q\"",
            "closed",
        ],
    );
    // A Parse whose body ends early is refused, and the connection goes on after Sync.
    check(
        &[],
        frame(&[(b'P', cstr("s")), sync(), query("SELECT 1")]),
        &[
            "Error ERROR 08P01 invalid message format",
            "ReadyForQuery I",
            "RowDescription ?column?:23:0",
            "DataRow 1",
            "CommandComplete SELECT 1",
            "ReadyForQuery I",
        ],
    );
}

#[test]
fn row_limits_suspend_the_portal() {
    check(
        &[
            TABLE,
            "INSERT INTO t VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)",
        ],
        frame(&[
            parse("", "SELECT id FROM t ORDER BY id", &[]),
            bind("p", "", &[], false),
            execute_limit("p", 2),
            execute_limit("p", 2),
            execute_limit("p", 2),
            sync(),
        ]),
        &[
            "ParseComplete",
            "BindComplete",
            "DataRow 1",
            "DataRow 2",
            "PortalSuspended",
            "DataRow 3",
            "CommandComplete SELECT 1",
            "CommandComplete SELECT 0",
            "ReadyForQuery I",
        ],
    );
}

#[test]
fn a_statement_whose_columns_changed_is_refused() {
    check(
        &[TABLE],
        frame(&[
            parse("s", "SELECT * FROM t", &[]),
            query("DROP TABLE t; CREATE TABLE t (id bigint)"),
            bind("", "s", &[], false),
            execute(""),
            sync(),
        ]),
        &[
            "ParseComplete",
            "CommandComplete DROP TABLE",
            "CommandComplete CREATE TABLE",
            "ReadyForQuery I",
            "BindComplete",
            "Error ERROR 0A000 cached plan must not change result type",
            "ReadyForQuery I",
        ],
    );
}
