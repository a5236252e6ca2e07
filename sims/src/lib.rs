//! The race catalog.
