//! A user's own scenario binary: `dosim::cli::main` gives it `list`, `explore`, `replay` and `bench`.
//!
//! `cargo run --release -p dosim --example own_binary -- explore`

use std::process::ExitCode;
use std::time::Duration;

use dosim::checks;
use dosim::client::{DropletCreate, RetryPolicy, VolumeCreate};
use dosim::{Actor, Expect, FaultPlan, Scenario};

/// Runs in every pod at start-up: make sure the data volume exists (check, then create).
async fn ensure_volume(cx: Actor) -> Result<(), dosim::client::Error> {
    let api = cx.client();
    if api
        .volumes()
        .list()
        .name("pgdata")
        .region("nyc3")
        .all()
        .await?
        .is_empty()
    {
        api.volumes()
            .create(&VolumeCreate::new("pgdata", "nyc3", 100))
            .await?;
    }
    Ok(())
}

/// The same, treating a 409 as "another pod won" and adopting its volume.
async fn ensure_volume_fixed(cx: Actor) -> Result<(), dosim::client::Error> {
    let api = cx.client();
    if !api
        .volumes()
        .list()
        .name("pgdata")
        .region("nyc3")
        .all()
        .await?
        .is_empty()
    {
        return Ok(());
    }
    match api
        .volumes()
        .create(&VolumeCreate::new("pgdata", "nyc3", 100))
        .await
    {
        Err(error) if error.is_conflict() => api
            .volumes()
            .list()
            .name("pgdata")
            .region("nyc3")
            .all()
            .await
            .map(drop),
        result => result.map(drop),
    }
}

fn main() -> ExitCode {
    let lost_create = FaultPlan::parse("[[rules]]\nmethod = \"POST\"\npath = \"/v2/droplets\"\ndrop_response = { probability = 0.5 }\n").expect("the plan parses");
    dosim::cli::main(vec![
        Scenario::new("two_pods_create_one_volume")
            .actors(2, ensure_volume)
            .check(checks::actors_ok())
            .expect(Expect::Race),
        Scenario::new("two_pods_create_one_volume_fixed")
            .actors(2, ensure_volume_fixed)
            .check(checks::actors_ok())
            .expect(Expect::Clean),
        Scenario::new("retried_create_duplicates")
            .faults(lost_create)
            .client(|builder| {
                builder
                    .timeout(Duration::from_secs(5))
                    .retry(RetryPolicy::godo())
            })
            .actors(1, |cx: Actor| async move {
                let request = DropletCreate::new("web-1", "s-1vcpu-1gb", "ubuntu-24-04-x64")
                    .region("nyc3")
                    .tag("create:web-1");
                cx.client().droplets().create(&request).await.map(drop)
            })
            .check(checks::no_duplicate_droplets_by_tag("create:"))
            .expect(Expect::Race),
    ])
}
