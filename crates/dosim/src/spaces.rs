//! Spaces in a scenario: the S3 data plane on a turmoil host at `{region}.digitaloceanspaces.com`, a key pair from the account's model, each request in the history, and the final buckets for checks.
//!
//! `Scenario::spaces(SpacesSpec::new("nyc3").bucket("uploads"))` creates a Spaces key with full access in the account before the actors start, as `POST /v2/spaces/keys` would, and the named buckets under it.
//! The harness then runs a host named `{region}.digitaloceanspaces.com`, serving `dosim_spaces` on port 80 (plain HTTP, as turmoil carries plain bytes), with every state-changing request admitted through the run's gate.
//! Actors find the endpoint and the key pair with [`info`]; with the `s3-sdk` feature, `sdk::client()` gives an ordinary `aws_sdk_s3::Client` whose only difference from a program talking to DigitalOcean is its HTTP client, which dials over turmoil.
//!
//! Every S3 request is recorded as an operation of the sending host: the HTTP method, the path and query as target, the status, the request id, and a summary with the operation, ETag, version id or error code.
//! After the run, [`RunOutcome::spaces`](crate::RunOutcome::spaces) reads the final buckets and objects and the service's request log.
//!
//! Choices where a simulation differs from DigitalOcean:
//! - The buckets exist from time zero, owned by the account; the key is called `dosim` and has `fullaccess`.
//! - The conditional-PUT switch ([`SpacesSpec::conditional_put`]) is the scenario's, default as `dosim serve`'s.
//! - Plain HTTP on port 80; signatures are checked against simulated time, which clients sign with.
//! - An S3 request's operation is recorded by the Spaces host when the request arrives and when its response leaves, so its times in the timeline are the server's, without the network's latency either way.

mod run;
#[cfg(feature = "s3-sdk")]
pub mod sdk;

pub use dosim_spaces::{ConditionalPut, Spaces};
pub(crate) use run::{create, enter, host, RunGuard};
pub use run::{info, RunSpaces, SpacesInfo};

/// The port the Spaces host listens on.
pub const PORT: u16 = 80;

/// The most buckets one scenario may create up front.
pub const BUCKETS_MAX: usize = 16;

/// Spaces in a scenario: the region, its buckets and the conditional-PUT switch.
#[derive(Debug, Clone)]
pub struct SpacesSpec {
    pub(crate) region: String,
    /// Each bucket and whether versioning is enabled on it.
    pub(crate) buckets: Vec<(String, bool)>,
    pub(crate) conditional_put: ConditionalPut,
}

impl SpacesSpec {
    /// Spaces in `region` (`nyc3`, `sfo3`, `ams3`, …), with no buckets yet.
    pub fn new(region: impl Into<String>) -> SpacesSpec {
        SpacesSpec {
            region: region.into(),
            buckets: Vec::new(),
            conditional_put: ConditionalPut::default(),
        }
    }

    /// Adds a bucket, unversioned.
    pub fn bucket(mut self, name: impl Into<String>) -> SpacesSpec {
        self.buckets.push((name.into(), false));
        self
    }

    /// Adds a bucket with versioning enabled.
    pub fn versioned_bucket(mut self, name: impl Into<String>) -> SpacesSpec {
        self.buckets.push((name.into(), true));
        self
    }

    /// How `If-Match` and `If-None-Match` on writes behave (`docs/spaces.md`).
    pub fn conditional_put(mut self, mode: ConditionalPut) -> SpacesSpec {
        self.conditional_put = mode;
        self
    }
}
