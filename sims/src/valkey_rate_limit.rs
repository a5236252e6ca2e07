//! Valkey rate limiter with `INCR`, then `EXPIRE` on the window's first request: a crash between the two blocks a user for good.
//!
//! **Goal.** Each user may make at most 2 requests a second: three API servers count each user's requests in the window key `rate:<user>`, which opens with the user's first request and lasts a second, and refuse a request once its window has counted past the limit.
//!
//! **On DigitalOcean.** The counter is a key on a Managed Caching (Valkey) cluster, written as the fixed-window recipe shows it: `n = INCR rate:<user>`, and if `n == 1`, `EXPIRE rate:<user> 1`. Two commands: a server killed between them (a deploy, the OOM killer) leaves the counter with no TTL. It counts on forever, and once it passes the limit every later request of that user is refused, on every server, until someone deletes the key by hand.
//!
//! **Method.** Twenty users, three servers (`api-a`, `api-b`, `api-c`); each server takes a request every 50 to 150 ms for 4 s, for a user drawn at random, and asks the limiter. A crash fault kills `api-a` at a moment drawn from its first 2.5 s (it is not restarted). The checks: no user is refused more than a second after its last admitted request (the limiter never blocks a user for good), and no user is admitted more than twice the limit in any second (a fixed window's bound, two windows back to back).
//!
//! **Fix.** Count and set the window in one script, so the counter never exists without its TTL: `local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n`, run with `redis::Script` (`EVALSHA`, then `SCRIPT LOAD` on `NOSCRIPT`). Taking the window with `SET rate:<user> 0 PX 1000 NX` before the `INCR` is not enough: a window that runs out between the two leaves an `INCR`-made counter with no TTL.

use std::collections::BTreeMap;
use std::time::Duration;

use dosim::valkey::redis::{self, aio::MultiplexedConnection};
use dosim::{checks, Actor, ActorFault, DatabaseSpec, Expect, Scenario, Violation};
use rand::Rng;

type Error = Box<dyn std::error::Error>;

const CACHE: &str = "limits";
const USERS: u32 = 20;
const LIMIT: i64 = 2;
const WINDOW_MS: u64 = 1000;
const TRAFFIC_MS: u64 = 4000;
/// How far apart a server's records of one server-side instant may be: the replies' network time.
const SLACK_MS: u64 = 100;
const ADMITTED: &str = "admitted";
const REFUSED: &str = "refused";

/// The fix's counter: the `INCR` and the window's TTL in one step.
const COUNT: &str = "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n";

/// How a server counts a request in its user's window.
#[derive(Clone, Copy)]
enum Count {
    /// `INCR`, then `EXPIRE` when it opened the window.
    IncrThenExpire,
    /// The script.
    Script,
}

/// Counts one request of `user`; returns the window's count so far.
async fn count(c: &mut MultiplexedConnection, how: Count, user: u32) -> Result<i64, Error> {
    let key = format!("rate:user-{user}");
    match how {
        Count::IncrThenExpire => {
            let n: i64 = redis::cmd("INCR").arg(&key).query_async(c).await?;
            if n == 1 {
                let _: i64 = redis::cmd("EXPIRE")
                    .arg(&key)
                    .arg(WINDOW_MS / 1000)
                    .query_async(c)
                    .await?;
            }
            Ok(n)
        }
        Count::Script => Ok(redis::Script::new(COUNT)
            .key(&key)
            .arg(WINDOW_MS)
            .invoke_async(c)
            .await?),
    }
}

/// Serves requests for random users, admitting each that the limiter allows.
async fn serve(cx: Actor, how: Count) -> Result<(), Error> {
    let mut c = dosim::valkey::connect(CACHE).await?;
    while cx.now() < Duration::from_millis(TRAFFIC_MS) {
        let user = cx.rng().random_range(0..USERS);
        let n = count(&mut c, how, user).await?;
        let verdict = if n <= LIMIT { ADMITTED } else { REFUSED };
        // One belief per request: the checks read when each user was admitted or refused.
        cx.believe(verdict, format!("user-{user}"));
        let gap = cx.rng().random_range(50..150);
        cx.sleep(Duration::from_millis(gap)).await;
    }
    Ok(())
}

/// The buggy server: `INCR`, then `EXPIRE` on the window's first request.
async fn serve_incr_expire(cx: Actor) -> Result<(), Error> {
    serve(cx, Count::IncrThenExpire).await
}

/// The fix: the script counts and sets the window at once.
async fn serve_script(cx: Actor) -> Result<(), Error> {
    serve(cx, Count::Script).await
}

/// Each user's admitted and refused requests, in simulated milliseconds, from the beliefs.
fn verdicts(outcome: &dosim::RunOutcome) -> BTreeMap<String, (Vec<u64>, Vec<u64>)> {
    let mut users: BTreeMap<String, (Vec<u64>, Vec<u64>)> = BTreeMap::new();
    for belief in &outcome.beliefs {
        let Some(user) = &belief.value else { continue };
        let entry = users.entry(user.clone()).or_default();
        match belief.key.as_str() {
            ADMITTED => entry.0.push(belief.at_ms),
            REFUSED => entry.1.push(belief.at_ms),
            _ => {}
        }
    }
    users
}

fn seconds(ms: u64) -> String {
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

fn scenario(name: &str) -> Scenario {
    const FOREVER: &str = "no user is refused more than a second after its last admitted request";
    const BURST: &str = "no user is admitted more than twice the limit in a second";
    Scenario::new(name)
        .database(DatabaseSpec::valkey(CACHE))
        .actor_fault(ActorFault::crash("api-a").jitter(Duration::from_millis(2500)))
        .check(checks::actors_ok())
        .check_fn(FOREVER, |outcome| {
            for (user, (admitted, refused)) in verdicts(outcome) {
                for &at in &refused {
                    // A window lasts a second, so a refusal follows an admission by at most that.
                    let recent = admitted
                        .iter()
                        .any(|&a| a + WINDOW_MS + SLACK_MS > at && a <= at + SLACK_MS);
                    if recent {
                        continue;
                    }
                    let last = admitted
                        .iter()
                        .filter(|&&a| a <= at)
                        .max()
                        .map_or("never admitted".to_owned(), |&a| {
                            format!("last admitted at {}", seconds(a))
                        });
                    let key = format!("rate:{user}");
                    let ttl = match outcome.valkey(CACHE).and_then(|c| c.ttl(&key)) {
                        Some(None) => format!("; {key} has no TTL"),
                        _ => String::new(),
                    };
                    return Err(Violation::new(
                        FOREVER,
                        format!("{user} refused at {} ({last}){ttl}", seconds(at)),
                    )
                    .resources([user.clone(), "cluster limits".to_owned()]));
                }
            }
            Ok(())
        })
        .check_fn(BURST, |outcome| {
            let bound = 2 * LIMIT as usize;
            for (user, (admitted, _)) in verdicts(outcome) {
                for (i, &first) in admitted.iter().enumerate() {
                    // A fixed window's bound holds for server times; the records are up to the slack later.
                    let within = admitted[i..]
                        .iter()
                        .take_while(|&&a| a + SLACK_MS < first + WINDOW_MS)
                        .count();
                    if within > bound {
                        return Err(Violation::new(
                            BURST,
                            format!(
                                "{user} admitted {within} times within a second from {}",
                                seconds(first)
                            ),
                        )
                        .resources([user.clone()]));
                    }
                }
            }
            Ok(())
        })
        .max_sim_time(Duration::from_secs(30))
}

/// `valkey_rate_limit`: a crash between `INCR` and `EXPIRE` leaves a counter that refuses its user for good.
pub fn buggy() -> Scenario {
    scenario("valkey_rate_limit")
        .actor("api-a", serve_incr_expire)
        .actor("api-b", serve_incr_expire)
        .actor("api-c", serve_incr_expire)
        .default_seeds(500)
        .expect(Expect::Race)
}

/// `valkey_rate_limit_fixed`: one script counts and sets the window.
pub fn fixed() -> Scenario {
    scenario("valkey_rate_limit_fixed")
        .actor("api-a", serve_script)
        .actor("api-b", serve_script)
        .actor("api-c", serve_script)
        .expect(Expect::Clean)
}
