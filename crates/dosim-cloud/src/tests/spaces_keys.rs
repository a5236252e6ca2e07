//! Spaces keys: what create accepts and refuses, and what each grant allows.

use crate::{
    Cloud, CloudConfig, ErrorKind, SimTime, SpacesKeyCreate, SpacesKeyFilter, SpacesPermission,
};

fn create(
    cloud: &mut Cloud,
    name: &str,
    grants: &[(&str, &str)],
) -> Result<crate::SpacesKey, crate::Error> {
    cloud.create_spaces_key(
        SimTime(1_000),
        SpacesKeyCreate {
            name: Some(name.to_owned()),
            grants: grants
                .iter()
                .map(|(b, p)| ((*b).to_owned(), (*p).to_owned()))
                .collect(),
        },
    )
}

#[track_caller]
fn check(grants: &[(&str, &str)], expect: Result<&[(&str, Option<SpacesPermission>)], &str>) {
    let mut cloud = Cloud::new(CloudConfig::default(), 7);
    match (create(&mut cloud, "k", grants), expect) {
        (Ok(key), Ok(buckets)) => {
            assert_eq!(key.access_key.len(), 20);
            assert!(key.access_key.starts_with("DO00"));
            assert_eq!(key.secret_key.len(), 43);
            for (bucket, permission) in buckets {
                assert_eq!(key.permission_on(bucket), *permission, "bucket {bucket}");
            }
        }
        (Err(error), Err(message)) => {
            assert_eq!(error.kind, ErrorKind::BadRequest);
            assert_eq!(error.message, message);
            assert!(cloud
                .spaces_keys(SimTime(2_000), &SpacesKeyFilter::default())
                .is_empty());
        }
        (got, expect) => panic!("got {got:?}, expected {expect:?}"),
    }
}

#[test]
fn grants() {
    use SpacesPermission::{FullAccess, Read, ReadWrite};
    check(&[("", "fullaccess")], Ok(&[("any", Some(FullAccess))]));
    check(&[("a", "read")], Ok(&[("a", Some(Read)), ("b", None)]));
    check(
        &[("a", "read"), ("a", "readwrite")],
        Ok(&[("a", Some(ReadWrite))]),
    );
    check(&[("a", "")], Ok(&[("a", None)]));
    check(&[], Ok(&[("a", None)]));
    check(
        &[("", "fullaccess"), ("a", "read")],
        Err(crate::spaces_msg::MIXED_GRANTS),
    );
    check(&[("a", "fullaccess")], Err(crate::spaces_msg::MIXED_GRANTS));
    check(
        &[("a", "write")],
        Err("invalid permission \"write\": must be one of read, readwrite, fullaccess or empty."),
    );
}

#[test]
fn limit_filters_rename_delete() {
    let mut cloud = Cloud::new(CloudConfig::default(), 7);
    for n in 0..crate::SPACES_KEYS_MAX {
        create(&mut cloud, &format!("k{n}"), &[("b", "read")]).unwrap();
    }
    let error = create(&mut cloud, "over", &[]).unwrap_err();
    assert_eq!(error.message, crate::spaces_msg::KEY_LIMIT);
    let now = SimTime(5_000);
    let newest = cloud.spaces_keys(now, &SpacesKeyFilter::default());
    assert_eq!(newest.len(), crate::SPACES_KEYS_MAX);
    assert_eq!(newest[0].name, "k199");
    let named = SpacesKeyFilter {
        name: Some("k3".into()),
        ..SpacesKeyFilter::default()
    };
    assert_eq!(cloud.spaces_keys(now, &named).len(), 1);
    let by_permission = SpacesKeyFilter {
        permission: Some("readwrite".into()),
        ..SpacesKeyFilter::default()
    };
    assert!(cloud.spaces_keys(now, &by_permission).is_empty());
    let access_key = newest[0].access_key.clone();
    let renamed = cloud
        .rename_spaces_key(now, &access_key, Some("new".into()))
        .unwrap();
    assert_eq!((renamed.name.as_str(), renamed.grants.len()), ("new", 1));
    cloud.delete_spaces_key(now, &access_key).unwrap();
    assert_eq!(
        cloud.spaces_key(now, &access_key).unwrap_err().kind,
        ErrorKind::NotFound
    );
}
