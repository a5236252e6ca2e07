//! The engine's interleaving scripts against Debian's redis-server: every step agrees, or is a listed known difference, and a listed difference that disappears fails.

use dosim_valkey::script;
use dosim_valkey_diff::{run_script, scripts, Reference, KNOWN_DIFFERENCES};

#[test]
fn scripts_agree_with_redis_server() {
    let installed = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok();
    if !installed && std::env::var("DOSIM_REDIS_REFERENCE_PORT").is_err() {
        assert!(
            std::env::var("DOSIM_REQUIRE_REDIS").is_err(),
            "redis-server is not installed; scripts/test.sh installs it"
        );
        eprintln!("redis-server is not installed: the differential suite is skipped");
        return;
    }
    let reference = Reference::start().unwrap_or_else(|e| panic!("{e}"));
    let mut problems = Vec::new();
    let mut found = Vec::new();
    for (name, text) in scripts().unwrap_or_else(|e| panic!("{e}")) {
        if script::is_dosim_only(&text) {
            eprintln!("{name}: dosim-only, skipped");
            continue;
        }
        match run_script(reference.port, &name, &text) {
            Ok(differences) => found.extend(differences),
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    for d in &found {
        if !KNOWN_DIFFERENCES
            .iter()
            .any(|(s, l, _)| *s == d.script && *l == d.line)
        {
            problems.push(format!(
                "{}:{}: expected\n  {}\nredis-server answered\n  {}",
                d.script, d.line, d.expected, d.actual
            ));
        }
    }
    for (s, l, why) in KNOWN_DIFFERENCES {
        if !found.iter().any(|d| d.script == *s && d.line == *l) {
            problems.push(format!(
                "{s}:{l} is listed as a known difference ({why}) but now agrees: remove it"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
