//! Unit tests for the account model: one file of refusals, one of lifecycles.

mod domains;
mod errors;
mod fixture;
mod invariants;
mod lifecycle;
mod persist;
mod projects;
mod spaces_keys;
mod tags;
mod timings;
mod vpcs;
