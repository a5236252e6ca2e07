//! Refusals of volume creates and actions.

use super::*;

#[test]
fn volume_create_rules() {
    check(
        none,
        nothing,
        |w| w.cloud.create_volume(w.now, volume("data", "nyc3")),
        "conflict",
        "a volume with that name already exists",
    );
    check(
        |c| c.volume_conflict_id = VolumeConflictId::AlreadyExists,
        nothing,
        |w| w.cloud.create_volume(w.now, volume("data", "nyc3")),
        "already_exists",
        "a volume with that name already exists",
    );
    check(
        |c| c.volume_limit = 2,
        nothing,
        |w| w.cloud.create_volume(w.now, volume("third", "nyc3")),
        "forbidden",
        "capacity limit exceeded",
    );
    check(
        |c| c.regions_without_storage = vec!["blr1".into()],
        nothing,
        |w| w.cloud.create_volume(w.now, volume("x", "blr1")),
        UNPROCESSABLE,
        "Storage is not supported for this region",
    );
    check_unprocessable(
        |w, request| w.cloud.create_volume(w.now, request),
        vec![
            (volume("Data", "nyc3"), "name: \"Data\" is invalid; it must be lowercase and be composed only of numbers, letters and '-', up to a limit of 64 characters, and it must begin with a letter".into()),
            (volume("1data", "nyc3"), "name: \"1data\" is invalid; it must be lowercase and be composed only of numbers, letters and '-', up to a limit of 64 characters, and it must begin with a letter".into()),
            (volume(&"a".repeat(65), "nyc3"), format!("name: \"{}\" is invalid; it must be lowercase and be composed only of numbers, letters and '-', up to a limit of 64 characters, and it must begin with a letter", "a".repeat(65))),
            (VolumeCreate { size_gigabytes: 0, ..volume("x", "nyc3") }, "size_gigabytes: must be between 1 and 16384".into()),
            (VolumeCreate { size_gigabytes: 16385, ..volume("x", "nyc3") }, "size_gigabytes: must be between 1 and 16384".into()),
            (volume("x", "mars1"), "region: \"mars1\" is not a valid region".into()),
            (VolumeCreate { filesystem_type: Some("ntfs".into()), ..volume("x", "nyc3") }, "filesystem_type: \"ntfs\" is not supported; use ext4 or xfs".into()),
            (VolumeCreate { filesystem_label: Some("l".into()), ..volume("x", "nyc3") }, "filesystem_label: may only be given together with filesystem_type".into()),
            (VolumeCreate { filesystem_type: Some("xfs".into()), filesystem_label: Some("thirteen-char".into()), ..volume("x", "nyc3") }, "filesystem_label: must be at most 12 characters for xfs".into()),
        ],
    );
}

#[test]
fn volume_action_rules() {
    let attached = |w: &mut World| {
        let (v, d) = (w.data, w.web1);
        attach(w, v, d).unwrap();
        w.now = w.now.plus_ms(w.cloud.config().volume_action_ms);
    };
    check(none, attached, |w| w.cloud.delete_volume(w.now, w.data), "conflict", "A volume that's attached to a Droplet cannot be deleted. Please detach it first before deleting.");
    check(none, attached, |w| w.cloud.delete_volume_by_name(w.now, "data", "nyc3"), "conflict", "A volume that's attached to a Droplet cannot be deleted. Please detach it first before deleting.");
    check(
        none,
        attached,
        |w| {
            let (v, d) = (w.data, w.web1);
            attach(w, v, d)
        },
        UNPROCESSABLE,
        "This volume is already attached",
    );
    check(
        none,
        attached,
        |w| {
            let (v, d) = (w.data, w.web2);
            attach(w, v, d)
        },
        UNPROCESSABLE,
        "This volume is already attached to another Droplet",
    );
    check(
        none,
        attached,
        |w| w.act_on_volume(w.data, VolumeAction::Detach { droplet_id: w.web2 }),
        "not_found",
        "error detaching volume from droplet: volume is not attached to droplet",
    );
    check(
        none,
        nothing,
        |w| w.act_on_named_volume("data", None, VolumeAction::Detach { droplet_id: w.web1 }),
        "not_found",
        "error detaching volume from droplet: volume is not attached to droplet",
    );
    check(
        none,
        nothing,
        |w| {
            let (v, d) = (w.far_data, w.web1);
            attach(w, v, d)
        },
        UNPROCESSABLE,
        "The volume and the Droplet must be in the same region.",
    );
    let more = |w: &mut World| {
        let (v, d) = (w.data, w.web1);
        attach(w, v, d).unwrap();
        w.cloud
            .create_volume(w.now, volume("more", "nyc3"))
            .unwrap();
        w.now = w.now.plus_ms(w.cloud.config().volume_action_ms);
    };
    check(
        |c| c.volumes_per_droplet_max = 1,
        more,
        |w| {
            w.act_on_named_volume(
                "more",
                Some("nyc3"),
                VolumeAction::Attach { droplet_id: w.web1 },
            )
        },
        UNPROCESSABLE,
        "cannot attach more volumes to the Droplet",
    );
    for (size_gigabytes, message) in [
        (10, "Volumes may only be resized upwards."),
        (5, "Volumes may only be resized upwards."),
        (20_000, "size_gigabytes: must be between 1 and 16384"),
    ] {
        let resize = VolumeAction::Resize { size_gigabytes };
        check(
            none,
            nothing,
            |w| w.act_on_volume(w.data, resize),
            UNPROCESSABLE,
            message,
        );
    }
    check_not_found(|w| {
        w.act_on_named_volume(
            "data",
            Some("sfo3"),
            VolumeAction::Attach { droplet_id: w.far },
        )
    });
}
