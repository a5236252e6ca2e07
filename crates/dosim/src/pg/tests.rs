//! Unit tests of the PostgreSQL harness: the statement recorder and a small scenario end to end.
