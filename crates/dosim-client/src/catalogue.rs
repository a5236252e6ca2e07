//! The catalogue objects a resource carries whole (a droplet's region, size and image; a volume's
//! or reserved IP's region), decoded once per thread and shared after.
//!
//! Every droplet in every response carries its region, size and image, the same bytes each time,
//! and they were three fifths of decoding one: forty-nine of its fifty-eight strings. Decoding is a
//! pure function of the text, so a memo keyed by an object's exact text gives what decoding it
//! again would. A resource holds its catalogue objects behind an [`Arc`], so what the memo gives is
//! the one decoded object, shared, not a copy of its strings (a region lists every size sold
//! there, a size every region that sells it), and copying a resource copies none of them either.
//! The client turns the memo on around its own JSON decoding ([`remembering`]); any
//! other deserializer (a user's `serde_json::from_value`, another format) decodes these fields as
//! the derive would. A body that fails to decode with the memo is decoded again without it, so
//! that its error names its position in the whole body.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::LocalKey;

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// The longest object text remembered; a catalogue object is a few hundred bytes.
const TEXT_BYTES_MAX: usize = 16 * 1024;

/// How many texts of one type are remembered per thread before the memo starts over: the
/// catalogue has a few dozen regions, sizes and images.
const ENTRIES_MAX: usize = 64;

/// Decoded objects of one type by their text.
pub(crate) struct Memo<T> {
    by_text: BTreeMap<Box<str>, Arc<T>>,
}

impl<T> Default for Memo<T> {
    fn default() -> Memo<T> {
        Memo {
            by_text: BTreeMap::new(),
        }
    }
}

/// A catalogue type with a memo of its own on each thread.
pub(crate) trait Catalogued: DeserializeOwned + 'static {
    fn memo() -> &'static LocalKey<RefCell<Memo<Self>>>;
}

macro_rules! catalogued {
    ($($t:ty),*) => {$(
        impl Catalogued for $t {
            fn memo() -> &'static LocalKey<RefCell<Memo<Self>>> {
                thread_local! {
                    static MEMO: RefCell<Memo<$t>> = RefCell::new(Memo::default());
                }
                &MEMO
            }
        }
    )*};
}

catalogued!(
    crate::common::Region,
    crate::common::Size,
    crate::droplets::Image
);

thread_local! {
    /// Set while [`remembering`] decodes: catalogue objects are read as text and looked up.
    static REMEMBERING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `decode`, which decodes a body with serde_json, with the memo on.
pub(crate) fn remembering<R>(decode: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            REMEMBERING.set(self.0);
        }
    }
    let _restore = Restore(REMEMBERING.replace(true));
    decode()
}

/// Deserializes an optional catalogue object, through the memo inside [`remembering`]; `null`
/// is `None`, as an absent field is with `#[serde(default)]`.
pub(crate) fn remembered<'de, D, T>(deserializer: D) -> Result<Option<Arc<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Catalogued,
{
    if !REMEMBERING.get() {
        return Option::<Arc<T>>::deserialize(deserializer);
    }
    let Some(raw) = Option::<Box<RawValue>>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let text = raw.get();
    if let Some(known) = T::memo().with_borrow(|memo| memo.by_text.get(text).cloned()) {
        return Ok(Some(known));
    }
    // The caller decodes again without the memo when this fails, for the error's position.
    let value: Arc<T> = serde_json::from_str(text).map_err(D::Error::custom)?;
    if text.len() <= TEXT_BYTES_MAX {
        T::memo().with_borrow_mut(|memo| {
            if memo.by_text.len() >= ENTRIES_MAX {
                memo.by_text.clear();
            }
            memo.by_text.insert(text.into(), value.clone());
        });
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::Region;
    use crate::droplets::Droplet;

    const DROPLET: &str = r#"{"id": 7, "name": "web", "region": {"name": "New York 3", "slug": "nyc3",
        "features": ["backups", "ipv6"], "available": true, "sizes": ["s-1vcpu-1gb"]},
        "size": {"slug": "s-1vcpu-1gb", "memory": 1024, "vcpus": 1, "disk": 25, "transfer": 1.0,
        "price_monthly": 6.0, "price_hourly": 0.00893, "regions": ["nyc3"], "available": true,
        "description": "Basic"},
        "image": {"id": 160232537, "name": "24.04 (LTS) x64", "type": "base", "distribution":
        "Ubuntu", "slug": "ubuntu-24-04-x64", "public": true, "regions": ["nyc3"]}}"#;

    fn decoded<T: DeserializeOwned>(text: &str) -> Result<T, String> {
        dosim_base::json::decode::<T>(text.as_bytes()).map_err(|e| e.to_string())
    }

    /// Through the memo, the first time and the times after, a droplet decodes as it does
    /// without it; `null` and absent objects are `None`.
    #[test]
    fn a_remembered_object_decodes_as_it_does_in_place() {
        let plain: Droplet = decoded(DROPLET).unwrap();
        assert_eq!(plain.region.as_ref().map(|r| r.slug.as_str()), Some("nyc3"));
        for _ in 0..3 {
            assert_eq!(remembering(|| decoded::<Droplet>(DROPLET)).unwrap(), plain);
        }
        let without = DROPLET.replace(r#""region": {"#, r#""region": null, "old": {"#);
        let droplet: Droplet = remembering(|| decoded(&without)).unwrap();
        assert_eq!(droplet.region, None);
        assert_eq!(droplet, decoded::<Droplet>(&without).unwrap());
        let absent: Droplet = remembering(|| decoded(r#"{"id": 8}"#)).unwrap();
        assert_eq!(
            (absent.region, absent.size, absent.image),
            (None, None, None)
        );
        // Outside the client's decoding, any deserializer reads the fields as the derive would.
        let value = serde_json::to_value(&plain).unwrap();
        assert_eq!(serde_json::from_value::<Droplet>(value).unwrap(), plain);
    }

    /// Through the memo, droplets carrying the same catalogue text share one decoded object;
    /// outside it, each has its own, equal to it.
    #[test]
    fn remembered_objects_are_shared() {
        let first: Droplet = remembering(|| decoded(DROPLET)).unwrap();
        let second: Droplet = remembering(|| decoded(DROPLET)).unwrap();
        assert!(Arc::ptr_eq(
            first.region.as_ref().unwrap(),
            second.region.as_ref().unwrap()
        ));
        assert!(Arc::ptr_eq(
            first.size.as_ref().unwrap(),
            second.size.as_ref().unwrap()
        ));
        assert!(Arc::ptr_eq(
            first.image.as_ref().unwrap(),
            second.image.as_ref().unwrap()
        ));
        let plain: Droplet = decoded(DROPLET).unwrap();
        assert!(!Arc::ptr_eq(
            plain.region.as_ref().unwrap(),
            first.region.as_ref().unwrap()
        ));
        assert_eq!(plain, first);
    }

    /// Two texts of one region are two entries; a full memo starts over and still answers.
    #[test]
    fn the_memo_is_keyed_by_the_exact_text_and_bounded() {
        for n in 0..(ENTRIES_MAX * 2) {
            let text =
                format!(r#"{{"id": 1, "region": {{"slug": "r{n}", "name": "Region {n}"}}}}"#);
            let droplet: Droplet = remembering(|| decoded(&text)).unwrap();
            assert_eq!(droplet.region.unwrap().slug, format!("r{n}"));
        }
        let remembered = Region::memo().with_borrow(|memo| memo.by_text.len());
        assert!(remembered <= ENTRIES_MAX, "{remembered}");
    }

    /// A catalogue object with a member nested 100,000 deep (skipped without recursing) or too
    /// long to remember decodes as it does without the memo, and a long one is not kept.
    #[test]
    fn deep_and_long_objects_are_handled_as_without_the_memo() {
        let deep = format!(
            r#"{{"id": 1, "region": {{"slug": "x", "extra": {}{}}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let through_memo = remembering(|| decoded::<Droplet>(&deep));
        assert_eq!(through_memo, decoded::<Droplet>(&deep));
        assert_eq!(through_memo.unwrap().region.unwrap().slug, "x");
        let long_name = "n".repeat(TEXT_BYTES_MAX);
        let long = format!(r#"{{"id": 1, "region": {{"slug": "long", "name": "{long_name}"}}}}"#);
        let droplet: Droplet = remembering(|| decoded(&long)).unwrap();
        assert_eq!(droplet.region.unwrap().name.len(), TEXT_BYTES_MAX);
        let kept = Region::memo()
            .with_borrow(|memo| memo.by_text.keys().any(|k| k.len() > TEXT_BYTES_MAX));
        assert!(!kept);
    }

    /// A bad catalogue object fails through the memo too; the client's error is the one decoding
    /// without the memo gives, with its position in the whole body, and the memo is off after.
    #[test]
    fn a_body_that_fails_keeps_its_error() {
        let bad = DROPLET.replace(r#""vcpus": 1,"#, r#""vcpus": "one","#);
        assert!(remembering(|| decoded::<Droplet>(&bad)).is_err());
        assert!(!REMEMBERING.get());
        let in_place = decoded::<Droplet>(&bad).unwrap_err();
        assert!(
            in_place.contains("invalid type: string \"one\""),
            "{in_place}"
        );
        let body = format!(r#"{{"droplet": {bad}}}"#);
        let response = http::Response::new(bytes::Bytes::from(body.clone()));
        let error = crate::client::decode_key::<Droplet>(&response, "droplet").unwrap_err();
        let crate::Error::Decode { source, .. } = error else {
            panic!("not a decoding error: {error:?}");
        };
        let plain = decoded::<std::collections::BTreeMap<String, Droplet>>(&body).unwrap_err();
        assert_eq!(source.to_string(), plain);
        assert_eq!((source.line(), source.column()), (3, 70));
    }
}
