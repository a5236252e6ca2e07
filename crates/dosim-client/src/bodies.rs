//! Response bodies the client has read before on this thread, decoded once and copied after.
//!
//! A poll reads the same body until the resource changes: a droplet polled until it is active,
//! workers that each list the same fleet and read every droplet of it in turn. Decoding is a pure
//! function of the body's bytes and of what is read from them (the type, the envelope's key), so a
//! memo keyed by those gives what decoding again would, as a copy. A body is kept only the second
//! time it is read (the first time only its digest is noted), so a client whose bodies never
//! repeat (every created resource has a new id) pays a digest per body and never a copy.
//!
//! Everything here is per thread and bounded: bodies over [`BODY_BYTES_MAX`] are never kept, and
//! the memo starts over when it holds [`ENTRIES_MAX`] bodies or [`HELD_BYTES_MAX`] bytes of them.

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};

/// The longest body kept: a droplet is about 1.5 KB, a page of twenty about 30 KB.
const BODY_BYTES_MAX: usize = 64 * 1024;

/// How many bodies are kept before the memo starts over.
const ENTRIES_MAX: usize = 64;

/// How many bytes of bodies are kept before the memo starts over; the decoded copies beside them
/// take a small multiple of that.
const HELD_BYTES_MAX: usize = 256 * 1024;

/// How many digests of bodies read once are noted before the notes start over.
const SEEN_MAX: usize = 4096;

/// A body read at least twice, and what it decoded to.
struct Known {
    body: Box<[u8]>,
    value: Box<dyn Any>,
}

#[derive(Default)]
struct Memo {
    /// Digests of bodies read once.
    seen: BTreeSet<u64>,
    /// Bodies read twice or more, by digest.
    known: BTreeMap<u64, Known>,
    /// The bytes of the bodies in `known`.
    held_bytes: usize,
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::default();
}

/// What `decode` gives for `body`, read as `V` under `what` (the envelope's keys): from the memo
/// when this thread decoded the same bytes the same way before, else from `decode`. Only a
/// successful decoding is remembered, so an error is always `decode`'s own.
pub(crate) fn decoded<V, E>(
    body: &[u8],
    what: impl Hash,
    decode: impl FnOnce() -> Result<V, E>,
) -> Result<V, E>
where
    V: Clone + 'static,
{
    if body.len() > BODY_BYTES_MAX {
        return decode();
    }
    // FxHash rather than SipHash: a digest is computed for every body, and a collision costs
    // nothing but a body kept one read early (a hit compares the bytes).
    let digest = {
        let mut hasher = rustc_hash::FxHasher::default();
        TypeId::of::<V>().hash(&mut hasher);
        what.hash(&mut hasher);
        body.hash(&mut hasher);
        hasher.finish()
    };
    let known = MEMO.with_borrow(|memo| {
        let known = memo.known.get(&digest)?;
        if *known.body != *body {
            return None;
        }
        known.value.downcast_ref::<V>().cloned()
    });
    if let Some(value) = known {
        return Ok(value);
    }
    let value = decode()?;
    MEMO.with_borrow_mut(|memo| {
        if !memo.seen.remove(&digest) {
            if memo.seen.len() >= SEEN_MAX {
                memo.seen.clear();
            }
            memo.seen.insert(digest);
            return;
        }
        if memo.known.len() >= ENTRIES_MAX || memo.held_bytes + body.len() > HELD_BYTES_MAX {
            memo.known.clear();
            memo.held_bytes = 0;
        }
        let replaced = memo.known.insert(
            digest,
            Known {
                body: body.into(),
                value: Box::new(value.clone()),
            },
        );
        memo.held_bytes += body.len();
        if let Some(replaced) = replaced {
            memo.held_bytes -= replaced.body.len();
        }
    });
    Ok(value)
}

#[cfg(test)]
pub(crate) fn held() -> (usize, usize, usize) {
    MEMO.with_borrow(|memo| (memo.seen.len(), memo.known.len(), memo.held_bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn counting<V: Clone + 'static>(
        body: &[u8],
        what: &str,
        calls: &Cell<usize>,
        value: V,
    ) -> Result<V, ()> {
        decoded(body, what, || {
            calls.set(calls.get() + 1);
            Ok(value)
        })
    }

    /// A body is decoded the first two times it is read and copied after; the same bytes read
    /// as another type or under another key are decoded apart.
    #[test]
    fn a_body_read_twice_is_copied_after() {
        let calls = Cell::new(0);
        let body = b"{\"droplet\": {\"id\": 1}}";
        for expected_calls in [1, 2, 2, 2] {
            assert_eq!(counting(body, "droplet", &calls, 1u64), Ok(1));
            assert_eq!(calls.get(), expected_calls);
        }
        assert_eq!(counting(body, "droplet", &calls, 1u32), Ok(1));
        assert_eq!(counting(body, "volume", &calls, 1u64), Ok(1));
        assert_eq!(calls.get(), 4);
    }

    /// Through the client's decoding, a droplet read again and again is the droplet the plain
    /// decoder reads, and a page of droplets likewise.
    #[test]
    fn a_droplet_read_again_is_the_droplet_decoded() {
        use crate::droplets::Droplet;
        let droplet = r#"{"id": 7, "name": "web", "status": "active", "tags": ["fleet"],
            "region": {"name": "New York 3", "slug": "nyc3", "features": ["ipv6"],
            "available": true, "sizes": ["s-1vcpu-1gb"]}, "volume_ids": ["v-1"]}"#;
        let single = format!(r#"{{"droplet": {droplet}}}"#);
        let page = format!(r#"{{"droplets": [{droplet}, {droplet}], "meta": {{"total": 2}}}}"#);
        let plain: Droplet = serde_json::from_str(droplet).unwrap();
        let response = |body: &str| http::Response::new(bytes::Bytes::from(body.to_owned()));
        for _ in 0..4 {
            let read: Droplet = crate::client::decode_key(&response(&single), "droplet").unwrap();
            assert_eq!(read, plain);
            let listed =
                crate::client::decode_page::<Droplet>(&response(&page), "droplets").unwrap();
            assert_eq!(listed.items, vec![plain.clone(), plain.clone()]);
            assert_eq!(listed.meta.total, Some(2));
        }
    }

    /// An error is not remembered: the same body fails again, from its own decoding.
    #[test]
    fn an_error_is_decoded_each_time() {
        let calls = Cell::new(0);
        for expected_calls in 1..=4 {
            let result: Result<u64, &str> = decoded(b"{", "droplet", || {
                calls.set(calls.get() + 1);
                Err("EOF")
            });
            assert_eq!(result, Err("EOF"));
            assert_eq!(calls.get(), expected_calls);
        }
    }

    /// Bodies past the size limit are never noted; the memo starts over at its entry and byte
    /// limits instead of growing.
    #[test]
    fn the_memo_is_bounded() {
        let calls = Cell::new(0);
        let large = vec![b' '; BODY_BYTES_MAX + 1];
        for _ in 0..3 {
            counting(&large, "large", &calls, 0u8).unwrap();
        }
        assert_eq!(calls.get(), 3);
        for index in 0..ENTRIES_MAX * 3 {
            let body = format!("{{\"id\": {index}}}");
            counting(body.as_bytes(), "bounded", &calls, index).unwrap();
            counting(body.as_bytes(), "bounded", &calls, index).unwrap();
            let (seen, known, held_bytes) = held();
            assert!(seen <= SEEN_MAX && known <= ENTRIES_MAX && held_bytes <= HELD_BYTES_MAX);
        }
        let wide = vec![b' '; BODY_BYTES_MAX];
        for index in 0..HELD_BYTES_MAX / BODY_BYTES_MAX * 2 {
            let mut body = wide.clone();
            body[0] = index as u8;
            counting(&body, "wide", &calls, index).unwrap();
            counting(&body, "wide", &calls, index).unwrap();
            let (_, _, held_bytes) = held();
            assert!(held_bytes <= HELD_BYTES_MAX);
        }
    }
}
