//! The invariants: a healthy account passes, and each cross-reference broken by hand, from
//! either side, is caught with a sentence naming the resources.

use super::fixture::{pg_cluster, world, World};
use crate::actions::Pending;
use crate::*;
use std::net::Ipv4Addr;

/// The fixture's account with every kind of cross-reference in it: `data` attached to `web1`,
/// `ip` assigned to `web2`, `far` powering off, `ip2` being assigned to `web1` (both locked), and
/// a PostgreSQL cluster still creating, with a user, a database and a pool that uses both.
struct Linked {
    w: World,
    ip2: Ipv4Addr,
    /// `far`'s power-off.
    power_off: ActionId,
    /// `ip2`'s assignment to `web1`.
    assign: ActionId,
    db: DatabaseId,
}

fn linked() -> Linked {
    let mut w = world(CloudConfig::default());
    let t = w.now;
    w.cloud
        .volume_action(
            t,
            VolumeActionTarget::Id(w.data),
            VolumeAction::Attach { droplet_id: w.web1 },
        )
        .unwrap();
    w.cloud
        .reserved_ip_action(t, w.ip, ReservedIpAction::Assign { droplet_id: w.web2 })
        .unwrap();
    // Both actions take 3 s; the next ones start once they are done.
    let t = SimTime(t.0 + 5_000);
    let power_off = w
        .cloud
        .droplet_action(t, w.far, DropletActionRequest::PowerOff)
        .unwrap();
    let ip2 = w
        .cloud
        .create_reserved_ip(
            t,
            ReservedIpCreate {
                region: Some("nyc3".into()),
                ..ReservedIpCreate::default()
            },
        )
        .unwrap()
        .ip;
    let assign = w
        .cloud
        .reserved_ip_action(t, ip2, ReservedIpAction::Assign { droplet_id: w.web1 })
        .unwrap();
    let db = w
        .cloud
        .create_database(t, pg_cluster("backend", "nyc3"))
        .unwrap()
        .id;
    w.cloud.create_database_user(t, db, "app").unwrap();
    w.cloud.create_database_db(t, db, "shop").unwrap();
    w.cloud
        .create_database_pool(
            t,
            db,
            PoolCreate {
                name: "shop-pool".into(),
                mode: "transaction".into(),
                size: 5,
                db: "shop".into(),
                user: Some("app".into()),
            },
        )
        .unwrap();
    w.now = t;
    Linked {
        w,
        ip2,
        power_off,
        assign,
        db,
    }
}

/// Breaks the linked account with `corrupt`, then expects `check_invariants` to name it in
/// every one of `expect` (each with `{web1}`, `{data}`, ... filled in).
#[track_caller]
fn check(corrupt: impl FnOnce(&mut Linked), expect: &[&str]) {
    let mut linked = linked();
    assert_eq!(
        linked.w.cloud.check_invariants(),
        Ok(()),
        "before corrupting"
    );
    corrupt(&mut linked);
    let broken = linked
        .w
        .cloud
        .check_invariants()
        .expect_err("the corruption must be caught");
    let w = &linked.w;
    let fill = |template: &str| {
        template
            .replace("{web1}", &w.web1.to_string())
            .replace("{web2}", &w.web2.to_string())
            .replace("{far}", &w.far.to_string())
            .replace("{data}", &w.data.to_string())
            .replace("{ip2}", &linked.ip2.to_string())
            .replace("{ip}", &w.ip.to_string())
            .replace("{power_off}", &linked.power_off.to_string())
            .replace("{assign}", &linked.assign.to_string())
            .replace("{db}", &linked.db.to_string())
            .replace(
                "{web1_public}",
                &w.cloud.droplets[&w.web1].networks.v4[0]
                    .ip_address
                    .to_string(),
            )
    };
    let expect: Vec<String> = expect.iter().map(|e| fill(e)).collect();
    let found: Vec<&str> = broken.lines().collect();
    assert_eq!(found, expect);
}

fn droplet(l: &mut Linked, id: impl Fn(&World) -> DropletId) -> &mut Droplet {
    let id = id(&l.w);
    l.w.cloud.droplets.get_mut(&id).unwrap()
}

fn reserved_ip(l: &mut Linked, ip: impl Fn(&Linked) -> Ipv4Addr) -> &mut ReservedIp {
    let ip = ip(l);
    l.w.cloud.reserved_ips.get_mut(&ip).unwrap()
}

fn database(l: &mut Linked) -> &mut Database {
    l.w.cloud.databases.get_mut(&l.db).unwrap()
}

#[test]
fn a_healthy_account_passes_through_every_call() {
    // Every entry point checks the invariants in debug builds; this account went through many.
    let linked = linked();
    assert_eq!(linked.w.cloud.check_invariants(), Ok(()));
}

#[test]
fn volumes_and_droplets() {
    // The volume forgets the droplet; the droplet forgets the volume.
    check(
        |l| l.w.cloud.volumes[&l.w.data].droplet_ids.clear(),
        &["droplet {web1} lists volume {data}, whose droplet_ids do not list it"],
    );
    check(
        |l| droplet(l, |w| w.web1).volume_ids.clear(),
        &["volume {data} lists droplet {web1}, whose volume_ids do not list it"],
    );
    // Each side names something that does not exist.
    check(
        |l| {
            let data = l.w.data;
            l.w.cloud.volumes.shift_remove(&data);
        },
        &["droplet {web1} lists volume {data}, which does not exist"],
    );
    check(
        |l| l.w.cloud.volumes[&l.w.data].droplet_ids = vec![DropletId(7)],
        &[
            "droplet {web1} lists volume {data}, whose droplet_ids do not list it",
            "volume {data} lists droplet 7, which does not exist",
        ],
    );
    check(
        |l| l.w.cloud.volumes[&l.w.data].region = "sfo3".into(),
        &["volume {data} in sfo3 is attached to droplet {web1} in nyc3"],
    );
}

#[test]
fn reserved_ips_and_droplets() {
    check(
        |l| reserved_ip(l, |l| l.w.ip).droplet_id = Some(DropletId(7)),
        &["reserved IP {ip} points at droplet 7, which does not exist"],
    );
    // The droplet's side: it holds one reserved IP at most.
    check(
        |l| {
            let web2 = l.w.web2;
            reserved_ip(l, |l| l.ip2).droplet_id = Some(web2);
        },
        &["droplet {web2} has two reserved IPs, {ip} and {ip2}"],
    );
    check(
        |l| {
            let far = l.w.far;
            reserved_ip(l, |l| l.w.ip).droplet_id = Some(far);
        },
        &["reserved IP {ip} in nyc3 points at droplet {far} in sfo3"],
    );
}

#[test]
fn locks_and_their_actions() {
    // A droplet's lock without its action, and its action without the lock.
    check(
        |l| droplet(l, |w| w.web2).locked = true,
        &["droplet {web2} is locked with no pending action"],
    );
    check(
        |l| droplet(l, |w| w.far).locked = false,
        &["droplet {far} shows locked: false while its power_off action {power_off} runs"],
    );
    check(
        |l| {
            let far = droplet(l, |w| w.far);
            far.pending_action = None;
            far.locked = false;
        },
        &["action {power_off} locks droplet {far}, which does not wait on it"],
    );
    check(
        |l| droplet(l, |w| w.far).pending_action = Some(ActionId(7)),
        &[
            "droplet {far} waits on action 7, which does not exist",
            "action {power_off} locks droplet {far}, which does not wait on it",
        ],
    );
    check(
        |l| {
            let far = l.w.far;
            l.w.cloud.droplets.remove(&far);
        },
        &["action {power_off} locks droplet {far}, which does not exist"],
    );
    // The same for a reserved IP.
    check(
        |l| reserved_ip(l, |l| l.ip2).locked = false,
        &["reserved IP {ip2} shows locked: false with action {assign} pending"],
    );
    check(
        |l| {
            let ip2 = reserved_ip(l, |l| l.ip2);
            ip2.pending_action = None;
            ip2.locked = false;
        },
        &["action {assign} locks reserved IP {ip2}, which does not wait on it"],
    );
    check(
        |l| {
            let ip2 = l.ip2;
            l.w.cloud.reserved_ips.shift_remove(&ip2);
        },
        &["action {assign} locks reserved IP {ip2}, which the account does not hold"],
    );
}

#[test]
fn actions_and_their_deadlines() {
    check(
        |l| {
            let deadline = l.w.cloud.actions[&l.power_off].deadline;
            l.w.cloud
                .pending
                .remove(&(deadline, Pending::Action(l.power_off)));
        },
        &["action {power_off} is in progress with no deadline scheduled"],
    );
    check(
        |l| {
            let action = l.w.cloud.actions.get_mut(&l.power_off).unwrap();
            action.status = ActionStatus::Completed;
            action.completed_at = Some(l.w.now);
        },
        &[
            "droplet {far} waits on action {power_off}, which is completed",
            "a deadline completes action {power_off}, which is completed",
        ],
    );
    check(
        |l| {
            l.w.cloud
                .actions
                .get_mut(&l.power_off)
                .unwrap()
                .completed_at = Some(l.w.now)
        },
        &["action {power_off} is in-progress with completed_at Some(\"2026-01-01T00:00:35Z\")"],
    );
    check(
        |l| {
            l.w.cloud.actions.remove(&l.power_off);
        },
        &[
            "droplet {far} waits on action {power_off}, which does not exist",
            "a deadline completes action {power_off}, which does not exist",
        ],
    );
}

#[test]
fn addresses() {
    // web2 takes web1's public address as its own.
    check(
        |l| {
            let web1_public = l.w.cloud.droplets[&l.w.web1].networks.v4[0].clone();
            let web2 = droplet(l, |w| w.web2);
            web2.planned_networks.v4[0] = web1_public.clone();
            web2.networks.v4[0] = web1_public;
        },
        &["droplet {web1} and droplet {web2} both hold {web1_public}"],
    );
    check(
        |l| {
            let ip = l.w.ip;
            l.w.cloud.used_ips.remove(&ip);
        },
        &["reserved IP {ip} holds {ip}, which the account never handed out"],
    );
}

#[test]
fn database_clusters() {
    check(
        |l| database(l).db_names.retain(|db| db != "shop"),
        &["database {db}'s pool shop-pool connects to database shop, which does not exist"],
    );
    check(
        |l| database(l).users.retain(|user| user.name != "app"),
        &["database {db}'s pool shop-pool connects as user app, who does not exist"],
    );
    check(
        |l| database(l).users[1].role = DatabaseUserRole::Primary,
        &["database {db} has a second primary user, app"],
    );
    check(
        |l| database(l).users.swap(0, 1),
        &[
            "database {db}'s first user, app, is not its primary user",
            "database {db} has a second primary user, doadmin",
        ],
    );
    check(
        |l| {
            let online_at = l.w.cloud.databases[&l.db].online_at;
            l.w.cloud
                .pending
                .remove(&(online_at, Pending::Database(l.db)));
        },
        &["database {db} is creating with no deadline scheduled"],
    );
    check(
        |l| {
            let db = l.db;
            l.w.cloud.databases.shift_remove(&db);
        },
        &["a deadline brings database {db} online, which does not exist"],
    );
}

#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "the account broke an invariant: droplet")]
fn every_entry_point_checks_in_debug_builds() {
    let mut linked = linked();
    let web2 = linked.w.web2;
    linked.w.cloud.droplets.get_mut(&web2).unwrap().locked = true;
    // A read is an entry point too: it advances time, which may complete actions.
    let _ = linked.w.cloud.droplet(linked.w.now, web2);
}
