//! The differential suite: dosim-pg's interleaving scripts run against a real PostgreSQL server, so that the scripts, and through them the engine, stay true to PostgreSQL.
//!
//! `tests/differential.rs` is the test; this library holds the runner, a small protocol client, the
//! reference server and the table of known differences, and re-exports the script parser it shares
//! with the engine's own runner (`dosim_pg::script`). See `README.md`.

pub mod known;
pub mod run;
pub mod server;
pub mod wire;

use std::path::PathBuf;

pub use dosim_pg::script;

pub use known::{Known, KNOWN_DIFFERENCES};
pub use run::{run_script, Difference};

/// The scripts the engine's own test runs: `crates/dosim-pg/tests/scripts/`.
pub fn scripts_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dosim-pg/tests/scripts")
}

/// Every script's name (without `.txt`) and text, in name order.
pub fn scripts() -> Result<Vec<(String, String)>, String> {
    let dir = scripts_dir();
    let mut out = vec![];
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".txt"))
        else {
            continue;
        };
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        out.push((name.to_string(), text));
    }
    out.sort();
    Ok(out)
}

/// Checks the differences found against the known ones: every difference must be listed with the
/// outcome PostgreSQL gave, and every listed one must still occur. Returns the problems, one per entry.
pub fn reconcile(found: &[Difference], known: &[Known], scripts_run: &[String]) -> Vec<String> {
    let mut problems = vec![];
    for d in found {
        if !known.iter().any(|k| k.matches(d)) {
            problems.push(format!("a difference not in KNOWN_DIFFERENCES:\n{d}"));
        }
    }
    for k in known {
        if !scripts_run.iter().any(|s| s == k.script) {
            problems.push(format!(
                "KNOWN_DIFFERENCES lists {}.txt:{}, but that script did not run; remove the entry",
                k.script, k.lineno
            ));
        } else if !found.iter().any(|d| k.matches(d)) {
            problems.push(format!(
                "KNOWN_DIFFERENCES lists {}.txt:{} ({}), but PostgreSQL no longer gives {:?} there; remove the entry",
                k.script, k.lineno, k.fixme, k.postgres
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests;
