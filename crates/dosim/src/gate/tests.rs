//! Unit tests of the operation gate: what it admits, in which order, and that neither a client
//! that gives up nor a permit that is never dropped stalls it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use dosim_base::gate::{Admission, Operation, Permit, Plane};

use super::{RunGate, HOLD_MAX};
use crate::strategy::{Decisions, Steering};
use crate::Strategy;

/// The operation an API request is, as the API admits it.
fn api_operation(actor: String, method: &str, path: &str) -> Operation {
    Operation {
        plane: Plane::Api,
        server: crate::net::API_HOST.to_owned(),
        actor,
        session: None,
        summary: format!("{method} {path}"),
    }
}

/// Every actor of the gates under test, still running.
fn running() -> std::collections::BTreeSet<&'static str> {
    ["pod-0", "pod-1", "pod-2"].into_iter().collect()
}

/// The longest delay of the gates under test.
const DELAY_MAX: Duration = Duration::from_millis(100);

fn delay_max() -> super::DelayMax {
    let mut delay_max = super::DelayMax::default();
    delay_max.set_all(DELAY_MAX);
    delay_max
}

/// A gate that takes its decisions from `choices`: one as each operation arrives (1 delays
/// it), one each time it picks among several waiting.
fn steered(choices: Vec<u32>) -> Arc<RunGate> {
    let actors = ["pod-0".to_owned(), "pod-1".to_owned(), "pod-2".to_owned()];
    let mut rng = crate::seed::rng(5, crate::seed::Stream::Schedule);
    let decisions = Decisions::new(
        Steering::Forced {
            strategy: Strategy::Dfs,
            choices,
            faults_max: None,
            delays_max: None,
        },
        &actors,
        &mut rng,
    );
    RunGate::new(Some(Arc::new(decisions)), delay_max())
}

fn admit(gate: &Arc<RunGate>, actor: &str) -> Admission {
    gate.handle()
        .admit(api_operation(actor.to_owned(), "POST", "/v2/volumes"))
}

/// Polls once: the permit if the gate has let the operation in.
fn poll(admission: &mut Admission) -> Option<Permit> {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(admission).poll(&mut cx) {
        Poll::Ready(permit) => Some(permit),
        Poll::Pending => None,
    }
}

fn committed(gate: &RunGate) -> Vec<String> {
    gate.commits()
        .0
        .iter()
        .map(|commit| commit.actor.clone())
        .collect()
}

#[test]
fn random_admits_at_once_and_records_the_order() {
    let gate = RunGate::new(None, delay_max());
    for actor in ["pod-1", "pod-0"] {
        assert!(poll(&mut admit(&gate, actor)).is_some(), "{actor}");
    }
    assert_eq!(committed(&gate), ["pod-1", "pod-0"]);
}

#[test]
fn a_steered_gate_lets_the_chosen_operation_in_first_and_one_at_a_time() {
    let gate = steered(vec![0, 0, 1]);
    let mut first = admit(&gate, "pod-0");
    let mut second = admit(&gate, "pod-1");
    assert!(poll(&mut first).is_none() && poll(&mut second).is_none());
    // Another request in flight holds both, until the wait runs out.
    gate.settle(0, true, 10, &running());
    assert!(poll(&mut first).is_none() && poll(&mut second).is_none());
    gate.settle(10, true, 10, &running());
    let permit = poll(&mut second).expect("the choice was the second waiter");
    // While it commits, nobody else goes in.
    gate.settle(11, false, 10, &running());
    assert!(poll(&mut first).is_none());
    drop(permit);
    gate.settle(12, false, 10, &running());
    assert!(poll(&mut first).is_some());
    assert_eq!(committed(&gate), ["pod-1", "pod-0"]);
}

#[test]
fn a_client_that_gives_up_at_the_gate_is_no_longer_a_choice() {
    let gate = steered(vec![0, 0, 0]);
    let gave_up = admit(&gate, "pod-0");
    let mut stayed = admit(&gate, "pod-1");
    drop(gave_up);
    gate.settle(0, false, 10, &running());
    assert!(poll(&mut stayed).is_some());
    assert_eq!(committed(&gate), ["pod-1"]);
}

#[test]
fn a_permit_held_too_long_does_not_stall_the_gate() {
    let gate = steered(Vec::new());
    let mut first = admit(&gate, "pod-0");
    gate.settle(0, false, 10, &running());
    let held = poll(&mut first).expect("alone at the gate");
    let mut second = admit(&gate, "pod-1");
    gate.settle(1, false, 10, &running());
    assert!(poll(&mut second).is_none());
    let hold_ms = u64::try_from(HOLD_MAX.as_millis()).unwrap_or(u64::MAX);
    gate.settle(hold_ms, false, 10, &running());
    assert!(poll(&mut second).is_some());
    drop(held);
}

#[test]
fn a_late_permit_does_not_free_the_gate_from_the_next_operation() {
    let gate = steered(Vec::new());
    let mut first = admit(&gate, "pod-0");
    gate.settle(0, false, 10, &running());
    let held = poll(&mut first).expect("alone at the gate");
    let mut second = admit(&gate, "pod-1");
    let hold_ms = u64::try_from(HOLD_MAX.as_millis()).unwrap_or(u64::MAX);
    gate.settle(hold_ms, false, 10, &running());
    let _committing = poll(&mut second).expect("let in after the first held too long");
    // The first permit goes now: the second is still committing, so a third must wait.
    drop(held);
    let mut third = admit(&gate, "pod-2");
    gate.settle(hold_ms + 1, false, 10, &running());
    assert!(poll(&mut third).is_none());
}

#[test]
fn a_delayed_operation_waits_for_another_hosts_commit() {
    // pod-0's operation is delayed as it arrives; pod-1's is not.
    let gate = steered(vec![1, 0]);
    let mut delayed = admit(&gate, "pod-0");
    let mut other = admit(&gate, "pod-1");
    gate.settle(0, false, 10, &running());
    assert!(poll(&mut delayed).is_none());
    drop(poll(&mut other).expect("the other host goes first"));
    gate.settle(1, false, 10, &running());
    assert!(poll(&mut delayed).is_some());
    assert_eq!(committed(&gate), ["pod-1", "pod-0"]);
    let commits = gate.commits().0;
    let delay = commits[1].delayed.as_ref().expect("the second was delayed");
    assert_eq!(
        (delay.held_ms, delay.until.as_str()),
        (1, "until pod-1's operation committed")
    );
    assert_eq!(commits[0].delayed, None);
}

#[test]
fn a_delay_ends_after_the_longest_delay_when_nobody_else_commits() {
    let gate = steered(vec![1]);
    let mut delayed = admit(&gate, "pod-0");
    let delay_ms = u64::try_from(DELAY_MAX.as_millis()).unwrap_or(u64::MAX);
    gate.settle(delay_ms - 1, false, 10, &running());
    assert!(poll(&mut delayed).is_none());
    gate.settle(delay_ms, false, 10, &running());
    assert!(poll(&mut delayed).is_some());
    let commits = gate.commits().0;
    let delay = commits[0].delayed.as_ref().expect("delayed");
    assert_eq!(
        (delay.held_ms, delay.until.as_str()),
        (delay_ms, "until the longest delay ran out")
    );
}

#[test]
fn a_commit_of_the_same_host_does_not_end_its_delay() {
    let gate = steered(vec![1, 0]);
    let mut delayed = admit(&gate, "pod-0");
    let mut same = admit(&gate, "pod-0");
    gate.settle(0, false, 10, &running());
    drop(poll(&mut same).expect("its second operation was not delayed"));
    gate.settle(1, false, 10, &running());
    assert!(poll(&mut delayed).is_none());
}

#[test]
fn delayed_operations_of_two_hosts_do_not_wait_for_each_other() {
    // Both are delayed; each waits for the other host, so the order between them is the choice.
    let gate = steered(vec![1, 1, 1]);
    let mut first = admit(&gate, "pod-0");
    let mut second = admit(&gate, "pod-1");
    gate.settle(0, false, 10, &running());
    drop(poll(&mut second).expect("the choice was the second"));
    assert!(poll(&mut first).is_none());
    gate.settle(1, false, 10, &running());
    assert!(poll(&mut first).is_some());
    assert_eq!(committed(&gate), ["pod-1", "pod-0"]);
    let commits = gate.commits().0;
    let ended: Vec<&str> = commits
        .iter()
        .filter_map(|commit| commit.delayed.as_ref())
        .map(|delay| delay.until.as_str())
        .collect();
    assert_eq!(
        ended,
        [
            "until pod-0's operation waited beside it",
            "until pod-1's operation committed"
        ]
    );
}

#[test]
fn a_delay_ends_when_every_other_actor_has_finished() {
    let gate = steered(vec![1]);
    let mut delayed = admit(&gate, "pod-0");
    gate.settle(0, false, 10, &running());
    assert!(poll(&mut delayed).is_none());
    gate.settle(1, false, 10, &["pod-0"].into_iter().collect());
    assert!(poll(&mut delayed).is_some());
    let commits = gate.commits().0;
    let delay = commits[0].delayed.as_ref().expect("delayed");
    assert_eq!(delay.until, "until every other actor had finished");
}
