//! The engine against its interleaving scripts (`tests/scripts/*.txt`, shared with the differential suite), plus tables for the pieces below commands.

use std::collections::{BTreeMap, VecDeque};

use crate::script::{self, Action};
use crate::{ClientId, Engine, EngineConfig, EvictionPolicy, Outcome, Reply, SimTime};

/// Runs a script against a fresh engine; the first disagreement, with its line.
pub(crate) fn run_script(text: &str, config: EngineConfig) -> Result<(), String> {
    let lines = script::parse(text)?;
    let mut engine = Engine::new(config);
    let mut clients: BTreeMap<String, ClientId> = BTreeMap::new();
    let mut blocked: BTreeMap<String, Option<SimTime>> = BTreeMap::new();
    let mut answered: BTreeMap<String, VecDeque<Reply>> = BTreeMap::new();
    let mut now = SimTime::ZERO;
    for line in lines {
        let actual = match line.action {
            Action::Sleep { ms } => {
                now = now.plus_ms(ms);
                engine.advance(now);
                let mut due: Vec<(SimTime, String)> = blocked
                    .iter()
                    .filter_map(|(n, d)| d.filter(|d| *d <= now).map(|d| (d, n.clone())))
                    .collect();
                due.sort();
                for (_, name) in due {
                    let id = clients[&name];
                    let reply = engine.time_out(id, now).expect("due");
                    blocked.remove(&name);
                    answered.entry(name).or_default().push_back(reply);
                }
                continue;
            }
            Action::Resumes { client } => {
                match answered.get_mut(&client).and_then(VecDeque::pop_front) {
                    Some(reply) => reply.to_string(),
                    None => "still blocked".to_string(),
                }
            }
            Action::Step { client, args } => {
                if blocked.contains_key(&client) {
                    return Err(format!("line {}: {client} is blocked", line.lineno));
                }
                let id = *clients
                    .entry(client.clone())
                    .or_insert_with(|| engine.connect().expect("room for clients"));
                let actual = match engine.execute(id, &args, now) {
                    Outcome::Reply(reply) => reply.to_string(),
                    Outcome::Blocked { deadline, .. } => {
                        blocked.insert(client.clone(), deadline);
                        "blocked".to_string()
                    }
                };
                for (served, reply) in engine.take_served() {
                    let name = clients
                        .iter()
                        .find(|(_, id)| **id == served)
                        .map(|(n, _)| n.clone())
                        .expect("served clients are the script's");
                    blocked.remove(&name);
                    answered.entry(name).or_default().push_back(reply);
                }
                actual
            }
        };
        let expected = line.expected.join("\n");
        if actual.trim_end() != expected {
            return Err(format!(
                "line {}: expected\n  {expected}\ngot\n  {actual}",
                line.lineno
            ));
        }
    }
    Ok(())
}

#[test]
fn scripts() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/scripts")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 8, "the scripts are missing");
    let mut failures = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("readable");
        if let Err(e) = run_script(&text, EngineConfig::default()) {
            failures.push(format!("{}: {e}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[track_caller]
fn check_glob(pattern: &str, text: &str, expect: bool) {
    assert_eq!(
        crate::glob::matches(pattern.as_bytes(), text.as_bytes()),
        expect,
        "{pattern} ~ {text}"
    );
}

#[test]
fn glob_patterns() {
    for (pattern, text, expect) in [
        ("*", "", true),
        ("lock:*", "lock:x", true),
        ("lock:*", "lease:x", false),
        ("h?llo", "hello", true),
        ("h?llo", "hllo", false),
        ("h[ae]llo", "hallo", true),
        ("h[^e]llo", "hello", false),
        ("h[a-b]llo", "hbllo", true),
        ("h\\*llo", "h*llo", true),
        ("h\\*llo", "hello", false),
        ("*a*b", "xxaxxb", true),
        ("*a*b", "xxaxxbc", false),
    ] {
        check_glob(pattern, text, expect);
    }
}

#[track_caller]
fn check_int(text: &str, expect: Option<i64>) {
    assert_eq!(crate::cmd::parse_i64(text.as_bytes()), expect, "{text:?}");
}

#[test]
fn integers_as_valkey_reads_them() {
    for (text, expect) in [
        ("0", Some(0)),
        ("-1", Some(-1)),
        ("9223372036854775807", Some(i64::MAX)),
        ("-9223372036854775808", Some(i64::MIN)),
        ("9223372036854775808", None),
        ("01", None),
        ("-0", None),
        ("+1", None),
        (" 1", None),
        ("1.0", None),
        ("", None),
    ] {
        check_int(text, expect);
    }
}

/// A full cluster evicts by its policy, or refuses writes under `noeviction`.
#[track_caller]
fn check_eviction(policy: EvictionPolicy, script: &str) {
    let config = EngineConfig {
        maxmemory_bytes: 300,
        eviction_policy: policy,
        ..EngineConfig::default()
    };
    if let Err(e) = run_script(script, config) {
        panic!("{}: {e}", policy.api_name());
    }
}

#[test]
fn eviction_policies() {
    // Each key costs 64 bytes of overhead plus its bytes; 300 bytes hold four small keys.
    let fill = "a: SET k1 v\n  +OK\na: SET k2 v EX 100\n  +OK\na: SET k3 v EX 50\n  +OK\na: GET k1\n  \"v\"\na: SET k4 v\n  +OK\n";
    check_eviction(
        EvictionPolicy::Noeviction,
        &format!("{fill}a: SET k5 v\n  +OK\na: SET k6 v\n  -OOM command not allowed when used memory > 'maxmemory'.\na: GET k1\n  \"v\"\na: DEL k1\n  :1\n"),
    );
    check_eviction(
        EvictionPolicy::AllkeysLru,
        &format!("{fill}a: SET k5 v\n  +OK\na: SET k6 v\n  +OK\na: EXISTS k2\n  :0\na: EXISTS k1\n  :1\n"),
    );
    check_eviction(
        EvictionPolicy::VolatileTtl,
        &format!("{fill}a: SET k5 v\n  +OK\na: SET k6 v\n  +OK\na: EXISTS k3\n  :0\na: EXISTS k2\n  :1\n"),
    );
    check_eviction(
        EvictionPolicy::VolatileLru,
        &format!("{fill}a: SET k5 v\n  +OK\na: SET k6 v\n  +OK\na: EXISTS k2\n  :0\na: EXISTS k1\n  :1\n"),
    );
}

#[test]
fn eviction_policy_names() {
    for p in EvictionPolicy::ALL {
        assert_eq!(EvictionPolicy::from_api_name(p.api_name()), Some(p));
    }
    assert_eq!(EvictionPolicy::AllkeysLru.server_name(), "allkeys-lru");
    assert_eq!(EvictionPolicy::from_api_name("allkeys_lfu"), None);
}

#[test]
fn final_keyspace_ttl() {
    let mut engine = Engine::new(EngineConfig::default());
    let client = engine.connect().expect("room for clients");
    let args =
        |line: &str| -> Vec<Vec<u8>> { line.split(' ').map(|a| a.as_bytes().to_vec()).collect() };
    for line in ["SET lease x PX 1500", "SET claim y", "SET gone z PX 10"] {
        assert!(matches!(
            engine.execute(client, &args(line), SimTime::ZERO),
            Outcome::Reply(_)
        ));
    }
    let at = SimTime::ZERO.plus_ms(500);
    assert_eq!(engine.peek_ttl(0, b"lease", at), Some(Some(1000)));
    assert_eq!(engine.peek_ttl(0, b"claim", at), Some(None));
    assert_eq!(engine.peek_ttl(0, b"gone", at), None);
    assert_eq!(engine.peek_ttl(0, b"missing", at), None);
    assert_eq!(engine.peek_ttl(1, b"claim", at), None);
}

#[test]
fn sorted_set_bytes_and_order() {
    use crate::keyspace::ZSet;
    let mut z = ZSet::default();
    assert_eq!(z.insert(b"b".to_vec(), 1.0), None);
    assert_eq!(z.insert(b"a".to_vec(), 1.0), None);
    assert_eq!(z.insert(b"c".to_vec(), -0.0), None);
    assert_eq!(z.insert(b"b".to_vec(), 2.0), Some(1.0));
    let order: Vec<&[u8]> = z.order.iter().map(|(_, m)| m.as_slice()).collect();
    assert_eq!(order, [b"c".as_slice(), b"a", b"b"]);
    for m in [b"a", b"b", b"c"] {
        assert!(z.remove(m).is_some());
    }
    assert_eq!((z.len(), z.bytes()), (0, 0));
}

/// A dump keeps every type, the order each keeps, binary bytes and the time keys have left, and
/// restores them in a fresh engine whose clock starts again at zero.
#[test]
fn dump_and_restore_round_trip() {
    let mut engine = Engine::new(EngineConfig::default());
    let client = engine.connect().expect("room for clients");
    let run = |engine: &mut Engine, args: &[&[u8]], at: SimTime| -> Reply {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        match engine.execute(client, &args, at) {
            Outcome::Reply(reply) => reply,
            other => panic!("{other:?}"),
        }
    };
    for args in [
        &[b"SET".as_slice(), b"lease", b"me", b"PX", b"3000"][..],
        &[b"SET", b"bin\xff", b"\x00\x01"],
        &[b"SET", b"hex:looks", b"like hex"],
        &[b"HSET", b"h", b"z", b"1", b"a", b"2"],
        &[b"RPUSH", b"q", b"j1", b"j2"],
        &[b"SADD", b"s", b"b", b"a"],
        &[b"SADD", b"n", b"3", b"1"],
        &[b"ZADD", b"z", b"-inf", b"lo", b"1.5", b"mid", b"inf", b"hi"],
        &[b"SET", b"gone", b"x", b"PX", b"10"],
        &[b"SELECT", b"3"],
        &[b"SET", b"other", b"db"],
    ] {
        assert!(
            !run(&mut engine, args, SimTime::ZERO).is_error(),
            "{args:?}"
        );
    }
    let dump = engine.dump(SimTime::ZERO.plus_ms(1_000));
    let json = serde_json::to_string(&dump).expect("serializes");
    let back: crate::EngineDump = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, dump);
    assert!(json.contains("\"hex:62696eff\""), "{json}");
    assert!(json.contains("\"hex:6865783a6c6f6f6b73\""), "{json}");

    let mut fresh = Engine::new(EngineConfig::default());
    fresh.restore(&back, SimTime::ZERO).expect("restores");
    let client = fresh.connect().expect("room for clients");
    let run = |engine: &mut Engine, args: &[&[u8]]| -> String {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        match engine.execute(client, &args, SimTime::ZERO) {
            Outcome::Reply(reply) => reply.to_string(),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(run(&mut fresh, &[b"GET", b"bin\xff"]), "\"\\x00\\x01\"");
    assert_eq!(run(&mut fresh, &[b"GET", b"hex:looks"]), "\"like hex\"");
    assert_eq!(
        run(&mut fresh, &[b"HGETALL", b"h"]),
        "{\"z\": \"1\", \"a\": \"2\"}"
    );
    assert_eq!(
        run(&mut fresh, &[b"LRANGE", b"q", b"0", b"-1"]),
        "[\"j1\", \"j2\"]"
    );
    assert_eq!(run(&mut fresh, &[b"SMEMBERS", b"s"]), "[\"b\", \"a\"]");
    assert_eq!(run(&mut fresh, &[b"SMEMBERS", b"n"]), "[\"1\", \"3\"]");
    assert_eq!(
        run(&mut fresh, &[b"ZRANGE", b"z", b"0", b"-1", b"WITHSCORES"]),
        "[\"lo\", \"-inf\", \"mid\", \"1.5\", \"hi\", \"inf\"]"
    );
    assert_eq!(run(&mut fresh, &[b"EXISTS", b"gone"]), ":0");
    assert_eq!(run(&mut fresh, &[b"GET", b"other"]), "nil");
    run(&mut fresh, &[b"SELECT", b"3"]);
    assert_eq!(run(&mut fresh, &[b"GET", b"other"]), "\"db\"");
    // The lease had 3,000 ms at zero and the dump was taken at 1,000 ms: 2,000 ms are left.
    run(&mut fresh, &[b"SELECT", b"0"]);
    assert_eq!(run(&mut fresh, &[b"PTTL", b"lease"]), ":2000");

    let bad = crate::EngineDump {
        dbs: vec![crate::DbDump {
            db: 99,
            keys: Vec::new(),
        }],
    };
    assert!(fresh.restore(&bad, SimTime::ZERO).is_err());
    assert_eq!(
        run(&mut fresh, &[b"DBSIZE"]),
        ":8",
        "a refused restore changes nothing"
    );
}

/// Runs one command on `engine` for `client` at time zero.
fn run_line(engine: &mut Engine, client: ClientId, line: &str) -> Reply {
    let args: Vec<Vec<u8>> = line.split(' ').map(|a| a.as_bytes().to_vec()).collect();
    match engine.execute(client, &args, SimTime::ZERO) {
        Outcome::Reply(reply) => reply,
        other => panic!("{line}: {other:?}"),
    }
}

/// One `SCAN` step: the next cursor and the keys returned.
fn scan_step(engine: &mut Engine, client: ClientId, line: &str) -> (u64, Vec<String>) {
    let Reply::Array(parts) = run_line(engine, client, line) else {
        panic!("{line}: not an array");
    };
    let [Reply::Bulk(cursor), Reply::Array(keys)] = &parts[..] else {
        panic!("{line}: {parts:?}");
    };
    let cursor = std::str::from_utf8(cursor).unwrap().parse().unwrap();
    let keys = keys
        .iter()
        .map(|key| match key {
            Reply::Bulk(key) => String::from_utf8(key.clone()).unwrap(),
            other => panic!("{line}: {other:?}"),
        })
        .collect();
    (cursor, keys)
}

/// A whole iteration with `options`, calling `between` after each step: every key returned, in
/// order, and the number of steps.
fn scan_all(
    engine: &mut Engine,
    client: ClientId,
    options: &str,
    mut between: impl FnMut(&mut Engine, usize),
) -> (Vec<String>, usize) {
    let (mut cursor, mut seen, mut steps) = (0, Vec::new(), 0);
    loop {
        let (next, keys) = scan_step(engine, client, &format!("SCAN {cursor}{options}"));
        seen.extend(keys);
        steps += 1;
        between(engine, steps);
        if next == 0 {
            return (seen, steps);
        }
        cursor = next;
        assert!(steps < 10_000, "the iteration does not end");
    }
}

#[test]
fn scan_iterates_in_steps_and_returns_each_lasting_key_once() {
    let mut engine = Engine::new(EngineConfig::default());
    let client = engine.connect().expect("room for clients");
    for n in 0..100 {
        run_line(&mut engine, client, &format!("SET k:{n} v"));
    }
    run_line(&mut engine, client, "RPUSH queue x");

    // The default COUNT visits ten keys a step; MATCH filters what a step visited.
    let (seen, steps) = scan_all(&mut engine, client, " MATCH k:*", |_, _| {});
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 100, "every key once: {seen:?}");
    assert_eq!(seen.len(), 100, "no key twice");
    assert!(
        (10..=12).contains(&steps),
        "{steps} steps of ten over 101 keys"
    );
    assert_ne!(seen, sorted, "scan order is not key order");
    let (first_cursor, first) = scan_step(&mut engine, client, "SCAN 0 COUNT 3");
    assert!(
        first_cursor != 0 && first.len() == 3,
        "{first_cursor} {first:?}"
    );

    // TYPE, and a COUNT past the keyspace: one step.
    let (lists, steps) = scan_all(&mut engine, client, " TYPE list", |_, _| {});
    assert_eq!(lists, ["queue"]);
    assert!(steps > 1);
    assert_eq!(scan_all(&mut engine, client, " COUNT 1000", |_, _| {}).1, 1);

    // Keys removed and added during an iteration: the ones there throughout are returned once.
    let (seen, _) = scan_all(&mut engine, client, " COUNT 7", |engine, step| {
        if step == 2 {
            for n in 0..20 {
                run_line(engine, client, &format!("DEL k:{n}"));
                run_line(engine, client, &format!("SET new:{n} v"));
            }
        }
    });
    let mut lasting: Vec<String> = (20..100).map(|n| format!("k:{n}")).collect();
    lasting.push("queue".to_owned());
    for key in &lasting {
        assert_eq!(
            seen.iter().filter(|s| *s == key).count(),
            1,
            "{key}: {seen:?}"
        );
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no key twice: {seen:?}");

    // Another seed, another order; the same seed, the same.
    let order = |seed: u64| {
        let mut engine = Engine::new(EngineConfig {
            seed,
            ..EngineConfig::default()
        });
        let client = engine.connect().expect("room for clients");
        for n in 0..30 {
            run_line(&mut engine, client, &format!("SET k:{n} v"));
        }
        scan_all(&mut engine, client, "", |_, _| {}).0
    };
    assert_eq!(order(1), order(1));
    assert_ne!(order(1), order(2));

    // Bad cursors and counts, as Valkey words them.
    for (line, error) in [
        ("SCAN x", "ERR invalid cursor"),
        ("SCAN 0 COUNT 0", "ERR syntax error"),
        ("SCAN 0 COUNT", "ERR syntax error"),
    ] {
        assert_eq!(
            run_line(&mut engine, client, line),
            Reply::err(error),
            "{line}"
        );
    }
}

/// `HSCAN … NOVALUES` (Valkey 8; Redis 7.0, which the shared scripts run against, has no such
/// option), and `NOVALUES` refused on the other scans with Valkey's words.
#[test]
fn hscan_novalues_lists_fields_alone() {
    let mut engine = Engine::new(EngineConfig::default());
    let client = engine.connect().expect("room for clients");
    run_line(&mut engine, client, "HSET h a 1 b 2");
    run_line(&mut engine, client, "SADD s x");
    let (cursor, fields) = scan_step(&mut engine, client, "HSCAN h 0 NOVALUES");
    assert_eq!((cursor, fields), (0, vec!["a".to_owned(), "b".to_owned()]));
    let (_, pairs) = scan_step(&mut engine, client, "HSCAN h 0 COUNT 5 MATCH b");
    assert_eq!(pairs, ["b", "2"]);
    for line in [
        "SSCAN s 0 NOVALUES",
        "SCAN 0 NOVALUES",
        "ZSCAN s 0 NOVALUES",
    ] {
        let expect = if line.starts_with("ZSCAN") {
            Reply::err("WRONGTYPE Operation against a key holding the wrong kind of value")
        } else {
            Reply::err("ERR NOVALUES option can only be used in HSCAN")
        };
        assert_eq!(run_line(&mut engine, client, line), expect, "{line}");
    }
}
