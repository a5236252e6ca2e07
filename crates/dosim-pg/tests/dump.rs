//! A cluster's committed data, dumped and restored into a fresh engine: the same rows, the same
//! constraints under the same names, sequences that go on where they were, and nothing that was
//! not committed.

mod common;

use common::run;
use dosim_pg::{Engine, EngineConfig, EngineDump};

const READS: [&str; 4] = [
    "SELECT id, name, balance, opened, active, ref FROM accounts ORDER BY id",
    "SELECT id, account_id, parent_id, note FROM entries ORDER BY id",
    "SELECT count(*) FROM other_table",
    "SELECT id FROM accounts WHERE name = 'o''brien'",
];

#[test]
fn committed_data_survives_a_dump_and_a_restore() {
    let mut engine = Engine::new(EngineConfig::default());
    let s = engine.connect("defaultdb").expect("defaultdb exists");
    for sql in [
        "CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL UNIQUE, \
         balance numeric(12,2) DEFAULT 0 CHECK (balance >= 0), opened timestamptz, \
         active boolean DEFAULT true, ref uuid)",
        "CREATE TABLE entries (id bigserial PRIMARY KEY, account_id int NOT NULL REFERENCES accounts (id), \
         parent_id bigint REFERENCES entries (id), note text)",
        "CREATE UNIQUE INDEX entries_note_key ON entries (note)",
        "CREATE INDEX entries_account ON entries (account_id)",
        "INSERT INTO accounts (name, balance, opened, ref) VALUES \
         ('alice', 10.5, '2026-01-02T03:04:05Z', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'), \
         ('o''brien', 0, NULL, NULL), ('gone', 1, NULL, NULL)",
        "INSERT INTO entries (account_id, note) VALUES (1, 'first')",
        "INSERT INTO entries (account_id, parent_id, note) VALUES (2, 1, 'child of \"first\"')",
        "UPDATE accounts SET balance = balance + 1 WHERE name = 'alice'",
        "DELETE FROM accounts WHERE name = 'gone'",
    ] {
        let answer = run(&mut engine, s, sql);
        assert!(!answer.starts_with("ERROR"), "{sql}: {answer}");
    }
    engine.create_database("other");
    let o = engine.connect("other").expect("other exists");
    assert_eq!(run(&mut engine, o, "CREATE TABLE other_table (x int)"), "");
    assert_eq!(
        run(&mut engine, o, "INSERT INTO other_table VALUES (1), (2)"),
        ""
    );
    // Not committed when the dump is taken: not in it.
    let open = engine.connect("defaultdb").expect("a third session");
    assert_eq!(run(&mut engine, open, "BEGIN"), "");
    assert_eq!(
        run(
            &mut engine,
            open,
            "INSERT INTO accounts (name) VALUES ('uncommitted')"
        ),
        ""
    );

    let dump = engine.dump();
    let json = serde_json::to_string(&dump).expect("a dump serializes");
    let read: EngineDump = serde_json::from_str(&json).expect("and reads back");
    assert_eq!(read, dump);
    let mut restored = Engine::new(EngineConfig::default());
    restored.restore(&read).expect("the dump restores");
    let r = restored.connect("defaultdb").expect("defaultdb exists");
    let before: Vec<String> = READS[..2]
        .iter()
        .chain(&READS[3..])
        .map(|sql| run(&mut engine, s, sql))
        .collect();
    let after: Vec<String> = READS[..2]
        .iter()
        .chain(&READS[3..])
        .map(|sql| run(&mut restored, r, sql))
        .collect();
    assert_eq!(after, before);
    assert!(
        !after[0].contains("uncommitted") && !after[0].contains("gone"),
        "{after:?}"
    );
    let ro = restored.connect("other").expect("other restored");
    assert_eq!(run(&mut restored, ro, READS[2]), "2");

    // Sequences go on; constraints hold under their names.
    assert_eq!(
        run(
            &mut restored,
            r,
            "INSERT INTO accounts (name) VALUES ('carol') RETURNING id"
        ),
        "5",
        "ids 1 to 3 were used, and 4 by the uncommitted insert"
    );
    assert_eq!(
        run(
            &mut restored,
            r,
            "INSERT INTO accounts (id, name) VALUES (1, 'dup')"
        ),
        "ERROR 23505 duplicate key value violates unique constraint \"accounts_pkey\""
    );
    assert!(run(
        &mut restored,
        r,
        "UPDATE accounts SET balance = -1 WHERE id = 1"
    )
    .starts_with("ERROR 23514"));
    assert!(run(
        &mut restored,
        r,
        "INSERT INTO entries (account_id) VALUES (99)"
    )
    .starts_with("ERROR 23503"));
    assert!(run(
        &mut restored,
        r,
        "INSERT INTO entries (account_id, note) VALUES (1, 'first')"
    )
    .starts_with("ERROR 23505"));
    assert_eq!(
        run(&mut restored, r, "DELETE FROM accounts WHERE id = 1"),
        "ERROR 23503 update or delete on table \"accounts\" violates foreign key constraint \"entries_account_id_fkey\" on table \"entries\""
    );
    // The restored default still applies.
    assert_eq!(
        run(
            &mut restored,
            r,
            "SELECT balance, active FROM accounts WHERE name = 'carol'"
        ),
        "0.00|t"
    );
}
