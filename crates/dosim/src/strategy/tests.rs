//! Unit tests of schedules as text and of PCT's choices at the gate.

use super::{Decisions, Schedule, Steering};
use crate::Strategy;

#[track_caller]
fn check_schedule(text: &str, expected: Result<&str, &str>) {
    match (text.parse::<Schedule>(), expected) {
        (Ok(schedule), Ok(shown)) => assert_eq!(schedule.to_string(), shown, "{text}"),
        (Err(error), Err(fragment)) => assert!(error.contains(fragment), "{text}: {error}"),
        (got, want) => panic!("{text}: got {got:?}, want {want:?}"),
    }
}

#[test]
fn schedules_as_text() {
    check_schedule("pct:7:1.0.0.1", Ok("pct:7:1.0.0.1"));
    check_schedule("dfs:0:-", Ok("dfs:0:-"));
    check_schedule("dfs:0x10:2", Ok("dfs:16:2"));
    check_schedule("random:3:0", Err("replay them with --seed"));
    check_schedule("pct:7", Err("is not a schedule"));
    check_schedule("pct:x:0", Err("is not a seed"));
    check_schedule("pct:7:1..0", Err("is not a schedule"));
    check_schedule("fifo:7:0", Err("is not a schedule"));
    // Runs of four or more equal choices are written with their count.
    check_schedule("pct:7:0.0.0.0.0.1.1.1", Ok("pct:7:0*5.1.1.1"));
    check_schedule("pct:7:0*2.1*4", Ok("pct:7:0.0.1*4"));
    check_schedule("pct:7:0*0", Err("is not a schedule"));
    check_schedule("pct:7:0*x", Err("is not a schedule"));
    check_schedule("pct:7:0*100001", Err("at most 100000 decisions"));
}

fn decisions(steering: Steering) -> Decisions {
    let actors = ["pod-0".to_owned(), "pod-1".to_owned(), "pod-2".to_owned()];
    let mut rng = crate::seed::rng(5, crate::seed::Stream::Schedule);
    Decisions::new(steering, &actors, &mut rng)
}

#[test]
fn forced_choices_replay_and_then_take_the_first() {
    let forced = decisions(Steering::Forced {
        strategy: Strategy::Dfs,
        choices: vec![2, 1, 1, 5],
        faults_max: None,
        delays_max: None,
    });
    assert_eq!(forced.choose_request(&["pod-0", "pod-1", "pod-2"]), 2);
    assert!(forced.choose_fault(false, 0.5));
    // A certain fault is no decision and takes no choice.
    assert!(forced.choose_fault(true, 1.0));
    assert_eq!(forced.choose_request(&["pod-0", "pod-1"]), 1);
    // A choice past the waiting requests takes the last; past the list, the first.
    assert_eq!(forced.choose_request(&["pod-0", "pod-1"]), 1);
    assert_eq!(forced.choose_request(&["pod-0", "pod-1"]), 0);
    assert!(!forced.choose_fault(true, 0.5));
    assert_eq!(
        forced.taken(),
        [(2, 3), (1, 2), (1, 2), (1, 2), (0, 2), (0, 2)]
    );
}

#[test]
fn pct_lets_the_highest_priority_in_first_every_time_until_a_change_point() {
    let pct = decisions(Steering::Pct { depth: 1 });
    let first = pct.choose_request(&["pod-0", "pod-1", "pod-2"]);
    let favourite = ["pod-0", "pod-1", "pod-2"][first];
    // With depth 1 there are no change points: the favourite always goes first.
    for waiting in [
        vec!["pod-2", "pod-1", "pod-0"],
        vec!["pod-1", "pod-0", "pod-2", "pod-1"],
    ] {
        let chosen = pct.choose_request(&waiting);
        assert_eq!(waiting[chosen], favourite, "{waiting:?}");
    }
    // Faults under PCT are what the seed drew.
    assert!(pct.choose_fault(true, 0.5));
    assert!(!pct.choose_fault(false, 0.5));
}

#[test]
fn pct_delays_the_operations_at_its_change_points_and_lowers_their_actor() {
    let pct = decisions(Steering::Pct { depth: 3 });
    let delayed = (0..super::PCT_STEPS)
        .filter(|_| pct.choose_delay("pod-0"))
        .count();
    // Depth 3 draws two change points among the first PCT_STEPS operations (they may coincide).
    assert!(matches!(delayed, 1 | 2), "{delayed}");
    assert_eq!(usize::try_from(pct.delays()).ok(), Some(delayed));
    // A delayed actor drops below every other: pod-0 now goes last.
    let waiting = ["pod-0", "pod-1", "pod-2"];
    assert_ne!(waiting[pct.choose_request(&waiting)], "pod-0");
    // Every arrival was a decision of two alternatives, about a delay.
    assert!(pct
        .kinds()
        .iter()
        .take(32)
        .all(|kind| *kind == super::DecisionKind::Delay));
}

#[test]
fn dfs_delays_no_more_than_its_bound() {
    let dfs = decisions(Steering::Forced {
        strategy: Strategy::Dfs,
        choices: vec![1, 1, 1],
        faults_max: None,
        delays_max: Some(1),
    });
    assert!(dfs.choose_delay("pod-0"));
    // Past the bound a delay is no choice, whatever the list says.
    assert!(!dfs.choose_delay("pod-1"));
    assert!(!dfs.choose_delay("pod-2"));
    assert_eq!(dfs.taken(), [(1, 2), (0, 1), (0, 1)]);
}
