//! Tokens: parsing the `Authorization` header, fingerprints, per-account seeds, and tokens derived from a seed.

use rand::RngCore;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const TOKEN_PREFIX: &str = "dop_v1_";
const TOKEN_HEX_LEN: usize = 64;

/// FNV-1a over bytes: stable across processes and platforms, unlike std's hasher.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// The token from an `Authorization` header value, if it is a well-formed personal access token.
///
/// DigitalOcean's tokens are `dop_v1_` followed by 64 lowercase hex digits; anything else is
/// refused with 401 so that a client misconfiguration shows up at once.
pub fn parse_bearer(header: Option<&str>) -> Option<&str> {
    let header = header?.trim();
    let (scheme, token) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    valid_token(token).then_some(token)
}

/// Whether a string is a well-formed `dop_v1_…` token.
pub fn valid_token(token: &str) -> bool {
    let Some(hex) = token.strip_prefix(TOKEN_PREFIX) else {
        return false;
    };
    hex.len() == TOKEN_HEX_LEN && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A short, stable name for an account that does not reveal its token.
pub fn fingerprint(token: &str) -> String {
    format!("acct-{:016x}", fnv1a64(token.as_bytes()))
}

/// The seed of one account's cloud model: the server seed mixed with the token's hash.
pub fn account_seed(server_seed: u64, token: &str) -> u64 {
    let mixed = server_seed ^ fnv1a64(token.as_bytes()).rotate_left(17);
    // A final avalanche (splitmix64) so that neighbouring seeds give unrelated accounts.
    let mut z = mixed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The `index`-th valid token derived from a seed, the same on every run.
pub fn token_for_seed(seed: u64, index: u64) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x746f_6b65_6e00_0000 ^ index.rotate_left(32));
    let mut bytes = [0u8; TOKEN_HEX_LEN / 2];
    rng.fill_bytes(&mut bytes);
    let mut token = String::with_capacity(TOKEN_PREFIX.len() + TOKEN_HEX_LEN);
    token.push_str(TOKEN_PREFIX);
    for byte in bytes {
        token.push_str(&format!("{byte:02x}"));
    }
    token
}
