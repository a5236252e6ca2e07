//! Unit tests for the account model.
