//! The check API: a named predicate over a run's outcome, and the violation it reports.

use std::sync::Arc;

use serde::Serialize;

use crate::outcome::RunOutcome;

/// A check that failed: which, why, and the resources involved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Violation {
    /// The check's name, e.g. `every actor finished Ok`.
    pub check: String,
    /// What went wrong, in one or more sentences.
    pub message: String,
    /// The offending resources (`droplet 42`, `volume 7f3a…`, `pod-1`).
    pub resources: Vec<String>,
}

impl Violation {
    /// A violation of `check`.
    pub fn new(check: impl Into<String>, message: impl Into<String>) -> Violation {
        Violation {
            check: check.into(),
            message: message.into(),
            resources: Vec::new(),
        }
    }

    /// Names the resources involved.
    pub fn resources<I, S>(mut self, resources: I) -> Violation
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.resources = resources.into_iter().map(Into::into).collect();
        self
    }
}

type CheckFn = dyn Fn(&RunOutcome) -> Result<(), Violation> + Send + Sync;

/// A named predicate over a run's outcome.
#[derive(Clone)]
pub struct Check {
    name: String,
    check: Arc<CheckFn>,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Check {
    /// A check from a closure over the run's outcome (history, beliefs, final state).
    pub fn new<F>(name: impl Into<String>, check: F) -> Check
    where
        F: Fn(&RunOutcome) -> Result<(), Violation> + Send + Sync + 'static,
    {
        Check {
            name: name.into(),
            check: Arc::new(check),
        }
    }

    /// The check's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs the check. A panic inside a user's check is reported as a violation, not a crash.
    pub fn run(&self, outcome: &RunOutcome) -> Result<(), Violation> {
        let check = &self.check;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(outcome))) {
            Ok(result) => result,
            Err(panic) => Err(Violation::new(
                &self.name,
                format!("the check panicked: {}", crate::panic_message(&panic)),
            )),
        }
    }
}
