//! Named random streams: one run's seed splits into independent streams, each named, so that
//! adding a stream never shifts another and every consumer draws from its own.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The independent random streams a seed splits into.
///
/// The run's streams (`Cloud` through `Service`) are split from the run's seed by the harness;
/// the server's (`Requests`, `Faults`, `Account`, `Token`) from the server's own seed, which in a
/// simulation is the run's `Cloud` stream and in `dosim serve` is `--seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// The server's seed: the cloud model's ids, UUIDs and addresses derive from it.
    Cloud,
    /// The harness's network-fault and actor-fault draws (when partitions start, pauses).
    Network,
    /// The strategy's own choices (PCT's priorities and change points).
    Schedule,
    /// Where a steered strategy puts actor faults: at which of an actor's sleeps and operations.
    FaultPoints,
    /// Actor `n`'s `cx.rng()`.
    Actor(u32),
    /// User service host `n`.
    Service(u32),
    /// The server's request ids.
    Requests,
    /// The server's fault draws (latency, rejects, lost responses).
    Faults,
    /// One account's cloud model, from the FNV-1a hash of its token.
    Account(u64),
    /// The `n`-th token a server derives (`dosim serve` prints the first).
    Token(u64),
}

/// Derives the seed of one stream from a seed.
///
/// The run's streams mix with splitmix64 over the pair. The server's streams keep the XOR tags
/// they have always had, so that every recorded seed replays the same ids and faults; their
/// input is itself a splitmix64 output (the run's `Cloud` stream), or a user's `--seed`.
pub fn derive(seed: u64, stream: Stream) -> u64 {
    let run = |tag: u64| splitmix64(splitmix64(seed) ^ tag.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    match stream {
        Stream::Cloud => run(1),
        Stream::Network => run(3),
        Stream::Schedule => run(4),
        Stream::FaultPoints => run(5),
        Stream::Actor(n) => run(0x1_0000_0000 | u64::from(n)),
        Stream::Service(n) => run(0x2_0000_0000 | u64::from(n)),
        // "request\0"
        Stream::Requests => seed ^ 0x7265_7175_6573_7400,
        // "faults\0\0"
        Stream::Faults => seed ^ 0x6661_756c_7473_0000,
        // A final avalanche, so that neighbouring seeds give unrelated accounts.
        Stream::Account(token_hash) => splitmix64(seed ^ token_hash.rotate_left(17)),
        // "token\0\0\0"
        Stream::Token(index) => seed ^ 0x746f_6b65_6e00_0000 ^ index.rotate_left(32),
    }
}

/// A `ChaCha8Rng` for one stream of a seed.
pub fn rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive(seed, stream))
}

/// splitmix64's output function: a bijection on `u64` whose output bits each depend on every
/// input bit.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::{derive, Stream};

    /// The derivations are part of every recorded seed: a change here changes every report.
    #[test]
    fn derivations_are_stable() {
        let cases: &[(Stream, u64)] = &[
            (Stream::Requests, 7 ^ 0x7265_7175_6573_7400),
            (Stream::Faults, 7 ^ 0x6661_756c_7473_0000),
            (Stream::Token(0), 7 ^ 0x746f_6b65_6e00_0000),
        ];
        for (stream, want) in cases {
            assert_eq!(derive(7, *stream), *want, "{stream:?}");
        }
        let streams = [
            Stream::Cloud,
            Stream::Network,
            Stream::Schedule,
            Stream::FaultPoints,
            Stream::Actor(0),
            Stream::Actor(1),
            Stream::Service(0),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for stream in streams {
            assert!(seen.insert(derive(7, stream)), "{stream:?} collides");
        }
    }
}
