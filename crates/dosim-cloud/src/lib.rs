//! The DigitalOcean account as a deterministic state machine: no I/O, no clock, no RNG of its own.
