//! Runs every interleaving script of `crates/dosim-pg/tests/scripts/` against a real PostgreSQL server and checks that it agrees with each step, but for the known differences.

use dosim_pg_diff::server::Reference;
use dosim_pg_diff::wire::{now, Conn};
use dosim_pg_diff::{reconcile, run_script, script, scripts, Difference, KNOWN_DIFFERENCES};

#[track_caller]
fn check(reference: &Reference) {
    let started = now();
    let mut admin = Conn::connect(&reference.target, &reference.target.database)
        .unwrap_or_else(|e| panic!("{}: {e}", reference.description));
    let mut found: Vec<Difference> = vec![];
    let mut failures = vec![];
    let mut ran = vec![];
    for (name, text) in scripts().unwrap_or_else(|e| panic!("{e}")) {
        if script::is_dosim_only(&text) {
            eprintln!("{name}: dosim-only, skipped");
            continue;
        }
        let t = now();
        match run_script(&reference.target, &mut admin, &name, &text) {
            Ok(d) => {
                eprintln!(
                    "{name}: {} difference(s) in {} ms",
                    d.len(),
                    t.elapsed().as_millis()
                );
                found.extend(d);
            }
            Err(e) => {
                eprintln!("{name}: failed: {e}");
                failures.push(e);
            }
        }
        ran.push(name);
    }
    admin.terminate();
    eprintln!(
        "{} scripts against {} in {} ms",
        ran.len(),
        reference.description,
        started.elapsed().as_millis()
    );
    for d in &found {
        eprintln!("{d}");
    }
    let mut problems = failures;
    problems.extend(reconcile(&found, KNOWN_DIFFERENCES, &ran));
    assert!(
        problems.is_empty(),
        "{} problem(s) against {}:\n\n{}",
        problems.len(),
        reference.description,
        problems.join("\n")
    );
}

#[test]
fn scripts_agree_with_postgresql() {
    let reference = Reference::start().unwrap_or_else(|e| panic!("{e}"));
    check(&reference);
}
