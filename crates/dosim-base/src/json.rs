//! JSON read from a body that came over a wire.
//!
//! serde_json reading bytes checks that each string and each key is UTF-8 as it meets it, which
//! was a sixth of decoding a droplet (some sixty strings and a hundred keys in 1.4 KB). A body
//! that is UTF-8 as a whole, as every body the fakes and DigitalOcean send is, is checked once
//! here and then read as text, which skips those checks; any other body is read as bytes, so that
//! the error is serde_json's own, at the first bad byte. Both readers give the same value and the
//! same errors, positions included, for the same UTF-8 input.

use serde::de::{Deserialize, DeserializeSeed};

/// Runs `seed` over the JSON document `body`, and checks that nothing but whitespace follows it.
pub fn decode_seed<'de, S: DeserializeSeed<'de>>(
    body: &'de [u8],
    seed: S,
) -> Result<S::Value, serde_json::Error> {
    match std::str::from_utf8(body) {
        Ok(text) => whole(&mut serde_json::Deserializer::from_str(text), seed),
        Err(_) => whole(&mut serde_json::Deserializer::from_slice(body), seed),
    }
}

/// Decodes the JSON document `body` as a `T`, as `serde_json::from_slice` does.
pub fn decode<'de, T: Deserialize<'de>>(body: &'de [u8]) -> Result<T, serde_json::Error> {
    decode_seed(body, std::marker::PhantomData)
}

fn whole<'de, R: serde_json::de::Read<'de>, S: DeserializeSeed<'de>>(
    deserializer: &mut serde_json::Deserializer<R>,
    seed: S,
) -> Result<S::Value, serde_json::Error> {
    let value = seed.deserialize(&mut *deserializer)?;
    deserializer.end()?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The two readers agree, on values and on errors with their positions.
    #[test]
    fn text_and_bytes_read_alike() {
        let bodies: [&[u8]; 9] = [
            br#"{"droplet": {"id": 7, "name": "w\u00e9b", "tags": ["a", "b"]}}"#,
            "{\"name\": \"ünïcode ✓\"}".as_bytes(),
            b"  [1, 2.5, -3, true, null]  ",
            b"{\"a\": 1,}",
            b"{\"a\": 1} trailing",
            b"{\"a\": \"unterminated",
            b"",
            b"{\"bad escape\": \"\\q\"}",
            b"{\"a\":\n  nope}",
        ];
        for body in bodies {
            let ours = decode::<Value>(body).map_err(|e| e.to_string());
            let theirs = serde_json::from_slice::<Value>(body).map_err(|e| e.to_string());
            assert_eq!(ours, theirs, "body {:?}", String::from_utf8_lossy(body));
        }
    }

    /// A body that is not UTF-8 is read as bytes: serde_json's own error, at the bad byte.
    #[test]
    fn a_body_that_is_not_utf8_gets_serde_jsons_error() {
        let body = b"{\"name\": \"caf\xe9\"}";
        let ours = decode::<Value>(body).unwrap_err().to_string();
        let theirs = serde_json::from_slice::<Value>(body)
            .unwrap_err()
            .to_string();
        assert_eq!(ours, theirs);
        assert!(ours.contains("column"), "{ours}");
    }

    /// Borrowed strings borrow from the body, as with `from_slice`.
    #[test]
    fn strings_without_escapes_borrow_from_the_body() {
        #[derive(serde::Deserialize)]
        struct Named<'a> {
            name: &'a str,
        }
        let body = br#"{"name": "web-1"}"#;
        let named: Named<'_> = decode(body).unwrap();
        assert_eq!(named.name, "web-1");
    }
}
