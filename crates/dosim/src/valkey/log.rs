//! The history's Valkey operations and each cluster's command log, both filled from what the data plane's observer hears.

use std::collections::BTreeMap;
use std::sync::Arc;

use dosim_valkey::{ExpiredKey, Reply};
use dosim_valkeywire::observe::one_line;
use dosim_valkeywire::{CommandOutcome, CommandRecord, CommandStart, Observer, SessionInfo};
use parking_lot::Mutex;

use crate::history::Recorder;

/// The most commands (and, apart, expired keys) one cluster's log keeps; past it the log says it is incomplete.
pub const LOGGED_COMMANDS_MAX: usize = 20_000;

/// The longest command an operation shows, in characters.
pub const COMMAND_CHARS_MAX: usize = dosim_valkeywire::observe::SUMMARY_CHARS_MAX;

/// The longest reply an operation shows, in characters.
const REPLY_CHARS_MAX: usize = 80;

/// Every command actors ran on one cluster, and the keys that expired, as its data plane saw them.
#[derive(Debug, Clone, Default)]
pub struct CommandLog {
    /// The commands, in the order they ended.
    pub commands: Vec<LoggedCommand>,
    /// Keys removed because their time came, in expiry order.
    pub expired: Vec<ExpiredKey>,
    /// Why the log misses entries (too many), if it does.
    pub incomplete: Option<String>,
}

/// One command as a connection ran it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedCommand {
    /// The connection, numbered from 0 in the order the data plane accepted them.
    pub connection: u64,
    /// The connecting host.
    pub actor: String,
    /// The database it ran in.
    pub db: usize,
    /// The arguments, the name first.
    pub args: Vec<Vec<u8>>,
    /// Simulated milliseconds when the server took it, and when it replied.
    pub invoke_ms: u64,
    pub end_ms: u64,
    /// Whether it blocked first.
    pub blocked: bool,
    /// The reply; `None` if the connection closed while it was blocked.
    pub reply: Option<Reply>,
}

impl LoggedCommand {
    /// The command's name, upper case.
    pub fn name(&self) -> String {
        String::from_utf8_lossy(&self.args[0]).to_ascii_uppercase()
    }

    /// Argument `i` as text.
    pub fn arg(&self, i: usize) -> Option<String> {
        self.args
            .get(i)
            .map(|a| String::from_utf8_lossy(a).into_owned())
    }
}

/// Hears a cluster's commands, records each as an operation of the connecting host, and logs it.
pub(crate) struct Recording {
    recorder: Recorder,
    log: Arc<Mutex<CommandLog>>,
    /// Each connection's running command: its operation in the history, if recorded.
    running: Mutex<BTreeMap<u64, Option<u64>>>,
}

impl Recording {
    pub(crate) fn new(recorder: Recorder, log: Arc<Mutex<CommandLog>>) -> Recording {
        Recording {
            recorder,
            log,
            running: Mutex::default(),
        }
    }

    fn full(log: &mut CommandLog) -> bool {
        if log.commands.len() + log.expired.len() >= LOGGED_COMMANDS_MAX {
            log.incomplete.get_or_insert_with(|| {
                format!("the run logged more than {LOGGED_COMMANDS_MAX} commands and expiries")
            });
            return true;
        }
        false
    }
}

impl Observer for Recording {
    fn command_started(&self, session: &SessionInfo, command: &CommandStart) {
        let seq = self.recorder.invoke_on(
            Some(session.connection),
            &session.peer,
            "VALKEY",
            &one_line(&command.args, COMMAND_CHARS_MAX),
            None,
            crate::history::now_ms(),
        );
        self.running.lock().insert(session.connection, seq);
    }

    fn command_finished(&self, session: &SessionInfo, command: &CommandRecord) {
        let seq = self.running.lock().remove(&session.connection).flatten();
        let now = crate::history::now_ms();
        let reply = match &command.outcome {
            CommandOutcome::Replied(reply) => Some(reply.clone()),
            CommandOutcome::Interrupted => None,
        };
        {
            let mut log = self.log.lock();
            if !Recording::full(&mut log) {
                log.commands.push(LoggedCommand {
                    connection: session.connection,
                    actor: session.peer.clone(),
                    db: command.db,
                    args: command.args.clone(),
                    invoke_ms: command.started.as_ms(),
                    end_ms: command.finished.as_ms(),
                    blocked: command.blocked,
                    reply: reply.clone(),
                });
            }
        }
        let Some(seq) = seq else { return };
        let Some(reply) = reply else {
            let message = "the connection closed while the command was blocked";
            self.recorder.connection_closed(seq, now, message);
            return;
        };
        let text = clip(&reply.to_string(), REPLY_CHARS_MAX);
        let response = if command.blocked {
            let waited = command.finished.as_ms() - command.started.as_ms();
            format!("blocked {}, {text}", crate::report::seconds(waited))
        } else {
            text
        };
        self.recorder.answered(seq, now, response);
    }

    fn keys_expired(&self, keys: &[ExpiredKey]) {
        let mut log = self.log.lock();
        for key in keys {
            if Recording::full(&mut log) {
                return;
            }
            log.expired.push(key.clone());
        }
    }
}

fn clip(text: &str, chars_max: usize) -> String {
    if text.chars().count() <= chars_max {
        return text.to_owned();
    }
    let mut clipped: String = text.chars().take(chars_max - 1).collect();
    clipped.push('…');
    clipped
}
