//! Two deploy jobs each ensure the same DNS record, and the domain ends up with two.
//!
//! **Goal.** `api.example.com` has exactly one `A` record, pointing at the load balancer.
//!
//! **On DigitalOcean.** DNS record names are not unique: DigitalOcean accepts any number of
//! records with the same name and type (round-robin DNS is built that way), so a create never
//! answers "already exists". Deploy pipelines and Terraform-less scripts "ensure" a record by
//! listing records with that name and creating one when none is found; two deploys that run at
//! once both find none and both create. Nothing fails: the zone silently holds two `A` records,
//! and when the next deploy updates "the" record it updates one of them, leaving resolvers to
//! alternate between the new address and the stale one.
//!
//! **Method.** The account has the domain `example.com`. Two deploy jobs start at once, list
//! `api.example.com`'s `A` records and create one when the list is empty. Checks: every job
//! finished, and at most one `A` record is named `api.example.com`.
//!
//! **Fix.** Create, then converge: after creating, list again and keep the record with the
//! lowest id; a job whose own record is not the lowest deletes it. Every job that sees two
//! records agrees on which stays, and a job that saw only its own is the one whose record is the
//! lowest, so exactly one record remains without any coordination beyond the API.

use dosim::client::{DomainRecord, DomainRecordEdit, Error};
use dosim::cloud::{Cloud, SimTime};
use dosim::{checks, Actor, Expect, Scenario, Violation};

const DOMAIN: &str = "example.com";
const FQDN: &str = "api.example.com";
const NAME: &str = "api";
const ADDRESS: &str = "203.0.113.10";
const CHECK: &str = "one A record for api.example.com";

async fn a_records(cx: &Actor) -> Result<Vec<DomainRecord>, Error> {
    cx.client()
        .domains()
        .records(DOMAIN)
        .name(FQDN)
        .record_type("A")
        .all()
        .await
}

/// The buggy job: list, then create when nothing is found.
async fn deploy(cx: Actor) -> Result<(), Error> {
    if a_records(&cx).await?.is_empty() {
        cx.client()
            .domains()
            .create_record(DOMAIN, &DomainRecordEdit::new("A", NAME, ADDRESS).ttl(300))
            .await?;
    }
    Ok(())
}

/// The fixed job: create when nothing is found, then keep only the lowest id.
async fn deploy_fixed(cx: Actor) -> Result<(), Error> {
    if !a_records(&cx).await?.is_empty() {
        return Ok(());
    }
    let api = cx.client();
    let mine = api
        .domains()
        .create_record(DOMAIN, &DomainRecordEdit::new("A", NAME, ADDRESS).ttl(300))
        .await?;
    let lowest = a_records(&cx).await?.iter().map(|r| r.id).min();
    if lowest.is_some_and(|lowest| lowest < mine.id) {
        api.domains().delete_record(DOMAIN, mine.id).await?;
    }
    Ok(())
}

fn scenario(name: &str) -> Scenario {
    Scenario::new(name)
        .cloud(|cloud: &mut Cloud| {
            cloud
                .create_domain(SimTime::ZERO, DOMAIN, None)
                .expect("the fixture's domain is valid");
        })
        .check(checks::actors_ok())
        .check_fn(CHECK, |outcome| {
            let records: Vec<String> = outcome
                .final_state
                .domain_records
                .iter()
                .filter(|r| r.fqdn == FQDN && r.record_type == "A")
                .map(|r| format!("record {}", r.id))
                .collect();
            if records.len() <= 1 {
                return Ok(());
            }
            Err(Violation::new(
                CHECK,
                format!(
                    "{FQDN} has {} A records: {}",
                    records.len(),
                    records.join(", ")
                ),
            )
            .resources(records))
        })
}

/// `dns_record_duplicates`: list, then create, from two deploy jobs.
pub fn buggy() -> Scenario {
    scenario("dns_record_duplicates")
        .actors(2, deploy)
        .expect(Expect::Race)
}

/// `dns_record_duplicates_fixed`: create, then keep the lowest id.
pub fn fixed() -> Scenario {
    scenario("dns_record_duplicates_fixed")
        .actors(2, deploy_fixed)
        .expect(Expect::Clean)
}
