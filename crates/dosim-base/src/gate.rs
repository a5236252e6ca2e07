//! The operation gate: the one place where every data plane says "this operation is about to
//! commit" and waits for the explorer's word.
//!
//! A plane (the API in front of the cloud model, the PostgreSQL wire server in front of its
//! engine, and every plane after them) calls [`Gate::admit`] with the operation just before it
//! commits, awaits the [`Permit`], commits, and drops the permit as soon as the commit is done.
//! The explorer implements [`Gate`] to decide which of several concurrent operations commits
//! first; outside exploration the gate is [`Open`] and admits at once, so a plane that is not
//! being steered pays one boxed future per operation.
//!
//! The contract every plane keeps:
//! - admit *after* everything that happens before the commit (network, processing latency,
//!   authentication, validation that refuses without a change), so the gate orders commits and
//!   nothing else;
//! - hold the permit only while committing: never across a wait for another operation (a row
//!   lock, a blocking pop). An operation that must wait drops its permit, and its continuation
//!   commits without entering the gate again;
//! - dropping the admission future (the client went away) withdraws the operation.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// The data plane an operation belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Plane {
    /// The DigitalOcean API v2: one request.
    Api,
    /// A managed PostgreSQL cluster: one SQL statement.
    Postgres,
    /// A managed Valkey cluster: one command (a transaction's `EXEC` or a script is one).
    Valkey,
    /// Spaces, the S3-compatible object store: one request that changes state.
    Spaces,
}

impl fmt::Display for Plane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Plane::Api => "api",
            Plane::Postgres => "postgres",
            Plane::Valkey => "valkey",
            Plane::Spaces => "spaces",
        })
    }
}

/// An operation about to commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// Its plane.
    pub plane: Plane,
    /// The host that serves it: `api.digitalocean.com`, a cluster's host name.
    pub server: String,
    /// The host (actor or service) that sent it, as the plane knows it; `unknown` if it cannot tell.
    pub actor: String,
    /// The session it belongs to, for planes with sessions (a PostgreSQL backend's process id).
    pub session: Option<u64>,
    /// One line saying what it is: `POST /v2/volumes`, `UPDATE accounts SET …`.
    pub summary: String,
}

/// The right to commit one operation; dropping it tells the gate the commit is done.
#[must_use = "dropping the permit at once releases the gate before the commit"]
pub struct Permit {
    on_release: Option<Box<dyn FnOnce() + Send>>,
}

impl Permit {
    /// A permit whose release tells nobody: what an open gate hands out.
    pub fn free() -> Permit {
        Permit { on_release: None }
    }

    /// A permit that runs `release` once, when it is dropped.
    pub fn on_release(release: impl FnOnce() + Send + 'static) -> Permit {
        Permit {
            on_release: Some(Box::new(release)),
        }
    }
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("tells_gate", &self.on_release.is_some())
            .finish()
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(release) = self.on_release.take() {
            release();
        }
    }
}

/// Waiting to be admitted; resolves to the permit.
pub type Admission = Pin<Box<dyn Future<Output = Permit> + Send + 'static>>;

/// Decides when each operation may commit.
pub trait Gate: Send + Sync {
    /// Waits until `operation` may commit.
    fn admit(&self, operation: Operation) -> Admission;
}

/// The gate that admits every operation at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct Open;

impl Gate for Open {
    fn admit(&self, _operation: Operation) -> Admission {
        Box::pin(std::future::ready(Permit::free()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    use super::Permit;

    #[test]
    fn a_permit_releases_once_when_dropped() {
        let released = Arc::new(AtomicU32::new(0));
        let counter = released.clone();
        let permit = Permit::on_release(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(released.load(Ordering::SeqCst), 0);
        drop(permit);
        assert_eq!(released.load(Ordering::SeqCst), 1);
        drop(Permit::free());
    }
}
