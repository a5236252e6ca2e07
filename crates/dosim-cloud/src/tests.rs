//! Unit tests for the account model: one file of refusals, one of lifecycles.

mod errors;
mod fixture;
mod invariants;
mod lifecycle;
mod spaces_keys;
mod timings;
