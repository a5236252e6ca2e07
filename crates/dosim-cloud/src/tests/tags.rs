//! Tags: canonical names, counts and the last tagged resource as resources come and go.

use super::fixture::{create, world};
use crate::*;

fn target(resource_type: &str, resource_id: impl ToString) -> TagTarget {
    TagTarget {
        resource_type: resource_type.into(),
        resource_id: resource_id.to_string(),
    }
}

/// A tag as one line: name, total, then each kind's count and last tagged id.
fn line(tag: &Tag) -> String {
    let kinds: Vec<String> = tag
        .resources
        .iter()
        .map(|(kind, r)| {
            format!(
                "{}={}{}",
                kind.resource_type(),
                r.count,
                r.last_tagged
                    .as_ref()
                    .map(|id| format!("@{id}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let last = tag
        .last_tagged
        .as_ref()
        .map(|(kind, id)| format!(" last={}@{id}", kind.resource_type()))
        .unwrap_or_default();
    format!("{} {} [{}]{last}", tag.name, tag.count(), kinds.join(" "))
}

#[test]
fn tags_follow_their_resources() {
    let mut w = world(CloudConfig::default());
    let now = w.now;
    let (web1, web2, data) = (w.web1, w.web2, w.data);
    let cloud = &mut w.cloud;
    let lines = |cloud: &mut Cloud| -> Vec<String> { cloud.tags(now).iter().map(line).collect() };

    // The fixture's droplets were created without tags: the account has none.
    assert_eq!(lines(cloud), Vec::<String>::new());

    // A tag created on its own is empty; creating it again under another capitalization
    // returns the first, canonical one.
    let created = cloud.create_tag(now, "PROD").unwrap();
    assert_eq!(line(&created), "PROD 0 [droplet=0 volume=0 database=0]");
    assert_eq!(cloud.create_tag(now, "prod").unwrap().name, "PROD");

    // A droplet created with "prod" carries the canonical "PROD", and it is the last tagged.
    let mut request = create(&["api"], "nyc3");
    request.tags = vec!["prod".into(), "api".into(), "Prod".into()];
    let api2 = cloud.create_droplets(now, request).unwrap()[0].0;
    assert_eq!(cloud.droplet(now, api2).unwrap().tags, vec!["PROD", "api"]);

    cloud
        .tag_resources(
            now,
            "PROD",
            &[
                target("droplet", web1),
                target("volume", data),
                target("droplet", web2),
            ],
        )
        .unwrap();
    assert_eq!(
        lines(cloud),
        vec![
            format!("PROD 4 [droplet=3@{web2} volume=1@{data} database=0] last=droplet@{web2}"),
            format!("api 1 [droplet=1@{api2} volume=0 database=0] last=droplet@{api2}"),
        ]
    );
    // Tagging again changes nothing; the list filter sees the tag.
    cloud
        .tag_resources(now, "PROD", &[target("droplet", web1)])
        .unwrap();
    assert_eq!(
        cloud
            .droplets(
                now,
                DropletFilter {
                    tag_name: Some("PROD".into()),
                    ..DropletFilter::default()
                }
            )
            .iter()
            .map(|d| d.id)
            .collect::<Vec<_>>(),
        vec![web1, web2, api2]
    );

    // The last tagged droplet untagged: the last is the highest id that still carries it.
    cloud
        .untag_resources(now, "PROD", &[target("droplet", web2)])
        .unwrap();
    assert_eq!(
        line(&cloud.tag(now, "PROD").unwrap()),
        format!("PROD 3 [droplet=2@{api2} volume=1@{data} database=0] last=droplet@{api2}")
    );
    // A destroyed droplet no longer counts.
    cloud.delete_droplet(now, api2).unwrap();
    assert_eq!(
        line(&cloud.tag(now, "PROD").unwrap()),
        format!("PROD 2 [droplet=1@{web1} volume=1@{data} database=0] last=droplet@{web1}")
    );

    // Deleting the tag untags everything that carried it; the other tag stays.
    cloud.delete_tag(now, "PROD").unwrap();
    assert!(cloud.droplet(now, web1).unwrap().tags.is_empty());
    assert!(cloud.volume(now, data).unwrap().tags.is_empty());
    assert_eq!(lines(cloud), vec!["api 0 [droplet=0 volume=0 database=0]"]);
    cloud.check_invariants().unwrap();
}
