//! Tokens: parsing the `Authorization` header, fingerprints, per-account seeds, and tokens derived from a seed.

use dosim_base::Stream;
use rand::RngCore;

const TOKEN_PREFIX: &str = "dop_v1_";
const TOKEN_HEX_LEN: usize = 64;

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
    // Every request names its account: the digits are written without the formatter.
    let hash = dosim_base::hash_text(token);
    let mut text = String::with_capacity(21);
    text.push_str("acct-");
    text.extend((0..16).rev().map(|nibble| {
        char::from_digit(((hash >> (nibble * 4)) & 0xf) as u32, 16).expect("a nibble is a digit")
    }));
    text
}

/// The seed of one account's cloud model: the server seed mixed with the token's hash.
pub fn account_seed(server_seed: u64, token: &str) -> u64 {
    dosim_base::derive(server_seed, Stream::Account(dosim_base::hash_text(token)))
}

/// The `index`-th valid token derived from a seed, the same on every run.
pub fn token_for_seed(seed: u64, index: u64) -> String {
    let mut rng = dosim_base::rng(seed, Stream::Token(index));
    let mut bytes = [0u8; TOKEN_HEX_LEN / 2];
    rng.fill_bytes(&mut bytes);
    let mut token = String::with_capacity(TOKEN_PREFIX.len() + TOKEN_HEX_LEN);
    token.push_str(TOKEN_PREFIX);
    for byte in bytes {
        token.push_str(&format!("{byte:02x}"));
    }
    token
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_is_the_tokens_hash_in_sixteen_hex_digits() {
        for index in 0..200 {
            let token = token_for_seed(index, index);
            let expected = format!("acct-{:016x}", dosim_base::hash_text(&token));
            assert_eq!(fingerprint(&token), expected);
        }
        assert_eq!(
            fingerprint(""),
            format!("acct-{:016x}", dosim_base::hash_text(""))
        );
    }
}
