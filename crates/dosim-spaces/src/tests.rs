//! The store's rules and errors, the conditional switch, ranges and SigV4, each as a table of cases.
#![allow(clippy::type_complexity)] // The case tables spell out each column's type.

use bytes::Bytes;
use dosim_base::SimTime;

use crate::conditions::{ConditionalPut, Conditions};
use crate::sigv4::{self, Signable};
use crate::store::{Acl, CopyRequest, Directive, ListRequest, NewObject, Store, StoreConfig};

const T: SimTime = SimTime(10_000);

fn store() -> Store {
    let mut store = Store::new(StoreConfig::default(), 1);
    store
        .create_bucket(T, "alice", "nyc3", "bkt", Acl::Private)
        .unwrap();
    store
}

fn put(store: &mut Store, key: &str, body: &str) -> Result<String, &'static str> {
    let object = NewObject {
        body: Bytes::from(body.to_owned()),
        ..NewObject::default()
    };
    store
        .put_object(T, "bkt", key, object, &Conditions::default())
        .map(|w| w.etag)
        .map_err(|e| e.code)
}

#[track_caller]
fn check_code<T: std::fmt::Debug>(got: Result<T, crate::S3Error>, expect: Result<(), &str>) {
    match (got, expect) {
        (Ok(_), Ok(())) => {}
        (Err(e), Err(code)) => assert_eq!(e.code, code, "{e}"),
        (got, expect) => panic!("got {got:?}, expected {expect:?}"),
    }
}

#[test]
fn bucket_rules() {
    let cases: &[(&str, &str, Result<(), &str>)] = &[
        ("alice", "fresh-name", Ok(())),
        ("alice", "bkt", Err("BucketAlreadyOwnedByYou")),
        ("bob", "bkt", Err("BucketAlreadyExists")),
        ("alice", "ab", Err("InvalidBucketName")),
        ("alice", "Upper", Err("InvalidBucketName")),
        ("alice", "a..b", Err("InvalidBucketName")),
        ("alice", "-ab", Err("InvalidBucketName")),
        ("alice", "192.168.1.1", Err("InvalidBucketName")),
        ("alice", &"x".repeat(64), Err("InvalidBucketName")),
    ];
    for (owner, name, expect) in cases {
        let mut store = store();
        check_code(
            store.create_bucket(T, owner, "nyc3", name, Acl::Private),
            *expect,
        );
    }
    let mut store = Store::new(
        StoreConfig {
            buckets_per_account_max: 1,
            ..StoreConfig::default()
        },
        1,
    );
    store
        .create_bucket(T, "a", "nyc3", "one", Acl::Private)
        .unwrap();
    check_code(
        store.create_bucket(T, "a", "nyc3", "two", Acl::Private),
        Err("TooManyBuckets"),
    );
    check_code(
        store.create_bucket(T, "other", "nyc3", "two", Acl::Private),
        Ok(()),
    );
    put_into(&mut store, "one");
    check_code(store.delete_bucket("one"), Err("BucketNotEmpty"));
    check_code(store.delete_bucket("nope"), Err("NoSuchBucket"));
}

fn put_into(store: &mut Store, bucket: &str) {
    store
        .put_object(T, bucket, "k", NewObject::default(), &Conditions::default())
        .unwrap();
}

#[test]
fn object_limits_and_etags() {
    let mut s = store();
    assert_eq!(
        put(&mut s, "k", "hello"),
        Ok("5d41402abc4b2a76b9719d911017c592".to_owned())
    );
    assert_eq!(put(&mut s, &"k".repeat(1025), ""), Err("KeyTooLongError"));
    assert_eq!(put(&mut s, "", ""), Err("InvalidArgument"));
    let big = NewObject {
        metadata: [("m".to_owned(), "v".repeat(2048))].into(),
        ..NewObject::default()
    };
    check_code(
        s.put_object(T, "bkt", "m", big, &Conditions::default()),
        Err("MetadataTooLarge"),
    );
    check_code(
        s.put_object(T, "nope", "m", NewObject::default(), &Conditions::default()),
        Err("NoSuchBucket"),
    );
    check_code(
        s.get_object("bkt", "missing", None, &Conditions::default()),
        Err("NoSuchKey"),
    );
    check_code(
        s.get_object("bkt", "k", Some("nope"), &Conditions::default()),
        Err("NoSuchVersion"),
    );
}

#[test]
fn conditional_put_switch() {
    // (mode, If-Match, If-None-Match, object exists) → outcome
    let etag = "5d41402abc4b2a76b9719d911017c592";
    let quoted = format!("\"{etag}\"");
    use ConditionalPut::*;
    let cases: &[(
        ConditionalPut,
        Option<&str>,
        Option<&str>,
        bool,
        Result<(), &str>,
    )] = &[
        (UnquotedOnly, None, Some("*"), false, Ok(())),
        (
            UnquotedOnly,
            None,
            Some("*"),
            true,
            Err("PreconditionFailed"),
        ),
        (UnquotedOnly, Some(etag), None, true, Ok(())),
        (
            UnquotedOnly,
            Some(&quoted),
            None,
            true,
            Err("PreconditionFailed"),
        ),
        (
            UnquotedOnly,
            Some("other"),
            None,
            true,
            Err("PreconditionFailed"),
        ),
        (UnquotedOnly, Some(etag), None, false, Err("NoSuchKey")),
        (Rfc, Some(&quoted), None, true, Ok(())),
        (Rfc, Some(etag), None, true, Ok(())),
        (
            Rfc,
            Some("\"other\""),
            None,
            true,
            Err("PreconditionFailed"),
        ),
        (Rfc, None, Some("*"), true, Err("PreconditionFailed")),
        (Rfc, None, Some("\"x\""), false, Err("NotImplemented")),
        (Ignored, None, Some("*"), true, Ok(())),
        (Ignored, Some("other"), None, true, Ok(())),
        (
            NotImplemented,
            None,
            Some("*"),
            false,
            Err("NotImplemented"),
        ),
        (NotImplemented, None, None, true, Ok(())),
    ];
    for (mode, if_match, if_none_match, exists, expect) in cases {
        let mut s = store();
        s.set_conditional_put(*mode);
        if *exists {
            put(&mut s, "k", "hello").unwrap();
        }
        let conditions = Conditions {
            if_match: if_match.map(str::to_owned),
            if_none_match: if_none_match.map(str::to_owned),
            ..Conditions::default()
        };
        let object = NewObject {
            body: Bytes::from_static(b"new"),
            ..NewObject::default()
        };
        check_code(s.put_object(T, "bkt", "k", object, &conditions), *expect);
    }
}

#[test]
fn read_conditions() {
    // Last-Modified is T (2026-01-01T00:00:10Z): unix 1767225610.
    let modified = 1_767_225_610;
    let etag = "5d41402abc4b2a76b9719d911017c592";
    let cases: &[(Conditions, Result<(), &str>)] = &[
        (Conditions::default(), Ok(())),
        (
            Conditions {
                if_match: Some(format!("\"{etag}\"")),
                ..Default::default()
            },
            Ok(()),
        ),
        (
            Conditions {
                if_match: Some("\"x\"".into()),
                ..Default::default()
            },
            Err("PreconditionFailed"),
        ),
        (
            Conditions {
                if_none_match: Some(format!("\"{etag}\"")),
                ..Default::default()
            },
            Err("NotModified"),
        ),
        (
            Conditions {
                if_none_match: Some("*".into()),
                ..Default::default()
            },
            Err("NotModified"),
        ),
        (
            Conditions {
                if_modified_since: Some(modified),
                ..Default::default()
            },
            Err("NotModified"),
        ),
        (
            Conditions {
                if_modified_since: Some(modified - 1),
                ..Default::default()
            },
            Ok(()),
        ),
        (
            Conditions {
                if_unmodified_since: Some(modified - 1),
                ..Default::default()
            },
            Err("PreconditionFailed"),
        ),
        // If-Match that holds makes If-Unmodified-Since irrelevant (RFC 7232 §6).
        (
            Conditions {
                if_match: Some(etag.into()),
                if_unmodified_since: Some(0),
                ..Default::default()
            },
            Ok(()),
        ),
    ];
    for (conditions, expect) in cases {
        let mut s = store();
        put(&mut s, "k", "hello").unwrap();
        check_code(s.get_object("bkt", "k", None, conditions), *expect);
    }
}

fn copy(
    source: &str,
    key: &str,
    directive: Directive,
    source_if_match: Option<&str>,
) -> CopyRequest {
    CopyRequest {
        source_bucket: "bkt".into(),
        source_key: source.into(),
        source_version: None,
        source_conditions: Conditions {
            if_match: source_if_match.map(str::to_owned),
            ..Conditions::default()
        },
        bucket: "bkt".into(),
        key: key.into(),
        directive,
        replacement: NewObject {
            metadata: [("new".to_owned(), "1".to_owned())].into(),
            ..NewObject::default()
        },
        conditions: Conditions::default(),
    }
}

#[test]
fn copy_rules() {
    let cases: &[(CopyRequest, Result<(), &str>)] = &[
        (copy("k", "k", Directive::Copy, None), Err("InvalidRequest")),
        (copy("k", "k", Directive::Replace, None), Ok(())),
        (copy("k", "other", Directive::Copy, None), Ok(())),
        (
            copy("missing", "other", Directive::Copy, None),
            Err("NoSuchKey"),
        ),
        (
            copy("k", "other", Directive::Copy, Some("\"nope\"")),
            Err("PreconditionFailed"),
        ),
    ];
    for (request, expect) in cases {
        let mut s = store();
        put(&mut s, "k", "hello").unwrap();
        check_code(s.copy_object(T, request.clone()), *expect);
    }
    // A metadata-only self-copy keeps the ETag, so x-amz-copy-source-if-match cannot see it (notes §6).
    let mut s = store();
    let etag = put(&mut s, "k", "hello").unwrap();
    let written = s
        .copy_object(T, copy("k", "k", Directive::Replace, Some(&etag)))
        .unwrap();
    assert_eq!(written.etag, etag);
    let now = s
        .get_object("bkt", "k", None, &Conditions::default())
        .unwrap();
    assert_eq!(now.metadata.keys().collect::<Vec<_>>(), ["new"]);
}

#[test]
fn listing() {
    let mut s = store();
    for key in ["a/1", "a/2", "b", "c/x/1", "d"] {
        put(&mut s, key, "").unwrap();
    }
    let list = |prefix: &str, delimiter: Option<&str>, after: Option<&str>, max: usize| {
        let page = s
            .list(
                "bkt",
                &ListRequest {
                    prefix: prefix.into(),
                    delimiter: delimiter.map(str::to_owned),
                    after: after.map(str::to_owned),
                    max_keys: max,
                },
            )
            .unwrap();
        let keys: Vec<String> = page.contents.iter().map(|(k, _)| k.clone()).collect();
        (keys, page.common_prefixes, page.truncated)
    };
    let v = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        list("", None, None, 1000),
        (v(&["a/1", "a/2", "b", "c/x/1", "d"]), v(&[]), false)
    );
    assert_eq!(
        list("", Some("/"), None, 1000),
        (v(&["b", "d"]), v(&["a/", "c/"]), false)
    );
    assert_eq!(list("", Some("/"), None, 2), (v(&["b"]), v(&["a/"]), true));
    assert_eq!(
        list("", Some("/"), Some("a/"), 2),
        (v(&["b"]), v(&["c/"]), true)
    );
    assert_eq!(
        list("a/", None, Some("a/1"), 1000),
        (v(&["a/2"]), v(&[]), false)
    );
    assert_eq!(
        list("c/", Some("/"), None, 1000),
        (v(&[]), v(&["c/x/"]), false)
    );
}

#[test]
fn multipart_rules() {
    let min = 5 * 1024 * 1024;
    // parts uploaded (number, size), parts named at complete (number, matches its ETag) → outcome
    let cases: &[(&[(u32, usize)], &[(u32, bool)], Result<(), &str>)] = &[
        (&[(1, min), (2, 1)], &[(1, true), (2, true)], Ok(())),
        (&[(1, 1)], &[(1, true)], Ok(())),
        (
            &[(1, 1), (2, 1)],
            &[(1, true), (2, true)],
            Err("EntityTooSmall"),
        ),
        (
            &[(1, min), (2, 1)],
            &[(2, true), (1, true)],
            Err("InvalidPartOrder"),
        ),
        (&[(1, min)], &[(1, true), (2, true)], Err("InvalidPart")),
        (&[(1, min)], &[(1, false)], Err("InvalidPart")),
    ];
    for (uploaded, named, expect) in cases {
        let mut s = store();
        let id = s
            .create_upload(T, "bkt", "k", NewObject::default())
            .unwrap();
        let mut etags = std::collections::BTreeMap::new();
        for (n, size) in *uploaded {
            let etag = s
                .upload_part(T, "bkt", "k", &id, *n, Bytes::from(vec![7u8; *size]))
                .unwrap();
            etags.insert(*n, etag);
        }
        let parts: Vec<(u32, String)> = named
            .iter()
            .map(|(n, ok)| {
                (
                    *n,
                    if *ok {
                        format!("\"{}\"", etags.get(n).cloned().unwrap_or_default())
                    } else {
                        "\"x\"".into()
                    },
                )
            })
            .collect();
        let result = s.complete_upload(T, "bkt", "k", &id, &parts, &Conditions::default());
        if let Ok(written) = &result {
            assert!(written.etag.ends_with(&format!("-{}", parts.len())));
            check_code(
                s.complete_upload(T, "bkt", "k", &id, &parts, &Conditions::default()),
                Err("NoSuchUpload"),
            );
        }
        check_code(result, *expect);
    }
    let mut s = store();
    let id = s
        .create_upload(T, "bkt", "k", NewObject::default())
        .unwrap();
    check_code(
        s.upload_part(T, "bkt", "k", &id, 0, Bytes::new()),
        Err("InvalidArgument"),
    );
    check_code(
        s.upload_part(T, "bkt", "k", &id, 10_001, Bytes::new()),
        Err("InvalidArgument"),
    );
    s.abort_upload("bkt", "k", &id).unwrap();
    check_code(
        s.upload_part(T, "bkt", "k", &id, 1, Bytes::new()),
        Err("NoSuchUpload"),
    );
}

#[test]
fn versioning_and_refusals_leave_the_rng() {
    let mut s = store();
    s.set_versioning("bkt", true).unwrap();
    let v1 = s
        .put_object(T, "bkt", "k", NewObject::default(), &Conditions::default())
        .unwrap();
    assert_eq!(v1.version_id.as_ref().map(String::len), Some(32));
    // A refused write draws nothing: the next version id is the same as on a twin store without it.
    let mut twin = s.clone();
    check_code(
        s.put_object(T, "bkt", "", NewObject::default(), &Conditions::default()),
        Err("InvalidArgument"),
    );
    let a = s
        .put_object(T, "bkt", "k", NewObject::default(), &Conditions::default())
        .unwrap();
    let b = twin
        .put_object(T, "bkt", "k", NewObject::default(), &Conditions::default())
        .unwrap();
    assert_eq!(a.version_id, b.version_id);
    let deleted = s.delete_object(T, "bkt", "k", None).unwrap();
    assert!(deleted.delete_marker);
    check_code(
        s.get_object("bkt", "k", None, &Conditions::default()),
        Err("NoSuchKey"),
    );
    check_code(
        s.get_object("bkt", "k", v1.version_id.as_deref(), &Conditions::default()),
        Ok(()),
    );
    check_code(s.delete_bucket("bkt"), Err("BucketNotEmpty"));
    s.set_versioning("bkt", false).unwrap();
    let suspended = s
        .put_object(T, "bkt", "k", NewObject::default(), &Conditions::default())
        .unwrap();
    assert_eq!(suspended.version_id.as_deref(), Some("null"));
}

#[test]
fn ranges() {
    let cases: &[(&str, Result<Option<(u64, u64)>, &str>)] = &[
        ("bytes=0-4", Ok(Some((0, 4)))),
        ("bytes=5-", Ok(Some((5, 9)))),
        ("bytes=-3", Ok(Some((7, 9)))),
        ("bytes=8-100", Ok(Some((8, 9)))),
        ("bytes=10-", Err("InvalidRange")),
        ("bytes=4-2", Ok(None)),
        ("bytes=0-1,3-4", Ok(None)),
        ("items=0-1", Ok(None)),
    ];
    for (raw, expect) in cases {
        let got = crate::parse_range(raw, 10).map_err(|e| e.code);
        assert_eq!(got, *expect, "{raw}");
    }
}

/// AWS's published example (S3 API reference, "Example: GET Object").
#[test]
fn sigv4_published_example() {
    let mut headers = http::HeaderMap::new();
    headers.insert("host", "examplebucket.s3.amazonaws.com".parse().unwrap());
    headers.insert("range", "bytes=0-9".parse().unwrap());
    headers.insert(
        "x-amz-content-sha256",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            .parse()
            .unwrap(),
    );
    headers.insert("x-amz-date", "20130524T000000Z".parse().unwrap());
    headers.insert("authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41".parse().unwrap());
    let request = Signable {
        method: "GET",
        path: "/test.txt",
        query: "",
        headers: &headers,
    };
    let claim = sigv4::claim(&request).unwrap().unwrap();
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let signed_at = sigv4::parse_amz_date("20130524T000000Z").unwrap();
    assert_eq!(signed_at, 1_369_353_600);
    let cases: &[(&str, i64, Result<(), &str>)] = &[
        (secret, signed_at, Ok(())),
        (secret, signed_at + 899, Ok(())),
        (secret, signed_at + 901, Err("RequestTimeTooSkewed")),
        (secret, signed_at - 901, Err("RequestTimeTooSkewed")),
        ("wrong", signed_at, Err("SignatureDoesNotMatch")),
    ];
    for (secret, now, expect) in cases {
        check_code(sigv4::verify(&request, &claim, secret, *now), *expect);
    }
}

fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    map
}

/// Bodies as SDKs send them: plain with checksum headers, and `aws-chunked` with a trailer.
#[test]
fn payloads() {
    use crate::payload::decode;
    let hello_sha256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    let chunked = "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n";
    let chunked_bad = "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
    let cases: &[(&[(&str, &str)], &str, Result<(), &str>)] = &[
        (&[], "hello", Ok(())),
        (&[("x-amz-content-sha256", hello_sha256)], "hello", Ok(())),
        (
            &[("x-amz-content-sha256", hello_sha256)],
            "hellO",
            Err("XAmzContentSHA256Mismatch"),
        ),
        (&[("x-amz-checksum-crc32", "NhCmhg==")], "hello", Ok(())),
        (
            &[("x-amz-checksum-crc32", "NhCmhg==")],
            "hellO",
            Err("BadDigest"),
        ),
        (
            &[(
                "x-amz-checksum-sha256",
                "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=",
            )],
            "hello",
            Ok(()),
        ),
        (
            &[("content-md5", "XUFAKrxLKna5cZ2REBfFkg==")],
            "hello",
            Ok(()),
        ),
        (
            &[("content-md5", "XUFAKrxLKna5cZ2REBfFkg==")],
            "hellO",
            Err("BadDigest"),
        ),
        (&[("content-md5", "nope")], "hello", Err("InvalidDigest")),
        (&[("x-amz-checksum-mode", "ENABLED")], "hello", Ok(())),
        (
            &[
                ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                ("x-amz-decoded-content-length", "5"),
            ],
            chunked,
            Ok(()),
        ),
        (
            &[("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")],
            chunked_bad,
            Err("BadDigest"),
        ),
        (
            &[
                ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                ("x-amz-decoded-content-length", "6"),
            ],
            chunked,
            Err("IncompleteBody"),
        ),
        (
            &[("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER")],
            "5\r\nhel",
            Err("IncompleteBody"),
        ),
        (
            &[("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")],
            chunked,
            Err("AccessDenied"),
        ),
    ];
    for (pairs, body, expect) in cases {
        let got = decode(&headers(pairs), Bytes::from(body.to_string()), None);
        if let Ok(decoded) = &got {
            assert_eq!(&decoded[..], b"hello");
        }
        check_code(got, *expect);
    }
}

/// AWS's published example of a signed streaming upload (S3 API reference, "Signature Calculations for the Authorization Header: Transferring Payload in Multiple Chunks").
#[test]
fn signed_chunks_published_example() {
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let scope = "20130524/us-east-1/s3/aws4_request";
    let verified = sigv4::Verified {
        signing_key: sigv4::signing_key(secret, scope).unwrap(),
        amz_date: "20130524T000000Z".into(),
        scope: scope.into(),
        seed_signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".into(),
    };
    let first = vec![b'a'; 65536];
    let second = vec![b'a'; 1024];
    let signatures = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ];
    let s1 = sigv4::chunk_signature(&verified, &verified.seed_signature, &first);
    assert_eq!(s1, signatures[0]);
    let s2 = sigv4::chunk_signature(&verified, &s1, &second);
    assert_eq!(s2, signatures[1]);
    assert_eq!(sigv4::chunk_signature(&verified, &s2, b""), signatures[2]);
    let mut body = Vec::new();
    body.extend_from_slice(format!("10000;chunk-signature={}\r\n", signatures[0]).as_bytes());
    body.extend_from_slice(&first);
    body.extend_from_slice(format!("\r\n400;chunk-signature={}\r\n", signatures[1]).as_bytes());
    body.extend_from_slice(&second);
    body.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n\r\n", signatures[2]).as_bytes());
    let h = headers(&[
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("x-amz-decoded-content-length", "66560"),
    ]);
    let decoded = crate::payload::decode(&h, Bytes::from(body.clone()), Some(&verified)).unwrap();
    assert_eq!(decoded.len(), 66560);
    // One flipped byte in the data breaks the chunk's signature.
    let at = body.len() - 200;
    body[at] = b'b';
    check_code(
        crate::payload::decode(&h, Bytes::from(body), Some(&verified)),
        Err("SignatureDoesNotMatch"),
    );
}

/// Signature Version 2: AWS's published examples (the `johnsmith` requests of S3's REST
/// authentication guide), built as requests so that the string to sign is checked too.
#[test]
fn sigv2_matches_aws_examples() {
    use crate::sigv2::{self, ClaimV2};
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    // (method, virtual-hosted bucket, path, query, headers, presigned Expires, signature)
    let cases: &[(&str, Option<&str>, &str, &str, &[(&str, &str)], Option<i64>, &str)] = &[
        (
            "GET",
            Some("johnsmith"),
            "/photos/puppy.jpg",
            "",
            &[("date", "Tue, 27 Mar 2007 19:36:42 +0000")],
            None,
            "bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
        ),
        (
            "PUT",
            None,
            "/johnsmith/photos/puppy.jpg",
            "",
            &[
                ("content-type", "image/jpeg"),
                ("date", "Tue, 27 Mar 2007 21:15:45 +0000"),
            ],
            None,
            "MyyxeRY7whkBe+bq8fHCL/2kKUg=",
        ),
        (
            "PUT",
            Some("static.johnsmith.net"),
            "/db-backup.dat.gz",
            "",
            &[
                ("date", "Tue, 27 Mar 2007 21:06:08 +0000"),
                ("x-amz-acl", "public-read"),
                ("content-type", "application/x-download"),
                ("content-md5", "4gJE4saaMU4BqNR0kLY+lw=="),
                ("x-amz-meta-reviewedby", "joe@johnsmith.net"),
                ("x-amz-meta-reviewedby", "jane@johnsmith.net"),
                ("x-amz-meta-filechecksum", "0x02661779"),
                ("x-amz-meta-checksumalgorithm", "crc32"),
            ],
            None,
            "ilyl83RwaSoYIEdixDQcA4OnAnc=",
        ),
        (
            "GET",
            Some("johnsmith"),
            "/photos/puppy.jpg",
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Expires=1175139620&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D",
            &[],
            Some(1175139620),
            "NpgCjnDzrM+WFzoENXmpNDUsSn8=",
        ),
    ];
    for (method, bucket, path, query, headers, expires, signature) in cases {
        let mut map = http::HeaderMap::new();
        for (name, value) in *headers {
            map.append(*name, value.parse().unwrap());
        }
        let signable = Signable {
            method,
            path,
            query,
            headers: &map,
        };
        let claim = ClaimV2 {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            signature: (*signature).to_owned(),
            expires: *expires,
        };
        let to_sign = sigv2::string_to_sign(&signable, &claim, *bucket);
        assert_eq!(sigv2::sign(SECRET, &to_sign), *signature, "{to_sign:?}");
        if let Some(expires) = expires {
            assert_eq!(sigv2::claim(&signable).unwrap(), Some(claim.clone()));
            assert!(sigv2::verify(&signable, &claim, SECRET, expires - 1, *bucket).is_ok());
            let late = sigv2::verify(&signable, &claim, SECRET, expires + 1, *bucket);
            assert_eq!(late.unwrap_err().message, "Request has expired");
            let wrong = sigv2::verify(&signable, &claim, "other", expires - 1, *bucket);
            assert_eq!(wrong.unwrap_err().code, "SignatureDoesNotMatch");
        }
    }
}

/// The conditional-PUT switch per account: a bucket's writes follow its owner's setting, and
/// every other account the store's default.
#[test]
fn conditional_put_is_per_account() {
    let config = StoreConfig {
        conditional_put_by_account: [("bob".to_owned(), ConditionalPut::Ignored)].into(),
        ..StoreConfig::default()
    };
    let mut store = Store::new(config, 1);
    for (owner, bucket) in [("alice", "alices"), ("bob", "bobs")] {
        store
            .create_bucket(T, owner, "nyc3", bucket, Acl::Private)
            .unwrap();
    }
    let if_absent = Conditions {
        if_none_match: Some("*".to_owned()),
        ..Conditions::default()
    };
    let put = |store: &mut Store, bucket: &str| {
        let object = NewObject {
            body: Bytes::from_static(b"x"),
            ..NewObject::default()
        };
        store.put_object(T, bucket, "k", object, &if_absent)
    };
    for bucket in ["alices", "bobs"] {
        check_code(put(&mut store, bucket), Ok(()));
    }
    // Alice's account has the default, unquoted_only, which enforces `If-None-Match: *`.
    check_code(put(&mut store, "alices"), Err("PreconditionFailed"));
    // Bob's ignores it: the second write goes through.
    check_code(put(&mut store, "bobs"), Ok(()));
}
