//! Deep and wide expressions on a 2 MiB stack, the size of a tokio worker's: every query string is
//! answered with a result or PostgreSQL's `54001`, and the engine answers the next query.

use dosim_base::splitmix64;
use dosim_pg::{Engine, EngineConfig, Outcome, SimTime, EXPR_DEPTH_MAX};

/// A tokio worker's stack.
const WORKER_STACK: usize = 2 << 20;

/// Runs each query string on one engine and session, on a thread with a worker's stack, and renders
/// each answer as its first value or its error; after each, checks that `SELECT 1` still answers.
fn answers(queries: Vec<String>) -> Vec<String> {
    std::thread::Builder::new()
        .stack_size(WORKER_STACK)
        .spawn(move || {
            let mut engine = Engine::new(EngineConfig::default());
            let s = engine.connect("defaultdb").expect("defaultdb exists");
            let mut out = vec![];
            for (i, sql) in queries.iter().enumerate() {
                let now = SimTime::from_ms(i as u64);
                out.push(render(engine.execute(s, sql, &[], now)));
                assert_eq!(
                    render(engine.execute(s, "SELECT 1", &[], now)),
                    "1",
                    "after {}",
                    &sql[..sql.len().min(80)]
                );
            }
            out
        })
        .expect("spawn")
        .join()
        .expect("no panic, no overflow")
}

fn render(o: Outcome) -> String {
    match o {
        Outcome::Done(r) => {
            let v = r
                .last()
                .and_then(|r| r.rows.first())
                .and_then(|row| row.first())
                .and_then(|v| v.to_text())
                .unwrap_or_else(|| "NULL".into());
            if v.len() > 20 {
                format!("{}… ({} bytes)", &v[..20], v.len())
            } else {
                v
            }
        }
        Outcome::Error { error, .. } => format!("ERROR {} {}", error.sqlstate, error.message),
        Outcome::Blocked { .. } => "blocked".into(),
    }
}

fn chain(n: usize, term: impl Fn(usize) -> String, op: &str) -> String {
    (0..n).map(term).collect::<Vec<_>>().join(op)
}

#[test]
fn operator_chains_are_answered() {
    let cases: Vec<(String, &str)> = vec![
        // The three examples, each about 6 KB.
        (
            format!("SELECT {}", chain(3000, |_| "1".into(), "+")),
            "3000",
        ),
        (
            format!(
                "SELECT 1 WHERE {}",
                chain(3000, |i| format!("{i}=7"), " OR ")
            ),
            "1",
        ),
        (
            format!("SELECT length({})", chain(1500, |_| "'a'".into(), "||")),
            "1500",
        ),
        (
            format!(
                "SELECT {}",
                chain(EXPR_DEPTH_MAX / 2, |_| "true".into(), " AND ")
            ),
            "t",
        ),
        (format!("SELECT 1{}", "::int".repeat(1000)), "1"),
        // Past the limit: refused, whatever the operator.
        (
            format!("SELECT {}", chain(EXPR_DEPTH_MAX + 1, |_| "1".into(), "+")),
            "ERROR 54001 stack depth limit exceeded",
        ),
        (
            format!("SELECT {}", chain(100_000, |_| "'a'".into(), "||")),
            "ERROR 54001 stack depth limit exceeded",
        ),
        (
            format!("SELECT 1 WHERE {}", chain(50_000, |_| "1=1".into(), " OR ")),
            "ERROR 54001 stack depth limit exceeded",
        ),
        // A chain inside a subquery inside parentheses counts its depth through them.
        (
            format!(
                "SELECT (SELECT ({}))",
                chain(EXPR_DEPTH_MAX + 10, |_| "2".into(), "*")
            ),
            "ERROR 54001 stack depth limit exceeded",
        ),
        // Deep parentheses stay refused by the parser's own limit.
        (
            format!("SELECT {}1{}", "(".repeat(200), ")".repeat(200)),
            "ERROR 54001 stack depth limit exceeded",
        ),
        // Wide is not deep: a long IN list and many short conditions are fine.
        (
            format!("SELECT 5 IN ({})", chain(20_000, |i| i.to_string(), ",")),
            "t",
        ),
        (
            format!("SELECT {}", chain(3000, |i| format!("(1+{i})"), ",")),
            "1",
        ),
    ];
    let (queries, expect): (Vec<String>, Vec<&str>) = cases.into_iter().unzip();
    let got = answers(queries);
    for (g, e) in got.iter().zip(&expect) {
        assert!(g.starts_with(e), "got {g}, expected {e}");
    }
}

/// Generated expressions: chains of random operators and operands, some parenthesised, some in
/// subqueries, from a few terms to far past the limit. Seeded, so a failure replays.
#[test]
fn generated_deep_and_wide_expressions_never_crash() {
    let ops = [
        "+",
        "-",
        "*",
        "||",
        " AND ",
        " OR ",
        "=",
        "<",
        " IS NOT NULL OR ",
        "::text||",
        "/",
    ];
    let operands = [
        "1",
        "2",
        "'a'",
        "true",
        "NULL",
        "(1)",
        "(SELECT 1)",
        "abs(-3)",
    ];
    let mut x = 9u64;
    let mut next = |m: u64| {
        x = splitmix64(x);
        x % m
    };
    let mut queries = vec![];
    for _ in 0..40 {
        let n = match next(4) {
            0 => next(20),
            1 => next(2000),
            2 => next(EXPR_DEPTH_MAX as u64 * 2),
            _ => next(8_000),
        } as usize
            + 1;
        let mut sql = String::from("SELECT ");
        // Half the chains repeat one operator, so that they nest as deep as they are long.
        let one_op = (next(2) == 0).then(|| ops[next(ops.len() as u64) as usize]);
        let wrap = next(3);
        if wrap == 1 {
            sql.push_str("(SELECT ");
        }
        for i in 0..n {
            if i > 0 {
                let op = one_op.unwrap_or_else(|| ops[next(ops.len() as u64) as usize]);
                sql.push_str(op);
            }
            if next(50) == 0 {
                sql.push('(');
                sql.push_str(operands[next(operands.len() as u64) as usize]);
                sql.push_str("+1)");
            } else {
                sql.push_str(operands[next(operands.len() as u64) as usize]);
            }
        }
        if wrap == 1 {
            sql.push(')');
        }
        queries.push(sql);
    }
    let got = answers(queries);
    assert_eq!(got.len(), 40);
    let refused = got.iter().filter(|g| g.starts_with("ERROR 54001")).count();
    assert!(refused > 0 && refused < 40, "{got:?}");
}
