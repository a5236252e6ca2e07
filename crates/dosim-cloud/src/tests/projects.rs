//! Projects: the default holds everything at first; moves show at once in listings, but the
//! project a resource left counts it until the relocation is done.

use super::fixture::world;
use crate::*;

fn urns(resources: &[ProjectResource]) -> Vec<String> {
    resources
        .iter()
        .map(|r| format!("{} {}", r.urn, r.status))
        .collect()
}

#[test]
fn a_project_is_deleted_only_once_its_resources_have_left() {
    let mut w = world(CloudConfig::default());
    let now = w.now;
    let (web1, ip) = (w.web1, w.ip);
    let cloud = &mut w.cloud;
    let default = cloud.default_project(now);
    assert_eq!(
        (default.name.as_str(), default.is_default),
        ("first-project", true)
    );
    let everything = cloud.project_resources(now, default.id).unwrap();
    assert!(urns(&everything).contains(&format!("do:droplet:{web1} ok")));
    assert!(urns(&everything).contains(&format!("do:floatingip:{ip} ok")));

    let staging = cloud
        .create_project(
            now,
            ProjectEdit {
                name: Some("staging".into()),
                purpose: Some("a staging area".into()),
                environment: Some("Staging".into()),
                ..ProjectEdit::default()
            },
        )
        .unwrap();
    assert_eq!(staging.purpose, "Other: a staging area");
    let moved = cloud
        .assign_project_resources(
            now,
            staging.id,
            &[format!("do:droplet:{web1}"), "do:droplet:1".into()],
        )
        .unwrap();
    assert_eq!(
        urns(&moved),
        [
            format!("do:droplet:{web1} ok"),
            "do:droplet:1 not_found".to_owned()
        ]
    );
    // A malformed URN refuses the whole request and moves nothing.
    for bad in ["", "do:droplet:", "droplet:1", "do:teapot:1"] {
        let refused = cloud
            .assign_project_resources(now, default.id, &[format!("do:droplet:{web1}"), bad.into()])
            .unwrap_err();
        assert_eq!(refused.id(), "bad_request", "{bad:?}");
        assert!(refused.message.contains("invalid resource URN"), "{bad:?}");
    }
    assert_eq!(
        urns(&cloud.project_resources(now, staging.id).unwrap()),
        [format!("do:droplet:{web1} ok")]
    );
    // Moved back, the droplet is in the default at once, but staging still counts it for 10 s.
    cloud
        .assign_project_resources(now, default.id, &[format!("do:droplet:{web1}")])
        .unwrap();
    assert!(cloud.project_resources(now, staging.id).unwrap().is_empty());
    let refused = cloud
        .delete_project(now.plus_ms(9_999), staging.id)
        .unwrap_err();
    assert_eq!(
        (refused.id(), refused.message.as_str()),
        ("precondition_failed", msg::PROJECT_NOT_EMPTY)
    );
    cloud
        .delete_project(now.plus_ms(10_000), staging.id)
        .unwrap();
    assert_eq!(
        cloud
            .delete_project(now.plus_ms(10_000), default.id)
            .unwrap_err()
            .message,
        msg::PROJECT_DEFAULT_DELETE
    );
    cloud.check_invariants().unwrap();
}

#[test]
fn a_new_default_project_takes_new_resources_only() {
    let mut w = world(CloudConfig::default());
    let now = w.now;
    let web1 = w.web1;
    let cloud = &mut w.cloud;
    let first = cloud.default_project(now);
    let prod = cloud
        .create_project(
            now,
            ProjectEdit {
                name: Some("prod".into()),
                purpose: Some("Web Application".into()),
                is_default: Some(true),
                ..ProjectEdit::default()
            },
        )
        .unwrap();
    assert!(prod.is_default);
    assert!(!cloud.project(now, first.id).unwrap().is_default);
    // The fixture's droplet stays where it was; a new one lands in the new default.
    assert!(urns(&cloud.project_resources(now, first.id).unwrap())
        .contains(&format!("do:droplet:{web1} ok")));
    let fresh = cloud
        .create_droplets(now, super::fixture::create(&["fresh"], "nyc3"))
        .unwrap()[0]
        .0;
    assert_eq!(
        urns(&cloud.project_resources(now, prod.id).unwrap()),
        [format!("do:droplet:{fresh} ok")]
    );
    cloud.check_invariants().unwrap();
}
