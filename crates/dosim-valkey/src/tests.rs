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
