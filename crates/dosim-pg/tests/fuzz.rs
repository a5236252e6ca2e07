//! Generated statements: a seeded grammar over a small schema writes thousands of statements,
//! valid and broken (tokens dropped, swapped or repeated), and runs them on one engine. Every one
//! must be answered with a result or an SQLSTATE error (never a panic, never an internal error),
//! the session must stay usable after each, and the same seed must give the same answers.

use dosim_base::splitmix64;
use dosim_pg::{Engine, EngineConfig, Outcome, SimTime};

const STATEMENTS: usize = 4000;

/// A seeded stream of choices.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: usize) -> usize {
        self.0 = splitmix64(self.0);
        (self.0 % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const TABLES: [&str; 3] = ["parent", "child", "nope"];
const COLUMNS: [&str; 6] = ["id", "name", "amount", "parent_id", "created", "missing"];
const FUNCTIONS: [&str; 9] = [
    "abs", "lower", "upper", "length", "coalesce", "now", "count", "max", "nope",
];

fn operand(d: &mut Draw, depth: usize) -> String {
    match d.below(if depth > 3 { 5 } else { 9 }) {
        0 => d.pick(&COLUMNS).to_owned(),
        1 => d.below(1000).to_string(),
        2 => format!(
            "'{}'",
            d.pick(&["a", "", "x'y", "2026-01-01", "12.5", "NaN"])
        ),
        3 => d
            .pick(&["NULL", "true", "false", "-1", "9223372036854775807"])
            .to_owned(),
        4 => format!("${}", d.below(3) + 1),
        5 => format!("({})", expr(d, depth + 1)),
        6 => format!(
            "{}({})",
            d.pick(&FUNCTIONS),
            (0..d.below(3))
                .map(|_| expr(d, depth + 1))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        7 => format!(
            "(SELECT {} FROM {} LIMIT 1)",
            expr(d, depth + 1),
            d.pick(&TABLES)
        ),
        _ => format!(
            "{}::{}",
            operand(d, depth + 1),
            d.pick(&[
                "int",
                "bigint",
                "text",
                "numeric",
                "bool",
                "timestamptz",
                "uuid",
                "date"
            ])
        ),
    }
}

fn expr(d: &mut Draw, depth: usize) -> String {
    let mut out = operand(d, depth);
    for _ in 0..d.below(4) {
        let op = d.pick(&[
            "+", "-", "*", "/", "%", "||", "=", "<>", "<", ">=", "AND", "OR", "LIKE", "IS", "IN",
        ]);
        let right = if op == "IN" {
            format!("({}, {})", operand(d, depth + 1), operand(d, depth + 1))
        } else if op == "IS" {
            d.pick(&["NULL", "NOT NULL", "TRUE", "DISTINCT FROM 1"])
                .to_owned()
        } else {
            operand(d, depth + 1)
        };
        out = format!("{out} {op} {right}");
    }
    out
}

fn statement(d: &mut Draw) -> String {
    let table = d.pick(&TABLES);
    let sql = match d.below(12) {
        0 | 1 => format!(
            "SELECT {} FROM {table} WHERE {} ORDER BY {} LIMIT {}",
            expr(d, 0),
            expr(d, 0),
            d.pick(&COLUMNS),
            d.below(5)
        ),
        2 => format!(
            "SELECT count(*), {} FROM parent p JOIN child c ON c.parent_id = p.id GROUP BY 2",
            d.pick(&["p.name", "c.amount", "p.id"])
        ),
        3 | 4 => format!(
            "INSERT INTO {table} (id, name) VALUES ({}, {}) ON CONFLICT (id) DO {}",
            expr(d, 0),
            expr(d, 0),
            d.pick(&["NOTHING", "UPDATE SET name = excluded.name"])
        ),
        5 => format!(
            "INSERT INTO child (id, parent_id, amount) VALUES ({}, {}, {}) RETURNING *",
            d.below(50),
            d.below(50),
            expr(d, 0)
        ),
        6 => format!(
            "UPDATE {table} SET {} = {} WHERE {} RETURNING id",
            d.pick(&COLUMNS),
            expr(d, 0),
            expr(d, 0)
        ),
        7 => format!("DELETE FROM {table} WHERE {}", expr(d, 0)),
        8 => d
            .pick(&[
                "BEGIN",
                "COMMIT",
                "ROLLBACK",
                "SAVEPOINT s",
                "ROLLBACK TO SAVEPOINT s",
                "BEGIN ISOLATION LEVEL SERIALIZABLE",
                "SET statement_timeout = 5",
                "SET statement_timeout = 0",
            ])
            .to_owned(),
        9 => format!(
            "SELECT pg_advisory_lock({0}), pg_advisory_unlock({0})",
            d.below(5)
        ),
        10 => format!(
            "SELECT * FROM {table} FOR {} {}",
            d.pick(&["UPDATE", "SHARE"]),
            d.pick(&["", "NOWAIT", "SKIP LOCKED"])
        ),
        _ => format!(
            "CREATE TABLE IF NOT EXISTS {table} (id int PRIMARY KEY, name text, amount numeric CHECK (amount > {}), parent_id int, created timestamptz DEFAULT now())",
            d.below(10)
        ),
    };
    mutate(d, sql)
}

/// One statement in four is broken: a token dropped, doubled or swapped with its neighbour.
fn mutate(d: &mut Draw, sql: String) -> String {
    if d.below(4) != 0 {
        return sql;
    }
    let mut tokens: Vec<&str> = sql.split(' ').collect();
    let at = d.below(tokens.len());
    match d.below(3) {
        0 => {
            tokens.remove(at);
        }
        1 => tokens.insert(at, tokens[at]),
        _ if at + 1 < tokens.len() => tokens.swap(at, at + 1),
        _ => tokens.push("("),
    }
    tokens.join(" ")
}

fn answer(outcome: Outcome) -> String {
    match outcome {
        Outcome::Done(results) => format!(
            "ok {}",
            results.last().map_or(0, |result| result.rows.len())
        ),
        Outcome::Error { error, .. } => {
            assert_eq!(error.sqlstate.len(), 5, "{error:?}");
            assert_ne!(error.sqlstate, "XX000", "an internal error: {error:?}");
            format!("{} {}", error.sqlstate, error.message)
        }
        Outcome::Blocked { .. } => panic!("one session cannot wait on itself"),
    }
}

fn run(seed: u64) -> Vec<String> {
    let mut engine = Engine::new(EngineConfig::default());
    let s = engine.connect("defaultdb").expect("defaultdb exists");
    for setup in [
        "CREATE TABLE parent (id int PRIMARY KEY, name text UNIQUE, amount numeric, parent_id int, created timestamptz DEFAULT now())",
        "CREATE TABLE child (id int PRIMARY KEY, name text, amount numeric CHECK (amount >= 0), parent_id int REFERENCES parent (id), created timestamptz)",
        "INSERT INTO parent (id, name) VALUES (1, 'a'), (2, 'b')",
    ] {
        assert_eq!(answer(engine.execute(s, setup, &[], SimTime::ZERO)).split(' ').next(), Some("ok"));
    }
    let mut d = Draw(seed);
    let params = [
        dosim_pg::Value::Int4(1),
        dosim_pg::Value::Text("p".into()),
        dosim_pg::Value::Null,
    ];
    let mut answers = Vec::with_capacity(STATEMENTS);
    for i in 0..STATEMENTS {
        let now = SimTime::from_ms(i as u64);
        let sql = statement(&mut d);
        let used = d.below(4);
        let got = answer(engine.execute(s, &sql, &params[..used.min(3)], now));
        answers.push(format!("{sql} => {got}"));
        // The session goes on: after an error inside a transaction, ROLLBACK brings it back.
        let alive = answer(engine.execute(s, "SELECT 1", &[], now));
        if alive != "ok 1" {
            assert!(alive.starts_with("25P02"), "after {sql}: {alive}");
            assert_eq!(answer(engine.execute(s, "ROLLBACK", &[], now)), "ok 0");
        }
    }
    answers
}

#[test]
fn generated_statements_are_answered_and_repeat() {
    let first = run(7);
    let errors = first.iter().filter(|a| !a.contains("=> ok")).count();
    let oks = first.len() - errors;
    // The grammar reaches both sides: plenty of statements run and plenty are refused.
    assert!(oks > STATEMENTS / 10, "{oks} answered ok");
    assert!(errors > STATEMENTS / 10, "{errors} refused");
    assert_eq!(first, run(7), "the same seed gives the same answers");
}
