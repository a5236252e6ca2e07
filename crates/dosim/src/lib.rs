//! Deterministic simulation of code that drives DigitalOcean: scenarios, faults, checks, reports.
