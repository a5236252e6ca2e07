//! Lifecycles: time, locks, moves, effects of deletes, determinism.
