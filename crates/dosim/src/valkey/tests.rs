//! Unit tests of the recording observer: commands as the data plane reports them, and the operations and log entries they become.

use dosim_valkey::{Reply, SimTime};
use dosim_valkeywire::{CommandOutcome, CommandRecord, CommandStart, Observer, SessionInfo};

use super::log::Recording;
use crate::history::{OpResult, Recorder};

/// Reports commands on connection 2 of `pod-0` and checks each operation's line (`target → response`).
#[track_caller]
fn check(commands: Vec<(Vec<&str>, u64, Option<Reply>)>, expect: &[&str]) {
    let recorder = Recorder::default();
    let log = std::sync::Arc::default();
    let recording = Recording::new(recorder.clone(), std::sync::Arc::clone(&log));
    let session = SessionInfo {
        connection: 2,
        peer: "pod-0".to_owned(),
        client_id: 3,
    };
    for (args, blocked_ms, reply) in commands {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        recording.command_started(
            &session,
            &CommandStart {
                args: args.clone(),
                started: SimTime::ZERO,
            },
        );
        recording.command_finished(
            &session,
            &CommandRecord {
                args,
                db: 0,
                started: SimTime::ZERO,
                finished: SimTime::from_ms(blocked_ms),
                blocked: blocked_ms > 0,
                outcome: reply.map_or(CommandOutcome::Interrupted, CommandOutcome::Replied),
            },
        );
    }
    let ops = recorder.snapshot().ops;
    let lines: Vec<String> = ops
        .iter()
        .map(|op| {
            let result = match &op.result {
                OpResult::Answered => op.response().unwrap_or_default().to_owned(),
                other => format!("{other:?}"),
            };
            format!("{} {} → {result}", op.connection.unwrap_or(99), op.target)
        })
        .collect();
    assert_eq!(lines, expect);
    assert_eq!(log.lock().commands.len(), expect.len());
}

#[test]
fn commands_become_operations() {
    check(
        vec![
            (
                vec!["SET", "lock:x", "a b", "NX", "PX", "100"],
                0,
                Some(Reply::ok()),
            ),
            (vec!["GET", "lock:x"], 0, Some(Reply::Nil)),
            (
                vec!["BLPOP", "q", "0"],
                1500,
                Some(Reply::Array(vec![Reply::bulk("q"), Reply::bulk("x")])),
            ),
            (
                vec!["INCR", "s"],
                0,
                Some(Reply::err("ERR value is not an integer or out of range")),
            ),
            (vec!["EXEC"], 0, Some(Reply::NilArray)),
        ],
        &[
            "2 SET lock:x \"a b\" NX PX 100 → +OK",
            "2 GET lock:x → nil",
            "2 BLPOP q 0 → blocked 1.500s, [\"q\", \"x\"]",
            "2 INCR s → -ERR value is not an integer or out of range",
            "2 EXEC → *nil",
        ],
    );
}
