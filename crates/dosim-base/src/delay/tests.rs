//! Unit tests of delays: their checks, their draws and their scaling.

use rand::RngCore;

use super::Delay;
use crate::{rng, Stream};

/// Checks `delay` against a cap of 1000 ms, then draws it 200 times from a fresh stream and
/// expects every draw within `low..=high` and the RNG moved only if `draws`.
#[track_caller]
fn check(delay: Delay, check: Result<(), &str>, low: u64, high: u64, draws: bool) {
    assert_eq!(delay.check(1000), check.map_err(str::to_owned), "{delay:?}");
    let mut drawn = rng(7, Stream::Faults);
    let mut untouched = rng(7, Stream::Faults);
    for _ in 0..200 {
        let ms = delay.draw_ms(&mut drawn);
        assert!((low..=high).contains(&ms), "{delay:?} drew {ms}");
    }
    assert_eq!(
        drawn.next_u64() != untouched.next_u64(),
        draws,
        "{delay:?}: whether the RNG moved"
    );
}

#[test]
fn delays() {
    check(Delay::Millis(120), Ok(()), 120, 120, false);
    check(Delay::Fixed { fixed_ms: 0 }, Ok(()), 0, 0, false);
    let uniform = Delay::Uniform {
        min_ms: 50,
        max_ms: 200,
    };
    check(uniform, Ok(()), 50, 200, true);
    let exponential = Delay::Exponential {
        mean_ms: 80,
        max_ms: 300,
    };
    check(exponential, Ok(()), 0, 300, true);
    // Refused by the check, yet drawn without a panic.
    let backwards = Delay::Uniform {
        min_ms: 9,
        max_ms: 3,
    };
    check(backwards, Err("min_ms must not exceed max_ms"), 3, 9, true);
    check(
        Delay::Millis(1001),
        Err("is capped at 1000 ms"),
        1001,
        1001,
        false,
    );
    let mean_over_cap = Delay::Exponential {
        mean_ms: 5000,
        max_ms: 1001,
    };
    check(mean_over_cap, Err("is capped at 1000 ms"), 0, 1001, true);
}

#[test]
fn fixed_delays_are_known_without_a_draw() {
    assert_eq!(Delay::Millis(5).fixed_ms(), Some(5));
    assert_eq!(Delay::Fixed { fixed_ms: 6 }.fixed_ms(), Some(6));
    assert_eq!(
        Delay::Uniform {
            min_ms: 1,
            max_ms: 1
        }
        .fixed_ms(),
        None
    );
}

#[test]
fn scaling_multiplies_every_duration() {
    let exponential = Delay::Exponential {
        mean_ms: 80,
        max_ms: 2000,
    };
    assert_eq!(
        exponential.scaled(0.5),
        Delay::Exponential {
            mean_ms: 40,
            max_ms: 1000
        }
    );
    assert_eq!(Delay::Millis(3).scaled(0.5), Delay::Millis(2));
    assert_eq!(Delay::Millis(3).scaled(f64::NAN), Delay::Millis(3));
    assert_eq!(Delay::Millis(3).scaled(-1.0), Delay::Millis(3));
    assert_eq!(Delay::Millis(3).scaled(1e300), Delay::Millis(u64::MAX));
}
