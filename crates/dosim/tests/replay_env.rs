//! `DOSIM_SEED=N` replays one seed inside `cargo test`. Its own test binary, because it sets the
//! process's environment, which tests sharing a binary would see.

use dosim::client::VolumeCreate;
use dosim::{checks, Actor, Expect, Scenario};

fn two_pods_create_one_volume() -> Scenario {
    Scenario::new("two_pods_create_one_volume")
        .actors(2, |cx: Actor| async move {
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
            Ok::<(), dosim::client::Error>(())
        })
        .check(checks::actors_ok())
        .expect(Expect::Race)
}

#[test]
fn dosim_seed_replays_one_seed() {
    let scenario = two_pods_create_one_volume();
    let racing = (0..50)
        .find(|&seed| !scenario.verdict(&scenario.run(seed)).is_empty())
        .expect("a racing seed in 0..50");
    let clean = (0..50)
        .find(|&seed| scenario.verdict(&scenario.run(seed)).is_empty())
        .expect("a clean seed in 0..50");

    // A racing seed passes an `Expect::Race` test, without touching the default sweep's snapshot.
    std::env::set_var(dosim::explore::ENV_SEED, racing.to_string());
    scenario.explore();

    // A seed that does not race fails it, naming the seed.
    std::env::set_var(dosim::explore::ENV_SEED, clean.to_string());
    let failure = std::panic::catch_unwind(|| two_pods_create_one_volume().explore())
        .expect_err("a clean seed fails an Expect::Race test");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        message.contains(&format!("seeds {clean}..{}", clean + 1)),
        "{message}"
    );

    // A malformed seed is an error, not a silent default sweep.
    std::env::set_var(dosim::explore::ENV_SEED, "forty-one");
    let failure = std::panic::catch_unwind(|| two_pods_create_one_volume().explore())
        .expect_err("a bad seed fails");
    let message = failure
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(message.contains("DOSIM_SEED"), "{message}");
    std::env::remove_var(dosim::explore::ENV_SEED);
}
